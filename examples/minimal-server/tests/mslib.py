"""mslib.py - helpers of the minimal-server attack tests (python3 stdlib and the openssl
command line only), on top of the mtls-proxy test helpers: attacklib.py (certificates built
byte by byte, signed by the test root with `openssl dgst`; the memory-BIO TLS client) and its
proxylib.py (runner, Proc stopped by PID, PKI, python ssl client).

Every script is run as
    python3 SCRIPT.py BUILD/examples/minimal-server/minimal-server BUILD/libmtls/tests/pki [test]
(MTLS_IT_KEEP=1 keeps the temporary directory: policies, server output, certificates).

What is here:
  - Server: examples/minimal-server on a free 127.0.0.1 port with a policy file; its stdout
    (the identity blocks it prints, one per accepted connection) and stderr (one verdict line
    per connection) parsed and checked; stop_clean(): SIGTERM, exit status 0 (the sanitizer
    build's LeakSanitizer ran clean) and no sanitizer report
  - get(): one request over python ssl, returning (status, body, seconds)
  - cert_with_validity(): a certificate with an exact notBefore/notAfter (seconds)
  - client_hello(): the bytes of a real ClientHello (for half or trickled handshakes)
"""
import datetime
import os
import re
import signal
import socket
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "mtls-proxy", "tests",
                                                 "attacks")))
import attacklib as A  # noqa: E402

L = A.L

# What main.c prints for every accepted client, in this order (its `shown` array).
SHOWN = [
    "http.request.tls.client.verified",
    "http.request.tls.client.subject",
    "http.request.tls.client.issuer",
    "http.request.tls.client.serial",
    "http.request.tls.client.fingerprint",
    "http.request.tls.client.san.dns_names",
    "http.request.tls.client.san.uris",
    "http.request.tls.client.spiffe_id",
    "http.request.tls.version",
]
VERDICT_PREFIXES = (b"client accepted: ", b"client rejected: ")
SANITIZER_WORDS = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:",
                   b"UndefinedBehaviorSanitizer")
# Time the sanitizer build may need to stop (LeakSanitizer walks the heap at exit).
STOP_TIMEOUT = 20


def policy_file(name, mode="require_and_verify", trust=()):
    obj = {"mode": mode}
    if trust:
        obj["trusted_ca_certs_pem_files"] = list(trust)
    return L.write_json(obj, name + ".policy.json")


class Server:
    """examples/minimal-server on --port 0; `port` once it printed its listening line."""

    def __init__(self, policy, name="minimal-server", pki=None):
        self.pki = pki or L.PKI()
        self.name = name
        self.proc = L.Proc([L.PROXY_BIN, "--cert", self.pki.server_cert, "--key",
                            self.pki.server_key, "--policy", policy, "--port", "0"], name)
        self.port = None
        end = time.monotonic() + 15
        while time.monotonic() < end and self.proc.alive():
            m = re.search(rb"^listening on https://127\.0\.0\.1:(\d+)\n",
                          self.proc.stdout_bytes(), re.M)
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.05)
        if self.port is None:
            err = self.proc.stderr_text()[-2000:]
            self.proc.stop()
            raise AssertionError("minimal-server did not start:\n%s" % err)
        self.rc = None

    def sanitized(self):
        """True for a sanitizer build (ASan's quarantine then keeps freed memory: RSS says
        little about leaks; LeakSanitizer at exit does)."""
        try:
            with open("/proc/%d/maps" % self.proc.pid) as f:
                maps = f.read()
        except OSError:
            return False
        return "libasan" in maps or "libclang_rt.asan" in maps

    # -- output ---------------------------------------------------------------------------

    def stdout_lines(self):
        """The raw stdout lines after the listening line (split on LF only)."""
        data = self.proc.stdout_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines[1:]

    def stderr_lines(self):
        data = self.proc.stderr_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def blocks(self):
        """The identity blocks printed so far: a list of {name: value bytes}; lines that do
        not fit the block shape are returned as blocks {"?": line}."""
        out, cur = [], None
        for ln in self.stdout_lines():
            name, sep, val = ln.partition(b": ")
            name = name.decode("latin-1")
            if not sep or name not in SHOWN:
                out.append({"?": ln})
                cur = None
                continue
            if name == SHOWN[0] or cur is None:
                cur = {}
                out.append(cur)
            cur[name] = val
        return out

    def verdicts(self):
        """(accepted?, message bytes) for every verdict line on stderr."""
        out = []
        for ln in self.stderr_lines():
            for i, p in enumerate(VERDICT_PREFIXES):
                if ln.startswith(p):
                    out.append((i == 0, ln[len(p):]))
        return out

    def check_output(self, f, what="", stderr=True):
        """The output invariants: stdout is blocks of exactly the nine `name: value` lines in
        main.c's order, with no raw byte below 0x20 or 0x7f in a value; every stderr line is
        one verdict line (no line made by a certificate field; skipped with stderr=False) and
        no sanitizer report."""
        self.check_stdout(f, what)
        if stderr:
            self.check_stderr(f, what)
        self.check_no_sanitizer(f)

    def check_stdout(self, f, what=""):
        for b in self.blocks():
            if "?" in b:
                f.check(False, "%sstdout line outside an identity block: %r" % (what,
                                                                               b["?"][:200]))
                continue
            f.check(list(b) == SHOWN, "%sidentity block lines %r, want the nine of main.c" % (
                what, list(b)))
            for k, v in b.items():
                bad = [c for c in v if c < 0x20 or c == 0x7f]
                f.check(not bad, "%s%s has raw control bytes %r: %r" % (what, k, bytes(bad),
                                                                        v[:200]))

    def check_stderr(self, f, what=""):
        for ln in self.stderr_lines():
            f.check(ln.startswith(VERDICT_PREFIXES),
                    "%sstderr line that is not a verdict line (log injection?): %r" % (
                        what, ln[:200]))
            f.check(b"\r" not in ln and b"\x00" not in ln,
                    "%sstderr verdict line with raw CR or NUL: %r" % (what, ln[:200]))

    def check_no_sanitizer(self, f):
        err = self.proc.stderr_bytes()
        hits = [w for w in SANITIZER_WORDS if w in err]
        i = min([err.find(w) for w in hits] or [0])
        f.check(not hits, "sanitizer report on stderr: %r" % err[max(0, i - 200):i + 1500])

    def stop_clean(self, f, timeout=STOP_TIMEOUT):
        """SIGTERM; the server must exit by itself with status 0 (LeakSanitizer runs at that
        exit in sanitizer builds and makes it non-zero on a leak with abort_on_error=1)."""
        t0 = time.monotonic()
        if self.proc.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            self.rc = self.proc.wait(timeout)
        else:
            self.rc = self.proc.p.poll()
        took = time.monotonic() - t0
        if self.rc is None:
            self.proc.stop(timeout=1)
            f.check(False, "minimal-server still running %.0fs after SIGTERM" % timeout)
        else:
            f.check(self.rc == 0, "minimal-server exit status %s after SIGTERM (want 0)%s" % (
                self.rc, ": " + self.proc.stderr_text()[-1500:] if self.rc else ""))
            self.proc.stop(timeout=1)     # bookkeeping only: already gone
        self.check_no_sanitizer(f)
        return took


# ---------------------------------------------------------------------------------------------
# clients


def ctx_for(chain=None, key=None, minver=None, maxver=None):
    return L.client_context(chain, key, minver=minver, maxver=maxver)


def get(port, ctx, path="/", timeout=10):
    """One GET over a fresh TLS connection. Returns (status or 0, body bytes, seconds, error
    text). The server answers once and closes."""
    t0 = time.monotonic()
    s = None
    try:
        s = L.tls_connect(port, "localhost", ctx=ctx, timeout=timeout)
        s.sendall(L.request_bytes(path=path))
        r = L.read_response(L.SockReader(s))
        return r.status, r.body, time.monotonic() - t0, ""
    except (ssl.SSLError, OSError, L.Closed, AssertionError) as e:
        return 0, b"", time.monotonic() - t0, "%s: %s" % (type(e).__name__, e)
    finally:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


def basic_ctx(pki=None):
    pki = pki or L.PKI()
    return ctx_for(*pki.client("basic"))


def body_fields(body):
    """{name: value bytes} of a response body (the identity block)."""
    out = {}
    for ln in body.split(b"\n"):
        name, sep, val = ln.partition(b": ")
        if sep:
            out[name.decode("latin-1")] = val
    return out


def client_hello(ctx):
    """The bytes of a real ClientHello that ctx would send (TLS record(s))."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


# ---------------------------------------------------------------------------------------------
# certificates


def cert_with_validity(subject, issuer_name, issuer_key, key, not_before, not_after, san=None):
    """DER of a client certificate (EKU clientAuth) valid exactly [not_before, not_after]
    (aware datetimes, whole seconds), signed by issuer_key."""
    A._serial[0] += 1
    exts = [A.ext_basic_constraints(False), A.ext_key_usage(False), A.ext_ski(key.keyid),
            A.ext_aki(issuer_key.keyid), A.ext_eku_client()]
    if san:
        exts.append(A.ext_san(**san))
    tbs = A.seq(A.tlv(0xa0, A.integer(2)), A.integer(A._serial[0]), A.ECDSA_SHA256,
                issuer_name, A.seq(A.utctime(not_before), A.utctime(not_after)),
                subject, key.spki, A.tlv(0xa3, A.seq(*exts)))
    return A.seq(tbs, A.ECDSA_SHA256, A.bitstring(issuer_key.sign(tbs)))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def raw_connect(port, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)
