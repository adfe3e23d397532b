#!/usr/bin/env bash
# web-test.sh: the browser end-to-end tests (tests/web, playwright-core driving Debian's
# Chromium) against a gateway, selection, ml-pipeline's API and one training worker
# (ibx-pipeline --worker) started here on free ports with the dev broker, serving the
# real UI from services/web/dist. Needs IBX_TEST_DATABASE_URL (run-tests.sh sets it)
# and the binaries in $IBX_BIN_DIR. Prints node's test summary.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
OUT=${IBX_TEST_OUTPUT:-$ROOT/test-output/web}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/ibx-web-XXXXXX)
PIDS=()
DB=ibx_test_web_$$
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  psql -q "$IBX_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  cp "$W"/*.log "$OUT"/ 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null; then
  echo "web-test: chromium or node is missing (make install)"; exit 1
fi
if [ ! -d tests/web/node_modules/playwright-core ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error) || { echo "web-test: npm ci failed"; exit 1; }
fi
tools/web-vendor.sh || { echo "web-test: the web UI's vendored libraries could not be installed"; exit 1; }
psql -q "$IBX_TEST_DATABASE_URL" -c "CREATE DATABASE $DB" >/dev/null || exit 1
DB_URL=${IBX_TEST_DATABASE_URL%/*}/$DB
"$BIN/ibx-devbroker" --bootstrap-file "$W/kafka" >"$W/devbroker.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/kafka" ] && break; sleep 0.1; done
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
SEL=$(free_port); GW=$(free_port); PL=$(free_port); WK=$(free_port)
common=(IBX_BIND=127.0.0.1 IBX_DATABASE_URL="$DB_URL" IBX_KAFKA_BROKERS="$(cat "$W/kafka")"
        IBX_JWT_SECRET=web-test-secret-web-test-secret-0123 IBX_ARGON2_MEM_KIB=8192 IBX_ARGON2_OPS=1)
ready() { # port: waits up to 20 s for /readyz
  for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$1/readyz" && return 0; sleep 0.1; done
  return 1
}
env "${common[@]}" PORT=$SEL IBX_MIGRATIONS_DIR=services/selection/migrations \
  "$BIN/ibx-selection" >"$W/selection.log" 2>&1 & PIDS+=($!)
# ml-pipeline: the API first (it applies the migrations), then one worker that trains.
pipeline=(IBX_SELECTION_URL=http://127.0.0.1:$SEL IBX_MIGRATIONS_DIR=services/ml-pipeline/migrations
          IBX_PIPELINE_PROGRESS_MS=100)
ready "$SEL"
env "${common[@]}" "${pipeline[@]}" PORT=$PL "$BIN/ibx-pipeline" >"$W/ml-pipeline.log" 2>&1 & PIDS+=($!)
ready "$PL" || echo "web-test: ml-pipeline did not become ready: $(tail -n 3 "$W/ml-pipeline.log")"
env "${common[@]}" "${pipeline[@]}" PORT=$WK "$BIN/ibx-pipeline" --worker \
  >"$W/ml-pipeline-worker.log" 2>&1 & PIDS+=($!)
ADMIN_PW=web-test-admin-$$-password
env "${common[@]}" PORT=$GW IBX_SELECTION_URL=http://127.0.0.1:$SEL IBX_PIPELINE_URL=http://127.0.0.1:$PL \
  IBX_WEB_DIR=services/web/dist \
  IBX_ADMIN_EMAIL=admin@ibisx.local IBX_ADMIN_PASSWORD="$ADMIN_PW" \
  IBX_MIGRATIONS_DIR=services/gateway/migrations "$BIN/ibx-gateway" >"$W/gateway.log" 2>&1 & PIDS+=($!)
for port in $WK $GW; do ready "$port"; done
# The demo catalogue, loaded as `make up` does: the dataset tests open iris and filter on it.
if tools/demo/load.sh "http://127.0.0.1:$GW" admin@ibisx.local "$ADMIN_PW" >"$W/demo.log" 2>&1; then
  export IBX_DEMO_LOADED=1
else
  echo "web-test: the demo datasets could not be loaded: $(tail -n 3 "$W/demo.log")"
fi
cd tests/web && IBX_WEB_URL=http://127.0.0.1:$GW IBX_TEST_OUTPUT="$OUT" node --test ui.test.mjs datasets.test.mjs train.test.mjs
