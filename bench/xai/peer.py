#!/usr/bin/python3
# peer.py DIR [repeats]: the XGBoost side of bench/xai (Debian's python3-xgboost 1.7.4).
# First call in DIR: generates 2,000 rows x 20 features (float32, a nonlinear binary target),
# trains XGBoost `hist` binary:logistic, 100 trees of depth 6, and writes DIR/model.json,
# DIR/x.csv (the rows, as the float32 values XGBoost sees) and DIR/contribs.csv (XGBoost's
# pred_contribs of every row, for the driver's agreement check). Every call: times
# booster.predict(pred_contribs=True) on the 2,000 rows with nthread 1 and 2 (one warm-up,
# then the best of `repeats`), one line per thread count:
#   xgb_treeshap threads=<t> rows=2000 best_s=<s> rows_per_s=<r>
import os
import sys
import time

import numpy as np
import xgboost as xgb

DIR = sys.argv[1]
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N, P, TREES, DEPTH = 2000, 20, 100, 6


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, P)).astype(np.float32)
    s = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + x[:, 3] - 0.5 * x[:, 4] ** 2
    s = s + 0.3 * x[:, 5:].sum(axis=1) + 0.5 * rng.normal(size=N)
    return x, (s > np.median(s)).astype(float)


def write_csv(path, a):
    with open(path, "w") as f:
        for row in a:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


x, y = data()
model = os.path.join(DIR, "model.json")
if not os.path.exists(model):
    params = dict(objective="binary:logistic", max_depth=DEPTH, eta=0.1, tree_method="hist",
                  seed=0, nthread=2)
    b = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=TREES)
    b.save_model(model)
    write_csv(os.path.join(DIR, "x.csv"), x)
    write_csv(os.path.join(DIR, "contribs.csv"), b.predict(xgb.DMatrix(x), pred_contribs=True))

booster = xgb.Booster(model_file=model)
d = xgb.DMatrix(x)
for t in (1, 2):
    booster.set_param({"nthread": t})
    booster.predict(d, pred_contribs=True)
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        booster.predict(d, pred_contribs=True)
        best = min(best, time.perf_counter() - t0)
    print("xgb_treeshap threads=%d rows=%d best_s=%.6f rows_per_s=%.1f" % (t, N, best, N / best))
    sys.stdout.flush()
