/* shaplinear: exact SHAP values of linear and logistic models with independent features. */
#include <ibx/shap.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int shap_linear_coef(const double *coef, const double *intercept, size_t k, const double *mean,
                     enum xai_space space, const struct ml_matrix *x, struct xai_attrib *out)
{
    if (!coef || !intercept || !mean || !x || !out || k == 0 || x->p == 0 || (!x->x && x->n))
        return -EINVAL;
    size_t p = x->p;
    for (size_t i = 0; i < x->n * p; i++)
        if (!isfinite(x->x[i]))
            return -EINVAL;
    struct xai_attrib a;
    int rc = xai_attrib_alloc(&a, x->n, k, p);
    if (rc)
        return rc;
    a.method = XAI_LINEAR_SHAP;
    a.space = space;
    for (size_t j = 0; j < k; j++) {
        const double *c = coef + j * p;
        double base = intercept[j];
        for (size_t f = 0; f < p; f++)
            base += c[f] * mean[f];
        for (size_t i = 0; i < x->n; i++) {
            const double *row = x->x + i * p;
            double *v = a.values + (i * k + j) * p, pred = intercept[j];
            for (size_t f = 0; f < p; f++) {
                pred += c[f] * row[f];
                v[f] = c[f] * (row[f] - mean[f]);
            }
            a.base[i * k + j] = base;
            a.pred[i * k + j] = pred;
        }
    }
    xai_attrib_finish(&a);
    *out = a;
    return 0;
}

/* The background's weighted mean (p values into mean). */
static int bg_mean(const struct xai_background *bg, size_t p, double *mean)
{
    if (!bg || bg->n == 0 || bg->p != p || !bg->x || !bg->w)
        return -EINVAL;
    memset(mean, 0, p * sizeof *mean);
    for (size_t b = 0; b < bg->n; b++)
        for (size_t f = 0; f < p; f++)
            mean[f] += bg->w[b] * bg->x[b * p + f];
    for (size_t f = 0; f < p; f++)
        if (!isfinite(mean[f]))
            return -EINVAL;
    return 0;
}

int shap_linear(const struct learner_model *m, const struct xai_background *bg,
                const struct ml_matrix *x, struct xai_attrib *out)
{
    if (!m || !x || !out)
        return -EINVAL;
    const struct logreg *lr = learner_model_logreg(m);
    const struct linreg *ln = learner_model_linreg(m);
    if (!lr && !ln)
        return -ENOTSUP;
    size_t p = learner_model_n_features(m);
    if (x->p != p)
        return -EINVAL;
    double *mean = malloc(p * sizeof *mean);
    if (!mean)
        return -ENOMEM;
    int rc = bg_mean(bg, p, mean);
    if (rc == 0 && lr) {
        size_t k = logreg_coef_rows(lr);
        rc = shap_linear_coef(logreg_coef(lr), logreg_intercept(lr), k, mean,
                              k == 1 ? XAI_SPACE_LOG_ODDS : XAI_SPACE_MARGIN, x, out);
    } else if (rc == 0) {
        double icpt = linreg_intercept(ln);
        rc = shap_linear_coef(linreg_coef(ln), &icpt, 1, mean, XAI_SPACE_VALUE, x, out);
    }
    free(mean);
    return rc;
}
