/*
 * fuzz_identity - the identity placeholders of a leaf: the input is one DER certificate,
 * judged alone by a `require` policy (no verification: every leaf that parses and has a
 * supported key is let in, as Caddy's `require` does), then every placeholder -- the list of
 * mtls_placeholder_name, the ".N" index forms and near-miss names -- is rendered.
 *
 * Invariants (fuzz_peer.c): two peers of the same leaf render the same bytes; an accepted
 * leaf renders every placeholder (Go's x509.ParseCertificate, which Caddy's handshake runs,
 * takes it); a leaf renders all of its placeholders or none (CERT_PARSE); fingerprint,
 * certificate_der_base64 and certificate_pem are the input's SHA-256 and base64; hashes are
 * 64 hex digits; a SAN list is its ".N" elements joined; the message names the verdict.
 * Suggested -max_len: 8192.
 */
#include <string.h>

#include "fuzz_mtls.h"

static mtls_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char json[] = "{\"mode\":\"require\"}";
    mtls_error err;
    ctx = mtls_ctx_new_from_json(json, sizeof(json) - 1, NULL, &err);
    FUZZ_CHECK(ctx != NULL && mtls_ctx_policy_mode(ctx, 0) == MTLS_MODE_REQUIRE);

    /* The fixed leaf is let in and renders. */
    const struct fuzz_pki *k = fuzz_pki_get();
    const uint8_t *certs[] = {k->leaf.der};
    mtls_peer *peer = NULL;
    FUZZ_CHECK(mtls_verify_der(ctx, 0, certs, &k->leaf.len, 1, FUZZ_NOW, &peer, &err) ==
               MTLS_OK);
    FUZZ_CHECK(mtls_peer_accepted(peer) && !mtls_peer_verified(peer));
    mtls_peer_free(peer);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *certs[] = {data};
    mtls_peer *a = NULL, *b = NULL;
    mtls_error err;
    FUZZ_CHECK(mtls_verify_der(ctx, 0, certs, &size, 1, FUZZ_NOW, &a, &err) == MTLS_OK);
    FUZZ_CHECK(mtls_verify_der(ctx, 0, certs, &size, 1, FUZZ_NOW, &b, NULL) == MTLS_OK);
    FUZZ_CHECK(mtls_peer_mode(a) == MTLS_MODE_REQUIRE && !mtls_peer_verified(a));
    /* `require` refuses a leaf only when it cannot be parsed. */
    FUZZ_CHECK(mtls_peer_accepted(a) || mtls_peer_reason(a) == MTLS_ERR_CERT_PARSE);
    fuzz_check_peer(a, b, certs, &size, 1, 1);
    mtls_peer_free(a);
    mtls_peer_free(b);
    return 0;
}
