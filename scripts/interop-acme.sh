#!/usr/bin/env bash
# ACME interop against Pebble (Debian's `pebble`, the CA's test server): HTTP-01 and
# TLS-ALPN-01 issuance verified by curl, renewal under a keep-alive client, two instances
# coordinated through Redis (one order per name), and takeover after the lease holder dies.
# The scenarios are in interop_acme.py (stdlib Python). Fails loudly when a peer is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
for t in pebble redis-server openssl curl python3; do
  command -v "$t" >/dev/null || { echo "interop-acme: $t is required (apt-get install -y pebble redis-server openssl curl)" >&2; exit 1; }
done
exec timeout 600 python3 "$(dirname "$0")/interop_acme.py" "$bin"
