/*
 * tls/conn.h - what the two handshake glues (glue_boringssl.c, glue_openssl.c) share: the
 * policy set attached to an SSL_CTX, the per-connection state attached to an SSL, policy
 * selection at ClientHello, the verdict and the connection placeholders. Everything here
 * uses only calls that BoringSSL and OpenSSL 3 both have, with the same meaning.
 */
#ifndef MTLS_TLS_CONN_H
#define MTLS_TLS_CONN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "../verify/verify.h"

/* Per SSL_CTX: the current policy set, swapped atomically under `mu`. */
struct holder {
    pthread_mutex_t mu;
    struct mtls_ctx *ctx;
};

/* Per SSL: the policy set this handshake uses (pinned at ClientHello) and its verdict. */
struct conn {
    struct mtls_ctx *ctx;
    const struct holder *from; /* the holder `ctx` was taken from */
    size_t index;
    struct mtls_peer *peer;
    char remote[INET6_ADDRSTRLEN];
    char local[INET6_ADDRSTRLEN];
    int has_addresses;
    int judge_failed; /* judging the chain failed (no memory): refused, and no verdict */
};

/* The holder of `ssl_ctx`, or NULL when libmtls is not attached to it. */
struct holder *mtlsp_tls_holder(const SSL_CTX *ssl_ctx);

/* mtlsp_tls_attach attaches `ctx` to `ssl_ctx` (a new holder, or a swap in the existing
 * one). *out_new is 1 when the holder is new: the caller then installs its callbacks.
 * MTLS_ERR_INVALID_ARGUMENT, MTLS_ERR_NOMEM. */
MTLS_RESULT mtlsp_tls_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, int *out_new, mtls_error *err);

/* The connection state of `ssl`; with `create`, made when missing (NULL when out of
 * memory). */
struct conn *mtlsp_tls_conn(const SSL *ssl, int create);

/* Replaces the connection's verdict (takes `p`). */
void mtlsp_tls_set_peer(struct conn *c, struct mtls_peer *p);

/* mtlsp_tls_select pins `h`'s current policy set on `c` and picks the connection policy for
 * `sni` (may be NULL) and the connection's addresses. Returns 1 when one matches; else 0,
 * with the connection's verdict set to the reason (no policy matches, or no memory). */
int mtlsp_tls_select(struct conn *c, struct holder *h, const SSL *ssl, const char *sni);

/* Judges `certs` (the client's chain, as the TLS library parsed it in `parsed`, which may be
 * NULL) for the connection and records the verdict. Returns 1 if the client is accepted;
 * else 0 with *out_alert set. */
int mtlsp_tls_judge(struct conn *c, struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed,
                    size_t num, uint8_t *out_alert);

/* The TLS alert for a refusal `reason` (MTLS_ERR_*). */
uint8_t mtlsp_tls_alert_for(int reason);

/* The SSL verify mode for policy `index` (SSL_VERIFY_NONE / _PEER / | _FAIL_IF_NO_PEER_CERT). */
int mtlsp_tls_verify_mode(const struct mtls_ctx *ctx, size_t index);

#endif
