#!/usr/bin/env bash
# run.sh: `make bench`: run every bench/<name>/run.sh in turn.
set -uo pipefail
cd "$(dirname "$0")"
found=0
rc=0
for b in */run.sh; do
  [ -f "$b" ] || continue
  found=1
  echo "== bench/$(dirname "$b")"
  bash "$b" || rc=1
done
[ "$found" = 1 ] || echo "bench: no benchmarks yet (each lands with its issue)"
exit $rc
