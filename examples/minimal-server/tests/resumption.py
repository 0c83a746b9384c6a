#!/usr/bin/env python3
"""resumption.py MINIMAL_SERVER PKIDIR - a resumed TLS session is judged again: it cannot
outlive the client certificate's validity, nor carry an identity to a server that did not
issue it.

The minimal server cannot reload its policy (the mtls-proxy test resumption_after_reload.py
covers a reload that removes the CA). What is meaningful here:
  - the validity clock moves: a client certificate valid for ~12 s more; for each of TLS 1.2
    with a session ID (-no_ticket), TLS 1.2 with a ticket and TLS 1.3 with a ticket,
    openssl s_client saves a session; control: it resumes WITHOUT a certificate as the
    original identity ("Reused", 200, "CN=short lived") - proof that the attack would work if
    nothing stopped it; once the certificate has expired, the same session (without and with
    the certificate) is refused, nothing is answered, and the server logs "expired"
    (libmtls's glue re-judges a resumed session at the current time);
  - python's ssl (SSLSocket.session), TLS 1.2 and 1.3, the same way;
  - sharing nothing: a session from one minimal-server offered to a second process, which
    trusts another CA, or the same CA with the same policy file: never resumed (separate
    ticket keys and session caches), so the second server judges a full handshake: refused
    without a certificate or with the untrusted one.
Every server exits 0 on SIGTERM."""
import datetime
import os
import re
import socket
import ssl
import subprocess
import time

import mslib as M

A, L = M.A, M.L
ST = {}
LIFETIME = 12          # seconds of validity left when the certificate is made
VARIANTS = [("tls12-session-id", ["-tls1_2", "-no_ticket"]),
            ("tls12-ticket", ["-tls1_2"]),
            ("tls13-ticket", ["-tls1_3"])]


def setup():
    pki = L.PKI()
    ST.update(pki=pki, ca=A.TestCA(pki), key=A.Key(name="resume"),
              root=M.policy_file("root", trust=[pki.path("root-ca.pem")]),
              other=M.policy_file("other", trust=[pki.path("other-ca.pem")]))


def short_lived_chain(name):
    """(chain path, notAfter datetime): valid from a minute ago until LIFETIME s from now."""
    now = M.utcnow()
    not_after = now + datetime.timedelta(seconds=LIFETIME)
    der = M.cert_with_validity(A.name((A.OID_CN, "short lived", "utf8")), ST["ca"].subject,
                               ST["ca"].key, ST["key"], now - datetime.timedelta(seconds=60),
                               not_after)
    return A.write_chain(name, [der]), not_after


def sclient(port, flags, chain=None, key=None, sess_in=None, sess_out=None):
    """One s_client connection sending GET / . Returns (reused, [statuses], [subjects], err)."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername",
            "localhost", "-CAfile", ST["pki"].server_ca, "-ign_eof"] + list(flags)
    if chain:
        args += ["-cert", chain, "-key", key]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    cmd = "(sleep 0.4; printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n') | %s" % \
        " ".join(args)
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=15)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
    return (re.search(r"^Reused, ", out, re.M) is not None,
            re.findall(r"HTTP/1\.1 (\d{3}) ", out),
            re.findall(r"http\.request\.tls\.client\.subject: (.*)", out), err[-300:])


def wait_past(t, extra=1.5):
    left = (t - M.utcnow()).total_seconds() + extra
    if left > 0:
        time.sleep(left)


def test_openssl_session_refused_once_certificate_expired():
    srv = M.Server(ST["root"])
    f = L.Failures()
    chain, not_after = short_lived_chain("short-openssl")
    key = ST["key"].path
    sess = {}
    for name, flags in VARIANTS:
        sess[name] = L.tmpfile(name + ".sess")
        reused, st, subj, err = sclient(srv.port, flags, chain, key, sess_out=sess[name])
        f.check(st == ["200"] and os.path.getsize(sess[name]) > 0,
                "%s: first connection %r\n%s" % (name, st, err))
        reused, st, subj, err = sclient(srv.port, flags, sess_in=sess[name])
        f.check(reused and st == ["200"] and subj == ["CN=short lived"],
                "%s: control resumption without a certificate: reused=%s %r %r (the test "
                "cannot show the attack fails if resumption never works)\n%s" % (
                    name, reused, st, subj, err))
    left = (not_after - M.utcnow()).total_seconds()
    f.check(left > 0, "the controls ran past notAfter (%.1fs): machine too slow for "
            "LIFETIME=%d" % (left, LIFETIME))
    f.done()
    n_before = len(srv.verdicts())
    wait_past(not_after)
    f = L.Failures()
    for name, flags in VARIANTS:
        for cert in (False, True):
            reused, st, subj, err = sclient(srv.port, flags, chain if cert else None,
                                            key if cert else None, sess_in=sess[name])
            f.check(not reused and not st,
                    "%s: after the certificate expired (certificate sent: %s): reused=%s "
                    "statuses %r subjects %r" % (name, cert, reused, st, subj))
    time.sleep(0.2)
    after = srv.verdicts()[n_before:]
    f.check(len(after) == 6 and not any(a for a, _ in after) and
            all(b"expired" in m for _, m in after),
            "verdicts after expiry: %r" % after)
    f.check(len(srv.blocks()) == 6, "identity blocks printed: %d (want the 6 before expiry)" %
            len(srv.blocks()))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def py_get(port, ctx, session=None):
    """(status or 0, session_reused, session, subject)."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    except (ssl.SSLError, OSError):
        return 0, False, None, None
    try:
        s.settimeout(5)
        s.sendall(L.request_bytes(path="/"))
        r = L.read_response(L.SockReader(s))
        return (r.status, s.session_reused, s.session,
                M.body_fields(r.body).get(M.SHOWN[1]))
    except (ssl.SSLError, OSError, L.Closed):
        return 0, s.session_reused, None, None
    finally:
        s.close()


def test_python_session_refused_once_certificate_expired():
    srv = M.Server(ST["root"])
    f = L.Failures()
    chain, not_after = short_lived_chain("short-python")
    sessions = {}
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = M.ctx_for(chain, ST["key"].path, minver=ver, maxver=ver)
        st, reused, sess, subj = py_get(srv.port, ctx)
        f.check(st == 200 and sess is not None, "%s: first request %d" % (ver.name, st))
        st, reused, _, subj = py_get(srv.port, ctx, sess)
        f.check(st == 200 and reused and subj == b"CN=short lived",
                "%s: control resumption: %d reused=%s %r" % (ver.name, st, reused, subj))
        sessions[ver] = (ctx, sess)
    f.done()
    wait_past(not_after)
    for ver, (ctx, sess) in sessions.items():
        st, reused, _, subj = py_get(srv.port, ctx, sess)
        f.check(st == 0 and not reused, "%s: after expiry: %d reused=%s %r" % (
            ver.name, st, reused, subj))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_session_from_another_process_never_resumes():
    """Two minimal-servers share nothing: a session of server A is not resumed by server B
    (which trusts only other-ca, or exactly the same policy file)."""
    c, k = ST["pki"].client("basic")
    f = L.Failures()
    a = M.Server(ST["root"], name="server-a")
    sess = {}
    for name, flags in VARIANTS:
        sess[name] = L.tmpfile(name + ".a.sess")
        reused, st, subj, err = sclient(a.port, flags, c, k, sess_out=sess[name])
        f.check(st == ["200"], "%s: server A first connection %r %s" % (name, st, err))
        reused, st, subj, err = sclient(a.port, flags, sess_in=sess[name])
        f.check(reused and st == ["200"] and subj == ["CN=basic client"],
                "%s: control resumption on A: reused=%s %r %r" % (name, reused, st, subj))
    a.check_output(f)
    a.stop_clean(f)
    for policy, label in ((ST["other"], "other-ca"), (ST["root"], "same policy")):
        b = M.Server(policy, name="server-b")
        for name, flags in VARIANTS:
            reused, st, subj, err = sclient(b.port, flags, sess_in=sess[name])
            f.check(not reused and not st, "%s: A's session on B (%s), no certificate: "
                    "reused=%s %r %r" % (name, label, reused, st, subj))
            reused, st, subj, err = sclient(b.port, flags, c, k, sess_in=sess[name])
            want = [] if label == "other-ca" else ["200"]
            f.check(not reused and st == want, "%s: A's session on B (%s) with the basic "
                    "certificate: reused=%s statuses %r (want %r, a full handshake)" % (
                        name, label, reused, st, want))
        time.sleep(0.2)
        f.check(all(b"\"CN=basic client\"" in m or b"didn't provide" in m
                    for _, m in b.verdicts()), "B (%s) verdicts: %r" % (label, b.verdicts()))
        b.check_output(f)
        b.stop_clean(f)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
