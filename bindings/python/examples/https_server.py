#!/usr/bin/env python3
"""An HTTPS server on Python's own `ssl` + `http.server` where libmtls, not OpenSSL, judges
the client certificate, and the handler prints the client's identity.

    python3 https_server.py --policy policy.json --cert server.pem --key server.key \
        [--host 127.0.0.1] [--port 8443] [--server srv0]

`policy.json` is any policy libmtls loads (a Caddy `client_authentication` object, a
`tls_connection_policies` array or a whole Caddy config). Each request is answered 200 with
the client's identity (JSON) when the policy accepts the client, 403 with the reason when it
refuses (Caddy would fail the TLS handshake instead; a readable answer is easier to debug).

How the certificate gets to libmtls unverified: Python's `ssl` has no "request a client
certificate but do not verify it" setting -- CERT_OPTIONAL makes OpenSSL verify whatever the
client sends against the context's CAs and abort the handshake when that fails, so OpenSSL's
rules would decide first, and `getpeercert(binary_form=True)` only gives the leaf anyway
(`SSLSocket.get_unverified_chain()` arrives in Python 3.13). So this example replaces
OpenSSL's chain verification of its SSL_CTX with a callback
(`SSL_CTX_set_cert_verify_callback`, called through ctypes on the very OpenSSL that Python's
`_ssl` module uses) that verifies nothing, records the chain exactly as the client sent it,
and lets the handshake continue; the handler then hands that chain to libmtls. The SSL_CTX
pointer is read from the `ssl.SSLContext` object (the first field after the object header in
every CPython 3) and checked against the context's options and verify mode before anything is
installed; if the check fails the server refuses to start rather than guess.
"""

import argparse
import ctypes
import http.server
import json
import socket
import ssl
import sys
import threading

import mtls

SSL_VERIFY_PEER = 1


class ChainCapture:
    """Installs the verify-nothing, record-the-chain callback on an ssl.SSLContext. Chains
    are kept per socket file descriptor, which a connection owns for its whole life."""

    def __init__(self, context):
        try:
            import _ssl
            self.lib = ctypes.CDLL(getattr(_ssl, "__file__", None))  # resolves in _ssl's OpenSSL
        except OSError:
            self.lib = ctypes.CDLL(None)
        self._declare()
        ptr = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if (not ptr or self.lib.SSL_CTX_get_options(ptr) != int(context.options)
                or self.lib.SSL_CTX_get_verify_mode(ptr) != SSL_VERIFY_PEER):
            raise RuntimeError("cannot find the SSL_CTX of this ssl.SSLContext (not CPython?); "
                               "refusing to start")
        self.chains = {}
        self.lock = threading.Lock()
        self.callback = self.CALLBACK(self._on_chain)  # kept alive as long as self
        self.lib.SSL_CTX_set_cert_verify_callback(ptr, self.callback, None)
        self.context = context  # the SSL_CTX must outlive the callback's installation

    CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    def _declare(self):
        vp, i = ctypes.c_void_p, ctypes.c_int
        for name, res, args in (
                ("SSL_CTX_get_options", ctypes.c_uint64, [vp]),
                ("SSL_CTX_get_verify_mode", i, [vp]),
                ("SSL_CTX_set_cert_verify_callback", None, [vp, self.CALLBACK, vp]),
                ("SSL_get_ex_data_X509_STORE_CTX_idx", i, []),
                ("X509_STORE_CTX_get_ex_data", vp, [vp, i]),
                ("X509_STORE_CTX_get0_cert", vp, [vp]),
                ("X509_STORE_CTX_get0_untrusted", vp, [vp]),
                ("OPENSSL_sk_num", i, [vp]),
                ("OPENSSL_sk_value", vp, [vp, i]),
                ("SSL_get_fd", i, [vp]),
                ("i2d_X509", i, [vp, ctypes.POINTER(ctypes.c_char_p)])):
            fn = getattr(self.lib, name)
            fn.restype, fn.argtypes = res, args

    def _der(self, x509):
        n = self.lib.i2d_X509(x509, None)
        if n <= 0:
            raise ValueError("i2d_X509 failed")
        buf = ctypes.create_string_buffer(n)
        out = ctypes.c_char_p(ctypes.addressof(buf))
        self.lib.i2d_X509(x509, ctypes.byref(out))
        return buf.raw

    def _on_chain(self, store_ctx, _arg):
        # Runs inside the handshake; an exception here returns 0: the handshake fails closed.
        lib = self.lib
        ssl_ptr = lib.X509_STORE_CTX_get_ex_data(store_ctx,
                                                 lib.SSL_get_ex_data_X509_STORE_CTX_idx())
        sk = lib.X509_STORE_CTX_get0_untrusted(store_ctx)
        chain = [self._der(lib.OPENSSL_sk_value(sk, k)) for k in range(lib.OPENSSL_sk_num(sk))] \
            if sk else []
        leaf = self._der(lib.X509_STORE_CTX_get0_cert(store_ctx))
        if not chain or chain[0] != leaf:
            chain.insert(0, leaf)
        with self.lock:
            self.chains[lib.SSL_get_fd(ssl_ptr)] = chain
        return 1  # OpenSSL verifies nothing: libmtls decides after the handshake

    def forget(self, fd):
        with self.lock:
            self.chains.pop(fd, None)

    def take(self, fd):
        """The chain the client on `fd` sent (leaf first), [] if it sent none."""
        with self.lock:
            return self.chains.pop(fd, [])


def printable(s):
    """Identity values may hold control bytes (Go passes them through): JSON-escape them."""
    return json.dumps(s, ensure_ascii=False)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mtls-example/1"

    def setup(self):
        srv = self.server
        sock = self.request
        fd = sock.fileno()
        srv.capture.forget(fd)  # a descriptor number is reused by later connections
        sock.settimeout(10)
        try:
            sock.do_handshake()
        except (ssl.SSLError, OSError) as e:
            print("handshake failed from %s: %s" % (self.client_address[0], e), flush=True)
            raise
        chain = srv.capture.take(fd)
        index = srv.policy.select(getattr(sock, "mtls_sni", None), self.client_address[0],
                                  sock.getsockname()[0])
        if index is None:
            self.verdict = None
        else:
            self.verdict = srv.policy.verify(chain, policy_index=index)
        super().setup()

    def do_GET(self):
        r = self.verdict
        if r is None:
            self._answer(403, {"accepted": False, "reason": "NO_MATCHING_POLICY"})
            print("refused %s: no policy matches" % self.client_address[0], flush=True)
            return
        if not r.accepted:
            print("refused %s: %s: %s" % (self.client_address[0], r.reason, r.message),
                  flush=True)
            self._answer(403, {"accepted": False, "reason": r.reason, "message": r.message})
            return
        print("accepted %s: subject=%s fingerprint=%s dns=%s verified=%s" % (
            self.client_address[0], printable(r.subject), r.fingerprint,
            printable(r.san_dns_names), r.verified), flush=True)
        self._answer(200, {"accepted": True, "policy_index": r.policy_index,
                           "verified": r.verified, "subject": r.subject, "issuer": r.issuer,
                           "serial": str(r.serial) if r.serial is not None else None,
                           "fingerprint": r.fingerprint, "san_dns_names": r.san_dns_names,
                           "san_uris": r.san_uris,
                           "san_ips": [str(ip) for ip in r.san_ips],
                           "not_after": r.not_after.isoformat() if r.not_after else None,
                           "identity": r.identity})

    def _answer(self, status, body):
        data = (json.dumps(body, indent=1) + "\n").encode("utf-8", "surrogateescape")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass  # the verdict lines above are the log


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, policy, sslctx):
        self.policy = policy
        self.sslctx = sslctx
        self.capture = ChainCapture(sslctx)
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake runs in the handler's thread (Handler.setup), not in accept().
        return self.sslctx.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes are logged in Handler.setup


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", required=True, help="libmtls policy (Caddy JSON)")
    ap.add_argument("--server", help="server name in a whole Caddy config (e.g. srv0)")
    ap.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8443, help="0: any free port")
    args = ap.parse_args(argv)

    policy = mtls.Context.from_file(args.policy, server=args.server)
    sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sslctx.load_cert_chain(args.cert, args.key)
    sslctx.verify_mode = ssl.CERT_OPTIONAL  # send a CertificateRequest

    def remember_sni(sock, name, _ctx):
        sock.mtls_sni = name

    sslctx.sni_callback = remember_sni
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    Server.address_family = family
    with Server((args.host, args.port), policy, sslctx) as httpd:
        host, port = httpd.server_address[:2]
        print("listening on https://%s:%d (libmtls %s on %s, policy %s: %d policies)" % (
            host, port, mtls.version(), mtls.tls_library(), args.policy,
            policy.num_policies), flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    policy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
