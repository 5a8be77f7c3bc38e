#!/usr/bin/env python3
"""ACME interop against Pebble (the CA's test server), on loopback, stdlib only.

A mock DNS server resolves every name to 127.0.0.1 (and can hold a name's answers), a test
CA signs Pebble's API certificate for IP 127.0.0.1, and sluice obtains certificates from
Pebble. Scenarios, each failing loudly:
  1. HTTP-01: two names on one listener; curl verifies the served chain against Pebble's
     root; /status and /metrics show them.
  2. TLS-ALPN-01 on the TLS listener itself (no plain-HTTP listener at all).
  3. Renewal: 30-second certificates renewed in the background while a keep-alive client
     keeps its connection; new connections get the new certificate.
  4. Two instances coordinated through Redis: exactly one order per name reaches Pebble
     (counted in its log), both serve the same certificate; the CA reaches only the
     instance that did not order, which answers from Redis.
  5. The lease holder is killed mid-order (its validation held at the DNS server); the
     other instance takes the lease after it expires and finishes.

usage: interop_acme.py SLUICE_BINARY
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/sluice")
W = tempfile.mkdtemp(prefix="sluice-acme-")
PROCS = []


def log(msg):
    print(f"interop-acme: {msg}", flush=True)


def fail(msg):
    print(f"interop-acme: FAIL: {msg}", file=sys.stderr)
    for f in sorted(os.listdir(W)):
        if f.endswith(".log"):
            print(f"--- {f} (tail)", file=sys.stderr)
            with open(os.path.join(W, f), errors="replace") as fh:
                print("".join(fh.readlines()[-15:]), file=sys.stderr)
    cleanup()
    sys.exit(1)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(W, ignore_errors=True)


def ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    out = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return out


class Dns(threading.Thread):
    """Answers A 127.0.0.1 for every name; names in `hold` get no answer at all."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hold = set()

    def run(self):
        while True:
            data, peer = self.sock.recvfrom(512)
            try:
                self.answer(data, peer)
            except Exception as e:  # a malformed query is dropped
                print(f"dns: {e}", file=sys.stderr)

    def answer(self, data, peer):
        qid, _, qd = struct.unpack("!HHH", data[:6])
        i, labels = 12, []
        while data[i]:
            labels.append(data[i + 1 : i + 1 + data[i]].decode())
            i += 1 + data[i]
        name = ".".join(labels).lower()
        qtype = struct.unpack("!H", data[i + 1 : i + 3])[0]
        question = data[12 : i + 5]
        if name in self.hold:
            return
        answers = b""
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + bytes([127, 0, 0, 1])
        head = struct.pack("!HHHHHH", qid, 0x8580, 1, 1 if answers else 0, 0, 0)
        self.sock.sendto(head + question + answers, peer)


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def make_ca():
    ca, key = f"{W}/ca.pem", f"{W}/ca.key"
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", key, "-out", ca, "-days", "2", "-subj", "/CN=pebble-api-ca")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", f"{W}/api.key", "-out", f"{W}/api.csr", "-subj", "/CN=127.0.0.1")
    with open(f"{W}/api.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", f"{W}/api.csr", "-CA", ca, "-CAkey", key, "-CAcreateserial",
       "-days", "2", "-extfile", f"{W}/api.ext", "-out", f"{W}/api.pem")
    return ca


class Pebble:
    def __init__(self, tag, ca, dns, http_port, tls_port, validity=None):
        self.api, mgmt = ports(2)
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.api}", "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": f"{W}/api.pem", "privateKey": f"{W}/api.key",
            "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "",
            "externalAccountBindingRequired": False}}
        if validity:
            cfg["pebble"]["certificateValidityPeriod"] = validity
        path = f"{W}/pebble-{tag}.json"
        with open(path, "w") as f:
            json.dump(cfg, f)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
        self.log = f"{W}/pebble-{tag}.log"
        PROCS.append(subprocess.Popen(["pebble", "-config", path, "-dnsserver", f"127.0.0.1:{dns.port}"],
                                      env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT))
        self.directory = f"https://127.0.0.1:{self.api}/dir"
        ctx = ssl.create_default_context(cafile=ca)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.directory, context=ctx, timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            fail(f"pebble {tag} did not start")
        # The issuing root is new on every start: what clients verify against.
        self.root = f"{W}/root-{tag}.pem"
        with urllib.request.urlopen(f"https://127.0.0.1:{mgmt}/roots/0", context=ctx) as r, open(self.root, "wb") as f:
            f.write(r.read())

    def orders(self):
        with open(self.log, errors="replace") as f:
            return sum(1 for line in f if "Added order" in line)


class Sluice:
    def __init__(self, tag, body):
        self.admin, = ports(1)
        self.tag = tag
        self.path = f"{W}/{tag}.toml"
        with open(self.path, "w") as f:
            f.write(f'[admin]\nbind = "127.0.0.1:{self.admin}"\n{body}')
        self.log = f"{W}/sluice-{tag}.log"
        self.proc = subprocess.Popen([BIN, "run", "-c", self.path], stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        for _ in range(100):
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.1)
        fail(f"sluice {tag} did not start")

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=5)
        c.request("GET", path)
        return c.getresponse().read().decode()

    def acme(self):
        return json.loads(self.get("/status"))["certificates"]["acme"]

    def wait(self, names, state="valid", timeout=60, check=None):
        end = time.time() + timeout
        while time.time() < end:
            st = self.acme()
            if all(st.get(n, {}).get("state") == state and (check is None or check(st[n])) for n in names):
                return st
            time.sleep(0.2)
        fail(f"{self.tag}: {names} not {state} after {timeout}s: {st}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def config(acme, listeners):
    return f"[acme]\n{acme}\n{listeners}\n"


def acme_section(pebble, storage, extra=""):
    return (f'directory = "{pebble.directory}"\ncontact = ["mailto:ops@example.test"]\n'
            f'storage = "{W}/{storage}"\nca = "{W}/ca.pem"\n{extra}')


def https(name, port, names, extra=""):
    return (f'[listeners.{name}]\nbind = "127.0.0.1:{port}"\n[listeners.{name}.tls]\nacme = {json.dumps(names)}\n{extra}'
            f'[[listeners.{name}.routes]]\nrespond = {{ status = 200, body = "hello from {name}" }}\n')


def plain(port):
    return (f'[listeners.plain]\nbind = "127.0.0.1:{port}"\n'
            f'[[listeners.plain.routes]]\nrespond = {{ status = 200, body = "plain" }}\n')


def served(port, name, root):
    """The leaf sluice serves for `name`, verified against Pebble's root (chain required)."""
    ctx = ssl.create_default_context(cafile=root)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s, ctx.wrap_socket(s, server_hostname=name) as t:
        return t.getpeercert(binary_form=True)


def curl(port, name, root):
    out = subprocess.run(["curl", "-sS", "--cacert", root, "--resolve", f"{name}:{port}:127.0.0.1",
                          "-o", "/dev/null", "-w", "%{http_code}", f"https://{name}:{port}/"], capture_output=True, text=True)
    if out.stdout != "200":
        fail(f"curl https://{name}:{port}/ gave {out.stdout!r} {out.stderr.strip()}")


def http01(pebble, h1):
    names = ["www.example.test", "api.example.test"]
    tls, = ports(1)
    s = Sluice("http01", config(acme_section(pebble, "s1"), plain(h1) + https("web", tls, names)))
    st = s.wait(names)
    for n in names:
        curl(tls, n, pebble.root)
        if st[n]["source"] != "issued" or st[n]["orders"] != 1:
            fail(f"http01: {n}: {st[n]}")
    m = s.get("/metrics")
    if 'sluice_tls_certificate_expiry_seconds{name="www.example.test",listener="web",source="acme"}' not in m:
        fail("http01: no expiry metric")
    key = f"{W}/s1/certs/www.example.test/key.pem"
    if os.stat(key).st_mode & 0o777 != 0o600:
        fail("http01: the stored key is not 0600")
    s.kill()
    # A restart serves the stored certificates without a new order.
    before = pebble.orders()
    again = Sluice("http01b", config(acme_section(pebble, "s1"), plain(h1) + https("web", tls, names)))
    st = again.wait(names)
    if pebble.orders() != before or st["www.example.test"]["source"] != "storage":
        fail(f"http01: a restart ordered again: {st}")
    curl(tls, "www.example.test", pebble.root)
    again.kill()
    log("HTTP-01: two names issued, chain verified by curl, restart served from storage")


def tlsalpn(pebble, t1):
    names = ["alpn.example.test"]
    s = Sluice("alpn", config(acme_section(pebble, "s2", 'challenge = "tls-alpn-01"\n'), https("web", t1, names)))
    s.wait(names)
    curl(t1, names[0], pebble.root)
    s.kill()
    log("TLS-ALPN-01: issued on the TLS listener, chain verified by curl")


def renewal(pebble, h2):
    name = "renew.example.test"
    tls, = ports(1)
    s = Sluice("renew", config(acme_section(pebble, "s3", 'renew_before = "50%"\n'), plain(h2) + https("web", tls, [name])))
    first = s.wait([name])[name]
    t0 = time.time()
    ctx = ssl.create_default_context(cafile=pebble.root)
    conn = http.client.HTTPSConnection("127.0.0.1", tls, context=ctx, timeout=5)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls)), server_hostname=name)
    old_leaf = conn.sock.getpeercert(binary_form=True)

    def ask():
        conn.request("GET", "/", headers={"Host": name})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            fail(f"renewal: keep-alive request got {r.status}")

    ask()
    st = s.wait([name], timeout=60, check=lambda v: v["not_after"] > first["not_after"])
    ask()  # the same connection, after the swap
    if served(tls, name, pebble.root) == old_leaf:
        fail("renewal: a new connection still gets the old certificate")
    if st[name]["orders"] < 2:
        fail(f"renewal: {st[name]}")
    conn.close()
    s.kill()
    log(f"renewal: renewed {time.time() - t0:.0f}s after the first of 30s certificates; a keep-alive client kept its connection")


def coordinated(pebble, h1, redis_port):
    names = ["c1.example.test", "c2.example.test"]
    coord = f'coordination = "redis://127.0.0.1:{redis_port}"\nlease = "3s"\n'
    other_plain, tls_a, tls_b = ports(3)
    before = pebble.orders()
    # b starts first and takes the leases; the CA reaches only a (Pebble's httpPort), which
    # answers b's tokens from Redis.
    b = Sluice("coord-b", config(acme_section(pebble, "s4b", coord), plain(other_plain) + https("web", tls_b, names)))
    a = Sluice("coord-a", config(acme_section(pebble, "s4a", coord), plain(h1) + https("web", tls_a, names)))
    sb, sa = b.wait(names), a.wait(names)
    placed = pebble.orders() - before
    if placed != len(names):
        fail(f"coordination: {placed} orders reached Pebble for {len(names)} names")
    for n in names:
        if served(tls_a, n, pebble.root) != served(tls_b, n, pebble.root):
            fail(f"coordination: {n}: the two instances serve different certificates")
    if any(sb[n]["orders"] != 1 or sa[n]["orders"] != 0 or sa[n]["source"] != "shared" for n in names):
        fail(f"coordination: b (first) orders, a takes the shared certificate: {sa} {sb}")
    with open(a.log) as f:
        if "answered an ACME HTTP-01 challenge" not in f.read():
            fail("coordination: the CA reached a, which did not answer b's token from Redis")
    a.kill()
    b.kill()
    log(f"coordination: {placed} orders for {len(names)} names across two instances, same certificates")


def takeover(pebble, h1, redis_port, dns):
    name = "slow.example.test"
    coord = f'coordination = "redis://127.0.0.1:{redis_port}"\nlease = "3s"\n'
    other_plain, tls_a, tls_b = ports(3)
    dns.hold.add(name)
    holder = Sluice("hold", config(acme_section(pebble, "s5h", coord), plain(other_plain) + https("web", tls_b, [name])))
    holder.wait([name], state="ordering", timeout=30)
    heir = Sluice("heir", config(acme_section(pebble, "s5r", coord), plain(h1) + https("web", tls_a, [name])))
    heir.wait([name], state="waiting", timeout=30)
    holder.kill()
    dns.hold.discard(name)
    st = heir.wait([name], timeout=90)
    if st[name]["orders"] != 1 or st[name]["source"] != "issued":
        fail(f"takeover: {st[name]}")
    curl(tls_a, name, pebble.root)
    heir.kill()
    log("takeover: the holder died mid-order; the other instance took the lease and finished")


def main():
    for tool in ("pebble", "redis-server", "openssl", "curl"):
        if not shutil.which(tool):
            fail(f"{tool} is required (apt-get install -y pebble redis-server openssl curl)")
    dns = Dns()
    dns.start()
    ca = make_ca()
    h1, t1, h2, redis_port = ports(4)
    PROCS.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                  stdout=open(f"{W}/redis.log", "w"), stderr=subprocess.STDOUT))
    main_ca = Pebble("main", ca, dns, h1, t1)
    short = Pebble("short", ca, dns, h2, t1, validity=30)
    http01(main_ca, h1)
    tlsalpn(main_ca, t1)
    renewal(short, h2)
    coordinated(main_ca, h1, redis_port)
    takeover(main_ca, h1, redis_port, dns)
    cleanup()
    log("ok")


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:
        fail(f"{type(e).__name__}: {e}")
