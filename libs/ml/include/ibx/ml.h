/* ml: the types every learner in libs/ml shares: a dense design matrix, the task, and
 * the common shape of a fitted model (fit, predict, save, load).
 *
 * Conventions for every learner (tree_, forest_, gbt_, logreg_, linreg_, knn_, gnb_):
 * - X is row-major n x p float64, borrowed for the call; preprocessing has already turned
 *   categories into numbers. Missing values are NaN only where a learner says it handles
 *   them (the histogram gradient-boosted trees do; the others expect imputed data).
 * - Classification targets are class indices 0..nclasses-1 stored as double; regression
 *   targets are any finite double.
 * - Fitting is deterministic for a given seed (also when multithreaded).
 * - Predict functions write into caller-owned arrays: predict_proba writes n x nclasses
 *   probabilities (row-major), predict writes n values (class index or regression value).
 * - save appends a self-describing little-endian binary encoding to a struct buf; load
 *   validates everything it reads (a truncated or tampered encoding is -EINVAL, never a
 *   crash) and returns a new model owned by the caller (free with the learner's _free).
 * - Errors: 0 or -EINVAL (bad parameters or data), -ENOMEM, -ECANCELED (the cancel flag
 *   was raised). */
#ifndef IBX_ML_H
#define IBX_ML_H

#include <stddef.h>

#define ML_WUR __attribute__((warn_unused_result))

enum ml_task { ML_CLASSIFICATION = 1, ML_REGRESSION = 2 };

struct ml_matrix {
    const double *x; /* n * p values, row-major */
    size_t n;        /* rows */
    size_t p;        /* columns (features) */
};

/* Progress and cancellation shared by long fits. progress (may be NULL) is called from the
 * fitting thread with work done out of total (trees built, iterations run); cancel (may be
 * NULL) is polled and the fit stops with -ECANCELED soon after it becomes non-zero. */
struct ml_control {
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
    const volatile int *cancel;
    int threads; /* 0 = one per online CPU */
};

#endif
