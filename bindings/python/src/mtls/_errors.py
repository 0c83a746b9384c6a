"""mtls.Error and its per-category subclasses."""

import enum

from ._native import lib


class Category(enum.IntEnum):
    """mtls_category: what kind of failure an error code is."""

    NONE = 0
    USAGE = 1
    POLICY = 2
    TRUST = 3
    VERIFY = 4
    DENIED = 5
    IO = 6
    NOMEM = 7
    INTERNAL = 8


def error_name(code):
    """The name of error code `code` without MTLS_ERR_ (``"CERT_EXPIRED"``; ``"OK"`` for 0,
    ``"UNKNOWN"`` for a code libmtls does not have)."""
    return lib.mtls_error_name(code).decode("ascii")


def strerror(code):
    """The default message of error code `code`."""
    return lib.mtls_strerror(code).decode("utf-8", "backslashreplace")


def category_of(code):
    """The Category of error code `code` (INTERNAL if unknown)."""
    return Category(lib.mtls_category_of(code))


class Error(Exception):
    """A libmtls error: ``code`` (int, an MTLS_ERR_* value), ``name`` (``"JSON_SYNTAX"``, ...),
    ``category`` (Category), ``message`` (the library's sentence, naming the field, file or
    certificate at fault), ``where`` (libmtls source location, "" when raised by the binding),
    ``line`` / ``column`` (1-based position of a JSON syntax error, else -1).

    The subclass tells the category: UsageError (also a ValueError), PolicyError, TrustError,
    VerifyError, DeniedError, FileError (also an OSError), NoMemoryError (also a MemoryError),
    InternalError.
    """

    def __init__(self, code, message=None, where="", line=-1, column=-1):
        self.code = code
        self.name = error_name(code)
        self.category = category_of(code)
        self.message = message if message is not None else strerror(code)
        self.where = where
        self.line = line
        self.column = column
        super().__init__(self.message)

    def __str__(self):
        return "%s: %s" % (self.name, self.message)

    def __repr__(self):
        return "%s(code=%d, name=%r, message=%r, line=%d, column=%d)" % (
            type(self).__name__, self.code, self.name, self.message, self.line, self.column)

    def __reduce__(self):
        return (_rebuild, (self.code, self.message, self.where, self.line, self.column))


class UsageError(Error, ValueError):
    """The caller passed something invalid (Category.USAGE)."""


class PolicyError(Error):
    """A policy document is malformed or contradictory (Category.POLICY)."""


class TrustError(Error):
    """Trust material (PEM, base64, DER) is broken (Category.TRUST)."""


class VerifyError(Error):
    """A certificate chain failed verification (Category.VERIFY; raised by inspect())."""


class DeniedError(Error):
    """The policy refuses the client (Category.DENIED)."""


class FileError(Error, OSError):
    """A file could not be read (Category.IO)."""


class NoMemoryError(Error, MemoryError):
    """An allocation failed (Category.NOMEM)."""


class InternalError(Error):
    """A bug, or a failure inside the TLS library (Category.INTERNAL)."""


_BY_CATEGORY = {
    Category.USAGE: UsageError,
    Category.POLICY: PolicyError,
    Category.TRUST: TrustError,
    Category.VERIFY: VerifyError,
    Category.DENIED: DeniedError,
    Category.IO: FileError,
    Category.NOMEM: NoMemoryError,
    Category.INTERNAL: InternalError,
}


def make_error(code, message=None, where="", line=-1, column=-1):
    """The Error subclass instance for `code`."""
    cls = _BY_CATEGORY.get(category_of(code), Error)
    return cls(code, message, where, line, column)


_rebuild = make_error


def from_struct(err):
    """The Error for a filled struct mtls_error."""
    return make_error(err.code, err.message.decode("utf-8", "backslashreplace"),
                      err.where.decode("utf-8", "backslashreplace"), err.line, err.column)
