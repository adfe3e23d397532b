/* prep: preprocessing fitted on training rows (target labels, column selection,
 * imputation, scaling, one-hot encoding) and applied to frames. */
#include "mlstr.h"
#include "prepimpl.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long prep_find_sorted(char *const *a, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a[mid], s);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long prep_cat_index(const struct prep_col *c, const char *s)
{
    return s ? prep_find_sorted(c->cats, c->ncats, s) : -1;
}

static long find_value(const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return (long)mid;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long prep_class_index(const struct prep *p, const char *label)
{
    if (!label || !p->nclasses)
        return -1;
    if (p->target_numeric) {
        char *end = NULL;
        double v = strtod(label, &end);
        return *label && end && *end == '\0' ? find_value(p->class_values, p->nclasses, v) : -1;
    }
    size_t lo = 0, hi = p->nclasses;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->classes[p->class_order[mid]], label);
        if (c == 0)
            return (long)p->class_order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_order(const void *a, const void *b, void *labels)
{
    char *const *l = labels;
    return strcmp(l[*(const size_t *)a], l[*(const size_t *)b]);
}

int prep_index_classes(struct prep *p)
{
    free(p->class_order);
    free(p->class_values);
    p->class_order = NULL;
    p->class_values = NULL;
    if (!p->nclasses)
        return 0;
    p->class_order = malloc(p->nclasses * sizeof *p->class_order);
    p->class_values = malloc(p->nclasses * sizeof *p->class_values);
    if (!p->class_order || !p->class_values)
        return -ENOMEM;
    for (size_t i = 0; i < p->nclasses; i++) {
        p->class_order[i] = i;
        char *end = NULL;
        p->class_values[i] = strtod(p->classes[i], &end);
        if (p->target_numeric && (!*p->classes[i] || *end != '\0' || !isfinite(p->class_values[i])))
            return -EINVAL;
        if (p->target_numeric && i > 0 && !(p->class_values[i] > p->class_values[i - 1]))
            return -EINVAL;
    }
    qsort_r(p->class_order, p->nclasses, sizeof *p->class_order, cmp_order, p->classes);
    for (size_t i = 1; i < p->nclasses; i++)
        if (strcmp(p->classes[p->class_order[i - 1]], p->classes[p->class_order[i]]) >= 0)
            return -EINVAL;
    if (!p->target_numeric && !p->identity) /* fitted labels are sorted by text */
        for (size_t i = 1; i < p->nclasses; i++)
            if (strcmp(p->classes[i - 1], p->classes[i]) >= 0)
                return -EINVAL;
    return 0;
}

static size_t row_at(const size_t *rows, size_t i)
{
    return rows ? rows[i] : i;
}

/* ---- target labels ---- */

void prep_tlabels_release(struct prep_tlabels *t)
{
    mlstr_free_array(t->labels, t->n);
    free(t->values);
    free(t->code_map);
    memset(t, 0, sizeof *t);
}

static int labels_numeric(const struct frame_column *c, const size_t *rows, size_t nrows,
                          struct prep_tlabels *t)
{
    double *v = malloc((nrows ? nrows : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t m = 0, k = 0;
    for (size_t i = 0; i < nrows; i++) {
        double x = prep_num_at(c, row_at(rows, i));
        if (isfinite(x))
            v[m++] = x;
    }
    qsort(v, m, sizeof *v, cmp_double);
    for (size_t i = 0; i < m; i++)
        if (k == 0 || v[i] != v[k - 1])
            v[k++] = v[i];
    t->values = v;
    if (k > PREP_MAX_CLASSES) {
        t->n = k;
        return -E2BIG;
    }
    t->labels = calloc(k ? k : 1, sizeof *t->labels);
    if (!t->labels)
        return -ENOMEM;
    t->n = k;
    for (size_t i = 0; i < k; i++) {
        char tmp[40];
        mlstr_format_number(v[i], tmp, sizeof tmp);
        if (!(t->labels[i] = strdup(tmp)))
            return -ENOMEM;
    }
    return 0;
}

static int labels_coded(const struct frame_column *c, const size_t *rows, size_t nrows,
                        struct prep_tlabels *t)
{
    t->code_map = malloc((c->ndict ? c->ndict : 1) * sizeof *t->code_map);
    if (!t->code_map)
        return -ENOMEM;
    for (size_t d = 0; d < c->ndict; d++)
        t->code_map[d] = -1;
    size_t k = 0;
    for (size_t i = 0; i < nrows; i++) {
        int32_t code = c->codes[row_at(rows, i)];
        if (code >= 0 && (size_t)code < c->ndict && t->code_map[code] == -1) {
            t->code_map[code] = 0;
            k++;
        }
    }
    if (k > PREP_MAX_CLASSES) {
        t->n = k;
        return -E2BIG;
    }
    t->labels = calloc(k ? k : 1, sizeof *t->labels);
    if (!t->labels)
        return -ENOMEM;
    size_t m = 0;
    for (size_t d = 0; d < c->ndict; d++)
        if (t->code_map[d] == 0 && !(t->labels[m++] = strdup(c->dict[d])))
            return -ENOMEM;
    qsort(t->labels, m, sizeof *t->labels, cmp_str);
    size_t u = 0; /* drop duplicate texts (a dictionary should have none) */
    for (size_t i = 0; i < m; i++) {
        if (u && strcmp(t->labels[u - 1], t->labels[i]) == 0)
            free(t->labels[i]);
        else
            t->labels[u++] = t->labels[i];
    }
    t->n = u;
    for (size_t d = 0; d < c->ndict; d++)
        if (t->code_map[d] == 0)
            t->code_map[d] = prep_find_sorted(t->labels, u, c->dict[d]);
    return 0;
}

long prep_tlabels_index(const struct prep_tlabels *t, const struct frame_column *c, size_t r)
{
    if (t->code_map) {
        int32_t code = c->codes[r];
        return code >= 0 && (size_t)code < c->ndict ? t->code_map[code] : -1;
    }
    double x = prep_num_at(c, r);
    return isfinite(x) ? find_value(t->values, t->n, x) : -1;
}

int prep_check_target(const struct frame_column *c, enum ml_task task, char *err, size_t errlen)
{
    if (task != ML_CLASSIFICATION && task != ML_REGRESSION) {
        mlstr_err(err, errlen, "task must be classification or regression");
        return -EINVAL;
    }
    if (c->kind == FRAME_TEXT) {
        mlstr_err(err, errlen, "target column '%s' is free text and cannot be predicted", c->name);
        return -EINVAL;
    }
    if (task == ML_REGRESSION && c->kind == FRAME_CATEGORICAL) {
        mlstr_err(err, errlen, "target column '%s' is categorical: regression needs numbers",
                  c->name);
        return -EINVAL;
    }
    if (task == ML_CLASSIFICATION && c->kind == FRAME_TEMPORAL) {
        mlstr_err(err, errlen, "target column '%s' holds dates: classification needs classes",
                  c->name);
        return -EINVAL;
    }
    return 0;
}

int prep_tlabels_build(const struct frame_column *c, const size_t *rows, size_t nrows,
                       struct prep_tlabels *t, char *err, size_t errlen)
{
    int rc = c->kind == FRAME_NUMERIC ? labels_numeric(c, rows, nrows, t)
                                      : labels_coded(c, rows, nrows, t);
    if (rc == -E2BIG) {
        mlstr_err(err, errlen,
                  "target column '%s' has %zu distinct values: too many classes for "
                  "classification (at most %d); use regression",
                  c->name, t->n, PREP_MAX_CLASSES);
        rc = -EINVAL;
    }
    return rc;
}

const struct frame_column *prep_target_column(const struct frame *f, const char *target, char *err,
                                              size_t errlen)
{
    int ti = target ? frame_find(f, target) : -ENOENT;
    if (ti < 0) {
        mlstr_err(err, errlen, "target column '%s' not found", target ? target : "");
        return NULL;
    }
    return frame_col(f, (size_t)ti);
}

int prep_check_rows(const struct frame *f, const size_t *rows, size_t nrows, char *err,
                    size_t errlen)
{
    for (size_t i = 0; rows && i < nrows; i++)
        if (rows[i] >= frame_nrows(f)) {
            mlstr_err(err, errlen, "row %zu is out of range", rows[i]);
            return -EINVAL;
        }
    return 0;
}

int prep_target_codes(const struct frame *f, const char *target, enum ml_task task,
                      const size_t *rows, size_t nrows, double *y, char ***labels, size_t *nclasses,
                      char *err, size_t errlen)
{
    const struct frame_column *c = prep_target_column(f, target, err, errlen);
    if (!c)
        return -EINVAL;
    if (!rows)
        nrows = frame_nrows(f);
    int rc = prep_check_target(c, task, err, errlen);
    if (!rc)
        rc = prep_check_rows(f, rows, nrows, err, errlen);
    if (rc)
        return rc;
    if (task == ML_REGRESSION) {
        for (size_t i = 0; i < nrows; i++)
            y[i] = prep_num_at(c, row_at(rows, i));
        *labels = NULL;
        *nclasses = 0;
        return 0;
    }
    struct prep_tlabels t = {0};
    rc = prep_tlabels_build(c, rows, nrows, &t, err, errlen);
    if (rc) {
        prep_tlabels_release(&t);
        return rc;
    }
    for (size_t i = 0; i < nrows; i++) {
        long k = prep_tlabels_index(&t, c, row_at(rows, i));
        y[i] = k < 0 ? NAN : (double)k;
    }
    *labels = t.labels;
    *nclasses = t.n;
    t.labels = NULL;
    t.n = 0;
    prep_tlabels_release(&t);
    return 0;
}

/* ---- freeing ---- */

static void free_cols(struct prep_col *cols, size_t n)
{
    for (size_t i = 0; cols && i < n; i++) {
        free(cols[i].name);
        mlstr_free_array(cols[i].cats, cols[i].ncats);
        free(cols[i].cat_fill);
    }
    free(cols);
}

void prep_free(struct prep *p)
{
    if (!p)
        return;
    free(p->target);
    mlstr_free_array(p->classes, p->nclasses);
    free(p->class_values);
    free(p->class_order);
    prep_config_release(&p->cfg);
    free_cols(p->cols, p->ncols);
    for (size_t i = 0; p->dropped && i < p->ndropped; i++) {
        free(p->dropped[i].column);
        free(p->dropped[i].detail);
    }
    free(p->dropped);
    mlstr_free_array(p->features, p->p);
    free(p->knn_x);
    free(p->knn_mean);
    free(p->knn_sd);
    free(p);
}

int prep_build_features(struct prep *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->ncols; i++) {
        p->cols[i].out = total;
        total += p->cols[i].kind == FRAME_CATEGORICAL ? p->cols[i].ncats : 1;
    }
    mlstr_free_array(p->features, p->p);
    p->p = 0;
    p->features = calloc(total ? total : 1, sizeof *p->features);
    if (!p->features)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < p->ncols; i++) {
        const struct prep_col *c = &p->cols[i];
        size_t n = c->kind == FRAME_CATEGORICAL ? c->ncats : 1;
        for (size_t j = 0; j < n; j++, k++) {
            struct buf b;
            buf_init(&b, MLSTR_MAX_LEN);
            int rc = c->kind == FRAME_CATEGORICAL ? buf_printf(&b, "%s=%s", c->name, c->cats[j])
                                                  : buf_append_str(&b, c->name);
            p->features[k] = rc ? NULL : buf_steal(&b);
            buf_release(&b);
            if (!p->features[k]) {
                p->p = k;
                return -ENOMEM;
            }
        }
    }
    p->p = total;
    return 0;
}

/* ---- the row transform ---- */

size_t prep_scratch_len(const struct prep *p)
{
    return p->knn_n ? p->knn_n : 1;
}

/* Mean of column j over the k nearest donors that have it (NaN when none). */
static double knn_column(const struct prep *p, const double *dist, size_t j)
{
    size_t k = p->cfg.knn_neighbors < 1     ? 1
               : p->cfg.knn_neighbors > 100 ? 100
                                            : p->cfg.knn_neighbors;
    size_t have = 0;
    double best_d[100];
    size_t best_i[100];
    for (size_t i = 0; i < p->knn_n; i++) {
        double d = dist[i];
        if (!isfinite(d) || isnan(p->knn_x[i * p->nnum + j]))
            continue;
        if (have == k && d >= best_d[k - 1])
            continue;
        size_t pos = have < k ? have++ : k - 1;
        while (pos > 0 && best_d[pos - 1] > d) {
            best_d[pos] = best_d[pos - 1];
            best_i[pos] = best_i[pos - 1];
            pos--;
        }
        best_d[pos] = d;
        best_i[pos] = i;
    }
    double s = 0;
    for (size_t m = 0; m < have; m++)
        s += p->knn_x[best_i[m] * p->nnum + j];
    return have ? s / (double)have : NAN;
}

/* KNN imputation of the missing values of raw (nnum): distances to every donor over the
 * columns both have (standardised), scaled up for the columns missing. */
void prep_knn_fill(const struct prep *p, double *raw, double *dist)
{
    size_t q = p->nnum;
    for (size_t i = 0; i < p->knn_n; i++) {
        const double *d = p->knn_x + i * q;
        double s = 0;
        size_t c = 0;
        for (size_t j = 0; j < q; j++) {
            if (isnan(raw[j]) || isnan(d[j]))
                continue;
            double t = (raw[j] - d[j]) / p->knn_sd[j];
            s += t * t;
            c++;
        }
        dist[i] = c ? sqrt(s * (double)q / (double)c) : INFINITY;
    }
    for (size_t j = 0; j < q; j++)
        if (isnan(raw[j]))
            raw[j] = knn_column(p, dist, j); /* dist was computed from the original values */
}

void prep_finish_row(const struct prep *p, double *raw, const long *cat, double *scratch,
                     double *out)
{
    if (p->knn_n) {
        for (size_t j = 0; j < p->nnum; j++)
            if (isnan(raw[j])) {
                prep_knn_fill(p, raw, scratch);
                break;
            }
    }
    size_t ci = 0;
    for (size_t i = 0; i < p->ncols; i++) {
        const struct prep_col *c = &p->cols[i];
        if (c->kind != FRAME_CATEGORICAL) {
            double v = raw[c->num_index];
            if (isnan(v) && c->impute)
                v = c->fill;
            out[c->out] = (v - c->center) / c->scale;
            continue;
        }
        memset(out + c->out, 0, c->ncats * sizeof *out);
        long k = cat[ci++];
        if (k >= 0)
            out[c->out + (size_t)k] = 1.0;
    }
}

/* ---- transforming a frame ---- */

/* How one fitted column is read from the frame being transformed. */
struct tcol {
    const struct frame_column *fc;
    long *map;     /* categorical from a coded column: ndict entries */
    long fill_idx; /* categorical: the index of the fill category or -1 */
};

static long cat_from_text(const struct prep_col *pc, const struct tcol *t, const char *s)
{
    return s ? prep_cat_index(pc, s) : t->fill_idx;
}

static long cat_at(const struct prep_col *pc, const struct tcol *t, size_t r)
{
    const struct frame_column *c = t->fc;
    if (c->kind == FRAME_CATEGORICAL || c->kind == FRAME_BOOLEAN) {
        int32_t code = c->codes[r];
        return code < 0 || (size_t)code >= c->ndict ? t->fill_idx : t->map[code];
    }
    if (c->kind == FRAME_TEXT)
        return cat_from_text(pc, t, c->text[r]);
    double v = c->num[r];
    if (isnan(v))
        return t->fill_idx;
    char tmp[40];
    mlstr_format_number(v, tmp, sizeof tmp);
    return prep_cat_index(pc, tmp);
}

static int bind_column(const struct prep_col *pc, const struct frame *f, struct tcol *t, char *err,
                       size_t errlen)
{
    int fi = frame_find(f, pc->name);
    if (fi < 0) {
        mlstr_err(err, errlen, "feature column '%s' is missing", pc->name);
        return -EINVAL;
    }
    t->fc = frame_col(f, (size_t)fi);
    enum frame_kind k = t->fc->kind;
    if (pc->kind != FRAME_CATEGORICAL) {
        if (k == FRAME_NUMERIC || k == FRAME_TEMPORAL || k == FRAME_BOOLEAN)
            return 0;
        mlstr_err(err, errlen, "column '%s' must hold numbers (it holds %s)", pc->name,
                  t->fc->type);
        return -EINVAL;
    }
    t->fill_idx = prep_cat_index(pc, pc->cat_fill);
    if (k != FRAME_CATEGORICAL && k != FRAME_BOOLEAN)
        return 0;
    t->map = malloc((t->fc->ndict ? t->fc->ndict : 1) * sizeof *t->map);
    if (!t->map)
        return -ENOMEM;
    for (size_t d = 0; d < t->fc->ndict; d++)
        t->map[d] = prep_cat_index(pc, t->fc->dict[d]);
    return 0;
}

struct ttarget {
    const struct frame_column *fc; /* NULL: no target in this frame */
    long *map;                     /* classification from a coded column */
};

static int bind_target(const struct prep *p, const struct frame *f, struct ttarget *t, char *err,
                       size_t errlen)
{
    int fi = p->target ? frame_find(f, p->target) : -ENOENT;
    if (fi < 0)
        return 0;
    t->fc = frame_col(f, (size_t)fi);
    enum frame_kind k = t->fc->kind;
    if (p->task == ML_REGRESSION && k != FRAME_NUMERIC && k != FRAME_BOOLEAN &&
        k != FRAME_TEMPORAL) {
        mlstr_err(err, errlen, "target column '%s' must hold numbers", p->target);
        return -EINVAL;
    }
    if (p->task != ML_CLASSIFICATION || (k != FRAME_CATEGORICAL && k != FRAME_BOOLEAN))
        return 0;
    t->map = malloc((t->fc->ndict ? t->fc->ndict : 1) * sizeof *t->map);
    if (!t->map)
        return -ENOMEM;
    for (size_t d = 0; d < t->fc->ndict; d++)
        t->map[d] = prep_class_index(p, t->fc->dict[d]);
    return 0;
}

/* The target of row r: 0 and *y, 1 missing, 2 an unseen class. */
static int target_at(const struct prep *p, const struct ttarget *t, size_t r, double *y)
{
    const struct frame_column *c = t->fc;
    if (p->task == ML_REGRESSION) {
        *y = prep_num_at(c, r);
        return isfinite(*y) ? 0 : 1;
    }
    long k = -1;
    if (t->map) {
        int32_t code = c->codes[r];
        if (code < 0 || (size_t)code >= c->ndict)
            return 1;
        k = t->map[code];
    } else if (c->kind == FRAME_TEXT) {
        if (!c->text[r])
            return 1;
        k = prep_class_index(p, c->text[r]);
    } else {
        double v = c->num[r];
        if (!isfinite(v))
            return 1;
        if (p->target_numeric) {
            k = find_value(p->class_values, p->nclasses, v);
        } else {
            char tmp[40];
            mlstr_format_number(v, tmp, sizeof tmp);
            k = prep_class_index(p, tmp);
        }
    }
    if (k < 0)
        return 2;
    *y = (double)k;
    return 0;
}

void prep_output_release(struct prep_output *o)
{
    if (!o)
        return;
    free(o->x);
    free(o->y);
    free(o->rows);
    memset(o, 0, sizeof *o);
}

struct tstate {
    struct tcol *tc;
    struct ttarget tt;
    double *raw, *scratch;
    long *cat;
};

static void tstate_release(struct tstate *s, size_t ncols)
{
    for (size_t i = 0; s->tc && i < ncols; i++)
        free(s->tc[i].map);
    free(s->tc);
    free(s->tt.map);
    free(s->raw);
    free(s->scratch);
    free(s->cat);
}

static int tstate_init(const struct prep *p, const struct frame *f, struct tstate *s, char *err,
                       size_t errlen)
{
    s->tc = calloc(p->ncols ? p->ncols : 1, sizeof *s->tc);
    s->raw = malloc((p->nnum ? p->nnum : 1) * sizeof *s->raw);
    s->scratch = malloc(prep_scratch_len(p) * sizeof *s->scratch);
    s->cat = malloc((p->ncols ? p->ncols : 1) * sizeof *s->cat);
    if (!s->tc || !s->raw || !s->scratch || !s->cat)
        return -ENOMEM;
    for (size_t i = 0; i < p->ncols; i++) {
        int rc = bind_column(&p->cols[i], f, &s->tc[i], err, errlen);
        if (rc)
            return rc;
    }
    return bind_target(p, f, &s->tt, err, errlen);
}

static void transform_row(const struct prep *p, struct tstate *s, size_t r, double *out)
{
    size_t nc = 0;
    for (size_t i = 0; i < p->ncols; i++) {
        const struct prep_col *pc = &p->cols[i];
        if (pc->kind == FRAME_CATEGORICAL)
            s->cat[nc++] = cat_at(pc, &s->tc[i], r);
        else
            s->raw[pc->num_index] = prep_num_at(s->tc[i].fc, r);
    }
    prep_finish_row(p, s->raw, s->cat, s->scratch, out);
}

static int transform_rows(const struct prep *p, struct tstate *s, const size_t *rows, size_t nrows,
                          struct prep_output *o)
{
    o->p = p->p;
    o->x = malloc((nrows ? nrows : 1) * (p->p ? p->p : 1) * sizeof *o->x);
    o->rows = malloc((nrows ? nrows : 1) * sizeof *o->rows);
    if (s->tt.fc)
        o->y = malloc((nrows ? nrows : 1) * sizeof *o->y);
    if (!o->x || !o->rows || (s->tt.fc && !o->y))
        return -ENOMEM;
    for (size_t i = 0; i < nrows; i++) {
        size_t r = row_at(rows, i);
        if (s->tt.fc) {
            int st = target_at(p, &s->tt, r, &o->y[o->n]);
            o->dropped_missing_target += st == 1;
            o->dropped_unknown_class += st == 2;
            if (st)
                continue;
        }
        transform_row(p, s, r, o->x + o->n * p->p);
        o->rows[o->n++] = r;
    }
    return 0;
}

int prep_transform(const struct prep *p, const struct frame *f, const size_t *rows, size_t nrows,
                   struct prep_output *out, char *err, size_t errlen)
{
    if (!rows)
        nrows = frame_nrows(f);
    int rc = prep_check_rows(f, rows, nrows, err, errlen);
    if (rc)
        return rc;
    struct tstate s = {0};
    struct prep_output o = {0};
    rc = tstate_init(p, f, &s, err, errlen);
    if (!rc)
        rc = transform_rows(p, &s, rows, nrows, &o);
    tstate_release(&s, p->ncols);
    if (rc) {
        if (rc == -ENOMEM)
            mlstr_err(err, errlen, "out of memory while transforming %zu rows", nrows);
        prep_output_release(&o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- identity and accessors ---- */

static int identity_names(struct prep *p, size_t nfeatures, const char *const *names)
{
    for (size_t i = 0; i < nfeatures; i++) {
        struct prep_col *c = &p->cols[i];
        char tmp[32];
        snprintf(tmp, sizeof tmp, "f%zu", i);
        c->name = strdup(names ? names[i] : tmp);
        if (!c->name)
            return -ENOMEM;
        c->kind = FRAME_NUMERIC;
        c->center = 0;
        c->scale = 1;
        c->num_index = i;
        p->ncols = i + 1;
        p->nnum = i + 1;
    }
    return 0;
}

static int identity_classes(struct prep *p, size_t nclasses, const char *const *labels)
{
    p->classes = calloc(nclasses, sizeof *p->classes);
    if (!p->classes)
        return -ENOMEM;
    for (size_t i = 0; i < nclasses; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%zu", i);
        if (!(p->classes[i] = strdup(labels ? labels[i] : tmp)))
            return -ENOMEM;
        p->nclasses = i + 1;
    }
    /* default labels are numbers in order; given ones are compared as text */
    p->target_numeric = labels == NULL;
    return 0;
}

int prep_new_identity(size_t nfeatures, const char *const *names, enum ml_task task,
                      size_t nclasses, const char *const *labels, const char *target,
                      struct prep **out)
{
    if (nfeatures == 0 || (task != ML_CLASSIFICATION && task != ML_REGRESSION) ||
        (task == ML_CLASSIFICATION && (nclasses < 2 || nclasses > PREP_MAX_CLASSES)))
        return -EINVAL;
    for (size_t i = 0; names && i < nfeatures; i++)
        if (!names[i] || !*names[i])
            return -EINVAL;
    struct prep *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->identity = 1;
    p->task = task;
    prep_config_default(&p->cfg);
    p->cfg.scaling = PREP_SCALE_NONE;
    p->cols = calloc(nfeatures, sizeof *p->cols);
    int rc = p->cols && (p->target = strdup(target ? target : "target")) ? 0 : -ENOMEM;
    if (!rc)
        rc = identity_names(p, nfeatures, names);
    if (!rc && task == ML_CLASSIFICATION)
        rc = identity_classes(p, nclasses, labels);
    if (!rc)
        rc = prep_build_features(p);
    if (!rc)
        rc = prep_index_classes(p);
    if (rc) {
        prep_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

enum ml_task prep_task(const struct prep *p)
{
    return p->task;
}

const char *prep_target(const struct prep *p)
{
    return p->target;
}

const char *const *prep_feature_names(const struct prep *p, size_t *count)
{
    if (count)
        *count = p->p;
    return (const char *const *)p->features;
}

size_t prep_n_features(const struct prep *p)
{
    return p->p;
}

const char *const *prep_classes(const struct prep *p, size_t *count)
{
    if (count)
        *count = p->nclasses;
    return p->nclasses ? (const char *const *)p->classes : NULL;
}

int prep_is_identity(const struct prep *p)
{
    return p->identity;
}
