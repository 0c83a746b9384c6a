#!/usr/bin/env python3
"""drain_on_sigterm.py MTLS_PROXY PKIDIR - SIGTERM stops accepting and drains.

A request in flight when SIGTERM arrives is answered in full; new connections are no longer
served from shortly after the signal; idle keep-alive connections do not hold the process:
it exits (code 0) as soon as the in-flight work is done, well before --grace. When a request
outlives --grace, the process exits at the grace deadline anyway."""
import signal
import ssl
import threading
import time

import proxylib as L

ST = {}


def setup():
    L.standard_setup(ST)


def conn(timeout=15):
    c, k = ST["pki"].client("basic")
    return L.tls_connect(ST["port"], "localhost", c, k, timeout=timeout)


class InFlight(threading.Thread):
    def __init__(self, path):
        threading.Thread.__init__(self, daemon=True)
        self.path = path
        self.resp = None
        self.err = None
        self.done_at = None
        self.s = conn()

    def run(self):
        try:
            self.s.sendall(L.request_bytes(path=self.path))
            self.resp = L.read_response(L.SockReader(self.s))
        except Exception as e:
            self.err = e
        self.done_at = time.monotonic()
        # keep the connection open (idle keep-alive) - the proxy must not wait for it


def served(timeout=1.5):
    try:
        s = conn(timeout)
        try:
            s.sendall(L.request_bytes(path="/new"))
            return L.read_response(L.SockReader(s)).status == 200
        finally:
            s.close()
    except (OSError, ssl.SSLError, L.Closed):
        return False


def test_inflight_finishes_new_refused_exit_zero():
    srv = L.start_server(ST["cfg"], args=["--grace", "8"])
    idle = conn()             # an idle keep-alive connection with one request done
    idle.sendall(L.request_bytes(path="/idle"))
    assert L.read_response(L.SockReader(idle)).status == 200
    fl = InFlight("/slow/2")
    fl.start()
    assert ST["up"].wait_requests(2, timeout=5), "in-flight request did not reach the upstream"
    t0 = time.monotonic()
    srv.proc.kill(signal.SIGTERM)
    time.sleep(0.5)
    refused_at = None
    for _ in range(10):
        if not served(1.0):
            refused_at = time.monotonic() - t0
            break
        time.sleep(0.2)
    rc = srv.proc.wait(15)
    exited_at = time.monotonic() - t0
    fl.join(5)
    idle.close()
    fl.s.close()
    assert refused_at is not None, "new connections still served after SIGTERM"
    assert fl.resp is not None and fl.resp.status == 200 and b"GET /slow/2 " in fl.resp.body, \
        "the in-flight request was not answered in full: %r %r" % (fl.resp, fl.err)
    assert rc == 0, "exit code after SIGTERM: %r" % rc
    assert exited_at < 5.5, "exited %.1fs after SIGTERM: idle connections held it " \
                            "(in-flight request needed 2s, --grace 8)" % exited_at
    assert not ST["up"].by_path("/new"), "a connection made after SIGTERM was proxied"


def test_grace_deadline():
    srv = L.start_server(ST["cfg"], args=["--grace", "1"])
    ST["up"].clear()
    fl = InFlight("/slow/15")
    fl.start()
    assert ST["up"].wait_requests(1, timeout=5)
    t0 = time.monotonic()
    srv.proc.kill(signal.SIGTERM)
    rc = srv.proc.wait(10)
    t = time.monotonic() - t0
    fl.join(3)
    fl.s.close()
    assert rc is not None, "still running 10s after SIGTERM with --grace 1"
    assert t < 3.5, "exited %.1fs after SIGTERM with --grace 1" % t
    assert fl.resp is None or fl.resp.status != 200, "a 15 s request finished within 1 s?"


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
