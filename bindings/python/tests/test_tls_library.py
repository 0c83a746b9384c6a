"""Which TLS library libmtls's calls reach inside Python (DESIGN.md section 4): BoringSSL after
`import ssl` (Python's OpenSSL 3 in the same process), and still BoringSSL when an OpenSSL
libcrypto sits in the global symbol scope -- thanks to RTLD_DEEPBIND, which the last test
shows is what makes the difference. Each check runs in a fresh interpreter."""

import ctypes
import subprocess
import sys
import textwrap
import unittest

import mtls

import support


def run(code, **env):
    e = support.sanitizer_env()
    e.update(env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120, env=e)
    if out.returncode != 0:
        raise AssertionError("child failed (%d): %s" % (out.returncode, out.stderr))
    return out.stdout.strip().splitlines()


GLOBAL_OPENSSL = """
    import ctypes
    ctypes.CDLL("libcrypto.so.3", mode=ctypes.RTLD_GLOBAL)  # OpenSSL in the global scope
    import mtls
    print(mtls.tls_library())
    print(mtls.library_info()["deepbind"])
"""


def have_openssl3():
    try:
        ctypes.CDLL("libcrypto.so.3")
        return True
    except OSError:
        return False


class WhichTlsLibrary(unittest.TestCase):
    def test_in_this_process_after_import_ssl(self):
        import ssl
        self.assertIn("OpenSSL", ssl.OPENSSL_VERSION)
        self.assertEqual(mtls.tls_library(), "BoringSSL")

    def test_after_import_ssl_and_hashlib(self):
        out = run("""
            import ssl, hashlib, _hashlib
            ssl.create_default_context()
            import mtls
            print(ssl.OPENSSL_VERSION)
            print(mtls.tls_library())
            c = mtls.Context('{"mode":"request"}')
            print(c.verify(None).reason)
        """)
        self.assertTrue(out[0].startswith("OpenSSL"), out)
        self.assertEqual(out[1:], ["BoringSSL", "OK"])

    def test_global_openssl_is_harmless_with_deepbind(self):
        if not have_openssl3():
            self.skipTest("no libcrypto.so.3")
        if not mtls.library_info()["deepbind"]:
            self.skipTest("loaded without RTLD_DEEPBIND (AddressSanitizer build)")
        self.assertEqual(run(GLOBAL_OPENSSL), ["BoringSSL", "True"])

    def test_without_deepbind_global_openssl_captures_libmtls(self):
        """The control experiment: the same process without deep binding reaches OpenSSL --
        so the test above can fail, and RTLD_DEEPBIND is what keeps BoringSSL."""
        if not have_openssl3():
            self.skipTest("no libcrypto.so.3")
        out = run(GLOBAL_OPENSSL, MTLS_DEEPBIND="0")
        self.assertEqual(out[1], "False")
        self.assertTrue(out[0].startswith("OpenSSL"), out)


if __name__ == "__main__":
    unittest.main()
