/*
 * tls/glue_openssl.c - OpenSSL 3 handshake glue (mtls/openssl.h): policy selection in the
 * ClientHello callback, per-connection verify mode / CA names / session-ID context, and
 * libmtls's judge in place of X509_verify_cert (SSL_CTX_set_cert_verify_callback). What both
 * TLS libraries share is in conn.c. No policy logic lives here.
 *
 * Where OpenSSL differs from BoringSSL:
 * - OpenSSL cannot judge a resumed session's chain again, so connections whose policy asks
 *   for a client certificate never resume: no tickets are issued to them and their
 *   session-ID context is random, so no cached session or ticket matches it. Policies without
 *   client authentication resume as usual (their context is the policy digest).
 * - The ClientHello callback runs before the SNI callback, on the SSL_CTX the connection
 *   started on. Servers that switch SSL_CTX by SNI (nginx's virtual servers) may land on
 *   another SSL_CTX with another policy set: the verify callback, and mtls_ssl_get0_peer for
 *   a client without certificate, then select the policy again from the final SSL_CTX, with
 *   the verify mode that SSL_CTX carries (mtls_ssl_ctx_attach sets a fail-closed one).
 * - The client's certificates reach the verify callback parsed; their bytes are OpenSSL's
 *   encoding of them (i2d_X509), which equals what the client sent for DER certificates.
 */
#include <string.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mtls/openssl.h>

#include "../core/blob.h"
#include "../core/mem.h"
#include "conn.h"

/* The first host_name of a server_name extension body (RFC 6066), NUL-terminated in `out`,
 * or 0 when there is none or it is malformed (OpenSSL then refuses the ClientHello itself). */
static int parse_sni(const unsigned char *ext, size_t len, char *out, size_t out_size)
{
    if (len < 2 || (size_t)((ext[0] << 8) | ext[1]) != len - 2) {
        return 0;
    }
    size_t off = 2;
    while (off + 3 <= len) {
        unsigned type = ext[off];
        size_t n = (size_t)((ext[off + 1] << 8) | ext[off + 2]);
        off += 3;
        if (n > len - off) {
            return 0;
        }
        if (type == TLSEXT_NAMETYPE_host_name) {
            if (n == 0 || n >= out_size || memchr(ext + off, 0, n) != NULL) {
                return 0;
            }
            memcpy(out, ext + off, n);
            out[n] = '\0';
            return 1;
        }
        off += n;
    }
    return 0;
}

static X509_NAME *name_of(const struct mtlsp_blob *b)
{
    const unsigned char *p = mtlsp_blob_data(b);
    return d2i_X509_NAME(NULL, &p, (long)mtlsp_blob_len(b));
}

/* Applies policy `index` of `ctx` to the connection. Returns 1 on success. */
static int configure(SSL *ssl, const struct mtls_ctx *ctx, size_t index)
{
    const struct compiled_policy *cp = &ctx->compiled[index];
    int verify = mtlsp_tls_verify_mode(ctx, index);
    SSL_set_verify(ssl, verify, NULL);
    if (verify == SSL_VERIFY_NONE) {
        return SSL_set_session_id_context(ssl, cp->sid_ctx, sizeof(cp->sid_ctx));
    }
    uint8_t unique[SSL_MAX_SID_CTX_LENGTH];
    SSL_set_options(ssl, SSL_OP_NO_TICKET);
    if (!SSL_set_num_tickets(ssl, 0) || RAND_bytes(unique, sizeof(unique)) != 1 ||
        !SSL_set_session_id_context(ssl, unique, sizeof(unique))) {
        return 0;
    }
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    for (size_t i = 0; names != NULL && i < cp->ca_names.num; i++) {
        X509_NAME *n = name_of(cp->ca_names.items[i]);
        if (n == NULL || !sk_X509_NAME_push(names, n)) {
            X509_NAME_free(n);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            names = NULL;
        }
    }
    if (names == NULL) {
        return 0;
    }
    SSL_set_client_CA_list(ssl, names); /* takes `names`; an empty list sends none */
    return 1;
}

MTLS_API int mtls_ssl_on_client_hello(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    struct holder *h = mtlsp_tls_holder(SSL_get_SSL_CTX(ssl));
    if (h == NULL) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    *alert = SSL_AD_INTERNAL_ERROR;
    struct conn *c = mtlsp_tls_conn(ssl, 1);
    if (c == NULL) {
        return SSL_CLIENT_HELLO_ERROR;
    }
    const unsigned char *ext;
    size_t ext_len;
    char sni[TLSEXT_MAXLEN_host_name + 1];
    int has_sni = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) &&
                  parse_sni(ext, ext_len, sni, sizeof(sni));
    if (!mtlsp_tls_select(c, h, ssl, has_sni ? sni : NULL)) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return configure(ssl, c->ctx, c->index) ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_ERROR;
}

/* The X509_V_ERR_* whose alert (OpenSSL's ssl_x509err2alert) is libmtls's for `reason`. */
static int x509_error_for(int reason)
{
    switch (mtlsp_tls_alert_for(reason)) {
    case SSL_AD_CERTIFICATE_EXPIRED:
        return X509_V_ERR_CERT_HAS_EXPIRED;
    case SSL_AD_UNKNOWN_CA:
        return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    case SSL_AD_CERTIFICATE_REVOKED:
        return X509_V_ERR_CERT_REVOKED;
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
        return X509_V_ERR_INVALID_PURPOSE;
    default:
        return X509_V_ERR_CERT_REJECTED;
    }
}

/* The connection state to judge with: selected again when the connection moved to another
 * SSL_CTX after its ClientHello (SNI-based virtual servers). NULL when libmtls is not
 * attached to the connection's SSL_CTX, or when out of memory. */
static struct conn *current_conn(SSL *ssl)
{
    struct holder *h = mtlsp_tls_holder(SSL_get_SSL_CTX(ssl));
    struct conn *c = mtlsp_tls_conn(ssl, h != NULL);
    if (c == NULL || h == NULL || (c->from == h && c->ctx != NULL)) {
        return c;
    }
    mtlsp_tls_select(c, h, ssl, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    return c; /* no policy matched: c->peer says so, c->ctx may be set */
}

static int judge_chain(struct conn *c, STACK_OF(X509) *chain, uint8_t *alert)
{
    size_t n = chain != NULL ? (size_t)sk_X509_num(chain) : 0;
    struct mtlsp_blob *certs[MTLS_MAX_PEER_CERTS + 1];
    if (n > MTLS_MAX_PEER_CERTS) {
        n = MTLS_MAX_PEER_CERTS + 1; /* judged as too long */
    }
    size_t made = 0;
    for (; made < n; made++) {
        unsigned char *der = NULL;
        int len = i2d_X509(sk_X509_value(chain, (int)made), &der);
        certs[made] = len > 0 ? mtlsp_blob_new(der, (size_t)len) : NULL;
        OPENSSL_free(der);
        if (certs[made] == NULL) {
            break;
        }
    }
    int ok = 0;
    if (made == n) {
        ok = mtlsp_tls_judge(c, certs, n <= MTLS_MAX_PEER_CERTS ? chain : NULL, n, alert);
    } else {
        mtlsp_tls_set_peer(c, NULL);
        c->judge_failed = 1;
        *alert = SSL_AD_INTERNAL_ERROR;
    }
    for (size_t i = 0; i < made; i++) {
        mtlsp_blob_free(certs[i]);
    }
    return ok;
}

/* Replaces X509_verify_cert. The untrusted stack is the client's whole chain, leaf first. */
static int verify_callback(X509_STORE_CTX *sctx, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct conn *c = ssl != NULL ? current_conn(ssl) : NULL;
    uint8_t alert = SSL_AD_INTERNAL_ERROR;
    if (c == NULL || c->ctx == NULL || (c->peer != NULL && c->peer->reason ==
                                                               MTLS_ERR_NO_MATCHING_POLICY)) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    if (judge_chain(c, X509_STORE_CTX_get0_untrusted(sctx), &alert)) {
        X509_STORE_CTX_set_error(sctx, X509_V_OK);
        return 1;
    }
    X509_STORE_CTX_set_error(sctx, c->peer != NULL ? x509_error_for(c->peer->reason)
                                                   : X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* The verify mode of `ssl_ctx` itself, used only by connections that switch to it after
 * their ClientHello: a certificate is requested if any policy may use one, and required if
 * every policy requires one. */
static int fallback_verify_mode(const struct mtls_ctx *ctx)
{
    int any = 0, all = 1;
    for (size_t i = 0; i < ctx->set->num; i++) {
        int mode = mtlsp_tls_verify_mode(ctx, i);
        any |= mode != SSL_VERIFY_NONE;
        all &= (mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0;
    }
    return !any ? SSL_VERIFY_NONE
                : all ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER;
}

static MTLS_RESULT attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err)
{
    int is_new;
    GUARD(mtlsp_tls_attach(ssl_ctx, ctx, &is_new, err));
    /* Also on a swap: the new policy set may ask for more. */
    SSL_CTX_set_verify(ssl_ctx, fallback_verify_mode(ctx), NULL);
    if (is_new) {
        SSL_CTX_set_client_hello_cb(ssl_ctx, mtls_ssl_on_client_hello, NULL);
        SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_callback, NULL);
    }
    return MTLS_RESULT_OK;
}

MTLS_API mtls_status mtls_ssl_ctx_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err)
{
    mtlsp_error_clear(err);
    return mtlsp_status(attach(ssl_ctx, ctx, err));
}
