/*
 * fuzz/fuzz_mtls.h - what the libmtls fuzz targets share: the error-record check, the
 * length-prefixed chain format, the fixed in-memory PKI (fuzz_pki.c), and the switch that
 * keeps the library away from files (nofiles.c).
 */
#ifndef MTLS_FUZZ_MTLS_H
#define MTLS_FUZZ_MTLS_H

#include <stddef.h>
#include <stdint.h>

#include <mtls/mtls.h>

#include "fuzz.h"

/* fuzz_is_known_code: `code` is one of the MTLS_ERR_* values of mtls/errors.def. */
int fuzz_is_known_code(int code);

/* fuzz_check_error: a failure filled `err`: a known non-zero code, its category, and a
 * non-empty NUL-terminated message and location. */
void fuzz_check_error(const mtls_error *err);

/*
 * The chain format of fuzz_verify_chain (and of its seeds): a list of certificates, each a
 * 2-byte big-endian length followed by that many DER bytes. The last length is cut to what
 * is left, so every input is a chain; a single trailing byte is ignored.
 */
#define FUZZ_MAX_CHAIN 80 /* more than MTLS_MAX_PEER_CERTS (64), to reach "too many" */
size_t fuzz_split_chain(const uint8_t *data, size_t size, const uint8_t **certs, size_t *lens,
                        size_t max);

/* ---- the fixed PKI (fuzz_pki.c): deterministic, built in memory (BoringSSL or OpenSSL) - */

/* 2026-01-01T00:00:00Z: the fixed clock of every verification. */
#define FUZZ_NOW INT64_C(1767225600)

struct fuzz_der {
    uint8_t *der;
    size_t len;
};

/*
 * Ed25519 keys from fixed seeds and fixed validity make every byte reproducible:
 * root (CA, self-signed) -> intermediate (CA, pathlen 0) -> leaf (P-256 key, clientAuth,
 * SANs of every kind); `stranger` is a self-signed client certificate nobody trusts.
 */
struct fuzz_pki {
    struct fuzz_der root, inter, leaf, stranger;
    char *root_b64, *inter_b64, *leaf_b64; /* standard base64 of the DER, NUL-terminated */
};

/* fuzz_pki_get builds the PKI on first use (aborts if the TLS library fails) and returns it. */
const struct fuzz_pki *fuzz_pki_get(void);

/* ---- certificate building, for the PKI and for fuzz/mkseeds.c -------------------------- */

enum fuzz_key_kind { FUZZ_KEY_ED25519, FUZZ_KEY_P256 };

struct fuzz_cert_spec {
    enum fuzz_key_kind key_kind;
    const char *key_seed;         /* the key is derived from these bytes */
    const char *subject[8][2];    /* {"CN", "value"}, ...; ends at a NULL name */
    long serial;
    int64_t not_before, not_after;
    int version1;                 /* 1: an X.509 v1 certificate without extensions */
    const char *basic_constraints; /* X509V3 config text, NULL: absent */
    const char *key_usage;
    const char *ext_key_usage;
    const char *subject_alt_name;
    const char *name_constraints;
};

/* A built certificate with its key (the key signs the certificates it issues). */
struct fuzz_cert;

/* fuzz_cert_new builds `spec`, signed by `issuer` (NULL: self-signed). NULL on failure. */
struct fuzz_cert *fuzz_cert_new(const struct fuzz_cert_spec *spec, const struct fuzz_cert *issuer);
/* fuzz_cert_der copies the DER into *out (owned, free with free()). */
int fuzz_cert_der(const struct fuzz_cert *c, struct fuzz_der *out);
void fuzz_cert_free(struct fuzz_cert *c);

/* The specs of the fixed PKI, for mkseeds to derive variants from. */
extern const struct fuzz_cert_spec fuzz_spec_root, fuzz_spec_inter, fuzz_spec_leaf,
    fuzz_spec_stranger;

/* fuzz_base64 returns the standard base64 of `p` (owned, NUL-terminated), or NULL. */
char *fuzz_base64(const uint8_t *p, size_t n);

/*
 * fuzz_peer.c: the invariants of a verdict and of every placeholder it renders. `a` and `b`
 * are two peers from two identical mtls_verify_der calls on the chain `certs`: their
 * verdicts, messages and renderings must agree byte for byte. With `all_placeholders` 0
 * only the verdict, the message and ".verified" are checked (the rest depends on the leaf
 * alone, not on the policy).
 */
void fuzz_check_peer(mtls_peer *a, mtls_peer *b, const uint8_t *const *certs,
                     const size_t *lens, size_t num, int all_placeholders);

/*
 * nofiles.c: while fuzz_files_blocked is set, open/opendir/stat of the code linked
 * into the target fail with EACCES (the target is linked with -Wl,--wrap for them), so a
 * policy that names a file fails like a missing file, and nothing on disk is read.
 */
extern int fuzz_files_blocked;

#endif
