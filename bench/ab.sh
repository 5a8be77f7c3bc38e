#!/usr/bin/env bash
# A/B of two sluice binaries on the keep-alive scenario (wrk -t1 -c64, one worker, one
# nginx backend), alternating A B A B … so drift hits both: req/s and proxy CPU µs per
# request for each round, then medians. For deciding whether a change to the data path pays.
#   bench/ab.sh BIN_A BIN_B [rounds=4] [seconds=4] [path=/ | /16k | /1m]   (CONNS=64)
# H2C=1: h2c multiplexed instead (h2load -c8 -m32, the bench/run.sh h2 scenario).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
a=$1; b=$2; rounds=${3:-4}; secs=${4:-4}; path=${5:-/}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
chmod 755 "$work"   # nginx workers read the files
head -c 16384 /dev/zero | tr '\0' x >"$work/16k"
head -c 1048576 /dev/zero | tr '\0' x >"$work/1m"
cat >"$work/backend.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18381; root $work; location = / { return 200 "ok\n"; } } }
NG
nginx -c "$work/backend.conf" &
for i in 0 1; do
  printf 'workers = 1\n[listeners.web]\nbind = "127.0.0.1:1839%s"\n[[listeners.web.routes]]\ncluster = "app"\n[clusters.app]\nendpoints = ["127.0.0.1:18381"]\n' "$i" >"$work/s$i.toml"
done
RUST_LOG=warn "$a" run -c "$work/s0.toml" &
RUST_LOG=warn "$b" run -c "$work/s1.toml" &
sleep 1
pid=("$(pgrep -f "run -c $work/s0.toml")" "$(pgrep -f "run -c $work/s1.toml")")
declare -a rps cpu
for r in $(seq 1 "$rounds"); do
  for i in 0 1; do
    t0=$(awk '{print $14 + $15}' "/proc/${pid[$i]}/stat"); s0=$(cat /proc/${pid[$i]}/task/*/status | awk '/ctxt_switches/ {s+=$2} END {print s}')
    if [ "${H2C:-0}" = 1 ]; then
      h=$(h2load -t1 -c8 -m32 -D "$secs" "http://127.0.0.1:1839$i$path" 2>&1)
      out=$(awk '/^requests:/ {print $8 " requests in"} /^finished in/ {gsub(",", ""); print "Requests/sec: " $4}' <<<"$h")
    else
      out=$(wrk -t1 -c"${CONNS:-64}" -d"${secs}s" "http://127.0.0.1:1839$i$path")
    fi
    t1=$(awk '{print $14 + $15}' "/proc/${pid[$i]}/stat"); s1=$(cat /proc/${pid[$i]}/task/*/status | awk '/ctxt_switches/ {s+=$2} END {print s}')
    n=$(awk '/requests in/ {print $1}' <<<"$out"); q=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    c=$(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)
    rps[$i]+="$q "; cpu[$i]+="$c "
    printf 'round %s %s: %8.0f req/s %6.2f µs/req %5.3f context switches/req\n' "$r" "$([ $i = 0 ] && echo A || echo B)" "$q" "$c" "$(echo "($s1 - $s0) / $n" | bc -l)"
  done
done
printf 'median A: %8.0f req/s %6.2f µs/req\n' "$(median <<<"${rps[0]}")" "$(median <<<"${cpu[0]}")"
printf 'median B: %8.0f req/s %6.2f µs/req\n' "$(median <<<"${rps[1]}")" "$(median <<<"${cpu[1]}")"
