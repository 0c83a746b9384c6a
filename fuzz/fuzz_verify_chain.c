/*
 * fuzz_verify_chain - chain verification and identity rendering: a list of DER
 * certificates as a client sends it (leaf first), verified with mtls_verify_der against a
 * fixed in-memory trust store at a fixed clock (FUZZ_NOW), then every placeholder and the
 * message rendered.
 *
 * Input: the length-prefixed list of fuzz_mtls.h (2-byte big-endian length, DER), at most
 * FUZZ_MAX_CHAIN certificates. The ctx holds two policies over the fixed PKI (fuzz_pki.c):
 *   0: require_and_verify, trusting the root;
 *   1: verify_if_given, trusting the root and the intermediate (anchors need not be roots).
 * Invariants (fuzz_peer.c for the per-verdict ones):
 * - a verdict is always reached (MTLS_OK) and is the same, with the same message and the
 *   same rendered bytes for every placeholder, when the chain is judged twice;
 * - accepted => reason OK, verified, the leaf renders (Go parses it), and since only the
 *   fixed root (and its intermediate) are trusted, the leaf was issued by one of the CAs
 *   that fuzz_pki.c / mkseeds.c build below it (all named O=libmtls fuzz), and its
 *   subject is not empty (none of those CAs signs an empty one);
 * - refused => a verify/denied reason code, and a message starting "refused: <reason>".
 * Suggested -max_len: 16384.
 */
#include <string.h>

#include "fuzz_mtls.h"

static mtls_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const struct fuzz_pki *k = fuzz_pki_get();
    char json[4096];
    int n = snprintf(json, sizeof(json),
                     "[{\"client_authentication\":{\"mode\":\"require_and_verify\","
                     "\"trusted_ca_certs\":[\"%s\"]}},"
                     "{\"client_authentication\":{\"mode\":\"verify_if_given\","
                     "\"trusted_ca_certs\":[\"%s\",\"%s\"]}}]",
                     k->root_b64, k->root_b64, k->inter_b64);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(json));
    mtls_error err;
    ctx = mtls_ctx_new_from_json(json, (size_t)n, NULL, &err);
    FUZZ_CHECK(ctx != NULL && mtls_ctx_num_policies(ctx) == 2);

    /* The fixed chain is accepted (the invariants below would hold vacuously otherwise). */
    const uint8_t *certs[] = {k->leaf.der, k->inter.der};
    size_t lens[] = {k->leaf.len, k->inter.len};
    mtls_peer *leaf = NULL;
    const char *issuer = NULL;
    FUZZ_CHECK(mtls_verify_der(ctx, 0, certs, lens, 2, FUZZ_NOW, &leaf, &err) == MTLS_OK);
    FUZZ_CHECK(mtls_peer_accepted(leaf) && mtls_peer_verified(leaf));
    FUZZ_CHECK(mtls_peer_get(leaf, "http.request.tls.client.issuer", &issuer, NULL, NULL) ==
                   MTLS_OK &&
               strstr(issuer, "O=libmtls fuzz") != NULL);
    mtls_peer_free(leaf);
    return 0;
}

static void judge(size_t index, const uint8_t *const *certs, const size_t *lens, size_t num)
{
    mtls_peer *a = NULL, *b = NULL;
    mtls_error err;
    FUZZ_CHECK(mtls_verify_der(ctx, index, certs, lens, num, FUZZ_NOW, &a, &err) == MTLS_OK);
    FUZZ_CHECK(mtls_verify_der(ctx, index, certs, lens, num, FUZZ_NOW, &b, NULL) == MTLS_OK);
    FUZZ_CHECK(a != NULL && b != NULL && mtls_peer_policy_index(a) == index);
    FUZZ_CHECK(mtls_peer_mode(a) == (index == 0 ? MTLS_MODE_REQUIRE_AND_VERIFY
                                                : MTLS_MODE_VERIFY_IF_GIVEN));
    fuzz_check_peer(a, b, certs, lens, num, index == 0); /* same leaf: render once */
    if (index == 0) {
        FUZZ_CHECK(num > 0 || mtls_peer_reason(a) == MTLS_ERR_NO_CERTIFICATE);
    } else if (num == 0) {
        FUZZ_CHECK(mtls_peer_accepted(a)); /* verify_if_given: no certificate is fine */
    }
    if (mtls_peer_accepted(a) && num > 0) {
        const char *issuer, *subject;
        FUZZ_CHECK(mtls_peer_get(a, "http.request.tls.client.issuer", &issuer, NULL, NULL) ==
                   MTLS_OK);
        FUZZ_CHECK(mtls_peer_get(a, "http.request.tls.client.subject", &subject, NULL, NULL) ==
                   MTLS_OK);
        FUZZ_CHECK(strstr(issuer, "O=libmtls fuzz") != NULL);
        FUZZ_CHECK(subject[0] != '\0');
    }
    mtls_peer_free(a);
    mtls_peer_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *certs[FUZZ_MAX_CHAIN];
    size_t lens[FUZZ_MAX_CHAIN];
    size_t num = fuzz_split_chain(data, size, certs, lens, FUZZ_MAX_CHAIN);
    judge(0, certs, lens, num);
    judge(1, certs, lens, num);
    return 0;
}
