#!/usr/bin/env bash
# PROXY protocol interop with a real HAProxy, both directions, on loopback:
#   1. HAProxy (send-proxy, then send-proxy-v2) in front of a sluice HTTP listener that
#      accepts PROXY: the backend (nginx) must see the original client in X-Forwarded-For.
#   2. sluice (TCP listener, send_proxy_protocol v1 / v2; HTTP cluster v2) in front of
#      HAProxy `accept-proxy`: HAProxy must report the original client as `src`.
# The client connects from 127.0.0.7 (curl --interface), so the original address differs
# from the proxies' own 127.0.0.1. Fails loudly when haproxy, nginx or curl is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
for t in haproxy nginx curl; do command -v $t >/dev/null || { echo "interop-haproxy: $t is required" >&2; exit 1; }; done
w=$(mktemp -d)
read -r p_nginx p_hap_front p_sluice_http p_hap_accept p_sluice_tcp1 p_sluice_tcp2 p_sluice_http2 p_hap_front2 \
  < <("$(dirname "$0")/free-port.sh" 8)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$w"; }
trap cleanup EXIT
fail() { echo "interop-haproxy: $*" >&2; for f in "$w"/*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done; exit 1; }

cat >"$w/nginx.conf" <<NG
worker_processes 1; daemon off; pid $w/nginx.pid; error_log $w/nginx.log;
events { worker_connections 256; }
http { access_log off; server { listen 127.0.0.1:$p_nginx; location / { return 200 "\$http_x_forwarded_for"; } } }
NG
cat >"$w/haproxy.cfg" <<HA
global
  maxconn 256
defaults
  timeout client 10s
  timeout server 10s
  timeout connect 2s
frontend front_v1
  mode tcp
  bind 127.0.0.1:$p_hap_front
  default_backend to_sluice_v1
backend to_sluice_v1
  mode tcp
  server s1 127.0.0.1:$p_sluice_http send-proxy
frontend front_v2
  mode tcp
  bind 127.0.0.1:$p_hap_front2
  default_backend to_sluice_v2
backend to_sluice_v2
  mode tcp
  server s1 127.0.0.1:$p_sluice_http send-proxy-v2
frontend accept
  mode http
  bind 127.0.0.1:$p_hap_accept accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src]"
HA
cat >"$w/sluice.toml" <<SL
workers = 1
[listeners.behind_haproxy]
bind = "127.0.0.1:$p_sluice_http"
proxy_protocol = "accept"
trusted_proxies = ["127.0.0.1/32"]
[[listeners.behind_haproxy.routes]]
cluster = "nginx"
[listeners.tcp_v1]
bind = "127.0.0.1:$p_sluice_tcp1"
protocol = "tcp"
cluster = "hap_v1"
[listeners.tcp_v2]
bind = "127.0.0.1:$p_sluice_tcp2"
protocol = "tcp"
cluster = "hap_v2"
[listeners.http_v2]
bind = "127.0.0.1:$p_sluice_http2"
[[listeners.http_v2.routes]]
cluster = "hap_http_v2"
[clusters.nginx]
endpoints = ["127.0.0.1:$p_nginx"]
[clusters.hap_v1]
send_proxy_protocol = "v1"
endpoints = ["127.0.0.1:$p_hap_accept"]
[clusters.hap_v2]
send_proxy_protocol = "v2"
endpoints = ["127.0.0.1:$p_hap_accept"]
[clusters.hap_http_v2]
send_proxy_protocol = "v2"
endpoints = ["127.0.0.1:$p_hap_accept"]
SL
nginx -c "$w/nginx.conf" & pids+=($!)
haproxy -f "$w/haproxy.cfg" >"$w/haproxy.log" 2>&1 & pids+=($!)
"$bin" run -c "$w/sluice.toml" >"$w/sluice.log" 2>&1 & pids+=($!)
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $p_nginx $p_hap_front $p_hap_accept $p_sluice_http $p_sluice_tcp1; do
  for _ in $(seq 1 100); do up "$p" && break; sleep 0.1; done
done

get() { curl -s --max-time 5 --interface 127.0.0.7 "$1" || true; }
[ "$(get "http://127.0.0.1:$p_hap_front/")" = "127.0.0.7" ] || fail "haproxy send-proxy -> sluice: backend saw '$(get "http://127.0.0.1:$p_hap_front/")'"
[ "$(get "http://127.0.0.1:$p_hap_front2/")" = "127.0.0.7" ] || fail "haproxy send-proxy-v2 -> sluice"
[ "$(get "http://127.0.0.1:$p_sluice_tcp1/")" = "127.0.0.7" ] || fail "sluice tcp v1 -> haproxy accept-proxy saw '$(get "http://127.0.0.1:$p_sluice_tcp1/")'"
[ "$(get "http://127.0.0.1:$p_sluice_tcp2/")" = "127.0.0.7" ] || fail "sluice tcp v2 -> haproxy accept-proxy"
[ "$(get "http://127.0.0.1:$p_sluice_http2/")" = "127.0.0.7" ] || fail "sluice http cluster v2 -> haproxy accept-proxy"
echo "interop-haproxy: PROXY v1/v2 both directions ok"
