/* quality: the IBIS-X data-quality analysis (reference §8.1 with the id-column rule of
 * §7.6), computed exactly over a frame and returned as one JSON report. Nothing in it is
 * random or made up: every number comes from the frame.
 *
 * Report (keys in this order):
 *   dataset_overview{total_rows, total_columns, memory_usage_mb, target_column}
 *   column_types{numeric[], categorical[], datetime[]}: FRAME_NUMERIC is numeric,
 *     FRAME_TEMPORAL datetime, booleans, categories and text categorical
 *   excluded_columns[]: id-like names (case-insensitive: id, uuid, guid, index, idx,
 *     row_number, rownum, "unnamed: 0", *_id, pk_*), left out of everything below
 *   missing_data_analysis{total_rows, total_columns, columns_with_missing{name: {
 *       missing_count, missing_percentage, data_type (the interpreted type),
 *       unique_values, is_categorical (not numeric/temporal, or < 10 distinct values),
 *       distribution_type, skewness, normality_p_value, severity,
 *       recommended_strategy{primary_strategy, alternative_strategies[], explanation,
 *       confidence}}} (only columns with a missing value),
 *     missing_patterns{completely_missing_rows, completely_missing_columns[],
 *       correlated_missing[{columns[a, b], correlation}] (|r| of the missingness
 *       indicators > 0.7, at most 100 pairs), correlated_missing_total},
 *     severity_assessment{overall_score, level, main_issues[], action_required}}
 *   outliers_analysis{iqr_method{name: {method "IQR", outliers_count,
 *       outliers_percentage, lower_bound, upper_bound, q1, q3, outliers_indices[<= 100]}},
 *     zscore_method{name: {method "Z-Score", threshold 3, outliers_count,
 *       outliers_percentage, max_zscore}}} for every numeric column with a value
 *   data_quality_score (integer 0..100)
 *   preprocessing_recommendations{priority_actions[{action, priority, description}],
 *     missing_values_strategy{name: {strategy, alternatives, confidence, explanation}},
 *     outlier_handling{affected_columns[], recommended_methods[], explanation},
 *     feature_engineering[], scaling_recommendation, encoding_recommendation}
 *
 * Rules and the choices made where the reference is silent:
 * - Percentages are of all rows of the frame (missing and outliers alike), rounded to
 *   two decimals in the report; the score uses the unrounded values.
 * - distribution_type: categorical for non-numeric, non-temporal columns; else
 *   insufficient_data under 10 values; normal when the D'Agostino-Pearson K² test
 *   (scipy.stats.normaltest) gives p > 0.05; else by the skewness (pandas' Series.skew:
 *   the adjusted Fisher-Pearson G1, 0 for a constant column): symmetric |skew| < 0.5,
 *   right_skewed > 1, left_skewed < -1, moderately_skewed otherwise. Temporal columns are
 *   tested on their seconds.
 * - Strategy by missing %: > 70 drop_column (0.9); > 40 mode_imputation [create_missing_
 *   category, drop_column] when is_categorical, else knn_imputation [iterative_imputation,
 *   drop_column] (0.7); > 15 mode_imputation [knn_imputation] or mean_imputation (normal)
 *   / median_imputation [knn_imputation, iterative_imputation] (0.8); otherwise mode /
 *   mean (normal) / median with [drop_rows] (0.9).
 * - Column severity (§7.6): low < 5 %, medium < 15 %, high < 30 %, else critical.
 * - Severity score = 30 x (columns with missing / analysed columns) + 40 x (columns over
 *   40 % missing / analysed columns) + 10 x completely empty columns, capped at 100;
 *   level none when nothing is missing, else critical >= 80, high >= 60, medium >= 30,
 *   low; action_required when the level is medium or worse.
 * - Outliers: IQR with numpy's default 'linear' quartiles, outside [q1 - 1.5 IQR,
 *   q3 + 1.5 IQR] (strictly); z-score |x - mean| / std > 3 with pandas' default sample
 *   standard deviation (ddof = 1); max_zscore null when std is 0 or undefined.
 * - data_quality_score = floor(max(0, 100 - 0.5 x severity - sum of min(pct, 20) over
 *   every (method, column) whose outlier pct > 10)).
 * - outlier_handling.affected_columns: columns whose IQR or z-score pct > 15.
 *   scaling_recommendation robust when there is a numeric column, else standard.
 *
 * Errors: -EINVAL (NULL frame or out), -ENOMEM. */
#ifndef IBX_QUALITY_H
#define IBX_QUALITY_H

#include <ibx/frame.h>

#include <jansson.h>
#include <stddef.h>

#define QUALITY_WUR __attribute__((warn_unused_result))

struct quality_options {
    const char *target_column; /* reported in dataset_overview; NULL: none */
};

/* Analyse f (borrowed) into a new JSON object *out (caller decrefs). opt may be NULL. */
int quality_analyze(const struct frame *f, const struct quality_options *opt,
                    json_t **out) QUALITY_WUR;

/* ---- the statistics it uses (x: n finite values, borrowed) ---- */

/* D'Agostino-Pearson K² as scipy.stats.normaltest: *stat = Zs² + Zk², *p = chi2.sf(K², 2).
 * -EINVAL when n < 8 (scipy's skewtest bound) or the values are constant. */
int quality_normaltest(const double *x, size_t n, double *stat, double *p) QUALITY_WUR;
/* pandas Series.skew(): adjusted Fisher-Pearson G1; NaN when n < 3, 0 when constant. */
double quality_skew(const double *x, size_t n);
/* numpy.quantile(x, q) with method 'linear' over ascending sorted values (n >= 1). */
double quality_quantile(const double *sorted, size_t n, double q);
/* 1 when name is id-like (see excluded_columns above). */
int quality_is_id_like(const char *name);

#endif
