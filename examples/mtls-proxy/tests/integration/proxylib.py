"""proxylib.py - shared helpers of the mtls-proxy integration tests (python3 stdlib only).

Every test script is run as
    python3 SCRIPT.py MTLS_PROXY PKIDIR
(meson passes the built mtls-proxy and BUILD/libmtls/tests/pki; the environment variables
MTLS_PROXY and MTLS_PKI_DIR are used when the arguments are missing).

MTLS_IT_TARGET=caddy runs a script against a real Caddy instead of mtls-proxy, on the same
JSON config, to check the harness itself (tests of deliberate differences then fail, as they
should). MTLS_IT_KEEP=1 keeps the temporary directory (configs, logs) and prints its path.

What is here:
  - run_tests(): a tiny runner; each test_* function is one case; prints "N passed, N failed"
  - free_port(), wait_port()
  - Proc: a child process with bounded start/stop, stopped by PID (SIGTERM, then SIGKILL)
    in finally/atexit, whatever happens
  - Upstream: an HTTP/1.1 upstream in threads that records every request head it receives
    and whose behaviour is chosen by the request path (/slow/S, /close, /stream/N, /count,
    /ws, /status/N, anything else echoes the head)
  - config builders for the Caddy JSON subset of DESIGN.md section 5
  - start_server(): mtls-proxy (or Caddy) on a config, waiting for its listeners
  - curl(), s_client(): the real command line clients
  - tls_connect() / raw_exchange() / read_response(): python ssl client (with a client
    certificate) for raw-byte tests
  - PKI: the test PKI (manifest.tsv, certificates, fingerprints)
"""
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("MTLS_IT_TARGET", "proxy")

# ---------------------------------------------------------------------------------------------
# arguments, temp dir, cleanup


def _args():
    a = sys.argv[1:]
    proxy = a[0] if len(a) > 0 else os.environ.get("MTLS_PROXY", "")
    pki = a[1] if len(a) > 1 else os.environ.get("MTLS_PKI_DIR", "")
    return proxy, pki


PROXY_BIN, PKI_DIR = _args()
if PROXY_BIN:
    PROXY_BIN = os.path.abspath(PROXY_BIN)
if PKI_DIR:
    PKI_DIR = os.path.abspath(PKI_DIR)

_TMP = None
_procs = []
_cleanups = []


def tmpdir():
    global _TMP
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="mtls-proxy-it.")
    return _TMP


def tmpfile(name):
    return os.path.join(tmpdir(), name)


def on_cleanup(fn):
    _cleanups.append(fn)


def _cleanup():
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:
            pass
    del _cleanups[:]
    for p in list(_procs):
        try:
            p.stop(timeout=3)
        except Exception:
            pass
    if _TMP and os.path.isdir(_TMP):
        if os.environ.get("MTLS_IT_KEEP") == "1":
            print("kept %s" % _TMP, file=sys.stderr)
        else:
            shutil.rmtree(_TMP, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    # meson sends SIGTERM on timeout: make sure atexit runs and kills what we started.
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------------------------
# test runner


class Skip(Exception):
    pass


class Failures:
    """Collects soft failures inside one test (check() instead of assert)."""

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
    """Runs every test_* function of the calling script in definition order (or the names given
    on the command line after the two standard arguments). Prints one line per test and the
    closing line "N passed, N failed[, N skipped]". Exit 0 when none failed, 77 when all were
    skipped (meson: skipped), else 1."""
    if not PROXY_BIN and TARGET == "proxy":
        sys.exit("usage: %s MTLS_PROXY PKIDIR" % sys.argv[0])
    if not PKI_DIR or not os.path.exists(os.path.join(PKI_DIR, "manifest.tsv")):
        sys.exit("test PKI not found: %r (manifest.tsv missing)" % PKI_DIR)
    want = sys.argv[3:]
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    if want:
        tests = [(n, f) for n, f in tests if n in want or n[5:] in want]
    passed = failed = skipped = 0
    t_all = time.monotonic()
    try:
        if setup:
            setup()
        keep = list(_cleanups)          # what setup() made lives until the end
        keep_procs = list(_procs)
    except Skip as e:
        log("SKIP: %s" % e)
        log("0 passed, 0 failed, %d skipped" % len(tests))
        _cleanup()
        os._exit(77)
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            log("skip %s: %s" % (name, e))
        except Exception as e:
            failed += 1
            log("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0,
                                         e if isinstance(e, AssertionError) else ""))
            if not isinstance(e, AssertionError):
                traceback.print_exc(file=sys.stdout)
            else:
                tb = traceback.extract_tb(e.__traceback__)
                for fr in tb[1:]:
                    if fr.filename.endswith(os.path.basename(sys.argv[0])):
                        log("    at %s:%d: %s" % (os.path.basename(fr.filename), fr.lineno,
                                                  fr.line))
        else:
            passed += 1
            log("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        finally:
            for fn2 in reversed(_cleanups):
                if fn2 in keep:
                    continue
                try:
                    fn2()
                except Exception:
                    pass
            _cleanups[:] = keep
            for p in list(_procs):
                if p not in keep_procs:
                    p.stop(timeout=3)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    log("(%s: %.1fs, target %s)" % (os.path.basename(sys.argv[0]), time.monotonic() - t_all,
                                    TARGET))
    log(line)
    sys.stdout.flush()
    _cleanup()
    if failed:
        os._exit(1)
    if skipped and not passed:
        os._exit(77)
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# ports and processes


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_ports(n):
    out = set()
    for _ in range(1000):
        if len(out) == n:
            break
        out.add(free_port())
    return sorted(out)


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.close()
        return True
    except OSError:
        return False


def wait_port(port, proc=None, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and not proc.alive():
            return False
        if port_open(port):
            return True
        time.sleep(0.05)
    return False


class Proc:
    """A child process started by the test: output to files in the temp dir, stopped by its
    PID (and its own process group, which the test created for it) with bounded waits."""

    def __init__(self, argv, name, env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.name = name
        self.argv = argv
        self.out_path = tmpfile(name + ".out")
        self.err_path = tmpfile(name + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err, stdin=stdin,
                                  env=env, cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        self.rc = None
        _procs.append(self)

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            self.rc = self.p.wait(timeout=timeout)
            return self.rc
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process: sig, then SIGKILL after timeout. Returns the exit code."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(5)
        else:
            self.rc = self.p.poll()
        # anything left in the group we made for it (workers it forked)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for f in (self._out, self._err):
            try:
                f.flush()
            except Exception:
                pass
        if self in _procs:
            _procs.remove(self)
        return self.rc

    def stdout_bytes(self):
        self._out.flush()
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr_bytes(self):
        self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read()

    def stdout_text(self):
        return self.stdout_bytes().decode("utf-8", "replace")

    def stderr_text(self):
        return self.stderr_bytes().decode("utf-8", "replace")

    def json_lines(self, which="stdout"):
        data = self.stdout_bytes() if which == "stdout" else self.stderr_bytes()
        out = []
        for line in data.split(b"\n"):
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    out.append(json.loads(line.decode("utf-8", "surrogateescape")))
                except ValueError:
                    pass
        return out

    def rss_kib(self):
        """VmRSS of the process plus its child processes, in KiB (0 when gone)."""
        total = 0
        for pid in [self.pid] + _children(self.pid):
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def num_fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return -1


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------------------------
# test PKI


class PKI:
    def __init__(self, d=None):
        self.dir = d or PKI_DIR
        self.rows = []
        with open(os.path.join(self.dir, "manifest.tsv")) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            for line in f:
                line = line.rstrip("\n")
                if line:
                    self.rows.append(dict(zip(hdr, line.split("\t"))))
        self.by_name = {r["name"]: r for r in self.rows}

    def path(self, rel):
        return os.path.join(self.dir, rel)

    @property
    def server_cert(self):
        return self.path("server.pem")

    @property
    def server_key(self):
        return self.path("server.key.pem")

    @property
    def server_ca(self):
        return self.path("server-ca.pem")

    def case(self, name):
        return self.by_name[name]

    def client(self, name):
        """(chain file, key file) of a manifest case: what a client presents."""
        r = self.by_name[name]
        return self.path(r["chain"]), self.path(r["key"])

    def trust(self, name):
        return self.path(self.by_name[name]["trust"])

    def leaf_der(self, name):
        r = self.by_name[name]
        return pem_to_der(open(self.path(r["cert"])).read())

    def fingerprint(self, name):
        return hashlib.sha256(self.leaf_der(name)).hexdigest()

    def serial_decimal(self, name):
        r = self.by_name[name]
        out = subprocess.run(["openssl", "x509", "-in", self.path(r["cert"]), "-noout",
                              "-serial"], capture_output=True, text=True, check=True).stdout
        return str(int(out.strip().split("=", 1)[1], 16))

    def trusts(self):
        return sorted({r["trust"] for r in self.rows})


def pem_to_der(text, index=0):
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return base64.b64decode("".join(blocks[index].split()))


# ---------------------------------------------------------------------------------------------
# upstream


class UpRequest:
    def __init__(self, conn_id, head, body_len, peer):
        self.conn_id = conn_id
        self.head = head                     # raw bytes up to (not incl.) the blank line
        self.body_len = body_len
        self.peer = peer
        lines = head.split(b"\r\n")
        self.request_line = lines[0].decode("latin-1")
        parts = self.request_line.split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.path = self.target.split("?", 1)[0]
        self.headers = []                    # [(name str, value bytes)] as received, OWS trimmed
        for line in lines[1:]:
            name, sep, val = line.partition(b":")
            if sep:
                self.headers.append((name.decode("latin-1"), val.strip(b" \t")))
        self.time = time.monotonic()
        self.complete = False                # True once the whole body was read

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def get(self, name, default=None):
        v = self.get_all(name)
        return v[0] if v else default

    def names(self):
        return [k for k, _ in self.headers]

    def __repr__(self):
        return "<UpRequest %s %s conn=%d>" % (self.method, self.target, self.conn_id)


class Upstream:
    """HTTP/1.1 upstream on 127.0.0.1 in threads. Records every request (UpRequest) and every
    connection. Behaviour by path (or the attribute `mode`, which overrides it for any path):
      /slow/S       wait S seconds (float) before answering (echo)
      /close        close the connection without an answer
      /stream/N     answer N bytes of body (Content-Length; ?chunked=1 for chunked)
      /count        read the whole body (Content-Length or chunked) and answer its byte count
                    and SHA-256 as JSON: {"bytes": N, "sha256": "..."}
      /ws           answer 101 Switching Protocols and then echo every byte (a tunnel)
      /status/N     answer status N with a small body
      /close-after  answer with Connection: close and close
      /garbage      answer bytes that are not HTTP and close
      anything else echo: 200, body = the raw request head (+ CRLF), header X-Upstream-Conn
    Keep-alive is honoured unless the request says Connection: close."""

    def __init__(self, name="upstream"):
        self.name = name
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.conns = 0
        self.open_conns = 0
        self.mode = None
        self.lock = threading.Lock()
        self.stopped = False
        self.counted = []         # (bytes, sha256) for /count
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()
        on_cleanup(self.close)

    @property
    def dial(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.stopped = True
        try:
            self.sock.close()
        except Exception:
            pass

    def clear(self):
        with self.lock:
            self.requests = []
            self.counted = []

    def wait_requests(self, n, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return True
            time.sleep(0.02)
        return False

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def by_path(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def _accept(self):
        while not self.stopped:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                cid = self.conns
                self.open_conns += 1
            threading.Thread(target=self._serve, args=(c, peer, cid), daemon=True).start()

    def _serve(self, c, peer, cid):
        c.settimeout(60)
        buf = b""
        try:
            while not self.stopped:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                    if len(buf) > 4 << 20:
                        return
                head, _, buf = buf.partition(b"\r\n\r\n")
                req = UpRequest(cid, head, 0, peer)
                with self.lock:
                    self.requests.append(req)   # recorded as soon as its head arrived
                mode = self.mode or req.path
                # body
                te = (req.get("transfer-encoding") or b"").lower()
                cl = req.get("content-length")
                h = hashlib.sha256() if mode.startswith("/count") else None
                if b"chunked" in te:
                    n, buf = _read_chunked(c, buf, h)
                elif cl is not None:
                    n, buf = _read_n(c, buf, int(cl), h)
                else:
                    n = 0
                req.body_len = n
                req.complete = True
                close = (req.get("connection") or b"").lower() == b"close"
                if not self._respond(c, req, mode, cid, h):
                    return
                if close:
                    return
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                self.open_conns -= 1
            try:
                c.close()
            except OSError:
                pass

    def _respond(self, c, req, mode, cid, h):
        """Returns False when the connection must end."""
        extra = b"X-Upstream-Conn: %d\r\n" % cid
        if mode.startswith("/slow/"):
            time.sleep(float(mode.split("/")[2]))
        if mode.startswith("/close-after"):
            body = b"bye\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n"
                      % (len(body), extra) + body)
            return False
        if mode.startswith("/close"):
            return False
        if mode.startswith("/garbage"):
            c.sendall(b"this is not HTTP\r\n\r\n")
            return False
        if mode.startswith("/stream/"):
            n = int(mode.split("/")[2])
            chunked = "chunked=1" in req.target
            piece = b"x" * 65536
            if chunked:
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n%s\r\n" % extra)
                left = n
                while left > 0:
                    k = min(left, len(piece))
                    c.sendall(b"%x\r\n" % k + piece[:k] + b"\r\n")
                    left -= k
                c.sendall(b"0\r\n\r\n")
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (n, extra))
                left = n
                while left > 0:
                    k = min(left, len(piece))
                    c.sendall(piece[:k])
                    left -= k
            return True
        if mode.startswith("/count"):
            body = json.dumps({"bytes": req.body_len, "sha256": h.hexdigest()}).encode()
            with self.lock:
                self.counted.append((req.body_len, h.hexdigest()))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n%s\r\n" % (len(body), extra) + body)
            return True
        if mode.startswith("/ws"):
            key = req.get("sec-websocket-key") or b""
            acc = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n" % (acc, extra))
            c.settimeout(30)
            while True:
                d = c.recv(65536)
                if not d:
                    return False
                c.sendall(d)
        if mode.startswith("/status/"):
            code = int(mode.split("/")[2])
            body = b"status %d\n" % code
            c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (code, len(body), extra)
                      + body)
            return True
        body = req.head + b"\r\n"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n%s\r\n" % (len(body), extra) + body)
        return True


def _read_n(c, buf, n, h):
    got = 0
    if buf:
        k = min(len(buf), n)
        if h:
            h.update(buf[:k])
        got += k
        buf = buf[k:]
    while got < n:
        d = c.recv(min(1 << 20, n - got))
        if not d:
            raise ValueError("eof in body")
        if h:
            h.update(d)
        got += len(d)
    return got, buf


def _read_chunked(c, buf, h):
    total = 0

    def need(k):
        nonlocal buf
        while len(buf) < k:
            d = c.recv(1 << 20)
            if not d:
                raise ValueError("eof in chunked body")
            buf += d

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            d = c.recv(1 << 20)
            if not d:
                raise ValueError("eof in chunked body")
            buf += d
            if len(buf) > (2 << 20) and b"\r\n" not in buf[:4096]:
                raise ValueError("chunk line too long")
        ln, _, buf = buf.partition(b"\r\n")
        return ln

    while True:
        size = int(line().split(b";")[0].strip(), 16)
        if size == 0:
            while line() != b"":
                pass
            return total, buf
        while size > 0:
            if not buf:
                need(1)
            k = min(size, len(buf))
            if h:
                h.update(buf[:k])
            total += k
            size -= k
            buf = buf[k:]
        need(2)
        buf = buf[2:]


# ---------------------------------------------------------------------------------------------
# configs (the Caddy JSON subset of DESIGN.md section 5)


def reverse_proxy(*upstreams, set=None, add=None, delete=None, transport=None):
    h = {"handler": "reverse_proxy",
         "upstreams": [{"dial": u.dial if isinstance(u, Upstream) else u} for u in upstreams]}
    req = {}
    if set:
        req["set"] = {k: v if isinstance(v, list) else [v] for k, v in set.items()}
    if add:
        req["add"] = {k: v if isinstance(v, list) else [v] for k, v in add.items()}
    if delete:
        req["delete"] = list(delete)
    if req:
        h["headers"] = {"request": req}
    if transport:
        h["transport"] = dict({"protocol": "http"}, **transport)
    return h


def route(*handlers, hosts=None):
    r = {"handle": list(handlers)}
    if hosts:
        r["match"] = [{"host": list(hosts)}]
    return r


def client_auth(mode=None, trust=None):
    """client_authentication object; trust: a PEM file path or a list of them."""
    ca = {}
    if mode:
        ca["mode"] = mode
    if trust:
        ca["trusted_ca_certs_pem_files"] = [trust] if isinstance(trust, str) else list(trust)
    return ca


def policy(sni=None, mode=None, trust=None):
    p = {}
    if sni:
        p["match"] = {"sni": [sni] if isinstance(sni, str) else list(sni)}
    if mode:
        p["client_authentication"] = client_auth(mode, trust)
    return p


def server(port, routes, policies=None, **extra):
    s = {"listen": ["127.0.0.1:%d" % port],
         "routes": routes,
         "tls_connection_policies": policies if policies is not None else [{}],
         "automatic_https": {"disable": True}}
    s.update(extra)
    return s


def config(servers, pki=None):
    pki = pki or PKI()
    return {
        "admin": {"disabled": True},
        "apps": {
            "tls": {"certificates": {"load_files": [
                {"certificate": pki.server_cert, "key": pki.server_key}]}},
            "http": {"servers": servers},
        },
    }


def standard_setup(st, mode="require_and_verify"):
    """The common layout: one server on a free port with one route to a recording upstream
    and one policy trusting the test root CA. Fills `st` with pki, up, port and cfg."""
    pki = PKI()
    up = Upstream()
    port = free_port()
    cfg = config({"s": server(port, [route(reverse_proxy(up))],
                              [policy(mode=mode, trust=pki.path("root-ca.pem"))])}, pki)
    st.update(pki=pki, up=up, port=port, cfg=cfg)


def write_json(obj, name):
    p = tmpfile(name)
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.rename(tmp, p)
    return p


def listen_ports(cfg):
    out = []
    for s in cfg["apps"]["http"]["servers"].values():
        for a in s["listen"]:
            out.append(int(a.rsplit(":", 1)[1]))
    return out


# ---------------------------------------------------------------------------------------------
# starting the proxy (or Caddy)


def have_caddy(install=True):
    if shutil.which("caddy"):
        return True
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "-q", "caddy"],
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "caddy"]):
        try:
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=300)
        except subprocess.TimeoutExpired:
            return False
        if shutil.which("caddy"):
            return True
    return bool(shutil.which("caddy"))


def caddy_env():
    d = tmpfile("caddy-home")
    for sub in ("", "cfg", "data"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    env = dict(os.environ, HOME=d, XDG_CONFIG_HOME=os.path.join(d, "cfg"),
               XDG_DATA_HOME=os.path.join(d, "data"))
    return env


class Server:
    """A running mtls-proxy or Caddy on a config written to the temp dir."""

    def __init__(self, proc, cfg_path, cfg, kind):
        self.proc = proc
        self.cfg_path = cfg_path
        self.cfg = cfg
        self.kind = kind
        self.ports = listen_ports(cfg) if isinstance(cfg, dict) else []

    @property
    def port(self):
        return self.ports[0]

    def write_config(self, cfg):
        tmp = self.cfg_path + ".new"
        with open(tmp, "w") as f:
            if isinstance(cfg, str):
                f.write(cfg)
            else:
                json.dump(cfg, f, indent=1)
        os.rename(tmp, self.cfg_path)
        if isinstance(cfg, dict):
            self.cfg = cfg

    def reload(self, cfg=None):
        """Writes cfg (dict or raw text) over the config file and sends SIGHUP. (Caddy 2.6.2
        has no reload signal: for harness checks against Caddy its admin endpoint is enabled
        on a free port and `caddy reload` is used.)"""
        if cfg is not None:
            if self.kind == "caddy" and isinstance(cfg, dict):
                cfg = _caddy_admin(cfg, self.admin_port)
            self.write_config(cfg)
        if self.kind == "caddy":
            p = subprocess.run(["caddy", "reload", "--config", self.cfg_path, "--address",
                                "127.0.0.1:%d" % self.admin_port, "--force"],
                               capture_output=True, timeout=30, env=caddy_env())
            with open(self.proc.err_path, "ab") as f:
                f.write(p.stdout + p.stderr)
            return
        self.proc.kill(signal.SIGHUP)

    def stop(self, timeout=10):
        return self.proc.stop(timeout=timeout)


def start_server(cfg, name=None, args=(), kind=None, wait=True, timeout=15.0,
                 cfg_name=None, adapter=None, ports=None):
    """Starts mtls-proxy `run --config F [args]` (or Caddy when kind/target is caddy) on cfg (a
    dict written as JSON, or text such as a Caddyfile, then with `ports` given) and waits until
    every listener accepts. Fails the test if it exits or does not listen in time."""
    kind = kind or TARGET
    name = name or kind
    cfg_path = tmpfile(cfg_name or (name + ".json"))
    admin_port = None
    if kind == "caddy" and isinstance(cfg, dict):
        admin_port = free_port()
        cfg = _caddy_admin(cfg, admin_port)
    with open(cfg_path, "w") as f:
        if isinstance(cfg, str):
            f.write(cfg)
        else:
            json.dump(cfg, f, indent=1)
    if kind == "caddy":
        if not have_caddy():
            raise Skip("caddy not installed")
        argv = ["caddy", "run", "--config", cfg_path]
        if adapter:
            argv += ["--adapter", adapter]
        proc = Proc(argv, name, env=caddy_env())
    else:
        argv = [PROXY_BIN, "run", "--config", cfg_path]
        if adapter:
            argv += ["--adapter", adapter]
        argv += list(args)
        proc = Proc(argv, name)
    srv = Server(proc, cfg_path, cfg, kind)
    srv.admin_port = admin_port
    if ports is not None:
        srv.ports = list(ports)
    if wait:
        for p in srv.ports:
            if not wait_port(p, proc, timeout):
                proc.stop(timeout=3)
                raise AssertionError("%s did not listen on 127.0.0.1:%d (rc=%s)\nstderr: %s\n"
                                     "stdout: %s" % (name, p, proc.rc, proc.stderr_text()[-3000:],
                                                     proc.stdout_text()[-1500:]))
    return srv


def _caddy_admin(cfg, port):
    """Caddy only (harness checks): admin endpoint on 127.0.0.1:port instead of disabled."""
    cfg = json.loads(json.dumps(cfg))
    cfg["admin"] = {"listen": "127.0.0.1:%d" % port}
    return cfg


def proxy_cmd(*args, timeout=30, input=None):
    """Runs mtls-proxy with arguments (not a server): CompletedProcess with text output."""
    return subprocess.run([PROXY_BIN] + list(args), capture_output=True, timeout=timeout,
                          input=input, text=True)


# ---------------------------------------------------------------------------------------------
# curl and openssl s_client


class CurlResult:
    def __init__(self, rc, status, headers, body, err, raw_headers):
        self.rc = rc
        self.status = status          # int; 0 when no HTTP answer
        self.headers = headers        # {lower name: [values]} of the last response
        self.body = body
        self.err = err
        self.raw_headers = raw_headers

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def __repr__(self):
        return "<curl rc=%d status=%d err=%r>" % (self.rc, self.status, self.err[:200])


def curl(url, port=None, host="localhost", cert=None, key=None, cacert=None, headers=(),
         data=None, method=None, timeout=15, extra=(), insecure=False, pki=None):
    """One curl request over HTTP/1.1. url may be a path ('/x'): then https://HOST:PORT/x with
    HOST resolved to 127.0.0.1. cert/key: client certificate chain and key files."""
    pki = pki or PKI()
    args = ["curl", "-sS", "--http1.1", "--max-time", str(timeout), "--connect-timeout", "5"]
    if url.startswith("/"):
        url = "https://%s:%d%s" % (host, port, url)
        if not re.match(r"^[0-9.]+$", host):
            args += ["--resolve", "%s:%d:127.0.0.1" % (host, port)]
    if insecure:
        args.append("-k")
    else:
        args += ["--cacert", cacert or pki.server_ca]
    if cert:
        args += ["--cert", cert, "--key", key]
    for h in headers:
        args += ["-H", h]
    if data is not None:
        args += ["--data-binary", "@-"]
    if method:
        args += ["-X", method]
    hfile = tmpfile("curl-%d-%d.h" % (os.getpid(), threading.get_ident()))
    args += list(extra) + ["-D", hfile, "-o", "-", "-w", "\n%{http_code}", url]
    try:
        os.unlink(hfile)
    except OSError:
        pass
    p = subprocess.run(args, input=data, capture_output=True, timeout=timeout + 10)
    out = p.stdout
    body, _, code = out.rpartition(b"\n")
    try:
        status = int(code)
    except ValueError:
        status = 0
    raw = b""
    hdrs = {}
    if os.path.exists(hfile):
        raw = open(hfile, "rb").read()
        os.unlink(hfile)
        blocks = [b for b in raw.split(b"\r\n\r\n") if b.strip()]
        if blocks:
            for line in blocks[-1].split(b"\r\n")[1:]:
                k, sep, v = line.partition(b":")
                if sep:
                    hdrs.setdefault(k.decode("latin-1").strip().lower(), []).append(
                        v.strip().decode("latin-1"))
    return CurlResult(p.returncode, status, hdrs, body, p.stderr.decode("utf-8", "replace"), raw)


def s_client(port, servername="localhost", cert=None, key=None, send=b"", extra=(),
             timeout=10, pki=None):
    """openssl s_client to 127.0.0.1:port; sends `send` (bytes) and collects everything until the
    server closes or timeout. Returns (rc, stdout bytes, stderr text)."""
    pki = pki or PKI()
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", pki.server_ca,
            "-verify_return_error", "-ign_eof"]
    if servername:
        args += ["-servername", servername]
    else:
        args += ["-noservername"]
    if cert:
        args += ["-cert", cert, "-key", key]
    args += list(extra)
    try:
        p = subprocess.run(args, input=send, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return -1, e.stdout or b"", (e.stderr or b"").decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# python ssl client


def client_context(cert=None, key=None, pki=None, alpn=("http/1.1",), maxver=None, minver=None,
                   verify=True):
    pki = pki or PKI()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(pki.server_ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if maxver:
        ctx.maximum_version = maxver
    if minver:
        ctx.minimum_version = minver
    return ctx


def tls_connect(port, sni="localhost", cert=None, key=None, timeout=10, ctx=None, **kw):
    ctx = ctx or client_context(cert, key, **kw)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni)
    except Exception:
        raw.close()
        raise
    s.settimeout(timeout)
    return s


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers   # [(name, value str)]
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.reason)


class Closed(Exception):
    """The peer closed (or reset, or sent a TLS alert) before a whole response arrived."""


class SockReader:
    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.eof = False

    def fill(self):
        try:
            d = self.s.recv(1 << 16)
        except ssl.SSLZeroReturnError:
            d = b""
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise Closed(str(e))
        if not d:
            self.eof = True
            raise Closed("eof")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        ln, _, self.buf = self.buf.partition(b"\r\n")
        return ln

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def rest(self):
        while True:
            try:
                self.fill()
            except Closed:
                d, self.buf = self.buf, b""
                return d


def read_response(r, head_request=False, discard_body=False):
    """Reads one HTTP/1.1 response from SockReader r. Raises Closed if none arrives."""
    head = []
    line = r.line()
    head.append(line)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ?(.*)", line)
    if not m:
        raise AssertionError("not an HTTP status line: %r" % line[:200])
    status, reason = int(m.group(1)), m.group(2).decode("latin-1")
    headers = []
    while True:
        line = r.line()
        if line == b"":
            break
        head.append(line)
        k, _, v = line.partition(b":")
        headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    resp = Response(status, reason, headers, b"", b"\r\n".join(head))
    if head_request or status in (204, 304) or 100 <= status < 200:
        return resp
    te = (resp.header("transfer-encoding") or "").lower()
    cl = resp.header("content-length")
    chunks = []
    if "chunked" in te:
        while True:
            size = int(r.line().split(b";")[0], 16)
            if size == 0:
                while r.line() != b"":
                    pass
                break
            d = r.take(size)
            if not discard_body:
                chunks.append(d)
            r.take(2)
    elif cl is not None:
        n = int(cl)
        while n > 0:
            k = min(n, 1 << 20)
            d = r.take(k)
            if not discard_body:
                chunks.append(d)
            n -= k
    else:
        chunks.append(r.rest())
    resp.body = b"".join(chunks)
    return resp


def raw_exchange(port, data, sni="localhost", cert=None, key=None, timeout=10, ctx=None,
                 nresp=1, wait_close=2.0):
    """Sends raw bytes over a fresh TLS connection and reads up to nresp responses.
    Returns (responses, closed_after): closed_after is True when the server closed the
    connection after the responses (waiting up to wait_close seconds; 0: not checked)."""
    s = tls_connect(port, sni, cert, key, timeout=timeout, ctx=ctx)
    try:
        try:
            s.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        r = SockReader(s)
        out = []
        for _ in range(nresp):
            try:
                out.append(read_response(r))
            except Closed:
                return out, True
        if not wait_close:
            return out, False
        s.settimeout(wait_close)
        closed = False
        try:
            while len(r.buf) < 1 << 20:
                r.fill()
        except Closed:
            closed = True
        except socket.timeout:
            closed = False
        return out, closed
    finally:
        s.close()


def pump(s, data, nread, timeout=30, already=b""):
    """Full duplex on one (TLS) socket in one thread: writes `data` while reading until
    `nread` bytes (including `already`) have arrived. Returns the bytes read (fewer if the peer
    closed or the time ran out). Uses non-blocking I/O and select, since one SSL object must
    not be read and written from two threads at once."""
    import select
    s.setblocking(False)
    out = bytearray(already)
    sent = 0
    end = time.monotonic() + timeout
    try:
        while len(out) < nread and time.monotonic() < end:
            want_w = sent < len(data)
            r, w, _ = select.select([s], [s] if want_w else [], [], 0.5)
            if s in r or (isinstance(s, ssl.SSLSocket) and s.pending()):
                try:
                    d = s.recv(1 << 16)
                    if not d:
                        break
                    out += d
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (ssl.SSLError, OSError):
                    break
            if want_w and s in w:
                try:
                    sent += s.send(data[sent:sent + (1 << 16)])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (ssl.SSLError, OSError):
                    break
    finally:
        s.setblocking(True)
    return bytes(out)


def request_bytes(method="GET", path="/", host="localhost", headers=(), body=b""):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    h += list(headers)
    if body and not any(x.lower().startswith(("content-length", "transfer-encoding"))
                        for x in headers):
        h.append("Content-Length: %d" % len(body))
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body


def closed_within(s, seconds):
    """True if the peer closes the (plain or TLS) socket within `seconds` (reads and discards
    anything it sends)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            d = s.recv(65536)
            if not d:
                return True
        except socket.timeout:
            return False
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
            return True
    return False


def hname(ph):
    """Header name for a placeholder, as tests/caddy/harness.py makes it:
    http.request.tls.client.san.dns_names.0 -> X-Mtls-Client-San-Dns-Names-0."""
    rest = ph[len("http.request.tls."):] if ph.startswith("http.request.tls.") else \
        ph[len("http.request."):]
    parts = rest.replace("_", ".").split(".")
    return "X-Mtls-" + "-".join(p[:1].upper() + p[1:] for p in parts)


# The value format and placeholder list of the libmtls-vs-Caddy harness (tests/caddy/).
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "tests",
                                                 "caddy")))
import harness as _caddy_harness  # noqa: E402


def placeholders():
    """The placeholders compared with Caddy (tests/caddy/placeholders.txt)."""
    return _caddy_harness.placeholders()


def escape(b):
    """Bytes -> text the way tests/caddy/harness.py writes values: \\\\ \\t \\n \\r \\xHH for
    backslash and control bytes; UTF-8 raw."""
    return _caddy_harness.escape(b).decode("utf-8", "surrogateescape")


def wait_until(fn, timeout=10, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()
