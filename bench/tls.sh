#!/usr/bin/env bash
# TLS side by side: sluice vs HAProxy vs NGINX terminating TLS (ECDSA P-256, TLS 1.3, ALPN
# h2) in front of the same two nginx `return 200` backends over HTTP/1.1 keep-alive, one
# proxy thread each, alternating rounds so drift hits all alike. Two scenarios:
#   h2   — h2load -c 8 -m 32 (multiplexed HTTP/2 over TLS), req/s and proxy CPU µs/request;
#   conn — h2load -n N -c N (every connection does one full handshake and one request),
#          new TLS connections per second and proxy CPU µs per connection.
# Prints medians and ratios against HAProxy. Usage: bench/tls.sh [rounds=3] [requests=100000] [workers=1]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; n=${2:-100000}; conns=400; workers=${3:-1}
[ "$workers" = all ] && workers=$(nproc)
for t in haproxy nginx h2load openssl; do command -v $t >/dev/null || { echo "need $t (apt-get install -y haproxy nginx nghttp2-client openssl)" >&2; exit 1; }; done
[ -x target/release/sluice ] || cargo build --release -p sluice
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" -out "$work/c.pem" \
  -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null
cat "$work/c.pem" "$work/k.pem" >"$work/both.pem"

cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18181; location / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:18182; location / { return 200 "ok\n"; } } }
NG
cat >"$work/haproxy.cfg" <<HA
global
  nbthread $workers
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout client 60s
  timeout server 60s
  timeout connect 5s
  http-reuse always
frontend fe
  bind 127.0.0.1:18190 ssl crt $work/both.pem alpn h2,http/1.1
  default_backend be
backend be
  balance roundrobin
  server s1 127.0.0.1:18181
  server s2 127.0.0.1:18182
HA
cat >"$work/nginx-proxy.conf" <<NG
worker_processes $workers; daemon off; pid $work/np.pid; error_log $work/np.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:18181; server 127.0.0.1:18182; keepalive 64; }
  server { listen 127.0.0.1:18192 ssl http2; ssl_certificate $work/c.pem; ssl_certificate_key $work/k.pem;
    ssl_protocols TLSv1.3; http2_max_concurrent_streams 128;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; } } }
NG
cat >"$work/sluice.toml" <<SL
workers = $workers
[listeners.web]
bind = "127.0.0.1:18191"
[listeners.web.tls]
certs = [{ cert = "c.pem", key = "k.pem" }]
[[listeners.web.routes]]
cluster = "app"
[clusters.app]
endpoints = ["127.0.0.1:18181", "127.0.0.1:18182"]
SL
nginx -c "$work/backends.conf" & sleep 0.3
haproxy -f "$work/haproxy.cfg" >/dev/null 2>&1 &
nginx -c "$work/nginx-proxy.conf" &
RUST_LOG=warn target/release/sluice run -c "$work/sluice.toml" &
sleep 1

declare -A rate cpu
names=(haproxy sluice nginx); ports=(18190 18191 18192)
run() { # scenario name port -> "rate cpu_us"
  local args
  case $1 in h2) args="-n $n -c 8 -m 32" ;; conn) args="-n $conns -c $conns -m 1" ;; esac
  local t0 t1 out
  t0=$(ticks "$2")
  # shellcheck disable=SC2086
  out=$(h2load $args "https://127.0.0.1:$3/" 2>&1)
  t1=$(ticks "$2")
  grep -q " 0 failed, 0 errored" <<<"$out" || { echo "bench/tls: failures for $2 ($1): $(grep requests: <<<"$out")" >&2; }
  local done_n per
  done_n=$(awk '/^requests:/ {print $8}' <<<"$out")
  per=$(awk '/^finished in/ {print $4}' <<<"$out")
  echo "$per $(echo "($t1 - $t0) * 1000000 / $hz / $done_n" | bc -l)"
}
for s in h2 conn; do
  for r in $(seq 1 "$rounds"); do
    for i in 0 1 2; do
      nm=${names[$i]}
      [ "$r" = 1 ] && h2load -n 2000 -c 8 -m 32 "https://127.0.0.1:${ports[$i]}/" >/dev/null 2>&1   # warm
      read -r rt c < <(run "$s" "$nm" "${ports[$i]}")
      rate[$s.$nm]+="$rt "; cpu[$s.$nm]+="$c "
    done
  done
done
for s in h2 conn; do
  unit=$([ $s = h2 ] && echo "req/s" || echo "new conns/s")
  h=$(median <<<"${rate[$s.haproxy]}"); hc=$(median <<<"${cpu[$s.haproxy]}")
  printf '\n%s (%s rounds)\n| proxy | %s | ratio vs HAProxy | CPU µs per %s | CPU ratio |\n|---|---|---|---|---|\n' \
    "$s" "$rounds" "$unit" "$([ $s = h2 ] && echo request || echo connection)"
  for nm in "${names[@]}"; do
    m=$(median <<<"${rate[$s.$nm]}"); c=$(median <<<"${cpu[$s.$nm]}")
    printf '| %s | %.0f | %.2f | %.1f | %.2f |\n' "$nm" "$m" "$(echo "$m / $h" | bc -l)" "$c" "$(echo "$c / $hc" | bc -l)"
  done
done
