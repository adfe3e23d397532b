#!/usr/bin/env bash
# bench/gateway: our gateway (JWT verification, internal token, rate limiting on with a
# limit high enough never to bind, so the limiter's full cost is measured)
# proxying to a trivial upstream, against nginx as a reverse proxy with upstream
# keep-alive to the same upstream. Same wrk load for both, in one run; prints
# requests/s, p50/p99 and the ratio. Then latency at half load: ibx-loadgen (open loop,
# latency from each request's scheduled send time) at half the lower of the two maxima,
# against the upstream directly, nginx and the gateway; prints p50/p99/p99.9 and the
# latency each proxy adds to the direct call. Not a test: figures only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=${IBX_BIN_DIR:-$ROOT/build/release/bin}
DUR=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
LAT_DUR=${BENCH_LATENCY_DURATION:-10}
W=$(mktemp -d /tmp/ibx-bench-gw-XXXXXX); chmod 755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
  tools/pg.sh stop "$W/pg" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

command -v nginx >/dev/null && command -v wrk >/dev/null || { echo "bench/gateway: needs nginx and wrk (make install)"; exit 1; }
make -s -j2 BUILD=build/release build

UP=$(tools/pg.sh freeport); NGX=$(tools/pg.sh freeport); GW=$(tools/pg.sh freeport); PG=$(tools/pg.sh freeport)
mkdir -p "$W/nginx"
# one nginx process serves both the trivial upstream and the reverse proxy (2 workers)
cat > "$W/nginx.conf" <<CONF
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/nginx; proxy_temp_path $W/nginx;
  fastcgi_temp_path $W/nginx; uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
  upstream trivial { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$UP; location / { default_type application/json;
           return 200 '{"datasets":[],"total_count":0,"page":1,"page_size":12,"total_pages":0}'; } }
  server { listen 127.0.0.1:$NGX; location / { proxy_pass http://trivial;
           proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
nginx -c "$W/nginx.conf"

tools/pg.sh start "$W/pg" "$PG"
"$BIN/ibx-devbroker" --bootstrap-file "$W/kafka" >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/kafka" ] && break; sleep 0.1; done
PORT=$GW IBX_BIND=127.0.0.1 IBX_DATABASE_URL=$(tools/pg.sh url "$W/pg" "$PG" postgres) \
  IBX_KAFKA_BROKERS=$(cat "$W/kafka") IBX_JWT_SECRET=bench-secret-bench-secret-bench-secret-0 \
  IBX_SELECTION_URL=http://127.0.0.1:$UP IBX_ACCESS_LOG=false IBX_LOG_LEVEL=warn \
  IBX_RATE_API_PER_MIN=1000000 IBX_RATE_API_BURST=1000000 IBX_RATE_LEASE_MAX=${BENCH_LEASE_MAX:-1000} \
  "$BIN/ibx-gateway" 2>"$W/gateway.log" & PIDS+=($!)
GWPID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$GW/readyz" && break; sleep 0.1; done
TOKEN=$(curl -fs "http://127.0.0.1:$GW/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.org","password":"bench-password"}' |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
# sanity: both answer the same body
diff <(curl -fs "http://127.0.0.1:$NGX/api/v1/datasets") \
     <(curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/api/v1/datasets") >/dev/null

# CPU time (user + system, in clock ticks) of the gateway and of nginx's workers
cpu_gw() { awk '{print $14 + $15}' "/proc/$GWPID/stat"; }
cpu_ngx() {
  local t=0 p
  for p in $(pgrep -P "$(cat "$W/nginx.pid")"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
run_wrk() { # name url [header] key
  local out g0 n0
  g0=$(cpu_gw); n0=$(cpu_ngx)
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c"$CONNS" -d"$DUR" --latency -H "$3" "$2")
  else
    out=$(wrk -t2 -c"$CONNS" -d"$DUR" --latency "$2")
  fi
  local rps p50 p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf '%-34s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errs:-0}"
  eval "RPS_$4=$rps"
  eval "CPU_GW_$4=$(( $(cpu_gw) - g0 )) CPU_NGX_$4=$(( $(cpu_ngx) - n0 ))"
  eval "REQS_$4=$(echo "$out" | awk '/requests in/ {print $1}')"
}

echo "bench/gateway: wrk -t2 -c$CONNS -d$DUR, GET /api/v1/datasets, upstream = nginx return 200"
run_wrk "upstream directly" "http://127.0.0.1:$UP/api/v1/datasets" "" DIRECT
run_wrk "nginx reverse proxy (keepalive)" "http://127.0.0.1:$NGX/api/v1/datasets" "" NGINX
if [ -n "${BENCH_PROFILE:-}" ]; then # perf profile of the gateway under the same load
  perf record -F 1999 -g -p "$GWPID" -o "$W/perf.data" -- sleep 4 >/dev/null 2>&1 &
  PERF=$!
fi
run_wrk "ibx-gateway (JWT + internal token)" "http://127.0.0.1:$GW/api/v1/datasets" "Authorization: Bearer $TOKEN" GW
if [ -n "${BENCH_PROFILE:-}" ]; then
  wait "$PERF" || true
  perf report -i "$W/perf.data" --stdio --children --sort symbol -g none 2>/dev/null | grep -v '^#' | grep '%' | head -70 > "$BENCH_PROFILE"
fi
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$GWPID/status")
python3 - "$RPS_GW" "$RPS_NGINX" "$RSS" "$(getconf CLK_TCK)" "$REQS_NGINX" "$CPU_NGX_NGINX" "$REQS_GW" "$CPU_GW_GW" "$CPU_NGX_GW" <<'PY'
import sys
gw, ngx, rss, hz = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rn, cn, rg, cg, cu = (float(x) for x in sys.argv[5:10])
us = lambda ticks, reqs: ticks / hz * 1e6 / reqs
print(f"ratio ibx-gateway / nginx: {gw / ngx:.2f}x   (gateway resident memory after the run: {rss / 1024:.1f} MiB)")
# CPU per request is far less sensitive than req/s to whatever else runs on the machine
print(f"CPU per request: ibx-gateway {us(cg, rg):.1f} us + upstream {us(cu, rg):.1f} us;"
      f" nginx as proxy and upstream {us(cn, rn):.1f} us")
PY

# latency at half load: the same fixed rate for all three, half the lower maximum
RATE=$(python3 -c "print(int(min(float('$RPS_GW'), float('$RPS_NGINX')) / 2))")
echo "half load: ibx-loadgen -r $RATE -d $LAT_DUR -c $CONNS (open loop; latency from the scheduled send time)"
run_lat() { # name key url [header]
  local out
  if [ -n "${4:-}" ]; then
    out=$("$BIN/ibx-loadgen" --kv -r "$RATE" -d "$LAT_DUR" -c "$CONNS" -H "$4" "$3" || true)
  else
    out=$("$BIN/ibx-loadgen" --kv -r "$RATE" -d "$LAT_DUR" -c "$CONNS" "$3" || true)
  fi
  eval "LAT_$2='$out'"
  python3 - "$1" "$out" <<'PY'
import sys
name, kv = sys.argv[1], dict(x.split("=", 1) for x in sys.argv[2].split())
bad = int(kv.get("errors", 1)) + int(kv.get("timeouts", 1)) + int(kv.get("non2xx", 1))
print(f"{name:<34} p50 {float(kv['p50_us'])/1000:7.3f} ms  p99 {float(kv['p99_us'])/1000:7.3f} ms  "
      f"p99.9 {float(kv['p99.9_us'])/1000:7.3f} ms  max {float(kv['max_us'])/1000:7.3f} ms  "
      f"({kv['achieved']} req/s, failed {bad})")
PY
}
run_lat "upstream directly" DIRECT "http://127.0.0.1:$UP/api/v1/datasets"
run_lat "nginx reverse proxy (keepalive)" NGINX "http://127.0.0.1:$NGX/api/v1/datasets"
run_lat "ibx-gateway (JWT + internal token)" GW "http://127.0.0.1:$GW/api/v1/datasets" "Authorization: Bearer $TOKEN"
python3 - "$LAT_DIRECT" "$LAT_NGINX" "$LAT_GW" <<'PY'
import sys
d, n, g = (dict(x.split("=", 1) for x in a.split()) for a in sys.argv[1:4])
def added(kv, q):
    return (float(kv[q]) - float(d[q])) / 1000
for name, kv in (("nginx", n), ("ibx-gateway", g)):
    print(f"added latency over the direct call, {name}: p50 {added(kv, 'p50_us'):+.3f} ms  "
          f"p99 {added(kv, 'p99_us'):+.3f} ms  p99.9 {added(kv, 'p99.9_us'):+.3f} ms")
PY
