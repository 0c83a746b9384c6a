"""An in-tree PEP 517 / PEP 660 build backend for the pure-Python `mtls` package.

It needs nothing but the standard library, so `pip install ./bindings/python` works offline:
pip's isolated build environment installs `requires = []`, i.e. nothing, and then calls the
hooks below. It writes:
  - a wheel (py3-none-any): src/mtls/*.py + mtls-VERSION.dist-info/{METADATA,WHEEL,RECORD};
  - an sdist: mtls-VERSION.tar.gz with the source tree and PKG-INFO;
  - an editable wheel (pip install -e): a .pth file pointing at src/.
Metadata comes from pyproject.toml's [project] table. Archive timestamps are
SOURCE_DATE_EPOCH (or 1980-01-01), so builds are reproducible.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDIST_PARTS = ("pyproject.toml", "README.md", "bench.py", "build_backend", "src", "tests",
               "examples")


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        data = f.read()
    try:
        import tomllib
        return tomllib.loads(data.decode("utf-8"))["project"]
    except ImportError:  # Python < 3.11: the simple `key = "value"` lines of [project]
        text = data.decode("utf-8")
        section = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S).group(1)
        return dict(re.findall(r'^(\w[\w-]*)\s*=\s*"([^"]*)"\s*$', section, re.M))


def _names():
    p = _project()
    return p, p["name"], p["version"], "%s-%s" % (p["name"].replace("-", "_"), p["version"])


def _epoch():
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)


def _metadata():
    p, name, version, _ = _names()
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version]
    if "description" in p:
        lines.append("Summary: " + p["description"])
    if "requires-python" in p:
        lines.append("Requires-Python: " + p["requires-python"])
    lic = p.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append("License: " + lic["text"])
    readme = os.path.join(ROOT, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = "\n" + f.read()
    return ("\n".join(lines) + "\n" + body).encode("utf-8")


_WHEEL = b"Wheel-Version: 1.0\nGenerator: mtls_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _package_files():
    """(archive name, path) of every file of the package, sorted."""
    base = os.path.join(ROOT, "src")
    out = []
    for d, dirs, files in os.walk(os.path.join(base, "mtls")):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(d, f)
            out.append((os.path.relpath(path, base).replace(os.sep, "/"), path))
    return out


class _Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []
        self.date = time.gmtime(_epoch())[:6]

    def add(self, name, data):
        info = zipfile.ZipInfo(name, self.date)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        self.record.append("%s,sha256=%s,%d" % (name, digest.decode("ascii"), len(data)))

    def close(self, dist_info):
        record = dist_info + "/RECORD"
        data = ("\n".join(self.record + [record + ",,"]) + "\n").encode("utf-8")
        info = zipfile.ZipInfo(record, self.date)
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, data)
        self.zip.close()


def _build(wheel_directory, editable):
    _, _, _, stem = _names()
    filename = stem + "-py3-none-any.whl"
    dist_info = stem + ".dist-info"
    w = _Wheel(os.path.join(wheel_directory, filename))
    if editable:
        w.add("mtls_editable.pth", (os.path.join(ROOT, "src") + "\n").encode("utf-8"))
    else:
        for name, path in _package_files():
            with open(path, "rb") as f:
                w.add(name, f.read())
    w.add(dist_info + "/METADATA", _metadata())
    w.add(dist_info + "/WHEEL", _WHEEL)
    w.close(dist_info)
    return filename


def _prepare_metadata(metadata_directory):
    _, _, _, stem = _names()
    d = os.path.join(metadata_directory, stem + ".dist-info")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "wb") as f:
        f.write(_metadata())
    with open(os.path.join(d, "WHEEL"), "wb") as f:
        f.write(_WHEEL)
    return os.path.basename(d)


# ---- PEP 517 hooks -------------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _prepare_metadata(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _prepare_metadata(metadata_directory)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    _, _, _, stem = _names()
    filename = stem + ".tar.gz"
    epoch = _epoch()

    def clean(info):
        if "__pycache__" in info.name or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = epoch
        return info

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz",
                      format=tarfile.PAX_FORMAT) as tar:
        for part in SDIST_PARTS:
            path = os.path.join(ROOT, part)
            if os.path.exists(path):
                tar.add(path, arcname=stem + "/" + part, filter=clean)
        pkg_info = _metadata()
        info = tarfile.TarInfo(stem + "/PKG-INFO")
        info.size, info.mtime, info.mode = len(pkg_info), epoch, 0o644
        tar.addfile(info, io.BytesIO(pkg_info))
    return filename
