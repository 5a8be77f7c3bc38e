#!/usr/bin/env bash
# Instructions per request under callgrind — repeatable however noisy the machine is. The
# proxy (one worker, one nginx backend) runs under `valgrind --tool=callgrind` twice, for
# h2load -n 2000 and -n 12000; the difference of the totals divided by 10,000 is the cost of
# one request without start-up and shutdown.
#   bench/callgrind.sh BIN [h1|h2c]      (h1: h2load --h1 -c64; h2c: h2load -c8 -m32)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1; mode=${2:-h1}
for c in valgrind h2load nginx; do command -v $c >/dev/null || { echo "callgrind: $c missing" >&2; exit 1; }; done
read -r bp pp < <(scripts/free-port.sh 2)
work=$(mktemp -d); chmod 755 "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
cat >"$work/backend.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$bp; location = / { return 200 "ok\n"; } } }
NG
nginx -c "$work/backend.conf" &
printf 'workers = 1\n[listeners.web]\nbind = "127.0.0.1:%s"\nx_forwarded = false\n[[listeners.web.routes]]\ncluster = "app"\n[clusters.app]\nendpoints = ["127.0.0.1:%s"]\n' "$pp" "$bp" >"$work/s.toml"
if [ "$mode" = h2c ]; then load=(-c8 -m32); else load=(--h1 -c64); fi
total() {
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" "$bin" run -c "$work/s.toml" 2>/dev/null &
  local pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$pp/" && break; sleep 0.2; done
  h2load -n "$1" "${load[@]}" "http://127.0.0.1:$pp/" >/dev/null
  kill -TERM $pid; wait $pid || true
  awk '/^summary:/ {print $2}' "$work/cg.$1"
}
a=$(total 2000); b=$(total 12000)
echo "$mode $(basename "$bin"): $(( (b - a) / 10000 )) instructions per request"
