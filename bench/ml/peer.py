#!/usr/bin/python3
# peer.py: the bench/ml peer: scikit-learn and XGBoost (Debian's /usr/bin/python3) on the
# data sets ibx-mlbench wrote. Prints one line per learner in ibx-mlbench's format:
#   <name> fit_s=<s> fit_cpu_s=<s> score=<accuracy or R^2> predict_rps=<rows/s>
#   predict_cpu_rps=<rows per CPU second>
# Usage: peer.py DIR THREADS [only]. Loading is not timed.
import sys
import time

import numpy as np


def load(path):
    with open(path, "rb") as f:
        if f.read(8) != b"IBXMLB01":
            raise SystemExit("peer.py: bad file " + path)
        n, p = np.frombuffer(f.read(16), dtype="<u8")
        x = np.frombuffer(f.read(int(n * p) * 8), dtype="<f8").reshape(int(n), int(p))
        y = np.frombuffer(f.read(int(n) * 8), dtype="<f8")
    ntr = int(n) * 4 // 5
    return x, y, ntr


def score(task, y, pred):
    if task == "cls":
        return float(np.mean(pred == y))
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def run(name, task, model, x, y, ntr):
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x[:ntr], y[:ntr])
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    s = score(task, y[ntr:], model.predict(x[ntr:]))
    t0, c0 = time.perf_counter(), time.process_time()
    model.predict(x)
    pred_s, pred_cpu = time.perf_counter() - t0, time.process_time() - c0
    print("%s_%s fit_s=%.4f fit_cpu_s=%.4f score=%.4f predict_rps=%.0f predict_cpu_rps=%.0f"
          % (name, task, fit_s, fit_cpu, s, len(x) / pred_s, len(x) / max(pred_cpu, 1e-9)),
          flush=True)


def learners(task, threads):
    from sklearn import tree, ensemble
    import xgboost
    cls = task == "cls"
    yield "sk_tree", (tree.DecisionTreeClassifier if cls else tree.DecisionTreeRegressor)(
        random_state=0)
    yield "sk_forest", (ensemble.RandomForestClassifier if cls else ensemble.RandomForestRegressor)(
        n_estimators=100, max_depth=10, n_jobs=threads, random_state=0)
    # matched to ours: 100 rounds, depth 6, no leaf cap, learning rate 0.1, L2 1,
    # min_child_weight 1, 256 bins, no early stopping
    hgb = ensemble.HistGradientBoostingClassifier if cls else ensemble.HistGradientBoostingRegressor
    yield "sk_hgb", hgb(max_iter=100, max_depth=6, max_leaf_nodes=None, learning_rate=0.1,
                        l2_regularization=1.0, min_samples_leaf=1, max_bins=255,
                        early_stopping=False, random_state=0)
    from sklearn import linear_model
    # logistic regression (L2, C 1, lbfgs, 100 iterations) / ordinary least squares
    yield "sk_linear", (linear_model.LogisticRegression(C=1.0, solver="lbfgs", max_iter=100)
                        if cls else linear_model.LinearRegression())
    xgbm = xgboost.XGBClassifier if cls else xgboost.XGBRegressor
    yield "xgb_hist", xgbm(n_estimators=100, max_depth=6, learning_rate=0.1, reg_lambda=1.0,
                           min_child_weight=1.0, max_bin=256, tree_method="hist",
                           n_jobs=threads, random_state=0)


def main():
    d, threads = sys.argv[1], int(sys.argv[2])
    only = sys.argv[3] if len(sys.argv) > 3 else None
    import os
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    for task in ("cls", "reg"):
        x, y, ntr = load("%s/%s.bin" % (d, task))
        for name, model in learners(task, threads):
            if only is None or only in name:
                run(name, task, model, x, y, ntr)


main()
