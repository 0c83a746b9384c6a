"""Context (a loaded policy set), Result (one verdict and identity) and inspect()."""

import base64
import binascii
import ctypes
import datetime
import enum
import ipaddress
import json
import os
import re
import threading
import weakref

from ._errors import Category, UsageError, error_name, from_struct, make_error
from ._native import MtlsErrorStruct, lib

TIME_NOW = -(2 ** 63)  # MTLS_TIME_NOW
CLIENT = "http.request.tls.client."
SAN_LISTS = ("dns_names", "emails", "ips", "uris")
_ERR_INVALID_ARGUMENT = 1
_ERR_NO_MATCHING_POLICY = 101
_ERR_PEM_NO_CERTIFICATE = 40
_ERR_PEM_MALFORMED = 42


class Mode(enum.IntEnum):
    """mtls_mode: Caddy's client authentication modes."""

    OFF = 0
    REQUEST = 1
    REQUIRE = 2
    VERIFY_IF_GIVEN = 3
    REQUIRE_AND_VERIFY = 4


class Purpose(enum.IntEnum):
    """mtls_purpose: the extended key usage verification requires."""

    CLIENT = 1
    SERVER = 2


def _placeholder_names():
    return tuple(lib.mtls_placeholder_name(i).decode("ascii")
                 for i in range(lib.mtls_placeholder_count()))


PLACEHOLDERS = _placeholder_names()
# Names as ready-made ctypes arguments (saves a conversion per call): (c_char_p, str) pairs.
_PLACEHOLDER_ARGS = tuple((ctypes.c_char_p(n.encode("ascii")), n) for n in PLACEHOLDERS)
_SAN_ARGS = tuple([] for _ in SAN_LISTS)  # the `.N` forms of each list, grown on demand
_san_lock = threading.Lock()


def _san_arg(list_index, i):
    names = _SAN_ARGS[list_index]
    if i >= len(names):
        with _san_lock:  # grown in order under the lock; readers only index below len()
            while len(names) <= i:
                name = "%ssan.%s.%d" % (CLIENT, SAN_LISTS[list_index], len(names))
                names.append((ctypes.c_char_p(name.encode("ascii")), name))
    return names[i]


def placeholder_names():
    """Every placeholder name libmtls renders (without the `.N` index forms)."""
    return list(PLACEHOLDERS)


def _decode(b):
    """Identity bytes -> str, losslessly: invalid UTF-8 bytes become lone surrogates
    (``s.encode("utf-8", "surrogateescape")`` gives the bytes back)."""
    return b.decode("utf-8", "surrogateescape")


# ---- chains --------------------------------------------------------------------------------

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _pem_to_der(data):
    ders = []
    for kind, body in _PEM_RE.findall(data):
        if kind != b"CERTIFICATE":
            continue  # a key or CSR in the same file: not part of the chain
        try:
            ders.append(base64.b64decode(b"".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            raise make_error(_ERR_PEM_MALFORMED, "malformed PEM: a CERTIFICATE block is not "
                             "valid base64") from None
    if not ders:
        raise make_error(_ERR_PEM_NO_CERTIFICATE, "no CERTIFICATE block in the PEM text")
    return ders


def to_der_list(chain):
    """The certificates of `chain`, leaf first, as a list of DER bytes.

    `chain`: None or an empty str/bytes/list (no certificate); PEM text (str, or bytes
    starting with "-----BEGIN"): every CERTIFICATE block, other blocks ignored; bytes-like:
    the DER of one certificate; a list/tuple of bytes-like DER certificates; an
    os.PathLike: a PEM or DER file.
    """
    if chain is None:
        return []
    if isinstance(chain, os.PathLike):
        with open(chain, "rb") as f:
            return to_der_list(f.read())
    if isinstance(chain, str):
        return _pem_to_der(chain.encode("utf-8")) if chain.strip() else []
    if isinstance(chain, (bytes, bytearray, memoryview)):
        data = bytes(chain)
        if data.lstrip().startswith(b"-----BEGIN"):
            return _pem_to_der(data)
        return [data] if data else []
    if isinstance(chain, (list, tuple)):
        out = []
        for c in chain:
            if not isinstance(c, (bytes, bytearray, memoryview)):
                raise TypeError("a chain list holds DER certificates (bytes), not %s"
                                % type(c).__name__)
            out.append(bytes(c))
        return out
    raise TypeError("chain must be PEM text, DER bytes, a list of DER bytes or None, not %s"
                    % type(chain).__name__)


def _unix_time(at):
    if at is None:
        return TIME_NOW
    if isinstance(at, datetime.datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a naive datetime is ambiguous: give tzinfo (e.g. "
                             "datetime.timezone.utc)")
        return int((at - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc))
                   // datetime.timedelta(seconds=1))
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise TypeError("at must be None, an aware datetime or unix seconds, not %s"
                        % type(at).__name__)
    return int(at // 1)


def _at_arrays(ders):
    n = len(ders)
    if n == 0:
        return None, None
    return (ctypes.c_char_p * n)(*ders), (ctypes.c_size_t * n)(*[len(d) for d in ders])


# ---- results -------------------------------------------------------------------------------

def _parse_time(s):
    """Go's RFC 3339 form of a certificate time ("2026-01-02T03:04:05Z") -> aware UTC."""
    if not s:
        return None
    if len(s) == 20 and s[4] == "-" and s[10] == "T" and s[19] == "Z":
        return datetime.datetime(int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]),
                                 int(s[14:16]), int(s[17:19]), tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class Result:
    """The verdict on one client and its identity, copied out of libmtls before verify()
    returns (the C peer is freed at once: a Result holds no library resource -- keep it,
    share it across threads, nothing to close).

    Verdict: ``accepted``, ``verified``, ``has_certificate`` (bools), ``reason`` (error name,
    ``"OK"`` when accepted), ``reason_code``, ``category``, ``message``, ``policy_index``,
    ``mode`` (Mode), ``error_depth`` (index in ``presented`` of the certificate at fault, or
    None).
    Certificates: ``presented`` (DER list as the client sent it), ``chain`` (the verified path,
    leaf to trust anchor; empty unless verified).
    Identity: ``identity_bytes`` (dict placeholder name -> exact bytes: every placeholder that
    renders plus the ``san.*.N`` forms), ``identity`` (the same as str, UTF-8 decoded with
    surrogateescape: lossless). Typed fields of the leaf, derived from them when read (None /
    [] when the client sent no certificate): ``subject``, ``issuer``, ``serial`` (int),
    ``fingerprint`` (hex SHA-256), ``san_dns_names``, ``san_emails``, ``san_uris`` (lists of
    str), ``san_ips`` (list of ipaddress objects), ``spiffe_id``, ``not_before``,
    ``not_after`` (aware UTC datetimes).
    """

    __slots__ = ("accepted", "verified", "has_certificate", "reason", "reason_code",
                 "category", "message", "policy_index", "mode", "error_depth", "presented",
                 "chain", "identity_bytes", "_identity")

    def __init__(self, peer):
        f = lib
        self.accepted = bool(f.mtls_peer_accepted(peer))
        self.verified = bool(f.mtls_peer_verified(peer))
        self.has_certificate = bool(f.mtls_peer_has_certificate(peer))
        self.reason_code = f.mtls_peer_reason(peer)
        self.reason = error_name(self.reason_code)
        self.category = Category(f.mtls_category_of(self.reason_code))
        self.message = ctypes.string_at(f.mtls_peer_message(peer)).decode(
            "utf-8", "backslashreplace")
        self.policy_index = f.mtls_peer_policy_index(peer)
        self.mode = Mode(f.mtls_peer_mode(peer))
        depth = f.mtls_peer_error_depth(peer)
        self.error_depth = depth if depth >= 0 else None
        self.presented = self._certs(peer, f.mtls_peer_num_certs, f.mtls_peer_cert)
        self.chain = self._certs(peer, f.mtls_peer_num_chain, f.mtls_peer_chain_cert)
        self.identity_bytes = self._render(peer)
        self._identity = None

    @staticmethod
    def _certs(peer, count, get):
        out, n = [], ctypes.c_size_t()
        for i in range(count(peer)):
            p = get(peer, i, ctypes.byref(n))
            out.append(ctypes.string_at(p, n.value))
        return out

    @staticmethod
    def _render(peer):
        get, ident, string_at = lib.mtls_peer_get, {}, ctypes.string_at
        v, n = ctypes.c_void_p(), ctypes.c_size_t()
        ref_v, ref_n = ctypes.byref(v), ctypes.byref(n)
        for arg, key in _PLACEHOLDER_ARGS:
            if get(peer, arg, ref_v, ref_n, None) == 0:
                ident[key] = string_at(v.value, n.value)
        for list_index in range(len(SAN_LISTS)):
            i = 0
            while True:
                arg, key = _san_arg(list_index, i)
                if get(peer, arg, ref_v, ref_n, None) != 0 or n.value == 0:
                    break
                ident[key] = string_at(v.value, n.value)
                i += 1
        return ident

    # Decoded and typed views, computed from identity_bytes when first read.
    @property
    def identity(self):
        if self._identity is None:
            self._identity = {k: _decode(v) for k, v in self.identity_bytes.items()}
        return self._identity

    def _one(self, key):
        if not self.has_certificate:
            return None
        v = self.identity_bytes.get(CLIENT + key)
        return _decode(v) if v is not None else None

    def _list(self, key):
        out, i, ident = [], 0, self.identity_bytes
        while True:
            v = ident.get("%ssan.%s.%d" % (CLIENT, key, i))
            if v is None:
                return out
            out.append(_decode(v))
            i += 1

    subject = property(lambda self: self._one("subject"), doc="Subject DN, Go's form")
    issuer = property(lambda self: self._one("issuer"), doc="Issuer DN, Go's form")
    fingerprint = property(lambda self: self._one("fingerprint"), doc="hex SHA-256 of the leaf")
    san_dns_names = property(lambda self: self._list("dns_names"))
    san_emails = property(lambda self: self._list("emails"))
    san_uris = property(lambda self: self._list("uris"))
    san_ips = property(lambda self: [ipaddress.ip_address(s) for s in self._list("ips")])

    @property
    def serial(self):
        s = self._one("serial")
        return int(s) if s else None

    @property
    def spiffe_id(self):
        return self._one("spiffe_id") or None

    @property
    def not_before(self):
        return _parse_time(self._one("not_before"))

    @property
    def not_after(self):
        return _parse_time(self._one("not_after"))

    def __repr__(self):
        return "<mtls.Result %s reason=%s subject=%r policy=%d mode=%s>" % (
            "accepted" if self.accepted else "refused", self.reason, self.subject,
            self.policy_index, self.mode.name.lower())


# ---- context -------------------------------------------------------------------------------

def _check(status, err):
    if status != 0:
        raise from_struct(err)


def _opt_bytes(s, what):
    if s is None:
        return None
    if isinstance(s, str):
        return s.encode("utf-8")
    raise TypeError("%s must be a str or None" % what)


class Context:
    """A loaded policy set (Caddy ``tls_connection_policies``), immutable once built.

    ``Context(policy, server=None)``: `policy` is JSON text (str or bytes), a dict/list
    (serialised with json.dumps) or an os.PathLike (a file, as from_file) in any of the
    shapes libmtls accepts: a bare
    ``client_authentication`` object, a ``tls_connection_policies`` array, or a whole Caddy
    config (then `server` names the server, e.g. "srv0", when several have policies).
    ``Context.from_file(path, server=None)`` reads a file. Relative paths inside the policy
    are resolved against the current directory. Raises mtls.Error (PolicyError, TrustError,
    FileError, ...) when the policy does not load.

    Thread-safety: verify(), select(), describe() and the accessors may run in any number of
    threads at once (the GIL is released during the C calls). set_purpose()/set_max_depth()
    configure the context before its first verify() and raise UsageError afterwards.
    Lifetime: close() (or a ``with`` block) frees it at once; otherwise the garbage collector
    does. A close() during a verify() in another thread waits for nothing and frees nothing
    under it: each call holds its own reference.
    """

    def __init__(self, policy, server=None):
        if isinstance(policy, os.PathLike):
            self._load_file(policy, server)
            return
        if isinstance(policy, (dict, list)):
            policy = json.dumps(policy)
        if isinstance(policy, str):
            policy = policy.encode("utf-8")
        if not isinstance(policy, (bytes, bytearray, memoryview)):
            raise TypeError("policy must be JSON text (str/bytes) or a dict/list, not %s"
                            % type(policy).__name__)
        policy = bytes(policy)
        err = MtlsErrorStruct()
        ptr = lib.mtls_ctx_new_from_json(policy, len(policy), _opt_bytes(server, "server"),
                                         ctypes.byref(err))
        self._adopt(ptr, err)

    @classmethod
    def from_file(cls, path, server=None):
        """Loads the policy document at `path` (str, bytes or os.PathLike)."""
        self = cls.__new__(cls)
        self._load_file(path, server)
        return self

    def _load_file(self, path, server):
        err = MtlsErrorStruct()
        ptr = lib.mtls_ctx_new_from_file(os.fsencode(path), _opt_bytes(server, "server"),
                                         ctypes.byref(err))
        self._adopt(ptr, err)

    def _adopt(self, ptr, err):
        if not ptr:
            raise from_struct(err)
        self._ptr = ptr
        self._lock = threading.Lock()
        self._used = False
        self._finalizer = weakref.finalize(self, lib.mtls_ctx_free, ptr)

    # -- lifetime --
    def close(self):
        """Frees the context (idempotent). Calls already running finish on their own
        reference; later calls raise UsageError."""
        with self._lock:
            self._ptr = None
        self._finalizer()

    @property
    def closed(self):
        return self._ptr is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _acquire(self, verifying=False):
        """A reference for one call (the caller drops it with mtls_ctx_free)."""
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise UsageError(_ERR_INVALID_ARGUMENT, "the mtls.Context is closed")
            lib.mtls_ctx_up_ref(ptr)
            if verifying:
                self._used = True
        return ptr

    def _configure(self, what):
        if self._ptr is None:
            raise UsageError(_ERR_INVALID_ARGUMENT, "the mtls.Context is closed")
        if self._used:
            raise UsageError(_ERR_INVALID_ARGUMENT, "%s: the context is already in use "
                             "(configure a Context before its first call)" % what)
        return self._ptr

    # -- settings (before use) --
    def set_purpose(self, purpose):
        """The extended key usage verification requires: "client" (default) or "server"
        (or a Purpose). Call before the first verify()."""
        if isinstance(purpose, str):
            try:
                purpose = Purpose[purpose.upper()]
            except KeyError:
                raise UsageError(_ERR_INVALID_ARGUMENT,
                                 "purpose must be 'client' or 'server', not %r" % purpose)
        err = MtlsErrorStruct()
        _check(lib.mtls_ctx_set_purpose(self._configure("set_purpose"), int(purpose),
                                        ctypes.byref(err)), err)

    def set_max_depth(self, max_depth):
        """The most intermediate CAs allowed between leaf and anchor (0..64, default 8).
        Call before the first verify()."""
        err = MtlsErrorStruct()
        _check(lib.mtls_ctx_set_max_depth(self._configure("set_max_depth"), int(max_depth),
                                          ctypes.byref(err)), err)

    # -- queries --
    @property
    def num_policies(self):
        """How many connection policies the context holds (>= 1)."""
        ptr = self._acquire()
        try:
            return lib.mtls_ctx_num_policies(ptr)
        finally:
            lib.mtls_ctx_free(ptr)

    def __len__(self):
        return self.num_policies

    def policy_mode(self, index=0):
        """The effective Mode of policy `index` (after Caddy's defaults)."""
        ptr = self._acquire()
        try:
            mode = lib.mtls_ctx_policy_mode(ptr, index)
        finally:
            lib.mtls_ctx_free(ptr)
        if mode < 0:
            raise UsageError(_ERR_INVALID_ARGUMENT, "no policy %d" % index)
        return Mode(mode)

    def policy_field(self, index, name):
        """Connection-policy field `name` of policy `index` (e.g. "alpn") parsed from JSON,
        or None when the policy does not set it."""
        ptr = self._acquire()
        try:
            p = lib.mtls_ctx_policy_field(ptr, index, name.encode("ascii"))
            return json.loads(ctypes.string_at(p)) if p else None
        finally:
            lib.mtls_ctx_free(ptr)

    def select(self, sni=None, remote_ip=None, local_ip=None):
        """The index of the first policy whose matchers all match the connection, or None
        when none matches (Caddy then fails the handshake). `sni`: the TLS server name;
        `remote_ip`/`local_ip`: textual addresses (None: unknown)."""
        ptr = self._acquire()
        err, idx = MtlsErrorStruct(), ctypes.c_size_t()
        try:
            st = lib.mtls_ctx_select(ptr, _opt_bytes(sni, "sni"),
                                     _opt_bytes(None if remote_ip is None else str(remote_ip),
                                                "remote_ip"),
                                     _opt_bytes(None if local_ip is None else str(local_ip),
                                                "local_ip"),
                                     ctypes.byref(idx), ctypes.byref(err))
        finally:
            lib.mtls_ctx_free(ptr)
        if st == _ERR_NO_MATCHING_POLICY:
            return None
        _check(st, err)
        return idx.value

    def describe(self):
        """The effective policy set as a dict ({"policies": [...]}, see mtls.h
        mtls_ctx_describe_json)."""
        ptr = self._acquire()
        err, out, n = MtlsErrorStruct(), ctypes.c_void_p(), ctypes.c_size_t()
        try:
            _check(lib.mtls_ctx_describe_json(ptr, ctypes.byref(out), ctypes.byref(n),
                                              ctypes.byref(err)), err)
            try:
                return json.loads(ctypes.string_at(out.value, n.value))
            finally:
                lib.mtls_free(out)
        finally:
            lib.mtls_ctx_free(ptr)

    # -- verification --
    def verify(self, chain, at=None, policy_index=0):
        """Judges a client certificate chain under policy `policy_index`, as the TLS glue does
        in a handshake; returns a Result (accepted or refused: read ``.accepted``).

        `chain`: as the client sent it, leaf first -- PEM text, DER bytes of one certificate,
        a list of DER, or None/[] for "no certificate". `at`: verification time, an aware
        datetime or unix seconds; None is now. Raises Error only for bad arguments (unknown
        policy index, PEM without certificate) or out-of-memory.
        """
        ders = to_der_list(chain)
        certs, lens = _at_arrays(ders)
        when = _unix_time(at)
        err, peer = MtlsErrorStruct(), ctypes.c_void_p()
        ptr = self._acquire(verifying=True)
        try:
            st = lib.mtls_verify_der(ptr, policy_index, certs, lens, len(ders), when,
                                     ctypes.byref(peer), ctypes.byref(err))
        finally:
            lib.mtls_ctx_free(ptr)
        _check(st, err)
        try:
            return Result(peer)
        finally:
            lib.mtls_peer_free(peer)

    def __repr__(self):
        if self._ptr is None:
            return "<mtls.Context closed>"
        return "<mtls.Context %d policies>" % self.num_policies


_inspect_ctx = None
_inspect_lock = threading.Lock()


def inspect(cert, at=None):
    """The identity of a certificate (chain) without verification: a Result from a
    ``{"mode":"require"}`` context (as ``mtls inspect`` does). Raises VerifyError
    (CERT_PARSE) when the certificate does not parse as Go parses it, DeniedError when
    `cert` holds no certificate."""
    global _inspect_ctx
    with _inspect_lock:
        if _inspect_ctx is None:
            _inspect_ctx = Context(b'{"mode":"require"}')
    r = _inspect_ctx.verify(cert, at=at)
    if not r.accepted:
        raise make_error(r.reason_code, r.message)
    return r
