/* ingest: glue for uploads: tabread rows into profile, the preview and the colf writer. */
#include <ibx/ingest.h>
#include <ibx/profile.h>
#include <ibx/tabread.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 320

struct pcell {
    char *s; /* NULL: missing */
    size_t len;
};

struct ingest {
    struct tabread *tr;
    struct profile *prof;
    struct colf_writer *cw;
    char *filename;
    size_t max_cols;
    size_t threads;
    size_t preview_rows;
    struct pcell **prev; /* preview_rows rows of prev_n[r] cells */
    size_t *prev_n;
    size_t nprev;
    int err;
    int finished;
    char msg[MSG_MAX];
};

static int gfail(struct ingest *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int gfail(struct ingest *g, int code, const char *fmt, ...)
{
    if (g->err)
        return g->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
    va_end(ap);
    g->err = code;
    return code;
}

/* ---- tabread callbacks ------------------------------------------------------------------- */

static int on_columns(void *ctx, size_t first, const char *const *names, size_t n)
{
    struct ingest *g = ctx;
    if (!g->prof) {
        enum tabread_format f = tabread_format(g->tr);
        size_t hint = f == TABREAD_CSV || f == TABREAD_TSV ? n : 0;
        if (profile_new(hint, g->max_cols, &g->prof) != 0)
            return gfail(g, -ENOMEM, "out of memory");
        if (profile_set_threads(g->prof, g->threads) != 0)
            return gfail(g, -EINVAL, "profile: bad thread count");
    }
    int rc = profile_add_columns(g->prof, names, n);
    if (rc != 0)
        return gfail(g, rc, rc == -E2BIG ? "too many columns" : "out of memory");
    for (size_t i = 0; g->cw && i < n; i++) {
        rc = colf_writer_add_column(g->cw, names[i]);
        if (rc != 0)
            return gfail(g, rc, "columnar copy: column %zu refused (%d)", first + i + 1, rc);
    }
    return 0;
}

static int keep_preview(struct ingest *g, const struct colf_cell *cells, size_t n)
{
    struct pcell *row = calloc(n ? n : 1, sizeof(*row));
    if (!row)
        return -ENOMEM;
    g->prev[g->nprev] = row;
    g->prev_n[g->nprev++] = n;
    for (size_t i = 0; i < n; i++) {
        if (!cells[i].s)
            continue;
        size_t len = cells[i].len;
        if (len > INGEST_PREVIEW_CELL_BYTES) {
            len = INGEST_PREVIEW_CELL_BYTES;
            while (len > 0 && ((unsigned char)cells[i].s[len] & 0xC0) == 0x80)
                len--;
        }
        row[i].s = malloc(len + 1);
        if (!row[i].s)
            return -ENOMEM;
        memcpy(row[i].s, cells[i].s, len);
        row[i].s[len] = '\0';
        row[i].len = len;
    }
    return 0;
}

/* A batch of rows: the profile takes it (its columns shared among the threads, possibly
 * still at work on it when this returns: tabread keeps the batch until the next one is
 * delivered, and the next profile_batch call completes this one first), while this thread
 * writes the columnar copy and keeps the preview rows. */
static int on_batch(void *ctx, const struct colf_cell *cells, size_t rows, size_t n,
                    const uint64_t *lines)
{
    struct ingest *g = ctx;
    int rc = profile_batch(g->prof, cells, rows, n);
    if (rc != 0)
        return gfail(g, rc, "rows up to line %llu: profiling failed (%d)",
                     (unsigned long long)lines[0], rc);
    for (size_t r = 0; g->cw && r < rows; r++) {
        if ((rc = colf_writer_row(g->cw, cells + r * n, n)) != 0)
            return gfail(g, rc, "line %llu: columnar copy failed (%d)",
                         (unsigned long long)lines[r], rc);
    }
    for (size_t r = 0; r < rows && g->nprev < g->preview_rows; r++)
        if (keep_preview(g, cells + r * n, n) != 0)
            return gfail(g, -ENOMEM, "out of memory");
    return 0;
}

static const struct tabread_cbs cbs = {on_columns, NULL, on_batch};

/* ---- lifecycle --------------------------------------------------------------------------- */

int ingest_new(const struct ingest_opts *o, struct ingest **out)
{
    if (!o || !out)
        return -EINVAL;
    struct ingest *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->max_cols = o->max_columns ? o->max_columns : TABREAD_MAX_COLUMNS;
    g->preview_rows = o->preview_rows ? o->preview_rows : INGEST_PREVIEW_ROWS;
    g->threads = o->threads;
    struct tabread_opts to = {o->filename, g->max_cols, o->max_field_bytes};
    int rc = -ENOMEM;
    if (o->filename && !(g->filename = strdup(o->filename)))
        goto fail;
    g->prev = calloc(g->preview_rows, sizeof(struct pcell *));
    g->prev_n = calloc(g->preview_rows, sizeof(*g->prev_n));
    if (!g->prev || !g->prev_n)
        goto fail;
    if ((rc = tabread_new(&to, &cbs, g, &g->tr)) != 0)
        goto fail;
    if (o->colf_sink && (rc = colf_writer_new(o->colf_sink, o->colf_ctx, &g->cw)) != 0)
        goto fail;
    *out = g;
    return 0;
fail:
    ingest_free(g);
    return rc;
}

int ingest_push(struct ingest *g, const void *data, size_t len)
{
    if (!g || g->finished)
        return -EINVAL;
    if (g->err)
        return g->err;
    int rc = tabread_push(g->tr, data, len);
    if (rc != 0 && !g->err)
        g->err = rc;
    return rc;
}

const char *ingest_error(const struct ingest *g)
{
    if (!g)
        return "";
    return g->msg[0] ? g->msg : tabread_error(g->tr);
}

void ingest_free(struct ingest *g)
{
    if (!g)
        return;
    for (size_t r = 0; r < g->nprev; r++) {
        for (size_t i = 0; i < g->prev_n[r]; i++)
            free(g->prev[r][i].s);
        free(g->prev[r]);
    }
    free(g->prev);
    free(g->prev_n);
    profile_free(g->prof); /* first: its threads may still read tabread's last batch */
    tabread_free(g->tr);
    colf_writer_free(g->cw);
    free(g->filename);
    free(g);
}

/* ---- suggestions --------------------------------------------------------------------------- */

/* Lower-case ASCII words of a name (split on non-alphanumerics and camelCase). */
static size_t words(const char *name, char w[][24], size_t max)
{
    size_t nw = 0, len = 0;
    unsigned char prev = 0;
    for (const unsigned char *q = (const unsigned char *)name;; q++) {
        unsigned char ch = *q;
        int alnum = (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
        int camel = alnum && ch >= 'A' && ch <= 'Z' && prev >= 'a' && prev <= 'z';
        if ((!alnum || camel) && len > 0) {
            w[nw][len] = '\0';
            if (++nw == max)
                return nw;
            len = 0;
        }
        if (!ch)
            return nw;
        if (alnum && len < 23)
            w[nw][len++] = (char)((ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch);
        prev = ch;
    }
}

/* A word matches a keyword: equal, its plural, or (keywords of 5+ letters) a prefix. */
static int word_is(const char *w, const char *kw)
{
    size_t kl = strlen(kw), wl = strlen(w);
    if (strncmp(w, kw, kl) != 0)
        return 0;
    return wl == kl || (wl == kl + 1 && w[kl] == 's') || kl >= 5;
}

static int name_has(const char *name, const char *kw)
{
    char w[8][24];
    size_t nw = words(name, w, 8);
    for (size_t i = 0; i < nw; i++)
        if (word_is(w[i], kw))
            return 1;
    return 0;
}

static json_t *suggest_domains(const struct profile *p)
{
    static const struct {
        const char *domain;
        const char *kw[6];
    } rules[] = {
        {"education", {"score", "grade", "performance", "achievement", NULL}},
        {"finance", {"price", "cost", "revenue", "profit", NULL}},
        {"healthcare", {"age", "gender", "health", "medical", "diagnosis", NULL}},
    };
    json_t *a = json_array();
    for (size_t r = 0; a && r < sizeof(rules) / sizeof(rules[0]); r++) {
        int hit = 0;
        for (size_t i = 0; !hit && i < profile_columns(p); i++)
            for (size_t k = 0; !hit && rules[r].kw[k]; k++)
                hit = name_has(profile_name(p, i), rules[r].kw[k]);
        if (hit)
            json_array_append_new(a, json_string(rules[r].domain));
    }
    if (a && json_array_size(a) == 0)
        json_array_append_new(a, json_string("general"));
    return a;
}

static const char *const target_kw[] = {"target", "label",    "class",     "outcome",
                                        "result", "species",  "diagnosis", "quality",
                                        "y",      "survived", "churn",     NULL};

/* Rank of a column name as a target (lower is better), or -1. */
static int target_rank(const char *name)
{
    char lower[64];
    size_t n = strlen(name);
    for (size_t k = 0; target_kw[k]; k++) {
        if (n < sizeof(lower)) {
            for (size_t i = 0; i <= n; i++)
                lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] | 0x20 : name[i]);
            if (strcmp(lower, target_kw[k]) == 0)
                return (int)k;
        }
    }
    for (size_t k = 0; target_kw[k]; k++)
        if (strlen(target_kw[k]) > 1 && name_has(name, target_kw[k]))
            return 100 + (int)k;
    return -1;
}

static int classifiable(const struct profile *p, size_t i)
{
    const char *t = profile_type(p, i);
    return strcmp(t, "boolean") == 0 || strcmp(t, "categorical") == 0 ||
           (strcmp(t, "numerical_integer") == 0 &&
            profile_distinct(p, i) <= INGEST_CLASS_MAX_DISTINCT);
}

static long pick_target(const struct profile *p)
{
    long best = -1;
    int best_rank = 1 << 30;
    for (size_t i = 0; i < profile_columns(p); i++) {
        int r = target_rank(profile_name(p, i));
        if (r >= 0 && r < best_rank) {
            best = (long)i;
            best_rank = r;
        }
    }
    size_t nc = profile_columns(p);
    if (best < 0 && nc > 1 && classifiable(p, nc - 1))
        best = (long)nc - 1;
    return best;
}

void ingest_display_name(const char *filename, char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    if (!filename)
        return;
    const char *slash = strrchr(filename, '/');
    const char *base = slash ? slash + 1 : filename;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len >= n)
        len = n - 1;
    int prev_alpha = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)base[i];
        if (ch == '_')
            ch = ' ';
        int alpha = (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
        if (alpha)
            ch = prev_alpha ? (unsigned char)(ch | 0x20) : (unsigned char)(ch & ~0x20);
        prev_alpha = alpha || ch >= 0x80;
        out[i] = (char)ch;
    }
    out[len] = '\0';
}

static json_t *suggestions(const struct ingest *g)
{
    const struct profile *p = g->prof;
    long t = pick_target(p);
    const char *task = "classification";
    if (t >= 0) {
        const char *ty = profile_type(p, (size_t)t);
        int numeric = strncmp(ty, "numerical_", 10) == 0;
        if (numeric && !classifiable(p, (size_t)t))
            task = "regression";
    }
    char disp[256];
    ingest_display_name(g->filename, disp, sizeof(disp));
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = json_object_set_new(o, "domains", suggest_domains(p)) |
             json_object_set_new(o, "tasks", json_pack("[s]", task)) |
             json_object_set_new(o, "target_column",
                                 t >= 0 ? json_string(profile_name(p, (size_t)t)) : json_null()) |
             json_object_set_new(o, "display_name", disp[0] ? json_string(disp) : json_null());
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- the document ---------------------------------------------------------------------------- */

static json_t *preview_json(const struct ingest *g)
{
    const struct profile *p = g->prof;
    size_t nc = profile_columns(p);
    json_t *o = json_object(), *cols = json_array(), *rows = json_array();
    int rc = !o || !cols || !rows;
    for (size_t i = 0; !rc && i < nc; i++)
        rc |= json_array_append_new(cols, json_string(profile_name(p, i)));
    for (size_t r = 0; !rc && r < g->nprev; r++) {
        json_t *row = json_array();
        for (size_t i = 0; row && i < nc; i++) {
            const struct pcell *c = i < g->prev_n[r] ? &g->prev[r][i] : NULL;
            rc |= json_array_append_new(row, c && c->s ? profile_cell_json(p, i, c->s, c->len)
                                                       : json_null());
        }
        rc |= json_array_append_new(rows, row);
    }
    if (!rc) {
        rc = json_object_set_new(o, "columns", cols) | json_object_set_new(o, "rows", rows);
        cols = rows = NULL;
    }
    json_decref(cols);
    json_decref(rows);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *columns_json(const struct ingest *g, uint64_t *missing)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < profile_columns(g->prof); i++) {
        *missing += profile_missing(g->prof, i);
        if (json_array_append_new(a, profile_column_json(g->prof, i)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *document(const struct ingest *g)
{
    const struct profile *p = g->prof;
    uint64_t rows = profile_rows(p), missing = 0;
    size_t nc = profile_columns(p);
    char delim[2] = {tabread_delimiter(g->tr), '\0'};
    json_t *cols = columns_json(g, &missing);
    double cells = (double)rows * (double)nc;
    json_t *d = json_object();
    if (!d || !cols) {
        json_decref(d);
        json_decref(cols);
        return NULL;
    }
    int rc =
        json_object_set_new(d, "format", json_string(tabread_format_name(tabread_format(g->tr)))) |
        json_object_set_new(d, "delimiter", delim[0] ? json_string(delim) : json_null()) |
        json_object_set_new(d, "has_header", json_boolean(tabread_has_header(g->tr))) |
        json_object_set_new(d, "row_count", json_integer((json_int_t)rows)) |
        json_object_set_new(d, "column_count", json_integer((json_int_t)nc)) |
        json_object_set_new(d, "missing_cells", json_integer((json_int_t)missing)) |
        json_object_set_new(d, "missing_percentage",
                            json_real(cells > 0 ? 100.0 * (double)missing / cells : 0)) |
        json_object_set_new(d, "columns", cols) |
        json_object_set_new(d, "correlations", profile_correlations_json(p)) |
        json_object_set_new(d, "preview", preview_json(g)) |
        json_object_set_new(d, "suggestions", suggestions(g));
    if (rc != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static int finish_colf(struct ingest *g)
{
    size_t nc = profile_columns(g->prof);
    const char **types = calloc(nc ? nc : 1, sizeof(*types));
    if (!types)
        return gfail(g, -ENOMEM, "out of memory");
    for (size_t i = 0; i < nc; i++)
        types[i] = profile_type(g->prof, i);
    int rc = colf_writer_finish(g->cw, types);
    free(types);
    if (rc != 0)
        return gfail(g, rc, "columnar copy: finishing failed (%d)", rc);
    return 0;
}

int ingest_finish(struct ingest *g, json_t **profile)
{
    if (!g || !profile || g->finished)
        return -EINVAL;
    if (g->err)
        return g->err;
    int rc = tabread_finish(g->tr);
    if (rc != 0) {
        g->err = rc;
        return rc;
    }
    g->finished = 1;
    if ((rc = profile_finish(g->prof)) != 0)
        return gfail(g, rc, "out of memory");
    if (g->cw && finish_colf(g) != 0)
        return g->err;
    json_t *d = document(g);
    if (!d)
        return gfail(g, -ENOMEM, "out of memory");
    *profile = d;
    return 0;
}
