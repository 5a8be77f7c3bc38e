#!/usr/bin/env bash
# Quick side-by-side: sluice vs HAProxy (and NGINX as a proxy) in front of the same two
# nginx `return 200` backends, one proxy thread each, wrk -t1 -c64, alternating rounds
# (A B C A B C ...) so drift hits all alike. Prints median req/s and p99 per proxy and
# the ratio to HAProxy. The full harness is issue 8; this is the spine's sanity figure.
# Usage: bench/quick.sh [rounds=3] [seconds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; secs=${2:-5}
for t in haproxy nginx wrk; do command -v $t >/dev/null || { echo "need $t (apt-get install -y haproxy nginx wrk)" >&2; exit 1; }; done
[ -x target/release/sluice ] || cargo build --release -p sluice
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT

cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18081; location / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:18082; location / { return 200 "ok\n"; } } }
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
  http-reuse always
frontend fe
  bind 127.0.0.1:18090
  default_backend be
backend be
  balance roundrobin
  server s1 127.0.0.1:18081
  server s2 127.0.0.1:18082
HA
cat >"$work/nginx-proxy.conf" <<NG
worker_processes 1; daemon off; pid $work/np.pid; error_log $work/np.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:18081; server 127.0.0.1:18082; keepalive 64; }
  server { listen 127.0.0.1:18092; location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; } } }
NG
cat >"$work/sluice.toml" <<SL
workers = 1
[listeners.web]
bind = "127.0.0.1:18091"
[[listeners.web.routes]]
cluster = "app"
[clusters.app]
endpoints = ["127.0.0.1:18081", "127.0.0.1:18082"]
SL
nginx -c "$work/backends.conf" & sleep 0.3
haproxy -f "$work/haproxy.cfg" >/dev/null 2>&1 &
nginx -c "$work/nginx-proxy.conf" &
RUST_LOG=warn target/release/sluice run -c "$work/sluice.toml" &
sleep 1

declare -A rps p99 cpu
names=(haproxy sluice nginx); ports=(18090 18091 18092)
for r in $(seq 1 "$rounds"); do
  for i in 0 1 2; do
    n=${names[$i]}
    wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$i]}/" >/dev/null 2>&1   # warm the pools
    t0=$(ticks "$n")
    out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:${ports[$i]}/")
    t1=$(ticks "$n")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu[$n]+="$(echo "($t1 - $t0) * 1000000 / $hz / $reqs" | bc -l) "
    rps[$n]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p99[$n]+="$(awk '$1=="99%" {v=$2; if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out") "
  done
done
h=$(median <<<"${rps[haproxy]}"); hp=$(median <<<"${p99[haproxy]}")
hc=$(median <<<"${cpu[haproxy]}")
printf '| proxy | req/s (median of %s) | ratio vs HAProxy | p99 ms | p99 ratio | CPU µs/req | CPU ratio |\n|---|---|---|---|---|---|---|\n' "$rounds"
for n in "${names[@]}"; do
  m=$(median <<<"${rps[$n]}"); p=$(median <<<"${p99[$n]}"); c=$(median <<<"${cpu[$n]}")
  printf '| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$n" "$m" "$(echo "$m / $h" | bc -l)" "$p" "$(echo "$p / $hp" | bc -l)" "$c" "$(echo "$c / $hc" | bc -l)"
done
