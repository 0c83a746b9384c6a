#!/usr/bin/env python3
"""caddyfile_tutorial.py MTLS_PROXY PKIDIR - the tutorial's Caddyfile runs unchanged.

The mTLS tutorial's Caddyfile (snippet with client_auth require_and_verify and
trusted_ca_cert_file, imported by the site; the server certificate on the snippet's tls line,
since there is no ACME) is run by `mtls-proxy run --config .../Caddyfile` (format detected by
the file name) and by `--adapter caddyfile` for another file name. The tutorial's own client
(alice, as OpenSSL 3.0 and as OpenSSL >= 3.2 sign it) gets in with its identity forwarded; a
client of another CA and a client without certificate are refused. validate/adapt/--version/
--help work; the form Caddy refuses (separate `tls CERT KEY` beside the imported snippet) and
a site without a certificate are load errors that say what to do."""
import json
import os

import proxylib as L

ST = {}

TUTORIAL = """{
	admin off
	auto_https off
}

(mtls) {
	tls %(cert)s %(key)s {
		client_auth {
			mode require_and_verify
			trusted_ca_cert_file %(ca)s
		}
	}
}

localhost:%(port)d {
	bind 127.0.0.1
	import mtls
	reverse_proxy %(up)s {
		header_up X-Client-Subject {http.request.tls.client.subject}
		header_up X-Client-Fingerprint {http.request.tls.client.fingerprint}
	}
}
"""

CONFLICTING = """{
	admin off
	auto_https off
}

(mtls) {
	tls {
		client_auth {
			mode require_and_verify
			trusted_ca_cert_file %(ca)s
		}
	}
}

localhost:%(port)d {
	bind 127.0.0.1
	tls %(cert)s %(key)s
	import mtls
	reverse_proxy %(up)s
}
"""

NO_CERT = """{
	admin off
	auto_https off
}

localhost:%(port)d {
	bind 127.0.0.1
	reverse_proxy %(up)s
}
"""


def setup():
    pki = L.PKI()
    up = L.Upstream()
    ST.update(pki=pki, up=up)


def text(tmpl, port):
    pki = ST["pki"]
    return tmpl % {"cert": pki.server_cert, "key": pki.server_key,
                   "ca": pki.path("tutorial/ca-cert.pem"), "port": port, "up": ST["up"].dial}


def site_dir(name):
    d = L.tmpfile(name)
    os.makedirs(d, exist_ok=True)
    return d


def check_tutorial_site(port):
    pki = ST["pki"]
    f = L.Failures()
    for case in ("tutorial-v1", "tutorial-v3"):
        c, k = pki.client(case)
        path = "/tut/%s/%d" % (case, port)
        r = L.curl(path, port=port, cert=c, key=k)
        u = ST["up"].by_path(path)
        f.check(r.status == 200 and len(u) == 1, "%s: %r" % (case, r))
        if u:
            f.check(u[0].get("X-Client-Subject") == b"CN=alice",
                    "%s: X-Client-Subject %r" % (case, u[0].get("X-Client-Subject")))
            f.check(u[0].get("X-Client-Fingerprint") == pki.fingerprint(case).encode(),
                    "%s: X-Client-Fingerprint %r" % (case, u[0].get("X-Client-Fingerprint")))
    for case in ("basic", None):
        c, k = pki.client(case) if case else (None, None)
        r = L.curl("/tut/refused", port=port, cert=c, key=k)
        f.check(r.status == 0 and r.rc != 0, "%s: want refused, got %r" % (case or "no cert", r))
    f.check(not ST["up"].by_path("/tut/refused"), "a refused client reached the upstream")
    f.done()


def test_tutorial_caddyfile_runs():
    port = L.free_port()
    site_dir("tutorial")
    srv = L.start_server(text(TUTORIAL, port), name="tutorial",
                         cfg_name=os.path.join("tutorial", "Caddyfile"), ports=[port])
    check_tutorial_site(port)
    assert srv.proc.alive()


def test_adapter_flag_other_file_name():
    port = L.free_port()
    srv = L.start_server(text(TUTORIAL, port), name="adapter", cfg_name="site.conf",
                         adapter="caddyfile", ports=[port])
    check_tutorial_site(port)
    assert srv.proc.alive()


def proxy_only():
    if L.TARGET != "proxy":
        raise L.Skip("mtls-proxy command line only")


def test_validate_adapt_version_help():
    proxy_only()
    port = L.free_port()
    d = site_dir("validate")
    cf = os.path.join(d, "Caddyfile")
    with open(cf, "w") as fh:
        fh.write(text(TUTORIAL, port))
    f = L.Failures()
    r = L.proxy_cmd("validate", "--config", cf)
    f.check(r.returncode == 0, "validate of the tutorial Caddyfile: rc %d %s" % (
        r.returncode, r.stderr[-500:]))
    r = L.proxy_cmd("adapt", "--config", cf)
    f.check(r.returncode == 0, "adapt: rc %d %s" % (r.returncode, r.stderr[-500:]))
    try:
        j = json.loads(r.stdout)
        pols = [p for s in j["apps"]["http"]["servers"].values()
                for p in s.get("tls_connection_policies", [])]
        f.check(any(p.get("client_authentication", {}).get("mode") == "require_and_verify"
                    for p in pols), "adapt: no require_and_verify policy in %r" % pols)
    except (ValueError, KeyError) as e:
        f.check(False, "adapt output is not the expected JSON (%r): %s" % (e, r.stdout[:300]))
    bad = os.path.join(d, "broken.json")
    with open(bad, "w") as fh:
        fh.write('{"apps": {"http": ')
    r = L.proxy_cmd("validate", "--config", bad)
    f.check(r.returncode != 0 and r.stderr.strip(), "validate of broken JSON: rc %d" %
            r.returncode)
    r = L.proxy_cmd("--version")
    f.check(r.returncode == 0 and "mtls-proxy" in r.stdout + r.stderr, "--version: %r" % (r,))
    r = L.proxy_cmd("--help")
    f.check(r.returncode == 0 and "run" in r.stdout + r.stderr, "--help: rc %d" % r.returncode)
    f.done()


def refused_at_load(tmpl, name):
    port = L.free_port()
    d = site_dir(name)
    cf = os.path.join(d, "Caddyfile")
    with open(cf, "w") as fh:
        fh.write(text(tmpl, port))
    p = L.Proc([L.PROXY_BIN, "run", "--config", cf], name)
    rc = p.wait(15)
    listening = L.port_open(port)
    p.stop(timeout=3)
    return rc, p.stderr_text() + p.stdout_text(), listening


def test_conflicting_tls_form_refused_with_hint():
    proxy_only()
    rc, err, listening = refused_at_load(CONFLICTING, "conflicting")
    assert rc not in (None, 0), "run with `tls CERT KEY` beside an imported client_auth " \
                                "snippet did not fail at load (rc %r)" % rc
    assert not listening
    assert "snippet" in err, "the error does not say to put the certificate on the " \
                             "snippet's tls line: %s" % err[-600:]


def test_site_without_certificate_refused_with_hint():
    proxy_only()
    rc, err, listening = refused_at_load(NO_CERT, "nocert")
    assert rc not in (None, 0), "a site without a certificate (no ACME) did not fail at load"
    assert not listening
    assert "tls" in err.lower() and "cert" in err.lower(), \
        "the error does not say how to give a certificate: %s" % err[-600:]


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
