#!/usr/bin/env python3
"""The meson test `python`: install the package the way a user does, then run the tests on
the installed copy.

    run_tests.py SOURCE_DIR VENV_DIR [unittest arguments]

1. a fresh venv in VENV_DIR (python3 -m venv; Debian: package python3-venv; Debian's own
   pip refuses to install into the system Python, PEP 668);
2. `pip install --no-index SOURCE_DIR`: offline, the in-tree build backend needs nothing;
3. `python -m unittest discover` on SOURCE_DIR/tests with the venv's interpreter, from a
   directory that holds no `mtls` package, so the installed copy is the one imported
   (MTLS_EXPECT_INSTALLED=1 makes a test check that).
MTLS_LIBRARY, MTLS_CONFORMANCE and MTLS_PKI_DIR come from meson.
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import support  # noqa: E402


def step(what, cmd, env=None, cwd=None, timeout=600):
    print("==> %s: %s" % (what, " ".join(cmd)), flush=True)
    rc = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout).returncode
    if rc != 0:
        print("run_tests: %s failed (exit %d)" % (what, rc), flush=True)
        sys.exit(1)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    source, venv = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for var in ("MTLS_LIBRARY", "MTLS_CONFORMANCE", "MTLS_PKI_DIR"):
        if not os.environ.get(var):
            print("run_tests: %s is not set" % var)
            return 1
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1")
    env.pop("PYTHONPATH", None)
    shutil.rmtree(venv, ignore_errors=True)
    step("venv", [sys.executable, "-m", "venv", venv], env=env)
    py = os.path.join(venv, "bin", "python")
    step("install", [py, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--quiet",
                     source], env=env)
    test_env = support.sanitizer_env(dict(env, MTLS_EXPECT_INSTALLED="1"))
    step("tests", [py, "-m", "unittest", "discover", "-s", os.path.join(source, "tests"),
                   "-t", os.path.join(source, "tests"), "-v"] + sys.argv[3:],
         env=test_env, cwd=venv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
