#!/usr/bin/env python3
"""idle_connections.py MTLS_PROXY PKIDIR - 5,000 idle connections, then normal service.

The test raises its own open-file limit (RLIMIT_NOFILE, up to the hard limit; the proxy
inherits it) and runs mtls-proxy with --max-connections 12000 and --handshake-timeout 60 so
that idle connections stay. Two rounds:
  - 5,000 plain TCP connections that never send a byte (they would sit in the TLS handshake);
  - 5,000 TLS connections with a client certificate, handshake completed, no request.
With each set open: the proxy has accepted them all (its fd count), a normal client is served
promptly (20 requests, each under 1 s), the proxy's RSS per idle connection is measured and
reported (and bounded: under 64 KiB per TCP connection, 96 KiB per TLS connection); after
they close, the proxy's fd count comes back down. A last check: with --handshake-timeout 2
the 5,000 silent TCP connections are all closed by the proxy within the timeout + slack."""
import resource
import socket
import ssl
import threading
import time

import attacklib as A

L = A.L
ST = {}
N = 5000
TCP_LIMIT_KIB = 64
TLS_LIMIT_KIB = 96


def setup():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * N + 2000
    if soft < want:
        new = min(want, hard) if hard != resource.RLIM_INFINITY else want
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < N + 1000:
        raise L.Skip("RLIMIT_NOFILE %d is too low for %d connections" % (soft, N))
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(up))],
                                  [L.policy(mode="require_and_verify",
                                            trust=pki.path("root-ca.pem"))])}, pki)
    ST.update(pki=pki, up=up, port=port, cfg=cfg)


def start(hs_timeout=60):
    return L.start_server(ST["cfg"], args=["--max-connections", "12000",
                                           "--handshake-timeout", str(hs_timeout)])


def service(n=20):
    """n requests, each on its own connection: (ok count, worst seconds)."""
    c, k = ST["pki"].client("basic")
    ctx = L.client_context(c, k)
    ok, worst = 0, 0.0
    for i in range(n):
        t0 = time.monotonic()
        try:
            rs, _ = L.raw_exchange(ST["port"], L.request_bytes(path="/svc%d" % i), ctx=ctx,
                                   wait_close=0, timeout=5)
            ok += bool(rs) and rs[0].status == 200
        except (OSError, ssl.SSLError, L.Closed):
            pass
        worst = max(worst, time.monotonic() - t0)
    return ok, worst


def settle(srv, want_fds, timeout=15):
    return L.wait_until(lambda: abs(srv.proc.num_fds() - want_fds) < 50, timeout=timeout,
                        interval=0.1)


def open_tcp(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", ST["port"]))
        socks.append(s)
    return socks


def open_tls(n, threads=4):
    c, k = ST["pki"].client("basic")
    ctx = L.client_context(c, k)
    out, errs = [], []
    lock = threading.Lock()

    def work(count):
        for _ in range(count):
            try:
                s = L.tls_connect(ST["port"], "localhost", ctx=ctx, timeout=10)
                with lock:
                    out.append(s)
            except (OSError, ssl.SSLError) as e:
                with lock:
                    errs.append(repr(e))
    ts = [threading.Thread(target=work, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    return out, errs


def measure(srv, kind, opener, limit_kib):
    f = L.Failures()
    ok, worst = service(3)
    base_fds, base_rss = srv.proc.num_fds(), srv.proc.rss_kib()
    t0 = time.monotonic()
    res = opener(N)
    socks, errs = res if isinstance(res, tuple) else (res, [])
    t_open = time.monotonic() - t0
    try:
        f.check(len(socks) == N, "%s: opened %d of %d (%s)" % (kind, len(socks), N, errs[:3]))
        f.check(settle(srv, base_fds + len(socks)), "%s: the proxy holds %d fds, want about %d"
                % (kind, srv.proc.num_fds(), base_fds + len(socks)))
        time.sleep(0.5)
        rss = srv.proc.rss_kib()
        per = (rss - base_rss) * 1.0 / max(1, len(socks))
        ok, worst = service(20)
        L.log("    %d idle %s connections opened in %.1fs; proxy RSS %d -> %d KiB = %.1f KiB "
              "per connection; 20 requests meanwhile: %d ok, worst %.3fs" % (
                  len(socks), kind, t_open, base_rss, rss, per, ok, worst))
        ST.setdefault("numbers", []).append((kind, per, worst))
        f.check(per < limit_kib, "%s: %.1f KiB per idle connection" % (kind, per))
        f.check(ok == 20 and worst < 1.0, "%s: normal service with %d idle connections: %d/20 "
                "ok, worst %.2fs" % (kind, len(socks), ok, worst))
    finally:
        for s in socks:
            s.close()
    f.check(settle(srv, base_fds, timeout=20), "%s: fds after closing: %d, before: %d" % (
        kind, srv.proc.num_fds(), base_fds))
    f.check(srv.proc.alive(), "%s: proxy died" % kind)
    f.done()


def test_5000_idle_tcp():
    srv = start()
    measure(srv, "plain TCP", open_tcp, TCP_LIMIT_KIB)


def test_5000_idle_tls():
    srv = start()
    measure(srv, "TLS (handshake done)", open_tls, TLS_LIMIT_KIB)


def test_5000_silent_tcp_cut_at_handshake_timeout():
    srv = start(hs_timeout=2)
    service(1)
    base = srv.proc.num_fds()
    socks = open_tcp(N)
    t0 = time.monotonic()
    try:
        settled = L.wait_until(lambda: srv.proc.num_fds() <= base + 5, timeout=2 + 6,
                               interval=0.1)
        t = time.monotonic() - t0
        L.log("    %d silent TCP connections dropped by the proxy %.1fs after the last one "
              "opened (handshake timeout 2 s)" % (N, t))
        assert settled, "proxy still holds %d fds (base %d) %.1fs later" % (
            srv.proc.num_fds(), base, t)
        ok, worst = service(5)
        assert ok == 5 and worst < 1.0, (ok, worst)
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
