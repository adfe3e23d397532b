/* mlmetrics: evaluation of classifiers and regressors, as C structs and as jansson JSON,
 * computed as scikit-learn 1.2 computes them.
 *
 * Labels are class indices 0..nclasses-1 stored as double (ml.h); anything else is -EINVAL.
 * Structs own their arrays and are released with their _release function (which accepts a
 * zeroed struct, and the same struct twice). JSON builders return a new reference the
 * caller owns (json_decref); a value that is not finite is written as null.
 *
 * - Classification report: accuracy; per class precision, recall, F1 (zero_division=0) and
 *   support; macro averages over the classes present in y_true or y_pred (scikit-learn's
 *   default labels) and support-weighted averages; the confusion matrix (rows true classes,
 *   columns predicted, all nclasses).
 * - ROC curve (roc_curve with drop_intermediate=True): points (fpr, tpr, threshold) from
 *   (0, 0), the first threshold being the highest score + 1 as in scikit-learn 1.2; the
 *   area by the trapezoidal rule over all those points.
 * - PR curve (precision_recall_curve): points (recall, precision, threshold) by increasing
 *   threshold, ending at (0, 1) whose threshold is NaN (null in JSON); the area is
 *   average_precision_score (sum of recall steps times precision, not interpolated).
 * - Both curves are computed in full; max_points (0: no cap) then thins the stored points
 *   for a UI to at most that many, evenly by index, keeping the first and the last. The
 *   area is always that of the full curve.
 * - One-vs-rest (multiclass): class k against the rest with score proba[:, k]; the macro
 *   area averages the classes that have both positive and negative rows. scikit-learn
 *   refuses the whole computation when a class is absent from y_true; here that class
 *   gets area NaN and no points, and -EINVAL comes only when no class is usable.
 * - Log loss: probabilities clipped to [eps, 1 - eps] with eps = DBL_EPSILON, rows
 *   renormalised, mean of -log p(true class) (log_loss(..., labels=range(nclasses))).
 * - Regression: MAE, MSE, RMSE, R^2 (a constant y_true gives 1 for a perfect prediction,
 *   else 0, as scikit-learn's force_finite). */
#ifndef IBX_MLMETRICS_H
#define IBX_MLMETRICS_H

#include <ibx/ml.h>

#include <jansson.h>
#include <stddef.h>

struct mlmetrics_classification {
    size_t nclasses, n;
    double accuracy;
    double *precision, *recall, *f1; /* nclasses each */
    size_t *support;                 /* nclasses: rows whose true class it is */
    size_t *confusion;               /* nclasses * nclasses: [true * nclasses + predicted] */
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
};

enum mlmetrics_curve_kind { MLMETRICS_ROC = 1, MLMETRICS_PR = 2 };

struct mlmetrics_curve {
    enum mlmetrics_curve_kind kind;
    size_t npoints;
    double *x;          /* ROC: false positive rate; PR: recall */
    double *y;          /* ROC: true positive rate; PR: precision */
    double *thresholds; /* npoints; NaN where a point has none */
    double area;        /* ROC AUC or average precision; NaN when undefined */
};

struct mlmetrics_ovr {
    enum mlmetrics_curve_kind kind;
    size_t nclasses;
    struct mlmetrics_curve *curves; /* nclasses */
    double macro_area;
};

struct mlmetrics_regression {
    double mae, mse, rmse, r2;
};

int mlmetrics_accuracy(const double *y_true, const double *y_pred, size_t n, double *out) ML_WUR;

/* n >= 1, nclasses >= 1. 0, -EINVAL, -ENOMEM. */
int mlmetrics_classification(const double *y_true, const double *y_pred, size_t n, size_t nclasses,
                             struct mlmetrics_classification *out) ML_WUR;
void mlmetrics_classification_release(struct mlmetrics_classification *m);
/* {"accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
 *  "recall_weighted", "f1_weighted", "per_class": [{"class", "precision", "recall", "f1",
 *  "support"}], "confusion_matrix": [[...], ...]} */
int mlmetrics_classification_json(const struct mlmetrics_classification *m, json_t **out) ML_WUR;

/* Binary curve of rows whose y_true equals `positive` against the rest, by score (higher
 * means more positive; finite). max_points 0 or >= 2. -EINVAL when there is no positive
 * row (ROC: or no negative row), -ENOMEM. */
int mlmetrics_curve(enum mlmetrics_curve_kind kind, const double *y_true, const double *score,
                    size_t n, double positive, size_t max_points,
                    struct mlmetrics_curve *out) ML_WUR;
void mlmetrics_curve_release(struct mlmetrics_curve *c);
/* ROC: {"auc", "fpr": [], "tpr": [], "thresholds": []};
 * PR: {"average_precision", "recall": [], "precision": [], "thresholds": []} */
int mlmetrics_curve_json(const struct mlmetrics_curve *c, json_t **out) ML_WUR;

/* One-vs-rest curves from proba (n x nclasses, row-major), nclasses >= 2. */
int mlmetrics_ovr(enum mlmetrics_curve_kind kind, const double *y_true, const double *proba,
                  size_t n, size_t nclasses, size_t max_points, struct mlmetrics_ovr *out) ML_WUR;
void mlmetrics_ovr_release(struct mlmetrics_ovr *o);
/* {"macro_auc" or "macro_average_precision", "per_class": [{"class": k, <curve json>}]} */
int mlmetrics_ovr_json(const struct mlmetrics_ovr *o, json_t **out) ML_WUR;

/* proba: n x nclasses, finite, >= 0. */
int mlmetrics_log_loss(const double *y_true, const double *proba, size_t n, size_t nclasses,
                       double *out) ML_WUR;

/* Finite values, n >= 1. */
int mlmetrics_regression(const double *y_true, const double *y_pred, size_t n,
                         struct mlmetrics_regression *out) ML_WUR;
/* {"mae", "mse", "rmse", "r2"} */
int mlmetrics_regression_json(const struct mlmetrics_regression *r, json_t **out) ML_WUR;

#endif
