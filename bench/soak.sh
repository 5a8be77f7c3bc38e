#!/usr/bin/env bash
# Soak (issue 25): SECONDS of mixed load through one sluice (two workers) while its config
# is reloaded every 10 s, a backend flaps (its health check fails, it is stopped, and 20 s
# later it is started and passes again, every 40 s) and admin weight changes land every 7 s. The load: wrk keep-alive, wrk with a new connection per request,
# h2load over h2c, 1 MiB downloads, 1 MiB uploads (curl) and WebSocket echoes
# (bench/soak_ws.py). Pass: zero failed requests, RSS flat after the first minute (within
# 20 %), and the descriptor count back to its baseline once the load stops.
#
#   bench/soak.sh [seconds=600] [binary=target/release/sluice]
# Writes bench/results/soak-DATE.md (the summary and the RSS/fd samples every 10 s).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-600}; bin=${2:-target/release/sluice}
for t in nginx wrk h2load curl python3; do command -v $t >/dev/null || { echo "soak: $t is required" >&2; exit 1; }; done
w=$(mktemp -d); chmod 755 "$w"
read -r web admin b1 b2 ws < <(scripts/free-port.sh 5)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; for n in n1 n2; do [ -f "$w/$n.pid" ] && kill "$(cat "$w/$n.pid")" 2>/dev/null; done; sleep 0.3; [ -n "${KEEP:-}" ] && echo "soak: kept $w" || rm -rf "$w"; }
trap cleanup EXIT
mkdir -p "$w/www" bench/results
head -c 1048576 /dev/urandom >"$w/www/big"
head -c 1048576 /dev/urandom >"$w/upload"
nginx_conf() {  # name port
  cat >"$w/$1.conf" <<NG
worker_processes 1; pid $w/$1.pid; error_log $w/$1.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; sendfile on; client_max_body_size 8m;
  server { listen 127.0.0.1:$2; root $w/www;
    location = / { return 200 "ok\n"; }
    location = /healthz { if (-f $w/\$server_port.down) { return 503 "down\n"; } return 200 "ok\n"; }
    location = /upload { client_body_buffer_size 2m; proxy_pass http://127.0.0.1:$2/drain_body; }
    location = /drain_body { return 200 "stored\n"; } } }
NG
}
nginx_conf n1 "$b1"; nginx_conf n2 "$b2"
nginx -c "$w/n1.conf" -p "$w" 2>/dev/null; nginx -c "$w/n2.conf" -p "$w" 2>/dev/null
python3 bench/soak_ws.py server "$ws" & pids+=($!)
config() {  # generation
  cat >"$w/soak.toml" <<CFG
workers = 2
[admin]
bind = "127.0.0.1:$admin"
[listeners.web]
bind = "127.0.0.1:$web"
[[listeners.web.routes]]
path_prefix = "/ws"
cluster = "ws"
[[listeners.web.routes]]
cluster = "app"
add_response_headers = { x-generation = "$1" }
[clusters.app]
retries = { attempts = 3, on = ["connect-failure", "reset", "gateway-error"] }
endpoints = ["127.0.0.1:$b1", "127.0.0.1:$b2"]
health = { kind = "http", path = "/healthz", interval = "1s", timeout = "500ms", rise = 1, fall = 1 }
pool = { idle_timeout = "5s" }
[clusters.ws]
endpoints = ["127.0.0.1:$ws"]
CFG
}
config 0
"$bin" run -c "$w/soak.toml" >"$w/sluice.log" 2>&1 & spid=$!; pids+=($spid)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$admin/healthz" && break; sleep 0.1; done
sleep 2
fds0=$(ls /proc/$spid/fd | wc -l)
echo "soak: sluice pid $spid, $dur s, baseline $fds0 descriptors"
samples="$w/samples"; : >"$samples"
loops=()
( t0=$(date +%s); while sleep 10; do
    echo "$(( $(date +%s) - t0 )) $(awk '/VmRSS/ {print $2}' /proc/$spid/status) $(ls /proc/$spid/fd | wc -l)" >>"$samples"
  done ) & loops+=($!)
( g=0; while sleep 10; do g=$((g + 1)); config "$g"; kill -HUP "$spid"; done ) & loops+=($!)
# The flap: n2 fails its health check, is stopped 3 s later (sluice checks every second),
# comes back 20 s after that and passes its check again.
( while sleep 17; do touch "$w/$b2.down"; sleep 3; nginx -c "$w/n2.conf" -p "$w" -s quit 2>/dev/null; sleep 20
    nginx -c "$w/n2.conf" -p "$w" 2>/dev/null; rm -f "$w/$b2.down"; done ) & loops+=($!)
( while sleep 7; do curl -s -o /dev/null -X PUT "http://127.0.0.1:$admin/clusters/app/endpoints/127.0.0.1:$b1/weight" -d $((RANDOM % 5 + 1)); done ) & loops+=($!)
pids+=("${loops[@]}")
uploads() { local ok=0 bad=0 end=$(( $(date +%s) + dur )); while [ "$(date +%s)" -lt "$end" ]; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$w/upload" "http://127.0.0.1:$web/upload" || true)
    if [ "$c" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi; done; echo "uploads ok $ok failed $bad"; }
uploads >"$w/uploads.out" & up=$!
python3 bench/soak_ws.py client "$web" "$dur" >"$w/ws.out" & wsc=$!
wrk -t1 -c32 -d"${dur}s" "http://127.0.0.1:$web/" >"$w/keepalive.out" 2>&1 & k=$!
wrk -t1 -c8 -d"${dur}s" -H "Connection: close" "http://127.0.0.1:$web/" >"$w/newconn.out" 2>&1 & n=$!
wrk -t1 -c2 -d"${dur}s" "http://127.0.0.1:$web/big" >"$w/big.out" 2>&1 & b=$!
h2load -c4 -m8 -D "$dur" "http://127.0.0.1:$web/" >"$w/h2.out" 2>&1 & h=$!
wait $k $n $b $h $up $wsc
kill "${loops[@]}" 2>/dev/null || true   # stop the sampler, reloads, flaps, weights
nginx -c "$w/n2.conf" -p "$w" 2>/dev/null || true; rm -f "$w/$b2.down"
sleep 12   # the upstream pool's idle timeout (5 s) and the clients' closes
fds1=$(ls /proc/$spid/fd | wc -l)
# Failures per load, as each tool reports them.
wrk_fail() { awk '/Non-2xx|Socket errors/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i} END {print s+0}' "$1"; }
wrk_reqs() { awk '/requests in/ {print $1}' "$1"; }
h2_ok=$(awk '/^requests:/ {print $8}' "$w/h2.out"); h2_fail=$(awk '/^requests:/ {print $10 + $12}' "$w/h2.out")
read -r _ ws_ok _ ws_fail <"$w/ws.out"; read -r _ _ up_ok _ up_fail <"$w/uploads.out"
rss_warm=$(awk '$1 >= 60 {print $2; exit}' "$samples"); rss_end=$(tail -1 "$samples" | awk '{print $2}')
rss_max=$(awk 'm < $2 {m = $2} END {print m}' "$samples"); fd_max=$(awk 'm < $3 {m = $3} END {print m}' "$samples")
reloads=$(grep -c "config reloaded" "$w/sluice.log" || true)
failed=$(( $(wrk_fail "$w/keepalive.out") + $(wrk_fail "$w/newconn.out") + $(wrk_fail "$w/big.out") + h2_fail + ws_fail + up_fail ))
out="bench/results/soak-$(date +%Y-%m-%d-%H%M).md"
{
  echo "# soak, $(date -u +%FT%TZ), ${dur} s, $(nproc) cores"
  echo
  echo "| load | requests | failed |"; echo "|---|---|---|"
  echo "| keep-alive (wrk -c32) | $(wrk_reqs "$w/keepalive.out") | $(wrk_fail "$w/keepalive.out") |"
  echo "| new connection per request (wrk -c8) | $(wrk_reqs "$w/newconn.out") | $(wrk_fail "$w/newconn.out") |"
  echo "| 1 MiB downloads (wrk -c2) | $(wrk_reqs "$w/big.out") | $(wrk_fail "$w/big.out") |"
  echo "| h2c (h2load -c4 -m8) | $h2_ok | $h2_fail |"
  echo "| 1 MiB uploads (curl) | $up_ok | $up_fail |"
  echo "| WebSocket sessions, 10 echoes each | $ws_ok | $ws_fail |"
  echo
  echo "Reloads applied: $reloads. RSS after 60 s: ${rss_warm} KiB, at the end: ${rss_end} KiB, peak ${rss_max} KiB."
  echo "Descriptors: baseline $fds0, peak under load $fd_max, after the load $fds1."
  echo; echo "t(s) rss(KiB) fds"; echo '```'; cat "$samples"; echo '```'
} >"$out"
cat "$out" | head -16
growth_ok=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN {print (b <= a * 1.2) ? 1 : 0}')
[ "$failed" -eq 0 ] || { echo "soak: $failed failed requests" >&2; tail -20 "$w/sluice.log" >&2; exit 1; }
[ "$growth_ok" = 1 ] || { echo "soak: RSS grew from $rss_warm to $rss_end KiB" >&2; exit 1; }
[ "$fds1" -le $(( fds0 + 2 )) ] || { echo "soak: descriptors $fds0 -> $fds1 after the load" >&2; exit 1; }
echo "soak: ok ($out)"
