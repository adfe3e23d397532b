#!/usr/bin/env bash
# stack.sh: the local IBIS-X stack for `make up`, `make down` and `make logs`.
# Everything it starts lives under .run/ (git-ignored): PostgreSQL data, the dev broker's
# address, generated secrets, pid files and logs. `up` is idempotent: what is already
# running is kept. `down` stops everything it started, by pid.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/.run"
BIN="${IBX_BIN_DIR:-$ROOT/build/release/bin}"
LOGS="$RUN/logs"
SERVICES=(selection ml-pipeline ml-pipeline-worker xai-engine xai-engine-worker model-serving gateway)

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*"; }

bin_of() {
  case $1 in
    gateway) echo ibx-gateway ;; selection) echo ibx-selection ;;
    ml-pipeline | ml-pipeline-worker) echo ibx-pipeline ;; xai-engine | xai-engine-worker) echo ibx-xai ;;
    model-serving) echo ibx-serving ;;
  esac
}
port_of() {
  case $1 in
    gateway) echo 8080 ;; selection) echo 8081 ;; ml-pipeline) echo 8082 ;;
    xai-engine) echo 8083 ;; model-serving) echo 8084 ;; ml-pipeline-worker) echo 8092 ;;
    xai-engine-worker) echo 8093 ;;
  esac
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A secret generated once and kept in .run/NAME (mode 600).
secret() {
  local f="$RUN/$1"
  if [ ! -s "$f" ]; then
    (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c "$2" > "$f")
  fi
  cat "$f"
}

wait_ready() { # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

start_pg() {
  local port
  if [ -f "$RUN/pg.port" ] && "$ROOT/tools/pg.sh" start "$RUN/pg" "$(cat "$RUN/pg.port")" 2>/dev/null; then
    :
  else
    port=$("$ROOT/tools/pg.sh" freeport)
    "$ROOT/tools/pg.sh" start "$RUN/pg" "$port"
    echo "$port" > "$RUN/pg.port"
  fi
  port=$(cat "$RUN/pg.port")
  local admin; admin=$("$ROOT/tools/pg.sh" url "$RUN/pg" "$port" postgres)
  if ! psql -qtA "$admin" -c "SELECT 1 FROM pg_database WHERE datname='ibisx'" | grep -q 1; then
    psql -q "$admin" -c "CREATE DATABASE ibisx" >/dev/null
  fi
  DB_URL=$("$ROOT/tools/pg.sh" url "$RUN/pg" "$port" ibisx)
  say "PostgreSQL on 127.0.0.1:$port"
}

start_broker() {
  if ! alive "$RUN/devbroker.pid"; then
    rm -f "$RUN/kafka.bootstrap"
    "$BIN/ibx-devbroker" --bootstrap-file "$RUN/kafka.bootstrap" >>"$LOGS/devbroker.log" 2>&1 &
    echo $! > "$RUN/devbroker.pid"
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$RUN/kafka.bootstrap" ] && break; sleep 0.1; done
    [ -s "$RUN/kafka.bootstrap" ] || die "the dev broker did not start; see $LOGS/devbroker.log"
  fi
  BROKERS=$(cat "$RUN/kafka.bootstrap")
  say "dev Kafka broker at $BROKERS"
}

start_service() {
  local svc=$1 port; port=$(port_of "$svc")
  local pidf="$RUN/$svc.pid"
  if alive "$pidf"; then return 0; fi
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"; then
    die "port $port (for $svc) is already used by another program; stop it and retry"
  fi
  (
    cd "$ROOT"
    export PORT=$port IBX_BIND=127.0.0.1 IBX_DATABASE_URL="$DB_URL" IBX_KAFKA_BROKERS="$BROKERS" \
      IBX_JWT_SECRET="$JWT_SECRET" IBX_CORS_ORIGINS="http://localhost:8080"
    if [ "$svc" = gateway ]; then
      export IBX_ADMIN_EMAIL=admin@ibisx.local IBX_ADMIN_PASSWORD="$ADMIN_PASSWORD"
    fi
    # the pipeline and xai workers are the same binaries in their Kafka worker mode (their
    # ports serve only /healthz, /readyz and /metrics)
    local args=()
    if [ "$svc" = ml-pipeline-worker ] || [ "$svc" = xai-engine-worker ]; then args=(--worker); fi
    exec "$BIN/$(bin_of "$svc")" "${args[@]}" >>"$LOGS/$svc.log" 2>&1
  ) &
  echo $! > "$pidf"
}

up() {
  mkdir -p "$RUN" "$LOGS"
  for svc in "${SERVICES[@]}"; do
    [ -x "$BIN/$(bin_of "$svc")" ] || die "$BIN/$(bin_of "$svc") is missing: run make build first"
  done
  JWT_SECRET=$(secret jwt-secret 48)
  ADMIN_PASSWORD=$(secret admin-password 20)
  start_pg
  start_broker
  for svc in "${SERVICES[@]}"; do start_service "$svc"; done
  for svc in "${SERVICES[@]}"; do
    wait_ready "http://127.0.0.1:$(port_of "$svc")/readyz" 60 ||
      die "$svc did not become ready; see $LOGS/$svc.log"
  done
  "$ROOT/tools/demo/load.sh" "http://127.0.0.1:$(port_of gateway)" admin@ibisx.local "$ADMIN_PASSWORD" ||
    die "the demo datasets could not be loaded; see $LOGS/selection.log"
  cat <<MSG

IBIS-X is running: http://localhost:8080
  admin account: admin@ibisx.local  password: $ADMIN_PASSWORD  (kept in .run/admin-password)
  logs: make logs      stop: make down
MSG
}

stop_pid() { # pidfile name
  local pidf=$1 pid i
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$2 did not stop in 15 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidf"
}

down() {
  [ -d "$RUN" ] || { say "nothing is running"; return 0; }
  local i
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_pid "$RUN/${SERVICES[$i]}.pid" "${SERVICES[$i]}"; done
  stop_pid "$RUN/devbroker.pid" devbroker
  rm -f "$RUN/kafka.bootstrap"
  if [ -d "$RUN/pg" ]; then "$ROOT/tools/pg.sh" stop "$RUN/pg"; fi
  say "stopped"
}

logs() {
  mkdir -p "$LOGS"
  exec tail -n 50 -F "$LOGS"/*.log
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  logs) logs ;;
  *) die "usage: stack.sh up|down|logs" ;;
esac
