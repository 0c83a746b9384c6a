"""Errors: every failure raises an mtls.Error subclass carrying libmtls's code, name, category,
message, where and JSON position."""

import datetime
import os
import pickle
import tempfile
import unittest

import mtls

import support


class PolicyErrors(unittest.TestCase):
    def load_error(self, text):
        with self.assertRaises(mtls.Error) as cm:
            mtls.Context(text)
        return cm.exception

    def test_json_syntax_has_one_based_position(self):
        e = self.load_error('{"mode": }')
        self.assertIsInstance(e, mtls.PolicyError)
        self.assertEqual((e.code, e.name, e.category), (10, "JSON_SYNTAX", mtls.Category.POLICY))
        self.assertEqual((e.line, e.column), (1, 10))  # the '}' is the 10th character
        self.assertIn("malformed JSON", e.message)
        self.assertTrue(e.where)  # libmtls source location
        self.assertEqual(str(e), "JSON_SYNTAX: " + e.message)

    def test_json_syntax_on_a_later_line(self):
        e = self.load_error('{\n  "mode": "require",\n  oops\n}')
        self.assertEqual(e.name, "JSON_SYNTAX")
        self.assertEqual(e.line, 3)
        self.assertEqual(e.column, 6)  # jansson: the last character of the token `oops`
        self.assertIn("oops", e.message)
        e = self.load_error("")
        self.assertEqual((e.name, e.line, e.column), ("JSON_SYNTAX", 1, 1))

    def test_field_errors_have_no_position(self):
        e = self.load_error('{"mode":"require","bogus":1}')
        self.assertEqual((e.name, e.line, e.column), ("UNKNOWN_FIELD", -1, -1))
        self.assertIn('"bogus"', e.message)
        self.assertEqual(self.load_error('{"mode":"weird"}').name, "UNKNOWN_MODE")
        self.assertEqual(self.load_error('{"mode":"require_and_verify"}').name,
                         "NO_TRUST_FOR_VERIFY")

    def test_trust_errors(self):
        e = self.load_error('{"trusted_ca_certs":["!!!"]}')
        self.assertIsInstance(e, mtls.TrustError)
        self.assertEqual((e.name, e.category), ("BASE64_INVALID", mtls.Category.TRUST))

    def test_unreadable_policy_file_names_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            missing = os.path.join(d, "no-such-policy.json")
            with self.assertRaises(mtls.FileError) as cm:
                mtls.Context.from_file(missing)
            e = cm.exception
            self.assertIsInstance(e, OSError)
            self.assertEqual((e.code, e.name, e.category), (60, "FILE_OPEN", mtls.Category.IO))
            self.assertIn(missing, e.message)
            with self.assertRaises(mtls.FileError) as cm:  # a directory opens, then fails
                mtls.Context.from_file(d)
            self.assertEqual(cm.exception.name, "FILE_READ")
            self.assertIn(d, cm.exception.message)

    def test_unreadable_trust_file_names_the_file(self):
        missing = "/nonexistent-mtls-test/ca.pem"
        e = self.load_error('{"trusted_ca_certs_pem_files":["%s"]}' % missing)
        self.assertEqual(e.name, "FILE_OPEN")
        self.assertIn(missing, e.message)
        self.assertIn("trusted_ca_certs_pem_files[0]", e.message)

    def test_server_selection_errors(self):
        config = {"apps": {"http": {"servers": {
            "srv0": {"tls_connection_policies": [{"client_authentication": {"mode": "require"}}]},
            "srv1": {"tls_connection_policies": [{"client_authentication": {"mode": "request"}}]},
        }}}}
        self.assertEqual(self.load_error(config).name, "AMBIGUOUS_SERVER")
        with self.assertRaises(mtls.PolicyError) as cm:
            mtls.Context(config, server="nope")
        self.assertEqual(cm.exception.name, "UNKNOWN_SERVER")
        with mtls.Context(config, server="srv1") as ctx:
            self.assertEqual(ctx.policy_mode(0), mtls.Mode.REQUEST)


class UsageErrors(unittest.TestCase):
    def setUp(self):
        self.ctx = mtls.Context('{"mode":"request"}')

    def tearDown(self):
        self.ctx.close()

    def test_policy_index_out_of_range(self):
        with self.assertRaises(mtls.UsageError) as cm:
            self.ctx.verify(None, policy_index=3)
        self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(cm.exception.name, "INVALID_ARGUMENT")
        self.assertIn("out of range", cm.exception.message)
        with self.assertRaises(mtls.UsageError):
            self.ctx.policy_mode(1)

    def test_bad_chains(self):
        with self.assertRaises(mtls.TrustError) as cm:
            self.ctx.verify("not a PEM document")
        self.assertEqual(cm.exception.name, "PEM_NO_CERTIFICATE")
        with self.assertRaises(mtls.TrustError) as cm:
            self.ctx.verify("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n")
        self.assertEqual(cm.exception.name, "PEM_MALFORMED")
        with self.assertRaises(TypeError):
            self.ctx.verify(12345)
        with self.assertRaises(TypeError):
            self.ctx.verify(["PEM text is not DER"])

    def test_bad_times(self):
        with self.assertRaises(ValueError):
            self.ctx.verify(None, at=datetime.datetime(2030, 1, 1))  # naive
        with self.assertRaises(TypeError):
            self.ctx.verify(None, at="2030-01-01")
        with self.assertRaises(TypeError):
            self.ctx.verify(None, at=True)

    def test_settings(self):
        for bad in (-1, 65):
            with self.assertRaises(mtls.UsageError) as cm:
                self.ctx.set_max_depth(bad)
            self.assertEqual(cm.exception.name, "INVALID_ARGUMENT")
            self.assertTrue(cm.exception.where)  # raised by libmtls
        with self.assertRaises(mtls.UsageError):
            self.ctx.set_purpose("email")
        self.ctx.set_purpose("server")
        self.ctx.set_max_depth(3)
        self.ctx.verify(None)
        with self.assertRaises(mtls.UsageError) as cm:  # configured before use only
            self.ctx.set_purpose("client")
        self.assertIn("in use", cm.exception.message)

    def test_closed_context(self):
        self.ctx.close()
        self.ctx.close()  # idempotent
        self.assertTrue(self.ctx.closed)
        for call in (lambda: self.ctx.verify(None), lambda: self.ctx.select("a"),
                     lambda: self.ctx.describe(), lambda: self.ctx.num_policies,
                     lambda: self.ctx.set_max_depth(1)):
            with self.assertRaises(mtls.UsageError):
                call()

    def test_inspect_errors(self):
        with self.assertRaises(mtls.VerifyError) as cm:
            mtls.inspect(b"\x30\x03\x02\x01\x05")
        self.assertEqual(cm.exception.name, "CERT_PARSE")
        with self.assertRaises(mtls.DeniedError) as cm:
            mtls.inspect(None)
        self.assertEqual(cm.exception.name, "NO_CERTIFICATE")


class ErrorTable(unittest.TestCase):
    def test_names_and_categories(self):
        self.assertEqual(mtls.error_name(0), "OK")
        self.assertEqual(mtls.error_name(103), "CERT_EXPIRED")
        self.assertEqual(mtls.error_name(99999), "UNKNOWN")
        self.assertEqual(mtls.category_of(103), mtls.Category.VERIFY)
        self.assertEqual(mtls.category_of(70), mtls.Category.NOMEM)
        self.assertEqual(mtls.strerror(105), "certificate signed by unknown authority")

    def test_subclass_per_category(self):
        for code, cls, base in ((1, mtls.UsageError, ValueError), (60, mtls.FileError, OSError),
                                (70, mtls.NoMemoryError, MemoryError),
                                (10, mtls.PolicyError, mtls.Error),
                                (40, mtls.TrustError, mtls.Error),
                                (103, mtls.VerifyError, mtls.Error),
                                (100, mtls.DeniedError, mtls.Error),
                                (71, mtls.InternalError, mtls.Error)):
            e = mtls._errors.make_error(code)
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, base)
            self.assertEqual(e.message, mtls.strerror(code))

    def test_pickle_round_trip(self):
        try:
            mtls.Context('{"mode": }')
        except mtls.Error as e:
            back = pickle.loads(pickle.dumps(e))
            self.assertIs(type(back), type(e))
            self.assertEqual((back.code, back.message, back.line, back.column),
                             (e.code, e.message, e.line, e.column))


class ConformanceRefusalsAreNotErrors(unittest.TestCase):
    def test_refused_client_is_a_result(self):
        c = support.case("expired/require_and_verify")
        with mtls.Context(c["policy"]) as ctx:
            r = ctx.verify(support.ders(c), at=c["at"])
        self.assertFalse(r.accepted)
        self.assertEqual((r.reason, r.category), ("CERT_EXPIRED", mtls.Category.VERIFY))
        self.assertEqual(r.error_depth, 0)


if __name__ == "__main__":
    unittest.main()
