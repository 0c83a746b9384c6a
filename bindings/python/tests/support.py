"""Shared by the tests: the conformance table, the test PKI, and the sanitizer runtime.

Environment (set by meson; see ../README.md to run by hand): MTLS_LIBRARY (libmtls.so.0),
MTLS_CONFORMANCE (bindings/conformance/conformance.json of the build), MTLS_PKI_DIR (the
test PKI, libmtls/tests/pki of the build), MTLS_EXPECT_TLS_LIBRARY (what mtls.tls_library()
must say: "BoringSSL", the default, or "OpenSSL 3" for -Dtls_backend=openssl).
"""

import base64
import functools
import json
import os
import re
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)


EXPECTED_TLS_LIBRARY = os.environ.get("MTLS_EXPECT_TLS_LIBRARY") or "BoringSSL"
# The OpenSSL build links the system's libssl.so.3, the one Python's ssl module (and a
# libcrypto.so.3 in the global scope) use too: sharing it is right, deep binding or not.
OPENSSL_BUILD = EXPECTED_TLS_LIBRARY.startswith("OpenSSL")


def is_expected_tls_library(name):
    """Whether `name` (mtls_tls_library()) is the TLS library this build links: exactly
    "BoringSSL", or "OpenSSL 3" followed by the rest of the version ("OpenSSL 3.0.19 ...")."""
    return name == EXPECTED_TLS_LIBRARY or name.startswith(EXPECTED_TLS_LIBRARY + ".")


def need_env(name):
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest("%s is not set (run through meson test --suite python)" % name)
    return value


@functools.lru_cache(maxsize=None)
def table():
    with open(need_env("MTLS_CONFORMANCE"), encoding="utf-8") as f:
        return json.load(f)


def case(name):
    for c in table()["cases"]:
        if c["name"] == name:
            return c
    raise KeyError(name)


def ders(c):
    return [base64.b64decode(d) for d in c["chain_der_b64"]]


def pki(rel):
    return os.path.join(need_env("MTLS_PKI_DIR"), rel)


@functools.lru_cache(maxsize=None)
def manifest():
    """name -> dict(cert, key, chain, trust, expect, reason) with absolute paths."""
    out = {}
    with open(pki("manifest.tsv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 7 or fields[0] == "name":
                continue
            name, cert, key, chain, trust, expect, reason = fields
            out[name] = {"cert": pki(cert), "key": pki(key), "chain": pki(chain),
                         "trust": pki(trust), "expect": expect, "reason": reason}
    return out


def without_sanitizer(env=None):
    """`env` (default os.environ) without the ASan runtime in LD_PRELOAD: for the programs a
    test runs that are not Python loading libmtls (curl hangs with ASan preloaded)."""
    env = dict(os.environ if env is None else env)
    kept = [p for p in env.get("LD_PRELOAD", "").split() if "libasan" not in p]
    if kept:
        env["LD_PRELOAD"] = " ".join(kept)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def sanitizer_env(env=None):
    """The environment a Python process needs to load MTLS_LIBRARY when it was built with
    AddressSanitizer (meson -Db_sanitize=address): the ASan runtime preloaded (it must come
    first), and leak detection off (CPython itself does not free everything at exit; libmtls's
    own leaks are the C tests' and the leak script's business). Unchanged otherwise."""
    env = dict(os.environ if env is None else env)
    lib = env.get("MTLS_LIBRARY")
    if not lib:
        return env
    try:
        out = subprocess.run(["ldd", lib], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return env
    m = re.search(r"(libasan\.so[.\d]*)\s+=>\s+(\S+)", out)
    if not m:
        return env
    preload = env.get("LD_PRELOAD", "")
    if m.group(2) not in preload.split():
        env["LD_PRELOAD"] = (m.group(2) + " " + preload).strip()
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    return env
