"""The in-tree build backend (build_backend/mtls_build.py): wheel, sdist and editable wheel
are complete and consistent, built with the standard library alone."""

import base64
import hashlib
import importlib.util
import os
import re
import tarfile
import tempfile
import unittest
import zipfile

import support

ROOT = support.PACKAGE_ROOT


def backend():
    spec = importlib.util.spec_from_file_location(
        "mtls_build", os.path.join(ROOT, "build_backend", "mtls_build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sources():
    base = os.path.join(ROOT, "src")
    return sorted(os.path.relpath(os.path.join(d, f), base).replace(os.sep, "/")
                  for d, _, files in os.walk(os.path.join(base, "mtls"))
                  for f in files if f.endswith(".py"))


class BuildBackend(unittest.TestCase):
    def setUp(self):
        self.b = backend()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_requires_nothing(self):
        self.assertEqual(self.b.get_requires_for_build_wheel(), [])
        self.assertEqual(self.b.get_requires_for_build_sdist(), [])
        self.assertEqual(self.b.get_requires_for_build_editable(), [])

    def test_wheel(self):
        name = self.b.build_wheel(self.tmp.name)
        self.assertEqual(name, "mtls-0.1.0-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.tmp.name, name)) as z:
            names = z.namelist()
            self.assertEqual(sorted(n for n in names if n.startswith("mtls/")
                                    and n.endswith(".py")), sources())
            self.assertFalse([n for n in names if "__pycache__" in n or n.endswith(".pyc")])
            meta = z.read("mtls-0.1.0.dist-info/METADATA").decode()
            self.assertIn("Name: mtls\n", meta)
            self.assertIn("Version: 0.1.0\n", meta)
            self.assertIn("Tag: py3-none-any", z.read("mtls-0.1.0.dist-info/WHEEL").decode())
            record = z.read("mtls-0.1.0.dist-info/RECORD").decode().splitlines()
            self.assertEqual(sorted(r.split(",")[0] for r in record), sorted(names))
            for row in record:
                path, digest, size = row.split(",")
                if path.endswith("RECORD"):
                    continue
                data = z.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                self.assertEqual(digest, "sha256=" + want.decode())
                self.assertEqual(int(size), len(data))

    def test_version_matches_the_package(self):
        with open(os.path.join(ROOT, "src", "mtls", "__init__.py")) as f:
            version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
        self.assertEqual(self.b._names()[2], version)

    def test_sdist(self):
        name = self.b.build_sdist(self.tmp.name)
        self.assertEqual(name, "mtls-0.1.0.tar.gz")
        with tarfile.open(os.path.join(self.tmp.name, name)) as t:
            names = t.getnames()
        for want in ("pyproject.toml", "README.md", "PKG-INFO", "build_backend/mtls_build.py",
                     "src/mtls/__init__.py", "tests/test_conformance.py",
                     "examples/https_server.py"):
            self.assertIn("mtls-0.1.0/" + want, names)
        self.assertFalse([n for n in names if "__pycache__" in n])

    def test_editable(self):
        name = self.b.build_editable(self.tmp.name)
        with zipfile.ZipFile(os.path.join(self.tmp.name, name)) as z:
            pth = z.read("mtls_editable.pth").decode().strip()
        self.assertEqual(pth, os.path.join(ROOT, "src"))

    def test_metadata_hook(self):
        d = self.b.prepare_metadata_for_build_wheel(self.tmp.name)
        self.assertEqual(d, "mtls-0.1.0.dist-info")
        self.assertTrue(os.path.exists(os.path.join(self.tmp.name, d, "METADATA")))


if __name__ == "__main__":
    unittest.main()
