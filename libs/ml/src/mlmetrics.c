/* mlmetrics: classification report, ROC and PR curves, log loss and regression errors. */
#include <ibx/mlmetrics.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 65536

static int label_ok(double v, size_t nclasses)
{
    return v >= 0 && v < (double)nclasses && v == floor(v);
}

static int labels_ok(const double *y, size_t n, size_t nclasses)
{
    for (size_t i = 0; i < n; i++)
        if (!label_ok(y[i], nclasses))
            return 0;
    return 1;
}

static int finite_all(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int mlmetrics_accuracy(const double *y_true, const double *y_pred, size_t n, double *out)
{
    if (!y_true || !y_pred || !out || n == 0)
        return -EINVAL;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += y_true[i] == y_pred[i];
    *out = (double)ok / (double)n;
    return 0;
}

/* ---- classification report ------------------------------------------------------------ */

static double safe_div(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

static void per_class(struct mlmetrics_classification *m)
{
    size_t k = m->nclasses;
    for (size_t c = 0; c < k; c++) {
        size_t tp = m->confusion[c * k + c], predicted = 0, actual = 0;
        for (size_t o = 0; o < k; o++) {
            predicted += m->confusion[o * k + c];
            actual += m->confusion[c * k + o];
        }
        m->support[c] = actual;
        m->precision[c] = safe_div((double)tp, (double)predicted);
        m->recall[c] = safe_div((double)tp, (double)actual);
        double pr = m->precision[c] + m->recall[c];
        m->f1[c] = pr > 0 ? 2.0 * m->precision[c] * m->recall[c] / pr : 0.0;
    }
}

/* A class takes part in the macro average when it occurs in y_true or y_pred. */
static int class_present(const struct mlmetrics_classification *m, size_t c)
{
    size_t k = m->nclasses, predicted = 0;
    for (size_t o = 0; o < k; o++)
        predicted += m->confusion[o * k + c];
    return m->support[c] > 0 || predicted > 0;
}

static void averages(struct mlmetrics_classification *m)
{
    double present = 0, sp = 0, sr = 0, sf = 0, wp = 0, wr = 0, wf = 0;
    for (size_t c = 0; c < m->nclasses; c++) {
        double w = (double)m->support[c];
        wp += w * m->precision[c];
        wr += w * m->recall[c];
        wf += w * m->f1[c];
        if (!class_present(m, c))
            continue;
        present += 1;
        sp += m->precision[c];
        sr += m->recall[c];
        sf += m->f1[c];
    }
    m->macro_precision = safe_div(sp, present);
    m->macro_recall = safe_div(sr, present);
    m->macro_f1 = safe_div(sf, present);
    m->weighted_precision = safe_div(wp, (double)m->n);
    m->weighted_recall = safe_div(wr, (double)m->n);
    m->weighted_f1 = safe_div(wf, (double)m->n);
}

int mlmetrics_classification(const double *y_true, const double *y_pred, size_t n, size_t nclasses,
                             struct mlmetrics_classification *out)
{
    if (!y_true || !y_pred || !out || n == 0 || nclasses == 0 || nclasses > MAX_CLASSES ||
        !labels_ok(y_true, n, nclasses) || !labels_ok(y_pred, n, nclasses))
        return -EINVAL;
    struct mlmetrics_classification m = {.nclasses = nclasses, .n = n};
    m.precision = calloc(nclasses, sizeof *m.precision);
    m.recall = calloc(nclasses, sizeof *m.recall);
    m.f1 = calloc(nclasses, sizeof *m.f1);
    m.support = calloc(nclasses, sizeof *m.support);
    m.confusion = calloc(nclasses * nclasses, sizeof *m.confusion);
    if (!m.precision || !m.recall || !m.f1 || !m.support || !m.confusion) {
        mlmetrics_classification_release(&m);
        return -ENOMEM;
    }
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)y_true[i], p = (size_t)y_pred[i];
        m.confusion[t * nclasses + p]++;
        correct += t == p;
    }
    m.accuracy = (double)correct / (double)n;
    per_class(&m);
    averages(&m);
    *out = m;
    return 0;
}

void mlmetrics_classification_release(struct mlmetrics_classification *m)
{
    if (!m)
        return;
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

/* A JSON number, or null when v is not finite. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Set key on obj to a new value; a NULL value (allocation failure) counts as an error. */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static int append(json_t *arr, json_t *v)
{
    return v && json_array_append_new(arr, v) == 0 ? 0 : -ENOMEM;
}

static json_t *class_row(const struct mlmetrics_classification *m, size_t c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = put(o, "class", json_integer((json_int_t)c));
    rc = rc ? rc : put(o, "precision", num(m->precision[c]));
    rc = rc ? rc : put(o, "recall", num(m->recall[c]));
    rc = rc ? rc : put(o, "f1", num(m->f1[c]));
    rc = rc ? rc : put(o, "support", json_integer((json_int_t)m->support[c]));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Append v to arr; on failure release arr and return NULL (v is consumed either way). */
static json_t *append_or_drop(json_t *arr, json_t *v)
{
    if (!arr) {
        json_decref(v);
        return NULL;
    }
    if (append(arr, v) != 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *confusion_json(const struct mlmetrics_classification *m)
{
    json_t *rows = json_array();
    for (size_t t = 0; rows && t < m->nclasses; t++) {
        json_t *row = json_array();
        for (size_t p = 0; row && p < m->nclasses; p++)
            row = append_or_drop(row, json_integer((json_int_t)m->confusion[t * m->nclasses + p]));
        rows = append_or_drop(rows, row);
    }
    return rows;
}

static json_t *per_class_json(const struct mlmetrics_classification *m)
{
    json_t *arr = json_array();
    for (size_t c = 0; arr && c < m->nclasses; c++)
        arr = append_or_drop(arr, class_row(m, c));
    return arr;
}

int mlmetrics_classification_json(const struct mlmetrics_classification *m, json_t **out)
{
    if (!m || !out || !m->confusion)
        return -EINVAL;
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int rc = put(o, "accuracy", num(m->accuracy));
    rc = rc ? rc : put(o, "precision_macro", num(m->macro_precision));
    rc = rc ? rc : put(o, "recall_macro", num(m->macro_recall));
    rc = rc ? rc : put(o, "f1_macro", num(m->macro_f1));
    rc = rc ? rc : put(o, "precision_weighted", num(m->weighted_precision));
    rc = rc ? rc : put(o, "recall_weighted", num(m->weighted_recall));
    rc = rc ? rc : put(o, "f1_weighted", num(m->weighted_f1));
    rc = rc ? rc : put(o, "per_class", per_class_json(m));
    rc = rc ? rc : put(o, "confusion_matrix", confusion_json(m));
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- ROC and PR curves ---------------------------------------------------------------- */

struct scored {
    double s;
    size_t i;
};

/* Cumulative false and true positives at each distinct score, by decreasing score. */
struct counts {
    double *fps, *tps, *thr;
    size_t m;
};

static int by_score_desc(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

static void counts_release(struct counts *c)
{
    free(c->fps);
    free(c->tps);
    free(c->thr);
    memset(c, 0, sizeof *c);
}

static int binary_counts(const double *y_true, const double *score, size_t n, double positive,
                         struct counts *c)
{
    struct scored *order = malloc(n * sizeof *order);
    c->fps = malloc(n * sizeof *c->fps);
    c->tps = malloc(n * sizeof *c->tps);
    c->thr = malloc(n * sizeof *c->thr);
    c->m = 0;
    if (!order || !c->fps || !c->tps || !c->thr) {
        free(order);
        counts_release(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (struct scored){.s = score[i], .i = i};
    qsort(order, n, sizeof *order, by_score_desc);
    double tp = 0, fp = 0;
    for (size_t i = 0; i < n; i++) {
        if (y_true[order[i].i] == positive)
            tp += 1;
        else
            fp += 1;
        if (i + 1 < n && order[i + 1].s == order[i].s)
            continue;
        c->fps[c->m] = fp;
        c->tps[c->m] = tp;
        c->thr[c->m] = order[i].s;
        c->m++;
    }
    free(order);
    return 0;
}

static int curve_alloc(struct mlmetrics_curve *out, enum mlmetrics_curve_kind kind, size_t npoints)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->npoints = npoints;
    out->x = malloc(npoints * sizeof *out->x);
    out->y = malloc(npoints * sizeof *out->y);
    out->thresholds = malloc(npoints * sizeof *out->thresholds);
    if (!out->x || !out->y || !out->thresholds) {
        mlmetrics_curve_release(out);
        return -ENOMEM;
    }
    return 0;
}

/* roc_curve's drop_intermediate: keep the ends and every point where the curve bends. */
static int roc_keep(const struct counts *c, size_t j)
{
    if (c->m <= 2 || j == 0 || j + 1 == c->m)
        return 1;
    double dfp = (c->fps[j + 1] - c->fps[j]) - (c->fps[j] - c->fps[j - 1]);
    double dtp = (c->tps[j + 1] - c->tps[j]) - (c->tps[j] - c->tps[j - 1]);
    return dfp != 0 || dtp != 0;
}

static int roc_points(const struct counts *c, struct mlmetrics_curve *out)
{
    double pos = c->tps[c->m - 1], neg = c->fps[c->m - 1];
    if (pos == 0 || neg == 0)
        return -EINVAL;
    size_t kept = 0;
    for (size_t j = 0; j < c->m; j++)
        kept += (size_t)roc_keep(c, j);
    if (curve_alloc(out, MLMETRICS_ROC, kept + 1) != 0)
        return -ENOMEM;
    out->x[0] = 0.0;
    out->y[0] = 0.0;
    out->thresholds[0] = c->thr[0] + 1.0;
    size_t k = 1;
    for (size_t j = 0; j < c->m; j++) {
        if (!roc_keep(c, j))
            continue;
        out->x[k] = c->fps[j] / neg;
        out->y[k] = c->tps[j] / pos;
        out->thresholds[k] = c->thr[j];
        k++;
    }
    double area = 0.0;
    for (size_t i = 0; i + 1 < k; i++)
        area += (out->x[i + 1] - out->x[i]) * (out->y[i + 1] + out->y[i]) / 2.0;
    out->area = area;
    return 0;
}

static int pr_points(const struct counts *c, struct mlmetrics_curve *out)
{
    double pos = c->tps[c->m - 1];
    if (pos == 0)
        return -EINVAL;
    if (curve_alloc(out, MLMETRICS_PR, c->m + 1) != 0)
        return -ENOMEM;
    double ap = 0.0;
    for (size_t k = 0; k < c->m; k++) {
        size_t j = c->m - 1 - k; /* increasing threshold */
        double recall = c->tps[j] / pos;
        double precision = c->tps[j] / (c->tps[j] + c->fps[j]);
        double prev = j ? c->tps[j - 1] / pos : 0.0;
        out->x[k] = recall;
        out->y[k] = precision;
        out->thresholds[k] = c->thr[j];
        ap += (recall - prev) * precision;
    }
    out->x[c->m] = 0.0;
    out->y[c->m] = 1.0;
    out->thresholds[c->m] = NAN;
    out->area = ap;
    return 0;
}

/* Keep at most max_points, evenly by index, the first and last included. */
static void thin(struct mlmetrics_curve *c, size_t max_points)
{
    size_t n = c->npoints;
    if (max_points == 0 || n <= max_points)
        return;
    for (size_t i = 0; i < max_points; i++) {
        size_t src = (i * (n - 1) + (max_points - 1) / 2) / (max_points - 1);
        c->x[i] = c->x[src];
        c->y[i] = c->y[src];
        c->thresholds[i] = c->thresholds[src];
    }
    c->npoints = max_points;
}

int mlmetrics_curve(enum mlmetrics_curve_kind kind, const double *y_true, const double *score,
                    size_t n, double positive, size_t max_points, struct mlmetrics_curve *out)
{
    if (!y_true || !score || !out || n == 0 || max_points == 1 ||
        (kind != MLMETRICS_ROC && kind != MLMETRICS_PR) || !finite_all(score, n))
        return -EINVAL;
    struct counts c;
    int rc = binary_counts(y_true, score, n, positive, &c);
    if (rc)
        return rc;
    struct mlmetrics_curve curve;
    rc = kind == MLMETRICS_ROC ? roc_points(&c, &curve) : pr_points(&c, &curve);
    counts_release(&c);
    if (rc)
        return rc;
    thin(&curve, max_points);
    *out = curve;
    return 0;
}

void mlmetrics_curve_release(struct mlmetrics_curve *c)
{
    if (!c)
        return;
    free(c->x);
    free(c->y);
    free(c->thresholds);
    c->x = c->y = c->thresholds = NULL;
    c->npoints = 0;
}

static json_t *series(const double *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        arr = append_or_drop(arr, num(v[i]));
    return arr;
}

/* Add the curve's fields to obj. */
static int curve_fields(const struct mlmetrics_curve *c, json_t *obj)
{
    int roc = c->kind == MLMETRICS_ROC;
    int rc = put(obj, roc ? "auc" : "average_precision", num(c->area));
    rc = rc ? rc : put(obj, roc ? "fpr" : "recall", series(c->x, c->npoints));
    rc = rc ? rc : put(obj, roc ? "tpr" : "precision", series(c->y, c->npoints));
    rc = rc ? rc : put(obj, "thresholds", series(c->thresholds, c->npoints));
    return rc;
}

int mlmetrics_curve_json(const struct mlmetrics_curve *c, json_t **out)
{
    if (!c || !out || (c->kind != MLMETRICS_ROC && c->kind != MLMETRICS_PR))
        return -EINVAL;
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int rc = curve_fields(c, o);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- one-vs-rest -------------------------------------------------------------------- */

/* Curve of class k, or an empty curve with area NaN when k has no positive or no negative
 * row. */
static int ovr_class(enum mlmetrics_curve_kind kind, const double *y_true, const double *proba,
                     size_t n, size_t nclasses, size_t k, size_t max_points, double *column,
                     struct mlmetrics_curve *out)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        pos += y_true[i] == (double)k;
        column[i] = proba[i * nclasses + k];
    }
    if (pos == 0 || pos == n) {
        memset(out, 0, sizeof *out);
        out->kind = kind;
        out->area = NAN;
        return 0;
    }
    return mlmetrics_curve(kind, y_true, column, n, (double)k, max_points, out);
}

int mlmetrics_ovr(enum mlmetrics_curve_kind kind, const double *y_true, const double *proba,
                  size_t n, size_t nclasses, size_t max_points, struct mlmetrics_ovr *out)
{
    if (!y_true || !proba || !out || n == 0 || nclasses < 2 || nclasses > MAX_CLASSES ||
        max_points == 1 || (kind != MLMETRICS_ROC && kind != MLMETRICS_PR) ||
        !labels_ok(y_true, n, nclasses) || !finite_all(proba, n * nclasses))
        return -EINVAL;
    struct mlmetrics_ovr o = {.kind = kind, .nclasses = nclasses};
    double *column = malloc(n * sizeof *column);
    o.curves = calloc(nclasses, sizeof *o.curves);
    int rc = column && o.curves ? 0 : -ENOMEM;
    double sum = 0.0, used = 0.0;
    for (size_t k = 0; rc == 0 && k < nclasses; k++) {
        rc = ovr_class(kind, y_true, proba, n, nclasses, k, max_points, column, &o.curves[k]);
        if (rc == 0 && !isnan(o.curves[k].area)) {
            sum += o.curves[k].area;
            used += 1;
        }
    }
    free(column);
    if (rc == 0 && used == 0)
        rc = -EINVAL;
    if (rc) {
        mlmetrics_ovr_release(&o);
        return rc;
    }
    o.macro_area = sum / used;
    *out = o;
    return 0;
}

void mlmetrics_ovr_release(struct mlmetrics_ovr *o)
{
    if (!o)
        return;
    for (size_t k = 0; o->curves && k < o->nclasses; k++)
        mlmetrics_curve_release(&o->curves[k]);
    free(o->curves);
    o->curves = NULL;
    o->nclasses = 0;
}

static json_t *ovr_class_json(const struct mlmetrics_curve *c, size_t k)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = put(o, "class", json_integer((json_int_t)k));
    rc = rc ? rc : curve_fields(c, o);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int mlmetrics_ovr_json(const struct mlmetrics_ovr *o, json_t **out)
{
    if (!o || !out || !o->curves)
        return -EINVAL;
    json_t *obj = json_object();
    if (!obj)
        return -ENOMEM;
    const char *key = o->kind == MLMETRICS_ROC ? "macro_auc" : "macro_average_precision";
    int rc = put(obj, key, num(o->macro_area));
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < o->nclasses; k++)
        arr = append_or_drop(arr, ovr_class_json(&o->curves[k], k));
    if (rc)
        json_decref(arr);
    else
        rc = put(obj, "per_class", arr);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* ---- log loss and regression ---------------------------------------------------------- */

int mlmetrics_log_loss(const double *y_true, const double *proba, size_t n, size_t nclasses,
                       double *out)
{
    if (!y_true || !proba || !out || n == 0 || nclasses < 2 || nclasses > MAX_CLASSES ||
        !labels_ok(y_true, n, nclasses))
        return -EINVAL;
    const double eps = DBL_EPSILON;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double *row = proba + i * nclasses;
        double sum = 0.0;
        for (size_t k = 0; k < nclasses; k++) {
            if (!isfinite(row[k]) || row[k] < 0)
                return -EINVAL;
            sum += fmin(fmax(row[k], eps), 1.0 - eps);
        }
        double p = fmin(fmax(row[(size_t)y_true[i]], eps), 1.0 - eps) / sum;
        total += -log(p);
    }
    *out = total / (double)n;
    return 0;
}

int mlmetrics_regression(const double *y_true, const double *y_pred, size_t n,
                         struct mlmetrics_regression *out)
{
    if (!y_true || !y_pred || !out || n == 0 || !finite_all(y_true, n) || !finite_all(y_pred, n))
        return -EINVAL;
    double abs_sum = 0.0, sq_sum = 0.0, mean = 0.0, tot = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = y_true[i] - y_pred[i];
        abs_sum += fabs(e);
        sq_sum += e * e;
        mean += y_true[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        tot += (y_true[i] - mean) * (y_true[i] - mean);
    out->mae = abs_sum / (double)n;
    out->mse = sq_sum / (double)n;
    out->rmse = sqrt(out->mse);
    if (tot > 0)
        out->r2 = 1.0 - sq_sum / tot;
    else
        out->r2 = sq_sum == 0 ? 1.0 : 0.0;
    return 0;
}

int mlmetrics_regression_json(const struct mlmetrics_regression *r, json_t **out)
{
    if (!r || !out)
        return -EINVAL;
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int rc = put(o, "mae", num(r->mae));
    rc = rc ? rc : put(o, "mse", num(r->mse));
    rc = rc ? rc : put(o, "rmse", num(r->rmse));
    rc = rc ? rc : put(o, "r2", num(r->r2));
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}
