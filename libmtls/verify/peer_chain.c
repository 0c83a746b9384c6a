/*
 * verify/peer_chain.c - where verification went: the path it built (leaf to anchor) and the
 * presented certificate at fault, for explanations (`mtls verify`) and for servers that log
 * the chain. Captured once per verified peer; the client's own buffers are shared, only the
 * anchor (which the client did not send) is encoded.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "../core/mem.h"
#include "verify.h"

void mtlsp_blob_list_free(struct blob_list *c)
{
    for (size_t i = 0; i < c->num; i++) {
        mtlsp_blob_free(c->items[i]);
    }
    mtlsp_free(c->items);
    *c = (struct blob_list){0};
}

MTLS_RESULT mtlsp_blob_list_push(struct blob_list *l, struct mtlsp_blob *b, mtls_error *err)
{
    if (l->num == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        struct mtlsp_blob **items = mtlsp_reallocarray(l->items, cap, sizeof(*items));
        if (items == NULL) {
            mtlsp_blob_free(b);
            BAIL(MTLS_ERR_NOMEM);
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->num++] = b;
    return MTLS_RESULT_OK;
}

/* The buffer of `x`: the client's own when it sent `x`, else a new encoding. */
static struct mtlsp_blob *buffer_of(X509 *x, STACK_OF(X509) *presented, struct mtlsp_blob *const *certs)
{
    for (size_t j = 0; j < (size_t)sk_X509_num(presented); j++) {
        if (sk_X509_value(presented, j) == x) {
            mtlsp_blob_up_ref(certs[j]);
            return certs[j];
        }
    }
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    if (len <= 0) {
        return NULL;
    }
    struct mtlsp_blob *b = mtlsp_blob_new(der, (size_t)len);
    OPENSSL_free(der);
    return b;
}

MTLS_RESULT mtlsp_chain_capture(struct blob_list *out, STACK_OF(X509) *chain,
                                STACK_OF(X509) *presented, struct mtlsp_blob *const *certs,
                                mtls_error *err)
{
    size_t n = sk_X509_num(chain);
    mtlsp_blob_list_free(out);
    if (n == 0) {
        return MTLS_RESULT_OK;
    }
    out->items = mtlsp_calloc(n, sizeof(*out->items));
    ENSURE_MEM(out->items);
    for (size_t i = 0; i < n; i++) {
        out->items[i] = buffer_of(sk_X509_value(chain, i), presented, certs);
        if (out->items[i] == NULL) {
            mtlsp_blob_list_free(out);
            ERR_clear_error();
            BAIL(MTLS_ERR_NOMEM);
        }
        out->num = i + 1;
    }
    return MTLS_RESULT_OK;
}

MTLS_API size_t mtls_peer_num_chain(const mtls_peer *peer)
{
    return peer != NULL ? peer->chain.num : 0;
}

MTLS_API const uint8_t *mtls_peer_chain_cert(const mtls_peer *peer, size_t i, size_t *out_len)
{
    if (peer == NULL || i >= peer->chain.num) {
        return NULL;
    }
    if (out_len != NULL) {
        *out_len = mtlsp_blob_len(peer->chain.items[i]);
    }
    return mtlsp_blob_data(peer->chain.items[i]);
}

/* Index of the presented certificate whose bytes equal `x`, or -1. */
static int presented_index(const struct mtls_peer *p, X509 *x)
{
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    int found = -1;
    for (size_t i = 0; len > 0 && i < p->num_certs && found < 0; i++) {
        if (mtlsp_blob_len(p->certs[i]) == (size_t)len &&
            memcmp(mtlsp_blob_data(p->certs[i]), der, (size_t)len) == 0) {
            found = (int)i;
        }
    }
    OPENSSL_free(der);
    ERR_clear_error();
    return found;
}

MTLS_API int mtls_peer_error_depth(const mtls_peer *peer)
{
    if (peer == NULL || peer->reason == MTLS_OK) {
        return -1;
    }
    /* The verifier's own depth counts in the chain it built, which need not be the order
     * the client sent: locate the certificate at fault among the presented ones. */
    if (peer->bad != NULL) {
        return presented_index(peer, peer->bad);
    }
    return peer->depth >= 0 && (size_t)peer->depth < peer->num_certs ? peer->depth : -1;
}
