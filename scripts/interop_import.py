#!/usr/bin/env python3
"""`sluice import` against the real thing: a config runs in HAProxy (then NGINX), the same
file is imported and run in sluice, and the same requests go to both. Each must reach the
same backend with the same upstream headers (Host and the ones the config sets or removes).

usage: interop_import.py SLUICE_BINARY
"""
import http.client, json, os, socket, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLUICE = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="interop-import-")
os.chmod(WORK, 0o755)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def backend(name):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_GET(self):
            body = json.dumps({"backend": name, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.handle_error = lambda *a: None  # proxies closing idle keep-alive connections at the end
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def ask(port, path, host, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers={"Host": host, **headers})
    r = c.getresponse(); body = r.read()
    if r.status != 200 or not body.startswith(b"{"):
        return (r.status, body.decode(errors="replace").strip())
    j = json.loads(body)
    h = j["headers"]
    return (j["backend"], h.get("host"), h.get("x-env"), "x-secret" in h, h.get("x-team"))


def wait(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"interop-import: nothing listening on {port}")


def run_sluice(src, fmt, port_from, port_to):
    out = subprocess.run([SLUICE, "import", "--from", fmt, src], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"interop-import: import failed: {out.stderr}")
    text = out.stdout.replace(f":{port_from}\"", f":{port_to}\"")
    path = os.path.join(WORK, f"{fmt}.toml")
    open(path, "w").write(text)
    p = subprocess.Popen([SLUICE, "run", "-c", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(port_to)
    return p, out.stderr


def compare(name, a, b, cases):
    for path, host, headers in cases:
        x, y = ask(a, path, host, headers), ask(b, path, host, headers)
        if x != y:
            sys.exit(f"interop-import: {name} {host}{path}: the original gave {x}, sluice gave {y}")
    print(f"interop-import: {name}: {len(cases)} requests, same backend and upstream headers")


def main():
    api, shop, site = backend("api"), backend("shop"), backend("site")
    procs = []
    try:
        hp, sp = free_port(), free_port()
        cfg = os.path.join(WORK, "haproxy.cfg")
        open(cfg, "w").write(f"""global
  nbthread 1
defaults
  mode http
  timeout client 30s
  timeout server 30s
  timeout connect 5s
frontend web
  bind 127.0.0.1:{hp}
  acl is_api path_beg /api
  acl is_shop hdr(host) -i shop.test
  acl is_old path /old
  http-request set-header X-Env prod
  http-request del-header X-Secret
  http-request return status 410 content-type text/plain string gone if is_old
  use_backend b_api if is_api
  use_backend b_shop if is_shop
  default_backend b_site
backend b_api
  server a 127.0.0.1:{api}
backend b_shop
  server s 127.0.0.1:{shop}
backend b_site
  balance roundrobin
  server w 127.0.0.1:{site}
""")
        procs.append(subprocess.Popen(["haproxy", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(hp)
        p, err = run_sluice(cfg, "haproxy", hp, sp); procs.append(p)
        cases = [("/", "a.test", {}), ("/api/x", "a.test", {"X-Secret": "1"}), ("/x", "shop.test", {}),
                 ("/api", "shop.test", {}), ("/old", "a.test", {}), ("/old/2", "a.test", {"X-Env": "dev"})]
        compare("haproxy", hp, sp, cases)
        np_, sp2 = free_port(), free_port()
        conf = os.path.join(WORK, "nginx.conf")
        open(conf, "w").write(f"""worker_processes 1; daemon off; pid {WORK}/nginx.pid; error_log {WORK}/nginx.err;
events {{ worker_connections 256; }}
http {{
  access_log off;
  upstream api {{ server 127.0.0.1:{api}; }}
  upstream shop {{ server 127.0.0.1:{shop}; }}
  upstream site {{ server 127.0.0.1:{site}; keepalive 8; }}
  server {{
    listen 127.0.0.1:{np_};
    server_name www.test;
    location / {{ proxy_pass http://site; proxy_set_header Host $host; proxy_set_header X-Team blue; }}
    location ^~ /static/ {{ proxy_pass http://shop; proxy_set_header Host $host; }}
    location ~ \\.php$ {{ return 403 "no"; }}
    location = /exact {{ proxy_pass http://api; proxy_set_header Host $host; }}
    location /api/ {{ proxy_pass http://api; proxy_set_header Host $host; proxy_set_header X-Env prod; }}
  }}
}}
""")
        procs.append(subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(np_)
        p, err = run_sluice(conf, "nginx", np_, sp2); procs.append(p)
        cases = [("/", "www.test", {}), ("/exact", "www.test", {}), ("/exact/more", "www.test", {}),
                 ("/static/a.css", "www.test", {}), ("/static/x.php", "www.test", {}), ("/a.php", "www.test", {}),
                 ("/api/v1", "www.test", {})]
        compare("nginx", np_, sp2, cases)
    finally:
        for p in procs:
            p.terminate()


if __name__ == "__main__":
    main()
