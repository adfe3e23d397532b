#!/usr/bin/python3
# xgb_fixtures.py: XGBoost models and XGBoost's own SHAP contributions (pred_contribs, and
# pred_interactions for the binary case) that tests/unit/test_treeshap.c compares libs/xai's
# TreeSHAP against (Debian's python3-xgboost 1.7.4). Run once from the repository root:
#   /usr/bin/python3 bench/xai/xgb_fixtures.py
# and commit the outputs, tests/fixtures/xai_xgb_<case>.{json,x.csv,contribs.csv}
# (and xai_xgb_binary.inter.csv). Every case has at most 10 features, so the test can also
# enumerate every coalition. Values are written as Python reprs of the float32 numbers
# XGBoost used (data) or returned (contributions); "nan" marks a missing value.
import os
import numpy as np
import xgboost as xgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")
ROWS = 100


def data(seed, n, p, classes, missing):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    x[:, 1] = np.round(x[:, 1] * 2) / 2  # a coarse column: ties and repeated thresholds
    x[:, 2] = rng.integers(0, 4, size=n)
    s = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 3]) + 0.5 * x[:, 2] + 0.3 * rng.normal(size=n)
    if missing:
        x[rng.random(size=x.shape) < 0.08] = np.nan
    x = x.astype(np.float32)
    if classes == 0:
        return x, s
    if classes == 2:
        return x, (s > np.median(s)).astype(float)
    return x, np.digitize(s, np.quantile(s, [1 / 3, 2 / 3])).astype(float)


def fmt(v):
    return "nan" if np.isnan(v) else repr(float(v))


def write_rows(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(fmt(v) for v in np.ravel(r)) + "\n")


CASES = [
    ("binary", 1, 8, 2, True, dict(objective="binary:logistic", max_depth=4), 20),
    ("multi", 2, 6, 3, False, dict(objective="multi:softprob", num_class=3, max_depth=3), 10),
    ("reg", 3, 10, 0, True, dict(objective="reg:squarederror", max_depth=6), 30),
]

for name, seed, p, classes, missing, params, rounds in CASES:
    x, y = data(seed, 600, p, classes, missing)
    d = xgb.DMatrix(x, label=y, missing=np.nan)
    params = dict(params, tree_method="hist", eta=0.3, seed=0, nthread=1)
    booster = xgb.train(params, d, num_boost_round=rounds)
    booster.save_model(os.path.join(OUT, "xai_xgb_%s.json" % name))
    xs = x[:ROWS]
    ds = xgb.DMatrix(xs, missing=np.nan)
    write_rows(os.path.join(OUT, "xai_xgb_%s.x.csv" % name), xs)
    contribs = booster.predict(ds, pred_contribs=True)  # (n, p + 1) or (n, k, p + 1)
    write_rows(os.path.join(OUT, "xai_xgb_%s.contribs.csv" % name), contribs.reshape(ROWS, -1))
    if name == "binary":
        inter = booster.predict(xgb.DMatrix(xs[:20], missing=np.nan), pred_interactions=True)
        write_rows(os.path.join(OUT, "xai_xgb_%s.inter.csv" % name), inter.reshape(20, -1))
    print(name, "trees", len(booster.get_dump()), "contribs", contribs.shape)
