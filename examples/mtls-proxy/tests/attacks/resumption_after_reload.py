#!/usr/bin/env python3
"""resumption_after_reload.py MTLS_PROXY PKIDIR - a TLS session obtained while the client's CA
was trusted must not be resumed after a reload removed that CA (DESIGN.md section 6:
"Resumption is bound to the policy"; CVE-2025-68121 in Go, CVE-2025-23419 in nginx).

For each of TLS 1.2 with a session ID (-no_ticket), TLS 1.2 with a ticket and TLS 1.3 with a
ticket: openssl s_client with the trusted client certificate saves its session (-sess_out);
control: the session resumes WITHOUT a certificate ("Reused", request served as the original
identity, access log resumed=true) - proof that the attack would work if nothing stopped it;
then SIGHUP with a config that trusts only another CA; the saved session offered again without
a certificate, and with the (now untrusted) certificate, must not get a request through: the
upstream sees nothing, the access log has no line for it. Also with python's ssl
(SSLSocket.session) and across a reload that changes nothing (the session-ID context includes
the policy generation, docs/mtls-proxy.md)."""
import os
import re
import ssl
import subprocess
import threading
import time

import attacklib as A

L = A.L
ST = {}
SETTLE = 0.6    # seconds after "configuration reloaded" (worker tick: 250 ms)
VARIANTS = [("tls12-session-id", ["-tls1_2", "-no_ticket"]),
            ("tls12-ticket", ["-tls1_2"]),
            ("tls13-ticket", ["-tls1_3"])]


def cfg_trusting(ca):
    pki = ST["pki"]
    rp = L.reverse_proxy(ST["up"], set={
        "X-Client-Subject": "{http.request.tls.client.subject}",
        "X-Client-Verified": "{http.request.tls.client.verified}",
        "X-Resumed": "{http.request.tls.resumed}"})
    return L.config({"s": L.server(ST["port"], [L.route(rp)],
                                   [L.policy(mode="require_and_verify",
                                             trust=pki.path(ca))])}, pki)


def setup():
    ST["pki"] = L.PKI()
    ST["up"] = L.Upstream()
    ST["port"] = L.free_port()


def sclient(path, flags, sess_in=None, sess_out=None, cert=True):
    """One s_client connection sending GET path (Connection: close). Returns
    (reused, status or 0, stdout, stderr)."""
    pki = ST["pki"]
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % ST["port"], "-servername",
            "localhost", "-CAfile", pki.server_ca, "-ign_eof"] + list(flags)
    if cert:
        c, k = pki.client("basic")
        args += ["-cert", c, "-key", k]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    req = "GET %s HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n" % path
    cmd = "(sleep 0.4; printf '%s') | %s" % (req, " ".join(args))
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=15)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
    m = re.search(r"HTTP/1\.1 (\d{3}) ", out)
    reused = re.search(r"^Reused, ", out, re.M) is not None
    return reused, int(m.group(1)) if m else 0, out, err


def access(srv, path):
    objs = [j for j in srv.proc.json_lines() if j.get("logger") == "http.log.access"]
    return [j for j in objs if j.get("request", {}).get("uri") == path]


def test_openssl_sessions_refused_after_ca_removed():
    srv = L.start_server(cfg_trusting("root-ca.pem"))
    f = L.Failures()
    sess = {}
    for name, flags in VARIANTS:
        sess[name] = L.tmpfile(name + ".sess")
        reused, st, out, err = sclient("/first-" + name, flags, sess_out=sess[name])
        f.check(st == 200 and os.path.exists(sess[name]) and os.path.getsize(sess[name]) > 0,
                "%s: first connection %d, session saved: %s\n%s" % (
                    name, st, os.path.exists(sess[name]), err[-300:]))
        # control: the saved session resumes without a certificate, as the original client
        reused, st, out, err = sclient("/control-" + name, flags, sess_in=sess[name],
                                       cert=False)
        f.check(reused and st == 200, "%s: control resumption without a certificate: reused=%s"
                " status %d (the test cannot show the attack fails if resumption never "
                "works)\n%s" % (name, reused, st, err[-300:]))
        u = ST["up"].by_path("/control-" + name)
        if f.check(len(u) == 1, "%s: control request at the upstream: %d" % (name, len(u))):
            f.check(u[0].get("x-client-subject") == b"CN=basic client" and
                    u[0].get("x-resumed") == b"true",
                    "%s: control identity %r resumed %r" % (name, u[0].get("x-client-subject"),
                                                           u[0].get("x-resumed")))
    f.done()
    # the operator removes the client's CA
    srv.reload(cfg_trusting("other-ca.pem"))
    assert A.wait_reloaded(srv, 1), "no 'configuration reloaded' after SIGHUP:\n%s" % \
        srv.proc.stderr_text()[-1000:]
    time.sleep(SETTLE)  # past the workers' switch-over (see test_no_old_policy_after_reload)
    f = L.Failures()
    for name, flags in VARIANTS:
        for cert in (False, True):
            path = "/after-%s-%s" % (name, "cert" if cert else "nocert")
            reused, st, out, err = sclient(path, flags, sess_in=sess[name], cert=cert)
            f.check(not reused, "%s: session resumed after its CA was removed (cert sent: %s)"
                    % (name, cert))
            f.check(st == 0, "%s: request answered %d after the CA was removed (cert sent: %s)"
                    % (name, st, cert))
            f.check(not ST["up"].by_path(path), "%s: %s reached the upstream" % (name, path))
            f.check(not access(srv, path), "%s: access line for %s: %r" % (name, path,
                                                                         access(srv, path)))
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_openssl_sessions_not_resumed_across_unchanged_reload():
    """A reload that changes nothing still ends resumption: the saved session is not
    resumed, and without a certificate nothing is served."""
    cfg = cfg_trusting("root-ca.pem")
    srv = L.start_server(cfg)
    f = L.Failures()
    sess = {}
    for name, flags in VARIANTS:
        sess[name] = L.tmpfile(name + ".u.sess")
        reused, st, out, err = sclient("/u-first-" + name, flags, sess_out=sess[name])
        f.check(st == 200, "%s: first connection %d" % (name, st))
    srv.reload(cfg)
    assert A.wait_reloaded(srv, 1), "no reload"
    time.sleep(SETTLE)
    for name, flags in VARIANTS:
        path = "/u-after-" + name
        reused, st, out, err = sclient(path, flags, sess_in=sess[name], cert=False)
        f.check(not reused and st == 0 and not ST["up"].by_path(path),
                "%s: after an unchanged reload: reused=%s status %d upstream %d" % (
                    name, reused, st, len(ST["up"].by_path(path))))
    f.done()


def py_get(ctx, path, session=None):
    """(status or 0, session_reused, session)."""
    try:
        raw = L.socket.create_connection(("127.0.0.1", ST["port"]), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    except (ssl.SSLError, OSError):
        return 0, False, None
    try:
        s.settimeout(5)
        s.sendall(L.request_bytes(path=path))
        r = L.read_response(L.SockReader(s))
        return r.status, s.session_reused, s.session
    except (ssl.SSLError, OSError, L.Closed):
        return 0, s.session_reused, None
    finally:
        s.close()


def test_python_session_refused_after_ca_removed():
    srv = L.start_server(cfg_trusting("root-ca.pem"))
    f = L.Failures()
    c, k = ST["pki"].client("basic")
    sessions = {}
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = L.client_context(c, k, minver=ver, maxver=ver)
        st, reused, sess = py_get(ctx, "/py-first-%s" % ver.name)
        f.check(st == 200 and sess is not None, "%s: first request %d" % (ver.name, st))
        st, reused, sess2 = py_get(ctx, "/py-control-%s" % ver.name, sess)
        f.check(st == 200 and reused, "%s: control resumption: %d reused=%s" % (ver.name, st,
                                                                               reused))
        sessions[ver] = (ctx, sess)
    f.done()
    srv.reload(cfg_trusting("other-ca.pem"))
    assert A.wait_reloaded(srv, 1), "no reload"
    time.sleep(SETTLE)
    for ver, (ctx, sess) in sessions.items():
        path = "/py-after-%s" % ver.name
        st, reused, _ = py_get(ctx, path, sess)
        f.check(st == 0 and not reused, "%s: after the CA was removed: %d reused=%s" % (
            ver.name, st, reused))
        f.check(not ST["up"].by_path(path), "%s: reached the upstream" % ver.name)
    f.done()


def burst(n, path, session=None, ctx=None):
    """n connections at once (full handshakes with the basic certificate, or resuming
    `session` with `ctx`); returns the statuses."""
    c, k = ST["pki"].client("basic")
    out = [None] * n

    def one(i):
        cx = ctx or L.client_context(c, k)
        out[i] = py_get(cx, "%s-%d" % (path, i), session)[0]
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    return out


def test_no_old_policy_after_reload():
    """Once "configuration reloaded" is logged, no new connection is judged by the old
    policy: neither a full handshake with the removed CA's certificate nor a resumption of
    an old session, even in the first milliseconds (each worker must switch before it
    accepts, not on its next 250 ms tick)."""
    srv = L.start_server(cfg_trusting("root-ca.pem"))
    f = L.Failures()
    c, k = ST["pki"].client("basic")
    ctx12 = L.client_context(c, k, minver=ssl.TLSVersion.TLSv1_2,
                             maxver=ssl.TLSVersion.TLSv1_2)
    ctx12.options |= ssl.OP_NO_TICKET
    for rnd in range(3):
        srv.reload(cfg_trusting("root-ca.pem"))
        assert A.wait_reloaded(srv, 2 * rnd + 1), "no reload"
        time.sleep(SETTLE)
        st, _, sess = py_get(ctx12, "/r%d-first" % rnd)
        f.check(st == 200 and sess is not None, "round %d: first request %d" % (rnd, st))
        time.sleep(SETTLE)                      # workers idle in epoll_wait
        srv.reload(cfg_trusting("other-ca.pem"))
        assert A.wait_reloaded(srv, 2 * rnd + 2), "no reload"
        got = burst(6, "/r%d-full" % rnd) + burst(4, "/r%d-resume" % rnd, sess, ctx12)
        f.check(not any(got), "round %d: right after the reload that removed the CA: "
                "statuses %r (full handshakes, then resumptions; want all refused)" % (rnd,
                                                                                      got))
    reached = [u.path for u in ST["up"].requests if "-full" in u.path or "-resume" in u.path]
    f.check(not reached, "requests judged by the old policy after the reload reached the "
            "upstream: %r" % reached)
    f.done()


def test_handshake_started_after_reload():
    """A TCP connection opened before the reload whose ClientHello arrives after it: the
    handshake is judged by the policy in force when it happens (the old CA is gone)."""
    srv = L.start_server(cfg_trusting("root-ca.pem"))
    f = L.Failures()
    c, k = ST["pki"].client("basic")
    raw = L.socket.create_connection(("127.0.0.1", ST["port"]), timeout=5)
    time.sleep(0.3)
    srv.reload(cfg_trusting("other-ca.pem"))
    assert A.wait_reloaded(srv, 1), "no reload"
    time.sleep(SETTLE)
    st = 0
    try:
        s = L.client_context(c, k).wrap_socket(raw, server_hostname="localhost")
        s.settimeout(5)
        s.sendall(L.request_bytes(path="/pre-reload-tcp"))
        st = L.read_response(L.SockReader(s)).status
        s.close()
    except (ssl.SSLError, OSError, L.Closed):
        pass
    finally:
        raw.close()
    f.check(st == 0, "handshake after the reload on a TCP connection accepted before it: "
            "status %d (judged by the removed CA)" % st)
    f.check(not ST["up"].by_path("/pre-reload-tcp"), "reached the upstream")
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
