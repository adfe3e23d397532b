/* gnb: Gaussian naive Bayes, as scikit-learn's GaussianNB.
 *
 * Per class: the prior (its share of the training rows), the mean and the population
 * variance of each feature plus epsilon = var_smoothing * (the largest feature variance over
 * all training rows); when every feature is constant, epsilon = var_smoothing so that
 * variances stay positive. A class with no training rows gets prior 0 and probability 0.
 * Probabilities come from the joint log-likelihoods normalised with log-sum-exp. No
 * randomness; X must be finite. */
#ifndef IBX_GNB_H
#define IBX_GNB_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>

struct gnb_params {
    double var_smoothing; /* >= 0 (default 1e-9) */
};

struct gnb;

void gnb_params_default(struct gnb_params *prm);

/* y: n class indices in [0, nclasses), nclasses >= 2. *out is the caller's (gnb_free).
 * 0, -EINVAL, -ENOMEM, -ECANCELED. */
int gnb_fit(const struct gnb_params *prm, const struct ml_matrix *X, const double *y,
            size_t nclasses, const struct ml_control *ctl, struct gnb **out) ML_WUR;
void gnb_free(struct gnb *m);

/* proba: X->n x nclasses (caller's). -EINVAL when X->p differs from the fitted p. */
int gnb_predict_proba(const struct gnb *m, const struct ml_matrix *X, double *proba) ML_WUR;
/* out: X->n class indices (ties to the lowest index). */
int gnb_predict(const struct gnb *m, const struct ml_matrix *X, double *out) ML_WUR;

size_t gnb_nfeatures(const struct gnb *m);
size_t gnb_nclasses(const struct gnb *m);
/* nclasses x p means and (smoothed) variances, nclasses priors; borrowed from m. */
const double *gnb_means(const struct gnb *m);
const double *gnb_variances(const struct gnb *m);
const double *gnb_priors(const struct gnb *m);

/* Append the encoding to b: 0, -EMSGSIZE, -ENOMEM. */
int gnb_save(const struct gnb *m, struct buf *b) ML_WUR;
/* One encoding from data[0..len); *used as in logreg_load. -EINVAL, -ENOMEM. */
int gnb_load(const void *data, size_t len, size_t *used, struct gnb **out) ML_WUR;

#endif
