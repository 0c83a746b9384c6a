#!/usr/bin/env python3
"""huge_certificates.py MINIMAL_SERVER PKIDIR - oversized client certificate material is answered
in bounded time and memory, and the (single-connection) minimal server keeps serving.

The same material as the mtls-proxy test attacks/huge_certificates.py, all chaining to the
test root CA:
  - chain-121: a leaf and 120 intermediates (refused: libmtls takes at most 16 certificates);
  - big-40k / big-60k / big-100k / big-200k: one leaf with a 40..200 KB private extension
    (BoringSSL takes a Certificate message up to 100 KiB; 40 and 60 KB are valid and must be
    answered, also over TLS 1.3, where libmtls's glue sends no ticket to chains > 24 KiB);
  - sans-4000: 4,000 DNS names (~70 KB), sans-emails: 3,000 e-mail SANs;
  - nc-x-sans: 1,000 excluded name constraints over 3,000 DNS SANs;
  - same-subject: 15 intermediates sharing one subject with other keys (no path).
Each verdict comes within MAX_SECONDS, the next normal client is served at once, stdout and
stderr stay well-formed, RSS stays bounded over repeated rounds, and SIGTERM gives exit 0.
  - FINDING MS-3 (test_FINDING_MS3_identity_display_truncated, fails until main.c is fixed):
    main.c renders the identity into a 4,096-byte buffer and cuts it silently: with 4,000
    DNS SANs the dns_names line stops mid-name and the spiffe_id and version lines are
    missing, with no marker; the cut output has no final newline, so the NEXT client's
    first stdout line is glued to the fragment ("htthttp.request.tls.client.verified: ...")."""
import ssl
import time

import mslib as M

A, L = M.A, M.L
ST = {}
MAX_SECONDS = 5.0
RSS_GROWTH_LIMIT_KIB = 16 * 1024

EXPECT = {           # None: either verdict is acceptable, only time and survival matter
    "chain-121": 0, "big-40k": 200, "big-60k": 200, "big-100k": None, "big-200k": 0,
    "sans-4000": 200, "sans-emails": 200, "nc-x-sans": None, "same-subject": 0,
}


def setup():
    pki = L.PKI()
    ca = A.TestCA(pki)
    key = A.Key(name="leaf")
    ikey = A.Key(name="int")
    t0 = time.monotonic()
    chains = A.oversized_chains(ca, key, ikey,
                                sans_4000_uris=["spiffe://mtls.test/sans-4000"])
    L.log("    certificates made in %.1fs" % (time.monotonic() - t0))
    ST.update(pki=pki, chains=chains, key=key,
              policy=M.policy_file("rav", trust=[pki.path("root-ca.pem")]))


def attempt(srv, name, maxver=None):
    ctx = M.ctx_for(ST["chains"][name], ST["key"].path, maxver=maxver)
    return M.get(srv.port, ctx, "/" + name, timeout=15)


def test_each_answered_in_bounded_time():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    times = []
    n_ok = 0
    for maxver in (None, ssl.TLSVersion.TLSv1_2):
        for name, want in EXPECT.items():
            label = name + ("/tls1.2" if maxver else "")
            st, body, t, err = attempt(srv, name, maxver)
            n_ok += st == 200
            times.append("%s=%s/%.2fs" % (label, st or "refused", t))
            f.check(t < MAX_SECONDS, "%s: answered after %.2fs" % (label, t))
            if want is not None:
                f.check(st == want, "%s: status %d, want %s %s" % (label, st, want or "refused",
                                                                  err))
            if st == 200:
                subj = M.body_fields(body).get(M.SHOWN[1], b"")
                f.check(subj == ("CN=%s" % name).encode(), "%s: subject %r" % (label,
                                                                               subj[:80]))
            # the single-connection server must be free again at once
            st2, _, t2, err2 = M.get(srv.port, M.basic_ctx(ST["pki"]), "/after-" + name)
            f.check(st2 == 200 and t2 < 2, "%s: next client %d in %.2fs %s" % (label, st2, t2,
                                                                             err2))
            n_ok += st2 == 200
            f.check(srv.proc.alive(), "%s: minimal-server died" % label)
    L.log("    " + ", ".join(times))
    time.sleep(0.2)
    verdicts = srv.verdicts()
    f.check(any(b"too many" in m.lower() or b"chain" in m.lower() for a, m in verdicts
                if not a), "no verdict names the over-long chain: %r" % [
                    m[:100] for a, m in verdicts if not a])
    subjects = [ln for ln in srv.stdout_lines()
                if ln.startswith(M.SHOWN[1].encode() + b": ")]
    f.check(len(subjects) == n_ok, "%d identities printed for %d accepted clients" % (
        len(subjects), n_ok))
    # stdout line shape is FINDING MS-3 for sans-4000 (cut at 4 KiB); checked there
    srv.check_stderr(f)
    srv.check_no_sanitizer(f)
    srv.stop_clean(f)
    f.done()


def test_repeated_rounds_memory_bounded():
    """Four rounds of the largest material, one client at a time (the server serves one
    connection at a time), then clean exit: RSS growth stays under the limit (not asserted
    in a sanitizer build)."""
    srv = M.Server(ST["policy"])
    M.get(srv.port, M.basic_ctx(ST["pki"]), "/warm")
    base = srv.proc.rss_kib()
    peak = base
    t0 = time.monotonic()
    lat = []
    for rnd in range(4):
        for name in ("big-100k", "sans-4000", "chain-121", "nc-x-sans", "big-60k"):
            attempt(srv, name)
            peak = max(peak, srv.proc.rss_kib())
        lat.append(M.get(srv.port, M.basic_ctx(ST["pki"]), "/during%d" % rnd)[2])
    after = srv.proc.rss_kib()
    L.log("    20 oversized handshakes in %.1fs; RSS base %d KiB, peak %d KiB, after %d KiB; "
          "normal requests after each round: %s" % (
              time.monotonic() - t0, base, peak, after, ", ".join("%.2fs" % x for x in lat)))
    f = L.Failures()
    if srv.sanitized():
        L.log("    (sanitizer build: RSS growth not asserted, ASan's quarantine keeps freed "
              "memory; LeakSanitizer checks the exit)")
    else:
        f.check(peak - base < RSS_GROWTH_LIMIT_KIB, "RSS grew by %d KiB" % (peak - base))
    f.check(all(t < 2 for t in lat), "normal requests: %r" % lat)
    srv.check_stderr(f)
    srv.stop_clean(f)
    f.done()


def test_FINDING_MS3_identity_display_truncated():
    """FINDING MS-3 (examples/minimal-server/main.c, serve/render_identity: char body[4096]):
    an identity longer than 4 KiB is cut without a marker; lines after the cut are missing,
    and the output does not end with a newline, which corrupts the next client's first line.
    Expected: every one of the nine lines present (all 4,000 names, or an explicit
    truncation marker), and each identity on its own lines."""
    srv = M.Server(ST["policy"])
    f = L.Failures()
    st, body, t, err = attempt(srv, "sans-4000")
    fields = M.body_fields(body)
    dns = fields.get(M.SHOWN[5], b"")
    f.check(st == 200, "status %d %s" % (st, err))
    f.check(list(fields) == M.SHOWN, "FINDING MS-3: response has lines %r (want the nine)" %
            [k.rsplit(".", 2)[-2:] for k in fields])
    f.check(dns.count(b".mtls.test") == 4000 and dns.endswith(b"]"),
            "FINDING MS-3: dns_names shows %d of 4000 names and ends %r" % (
                dns.count(b".mtls.test"), dns[-30:]))
    f.check(fields.get(M.SHOWN[7]) == b"spiffe://mtls.test/sans-4000",
            "FINDING MS-3: spiffe_id line %r" % fields.get(M.SHOWN[7]))
    f.check(body.endswith(b"\n"), "FINDING MS-3: the response body ends %r, not a newline" %
            body[-20:])
    st, body, t, err = M.get(srv.port, M.basic_ctx(ST["pki"]), "/next")
    f.check(st == 200, "next client: %d %s" % (st, err))
    time.sleep(0.2)
    first = [ln for ln in srv.stdout_lines() if b"tls.client.verified: " in ln]
    f.check(len(first) == 2 and first[1] == M.SHOWN[0].encode() + b": SUCCESS",
            "FINDING MS-3: the next client's first stdout line is %r" % (first[1:2],))
    srv.check_stdout(f, "FINDING MS-3: ")
    srv.stop_clean(f)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
