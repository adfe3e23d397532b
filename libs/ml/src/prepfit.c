/* prepfit: fitting the preprocessing on training rows: which columns become features,
 * imputation and scaling statistics, categories. */
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

struct fit {
    const struct frame *f;
    const struct prep_config *cfg;
    size_t *used; /* training rows with a target */
    size_t nused;
    size_t tcol;
    struct prep *p;
    double *scratch; /* nused doubles */
    size_t *counts;  /* the largest dictionary's size */
    char *err;
    size_t errlen;
};

struct colstat {
    size_t missing, distinct;
    int unique;  /* every used row has a value, all different */
    int counter; /* integer values stepping by 1 with the row number */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- column selection ---- */

static int name_is_id(const char *name)
{
    static const char *const exact[] = {"id",  "uuid",   "guid",   "key",   "index",
                                        "row", "rownum", "row_id", "rowid", "row_number"};
    static const char *const suffix[] = {"_id", "-id", " id", ".id", "_uuid", "_key"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcasecmp(name, exact[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        size_t k = strlen(suffix[i]);
        if (n > k && strcasecmp(name + n - k, suffix[i]) == 0)
            return 1;
    }
    return n >= 3 && name[n - 2] == 'I' && name[n - 1] == 'd' &&
           islower((unsigned char)name[n - 3]);
}

static int is_excluded(const struct prep_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nexclude; i++)
        if (strcmp(cfg->exclude_columns[i], name) == 0)
            return 1;
    return 0;
}

/* Missing values, constant-ness and the id-like signs of a numeric-kind column over the used
 * rows in one pass. distinct is 0, 1 or 2 (two or more). Sorting (to tell whether every
 * value differs) happens only for a column with an identifier-like name: a row counter is
 * unique by construction, and other unique numbers are kept anyway. */
static void stat_numeric(const struct fit *ft, const struct frame_column *c, int named,
                         struct colstat *st)
{
    size_t m = 0;
    int integer = 1, up = 1, down = 1;
    double up0 = 0, down0 = 0, lo = 0, hi = 0;
    for (size_t i = 0; i < ft->nused; i++) {
        size_t r = ft->used[i];
        double v = prep_num_at(c, r);
        if (isnan(v))
            continue;
        if (named)
            ft->scratch[m] = v;
        if (v != floor(v) || fabs(v) > 9007199254740992.0)
            integer = 0;
        double a = v - (double)r, b = v + (double)r;
        if (m++ == 0) {
            up0 = a;
            down0 = b;
            lo = hi = v;
        }
        up &= a == up0;
        down &= b == down0;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    st->missing = ft->nused - m;
    st->distinct = m == 0 ? 0 : lo == hi ? 1 : 2;
    st->counter = m == ft->nused && m >= 2 && integer && (up || down) && c->kind == FRAME_NUMERIC;
    st->unique = st->counter;
    if (named && !st->counter && m == ft->nused) {
        qsort(ft->scratch, m, sizeof *ft->scratch, cmp_double);
        size_t k = 1;
        while (k < m && ft->scratch[k] != ft->scratch[k - 1])
            k++;
        st->unique = k >= m;
    }
}

static void stat_coded(const struct fit *ft, const struct frame_column *c, struct colstat *st)
{
    memset(ft->counts, 0, (c->ndict ? c->ndict : 1) * sizeof *ft->counts);
    size_t missing = 0, distinct = 0;
    for (size_t i = 0; i < ft->nused; i++) {
        int32_t code = c->codes[ft->used[i]];
        if (code < 0 || (size_t)code >= c->ndict) {
            missing++;
            continue;
        }
        distinct += ft->counts[code]++ == 0;
    }
    st->missing = missing;
    st->distinct = distinct;
    st->unique = missing == 0 && distinct == ft->nused;
    st->counter = 0;
}

/* 1 (with the reason) when column ci is not a feature, else 0. */
static int decide(const struct fit *ft, size_t ci, enum prep_drop_reason *why, char *detail,
                  size_t dlen)
{
    const struct frame_column *c = frame_col(ft->f, ci);
    struct colstat st = {0};
    detail[0] = '\0';
    if (ci == ft->tcol) {
        *why = PREP_DROP_TARGET;
        snprintf(detail, dlen, "the target column");
        return 1;
    }
    if (is_excluded(ft->cfg, c->name)) {
        *why = PREP_DROP_EXCLUDED;
        snprintf(detail, dlen, "listed in exclude_columns");
        return 1;
    }
    if (c->kind == FRAME_TEXT) {
        *why = PREP_DROP_TEXT;
        snprintf(detail, dlen, "free text is not used as a feature");
        return 1;
    }
    int named = name_is_id(c->name);
    if (c->kind == FRAME_CATEGORICAL || c->kind == FRAME_BOOLEAN)
        stat_coded(ft, c, &st);
    else
        stat_numeric(ft, c, named, &st);
    double share = (double)st.missing / (double)ft->nused;
    if (share > ft->cfg->missing_threshold) {
        *why = PREP_DROP_MISSING;
        snprintf(detail, dlen, "%.1f%% missing in the training rows (threshold %.1f%%)",
                 100.0 * share, 100.0 * ft->cfg->missing_threshold);
        return 1;
    }
    if (ft->cfg->exclude_id_like && st.unique && ft->nused >= 3 &&
        (named || c->kind == FRAME_CATEGORICAL || st.counter)) {
        *why = PREP_DROP_ID_LIKE;
        snprintf(detail, dlen, "a different value in every training row%s",
                 named        ? " and an identifier-like name"
                 : st.counter ? ", counting up with the rows"
                              : "");
        return 1;
    }
    if (st.distinct <= 1) {
        *why = PREP_DROP_CONSTANT;
        snprintf(detail, dlen, "%s in the training rows",
                 st.distinct ? "a single value" : "no value");
        return 1;
    }
    return 0;
}

static int add_dropped(struct prep *p, const char *name, enum prep_drop_reason why,
                       const char *detail)
{
    struct prep_dropped *d = &p->dropped[p->ndropped];
    d->column = strdup(name);
    d->detail = strdup(detail);
    d->reason = why;
    p->ndropped++;
    return d->column && d->detail ? 0 : -ENOMEM;
}

static int select_columns(struct fit *ft)
{
    struct prep *p = ft->p;
    size_t nc = frame_ncols(ft->f);
    p->cols = calloc(nc ? nc : 1, sizeof *p->cols);
    p->dropped = calloc(nc ? nc : 1, sizeof *p->dropped);
    if (!p->cols || !p->dropped)
        return -ENOMEM;
    for (size_t ci = 0; ci < nc; ci++) {
        const struct frame_column *c = frame_col(ft->f, ci);
        enum prep_drop_reason why = PREP_DROP_TARGET;
        char detail[160];
        if (decide(ft, ci, &why, detail, sizeof detail)) {
            if (add_dropped(p, c->name, why, detail))
                return -ENOMEM;
            continue;
        }
        struct prep_col *pc = &p->cols[p->ncols++];
        pc->kind = c->kind;
        if (!(pc->name = strdup(c->name)))
            return -ENOMEM;
        if (c->kind != FRAME_CATEGORICAL)
            pc->num_index = p->nnum++;
    }
    return 0;
}

/* ---- numeric columns ---- */

static double quantile(const double *sorted, size_t m, double q)
{
    double pos = q * (double)(m - 1);
    size_t lo = (size_t)floor(pos);
    double frac = pos - (double)lo;
    return lo + 1 < m ? sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

static double most_frequent(const double *sorted, size_t m)
{
    double best = sorted[0];
    size_t best_n = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && sorted[j] == sorted[i])
            j++;
        if (j - i > best_n) {
            best_n = j - i;
            best = sorted[i];
        }
        i = j;
    }
    return best;
}

/* The imputed value of one column of n values (NaN missing); sorted is scratch. */
static double numeric_fill(enum prep_impute how, const double *col, size_t n, double *sorted,
                           double constant, size_t *missing)
{
    size_t m = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(col[i])) {
            sorted[m++] = col[i];
            sum += col[i];
        }
    *missing = n - m;
    if (how == PREP_IMPUTE_CONSTANT)
        return constant;
    if (m == 0)
        return 0;
    if (how == PREP_IMPUTE_MEAN || how == PREP_IMPUTE_KNN)
        return sum / (double)m;
    qsort(sorted, m, sizeof *sorted, cmp_double);
    return how == PREP_IMPUTE_MEDIAN ? quantile(sorted, m, 0.5) : most_frequent(sorted, m);
}

static double nonzero_scale(double s)
{
    return s < 10 * DBL_EPSILON || !isfinite(s) ? 1.0 : s;
}

/* Scaling statistics of one imputed column (n values, no NaN). */
static void scaling_stats(enum prep_scale how, const double *col, size_t n, double *sorted,
                          double *center, double *scale)
{
    *center = 0;
    *scale = 1;
    if (how == PREP_SCALE_STANDARD) {
        double sum = 0, ss = 0;
        for (size_t i = 0; i < n; i++)
            sum += col[i];
        double mean = sum / (double)n;
        for (size_t i = 0; i < n; i++)
            ss += (col[i] - mean) * (col[i] - mean);
        *center = mean;
        *scale = nonzero_scale(sqrt(ss / (double)n));
    } else if (how == PREP_SCALE_MINMAX) {
        double lo = col[0], hi = col[0];
        for (size_t i = 1; i < n; i++) {
            lo = col[i] < lo ? col[i] : lo;
            hi = col[i] > hi ? col[i] : hi;
        }
        *center = lo;
        *scale = nonzero_scale(hi - lo);
    } else if (how == PREP_SCALE_ROBUST) {
        memcpy(sorted, col, n * sizeof *col);
        qsort(sorted, n, sizeof *sorted, cmp_double);
        *center = quantile(sorted, n, 0.5);
        *scale = nonzero_scale(quantile(sorted, n, 0.75) - quantile(sorted, n, 0.25));
    }
}

static int setup_knn(struct prep *p, const double *R, size_t n)
{
    size_t q = p->nnum, kn = n < PREP_KNN_MAX_ROWS ? n : PREP_KNN_MAX_ROWS;
    p->knn_x = malloc(kn * q * sizeof *p->knn_x);
    p->knn_mean = calloc(q ? q : 1, sizeof *p->knn_mean);
    p->knn_sd = calloc(q ? q : 1, sizeof *p->knn_sd);
    if (!p->knn_x || !p->knn_mean || !p->knn_sd)
        return -ENOMEM;
    for (size_t d = 0; d < kn; d++) {
        size_t i = d * n / kn; /* evenly spaced training rows */
        for (size_t k = 0; k < q; k++)
            p->knn_x[d * q + k] = R[k * n + i];
    }
    for (size_t k = 0; k < q; k++) {
        double sum = 0, ss = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(R[k * n + i])) {
                sum += R[k * n + i];
                m++;
            }
        double mean = m ? sum / (double)m : 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(R[k * n + i]))
                ss += (R[k * n + i] - mean) * (R[k * n + i] - mean);
        p->knn_mean[k] = mean;
        p->knn_sd[k] = nonzero_scale(m ? sqrt(ss / (double)m) : 0);
    }
    p->knn_n = kn;
    return 0;
}

/* KNN-impute the training rows that have missing values (R column-major, n x q). */
static int knn_impute_rows(const struct prep *p, double *R, size_t n)
{
    size_t q = p->nnum;
    double *raw = malloc((q ? q : 1) * sizeof *raw);
    double *dist = malloc(p->knn_n * sizeof *dist);
    if (!raw || !dist) {
        free(raw);
        free(dist);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int any = 0;
        for (size_t k = 0; k < q; k++) {
            raw[k] = R[k * n + i];
            any |= isnan(raw[k]);
        }
        if (!any)
            continue;
        prep_knn_fill(p, raw, dist);
        for (size_t k = 0; k < q; k++)
            R[k * n + i] = raw[k];
    }
    free(raw);
    free(dist);
    return 0;
}

static int fit_numeric(struct fit *ft)
{
    struct prep *p = ft->p;
    size_t n = ft->nused, q = p->nnum;
    if (q == 0)
        return 0;
    double *R = calloc(n * q, sizeof *R); /* zeroed: every column is filled below */
    if (!R)
        return -ENOMEM;
    enum prep_impute how = ft->cfg->numeric_imputation;
    for (size_t ci = 0; ci < p->ncols; ci++) {
        struct prep_col *pc = &p->cols[ci];
        if (pc->kind == FRAME_CATEGORICAL)
            continue;
        const struct frame_column *c = frame_col(ft->f, (size_t)frame_find(ft->f, pc->name));
        double *col = R + pc->num_index * n;
        for (size_t i = 0; i < n; i++)
            col[i] = prep_num_at(c, ft->used[i]);
        pc->impute = how;
        pc->fill = numeric_fill(how, col, n, ft->scratch, ft->cfg->numeric_fill, &pc->missing);
        p->imputed += pc->missing;
    }
    int rc = how == PREP_IMPUTE_KNN ? setup_knn(p, R, n) : 0;
    if (!rc && how == PREP_IMPUTE_KNN)
        rc = knn_impute_rows(p, R, n);
    for (size_t ci = 0; !rc && ci < p->ncols; ci++) {
        struct prep_col *pc = &p->cols[ci];
        if (pc->kind == FRAME_CATEGORICAL)
            continue;
        double *col = R + pc->num_index * n;
        for (size_t i = 0; i < n; i++)
            if (isnan(col[i]))
                col[i] = pc->fill;
        scaling_stats(ft->cfg->scaling, col, n, ft->scratch, &pc->center, &pc->scale);
    }
    free(R);
    return rc;
}

/* ---- categorical columns ---- */

struct catent {
    const char *s;
    size_t count;
};

static int cmp_ent_str(const void *a, const void *b)
{
    return strcmp(((const struct catent *)a)->s, ((const struct catent *)b)->s);
}

static int cmp_ent_count(const void *a, const void *b)
{
    const struct catent *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->s, y->s);
}

/* Merge equal texts of sorted entries; returns the new count. */
static size_t merge_entries(struct catent *e, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && strcmp(e[u - 1].s, e[i].s) == 0)
            e[u - 1].count += e[i].count;
        else
            e[u++] = e[i];
    }
    return u;
}

static const char *pick_fill(const struct fit *ft, const struct catent *e, size_t n)
{
    if (ft->cfg->categorical_imputation == PREP_IMPUTE_CONSTANT)
        return ft->cfg->categorical_fill ? ft->cfg->categorical_fill : "missing";
    size_t best = 0;
    for (size_t i = 1; i < n; i++) /* e is sorted by text: ties keep the first */
        if (e[i].count > e[best].count)
            best = i;
    return e[best].s;
}

static int keep_categories(struct prep_col *pc, struct catent *e, size_t n, size_t max)
{
    if (n > max) {
        qsort(e, n, sizeof *e, cmp_ent_count);
        pc->other_cats = n - max;
        n = max;
        qsort(e, n, sizeof *e, cmp_ent_str);
    }
    pc->cats = calloc(n ? n : 1, sizeof *pc->cats);
    if (!pc->cats)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(pc->cats[i] = strdup(e[i].s)))
            return -ENOMEM;
        pc->ncats = i + 1;
    }
    return 0;
}

static int fit_one_categorical(struct fit *ft, struct prep_col *pc)
{
    const struct frame_column *c = frame_col(ft->f, (size_t)frame_find(ft->f, pc->name));
    struct colstat st;
    stat_coded(ft, c, &st);
    struct catent *e = malloc((c->ndict + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    size_t n = 0;
    for (size_t d = 0; d < c->ndict; d++)
        if (ft->counts[d])
            e[n++] = (struct catent){c->dict[d], ft->counts[d]};
    qsort(e, n, sizeof *e, cmp_ent_str);
    n = merge_entries(e, n);
    const char *fill = pick_fill(ft, e, n);
    pc->impute = ft->cfg->categorical_imputation;
    pc->missing = st.missing;
    ft->p->imputed += st.missing;
    int rc = (pc->cat_fill = strdup(fill)) ? 0 : -ENOMEM;
    if (!rc && st.missing) {
        e[n++] = (struct catent){pc->cat_fill, st.missing};
        qsort(e, n, sizeof *e, cmp_ent_str);
        n = merge_entries(e, n);
    }
    if (!rc)
        rc = keep_categories(pc, e, n, ft->cfg->max_categories);
    free(e);
    return rc;
}

static int fit_categorical(struct fit *ft)
{
    for (size_t ci = 0; ci < ft->p->ncols; ci++) {
        struct prep_col *pc = &ft->p->cols[ci];
        if (pc->kind != FRAME_CATEGORICAL)
            continue;
        pc->center = 0;
        pc->scale = 1;
        int rc = fit_one_categorical(ft, pc);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the target and the driver ---- */

static int fit_target(struct fit *ft, const struct frame_column *c, const size_t *rows,
                      size_t nrows)
{
    struct prep *p = ft->p;
    ft->used = malloc((nrows ? nrows : 1) * sizeof *ft->used);
    if (!ft->used)
        return -ENOMEM;
    for (size_t i = 0; i < nrows; i++) {
        size_t r = rows ? rows[i] : i;
        double v = prep_num_at(c, r);
        int present = c->kind == FRAME_CATEGORICAL ? c->codes[r] >= 0 : isfinite(v);
        if (present)
            ft->used[ft->nused++] = r;
    }
    p->rows_used = ft->nused;
    p->rows_dropped_target = nrows - ft->nused;
    if (ft->nused < 2) {
        mlstr_err(ft->err, ft->errlen, "fewer than 2 training rows have a value in '%s'", c->name);
        return -EINVAL;
    }
    if (p->task == ML_REGRESSION)
        return 0;
    struct prep_tlabels t = {0};
    int rc = prep_tlabels_build(c, ft->used, ft->nused, &t, ft->err, ft->errlen);
    if (!rc && t.n < 2) {
        mlstr_err(ft->err, ft->errlen, "the training rows hold a single class of '%s' ('%s')",
                  c->name, t.n ? t.labels[0] : "");
        rc = -EINVAL;
    }
    if (!rc) {
        p->classes = t.labels;
        p->nclasses = t.n;
        p->target_numeric = c->kind == FRAME_NUMERIC;
        t.labels = NULL;
        t.n = 0;
    }
    prep_tlabels_release(&t);
    return rc;
}

static int no_features(const struct fit *ft)
{
    struct buf b;
    buf_init(&b, 512);
    int rc = buf_append_str(&b, "no usable feature column left:");
    for (size_t i = 0; !rc && i < ft->p->ndropped; i++)
        rc = buf_printf(&b, "%s %s (%s)", i ? "," : "", ft->p->dropped[i].column,
                        prep_reason_name(ft->p->dropped[i].reason));
    mlstr_err(ft->err, ft->errlen, "%s", buf_str(&b));
    buf_release(&b);
    return -EINVAL;
}

static size_t largest_dict(const struct frame *f)
{
    size_t m = 1;
    for (size_t i = 0; i < frame_ncols(f); i++)
        if (frame_col(f, i)->ndict > m)
            m = frame_col(f, i)->ndict;
    return m;
}

static int fit_all(struct fit *ft, const struct frame_column *tc, const size_t *rows, size_t nrows)
{
    int rc = fit_target(ft, tc, rows, nrows);
    if (rc)
        return rc;
    ft->scratch = malloc(ft->nused * sizeof *ft->scratch);
    ft->counts = malloc(largest_dict(ft->f) * sizeof *ft->counts);
    if (!ft->scratch || !ft->counts)
        return -ENOMEM;
    if ((rc = select_columns(ft)))
        return rc;
    if (ft->p->ncols == 0)
        return no_features(ft);
    if ((rc = fit_numeric(ft)) || (rc = fit_categorical(ft)) || (rc = prep_build_features(ft->p)))
        return rc;
    rc = prep_index_classes(ft->p);
    if (rc == -EINVAL)
        mlstr_err(ft->err, ft->errlen, "class labels of '%s' are not distinct", tc->name);
    return rc;
}

int prep_fit(const struct frame *f, const char *target, enum ml_task task, const size_t *rows,
             size_t nrows, const struct prep_config *cfg, struct prep **out, char *err,
             size_t errlen)
{
    const struct frame_column *tc = prep_target_column(f, target, err, errlen);
    if (!tc)
        return -EINVAL;
    if (!rows)
        nrows = frame_nrows(f);
    int rc = prep_check_target(tc, task, err, errlen);
    if (!rc)
        rc = prep_check_rows(f, rows, nrows, err, errlen);
    if (rc)
        return rc;
    struct prep *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->task = task;
    struct fit ft = {.f = f,
                     .cfg = cfg,
                     .tcol = (size_t)frame_find(f, target),
                     .p = p,
                     .err = err,
                     .errlen = errlen};
    rc = (p->target = strdup(target)) ? prep_config_copy(cfg, &p->cfg) : -ENOMEM;
    if (!rc)
        rc = fit_all(&ft, tc, rows, nrows);
    free(ft.used);
    free(ft.scratch);
    free(ft.counts);
    if (rc) {
        if (rc == -ENOMEM)
            mlstr_err(err, errlen, "out of memory while fitting the preprocessing");
        prep_free(p);
        return rc;
    }
    *out = p;
    return 0;
}
