/* config: load a service's table of environment variables once at start-up. */
#include <ibx/config.h>
#include <ibx/log.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

#define CONFIG_SHOW_MAX   64  /* characters of a bad value quoted in an error */
#define CONFIG_NAME_MAX   128 /* longest name compared for "did you mean" */
#define CONFIG_CHOICE_MAX 64  /* longest single ENUM choice */

/* A string kept for the life of the process (values handed out through dst). */
struct config_kept {
    struct config_kept *next;
    char s[];
};

/* One variable's parsed value, waiting until every variable has parsed. */
struct config_staged {
    int set;                  /* 1: write to dst */
    struct config_kept *kept; /* string types: the copy, NULL otherwise */
    long num;                 /* INT and BOOL */
};

static struct config_kept *config_kept_list;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;

static struct config_kept *config_keep_new(const char *s, size_t len)
{
    struct config_kept *k = malloc(sizeof(*k) + len + 1);
    if (!k)
        return NULL;
    k->next = NULL;
    memcpy(k->s, s, len);
    k->s[len] = '\0';
    return k;
}

static void config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* 1 when the value may appear in an error message. */
static int config_showable(const struct config_var *v, const char *value)
{
    if (v->type == CONFIG_SECRET || v->type == CONFIG_PGURL)
        return 0;
    return !(v->type == CONFIG_URL && strchr(value, '@')); /* user:password@host */
}

/* A printable, quoted, truncated copy of value (or the word value when it is secret). */
static void config_show(const struct config_var *v, const char *value, char *out, size_t n)
{
    if (!config_showable(v, value)) {
        snprintf(out, n, "value");
        return;
    }
    char tmp[CONFIG_SHOW_MAX + 1];
    size_t i = 0;
    for (; i < CONFIG_SHOW_MAX && value[i]; i++) {
        unsigned char c = (unsigned char)value[i];
        tmp[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    tmp[i] = '\0';
    snprintf(out, n, "\"%s%s\"", tmp, value[i] ? "..." : "");
}

static int config_parse_int(const struct config_var *v, const char *value, const char *what,
                            long *out, char *err, size_t errlen)
{
    char shown[CONFIG_SHOW_MAX + 16];
    config_show(v, value, shown, sizeof(shown));
    int ranged = v->min <= v->max;
    const char *p = value;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9') {
        config_err(err, errlen, "%s: %s%s is not an integer", v->name, what, shown);
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long x = strtol(value, &end, 10);
    if (*end != '\0') {
        config_err(err, errlen, "%s: %s%s is not an integer", v->name, what, shown);
        return -EINVAL;
    }
    if (errno == ERANGE && ranged) {
        config_err(err, errlen, "%s: %s%s is outside %ld..%ld", v->name, what, shown, v->min,
                   v->max);
        return -EINVAL;
    }
    if (errno == ERANGE) {
        config_err(err, errlen, "%s: %s%s is out of range", v->name, what, shown);
        return -EINVAL;
    }
    if (ranged && (x < v->min || x > v->max)) {
        config_err(err, errlen, "%s: %s%ld is outside %ld..%ld", v->name, what, x, v->min, v->max);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

static int config_parse_bool(const struct config_var *v, const char *value, const char *what,
                             long *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    char shown[CONFIG_SHOW_MAX + 16];
    config_show(v, value, shown, sizeof(shown));
    config_err(err, errlen, "%s: %s%s is not one of true|false|1|0|yes|no", v->name, what, shown);
    return -EINVAL;
}

/* Find value among v->choices (case-insensitive); canon and canon_len get the table's
 * spelling. */
static int config_match_enum(const struct config_var *v, const char *value, const char *what,
                             const char **canon, size_t *canon_len, char *err, size_t errlen)
{
    size_t vlen = strlen(value);
    const char *c = v->choices;
    while (*c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == vlen && strncasecmp(c, value, len) == 0) {
            *canon = c;
            *canon_len = len;
            return 0;
        }
        c += len + (bar ? 1 : 0);
    }
    char shown[CONFIG_SHOW_MAX + 16];
    config_show(v, value, shown, sizeof(shown));
    config_err(err, errlen, "%s: %s%s is not one of %s", v->name, what, shown, v->choices);
    return -EINVAL;
}

static int config_has_space_or_control(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* http(s)://host... or postgres(ql)://... with no spaces or control characters. */
static int config_check_url(const struct config_var *v, const char *value, const char *what,
                            char *err, size_t errlen)
{
    static const char *const web[] = {"http://", "https://"};
    static const char *const pg[] = {"postgresql://", "postgres://"};
    const char *const *schemes = v->type == CONFIG_PGURL ? pg : web;
    const char *rest = NULL;
    for (size_t i = 0; i < 2 && !rest; i++) {
        size_t len = strlen(schemes[i]);
        if (strncasecmp(value, schemes[i], len) == 0)
            rest = value + len;
    }
    int ok = rest && !config_has_space_or_control(value);
    if (ok && v->type == CONFIG_URL)
        ok = *rest && !strchr("/?#", *rest); /* a host is required */
    if (ok)
        return 0;
    char shown[CONFIG_SHOW_MAX + 16];
    config_show(v, value, shown, sizeof(shown));
    config_err(err, errlen, "%s: %s%s is not a%s URL", v->name, what, shown,
               v->type == CONFIG_PGURL ? " postgresql://" : "n http:// or https://");
    return -EINVAL;
}

/* Parse one present value (from the environment or the default) into *st. */
static int config_parse_value(const struct config_var *v, const char *value, int is_default,
                              struct config_staged *st, char *err, size_t errlen)
{
    const char *what = is_default ? "default " : "";
    const char *copy = value;
    size_t copy_len = strlen(value);
    int rc = 0;
    switch (v->type) {
    case CONFIG_INT:
        rc = config_parse_int(v, value, what, &st->num, err, errlen);
        break;
    case CONFIG_BOOL:
        rc = config_parse_bool(v, value, what, &st->num, err, errlen);
        break;
    case CONFIG_ENUM:
        rc = config_match_enum(v, value, what, &copy, &copy_len, err, errlen);
        break;
    case CONFIG_URL:
    case CONFIG_PGURL:
        rc = config_check_url(v, value, what, err, errlen);
        break;
    case CONFIG_STR:
    case CONFIG_SECRET:
        break;
    }
    if (rc)
        return rc;
    st->set = 1;
    if (v->type == CONFIG_INT || v->type == CONFIG_BOOL)
        return 0;
    st->kept = config_keep_new(copy, copy_len);
    if (!st->kept) {
        config_err(err, errlen, "%s: out of memory", v->name);
        return -ENOMEM;
    }
    return 0;
}

/* Catch programming mistakes in a table entry. */
static int config_check_entry(const struct config_var *v, size_t i, char *err, size_t errlen)
{
    const char *problem = NULL;
    if (!v->name || !*v->name)
        problem = "has no name";
    else if (!v->dst)
        problem = "has no dst";
    else if ((unsigned)v->type > CONFIG_PGURL)
        problem = "has an unknown type";
    else if (v->type == CONFIG_ENUM && (!v->choices || !*v->choices || strlen(v->choices) > 1024))
        problem = "is an ENUM without choices";
    if (!problem)
        return 0;
    config_err(err, errlen, "config table entry %zu (%s) %s", i, v->name ? v->name : "?", problem);
    return -EINVAL;
}

static int config_stage_one(const struct config_var *v, size_t i, struct config_staged *st,
                            char *err, size_t errlen)
{
    int rc = config_check_entry(v, i, err, errlen);
    if (rc)
        return rc;
    const char *value = getenv(v->name);
    if (value && *value)
        return config_parse_value(v, value, 0, st, err, errlen);
    if (v->def)
        return config_parse_value(v, v->def, 1, st, err, errlen);
    if (v->required) {
        config_err(err, errlen, "%s is required", v->name);
        return -EINVAL;
    }
    return 0;
}

static void config_commit(const struct config_var *vars, size_t n, struct config_staged *st)
{
    pthread_mutex_lock(&config_lock);
    for (size_t i = 0; i < n; i++) {
        if (!st[i].set)
            continue;
        if (vars[i].type == CONFIG_INT) {
            *(long *)vars[i].dst = st[i].num;
        } else if (vars[i].type == CONFIG_BOOL) {
            *(int *)vars[i].dst = (int)st[i].num;
        } else {
            *(const char **)vars[i].dst = st[i].kept->s;
            st[i].kept->next = config_kept_list;
            config_kept_list = st[i].kept;
        }
    }
    pthread_mutex_unlock(&config_lock);
}

int config_load(const struct config_var *vars, size_t n, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!vars && n) {
        config_err(err, errlen, "config table is NULL");
        return -EINVAL;
    }
    struct config_staged *st = calloc(n ? n : 1, sizeof(*st));
    if (!st) {
        config_err(err, errlen, "config: out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = config_stage_one(&vars[i], i, &st[i], err, errlen);
    if (rc)
        goto free_staged;
    config_commit(vars, n, st);
    free(st);
    return 0;

free_staged:
    for (size_t i = 0; i < n; i++)
        free(st[i].kept);
    free(st);
    return rc;
}

/* The type column of the help line, e.g. "integer 1..65535" or "one of a|b". */
static void config_type_text(const struct config_var *v, char *out, size_t n)
{
    switch (v->type) {
    case CONFIG_INT:
        if (v->min <= v->max)
            snprintf(out, n, "integer %ld..%ld", v->min, v->max);
        else
            snprintf(out, n, "integer");
        return;
    case CONFIG_BOOL:
        snprintf(out, n, "boolean");
        return;
    case CONFIG_ENUM:
        snprintf(out, n, "one of %s", v->choices ? v->choices : "?");
        return;
    case CONFIG_URL:
        snprintf(out, n, "http(s) URL");
        return;
    case CONFIG_PGURL:
        snprintf(out, n, "postgresql URL");
        return;
    case CONFIG_SECRET:
        snprintf(out, n, "secret");
        return;
    case CONFIG_STR:
        break;
    }
    snprintf(out, n, "string");
}

void config_print_help(const struct config_var *vars, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_var *v = &vars[i];
        char type[1100], extra[160] = "";
        config_type_text(v, type, sizeof(type));
        if (v->def && (v->type == CONFIG_SECRET || v->type == CONFIG_PGURL))
            snprintf(extra, sizeof(extra), ", default set");
        else if (v->def)
            snprintf(extra, sizeof(extra), ", default %.100s", v->def);
        else if (v->required)
            snprintf(extra, sizeof(extra), ", required");
        fprintf(out, "  %-28s %s%s. %s\n", v->name ? v->name : "?", type, extra,
                v->help ? v->help : "");
    }
}

/* Levenshtein distance between a[0..la) and b[0..lb), both at most CONFIG_NAME_MAX. */
static size_t config_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t prev[CONFIG_NAME_MAX + 1], cur[CONFIG_NAME_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t best = sub < del ? sub : del;
            cur[j] = best < ins ? best : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

/* The table entry within edit distance 2 of name[0..len), or NULL. */
static const char *config_suggest(const struct config_var *vars, size_t n, const char *name,
                                  size_t len)
{
    const char *best = NULL;
    size_t best_d = 3;
    if (len > CONFIG_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t lv = vars[i].name ? strlen(vars[i].name) : 0;
        if (lv == 0 || lv > CONFIG_NAME_MAX)
            continue;
        size_t d = config_distance(name, len, vars[i].name, lv);
        if (d < best_d) {
            best_d = d;
            best = vars[i].name;
        }
    }
    return best;
}

static int config_known(const struct config_var *vars, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (vars[i].name && strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
            return 1;
    }
    return 0;
}

void config_warn_unknown(const struct config_var *vars, size_t n, const char *prefix)
{
    if (!prefix || !*prefix)
        return; /* every variable would be "unknown" */
    size_t plen = strlen(prefix);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (config_known(vars, n, *e, len))
            continue;
        const char *hint = config_suggest(vars, n, *e, len);
        json_t *f = json_object();
        json_object_set_new(f, "variable", json_stringn(*e, len));
        if (hint)
            json_object_set_new(f, "suggestion", json_string(hint));
        log_fields(LOG_LVL_WARN, f, "unknown environment variable %.*s ignored%s%s%s",
                   (int)(len > 256 ? 256 : len), *e, hint ? " (did you mean " : "",
                   hint ? hint : "", hint ? "?)" : "");
    }
}
