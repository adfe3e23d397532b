/* model: the trained-model file (header, SHA-256, metadata JSON, preprocessing, learner),
 * validated loading, XGBoost import, and predictions on JSON instances. */
#include <ibx/model.h>
#include <ibx/xgbimport.h>

#include "mlbox.h"
#include "mlstr.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_LEN ((size_t)64 << 20)

struct model {
    struct prep *prep;
    struct learner_model *lm;
    json_t *meta;
};

void model_free(struct model *m)
{
    if (!m)
        return;
    prep_free(m->prep);
    learner_free(m->lm);
    json_decref(m->meta);
    free(m);
}

static const char *task_word(enum ml_task t)
{
    return t == ML_CLASSIFICATION ? "classification" : "regression";
}

static json_t *names_json(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (mlstr_push(a, json_string(names[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *build_meta(const struct prep *prep, const struct learner_model *lm,
                          const json_t *training, const char *source)
{
    size_t nf = 0, nc = 0;
    const char *const *features = prep_feature_names(prep, &nf);
    const char *const *classes = prep_classes(prep, &nc);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:O, s:o, s:o, s:O, s:s}", "format_version",
                          (int)MODEL_FORMAT_VERSION, "task", task_word(prep_task(prep)), "target",
                          prep_target(prep), "algorithm", learner_model_name(lm), "hyperparameters",
                          learner_model_hparams(lm), "feature_names", names_json(features, nf),
                          "input_schema", prep_schema_json(prep), "training",
                          training ? training : json_null(), "source", source);
    if (o && nc && mlstr_set(o, "classes", names_json(classes, nc))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int parts_agree(const struct prep *prep, const struct learner_model *lm)
{
    size_t nc = 0;
    prep_classes(prep, &nc);
    return prep_n_features(prep) == learner_model_n_features(lm) &&
           prep_task(prep) == learner_model_task(lm) && nc == learner_model_n_classes(lm);
}

static int model_assemble(struct prep *prep, struct learner_model *lm, const json_t *training,
                          const char *source, struct model **out)
{
    struct model *m = NULL;
    int rc = -EINVAL;
    if (!prep || !lm || !parts_agree(prep, lm))
        goto fail;
    rc = -ENOMEM;
    if (!(m = calloc(1, sizeof *m)))
        goto fail;
    if (!(m->meta = build_meta(prep, lm, training, source)))
        goto fail;
    m->prep = prep;
    m->lm = lm;
    *out = m;
    return 0;
fail:
    free(m);
    prep_free(prep);
    learner_free(lm);
    return rc;
}

int model_new(struct prep *prep, struct learner_model *lm, const json_t *training,
              struct model **out)
{
    return model_assemble(prep, lm, training, "ibis-x", out);
}

int model_from_xgboost(const char *json, size_t len, const char *const *names, size_t nnames,
                       const char *const *labels, size_t nlabels, struct model **out, char *err,
                       size_t errlen)
{
    struct gbt_model *g = NULL;
    int rc = xgbimport_load(json, len, &g);
    if (rc) {
        mlstr_err(err, errlen,
                  "not a supported XGBoost JSON model (gbtree with numerical "
                  "splits; binary:logistic, multi:softprob/softmax, "
                  "reg:squarederror)");
        return rc;
    }
    size_t p = gbt_n_features(g), nc = gbt_n_classes(g);
    enum ml_task task = gbt_task(g);
    if ((names && nnames != p) || (labels && nlabels != nc)) {
        mlstr_err(err, errlen,
                  "the model has %zu features and %zu classes; %zu names and %zu "
                  "labels were given",
                  p, nc, names ? nnames : 0, labels ? nlabels : 0);
        gbt_free(g);
        return -EINVAL;
    }
    struct prep *prep = NULL;
    rc = prep_new_identity(p, names, task, nc, labels, NULL, &prep);
    if (rc) {
        mlstr_err(err, errlen, "feature names or class labels are empty or repeated");
        gbt_free(g);
        return rc;
    }
    json_t *note = json_pack("{s:s}", "source", "xgboost");
    struct learner_model *lm = NULL;
    if (note) {
        rc = learner_wrap_gbt(g, note, &lm); /* takes g */
    } else {
        gbt_free(g);
        rc = -ENOMEM;
    }
    if (rc) {
        prep_free(prep);
        json_decref(note);
        return rc;
    }
    rc = model_assemble(prep, lm, note, "xgboost", out);
    json_decref(note);
    return rc;
}

/* ---- save ---- */

static int put_meta(const void *meta, struct buf *b)
{
    char *s = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return -ENOMEM;
    int rc = buf_append_str(b, s);
    free(s);
    return rc;
}

static int put_prep(const void *p, struct buf *b)
{
    return prep_save(p, b);
}

static int put_learner(const void *l, struct buf *b)
{
    return learner_save(l, b);
}

int model_save(const struct model *m, struct buf *out)
{
    size_t start = 0;
    int rc = mlbox_begin(out, MODEL_MAGIC, MODEL_FORMAT_VERSION, &start);
    if (!rc)
        rc = mlbox_section(out, put_meta, m->meta);
    if (!rc)
        rc = mlbox_section(out, put_prep, m->prep);
    if (!rc)
        rc = mlbox_section(out, put_learner, m->lm);
    if (rc) {
        mlbox_abort(out, start);
        return rc;
    }
    mlbox_end(out, start);
    return 0;
}

/* ---- load ---- */

static int meta_agrees(const json_t *meta, const struct prep *prep, const struct learner_model *lm)
{
    size_t nf = 0, nc = 0;
    const char *const *names = prep_feature_names(prep, &nf);
    const char *const *classes = prep_classes(prep, &nc);
    const json_t *fn = json_object_get(meta, "feature_names");
    const json_t *cl = json_object_get(meta, "classes");
    const char *alg = json_string_value(json_object_get(meta, "algorithm"));
    const char *task = json_string_value(json_object_get(meta, "task"));
    if (json_integer_value(json_object_get(meta, "format_version")) != MODEL_FORMAT_VERSION ||
        !alg || strcmp(alg, learner_model_name(lm)) != 0 || !task ||
        strcmp(task, task_word(prep_task(prep))) != 0 || json_array_size(fn) != nf ||
        json_array_size(cl) != nc || !parts_agree(prep, lm))
        return 0;
    for (size_t i = 0; i < nf; i++)
        if (!json_is_string(json_array_get(fn, i)) ||
            strcmp(json_string_value(json_array_get(fn, i)), names[i]) != 0)
            return 0;
    for (size_t i = 0; i < nc; i++)
        if (!json_is_string(json_array_get(cl, i)) ||
            strcmp(json_string_value(json_array_get(cl, i)), classes[i]) != 0)
            return 0;
    return 1;
}

static int load_parts(const struct mlbox_section s[3], struct model *m, char *err, size_t errlen)
{
    if (s[0].len > META_MAX_LEN ||
        !(m->meta = json_loadb((const char *)s[0].p, s[0].len, JSON_REJECT_DUPLICATES, NULL)) ||
        !json_is_object(m->meta)) {
        mlstr_err(err, errlen, "model metadata is not a JSON object");
        return -EINVAL;
    }
    int rc = prep_load(s[1].p, s[1].len, NULL, &m->prep);
    if (rc) {
        mlstr_err(err, errlen, "model preprocessing does not load (%s)",
                  rc == -ENOMEM ? "out of memory" : "damaged or inconsistent");
        return rc;
    }
    rc = learner_load(s[2].p, s[2].len, NULL, &m->lm);
    if (rc) {
        mlstr_err(err, errlen, "model learner does not load (%s)",
                  rc == -ENOMEM ? "out of memory" : "damaged or inconsistent");
        return rc;
    }
    if (!meta_agrees(m->meta, m->prep, m->lm)) {
        mlstr_err(err, errlen, "model parts disagree (features, classes, task or algorithm)");
        return -EINVAL;
    }
    return 0;
}

int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen)
{
    struct mlbox_section s[3];
    int rc =
        mlbox_open(data, len, MODEL_MAGIC, MODEL_FORMAT_VERSION, s, 3, "model file", err, errlen);
    if (rc)
        return rc;
    struct model *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    rc = load_parts(s, m, err, errlen);
    if (rc) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- use ---- */

const struct prep *model_prep(const struct model *m)
{
    return m->prep;
}

const struct learner_model *model_learner(const struct model *m)
{
    return m->lm;
}

const json_t *model_meta(const struct model *m)
{
    return m->meta;
}

enum ml_task model_task(const struct model *m)
{
    return prep_task(m->prep);
}

int model_predict_matrix(const struct model *m, const struct ml_matrix *x, double *pred,
                         double *proba)
{
    int rc = learner_predict(m->lm, x, pred);
    if (!rc && proba)
        rc = learner_predict_proba(m->lm, x, proba);
    return rc;
}

static json_t *class_outputs(const struct model *m, const double *pred, const double *proba,
                             size_t n)
{
    size_t nc = 0;
    const char *const *labels = prep_classes(m->prep, &nc);
    json_t *preds = json_array(), *probs = json_array(), *idx = json_array();
    for (size_t i = 0; preds && probs && idx && i < n; i++) {
        size_t k = (size_t)pred[i];
        json_t *row = json_object();
        for (size_t c = 0; row && c < nc; c++)
            if (mlstr_set(row, labels[c], mlstr_real(proba[i * nc + c]))) {
                json_decref(row);
                row = NULL;
            }
        if (k >= nc || mlstr_push(preds, json_string(labels[k])) || mlstr_push(probs, row) ||
            mlstr_push(idx, json_integer((json_int_t)k)))
            goto fail;
    }
    if (!preds || !probs || !idx)
        goto fail;
    return json_pack("{s:o, s:o, s:o}", "predictions", preds, "probabilities", probs,
                     "class_indices", idx);
fail:
    json_decref(preds);
    json_decref(probs);
    json_decref(idx);
    return NULL;
}

static json_t *value_outputs(const double *pred, size_t n)
{
    json_t *preds = json_array();
    for (size_t i = 0; preds && i < n; i++)
        if (mlstr_push(preds, mlstr_real(pred[i]))) {
            json_decref(preds);
            return NULL;
        }
    return preds ? json_pack("{s:o}", "predictions", preds) : NULL;
}

int model_predict_rows(const struct model *m, const json_t *instances, json_t **out,
                       json_t **problems)
{
    double *x = NULL, *pred = NULL, *proba = NULL;
    size_t n = 0, nc = learner_model_n_classes(m->lm);
    int rc = prep_transform_json_rows(m->prep, instances, &x, &n, problems);
    if (rc)
        return rc;
    pred = malloc((n ? n : 1) * sizeof *pred);
    proba = nc ? malloc((n ? n : 1) * nc * sizeof *proba) : NULL;
    rc = pred && (!nc || proba) ? 0 : -ENOMEM;
    struct ml_matrix X = {.x = x, .n = n, .p = prep_n_features(m->prep)};
    if (!rc && n)
        rc = model_predict_matrix(m, &X, pred, proba);
    json_t *o = NULL;
    if (!rc) {
        o = nc ? class_outputs(m, pred, proba, n) : value_outputs(pred, n);
        rc = o ? 0 : -ENOMEM;
    }
    free(x);
    free(pred);
    free(proba);
    if (!rc)
        *out = o;
    return rc;
}
