#!/usr/bin/env python3
"""HTTP/3 interop checks against a running sluice, with two independent client stacks:
curl_cffi (libcurl + ngtcp2/nghttp3) and aioquic. Run by scripts/interop-h3.sh, which starts
sluice and this script's echo backend.

usage: interop_h3.py backend PORT            serve the echo backend (foreground)
       interop_h3.py check PORT CA           run every check against 127.0.0.1:PORT
"""
import asyncio, json, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/bytes/"):
            out = b"x" * int(self.path[len("/bytes/"):])
        else:
            out = json.dumps({"path": self.path, "method": self.command, "body_len": len(body),
                              "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = answer


def fail(msg):
    print(f"interop-h3: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_curl(port, ca):
    from curl_cffi import requests
    base = f"https://a.test:{port}"
    res = [f"a.test:{port}:127.0.0.1"]
    def session():
        s = requests.Session(verify=ca, timeout=10)
        s.curl.setopt(10203, res)  # CURLOPT_RESOLVE
        return s
    s = session()
    r = s.get(f"{base}/x?q=1", http_version="v3only")
    if r.status_code != 200 or r.http_version != 30:
        fail(f"curl GET over h3: {r.status_code} version {r.http_version}")
    j = r.json()
    if j["path"] != "/x?q=1" or j["headers"].get("x-forwarded-proto") != "https":
        fail(f"curl GET: upstream saw {j}")
    big = b"y" * (2 << 20)
    r = s.post(f"{base}/up", data=big, http_version="v3only")
    if r.status_code != 200 or r.json()["body_len"] != len(big):
        fail(f"curl POST 2 MiB over h3: {r.status_code} {r.text[:200]}")
    r = s.get(f"{base}/bytes/1048576", http_version="v3only")
    if r.status_code != 200 or len(r.content) != 1 << 20:
        fail(f"curl 1 MiB download over h3: {r.status_code} {len(r.content)}")
    r = session().get(f"{base}/", http_version="v2tls")  # a new handle: no Alt-Svc cache yet
    alt = r.headers.get("alt-svc", "")
    if r.http_version != 3 or alt != f'h3=":{port}"; ma=3600':
        fail(f"curl over h2 (CURL_HTTP_VERSION_2_0 = 3): version {r.http_version}, alt-svc {alt!r}")
    print(f"interop-h3: curl_cffi GET, 2 MiB POST, 1 MiB download over h3; Alt-Svc over h2: {alt}")


async def check_aioquic(port, ca):
    from aioquic.asyncio.client import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived

    class H3(QuicConnectionProtocol):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.http = H3Connection(self._quic)
            self.waiters = {}

        def quic_event_received(self, event):
            for ev in self.http.handle_event(event):
                if isinstance(ev, (HeadersReceived, DataReceived)) and ev.stream_id in self.waiters:
                    fut, evs = self.waiters[ev.stream_id]
                    evs.append(ev)
                    if ev.stream_ended and not fut.done():
                        fut.set_result(evs)

        async def get(self, host, path, method=b"GET", body=b""):
            sid = self._quic.get_next_available_stream_id()
            self.http.send_headers(sid, [(b":method", method), (b":scheme", b"https"),
                                         (b":authority", host.encode()), (b":path", path.encode())],
                                   end_stream=not body)
            if body:
                self.http.send_data(sid, body, end_stream=True)
            fut = asyncio.get_running_loop().create_future()
            self.waiters[sid] = (fut, [])
            self.transmit()
            evs = await asyncio.wait_for(fut, 10)
            head = dict(evs[0].headers)
            return int(head[b":status"]), b"".join(e.data for e in evs if isinstance(e, DataReceived))

    def config(name, tickets=None):
        from aioquic.quic.configuration import QuicConfiguration
        c = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=name)
        c.load_verify_locations(ca)
        if tickets:
            c.session_ticket = tickets[-1]
        return c

    # Many streams on one connection.
    async with connect("127.0.0.1", port, configuration=config("a.test"), create_protocol=H3) as p:
        got = await asyncio.gather(*[p.get("a.test", f"/n{i}") for i in range(50)])
        if any(s != 200 for s, _ in got):
            fail(f"aioquic: 50 streams on one connection: {[s for s, _ in got]}")
        # A client that moves (NAT rebinding): new local port, same connection.
        p._transport.close()
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: p, local_addr=("::", 0))
        s, _ = await p.get("a.test", "/after-move")
        if s != 200:
            fail(f"aioquic: request after a move: {s}")
    # Certificates by SNI: b.test verifies only with b's certificate; c.test does not.
    async with connect("127.0.0.1", port, configuration=config("b.test"), create_protocol=H3) as p:
        if (await p.get("b.test", "/"))[0] != 200:
            fail("aioquic: b.test")
    try:
        async with connect("127.0.0.1", port, configuration=config("c.test"), create_protocol=H3) as p:
            await p.get("c.test", "/")
        fail("aioquic: c.test verified against the default certificate")
    except ConnectionError:
        pass
    # 0-RTT is off by default: a resumed connection's early data is refused, the request
    # still succeeds after the handshake.
    tickets = []
    async with connect("127.0.0.1", port, configuration=config("a.test"), create_protocol=H3,
                       session_ticket_handler=tickets.append) as p:
        await p.get("a.test", "/")
        await asyncio.sleep(0.2)
    if not tickets:
        fail("aioquic: no session ticket")
    async with connect("127.0.0.1", port, configuration=config("a.test", tickets), create_protocol=H3,
                       wait_connected=False) as p:
        s, _ = await p.get("a.test", "/early", method=b"POST", body=b"pay")
        if s != 200 or p._quic.tls.early_data_accepted:
            fail(f"aioquic: 0-RTT: status {s}, early data accepted {p._quic.tls.early_data_accepted}")
    print("interop-h3: aioquic 50 streams on one connection, a move, SNI a/b (c refused), 0-RTT refused by default")


def main():
    if sys.argv[1] == "backend":
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Echo).serve_forever()
    port, ca = int(sys.argv[2]), sys.argv[3]
    check_curl(port, ca)
    asyncio.run(check_aioquic(port, ca))


if __name__ == "__main__":
    main()
