"""nginxlib.py - helpers of the nginx module tests (python3 stdlib only).

    python3 test_module.py [--libmtls-build DIR] [--module SO] [--mtls-identity BIN]
                           [--pki DIR] [TEST...]

--libmtls-build  an OpenSSL build of libmtls (meson -Dtls_backend=openssl); default
                 $MTLS_BUILD_DIR or build-openssl in the source tree. The module is built from it with
                 integrations/nginx/build.sh into DIR/nginx-module (again only when the module
                 source, its config or libmtls.so is newer than the built module).
--module         use this ngx_http_mtls_module.so instead of building one.
--mtls-identity  tests/identity-tool's mtls-identity of the same build: every variable is then
                 compared with libmtls's own rendering (default: DIR/tests/mtls-identity if
                 it exists).
--pki            an existing test PKI (tests/pki/mkpki.sh output); default: made in the
                 temporary directory.

Exit status: 0 all passed, 1 a test failed, 77 skipped (nginx, nginx-dev, curl or the OpenSSL
build of libmtls missing). MTLS_IT_KEEP=1 keeps the temporary directory.
Every process started here is stopped by its PID (SIGTERM, then SIGKILL) whatever happens.
"""
import argparse
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
MODDIR = os.path.dirname(HERE)
TOP = os.path.normpath(os.path.join(MODDIR, "..", ".."))
SKIP = 77


class Skip(Exception):
    pass


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------------------------
# arguments, temp dir, cleanup

ARGS = None
_TMP = None
_procs = []


def parse_args():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--libmtls-build", default=os.environ.get(
        "MTLS_BUILD_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                       "build-openssl")))
    ap.add_argument("--module", default=os.environ.get("MTLS_NGINX_MODULE", ""))
    ap.add_argument("--mtls-identity", default=os.environ.get("MTLS_IDENTITY", ""))
    ap.add_argument("--pki", default=os.environ.get("MTLS_PKI_DIR", ""))
    ap.add_argument("tests", nargs="*")
    ARGS = ap.parse_args()
    return ARGS


def tmpdir():
    global _TMP
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="mtls-nginx-test.")
    return _TMP


def tmpfile(name):
    return os.path.join(tmpdir(), name)


def _cleanup():
    for p in list(_procs):
        try:
            p.stop()
        except Exception:
            pass
    if _TMP and os.path.isdir(_TMP):
        if os.environ.get("MTLS_IT_KEEP") == "1":
            print("kept %s" % _TMP, file=sys.stderr)
        else:
            shutil.rmtree(_TMP, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    sys.exit(128 + signum)      # meson's timeout sends SIGTERM: run atexit


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# ---------------------------------------------------------------------------------------------
# prerequisites and the module


def require_tools():
    for tool in ("nginx", "curl", "openssl"):
        if shutil.which(tool) is None:
            raise Skip("%s is not installed" % tool)
    if not os.path.exists("/usr/share/nginx/src/conf_flags"):
        raise Skip("nginx-dev is not installed (apt-get install nginx-dev)")


def libmtls_so(build):
    return os.path.join(build, "libmtls", "libmtls.so")


def check_openssl_build(build):
    so = libmtls_so(build)
    if not os.path.exists(so):
        raise Skip("no libmtls build at %s (meson setup DIR -Dtls_backend=openssl)" % build)
    out = subprocess.run(["ldd", so], capture_output=True, text=True).stdout
    if "android" in out or "boringssl" in out.lower():
        raise Skip("%s is the BoringSSL build; the nginx module needs -Dtls_backend=openssl" % so)


def module_path():
    """The module .so: --module, or built from --libmtls-build with build.sh when stale."""
    if ARGS.module:
        return os.path.abspath(ARGS.module)
    build = os.path.abspath(ARGS.libmtls_build)
    check_openssl_build(build)
    out = os.path.join(build, "nginx-module")
    so = os.path.join(out, "ngx_http_mtls_module.so")
    inputs = [os.path.join(MODDIR, "ngx_http_mtls_module.c"), os.path.join(MODDIR, "config"),
              os.path.join(MODDIR, "build.sh"), os.path.realpath(libmtls_so(build))]
    if os.path.exists(so) and all(os.path.getmtime(so) >= os.path.getmtime(i) for i in inputs):
        return so
    log("building the module: integrations/nginx/build.sh %s" % build)
    env = dict(os.environ, OUT=out)
    p = subprocess.run(["bash", os.path.join(MODDIR, "build.sh"), build], env=env,
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise AssertionError("build.sh failed:\n%s%s" % (p.stdout[-2000:], p.stderr[-3000:]))
    return so


def mtls_identity_bin():
    if ARGS.mtls_identity:
        return os.path.abspath(ARGS.mtls_identity)
    cand = os.path.join(os.path.abspath(ARGS.libmtls_build), "tests", "mtls-identity")
    return cand if os.access(cand, os.X_OK) else None


# ---------------------------------------------------------------------------------------------
# PKI (tests/pki/mkpki.sh)


def pem_to_der(text, index=0):
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return base64.b64decode("".join(blocks[index].split()))


class PKI:
    def __init__(self, d):
        self.dir = d
        self.rows = []
        with open(os.path.join(d, "manifest.tsv")) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            for line in f:
                line = line.rstrip("\n")
                if line:
                    self.rows.append(dict(zip(hdr, line.split("\t"))))
        self.by_name = {r["name"]: r for r in self.rows}

    @classmethod
    def make(cls):
        if ARGS.pki:
            return cls(os.path.abspath(ARGS.pki))
        d = tmpfile("pki")
        p = subprocess.run(["bash", os.path.join(TOP, "tests", "pki", "mkpki.sh"), d],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError("mkpki.sh failed: %s" % p.stderr[-2000:])
        return cls(d)

    def path(self, rel):
        return os.path.join(self.dir, rel)

    server_cert = property(lambda self: self.path("server.pem"))
    server_key = property(lambda self: self.path("server.key.pem"))
    server_ca = property(lambda self: self.path("server-ca.pem"))

    def client(self, name):
        r = self.by_name[name]
        return self.path(r["chain"]), self.path(r["key"])

    def fingerprint(self, name):
        return hashlib.sha256(pem_to_der(open(self.path(self.by_name[name]["cert"])).read())
                              ).hexdigest()

    def serial_decimal(self, name):
        out = subprocess.run(["openssl", "x509", "-in", self.path(self.by_name[name]["cert"]),
                              "-noout", "-serial"], capture_output=True, text=True,
                             check=True).stdout
        return str(int(out.strip().split("=", 1)[1], 16))

    def trusts(self):
        return sorted({r["trust"] for r in self.rows})


def policy(mode=None, trust=None, sni=None):
    """One Caddy connection policy (a tls_connection_policies element)."""
    ca = {}
    if mode:
        ca["mode"] = mode
    if trust:
        ca["trusted_ca_certs_pem_files"] = [trust]
    p = {"client_authentication": ca}
    if sni:
        p["match"] = {"sni": [sni]}
    return p


def write_json(name, obj):
    path = tmpfile(name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
    return path


# ---------------------------------------------------------------------------------------------
# processes and nginx


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_until(fn, timeout=10.0, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


class Nginx:
    """nginx (Debian's) in its own prefix under the temp dir, in the foreground, master +
    `workers` workers, the module loaded. `http` is the text of the http block's inside."""

    def __init__(self, name, module, http, ports, workers=1):
        self.name = name
        self.dir = os.path.join(tmpdir(), name)
        for sub in ("", "logs", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.module = module
        self.ports = ports
        self.workers = workers
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "logs", "error.log")
        self.pidfile = os.path.join(self.dir, "nginx.pid")
        self.proc = None
        self.stderr = None
        self.write(http)

    def text(self, http):
        d = self.dir
        user = "user root;\n" if os.geteuid() == 0 else ""
        return """load_module %(mod)s;
%(user)sworker_processes %(w)d;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log info;
events { worker_connections 256; }
http {
    access_log %(d)s/logs/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type text/plain;
%(http)s
}
""" % {"mod": self.module, "user": user, "w": self.workers, "d": d, "http": http}

    def write(self, http):
        with open(self.conf, "w") as f:
            f.write(self.text(http))

    def argv(self, *extra, errlog=True):
        e = ["-e", self.error_log] if errlog else []
        return ["nginx", "-p", self.dir + "/"] + e + ["-c", self.conf] + list(extra)

    def test_config(self):
        """nginx -t, logging to stderr (Debian's default error log): (rc, stderr text)."""
        p = subprocess.run(self.argv("-t", errlog=False), capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stderr

    def start(self, timeout=15):
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.proc = subprocess.Popen(self.argv("-g", "daemon off;"), stdout=self.stderr,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _procs.append(self)
        if not wait_until(lambda: all(port_open(p) for p in self.ports) or
                          self.proc.poll() is not None, timeout):
            raise AssertionError("nginx %s did not listen: %s" % (self.name, self.log_tail()))
        if self.proc.poll() is not None:
            raise AssertionError("nginx %s exited (rc %s): %s" % (self.name, self.proc.returncode,
                                                                  self.log_tail()))
        return self

    def worker_pids(self):
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                out.append(int(d))
        return sorted(out)

    def reload(self, timeout=15):
        """SIGHUP; waits until the master has replaced every worker (or gave up on a bad
        config: then the old workers stay). Returns True when the workers were replaced."""
        old = set(self.worker_pids())
        size = os.path.getsize(self.error_log) if os.path.exists(self.error_log) else 0
        os.kill(self.proc.pid, signal.SIGHUP)

        def done():
            with open(self.error_log, "rb") as f:
                f.seek(size)
                new_log = f.read()
            if b"[emerg]" in new_log:
                return "failed"
            now = set(self.worker_pids())
            if now and not (now & old) and len(now) == self.workers:
                return "ok"
            return None
        r = wait_until(done, timeout)
        if r is None:
            raise AssertionError("nginx %s: reload did not finish: %s" % (self.name,
                                                                         self.log_tail()))
        time.sleep(0.2)
        return r == "ok"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)     # fast shutdown
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # master and workers are in the session it started: kill the group by its id
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        if self in _procs:
            _procs.remove(self)
        if self.stderr:
            self.stderr.close()
            self.stderr = None

    def log_tail(self, n=3000):
        out = ""
        for f in (self.error_log, os.path.join(self.dir, "stderr.txt")):
            if os.path.exists(f):
                out += open(f, "rb").read()[-n:].decode("utf-8", "replace")
        return out


# ---------------------------------------------------------------------------------------------
# clients


class CurlResult:
    def __init__(self, rc, status, body, err):
        self.rc, self.status, self.body, self.err = rc, status, body, err

    def fields(self):
        """The body as NAME=VALUE lines -> dict (values are text; \\xHH stays as is)."""
        out = {}
        for line in self.body.decode("utf-8", "surrogateescape").split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                out[k] = v
        return out

    def __repr__(self):
        return "<curl rc=%d status=%d body=%r err=%r>" % (self.rc, self.status, self.body[:120],
                                                         self.err[-200:])


def curl(pki, port, path="/", sni="localhost", cert=None, key=None, host=None, extra=(),
         timeout=10):
    url = "https://%s:%d%s" % (sni, port, path)
    args = ["curl", "-sS", "--http1.1", "--max-time", str(timeout), "--connect-timeout", "5",
            "--resolve", "%s:%d:127.0.0.1" % (sni, port), "--cacert", pki.server_ca]
    if cert:
        args += ["--cert", cert, "--key", key]
    if host:
        args += ["-H", "Host: " + host]
    args += list(extra) + ["-o", "-", "-w", "\n%{http_code}", url]
    p = subprocess.run(args, capture_output=True, timeout=timeout + 10)
    body, _, code = p.stdout.rpartition(b"\n")
    try:
        status = int(code)
    except ValueError:
        status = 0
    return CurlResult(p.returncode, status, body, p.stderr.decode("utf-8", "replace"))


def s_client(pki, port, sni="localhost", cert=None, key=None, extra=(), send=b"", timeout=10):
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", sni,
            "-CAfile", pki.server_ca, "-ign_eof"]
    if cert:
        args += ["-cert", cert, "-key", key]
    args += list(extra)
    try:
        p = subprocess.run(args, input=send, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                                  "replace")
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode("utf-8", "replace"), \
            (e.stderr or b"").decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# values


def escape_ctl(b):
    """bytes -> text as the module writes values: control bytes as \\xHH, the rest raw."""
    out = bytearray()
    for c in b:
        if c < 0x20 or c == 0x7f:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return out.decode("utf-8", "surrogateescape")


def unescape_identity(s):
    """mtls-identity's escaping (\\\\ \\t \\n \\r \\xHH) -> bytes."""
    out = bytearray()
    b = s.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = b[i + 1]
            if n == ord("x"):
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out.append({ord("\\"): 0x5c, ord("t"): 9, ord("n"): 10, ord("r"): 13}[n])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def var_name(placeholder):
    """http.request.tls.client.san.dns_names.0 -> mtls_client_san_dns_names_0"""
    p = placeholder
    if p.startswith("http.request.tls."):
        p = p[len("http.request.tls."):]
    return "mtls_" + p.replace(".", "_")


# ---------------------------------------------------------------------------------------------
# runner


class Failures:
    def __init__(self):
        self.items = []

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
        return cond

    def done(self):
        if self.items:
            raise AssertionError("%d check(s) failed:\n    " % len(self.items) +
                                 "\n    ".join(self.items))


def run_tests(module_globals, setup=None):
    """Runs the test_* functions in definition order (or those named on the command line).
    Prints "N passed, N failed, N skipped"; exit 0, 1, or 77 when everything was skipped."""
    parse_args()
    tests = [(n, f) for n, f in module_globals.items() if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    if ARGS.tests:
        tests = [(n, f) for n, f in tests if n in ARGS.tests or n[5:] in ARGS.tests]
    try:
        require_tools()
        if setup:
            setup()
    except Skip as e:
        log("SKIP: %s" % e)
        log("0 passed, 0 failed, %d skipped" % len(tests))
        sys.exit(SKIP)
    passed = failed = skipped = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            log("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        except Skip as e:
            skipped += 1
            log("skip %s: %s" % (name, e))
        except Exception:
            failed += 1
            log("FAIL %s (%.1fs)\n%s" % (name, time.monotonic() - t0, traceback.format_exc()))
        finally:
            for p in list(_procs):
                p.stop()
    log("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else (SKIP if skipped and not passed else 0))
