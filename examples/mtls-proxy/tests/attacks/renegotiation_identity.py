#!/usr/bin/env python3
"""renegotiation_identity.py MTLS_PROXY PKIDIR - a TLS 1.2 renegotiation cannot give a
connection a second client identity (DESIGN.md section 6: "No renegotiation").

(integration/renegotiation_refused.py checks that "R" right after the handshake is refused.)
Here the connection first serves a request as client "basic", then openssl s_client asks for
a renegotiation ("R") and sends a second request: the renegotiation is refused (alert or
close), the second request is never served, the upstream sees exactly one request with the
first identity, the access log has one line, and the proxy keeps serving others. Also a
renegotiation attempt on a site without client auth (a client there must not be able to add
a certificate mid-connection), and several attempts in a row."""
import re

import attacklib as A

L = A.L
ST = {}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    p_auth, p_open = L.free_ports(2)
    rp = L.reverse_proxy(up, set={"X-Client-Subject": "{http.request.tls.client.subject}",
                                  "X-Client-Verified": "{http.request.tls.client.verified}"})
    cfg = L.config({
        "auth": L.server(p_auth, [L.route(rp)], [L.policy(mode="require_and_verify",
                                                          trust=pki.path("root-ca.pem"))]),
        "open": L.server(p_open, [L.route(rp)], [L.policy(mode="request")]),
    }, pki)
    ST.update(pki=pki, up=up, auth=p_auth, open=p_open, cfg=cfg)


def session(port, case, script):
    return A.s_client_session(ST["pki"], port, case, script)


get = A.shell_get


def test_renegotiation_after_a_served_request():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    out, err = session(ST["auth"], "basic", "sleep 0.5; %s; sleep 0.7; echo R; sleep 0.7; %s; "
                                            "sleep 0.7" % (get("/before"), get("/after")))
    f.check("RENEGOTIATING" in err, "s_client did not try: %s" % err[-300:])
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", out)
    f.check(statuses == ["200"], "responses on the connection: %r (want only the first)" %
            statuses)
    before, after = ST["up"].by_path("/before"), ST["up"].by_path("/after")
    f.check(len(before) == 1 and before[0].get("x-client-subject") == b"CN=basic client",
            "first request at the upstream: %r" % [(u.get("x-client-subject")) for u in before])
    f.check(not after, "the request after the renegotiation reached the upstream as %r" %
            [u.get("x-client-subject") for u in after])
    objs = A.check_log_lines(f, srv)
    f.check(len(A.access_lines(objs, "/before")) == 1 and not A.access_lines(objs, "/after"),
            "access lines: %r" % A.access_lines(objs))
    c, k = ST["pki"].client("basic")
    f.check(L.curl("/next", port=ST["auth"], cert=c, key=k).status == 200,
            "the proxy does not serve the next client")
    f.done()


def test_renegotiation_on_site_without_required_certificate():
    """mode request, no certificate at first: a renegotiation must not be a way to present
    one later (nor to get a verified identity)."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    out, err = session(ST["open"], None, "sleep 0.5; %s; sleep 0.7; echo R; sleep 0.7; %s; "
                                         "sleep 0.7" % (get("/open-before"), get("/open-after")))
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", out)
    f.check(statuses == ["200"], "responses: %r" % statuses)
    b = ST["up"].by_path("/open-before")
    f.check(len(b) == 1 and b[0].get("x-client-verified") == b"NONE",
            "first request: %r" % [u.get("x-client-verified") for u in b])
    f.check(not ST["up"].by_path("/open-after"), "request after the renegotiation served")
    f.done()


def test_repeated_renegotiation_attempts():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for i in range(3):
        out, err = session(ST["auth"], "basic", "sleep 0.3; echo R; sleep 0.3; echo R; "
                                                "sleep 0.3; %s; sleep 0.3" % get("/rr%d" % i))
        f.check(not re.search(r"HTTP/1\.1 \d{3} ", out), "attempt %d answered" % i)
    f.check(not [u for u in ST["up"].requests if u.path.startswith("/rr")],
            "requests after renegotiation attempts reached the upstream")
    f.check(srv.proc.alive(), "proxy died")
    c, k = ST["pki"].client("basic")
    f.check(L.curl("/after-all", port=ST["auth"], cert=c, key=k).status == 200,
            "not serving afterwards")
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
