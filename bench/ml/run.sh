#!/usr/bin/env bash
# bench/ml: our tree learners (libs/ml tree, forest, gbt) against Debian's scikit-learn and
# XGBoost `hist`, in one run, on the same generated data (ibx-mlbench gen: 100,000 x 20
# make_classification-like, and Friedman #1 regression with 15 noise features; first 80%
# train, the rest test). Both sides read the same binary files; loading is not timed.
# Matched settings: decision tree with scikit-learn's defaults; random forest 100 trees,
# depth 10 (max_features sqrt / all); gradient boosting 100 rounds, depth 6, no leaf cap,
# learning rate 0.1, L2 1, min_child_weight 1, 255/256 bins, no early stopping; THREADS
# threads everywhere (default 2). Prints fit time, accuracy or R^2, prediction rows/s (over
# all 100,000 rows) and the ratios. Not a test: figures only. The machine is shared, so only
# ratios from one run are comparable; CPU seconds are printed too.
#   IBX_BENCH_THREADS (2), IBX_BENCH_ROWS (100000), IBX_BIN_DIR (build/release/bin)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
THREADS=${IBX_BENCH_THREADS:-2}
ROWS=${IBX_BENCH_ROWS:-100000}
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
if [ -z "${IBX_BIN_DIR:-}" ]; then
  make -s BUILD=build/release build/release/bin/ibx-mlbench || { echo "bench/ml: build failed"; exit 1; }
fi
W=$(mktemp -d /tmp/ibx-bench-ml-XXXXXX)
trap 'rm -rf "$W"' EXIT

"$BIN/ibx-mlbench" gen "$W" "$ROWS" || exit 1
echo "bench/ml: $ROWS rows x 20 features, $THREADS threads, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/ibx-mlbench" run "$W" "$THREADS" | tee "$W/ours.txt" | sed 's/^/  ours: /'
if /usr/bin/python3 -c 'import sklearn, xgboost' 2>/dev/null; then
  OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/ml/peer.py "$W" "$THREADS" | tee "$W/peer.txt" |
    sed 's/^/  peer: /'
else
  echo "bench/ml: Debian's python3-sklearn and python3-xgboost are not installed (apt-get install"
  echo "python3-sklearn python3-xgboost); our figures only, no ratios."
  exit 0
fi

# ours peer: one table row per pair (linear: logistic regression on the classification set,
# ordinary least squares on the regression set)
PAIRS="tree:sk_tree forest:sk_forest gbt:xgb_hist gbt:sk_hgb linear:sk_linear"
awk -v pairs="$PAIRS" '
  function field(line, key,   n, i, kv) {
    n = split(line, kv, " ")
    for (i = 2; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return ""
  }
  { rec[$1] = $0 }
  END {
    printf "\n%-22s %9s %9s %8s %8s %8s %7s %11s %11s %7s\n", "model (ours vs peer)", "ours s",
           "peer s", "speedup", "ours sc", "peer sc", "d pts", "ours rows/s", "peer rows/s", "ratio"
    n = split(pairs, pr, " ")
    for (t = 1; t <= 2; t++) {
      task = t == 1 ? "cls" : "reg"
      for (i = 1; i <= n; i++) {
        split(pr[i], ab, ":"); a = ab[1] "_" task; b = ab[2] "_" task
        if (!(a in rec) || !(b in rec)) continue
        fa = field(rec[a], "fit_s"); fb = field(rec[b], "fit_s")
        sa = field(rec[a], "score"); sb = field(rec[b], "score")
        pa = field(rec[a], "predict_rps"); pb = field(rec[b], "predict_rps")
        printf "%-22s %9.3f %9.3f %7.1fx %8.4f %8.4f %+7.2f %11.0f %11.0f %6.1fx\n",
               a " vs " ab[2], fa, fb, (fa > 0 ? fb / fa : 0), sa, sb, 100 * (sa - sb), pa, pb, (pb > 0 ? pa / pb : 0)
      }
    }
    print "speedup = peer fit time / ours; d pts = (ours - peer) score in points (accuracy or R^2 x 100)"
  }' "$W/ours.txt" "$W/peer.txt"
