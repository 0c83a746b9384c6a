"""attacklib.py - helpers of the mtls-proxy attack tests, on top of proxylib (python3 stdlib and
the openssl command line only).

  - DER / X.509 building: certificates with arbitrary bytes in names and SANs, huge
    extensions, thousands of SANs and long chains, signed with `openssl dgst` by a CA key
    (the test PKI's root, or a key made here)
  - BioTLS: a TLS client over memory BIOs on a raw socket, so a test can send close_notify,
    shut down the TCP write side, and keep reading
  - RawUpstream: an upstream that runs a scripted function per connection (half-close,
    extra bytes after a response, ...) and records what it received
  - access-log helpers: every stdout line must be a JSON object (strict UTF-8)
"""
import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "integration")))
import proxylib as L  # noqa: E402

# ---------------------------------------------------------------------------------------------
# DER


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    return tlv(0x31, b"".join(sorted(items)))


def integer(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, b)


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7f]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, out)


def octets(b):
    return tlv(0x04, b)


def bitstring(b):
    return tlv(0x03, b"\x00" + b)


def boolean(v):
    return tlv(0x01, b"\xff" if v else b"\x00")


def utctime(t):
    return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


STRING_TAGS = {"utf8": 0x0c, "printable": 0x13, "t61": 0x14, "ia5": 0x16, "bmp": 0x1e}
OID_CN = "2.5.4.3"
OID_O = "2.5.4.10"
OID_OU = "2.5.4.11"


def name(*rdns):
    """rdns: (oid, value bytes or str, string kind) tuples, one RDN each."""
    out = []
    for o, v, kind in rdns:
        if isinstance(v, str):
            v = v.encode("utf-16-be") if kind == "bmp" else v.encode("utf-8")
        out.append(set_of(seq(oid(o), tlv(STRING_TAGS[kind], v))))
    return seq(*out)


def read_tlv(d, i=0):
    """(tag, content start, end) of the TLV at d[i]."""
    tag = d[i]
    ln = d[i + 1]
    j = i + 2
    if ln & 0x80:
        k = ln & 0x7f
        ln = int.from_bytes(d[j:j + k], "big")
        j += k
    return tag, j, j + ln


def children(d, start, end):
    out = []
    i = start
    while i < end:
        t, s, e = read_tlv(d, i)
        out.append((t, i, e))
        i = e
    return out


def cert_subject(der):
    """The raw subject Name (DER) of a certificate."""
    _, s, e = read_tlv(der)               # Certificate
    _, ts, te = read_tlv(der, s)          # TBSCertificate
    kids = children(der, ts, te)
    off = 1 if kids[0][0] == 0xa0 else 0  # [0] version
    t, i, j = kids[off + 4]               # serial, sigalg, issuer, validity, subject
    return der[i:j]


def ext(o, value, critical=False):
    items = [oid(o)]
    if critical:
        items.append(boolean(True))
    items.append(octets(value))
    return seq(*items)


def ext_basic_constraints(ca, pathlen=None):
    inner = b""
    if ca:
        inner += boolean(True)
        if pathlen is not None:
            inner += integer(pathlen)
    return ext("2.5.29.19", seq(inner) if inner else seq(), critical=True)


def ext_key_usage(ca):
    # digitalSignature (bit 0) for leaves; keyCertSign + cRLSign (bits 5, 6) for CAs
    return ext("2.5.29.15", tlv(0x03, b"\x01\x06") if ca else tlv(0x03, b"\x07\x80"),
               critical=True)


def ext_eku_client():
    return ext("2.5.29.37", seq(oid("1.3.6.1.5.5.7.3.2")))


def ext_ski(keyid):
    return ext("2.5.29.14", octets(keyid))


def ext_aki(keyid):
    return ext("2.5.29.35", seq(tlv(0x80, keyid)))


def ext_san(dns=(), emails=(), uris=(), ips=()):
    gn = []
    for v in emails:
        gn.append(tlv(0x81, v if isinstance(v, bytes) else v.encode()))
    for v in dns:
        gn.append(tlv(0x82, v if isinstance(v, bytes) else v.encode()))
    for v in uris:
        gn.append(tlv(0x86, v if isinstance(v, bytes) else v.encode()))
    for v in ips:
        gn.append(tlv(0x87, socket.inet_aton(v) if isinstance(v, str) else v))
    return ext("2.5.29.17", seq(*gn))


ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"))


class Key:
    """An EC P-256 key made with openssl: its PEM file, SubjectPublicKeyInfo and key id."""

    def __init__(self, path=None, name="key"):
        if path is None:
            path = L.tmpfile("%s.key.pem" % name)
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", path], check=True,
                           capture_output=True)
        self.path = path
        self.spki = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform",
                                    "DER"], check=True, capture_output=True).stdout
        import hashlib
        self.keyid = hashlib.sha1(self.spki).digest()

    def sign(self, data):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.path],
                              input=data, check=True, capture_output=True).stdout


_serial = [int(time.time() * 1000) & 0xffffffffff]


def make_cert(subject, issuer_name, issuer_key, key, ca=False, pathlen=None, extra_exts=(),
              san=None, eku=True, aki=True, days=30):
    """DER of a v3 certificate. subject: a Name (DER, from name()) ; issuer_name: the issuer's
    subject Name DER; issuer_key / key: Key. san: dict for ext_san."""
    _serial[0] += 1
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    exts = [ext_basic_constraints(ca, pathlen), ext_key_usage(ca), ext_ski(key.keyid)]
    if aki:
        exts.append(ext_aki(issuer_key.keyid))
    if not ca and eku:
        exts.append(ext_eku_client())
    if san:
        exts.append(ext_san(**san))
    exts += list(extra_exts)
    tbs = seq(tlv(0xa0, integer(2)), integer(_serial[0]), ECDSA_SHA256, issuer_name,
              seq(utctime(now - datetime.timedelta(days=1)),
                  utctime(now + datetime.timedelta(days=days))),
              subject, key.spki, tlv(0xa3, seq(*exts)))
    return seq(tbs, ECDSA_SHA256, bitstring(issuer_key.sign(tbs)))


def pem(der):
    import base64
    b = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(
        b[i:i + 64] for i in range(0, len(b), 64)) + "\n-----END CERTIFICATE-----\n"


def write_chain(name, ders):
    p = L.tmpfile(name + ".chain.pem")
    with open(p, "w") as f:
        for d in ders:
            f.write(pem(d))
    return p


class TestCA:
    """The test PKI's root CA (root-ca.pem, root-ca.key.pem) as an issuer."""

    def __init__(self, pki, name="root-ca"):
        self.key = Key(pki.path(name + ".key.pem"))
        self.der = open(pki.path(name + ".der"), "rb").read()
        self.subject = cert_subject(self.der)
        self.pem_path = pki.path(name + ".pem")
        # the root's own key id as it appears in its SKI (not necessarily SHA-1 of the SPKI)
        self.key.keyid = _ski_of(self.der) or self.key.keyid


def s_client_session(pki, port, case, script):
    """`openssl s_client -tls1_2` to 127.0.0.1:`port` (SNI localhost), with the client
    certificate of manifest `case` (None: none), fed by the shell `script` (printf / echo R /
    sleep: "R" asks for renegotiation). Returns (stdout, stderr) as text, also on timeout."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername",
            "localhost", "-CAfile", pki.server_ca, "-tls1_2"]
    if case:
        c, k = pki.client(case)
        args += ["-cert", c, "-key", k]
    cmd = "(%s) | %s" % (script, " ".join(args))
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=30)
        return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return ((e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace"))


def shell_get(path):
    """A shell command printing a GET request for `path` (for s_client_session scripts)."""
    return "printf 'GET %s HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'" % path


def oversized_chains(ca, key, ikey, sans_4000_uris=()):
    """The oversized client chains both huge_certificates tests send (proxy and minimal
    server), as {name: chain PEM path}, all leaves with `key`: chain-121 (120 intermediates
    signed with `ikey`), big-40k/60k/100k/200k (one huge extension), sans-4000 (4,000 DNS SANs,
    plus `sans_4000_uris`), sans-emails (3,000), nc-x-sans (1,000 excluded name constraints x
    3,000 SANs) and same-subject (15 intermediates with one subject and other keys)."""
    chains = {}
    issuer_name, issuer_key = ca.subject, ca.key
    ints = []
    for i in range(120):
        nm = name((OID_CN, "chain int %d" % i, "utf8"))
        ints.append(make_cert(nm, issuer_name, issuer_key, ikey, ca=True))
        issuer_name, issuer_key = nm, ikey
    leaf = make_cert(name((OID_CN, "chain-121 leaf", "utf8")), issuer_name, issuer_key, key)
    chains["chain-121"] = write_chain("chain-121", [leaf] + list(reversed(ints)))
    for kb in (40, 60, 100, 200):
        blob = ext("1.3.6.1.4.1.55555.1", octets(b"\xa5" * (kb * 1024)))
        der = make_cert(name((OID_CN, "big-%dk" % kb, "utf8")), ca.subject, ca.key, key,
                        extra_exts=[blob])
        chains["big-%dk" % kb] = write_chain("big-%dk" % kb, [der])
    der = make_cert(name((OID_CN, "sans-4000", "utf8")), ca.subject, ca.key, key,
                    san={"dns": ["h%04d.mtls.test" % i for i in range(4000)],
                         "uris": list(sans_4000_uris)})
    chains["sans-4000"] = write_chain("sans-4000", [der])
    der = make_cert(name((OID_CN, "sans-emails", "utf8")), ca.subject, ca.key, key,
                    san={"emails": ["u%04d@mtls.test" % i for i in range(3000)]})
    chains["sans-emails"] = write_chain("sans-emails", [der])
    excluded = b"".join(seq(tlv(0x82, b"x%04d.example.org" % i)) for i in range(1000))
    nc = ext("2.5.29.30", seq(tlv(0xa1, excluded)), critical=True)
    nc_name = name((OID_CN, "nc int", "utf8"))
    nc_int = make_cert(nc_name, ca.subject, ca.key, ikey, ca=True, extra_exts=[nc])
    der = make_cert(name((OID_CN, "nc leaf", "utf8")), nc_name, ikey, key,
                    san={"dns": ["n%04d.mtls.test" % i for i in range(3000)]})
    chains["nc-x-sans"] = write_chain("nc-x-sans", [der, nc_int])
    same = name((OID_CN, "same subject", "utf8"))
    decoys = []
    for i in range(15):
        k = Key(name="decoy%d" % i)
        decoys.append((k, make_cert(same, same, k, k, ca=True, aki=False)))
    der = make_cert(name((OID_CN, "same-subject leaf", "utf8")), same, decoys[0][0], key,
                    aki=False)
    chains["same-subject"] = write_chain("same-subject", [der] + [d for _, d in decoys])
    return chains


def _ski_of(der):
    marker = oid("2.5.29.14")
    i = der.find(marker)
    if i < 0:
        return None
    j = i + len(marker)
    if der[j] == 0x01:                     # critical flag
        j += 3
    _, s, e = read_tlv(der, j)             # OCTET STRING wrapping
    _, s2, e2 = read_tlv(der, s)           # the key id OCTET STRING
    return der[s2:e2]


# ---------------------------------------------------------------------------------------------
# TLS over memory BIOs


class BioTLS:
    """A TLS client on a raw TCP socket through ssl.MemoryBIO: the test decides when
    close_notify goes out and when the TCP write side is shut down."""

    def __init__(self, port, ctx, sni="localhost", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=sni)
        self.timeout = timeout
        self.eof = False
        self._io(self.obj.do_handshake)

    def _flush(self):
        d = self.out.read()
        if d:
            self.sock.sendall(d)

    def _feed(self):
        d = self.sock.recv(65536)
        if not d:
            self.inc.write_eof()
            self.eof = True
            return False
        self.inc.write(d)
        return True

    def _io(self, fn, *a):
        end = time.monotonic() + self.timeout
        while True:
            try:
                r = fn(*a)
                self._flush()
                return r
            except ssl.SSLWantReadError:
                self._flush()
                if time.monotonic() > end:
                    raise socket.timeout("TLS operation timed out")
                if self.eof or not self._feed():
                    raise L.Closed("eof")

    def send(self, data):
        self._io(self.obj.write, data)

    def close_notify(self):
        """Sends close_notify (our side is done writing); reading stays possible."""
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self._flush()

    def shut_wr(self):
        self.sock.shutdown(socket.SHUT_WR)

    def read_all(self, timeout=10, limit=64 << 20):
        """Application bytes until the peer closes (or timeout). Returns (data, closed)."""
        out = bytearray()
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(out) < limit:
            try:
                d = self.obj.read(65536)
                if not d:
                    return bytes(out), True
                out += d
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return bytes(out), True
            except ssl.SSLError:
                return bytes(out), True
            if self.eof:
                return bytes(out), True
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                self._feed()
            except socket.timeout:
                break
            except OSError:
                return bytes(out), True
        return bytes(out), False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# scripted upstream


class RawUpstream:
    """Accepts on 127.0.0.1 and runs handler(conn, head_bytes, index) for each connection after
    reading one request head; records the heads. The handler owns the socket."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.heads = []
        self.conns = 0
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()
        L.on_cleanup(self.close)

    @property
    def dial(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                idx = self.conns
            threading.Thread(target=self._serve, args=(c, idx), daemon=True).start()

    def read_head(self, c, buf=b""):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, _, rest = buf.partition(b"\r\n\r\n")
        with self.lock:
            self.heads.append(head)
        return head, rest

    def _serve(self, c, idx):
        c.settimeout(30)
        try:
            head, rest = self.read_head(c)
            if head is not None:
                self.handler(self, c, head, rest, idx)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# logs


def settled_stdout(srv, quiet=0.1, timeout=3.0):
    """The proxy's stdout once it stopped growing for `quiet` s: access-log lines are written
    once per event-loop turn, a moment after the response they describe."""
    out = srv.proc.stdout_bytes()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(quiet)
        now = srv.proc.stdout_bytes()
        if now == out:
            break
        out = now
    return out


def stdout_lines(srv):
    return [ln for ln in settled_stdout(srv).split(b"\n") if ln.strip()]


def check_log_lines(f, srv, what=""):
    """Every stdout line is one JSON object in strict UTF-8; returns the parsed objects."""
    out = []
    for raw in stdout_lines(srv):
        try:
            text = raw.decode("utf-8")          # strict: no invalid UTF-8 in a log line
            j = json.loads(text)
            f.check(isinstance(j, dict), "%s log line is not a JSON object: %r" % (what,
                                                                                raw[:200]))
            out.append(j)
        except ValueError as e:
            f.check(False, "%s log line is not valid UTF-8 JSON (%s): %r" % (what, e,
                                                                             raw[:300]))
    return out


def access_lines(objs, uri=None):
    return [j for j in objs if j.get("logger") == "http.log.access" and
            (uri is None or j.get("request", {}).get("uri") == uri)]


def wait_reloaded(srv, n, timeout=10):
    """Waits until the proxy logged its n-th "configuration reloaded"."""
    return L.wait_until(lambda: (srv.proc.stdout_bytes() + srv.proc.stderr_bytes()).count(
        b"configuration reloaded") >= n, timeout=timeout)
