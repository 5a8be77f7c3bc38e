#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly (libFuzzer). cargo-fuzz needs nightly features; on
# the machine's stable toolchain RUSTC_BOOTSTRAP=1 enables them. Usage: scripts/fuzz.sh [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in proxy_header tls_sni h1_request config dns_query admin_api; do
  seeds=(); [ -d "seeds/$t" ] && seeds=("corpus/$t" "seeds/$t") && mkdir -p "corpus/$t"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "${seeds[@]}" -- -max_total_time="$secs" 2>&1 | tail -1
done
echo "fuzz: no crash"
