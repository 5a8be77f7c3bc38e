#!/usr/bin/env bash
# Prints N (default 1) free loopback TCP ports, chosen by the kernel (bind to port 0), so
# interop scripts never collide with ports in use or the ephemeral range.
python3 - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
