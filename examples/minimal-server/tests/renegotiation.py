#!/usr/bin/env python3
"""renegotiation.py MINIMAL_SERVER PKIDIR - a TLS 1.2 renegotiation cannot give a minimal-server
connection a second client identity (BoringSSL servers never renegotiate).

openssl s_client -tls1_2 with the trusted "basic" client certificate:
  - "R" right after the handshake, then a request: the renegotiation is refused (alert
    no_renegotiation), no response comes, and the server's output names only "CN=basic
    client" (one identity block, one "accepted" verdict);
  - a request, then "R", then a second request: the minimal server answers once and closes
    (Connection: close), so only the first request is answered, as "CN=basic client";
  - a `request`-mode server, no certificate, "R": refused; the identity stays "NONE";
  - 3 connections with 2 x "R" each: all refused;
and the server keeps serving the next client, and exits 0 on SIGTERM."""
import re

import mslib as M

L = M.L
ST = {}


def setup():
    pki = L.PKI()
    ST.update(pki=pki,
              rav=M.policy_file("rav", trust=[pki.path("root-ca.pem")]),
              req=M.policy_file("request", mode="request"))


def session(port, case, script):
    return M.A.s_client_session(ST["pki"], port, case, script)


get = M.A.shell_get


def next_client_ok(f, srv):
    st, body, t, err = M.get(srv.port, M.basic_ctx(ST["pki"]), "/next")
    f.check(st == 200 and M.body_fields(body).get(M.SHOWN[1]) == b"CN=basic client",
            "the next client is not served: %d %s %r" % (st, err, body[:200]))


def subjects(srv):
    return [b.get(M.SHOWN[1]) for b in srv.blocks()]


def test_renegotiation_right_after_handshake():
    srv = M.Server(ST["rav"])
    f = L.Failures()
    out, err = session(srv.port, "basic", "sleep 0.5; echo R; sleep 0.7; %s; sleep 0.7" %
                       get("/after-r"))
    f.check("RENEGOTIATING" in err, "s_client did not try: %s" % err[-300:])
    f.check("no renegotiation" in err or "alert" in err,
            "no alert for the renegotiation: %s" % err[-300:])
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", out)
    f.check(statuses == [], "answered after the renegotiation attempt: %r" % statuses)
    # the server prints the identity it judged at the handshake (main.c answers whatever
    # SSL_read returned): one block, the original client
    f.check(subjects(srv) in ([], [b"CN=basic client"]), "identities printed: %r" %
            subjects(srv))
    f.check([a for a, _ in srv.verdicts()] == [True], "verdicts: %r" % srv.verdicts())
    next_client_ok(f, srv)
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_renegotiation_after_an_answered_request():
    srv = M.Server(ST["rav"])
    f = L.Failures()
    out, err = session(srv.port, "basic", "sleep 0.5; %s; sleep 0.7; echo R; sleep 0.7; %s; "
                                          "sleep 0.7" % (get("/before"), get("/after")))
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", out)
    f.check(statuses == ["200"], "responses on the connection: %r (want only the first)" %
            statuses)
    f.check(out.count("http.request.tls.client.subject: CN=basic client") == 1,
            "identity in the response: %r" % re.findall(r"client\.subject: .*", out))
    f.check(subjects(srv) == [b"CN=basic client"], "identities printed: %r" % subjects(srv))
    f.check([a for a, _ in srv.verdicts()] == [True], "verdicts: %r" % srv.verdicts())
    next_client_ok(f, srv)
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_renegotiation_to_add_a_certificate_in_request_mode():
    """mode request, no certificate at first: a renegotiation must not be a way to present
    one later."""
    srv = M.Server(ST["req"])
    f = L.Failures()
    out, err = session(srv.port, None, "sleep 0.5; echo R; sleep 0.7; %s; sleep 0.7" %
                       get("/open-after"))
    f.check("RENEGOTIATING" in err, "s_client did not try: %s" % err[-300:])
    f.check(not re.findall(r"HTTP/1\.1 (\d{3}) ", out), "answered after R")
    verified = [b.get(M.SHOWN[0]) for b in srv.blocks()]
    f.check(verified in ([], [b"NONE"]), "verified values printed: %r" % verified)
    f.check(all(not b.get(M.SHOWN[1]) for b in srv.blocks()), "a subject appeared: %r" %
            subjects(srv))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_repeated_renegotiation_attempts():
    srv = M.Server(ST["rav"])
    f = L.Failures()
    for i in range(3):
        out, err = session(srv.port, "basic", "sleep 0.3; echo R; sleep 0.3; echo R; "
                                              "sleep 0.3; %s; sleep 0.3" % get("/rr%d" % i))
        f.check(not re.search(r"HTTP/1\.1 \d{3} ", out), "attempt %d answered" % i)
    f.check(all(s == b"CN=basic client" for s in subjects(srv)), "identities: %r" %
            subjects(srv))
    f.check(srv.proc.alive(), "minimal-server died")
    next_client_ok(f, srv)
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
