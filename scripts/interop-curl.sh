#!/usr/bin/env bash
# Interop smoke test with a real client: starts `sluice demo` on spare loopback ports and
# checks HTTP/1.1 and HTTP/2 prior-knowledge requests with curl, the admin status, and a
# clean stop on SIGTERM. Fails loudly when curl is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
command -v curl >/dev/null || { echo "interop: curl is required" >&2; exit 1; }
read -r port admin < <("$(dirname "$0")/free-port.sh" 2)
log=$(mktemp)
"$bin" demo --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

fail() { echo "interop: $*" >&2; cat "$log" >&2; exit 1; }
# /api/ spreads over all three demo backends; charlie fails 20 % of requests on purpose.
body=$(curl -s "http://127.0.0.1:$port/api/users") || fail "HTTP/1.1 request failed"
[[ $body == hello\ from* || $body == charlie:\ simulated\ failure* ]] || fail "unexpected body: $body"
v=$(curl -s -o /dev/null -w '%{http_version}' --http2-prior-knowledge "http://127.0.0.1:$port/api/x")
[[ $v == 2 ]] || fail "expected HTTP/2 with --http2-prior-knowledge, got $v"
b=$(curl -s -H 'x-canary: 1' "http://127.0.0.1:$port/" -D - -o /dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-backend"{print $2}')
[[ $b == charlie ]] || fail "header canary went to '$b'"
status=$(curl -sf "http://127.0.0.1:$admin/status") || fail "admin /status failed"
[[ $status == *'"clusters"'* ]] || fail "admin /status has no clusters: $status"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host:' "http://127.0.0.1:$port/" --http1.0 || true)
echo "interop: HTTP/1.0 without Host -> $code"
kill -TERM $pid; wait $pid || fail "demo did not exit 0 on SIGTERM"
trap - EXIT
echo "interop: curl HTTP/1.1 + h2c + admin ok"
