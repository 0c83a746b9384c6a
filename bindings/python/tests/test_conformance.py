"""Every case of the shared conformance table (bindings/conformance/README.md), through the
Python API, byte for byte; the input forms (PEM text, one DER, a list of DER, PEM bytes) and
the time forms (unix seconds, aware datetime) rotate over the cases."""

import base64
import datetime
import hashlib
import ssl  # noqa: F401  -- Python's OpenSSL is loaded in this process too, on purpose
import unittest

import mtls

import support


def chain_input(c, i):
    """The chain of case `c` in one of the accepted input forms (chosen by `i`)."""
    ders = support.ders(c)
    form = i % 3
    if form == 0:
        return "pem", c["chain_pem"]
    if form == 1:
        return "der_list", ders
    if len(ders) == 1:
        return "der", ders[0]
    if not ders:
        return "none", None
    return "pem_bytes", c["chain_pem"].encode("ascii")


class ConformanceTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = support.table()
        cls.contexts = {}

    @classmethod
    def tearDownClass(cls):
        for ctx in cls.contexts.values():
            ctx.close()

    def ctx(self, policy):
        if policy not in self.contexts:
            self.contexts[policy] = mtls.Context(policy)
        return self.contexts[policy]

    def test_header(self):
        self.assertEqual(self.t["format"], 1)
        self.assertEqual(self.t["library_version"], mtls.version())
        self.assertEqual(self.t["tls_library"], mtls.tls_library())
        self.assertEqual(self.t["placeholders"], mtls.placeholder_names())
        self.assertGreaterEqual(len(self.t["cases"]), 190)

    def test_every_case(self):
        forms = set()
        for i, c in enumerate(self.t["cases"]):
            with self.subTest(case=c["name"]):
                form, chain = chain_input(c, i)
                forms.add(form)
                at = c["at"] if i % 2 == 0 else datetime.datetime.fromtimestamp(
                    c["at"], datetime.timezone.utc)
                ctx = self.ctx(c["policy"])
                r = ctx.verify(chain, at=at, policy_index=c["policy_index"])
                self.check(c, r)
                for s in c.get("select", []):
                    want = None if s["index"] < 0 else s["index"]
                    self.assertEqual(ctx.select(s["sni"], s["remote_ip"], s["local_ip"]), want,
                                     s)
        self.assertEqual(forms, {"pem", "der_list", "der", "none", "pem_bytes"})

    def check(self, c, r):
        e = c["expect"]
        self.assertIs(r.accepted, e["accepted"])
        self.assertIs(r.verified, e["verified"])
        self.assertIs(r.has_certificate, e["has_certificate"])
        self.assertEqual(r.reason, e["reason"])
        self.assertEqual(r.reason_code, e["reason_code"])
        self.assertEqual(int(r.category), e["category"])
        self.assertEqual(r.message, e["message"])
        self.assertEqual(int(r.mode), e["mode"])
        self.assertEqual(len(r.chain), e["num_chain"])
        self.assertEqual(r.policy_index, c["policy_index"])
        want = {k: base64.b64decode(v) for k, v in e["identity_b64"].items()}
        self.assertEqual(r.identity_bytes, want)  # every key, no extra key, same bytes
        self.assertEqual(r.identity, {k: v.decode("utf-8", "surrogateescape")
                                      for k, v in want.items()})
        for k, v in r.identity.items():
            self.assertEqual(v.encode("utf-8", "surrogateescape"), want[k])  # lossless
        ders = support.ders(c)
        self.assertEqual(r.presented, ders)
        if r.verified:
            self.assertEqual(r.chain[0], ders[0])
        if r.accepted:
            self.assertIsNone(r.error_depth)
        self.check_typed(r, want, ders)

    def check_typed(self, r, want, ders):
        p = "http.request.tls.client."
        if p + "subject" not in want or not ders:
            for f in ("subject", "issuer", "serial", "fingerprint", "not_before", "not_after",
                      "spiffe_id"):
                self.assertIsNone(getattr(r, f), f)
            self.assertEqual((r.san_dns_names, r.san_emails, r.san_ips, r.san_uris),
                             ([], [], [], []))
            return
        self.assertEqual(r.subject, want[p + "subject"].decode("utf-8", "surrogateescape"))
        self.assertEqual(r.issuer, want[p + "issuer"].decode("utf-8", "surrogateescape"))
        self.assertEqual(str(r.serial), want[p + "serial"].decode())
        # independent of libmtls: SHA-256 of the leaf as sent
        self.assertEqual(r.fingerprint, hashlib.sha256(ders[0]).hexdigest())
        for attr, key in (("san_dns_names", "dns_names"), ("san_emails", "emails"),
                          ("san_uris", "uris"), ("san_ips", "ips")):
            items = [str(x) for x in getattr(r, attr)]
            forms = [want["%ssan.%s.%d" % (p, key, n)].decode() for n in range(len(items))]
            self.assertEqual(items, forms, attr)
            self.assertNotIn("%ssan.%s.%d" % (p, key, len(items)), want)
            self.assertEqual("[" + " ".join(items) + "]", want[p + "san." + key].decode())
        for attr in ("not_before", "not_after"):
            t = getattr(r, attr)
            self.assertEqual(t.utcoffset(), datetime.timedelta(0))
            self.assertEqual(t.strftime("%Y-%m-%dT%H:%M:%SZ"), want[p + attr].decode())
        spiffe = want[p + "spiffe_id"].decode()
        self.assertEqual(r.spiffe_id, spiffe or None)


if __name__ == "__main__":
    unittest.main()
