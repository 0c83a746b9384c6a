#!/usr/bin/env python3
"""websocket_upgrade.py MTLS_PROXY PKIDIR - Upgrade: websocket is tunnelled.

The upgrade request reaches the upstream with Upgrade/Connection and the client identity (and
without the client's spoofed identity); the 101 and Sec-WebSocket-Accept come back; bytes
then flow both ways unchanged (a masked WebSocket frame, then 4 MiB of binary); closing the
client side ends the upstream side; an upgrade refused by the upstream is a normal response."""
import base64
import os
import struct

import proxylib as L

ST = {}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(
        up, set={"X-Client-Subject": "{http.request.tls.client.subject}"}))],
        [L.policy(mode="require_and_verify", trust=pki.path("root-ca.pem"))])}, pki)
    ST.update(pki=pki, up=up, port=port, cfg=cfg)


def ws_frame(payload, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade(path="/ws", extra=()):
    c, k = ST["pki"].client("basic")
    s = L.tls_connect(ST["port"], "localhost", c, k, timeout=15)
    key = base64.b64encode(os.urandom(16))
    s.sendall(L.request_bytes(path=path, headers=[
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: " + key.decode(), "X-Client-Subject: CN=spoofed"] + list(extra)))
    rd = L.SockReader(s)
    r = L.read_response(rd)
    return s, rd, r, key


def read_exact(rd, n):
    return rd.take(n)


def test_upgrade_and_echo():
    srv = L.start_server(ST["cfg"])
    s, rd, r, key = upgrade()
    try:
        assert r.status == 101, "status %d, want 101" % r.status
        import hashlib
        want = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
        assert r.header("Sec-WebSocket-Accept") == want, r.headers
        assert (r.header("Upgrade") or "").lower() == "websocket", r.headers
        u = ST["up"].by_path("/ws")[-1]
        assert (u.get("Upgrade") or b"").lower() == b"websocket", u.headers
        assert b"upgrade" in (u.get("Connection") or b"").lower(), u.headers
        assert u.get_all("X-Client-Subject") == [b"CN=basic client"], \
            u.get_all("X-Client-Subject")
        frame = ws_frame(b"hello through the proxy")
        s.sendall(frame)
        assert read_exact(rd, len(frame)) == frame, "frame not echoed unchanged"
        big = os.urandom(4 << 20)
        got = L.pump(s, big, len(big), already=rd.buf)
        rd.buf = b""
        assert len(got) == len(big), "tunnel ended after %d of %d echoed bytes" % (len(got),
                                                                                  len(big))
        assert got == big, "4 MiB not echoed unchanged"
    finally:
        s.close()
    # the upstream side ends when the client goes
    assert L.wait_until(lambda: ST["up"].open_conns == 0, timeout=10), \
        "upstream connection still open %d s after the client closed" % 10
    assert srv.proc.alive()


def test_upgrade_refused_by_upstream_is_plain_response():
    L.start_server(ST["cfg"])
    s, rd, r, key = upgrade(path="/status/403")
    try:
        assert r.status == 403, r
        # the connection stays HTTP: another request works
        s.sendall(L.request_bytes(path="/after-403"))
        r2 = L.read_response(rd)
        assert r2.status == 200, r2
    except L.Closed:
        pass   # closing after a refused upgrade is also fine
    finally:
        s.close()


def test_several_tunnels_at_once():
    srv = L.start_server(ST["cfg"])
    tunnels = [upgrade("/ws") for _ in range(8)]
    try:
        for i, (s, rd, r, _) in enumerate(tunnels):
            assert r.status == 101, (i, r)
        for i, (s, rd, r, _) in enumerate(tunnels):
            s.sendall(ws_frame(b"tunnel %d" % i))
        for i, (s, rd, r, _) in enumerate(tunnels):
            n = 2 + 4 + len(b"tunnel %d" % i)
            data = rd.take(n)
            mask = data[2:6]
            payload = bytes(b ^ mask[j % 4] for j, b in enumerate(data[6:]))
            assert payload == b"tunnel %d" % i, (i, payload)
    finally:
        for s, _, _, _ in tunnels:
            s.close()
    assert srv.proc.alive()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
