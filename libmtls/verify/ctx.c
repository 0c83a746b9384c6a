/*
 * verify/ctx.c - mtls_ctx: a loaded policy set compiled for verification (an X509_STORE
 * of anchors, the CA names for CertificateRequest, leaf pin sets, the session-ID context).
 * Immutable once built; reloading builds a new ctx.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../core/mem.h"
#include "verify.h"

static atomic_uint_fast64_t next_generation = 1;

int64_t mtlsp_ctx_now(const struct mtls_ctx *ctx)
{
    if (ctx->clock != NULL) {
        return ctx->clock(ctx->clock_user);
    }
    return (int64_t)time(NULL);
}

static MTLS_RESULT add_anchor(struct compiled_policy *cp, const struct der *d, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    const uint8_t *p = d->data;
    X509 *x = d2i_X509(NULL, &p, (long)d->len);
    ENSURE_MSG(x != NULL, MTLS_ERR_DER_INVALID, "trusted CA certificate does not parse");
    if (!X509_STORE_add_cert(cp->store, x)) {
        /* A duplicate anchor is harmless; anything else is not. */
        uint32_t e = (uint32_t)ERR_peek_last_error();
        if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            SET_OUT(MTLS_ERR_TLS_LIBRARY, "X509_STORE_add_cert failed");
        }
        ERR_clear_error();
    } else if (sk_X509_push(cp->anchors, x)) {
        X509_up_ref(x); /* each distinct anchor once, for path building */
    } else {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    uint8_t *name_der = NULL;
    int name_len = i2d_X509_NAME(X509_get_subject_name(x), &name_der);
    if (name_len <= 0) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    struct mtlsp_blob *name = mtlsp_blob_new(name_der, (size_t)name_len);
    OPENSSL_free(name_der);
    if (name == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    rc = mtlsp_blob_list_push(&cp->ca_names, name, err);
out:
    X509_free(x);
    return rc;
}

static void hash_u64(SHA256_CTX *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    SHA256_Update(h, b, sizeof(b));
}

static void hash_bytes(SHA256_CTX *h, const void *p, size_t n)
{
    hash_u64(h, n);
    SHA256_Update(h, p, n);
}

static void hash_cidrs(SHA256_CTX *h, const struct cidr *c, size_t n)
{
    hash_u64(h, n);
    for (size_t i = 0; i < n; i++) {
        hash_u64(h, (uint64_t)c[i].family << 8 | (uint64_t)c[i].bits);
        SHA256_Update(h, c[i].addr, sizeof(c[i].addr));
    }
}

/* The session-ID context binds resumption to everything that decides who gets in, and to
 * this ctx's generation (DESIGN.md §6): a reload never resumes an older session. Runs after
 * the pin sets are built (cp->pins). */
static void compute_sid_ctx(struct compiled_policy *cp, const struct conn_policy *pol,
                            size_t index, uint64_t generation)
{
    SHA256_CTX h;
    SHA256_Init(&h);
    hash_bytes(&h, "libmtls sid_ctx v1", 18);
    hash_u64(&h, generation);
    hash_u64(&h, index);
    hash_u64(&h, (uint64_t)pol->auth.mode);
    hash_u64(&h, pol->auth.anchors.num);
    for (size_t i = 0; i < pol->auth.anchors.num; i++) {
        hash_bytes(&h, pol->auth.anchors.items[i].data, pol->auth.anchors.items[i].len);
    }
    /* Pins: each pin set's digest of its pins' SHA-256 in list order (made while building
     * the set; the DER of pins is not kept): any changed, added, removed or reordered pin
     * changes it. */
    hash_u64(&h, pol->auth.num_leaf_lists);
    for (size_t l = 0; l < pol->auth.num_leaf_lists; l++) {
        uint8_t digest[SHA256_DIGEST_LENGTH];
        mtlsp_pinset_digest(cp->pins[l], digest);
        hash_u64(&h, pol->auth.leaf_lists[l].num);
        hash_bytes(&h, digest, sizeof(digest));
    }
    hash_u64(&h, pol->match.num_sni);
    for (size_t i = 0; i < pol->match.num_sni; i++) {
        hash_bytes(&h, pol->match.sni[i], strlen(pol->match.sni[i]));
    }
    hash_cidrs(&h, pol->match.remote_ranges, pol->match.num_remote_ranges);
    hash_cidrs(&h, pol->match.remote_not_ranges, pol->match.num_remote_not_ranges);
    hash_cidrs(&h, pol->match.local_ranges, pol->match.num_local_ranges);
    SHA256_Final(cp->sid_ctx, &h);
}

/* The CertificateRequest carries the CA names in a list with a 16-bit length (TLS 1.2's
 * certificate_authorities, TLS 1.3's extension of that name): past it BoringSSL cannot write
 * the message and every handshake fails without a word (a pool of ~900 CAs). The names are
 * only a hint to the client, so such a policy sends none: clients then offer any certificate,
 * and verification is unchanged. (docs/design-notes.md: a deliberate difference.) */
#define MAX_CA_NAMES_BYTES (65535 - 2)

static void drop_oversized_ca_names(struct compiled_policy *cp)
{
    size_t total = 0;
    for (size_t i = 0; i < cp->ca_names.num; i++) {
        total += 2 + mtlsp_blob_len(cp->ca_names.items[i]);
    }
    if (total > MAX_CA_NAMES_BYTES) {
        mtlsp_blob_list_free(&cp->ca_names);
    }
}

static MTLS_RESULT compile_policy(struct compiled_policy *cp, const struct conn_policy *pol,
                                  size_t index, uint64_t generation, mtls_error *err)
{
    const struct der_list *anchors = &pol->auth.anchors;
    if (anchors->num > 0) {
        cp->store = X509_STORE_new();
        cp->anchors = sk_X509_new_null();
        ENSURE(cp->store != NULL && cp->anchors != NULL, MTLS_ERR_NOMEM);
        for (size_t i = 0; i < anchors->num; i++) {
            GUARD(add_anchor(cp, &anchors->items[i], err));
        }
        drop_oversized_ca_names(cp);
    }
    if (pol->auth.num_leaf_lists > 0) {
        cp->pins = mtlsp_calloc(pol->auth.num_leaf_lists, sizeof(*cp->pins));
        ENSURE_MEM(cp->pins);
        for (size_t i = 0; i < pol->auth.num_leaf_lists; i++) {
            GUARD(mtlsp_pinset_new(&cp->pins[i], &pol->auth.leaf_lists[i], err));
            cp->num_pins++;
        }
    }
    compute_sid_ctx(cp, pol, index, generation);
    return MTLS_RESULT_OK;
}

static void compiled_free(struct compiled_policy *cp)
{
    X509_STORE_free(cp->store);
    sk_X509_pop_free(cp->anchors, X509_free);
    mtlsp_blob_list_free(&cp->ca_names);
    for (size_t i = 0; i < cp->num_pins; i++) {
        mtlsp_pinset_free(cp->pins[i]);
    }
    mtlsp_free(cp->pins);
}

MTLS_API void mtls_ctx_up_ref(mtls_ctx *ctx)
{
    if (ctx != NULL) {
        atomic_fetch_add(&ctx->refs, 1);
    }
}

MTLS_API void mtls_ctx_free(mtls_ctx *ctx)
{
    if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; ctx->compiled != NULL && i < ctx->set->num; i++) {
        compiled_free(&ctx->compiled[i]);
    }
    mtlsp_free(ctx->compiled);
    mtlsp_policy_set_free(ctx->set);
    mtlsp_free(ctx);
}

static MTLS_RESULT ctx_build(struct mtls_ctx **out, const char *json, size_t len,
                             const char *server, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    struct mtls_ctx *ctx = mtlsp_calloc(1, sizeof(*ctx));
    ENSURE_MEM(ctx);
    atomic_init(&ctx->refs, 1);
    ctx->generation = atomic_fetch_add(&next_generation, 1);
    ctx->purpose = MTLS_PURPOSE_CLIENT;
    ctx->max_depth = MTLS_DEFAULT_MAX_DEPTH;
    GUARD_OUT(mtlsp_policy_load(&ctx->set, json, len, server, err));
    ctx->compiled = mtlsp_calloc(ctx->set->num, sizeof(*ctx->compiled));
    if (ctx->compiled == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    for (size_t i = 0; i < ctx->set->num; i++) {
        GUARD_OUT(compile_policy(&ctx->compiled[i], &ctx->set->policies[i], i, ctx->generation,
                                 err));
    }
    *out = ctx;
    ctx = NULL;
out:
    mtls_ctx_free(ctx);
    return rc;
}

MTLS_API mtls_ctx *mtls_ctx_new_from_json(const char *json, size_t json_len, const char *server,
                                          mtls_error *err)
{
    mtlsp_error_clear(err);
    struct mtls_ctx *ctx = NULL;
    if (json == NULL) {
        mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                        "mtls_ctx_new_from_json: json is NULL");
        return NULL;
    }
    mtls_result rc = ctx_build(&ctx, json, json_len, server, err);
    return MTLS_IS_OK(rc) ? ctx : NULL;
}

MTLS_API mtls_ctx *mtls_ctx_new_from_file(const char *path, const char *server,
                                          mtls_error *err)
{
    mtlsp_error_clear(err);
    char *text = NULL;
    size_t len = 0;
    struct mtls_ctx *ctx = NULL;
    if (path == NULL) {
        mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                        "mtls_ctx_new_from_file: path is NULL");
        return NULL;
    }
    mtls_result rc = mtlsp_read_file(path, MTLS_MAX_POLICY_BYTES, &text, &len, err);
    if (MTLS_IS_OK(rc)) {
        rc = ctx_build(&ctx, text, len, server, err);
        if (!MTLS_IS_OK(rc)) {
            mtlsp_error_prefix(err, path); /* name the file; keeps line/column */
        }
    }
    mtlsp_free(text);
    return MTLS_IS_OK(rc) ? ctx : NULL;
}

MTLS_API mtls_status mtls_ctx_set_clock(mtls_ctx *ctx, mtls_clock_fn fn, void *user,
                                        mtls_error *err)
{
    mtlsp_error_clear(err);
    if (ctx == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_set_clock: ctx is NULL");
    }
    ctx->clock = fn;
    ctx->clock_user = user;
    return MTLS_OK;
}

MTLS_API mtls_status mtls_ctx_set_purpose(mtls_ctx *ctx, int purpose, mtls_error *err)
{
    mtlsp_error_clear(err);
    if (ctx == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_set_purpose: ctx is NULL");
    }
    if (purpose != MTLS_PURPOSE_CLIENT && purpose != MTLS_PURPOSE_SERVER) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_set_purpose: unknown purpose %d",
                                            purpose);
    }
    ctx->purpose = purpose;
    return MTLS_OK;
}

MTLS_API mtls_status mtls_ctx_set_max_depth(mtls_ctx *ctx, int max_depth, mtls_error *err)
{
    mtlsp_error_clear(err);
    if (ctx == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_set_max_depth: ctx is NULL");
    }
    if (max_depth < 0 || max_depth > MTLS_MAX_DEPTH_LIMIT) {
        return (mtls_status)mtlsp_error_set(
            err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
            "mtls_ctx_set_max_depth: %d is not in 0..%d", max_depth, MTLS_MAX_DEPTH_LIMIT);
    }
    ctx->max_depth = max_depth;
    return MTLS_OK;
}

MTLS_API size_t mtls_ctx_num_policies(const mtls_ctx *ctx)
{
    return ctx != NULL ? ctx->set->num : 0;
}

MTLS_API int mtls_ctx_policy_mode(const mtls_ctx *ctx, size_t index)
{
    if (ctx == NULL || index >= ctx->set->num) {
        return -1;
    }
    return ctx->set->policies[index].auth.mode;
}

MTLS_API const char *mtls_ctx_policy_field(const mtls_ctx *ctx, size_t index, const char *name)
{
    if (ctx == NULL || name == NULL || index >= ctx->set->num) {
        return NULL;
    }
    for (size_t f = 0; f < PF_NUM_FIELDS; f++) {
        if (strcmp(mtlsp_policy_field_names[f], name) == 0) {
            return ctx->set->policies[index].fields[f];
        }
    }
    return NULL;
}

MTLS_API mtls_status mtls_ctx_select(const mtls_ctx *ctx, const char *sni, const char *remote_ip,
                                     const char *local_ip, size_t *out_index, mtls_error *err)
{
    mtlsp_error_clear(err);
    if (ctx == NULL || out_index == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_select: NULL argument");
    }
    return mtlsp_status(mtlsp_policy_select(ctx->set, sni, remote_ip, local_ip, out_index, err));
}

static MTLS_RESULT verify_der(struct mtls_peer **out, const struct mtls_ctx *ctx, size_t index,
                              const uint8_t *const *certs, const size_t *lens, size_t num,
                              int64_t at, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    ENSURE_MSG(ctx != NULL && out != NULL && (num == 0 || (certs != NULL && lens != NULL)),
               MTLS_ERR_INVALID_ARGUMENT, "mtls_verify_der: NULL argument");
    ENSURE_MSG(index < ctx->set->num, MTLS_ERR_INVALID_ARGUMENT,
               "mtls_verify_der: policy index %zu out of range (%zu policies)", index,
               ctx->set->num);
    size_t n = num > MTLS_MAX_PEER_CERTS ? MTLS_MAX_PEER_CERTS + 1 : num;
    struct mtlsp_blob *bufs[MTLS_MAX_PEER_CERTS + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        if (certs[i] == NULL && lens[i] != 0) {
            SET_OUT(MTLS_ERR_INVALID_ARGUMENT, "mtls_verify_der: certs[%zu] is NULL", i);
        }
        bufs[i] = mtlsp_blob_new(certs[i] ? certs[i] : (const uint8_t *)"", lens[i]);
        if (bufs[i] == NULL) {
            SET_OUT(MTLS_ERR_NOMEM, NULL);
        }
    }
    GUARD_OUT(mtlsp_judge(out, ctx, index, bufs, NULL, n, at == MTLS_TIME_NOW ? mtlsp_ctx_now(ctx) : at,
                          err));
out:
    for (size_t i = 0; i < n; i++) {
        mtlsp_blob_free(bufs[i]);
    }
    return rc;
}

MTLS_API mtls_status mtls_verify_der(const mtls_ctx *ctx, size_t index,
                                     const uint8_t *const *certs, const size_t *cert_lens,
                                     size_t num_certs, int64_t at_unix, mtls_peer **out_peer,
                                     mtls_error *err)
{
    mtlsp_error_clear(err);
    return mtlsp_status(verify_der(out_peer, ctx, index, certs, cert_lens, num_certs, at_unix,
                                   err));
}
