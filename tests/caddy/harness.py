#!/usr/bin/env python3
"""Helpers for tests/caddy/caddy-golden.sh (the real-Caddy differential harness).

Subcommands:
  freeport                      print a free TCP port on 127.0.0.1
  echo PORTFILE                 run the echo upstream: answers every request with the raw bytes
                                of the request head it received (request line + headers)
  config ...                    write the Caddy JSON config (see main())
  curlcfg BASEURL DIR           write DIR/curl.cfg fetching every /h/<i>, /r/<i> and /all
  collect NAME DIR              print the TSV rows of one client (reads DIR/*, DIR/codes)
  escape                        escape stdin (bytes) as the TSV value format

TSV value format (shared with tests/identity-tool/mtls-identity.c): bytes as received, except
  backslash -> \\\\, TAB -> \\t, LF -> \\n, CR -> \\r, other bytes < 0x20 and 0x7f -> \\xHH
  (lower-case hex); UTF-8 and other bytes >= 0x80 are written raw.
Markers that are not values start with '<': <absent> (the upstream got no such header),
  <HTTP nnn> (Caddy answered nnn instead of proxying), <curl n> (no HTTP answer).
"""
import json
import os
import socket
import socketserver
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def placeholders():
    out = []
    with open(os.path.join(HERE, "placeholders.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def header_name(ph):
    rest = ph[len("http.request.tls."):]
    parts = rest.replace("_", ".").split(".")
    return "X-Mtls-" + "-".join(p[:1].upper() + p[1:] for p in parts)


def escape(b):
    out = bytearray()
    for c in b:
        if c == 0x5C:
            out += b"\\\\"
        elif c == 0x09:
            out += b"\\t"
        elif c == 0x0A:
            out += b"\\n"
        elif c == 0x0D:
            out += b"\\r"
        elif c < 0x20 or c == 0x7F:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return bytes(out)


def cmd_freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


class EchoHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self):
        while True:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                head += chunk
                if len(head) > 1 << 20:
                    return
            head, _, _rest = head.partition(b"\r\n\r\n")
            body = head + b"\r\n"
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            return


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def cmd_echo(portfile):
    srv = EchoServer(("127.0.0.1", 0), EchoHandler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    srv.serve_forever()


def read_manifest(pki):
    rows = []
    with open(os.path.join(pki, "manifest.tsv")) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(dict(zip(hdr, line.split("\t"))))
    return rows


def pem_certs_der_b64(path):
    import base64
    import re
    text = open(path).read()
    out = []
    for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S):
        out.append("".join(m.group(1).split()))
        base64.b64decode(out[-1])  # validate
    return out


def cmd_config(pki, out, echo_port, req_port, ver_port, logfile, trustmap):
    """Caddy 2.6.2 JSON config: server 'req' (mode request, one route per placeholder) and
    server 'ver' (require_and_verify, one connection policy per trust file, chosen by SNI
    t<N>.mtls.test)."""
    phs = placeholders()
    routes = []
    up = [{"dial": "127.0.0.1:%d" % echo_port}]
    for i, ph in enumerate(phs):
        routes.append({"match": [{"path": ["/h/%d" % i]}],
                       "handle": [{"handler": "reverse_proxy", "upstreams": up,
                                   "headers": {"request": {"set": {header_name(ph): ["{%s}" % ph]}}}}],
                       "terminal": True})
        routes.append({"match": [{"path": ["/r/%d" % i]}],
                       "handle": [{"handler": "static_response", "status_code": 200,
                                   "body": "{%s}" % ph}],
                       "terminal": True})
    routes.append({"match": [{"path": ["/all"]}],
                   "handle": [{"handler": "reverse_proxy", "upstreams": up,
                               "headers": {"request": {"set": {header_name(ph): ["{%s}" % ph]
                                                               for ph in phs}}}}],
                   "terminal": True})

    trusts = sorted({r["trust"] for r in read_manifest(pki)})
    ver_policies = []
    with open(trustmap, "w") as tm:
        for i, t in enumerate(trusts):
            sni = "t%d.mtls.test" % i
            tm.write("%s\t%s\n" % (t, sni))
            ver_policies.append({"match": {"sni": [sni]},
                                 "client_authentication": {
                                     "trusted_ca_certs": pem_certs_der_b64(os.path.join(pki, t)),
                                     "mode": "require_and_verify"}})

    cfg = {
        "admin": {"disabled": True},
        "logging": {"logs": {"default": {"level": "DEBUG",
                                         "writer": {"output": "file", "filename": logfile}}}},
        "apps": {
            "tls": {"certificates": {"load_files": [{
                "certificate": os.path.join(pki, "server.pem"),
                "key": os.path.join(pki, "server.key.pem")}]}},
            "http": {"servers": {
                "req": {"listen": ["127.0.0.1:%d" % req_port],
                        "protocols": ["h1", "h2"],
                        "automatic_https": {"disable": True},
                        "tls_connection_policies": [
                            {"client_authentication": {"mode": "request"}}],
                        "routes": routes},
                "ver": {"listen": ["127.0.0.1:%d" % ver_port],
                        "protocols": ["h1", "h2"],
                        "automatic_https": {"disable": True},
                        "tls_connection_policies": ver_policies,
                        "routes": [{"handle": [{"handler": "static_response",
                                                "status_code": 200, "body": "verified\n"}]}]},
            }},
        },
    }
    with open(out, "w") as f:
        json.dump(cfg, f, indent=1)


def cmd_curlcfg(base, d):
    phs = placeholders()
    with open(os.path.join(d, "curl.cfg"), "w") as f:
        for i in range(len(phs)):
            for kind in ("h", "r"):
                f.write('url = "%s/%s/%d"\noutput = "%s/%s%d"\n' % (base, kind, i, d, kind, i))
        f.write('url = "%s/all"\noutput = "%s/all"\n' % (base, d))


def parse_echo(body, hname):
    """Value of header hname in a raw request head, or None."""
    want = hname.lower().encode()
    for line in body.split(b"\r\n")[1:]:
        name, sep, val = line.partition(b":")
        if sep and name.strip().lower() == want:
            return val.lstrip(b" \t")
    return None


def cmd_collect(name, d):
    """Rows for one client: from /h/<i> (header as the upstream got it) to stdout, from
    /r/<i> (respond body = the raw placeholder value) to fd given by env RAW_OUT file."""
    phs = placeholders()
    codes = {}
    curl_rc = "?"
    cf = os.path.join(d, "codes")
    if os.path.exists(cf):
        from urllib.parse import urlsplit
        for line in open(cf, "rb").read().decode("latin-1").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2:
                codes[urlsplit(parts[1]).path.lstrip("/")] = parts[0]
    rcf = os.path.join(d, "curl_rc")
    if os.path.exists(rcf):
        curl_rc = open(rcf).read().strip()
    hdr_rows, raw_rows = [], []
    nm = name.encode()

    def marker(key):
        code = codes.get(key)
        if code is None or code == "000":
            return b"<curl %s>" % curl_rc.encode()
        return None if code == "200" else b"<HTTP %s>" % code.encode()

    for i, ph in enumerate(phs):
        p = ph.encode()
        m = marker("h/%d" % i)
        if m is None:
            v = parse_echo(open(os.path.join(d, "h%d" % i), "rb").read(), header_name(ph))
            m = b"<absent>" if v is None else escape(v)
        hdr_rows.append(nm + b"\t" + p + b"\t" + m + b"\n")
        m = marker("r/%d" % i)
        if m is None:
            m = escape(open(os.path.join(d, "r%d" % i), "rb").read())
        raw_rows.append(nm + b"\t" + p + b"\t" + m + b"\n")
    m = marker("all")
    hdr_rows.append(nm + b"\t(all-headers-request)\t" + (m or b"<HTTP 200>") + b"\n")
    with open(os.environ["HDR_OUT"], "ab") as f:
        f.writelines(hdr_rows)
    with open(os.environ["RAW_OUT"], "ab") as f:
        f.writelines(raw_rows)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a[0]
    if cmd == "freeport":
        cmd_freeport()
    elif cmd == "echo":
        cmd_echo(a[1])
    elif cmd == "config":
        # config PKIDIR OUT ECHO_PORT REQ_PORT VER_PORT LOGFILE TRUSTMAP
        cmd_config(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), a[6], a[7])
    elif cmd == "curlcfg":
        cmd_curlcfg(a[1], a[2])
    elif cmd == "collect":
        cmd_collect(a[1], a[2])
    elif cmd == "escape":
        sys.stdout.buffer.write(escape(sys.stdin.buffer.read()))
    elif cmd == "header-name":
        print(header_name(a[1]))
    else:
        sys.exit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
