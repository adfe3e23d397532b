/* logreg: L2-penalised logistic regression, binary (sigmoid) and multinomial (softmax).
 *
 * Minimises (1/n) * sum_i log_loss_i + ||W||^2 / (2 * C * n) over the weights W and the
 * (unpenalised) intercepts, which is scikit-learn's objective (C * sum log_loss + ||W||^2/2)
 * divided by C * n: the same minimiser, and tol applies to the mean gradient as in
 * scikit-learn >= 1.3 (so it does not depend on n). Two classes fit one weight vector
 * (scikit-learn's multi_class="auto"), more fit one per class with softmax; multinomial
 * intercepts are centred to sum to zero. Solvers: L-BFGS (10 corrections, backtracking
 * Armijo line search) and Newton-CG (Hessian-vector products, truncated CG as in
 * scikit-learn's newton-cg). Both stop when max |gradient| <= tol, on a negligible relative
 * decrease of the objective, or after max_iter iterations. No randomness: the fit is
 * deterministic, and with any thread count bit-identical (fixed row chunks summed in
 * order). X must be finite (impute first); ml_control reports iterations out of max_iter. */
#ifndef IBX_LOGREG_H
#define IBX_LOGREG_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>

enum logreg_solver { LOGREG_LBFGS = 0, LOGREG_NEWTON_CG = 1 };

struct logreg_params {
    double C;                  /* inverse penalty strength, > 0 (default 1.0) */
    enum logreg_solver solver; /* default LOGREG_LBFGS */
    double tol;                /* > 0 (default 1e-4) */
    int max_iter;              /* >= 1 (default 100) */
    int fit_intercept;         /* default 1 */
};

struct logreg;

void logreg_params_default(struct logreg_params *prm);

/* Fit on X (n x p, borrowed) and y (n class indices in [0, nclasses), borrowed), nclasses
 * >= 2. ctl may be NULL. *out is the caller's (logreg_free). 0, -EINVAL, -ENOMEM,
 * -ECANCELED. */
int logreg_fit(const struct logreg_params *prm, const struct ml_matrix *X, const double *y,
               size_t nclasses, const struct ml_control *ctl, struct logreg **out) ML_WUR;
void logreg_free(struct logreg *m);

/* proba: X->n x nclasses (caller's). -EINVAL when X->p differs from the fitted p. */
int logreg_predict_proba(const struct logreg *m, const struct ml_matrix *X, double *proba) ML_WUR;
/* out: X->n class indices (the most probable class; ties to the lowest index). */
int logreg_predict(const struct logreg *m, const struct ml_matrix *X, double *out) ML_WUR;
/* out: p values, the mean over coefficient rows of |coef| (one row when binary). */
void logreg_importance(const struct logreg *m, double *out);

size_t logreg_nfeatures(const struct logreg *m);
size_t logreg_nclasses(const struct logreg *m);
/* Coefficient rows: 1 for two classes (the log-odds of class 1), else nclasses. */
size_t logreg_coef_rows(const struct logreg *m);
/* rows x p, row-major; borrowed from m. */
const double *logreg_coef(const struct logreg *m);
/* rows values; borrowed from m. */
const double *logreg_intercept(const struct logreg *m);
/* Iterations the solver ran, and whether it met tol (or stalled at the optimum) before
 * max_iter. */
int logreg_iterations(const struct logreg *m);
int logreg_converged(const struct logreg *m);

/* Append the encoding (parameters, shape, coefficients) to b: 0, -EMSGSIZE, -ENOMEM. */
int logreg_save(const struct logreg *m, struct buf *b) ML_WUR;
/* Read one encoding from data[0..len) (borrowed). *used (may be NULL, then the encoding must
 * fill len exactly) is set to the bytes read. -EINVAL for anything truncated, tampered or
 * out of range; -ENOMEM. */
int logreg_load(const void *data, size_t len, size_t *used, struct logreg **out) ML_WUR;

#endif
