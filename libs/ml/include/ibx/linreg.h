/* linreg: ordinary least squares and ridge regression with an intercept.
 *
 * Solves (Xc^T Xc + alpha I) w = Xc^T yc on the centred data (Xc, yc; not centred when
 * fit_intercept is 0), then intercept = mean(y) - mean(X) . w, as scikit-learn's
 * LinearRegression (alpha 0) and Ridge(alpha) do; the intercept is never penalised.
 * The normal equations are accumulated in fixed row chunks (bit-identical with any thread
 * count) and solved by Cholesky. When a Cholesky pivot falls below 1e-13 of its diagonal
 * entry (X rank-deficient or nearly: duplicated or constant columns, more features than
 * rows, ridge with alpha 0) the system is solved instead through a Jacobi eigendecomposition
 * of the Gram matrix, dropping eigenvalues below 1e-13 of the largest: the minimum-norm
 * least-squares solution, as scikit-learn's lstsq gives. Forming X^T X squares the
 * condition number, so for nearly collinear columns the coefficients are only as accurate
 * as cond(X)^2 * 1e-16 allows (predictions stay good). The fallback costs O(p^3) per sweep;
 * the usual path O(n p^2 + p^3). X and y must be finite. */
#ifndef IBX_LINREG_H
#define IBX_LINREG_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>

struct linreg_params {
    double alpha;      /* L2 penalty, >= 0 (default 0: ordinary least squares) */
    int fit_intercept; /* default 1 */
};

struct linreg;

void linreg_params_default(struct linreg_params *prm);

/* X n x p, y n values (both borrowed). *out is the caller's (linreg_free). 0, -EINVAL,
 * -ENOMEM, -ECANCELED. */
int linreg_fit(const struct linreg_params *prm, const struct ml_matrix *X, const double *y,
               const struct ml_control *ctl, struct linreg **out) ML_WUR;
void linreg_free(struct linreg *m);

/* out: X->n predictions. -EINVAL when X->p differs from the fitted p. */
int linreg_predict(const struct linreg *m, const struct ml_matrix *X, double *out) ML_WUR;
/* out: p values, |coef|. */
void linreg_importance(const struct linreg *m, double *out);

size_t linreg_nfeatures(const struct linreg *m);
/* p coefficients, borrowed from m. */
const double *linreg_coef(const struct linreg *m);
double linreg_intercept(const struct linreg *m);
/* 1 when the rank-deficient fallback solved the fit, else 0 (Cholesky). */
int linreg_used_fallback(const struct linreg *m);

/* Append the encoding to b: 0, -EMSGSIZE, -ENOMEM. */
int linreg_save(const struct linreg *m, struct buf *b) ML_WUR;
/* One encoding from data[0..len); *used as in logreg_load. -EINVAL, -ENOMEM. */
int linreg_load(const void *data, size_t len, size_t *used, struct linreg **out) ML_WUR;

#endif
