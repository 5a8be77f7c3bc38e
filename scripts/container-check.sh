#!/usr/bin/env bash
# The container image's run stage without a Docker daemon (none on this machine or in CI):
# debootstrap builds the same Debian bookworm userland as `debian:bookworm-slim`, the RUN
# steps of packaging/Dockerfile's last stage run in it as written (read from the file), the
# binary is copied where its COPY puts it, and sluice starts as the USER, with the ENTRYPOINT
# and CMD from the file, on a config at the mounted path. Checks: it serves, the admin API
# answers, SIGHUP reloads, SIGTERM stops it cleanly. Fails loudly without debootstrap.
#   scripts/container-check.sh [binary=target/release/sluice]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sluice}
df=packaging/Dockerfile
command -v debootstrap >/dev/null || { echo "container-check: debootstrap is required (apt-get install -y debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "container-check: needs root (chroot)" >&2; exit 1; }
root=${CONTAINER_ROOT:-target/container-root}
if [ ! -x "$root/usr/bin/apt-get" ]; then
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
grep -q '^FROM debian:bookworm-slim' "$df" || { echo "container-check: the run stage is no longer debian:bookworm-slim" >&2; exit 1; }
# The last stage's RUN (joined across its line continuations), run as the build would.
run=$(awk '/^FROM /{stage++} stage==2' "$df" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | sed -n 's/^RUN //p')
mount -t proc proc "$root/proc"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; umount "$root/proc" 2>/dev/null || true; }
trap cleanup EXIT
if ! chroot "$root" id sluice >/dev/null 2>&1; then
  chroot "$root" /bin/sh -c "$run" >target/container-run.log 2>&1 || { echo "container-check: the RUN step failed" >&2; cat target/container-run.log >&2; exit 1; }
fi
dest=$(sed -n 's/^COPY --from=build [^ ]* \(.*\)$/\1/p' "$df")
install -m 0755 "$bin" "$root$dest"
entry=$(sed -n 's/^ENTRYPOINT \["\(.*\)"\]$/\1/p' "$df")
cmd=$(sed -n 's/^CMD \[\(.*\)\]$/\1/p' "$df" | tr -d '",')
conf=$(awk '{print $NF}' <<<"$cmd")
user=$(sed -n 's/^USER //p' "$df")
read -r port admin < <(scripts/free-port.sh 2)
mkdir -p "$root$(dirname "$conf")"
cat >"$root$conf" <<CFG
[admin]
bind = "127.0.0.1:$admin"
[listeners.web]
bind = "127.0.0.1:$port"
[[listeners.web.routes]]
respond = { status = 200, body = "from the container\n" }
CFG
chroot --userspec="$user:$user" "$root" "$entry" $cmd >target/container-check.log 2>&1 & pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$admin/healthz" && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$admin/status" | grep -q '"listeners"' || { echo "container-check: no admin API" >&2; cat target/container-check.log >&2; exit 1; }
[ "$(curl -s "http://127.0.0.1:$port/")" = "from the container" ] || { echo "container-check: the listener does not serve" >&2; exit 1; }
owner=$(ps -o user= -p "$(pgrep -P "$pid" -x sluice || echo "$pid")" | tr -d ' ')
kill -HUP "$pid"; sleep 0.5
grep -q "config reloaded" target/container-check.log || { echo "container-check: SIGHUP did not reload" >&2; exit 1; }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] || { echo "container-check: exit status $rc" >&2; exit 1; }
echo "container-check: ok (bookworm userland, user $owner, $entry $cmd; reload and stop)"
