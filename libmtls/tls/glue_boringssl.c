/*
 * tls/glue_boringssl.c - BoringSSL handshake glue (mtls/boringssl.h): policy selection in
 * the select-certificate callback, per-connection verify mode / CA names / session-ID
 * context, the custom verify callback, and re-judging of resumed sessions. What both TLS
 * libraries share is in conn.c. No policy logic lives here.
 */
#include <string.h>

#include <openssl/ssl.h>

#include <mtls/boringssl.h>

#include "../core/blob.h"
#include "../core/mem.h"
#include "conn.h"

/* Judges the chain BoringSSL holds for `ssl` (fresh or from the resumed session) and
 * records the verdict. Returns 1 if the client is accepted. */
static int judge_ssl(const SSL *ssl, struct conn *c, uint8_t *out_alert)
{
    const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
    size_t n = chain != NULL ? sk_CRYPTO_BUFFER_num(chain) : 0;
    struct mtlsp_blob *certs[MTLS_MAX_PEER_CERTS + 1];
    if (n > MTLS_MAX_PEER_CERTS) {
        n = MTLS_MAX_PEER_CERTS + 1; /* judged as too long */
    }
    size_t made = 0;
    for (; made < n; made++) {
        const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(chain, made);
        certs[made] = mtlsp_blob_new(CRYPTO_BUFFER_data(b), CRYPTO_BUFFER_len(b));
        if (certs[made] == NULL) {
            break;
        }
    }
    int ok = 0;
    if (made == n) {
        /* BoringSSL parsed the chain into the session before calling us (fresh or
         * resumed): the judge reuses that parse. */
        ok = mtlsp_tls_judge(c, certs, SSL_get_peer_full_cert_chain(ssl), n, out_alert);
    } else {
        mtlsp_tls_set_peer(c, NULL);
        c->judge_failed = 1;
        *out_alert = SSL_AD_INTERNAL_ERROR;
    }
    for (size_t i = 0; i < made; i++) {
        mtlsp_blob_free(certs[i]);
    }
    return ok;
}

/* A TLS 1.3 ticket carries the client's chain; BoringSSL cannot write a NewSessionTicket
 * much over 32 KiB (the connection's first write then fails), so such clients get none. */
#define MAX_TICKET_CHAIN (24 * 1024)

static void no_ticket_for_big_chains(SSL *ssl)
{
    const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
    size_t total = 0;
    for (size_t i = 0; chain != NULL && i < sk_CRYPTO_BUFFER_num(chain); i++) {
        total += CRYPTO_BUFFER_len(sk_CRYPTO_BUFFER_value(chain, i));
    }
    if (total > MAX_TICKET_CHAIN) {
        SSL_set_options(ssl, SSL_OP_NO_TICKET);
    }
}

static enum ssl_verify_result_t verify_callback(SSL *ssl, uint8_t *out_alert)
{
    struct conn *c = mtlsp_tls_conn(ssl, 0);
    if (c == NULL || c->ctx == NULL) {
        *out_alert = SSL_AD_INTERNAL_ERROR;
        return ssl_verify_invalid;
    }
    no_ticket_for_big_chains(ssl);
    return judge_ssl(ssl, c, out_alert) ? ssl_verify_ok : ssl_verify_invalid;
}

/* BoringSSL honours reverify-on-resume only on clients. This callback runs right after the
 * server's resumption decision, with the resumed session's chain in place: a resumed
 * session is judged again by the current policy at the current time, and refused (the
 * handshake aborts) if the verdict changed (DESIGN.md §2, §6). */
static int resumption_callback(const SSL_CLIENT_HELLO *hello)
{
    SSL *ssl = hello->ssl;
    struct conn *c = mtlsp_tls_conn(ssl, 0);
    uint8_t alert;
    if (c == NULL || c->ctx == NULL || !SSL_session_reused(ssl)) {
        return 1;
    }
    return judge_ssl(ssl, c, &alert);
}

/* The CA names of `cp` as BoringSSL takes them (a new stack), or NULL when out of memory. */
static STACK_OF(CRYPTO_BUFFER) *ca_names(const struct compiled_policy *cp)
{
    STACK_OF(CRYPTO_BUFFER) *names = sk_CRYPTO_BUFFER_new_null();
    for (size_t i = 0; names != NULL && i < cp->ca_names.num; i++) {
        const struct mtlsp_blob *b = cp->ca_names.items[i];
        CRYPTO_BUFFER *name = CRYPTO_BUFFER_new(mtlsp_blob_data(b), mtlsp_blob_len(b), NULL);
        if (name == NULL || !sk_CRYPTO_BUFFER_push(names, name)) {
            CRYPTO_BUFFER_free(name);
            sk_CRYPTO_BUFFER_pop_free(names, CRYPTO_BUFFER_free);
            names = NULL;
        }
    }
    return names;
}

/* Applies policy `index` of `ctx` to the connection. Returns 1 on success. */
static int configure(SSL *ssl, const struct mtls_ctx *ctx, size_t index)
{
    const struct compiled_policy *cp = &ctx->compiled[index];
    int verify = mtlsp_tls_verify_mode(ctx, index);
    SSL_set_custom_verify(ssl, verify, verify_callback);
    if (!SSL_set_session_id_context(ssl, cp->sid_ctx, sizeof(cp->sid_ctx))) {
        return 0;
    }
    if (verify != SSL_VERIFY_NONE && cp->ca_names.num > 0) {
        STACK_OF(CRYPTO_BUFFER) *names = ca_names(cp);
        if (names == NULL) {
            return 0;
        }
        SSL_set0_client_CAs(ssl, names);
    }
    return 1;
}

MTLS_API enum ssl_select_cert_result_t mtls_ssl_on_client_hello(const SSL_CLIENT_HELLO *hello)
{
    SSL *ssl = hello->ssl;
    struct holder *h = mtlsp_tls_holder(SSL_get_SSL_CTX(ssl));
    if (h == NULL) {
        return ssl_select_cert_success;
    }
    struct conn *c = mtlsp_tls_conn(ssl, 1);
    if (c == NULL) {
        return ssl_select_cert_error;
    }
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!mtlsp_tls_select(c, h, ssl, sni)) {
        return ssl_select_cert_error;
    }
    return configure(ssl, c->ctx, c->index) ? ssl_select_cert_success : ssl_select_cert_error;
}

/* The client CertificateVerify algorithms Go's server accepts (BoringSSL's default list lacks
 * Ed25519 and P-521, so an Ed25519 or P-521 client key would fail where Caddy succeeds). */
static const uint16_t client_sigalgs[] = {
    SSL_SIGN_RSA_PSS_RSAE_SHA256, SSL_SIGN_ECDSA_SECP256R1_SHA256, SSL_SIGN_ED25519,
    SSL_SIGN_RSA_PSS_RSAE_SHA384, SSL_SIGN_RSA_PSS_RSAE_SHA512,    SSL_SIGN_RSA_PKCS1_SHA256,
    SSL_SIGN_RSA_PKCS1_SHA384,    SSL_SIGN_RSA_PKCS1_SHA512,       SSL_SIGN_ECDSA_SECP384R1_SHA384,
    SSL_SIGN_ECDSA_SECP521R1_SHA512, SSL_SIGN_RSA_PKCS1_SHA1,      SSL_SIGN_ECDSA_SHA1,
};

static MTLS_RESULT attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err)
{
    int is_new;
    GUARD(mtlsp_tls_attach(ssl_ctx, ctx, &is_new, err));
    if (!is_new) {
        return MTLS_RESULT_OK;
    }
    /* The callbacks first: a holder without them would let clients in unjudged. */
    SSL_CTX_set_select_certificate_cb(ssl_ctx, mtls_ssl_on_client_hello);
    SSL_CTX_set_dos_protection_cb(ssl_ctx, resumption_callback);
    /* Until a ClientHello picks a policy, ask for nothing. */
    SSL_CTX_set_custom_verify(ssl_ctx, SSL_VERIFY_NONE, verify_callback);
    ENSURE_MSG(SSL_CTX_set_verify_algorithm_prefs(ssl_ctx, client_sigalgs,
                                                  sizeof(client_sigalgs) / sizeof(client_sigalgs[0])),
               MTLS_ERR_TLS_LIBRARY, "SSL_CTX_set_verify_algorithm_prefs failed");
    return MTLS_RESULT_OK;
}

MTLS_API mtls_status mtls_ssl_ctx_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err)
{
    mtlsp_error_clear(err);
    return mtlsp_status(attach(ssl_ctx, ctx, err));
}
