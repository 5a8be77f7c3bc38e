#!/usr/bin/env bash
# The benchmark harness (issue 8): sluice vs HAProxy vs NGINX as a proxy, same backends,
# same worker count, every scenario run on each proxy in turn (A B C A B C ...) for ROUNDS
# rounds so drift hits all alike. Medians and ratios against HAProxy: req/s, p50, p99,
# proxy CPU µs per request (from /proc) and peak RSS. Writes bench/results/DATE-TIME-HOST-wN.md.
#
#   bench/run.sh [rounds=3] [seconds=5] [workers=1]     # workers: a number or "all"
#
# Scenarios (HTTP/1.1 unless said): keepalive (wrk -c64, tiny responses; no proxy adds
# forwarding headers — sluice runs with x_forwarded = false, the others' default), xff (the
# same with all three setting X-Forwarded-For/-Proto/-Host, sluice's default), newconn (a new
# client connection per request), 16k and 1m (response sizes), h2 (h2load, h2c
# multiplexed), idle (10,000 idle keep-alive clients: RSS per connection), then TLS
# (bench/tls.sh) and L4 (bench/l4.sh) when WITH_TLS_L4=1 (default).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds=${1:-3}; secs=${2:-5}; workers=${3:-1}
[ "$workers" = all ] && workers=$(nproc)
need=()
for t in haproxy nginx wrk h2load iperf3 openssl bc python3; do command -v $t >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${need[@]}" | sed 's/^h2load$/nghttp2-client/' | tr '\n' ' ')
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $pkgs >/dev/null
  else echo "bench: missing ${need[*]} (apt-get install -y $pkgs)" >&2; exit 1; fi
fi
[ -x target/release/sluice ] || cargo build --release -p sluice
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 10,000 idle clients need the fds
fdmax=$(ulimit -n); [ "$fdmax" = unlimited ] && fdmax=1048576
maxconn=$(( (fdmax - 400) / 2 ))                 # HAProxy wants 2 fds per connection
idle=${IDLE_CONNS:-$(( maxconn - 200 < 10000 ? maxconn - 200 : 10000 ))}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www" bench/results
chmod 755 "$work"   # nginx workers (www-data) read the files
printf 'ok\n' >"$work/www/index.html"
head -c 16384 /dev/zero | tr '\0' x >"$work/www/16k"
head -c 1048576 /dev/zero | tr '\0' x >"$work/www/1m"

cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; sendfile on;
  server { listen 127.0.0.1:18281; root $work/www; location = / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:18282; root $work/www; location = / { return 200 "ok\n"; } } }
NG
cat >"$work/haproxy.cfg" <<HA
global
  nbthread $workers
  maxconn $maxconn
defaults
  mode http
  timeout client 60s
  timeout server 60s
  timeout connect 5s
  http-reuse always
frontend fe
  bind 127.0.0.1:18290
  bind 127.0.0.1:18295 proto h2
  default_backend be
frontend fe_xff
  bind 127.0.0.1:18286
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend be
backend be
  balance roundrobin
  server s1 127.0.0.1:18281
  server s2 127.0.0.1:18282
HA
cat >"$work/nginx-proxy.conf" <<NG
worker_processes $workers; worker_rlimit_nofile $(( fdmax - 100 )); daemon off; pid $work/np.pid; error_log $work/np.err;
events { worker_connections 12000; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  upstream app { server 127.0.0.1:18281; server 127.0.0.1:18282; keepalive 64; }
  server { listen 127.0.0.1:18292; listen 127.0.0.1:18297 http2;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; proxy_buffering off; } }
  server { listen 127.0.0.1:18288;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; proxy_buffering off;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host; } } }
NG
cat >"$work/sluice.toml" <<SL
workers = $workers
[listeners.web]
bind = "127.0.0.1:18291"
x_forwarded = false
timeouts = { idle = "300s" }
[[listeners.web.routes]]
cluster = "app"
[listeners.xff]
bind = "127.0.0.1:18287"
timeouts = { idle = "300s" }
[[listeners.xff.routes]]
cluster = "app"
[clusters.app]
endpoints = ["127.0.0.1:18281", "127.0.0.1:18282"]
SL
nginx -c "$work/backends.conf" & sleep 0.3
haproxy -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
nginx -c "$work/nginx-proxy.conf" &
RUST_LOG=warn target/release/sluice run -c "$work/sluice.toml" &
sleep 1
for p in 18290 18291 18292 18286 18287 18288; do
  (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "bench: nothing listens on $p" >&2; cat "$work"/*.log "$work"/*.err >&2; exit 1; }
done

names=(haproxy sluice nginx); ports=(18290 18291 18292); h2ports=(18295 18291 18297); xffports=(18286 18287 18288)

declare -A rps p50 p99 cpu
# One measured run: scenario, proxy index -> appends to the arrays.
measure() {
  local s=$1 i=$2 n=${names[$2]} port=${ports[$2]} out reqs t0 t1
  t0=$(ticks "$n")
  case $s in
    keepalive) out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$port/") ;;
    xff)       out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:${xffports[$i]}/") ;;
    newconn)   out=$(wrk -t1 -c16 -d"${secs}s" --latency -H "Connection: close" "http://127.0.0.1:$port/") ;;
    16k)       out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$port/16k") ;;
    1m)        out=$(wrk -t1 -c8 -d"${secs}s" --latency "http://127.0.0.1:$port/1m") ;;
    h2)        out=$(h2load -D "$secs" -c 8 -m 32 "http://127.0.0.1:${h2ports[$i]}/" 2>&1) ;;
  esac
  t1=$(ticks "$n")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: $s on $n: $(grep Non-2xx <<<"$out")" >&2; fi
  if [ "$s" = h2 ]; then
    reqs=$(awk '/^requests:/ {print $8}' <<<"$out")
    rps[$s.$n]+="$(awk '/^finished in/ {print $4}' <<<"$out") "
    p50[$s.$n]+="$(awk '/^time for request:/ {print $6}' <<<"$out" | ms) "     # h2load: mean, not p50
    p99[$s.$n]+="$(awk '/^time for request:/ {print $5}' <<<"$out" | ms) "     # h2load: max
  else
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps[$s.$n]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p50[$s.$n]+="$(awk '$1=="50%" {print $2}' <<<"$out" | ms) "
    p99[$s.$n]+="$(awk '$1=="99%" {print $2}' <<<"$out" | ms) "
  fi
  [ "${reqs:-0}" -gt 0 ] || { echo "bench: $s on $n ran no request" >&2; reqs=1; }
  cpu[$s.$n]+="$(echo "($t1 - $t0) * 1000000 / $hz / $reqs" | bc -l) "
}

read -r -a scenarios <<<"${SCENARIOS:-keepalive xff newconn 16k 1m h2}"
for s in "${scenarios[@]}"; do
  for i in 0 1 2; do wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$i]}/" >/dev/null 2>&1; done   # warm pools
  for r in $(seq 1 "$rounds"); do for i in 0 1 2; do measure "$s" "$i"; done; done
done

# Idle keep-alive clients: RSS growth per connection (VmRSS after - before, all processes).
declare -A per_conn hwm
for i in 0 1 2; do
  [ "$idle" -gt 0 ] || break
  n=${names[$i]}; before=$(kib "$n" VmRSS)
  coproc IDLE { python3 bench/lib/idle.py "${ports[$i]}" "$idle"; }
  read -r _ <&"${IDLE[0]}"
  after=$(kib "$n" VmRSS)
  per_conn[$n]=$(echo "($after - $before) * 1024 / $idle" | bc -l)
  exec {IDLE[1]}>&-; wait "$IDLE_PID" 2>/dev/null || true
  hwm[$n]=$(kib "$n" VmHWM)
done

host=$(hostname -s 2>/dev/null || echo host)
file="bench/results/$(date +%F-%H%M)-$host-w$workers.md"
[ "${RESULTS:-1}" = 1 ] || file="$work/results.md"
{
  echo "# Benchmark $(date '+%F %H:%M') — $host, $(nproc) cores, workers = $workers, $rounds rounds × ${secs}s"
  echo
  echo "HAProxy $(haproxy -v | awk 'NR==1 {print $3}'), NGINX $(nginx -v 2>&1 | sed 's#.*/##'), sluice $(git rev-parse --short HEAD)."
  echo "Client, proxies and backends share the machine; ratios are against HAProxy in the same run."
  echo "No proxy adds forwarding headers except in \`xff\`, where all three set X-Forwarded-For/-Proto/-Host."
  for s in "${scenarios[@]}"; do
    h=$(median <<<"${rps[$s.haproxy]}"); hp50=$(median <<<"${p50[$s.haproxy]}"); hp99=$(median <<<"${p99[$s.haproxy]}"); hc=$(median <<<"${cpu[$s.haproxy]}")
    lat=$([ "$s" = h2 ] && echo "mean ms | max ms" || echo "p50 ms | p99 ms")
    printf '\n## %s\n\n| proxy | req/s | × HAProxy | %s | p99 × | CPU µs/req | CPU × |\n|---|---|---|---|---|---|---|---|\n' "$s" "$lat"
    for n in "${names[@]}"; do
      m=$(median <<<"${rps[$s.$n]}"); a=$(median <<<"${p50[$s.$n]}"); b=$(median <<<"${p99[$s.$n]}"); c=$(median <<<"${cpu[$s.$n]}")
      printf '| %s | %.0f | %s | %.2f | %.2f | %s | %.1f | %s |\n' "$n" "$m" "$(ratio "$m" "$h")" "$a" "$b" "$(ratio "$b" "$hp99")" "$c" "$(ratio "$c" "$hc")"
    done
  done
  [ "$idle" -gt 0 ] && printf '\n## idle (%s keep-alive clients)\n\n| proxy | RSS per idle connection | × HAProxy | peak RSS (all processes) |\n|---|---|---|---|\n' "$idle"
  for n in "${names[@]}"; do
    [ "$idle" -gt 0 ] || break
    printf '| %s | %.1f KiB | %s | %.1f MiB |\n' "$n" "$(echo "${per_conn[$n]} / 1024" | bc -l)" "$(ratio "${per_conn[$n]}" "${per_conn[haproxy]}")" "$(echo "${hwm[$n]} / 1024" | bc -l)"
  done
} >"$file"
if [ "${WITH_TLS_L4:-1}" = 1 ]; then
  { echo; echo "## TLS (bench/tls.sh $rounds 100000 $workers)"; bench/tls.sh "$rounds" 100000 "$workers" 2>&1 | sed -n '/^h2\|^conn\|^|/p'
    echo; echo "## L4 (bench/l4.sh $rounds $secs $workers)"; bench/l4.sh "$rounds" "$secs" "$workers" 2>&1 | grep '^|'; } >>"$file"
fi
cat "$file"
[ "${RESULTS:-1}" = 1 ] && echo "bench: wrote $file" >&2
true
