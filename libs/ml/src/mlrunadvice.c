/* mlrunadvice: explainable, deterministic advice: the task type of a target column and a
 * ranking of the learners for a frame, each with its reasons. */
#include <ibx/learner.h>
#include <ibx/mlrun.h>

#include "mlrunimpl.h"
#include "mlstr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const class_hints[] = {"class",     "label",    "target", "category", "type",
                                          "species",   "outcome",  "churn",  "status",   "grade",
                                          "diagnosis", "survived", "fraud",  "spam",     NULL};
static const char *const value_hints[] = {
    "price",       "amount", "cost",   "value",    "salary", "income", "score",
    "rate",        "age",    "count",  "revenue",  "sales",  "total",  "quantity",
    "temperature", "weight", "height", "duration", NULL};

static int has_hint(const char *name, const char *const *hints)
{
    char low[256];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof low; n++)
        low[n] = (char)tolower((unsigned char)name[n]);
    low[n] = '\0';
    for (size_t i = 0; hints[i]; i++)
        if (strstr(low, hints[i]))
            return 1;
    return hints == class_hints && (strncmp(low, "is_", 3) == 0 || strncmp(low, "has_", 4) == 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct colfacts {
    size_t present, distinct;
    int integer;
};

static int numeric_facts(const struct frame_column *c, struct colfacts *cf)
{
    double *v = malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t m = 0;
    cf->integer = 1;
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->num[i])) {
            v[m++] = c->num[i];
            cf->integer &= c->num[i] == floor(c->num[i]);
        }
    qsort(v, m, sizeof *v, cmp_double);
    cf->distinct = 0;
    for (size_t i = 0; i < m; i++)
        cf->distinct += i == 0 || v[i] != v[i - 1];
    cf->present = m;
    free(v);
    return 0;
}

static void coded_facts(const struct frame_column *c, struct colfacts *cf)
{
    cf->present = c->n - c->missing;
    cf->integer = 0;
    cf->distinct = 0;
    unsigned char *seen = calloc(c->ndict ? c->ndict : 1, 1);
    for (size_t i = 0; seen && i < c->n; i++)
        if (c->codes[i] >= 0 && (size_t)c->codes[i] < c->ndict && !seen[c->codes[i]]) {
            seen[c->codes[i]] = 1;
            cf->distinct++;
        }
    if (!seen)
        cf->distinct = c->ndict;
    free(seen);
}

struct reasons {
    json_t *a;
    int oom;
};

static void reason(struct reasons *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reason(struct reasons *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (mlstr_push(r->a, json_string(msg)))
        r->oom = 1;
}

/* The task of an integer column with few distinct values. */
static enum ml_task integer_task(const struct frame_column *c, const struct colfacts *cf,
                                 int cls_hint, int val_hint, struct reasons *r)
{
    size_t d = cf->distinct;
    if (d <= 2) {
        reason(r, "only %zu distinct values: a yes/no kind of outcome", d);
        return ML_CLASSIFICATION;
    }
    if (d > 20) {
        reason(r, "%zu distinct whole numbers: a quantity rather than a set of classes", d);
        return ML_REGRESSION;
    }
    if ((double)d <= 0.05 * (double)cf->present) {
        reason(r, "%zu distinct whole numbers repeated over %zu rows: class codes", d, cf->present);
        return ML_CLASSIFICATION;
    }
    reason(r, "%zu distinct whole numbers over only %zu rows: could be classes or a quantity", d,
           cf->present);
    if (cls_hint != val_hint) {
        reason(r, "the name '%s' decides: it reads like %s", c->name,
               cls_hint ? "a class" : "a quantity");
        return cls_hint ? ML_CLASSIFICATION : ML_REGRESSION;
    }
    reason(r, "%s",
           d <= 10 ? "10 or fewer values: treated as classes"
                   : "more than 10 values: treated as a quantity");
    return d <= 10 ? ML_CLASSIFICATION : ML_REGRESSION;
}

static int decide_task(const struct frame_column *c, struct colfacts *cf, enum ml_task *task,
                       struct reasons *r)
{
    int cls_hint = has_hint(c->name, class_hints), val_hint = has_hint(c->name, value_hints);
    if (c->kind == FRAME_TEXT)
        return -EINVAL;
    if (c->kind == FRAME_BOOLEAN || c->kind == FRAME_CATEGORICAL) {
        coded_facts(c, cf);
        reason(r, "a %s column with %zu distinct values: each value is a class",
               c->kind == FRAME_BOOLEAN ? "boolean" : "categorical", cf->distinct);
        *task = ML_CLASSIFICATION;
    } else {
        if (numeric_facts(c, cf))
            return -ENOMEM;
        if (c->kind == FRAME_TEMPORAL) {
            reason(r, "dates and times are predicted as numbers");
            *task = ML_REGRESSION;
        } else if (!cf->integer) {
            reason(r, "numbers with fractions (%zu distinct values): a continuous quantity",
                   cf->distinct);
            *task = ML_REGRESSION;
        } else {
            *task = integer_task(c, cf, cls_hint, val_hint, r);
        }
    }
    if (cls_hint && !val_hint)
        reason(r, "the name '%s' suggests classes", c->name);
    else if (val_hint && !cls_hint)
        reason(r, "the name '%s' suggests a quantity", c->name);
    return cf->present ? 0 : -EINVAL;
}

int mlrun_detect_task(const struct frame *f, const char *target, enum ml_task *task,
                      json_t **reasons)
{
    int ti = target ? frame_find(f, target) : -ENOENT;
    if (ti < 0)
        return -EINVAL;
    const struct frame_column *c = frame_col(f, (size_t)ti);
    struct reasons r = {.a = json_array(), .oom = 0};
    struct colfacts cf = {0};
    enum ml_task t = 0;
    int rc = r.a ? decide_task(c, &cf, &t, &r) : -ENOMEM;
    if (!rc && r.oom)
        rc = -ENOMEM;
    json_t *o = NULL;
    if (!rc) {
        o = json_pack("{s:s, s:{s:s, s:s, s:I, s:I, s:b}, s:O}", "task",
                      t == ML_CLASSIFICATION ? "classification" : "regression", "column", "name",
                      c->name, "type", c->type, "distinct", (json_int_t)cf.distinct, "missing",
                      (json_int_t)c->missing, "integer_valued", cf.integer, "reasons", r.a);
        rc = o ? 0 : -ENOMEM;
    }
    json_decref(r.a);
    if (rc)
        return rc;
    *task = t;
    if (reasons)
        *reasons = o;
    else
        json_decref(o);
    return 0;
}

/* ---- algorithm advice ---- */

struct facts {
    size_t rows, features, numeric, categorical, width, nclasses;
    double missing, majority;
};

static void class_facts(const struct frame_column *t, struct facts *fa)
{
    double *y = malloc((t->n ? t->n : 1) * sizeof *y);
    if (!y)
        return;
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        double v = t->kind == FRAME_NUMERIC ? t->num[i] : t->codes[i] < 0 ? NAN : t->codes[i];
        if (isfinite(v))
            y[m++] = v;
    }
    qsort(y, m, sizeof *y, cmp_double);
    size_t best = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && y[j] == y[i])
            j++;
        best = j - i > best ? j - i : best;
        fa->nclasses++;
        i = j;
    }
    fa->majority = m ? (double)best / (double)m : 0;
    free(y);
}

static void gather_facts(const struct frame *f, size_t ti, enum ml_task task, struct facts *fa)
{
    const struct frame_column *t = frame_col(f, ti);
    size_t cells = 0, missing = 0;
    memset(fa, 0, sizeof *fa);
    fa->rows = t->n - t->missing;
    for (size_t i = 0; i < frame_ncols(f); i++) {
        const struct frame_column *c = frame_col(f, i);
        if (i == ti || c->kind == FRAME_TEXT)
            continue;
        fa->features++;
        cells += c->n;
        missing += c->missing;
        if (c->kind == FRAME_CATEGORICAL) {
            fa->categorical++;
            fa->width += c->ndict < 100 ? c->ndict : 100;
        } else {
            fa->numeric++;
            fa->width++;
        }
    }
    fa->missing = cells ? (double)missing / (double)cells : 0;
    if (task == ML_CLASSIFICATION && t->kind != FRAME_TEMPORAL)
        class_facts(t, fa);
}

struct advice {
    const struct learner_info *li;
    int score;
    struct reasons r;
};

static void adjust(struct advice *a, int delta, const char *why)
{
    a->score += delta;
    reason(&a->r, "%s%d: %s", delta >= 0 ? "+" : "", delta, why);
}

static int base_score(enum learner_id id)
{
    static const int base[] = {0, 60, 78, 80, 65, 58, 62, 50, 45};
    return base[id];
}

static void size_rules(struct advice *a, const struct facts *fa)
{
    enum learner_id id = a->li->id;
    if (fa->rows < 500) {
        if (id == LEARNER_RANDOM_FOREST)
            adjust(a, 5, "few rows: averaging many trees resists overfitting");
        if (id == LEARNER_GRADIENT_BOOSTING)
            adjust(a, -5, "few rows to learn many boosting rounds from");
        if (id == LEARNER_LOGISTIC_REGRESSION || id == LEARNER_RIDGE_REGRESSION ||
            id == LEARNER_LINEAR_REGRESSION)
            adjust(a, 8, "few rows: a simple linear model generalises well");
        if (id == LEARNER_GAUSSIAN_NB)
            adjust(a, 10, "few rows: naive Bayes needs little data");
        if (id == LEARNER_KNN)
            adjust(a, 5, "few rows: neighbour search stays fast");
    } else if (fa->rows > 50000) {
        if (id == LEARNER_KNN)
            adjust(a, -25, "many rows: every prediction searches the whole training set");
        if (id == LEARNER_GRADIENT_BOOSTING)
            adjust(a, 8, "many rows: histogram boosting trains fast and gains the most");
    }
}

static void shape_rules(struct advice *a, const struct facts *fa)
{
    enum learner_id id = a->li->id;
    int tree = id == LEARNER_DECISION_TREE || id == LEARNER_RANDOM_FOREST ||
               id == LEARNER_GRADIENT_BOOSTING;
    if (fa->features && fa->categorical * 2 > fa->features) {
        if (tree)
            adjust(a, 5, "mostly categorical features: trees split on them directly");
        if (id == LEARNER_KNN || id == LEARNER_GAUSSIAN_NB)
            adjust(a, -10, "mostly categorical features: one-hot columns suit it poorly");
    }
    if (fa->width > 50) {
        if (id == LEARNER_KNN)
            adjust(a, -10, "many features: distances lose meaning in many dimensions");
        if (id == LEARNER_LOGISTIC_REGRESSION || id == LEARNER_RIDGE_REGRESSION)
            adjust(a, 5, "many features: the L2 penalty keeps the model stable");
    }
    if (fa->missing > 0.05) {
        if (id == LEARNER_GRADIENT_BOOSTING)
            adjust(a, 5, "missing values: boosting learns where they should go");
        if (id == LEARNER_KNN)
            adjust(a, -5, "missing values: distances then rest on imputed numbers");
    }
}

static void class_rules(struct advice *a, const struct facts *fa)
{
    enum learner_id id = a->li->id;
    if (fa->nclasses >= 2 && fa->majority > 0.8 &&
        (id == LEARNER_RANDOM_FOREST || id == LEARNER_GRADIENT_BOOSTING))
        adjust(a, 3, "imbalanced classes: tree ensembles still find the rare class");
    if (fa->nclasses > 10 && id == LEARNER_GRADIENT_BOOSTING)
        adjust(a, -3, "many classes: one tree per class per round is slower");
    if (id == LEARNER_DECISION_TREE)
        reason(&a->r, "the easiest model to read and explain");
    if (id == LEARNER_LOGISTIC_REGRESSION || id == LEARNER_LINEAR_REGRESSION ||
        id == LEARNER_RIDGE_REGRESSION)
        reason(&a->r, "coefficients show each feature's effect");
}

static json_t *suggested(enum learner_id id, const struct facts *fa)
{
    switch (id) {
    case LEARNER_DECISION_TREE:
        return json_pack("{s:i}", "max_depth", fa->rows < 1000 ? 5 : 10);
    case LEARNER_RANDOM_FOREST:
        return json_pack("{s:i}", "n_estimators", 100);
    case LEARNER_GRADIENT_BOOSTING:
        return json_pack("{s:i, s:f, s:b}", "max_iter", 100, "learning_rate", 0.1, "early_stopping",
                         fa->rows > 10000);
    case LEARNER_LOGISTIC_REGRESSION:
        return json_pack("{s:f}", "C", 1.0);
    case LEARNER_RIDGE_REGRESSION:
        return json_pack("{s:f}", "alpha", 1.0);
    case LEARNER_KNN:
        return json_pack("{s:i}", "n_neighbors", 5);
    default:
        return json_object();
    }
}

static int cmp_advice(const void *a, const void *b)
{
    const struct advice *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->li->id > y->li->id) - (x->li->id < y->li->id);
}

static json_t *ranking(struct advice *adv, size_t n, const struct facts *fa)
{
    qsort(adv, n, sizeof *adv, cmp_advice);
    json_t *a = json_array();
    for (size_t k = 0; a && k < n; k++) {
        int score = adv[k].score < 0 ? 0 : adv[k].score > 100 ? 100 : adv[k].score;
        if (mlstr_push(a, json_pack("{s:I, s:s, s:s, s:i, s:O, s:o}", "rank", (json_int_t)k + 1,
                                    "algorithm", adv[k].li->name, "display_name",
                                    adv[k].li->display_name, "score", score, "reasons", adv[k].r.a,
                                    "suggested_hyperparameters", suggested(adv[k].li->id, fa)))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *dataset_json(const struct facts *fa, enum ml_task task)
{
    json_t *d =
        json_pack("{s:I, s:I, s:I, s:I, s:f}", "rows", (json_int_t)fa->rows, "features",
                  (json_int_t)fa->features, "numeric", (json_int_t)fa->numeric, "categorical",
                  (json_int_t)fa->categorical, "missing_fraction", fa->missing);
    if (d && task == ML_CLASSIFICATION &&
        mlstr_set(d, "classes", json_integer((json_int_t)fa->nclasses))) {
        json_decref(d);
        return NULL;
    }
    return d;
}

int mlrun_advise_algorithms(const struct frame *f, const char *target, enum ml_task task,
                            json_t **out)
{
    int ti = target ? frame_find(f, target) : -ENOENT;
    if (ti < 0)
        return -EINVAL;
    int rc = task ? 0 : mlrun_detect_task(f, target, &task, NULL);
    if (rc)
        return rc;
    struct facts fa;
    gather_facts(f, (size_t)ti, task, &fa);
    struct advice adv[LEARNER_COUNT];
    memset(adv, 0, sizeof adv);
    size_t n = 0, count = 0;
    const struct learner_info *cat = learner_catalogue(&count);
    unsigned bit =
        task == ML_CLASSIFICATION ? LEARNER_TASK_CLASSIFICATION : LEARNER_TASK_REGRESSION;
    int oom = 0;
    for (size_t i = 0; i < count; i++) {
        if (!(cat[i].tasks & bit))
            continue;
        struct advice *a = &adv[n++];
        a->li = &cat[i];
        a->score = base_score(cat[i].id);
        a->r.a = json_array();
        a->r.oom = !a->r.a;
        size_rules(a, &fa);
        shape_rules(a, &fa);
        class_rules(a, &fa);
        oom |= a->r.oom;
    }
    json_t *rank = oom ? NULL : ranking(adv, n, &fa);
    for (size_t i = 0; i < n; i++)
        json_decref(adv[i].r.a);
    json_t *o = rank ? json_pack("{s:s, s:o, s:o}", "task",
                                 task == ML_CLASSIFICATION ? "classification" : "regression",
                                 "dataset", dataset_json(&fa, task), "ranking", rank)
                     : NULL;
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}
