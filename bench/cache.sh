#!/usr/bin/env bash
# Cache hits side by side: sluice's cache vs NGINX proxy_cache (and HAProxy's small object
# cache), one worker each, in front of the same nginx origin serving a 4 KiB file with
# `Cache-Control: max-age=3600`. wrk keep-alive (64 connections) on the one cached URL,
# alternating rounds; req/s, p99, proxy CPU µs/request. Every answer is a hit after the warm-up.
# Usage: bench/cache.sh [rounds=3] [seconds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; secs=${2:-5}
for t in haproxy nginx wrk; do command -v $t >/dev/null || { echo "need $t (apt-get install -y haproxy nginx wrk)" >&2; exit 1; }; done
[ -x target/release/sluice ] || cargo build --release -p sluice
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
chmod 755 "$work"; mkdir -p "$work/www" "$work/nc"
head -c 4096 /dev/urandom | base64 -w 76 | head -c 4096 >"$work/www/f"; chmod -R a+rX "$work/www"; chmod 777 "$work/nc"
cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; default_type text/plain;
  server { listen 127.0.0.1:18181; root $work/www; location / { add_header Cache-Control "max-age=3600"; } } }
NG
cat >"$work/nginx-proxy.conf" <<NG
worker_processes 1; daemon off; pid $work/np.pid; error_log $work/np.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  proxy_cache_path $work/nc keys_zone=edge:10m max_size=256m;
  upstream app { server 127.0.0.1:18181; keepalive 64; }
  server { listen 127.0.0.1:18192;
    location / { proxy_cache edge; add_header X-Cache-Status \$upstream_cache_status; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; } } }
NG
cat >"$work/haproxy.cfg" <<HA
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout client 60s
  timeout server 60s
  timeout connect 5s
cache edge
  total-max-size 256
  max-object-size 1048576
  max-age 3600
frontend fe
  bind 127.0.0.1:18190
  default_backend be
backend be
  http-request cache-use edge
  http-response cache-store edge
  server s1 127.0.0.1:18181
HA
cat >"$work/sluice.toml" <<SL
workers = 1
[caches.edge]
max_size = "256MiB"
[listeners.web]
bind = "127.0.0.1:18191"
[[listeners.web.routes]]
cluster = "app"
cache = { store = "edge" }
[clusters.app]
endpoints = ["127.0.0.1:18181"]
SL
nginx -c "$work/backends.conf" & sleep 0.3
haproxy -f "$work/haproxy.cfg" >/dev/null 2>&1 &
nginx -c "$work/nginx-proxy.conf" &
RUST_LOG=warn target/release/sluice run -c "$work/sluice.toml" &
sleep 1
declare -A rate p99 cpu
names=(haproxy sluice nginx); ports=(18190 18191 18192)
for i in 0 1 2; do
  curl -s -o /dev/null "http://127.0.0.1:${ports[$i]}/f"; curl -s -o /dev/null "http://127.0.0.1:${ports[$i]}/f"
  wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$i]}/f" >/dev/null   # warm
done
echo "sluice: $(curl -sI http://127.0.0.1:18191/f | grep -i '^cache-status' | tr -d '\r')"
echo "nginx: $(curl -sI http://127.0.0.1:18192/f | grep -i '^x-cache-status' | tr -d '\r')"
for r in $(seq 1 "$rounds"); do
  for i in 0 1 2; do
    nm=${names[$i]}
    t0=$(ticks "$nm")
    out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:${ports[$i]}/f")
    t1=$(ticks "$nm")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rate[$nm]+="$(awk '/^Requests\/sec/ {print $2}' <<<"$out") "
    p99[$nm]+="$(awk '$1=="99%" {print $2}' <<<"$out" | ms) "
    cpu[$nm]+="$(echo "($t1 - $t0) * 1000000 / $hz / $n" | bc -l) "
    grep -q "Non-2xx" <<<"$out" && echo "bench/cache: $nm answered non-2xx" >&2
  done
done
h=$(median <<<"${rate[nginx]}"); hp=$(median <<<"${p99[nginx]}"); hc=$(median <<<"${cpu[nginx]}")
printf '\ncache hits, 4 KiB, 64 connections (%s rounds of %ss)\n' "$rounds" "$secs"
printf '| proxy | req/s | ratio vs NGINX | p99 ms | p99 ratio | CPU µs/req | CPU ratio |\n|---|---|---|---|---|---|---|\n'
for nm in "${names[@]}"; do
  m=$(median <<<"${rate[$nm]}"); p=$(median <<<"${p99[$nm]}"); c=$(median <<<"${cpu[$nm]}")
  printf '| %s | %.0f | %s | %.2f | %s | %.1f | %s |\n' "$nm" "$m" "$(ratio "$m" "$h")" "$p" "$(ratio "$p" "$hp")" "$c" "$(ratio "$c" "$hc")"
done
