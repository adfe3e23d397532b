/* prepio: the fitted preprocessing saved and loaded (ibx/mlenc.h), its report and input
 * schema as JSON. */
#include "mlstr.h"
#include "prepimpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREP_MAGIC   "IBXPREP1"
#define PREP_VERSION 1u
#define NAME_MAX_LEN ((size_t)1 << 20)
#define MAX_COLS     ((size_t)1 << 20)

/* ---- save ---- */

static void put_config(struct mlenc_writer *w, const struct prep_config *c)
{
    mlenc_put_f64(w, c->missing_threshold);
    mlenc_put_u32(w, (uint32_t)c->numeric_imputation);
    mlenc_put_u32(w, (uint32_t)c->categorical_imputation);
    mlenc_put_f64(w, c->numeric_fill);
    mlstr_put(w, c->categorical_fill);
    mlenc_put_u32(w, (uint32_t)c->scaling);
    mlenc_put_u64(w, c->knn_neighbors);
    mlenc_put_u64(w, c->max_categories);
    mlenc_put_u32(w, (uint32_t)c->exclude_id_like);
    mlenc_put_u64(w, c->nexclude);
    for (size_t i = 0; i < c->nexclude; i++)
        mlstr_put(w, c->exclude_columns[i]);
}

static void put_col(struct mlenc_writer *w, const struct prep_col *c)
{
    mlstr_put(w, c->name);
    mlenc_put_u32(w, (uint32_t)c->kind);
    mlenc_put_u32(w, (uint32_t)c->impute);
    mlenc_put_f64(w, c->fill);
    mlenc_put_f64(w, c->center);
    mlenc_put_f64(w, c->scale);
    mlenc_put_u64(w, c->missing);
    mlenc_put_u64(w, c->other_cats);
    mlenc_put_u64(w, c->ncats);
    for (size_t i = 0; i < c->ncats; i++)
        mlstr_put(w, c->cats[i]);
    mlstr_put(w, c->cat_fill);
}

int prep_save(const struct prep *p, struct buf *out)
{
    struct mlenc_writer w;
    mlenc_begin(&w, out, PREP_MAGIC, PREP_VERSION);
    mlenc_put_u32(&w, (uint32_t)p->identity);
    mlenc_put_u32(&w, (uint32_t)p->task);
    mlstr_put(&w, p->target);
    mlenc_put_u32(&w, (uint32_t)p->target_numeric);
    mlenc_put_u64(&w, p->nclasses);
    for (size_t i = 0; i < p->nclasses; i++)
        mlstr_put(&w, p->classes[i]);
    put_config(&w, &p->cfg);
    mlenc_put_u64(&w, p->ncols);
    for (size_t i = 0; i < p->ncols; i++)
        put_col(&w, &p->cols[i]);
    mlenc_put_u64(&w, p->ndropped);
    for (size_t i = 0; i < p->ndropped; i++) {
        mlstr_put(&w, p->dropped[i].column);
        mlenc_put_u32(&w, (uint32_t)p->dropped[i].reason);
        mlstr_put(&w, p->dropped[i].detail);
    }
    mlenc_put_u64(&w, p->rows_used);
    mlenc_put_u64(&w, p->rows_dropped_target);
    mlenc_put_u64(&w, p->imputed);
    mlenc_put_u64(&w, p->knn_n);
    if (p->knn_n) {
        mlenc_put_f64s(&w, p->knn_x, p->knn_n * p->nnum);
        mlenc_put_f64s(&w, p->knn_mean, p->nnum);
        mlenc_put_f64s(&w, p->knn_sd, p->nnum);
    }
    return mlenc_end(&w);
}

/* ---- load ---- */

struct lstate {
    struct mlenc_reader r;
    int oom;
};

static void get_config(struct lstate *ls, struct prep_config *c)
{
    struct mlenc_reader *r = &ls->r;
    c->missing_threshold = mlenc_get_finite(r);
    c->numeric_imputation = (enum prep_impute)mlenc_get_u32(r);
    c->categorical_imputation = (enum prep_impute)mlenc_get_u32(r);
    c->numeric_fill = mlenc_get_finite(r);
    c->categorical_fill = mlstr_get(r, NAME_MAX_LEN, 1, &ls->oom);
    c->scaling = (enum prep_scale)mlenc_get_u32(r);
    c->knn_neighbors = (size_t)mlenc_get_u64(r);
    c->max_categories = (size_t)mlenc_get_u64(r);
    c->exclude_id_like = (int)mlenc_get_u32(r);
    size_t n = mlenc_get_count(r, 0, PREP_MAX_EXCLUDE, 8);
    c->exclude_columns = mlstr_get_array(r, n, NAME_MAX_LEN, &ls->oom);
    c->nexclude = c->exclude_columns ? n : 0;
    if (!(c->missing_threshold >= 0 && c->missing_threshold <= 1) ||
        c->numeric_imputation < PREP_IMPUTE_MEAN || c->numeric_imputation > PREP_IMPUTE_KNN ||
        (c->categorical_imputation != PREP_IMPUTE_MOST_FREQUENT &&
         c->categorical_imputation != PREP_IMPUTE_CONSTANT) ||
        c->scaling < PREP_SCALE_STANDARD || c->scaling > PREP_SCALE_NONE || c->knn_neighbors < 1 ||
        c->knn_neighbors > 100 || c->max_categories < 1 || c->max_categories > 1000 ||
        c->exclude_id_like > 1)
        mlenc_fail(r);
}

static int col_valid(const struct prep *p, const struct prep_col *c)
{
    if (!isfinite(c->fill) || !isfinite(c->center) || !(c->scale > 0) || !isfinite(c->scale))
        return 0;
    if (c->kind == FRAME_CATEGORICAL) {
        if (p->identity || c->ncats < 1 || !c->cat_fill ||
            (c->impute != PREP_IMPUTE_MOST_FREQUENT && c->impute != PREP_IMPUTE_CONSTANT))
            return 0;
        for (size_t i = 1; i < c->ncats; i++)
            if (strcmp(c->cats[i - 1], c->cats[i]) >= 0)
                return 0;
        return 1;
    }
    if (c->kind != FRAME_NUMERIC && c->kind != FRAME_BOOLEAN && c->kind != FRAME_TEMPORAL)
        return 0;
    if (c->ncats || c->cat_fill || c->other_cats)
        return 0;
    return p->identity ? c->impute == 0 : c->impute == p->cfg.numeric_imputation;
}

static void get_col(struct lstate *ls, const struct prep *p, struct prep_col *c)
{
    struct mlenc_reader *r = &ls->r;
    c->name = mlstr_get(r, NAME_MAX_LEN, 0, &ls->oom);
    c->kind = (enum frame_kind)mlenc_get_u32(r);
    c->impute = (enum prep_impute)mlenc_get_u32(r);
    c->fill = mlenc_get_f64(r);
    c->center = mlenc_get_f64(r);
    c->scale = mlenc_get_f64(r);
    c->missing = (size_t)mlenc_get_u64(r);
    c->other_cats = (size_t)mlenc_get_u64(r);
    size_t n = mlenc_get_count(r, 0, 1000, 8);
    c->cats = mlstr_get_array(r, n, NAME_MAX_LEN, &ls->oom);
    c->ncats = c->cats ? n : 0;
    c->cat_fill = mlstr_get(r, NAME_MAX_LEN, 1, &ls->oom);
    if (!r->err && !col_valid(p, c))
        mlenc_fail(r);
}

static void get_cols(struct lstate *ls, struct prep *p)
{
    struct mlenc_reader *r = &ls->r;
    size_t n = mlenc_get_count(r, 1, MAX_COLS, 8 * 10);
    if (r->err)
        return;
    p->cols = calloc(n, sizeof *p->cols);
    if (!p->cols) {
        ls->oom = 1;
        mlenc_fail(r);
        return;
    }
    for (size_t i = 0; i < n && !r->err; i++) {
        p->ncols = i + 1;
        get_col(ls, p, &p->cols[i]);
        if (p->cols[i].kind != FRAME_CATEGORICAL)
            p->cols[i].num_index = p->nnum++;
    }
}

static void get_dropped(struct lstate *ls, struct prep *p)
{
    struct mlenc_reader *r = &ls->r;
    size_t n = mlenc_get_count(r, 0, MAX_COLS, 8 * 3);
    if (r->err)
        return;
    p->dropped = calloc(n ? n : 1, sizeof *p->dropped);
    if (!p->dropped) {
        ls->oom = 1;
        mlenc_fail(r);
        return;
    }
    for (size_t i = 0; i < n && !r->err; i++) {
        struct prep_dropped *d = &p->dropped[i];
        p->ndropped = i + 1;
        d->column = mlstr_get(r, NAME_MAX_LEN, 0, &ls->oom);
        d->reason = (enum prep_drop_reason)mlenc_get_u32(r);
        d->detail = mlstr_get(r, NAME_MAX_LEN, 0, &ls->oom);
        if (d->reason < PREP_DROP_TARGET || d->reason > PREP_DROP_CONSTANT)
            mlenc_fail(r);
    }
}

static void get_knn(struct lstate *ls, struct prep *p)
{
    struct mlenc_reader *r = &ls->r;
    int want = !p->identity && p->cfg.numeric_imputation == PREP_IMPUTE_KNN && p->nnum;
    size_t n = mlenc_get_count(r, want, want ? PREP_KNN_MAX_ROWS : 0, 8 * (p->nnum ? p->nnum : 1));
    if (r->err || !n || !p->nnum)
        return;
    p->knn_x = malloc(n * p->nnum * sizeof *p->knn_x);
    p->knn_mean = malloc(p->nnum * sizeof *p->knn_mean);
    p->knn_sd = malloc(p->nnum * sizeof *p->knn_sd);
    if (!p->knn_x || !p->knn_mean || !p->knn_sd) {
        ls->oom = 1;
        mlenc_fail(r);
        return;
    }
    p->knn_n = n;
    mlenc_get_f64s(r, p->knn_x, n * p->nnum);
    for (size_t i = 0; i < n * p->nnum; i++)
        if (isinf(p->knn_x[i]))
            mlenc_fail(r);
    for (size_t j = 0; j < p->nnum; j++)
        p->knn_mean[j] = mlenc_get_finite(r);
    for (size_t j = 0; j < p->nnum; j++)
        if (!((p->knn_sd[j] = mlenc_get_finite(r)) > 0))
            mlenc_fail(r);
}

static void get_head(struct lstate *ls, struct prep *p)
{
    struct mlenc_reader *r = &ls->r;
    p->identity = (int)mlenc_get_u32(r);
    p->task = (enum ml_task)mlenc_get_u32(r);
    p->target = mlstr_get(r, NAME_MAX_LEN, 0, &ls->oom);
    p->target_numeric = (int)mlenc_get_u32(r);
    int cls = p->task == ML_CLASSIFICATION;
    size_t n = mlenc_get_count(r, cls ? 2 : 0, cls ? 1000 : 0, 8);
    p->classes = mlstr_get_array(r, n, NAME_MAX_LEN, &ls->oom);
    p->nclasses = p->classes ? n : 0;
    if (p->identity > 1 || p->target_numeric > 1 ||
        (p->task != ML_CLASSIFICATION && p->task != ML_REGRESSION))
        mlenc_fail(r);
}

static int load_body(struct lstate *ls, struct prep *p)
{
    struct mlenc_reader *r = &ls->r;
    get_head(ls, p);
    get_config(ls, &p->cfg);
    get_cols(ls, p);
    get_dropped(ls, p);
    p->rows_used = (size_t)mlenc_get_u64(r);
    p->rows_dropped_target = (size_t)mlenc_get_u64(r);
    p->imputed = (size_t)mlenc_get_u64(r);
    get_knn(ls, p);
    if (ls->oom)
        return -ENOMEM;
    if (mlenc_close(r))
        return -EINVAL;
    int rc = prep_build_features(p);
    if (!rc)
        rc = prep_index_classes(p);
    return rc;
}

int prep_load(const void *data, size_t len, size_t *used, struct prep **out)
{
    struct lstate ls = {.oom = 0};
    uint32_t version = 0;
    size_t n = 0;
    if (mlenc_open(&ls.r, data, len, PREP_MAGIC, &version, &n) || version != PREP_VERSION ||
        (!used && n != len))
        return -EINVAL;
    struct prep *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    int rc = load_body(&ls, p);
    if (rc) {
        prep_free(p);
        return rc;
    }
    if (used)
        *used = n;
    *out = p;
    return 0;
}

/* ---- JSON ---- */

static const char *kind_name(enum frame_kind k)
{
    switch (k) {
    case FRAME_NUMERIC:
        return "numeric";
    case FRAME_BOOLEAN:
        return "boolean";
    case FRAME_TEMPORAL:
        return "temporal";
    case FRAME_CATEGORICAL:
        return "categorical";
    case FRAME_TEXT:
        return "text";
    }
    return "unknown";
}

static const char *schema_type(enum frame_kind k)
{
    return k == FRAME_BOOLEAN       ? "boolean"
           : k == FRAME_TEMPORAL    ? "datetime"
           : k == FRAME_CATEGORICAL ? "category"
                                    : "number";
}

static json_t *string_array(char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (mlstr_push(a, json_string(s[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *fill_json(const struct prep_col *c)
{
    if (c->kind == FRAME_CATEGORICAL)
        return json_string(c->cat_fill);
    return c->impute && c->impute != PREP_IMPUTE_KNN ? mlstr_real(c->fill) : json_null();
}

json_t *prep_schema_json(const struct prep *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->ncols; i++) {
        const struct prep_col *c = &p->cols[i];
        json_t *o = json_pack("{s:s, s:s, s:o}", "name", c->name, "type", schema_type(c->kind),
                              "missing_fill", fill_json(c));
        if (o && c->kind == FRAME_CATEGORICAL &&
            mlstr_set(o, "categories", string_array(c->cats, c->ncats))) {
            json_decref(o);
            o = NULL;
        }
        if (mlstr_push(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *col_report(const struct prep *p, const struct prep_col *c)
{
    size_t n = c->kind == FRAME_CATEGORICAL ? c->ncats : 1;
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:o, s:s, s:o, s:o, s:o}", "column", c->name, "kind",
        kind_name(c->kind), "missing", (json_int_t)c->missing, "imputation",
        p->identity ? "none" : prep_impute_name(c->impute), "fill_value", fill_json(c), "scaling",
        c->kind == FRAME_CATEGORICAL ? "one_hot" : prep_scale_name(p->cfg.scaling), "center",
        mlstr_real(c->center), "scale", mlstr_real(c->scale), "outputs",
        string_array(p->features + c->out, n));
    if (o && c->kind == FRAME_CATEGORICAL &&
        (mlstr_set(o, "categories", string_array(c->cats, c->ncats)) ||
         mlstr_set(o, "other_categories", json_integer((json_int_t)c->other_cats)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *dropped_report(const struct prep *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->ndropped; i++) {
        const struct prep_dropped *d = &p->dropped[i];
        if (mlstr_push(a, json_pack("{s:s, s:s, s:s}", "column", d->column, "reason",
                                    prep_reason_name(d->reason), "detail", d->detail))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *prep_report_json(const struct prep *p)
{
    json_t *feats = json_array();
    for (size_t i = 0; feats && i < p->ncols; i++)
        if (mlstr_push(feats, col_report(p, &p->cols[i]))) {
            json_decref(feats);
            feats = NULL;
        }
    json_t *o = json_pack("{s:o, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:b}", "config",
                          prep_config_json(&p->cfg), "target", p->target, "task",
                          p->task == ML_CLASSIFICATION ? "classification" : "regression",
                          "rows_used", (json_int_t)p->rows_used, "rows_dropped_missing_target",
                          (json_int_t)p->rows_dropped_target, "dropped_columns", dropped_report(p),
                          "features", feats, "imputed_values", (json_int_t)p->imputed,
                          "n_features_in", (json_int_t)p->ncols, "n_features_out", (json_int_t)p->p,
                          "identity", p->identity);
    if (o && p->task == ML_CLASSIFICATION &&
        mlstr_set(o, "classes", string_array(p->classes, p->nclasses))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
