#!/usr/bin/env bash
# bench/xai: TreeSHAP throughput of libs/xai against XGBoost's own pred_contribs (Debian's
# python3-xgboost 1.7.4) on the same XGBoost model (binary:logistic, 100 trees of depth 6,
# 20 features) and the same 2,000 rows, with 1 and 2 threads, in one run: ROUNDS rounds
# (default 3), each timing XGBoost then us (best of REPEATS calls each, after a warm-up),
# the best of all rounds kept per side, so that both sides see the same machine load. Our
# values are first checked against XGBoost's. Then KernelSHAP and LIME time per row on a
# random forest (ours; no peer). Not a test: figures only. The machine is shared: compare
# the ratios of one run; the load average is printed.
#   IBX_BENCH_ROUNDS (3), IBX_BENCH_REPEATS (3), IBX_BIN_DIR (build/release/bin)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=${IBX_BENCH_ROUNDS:-3}
REPEATS=${IBX_BENCH_REPEATS:-3}
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
if [ -z "${IBX_BIN_DIR:-}" ]; then
  make -s BUILD=build/release build/release/bin/ibx-xaibench || { echo "bench/xai: build failed"; exit 1; }
fi
if ! /usr/bin/python3 -c 'import xgboost' 2>/dev/null; then
  echo "bench/xai: Debian's python3-xgboost is not installed (apt-get install python3-xgboost)"
  exit 1
fi
W=$(mktemp -d /tmp/ibx-bench-xai-XXXXXX)
trap 'rm -rf "$W"' EXIT

echo "bench/xai: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  OMP_NUM_THREADS=2 /usr/bin/python3 bench/xai/peer.py "$W" "$REPEATS" >>"$W/times.txt" || exit 1
  "$BIN/ibx-xaibench" treeshap "$W" "$REPEATS" >>"$W/times.txt" || exit 1
done
grep '^check' "$W/times.txt" | head -1 | sed 's/^/  /'
awk '
  function field(line, key,   n, i, kv) {
    n = split(line, kv, " ")
    for (i = 2; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return ""
  }
  $1 == "xgb_treeshap" { k = "xgb " field($0, "threads") }
  $1 == "ours_treeshap" { k = field($0, "algo") " " field($0, "threads") }
  $1 == "xgb_treeshap" || $1 == "ours_treeshap" {
    v = field($0, "rows_per_s") + 0
    if (!(k in best) || v > best[k]) best[k] = v
  }
  END {
    printf "\n  TreeSHAP rows/s, 2,000 rows, best of all rounds\n"
    printf "  %-8s %14s %14s %14s %10s %10s\n", "threads", "xgboost", "ours", "ours (recur.)",
           "ratio", "ratio rec."
    for (t = 1; t <= 2; t++) {
      x = best["xgb " t]; a = best["auto " t]; c = best["recursive " t]
      printf "  %-8d %14.0f %14.0f %14.0f %9.2fx %9.2fx\n", t, x, a, c, (x > 0 ? a / x : 0),
             (x > 0 ? c / x : 0)
    }
  }' "$W/times.txt"
echo
echo "  KernelSHAP and LIME on a random forest (ours), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/ibx-xaibench" forest | sed 's/^/  /'
