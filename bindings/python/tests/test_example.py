"""examples/https_server.py end to end: the server on 127.0.0.1 (a free port), clients made
with curl from the test PKI; libmtls -- not OpenSSL -- must be the one deciding (OpenSSL would
refuse the expired and serverAuth-only clients in the handshake, not answer 403 with
libmtls's reason; and it would never see the intermediate-less chain's missing issuer as
UNKNOWN_ISSUER from libmtls)."""

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import support

EXAMPLE = os.path.join(support.PACKAGE_ROOT, "examples", "https_server.py")


class HttpsServerExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("curl") is None:
            raise unittest.SkipTest("curl is not installed")
        cls.m = support.manifest()
        cls.tmp = tempfile.TemporaryDirectory()
        policy = os.path.join(cls.tmp.name, "policy.json")
        with open(policy, "w") as f:
            json.dump({"mode": "require_and_verify",
                       "trusted_ca_certs_pem_files": [cls.m["basic"]["trust"]]}, f)
        cls.proc = subprocess.Popen(
            [sys.executable, EXAMPLE, "--policy", policy, "--cert", support.pki("server.pem"),
             "--key", support.pki("server.key.pem"), "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=support.sanitizer_env())
        cls.lines = queue.Queue()
        cls.reader = threading.Thread(target=cls.pump, daemon=True)
        cls.reader.start()
        cls.port = None
        first = cls.read_line(30)
        try:
            cls.port = int(first.split("127.0.0.1:")[1].split()[0])
        except (IndexError, ValueError):
            cls.stop()
            raise AssertionError("the server did not start: %r" % first)

    @classmethod
    def pump(cls):
        for line in cls.proc.stdout:
            cls.lines.put(line)

    @classmethod
    def read_line(cls, timeout):
        try:
            return cls.lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    @classmethod
    def stop(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()  # by PID: only the server this test started
            try:
                cls.proc.wait(10)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait(10)
        cls.reader.join(10)
        cls.proc.stdout.close()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "proc", None) is not None:
            cls.stop()
        cls.tmp.cleanup()

    def curl(self, case=None, *extra):
        cmd = ["curl", "-sk", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"]
        if case is not None:
            cmd += ["--cert", self.m[case]["chain"], "--key", self.m[case]["key"]]
        cmd += list(extra) + ["https://127.0.0.1:%d/" % self.port]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                             env=support.without_sanitizer())
        body, _, code = out.stdout.rpartition("\n")
        return int(code or 0), (json.loads(body) if body.strip() else None)

    def log_line(self):
        return self.read_line(20).strip()

    def test_clients(self):
        # accepted: a leaf sent alone, a leaf with its intermediate (the whole chain must
        # reach libmtls), over TLS 1.3 and 1.2
        for case, extra in (("basic", ()), ("via-int-sent", ()), ("basic", ("--tls-max", "1.2")),
                            ("san", ())):
            with self.subTest(case=case, extra=extra):
                code, body = self.curl(case, *extra)
                self.assertEqual(code, 200, body)
                self.assertTrue(body["accepted"] and body["verified"])
                self.assertIn("CN=", body["subject"])
                self.assertEqual(body["identity"]["http.request.tls.client.verified"], "SUCCESS")
                line = self.log_line()
                self.assertTrue(line.startswith("accepted 127.0.0.1: subject="), line)
                self.assertIn(body["fingerprint"], line)
        code, body = self.curl("san")
        self.assertEqual(body["san_dns_names"], ["alice.example.org", "www.alice.example.org"])
        self.log_line()
        # refused, with libmtls's reason
        for case, reason in (("expired", "CERT_EXPIRED"), ("eku-server", "WRONG_EKU"),
                             ("via-int-not-sent", "UNKNOWN_ISSUER"),
                             ("untrusted-ca", "UNKNOWN_ISSUER"), (None, "NO_CERTIFICATE")):
            with self.subTest(case=case):
                code, body = self.curl(case)
                self.assertEqual(code, 403, body)
                self.assertEqual(body["reason"], reason)
                line = self.log_line()
                self.assertTrue(line.startswith("refused 127.0.0.1: " + reason), line)
        self.assertIsNone(self.proc.poll(), "the server died")


if __name__ == "__main__":
    unittest.main()
