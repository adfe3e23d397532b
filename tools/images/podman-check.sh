#!/usr/bin/env bash
# podman-check.sh: runs the built images end to end with podman, as Kubernetes would run
# them: read-only root filesystem, user 65532, all capabilities dropped, no new privileges,
# /tmp a tmpfs. On this host: a throwaway PostgreSQL (tools/pg.sh) and the dev Kafka broker;
# in containers (host network, free ports): selection, the gateway, the web UI, and the
# demo loader, which signs in and uploads the demo datasets through the gateway. Checks
# /healthz, /readyz, /metrics, the catalogue through the gateway, the UI's page and headers.
# Prints `podman-check: N passed, N failed`. Needs `make images` first (IBX_IMAGE_TAG, dev).
#   IBX_PODMAN   the podman command (default: podman with runc and cgroupfs when runc is
#                installed: crun refuses hybrid cgroup hierarchies such as this machine's)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TAG=${IBX_IMAGE_TAG:-dev}
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
if [ -z "${IBX_PODMAN:-}" ]; then
  IBX_PODMAN=podman
  command -v runc >/dev/null && IBX_PODMAN="podman --runtime runc --cgroup-manager cgroupfs"
fi
read -r -a PODMAN <<<"$IBX_PODMAN"
W=$(mktemp -d /tmp/ibx-podman-XXXXXX); chmod 755 "$W"
NAMES=()
PASS=0 FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
cleanup() {
  for n in "${NAMES[@]}"; do "${PODMAN[@]}" logs "$n" >"$W/$n.log" 2>&1; "${PODMAN[@]}" rm -f "$n" >/dev/null 2>&1; done
  [ -n "${BROKER:-}" ] && kill "$BROKER" 2>/dev/null
  tools/pg.sh stop "$W/pg" >/dev/null 2>&1
  echo "podman-check: logs in $W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ready() { for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done; return 1; }
# as the manifests run them (k8s/*.yaml securityContext, /tmp an emptyDir)
run() { # name image [env...] [-- args]
  local short=$1 name=ibx-check-$1-$$ image=$2; shift 2
  local envs=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=(-e "$1"); shift; done
  [ "${1:-}" = -- ] && { shift; args=("$@"); }
  NAMES+=("$name")
  "${PODMAN[@]}" run -d --name "$name" --network host --read-only --tmpfs /tmp:rw,size=64m \
    --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges \
    --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
    "${envs[@]}" "localhost/ibisx/$image:$TAG" "${args[@]}" >/dev/null 2>"$W/$short.run.err" ||
    { bad "$image: podman run failed: $(grep -v CNI "$W/$short.run.err" | tail -2)"; return 1; }
}

pgport=$(free_port)
tools/pg.sh start "$W/pg" "$pgport" >"$W/pg.log" 2>&1 || { echo "podman-check: cannot start PostgreSQL"; exit 1; }
psql -q "$(tools/pg.sh url "$W/pg" "$pgport" postgres)" -c "CREATE DATABASE ibisx" >/dev/null
DB=$(tools/pg.sh url "$W/pg" "$pgport" ibisx)
"$BIN/ibx-devbroker" --bootstrap-file "$W/kafka" >"$W/devbroker.log" 2>&1 & BROKER=$!
for _ in $(seq 100); do [ -s "$W/kafka" ] && break; sleep 0.1; done
SEL=$(free_port) GW=$(free_port) WEB=$(free_port)
common=(IBX_BIND=127.0.0.1 "IBX_DATABASE_URL=$DB" "IBX_KAFKA_BROKERS=$(cat "$W/kafka")"
        IBX_JWT_SECRET=podman-check-secret-podman-check-secret-0123 IBX_ARGON2_MEM_KIB=8192 IBX_ARGON2_OPS=1)
ADMIN_PW=podman-check-$$-password

run selection selection "${common[@]}" "PORT=$SEL"
ready "$SEL" /readyz && ok "selection image: /readyz on $SEL" || bad "selection image not ready"
run gateway gateway "${common[@]}" "PORT=$GW" "IBX_SELECTION_URL=http://127.0.0.1:$SEL" \
  IBX_ADMIN_EMAIL=admin@ibisx.local "IBX_ADMIN_PASSWORD=$ADMIN_PW"
if ready "$GW" /readyz; then ok "gateway image: /readyz on $GW"; else bad "gateway image not ready"; fi
curl -fs "http://127.0.0.1:$GW/healthz" >/dev/null && ok "gateway /healthz" || bad "gateway /healthz"
curl -fs "http://127.0.0.1:$GW/metrics" | grep -q '^# TYPE' && ok "gateway /metrics (Prometheus text)" || bad "gateway /metrics"

# the demo loader, as the Job runs it
name=ibx-check-demo-$$; NAMES+=("$name")
"${PODMAN[@]}" run --name "$name" --network host --read-only --tmpfs /tmp:rw,size=64m --user 65532:65532 \
  --cap-drop ALL --security-opt no-new-privileges --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" \
  --ulimit nproc=4096:4096 "localhost/ibisx/demo-loader:$TAG" "http://127.0.0.1:$GW" admin@ibisx.local "$ADMIN_PW" \
  >"$W/demo.out" 2>&1
if grep -q 'demo datasets: [1-9][0-9]* loaded' "$W/demo.out"; then ok "demo-loader image: $(grep 'demo datasets' "$W/demo.out")"
else bad "demo-loader image: $(grep -v CNI "$W/demo.out" | tail -3)"; fi

body=$(printf '{"email":"admin@ibisx.local","password":"%s"}' "$ADMIN_PW")
token=$(curl -fs -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$GW/api/v1/auth/login" |
  sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] && ok "sign-in through the gateway container" || bad "sign-in"
list=$(curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$GW/api/v1/datasets?page_size=50")
echo "$list" | grep -q '"iris' && ok "the catalogue (gateway -> selection containers) lists the demo datasets" ||
  bad "catalogue: $(echo "$list" | head -c 300)"

# the web image listens on 8080 (its pod's port): checked only when 8080 is free here
if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/; then
  echo "skip web image: port 8080 is in use on this host"
else
  run web web
  if ready 8080 /readyz; then
    h=$(curl -fsD - -o "$W/index.html" http://127.0.0.1:8080/datasets)
    grep -q '<html' "$W/index.html" && echo "$h" | grep -qi "^content-security-policy: default-src 'self'" &&
      ok "web image: index.html for an app route, with the gateway's Content-Security-Policy" || bad "web page or headers"
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/missing.js)" = 404 ] && ok "web image: a missing file is 404" || bad "web 404"
    curl -fs -o /dev/null http://127.0.0.1:8080/vendor/chart.umd.min.js && ok "web image: vendored Chart.js served" || bad "web vendor"
  else
    bad "web image not ready: $(grep -v CNI "$W/web.run.err" | tail -2)"
  fi
fi
echo "podman-check: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
