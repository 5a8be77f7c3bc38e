#!/usr/bin/env python3
"""The soak's WebSocket parts (stdlib): `server PORT` answers an upgrade with 101 and
echoes; `client PORT SECONDS` opens a WebSocket through sluice again and again, echoes ten
messages on each, and prints `ok N failed M`."""
import socket
import sys
import threading
import time

UPGRADE = (b"GET /ws HTTP/1.1\r\nhost: soak\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
           b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


def head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    h, _, rest = data.partition(b"\r\n\r\n")
    return h, rest


def serve(conn):
    try:
        h, rest = head(conn)
        if h is None:
            return
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                     b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n" + rest)
        while True:
            d = conn.recv(65536)
            if not d:
                return
            conn.sendall(d)
    except OSError:
        pass
    finally:
        conn.close()


def server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(256)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def one(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(UPGRADE)
        h, rest = head(s)
        if h is None or not h.startswith(b"HTTP/1.1 101"):
            return False
        buf = rest
        for i in range(10):
            msg = bytes([0x81, 8]) + f"msg-{i:04d}".encode()[:8]
            s.sendall(msg)
            while len(buf) < len(msg):
                d = s.recv(4096)
                if not d:
                    return False
                buf += d
            if buf[: len(msg)] != msg:
                return False
            buf = buf[len(msg):]
        return True


def client(port, seconds):
    ok = failed = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            good = one(port)
        except OSError:
            good = False
        ok, failed = (ok + 1, failed) if good else (ok, failed + 1)
        time.sleep(0.05)
    print(f"ok {ok} failed {failed}")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(int(sys.argv[2]), float(sys.argv[3]))
