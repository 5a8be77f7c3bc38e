#!/usr/bin/env bash
# Where the time of a keep-alive request goes, for HAProxy and any sluice binaries side by
# side (wrk -t1 -c64, one worker each, two nginx backends, alternating rounds): the proxy's
# user and sys µs per request from /proc, and how often the nginx backend and wrk were
# woken (voluntary context switches) per request — a proxy whose sends find its peers
# asleep makes them (and itself) pay for the wake-up. Medians at the end.
#   bench/split.sh "BIN [BIN …]" [rounds=3] [seconds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
read -r -a bins <<<"$1"; rounds=${2:-3}; secs=${3:-5}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
cat >"$work/backends.conf" <<NG
worker_processes 1; daemon off; pid $work/nb.pid; error_log $work/nb.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18481; location = / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:18482; location = / { return 200 "ok\n"; } } }
NG
printf 'global\n  nbthread 1\ndefaults\n  mode http\n  timeout client 60s\n  timeout server 60s\n  timeout connect 5s\n  http-reuse always\nfrontend fe\n  bind 127.0.0.1:18480\n  default_backend be\nbackend be\n  balance roundrobin\n  server s1 127.0.0.1:18481\n  server s2 127.0.0.1:18482\n' >"$work/haproxy.cfg"
nginx -c "$work/backends.conf" &
haproxy -f "$work/haproxy.cfg" &
names=(haproxy); ports=(18480)
for i in "${!bins[@]}"; do
  printf 'workers = 1\n[listeners.web]\nbind = "127.0.0.1:%s"\nx_forwarded = false\ntimeouts = { idle = "300s" }\n[[listeners.web.routes]]\ncluster = "app"\n[clusters.app]\nendpoints = ["127.0.0.1:18481", "127.0.0.1:18482"]\n' $((18483 + i)) >"$work/s$i.toml"
  RUST_LOG=warn "${bins[$i]}" run -c "$work/s$i.toml" &
  names+=("sluice$i:${bins[$i]}"); ports+=($((18483 + i)))
done
sleep 1
pids=("$(pgrep -f "haproxy -f $work")"); for i in "${!bins[@]}"; do pids+=("$(pgrep -f "run -c $work/s$i.toml")"); done
ngx=$(pgrep -P "$(pgrep -f "nginx -c $work/backends.conf" | head -1)" | head -1)
wakes() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/ {v += $2} END {print v}'; }
declare -A rps usr sys nw ww
for r in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    p=${pids[$i]}; read -r u0 s0 < <(awk '{print $14, $15}' /proc/$p/stat); g0=$(wakes "$ngx")
    wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:${ports[$i]}/" >"$work/wrk" &
    sleep 0.3; w=$(pgrep -nx wrk); w0=$(wakes "$w"); sleep "$(echo "$secs - 0.6" | bc)"; w1=$(wakes "$w"); wait $!
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$p/stat); g1=$(wakes "$ngx")
    n=$(awk '/requests in/ {print $1}' "$work/wrk"); q=$(awk '/Requests\/sec/ {print $2}' "$work/wrk")
    us=$(echo "($u1 - $u0) * 1000000 / $hz / $n" | bc -l); sy=$(echo "($s1 - $s0) * 1000000 / $hz / $n" | bc -l)
    g=$(echo "($g1 - $g0) / $n" | bc -l); ww_=$(echo "($w1 - $w0) / ($n * ($secs - 0.6) / $secs)" | bc -l)
    rps[$i]+="$q "; usr[$i]+="$us "; sys[$i]+="$sy "; nw[$i]+="$g "; ww[$i]+="$ww_ "
    printf 'round %s %-10.10s %8.0f req/s  user %5.2f  sys %5.2f µs/req  nginx woken %.3f  wrk woken %.3f /req\n' \
      "$r" "${names[$i]}" "$q" "$us" "$sy" "$g" "$ww_"
  done
done
echo "medians:"
for i in "${!names[@]}"; do
  printf '%-40.40s %8.0f req/s (× HAProxy %s)  user %5.2f  sys %5.2f  nginx woken %.3f  wrk woken %.3f\n' "${names[$i]}" \
    "$(median <<<"${rps[$i]}")" "$(ratio "$(median <<<"${rps[$i]}")" "$(median <<<"${rps[0]}")")" \
    "$(median <<<"${usr[$i]}")" "$(median <<<"${sys[$i]}")" "$(median <<<"${nw[$i]}")" "$(median <<<"${ww[$i]}")"
done
