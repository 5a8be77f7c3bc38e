#!/usr/bin/env bash
# HTTP/3 interop with two real client stacks, on loopback: curl_cffi (libcurl built with
# ngtcp2/nghttp3; Debian's curl has no HTTP/3) and aioquic, both from PyPI in a venv
# ($H3_VENV, default target/h3-venv). sluice (two workers) terminates TLS for a.test and
# b.test, serves h3 on UDP beside h2/http1.1 on TCP, in front of a Python echo backend:
#   - curl: GET, 2 MiB POST, 1 MiB download over h3; Alt-Svc on an h2 answer,
#   - aioquic: 50 streams on one connection, a client move (NAT rebinding), SNI for a.test
#     and b.test (c.test refused by verification), 0-RTT refused by default.
# Fails loudly when python3-venv, pip's index or openssl is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
venv=${H3_VENV:-target/h3-venv}
command -v openssl >/dev/null || { echo "interop-h3: openssl is required" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { echo "interop-h3: python3 -m venv failed (apt-get install -y python3-venv)" >&2; exit 1; }
fi
"$venv/bin/python" -c 'import aioquic, curl_cffi' 2>/dev/null ||
  "$venv/bin/pip" install -q aioquic==1.7.2 curl_cffi==0.17.0
w=$(mktemp -d)
read -r port p_back p_admin < <("$(dirname "$0")/free-port.sh" 3)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$w"; }
trap cleanup EXIT
fail() { echo "interop-h3: $*" >&2; tail -20 "$w/sluice.log" >&2; exit 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/ca.key" -out "$w/ca.pem" \
  -days 2 -subj /CN=interop-ca 2>/dev/null
for n in a.test b.test; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/$n.key" -out "$w/$n.csr" -subj "/CN=$n" 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$n" >"$w/$n.ext"
  openssl x509 -req -in "$w/$n.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" -CAcreateserial -days 2 \
    -extfile "$w/$n.ext" -out "$w/$n.pem" 2>/dev/null
done
cat >"$w/h3.toml" <<CFG
workers = 2
[admin]
bind = "127.0.0.1:$p_admin"
[listeners.https]
bind = "127.0.0.1:$port"
[listeners.https.tls]
certs = [{ cert = "a.test.pem", key = "a.test.key" }, { cert = "b.test.pem", key = "b.test.key" }]
alpn = ["h2", "http/1.1"]
[listeners.https.http3]
alt_svc_max_age = "1h"
[[listeners.https.routes]]
cluster = "echo"
[clusters.echo]
endpoints = ["127.0.0.1:$p_back"]
CFG
"$venv/bin/python" "$(dirname "$0")/interop_h3.py" backend "$p_back" & pids+=($!)
"$bin" run -c "$w/h3.toml" >"$w/sluice.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p_admin/healthz" && break; sleep 0.1; done
"$venv/bin/python" "$(dirname "$0")/interop_h3.py" check "$port" "$w/ca.pem" || fail "checks failed"
m=$(curl -s "http://127.0.0.1:$p_admin/metrics")
grep -q 'sluice_h3_migrations_total{listener="https"} 1' <<<"$m" || fail "the move was not counted: $(grep h3_ <<<"$m")"
grep -E 'sluice_requests_by_protocol_total\{listener="https",protocol="h3"\} [1-9]' <<<"$m" >/dev/null || fail "no h3 in the protocol mix"
echo "interop-h3: ok ($(grep -o 'protocol="h[123]"} [0-9]*' <<<"$m" | tr '\n' ' '))"
