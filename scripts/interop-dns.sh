#!/usr/bin/env bash
# DNS interop: sluice as the authoritative server for example.test, asked by dig
# (bind9-dnsutils). Two sites are Python HTTP servers whose /healthz is a file; removing the
# file fails the site's health check. Checks geo with +subnet (and the echoed scope),
# failover within the check interval, fail-open, NXDOMAIN with the SOA, REFUSED, TCP and
# truncation. Fails loudly when dig is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
command -v dig >/dev/null || { echo "interop-dns: dig is required (apt-get install -y bind9-dnsutils)" >&2; exit 1; }
read -r dns a b < <("$(dirname "$0")/free-port.sh" 3)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
for s in a b; do mkdir -p "$work/$s"; echo ok >"$work/$s/healthz"; done
python3 -m http.server "$a" --bind 127.0.0.1 --directory "$work/a" >/dev/null 2>&1 & pids+=($!)
python3 -m http.server "$b" --bind 127.0.0.1 --directory "$work/b" >/dev/null 2>&1 & pids+=($!)
for p in "$a" "$b"; do   # the sites answer before sluice's first health check
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.1; done
done
big=$(python3 -c 'print(", ".join("\"" + "x" * 60 + str(i) + "\"" for i in range(12)))')
cat >"$work/gslb.toml" <<TOML
workers = 1
[clusters.seoul]
endpoints = ["127.0.0.1:$a"]
health = { kind = "http", path = "/healthz", interval = "200ms", timeout = "150ms", rise = 1, fall = 1 }
[clusters.frankfurt]
endpoints = ["127.0.0.1:$b"]
health = { kind = "http", path = "/healthz", interval = "200ms", timeout = "150ms", rise = 1, fall = 1 }
[dns]
bind = "127.0.0.1:$dns"
[dns.regions]
apac = ["203.0.113.0/24", "127.0.0.0/8"]
eu = ["198.51.100.0/24"]
[dns.zones."example.test"]
ns = ["ns1.example.test"]
[[dns.zones."example.test".records]]
name = "www"
type = "A"
ttl = "20s"
policy = "geo"
targets = [{ addr = "192.0.2.10", cluster = "seoul", region = "apac" }, { addr = "192.0.2.30", cluster = "frankfurt", region = "eu" }]
[[dns.zones."example.test".records]]
name = "api"
type = "A"
ttl = "10s"
policy = "failover"
targets = [{ addr = "192.0.2.10", cluster = "seoul" }, { addr = "192.0.2.30", cluster = "frankfurt" }]
[[dns.zones."example.test".records]]
name = "big"
type = "TXT"
values = [$big]
TOML
"$bin" check -c "$work/gslb.toml" >/dev/null
"$bin" run -c "$work/gslb.toml" >"$work/log" 2>&1 & pids+=($!)
q() { dig @127.0.0.1 -p "$dns" +time=2 +tries=1 "$@"; }
for _ in $(seq 1 50); do q +short api.example.test >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5   # a couple of health-check rounds
fail() { echo "interop-dns: $*" >&2; cat "$work/log" >&2; exit 1; }
expect() { local want=$1; shift; local got; got=$(q +short "$@" | tr '\n' ' ' | sed 's/ $//'); [ "$got" = "$want" ] || fail "dig $*: want '$want', got '$got'"; }

expect 192.0.2.30 www.example.test +subnet=198.51.100.0/24
expect 192.0.2.10 www.example.test +subnet=203.0.113.0/24
q www.example.test +subnet=198.51.100.0/24 | grep -q "CLIENT-SUBNET: 198.51.100.0/24/24" || fail "ECS scope not echoed"
expect 192.0.2.10 api.example.test
rm "$work/a/healthz"; sleep 1
expect 192.0.2.30 api.example.test
rm "$work/b/healthz"; sleep 1
expect "192.0.2.10 192.0.2.30" api.example.test            # fail open: every target
echo ok >"$work/a/healthz"; echo ok >"$work/b/healthz"; sleep 1
expect 192.0.2.10 api.example.test
out=$(q nope.example.test); grep -q "status: NXDOMAIN" <<<"$out" || fail "no NXDOMAIN: $out"
grep -A1 "AUTHORITY SECTION" <<<"$out" | grep -q SOA || fail "NXDOMAIN without the SOA: $out"
out=$(q example.org); grep -q "status: REFUSED" <<<"$out" || fail "no REFUSED: $out"
out=$(q +tcp api.example.test); grep -q "192.0.2.10" <<<"$out" || fail "TCP: $out"
out=$(q +noedns +ignore big.example.test TXT); grep -q "flags:.* tc" <<<"$out" || fail "no TC over UDP: $out"
out=$(q +noedns big.example.test TXT); grep -c "x\{60\}" <<<"$out" >/dev/null || fail "no TCP retry: $out"
expect "ns1.example.test." example.test NS
echo "interop-dns: geo+subnet, failover, fail-open, NXDOMAIN, REFUSED, TCP and TC as dig sees them"
