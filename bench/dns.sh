#!/usr/bin/env bash
# sluice's DNS GSLB beside PowerDNS (pdns-server + pdns-backend-bind with LUA records), on
# the same zone and the same health states:
#   1. answers: both servers asked the same questions with dig while site A is up, then
#      after its /healthz file is removed (LUA ifurlup vs sluice's health checks);
#   2. speed: dnsperf, one server at a time on core 0 (dnsperf on core 1), for a three-name
#      mix answered by health (failover, weighted, geo by ECS) and for plain static A records.
#   bench/dns.sh [BIN=target/release/sluice] [seconds=10]
# Needs: dig (bind9-dnsutils), dnsperf, pdns_server, pdns-backend-bind.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sluice}; secs=${2:-10}
for c in dig dnsperf pdns_server; do command -v $c >/dev/null || { echo "bench/dns: $c missing" >&2; exit 1; }; done
read -r sp pp hp < <(scripts/free-port.sh 3)
work=$(mktemp -d); chmod 755 "$work"
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"' EXIT
# Two sites: 127.0.0.2 and 127.0.0.3 on the same port (PowerDNS's ifurlup fetches the URL
# from each candidate address; sluice checks the same endpoints).
for s in 2 3; do
  mkdir -p "$work/site$s"; echo ok >"$work/site$s/healthz"
  python3 -m http.server "$hp" --bind "127.0.0.$s" --directory "$work/site$s" >/dev/null 2>&1 & pids+=($!)
done
for s in 2 3; do   # the sites answer before the first health checks
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.$s:$hp/healthz" && break; sleep 0.1; done
done
cat >"$work/sluice.toml" <<TOML
workers = 1
[clusters.a]
endpoints = ["127.0.0.2:$hp"]
health = { kind = "http", path = "/healthz", interval = "1s", timeout = "500ms", rise = 1, fall = 1 }
[clusters.b]
endpoints = ["127.0.0.3:$hp"]
health = { kind = "http", path = "/healthz", interval = "1s", timeout = "500ms", rise = 1, fall = 1 }
[dns]
bind = "127.0.0.1:$sp"
[dns.regions]
eu = ["198.51.100.0/24"]
apac = ["0.0.0.0/0"]
[dns.zones."example.test"]
ns = ["ns1.example.test"]
[[dns.zones."example.test".records]]
name = "api"
type = "A"
ttl = "10s"
policy = "failover"
targets = [{ addr = "127.0.0.2", cluster = "a" }, { addr = "127.0.0.3", cluster = "b" }]
[[dns.zones."example.test".records]]
name = "w"
type = "A"
ttl = "10s"
policy = "weighted"
targets = [{ addr = "127.0.0.2", cluster = "a", weight = 90 }, { addr = "127.0.0.3", cluster = "b", weight = 10 }]
[[dns.zones."example.test".records]]
name = "www"
type = "A"
ttl = "10s"
policy = "geo"
targets = [{ addr = "127.0.0.2", cluster = "a", region = "apac" }, { addr = "127.0.0.3", cluster = "b", region = "eu" }]
TOML
for i in $(seq 1 3); do printf '[[dns.zones."example.test".records]]\nname = "s%s"\ntype = "A"\nvalues = ["192.0.2.%s"]\n' "$i" "$i" >>"$work/sluice.toml"; done
cat >"$work/zone" <<ZONE
\$ORIGIN example.test.
@ 3600 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 604800 60
@ 3600 IN NS ns1.example.test.
api 10 IN LUA A "ifurlup('http://example.test:$hp/healthz', {{'127.0.0.2'}, {'127.0.0.3'}}, {interval=1, stringmatch='ok'})"
w 10 IN LUA A "pickwrandom({{90,'127.0.0.2'},{10,'127.0.0.3'}})"
www 10 IN LUA A ";if netmask({'198.51.100.0/24'}) then return '127.0.0.3' else return '127.0.0.2' end"
s1 10 IN A 192.0.2.1
s2 10 IN A 192.0.2.2
s3 10 IN A 192.0.2.3
ZONE
echo "zone \"example.test\" { type master; file \"$work/zone\"; };" >"$work/named.conf"
cat >"$work/pdns.conf" <<CONF
launch=bind
bind-config=$work/named.conf
local-address=127.0.0.1
local-port=$pp
enable-lua-records=yes
edns-subnet-processing=yes
socket-dir=$work
guardian=no
daemon=no
disable-syslog=yes
write-pid=no
receiver-threads=1
distributor-threads=1
cache-ttl=0
query-cache-ttl=0
CONF
RUST_LOG=warn taskset -c 0 "$bin" run -c "$work/sluice.toml" >"$work/sluice.log" 2>&1 & pids+=($!)
taskset -c 0 pdns_server --config-dir="$work" >"$work/pdns.log" 2>&1 & pids+=($!)
sleep 3
ask() { dig @127.0.0.1 -p "$1" +short +time=2 +tries=1 "${@:2}" | sort | tr '\n' ' '; }
compare() {
  for q in "api.example.test" "www.example.test +subnet=198.51.100.0/24" "www.example.test +subnet=203.0.113.0/24"; do
    # shellcheck disable=SC2086
    printf '  %-45s sluice: %-22s pdns: %s\n' "$q" "$(ask $sp $q)" "$(ask $pp $q)"
  done
}
echo "answers, both sites up:"; compare
rm "$work/site2/healthz"; sleep 6
echo "answers, site 127.0.0.2 failing /healthz (sluice's geo falls back to the healthy region;"
echo "PowerDNS's netmask() does not look at health):"; compare
echo ok >"$work/site2/healthz"; sleep 6
for n in api w www; do echo "$n.example.test A"; done >"$work/gslb.q"
for n in s1 s2 s3; do echo "$n.example.test A"; done >"$work/static.q"
perf() { taskset -c 1 dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$secs" -c 8 -q 200 -T 1 2>&1 | awk '/Queries per second/ {printf "%d", $4}'; }
printf '\n| %-26s | %10s | %10s | %8s |\n|---|---|---|---|\n' "mix ($secs s, one core each)" "sluice q/s" "pdns q/s" "ratio"
for mix in gslb static; do
  s=$(perf "$sp" "$work/$mix.q"); p=$(perf "$pp" "$work/$mix.q")
  printf '| %-26s | %10s | %10s | %7.2fx |\n' "$mix" "$s" "$p" "$(echo "$s / $p" | bc -l)"
done
printf '| %-26s | %10s |\n' "sluice gslb vs pdns static" "$(echo "$(perf "$sp" "$work/gslb.q") / $(perf "$pp" "$work/static.q")" | bc -l | cut -c1-5)x"
