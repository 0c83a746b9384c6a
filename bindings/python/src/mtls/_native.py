"""Loading libmtls and declaring its C functions (ctypes).

Where the library comes from, first match wins:
  1. the MTLS_LIBRARY environment variable (a path; nothing else is tried when it is set);
  2. the soname ``libmtls.so.0`` through the dynamic loader (LD_LIBRARY_PATH, the ld.so
     cache, the default directories);
  3. ``pkg-config --variable=libdir libmtls`` (an install prefix outside the ld paths);
  4. ``ctypes.util.find_library("mtls")``.

How: with ``RTLD_DEEPBIND`` (see README.md, "Which TLS library"): libmtls and its BoringSSL
then resolve their own symbols before the process's global scope, so an OpenSSL that is
already global (a host program linked to libssl.so.3, a module loaded RTLD_GLOBAL) cannot
capture libmtls's calls. Set MTLS_DEEPBIND=0 to load without it; it is also left out under
AddressSanitizer, whose runtime refuses deep-bound libraries.
"""

import ctypes
import ctypes.util
import os
import shutil
import subprocess

SONAME = "libmtls.so.0"


class MtlsErrorStruct(ctypes.Structure):
    """struct mtls_error (mtls/mtls.h)."""

    _fields_ = [
        ("code", ctypes.c_int),
        ("category", ctypes.c_int),
        ("line", ctypes.c_int),
        ("column", ctypes.c_int),
        ("message", ctypes.c_char * 256),
        ("where", ctypes.c_char * 64),
    ]


_c_size_p = ctypes.POINTER(ctypes.c_size_t)
_err_p = ctypes.POINTER(MtlsErrorStruct)
_vp = ctypes.c_void_p

# name: (restype, argtypes)
_PROTOTYPES = {
    "mtls_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "mtls_error_name": (ctypes.c_char_p, [ctypes.c_int]),
    "mtls_category_of": (ctypes.c_int, [ctypes.c_int]),
    "mtls_version": (ctypes.c_char_p, []),
    "mtls_tls_library": (ctypes.c_char_p, []),
    "mtls_free": (None, [_vp]),
    "mtls_ctx_new_from_json": (_vp, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _err_p]),
    "mtls_ctx_new_from_file": (_vp, [ctypes.c_char_p, ctypes.c_char_p, _err_p]),
    "mtls_ctx_up_ref": (None, [_vp]),
    "mtls_ctx_free": (None, [_vp]),
    "mtls_ctx_set_purpose": (ctypes.c_int, [_vp, ctypes.c_int, _err_p]),
    "mtls_ctx_set_max_depth": (ctypes.c_int, [_vp, ctypes.c_int, _err_p]),
    "mtls_ctx_num_policies": (ctypes.c_size_t, [_vp]),
    "mtls_ctx_policy_mode": (ctypes.c_int, [_vp, ctypes.c_size_t]),
    "mtls_ctx_policy_field": (_vp, [_vp, ctypes.c_size_t, ctypes.c_char_p]),
    "mtls_ctx_select": (ctypes.c_int, [_vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                       _c_size_p, _err_p]),
    "mtls_ctx_describe_json": (ctypes.c_int, [_vp, ctypes.POINTER(_vp), _c_size_p, _err_p]),
    "mtls_verify_der": (ctypes.c_int, [_vp, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                                       _c_size_p, ctypes.c_size_t, ctypes.c_int64,
                                       ctypes.POINTER(_vp), _err_p]),
    "mtls_peer_free": (None, [_vp]),
    "mtls_peer_accepted": (ctypes.c_int, [_vp]),
    "mtls_peer_verified": (ctypes.c_int, [_vp]),
    "mtls_peer_has_certificate": (ctypes.c_int, [_vp]),
    "mtls_peer_reason": (ctypes.c_int, [_vp]),
    "mtls_peer_message": (_vp, [_vp]),
    "mtls_peer_policy_index": (ctypes.c_size_t, [_vp]),
    "mtls_peer_mode": (ctypes.c_int, [_vp]),
    "mtls_peer_get": (ctypes.c_int, [_vp, ctypes.c_char_p, ctypes.POINTER(_vp), _c_size_p,
                                     _err_p]),
    "mtls_placeholder_count": (ctypes.c_size_t, []),
    "mtls_placeholder_name": (ctypes.c_char_p, [ctypes.c_size_t]),
    "mtls_peer_num_certs": (ctypes.c_size_t, [_vp]),
    "mtls_peer_cert": (_vp, [_vp, ctypes.c_size_t, _c_size_p]),
    "mtls_peer_num_chain": (ctypes.c_size_t, [_vp]),
    "mtls_peer_chain_cert": (_vp, [_vp, ctypes.c_size_t, _c_size_p]),
    "mtls_peer_error_depth": (ctypes.c_int, [_vp]),
}


def _pkg_config_candidate():
    if shutil.which("pkg-config") is None:
        return None
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "libmtls"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = out.stdout.strip()
    if out.returncode != 0 or not libdir:
        return None
    return os.path.join(libdir, SONAME)


def _use_deepbind():
    if os.environ.get("MTLS_DEEPBIND", "1") == "0" or not hasattr(os, "RTLD_DEEPBIND"):
        return False
    try:  # ASan's runtime aborts on dlopen(RTLD_DEEPBIND)
        return not hasattr(ctypes.CDLL(None), "__asan_init")
    except OSError:
        return True


def _load():
    mode = os.RTLD_LOCAL | os.RTLD_NOW
    if _use_deepbind():
        mode |= os.RTLD_DEEPBIND
    env = os.environ.get("MTLS_LIBRARY")
    if env:
        return ctypes.CDLL(env, mode=mode), env, bool(mode & getattr(os, "RTLD_DEEPBIND", 0))
    errors = []
    for candidate in (lambda: SONAME, _pkg_config_candidate,
                      lambda: ctypes.util.find_library("mtls")):
        path = candidate()
        if not path:
            continue
        try:
            return (ctypes.CDLL(path, mode=mode), path,
                    bool(mode & getattr(os, "RTLD_DEEPBIND", 0)))
        except OSError as e:
            errors.append(str(e))
    raise OSError("libmtls not found: set MTLS_LIBRARY to the path of libmtls.so.0, or install "
                  "it where the dynamic loader or pkg-config finds it (" + "; ".join(errors) + ")")


lib, library_path, deepbind = _load()
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
del _name, _res, _args, _fn
