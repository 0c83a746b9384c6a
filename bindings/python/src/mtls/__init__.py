"""libmtls for Python: Caddy's TLS client authentication verdicts and identity strings.

    import mtls
    with mtls.Context.from_file("policy.json") as policy:
        r = policy.verify(pem_chain)          # PEM text, DER bytes or a list of DER
        if r.accepted:
            print(r.subject, r.san_dns_names, r.identity["http.request.tls.client.serial"])
        else:
            print(r.reason, r.message)

A thin ctypes binding of libmtls's C API (mtls/mtls.h); see README.md.
"""

from ._native import deepbind as _deepbind
from ._native import lib as _lib
from ._native import library_path as _library_path
from ._errors import (Category, DeniedError, Error, FileError, InternalError, NoMemoryError,
                      PolicyError, TrustError, UsageError, VerifyError, category_of,
                      error_name, strerror)
from ._context import (Context, Mode, PLACEHOLDERS, Purpose, Result, inspect,
                       placeholder_names, to_der_list)

__version__ = "0.1.0"

__all__ = [
    "Category", "Context", "DeniedError", "Error", "FileError", "InternalError", "Mode",
    "NoMemoryError", "PLACEHOLDERS", "PolicyError", "Purpose", "Result", "TrustError",
    "UsageError", "VerifyError", "category_of", "error_name", "inspect", "library_info",
    "placeholder_names", "strerror", "tls_library", "to_der_list", "version",
]


def version():
    """The version of the libmtls that was loaded, e.g. "0.1.0"."""
    return _lib.mtls_version().decode("ascii")


def tls_library():
    """What the TLS library that libmtls's calls actually reach says about itself
    ("BoringSSL" for the default build). Anything else means libmtls is bound to another
    OpenSSL-named library in this process (README.md, "Which TLS library")."""
    return _lib.mtls_tls_library().decode("utf-8", "backslashreplace")


def library_info():
    """How libmtls was loaded: {"path": the file mapped into the process, "requested": the
    name or path that was dlopen()ed, "deepbind": whether RTLD_DEEPBIND was used}."""
    path = _library_path
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6 and "/libmtls.so" in parts[5]:
                    path = parts[5].strip()
                    break
    except OSError:
        pass
    return {"path": path, "requested": _library_path, "deepbind": _deepbind}
