#!/usr/bin/env python3
"""reload_under_load.py MTLS_PROXY PKIDIR - SIGHUP reloads config, certificates and policies
atomically under continuous requests.

Three client threads (a new TLS connection per request, two keep-alive connections) run
without pause while the config is reloaded with SIGHUP: four good configs (each forwards a
different X-Gen header), then a config that is not JSON and one whose certificate file is
missing (each must be logged as an error while the process stays up and keeps serving the
last good config), then a good one again. No request may fail; a keep-alive connection that
the proxy closes while idle is reopened and its request retried (as any HTTP client does), and
counted separately. Finally a reload that changes the trusted CA: new handshakes follow it."""
import re
import ssl
import threading
import time

import proxylib as L

ST = {}


def cfg(gen, trust="root-ca.pem", cert=None):
    pki = ST["pki"]
    c = L.config({"s": L.server(ST["port"], [L.route(L.reverse_proxy(ST["up"],
                                                                    set={"X-Gen": str(gen)}))],
                                [L.policy(mode="require_and_verify", trust=pki.path(trust))])},
                 pki)
    if cert:
        c["apps"]["tls"]["certificates"]["load_files"][0]["certificate"] = cert
    return c


def setup():
    ST["pki"] = L.PKI()
    ST["up"] = L.Upstream()
    ST["port"] = L.free_port()


class Client(threading.Thread):
    def __init__(self, keepalive, name):
        threading.Thread.__init__(self, daemon=True, name=name)
        self.keepalive = keepalive
        self.stop = threading.Event()
        self.ok = 0
        self.retried = 0
        self.failed = []
        self.last_gen = None
        self.ctx = L.client_context(*ST["pki"].client("basic"))
        self.n = 0

    def conn(self):
        return L.tls_connect(ST["port"], "localhost", ctx=self.ctx, timeout=10)

    def one(self, s):
        self.n += 1
        s.sendall(L.request_bytes(path="/%s/%d" % (self.name, self.n)))
        return L.read_response(L.SockReader(s))

    def record(self, r):
        if r.status != 200:
            self.failed.append("%s #%d: status %d" % (self.name, self.n, r.status))
            return
        m = re.search(rb"\r\nX-Gen: (\d+)", r.body)
        self.last_gen = int(m.group(1)) if m else None
        self.ok += 1

    def run(self):
        end = time.monotonic() + 120
        s = None
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                time.sleep(0.004)   # a steady load, not a CPU hog on 2 cores
                if not self.keepalive:
                    s = self.conn()
                    self.record(self.one(s))
                    s.close()
                    s = None
                    continue
                if s is None:
                    s = self.conn()
                try:
                    self.record(self.one(s))
                except (L.Closed, ssl.SSLError, OSError):
                    # closed while idle, before any byte of the answer: reopen and retry once
                    self.retried += 1
                    s.close()
                    s = self.conn()
                    self.record(self.one(s))
            except Exception as e:
                self.failed.append("%s #%d: %r" % (self.name, self.n, e))
                if s is not None:
                    s.close()
                s = None
                time.sleep(0.05)
        if s is not None:
            s.close()


def wait_gen(clients, gen, timeout=6):
    return L.wait_until(lambda: all(c.last_gen == gen for c in clients), timeout=timeout)


def gens(clients):
    return ", ".join("%s: X-Gen %s" % (c.name, c.last_gen) for c in clients)


def test_reload_under_load():
    srv = L.start_server(cfg(1))
    clients = [Client(False, "new"), Client(True, "ka1"), Client(True, "ka2")]
    for c in clients:
        c.start()
    f = L.Failures()
    try:
        assert wait_gen(clients, 1), "clients not served at start: %r" % [
            (c.name, c.ok, c.failed[:3]) for c in clients]
        for gen in (2, 3, 4, 5):
            srv.reload(cfg(gen))
            ok = wait_gen(clients, gen)
            f.check(ok, "config %d not in force 6 s after SIGHUP (%s): 'new' makes a new "
                    "connection per request, 'ka1'/'ka2' keep theirs" % (gen, gens(clients)))
        broken = [("not JSON", '{"apps": {"http": '),
                  ("missing certificate file", cfg(6, cert=L.tmpfile("no-such-cert.pem"))),
                  ("unknown client_auth mode", None)]
        bad_mode = cfg(6)
        bad_mode["apps"]["http"]["servers"]["s"]["tls_connection_policies"][0][
            "client_authentication"]["mode"] = "sometimes"
        broken[2] = ("unknown client_auth mode", bad_mode)
        for what, bad in broken:
            err0, out0 = len(srv.proc.stderr_bytes()), len(srv.proc.stdout_bytes())
            ok0 = [c.ok for c in clients]
            srv.reload(bad)
            time.sleep(1.5)
            f.check(srv.proc.alive(), "proxy exited after a reload with a broken config (%s)"
                    % what)
            new = (srv.proc.stderr_bytes()[err0:] + srv.proc.stdout_bytes()[out0:]).decode(
                "utf-8", "replace")
            # the access log is on stdout: look only at lines that are not request lines
            new = "\n".join(x for x in new.splitlines() if "http.log.access" not in x)
            f.check(re.search(r"error|fail|invalid", new, re.I) is not None,
                    "broken config (%s): no error logged" % what)
            f.check(all(c.ok > o for c, o in zip(clients, ok0)),
                    "broken config (%s): requests stopped being served" % what)
            f.check(clients[0].last_gen == 5,
                    "broken config (%s): new connections not on the last good config (%s)" % (
                        what, gens(clients)))
        srv.reload(cfg(7))
        f.check(wait_gen(clients, 7), "good config after broken ones not in force (%s)" %
                gens(clients))
    finally:
        for c in clients:
            c.stop.set()
        for c in clients:
            c.join(15)
    total = sum(c.ok for c in clients)
    L.log("    %d requests served, %d keep-alive retries, %d failed" % (
        total, sum(c.retried for c in clients), sum(len(c.failed) for c in clients)))
    fails = [x for c in clients for x in c.failed]
    f.check(not fails, "%d failed request(s) during reloads: %s" % (len(fails), fails[:10]))
    f.check(total >= 50, "too few requests to mean anything: %d" % total)
    f.done()


def test_reload_changes_policy():
    """After a reload that trusts only other-ca, new handshakes with a root-ca client are
    refused and other-ca's client gets in; a reload back restores it."""
    srv = L.start_server(cfg(1))
    pki = ST["pki"]

    def status(case):
        c, k = pki.client(case)
        return L.curl("/policy", port=ST["port"], cert=c, key=k).status

    assert status("basic") == 200 and status("untrusted-ca") == 0
    srv.reload(cfg(2, trust="other-ca.pem"))
    assert L.wait_until(lambda: status("untrusted-ca") == 200, timeout=10), \
        "other-ca client not accepted after the reload"
    assert status("basic") == 0, "root-ca client still accepted after the reload"
    srv.reload(cfg(3))
    assert L.wait_until(lambda: status("basic") == 200, timeout=10)
    assert status("untrusted-ca") == 0
    assert srv.proc.alive()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
