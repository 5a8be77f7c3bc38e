#!/usr/bin/env bash
# Shared rate limits against a real redis-server: two in-process sluice instances share one
# bucket through Redis, then Redis is killed and both fall back to their local buckets with
# no failed requests. The tests start redis-server themselves; this fails loudly without it.
set -euo pipefail
command -v redis-server >/dev/null || { echo "interop-redis: redis-server is required" >&2; exit 1; }
cargo test --workspace --release --test e2e -- --ignored redis:: 2>&1 | tee /tmp/interop-redis.log
grep -q "test result: ok. [1-9]" /tmp/interop-redis.log || { echo "interop-redis: no test ran" >&2; exit 1; }
