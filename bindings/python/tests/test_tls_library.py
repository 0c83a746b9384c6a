"""Which TLS library libmtls's calls reach inside Python (DESIGN.md section 4).

BoringSSL build (the default): BoringSSL after `import ssl` (Python's OpenSSL 3 in the same
process), and still BoringSSL when an OpenSSL libcrypto sits in the global symbol scope --
thanks to RTLD_DEEPBIND, which the last test shows is what makes the difference.

OpenSSL build (-Dtls_backend=openssl; meson sets MTLS_EXPECT_TLS_LIBRARY="OpenSSL 3"):
libmtls links the system's libssl.so.3 / libcrypto.so.3, the very library Python's ssl
module uses, so sharing it is legitimate: libmtls reports the same OpenSSL as `ssl`, the
process maps one libcrypto, and deep binding changes nothing.

Each check runs in a fresh interpreter."""

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

# The distinct libcrypto files mapped into this process.
MAPPED_LIBCRYPTO = """
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and "/libcrypto.so" in parts[5]:
                libs.add(parts[5].strip())
    print(len(libs))
"""


def have_openssl3():
    try:
        ctypes.CDLL("libcrypto.so.3")
        return True
    except OSError:
        return False


class WhichTlsLibrary(unittest.TestCase):
    def assertExpected(self, name):
        self.assertTrue(support.is_expected_tls_library(name),
                        "mtls_tls_library() = %r, want %r" % (name, support.EXPECTED_TLS_LIBRARY))

    def test_in_this_process_after_import_ssl(self):
        import ssl
        self.assertIn("OpenSSL", ssl.OPENSSL_VERSION)
        self.assertExpected(mtls.tls_library())
        if support.OPENSSL_BUILD:  # the same library, hence the same version text
            self.assertEqual(mtls.tls_library(), ssl.OPENSSL_VERSION)

    def test_after_import_ssl_and_hashlib(self):
        out = run(textwrap.dedent("""
            import ssl, hashlib, _hashlib
            ssl.create_default_context()
            import mtls
            print(ssl.OPENSSL_VERSION)
            print(mtls.tls_library())
            c = mtls.Context('{"mode":"request"}')
            print(c.verify(None).reason)
        """) + textwrap.dedent(MAPPED_LIBCRYPTO))
        self.assertTrue(out[0].startswith("OpenSSL"), out)
        self.assertExpected(out[1])
        self.assertEqual(out[2], "OK")
        if support.OPENSSL_BUILD:  # libmtls uses Python's libcrypto: one copy mapped
            self.assertEqual(out[1], out[0])
            self.assertEqual(out[3], "1", out)

    def test_global_openssl_is_harmless_with_deepbind(self):
        if not have_openssl3():
            self.skipTest("no libcrypto.so.3")
        if not mtls.library_info()["deepbind"]:
            self.skipTest("loaded without RTLD_DEEPBIND (AddressSanitizer build)")
        out = run(GLOBAL_OPENSSL)
        self.assertExpected(out[0])
        self.assertEqual(out[1], "True")

    def test_without_deepbind_global_openssl_captures_libmtls(self):
        """The control experiment: the same process without deep binding reaches OpenSSL --
        so the test above can fail, and RTLD_DEEPBIND is what keeps BoringSSL. In the
        OpenSSL build there is nothing to capture: the global libcrypto.so.3 is libmtls's
        own, and libmtls reports it either way."""
        if not have_openssl3():
            self.skipTest("no libcrypto.so.3")
        out = run(GLOBAL_OPENSSL, MTLS_DEEPBIND="0")
        self.assertEqual(out[1], "False")
        self.assertTrue(out[0].startswith("OpenSSL"), out)
        if support.OPENSSL_BUILD:
            self.assertExpected(out[0])


if __name__ == "__main__":
    unittest.main()
