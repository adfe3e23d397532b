#!/usr/bin/env bash
# bench/profile: ibx-profile --quiet (one pass: parse, types, full statistics, preview) against
# Debian's pandas doing read_csv + describe(include='all') + isna().sum() + nunique() on the
# same ~200 MB mixed-type CSV, generated deterministically here. Several runs each; prints
# wall times, the ratio and peak RSS. Not a test: figures only.
# ibx-profile profiles on one thread per CPU (pandas uses one): each run also times it on a
# single thread, for the ratio that owes nothing to the second core.
# BENCH_PROFILE_BYTES (200000000) sets the file size, BENCH_RUNS (3) the runs per tool.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
BYTES=${BENCH_PROFILE_BYTES:-200000000}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3 # Debian's, with python3-pandas (not the first python3 on PATH)

if ! [ -x "$PY" ] || ! "$PY" -c 'import pandas' 2>/dev/null; then
  echo "bench/profile: Debian's python3-pandas is missing (/usr/bin/python3 cannot import pandas;"
  echo "  make bench installs it): skipped"
  exit 0
fi
[ -x /usr/bin/time ] || { echo "bench/profile: needs /usr/bin/time (Debian package time)"; exit 1; }

W=$(mktemp -d /tmp/ibx-bench-profile-XXXXXX)
trap 'rm -rf "$W"' EXIT
if [ -z "${IBX_BIN_DIR:-}" ]; then
  make -s -j2 BUILD=build/release build/release/bin/ibx-profile
fi
cc -O2 -o "$W/gen" bench/profile/gen.c
t0=$(date +%s.%N)
"$W/gen" "$BYTES" > "$W/bench.csv"
t1=$(date +%s.%N)
printf 'file: %s bytes, %s lines, generated in %.2f s\n' "$(stat -c %s "$W/bench.csv")" \
  "$(wc -l < "$W/bench.csv")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"

cat > "$W/peer.py" <<'PY'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], low_memory=False)
desc = df.describe(include='all')
na = df.isna().sum()
nu = df.nunique()
print(f"pandas {pd.__version__}: rows={len(df)} columns={len(df.columns)} missing_cells={int(na.sum())}")
PY

# run NAME CMD...: wall seconds and peak RSS (KB) of one run, appended to $W/NAME
run() {
  local name=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$W/$name.time" "$@" > "$W/$name.out"
  cat "$W/$name.time" >> "$W/$name.runs"
}
"$PY" -c 'import pandas, numpy; print("peer: pandas", pandas.__version__, "numpy", numpy.__version__)'
echo "ibx-profile: $(nproc) threads (one per CPU); pandas: one"
for i in $(seq "$RUNS"); do
  run ours "$BIN/ibx-profile" --quiet "$W/bench.csv"
  run pandas "$PY" "$W/peer.py" "$W/bench.csv"
  run one "$BIN/ibx-profile" --threads 1 --quiet "$W/bench.csv"
  read -r a_s a_kb a_u a_y < <(tail -1 "$W/ours.runs")
  read -r b_s b_kb b_u b_y < <(tail -1 "$W/pandas.runs")
  read -r c_s _ < <(tail -1 "$W/one.runs")
  printf 'run %d: ibx-profile %6.2f s wall %6.2f s cpu %5d MB | pandas %6.2f s wall %6.2f s cpu %5d MB | %.1fx (1 thread: %.2f s, %.1fx)\n' \
    "$i" "$a_s" "$(awk -v u="$a_u" -v y="$a_y" 'BEGIN {print u + y}')" $((a_kb / 1024)) \
    "$b_s" "$(awk -v u="$b_u" -v y="$b_y" 'BEGIN {print u + y}')" $((b_kb / 1024)) \
    "$(awk -v a="$b_s" -v b="$a_s" 'BEGIN {print a / b}')" "$c_s" \
    "$(awk -v a="$b_s" -v b="$c_s" 'BEGIN {print a / b}')"
done
echo "ibx-profile: $(cat "$W/ours.out")"
cat "$W/pandas.out"
# median of the runs
# (the machine may be shared: the per-run ratio and CPU seconds show how noisy it was)
med() { sort -n -k1,1 "$1" | awk '{a[NR]=$1; m[NR]=$2} END {i=int((NR+1)/2); print a[i], m[i]}'; }
read -r ours_s ours_kb < <(med "$W/ours.runs")
read -r pd_s pd_kb < <(med "$W/pandas.runs")
read -r one_s _ < <(med "$W/one.runs")
printf 'median wall: ibx-profile %.2f s, pandas %.2f s: %.1fx faster (target >= 5x); on 1 thread %.2f s: %.1fx\n' \
  "$ours_s" "$pd_s" "$(awk -v a="$pd_s" -v b="$ours_s" 'BEGIN {print a / b}')" "$one_s" \
  "$(awk -v a="$pd_s" -v b="$one_s" 'BEGIN {print a / b}')"
printf 'peak RSS: ibx-profile %d MB, pandas %d MB\n' $((ours_kb / 1024)) $((pd_kb / 1024))
