#!/usr/bin/env python3
"""One HTTP/3 request with aioquic: h3get.py URL [--data BODY] [--method M] [--zero-rtt] [--rebind]"""
import argparse, asyncio, ssl, sys
from urllib.parse import urlparse
from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration

class H3(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.http = H3Connection(self._quic)
        self.waiters = {}   # stream_id -> (future, [events])
    def quic_event_received(self, event):
        for ev in self.http.handle_event(event):
            if isinstance(ev, (HeadersReceived, DataReceived)) and ev.stream_id in self.waiters:
                fut, evs = self.waiters[ev.stream_id]
                evs.append(ev)
                if ev.stream_ended and not fut.done():
                    fut.set_result(evs)
    async def request(self, method, url, body=b""):
        u = urlparse(url)
        sid = self._quic.get_next_available_stream_id()
        self.http.send_headers(sid, [(b":method", method.encode()), (b":scheme", b"https"),
            (b":authority", u.netloc.encode()), (b":path", (u.path or "/").encode() + (b"?" + u.query.encode() if u.query else b""))],
            end_stream=not body)
        if body:
            self.http.send_data(sid, body, end_stream=True)
        fut = asyncio.get_running_loop().create_future()
        self.waiters[sid] = (fut, [])
        self.transmit()
        evs = await asyncio.wait_for(fut, 10)
        head = dict(evs[0].headers)
        data = b"".join(e.data for e in evs if isinstance(e, DataReceived))
        return int(head[b":status"]), head, data

async def main(a):
    u = urlparse(a.url)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                            server_name=u.hostname)
    tickets = []
    rounds = 2 if a.zero_rtt else 1
    for i in range(rounds):
        if tickets:
            cfg.session_ticket = tickets[-1]
        # wait_connected=False: the first request goes out in 0-RTT when a ticket is set
        async with connect(u.hostname, u.port or 443, configuration=cfg, create_protocol=H3,
                           session_ticket_handler=tickets.append, wait_connected=not tickets) as p:
            status, head, data = await p.request(a.method, a.url, a.data.encode())
            if a.rebind:
                print(status, data[:200])
            if a.rebind:  # NAT rebinding: new local port, same connection (aioquic binds "::" and maps v4 addresses)
                p._transport.close()
                await asyncio.get_running_loop().create_datagram_endpoint(lambda: p, local_addr=("::", 0))
                status, head, data = await p.request(a.method, a.url, a.data.encode())
            early = p._quic.tls.early_data_accepted if tickets and i else False
            print(status, f"early={early}", data[:200])
            # give the server time to send its NewSessionTicket before closing
            await asyncio.sleep(0.2)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url"); ap.add_argument("--method", default="GET"); ap.add_argument("--data", default="")
    ap.add_argument("--zero-rtt", action="store_true"); ap.add_argument("--rebind", action="store_true")
    asyncio.run(main(ap.parse_args()))
