#!/usr/bin/env bash
# Issue 19's proof: one of three backends killed (SIGKILL, a real process) under eight
# keep-alive clients, with health checks every 200 ms and retries on connect failures and
# resets. Counts what the clients saw that was not a 2xx, per run and in total.
# Usage: bench/kill-loop.sh [runs=20] [seconds=3] [sluice binary=target/release/sluice]
# Needs nginx and wrk (apt-get install -y nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}; secs=${2:-3}; bin=${3:-target/release/sluice}
work=$(mktemp -d /tmp/sluice-kill.XXXXXX)
base=${BASE_PORT:-19100}
cleanup() { pkill -9 -f "nginx -c $work" 2>/dev/null || true; pkill -f "sluice run -c $work" 2>/dev/null || true; }
trap cleanup EXIT

for i in 1 2 3; do
  cat > "$work/nginx$i.conf" <<NGX
daemon off; master_process off; worker_processes 1; pid $work/nginx$i.pid;
error_log $work/nginx$i.err;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000;
  server { listen 127.0.0.1:$((base + i)); location / { return 200 "backend $i\n"; } } }
NGX
done
cat > "$work/sluice.toml" <<TOML
workers = ${WORKERS:-1}
[admin]
bind = "127.0.0.1:$((base + 10))"
[listeners.web]
bind = "127.0.0.1:$base"
[[listeners.web.routes]]
cluster = "c"
[clusters.c]
endpoints = ["127.0.0.1:$((base + 1))", "127.0.0.1:$((base + 2))", "127.0.0.1:$((base + 3))"]
health = { kind = "http", path = "/", interval = "200ms", timeout = "100ms", rise = 2, fall = 2 }
retries = { attempts = 2, on = ["connect-failure", "reset"] }
TOML

total=0; bad=0
for run in $(seq 1 "$runs"); do
  for i in 1 2 3; do nginx -c "$work/nginx$i.conf" 2>/dev/null & done
  NO_COLOR=1 "$bin" run -c "$work/sluice.toml" >"$work/sluice.log" 2>&1 &
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$base/" >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 0.5
  wrk -t1 -c8 -d"${secs}s" "http://127.0.0.1:$base/" > "$work/wrk.out" &
  wrk_pid=$!
  sleep "$(echo "$secs / 3" | bc -l)"
  pkill -9 -f "nginx -c $work/nginx2.conf"
  wait "$wrk_pid" 2>/dev/null
  n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out"); non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.out"); sock=${sock:-0}
  codes=$(grep -o 'error="[a-z_]*"\|retry refused' "$work/sluice.log" | sort | uniq -c | tr -s ' \n' ' ' || true)
  echo "run $run: $n requests, $non2xx non-2xx, $sock socket errors; sluice logged: ${codes:-nothing}"
  total=$((total + n)); bad=$((bad + non2xx + sock))
  cleanup; wait 2>/dev/null || true; sleep 0.2
done
echo "kill-loop: $runs runs, $total requests, $bad client errors"
