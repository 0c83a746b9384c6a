"""The API beyond the table: inspect, select, describe, settings, input forms, lifetime."""

import datetime
import gc
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import unittest
import weakref

import mtls

import support


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


class Library(unittest.TestCase):
    def test_version_and_tls_library(self):
        self.assertRegex(mtls.version(), r"^\d+\.\d+\.\d+")
        self.assertEqual(mtls.version(), mtls.__version__)
        self.assertTrue(support.is_expected_tls_library(mtls.tls_library()),
                        (mtls.tls_library(), support.EXPECTED_TLS_LIBRARY))
        info = mtls.library_info()
        self.assertTrue(os.path.exists(info["path"]), info)
        if os.environ.get("MTLS_LIBRARY"):
            self.assertEqual(os.path.realpath(info["path"]),
                             os.path.realpath(os.environ["MTLS_LIBRARY"]))

    def test_installed_copy_is_tested(self):
        if os.environ.get("MTLS_EXPECT_INSTALLED") != "1":
            self.skipTest("not run from the meson venv")
        self.assertTrue(mtls.__file__.startswith(sys.prefix), mtls.__file__)
        import importlib.metadata
        self.assertEqual(importlib.metadata.version("mtls"), mtls.__version__)

    def test_placeholders(self):
        names = mtls.placeholder_names()
        self.assertIn("http.request.tls.client.subject", names)
        self.assertIn("http.request.tls.client.san.dns_names", names)
        self.assertEqual(tuple(names), mtls.PLACEHOLDERS)


class Inspect(unittest.TestCase):
    def test_forms(self):
        m = support.manifest()["san"]
        pem = read(m["cert"], "r")
        der = read(support.pki("san.der"))
        a = mtls.inspect(pem)
        for other in (mtls.inspect(der), mtls.inspect([der]), mtls.inspect(pathlib.Path(m["cert"])),
                      mtls.inspect(pem.encode()), mtls.inspect(bytearray(der))):
            self.assertEqual(other.identity_bytes, a.identity_bytes)
        self.assertTrue(a.accepted)
        self.assertFalse(a.verified)
        self.assertEqual(a.mode, mtls.Mode.REQUIRE)
        self.assertEqual(a.subject, "CN=alice,O=Example Org")
        self.assertEqual(a.san_dns_names, ["alice.example.org", "www.alice.example.org"])
        self.assertEqual(a.san_emails, ["alice@example.org"])
        self.assertEqual([str(i) for i in a.san_ips], ["192.0.2.10", "2001:db8::10", "192.0.2.11"])
        self.assertEqual(a.san_uris, ["spiffe://example.org/ns/prod/sa/alice"])
        self.assertEqual(a.spiffe_id, "spiffe://example.org/ns/prod/sa/alice")
        self.assertEqual(a.fingerprint, hashlib.sha256(der).hexdigest())
        self.assertEqual(a.presented, [der])
        self.assertEqual(a.not_before.tzinfo, datetime.timezone.utc)
        self.assertLess(a.not_before, a.not_after)
        self.assertIsInstance(a.serial, int)
        self.assertEqual(a.identity["http.request.tls.client.verified"], "UNVERIFIED")

    def test_pem_with_a_key_block(self):
        m = support.manifest()["basic"]
        both = read(m["key"], "r") + read(m["cert"], "r")
        self.assertEqual(mtls.inspect(both).subject, mtls.inspect(read(m["cert"], "r")).subject)

    def test_identity_decoding_is_lossless(self):
        raw = b"CN=caf\xc3\xa9 \xff\x00\n"
        s = mtls._context._decode(raw)
        self.assertEqual(s.encode("utf-8", "surrogateescape"), raw)
        self.assertIn("café", s)


class Policies(unittest.TestCase):
    def test_multi_policy_select_and_modes(self):
        c = support.case("multi/basic@1")
        with mtls.Context(c["policy"]) as ctx:
            self.assertEqual(ctx.num_policies, 2)
            self.assertEqual(len(ctx), 2)
            self.assertEqual(ctx.policy_mode(0), mtls.Mode.REQUEST)
            self.assertEqual(ctx.policy_mode(1), mtls.Mode.REQUIRE_AND_VERIFY)
            self.assertEqual(ctx.select("a.example"), 0)
            self.assertEqual(ctx.select("b.example", "127.0.0.1"), 1)
            self.assertEqual(ctx.select("B.EXAMPLE", remote_ip="127.9.9.9", local_ip="::1"), 1)
            self.assertIsNone(ctx.select("b.example", "192.0.2.1"))
            self.assertIsNone(ctx.select(None))
            idx = ctx.select("b.example", "127.0.0.1")
            r = ctx.verify(support.ders(c), at=c["at"], policy_index=idx)
            self.assertTrue(r.accepted and r.verified)
            self.assertEqual(r.policy_index, 1)
            self.assertIsNone(ctx.policy_field(0, "alpn"))

    def test_describe(self):
        m = support.manifest()["basic"]
        policy = {"mode": "verify_if_given", "trusted_ca_certs_pem_files": [m["trust"]]}
        with mtls.Context(policy) as ctx:
            d = ctx.describe()
        self.assertEqual(len(d["policies"]), 1)
        p = d["policies"][0]
        self.assertEqual(p["mode"], "verify_if_given")
        self.assertTrue(p["mode_explicit"])
        self.assertEqual([a["sha256"] for a in p["trust_anchors"]],
                         [hashlib.sha256(read(support.pki("root-ca.der"))).hexdigest()])

    def test_from_file_and_relative_paths(self):
        m = support.manifest()["basic"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "policy.json")
            with open(path, "w") as f:
                json.dump({"mode": "require_and_verify",
                           "trusted_ca_certs_pem_files": [m["trust"]]}, f)
            with mtls.Context.from_file(pathlib.Path(path)) as ctx:
                self.assertTrue(ctx.verify(read(m["chain"], "r")).accepted)  # at = now
            for ctx in (mtls.Context(pathlib.Path(path)), mtls.Context.from_file(path.encode())):
                gc.collect()
                self.assertEqual(ctx.num_policies, 1)
                ctx.set_max_depth(2)  # queries do not freeze the settings, verify() does
                self.assertTrue(ctx.verify(read(m["chain"], "r")).accepted)
                ctx.close()

    def test_purpose_and_max_depth(self):
        m = support.manifest()
        policy = {"trusted_ca_certs_pem_files": [m["eku-server"]["trust"]]}
        server_only = read(m["eku-server"]["chain"], "r")
        with mtls.Context(policy) as ctx:
            self.assertEqual(ctx.verify(server_only).reason, "WRONG_EKU")
        with mtls.Context(policy) as ctx:
            ctx.set_purpose(mtls.Purpose.SERVER)
            self.assertTrue(ctx.verify(server_only).accepted)
        via_int = read(m["via-int-sent"]["chain"], "r")
        with mtls.Context(policy) as ctx:
            r = ctx.verify(via_int)
            self.assertTrue(r.accepted)
            self.assertEqual(len(r.chain), 3)
        with mtls.Context(policy) as ctx:
            ctx.set_max_depth(0)
            self.assertEqual(ctx.verify(via_int).reason, "CHAIN_TOO_LONG")

    def test_times(self):
        c = support.case("basic/require_and_verify")
        with mtls.Context(c["policy"]) as ctx:
            ders = support.ders(c)
            at = datetime.datetime.fromtimestamp(c["at"], datetime.timezone.utc)
            plus2 = datetime.timezone(datetime.timedelta(hours=2))
            same = [ctx.verify(ders, at=x).identity_bytes
                    for x in (c["at"], float(c["at"]) + 0.5, at, at.astimezone(plus2))]
            self.assertTrue(all(s == same[0] for s in same))
            self.assertTrue(ctx.verify(ders).accepted)  # now
            late = ctx.verify(ders, at=at + datetime.timedelta(days=3650))
            self.assertEqual(late.reason, "CERT_EXPIRED")
            self.assertEqual(ctx.verify(ders, at=0).reason, "CERT_NOT_YET_VALID")

    def test_result_owns_nothing(self):
        c = support.case("san/require_and_verify")
        ctx = mtls.Context(c["policy"])
        r = ctx.verify(c["chain_pem"], at=c["at"])
        ctx.close()
        self.assertEqual(r.subject, "CN=alice,O=Example Org")  # still readable
        self.assertIn("accepted", repr(r))
        with self.assertRaises(AttributeError):
            r.extra = 1  # __slots__: a plain record

    def test_garbage_collected_context_is_freed(self):
        ctx = mtls.Context('{"mode":"request"}')
        fin = ctx._finalizer
        ref = weakref.ref(ctx)
        del ctx
        gc.collect()
        self.assertIsNone(ref())
        self.assertFalse(fin.alive)


if __name__ == "__main__":
    unittest.main()
