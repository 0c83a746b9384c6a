/*
 * mtls/mtls.h - libmtls public API: Caddy-compatible TLS client authentication.
 *
 * This header names no TLS-library type: bindings and servers with any TLS stack use it
 * alone. Servers that run their handshakes on BoringSSL add <mtls/boringssl.h>.
 *
 * Conventions (apply to every function below unless its comment says otherwise):
 * - Fallible functions return `mtls_status` (MTLS_OK == 0) or, for constructors, NULL; both
 *   fill the caller-allocated `mtls_error *err` when it is not NULL. Filling `err` never
 *   allocates. The first error recorded wins.
 * - Ownership: *owned* results are freed by the caller with the matching `_free`; *borrowed*
 *   pointers stay valid for as long as the object they came from. Every `_free` accepts NULL.
 *   No function keeps a pointer argument after it returns.
 * - Thread-safety: an `mtls_ctx` is immutable once built (after its last `mtls_ctx_set_*`),
 *   and may then be used from any number of threads at once. An `mtls_peer` belongs to one
 *   thread at a time (its identity strings are rendered lazily and cached).
 * - Strings are UTF-8 and NUL-terminated unless a length is passed with them.
 */
#ifndef MTLS_MTLS_H
#define MTLS_MTLS_H

#include <stddef.h>
#include <stdint.h>

#include <mtls/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MTLS_BUILDING_LIBRARY)
#define MTLS_API __attribute__((visibility("default")))
#else
#define MTLS_API
#endif

/* mtls_status is an error code from the table below; MTLS_OK (0) means success. */
typedef enum mtls_status {
#define X(name, value, category, message) MTLS_ERR_##name = value,
#include <mtls/errors.def>
#undef X
    MTLS_OK = 0
} mtls_status;

/* mtls_category groups error codes so that callers can switch on the kind of failure. */
typedef enum mtls_category {
    MTLS_CATEGORY_NONE = 0,
    MTLS_CATEGORY_USAGE,    /* the caller passed something invalid */
    MTLS_CATEGORY_POLICY,   /* a policy document is malformed or contradictory */
    MTLS_CATEGORY_TRUST,    /* trust material (PEM, base64, DER) is broken */
    MTLS_CATEGORY_VERIFY,   /* a client certificate chain failed verification */
    MTLS_CATEGORY_DENIED,   /* the policy refuses the client (no cert, not pinned, ...) */
    MTLS_CATEGORY_IO,       /* a file could not be read */
    MTLS_CATEGORY_NOMEM,    /* an allocation failed */
    MTLS_CATEGORY_INTERNAL  /* a bug or a failure inside the TLS library */
} mtls_category;

/*
 * mtls_error is filled by fallible functions. The caller allocates it (usually on the
 * stack); zero-initialise it or let the first failing call overwrite it.
 * `line`/`column` locate a JSON syntax error in a policy document (1-based), else -1.
 * `message` is a human-readable sentence naming the field, file or certificate at fault.
 * `where` is the libmtls source location that raised it (for bug reports).
 */
typedef struct mtls_error {
    int code;     /* an mtls_status value */
    int category; /* an mtls_category value */
    int line;
    int column;
    char message[256];
    char where[64];
} mtls_error;

/* mtls_strerror returns the default message of `code`, a static string (never NULL). */
MTLS_API const char *mtls_strerror(int code);

/* mtls_error_name returns the name of `code` without the MTLS_ERR_ prefix, e.g.
 * "CERT_EXPIRED" for MTLS_ERR_CERT_EXPIRED and "OK" for 0; "UNKNOWN" if there is no such code.
 * A static string (never NULL). Bindings use it for their exception and reason names. */
MTLS_API const char *mtls_error_name(int code);

/* mtls_category_of returns the mtls_category of `code` (MTLS_CATEGORY_INTERNAL if unknown). */
MTLS_API int mtls_category_of(int code);

/* mtls_version returns the runtime library version string, e.g. "0.1.0" (static). */
MTLS_API const char *mtls_version(void);

/*
 * mtls_tls_library returns what the TLS library that libmtls's calls actually reach reports
 * about itself at run time (its OpenSSL_version(OPENSSL_VERSION)): "BoringSSL" for the default
 * build. Inside a process that also holds another OpenSSL-named library (Node.js, nginx,
 * Python's ssl module), a different answer means libmtls is bound to the wrong one
 * (docs/design-notes.md). Static string, never NULL.
 */
MTLS_API const char *mtls_tls_library(void);

/*
 * mtls_free releases memory that a libmtls function returned as owned with "free with
 * mtls_free" (e.g. the text of mtls_ctx_describe_json). NULL is a no-op. Use it rather than
 * free(): the library may use another allocator than the caller.
 */
MTLS_API void mtls_free(void *p);

/* ---------------------------------------------------------------------------------------
 * mtls_ctx: a policy set (Caddy `tls_connection_policies`), its trust anchors and leaf pins.
 * -------------------------------------------------------------------------------------- */
typedef struct mtls_ctx mtls_ctx;

/*
 * mtls_ctx_new_from_json loads a policy set from the `json_len` bytes at `json`. Accepted
 * shapes (DESIGN.md §1): a bare Caddy `client_authentication` object; a
 * `tls_connection_policies` array; or a whole Caddy config, from whose server `server`
 * (e.g. "srv0") the connection policies are taken. `server` may be NULL when at most one
 * server of the config has `tls_connection_policies`; it must be NULL for the other shapes.
 * Relative file paths inside the document are resolved against the current directory.
 *
 * Returns an owned ctx (free with mtls_ctx_free) or NULL with `err` filled: JSON errors
 * carry line/column, field errors name the JSON path (e.g.
 * `tls_connection_policies[0].client_authentication.mode`), file errors the path and errno
 * text. A verifying mode with no trusted CA is refused (libmtls never falls back to the
 * system roots, unlike Caddy). Documents larger than 64 MiB are refused (MTLS_ERR_TOO_LARGE).
 */
MTLS_API mtls_ctx *mtls_ctx_new_from_json(const char *json, size_t json_len, const char *server,
                                          mtls_error *err);

/*
 * mtls_ctx_new_from_file is mtls_ctx_new_from_json on the contents of the file at `path`.
 * Relative paths inside the document are still resolved against the current directory, as
 * Caddy does. Errors as above, plus MTLS_ERR_FILE_OPEN / MTLS_ERR_FILE_READ naming `path`.
 */
MTLS_API mtls_ctx *mtls_ctx_new_from_file(const char *path, const char *server, mtls_error *err);

/* mtls_ctx_up_ref adds a reference to `ctx`; each reference is dropped by mtls_ctx_free. */
MTLS_API void mtls_ctx_up_ref(mtls_ctx *ctx);

/* mtls_ctx_free drops a reference to `ctx` and frees it with the last one. NULL is a no-op. */
MTLS_API void mtls_ctx_free(mtls_ctx *ctx);

/*
 * mtls_clock_fn returns the current time in seconds since the Unix epoch. It must be
 * thread-safe; `user` is the pointer given to mtls_ctx_set_clock.
 */
typedef int64_t (*mtls_clock_fn)(void *user);

/*
 * mtls_ctx_set_clock makes handshake-time verification (mtls/boringssl.h) read the time from
 * `fn(user)` instead of the system clock (tests inject a fixed clock this way). `fn` NULL
 * restores the system clock. `user` must outlive `ctx`.
 * WARNING: not thread-safe; call before `ctx` is attached to a server or shared.
 * Returns MTLS_OK, or MTLS_ERR_INVALID_ARGUMENT if `ctx` is NULL.
 */
MTLS_API mtls_status mtls_ctx_set_clock(mtls_ctx *ctx, mtls_clock_fn fn, void *user,
                                        mtls_error *err);

/* What a verified chain must be good for (mtls_ctx_set_purpose). */
typedef enum mtls_purpose {
    MTLS_PURPOSE_CLIENT = 1, /* TLS client authentication, what Caddy checks (the default) */
    MTLS_PURPOSE_SERVER = 2  /* TLS server authentication: for test suites of server certs */
} mtls_purpose;

/*
 * mtls_ctx_set_purpose sets the extended key usage that verification requires, for every
 * policy of `ctx`: `purpose` is MTLS_PURPOSE_CLIENT (the default: `clientAuth`, as Go checks
 * client certificates for Caddy) or MTLS_PURPOSE_SERVER (`serverAuth`, with Netscape and
 * Microsoft Server Gated Crypto counted as serverAuth, as Go does). Go's rule applies either
 * way: every certificate of the path that has an extendedKeyUsage extension must list the
 * purpose or anyExtendedKeyUsage; certificates without the extension allow any purpose.
 * It applies to mtls_verify_der and to handshakes alike; no hostname is ever checked.
 * WARNING: not thread-safe; call before `ctx` is attached to a server or shared.
 * Returns MTLS_OK, or MTLS_ERR_INVALID_ARGUMENT if `ctx` is NULL or `purpose` is not an
 * mtls_purpose value (the ctx is then unchanged).
 */
MTLS_API mtls_status mtls_ctx_set_purpose(mtls_ctx *ctx, int purpose, mtls_error *err);

/* The default of mtls_ctx_set_max_depth, and the largest value it accepts. */
#define MTLS_DEFAULT_MAX_DEPTH 8
#define MTLS_MAX_DEPTH_LIMIT 64

/*
 * mtls_ctx_set_max_depth bounds the certification paths that verification accepts, for
 * every policy of `ctx`: `max_depth` is the most intermediate CA certificates allowed
 * between the client's leaf and the trust anchor, neither of which counts. Self-issued
 * intermediates (subject equal to issuer: a CA's key rollover) do not count either, as
 * RFC 5280 does not count them against pathLenConstraint. 0 means the leaf must be issued
 * by a trust anchor (or be one). Default MTLS_DEFAULT_MAX_DEPTH (8: paths of at most ten
 * certificates). A longer path is refused with MTLS_ERR_CHAIN_TOO_LONG; path building then
 * tries the shorter paths there may be. Go (Caddy) has no such limit; the number of
 * certificates a client may send is bounded separately.
 * WARNING: not thread-safe; call before `ctx` is attached to a server or shared.
 * Returns MTLS_OK, or MTLS_ERR_INVALID_ARGUMENT if `ctx` is NULL or `max_depth` is not in
 * 0..MTLS_MAX_DEPTH_LIMIT (the ctx is then unchanged).
 */
MTLS_API mtls_status mtls_ctx_set_max_depth(mtls_ctx *ctx, int max_depth, mtls_error *err);

/* mtls_ctx_num_policies returns how many connection policies `ctx` holds (>= 1). */
MTLS_API size_t mtls_ctx_num_policies(const mtls_ctx *ctx);

/* Client authentication modes, as Caddy names them. */
typedef enum mtls_mode {
    MTLS_MODE_OFF = 0,            /* no client certificate is asked for */
    MTLS_MODE_REQUEST,            /* asked for; none allowed; not verified */
    MTLS_MODE_REQUIRE,            /* must be presented; not verified */
    MTLS_MODE_VERIFY_IF_GIVEN,    /* none allowed; verified when presented */
    MTLS_MODE_REQUIRE_AND_VERIFY  /* must be presented and verified */
} mtls_mode;

/*
 * mtls_ctx_policy_mode returns the effective mode of policy `index` (after Caddy's
 * defaults), or -1 if `index` is out of range.
 */
MTLS_API int mtls_ctx_policy_mode(const mtls_ctx *ctx, size_t index);

/*
 * mtls_ctx_policy_field returns the JSON text of connection-policy field `name` of policy
 * `index` (one of "certificate_selection", "protocol_min", "protocol_max", "alpn",
 * "cipher_suites", "curves", "default_sni", "fallback_sni", "drop"), validated at load but
 * applied by the server, or NULL when the policy does not set it. Borrowed: valid until `ctx`
 * is freed.
 */
MTLS_API const char *mtls_ctx_policy_field(const mtls_ctx *ctx, size_t index, const char *name);

/*
 * mtls_ctx_select picks the connection policy for a connection: the first policy whose
 * matchers all match (Caddy's rule). `sni` is the TLS server name (NULL or "" when the client
 * sent none), `remote_ip` and `local_ip` are textual IPv4/IPv6 addresses (NULL when unknown:
 * an IP matcher then does not match). On success writes the policy index to `*out_index`.
 * Returns MTLS_OK, or MTLS_ERR_NO_MATCHING_POLICY when no policy matches (Caddy then fails
 * the handshake), or MTLS_ERR_INVALID_ARGUMENT.
 */
MTLS_API mtls_status mtls_ctx_select(const mtls_ctx *ctx, const char *sni, const char *remote_ip,
                                     const char *local_ip, size_t *out_index, mtls_error *err);

/*
 * mtls_ctx_describe_json renders the effective policy set of `ctx` as JSON text (for
 * `mtls policy check`, logs and tooling): {"policies": [...]}, one object per connection
 * policy, in order, with
 *   "index";
 *   "match": the matchers as loaded ("sni": lowercased names; "remote_ip": {"ranges",
 *     "not_ranges"}, "local_ip": {"ranges"}: CIDRs in canonical form), {} when none;
 *   "mode": the mode after Caddy's defaults ("off", "request", "require",
 *     "verify_if_given", "require_and_verify"), "mode_explicit": whether the document set it;
 *   "system_roots": whether a `system` trust provider was named;
 *   "trust_anchors": [{"subject", "issuer" (Go's DN string, as the placeholders render it;
 *     null if Go cannot parse the certificate), "sha256" (lowercase hex of the DER),
 *     "self_signed" (bool), "not_before", "not_after" (RFC 3339)}];
 *   "leaf_pins": one array per leaf verifier of SHA-256 hex fingerprints (the client's leaf
 *     must be in every array);
 *   "fields": the other connection-policy fields that are set (see mtls_ctx_policy_field),
 *     as JSON values.
 * Keys may be added in later versions; none is removed while the major version lasts.
 *
 * On success writes an owned, NUL-terminated string to `*out` (free with mtls_free) and its
 * length without the NUL to `*out_len` (may be NULL), and returns MTLS_OK. Otherwise
 * returns MTLS_ERR_INVALID_ARGUMENT (NULL `ctx` or `out`) or MTLS_ERR_NOMEM, and sets `*out`
 * to NULL when `out` is not NULL. Thread-safe on a built ctx; cost grows with the number of
 * anchors and pins (it is not meant for the handshake path).
 */
MTLS_API mtls_status mtls_ctx_describe_json(const mtls_ctx *ctx, char **out, size_t *out_len,
                                            mtls_error *err);

/* ---------------------------------------------------------------------------------------
 * mtls_peer: the verdict on one client and its identity.
 * -------------------------------------------------------------------------------------- */
typedef struct mtls_peer mtls_peer;

/* Pass as `at_unix` to verify at the time of the ctx clock (system clock by default). */
#define MTLS_TIME_NOW INT64_MIN

/*
 * mtls_verify_der judges a client certificate chain under policy `index` of `ctx`, exactly
 * as the TLS glue does during a handshake, without any TLS connection. `certs[i]` /
 * `cert_lens[i]` hold the DER certificates as the client sent them, leaf first
 * (`num_certs` may be 0: a client that sent no certificate). `at_unix` is the verification
 * time in seconds since the epoch, or MTLS_TIME_NOW.
 *
 * Returns MTLS_OK when a verdict was reached -- accepted *or refused*: read it with
 * mtls_peer_accepted -- and writes an owned peer to `*out_peer` (free with mtls_peer_free).
 * Returns an error (and no peer) only for bad arguments (index out of range, NULL buffers)
 * or MTLS_ERR_NOMEM. Thread-safe.
 */
MTLS_API mtls_status mtls_verify_der(const mtls_ctx *ctx, size_t index,
                                     const uint8_t *const *certs, const size_t *cert_lens,
                                     size_t num_certs, int64_t at_unix, mtls_peer **out_peer,
                                     mtls_error *err);

/* mtls_peer_up_ref / mtls_peer_free: reference counting as for mtls_ctx. */
MTLS_API void mtls_peer_up_ref(mtls_peer *peer);
MTLS_API void mtls_peer_free(mtls_peer *peer);

/* mtls_peer_accepted returns 1 if the policy lets this client in, else 0. */
MTLS_API int mtls_peer_accepted(const mtls_peer *peer);

/* mtls_peer_verified returns 1 if the client's chain was verified to a trusted CA, else 0. */
MTLS_API int mtls_peer_verified(const mtls_peer *peer);

/* mtls_peer_has_certificate returns 1 if the client presented a certificate, else 0. */
MTLS_API int mtls_peer_has_certificate(const mtls_peer *peer);

/*
 * mtls_peer_reason returns MTLS_OK for an accepted client, else the MTLS_ERR_* code that
 * says why it was refused (MTLS_ERR_CERT_EXPIRED, MTLS_ERR_UNKNOWN_ISSUER, ...).
 */
MTLS_API int mtls_peer_reason(const mtls_peer *peer);

/*
 * mtls_peer_message returns a human sentence for the verdict, naming the certificate at
 * fault by subject and SHA-256 fingerprint. In the subject, bytes below 0x20, DEL, '"' and
 * backslash are written as \xHH (UTF-8 passes through), so the message is one line that a
 * client cannot use to forge log lines. It is rendered on the first call (so handshakes
 * whose message nobody reads pay nothing for it) and cached: like mtls_peer_get, not
 * thread-safe on one peer. Borrowed: valid until `peer` is freed. Never NULL; if memory runs
 * out it returns the reason's default message (mtls_strerror).
 */
MTLS_API const char *mtls_peer_message(mtls_peer *peer);

/* mtls_peer_policy_index returns the index of the policy that judged `peer`. */
MTLS_API size_t mtls_peer_policy_index(const mtls_peer *peer);

/* mtls_peer_mode returns the mtls_mode of the policy that judged `peer`. */
MTLS_API int mtls_peer_mode(const mtls_peer *peer);

/*
 * mtls_peer_get renders placeholder `name`, given without braces, e.g.
 * "http.request.tls.client.subject" or "http.request.tls.client.san.dns_names.0", exactly as
 * Caddy renders it (DESIGN.md §3 lists the deliberate differences). Writes a borrowed,
 * NUL-terminated string to `*out` and its length (without the NUL) to `*out_len` (may be
 * NULL); valid until `peer` is freed. Values are empty when the client sent no certificate,
 * or the connection fields when the peer came from mtls_verify_der.
 * WARNING: values are Caddy-identical and may contain control bytes (Go passes CR, LF and
 * NUL in DNs through raw); escape before writing them into headers or logs.
 * Returns MTLS_OK, MTLS_ERR_UNKNOWN_PLACEHOLDER, or MTLS_ERR_NOMEM.
 */
MTLS_API mtls_status mtls_peer_get(mtls_peer *peer, const char *name, const char **out,
                                   size_t *out_len, mtls_error *err);

/*
 * mtls_placeholder_count / mtls_placeholder_name enumerate every placeholder name that
 * mtls_peer_get knows (without the `.N` index forms). Names are static strings; `i` out of
 * range gives NULL.
 */
MTLS_API size_t mtls_placeholder_count(void);
MTLS_API const char *mtls_placeholder_name(size_t i);

/*
 * mtls_peer_num_certs / mtls_peer_cert return the DER certificates the client presented,
 * leaf first. A client that presents more than 64 certificates is refused
 * (MTLS_ERR_CHAIN_TOO_LONG) and only its first 65 are kept. Borrowed: valid until `peer` is
 * freed. Out of range gives NULL.
 */
MTLS_API size_t mtls_peer_num_certs(const mtls_peer *peer);
MTLS_API const uint8_t *mtls_peer_cert(const mtls_peer *peer, size_t i, size_t *out_len);

/*
 * mtls_peer_num_chain / mtls_peer_chain_cert return the certification path that
 * verification built, as DER: index 0 is the leaf, the last one the trust anchor (which
 * the client need not have sent). It is empty (0, NULL) unless mtls_peer_verified is 1: no
 * verifying mode, no certificate, or a refusal. Borrowed: valid until `peer` is freed. Out
 * of range gives NULL; `out_len` may be NULL.
 */
MTLS_API size_t mtls_peer_num_chain(const mtls_peer *peer);
MTLS_API const uint8_t *mtls_peer_chain_cert(const mtls_peer *peer, size_t i, size_t *out_len);

/*
 * mtls_peer_error_depth returns, for a refused peer, the index in the presented chain (as
 * mtls_peer_cert counts) of the certificate at fault: 0 for the leaf (expired, wrong key
 * usage, not pinned, ...), i for the i-th certificate sent. Returns -1 when the peer was
 * accepted, when no single certificate is at fault (no certificate, too many), or when the
 * certificate at fault is not one the client sent (e.g. a trust anchor that may not sign,
 * or the issuer that is missing): mtls_peer_message still names that one.
 */
MTLS_API int mtls_peer_error_depth(const mtls_peer *peer);

#ifdef __cplusplus
}
#endif

#endif /* MTLS_MTLS_H */
