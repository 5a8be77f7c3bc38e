#!/usr/bin/env bash
# TLS interop with real clients, on loopback: certificates made here with openssl (a CA and
# two leaves), sluice terminating TLS in front of nginx, then
#   - curl --http2 and --http1.1 with SNI for each name (each chain verifies against the CA),
#   - openssl s_client session resumption (-sess_out, then -sess_in must say "Reused"),
#   - h2load over TLS (ALPN h2, multiplexed) with zero failed requests.
# Fails loudly when curl, openssl, nginx or h2load is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
for t in curl openssl nginx h2load; do command -v $t >/dev/null || { echo "interop-tls: $t is required" >&2; exit 1; }; done
w=$(mktemp -d)
read -r p_tls p_nginx p_admin < <("$(dirname "$0")/free-port.sh" 3)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$w"; }
trap cleanup EXIT
fail() { echo "interop-tls: $*" >&2; for f in "$w"/*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done; exit 1; }

# A CA, an ECDSA leaf for a.test and an RSA leaf for b.test.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/ca.key" -out "$w/ca.pem" \
  -days 2 -subj /CN=interop-ca 2>/dev/null
leaf() { # name keyopts...
  local n=$1; shift
  openssl req -newkey "$@" -nodes -keyout "$w/$n.key" -out "$w/$n.csr" -subj "/CN=$n" 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$n" >"$w/$n.ext"
  openssl x509 -req -in "$w/$n.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" -CAcreateserial -days 2 \
    -extfile "$w/$n.ext" -out "$w/$n.pem" 2>/dev/null
}
leaf a.test ec -pkeyopt ec_paramgen_curve:P-256
leaf b.test rsa:2048

cat >"$w/nginx.conf" <<NG
worker_processes 1; daemon off; pid $w/nginx.pid; error_log $w/nginx.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$p_nginx;
    location / { return 200 "nginx saw \$http_x_forwarded_proto\n"; }
  }
}
NG
cat >"$w/sluice.toml" <<TOML
workers = 1
[admin]
bind = "127.0.0.1:$p_admin"
[listeners.https]
bind = "127.0.0.1:$p_tls"
[listeners.https.tls]
certs = [{ cert = "a.test.pem", key = "a.test.key" }, { cert = "b.test.pem", key = "b.test.key" }]
[[listeners.https.routes]]
cluster = "web"
[clusters.web]
endpoints = ["127.0.0.1:$p_nginx"]
TOML
nginx -c "$w/nginx.conf" -p "$w" >"$w/nginx-out.log" 2>&1 & pids+=($!)
"$bin" check -c "$w/sluice.toml" >/dev/null || fail "sluice check refused the config"
"$bin" run -c "$w/sluice.toml" >"$w/sluice.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  curl -s -o /dev/null --cacert "$w/ca.pem" --resolve "a.test:$p_tls:127.0.0.1" "https://a.test:$p_tls/" && break
  sleep 0.1
done

for name in a.test b.test; do
  for v in --http2 --http1.1; do
    out=$(curl -sS --cacert "$w/ca.pem" --resolve "$name:$p_tls:127.0.0.1" $v -w ' %{http_version}' \
      "https://$name:$p_tls/") || fail "curl $v to $name failed"
    want=$([[ $v == --http2 ]] && echo 2 || echo 1.1)
    [[ $out == "nginx saw https"*" $want" ]] || fail "curl $v $name: '$out' (want HTTP $want)"
  done
done
echo "interop-tls: curl h2 + http/1.1 for both SNI names ok"

# TLS 1.3 tickets come after the handshake: send a request and read until the server
# closes, so s_client has the ticket before it saves the session.
o() {
  { printf 'GET / HTTP/1.1\r\nhost: a.test\r\nconnection: close\r\n\r\n'; sleep 1; } |
    openssl s_client -connect "127.0.0.1:$p_tls" -servername a.test -CAfile "$w/ca.pem" -ign_eof "$@" 2>&1
}
o -sess_out "$w/sess" >"$w/s1.log" || fail "s_client first handshake failed"
grep -q "Verify return code: 0" "$w/s1.log" || fail "s_client could not verify the chain"
o -sess_in "$w/sess" >"$w/s2.log" || fail "s_client second handshake failed"
grep -q "^Reused" "$w/s2.log" || fail "session was not resumed: $(grep -E '^(New|Reused)' "$w/s2.log")"
echo "interop-tls: openssl s_client resumption ok"

h2load -n 2000 -c 4 -m 10 "https://127.0.0.1:$p_tls/" >"$w/h2load.log" 2>&1 || fail "h2load failed"
grep -q "2000 succeeded, 0 failed, 0 errored" "$w/h2load.log" || fail "h2load: $(grep requests: "$w/h2load.log")"
grep -q "Application protocol: h2" "$w/h2load.log" || fail "h2load did not negotiate h2"
echo "interop-tls: h2load over TLS: 2000 requests, 0 failed"

kill -TERM "${pids[1]}"; wait "${pids[1]}" || fail "sluice did not exit 0 on SIGTERM"
echo "interop-tls: ok"
