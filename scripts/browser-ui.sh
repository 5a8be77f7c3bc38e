#!/usr/bin/env bash
# Browser test of the dashboard: starts `sluice demo` on spare loopback ports, loads /ui
# in headless Chromium (Debian's `chromium`), and checks that every demo cluster and
# endpoint is rendered from live /status data. Optionally saves a screenshot ($2).
# Fails loudly when chromium is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
shot=${2:-}
command -v chromium >/dev/null || { echo "browser-ui: chromium is required (apt-get install -y chromium)" >&2; exit 1; }
read -r port admin dns < <("$(dirname "$0")/free-port.sh" 3)
log=$(mktemp); profile=$(mktemp -d)
"$bin" demo --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" --dns "127.0.0.1:$dns" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$profile"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$admin/healthz" && break; sleep 0.1; done
sleep 3   # let the demo traffic put numbers on the page
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --user-data-dir="$profile" --virtual-time-budget=4000)
dom=$(timeout 90 chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$admin/ui" 2>/dev/null)
fail() { echo "browser-ui: $*" >&2; echo "$dom" | head -50 >&2; exit 1; }
for c in api app canary; do
  grep -q "data-cluster=\"$c\"" <<<"$dom" || fail "cluster $c not rendered"
done
addrs=$(curl -s "http://127.0.0.1:$admin/status" | grep -o '"addr": "[0-9.:]*"' | sort -u | cut -d'"' -f4)
[ -n "$addrs" ] || fail "no endpoints in /status"
for a in $addrs; do grep -q "$a" <<<"$dom" || fail "endpoint $a not rendered"; done
grep -q 'class="badge healthy"' <<<"$dom" || fail "no endpoint state badges"
grep -q "data-dns=\"127.0.0.1:$dns\"" <<<"$dom" || fail "dns card not rendered"
grep -q 'data-record="api.demo.test"' <<<"$dom" || fail "dns record api.demo.test not rendered"
grep -q 'data-route="203.0.113.10/32"' <<<"$dom" || fail "anycast route not rendered"
grep -q 'data-cache="demo"' <<<"$dom" || fail "cache card not rendered"
grep -qE 'data-protocols="[^"]+">\(h1 [0-9]+%' <<<"$dom" || fail "listener protocol mix not rendered"
if [ -n "$shot" ]; then
  timeout 90 chromium "${flags[@]}" --window-size=1400,820 --screenshot="$shot" "http://127.0.0.1:$admin/ui" >/dev/null 2>&1
fi
kill -TERM $pid; wait $pid || true
trap - EXIT; rm -rf "$profile"
echo "browser-ui: dashboard renders every cluster, endpoint, DNS record, anycast route, cache and the protocol mix"
