#!/usr/bin/env bash
# Anycast route health injection against real BGP: BIRD 2 is the upstream router in a network
# namespace, ExaBGP on the host runs `sluice anycast-feed` as its process. Two Python HTTP
# servers are the cluster's endpoints (their /healthz is a file). Asserts with
# `birdc show route all` that the prefix is announced, gets the prepends and community when
# one endpoint fails (degraded), disappears when both fail, comes back, and on SIGTERM
# disappears while sluice's listener still answers. Needs root (ip netns), bird2, exabgp.
set -euo pipefail
bin=$(realpath "${1:-target/release/sluice}")
for c in ip bird birdc exabgp curl; do
  command -v $c >/dev/null || { echo "interop-bgp: $c is required (apt-get install -y iproute2 bird2 exabgp curl)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "interop-bgp: needs root for ip netns" >&2; exit 1; }
read -r web admin a b < <("$(dirname "$0")/free-port.sh" 4)
ns=sluicebgp$$; vh=vsh$$; vr=vsr$$
work=$(mktemp -d); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$(cat "$work/bird.pid" 2>/dev/null)" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$vh" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "interop-bgp: $*" >&2; echo "--- birdc:" >&2; birdc -s "$work/bird.ctl" show route all 2>&1 | tail -20 >&2 || true
         echo "--- exabgp:" >&2; tail -20 "$work/exabgp.log" >&2 || true; echo "--- sluice:" >&2; tail -20 "$work/sluice.log" >&2 || true; exit 1; }

ip netns add "$ns"
ip link add "$vh" type veth peer name "$vr"
ip link set "$vr" netns "$ns"
ip addr add 10.231.0.1/30 dev "$vh"; ip link set "$vh" up
ip netns exec "$ns" ip addr add 10.231.0.2/30 dev "$vr"
ip netns exec "$ns" ip link set "$vr" up
ip netns exec "$ns" ip link set lo up

for s in a b; do mkdir -p "$work/$s"; echo ok >"$work/$s/healthz"; done
python3 -m http.server "$a" --bind 127.0.0.1 --directory "$work/a" >/dev/null 2>&1 & pids+=($!)
python3 -m http.server "$b" --bind 127.0.0.1 --directory "$work/b" >/dev/null 2>&1 & pids+=($!)

for p in "$a" "$b"; do   # the endpoints answer before sluice's first health check
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.1; done
done
cat >"$work/sluice.toml" <<TOML
workers = 1
[admin]
bind = "127.0.0.1:$admin"
[listeners.web]
bind = "127.0.0.1:$web"
[[listeners.web.routes]]
respond = { status = 200, body = "edge" }
[clusters.edge]
endpoints = ["127.0.0.1:$a", "127.0.0.1:$b"]
health = { kind = "http", path = "/healthz", interval = "200ms", timeout = "150ms", rise = 1, fall = 1 }
[anycast]
speaker = "exabgp"
local_as = 65000
withdraw_delay = "3s"
hold = "300ms"
[[anycast.routes]]
prefix = "203.0.113.10/32"
cluster = "edge"
min_healthy = 1
degraded_below = 2
as_path_prepend = 3
communities = ["65000:100"]
TOML
cat >"$work/bird.conf" <<CONF
router id 10.231.0.2;
protocol device { }
protocol bgp edge {
  local 10.231.0.2 as 65001;
  neighbor 10.231.0.1 as 65000;
  ipv4 { import all; export none; };
}
CONF
cat >"$work/exabgp.conf" <<CONF
process sluice {
  run $bin anycast-feed --admin 127.0.0.1:$admin;
  encoder text;
}
neighbor 10.231.0.2 {
  router-id 10.231.0.1;
  local-address 10.231.0.1;
  local-as 65000;
  peer-as 65001;
  api {
    processes [ sluice ];
  }
}
CONF

RUST_LOG=info "$bin" run -c "$work/sluice.toml" >"$work/sluice.log" 2>&1 & sluice=$!; pids+=($sluice)
ip netns exec "$ns" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid" >"$work/bird.log" 2>&1 & pids+=($!)
env exabgp_daemon_drop=false exabgp_daemon_user=root exabgp_api_cli=false exabgp_log_destination=stdout \
    exabgp_tcp_bind= exabgp "$work/exabgp.conf" >"$work/exabgp.log" 2>&1 & pids+=($!)

route() { birdc -s "$work/bird.ctl" show route all 203.0.113.10/32 2>/dev/null || true; }
wait_for() {   # wait_for DESCRIPTION SECONDS CONDITION...
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  fail "timed out: $what"
}
announced_plain() { local r; r=$(route); grep -q "BGP.as_path: 65000$" <<<"$r"; }
degraded() { local r; r=$(route); grep -q "BGP.as_path: 65000 65000 65000 65000$" <<<"$r" && grep -q "BGP.community: (65000,100)" <<<"$r"; }
gone() { ! route | grep -q "203.0.113.10/32"; }

wait_for "the route announced" 30 announced_plain
echo "interop-bgp: announced: $(route | grep -m1 'BGP.as_path')"
rm "$work/a/healthz"
wait_for "the route degraded (prepends, community)" 10 degraded
echo "interop-bgp: degraded: $(route | grep 'BGP.as_path\|BGP.community' | tr -s ' ' | tr '\n' ';')"
rm "$work/b/healthz"
wait_for "the route withdrawn with the cluster down" 10 gone
echo "interop-bgp: withdrawn while the cluster is down"
echo ok >"$work/a/healthz"; echo ok >"$work/b/healthz"
wait_for "the route back" 10 announced_plain
kill -TERM "$sluice"
wait_for "the route withdrawn on SIGTERM" 5 gone
body=$(curl -s -m 2 "http://127.0.0.1:$web/" || true)
[ "$body" = "edge" ] || fail "the listener stopped answering before the route was withdrawn (got '$body')"
echo "interop-bgp: SIGTERM: route withdrawn while the listener still answers"
for _ in $(seq 1 100); do kill -0 "$sluice" 2>/dev/null || break; sleep 0.1; done
kill -0 "$sluice" 2>/dev/null && fail "sluice did not exit after withdraw_delay"
grep -q "exit 4/4" "$work/sluice.log" || fail "no ordered exit in the log"
echo "interop-bgp: announce, degrade, withdraw and the ordered exit as BIRD sees them"
