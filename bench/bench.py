#!/usr/bin/env python3
"""bench.py - the end-to-end benchmark of issue 6: mtls-proxy, Caddy, nginx and HAProxy with
equivalent mTLS configs in front of one shared upstream, measured in the same run.

Run it through ./bench/run.sh (which installs packages and builds the tools); see
docs/performance.md for the method and how to read the table. In short, for each round and
each server:
  - start the server pinned to the server CPUs, 1 worker (then 2 workers), on its own temp
    config, PKI and logs;
  - check one request through it (the upstream echoes the head: the client subject must be
    forwarded);
  - run bench/loadgen (pinned to the client CPUs) in modes handshake (P-384 client key, then
    P-256), resume and keepalive; loadgen reads the server processes' utime+stime at the
    start and end of its measurement window and divides by the operations completed in it;
  - read the peak RSS (VmHWM summed over the server's processes);
  - stop it (by its PID; anything left in the process group it was started in is killed).
The crypto floor comes from bench/cryptofloor (same BoringSSL, pinned to the server CPU).
Medians over rounds; one Markdown table with ratios to ours at the end.

Standard library only. Every process it starts is stopped by PID when it ends, whatever
happens (finally/atexit/signals).
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

SERVERS = ["mtls-proxy", "caddy", "nginx", "haproxy"]
OURS = "mtls-proxy"

_children = []      # Proc objects still running


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# processes


def proc_tree(pid):
    """pid and all its descendants (from /proc/*/stat ppid)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out = [pid]
    i = 0
    while i < len(out):
        out += kids.get(out[i], [])
        i += 1
    return out


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """A child in its own process group, output to files; stop() ends it by PID."""

    def __init__(self, argv, name, tmp, env=None, cwd=None, stdout_path=None):
        self.name = name
        self.argv = argv
        self.out_path = stdout_path or os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self._out = open(self.out_path, "ab")
        self._err = open(self.err_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                  start_new_session=True)
        self.pid = self.p.pid
        _children.append(self)

    def alive(self):
        return self.p.poll() is None

    def pids(self):
        return proc_tree(self.pid) if self.alive() else []

    def stop(self, timeout=10):
        tree = self.pids()
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in tree:                       # nginx/haproxy workers that outlived it
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)   # the group we created for it
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self._out, self._err):
            f.close()
        if self in _children:
            _children.remove(self)

    def stderr_tail(self, n=2000):
        try:
            with open(self.err_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""


def _stop_all():
    for p in list(_children):
        try:
            p.stop(timeout=3)
        except Exception:
            pass


atexit.register(_stop_all)


def _on_signal(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not proc.alive():
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def nofile():
    """Raises this process's descriptor limit (inherited by everything it starts) as far as
    allowed; returns the soft limit in force. 10,000 idle connections need more than 20,000
    descriptors in a server that counts two per connection (HAProxy)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (max(hard, 65536), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    return soft


def taskset(cpus, argv):
    return (["taskset", "-c", cpus] + argv) if cpus else argv


# ---------------------------------------------------------------------------------------------
# PKI (openssl CLI): TLS 1.3 server key P-256, client CA Ed25519, client keys P-384 and P-256


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:3]), r.stderr[-800:]))


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server-ca.key", "-out", "server-ca.pem", "-days", "30",
            "-subj", "/O=mtls bench/CN=bench server CA", *ca_ext, cwd=d)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "server-ca.pem", "-CAkey",
            "server-ca.key", "-set_serial", "1001", "-days", "30", "-sha256",
            "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "client-ca.key",
            "-out", "client-ca.pem", "-days", "30",
            "-subj", "/O=mtls bench/CN=bench client CA (Ed25519)", *ca_ext, cwd=d)
    for curve, name in (("P-384", "client-p384"), ("P-256", "client-p256")):
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + curve,
                "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/O=mtls bench/OU=loadgen/CN=" + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "client-ca.pem", "-CAkey",
                "client-ca.key", "-set_serial", str(2000 + len(name) + ord(curve[-1])),
                "-days", "30", "-extfile", "client.ext", "-out", name + ".pem", cwd=d)
    # HAProxy wants certificate and key in one file.
    with open(os.path.join(d, "server-combined.pem"), "w") as f:
        for part in ("server.pem", "server.key"):
            with open(os.path.join(d, part)) as g:
                f.write(g.read())
    p = lambda n: os.path.join(d, n)   # noqa: E731
    return {"dir": d, "server_cert": p("server.pem"), "server_key": p("server.key"),
            "server_combined": p("server-combined.pem"), "server_ca": p("server-ca.pem"),
            "client_ca": p("client-ca.pem"),
            "p384": (p("client-p384.pem"), p("client-p384.key")),
            "p256": (p("client-p256.pem"), p("client-p256.key"))}


# ---------------------------------------------------------------------------------------------
# the servers: equivalent configs
#
# Every one: 127.0.0.1 only; TLS 1.2-1.3 allowed (the client offers TLS 1.3 and X25519 only);
# the same P-256 certificate (leaf only); client certificate required and verified against
# the Ed25519 client CA; every request proxied over HTTP/1.1 keep-alive (pooled upstream
# connections) to the shared upstream, with X-Client-Subject set to the client certificate's
# subject and X-Forwarded-For/-Proto/-Host; an access log line per request to a file; idle
# keep-alive timeout 300 s, no cap on requests per connection; bodies streamed, not buffered.
# Session tickets: each server's default (see docs/performance.md).


class Server:
    kind = "?"
    title = "?"

    def __init__(self, ctx, workers, port):
        self.ctx = ctx
        self.workers = workers
        self.port = port
        self.dir = os.path.join(ctx.tmp, "%s-w%d-%d" % (self.kind, workers, port))
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        argv, env, stdout_path = self.command()
        self.proc = Proc(taskset(self.ctx.server_cpus(self.workers), argv), self.kind,
                         self.dir, env=env, cwd=self.dir, stdout_path=stdout_path)
        if not wait_port(self.port, self.proc):
            err = self.proc.stderr_tail()
            self.proc.stop()
            raise RuntimeError("%s did not start on 127.0.0.1:%d:\n%s" % (self.kind, self.port,
                                                                        err))
        time.sleep(0.2)

    def pids(self):
        return self.proc.pids()

    def peak_rss_kib(self):
        return sum(status_kib(p, "VmHWM") for p in self.pids())

    def rss_kib(self):
        return sum(status_kib(p, "VmRSS") for p in self.pids())

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def caddy_json(ctx, port, for_caddy):
    """The Caddy JSON both Caddy and mtls-proxy run (mtls-proxy rejects `logs`: it always logs
    every request to stdout; Caddy logs them only with `logs`)."""
    srv = {
        "listen": ["127.0.0.1:%d" % port],
        "protocols": ["h1"],
        "automatic_https": {"disable": True},
        "idle_timeout": "5m",
        "routes": [{"handle": [{
            "handler": "reverse_proxy",
            "upstreams": [{"dial": "127.0.0.1:%d" % ctx.upstream_port}],
            "headers": {"request": {"set": {
                "X-Client-Subject": ["{http.request.tls.client.subject}"]}}},
        }]}],
        "tls_connection_policies": [{"client_authentication": {
            "mode": "require_and_verify",
            "trusted_ca_certs_pem_files": [ctx.pki["client_ca"]]}}],
    }
    if for_caddy:
        srv["logs"] = {}
    return {
        "admin": {"disabled": True},
        "apps": {
            "tls": {"certificates": {"load_files": [
                {"certificate": ctx.pki["server_cert"], "key": ctx.pki["server_key"]}]}},
            "http": {"servers": {"bench": srv}},
        },
    }


class MtlsProxy(Server):
    kind = "mtls-proxy"
    title = "mtls-proxy"

    def command(self):
        cfg = self.path("caddy.json")
        with open(cfg, "w") as f:
            json.dump(caddy_json(self.ctx, self.port, False), f, indent=1)
        return ([self.ctx.bins["mtls-proxy"], "run", "--config", cfg, "--workers",
                 str(self.workers), "--max-connections", "60000"], None,
                self.path("access.log"))


class Caddy(Server):
    kind = "caddy"
    title = "Caddy"

    def command(self):
        cfg = self.path("caddy.json")
        with open(cfg, "w") as f:
            json.dump(caddy_json(self.ctx, self.port, True), f, indent=1)
        home = self.path("home")
        for sub in ("", "cfg", "data"):
            os.makedirs(os.path.join(home, sub), exist_ok=True)
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, "cfg"),
                   XDG_DATA_HOME=os.path.join(home, "data"), GOMAXPROCS=str(self.workers))
        # Access log lines go to the default logger: stderr, i.e. caddy.err in its dir.
        return (["caddy", "run", "--config", cfg], env, None)


class Nginx(Server):
    kind = "nginx"
    title = "nginx"

    def command(self):
        d = self.dir
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = """%(user)sworker_processes %(w)d;
worker_rlimit_nofile %(nofile)d;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections %(wconns)d; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    client_max_body_size 0;
    upstream shared_upstream {
        server 127.0.0.1:%(up)d;
        keepalive 64;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:%(port)d ssl;
        server_name localhost;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate %(ca)s;
        ssl_verify_client on;
        location / {
            proxy_pass http://shared_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Client-Subject $ssl_client_s_dn;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_buffer_size 16k;
            proxy_buffers 8 16k;
        }
    }
}
""" % {"user": user, "w": self.workers, "d": d, "nofile": nofile(),
            "wconns": min(32768, nofile() - 100), "up": self.ctx.upstream_port,
            "port": self.port, "cert": self.ctx.pki["server_cert"],
            "key": self.ctx.pki["server_key"], "ca": self.ctx.pki["client_ca"]}
        cfg = self.path("nginx.conf")
        with open(cfg, "w") as f:
            f.write(conf)
        return (["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", cfg,
                 "-g", "daemon off;"], None, None)


class HAProxy(Server):
    kind = "haproxy"
    title = "HAProxy"

    def command(self):
        d = self.dir
        conf = """global
    nbthread %(w)d
    maxconn %(maxconn)d
    no strict-limits
    pidfile %(d)s/haproxy.pid
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    option forwardfor
    # Reuse idle upstream connections for any request, as the other three do; HAProxy's
    # default ("safe") gives the first request of every client connection its own upstream
    # connection, i.e. one upstream connect per handshake.
    http-reuse always
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 30s
    timeout http-keep-alive 300s
frontend bench
    bind 127.0.0.1:%(port)d ssl crt %(crt)s ca-file %(ca)s verify required alpn http/1.1
    http-request set-header X-Client-Subject %%[ssl_c_s_dn(,0,rfc2253)]
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Host %%[req.hdr(host)]
    default_backend shared_upstream
backend shared_upstream
    server up 127.0.0.1:%(up)d
""" % {"w": self.workers, "d": d, "maxconn": self.ctx.args.idle_conns + 2000, "port": self.port,
            "crt": self.ctx.pki["server_combined"],
            "ca": self.ctx.pki["client_ca"], "up": self.ctx.upstream_port}
        cfg = self.path("haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(conf)
        # -db: foreground, no master-worker: one process (nbthread threads); logs on stdout.
        return (["haproxy", "-db", "-f", cfg], None, self.path("access.log"))


SERVER_CLASSES = {"mtls-proxy": MtlsProxy, "caddy": Caddy, "nginx": Nginx, "haproxy": HAProxy}


# ---------------------------------------------------------------------------------------------
# load generator


class LoadgenError(Exception):
    pass


def loadgen_argv(ctx, mode, port, key, conns, threads, pids=(), extra=()):
    cert, keyf = ctx.pki[key]
    argv = [ctx.bins["loadgen"], mode, "--port", str(port), "--sni", "localhost",
            "--cert", cert, "--key", keyf, "--connections", str(conns),
            "--threads", str(threads)]
    if pids:
        argv += ["--pid", ",".join(str(p) for p in pids)]
    return argv + list(extra)


def run_loadgen(ctx, server, mode, key="p384", conns=8, extra=(), duration=None,
                warmup=None):
    threads = ctx.client_threads(server.workers)
    d = ctx.args.duration if duration is None else duration
    w = ctx.args.warmup if warmup is None else warmup
    argv = loadgen_argv(ctx, mode, server.port, key, max(conns, threads), threads,
                        server.pids(), ["--duration", str(d), "--warmup", str(w)] + list(extra))
    argv = taskset(ctx.client_cpus(server.workers), argv)
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=d + w + 120)
    except subprocess.TimeoutExpired:
        raise LoadgenError("loadgen %s timed out" % mode)
    res = None
    for line in r.stdout.splitlines():
        if line.startswith("JSON "):
            res = json.loads(line[5:])
        elif line.strip():
            log("    " + line)
    if r.returncode != 0 or res is None:
        raise LoadgenError("loadgen %s failed (rc %d): %s" % (mode, r.returncode,
                                                             r.stderr[-1500:]))
    if res["errors"]:
        log("    WARNING: %d errors (first: %s)" % (res["errors"], res["first_error"]))
    if res["ops"] == 0:
        raise LoadgenError("loadgen %s: no operation completed (%s)" % (mode,
                                                                        res["first_error"]))
    return res


def check_forwarding(ctx, server):
    """One request to /echo through the server with the P-384 client certificate: the
    upstream answers with the head it received. Returns the X-Client-Subject value."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(ctx.pki["server_ca"])
    c.load_cert_chain(*ctx.pki["p384"])
    c.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with c.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not d:
                break
            data += d
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.") else b"?"
    if status != b"200":
        raise RuntimeError("%s: check request got %r" % (server.kind, head[:200]))
    m = re.search(rb"(?im)^x-client-subject:[ \t]*(.*?)\r?$", body)
    if not m or not m.group(1):
        raise RuntimeError("%s does not forward X-Client-Subject:\n%s" % (
            server.kind, body.decode("latin-1")))
    return m.group(1).decode("latin-1")


# ---------------------------------------------------------------------------------------------
# the run


class Ctx:
    def __init__(self, args, tmp, bins):
        self.args = args
        self.tmp = tmp
        self.bins = bins
        self.pki = None
        self.upstream_port = None
        self.ncpu = os.cpu_count() or 1

    def server_cpus(self, workers):
        if self.args.no_pin or self.ncpu < 2:
            return None
        if workers == 1:
            return self.args.server_cpus
        return self.args.server_cpus_2w

    def client_cpus(self, workers):
        if self.args.no_pin or self.ncpu < 2:
            return None
        return self.args.client_cpus if workers == 1 else self.args.client_cpus_2w

    def client_threads(self, workers):
        return 1 if workers == 1 else 2


def versions():
    def out(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (r.stdout + r.stderr).strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    v = {}
    m = re.search(r"v?(\d+\.\d+\.\d+)", out(["caddy", "version"]))
    v["caddy"] = "Caddy %s (Go)" % (m.group(1) if m else "?")
    nv = out(["nginx", "-V"])
    m, o = re.search(r"nginx/(\S+)", nv), re.search(r"built with (OpenSSL \S+)", nv)
    v["nginx"] = "nginx %s (%s)" % (m.group(1) if m else "?", o.group(1) if o else "?")
    hv = out(["haproxy", "-vv"])
    m, o = re.search(r"HAProxy version (\S+)", hv), \
        re.search(r"Running on (OpenSSL version : )?(OpenSSL [\d.]+)", hv)
    v["haproxy"] = "HAProxy %s (%s)" % (m.group(1).split("-")[0] if m else "?",
                                         o.group(2) if o else "?")
    v["mtls-proxy"] = "mtls-proxy (BoringSSL)"
    return v


def run_floor(ctx):
    argv = taskset(ctx.server_cpus(1), [ctx.bins["cryptofloor"], "--time",
                                        str(ctx.args.floor_time), "--reps", "3"])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    for line in r.stdout.splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:])
    raise RuntimeError("cryptofloor failed: %s" % r.stderr)


def measure_server(ctx, kind, workers, rec):
    """One server, one worker count: the core measurements into rec (a dict of lists)."""
    a = ctx.args
    srv = SERVER_CLASSES[kind](ctx, workers, free_port())
    srv.start()
    try:
        subj = check_forwarding(ctx, srv)
        ctx.subjects[kind] = subj
        tag = "" if workers == 1 else "w2_"
        log("  %s, %d worker(s): pids %s; forwards X-Client-Subject: %s" % (
            kind, workers, srv.pids(), subj))
        steps = [("hs", "handshake", "p384", a.hs_conns)]
        if workers == 1:
            steps += [("hs256", "handshake", "p256", a.hs_conns),
                      ("resume", "resume", "p384", a.hs_conns)]
        steps += [("ka", "keepalive", "p384", a.ka_conns)]
        for name, mode, key, conns in steps:
            r = run_loadgen(ctx, srv, mode, key, conns * workers)
            add(rec, tag + name + "_cpu", r["server_cpu_us_per_op"])
            add(rec, tag + name + "_rate", r["rate"])
            add(rec, tag + name + "_p50", r["p50_us"])
            add(rec, tag + name + "_p99", r["p99_us"])
            add(rec, tag + name + "_lgcpu", r["loadgen_cpu_pct"])
            add(rec, tag + name + "_util", r["server_cpu_us"] / (r["seconds"] * 1e4))
            add(rec, "errors", r["errors"])
            if mode == "resume":
                done = r["resumed"] + r["full"]
                add(rec, "resume_frac", r["resumed"] / done if done else 0)
        add(rec, tag + "rss", srv.peak_rss_kib() / 1024.0)
    finally:
        srv.stop()


def measure_scaling(ctx, kind, rec):
    """Part 3 of issue 6, per server (1 worker): memory per idle connection and a large body
    streamed both ways."""
    a = ctx.args
    srv = SERVER_CLASSES[kind](ctx, 1, free_port())
    srv.start()
    try:
        # warm: lazy initialisation must not count as per-connection memory
        run_loadgen(ctx, srv, "keepalive", "p256", 4, duration=0.5, warmup=0.2)
        base = srv.rss_kib()
        argv = taskset(ctx.client_cpus(1), loadgen_argv(
            ctx, "idle", srv.port, "p256", a.idle_conns, 1, srv.pids(),
            ["--duration", "600", "--ramp", "64"]))
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        established = 0
        try:
            end = time.monotonic() + max(120, a.idle_conns / 50)
            line = ""
            while time.monotonic() < end:
                r, _, _ = select.select([p.stdout], [], [], 1.0)
                if r:
                    line = p.stdout.readline()
                    if line.startswith("READY") or not line:
                        break
            if line.startswith("READY"):
                established = int(line.split()[1])
                time.sleep(1.0)
                now = srv.rss_kib()
                if established:
                    add(rec, "idle_kib_per_conn", (now - base) / established)
                add(rec, "idle_established", established)
                log("    idle: %d connections established, server RSS %d -> %d KiB" % (
                    established, base, now))
            else:
                log("    idle: loadgen did not report READY")
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                out, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
        for line in out.splitlines():
            if line.startswith("JSON "):
                j = json.loads(line[5:])
                log("    idle: closed by the server while held: %d, errors %d %s" % (
                    j["closed_idle"], j["errors"], j["first_error"]))
    finally:
        srv.stop()
    for direction in ("down", "up"):
        srv = SERVER_CLASSES[kind](ctx, 1, free_port())
        srv.start()
        try:
            extra = ["--count", "1", "--body-size", str(a.body_size)]
            if direction == "up":
                extra += ["--upload", "--path", "/upload"]
            r = run_loadgen(ctx, srv, "body", "p256", 1, extra=extra, duration=0, warmup=0)
            add(rec, "body_%s_mbps" % direction, r["mbps"])
            add(rec, "body_%s_cpu_per_gib" % direction,
                r["server_cpu_us"] / 1e6 / (a.body_size / 2**30))
            add(rec, "body_%s_rss" % direction, srv.peak_rss_kib() / 1024.0)
        finally:
            srv.stop()


def add(rec, key, value):
    rec.setdefault(key, []).append(value)


def med(rec, key):
    v = rec.get(key)
    return statistics.median(v) if v else None


# ---------------------------------------------------------------------------------------------
# the table


def fmt(v, digits=0):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{}f}".format(v, digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def build_table(ctx, results, floor, vers):
    servers = [s for s in SERVERS if s in results]
    cols = [vers.get(s, s) for s in servers]
    head = ["metric (medians)"] + cols + ["crypto floor", "ours/Caddy", "ours/nginx",
                                          "ours/HAProxy", "ours/floor"]
    rows = []

    def row(label, key, digits=0, floor_v=None, ratios=True, scale=1.0):
        vals = [med(results[s], key) for s in servers]
        vals = [v * scale if v is not None else None for v in vals]
        if all(v is None for v in vals):
            return          # not measured in this run (--no-2workers, --scaling-only)
        ours = vals[servers.index(OURS)] if OURS in servers else None
        r = [label] + [fmt(v, digits) for v in vals] + [fmt(floor_v, digits)]
        for other in ("caddy", "nginx", "haproxy"):
            o = vals[servers.index(other)] if other in servers else None
            r.append(ratio(ours, o) if ratios else "—")
        r.append(ratio(ours, floor_v) if floor_v is not None else "—")
        rows.append(r)

    def lat_row(label, key):
        if all(med(results[s], key + "_p50") is None for s in servers):
            return
        r = [label]
        for s in servers:
            p50, p99 = med(results[s], key + "_p50"), med(results[s], key + "_p99")
            r.append("%s / %s" % (fmt(p50 / 1000, 2), fmt(p99 / 1000, 2))
                     if p50 is not None else "—")
        rows.append(r + ["—"] * 5)

    f384 = floor["floor_p384_client_us"] if floor else None
    f256 = floor["floor_p256_client_us"] if floor else None
    row("**CPU-µs per full mTLS handshake + 1 request** (P-384 client key)", "hs_cpu", 0, f384)
    row("CPU-µs per full handshake + 1 request (P-256 client key)", "hs256_cpu", 0, f256)
    row("CPU-µs per resumed handshake + 1 request", "resume_cpu", 0)
    row("**CPU-µs per keep-alive proxied request**", "ka_cpu", 1)
    row("peak RSS, MiB (1 worker, after the runs above)", "rss", 1)
    row("CPU-µs per full handshake + 1 request, 2 workers", "w2_hs_cpu", 0, f384)
    row("CPU-µs per keep-alive request, 2 workers", "w2_ka_cpu", 1)
    row("peak RSS, MiB (2 workers)", "w2_rss", 1)
    row("full handshakes/s, 1 worker (wall clock)", "hs_rate", 0)
    row("full handshakes/s, 2 workers (wall clock)", "w2_hs_rate", 0)
    row("keep-alive requests/s, 1 worker (wall clock)", "ka_rate", 0)
    row("keep-alive requests/s, 2 workers (wall clock)", "w2_ka_rate", 0)
    lat_row("handshake latency p50 / p99, ms (1 worker)", "hs")
    lat_row("keep-alive latency p50 / p99, ms (1 worker)", "ka")
    row("share of resume attempts that resumed", "resume_frac", 2, ratios=False)
    row("server CPU % during handshakes (100 = one CPU busy)", "hs_util", 0, ratios=False)
    row("loadgen CPU % during handshakes (100 = loadgen-bound)", "hs_lgcpu", 0, ratios=False)
    row("server CPU % during keep-alive requests", "ka_util", 0, ratios=False)
    if any("idle_kib_per_conn" in results[s] for s in servers):
        row("memory per idle mTLS connection, KiB (%d held)" % ctx.args.idle_conns,
            "idle_kib_per_conn", 1)
        row("%s body download through the proxy, MB/s" % human(ctx.args.body_size),
            "body_down_mbps", 0)
        row("%s body upload through the proxy, MB/s" % human(ctx.args.body_size),
            "body_up_mbps", 0)
        row("server CPU-s per GiB downloaded", "body_down_cpu_per_gib", 2)
        row("server CPU-s per GiB uploaded", "body_up_cpu_per_gib", 2)
        row("peak RSS during the download, MiB", "body_down_rss", 1)
        row("peak RSS during the upload, MiB", "body_up_rss", 1)
    for s in servers:     # errors: a sum over all runs, not a median
        results[s]["errors_sum"] = [sum(results[s].get("errors", [0]))]
    row("errors (sum over all runs)", "errors_sum", 0, ratios=False)

    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(widths[i]) for i, h in enumerate(head)) + " |",
             "|" + "|".join("-" * (widths[0] + 2) if i == 0 else "-" * (widths[i] + 1) + ":"
                            for i in range(len(head))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                                       for i, c in enumerate(r)) + " |")
    return "\n".join(lines)


def human(n):
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= k and n % k == 0:
            return "%d %s" % (n // k, unit)
    return "%d B" % n


def parse_size(s):
    m = re.match(r"^(\d+)([kKmMgG]?)$", s)
    if not m:
        raise argparse.ArgumentTypeError("size: a number with an optional k/M/G suffix")
    return int(m.group(1)) * {"": 1, "k": 2**10, "K": 2**10, "m": 2**20, "M": 2**20,
                              "g": 2**30, "G": 2**30}[m.group(2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build"), help="meson build dir")
    ap.add_argument("--bin-dir", help="where loadgen, upstream, cryptofloor are")
    ap.add_argument("--quick", action="store_true", help="1 round of short runs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="window of each run, s")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--hs-conns", type=int, default=8, help="concurrent handshaking clients")
    ap.add_argument("--ka-conns", type=int, default=32, help="keep-alive connections")
    ap.add_argument("--no-2workers", action="store_true", help="skip the 2-worker runs")
    ap.add_argument("--scaling", action="store_true",
                    help="also idle connections and a large body (issue 6 part 3)")
    ap.add_argument("--scaling-only", action="store_true",
                    help="only the --scaling measurements (no rounds)")
    ap.add_argument("--idle-conns", type=int, default=10000)
    ap.add_argument("--body-size", type=parse_size, default=parse_size("1G"))
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--client-cpus", default="1")
    ap.add_argument("--server-cpus-2w", default="0,1")
    ap.add_argument("--client-cpus-2w", default="0,1")
    ap.add_argument("--no-pin", action="store_true", help="no taskset at all")
    ap.add_argument("--floor-time", type=float, default=0.5)
    ap.add_argument("--out", help="results directory (default BUILD/bench-results/DATE)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.warmup, a.floor_time = 1, 2.0, 0.5, 0.2
    if a.scaling_only:
        a.scaling, a.rounds = True, 0
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    for s in servers:
        if s not in SERVER_CLASSES:
            sys.exit("unknown server %r (known: %s)" % (s, ", ".join(SERVERS)))

    a.build = os.path.abspath(a.build)
    bin_dir = os.path.abspath(a.bin_dir or os.path.join(a.build, "bench"))
    bins = {"loadgen": os.path.join(bin_dir, "loadgen"),
            "upstream": os.path.join(bin_dir, "upstream"),
            "cryptofloor": os.path.join(bin_dir, "cryptofloor"),
            "mtls-proxy": os.path.join(a.build, "examples", "mtls-proxy", "mtls-proxy")}
    for name, p in bins.items():
        if not os.access(p, os.X_OK):
            sys.exit("missing %s (%s): run ./bench/run.sh, which builds it" % (name, p))
    for tool, kind in (("caddy", "caddy"), ("nginx", "nginx"), ("haproxy", "haproxy")):
        if kind in servers and not shutil.which(tool):
            sys.exit("%s is not installed (./bench/run.sh installs it)" % tool)

    nofile()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = a.out or os.path.join(a.build, "bench-results", stamp)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="mtls-bench.")
    ctx = Ctx(a, tmp, bins)
    ctx.subjects = {}
    try:
        ctx.pki = make_pki(os.path.join(tmp, "pki"))
        ctx.upstream_port = free_port()
        up = Proc(taskset(ctx.client_cpus(1), [bins["upstream"], "--port",
                                               str(ctx.upstream_port)]), "upstream", tmp)
        if not wait_port(ctx.upstream_port, up):
            sys.exit("upstream did not start: " + up.stderr_tail())
        vers = versions()
        log("bench: %s; %d CPUs; servers %s; %d round(s) of %.1f s windows (+%.1f s warm-up)"
            % (platform.node(), ctx.ncpu, ", ".join(servers), a.rounds, a.duration, a.warmup))
        log("bench: pinning: server CPUs %s (2 workers: %s), loadgen+upstream CPUs %s" % (
            ctx.server_cpus(1), ctx.server_cpus(2), ctx.client_cpus(1)))
        results = {s: {} for s in servers}
        floors = []
        for rnd in range(a.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            log("round %d/%d" % (rnd + 1, a.rounds))
            floors.append(run_floor(ctx))
            log("  crypto floor: %.0f µs (P-384 client), %.0f µs (P-256 client)" % (
                floors[-1]["floor_p384_client_us"], floors[-1]["floor_p256_client_us"]))
            for workers in ([1] if a.no_2workers else [1, 2]):
                for kind in order:
                    try:
                        measure_server(ctx, kind, workers, results[kind])
                    except (RuntimeError, LoadgenError) as e:
                        log("  %s (%d workers) FAILED: %s" % (kind, workers, e))
                        add(results[kind], "failed", str(e))
        if a.scaling:
            log("scaling: %d idle connections, %s bodies" % (a.idle_conns, human(a.body_size)))
            for kind in servers:
                log("  %s" % kind)
                try:
                    measure_scaling(ctx, kind, results[kind])
                except (RuntimeError, LoadgenError) as e:
                    log("  %s scaling FAILED: %s" % (kind, e))
                    add(results[kind], "failed", str(e))
        if not floors:
            floors.append(run_floor(ctx))
        floor = {k: statistics.median(f[k] for f in floors) for k in floors[0]}
        table = build_table(ctx, results, floor, vers)
        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"model name\s*:\s*(.*)", f.read())
                cpu = m.group(1) if m else ""
        except OSError:
            pass
        header = ("%s; %s; %d CPUs (%s); %d round(s), %.0f s windows; server pinned to CPU %s, "
                  "loadgen and upstream to CPU %s; TLS 1.3, X25519, P-256 server key, Ed25519 "
                  "client CA; %d handshaking clients, %d keep-alive connections%s" % (
                      stamp, platform.node(), ctx.ncpu, cpu, a.rounds, a.duration,
                      ctx.server_cpus(1), ctx.client_cpus(1), a.hs_conns, a.ka_conns,
                      " (QUICK: one short run, noisy)" if a.quick else ""))
        floor_line = ("crypto floor (bench/cryptofloor, µs CPU): X25519 %.0f + P-256 sign %.0f + "
                      "Ed25519 verify %.0f + P-384 verify %.0f (P-256 verify %.0f)" % (
                          floor["x25519_us"], floor["p256_sign_us"],
                          floor["ed25519_verify_us"], floor["p384_verify_us"],
                          floor["p256_verify_us"]))
        report = "%s\n\n%s\n\n%s\n" % (header, table, floor_line)
        failed = {s: results[s]["failed"] for s in servers if "failed" in results[s]}
        if failed:
            report += "\nFAILED runs: %s\n" % json.dumps(failed)
        print(report)
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(report)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump({"header": header, "versions": vers, "floor": floors,
                       "results": results, "subjects": ctx.subjects,
                       "args": vars(a)}, f, indent=1)
        log("bench: results in %s (table.md, results.json)" % out_dir)
        return 1 if failed else 0
    finally:
        _stop_all()
        if a.keep:
            log("bench: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
