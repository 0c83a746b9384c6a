/*
 * truststore/truststore.h - certificate material: DER lists decoded from PEM, base64 and
 * files, and the hash table used for leaf pinning. Uses BoringSSL only for parsing checks
 * and SHA-256; no policy logic.
 */
#ifndef MTLS_TRUSTSTORE_H
#define MTLS_TRUSTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/result.h"

/* Size limits on operator-supplied trust material. */
#define MTLS_MAX_FILE_BYTES ((size_t)256 << 20) /* one PEM/cert file */
#define MTLS_MAX_CERT_BYTES ((size_t)64 << 10)  /* one certificate */

struct der {
    uint8_t *data; /* owned */
    size_t len;
};

struct der_list {
    struct der *items; /* owned */
    size_t num;
    size_t cap;
};

/* Appends a copy of `data` (which must already be a parsed-OK certificate). */
MTLS_RESULT mtlsp_der_list_add(struct der_list *l, const uint8_t *data, size_t len,
                               mtls_error *err);
/* Moves every item of `from` to the end of `to` (from is left empty). */
MTLS_RESULT mtlsp_der_list_move(struct der_list *to, struct der_list *from, mtls_error *err);
void mtlsp_der_list_free(struct der_list *l);

/* mtlsp_cert_check_der fails with MTLS_ERR_DER_INVALID (message naming `what`) unless the
 * bytes are one complete DER X.509 certificate that BoringSSL parses. */
MTLS_RESULT mtlsp_cert_check_der(const uint8_t *data, size_t len, const char *what,
                                 mtls_error *err);

/* mtlsp_cert_from_base64 decodes standard base64 (Caddy's `trusted_ca_certs` entries) into
 * DER, checks it, and appends it to `out`. `what` names the JSON path in errors
 * (MTLS_ERR_BASE64_INVALID, MTLS_ERR_DER_INVALID). */
MTLS_RESULT mtlsp_cert_from_base64(struct der_list *out, const char *b64, size_t len,
                                   const char *what, mtls_error *err);

/* mtlsp_certs_from_pem appends every CERTIFICATE block of `text` to `out`. Every PEM block
 * must be a CERTIFICATE (else MTLS_ERR_PEM_WRONG_TYPE naming the block type and `what`), at
 * least one must be present (else MTLS_ERR_PEM_NO_CERTIFICATE), bodies must be valid
 * base64 DER certificates. */
MTLS_RESULT mtlsp_certs_from_pem(struct der_list *out, const char *text, size_t len,
                                 const char *what, mtls_error *err);

/* mtlsp_read_file reads a whole file (at most `max` bytes) into an owned buffer with a
 * trailing NUL. Errors name `path` and strerror(errno): MTLS_ERR_FILE_OPEN, _FILE_READ,
 * MTLS_ERR_TOO_LARGE. */
MTLS_RESULT mtlsp_read_file(const char *path, size_t max, char **out, size_t *out_len,
                            mtls_error *err);

/* mtlsp_certs_from_pem_file: mtlsp_read_file + mtlsp_certs_from_pem, errors naming `path`. */
MTLS_RESULT mtlsp_certs_from_pem_file(struct der_list *out, const char *path, mtls_error *err);

/* mtlsp_certs_from_file: a file holding PEM (any number of CERTIFICATE blocks) or a single
 * DER certificate (Caddy's leaf `file` loader accepts both). */
MTLS_RESULT mtlsp_certs_from_file(struct der_list *out, const char *path, mtls_error *err);

/* mtlsp_certs_from_folder: like Caddy's leaf `folder` loader, every file under `dir`
 * (recursively, in lexical order, symlinked directories not followed) whose name ends in
 * ".pem" (case-insensitively), through mtlsp_certs_from_pem_file; other files are ignored,
 * as Caddy ignores them (pinning more than Caddy would admit more clients). A folder with
 * no certificate is MTLS_ERR_EMPTY_TRUST; an unreadable entry is an error.
 * Every loader above may leave certificates appended to `out` when it fails: the caller
 * frees `out` either way. */
MTLS_RESULT mtlsp_certs_from_folder(struct der_list *out, const char *dir, mtls_error *err);

/* Leaf pin set: constant-time lookup of a leaf DER by SHA-256. Immutable once built.
 * mtlsp_pinset_new BORROWS `certs`: the pinset stores only hash bits and indexes into it,
 * so `certs` must stay alive and unmodified until mtlsp_pinset_free. About 16 bytes per
 * pin besides the DER itself; duplicates are counted once. */
struct pinset;
MTLS_RESULT mtlsp_pinset_new(struct pinset **out, const struct der_list *certs,
                             mtls_error *err);
void mtlsp_pinset_free(struct pinset *p);
/* Returns 1 if the exact bytes `der` are in the set, else 0. Thread-safe. */
int mtlsp_pinset_contains(const struct pinset *p, const uint8_t *der, size_t len);
size_t mtlsp_pinset_size(const struct pinset *p);
/* mtlsp_pinset_contains_hash: the same with the leaf's SHA-256 already computed. */
int mtlsp_pinset_contains_hash(const struct pinset *p, const uint8_t sha256[32],
                               const uint8_t *der, size_t len);

#endif
