/* xgbimport: XGBoost models (the JSON that booster.save_model("m.json") writes) imported as
 * ibx/gbt.h models that predict what XGBoost predicts.
 *
 * Supported: the gbtree booster with numerical splits and one tree per class per round
 * (num_parallel_tree 1), objectives binary:logistic, multi:softprob, multi:softmax and
 * reg:squarederror (reg:linear). The imported model compares like XGBoost ((float)x <
 * threshold, NaN to the default side) and sums raw scores in float, so its raw scores and
 * probabilities match XGBoost's to float rounding (about 1e-7). Features are by position
 * (f0, f1, ...). The result is an ordinary struct gbt_model: predict, explain, save and load
 * it with the gbt_ functions. */
#ifndef IBX_XGBIMPORT_H
#define IBX_XGBIMPORT_H

#include <ibx/gbt.h>
#include <ibx/ml.h>

#include <stddef.h>

/* Parse json[0..len) (borrowed; need not be NUL-terminated). *out is the caller's (gbt_free).
 * 0; -EINVAL for malformed JSON, an unsupported booster, objective or split, or an
 * inconsistent tree; -ENOMEM. */
int xgbimport_load(const char *json, size_t len, struct gbt_model **out) ML_WUR;

#endif
