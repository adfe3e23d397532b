/* mlrunimpl: the experiment state shared by mlrun.c (configuration, mlrun_train),
 * mlrunstep.c (prepared data and the step functions), mlruneval.c (evaluation) and
 * mlrunadvice.c (task and algorithm advice) (internal). */
#ifndef IBX_MLRUNIMPL_H
#define IBX_MLRUNIMPL_H

#include <ibx/learner.h>
#include <ibx/model.h>
#include <ibx/mlrun.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Progress over one stretch of the overall 0..100. */
struct mlrun_prog {
    const struct mlrun_hooks *hooks;
    const char *stage;
    int lo, hi;         /* this stretch */
    int last;           /* the last percent reported (never decreases) */
    const char *unit;   /* "tree", "round", "iteration", "step" */
    size_t part, parts; /* cross-validation fold (1-based) of parts; 0: the final fit */
};

void mlrun_report(struct mlrun_prog *pg, const char *stage, int percent, const char *detail);
/* An ml_control whose progress moves pg from lo to hi. */
void mlrun_control(struct mlrun_prog *pg, struct ml_control *ctl);
int mlrun_cancelled(const struct mlrun_hooks *hooks);
double mlrun_now_ms(void);

/* The split and the transformed matrices (prepare's result). */
struct mlrun_prepared {
    enum ml_task task;
    json_t *detection; /* the task detection when it was detected, else NULL */
    json_t *config;    /* mlrun_config_json without algorithm and hyperparameters */
    uint64_t seed;
    double test_size;
    int stratified;
    struct prep *prep;
    struct prep_output train, test;
};

void mlrun_prepared_release(struct mlrun_prepared *ps);
/* Split, fit the prep on the train rows, transform both sides. */
int mlrun_prepare_state(const struct frame *f, const struct mlrun_config *cfg,
                        struct mlrun_prepared *ps, char *err, size_t errlen);
int mlrun_prepared_encode(const struct mlrun_prepared *ps, struct buf *out);
int mlrun_prepared_decode(const void *data, size_t len, struct mlrun_prepared *ps, char *err,
                          size_t errlen);
/* Fit algorithm on ps->train; progress on pg (stage "training"). */
int mlrun_fit_state(const struct mlrun_prepared *ps, const char *algorithm, const json_t *hparams,
                    struct mlrun_prog *pg, struct learner_model **out, char *err, size_t errlen);
/* The model's training configuration for the model file. */
json_t *mlrun_training_json(const struct mlrun_prepared *ps, const char *algorithm);
/* The prepared summary JSON (mlrun_prepare's *summary). */
json_t *mlrun_prepared_summary(const struct mlrun_prepared *ps);

struct mlrun_eval_opts {
    size_t tree_max_nodes, tree_max_trees, curve_max_points;
};

/* The results JSON of m on ps->test (no cv, model, timings). */
int mlrun_evaluate_state(const struct mlrun_prepared *ps, const struct model *m,
                         const struct mlrun_eval_opts *opts, json_t **out, char *err,
                         size_t errlen);
/* Accuracy (classification) or R^2 of pred against y. */
double mlrun_score(enum ml_task task, const double *y, const double *pred, size_t n);

#endif
