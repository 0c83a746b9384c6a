#!/usr/bin/env python3
"""caddy_differential.py MTLS_PROXY PKIDIR - mtls-proxy against a real Caddy 2.6.2.

One Caddy JSON config is run by Caddy (the reference) and then by mtls-proxy (the candidate;
MTLS_IT_TARGET=caddy makes the candidate a second Caddy, to check the harness: it must report
every case equal). Only the ports differ between the two runs.

The config: one server (listener) per client-auth mode and trust file -
  request, require                         (no trust)
  verify_if_given/<trust>, require_and_verify/<trust>   for each trust file of the manifest
each with one tls_connection_policy, and routes chosen by Host (= SNI):
  h<i>.mtls.test   reverse_proxy with header_up X-Mtls-<Name> {<placeholder i>} for every
                   placeholder of tests/caddy/placeholders.txt (one host per placeholder: Caddy
                   fails the whole request when one header value has a control byte)
  xf.mtls.test     reverse_proxy with header_up of the common {http.request.*} placeholders
every request also carries spoofed X-Forwarded-For and X-Mtls-Client-Subject headers, and the
upstream records what it receives, including X-Forwarded-For/-Proto/-Host.

Client matrix: every certificate case of the test PKI and a client without certificate, under
each mode (the verifying modes with the case's trust file), through curl. Per case the two sides
must agree on: handshake accepted/refused, the HTTP status of every request, and every
forwarded identity header byte for byte (values compared as the upstream received them, OWS
trimmed; ":<listener port>" is replaced by ":PORT"). A difference is allowed only when it is one of
DELIBERATE below. Prints "N cases, M equal, K deliberate differences" (K: cases whose only
differences are deliberate), the same count per compared value, and exits 1 on any other
difference (grouped by kind, with the cases that show it). MTLS_IT_KEEP=1 keeps both sides'
observations as TSV (caddy-ref.tsv, candidate-*.tsv) in the temp dir.
"""
import concurrent.futures
import os
import re
import subprocess
import time

import proxylib as L

# Deliberate differences from Caddy 2.6.2 (DESIGN.md sections 3 and 6), each with its reason.
DELIBERATE = {
    "no-cert-empty":
        "no client certificate: Caddy 2.6.2 forwards the literal placeholder text "
        "'{http.request.tls.client.X}', mtls-proxy renders every client.* placeholder empty "
        "(DESIGN.md section 3)",
    "rsa-public-key":
        "RSA key: Caddy's ASN.1 marshalling of the key fails and it forwards an empty "
        "public_key/public_key_sha256; libmtls renders the PKCS#1 RSAPublicKey DER Caddy meant "
        "(DESIGN.md section 3)",
    "control-bytes-escaped":
        "a value with a control byte (certificate_pem's newlines, a DN with LF/TAB/DEL): Go "
        "refuses the header and Caddy answers 502; mtls-proxy forwards the value with every "
        "control byte escaped as \\xHH (DESIGN.md section 6, header-safe identity)",
    "tls13-cipher-order":
        "TLS 1.3 cipher suite: Go's server picks by its own order (AES-128-GCM first), "
        "BoringSSL takes the client's order among the AES-GCM suites and offers no setting "
        "for TLS 1.3 suites; a connection property, not part of the client's identity "
        "(docs/mtls-proxy.md)",
    "spoof-stripped-everywhere":
        "the client's own X-Mtls-Client-Subject reaches the upstream through Caddy on every "
        "route that does not set that header itself; mtls-proxy removes it on every route of "
        "the listener, since some route fills it from a client placeholder (DESIGN.md section "
        "6, strip spoofable headers)",
}

COMMON = [
    "http.request.host",
    "http.request.hostport",
    "http.request.remote.host",
    "http.request.method",
    "http.request.uri",
    "http.request.uri.path",
    "http.request.uri.query",
    "http.request.scheme",
    "http.request.proto",
    "http.request.header.X-Test",
]
FORWARDED = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"]
SPOOF = ["X-Forwarded-For: 6.6.6.6", "X-Mtls-Client-Subject: CN=spoofed",
         "X-Test: differential test"]
MODES = ["request", "require", "verify_if_given", "require_and_verify"]
NOCERT = "no-client-cert"
PARALLEL = 3


def common_hname(ph):
    return "X-Req-" + "-".join(p[:1].upper() + p[1:]
                               for p in ph[len("http.request."):].replace("_", ".").split("."))


class Layout:
    """Servers, hosts and which server a (mode, client) case goes to."""

    def __init__(self, pki):
        self.pki = pki
        self.phs = L.placeholders()
        self.trusts = pki.trusts()
        self.servers = []                     # (server name, mode, trust or None)
        for mode in MODES:
            if mode in ("request", "require"):
                self.servers.append((mode, mode, None))
            else:
                for j, t in enumerate(self.trusts):
                    self.servers.append(("%s-t%d" % (mode, j), mode, t))
        self.hosts = ["h%d.mtls.test" % i for i in range(len(self.phs))] + ["xf.mtls.test"]

    def config(self, ports, upstream):
        servers = {}
        routes = []
        for i, ph in enumerate(self.phs):
            routes.append(L.route(L.reverse_proxy(upstream, set={L.hname(ph): "{%s}" % ph}),
                                  hosts=[self.hosts[i]]))
        routes.append(L.route(L.reverse_proxy(upstream, set={common_hname(ph): "{%s}" % ph
                                                             for ph in COMMON}),
                              hosts=["xf.mtls.test"]))
        for (name, mode, trust), port in zip(self.servers, ports):
            pol = {"client_authentication": L.client_auth(
                mode, self.pki.path(trust) if trust else None)}
            servers[name] = L.server(port, routes, [pol])
        return L.config(servers, self.pki)

    def cases(self):
        out = []
        for mode in MODES:
            for r in self.pki.rows + [None]:
                name = r["name"] if r else NOCERT
                trust = r["trust"] if r else "root-ca.pem"
                idx = next(k for k, s in enumerate(self.servers)
                           if s[1] == mode and (s[2] is None or s[2] == trust))
                out.append((mode, name, idx))
        return out


def run_side(kind, layout, label):
    """Starts `kind` (caddy or the candidate) on the layout and runs the client matrix.
    Returns {(mode, client): {host: (status, {header: value})}} and the server's stderr."""
    up = L.Upstream(label + "-upstream")
    ports = L.free_ports(len(layout.servers))
    cfg = layout.config(ports, up)
    t0 = time.monotonic()
    srv = L.start_server(cfg, name=label, kind=kind, timeout=30)
    L.log("%s (%s) listening on %d ports" % (label, kind, len(ports)))
    results = {}
    d = L.tmpfile(label + "-curl")
    os.makedirs(d, exist_ok=True)

    def one(case):
        mode, name, idx = case
        port = ports[idx]
        cd = os.path.join(d, "%s.%s" % (mode, name))
        os.makedirs(cd, exist_ok=True)
        with open(os.path.join(cd, "curl.cfg"), "w") as f:
            for i, h in enumerate(layout.hosts):
                f.write('url = "https://%s:%d/%s/%s/%d?case=%s"\n' % (h, port, mode, name, i,
                                                                      name))
                f.write('output = "%s/%d"\n' % (cd, i))
                f.write('resolve = "%s:%d:127.0.0.1"\n' % (h, port))
        args = ["curl", "-sS", "--http1.1", "--max-time", "20", "--connect-timeout", "5",
                "--cacert", layout.pki.server_ca, "--config", os.path.join(cd, "curl.cfg"),
                "-w", "%{http_code} %{url_effective}\n"]
        for h in SPOOF:
            args += ["-H", h]
        if name != NOCERT:
            c, k = layout.pki.client(name)
            args += ["--cert", c, "--key", k]
        p = subprocess.run(args, capture_output=True, timeout=120)
        codes = {}
        for line in p.stdout.decode("latin-1").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2:
                m = re.search(r"/(\d+)\?case=", parts[1])
                if m:
                    codes[int(m.group(1))] = int(parts[0])
        return case, codes, p.returncode, p.stderr.decode("utf-8", "replace")

    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as ex:
        outs = list(ex.map(one, layout.cases()))
    up.wait_requests(0)
    by_path = {}
    with up.lock:
        for r in up.requests:
            by_path.setdefault(r.path, []).append(r)
    for (mode, name, idx), codes, rc, err in outs:
        port = ports[idx]
        per_host = {}
        for i, h in enumerate(layout.hosts):
            status = codes.get(i, 0)
            vals = {}
            reqs = by_path.get("/%s/%s/%d" % (mode, name, i), [])
            if status == 200:
                if len(reqs) != 1:
                    vals["(upstream requests)"] = str(len(reqs))
                if reqs:
                    r = reqs[-1]
                    names = ([L.hname(layout.phs[i])] if i < len(layout.phs)
                             else [common_hname(ph) for ph in COMMON]) + FORWARDED
                    for hn in names:
                        v = r.get_all(hn)
                        if not v:
                            vals[hn] = "<absent>"
                        else:
                            vals[hn] = re.sub(r":%d(?!\d)" % port, ":PORT",
                                              " | ".join(L.escape(x) for x in v))
                    # no spoofed copy of an identity header may arrive
                    others = [n for n in r.names() if n.lower().startswith("x-mtls-")
                              and n.lower() != (L.hname(layout.phs[i]).lower()
                                                if i < len(layout.phs) else "")]
                    if others:
                        vals["(other X-Mtls headers)"] = ",".join(others)
            elif reqs:
                vals["(upstream requests)"] = str(len(reqs))
            per_host[h] = (status, vals)
        results[(mode, name)] = {"hosts": per_host, "curl_rc": rc, "curl_err": err}
    alive = srv.proc.alive()
    srv.stop()
    dump(results, L.tmpfile(label + ".tsv"))
    L.log("%s: %d cases in %.1fs" % (label, len(outs), time.monotonic() - t0))
    if not alive:
        raise AssertionError("%s died during the run:\n%s" % (label, srv.proc.stderr_text()[-3000:]))
    return results


def dump(results, path):
    """Writes one side's observations as TSV (kept with MTLS_IT_KEEP=1): mode/client, host,
    status, header, value."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        for (mode, name), r in sorted(results.items()):
            for h, (status, vals) in r["hosts"].items():
                if not vals:
                    f.write("%s/%s\t%s\t%d\t\t\n" % (mode, name, h, status))
                for k, v in sorted(vals.items()):
                    f.write("%s/%s\t%s\t%d\t%s\t%s\n" % (mode, name, h, status, k, v))


def classify(layout, mode, name, host, ph, cs, cv, ps, pv):
    """Kind of deliberate difference or None. cs/ps statuses, cv/pv values (None: no value)."""
    if ph and ph.startswith("http.request.tls.client.") and name == NOCERT and \
            cs == ps == 200 and cv == "{%s}" % ph and pv == "":
        return "no-cert-empty"
    if ph in ("http.request.tls.client.public_key", "http.request.tls.client.public_key_sha256") \
            and name == "rsa2048" and cs == ps == 200 and cv == "" and \
            re.fullmatch(r"[0-9a-f]{64,}", pv or ""):
        return "rsa-public-key"
    if ph == "http.request.tls.cipher_suite" and cs == ps == 200 and \
            cv == "TLS_AES_128_GCM_SHA256" and pv in ("TLS_AES_256_GCM_SHA384",
                                                      "TLS_CHACHA20_POLY1305_SHA256"):
        return "tls13-cipher-order"
    if host and ph == "(other X-Mtls headers)" and cs == ps == 200 and cv and pv is None:
        return "spoof-stripped-everywhere"
    if ph and cs == 502 and ps == 200 and pv is not None and \
            re.search(r"\\\\x[0-9a-fA-F]{2}", pv) and \
            not re.search(r"\\[tnr]|(?<!\\)\\x", pv.replace("\\\\", "")):
        # Caddy refused the header; ours has \xHH escapes (escape() shows them as \\xHH) and no
        # raw control byte (which escape() would show as \t \n \r or a single-backslash \x)
        return "control-bytes-escaped"
    return None


def compare(layout, ref, cand, pki):
    """Returns (cases, equal, deliberate, {kind: rows}, {pattern: [cases]}, other failures).
    A pattern is one kind of difference: (what, caddy side, candidate side)."""
    n = equal = deliberate = 0
    failures = []
    patterns = {}
    kinds = {}
    rows = {"equal": 0, "deliberate": 0, "differ": 0}
    for mode, name, _ in layout.cases():
        n += 1
        case = "%s/%s" % (mode, name)
        a, b = ref[(mode, name)], cand[(mode, name)]
        diffs, dkinds = [], []
        acc_a = any(s != 0 for s, _ in a["hosts"].values())
        acc_b = any(s != 0 for s, _ in b["hosts"].values())
        if acc_a != acc_b:
            diffs.append(("handshake", "accepted" if acc_a else "refused",
                          "accepted" if acc_b else "refused"))
        # the manifest's verdict under require_and_verify / verify_if_given
        if mode in ("require_and_verify", "verify_if_given") and name != NOCERT:
            want = pki.case(name)["expect"] == "accept"
            if acc_a != want:
                failures.append("%s: Caddy %s, manifest expects %s" % (
                    case, "accepted" if acc_a else "refused", pki.case(name)["expect"]))
        if acc_a == acc_b:
            for i, h in enumerate(layout.hosts):
                ph = layout.phs[i] if i < len(layout.phs) else None
                hk = ph or h
                cs, cvals = a["hosts"][h]
                ps, pvals = b["hosts"][h]
                if cs != ps:
                    hn = L.hname(ph) if ph else None
                    kind = classify(layout, mode, name, h, ph, cs, None, ps, pvals.get(hn))
                    rows["deliberate" if kind else "differ"] += 1
                    if kind:
                        dkinds.append(kind)
                        continue
                    diffs.append(("%s: status" % hk, "%d" % cs, "%d %s" % (
                        ps, pvals.get(hn, "") if hn else "")))
                    continue
                rows["equal"] += 1          # the status
                for k in sorted(set(cvals) | set(pvals)):
                    cv, pv = cvals.get(k), pvals.get(k)
                    if cv == pv:
                        rows["equal"] += 1
                        continue
                    kph = ph if (ph and k == L.hname(ph)) else None
                    if k == "(other X-Mtls headers)":
                        kph = k
                    kind = classify(layout, mode, name, h, kph, cs, cv, ps, pv)
                    rows["deliberate" if kind else "differ"] += 1
                    if kind:
                        dkinds.append(kind)
                        continue
                    diffs.append(("%s: %s" % (hk, k), cv, pv))
        for d in diffs:
            patterns.setdefault(d, []).append(case)
        for k in dkinds:
            kinds[k] = kinds.get(k, 0) + 1
        if diffs:
            continue
        if dkinds:
            deliberate += 1
        else:
            equal += 1
    return n, equal, deliberate, kinds, patterns, failures, rows


def test_differential():
    if not L.have_caddy():
        raise L.Skip("caddy not installed and cannot be installed")
    ver = subprocess.run(["caddy", "version"], capture_output=True, text=True).stdout.strip()
    pki = L.PKI()
    layout = Layout(pki)
    L.log("caddy %s; %d placeholders + %d common, %d servers, %d cases" % (
        ver, len(layout.phs), len(COMMON), len(layout.servers), len(layout.cases())))
    ref = run_side("caddy", layout, "caddy-ref")
    cand = run_side(L.TARGET, layout, "candidate-" + L.TARGET)
    n, equal, deliberate, kinds, patterns, failures, rows = compare(layout, ref, cand, pki)
    L.log("deliberate differences allowed (rows): " +
          (", ".join("%s x%d" % kv for kv in sorted(kinds.items())) or "none"))
    for k in sorted(kinds):
        L.log("  %s: %s" % (k, DELIBERATE[k]))
    ndiff = len({c for cases in patterns.values() for c in cases})
    L.log("values compared (statuses and forwarded headers of accepted cases): %d, %d equal, "
          "%d deliberate differences, %d differ" % (sum(rows.values()), rows["equal"],
                                                     rows["deliberate"], rows["differ"]))
    L.log("caddy vs %s: %d cases, %d equal, %d deliberate differences%s" % (
        L.TARGET, n, equal, deliberate, ", %d differ" % ndiff if ndiff else ""))
    if patterns or failures:
        msg = []
        for (what, cv, pv), cases in sorted(patterns.items(), key=lambda kv: -len(kv[1])):
            msg.append("%d case(s), %s\n      caddy:     %s\n      candidate: %s\n      "
                       "cases: %s%s" % (len(cases), what, cv, pv, " ".join(cases[:6]),
                                        " ..." if len(cases) > 6 else ""))
        limit = int(os.environ.get("MTLS_IT_MAX", "40"))
        raise AssertionError("%d case(s) differ in %d way(s):\n  %s%s" % (
            ndiff + len(failures), len(patterns) + len(failures),
            "\n  ".join((failures + msg)[:limit]),
            "\n  ... %d more" % (len(msg) + len(failures) - limit)
            if len(msg) + len(failures) > limit else ""))
    assert n == len(MODES) * (len(pki.rows) + 1), n


if __name__ == "__main__":
    L.run_tests(globals())
