#!/usr/bin/env bash
# k8s-multihost.sh: the suite across hosts, like pods on a cluster network. Each component
# runs in its own Linux network namespace with its own address on one bridge (10.77.0.0/24,
# namespaces made here and removed at the end), and reaches the others only through the
# addresses in its configuration, as in the Kubernetes manifests (IBX_*_URL, IBX_DATABASE_URL):
#   10.77.0.10 postgresql   10.77.0.11 kafka (dev broker)   10.77.0.20 gateway
#   10.77.0.21 selection    10.77.0.22 ml-pipeline          10.77.0.23 ml-pipeline-worker
#   10.77.0.30 the client (this script's curl)
# Then the main journey through the gateway's address only: sign in, upload a dataset,
# list the datasets, train a model (the API publishes it on Kafka, the worker on another
# host trains it, reading the dataset from selection), read its results and its model file.
# (Prediction is model-serving's, which has no prediction route yet.)
# PostgreSQL (tools/pg.sh) and the dev broker listen on their host's loopback only: a small
# relay on the host's address forwards to them. The dev broker (librdkafka's mock cluster)
# also tells clients to connect to 127.0.0.1: each service host has a relay "sidecar" from
# its own 127.0.0.1 to the broker host, the one place where an address is not the peer's.
# Needs root (ip netns) and the binaries (make build). Prints `multihost: N passed, N failed`.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
NET=10.77.0
ID=$$
W=$(mktemp -d /tmp/ibx-multihost-XXXXXX); chmod 755 "$W"
PIDS=() HOSTS=()
PASS=0 FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }

cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  ip netns exec "mh$ID-postgresql" "$ROOT/tools/pg.sh" stop "$W/pg" >/dev/null 2>&1
  for h in "${HOSTS[@]}"; do ip netns del "mh$ID-$h" 2>/dev/null; done
  ip netns del "mh$ID-net" 2>/dev/null
  echo "multihost: logs in $W"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "multihost: needs root (ip netns)"; exit 1; }
for b in ibx-gateway ibx-selection ibx-pipeline ibx-devbroker; do
  [ -x "$BIN/$b" ] || { echo "multihost: $BIN/$b is missing (make build)"; exit 1; }
done

# A TCP relay: listen on ADDR:PORT, forward every connection to TO_ADDR:TO_PORT.
cat >"$W/relay.py" <<'PY'
import asyncio, sys
la, lp, ta, tp = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        w.close()
async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection(ta, tp)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
async def main():
    server = await asyncio.start_server(handle, la, lp)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY

# The cluster network: a bridge in its own namespace; one namespace per host on it.
ip netns add "mh$ID-net"
ip netns exec "mh$ID-net" ip link add br0 type bridge
ip netns exec "mh$ID-net" ip link set br0 up
host() { # name address
  local ns="mh$ID-$1"
  HOSTS+=("$1")
  ip netns add "$ns"
  ip link add "v$ID$2" type veth peer name "b$ID$2"
  ip link set "v$ID$2" netns "$ns"
  ip link set "b$ID$2" netns "mh$ID-net"
  ip netns exec "mh$ID-net" ip link set "b$ID$2" master br0 up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set "v$ID$2" name eth0
  ip netns exec "$ns" ip addr add "$NET.$2/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
}
on() { local h=$1; shift; ip netns exec "mh$ID-$h" "$@"; }
bg() { # host log command...: start in the background on that host
  local h=$1 log=$2; shift 2
  ip netns exec "mh$ID-$h" "$@" >"$W/$log.log" 2>&1 &
  PIDS+=($!)
}
ready() { # host url seconds
  for _ in $(seq $(($3 * 10))); do on "$1" curl -fs -o /dev/null --max-time 2 "$2" && return 0; sleep 0.1; done
  return 1
}
host postgresql 10; host kafka 11; host gateway 20; host selection 21; host pipeline 22; host worker 23; host client 30

# PostgreSQL on its host (loopback), reachable at 10.77.0.10:5432
on postgresql "$ROOT/tools/pg.sh" start "$W/pg" 15432 >"$W/pg.log" 2>&1 || { echo "multihost: PostgreSQL did not start"; exit 1; }
on postgresql psql -q "postgresql://postgres@127.0.0.1:15432/postgres" -c "CREATE DATABASE ibisx" >/dev/null
bg postgresql pg-relay python3 "$W/relay.py" "$NET.10" 5432 127.0.0.1 15432
# the dev broker on its host; its port relayed from 10.77.0.11 and from every service host
bg kafka devbroker "$BIN/ibx-devbroker" --brokers 1 --bootstrap-file "$W/kafka"
for _ in $(seq 100); do [ -s "$W/kafka" ] && break; sleep 0.1; done
KPORT=$(sed 's/.*://' "$W/kafka")
bg kafka kafka-relay python3 "$W/relay.py" "$NET.11" "$KPORT" 127.0.0.1 "$KPORT"
for h in gateway selection pipeline worker; do
  bg "$h" "$h-kafka-sidecar" python3 "$W/relay.py" 127.0.0.1 "$KPORT" "$NET.11" "$KPORT"
done
sleep 0.5

common=(IBX_DATABASE_URL="postgresql://postgres@$NET.10:5432/ibisx" IBX_KAFKA_BROKERS="127.0.0.1:$KPORT"
        IBX_JWT_SECRET=multihost-secret-multihost-secret-0123 IBX_ARGON2_MEM_KIB=8192 IBX_ARGON2_OPS=1)
bg selection selection env "${common[@]}" PORT=8081 IBX_MIGRATIONS_DIR=services/selection/migrations "$BIN/ibx-selection"
ready client "http://$NET.21:8081/readyz" 30 && ok "selection ready at $NET.21:8081" || bad "selection not ready"
pipeline=(IBX_SELECTION_URL="http://$NET.21:8081" IBX_MIGRATIONS_DIR=services/ml-pipeline/migrations IBX_PIPELINE_PROGRESS_MS=100)
bg pipeline ml-pipeline env "${common[@]}" "${pipeline[@]}" PORT=8082 "$BIN/ibx-pipeline"
ready client "http://$NET.22:8082/readyz" 30 && ok "ml-pipeline ready at $NET.22:8082" || bad "ml-pipeline not ready"
bg worker ml-pipeline-worker env "${common[@]}" "${pipeline[@]}" PORT=8092 "$BIN/ibx-pipeline" --worker
ready client "http://$NET.23:8092/readyz" 30 && ok "ml-pipeline worker ready at $NET.23:8092" || bad "worker not ready"
ADMIN_PW=multihost-$ID-password
bg gateway gateway env "${common[@]}" PORT=8080 IBX_SELECTION_URL="http://$NET.21:8081" \
  IBX_PIPELINE_URL="http://$NET.22:8082" IBX_ADMIN_EMAIL=admin@ibisx.local IBX_ADMIN_PASSWORD="$ADMIN_PW" \
  IBX_MIGRATIONS_DIR=services/gateway/migrations "$BIN/ibx-gateway"
ready client "http://$NET.20:8080/readyz" 30 && ok "gateway ready at $NET.20:8080" || bad "gateway not ready"

# isolation: a service host does not reach the others' loopback services, nor the host's
if on selection curl -s -o /dev/null --max-time 2 "http://127.0.0.1:8080/healthz"; then
  bad "selection's host reaches a gateway on its own loopback"
else
  ok "selection's host has no gateway on its loopback (only $NET.20 serves it)"
fi

GW="http://$NET.20:8080"
call() { on client curl -sS --max-time 60 "$@"; }
body=$(printf '{"email":"admin@ibisx.local","password":"%s"}' "$ADMIN_PW")
token=$(call -H 'Content-Type: application/json' -d "$body" "$GW/api/v1/auth/login" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] && ok "sign-in through the gateway at $NET.20" || bad "sign-in"
AUTH=(-H "Authorization: Bearer $token")
code=$(call -o "$W/upload.json" -w '%{http_code}' "${AUTH[@]}" -F "metadata=<tools/demo/meta/iris.csv.json" \
  -F "files=@tools/demo/data/iris.csv" "$GW/api/v1/datasets")
[ "$code" = 201 ] && ok "upload of iris through the gateway to selection" || bad "upload: $code $(head -c 300 "$W/upload.json")"
list=$(call "${AUTH[@]}" "$GW/api/v1/datasets?page_size=20")
ds=$(printf '%s' "$list" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next((x["id"] for x in d["datasets"] if "iris" in x.get("name","").lower()), ""))' 2>/dev/null)
[ -n "$ds" ] && ok "the catalogue lists the dataset ($ds)" || bad "catalogue: $(printf '%s' "$list" | head -c 300)"
exp=$(printf '{"dataset_id":"%s","target_column":"species","algorithm":"decision_tree","hyperparameters":{},"test_size":0.2,"random_state":42}' "$ds")
run=$(call "${AUTH[@]}" -H 'Content-Type: application/json' -d "$exp" "$GW/api/v1/experiments" | sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p')
[ -n "$run" ] && ok "training requested ($run)" || bad "experiment not created"
status=""
for _ in $(seq 600); do
  status=$(call "${AUTH[@]}" "$GW/api/v1/experiments/$run" | sed -n 's/.*"status" *: *"\([^"]*\)".*/\1/p')
  case $status in completed | failed | cancelled) break ;; esac
  sleep 0.1
done
[ "$status" = completed ] && ok "the worker on $NET.23 trained it (status completed)" || bad "experiment status: $status"
res=$(call "${AUTH[@]}" "$GW/api/v1/experiments/$run/results")
printf '%s' "$res" | grep -q '"accuracy"' && ok "results through the gateway: $(printf '%s' "$res" | grep -o '"accuracy" *: *[0-9.]*' | head -1)" ||
  bad "results: $(printf '%s' "$res" | head -c 300)"
code=$(call -o "$W/model.bin" -w '%{http_code}' "${AUTH[@]}" "$GW/api/v1/experiments/$run/model")
[ "$code" = 200 ] && [ -s "$W/model.bin" ] && ok "model file downloaded ($(stat -c %s "$W/model.bin") bytes)" || bad "model file: $code"
grep -q "$run" "$W/ml-pipeline-worker.log" && ok "the experiment is in the worker host's log" || bad "the experiment is not in the worker's log"

echo "multihost: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
