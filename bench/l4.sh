#!/usr/bin/env bash
# L4 throughput: iperf3 through sluice (protocol = "tcp") vs HAProxy `mode tcp` with
# `option splice-auto`, one worker thread each, alternating rounds, plus the direct path.
# Prints median Gbit/s and the ratio to HAProxy. Usage: bench/l4.sh [rounds=3] [seconds=5] [workers=1]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; secs=${2:-5}; workers=${3:-1}
[ "$workers" = all ] && workers=$(nproc)
for t in haproxy iperf3 python3; do command -v $t >/dev/null || { echo "need $t (apt-get install -y haproxy iperf3)" >&2; exit 1; }; done
[ -x target/release/sluice ] || cargo build --release -p sluice
w=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$w"' EXIT
iperf3 -s -p 18201 >/dev/null 2>&1 &
cat >"$w/haproxy.cfg" <<HA
global
  nbthread $workers
  maxconn 1000
defaults
  mode tcp
  timeout client 60s
  timeout server 60s
  timeout connect 5s
  option splice-auto
frontend fe
  bind 127.0.0.1:18210
  default_backend be
backend be
  server s1 127.0.0.1:18201
HA
cat >"$w/sluice.toml" <<SL
workers = $workers
[listeners.l4]
bind = "127.0.0.1:18211"
protocol = "tcp"
cluster = "iperf"
[clusters.iperf]
endpoints = ["127.0.0.1:18201"]
SL
haproxy -f "$w/haproxy.cfg" >/dev/null 2>&1 &
RUST_LOG=warn target/release/sluice run -c "$w/sluice.toml" &
sleep 1
gbps() { iperf3 -c 127.0.0.1 -p "$1" -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'; }
declare -A r
for _ in $(seq 1 "$rounds"); do
  for pair in direct:18201 haproxy:18210 sluice:18211; do
    n=${pair%%:*}; p=${pair##*:}
    r[$n]+="$(gbps "$p") "
  done
done
h=$(median <<<"${r[haproxy]}")
printf '| path | Gbit/s (median of %s) | ratio vs HAProxy splice-auto |\n|---|---|---|\n' "$rounds"
for n in direct haproxy sluice; do
  m=$(median <<<"${r[$n]}"); printf '| %s | %.1f | %.2f |\n' "$n" "$m" "$(echo "$m / $h" | bc -l)"
done
