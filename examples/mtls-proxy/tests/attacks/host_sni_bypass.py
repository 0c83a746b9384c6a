#!/usr/bin/env python3
"""host_sni_bypass.py MTLS_PROXY PKIDIR - reaching a client-auth site through a site without
client auth on the same listener (DESIGN.md section 6, "No SNI or an unknown SNI").

Listener "two": two SNI policies, public.mtls.test without client auth and admin.mtls.test
require_and_verify (root CA); routes admin.mtls.test -> ADMIN upstream, public.mtls.test ->
PUBLIC upstream.
Listener "fallback": the same plus a catch-all policy without client auth (so the empty SNI
completes a handshake with no certificate) and a catch-all route to PUBLIC.
Listener "wild": *.mtls.test without client auth listed BEFORE admin.mtls.test
require_and_verify (exact names beat a covering wildcard, Caddy #7920).

Attacks, all without a client certificate: SNI public + Host admin (also with a port, other
case, trailing dot, absolute-form target, userinfo, a second Host, later request on a
keep-alive connection), the empty SNI, SNI in upper case or with a trailing dot, SNI on the
wildcard. Each must end in a refused handshake or 421/400/404, the ADMIN upstream must never
see a request, and every access-log line must show the status the client got."""
import ssl

import attacklib as A

L = A.L
ST = {}
ADMIN = "admin.mtls.test"
PUBLIC = "public.mtls.test"


def setup():
    pki = L.PKI()
    admin_up, public_up = L.Upstream("admin"), L.Upstream("public")
    p_two, p_fb, p_wild = L.free_ports(3)
    rp_admin = L.reverse_proxy(admin_up, set={
        "X-Client-Subject": "{http.request.tls.client.subject}",
        "X-Client-Verified": "{http.request.tls.client.verified}"})
    rp_public = L.reverse_proxy(public_up)
    routes = [L.route(rp_admin, hosts=[ADMIN]), L.route(rp_public, hosts=[PUBLIC])]
    rav = L.policy(sni=ADMIN, mode="require_and_verify", trust=pki.path("root-ca.pem"))
    cfg = L.config({
        "two": L.server(p_two, routes, [L.policy(sni=PUBLIC), rav]),
        "fallback": L.server(p_fb, routes + [L.route(rp_public)],
                             [L.policy(sni=PUBLIC), rav, {}]),
        "wild": L.server(p_wild, routes + [L.route(rp_public, hosts=["*.mtls.test"])],
                         [L.policy(sni="*.mtls.test"), rav]),
    }, pki)
    ST.update(pki=pki, admin=admin_up, public=public_up, two=p_two, fb=p_fb, wild=p_wild,
              cfg=cfg)


def ctx(cert=False):
    c = k = None
    if cert:
        c, k = ST["pki"].client("basic")
    return L.client_context(c, k, verify=False)


def exchange(port, sni, data, cert=False, nresp=1):
    """(statuses, handshake_refused)."""
    try:
        rs, _ = L.raw_exchange(port, data, sni=sni, ctx=ctx(cert), nresp=nresp, wait_close=0)
        return [r.status for r in rs], False
    except (ssl.SSLError, OSError, L.Closed):
        return [], True


def req(host, path, target=None, extra=""):
    h = "Host: %s\r\n" % host if host is not None else ""
    return ("GET %s HTTP/1.1\r\n%s%s\r\n" % (target or path, h, extra)).encode()


def admin_paths():
    return [u.target for u in ST["admin"].requests]


def test_control_admin_needs_certificate():
    """Control: admin with a certificate is served; without one the handshake is refused."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    st, refused = exchange(ST["two"], ADMIN, req(ADMIN, "/ctl-cert"), cert=True)
    f.check(st == [200], "admin with a certificate: %r refused=%s" % (st, refused))
    st, refused = exchange(ST["two"], ADMIN, req(ADMIN, "/ctl-nocert"))
    f.check(refused or st == [], "admin without a certificate: %r" % st)
    st, refused = exchange(ST["two"], PUBLIC, req(PUBLIC, "/ctl-public"))
    f.check(st == [200], "public without a certificate: %r" % st)
    f.check(admin_paths() == ["/ctl-cert"], "admin upstream saw %r" % admin_paths())
    f.done()
    ST["admin"].clear()


def host_variants(port):
    return [
        ("Host admin", req(ADMIN, "/v1")),
        ("Host admin:port", req("%s:%d" % (ADMIN, port), "/v2")),
        ("Host ADMIN (case)", req(ADMIN.upper(), "/v3")),
        ("Host admin. (trailing dot)", req(ADMIN + ".", "/v4")),
        ("absolute-form https://admin/", req(PUBLIC, "/v5", target="https://%s/v5" % ADMIN)),
        ("absolute-form http://admin:port/", req(PUBLIC, "/v6", target="http://%s:%d/v6" % (
            ADMIN, port))),
        ("absolute-form with userinfo public@admin",
         req(PUBLIC, "/v7", target="https://%s@%s/v7" % (PUBLIC, ADMIN))),
        ("Host with userinfo public@admin", req("%s@%s" % (PUBLIC, ADMIN), "/v8")),
        ("Host public:x@admin", req("%s:1@%s" % (PUBLIC, ADMIN), "/v9")),
        ("two Hosts, public first", req(PUBLIC, "/v10", extra="Host: %s\r\n" % ADMIN)),
        ("two Hosts, admin first", req(ADMIN, "/v11", extra="Host: %s\r\n" % PUBLIC)),
        ("Host list public, admin", req("%s, %s" % (PUBLIC, ADMIN), "/v12")),
        ("Host with trailing space and tab", req(ADMIN + " \t", "/v13")),
        ("Host bracketed [admin]", req("[%s]" % ADMIN, "/v14")),
        ("HTTP/1.0 without Host, absolute admin",
         ("GET https://%s/v15 HTTP/1.0\r\n\r\n" % ADMIN).encode()),
        ("X-Forwarded-Host / X-Original-Host admin",
         req(PUBLIC, "/v16", extra="X-Forwarded-Host: %s\r\nX-Original-Host: %s\r\n"
             "X-Host: %s\r\nForwarded: host=%s\r\n" % (ADMIN, ADMIN, ADMIN, ADMIN))),
    ]


def test_public_sni_admin_host():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for port in (ST["two"], ST["fb"]):
        for what, data in host_variants(port):
            path = data.split(b" ", 2)[1].decode()
            st, refused = exchange(port, PUBLIC, data)
            want = (200,) if path == "/v16" else (400, 421, 404)
            f.check(not refused and len(st) == 1 and st[0] in want,
                    "port %d SNI public, %s: statuses %r (refused=%s), want %s" % (
                        port, what, st, refused, "/".join(map(str, want))))
            f.check(not admin_paths(), "port %d SNI public, %s: ADMIN upstream reached: %r" % (
                port, what, admin_paths()))
            ST["admin"].clear()
    # the headers naming admin reach only the public upstream, and never as the Host
    pub = [u for u in ST["public"].requests if u.path == "/v16"]
    for u in pub:
        f.check((u.get("host") or b"").lower() == PUBLIC.encode(),
                "public upstream got Host %r for /v16" % u.get("host"))
        f.check(u.get_all("x-forwarded-host") == [PUBLIC.encode()],
                "public upstream got X-Forwarded-Host %r" % u.get_all("x-forwarded-host"))
    objs = A.check_log_lines(f, srv)
    for j in A.access_lines(objs):
        if j["request"].get("uri", "").startswith("/v") and j.get("status") == 200:
            f.check(j["request"].get("uri") == "/v16", "access line with 200: %r" % j)
    f.done()


def test_keepalive_second_request_to_admin():
    L.start_server(ST["cfg"])
    f = L.Failures()
    data = req(PUBLIC, "/ka1") + req(ADMIN, "/ka2") + req(PUBLIC, "/ka3")
    st, refused = exchange(ST["two"], PUBLIC, data, nresp=3)
    f.check(st[:2] == [200, 421], "keep-alive public then admin: %r (want 200, 421)" % st)
    f.check(not admin_paths(), "ADMIN upstream reached: %r" % admin_paths())
    # pipelined: the admin request hidden in the same TLS record as a public one
    st, refused = exchange(ST["fb"], PUBLIC, req(PUBLIC, "/ka4") + req(ADMIN, "/ka5"), nresp=2)
    f.check(st == [200, 421], "pipelined public then admin: %r (want 200, 421)" % st)
    f.check(not admin_paths(), "pipelined: ADMIN upstream reached: %r" % admin_paths())
    f.done()


def test_empty_sni():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    # "two": no policy matches the empty SNI -> no handshake (Caddy: no matching policy)
    st, refused = exchange(ST["two"], None, req(ADMIN, "/e1"))
    f.check(refused or st in ([421], [400]), "two, no SNI, Host admin: %r" % st)
    # "fallback": the catch-all policy completes the handshake without a certificate; the
    # admin Host must still be refused (the Host/SNI check holds for the empty SNI)
    for i, (host, target) in enumerate([(ADMIN, None), (ADMIN + ":443", None),
                                        (PUBLIC, "https://%s/e" % ADMIN),
                                        ("", "https://%s/e" % ADMIN),
                                        ("127.0.0.1", None), ("", None)]):
        path = "/e%d" % (10 + i)
        st, refused = exchange(ST["fb"], None, req(host, path, target=target and target + path))
        f.check(not refused and len(st) == 1 and st[0] in (421, 400, 404, 200),
                "fallback, no SNI, Host %r target %r: %r refused=%s" % (host, target, st,
                                                                        refused))
        f.check(not admin_paths(), "fallback, no SNI, Host %r target %r: ADMIN reached %r" % (
            host, target, admin_paths()))
        if host not in ("", "127.0.0.1") or target:
            f.check(st == [421] or st == [400], "fallback, no SNI, Host %r target %r: %r, "
                    "want 421" % (host, target, st))
    A.check_log_lines(f, srv)
    f.done()


def test_sni_case_and_trailing_dot():
    """The policy chosen by SNI and the route chosen by Host must agree on what a name is:
    ADMIN.MTLS.TEST or admin.mtls.test. as SNI must not reach the admin route without a
    certificate. (A refusal in TLS 1.3 shows as a closed connection without an answer.)"""
    L.start_server(ST["cfg"])
    f = L.Failures()
    for port in (ST["two"], ST["fb"]):
        for i, sni in enumerate([ADMIN.upper(), "Admin.Mtls.Test", ADMIN + "."]):
            for j, host in enumerate([sni, ADMIN]):
                path = "/c%d-%d-%d" % (port, i, j)
                st, refused = exchange(port, sni, req(host, path))
                f.check(refused or st == [] or (len(st) == 1 and st[0] in (400, 404, 421)) or
                        (st == [200] and ST["public"].by_path(path)),
                        "port %d SNI %s Host %s without certificate: %r" % (port, sni, host,
                                                                            st))
                f.check(not admin_paths(), "port %d SNI %s Host %s: ADMIN reached %r" % (
                    port, sni, host, admin_paths()))
                ST["admin"].clear()
    f.done()


def test_wildcard_policy_before_exact():
    """*.mtls.test (no client auth) is listed before admin.mtls.test (require_and_verify):
    SNI admin.mtls.test must still take the exact policy; another name under the wildcard
    with Host admin gets 421."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    for i, sni in enumerate([ADMIN, ADMIN.upper()]):
        st, refused = exchange(ST["wild"], sni, req(sni, "/w1-%d" % i))
        f.check(refused or st == [], "SNI %s on the wildcard listener without a certificate: "
                "%r (the wildcard policy without client auth was chosen)" % (sni, st))
    st, refused = exchange(ST["wild"], ADMIN, req(ADMIN, "/w2"), cert=True)
    f.check(st == [200], "SNI admin with a certificate: %r" % st)
    st, refused = exchange(ST["wild"], "x.mtls.test", req(ADMIN, "/w3"))
    f.check(st == [421], "SNI x.mtls.test (wildcard), Host admin: %r" % st)
    st, refused = exchange(ST["wild"], "x.mtls.test", req("x.mtls.test", "/w4"))
    f.check(st == [200], "SNI x.mtls.test, Host x.mtls.test: %r" % st)
    f.check(admin_paths() == ["/w2"], "ADMIN upstream saw %r (want only /w2, the request "
            "with a certificate)" % admin_paths())
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
