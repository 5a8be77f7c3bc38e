#!/usr/bin/env bash
# The chapter's §16.5 snippets through `sluice import` and `sluice check`, straight out of
# ../shared/seed (no copy kept in the repo): each block is extracted, imported, its
# certificate paths pointed at a throwaway certificate, and checked. With --examples, also
# regenerates examples/haproxy-16.5.*.toml, nginx-16.5.3.toml and envoy-16.5.4.toml (source
# kept in comments, certificates from examples/certs). Fails loudly if the seed is missing.
set -euo pipefail
bin=${1:-target/release/sluice}
regen=${2:-}
cd "$(dirname "$0")/.."
seed=../shared/seed/000_4bea406925b2964b.txt
[ -f "$seed" ] || { echo "import-seed: $seed is missing" >&2; exit 1; }
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/k.pem" -out "$w/c.pem" \
  -days 2 -subj /CN=example.com 2>/dev/null
cat "$w/c.pem" "$w/k.pem" >"$w/both.pem"
python3 - "$seed" "$w" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
start = t.index('\n## 16.5 ') + 1
rest = t[start:]
sec = rest[:rest.find('\n## ', 3)]
names = ['haproxy-16.5.1', 'haproxy-16.5.2', 'nginx-16.5.3', 'envoy-16.5.4']
blocks = re.findall(r'```(\w+)\n(.*?)```', sec, re.S)
assert len(blocks) == 4, f"expected 4 snippets, found {len(blocks)}"
for name, (lang, body) in zip(names, blocks):
    open(f"{sys.argv[2]}/{name}.src", 'w').write(body)
PY
for name in haproxy-16.5.1 haproxy-16.5.2 nginx-16.5.3 envoy-16.5.4; do
  from=${name%%-*}
  "$bin" import --from "$from" "$w/$name.src" >"$w/$name.toml" 2>"$w/$name.err"
  sed -e "s#/etc/ssl/cert.pem#$w/both.pem#g" -e "s#/etc/ssl/fullchain.pem#$w/c.pem#g" \
      -e "s#/etc/ssl/privkey.pem#$w/k.pem#g" "$w/$name.toml" >"$w/$name.checked.toml"
  "$bin" check -c "$w/$name.checked.toml" >/dev/null || { cat "$w/$name.toml" >&2; exit 1; }
  echo "import-seed: §${name#*-} ($from): $(grep -c . "$w/$name.err" || true) directives reported untranslated, config checks"
  if [ "$regen" = --examples ]; then
    {
      echo "# $name.toml — the chapter's §${name#*-} snippet, translated by \`sluice import --from $from\`"
      echo "# (scripts/import-seed.sh --examples regenerates it). The source, line by line:"
      echo "#"; nl -ba -w2 -s': ' "$w/$name.src" | sed 's/^/#   /'
      if [ -s "$w/$name.err" ]; then echo "#"; echo "# Reported on stderr (not translated, or translated with a difference):"; sed 's/^/#   /' "$w/$name.err"; fi
      echo "#"; echo "# Certificates point at the throwaway ones in certs/."
      sed -e "s#\"/etc/ssl/cert.pem\", key = \"/etc/ssl/cert.pem\"#\"certs/app.example.test.pem\", key = \"certs/app.example.test.key\"#" \
          -e "s#/etc/ssl/fullchain.pem#certs/app.example.test.pem#" -e "s#/etc/ssl/privkey.pem#certs/app.example.test.key#" \
          -e "s#$w/$name.src#$name#g" "$w/$name.toml"
    } >"examples/$name.toml"
  fi
done
