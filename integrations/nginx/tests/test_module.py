#!/usr/bin/env python3
"""test_module.py - ngx_http_mtls_module in Debian's nginx, with real curl and openssl clients
over 127.0.0.1 (arguments: see nginxlib.py).

One nginx serves a port per client_auth mode (request, require, verify_if_given and
require_and_verify with one connection policy per trust file of the test PKI, chosen by SNI
t<N>.mtls.test, plus a catch-all policy trusting root-ca), the policies given as a
`tls_connection_policies` array, a bare `client_authentication` object and a whole Caddy
config. Each server answers with its variables, so the tests assert the verdicts of
examples/mtls-proxy/tests/integration/modes_and_certs.py, the identity values (subject,
fingerprint, serial, issuer; all of them against tests/identity-tool's mtls-identity when
given), nginx's SNI server switching, 421 on a Host of another server, no resumption across
servers, reload with a changed (and a broken) policy, nginx -t errors, and that the module runs
on OpenSSL.
"""
import json
import re
import socket
import ssl
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
import nginxlib as L  # noqa: E402

ST = {}

EXPECT_SUBJECT = {
    "basic": "CN=basic client",
    "untrusted-ca": "CN=client of the untrusted CA",
    "expired": "CN=expired client",
    "eku-server": "CN=serverAuth only client",
    "self-signed": "CN=self-signed client",
    "via-int-sent": "CN=client via intermediate",
    "tutorial-v1": "CN=alice",
    "san": "CN=alice,O=Example Org",
}

# What the servers answer: NAME=VALUE lines (values never hold a raw LF: control bytes are
# written as \xHH).
FIELDS = ["verify", "client_subject", "client_issuer", "client_serial", "client_fingerprint",
          "client_san_dns_names", "client_san_dns_names_0", "client_san_dns_names_1",
          "client_san_uris_0", "client_verified", "server_name", "version", "tls_library"]

# Every placeholder libmtls renders (mtls_placeholder_name), for the /all location.
ALL_PLACEHOLDERS = [
    "http.request.tls.version", "http.request.tls.cipher_suite", "http.request.tls.resumed",
    "http.request.tls.proto", "http.request.tls.proto_mutual", "http.request.tls.server_name",
    "http.request.tls.client.fingerprint", "http.request.tls.client.public_key",
    "http.request.tls.client.public_key_sha256", "http.request.tls.client.issuer",
    "http.request.tls.client.subject", "http.request.tls.client.serial",
    "http.request.tls.client.certificate_pem", "http.request.tls.client.certificate_der_base64",
    "http.request.tls.client.spiffe_id", "http.request.tls.client.spki_sha256",
    "http.request.tls.client.not_before", "http.request.tls.client.not_after",
    "http.request.tls.client.xfcc", "http.request.tls.client.san.dns_names",
    "http.request.tls.client.san.emails", "http.request.tls.client.san.ips",
    "http.request.tls.client.san.uris", "http.request.tls.client.verified",
    "http.request.tls.client.san.dns_names.0", "http.request.tls.client.san.dns_names.1",
    "http.request.tls.client.san.emails.0", "http.request.tls.client.san.ips.0",
    "http.request.tls.client.san.uris.0",
]


def answer(names):
    return 'return 200 "%s\\n";' % "\\n".join("%s=$mtls_%s" % (n, n) for n in names)


def server_block(port, policy_line, name="localhost", default=False, body=None):
    pki = ST["pki"]
    return """    server {
        listen 127.0.0.1:%(port)d ssl%(default)s;
        server_name %(name)s;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        %(policy)s
        location / { %(body)s }
        location /all { %(all)s }
    }
""" % {"port": port, "default": " default_server" if default else "", "name": name,
       "cert": pki.server_cert, "key": pki.server_key, "policy": policy_line,
       "body": body or answer(FIELDS),
       "all": answer([L.var_name(p)[5:] for p in ALL_PLACEHOLDERS] + ["verify"])}


def setup():
    ST["module"] = L.module_path()
    ST["pki"] = pki = L.PKI.make()
    ST["identity"] = L.mtls_identity_bin()
    trusts = pki.trusts()
    ST["trusts"] = trusts
    ports = {k: L.free_port() for k in ("request", "require", "vig", "rav", "vhost", "vhost2")}
    ST["ports"] = ports
    # the three shapes libmtls loads: a bare client_authentication object, an array, a whole
    # Caddy config
    p_request = L.write_json("request.json", {"mode": "request"})
    p_require = L.write_json("require.json", [L.policy(mode="require")])
    p_vig = L.write_json("vig.json", {"apps": {"http": {"servers": {"srv0": {
        "listen": [":443"],
        "tls_connection_policies": [L.policy(mode="verify_if_given",
                                             trust=pki.path("root-ca.pem"))]}}}}})
    rav = [L.policy(sni="t%d.mtls.test" % j, mode="require_and_verify", trust=pki.path(t))
           for j, t in enumerate(trusts)]
    rav.append(L.policy(mode="require_and_verify", trust=pki.path("root-ca.pem")))
    p_rav = L.write_json("rav.json", rav)
    p_root = L.write_json("root.json", {"mode": "require_and_verify",
                                        "trusted_ca_certs_pem_files": [pki.path("root-ca.pem")]})
    ST["p_root"] = p_root
    http = "".join([
        server_block(ports["request"], "mtls_policy %s;" % p_request),
        server_block(ports["require"], "mtls_policy %s;" % p_require),
        server_block(ports["vig"], "mtls_policy %s srv0;" % p_vig),
        server_block(ports["rav"], "mtls_policy %s;" % p_rav),
        # nginx's own SNI switching: the default server has no policy, sec.mtls.test has one
        server_block(ports["vhost"], "mtls_policy off;", name="pub.mtls.test", default=True,
                     body='return 200 "pub\\n";'),
        server_block(ports["vhost"], "mtls_policy %s;" % p_root, name="sec.mtls.test"),
        # ... and the other way round: the default server has the policy (inherited from
        # the http level), pub2 turns it off
        server_block(ports["vhost2"], "", name="sec2.mtls.test", default=True),
        server_block(ports["vhost2"], "mtls_policy off;", name="pub2.mtls.test",
                     body='return 200 "pub2|$mtls_verify\\n";'),
    ])
    http = "    mtls_policy %s;\n" % p_root + http
    ST["nginx"] = L.Nginx("main", ST["module"], http, list(ports.values()), workers=2)


_n = [0]


def start():
    return ST["nginx"].start()


def get(listener, case=None, sni="localhost", path="/", host=None, extra=()):
    pki = ST["pki"]
    _n[0] += 1
    cert = key = None
    if case:
        cert, key = pki.client(case)
    return L.curl(pki, ST["ports"][listener], path=path, sni=sni, cert=cert, key=key, host=host,
                  extra=extra)


def check_accepted(f, what, r, case, verify):
    pki = ST["pki"]
    if not f.check(r.status == 200, "%s: want 200, got %r" % (what, r)):
        return
    v = r.fields()
    f.check(v.get("verify") == verify, "%s: $mtls_verify %r, want %r" % (what, v.get("verify"),
                                                                         verify))
    f.check(v.get("client_verified") == verify,
            "%s: $mtls_client_verified %r, want %r" % (what, v.get("client_verified"), verify))
    if case is None:
        for k in ("client_subject", "client_issuer", "client_serial", "client_fingerprint"):
            f.check(v.get(k) == "", "%s: no certificate but %s = %r" % (what, k, v.get(k)))
        return
    fp = pki.fingerprint(case)
    f.check(v.get("client_fingerprint") == fp, "%s: fingerprint %r, want %s" % (
        what, v.get("client_fingerprint"), fp))
    f.check(v.get("client_serial") == pki.serial_decimal(case), "%s: serial %r, want %s" % (
        what, v.get("client_serial"), pki.serial_decimal(case)))
    if case in EXPECT_SUBJECT:
        f.check(v.get("client_subject") == EXPECT_SUBJECT[case], "%s: subject %r, want %r" % (
            what, v.get("client_subject"), EXPECT_SUBJECT[case]))
    else:
        f.check(bool(v.get("client_subject")), "%s: empty subject" % what)
    f.check(bool(v.get("client_issuer")), "%s: empty issuer" % what)


def check_refused(f, what, r):
    f.check(r.status == 0 and r.rc != 0,
            "%s: want the handshake refused (no HTTP answer), got %r" % (what, r))


# ---------------------------------------------------------------------------------------------


def test_runs_on_openssl():
    """libmtls inside nginx reaches OpenSSL (not BoringSSL): $mtls_tls_library and the startup
    notice in the error log."""
    srv = start()
    f = L.Failures()
    r = get("request")
    lib = r.fields().get("tls_library", "")
    f.check(r.status == 200 and lib.startswith("OpenSSL"),
            "$mtls_tls_library is %r (%r), want OpenSSL ..." % (lib, r))
    logtext = open(srv.error_log, encoding="utf-8", errors="replace").read()
    m = re.search(r"mtls: libmtls \S+ on (.*?): client authentication policy attached to (\d+)",
                  logtext)
    f.check(m is not None and m.group(1).startswith("OpenSSL"),
            "no startup notice naming OpenSSL in the error log: %s" % logtext[-1500:])
    if m:
        # request, require, vig, rav, sec, sec2 (pub has none, pub2 turns it off)
        f.check(m.group(2) == "6", "policy attached to %s servers, want 6" % m.group(2))
    L.log("    %s" % lib)
    f.done()


def test_request_mode():
    start()
    f = L.Failures()
    check_accepted(f, "request/no cert", get("request"), None, "NONE")
    for case in ("basic", "untrusted-ca", "expired", "self-signed", "eku-server", "rsa2048",
                 "ed25519"):
        check_accepted(f, "request/" + case, get("request", case), case, "UNVERIFIED")
    f.done()


def test_require_mode():
    start()
    f = L.Failures()
    check_refused(f, "require/no cert", get("require"))
    for case in ("basic", "untrusted-ca", "expired", "not-yet-valid", "eku-server", "p521"):
        check_accepted(f, "require/" + case, get("require", case), case, "UNVERIFIED")
    f.done()


def test_verify_if_given_mode():
    start()
    f = L.Failures()
    check_accepted(f, "verify_if_given/no cert", get("vig"), None, "NONE")
    for case in ("basic", "eku-none", "via-int-sent"):
        check_accepted(f, "verify_if_given/" + case, get("vig", case), case, "SUCCESS")
    for case in ("untrusted-ca", "expired", "not-yet-valid", "eku-server", "self-signed",
                 "via-int-not-sent"):
        check_refused(f, "verify_if_given/" + case, get("vig", case))
    f.done()


def test_require_and_verify_every_case():
    """Every manifest case under require_and_verify with its own trust file (policy chosen by
    libmtls from the SNI, nginx staying on its one server): accepted or refused as the
    manifest (and Caddy 2.6.2) says."""
    start()
    pki = ST["pki"]
    f = L.Failures()
    nacc = nrej = 0
    for row in pki.rows:
        sni = "t%d.mtls.test" % ST["trusts"].index(row["trust"])
        r = get("rav", row["name"], sni=sni)
        what = "require_and_verify/%s (trust %s)" % (row["name"], row["trust"])
        if row["expect"] == "accept":
            nacc += 1
            check_accepted(f, what, r, row["name"], "SUCCESS")
            if r.status == 200:
                f.check(r.fields().get("server_name") == sni,
                        "%s: $mtls_server_name %r" % (what, r.fields().get("server_name")))
        else:
            nrej += 1
            check_refused(f, what + " [" + row["reason"] + "]", r)
    check_refused(f, "require_and_verify/no cert", get("rav", None, sni="t0.mtls.test"))
    # SNI localhost: nginx switches to the server by name; the catch-all policy (root-ca)
    check_accepted(f, "require_and_verify/basic via the catch-all policy", get("rav", "basic"),
                   "basic", "SUCCESS")
    check_refused(f, "require_and_verify/tutorial-v1 under root-ca only",
                  get("rav", "tutorial-v1"))
    L.log("    %d accepted and %d refused as the manifest says" % (nacc, nrej))
    assert nacc > 10 and nrej > 10
    f.done()


def test_identity_matches_libmtls():
    """Every variable equals libmtls's own rendering (mtls-identity, same policy), byte for
    byte, control bytes written as \\xHH; SAN list and indexed forms."""
    start()
    pki = ST["pki"]
    f = L.Failures()
    ident = ST["identity"]
    cases = ["basic", "san", "uri-odd", "dn-special", "dn-spaces", "dn-dup-cn", "dn-ctl-lf",
             "dn-ctl-tab", "serial-big", "rsa2048", "ed25519", "tutorial-v1", "via-int-sent"]
    r = get("rav", "san", path="/all")
    v = r.fields()
    f.check(v.get("client_san_dns_names_0") not in (None, ""),
            "san: $mtls_client_san_dns_names_0 empty: %r" % r)
    f.check(v.get("client_san_dns_names_7", "") == "", "san: index 7 should be empty")
    if ident is None:
        L.log("    (no mtls-identity: checked the SAN forms only)")
        f.done()
        return
    for case in cases:
        row = pki.by_name[case]
        sni = "t%d.mtls.test" % ST["trusts"].index(row["trust"])
        r = get("rav", case, sni=sni, path="/all")
        if not f.check(r.status == 200, "%s: %r" % (case, r)):
            continue
        got = r.fields()
        pol = L.write_json("ident-%s.json" % case, {
            "mode": "require_and_verify", "trusted_ca_certs_pem_files": [pki.path(row["trust"])]})
        names = L.tmpfile("placeholders.txt")
        with open(names, "w") as fh:
            fh.write("\n".join(p for p in ALL_PLACEHOLDERS if ".client." in p) + "\n")
        p = subprocess.run([ident, "--policy", pol, "--placeholders", names, "--name", case,
                            pki.path(row["chain"])], capture_output=True, timeout=30)
        if not f.check(p.returncode == 0, "mtls-identity %s: %s" % (case, p.stderr[-300:])):
            continue
        n = 0
        for line in p.stdout.decode("utf-8", "surrogateescape").split("\n"):
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            want = L.escape_ctl(L.unescape_identity(parts[2]))
            var = L.var_name(parts[1])[5:]
            n += 1
            f.check(got.get(var) == want, "%s: $mtls_%s = %r, libmtls renders %r" % (
                case, var, got.get(var), want))
        f.check(n >= 20, "%s: only %d values from mtls-identity" % (case, n))
    # the escaping itself: the subject with a LF
    r = get("rav", "dn-ctl-lf", sni="t%d.mtls.test" % ST["trusts"].index("root-ca.pem"))
    f.check("\\x0a" in r.fields().get("client_subject", ""),
            "dn-ctl-lf: LF not written as \\x0a: %r" % r.fields().get("client_subject"))
    f.done()


def test_sni_server_switch():
    """nginx's SNI callback switches servers and resets the verify mode: the module makes
    libmtls redo its ClientHello work there, and 421 a Host of another server."""
    start()
    f = L.Failures()
    # default server without policy, sec.mtls.test with require_and_verify (root-ca)
    r = get("vhost", None, sni="pub.mtls.test")
    f.check(r.status == 200 and r.body.strip() == b"pub", "pub without cert: %r" % r)
    check_refused(f, "sec without cert", get("vhost", None, sni="sec.mtls.test"))
    check_refused(f, "sec with untrusted-ca", get("vhost", "untrusted-ca", sni="sec.mtls.test"))
    check_accepted(f, "sec with basic", get("vhost", "basic", sni="sec.mtls.test"), "basic",
                   "SUCCESS")
    # Host of the policy's server over a handshake made for the other one
    r = get("vhost", None, sni="pub.mtls.test", host="sec.mtls.test")
    f.check(r.status == 421, "SNI pub, Host sec: want 421, got %r" % r)
    r = get("vhost", "basic", sni="pub.mtls.test", host="sec.mtls.test")
    f.check(r.status == 421, "SNI pub + cert, Host sec: want 421, got %r" % r)
    # no SNI at all: the default server (no policy); Host sec -> 421
    r = L.curl(ST["pki"], ST["ports"]["vhost"], sni="127.0.0.1", host="sec.mtls.test",
               extra=["-k"])
    f.check(r.status == 421, "no SNI, Host sec: want 421, got %r" % r)
    # default server with the (inherited) policy, pub2 turns it off
    check_refused(f, "sec2 without cert", get("vhost2", None, sni="sec2.mtls.test"))
    check_accepted(f, "sec2 with basic", get("vhost2", "basic", sni="sec2.mtls.test"), "basic",
                   "SUCCESS")
    r = get("vhost2", None, sni="pub2.mtls.test")
    f.check(r.status == 200 and r.body.strip() == b"pub2|",
            "pub2 without cert (policy off): %r" % r)
    f.done()


def _session_from(port, sni, maxver):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ST["pki"].server_ca)
    ctx.maximum_version = maxver
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _https(ctx, port, sni, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=sni, session=session)
    try:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni).encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        return data, s.session, s.session_reused
    finally:
        s.close()


def test_no_resumption_across_servers():
    """A session of the policy-free default server, offered with the SNI of the server with a
    policy, must not skip that policy. OpenSSL decides on resumption before nginx switches
    servers: either the handshake is refused (the module's check after the switch), or nginx
    stays on the session's server (TLS 1.2 keeps the SNI of the session) and the module answers
    the request for the other server with 421. Never the protected server's answer."""
    start()
    f = L.Failures()
    port = ST["ports"]["vhost"]
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = _session_from(port, "pub.mtls.test", ver)
        data, sess, _ = _https(ctx, port, "pub.mtls.test")
        f.check(b" 200 " in data.split(b"\r\n")[0], "%s: pub: %r" % (ver, data[:100]))
        data2, _, reused = _https(ctx, port, "pub.mtls.test", session=sess)
        f.check(reused, "%s: the pub session did not resume on pub (test setup)" % ver)
        try:
            data3, _, reused3 = _https(ctx, port, "sec.mtls.test", session=sess)
            status = data3.split(b"\r\n")[0]
            f.check(b" 421 " in status, "%s: a pub session offered with SNI sec: reused=%s %r" % (
                ver, reused3, data3[:200]))
            L.log("    %s: resumed=%s, %s" % (ver.name, reused3, status.decode()))
        except (ssl.SSLError, OSError) as e:
            L.log("    %s: handshake refused (%s)" % (ver.name, str(e)[:80]))
    f.done()


def test_what_a_refused_client_sees():
    """openssl s_client: the TLS alert a refused client gets (TLS 1.2 and 1.3)."""
    start()
    pki = ST["pki"]
    f = L.Failures()
    port = ST["ports"]["rav"]
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    for ver in ("-tls1_2", "-tls1_3"):
        for case in (None, "untrusted-ca", "expired", "eku-server"):
            cert = key = None
            if case:
                cert, key = pki.client(case)
            rc, out, err = L.s_client(pki, port, cert=cert, key=key, extra=[ver], send=req)
            m = re.search(r"(ssl|tls)v?\d*\s*alert\s+[a-z ]+", err, re.I)
            f.check(not re.search(r"HTTP/1\.1 \d{3} ", out),
                    "%s %s: got an HTTP answer" % (ver, case))
            f.check(m is not None or "errno=104" in err,
                    "%s %s: no TLS alert reported: %s" % (ver, case, err[-300:]))
            L.log("    %s %-13s -> %s" % (ver, case or "no cert",
                                          m.group(0).strip() if m else err.strip()[-80:]))
        rc, out, err = L.s_client(pki, port, cert=pki.client("basic")[0],
                                  key=pki.client("basic")[1], extra=[ver], send=req)
        f.check(re.search(r"HTTP/1\.1 200 ", out) is not None, "%s basic: %s" % (ver, err[-300:]))
        f.check("Test Root CA" in out.split("Acceptable client certificate CA names")[-1][:600]
                if "Acceptable client certificate CA names" in out else False,
                "%s: CertificateRequest does not name the trusted CA" % ver)
    f.done()


def test_reload_changes_verdicts():
    """SIGHUP with a changed policy file: the new SSL_CTX gets the new policy; a broken policy
    keeps the old configuration running and logs why."""
    pki = ST["pki"]
    port = L.free_port()
    pol = L.tmpfile("reload.json")

    def put(obj):
        with open(pol, "w") as fh:
            json.dump(obj, fh)
    put({"mode": "require_and_verify", "trusted_ca_certs_pem_files": [pki.path("root-ca.pem")]})
    ST["ports"]["reload"] = port
    srv = L.Nginx("reload", ST["module"], server_block(port, "mtls_policy %s;" % pol), [port])
    srv.start()
    f = L.Failures()
    check_accepted(f, "before: basic", get("reload", "basic"), "basic", "SUCCESS")
    check_refused(f, "before: untrusted-ca", get("reload", "untrusted-ca"))
    put({"mode": "require_and_verify", "trusted_ca_certs_pem_files": [pki.path("other-ca.pem")]})
    f.check(srv.reload(), "reload with a good policy failed: %s" % srv.log_tail())
    check_refused(f, "after: basic", get("reload", "basic"))
    check_accepted(f, "after: untrusted-ca", get("reload", "untrusted-ca"), "untrusted-ca",
                   "SUCCESS")
    put({"mode": "verify_if_given"})          # verifying mode without a CA: refused at load
    f.check(not srv.reload(), "reload with a broken policy was accepted")
    f.check(srv.alive(), "nginx died on a broken policy")
    logtext = srv.log_tail(6000)
    f.check(('mtls_policy "%s"' % pol) in logtext, "no error naming the policy: %s" % logtext)
    check_accepted(f, "after broken reload: untrusted-ca still", get("reload", "untrusted-ca"),
                   "untrusted-ca", "SUCCESS")
    put({"mode": "request"})
    f.check(srv.reload(), "reload to request failed")
    check_accepted(f, "request: no cert", get("reload"), None, "NONE")
    f.done()


def test_nginx_t_refuses_broken_policy():
    """nginx -t fails, naming the file and libmtls's message."""
    pki = ST["pki"]
    f = L.Failures()
    port = L.free_port()
    missing_ca = L.tmpfile("no-such-ca.pem")
    cases = [
        ("syntax.json", '{"mode": "request",}', r"line 1"),
        ("mode.json", '{"mode": "sometimes"}', r"client auth mode not recognized: sometimes"),
        ("unknown.json", '{"mode": "request", "colour": "red"}', r"colour"),
        ("noca.json", json.dumps({"mode": "require_and_verify",
                                  "trusted_ca_certs_pem_files": [missing_ca]}),
         re.escape(missing_ca)),
        ("empty-verify.json", '{"mode": "verify_if_given"}', r"."),
        (None, None, r"FILE_OPEN|No such file"),
    ]
    for name, text, want in cases:
        path = L.tmpfile(name or "does-not-exist.json")
        if text is not None:
            with open(path, "w") as fh:
                fh.write(text)
        srv = L.Nginx("t-" + (name or "missing"), ST["module"],
                      server_block(port, "mtls_policy %s;" % path), [port])
        rc, err = srv.test_config()
        line = [ln for ln in err.splitlines() if "mtls_policy" in ln]
        f.check(rc != 0, "%s: nginx -t passed: %s" % (name, err))
        f.check(bool(line) and ('mtls_policy "%s"' % path) in line[0]
                and re.search(want, line[0]) is not None and "[emerg]" in line[0],
                "%s: want an emerg line naming %s and /%s/: %s" % (name, path, want, err))
        if line:
            L.log("    " + line[0][line[0].find("[emerg]"):][:200])
    # with ssl_verify_client: refused
    srv = L.Nginx("t-conflict", ST["module"],
                  server_block(port, "mtls_policy %s; ssl_verify_client on; "
                               "ssl_client_certificate %s;" % (ST["p_root"],
                                                               pki.path("root-ca.pem"))), [port])
    rc, err = srv.test_config()
    f.check(rc != 0 and "cannot be combined with ssl_verify_client" in err,
            "mtls_policy + ssl_verify_client: %s" % err)
    # and a good one passes
    srv = L.Nginx("t-good", ST["module"], server_block(port, "mtls_policy %s;" % ST["p_root"]),
                  [port])
    rc, err = srv.test_config()
    f.check(rc == 0, "good policy: nginx -t failed: %s" % err)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
