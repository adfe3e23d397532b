/* xcompute: what xcompute.c prepares for the methods of xmethods.c (private to the two). */
#ifndef IBX_XAI_XCOMPUTE_H
#define IBX_XAI_XCOMPUTE_H

#include "engine.h"

#include <ibx/prep.h>
#include <ibx/xai.h>

/* One computation. Rows are the dataset's rows with a target, transformed by the model's
 * preprocessing (all); train and test are the experiment's split of them, reproduced from
 * the model's training settings (every row on both sides when it cannot be). */
struct xc {
    const struct xe_job *j;
    const struct prep *prep;
    const struct learner_model *lm;
    enum ml_task task;
    size_t p;                  /* model features */
    const char *const *fnames; /* model feature names (borrowed from prep) */
    size_t nclasses;
    const char *const *classes; /* borrowed from prep */
    struct prep_output all;
    size_t *train, ntrain, *test, ntest;
    int split_reproduced;
    struct xai_groups groups; /* input columns */
    double *center, *scale;   /* per model feature: raw value = v * scale + center */
    int *alone;               /* per model feature: 1 when it is its column's only feature */
    uint64_t seed;
    json_t *params; /* the resolved parameters (owned until put in the result) */
    /* progress: the methods run nphases library calls; done counts in thousandths */
    size_t phase, nphases;
    struct ml_control ctl; /* what the library calls get (progress mapped to phases) */
};

/* Rows idx[0..n) of all as a new n x p matrix (caller frees *x). -ENOMEM. */
int xc_gather(const struct xc *c, const size_t *idx, size_t n, double **x) XE_WUR;
/* Up to max indices of 0..n-1 (a seeded sample when n > max), ascending; *out caller's. */
int xc_sample(size_t n, size_t max, uint64_t seed, size_t **out, size_t *count) XE_WUR;
/* The row to explain locally: *x (p values, caller frees), *raw (the instance's values by
 * column, new reference) and *row (the dataset row, -1 for a given instance). -EINVAL
 * with err. */
int xc_instance(const struct xc *c, double **x, json_t **raw, long *row, char *err,
                size_t errlen) XE_WUR;
/* Dataset row `row`'s values by column (new reference). */
json_t *xc_row_values(const struct xc *c, size_t row);
/* The next library call is phase i (of nphases). */
void xc_phase(struct xc *c, size_t i);
/* A number for the result: null when not finite. */
json_t *xc_num(double v);
/* The index of the model feature that alone stands for input column name, or -1. */
long xc_feature_of_column(const struct xc *c, const char *name);
/* max_rows: the request's or def. */
size_t xc_max_rows(const struct xc *c, size_t def);

/* order[0..n) = 0..n-1 sorted by imp descending (ties by index). */
void xc_rank(const double *imp, size_t n, size_t *order);
/* The model's own prediction for one transformed row x: {"label", "probabilities":
 * {class: p}} (classification) or {"value"} (new reference; NULL on failure). */
json_t *xc_prediction(const struct xc *c, const double *x);
/* Pearson correlation of columns a and b of the n x p matrix x (NaN when undefined). */
double xc_pearson(const double *x, size_t n, size_t p, size_t a, size_t b);
/* The pair of the first two ranked features that stand alone as {"features": [a, b],
 * "pearson": r} over the rows x (n x p), or NULL when there is no such pair. */
json_t *xc_correlation(const struct xc *c, const double *x, size_t n, const size_t *order,
                       size_t ng);

/* [{"feature", "value" (raw[name] or null), "contribution"}] of g columns named names
 * with values vals, by decreasing |contribution|; order (g entries) gets that order. */
json_t *xc_contributions(const char *const *names, const double *vals, size_t g, const json_t *raw,
                         size_t *order);

/* The methods: each adds its parts to res. 0, -EINVAL with err, -ENOMEM, -ECANCELED. */
int xm_shap(struct xc *c, json_t *res, char *err, size_t errlen) XE_WUR;
int xm_lime(struct xc *c, json_t *res, char *err, size_t errlen) XE_WUR;
int xm_permutation(struct xc *c, json_t *res, char *err, size_t errlen) XE_WUR;
int xm_pdp(struct xc *c, json_t *res, char *err, size_t errlen) XE_WUR;

#endif
