#!/usr/bin/env bash
# Quick side-by-side: the keep-alive scenarios of bench/run.sh alone (bare and xff) (sluice vs HAProxy vs
# NGINX, one proxy thread each, wrk -t1 -c64, alternating rounds), printed, not saved.
# Usage: bench/quick.sh [rounds=3] [seconds=5] [workers=1]
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS="keepalive xff" IDLE_CONNS=0 WITH_TLS_L4=0 RESULTS=0 exec bench/run.sh "${1:-3}" "${2:-5}" "${3:-1}"
