/* permimp: permutation feature importance (Breiman 2001; scikit-learn's
 * permutation_importance): how much a score drops when one feature's column is shuffled.
 *
 * The baseline score is the model's on (x, y). For each feature f and repeat r, column f
 * is shuffled (the others kept), the model predicts again and importance[f][r] = baseline
 * - score. The result gives per feature the mean and the population standard deviation
 * over the repeats (numpy's std, as scikit-learn). Scores: accuracy (predictions are the
 * argmax of the predictor's k outputs, ties to the lowest class; for k = 1 with
 * XAI_SPACE_LOG_ODDS, class 1 when the output is > 0), R^2 (k = 1), or the negative log
 * loss (probabilities, clipped to [1e-15, 1 - 1e-15]). Shuffles come from the stream
 * (seed, feature), features are spread over threads: the same result for any thread
 * count. ctl progress counts features. */
#ifndef IBX_PERMIMP_H
#define IBX_PERMIMP_H

#include <ibx/ml.h>
#include <ibx/xai.h>

#include <stddef.h>
#include <stdint.h>

enum permimp_score {
    PERMIMP_AUTO = 0, /* accuracy for classification outputs, R^2 for a value */
    PERMIMP_ACCURACY = 1,
    PERMIMP_R2 = 2,
    PERMIMP_NEG_LOG_LOSS = 3
};
/* "accuracy", "r2", "neg_log_loss" (static). */
const char *permimp_score_name(enum permimp_score s);

struct permimp_opts {
    size_t repeats; /* >= 1, default 5 */
    uint64_t seed;
    enum permimp_score score;
};
void permimp_opts_default(struct permimp_opts *o);

/* Owns its arrays (permimp_result_release; accepts a zeroed struct). */
struct permimp_result {
    enum permimp_score score; /* the score used (never AUTO) */
    size_t p, repeats;
    double baseline;
    double *mean;           /* p: mean importance */
    double *sd;             /* p: standard deviation over the repeats */
    double *repeats_values; /* p * repeats: importance[f][r] */
};
void permimp_result_release(struct permimp_result *r);

/* Permutation importance of f (borrowed) on x (n rows, borrowed) with targets y (class
 * indices or values, borrowed). o may be NULL. -EINVAL (n < 2, shape mismatch, a score
 * that does not fit the outputs), -ENOMEM, -ECANCELED, or the predictor's error. */
int permimp_compute(const struct xai_predictor *f, const struct ml_matrix *x, const double *y,
                    const struct permimp_opts *o, const struct ml_control *ctl,
                    struct permimp_result *out) XAI_WUR;

#endif
