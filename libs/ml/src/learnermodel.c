/* learnermodel: a fitted model of any libs/ml learner behind one handle: fit from
 * validated hyperparameters, predict, importance, tree JSON, save and load. */
#include <ibx/learner.h>
#include <ibx/mlenc.h>

#include "learnerimpl.h"
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEARNER_MAGIC   "IBXLRNR1"
#define LEARNER_VERSION 1u
#define HPARAMS_MAX_LEN ((size_t)1 << 20)

struct learner_model {
    enum learner_id id;
    enum ml_task task;
    size_t p, nclasses;
    json_t *hparams;
    struct tree_model *tree;
    struct forest_model *forest;
    struct gbt_model *gbt;
    struct logreg *logreg;
    struct linreg *linreg;
    struct knn *knn;
    struct gnb *gnb;
};

void learner_free(struct learner_model *m)
{
    if (!m)
        return;
    json_decref(m->hparams);
    tree_free(m->tree);
    forest_free(m->forest);
    gbt_free(m->gbt);
    logreg_free(m->logreg);
    linreg_free(m->linreg);
    knn_free(m->knn);
    gnb_free(m->gnb);
    free(m);
}

/* ---- hyperparameters to parameter structs ---- */

static double hp_num(const json_t *hp, const char *name, double def)
{
    const json_t *v = json_object_get(hp, name);
    return json_is_number(v) ? json_number_value(v) : def;
}

static int hp_bool(const json_t *hp, const char *name, int def)
{
    const json_t *v = json_object_get(hp, name);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static const char *hp_str(const json_t *hp, const char *name, const char *def)
{
    const char *s = json_string_value(json_object_get(hp, name));
    return s ? s : def;
}

static int hp_null(const json_t *hp, const char *name)
{
    const json_t *v = json_object_get(hp, name);
    return !v || json_is_null(v);
}

static void tree_params_from(const json_t *hp, enum ml_task task, size_t nclasses, uint64_t seed,
                             struct tree_params *tp)
{
    tree_params_default(tp, task, nclasses);
    const char *crit = hp_str(hp, "criterion", task == ML_REGRESSION ? "squared_error" : "gini");
    tp->criterion = strcmp(crit, "entropy") == 0         ? TREE_ENTROPY
                    : strcmp(crit, "squared_error") == 0 ? TREE_SQUARED_ERROR
                                                         : TREE_GINI;
    tp->max_depth = hp_null(hp, "max_depth") ? 0 : (size_t)hp_num(hp, "max_depth", 0);
    tp->min_samples_split = (size_t)hp_num(hp, "min_samples_split", 2);
    tp->min_samples_leaf = (size_t)hp_num(hp, "min_samples_leaf", 1);
    const char *mf = hp_str(hp, "max_features", "all");
    tp->max_features = strcmp(mf, "sqrt") == 0   ? TREE_MF_SQRT
                       : strcmp(mf, "log2") == 0 ? TREE_MF_LOG2
                                                 : TREE_MF_ALL;
    tp->random_state = seed;
}

static void forest_params_from(const json_t *hp, enum ml_task task, size_t nclasses, uint64_t seed,
                               struct forest_params *fp)
{
    forest_params_default(fp, task, nclasses);
    tree_params_from(hp, task, nclasses, seed, &fp->tree);
    fp->n_estimators = (size_t)hp_num(hp, "n_estimators", 100);
    fp->bootstrap = hp_bool(hp, "bootstrap", 1);
    fp->max_samples = hp_null(hp, "max_samples") ? 0 : hp_num(hp, "max_samples", 0);
    fp->oob_score = hp_bool(hp, "oob_score", 0);
    fp->random_state = seed;
}

static void gbt_params_from(const json_t *hp, enum ml_task task, size_t nclasses, uint64_t seed,
                            struct gbt_params *gp)
{
    gbt_params_default(gp, task, nclasses);
    gp->learning_rate = hp_num(hp, "learning_rate", 0.1);
    gp->max_iter = (size_t)hp_num(hp, "max_iter", 100);
    gp->max_depth = hp_null(hp, "max_depth") ? 0 : (size_t)hp_num(hp, "max_depth", 0);
    gp->max_leaves = hp_null(hp, "max_leaf_nodes") ? 0 : (size_t)hp_num(hp, "max_leaf_nodes", 31);
    gp->min_samples_leaf = (size_t)hp_num(hp, "min_samples_leaf", 20);
    gp->l2 = hp_num(hp, "l2_regularization", 0);
    gp->max_bins = (size_t)hp_num(hp, "max_bins", 255);
    gp->early_stopping = hp_null(hp, "early_stopping") ? -1 : hp_bool(hp, "early_stopping", 0);
    gp->n_iter_no_change = (size_t)hp_num(hp, "n_iter_no_change", 10);
    gp->validation_fraction = hp_num(hp, "validation_fraction", 0.1);
    gp->tol = hp_num(hp, "tol", 1e-7);
    gp->random_state = seed;
}

static int fit_linear(struct learner_model *m, const json_t *hp, const struct ml_matrix *x,
                      const double *y, const struct ml_control *ctl)
{
    if (m->id == LEARNER_LOGISTIC_REGRESSION) {
        struct logreg_params lp;
        logreg_params_default(&lp);
        lp.C = hp_num(hp, "C", 1.0);
        lp.solver = strcmp(hp_str(hp, "solver", "lbfgs"), "newton-cg") == 0 ? LOGREG_NEWTON_CG
                                                                            : LOGREG_LBFGS;
        lp.max_iter = (int)hp_num(hp, "max_iter", 100);
        lp.tol = hp_num(hp, "tol", 1e-4);
        lp.fit_intercept = hp_bool(hp, "fit_intercept", 1);
        return logreg_fit(&lp, x, y, m->nclasses, ctl, &m->logreg);
    }
    struct linreg_params rp;
    linreg_params_default(&rp);
    rp.alpha = hp_num(hp, "alpha", m->id == LEARNER_RIDGE_REGRESSION ? 1.0 : 0.0);
    rp.fit_intercept = hp_bool(hp, "fit_intercept", 1);
    return linreg_fit(&rp, x, y, ctl, &m->linreg);
}

static int fit_other(struct learner_model *m, const json_t *hp, const struct ml_matrix *x,
                     const double *y, const struct ml_control *ctl)
{
    if (m->id == LEARNER_KNN) {
        struct knn_params kp;
        knn_params_default(&kp);
        kp.k = (size_t)hp_num(hp, "n_neighbors", 5);
        kp.weights =
            strcmp(hp_str(hp, "weights", "uniform"), "distance") == 0 ? KNN_DISTANCE : KNN_UNIFORM;
        kp.metric = strcmp(hp_str(hp, "metric", "euclidean"), "manhattan") == 0 ? KNN_MANHATTAN
                                                                                : KNN_EUCLIDEAN;
        kp.leaf_size = (size_t)hp_num(hp, "leaf_size", 32);
        return knn_fit(&kp, m->task, x, y, m->nclasses, ctl, &m->knn);
    }
    struct gnb_params np;
    gnb_params_default(&np);
    np.var_smoothing = hp_num(hp, "var_smoothing", 1e-9);
    return gnb_fit(&np, x, y, m->nclasses, ctl, &m->gnb);
}

static int fit_model(struct learner_model *m, const json_t *hp, uint64_t seed,
                     const struct ml_matrix *x, const double *y, const struct ml_control *ctl)
{
    switch (m->id) {
    case LEARNER_DECISION_TREE: {
        struct tree_params tp;
        tree_params_from(hp, m->task, m->nclasses, seed, &tp);
        return tree_fit(&tp, x, y, ctl, &m->tree);
    }
    case LEARNER_RANDOM_FOREST: {
        struct forest_params fp;
        forest_params_from(hp, m->task, m->nclasses, seed, &fp);
        return forest_fit(&fp, x, y, ctl, &m->forest);
    }
    case LEARNER_GRADIENT_BOOSTING: {
        struct gbt_params gp;
        gbt_params_from(hp, m->task, m->nclasses, seed, &gp);
        return gbt_fit(&gp, x, y, ctl, &m->gbt);
    }
    case LEARNER_LOGISTIC_REGRESSION:
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        return fit_linear(m, hp, x, y, ctl);
    case LEARNER_KNN:
    case LEARNER_GAUSSIAN_NB:
        return fit_other(m, hp, x, y, ctl);
    }
    return -EINVAL;
}

/* The seed to use: the hyperparameter when given, else seed; written into hp. */
static int settle_seed(json_t *hp, uint64_t *seed)
{
    json_t *v = json_object_get(hp, "random_state");
    if (!v)
        return 0; /* this learner has no randomness */
    if (json_is_integer(v)) {
        *seed = (uint64_t)json_integer_value(v);
        return 0;
    }
    return mlstr_set(hp, "random_state", json_integer((json_int_t)*seed));
}

static void first_problem(const json_t *problems, char *err, size_t errlen)
{
    const json_t *p = json_array_get(problems, 0);
    mlstr_err(err, errlen, "%s: %s", json_string_value(json_object_get(p, "field")),
              json_string_value(json_object_get(p, "message")));
}

static int check_data(const struct learner_model *m, const struct ml_matrix *x, const double *y,
                      char *err, size_t errlen)
{
    if (!x || !y || x->n == 0 || x->p == 0) {
        mlstr_err(err, errlen, "no training rows or no features");
        return -EINVAL;
    }
    if (m->task == ML_CLASSIFICATION && m->nclasses < 2) {
        mlstr_err(err, errlen, "classification needs at least 2 classes");
        return -EINVAL;
    }
    if (m->id == LEARNER_KNN && (size_t)hp_num(m->hparams, "n_neighbors", 5) > x->n) {
        mlstr_err(err, errlen, "n_neighbors (%zu) is more than the %zu training rows",
                  (size_t)hp_num(m->hparams, "n_neighbors", 5), x->n);
        return -EINVAL;
    }
    return 0;
}

int learner_fit(const char *name, const json_t *hparams, enum ml_task task, size_t nclasses,
                uint64_t seed, const struct ml_matrix *x, const double *y,
                const struct ml_control *ctl, struct learner_model **out, char *err, size_t errlen)
{
    json_t *problems = NULL, *hp = NULL;
    int rc = learner_resolve(name, hparams, task, &hp, &problems);
    if (rc) {
        if (rc == -EINVAL)
            first_problem(problems, err, errlen);
        json_decref(problems);
        return rc;
    }
    struct learner_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(hp);
        return -ENOMEM;
    }
    m->id = learner_find(name)->id;
    m->task = task;
    m->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    m->p = x ? x->p : 0;
    m->hparams = hp;
    rc = settle_seed(hp, &seed);
    if (!rc)
        rc = check_data(m, x, y, err, errlen);
    if (!rc) {
        rc = fit_model(m, hp, seed, x, y, ctl);
        if (rc == -EINVAL)
            mlstr_err(err, errlen, "%s could not be fitted on this data", name);
        else if (rc == -ECANCELED)
            mlstr_err(err, errlen, "cancelled");
    }
    if (rc) {
        learner_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int learner_wrap_gbt(struct gbt_model *g, const json_t *hparams_note, struct learner_model **out)
{
    if (!g)
        return -EINVAL;
    struct learner_model *m = calloc(1, sizeof *m);
    json_t *hp = hparams_note ? json_deep_copy(hparams_note) : json_object();
    if (!m || !hp) {
        free(m);
        json_decref(hp);
        gbt_free(g);
        return -ENOMEM;
    }
    if (!json_is_object(hp)) {
        free(m);
        json_decref(hp);
        gbt_free(g);
        return -EINVAL;
    }
    m->id = LEARNER_GRADIENT_BOOSTING;
    m->gbt = g;
    m->hparams = hp;
    m->task = gbt_task(g);
    m->p = gbt_n_features(g);
    m->nclasses = gbt_n_classes(g);
    *out = m;
    return 0;
}

/* ---- prediction ---- */

int learner_predict(const struct learner_model *m, const struct ml_matrix *x, double *out)
{
    if (!x || x->p != m->p)
        return -EINVAL;
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        return tree_predict(m->tree, x, out);
    case LEARNER_RANDOM_FOREST:
        return forest_predict(m->forest, x, out);
    case LEARNER_GRADIENT_BOOSTING:
        return gbt_predict(m->gbt, x, out);
    case LEARNER_LOGISTIC_REGRESSION:
        return logreg_predict(m->logreg, x, out);
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        return linreg_predict(m->linreg, x, out);
    case LEARNER_KNN:
        return knn_predict(m->knn, x, out);
    case LEARNER_GAUSSIAN_NB:
        return gnb_predict(m->gnb, x, out);
    }
    return -EINVAL;
}

int learner_predict_proba(const struct learner_model *m, const struct ml_matrix *x, double *out)
{
    if (!x || x->p != m->p || m->task != ML_CLASSIFICATION)
        return -EINVAL;
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        return tree_predict_proba(m->tree, x, out);
    case LEARNER_RANDOM_FOREST:
        return forest_predict_proba(m->forest, x, out);
    case LEARNER_GRADIENT_BOOSTING:
        return gbt_predict_proba(m->gbt, x, out);
    case LEARNER_LOGISTIC_REGRESSION:
        return logreg_predict_proba(m->logreg, x, out);
    case LEARNER_KNN:
        return knn_predict_proba(m->knn, x, out);
    case LEARNER_GAUSSIAN_NB:
        return gnb_predict_proba(m->gnb, x, out);
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        break;
    }
    return -EINVAL;
}

int learner_importance(const struct learner_model *m, double *out, const char **method)
{
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        tree_feature_importance(m->tree, out);
        *method = "impurity";
        return 0;
    case LEARNER_RANDOM_FOREST:
        forest_feature_importance(m->forest, out);
        *method = "impurity";
        return 0;
    case LEARNER_GRADIENT_BOOSTING:
        gbt_feature_importance(m->gbt, out);
        *method = "gain";
        return 0;
    case LEARNER_LOGISTIC_REGRESSION:
        logreg_importance(m->logreg, out);
        *method = "coefficients";
        return 0;
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        linreg_importance(m->linreg, out);
        *method = "coefficients";
        return 0;
    case LEARNER_KNN:
    case LEARNER_GAUSSIAN_NB:
        break;
    }
    return -ENOTSUP;
}

/* ---- accessors ---- */

enum learner_id learner_model_id(const struct learner_model *m)
{
    return m->id;
}

const char *learner_model_name(const struct learner_model *m)
{
    return learner_info_by_id(m->id)->name;
}

enum ml_task learner_model_task(const struct learner_model *m)
{
    return m->task;
}

size_t learner_model_n_features(const struct learner_model *m)
{
    return m->p;
}

size_t learner_model_n_classes(const struct learner_model *m)
{
    return m->nclasses;
}

const json_t *learner_model_hparams(const struct learner_model *m)
{
    return m->hparams;
}

const struct tree_model *learner_model_tree(const struct learner_model *m)
{
    return m->tree;
}

const struct forest_model *learner_model_forest(const struct learner_model *m)
{
    return m->forest;
}

const struct gbt_model *learner_model_gbt(const struct learner_model *m)
{
    return m->gbt;
}

const struct logreg *learner_model_logreg(const struct learner_model *m)
{
    return m->logreg;
}

const struct linreg *learner_model_linreg(const struct learner_model *m)
{
    return m->linreg;
}

const struct knn *learner_model_knn(const struct learner_model *m)
{
    return m->knn;
}

const struct gnb *learner_model_gnb(const struct learner_model *m)
{
    return m->gnb;
}

/* ---- save and load ---- */

static int save_inner(const struct learner_model *m, struct buf *out)
{
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        return tree_save(m->tree, out);
    case LEARNER_RANDOM_FOREST:
        return forest_save(m->forest, out);
    case LEARNER_GRADIENT_BOOSTING:
        return gbt_save(m->gbt, out);
    case LEARNER_LOGISTIC_REGRESSION:
        return logreg_save(m->logreg, out);
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        return linreg_save(m->linreg, out);
    case LEARNER_KNN:
        return knn_save(m->knn, out);
    case LEARNER_GAUSSIAN_NB:
        return gnb_save(m->gnb, out);
    }
    return -EINVAL;
}

int learner_save(const struct learner_model *m, struct buf *out)
{
    size_t start = out->len;
    struct mlenc_writer w;
    mlenc_begin(&w, out, LEARNER_MAGIC, LEARNER_VERSION);
    mlenc_put_u32(&w, (uint32_t)m->id);
    mlenc_put_u32(&w, (uint32_t)m->task);
    mlenc_put_u64(&w, m->p);
    mlenc_put_u64(&w, m->nclasses);
    int rc = mlstr_put_json(&w, m->hparams);
    int rc2 = mlenc_end(&w);
    rc = rc ? rc : rc2;
    if (!rc)
        rc = save_inner(m, out);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

static int load_inner(struct learner_model *m, const void *data, size_t len, size_t *used)
{
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        return tree_load(data, len, used, &m->tree);
    case LEARNER_RANDOM_FOREST:
        return forest_load(data, len, used, &m->forest);
    case LEARNER_GRADIENT_BOOSTING:
        return gbt_load(data, len, used, &m->gbt);
    case LEARNER_LOGISTIC_REGRESSION:
        return logreg_load(data, len, used, &m->logreg);
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        return linreg_load(data, len, used, &m->linreg);
    case LEARNER_KNN:
        return knn_load(data, len, used, &m->knn);
    case LEARNER_GAUSSIAN_NB:
        return gnb_load(data, len, used, &m->gnb);
    }
    return -EINVAL;
}

/* The loaded learner's own shape, to compare with the header's. */
static void inner_shape(const struct learner_model *m, enum ml_task *task, size_t *p, size_t *nc)
{
    switch (m->id) {
    case LEARNER_DECISION_TREE:
        *task = tree_task(m->tree), *p = tree_n_features(m->tree), *nc = tree_n_classes(m->tree);
        return;
    case LEARNER_RANDOM_FOREST:
        *task = forest_task(m->forest), *p = forest_n_features(m->forest);
        *nc = forest_n_classes(m->forest);
        return;
    case LEARNER_GRADIENT_BOOSTING:
        *task = gbt_task(m->gbt), *p = gbt_n_features(m->gbt), *nc = gbt_n_classes(m->gbt);
        return;
    case LEARNER_LOGISTIC_REGRESSION:
        *task = ML_CLASSIFICATION, *p = logreg_nfeatures(m->logreg);
        *nc = logreg_nclasses(m->logreg);
        return;
    case LEARNER_LINEAR_REGRESSION:
    case LEARNER_RIDGE_REGRESSION:
        *task = ML_REGRESSION, *p = linreg_nfeatures(m->linreg), *nc = 0;
        return;
    case LEARNER_KNN:
        *task = knn_task(m->knn), *p = knn_nfeatures(m->knn), *nc = knn_nclasses(m->knn);
        return;
    case LEARNER_GAUSSIAN_NB:
        *task = ML_CLASSIFICATION, *p = gnb_nfeatures(m->gnb), *nc = gnb_nclasses(m->gnb);
        return;
    }
}

static int read_header(struct learner_model *m, const void *data, size_t len, size_t *used)
{
    struct mlenc_reader r;
    uint32_t version = 0;
    if (mlenc_open(&r, data, len, LEARNER_MAGIC, &version, used) || version != LEARNER_VERSION)
        return -EINVAL;
    m->id = (enum learner_id)mlenc_get_u32(&r);
    m->task = (enum ml_task)mlenc_get_u32(&r);
    m->p = (size_t)mlenc_get_u64(&r);
    m->nclasses = (size_t)mlenc_get_u64(&r);
    int oom = 0;
    char *hp = mlstr_get(&r, HPARAMS_MAX_LEN, 0, &oom);
    if (oom) {
        free(hp);
        return -ENOMEM;
    }
    int rc = mlenc_close(&r);
    if (!rc && hp)
        m->hparams = json_loads(hp, JSON_REJECT_DUPLICATES, NULL);
    free(hp);
    if (rc || !learner_info_by_id(m->id) || !json_is_object(m->hparams) ||
        (m->task != ML_CLASSIFICATION && m->task != ML_REGRESSION))
        return -EINVAL;
    return 0;
}

int learner_load(const void *data, size_t len, size_t *used, struct learner_model **out)
{
    struct learner_model *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    size_t n1 = 0, n2 = 0;
    int rc = read_header(m, data, len, &n1);
    if (!rc)
        rc = load_inner(m, (const unsigned char *)data + n1, len - n1, &n2);
    if (!rc) {
        enum ml_task task = 0;
        size_t p = 0, nc = 0;
        inner_shape(m, &task, &p, &nc);
        if (task != m->task || p != m->p || nc != m->nclasses || (!used && n1 + n2 != len))
            rc = -EINVAL;
    }
    if (rc) {
        learner_free(m);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    if (used)
        *used = n1 + n2;
    *out = m;
    return 0;
}
