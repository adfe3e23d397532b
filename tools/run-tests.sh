#!/usr/bin/env bash
# run-tests.sh: `make test`. Builds and runs every unit and integration test binary
# against a throwaway PostgreSQL cluster, first in the release build, then built with
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with `tests: N passed, N failed`.
#   --fast    release pass only
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${IBX_TEST_JOBS:-3}
FAST=0
[ "${1:-}" = "--fast" ] && FAST=1

OUT="$ROOT/test-output"
PGDIR="$ROOT/build/test-pg"
mkdir -p "$OUT"
PASSED=0
FAILED=0
FAILED_NAMES=()

cleanup() { tools/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT

start_pg() {
  local port; port=$(tools/pg.sh freeport)
  rm -rf "$PGDIR"
  tools/pg.sh start "$PGDIR" "$port" || { echo "run-tests: cannot start PostgreSQL" >&2; exit 1; }
  export IBX_TEST_DATABASE_URL; IBX_TEST_DATABASE_URL=$(tools/pg.sh url "$PGDIR" "$port" postgres)
}

# Run one test binary; print its summary line; results in $OUT/<pass>/<name>.{log,rc}
run_one() {
  local bin=$1 dir=$2 name; name=$(basename "$bin")
  local log="$dir/$name.log"
  timeout -k 10 600 "$bin" >"$log" 2>&1
  echo $? > "$dir/$name.rc"
}
export -f run_one

run_pass() { # pass-name build-dir
  local pass=$1 build=$2 dir="$OUT/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  export IBX_BIN_DIR="$ROOT/$build/bin" IBX_TEST_OUTPUT="$dir"
  local bins; bins=$(ls "$build"/tests/unit/test_* "$build"/tests/integration/test_* 2>/dev/null | grep -v '\.d$' || true)
  if [ -z "$bins" ]; then echo "run-tests: no test binaries in $build" >&2; FAILED=$((FAILED + 1)); return; fi
  echo "== $pass: $(echo "$bins" | wc -l) test programs"
  echo "$bins" | xargs -P "$JOBS" -I{} bash -c 'run_one "$1" "$2"' _ {} "$dir"
  local b name rc p f
  for b in $bins; do
    name=$(basename "$b"); rc=$(cat "$dir/$name.rc" 2>/dev/null || echo 99)
    p=$(grep -aoE '^\[  PASSED  \] [0-9]+ test' "$dir/$name.log" | awk '{s+=$4} END {print s+0}')
    f=$(grep -aoE '^\[  FAILED  \] [0-9]+ test' "$dir/$name.log" | awk '{s+=$4} END {print s+0}')
    # a failed group setup or teardown (e.g. a service's sanitizer report at exit) is a failure
    # even where cmocka's exit code says otherwise
    if grep -aqE '^\[  (FAILED|ERROR)   ?\] (GROUP|tests)' "$dir/$name.log"; then
      [ "$rc" = 0 ] && rc=98
    fi
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    if [ "$rc" != 0 ]; then
      FAILED_NAMES+=("$pass/$name")
      echo "-- FAIL $pass/$name (exit $rc): last lines of $dir/$name.log"
      tail -n 25 "$dir/$name.log" | sed 's/^/   /'
    else
      printf '   ok   %-28s %3d passed\n' "$name" "$p"
    fi
  done
}

echo "== building (release)"
make -s -j2 BUILD=build/release build tests || { echo "tests: 0 passed, 1 failed"; exit 1; }
start_pg
run_pass release build/release
echo "== browser tests (tests/web, Chromium)"
IBX_BIN_DIR="$ROOT/build/release/bin" IBX_TEST_OUTPUT="$OUT/web" tools/web-test.sh >"$OUT/web.log" 2>&1
web_rc=$?
wp=$(awk '/^# pass / {print $3}' "$OUT/web.log" | tail -1); wf=$(awk '/^# fail / {print $3}' "$OUT/web.log" | tail -1)
wp=${wp:-0}; wf=${wf:-0}
if [ "$web_rc" != 0 ] && [ "$wf" = 0 ]; then wf=1; fi
PASSED=$((PASSED + wp)); FAILED=$((FAILED + wf))
if [ "$web_rc" != 0 ]; then
  FAILED_NAMES+=("web/ui.test.mjs"); echo "-- FAIL web (exit $web_rc): last lines of $OUT/web.log"; tail -n 30 "$OUT/web.log" | sed 's/^/   /'
else
  printf '   ok   %-28s %3d passed\n' "ui.test.mjs (browser)" "$wp"
fi
echo "== Kubernetes checks (tests/k8s: kustomize, helm, schemas, policies, skaffold; offline)"
IBX_BIN_DIR="$ROOT/build/release/bin" tools/k8s-test.sh >"$OUT/k8s.log" 2>&1
k8s_rc=$?
kp=$(awk '/^# pass / {print $3}' "$OUT/k8s.log" | tail -1); kf=$(awk '/^# fail / {print $3}' "$OUT/k8s.log" | tail -1)
kp=${kp:-0}; kf=${kf:-0}
if [ "$k8s_rc" != 0 ] && [ "$kf" = 0 ]; then kf=1; fi
PASSED=$((PASSED + kp)); FAILED=$((FAILED + kf))
if [ "$k8s_rc" != 0 ]; then
  FAILED_NAMES+=("k8s"); echo "-- FAIL k8s (exit $k8s_rc): last lines of $OUT/k8s.log"; tail -n 30 "$OUT/k8s.log" | sed 's/^/   /'
else
  printf '   ok   %-28s %3d passed\n' "tests/k8s" "$kp"
fi
if [ "$FAST" = 0 ]; then
  echo "== building (AddressSanitizer + UndefinedBehaviorSanitizer)"
  if make -s -j2 BUILD=build/asan SAN=1 build tests; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
    run_pass asan build/asan
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("asan/build")
  fi
fi

[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
echo "tests: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ ${#FAILED_NAMES[@]} -eq 0 ]
