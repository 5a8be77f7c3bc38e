#!/usr/bin/env python3
"""Opens N keep-alive client connections to 127.0.0.1:PORT, sends one request on each,
reads the answer, and holds them idle until stdin closes. Prints 'ready' when all are up.
Used by bench/run.sh to measure a proxy's memory per idle client connection."""
import socket, sys

port, n = int(sys.argv[1]), int(sys.argv[2])
def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk


socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    socks.append(s)
    read_head(s)  # one request at a time: upstream concurrency stays 1
print("ready", flush=True)
sys.stdin.read()
