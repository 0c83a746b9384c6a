#!/usr/bin/env python3
"""access_log.py MTLS_PROXY PKIDIR - the JSON access log on stdout and the startup lines.

Every stdout line is one JSON object. Per request exactly one line with logger
"http.log.access" in the shape of Caddy's access log: request{remote_ip, remote_port, proto,
method, host, uri, tls{version, cipher_suite, server_name, client_common_name, client_serial
(as Caddy 2.6.2 logs them), client_subject, client_fingerprint}}, status, size (= body bytes
sent), duration. Per refused handshake one
line naming the client's port with the verdict and its reason (expired, unknown issuer, no
certificate). An identity with control bytes is logged escaped, never raw. stderr has a
readable startup line naming each listener."""
import json
import re
import ssl
import time

import proxylib as L

ST = {}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    p_rav, p_req = L.free_ports(2)
    rp = L.reverse_proxy(up)
    # harness check against Caddy: its access log must be switched on and goes to stderr
    extra = {"logs": {}} if L.TARGET == "caddy" else {}
    cfg = L.config({
        "rav": L.server(p_rav, [L.route(rp)], [L.policy(mode="require_and_verify",
                                                        trust=pki.path("root-ca.pem"))],
                        **extra),
        "req": L.server(p_req, [L.route(rp)], [L.policy(mode="request")], **extra),
    }, pki)
    ST.update(pki=pki, up=up, rav=p_rav, req=p_req, cfg=cfg)


def lines(srv):
    out = []
    time.sleep(0.1)  # mtls-proxy writes its lines once per event-loop turn, after the response
    data = srv.proc.stderr_bytes() if L.TARGET == "caddy" else srv.proc.stdout_bytes()
    for raw in data.split(b"\n"):
        if raw.strip():
            out.append(raw)
    return out


def parsed(srv):
    res = []
    for raw in lines(srv):
        try:
            res.append(json.loads(raw))
        except ValueError:
            res.append({"(unparsable)": raw[:300].decode("utf-8", "replace")})
    return res


def access(srv):
    return [j for j in parsed(srv) if j.get("logger") == "http.log.access"]


def request(port, case, path, method="GET", body=b"", host="localhost"):
    """One request on its own connection; returns (local port, response or None)."""
    c = k = None
    if case:
        c, k = ST["pki"].client(case)
    s = L.tls_connect(port, "localhost", c, k)
    lp = s.getsockname()[1]
    try:
        s.sendall(L.request_bytes(method, path, host=host, body=body))
        return lp, L.read_response(L.SockReader(s))
    except (L.Closed, OSError, ssl.SSLError):
        return lp, None
    finally:
        s.close()


def wait_line(srv, pred, timeout=5):
    return L.wait_until(lambda: [j for j in parsed(srv) if pred(j)], timeout=timeout)


def test_access_line_shape():
    srv = L.start_server(ST["cfg"])
    pki = ST["pki"]
    lp, r = request(ST["rav"], "basic", "/shape/x?q=1&r=%20")
    assert r and r.status == 200, r
    got = wait_line(srv, lambda j: j.get("logger") == "http.log.access" and
                    j.get("request", {}).get("uri") == "/shape/x?q=1&r=%20")
    assert got and len(got) == 1, "want exactly one access line for the request, got %r" % got
    j = got[0]
    f = L.Failures()
    rq = j.get("request", {})
    f.check(rq.get("remote_ip") == "127.0.0.1", "remote_ip %r" % rq.get("remote_ip"))
    f.check(str(rq.get("remote_port")) == str(lp), "remote_port %r, client port %d" % (
        rq.get("remote_port"), lp))
    f.check(rq.get("proto") == "HTTP/1.1", "proto %r" % rq.get("proto"))
    f.check(rq.get("method") == "GET", "method %r" % rq.get("method"))
    f.check(rq.get("host") == "localhost", "host %r" % rq.get("host"))
    tls = rq.get("tls", {})
    f.check(tls.get("version") in (772, 771, "tls1.3", "tls1.2"), "tls.version %r" %
            tls.get("version"))
    f.check(bool(tls.get("cipher_suite")), "tls.cipher_suite %r" % tls.get("cipher_suite"))
    f.check(tls.get("server_name") == "localhost", "tls.server_name %r" %
            tls.get("server_name"))
    f.check(tls.get("client_subject") == "CN=basic client", "tls.client_subject %r" %
            tls.get("client_subject"))
    f.check(tls.get("client_fingerprint") == pki.fingerprint("basic"),
            "tls.client_fingerprint %r" % tls.get("client_fingerprint"))
    # Caddy 2.6.2 logs these two for a client certificate; log consumers look for them
    f.check(tls.get("client_common_name") == "basic client",
            "tls.client_common_name %r (Caddy logs it)" % tls.get("client_common_name"))
    f.check(tls.get("client_serial") == pki.serial_decimal("basic"),
            "tls.client_serial %r, want %s (Caddy logs it)" % (tls.get("client_serial"),
                                                               pki.serial_decimal("basic")))
    f.check(j.get("status") == 200, "status %r" % j.get("status"))
    f.check(j.get("size") == len(r.body), "size %r, body %d bytes" % (j.get("size"),
                                                                     len(r.body)))
    f.check(isinstance(j.get("duration"), (int, float)) and 0 <= j["duration"] < 10,
            "duration %r" % j.get("duration"))
    f.check("ts" in j and "level" in j, "ts/level missing: %r" % sorted(j))
    f.done()


def test_one_line_per_request_and_status():
    srv = L.start_server(ST["cfg"])
    c, k = ST["pki"].client("basic")
    s = L.tls_connect(ST["rav"], "localhost", c, k)
    try:
        rd = L.SockReader(s)
        for i in range(5):
            s.sendall(L.request_bytes(path="/many/%d" % i))
            assert L.read_response(rd).status == 200
        s.sendall(L.request_bytes("POST", "/count", body=b"p" * 5000))
        assert L.read_response(rd).status == 200
        s.sendall(L.request_bytes(path="/status/404"))
        assert L.read_response(rd).status == 404
    finally:
        s.close()
    time.sleep(0.5)
    acc = access(srv)
    for i in range(5):
        n = [j for j in acc if j.get("request", {}).get("uri") == "/many/%d" % i]
        assert len(n) == 1, "request /many/%d: %d access lines" % (i, len(n))
    post = [j for j in acc if j.get("request", {}).get("uri") == "/count"]
    assert len(post) == 1 and post[0]["request"].get("method") == "POST", post
    nf = [j for j in acc if j.get("request", {}).get("uri") == "/status/404"]
    assert len(nf) == 1 and nf[0].get("status") == 404, nf


def test_refused_handshakes_logged_with_reason():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for case, words in (("expired", ["expired"]), ("untrusted-ca", ["unknown", "issuer"]),
                        ("eku-server", ["eku", "usage"]), (None, ["no", "cert"])):
        lp, r = request(ST["rav"], case, "/refused")
        f.check(r is None, "%s: got an answer %r" % (case, r))
        got = wait_line(srv, lambda j: str(j.get("remote_port",
                                                 j.get("request", {}).get("remote_port")))
                        == str(lp))
        if not f.check(bool(got), "%s: no log line for the refused handshake from port %d" %
                       (case, lp)):
            continue
        f.check(len(got) == 1, "%s: %d lines for one refused handshake" % (case, len(got)))
        j = got[0]
        f.check(j.get("logger") != "http.log.access" or j.get("status") in (None, 0),
                "%s: logged as a handled request: %r" % (case, j))
        text = json.dumps(j).lower().replace("_", " ")
        f.check(re.search(r"reject|refus|denied|fail", text) is not None,
                "%s: no verdict in %r" % (case, j))
        f.check(any(w in text for w in words), "%s: reason (%s) not in %r" % (
            case, "/".join(words), j))
    f.done()


def test_control_bytes_escaped_and_lines_valid():
    srv = L.start_server(ST["cfg"])
    lp, r = request(ST["req"], "dn-ctl-lf", "/ctl")
    assert r and r.status == 200, r
    lp2, r2 = request(ST["req"], "dn-ctl-tab", "/ctl2")
    assert r2 and r2.status == 200, r2
    time.sleep(0.5)
    bad = [raw for raw in lines(srv) if not raw.startswith(b"{")]
    assert not bad, "stdout lines that are not JSON objects: %r" % bad[:3]
    for raw in lines(srv):
        json.loads(raw)
    for path, want in (("/ctl", ["line one", "line two"]), ("/ctl2", ["tab", "here", "del"])):
        got = [j for j in access(srv) if j.get("request", {}).get("uri") == path]
        assert len(got) == 1, (path, got)
        subj = got[0]["request"].get("tls", {}).get("client_subject", "")
        assert all(w in subj for w in want), "client_subject %r" % subj
        assert not re.search(r"[\x00-\x1f\x7f]", subj), \
            "client_subject logged with raw control characters: %r" % subj
        assert "\\x" in subj, "control bytes not escaped as \\xHH: %r" % subj


def test_startup_line_per_listener():
    srv = L.start_server(ST["cfg"])
    time.sleep(0.3)
    err = srv.proc.stderr_text()
    for p in (ST["rav"], ST["req"]):
        assert "127.0.0.1:%d" % p in err, "no startup line naming 127.0.0.1:%d in stderr:\n%s" % (
            p, err[-2000:])



def test_startup_warns_on_anchor_not_self_signed():
    """DESIGN.md §6: Caddy trusts any pool certificate as an anchor; the startup log says so."""
    if L.TARGET == "caddy":
        return
    pki, up = ST["pki"], ST["up"]
    port = L.free_port()
    for trust, warn in (("int-ca.pem", True), ("root-ca.pem", False)):
        cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(up))],
                                      [L.policy(mode="require_and_verify",
                                                trust=pki.path(trust))])}, pki)
        r = L.proxy_cmd("validate", "--config", L.write_json(cfg, "warn-%s.json" % trust))
        assert r.returncode == 0, r.stderr
        said = "not self-signed" in r.stderr and "Test Intermediate CA" in r.stderr
        assert said == warn, "trust %s: warning %s expected, stderr:\n%s" % (trust, warn,
                                                                          r.stderr)


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
