#!/usr/bin/env python3
"""renegotiation_refused.py MTLS_PROXY PKIDIR - no TLS renegotiation.

With TLS 1.2, openssl s_client's "R" command asks for a renegotiation after the handshake; the
proxy must refuse it (alert or close), and the request sent after it must not be served.
Control: the same session without "R" is served. TLS 1.2 and 1.3 handshakes both work."""
import re
import subprocess

import proxylib as L

ST = {}


def setup():
    L.standard_setup(ST)


def session(renegotiate, path):
    c, k = ST["pki"].client("basic")
    req = "GET %s HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n" % path
    script = "sleep 1; %s printf '%s'; sleep 1.5" % ("echo R; sleep 1;" if renegotiate else "",
                                                      req)
    cmd = ("(%s) | openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s "
           "-cert %s -key %s -tls1_2" % (script, ST["port"], ST["pki"].server_ca, c, k))
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_tls12_without_renegotiation_is_served():
    L.start_server(ST["cfg"])
    rc, out, err = session(False, "/control")
    assert re.search(r"HTTP/1\.1 200 ", out), "control request not served: %s" % err[-500:]
    assert "Protocol  : TLSv1.2" in out or "TLSv1.2" in out, "not TLS 1.2"
    assert ST["up"].by_path("/control")


def test_client_renegotiation_refused():
    srv = L.start_server(ST["cfg"])
    rc, out, err = session(True, "/after-reneg")
    assert "RENEGOTIATING" in err, "s_client did not try to renegotiate: %s" % err[-500:]
    assert not re.search(r"HTTP/1\.1 \d{3} ", out), \
        "the request after a renegotiation attempt was answered (renegotiation accepted?)"
    assert not ST["up"].by_path("/after-reneg"), "request after renegotiation reached upstream"
    assert re.search(r"alert|error|closed|errno", err, re.I), \
        "no alert or close reported by s_client: %s" % err[-500:]
    assert srv.proc.alive()
    # the proxy serves the next client normally
    c, k = ST["pki"].client("basic")
    assert L.curl("/next", port=ST["port"], cert=c, key=k).status == 200


def test_tls13_and_tls12_handshakes():
    import ssl
    L.start_server(ST["cfg"])
    c, k = ST["pki"].client("basic")
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = L.client_context(c, k, maxver=ver, minver=ver)
        rs, _ = L.raw_exchange(ST["port"], L.request_bytes(path="/v"), ctx=ctx, wait_close=0)
        assert rs and rs[0].status == 200, (ver, rs)


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
