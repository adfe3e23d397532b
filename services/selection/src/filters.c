/* filters: the catalogue filters (IBIS-X §7.2, with 0 bounds kept): checking, canonical
 * form, and SQL conditions with bound parameters. */
#include "selection.h"

#include <ibx/num.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLT_TEXT_MAX  200 /* bytes of a substring filter */
#define FLT_ITEM_MAX  128 /* bytes of one domain/task value */
#define FLT_ITEMS_MAX 20  /* values of one list filter */

enum flt_type {
    FLT_TEXT,     /* case-insensitive substring */
    FLT_LIST,     /* array containment: every given value */
    FLT_ENUM,     /* equality with one of values */
    FLT_INT,      /* bound, min..max */
    FLT_PERCENT,  /* number 0..100 */
    FLT_BOOL,     /* equality, both ways */
    FLT_BOOL_TRUE /* applied only when true */
};

static const char *const access_values[] = {"public", "private", "restricted", "academic", NULL};
static const char *const availability_values[] = {"online", "offline", "on_request", "archived",
                                                  NULL};
static const char *const level_values[] = {"high", "medium", "low", "unknown", NULL};

/* The number of the ten ethical flags that are true. */
#define ETHICAL_TRUE                                                                               \
    "((d.informed_consent IS TRUE)::int + (d.transparency IS TRUE)::int + "                        \
    "(d.user_control IS TRUE)::int + (d.equity_non_discrimination IS TRUE)::int + "                \
    "(d.security_measures_in_place IS TRUE)::int + (d.data_quality_documented IS TRUE)::int + "    \
    "(d.anonymization_applied IS TRUE)::int + (d.record_keeping_policy_exists IS TRUE)::int + "    \
    "(d.purpose_limitation_respected IS TRUE)::int + (d.accountability_defined IS TRUE)::int)"

/* In sql, '?' stands for this filter's parameter. */
static const struct flt_def {
    const char *name;
    const char *alias;
    enum flt_type type;
    const char *sql;
    long min, max;
    const char *const *values;
} defs[] = {
    {"q", NULL, FLT_TEXT,
     "(d.name ILIKE ? OR d.display_name ILIKE ? OR d.objective ILIKE ? OR EXISTS (SELECT 1 "
     "FROM selection.dataset_files sf JOIN selection.file_columns sc ON sc.file_id = sf.id "
     "WHERE sf.dataset_id = d.id AND sc.name ILIKE ?))",
     0, 0, NULL},
    {"name", "dataset_name", FLT_TEXT, "(d.name ILIKE ? OR d.display_name ILIKE ?)", 0, 0, NULL},
    {"objective", NULL, FLT_TEXT, "d.objective ILIKE ?", 0, 0, NULL},
    {"domain", NULL, FLT_LIST, "d.domain @> ARRAY(SELECT jsonb_array_elements_text(?::jsonb))", 0,
     0, NULL},
    {"task", NULL, FLT_LIST, "d.task @> ARRAY(SELECT jsonb_array_elements_text(?::jsonb))", 0, 0,
     NULL},
    {"access", NULL, FLT_ENUM, "d.access = ?", 0, 0, access_values},
    {"availability", NULL, FLT_ENUM, "d.availability = ?", 0, 0, availability_values},
    {"representativity_level", NULL, FLT_ENUM, "d.representativity_level = ?", 0, 0, level_values},
    {"year_min", NULL, FLT_INT, "d.year >= ?::int", 0, 9999, NULL},
    {"year_max", NULL, FLT_INT, "d.year <= ?::int", 0, 9999, NULL},
    {"instances_min", "instances_number_min", FLT_INT, "d.instances_number >= ?::bigint", 0,
     1000000000000L, NULL},
    {"instances_max", "instances_number_max", FLT_INT, "d.instances_number <= ?::bigint", 0,
     1000000000000L, NULL},
    {"features_min", "features_number_min", FLT_INT, "d.features_number >= ?::int", 0, 1000000000L,
     NULL},
    {"features_max", "features_number_max", FLT_INT, "d.features_number <= ?::int", 0, 1000000000L,
     NULL},
    {"citations_min", NULL, FLT_INT, "d.num_citations >= ?::int", 0, 1000000000L, NULL},
    {"citations_max", NULL, FLT_INT, "d.num_citations <= ?::int", 0, 1000000000L, NULL},
    {"ethical_score_min", NULL, FLT_PERCENT, ETHICAL_TRUE " * 10 >= ?::float8", 0, 100, NULL},
    {"has_missing_values", NULL, FLT_BOOL, "d.has_missing_values = ?::boolean", 0, 0, NULL},
    {"split", "is_split", FLT_BOOL_TRUE, "d.split IS TRUE", 0, 0, NULL},
    {"metadata_provided_with_dataset", NULL, FLT_BOOL_TRUE,
     "d.metadata_provided_with_dataset IS TRUE", 0, 0, NULL},
    {"external_documentation_available", NULL, FLT_BOOL_TRUE,
     "d.external_documentation_available IS TRUE", 0, 0, NULL},
    {"temporal_factors", "has_temporal_factors", FLT_BOOL_TRUE, "d.temporal_factors IS TRUE", 0, 0,
     NULL},
    {"is_anonymized", NULL, FLT_BOOL_TRUE, "d.anonymization_applied IS TRUE", 0, 0, NULL},
    {"is_public", NULL, FLT_BOOL_TRUE, "d.access = 'public'", 0, 0, NULL},
    {"informed_consent", NULL, FLT_BOOL_TRUE, "d.informed_consent IS TRUE", 0, 0, NULL},
    {"transparency", NULL, FLT_BOOL_TRUE, "d.transparency IS TRUE", 0, 0, NULL},
    {"user_control", NULL, FLT_BOOL_TRUE, "d.user_control IS TRUE", 0, 0, NULL},
    {"equity_non_discrimination", NULL, FLT_BOOL_TRUE, "d.equity_non_discrimination IS TRUE", 0, 0,
     NULL},
    {"security_measures_in_place", NULL, FLT_BOOL_TRUE, "d.security_measures_in_place IS TRUE", 0,
     0, NULL},
    {"data_quality_documented", NULL, FLT_BOOL_TRUE, "d.data_quality_documented IS TRUE", 0, 0,
     NULL},
    {"anonymization_applied", NULL, FLT_BOOL_TRUE, "d.anonymization_applied IS TRUE", 0, 0, NULL},
    {"record_keeping_policy_exists", NULL, FLT_BOOL_TRUE, "d.record_keeping_policy_exists IS TRUE",
     0, 0, NULL},
    {"purpose_limitation_respected", NULL, FLT_BOOL_TRUE, "d.purpose_limitation_respected IS TRUE",
     0, 0, NULL},
    {"accountability_defined", NULL, FLT_BOOL_TRUE, "d.accountability_defined IS TRUE", 0, 0, NULL},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static void flt_problem(json_t **details, const char *field, const char *problem)
{
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_array_append_new(json_object_get(*details, "fields"),
                          json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

static const struct flt_def *flt_find(const char *key)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(defs[i].name, key) == 0 || (defs[i].alias && strcmp(defs[i].alias, key) == 0))
            return &defs[i];
    return NULL;
}

/* A boolean from JSON (true/false) or text (true/false/1/0). -1 when neither. */
static int flt_bool(const json_t *v, int textual)
{
    if (!textual)
        return json_is_boolean(v) ? json_is_true(v) : -1;
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0))
        return 1;
    if (s && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0))
        return 0;
    return -1;
}

/* Append the comma-separated values of s (trimmed, lowercased; empty ones skipped). */
static const char *flt_list_add(json_t *arr, const char *s)
{
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        while (n && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        char item[FLT_ITEM_MAX + 1];
        if (n > FLT_ITEM_MAX)
            return "values must be at most 128 characters";
        for (size_t i = 0; i < n; i++)
            item[i] = (char)tolower((unsigned char)s[i]);
        item[n] = '\0';
        if (n && !meta_is_slug(item))
            return "values must be short lowercase words (a-z, 0-9, '_', '-')";
        if (n && json_array_size(arr) >= FLT_ITEMS_MAX)
            return "takes at most 20 values";
        if (n)
            json_array_append_new(arr, json_string(item));
        s = end ? end + 1 : s + strlen(s);
    }
    return NULL;
}

/* A list filter: a string (comma-separated) or an array of them. */
static const char *flt_list(const json_t *v, json_t **out)
{
    json_t *arr = json_array();
    const char *problem = NULL;
    if (json_is_string(v)) {
        problem = flt_list_add(arr, json_string_value(v));
    } else if (json_is_array(v)) {
        const json_t *it;
        size_t i;
        json_array_foreach(v, i, it)
        {
            if (!problem && !json_is_string(it))
                problem = "must be a list of strings";
            if (!problem)
                problem = flt_list_add(arr, json_string_value(it));
        }
    } else {
        problem = "must be a string or a list of strings";
    }
    if (problem || json_array_size(arr) == 0) {
        json_decref(arr);
        return problem;
    }
    *out = arr;
    return NULL;
}

static const char *flt_enum(const struct flt_def *f, const json_t *v, json_t **out)
{
    const char *s = json_string_value(v);
    if (!s)
        return "must be a string";
    if (!*s)
        return NULL;
    for (size_t i = 0; f->values[i]; i++)
        if (strcmp(s, f->values[i]) == 0) {
            *out = json_string(s);
            return NULL;
        }
    return "is not one of the allowed values";
}

static const char *flt_int(const struct flt_def *f, const json_t *v, int textual, json_t **out)
{
    long n;
    if (textual) {
        const char *s = json_string_value(v);
        if (!*s)
            return NULL;
        if (num_parse_long(s, f->min, f->max, &n) != 0)
            return "must be a whole number of at least 0";
    } else {
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return "must be a whole number of at least 0";
        n = (long)json_integer_value(v);
    }
    *out = json_integer(n);
    return NULL;
}

static const char *flt_percent(const json_t *v, int textual, json_t **out)
{
    double x;
    if (textual) {
        const char *s = json_string_value(v);
        char *end = NULL;
        if (!*s)
            return NULL;
        errno = 0;
        x = strtod(s, &end);
        if (errno || end == s || *end)
            return "must be a number from 0 to 100";
    } else {
        if (!json_is_number(v))
            return "must be a number from 0 to 100";
        x = json_number_value(v);
    }
    if (!(x >= 0 && x <= 100))
        return "must be a number from 0 to 100";
    *out = json_real(x);
    return NULL;
}

/* The canonical value of one filter into *out (left NULL when the value says "absent"),
 * or a problem. textual: values are query-string text (a string, or an array when the key
 * was repeated). */
static const char *flt_value(const struct flt_def *f, const json_t *v, int textual, json_t **out)
{
    if (textual && json_is_array(v) && f->type != FLT_LIST)
        return "is given more than once";
    switch (f->type) {
    case FLT_TEXT:
        if (!json_is_string(v))
            return "must be a string";
        if (json_string_length(v) > FLT_TEXT_MAX)
            return "must be at most 200 characters";
        if (json_string_length(v) > 0)
            *out = json_string(json_string_value(v));
        return NULL;
    case FLT_LIST:
        return flt_list(v, out);
    case FLT_ENUM:
        return flt_enum(f, v, out);
    case FLT_INT:
        return flt_int(f, v, textual, out);
    case FLT_PERCENT:
        return flt_percent(v, textual, out);
    case FLT_BOOL:
    case FLT_BOOL_TRUE:
        break;
    }
    if (textual && json_string_length(v) == 0)
        return NULL;
    int b = flt_bool(v, textual);
    if (b < 0)
        return textual ? "must be true or false" : "must be a boolean";
    *out = json_boolean(b);
    return NULL;
}

/* One key of the input into canon. */
static void flt_take(json_t *canon, const char *key, const json_t *v, int textual, json_t **details)
{
    const struct flt_def *f = flt_find(key);
    if (!f) {
        flt_problem(details, key, "is not a known filter");
        return;
    }
    if (json_is_null(v))
        return;
    json_t *val = NULL;
    const char *problem = flt_value(f, v, textual, &val);
    if (!problem && val && json_object_get(canon, f->name))
        problem = "is given twice (directly and through its alias)";
    if (problem) {
        flt_problem(details, key, problem);
        json_decref(val);
        return;
    }
    if (val)
        json_object_set_new(canon, f->name, val);
}

static int flt_canon(const json_t *in, int textual, json_t **out, json_t **details)
{
    json_t *canon = json_object(), *d = NULL;
    if (in && !json_is_null(in) && !json_is_object(in))
        flt_problem(&d, "filters", "must be an object");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        flt_take(canon, key, v, textual, &d);
    }
    if (d) {
        json_decref(canon);
        *details = d;
        return -EINVAL;
    }
    *out = canon;
    return 0;
}

int filters_from_json(const json_t *in, json_t **out, json_t **details)
{
    return flt_canon(in, 0, out, details);
}

static int flt_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode n bytes of s ('+' is a space). NULL on a bad escape or a NUL byte. */
static char *flt_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; out && i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = flt_hex(s[i + 1])) >= 0 &&
            (lo = flt_hex(s[i + 2])) >= 0 && (hi || lo)) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '%') {
            free(out);
            return NULL;
        } else {
            out[k++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    if (out)
        out[k] = '\0';
    return out;
}

static int flt_utf8_ok(const char *s)
{
    json_t *t = json_string(s);
    int ok = t != NULL;
    json_decref(t);
    return ok;
}

/* Add key=value to obj; a repeated key makes an array. */
static void flt_collect(json_t *obj, const char *key, const char *val)
{
    json_t *prev = json_object_get(obj, key);
    if (!prev) {
        json_object_set_new(obj, key, json_string(val));
    } else if (json_is_array(prev)) {
        json_array_append_new(prev, json_string(val));
    } else {
        json_object_set_new(obj, key, json_pack("[O, s]", prev, val));
    }
}

static int flt_skipped(const char *key, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (strcmp(key, skip[i]) == 0)
            return 1;
    return 0;
}

/* One "key=value" pair of a query string into obj. 0 or -EINVAL (bad escape). */
static int flt_pair(json_t *obj, const char *p, size_t n, const char *const *skip)
{
    const char *eq = memchr(p, '=', n);
    size_t kn = eq ? (size_t)(eq - p) : n;
    char *key = flt_decode(p, kn);
    char *val = flt_decode(eq ? eq + 1 : p + n, eq ? n - kn - 1 : 0);
    int rc = key && val && flt_utf8_ok(key) && flt_utf8_ok(val) ? 0 : -EINVAL;
    size_t kl = key ? strlen(key) : 0;
    if (rc == 0 && kl > 2 && strcmp(key + kl - 2, "[]") == 0)
        key[kl - 2] = '\0'; /* domain[]=a&domain[]=b */
    if (rc == 0 && key[0] && !flt_skipped(key, skip))
        flt_collect(obj, key, val);
    free(key);
    free(val);
    return rc;
}

int filters_from_query(const char *qs, const char *const *skip, json_t **out, json_t **details)
{
    json_t *obj = json_object();
    const char *p = qs ? qs : "";
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n && flt_pair(obj, p, n, skip) != 0) {
            json_decref(obj);
            *details = json_pack("{s:[{s:s, s:s}]}", "fields", "field", "query", "problem",
                                 "has a malformed escape or invalid UTF-8");
            return -EINVAL;
        }
        p += n + (amp ? 1 : 0);
    }
    int rc = flt_canon(obj, 1, out, details);
    json_decref(obj);
    return rc;
}

void filters_message(const json_t *details, char *msg, size_t len)
{
    size_t used = 0;
    msg[0] = '\0';
    const json_t *it;
    size_t i;
    json_array_foreach(json_object_get(details, "fields"), i, it)
    {
        int n = snprintf(msg + used, len - used, "%s%s %s", used ? "; " : "",
                         json_string_value(json_object_get(it, "field")),
                         json_string_value(json_object_get(it, "problem")));
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

/* The parameter text of a canonical value (caller frees), NULL when out of memory. */
static char *flt_param(const struct flt_def *f, const json_t *v)
{
    char num[64];
    switch (f->type) {
    case FLT_TEXT: {
        const char *s = json_string_value(v);
        size_t n = strlen(s), k = 0;
        char *p = malloc(2 * n + 3);
        if (!p)
            return NULL;
        p[k++] = '%';
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
                p[k++] = '\\'; /* LIKE's default escape: the text matches literally */
            p[k++] = s[i];
        }
        p[k++] = '%';
        p[k] = '\0';
        return p;
    }
    case FLT_LIST:
        return json_dumps(v, JSON_COMPACT);
    case FLT_INT:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(num);
    case FLT_PERCENT:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        return strdup(num);
    case FLT_BOOL:
        return strdup(json_is_true(v) ? "true" : "false");
    case FLT_ENUM:
    case FLT_BOOL_TRUE:
        break;
    }
    return strdup(json_string_value(v));
}

/* Append f's condition with '?' replaced by $n. */
static int flt_append_sql(struct buf *b, const char *sql, int n)
{
    int rc = buf_append_str(b, " AND ");
    for (const char *p = sql; rc == 0 && *p; p++)
        rc = *p == '?' ? buf_printf(b, "$%d", n) : buf_append(b, p, 1);
    return rc;
}

int filters_sql(const json_t *canon, int first, struct filter_sql *out)
{
    struct filter_sql f = {.nparams = 0};
    struct buf b;
    buf_init(&b, FILTER_SQL_MAX);
    int rc = buf_append_str(&b, "TRUE");
    for (size_t i = 0; rc == 0 && i < NDEFS; i++) {
        const json_t *v = json_object_get(canon, defs[i].name);
        if (!v || (defs[i].type == FLT_BOOL_TRUE && !json_is_true(v)))
            continue;
        if (defs[i].type == FLT_BOOL_TRUE) {
            rc = flt_append_sql(&b, defs[i].sql, 0);
            continue;
        }
        if (f.nparams >= FILTER_MAX_PARAMS) {
            rc = -EMSGSIZE;
            break;
        }
        char *p = flt_param(&defs[i], v);
        if (!p) {
            rc = -ENOMEM;
            break;
        }
        f.params[f.nparams++] = p;
        rc = flt_append_sql(&b, defs[i].sql, first + f.nparams - 1);
    }
    if (rc == 0 && !(f.where = buf_steal(&b)))
        rc = -ENOMEM;
    buf_release(&b);
    if (rc) {
        filters_sql_release(&f);
        return rc;
    }
    *out = f;
    return 0;
}

void filters_sql_release(struct filter_sql *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->nparams; i++)
        free(f->params[i]);
    free(f->where);
    memset(f, 0, sizeof(*f));
}
