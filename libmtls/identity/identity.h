/*
 * identity/identity.h - Caddy's `http.request.tls.client.*` placeholders, rendered byte for
 * byte as Caddy (Go) renders them, from the leaf DER. Pure functions of the DER: no policy,
 * no verification.
 */
#ifndef MTLS_IDENTITY_H
#define MTLS_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/result.h"

/* mtlsp_render_dn appends Go's pkix.Name.String() of the DER Name at `name` (the full
 * SEQUENCE, tag included) to `out`. MTLS_ERR_CERT_PARSE when the name is malformed or holds
 * values Go refuses to parse. */
MTLS_RESULT mtlsp_render_dn(struct buf *out, const uint8_t *name, size_t name_len,
                            mtls_error *err);

/* mtlsp_identity_render appends the value of placeholder `key` -- the part after
 * "http.request.tls.client." (e.g. "subject", "san.uris.0", "public_key") -- for the leaf
 * certificate `der`. Sets *out_known to 0 (and appends nothing) when `key` is not a
 * certificate placeholder. Index forms follow Caddy: "san.X.N" with N parsed like Go's
 * strconv.Atoi; out of range renders empty. */
MTLS_RESULT mtlsp_identity_render(struct buf *out, int *out_known, const uint8_t *der,
                                  size_t der_len, const char *key, mtls_error *err);

/* A leaf read once the way Go reads it, for rendering many placeholders: slices of the
 * caller's DER, which must outlive it. */
struct mtlsp_leaf;

/* mtlsp_leaf_parse reads `der` (MTLS_ERR_CERT_PARSE where Go refuses it, MTLS_ERR_NOMEM). */
MTLS_RESULT mtlsp_leaf_parse(struct mtlsp_leaf **out, const uint8_t *der, size_t der_len,
                             mtls_error *err);
void mtlsp_leaf_free(struct mtlsp_leaf *leaf);

/* mtlsp_leaf_key_supported: 1 when the leaf's key is one Go's crypto/tls takes from a
 * client (RSA, ECDSA, Ed25519), read from the parse without decoding the key again. */
int mtlsp_leaf_key_supported(const struct mtlsp_leaf *leaf);

/* mtlsp_identity_render_leaf is mtlsp_identity_render on a parsed leaf. */
MTLS_RESULT mtlsp_identity_render_leaf(struct buf *out, int *out_known,
                                       const struct mtlsp_leaf *leaf, const char *key,
                                       mtls_error *err);

/* mtlsp_identity_check succeeds when Go's x509.ParseCertificate (as far as cert.c reproduces
 * it) accepts `der`; else MTLS_ERR_CERT_PARSE with Go's reason, or MTLS_ERR_NOMEM. crypto/tls
 * parses every certificate a client sends this way and refuses the handshake on failure. */
MTLS_RESULT mtlsp_identity_check(const uint8_t *der, size_t der_len, mtls_error *err);

/* The certificate placeholder keys mtlsp_identity_render knows (without index forms),
 * NULL-terminated: "fingerprint", "public_key", ..., plus libmtls's extensions
 * "spiffe_id", "spki_sha256", "not_before", "not_after", "xfcc". */
extern const char *const mtlsp_identity_keys[];

#endif
