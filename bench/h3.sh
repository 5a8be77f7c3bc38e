#!/usr/bin/env bash
# HTTP/3 against HTTP/2 over TLS through the same sluice listener (one worker, ECDSA P-256,
# TLS 1.3), in front of an nginx backend over HTTP/1.1 keep-alive. No anchor here serves
# HTTP/3 (Debian's HAProxy and NGINX are built without QUIC), so the comparison is h3 vs h2
# through sluice, alternating rounds so drift hits both alike:
#   small — 3-byte answers, 8 connections × 32 streams: req/s and sluice CPU µs/request
#           (h3: bench/h3load; h2: h2load);
#   1m    — 1 MiB downloads on one connection, one stream: MB/s and sluice CPU µs per MiB.
# Usage: bench/h3.sh [rounds=3] [requests=50000]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; n=${2:-50000}; big=300
for t in nginx h2load openssl; do command -v $t >/dev/null || { echo "need $t (apt-get install -y nginx nghttp2-client openssl)" >&2; exit 1; }; done
[ -x target/release/sluice ] || cargo build --release -p sluice
[ -x bench/h3load/target/release/h3load ] || cargo build --release --manifest-path bench/h3load/Cargo.toml
h3load=bench/h3load/target/release/h3load
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" -out "$work/c.pem" \
  -days 2 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null
head -c 1048576 /dev/zero >"$work/1m"; chmod 755 "$work"; chmod 644 "$work/1m"   # nginx workers run as nobody
cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18181; location = /1m { alias $work/1m; } location / { return 200 "ok\n"; } } }
NG
cat >"$work/sluice.toml" <<SL
workers = 1
[listeners.web]
bind = "127.0.0.1:18191"
limits = { max_concurrent_streams = 128 }
[listeners.web.tls]
certs = [{ cert = "c.pem", key = "k.pem" }]
[listeners.web.http3]
max_concurrent_streams = 128
retry = "never"
[[listeners.web.routes]]
cluster = "app"
[clusters.app]
endpoints = ["127.0.0.1:18181"]
SL
nginx -c "$work/backends.conf" & sleep 0.3
RUST_LOG=warn target/release/sluice run -c "$work/sluice.toml" &
sleep 1
url=https://127.0.0.1:18191
h2() { h2load "$@" 2>&1 | awk '/^finished in/ {gsub(",","",$4); gsub(",","",$6); print $4, $6} / failed,/ && !/ 0 failed, 0 errored/ {print "FAIL", $0 > "/dev/stderr"}'; }
h3() { "$h3load" "$@" | awk '{gsub(",","",$4); gsub(",","",$6); print $4, $6; if ($8 != 0) print "FAIL", $0 > "/dev/stderr"}'; }
declare -A rate cpu
measure() { # key count cmd... -> rate and sluice CPU µs per unit of count
  local key=$1 count=$2; shift 2
  local t0 t1 out
  t0=$(ticks sluice); out=$("$@"); t1=$(ticks sluice)
  read -r rq _ <<<"$out"
  rate[$key]+="$rq "   # for 1m each answer is 1 MiB: req/s = MiB/s
  cpu[$key]+="$(echo "($t1 - $t0) * 1000000 / $hz / $count" | bc -l) "
}
h2 -n 2000 -c 8 -m 32 "$url/" >/dev/null; h3 "$url/" -n 2000 -c 8 -m 32 >/dev/null   # warm
for r in $(seq 1 "$rounds"); do
  measure h3.small "$n" h3 "$url/" -n "$n" -c 8 -m 32
  measure h2.small "$n" h2 -n "$n" -c 8 -m 32 "$url/"
  measure h3.1m "$big" h3 "$url/1m" -n "$big" -c 1 -m 1
  measure h2.1m "$big" h2 -n "$big" -c 1 -m 1 "$url/1m"
done
for s in small 1m; do
  unit=$([ $s = small ] && echo "req/s" || echo "MiB/s"); per=$([ $s = small ] && echo request || echo MiB)
  h=$(median <<<"${rate[h2.$s]}"); hc=$(median <<<"${cpu[h2.$s]}")
  printf '\n%s (%s rounds)\n| protocol | %s | ratio vs h2 | sluice CPU µs per %s | CPU ratio |\n|---|---|---|---|---|\n' "$s" "$rounds" "$unit" "$per"
  for p in h2 h3; do
    m=$(median <<<"${rate[$p.$s]}"); c=$(median <<<"${cpu[$p.$s]}")
    printf '| %s | %.0f | %.2f | %.1f | %.2f |\n' "$p" "$m" "$(echo "$m / $h" | bc -l)" "$c" "$(echo "$c / $hc" | bc -l)"
  done
done
