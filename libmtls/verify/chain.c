/*
 * verify/chain.c - the verdict on a client certificate chain, with the semantics of Go's
 * crypto/tls server + crypto/x509 Verify (what Caddy runs), on BoringSSL's X509_verify_cert:
 * - every certificate the client sends must parse (Go parses them in every mode);
 * - verifying modes build a chain from the leaf through the sent intermediates to any pool
 *   certificate (X509_V_FLAG_PARTIAL_CHAIN: anchors need not be self-signed);
 * - Go's rules where BoringSSL differs (gorules.c): EKU of the ctx's purpose checked on
 *   every certificate of the chain with anyExtendedKeyUsage accepted; every issuer (anchor
 *   included) must be allowed to sign as Go's CheckSignatureFrom says; intermediates need
 *   basicConstraints CA:TRUE; SHA-1/MD5 signatures are refused; Go's name constraints
 *   (nameconstraints.c) and pathLenConstraint count; the ctx's max depth;
 * - when BoringSSL's single path fails, backtracking path building as Go's (pathbuild.c);
 *   a refusal then reports BoringSSL's first path;
 * - then every leaf verifier: the leaf must be in each pin set (also when no certificate
 *   was sent, as Caddy's verifyPeerCertificate runs with an empty list).
 */
#include <limits.h>
#include <string.h>

#include "../core/der.h"
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../core/buf.h"
#include "../core/mem.h"
#include "../identity/identity.h"
#include "paths.h"
#include "verify.h"

static int map_x509_error(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return MTLS_ERR_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return MTLS_ERR_CERT_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return MTLS_ERR_UNKNOWN_ISSUER;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
        return MTLS_ERR_BAD_SIGNATURE;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        return MTLS_ERR_ISSUER_NOT_CA;
    case X509_V_ERR_INVALID_PURPOSE:
        return MTLS_ERR_WRONG_EKU;
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    case X509_V_ERR_NAME_CONSTRAINTS_WITHOUT_SANS:
        return MTLS_ERR_NAME_CONSTRAINTS;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        return MTLS_ERR_PATH_LENGTH;
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        return MTLS_ERR_CHAIN_TOO_LONG;
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
        return MTLS_ERR_UNHANDLED_CRITICAL;
    case X509_V_ERR_CERT_REVOKED:
        return MTLS_ERR_REVOKED;
    default:
        return MTLS_ERR_VERIFY_FAILED;
    }
}

static struct verdict x509_failure(X509_STORE_CTX *sctx, STACK_OF(X509) *presented)
{
    int e = X509_STORE_CTX_get_error(sctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(sctx);
    int depth = -1;
    for (size_t i = 0; bad != NULL && i < (size_t)sk_X509_num(presented); i++) {
        if (X509_cmp(bad, sk_X509_value(presented, i)) == 0) {
            depth = (int)i;
            break;
        }
    }
    if (depth < 0) {
        depth = X509_STORE_CTX_get_error_depth(sctx);
    }
    return (struct verdict){map_x509_error(e), depth, X509_verify_cert_error_string(e)};
}

/* BoringSSL's single path and Go's rules on it: the verdict, the path when accepted
 * (else NULL) and the certificate at fault (else NULL), both borrowed from `sctx`. */
static void first_path(struct verdict *out, STACK_OF(X509) **out_path, X509 **out_bad,
                       X509_STORE_CTX *sctx, STACK_OF(X509) *presented,
                       const struct verify_opts *o)
{
    *out_path = NULL;
    if (X509_verify_cert(sctx) != 1) {
        *out = x509_failure(sctx, presented);
        *out_bad = X509_STORE_CTX_get_current_cert(sctx);
        return;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    *out = mtlsp_go_path_rules(chain, o);
    *out_bad = out->depth >= 0 ? sk_X509_value(chain, (size_t)out->depth) : NULL;
    *out_path = out->reason == MTLS_OK ? chain : NULL;
}

/* Chain verification of `presented` (leaf first; `certs` are their buffers) against `store`
 * at `at`. On failure *out_bad is the failing certificate (a new reference, may be NULL); on
 * success `out_chain` receives the path built, leaf to anchor. */
static MTLS_RESULT verify_chain(struct verdict *out, X509 **out_bad, struct blob_list *out_chain,
                                const struct compiled_policy *cp, STACK_OF(X509) *presented,
                                struct mtlsp_blob *const *certs, const struct verify_opts *o,
                                mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    STACK_OF(X509) *found = NULL;
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    if (sctx == NULL || untrusted == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    for (size_t i = 1; i < (size_t)sk_X509_num(presented); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(presented, i))) {
            SET_OUT(MTLS_ERR_NOMEM, NULL);
        }
    }
    X509 *leaf = sk_X509_value(presented, 0);
    if (!X509_STORE_CTX_init(sctx, cp->store, leaf, untrusted)) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    mtlsp_verify_setup(sctx, o);
    STACK_OF(X509) *chain;
    X509 *bad;
    first_path(out, &chain, &bad, sctx, presented, o);
    if (out->reason != MTLS_OK) {
        /* BoringSSL does not backtrack: look for another valid path, as Go does. The
         * verdict on BoringSSL's path stands when there is none. */
        GUARD_OUT(mtlsp_pathbuild(&found, cp->anchors, presented, o, err));
        if (found == NULL) {
            *out_bad = bad;
            if (bad != NULL) {
                X509_up_ref(bad);
            }
            goto out;
        }
        *out = (struct verdict){MTLS_OK, -1, NULL};
        chain = found;
    }
    rc = mtlsp_chain_capture(out_chain, chain, presented, certs, err);
out:
    ERR_clear_error();
    sk_X509_pop_free(found, X509_free);
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(sctx);
    return rc;
}

static int key_type_supported(X509 *leaf)
{
    EVP_PKEY *key = X509_get_pubkey(leaf);
    int type = key ? EVP_PKEY_id(key) : EVP_PKEY_NONE;
    EVP_PKEY_free(key);
    return type == EVP_PKEY_RSA || type == EVP_PKEY_EC || type == EVP_PKEY_ED25519;
}

static int leaf_pinned(const struct compiled_policy *cp, struct mtlsp_blob *leaf)
{
    if (cp->num_pins == 0) {
        return 1; /* no leaf verifier: skip the hash */
    }
    /* Pins are kept as SHA-256 digests only (truststore.h, MTLS_CERT_CHECK_PIN). */
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(mtlsp_blob_data(leaf), mtlsp_blob_len(leaf), digest);
    for (size_t i = 0; i < cp->num_pins; i++) {
        if (!mtlsp_pinset_contains_hash(cp->pins[i], digest)) {
            return 0;
        }
    }
    return 1;
}

static int mode_verifies(int mode)
{
    return mode == MTLS_MODE_VERIFY_IF_GIVEN || mode == MTLS_MODE_REQUIRE_AND_VERIFY;
}

int mtlsp_judge_rejects_no_cert(const struct mtls_ctx *ctx, size_t index)
{
    int mode = ctx->set->policies[index].auth.mode;
    return mode == MTLS_MODE_REQUIRE || mode == MTLS_MODE_REQUIRE_AND_VERIFY ||
           (mode != MTLS_MODE_OFF && ctx->compiled[index].num_pins > 0);
}

/* The verdict for a client that sent no certificate. */
static struct verdict judge_empty(const struct mtls_ctx *ctx, size_t index)
{
    int mode = ctx->set->policies[index].auth.mode;
    if (mode == MTLS_MODE_REQUIRE || mode == MTLS_MODE_REQUIRE_AND_VERIFY) {
        return (struct verdict){MTLS_ERR_NO_CERTIFICATE, -1, NULL};
    }
    if (mtlsp_judge_rejects_no_cert(ctx, index)) {
        return (struct verdict){MTLS_ERR_LEAF_NOT_PINNED, -1, "no client certificate provided"};
    }
    return (struct verdict){MTLS_OK, -1, NULL};
}

/* Does Go's x509.ParseCertificate read `cert` (the way identity/ renders it)? Caddy's
 * handshake parses every certificate the client sends and fails on the first it refuses,
 * whatever the mode. 1 when it does or when *rc holds NOMEM (the caller propagates it).
 * `out_leaf` (may be NULL) keeps the reading for the peer's placeholders. */
static int go_reads(struct mtlsp_blob *cert, struct mtlsp_leaf **out_leaf, mtls_result *rc)
{
    mtls_error scratch = {0};
    const uint8_t *der = mtlsp_blob_data(cert);
    size_t len = mtlsp_blob_len(cert);
    *rc = out_leaf != NULL ? mtlsp_leaf_parse(out_leaf, der, len, &scratch)
                           : mtlsp_identity_check(der, len, &scratch);
    if (MTLS_IS_OK(*rc) || rc->code == MTLS_ERR_NOMEM) {
        return 1;
    }
    *rc = MTLS_RESULT_OK;
    return 0;
}

/* The X509 form of certs[i]: a new reference to parsed[i] when the TLS library already
 * parsed the chain (a handshake), else parsed now. NULL when BoringSSL refuses it. */
static X509 *x509_of(struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed, size_t i)
{
    if (parsed == NULL) {
        const uint8_t *der = mtlsp_blob_data(certs[i]);
        const uint8_t *end = der + mtlsp_blob_len(certs[i]);
        X509 *x = end - der <= LONG_MAX ? d2i_X509(NULL, &der, (long)(end - der)) : NULL;
        if (x != NULL && der != end) { /* trailing bytes: not one certificate */
            X509_free(x);
            x = NULL;
        }
        return x;
    }
    X509 *x = sk_X509_value(parsed, i);
    X509_up_ref(x);
    return x;
}

static MTLS_RESULT parse_all(STACK_OF(X509) *out, struct verdict *v, struct mtlsp_leaf **out_leaf,
                             struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed, size_t num,
                             mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    for (size_t i = 0; i < num; i++) {
        X509 *x = x509_of(certs, parsed, i);
        if (x == NULL) {
            ERR_clear_error();
            *v = (struct verdict){MTLS_ERR_CERT_PARSE, (int)i, NULL};
            return MTLS_RESULT_OK;
        }
        if (!sk_X509_push(out, x)) {
            X509_free(x);
            BAIL(MTLS_ERR_NOMEM);
        }
        if (!mtlsp_go_parse_ok(x) || !go_reads(certs[i], i == 0 ? out_leaf : NULL, &rc)) {
            *v = (struct verdict){MTLS_ERR_CERT_PARSE, (int)i, "Go's parser refuses it"};
            return MTLS_RESULT_OK;
        }
        ENSURE(MTLS_IS_OK(rc), MTLS_ERR_NOMEM); /* go_reads lets only NOMEM through */
    }
    int supported = out_leaf != NULL && *out_leaf != NULL
                        ? mtlsp_leaf_key_supported(*out_leaf)
                        : key_type_supported(sk_X509_value(out, 0));
    if (!supported) {
        *v = (struct verdict){MTLS_ERR_CERT_PARSE, 0, "unsupported public key type"};
    }
    return MTLS_RESULT_OK;
}

/* Reaches the verdict; *out_bad receives a reference to the certificate at fault,
 * `out_chain` the verified path (when a chain was verified) and *out_leaf the leaf as Go
 * reads it (when it does: the placeholders need not read it again). */
static MTLS_RESULT decide(struct verdict *v, X509 **out_bad, struct blob_list *out_chain,
                          struct mtlsp_leaf **out_leaf, const struct mtls_ctx *ctx, size_t index,
                          struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed, size_t num,
                          int64_t at, mtls_error *err)
{
    const struct compiled_policy *cp = &ctx->compiled[index];
    int mode = ctx->set->policies[index].auth.mode;
    mtls_result rc = MTLS_RESULT_OK;
    *v = (struct verdict){MTLS_OK, -1, NULL};
    if (num == 0) {
        *v = judge_empty(ctx, index);
        return MTLS_RESULT_OK;
    }
    if (num > MTLS_MAX_PEER_CERTS) {
        *v = (struct verdict){MTLS_ERR_CHAIN_TOO_LONG, -1, "too many certificates sent"};
        return MTLS_RESULT_OK;
    }
    STACK_OF(X509) *presented = sk_X509_new_null();
    ENSURE_MEM(presented);
    GUARD_OUT(parse_all(presented, v, out_leaf, certs, parsed, num, err));
    if (v->reason != MTLS_OK || mode == MTLS_MODE_OFF) {
        goto out;
    }
    if (mode_verifies(mode)) {
        if (cp->store == NULL) {
            *v = (struct verdict){MTLS_ERR_UNKNOWN_ISSUER, 0, "the policy trusts no CA"};
            goto out;
        }
        struct verify_opts o = {ctx->purpose, ctx->max_depth, at};
        GUARD_OUT(verify_chain(v, out_bad, out_chain, cp, presented, certs, &o, err));
        if (v->reason != MTLS_OK) {
            goto out;
        }
    }
    if (!leaf_pinned(cp, certs[0])) {
        *v = (struct verdict){MTLS_ERR_LEAF_NOT_PINNED, 0, NULL};
    }
out:
    sk_X509_pop_free(presented, X509_free);
    return rc;
}

static MTLS_RESULT fill_peer(struct mtls_peer *p, struct mtlsp_blob *const *certs, size_t num,
                             mtls_error *err)
{
    if (num == 0) {
        return MTLS_RESULT_OK;
    }
    p->certs = mtlsp_calloc(num, sizeof(*p->certs));
    ENSURE_MEM(p->certs);
    for (size_t i = 0; i < num; i++) {
        mtlsp_blob_up_ref(certs[i]);
        p->certs[i] = certs[i];
    }
    p->num_certs = num;
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_judge(struct mtls_peer **out, const struct mtls_ctx *ctx, size_t index,
                        struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed, size_t num_certs,
                        int64_t at_unix, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    struct verdict v;
    X509 *bad = NULL;
    struct blob_list chain = {0};
    struct mtls_peer *p = mtlsp_peer_new();
    ENSURE_MEM(p);
    p->policy_index = index;
    p->mode = ctx->set->policies[index].auth.mode;
    GUARD_OUT(fill_peer(p, certs, num_certs, err));
    /* p->certs hold the same buffers as `certs`: the leaf's slices stay valid with p. */
        if (parsed != NULL && (size_t)sk_X509_num(parsed) != num_certs) {
        parsed = NULL; /* not the same chain: parse it here */
    }
    GUARD_OUT(decide(&v, &bad, &chain, &p->leaf, ctx, index, certs, parsed, num_certs, at_unix,
                     err));
    p->reason = v.reason;
    p->accepted = v.reason == MTLS_OK;
    p->verified = p->accepted && num_certs > 0 && mode_verifies(p->mode);
    /* The message is rendered on first use (mtls_peer_message): keep what it needs. */
    p->why = v.why;
    p->depth = v.depth;
    p->bad = bad;
    bad = NULL;
    if (p->verified) {
        p->chain = chain; /* only a verified path is shown (mtls_peer_chain_cert) */
        chain = (struct blob_list){0};
    }
    *out = p;
    p = NULL;
out:
    X509_free(bad);
    mtlsp_blob_list_free(&chain);
    mtls_peer_free(p);
    return rc;
}
