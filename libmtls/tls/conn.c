/*
 * tls/conn.c - the part of the handshake glue that BoringSSL and OpenSSL share (conn.h):
 * holders and connection state in ex-data, policy selection, judging, the verdict and the
 * connection placeholders. No policy logic lives here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <mtls/mtls.h>

#include "../core/blob.h"
#include "../core/mem.h"
#include "conn.h"

/* The public functions below are declared by mtls/boringssl.h and mtls/openssl.h alike. */
MTLS_API mtls_status mtls_ssl_set_addresses(SSL *ssl, const char *remote_ip, const char *local_ip,
                                            mtls_error *err);
MTLS_API int mtls_ssl_get_policy_index(const SSL *ssl, size_t *out_index);
MTLS_API mtls_peer *mtls_ssl_get0_peer(SSL *ssl);

static int holder_idx = -1;
static int conn_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void holder_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int index, long argl,
                        void *argp)
{
    struct holder *h = ptr;
    if (h == NULL) {
        return;
    }
    mtls_ctx_free(h->ctx);
    pthread_mutex_destroy(&h->mu);
    mtlsp_free(h);
}

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int index, long argl,
                      void *argp)
{
    struct conn *c = ptr;
    if (c == NULL) {
        return;
    }
    mtls_ctx_free(c->ctx);
    mtls_peer_free(c->peer);
    mtlsp_free(c);
}

static void init_indexes(void)
{
    holder_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, holder_free);
    conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

struct conn *mtlsp_tls_conn(const SSL *ssl, int create)
{
    pthread_once(&idx_once, init_indexes);
    struct conn *c = SSL_get_ex_data(ssl, conn_idx);
    if (c != NULL || !create) {
        return c;
    }
    c = mtlsp_calloc(1, sizeof(*c));
    if (c != NULL && !SSL_set_ex_data((SSL *)ssl, conn_idx, c)) {
        mtlsp_free(c);
        c = NULL;
    }
    return c;
}

void mtlsp_tls_set_peer(struct conn *c, struct mtls_peer *p)
{
    mtls_peer_free(c->peer);
    c->peer = p;
}


uint8_t mtlsp_tls_alert_for(int reason)
{
    switch (reason) {
    case MTLS_ERR_NO_CERTIFICATE:
        return SSL_AD_CERTIFICATE_REQUIRED;
    case MTLS_ERR_CERT_EXPIRED:
    case MTLS_ERR_CERT_NOT_YET_VALID:
        return SSL_AD_CERTIFICATE_EXPIRED;
    case MTLS_ERR_UNKNOWN_ISSUER:
        return SSL_AD_UNKNOWN_CA;
    case MTLS_ERR_REVOKED:
        return SSL_AD_CERTIFICATE_REVOKED;
    case MTLS_ERR_WRONG_EKU:
        return SSL_AD_UNSUPPORTED_CERTIFICATE;
    default:
        return SSL_AD_BAD_CERTIFICATE;
    }
}

static void read_addresses(struct conn *c, const SSL *ssl)
{
    int fd = SSL_get_fd(ssl);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (c->has_addresses || fd < 0) {
        return;
    }
    for (int local = 0; local < 2; local++) {
        len = sizeof(ss);
        int r = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                      : getpeername(fd, (struct sockaddr *)&ss, &len);
        char *dst = local ? c->local : c->remote;
        if (r != 0) {
            continue;
        }
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, dst, INET6_ADDRSTRLEN);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, dst, INET6_ADDRSTRLEN);
        }
    }
}


struct holder *mtlsp_tls_holder(const SSL_CTX *ssl_ctx)
{
    pthread_once(&idx_once, init_indexes);
    return SSL_CTX_get_ex_data(ssl_ctx, holder_idx);
}

MTLS_RESULT mtlsp_tls_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, int *out_new, mtls_error *err)
{
    *out_new = 0;
    ENSURE_MSG(ssl_ctx != NULL && ctx != NULL, MTLS_ERR_INVALID_ARGUMENT,
               "mtls_ssl_ctx_attach: NULL argument");
    struct holder *h = mtlsp_tls_holder(ssl_ctx);
    if (h != NULL) {
        mtls_ctx_up_ref(ctx);
        pthread_mutex_lock(&h->mu);
        struct mtls_ctx *old = h->ctx;
        h->ctx = ctx;
        pthread_mutex_unlock(&h->mu);
        mtls_ctx_free(old);
        return MTLS_RESULT_OK;
    }
    h = mtlsp_calloc(1, sizeof(*h));
    ENSURE_MEM(h);
    pthread_mutex_init(&h->mu, NULL);
    mtls_ctx_up_ref(ctx);
    h->ctx = ctx;
    if (!SSL_CTX_set_ex_data(ssl_ctx, holder_idx, h)) {
        holder_free(NULL, h, NULL, 0, 0, NULL);
        BAIL(MTLS_ERR_NOMEM);
    }
    *out_new = 1;
    return MTLS_RESULT_OK;
}

int mtlsp_tls_select(struct conn *c, struct holder *h, const SSL *ssl, const char *sni)
{
    pthread_mutex_lock(&h->mu);
    struct mtls_ctx *ctx = h->ctx;
    mtls_ctx_up_ref(ctx);
    pthread_mutex_unlock(&h->mu);
    mtls_ctx_free(c->ctx);
    c->ctx = ctx;
    c->from = h;
    mtlsp_tls_set_peer(c, NULL);
    read_addresses(c, ssl);
    mtls_result rc = mtlsp_policy_select(ctx->set, sni, c->remote[0] ? c->remote : NULL,
                                         c->local[0] ? c->local : NULL, &c->index, NULL);
    if (MTLS_IS_OK(rc)) {
        return 1;
    }
    struct mtls_peer *p = mtlsp_peer_new();
    if (p != NULL) {
        p->reason = rc.code;
        p->mode = MTLS_MODE_OFF;
    }
    mtlsp_tls_set_peer(c, p);
    return 0;
}

int mtlsp_tls_judge(struct conn *c, struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed,
                    size_t num, uint8_t *out_alert)
{
    *out_alert = SSL_AD_INTERNAL_ERROR;
    struct mtls_peer *p = NULL;
    mtls_result rc =
        mtlsp_judge(&p, c->ctx, c->index, certs, parsed, num, mtlsp_ctx_now(c->ctx), NULL);
    if (!MTLS_IS_OK(rc)) {
        /* Refused; mtls_ssl_get0_peer must not later judge "no certificate" instead. */
        mtlsp_tls_set_peer(c, NULL);
        c->judge_failed = 1;
        return 0;
    }
    c->judge_failed = 0;
    mtlsp_tls_set_peer(c, p);
    if (!p->accepted) {
        *out_alert = mtlsp_tls_alert_for(p->reason);
    }
    return p->accepted;
}

int mtlsp_tls_verify_mode(const struct mtls_ctx *ctx, size_t index)
{
    if (ctx->set->policies[index].auth.mode == MTLS_MODE_OFF) {
        return SSL_VERIFY_NONE;
    }
    return mtlsp_judge_rejects_no_cert(ctx, index) ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                   : SSL_VERIFY_PEER;
}

static const char *version_name(const SSL *ssl)
{
    switch (SSL_version(ssl)) {
    case TLS1_3_VERSION:
        return "tls1.3";
    case TLS1_2_VERSION:
        return "tls1.2";
    case TLS1_1_VERSION:
        return "tls1.1";
    case TLS1_VERSION:
        return "tls1.0";
    default:
        return "";
    }
}

static int dup_opt(char **out, const char *s, size_t n)
{
    *out = s != NULL ? mtlsp_strndup(s, n) : NULL;
    return s == NULL || *out != NULL;
}

/* Fills the connection placeholders once, after the handshake. All or nothing, so that a
 * later call after an allocation failure starts clean. */
static void fill_conn(struct mtls_peer *p, const SSL *ssl)
{
    const uint8_t *alpn = NULL;
    unsigned alpn_len = 0;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    const char *cname = cipher != NULL ? SSL_CIPHER_standard_name(cipher) : NULL;
    const char *v = version_name(ssl);
    char *version = NULL, *cipher_name = NULL, *proto = NULL, *server_name = NULL;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (!dup_opt(&version, v, strlen(v)) ||
        !dup_opt(&cipher_name, cname, cname ? strlen(cname) : 0) ||
        !dup_opt(&proto, (const char *)alpn, alpn_len) ||
        !dup_opt(&server_name, sni, sni ? strlen(sni) : 0)) {
        mtlsp_free(version);
        mtlsp_free(cipher_name);
        mtlsp_free(proto);
        mtlsp_free(server_name);
        return;
    }
    p->conn.version = version;
    p->conn.cipher = cipher_name;
    p->conn.proto = proto;
    p->conn.server_name = server_name;
    p->conn.resumed = SSL_session_reused(ssl);
    p->has_conn = 1;
}

MTLS_API int mtls_ssl_get_policy_index(const SSL *ssl, size_t *out_index)
{
    const struct conn *c = ssl != NULL ? mtlsp_tls_conn(ssl, 0) : NULL;
    if (c == NULL || c->ctx == NULL || out_index == NULL) {
        return 0;
    }
    /* A ClientHello that matched no policy leaves a peer carrying that reason. */
    if (c->peer != NULL && c->peer->reason == MTLS_ERR_NO_MATCHING_POLICY) {
        return 0;
    }
    *out_index = c->index;
    return 1;
}

MTLS_API mtls_peer *mtls_ssl_get0_peer(SSL *ssl)
{
    struct holder *h = ssl != NULL ? mtlsp_tls_holder(SSL_get_SSL_CTX(ssl)) : NULL;
    struct conn *c = ssl != NULL ? mtlsp_tls_conn(ssl, h != NULL && !SSL_in_init(ssl)) : NULL;
    if (c == NULL || c->judge_failed) {
        return NULL;
    }
    if (c->peer == NULL && h != NULL && c->from != h &&
        !mtlsp_tls_select(c, h, ssl, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))) {
        /* The connection moved to this SSL_CTX after its ClientHello (SNI-based virtual
         * servers, OpenSSL) and sent no certificate: its policy comes from this one. */
        return c->peer;
    }
    if (c->peer == NULL && c->ctx != NULL) {
        /* No certificate was sent, so the verify callback never ran (and the TLS library
         * refused the handshake if the policy requires one); or, in the OpenSSL build, a
         * session resumed on a policy without client authentication. */
        struct mtls_peer *p = NULL;
        if (!MTLS_IS_OK(mtlsp_judge(&p, c->ctx, c->index, NULL, NULL, 0, mtlsp_ctx_now(c->ctx),
                                    NULL))) {
            return NULL;
        }
        mtlsp_tls_set_peer(c, p);
    }
    if (c->peer != NULL && !c->peer->has_conn && !SSL_in_init(ssl)) {
        fill_conn(c->peer, ssl);
    }
    return c->peer;
}

MTLS_API mtls_status mtls_ssl_set_addresses(SSL *ssl, const char *remote_ip, const char *local_ip,
                                            mtls_error *err)
{
    mtlsp_error_clear(err);
    int family;
    uint8_t addr[16];
    if (ssl == NULL || (remote_ip != NULL && !mtlsp_parse_ip(remote_ip, &family, addr)) ||
        (local_ip != NULL && !mtlsp_parse_ip(local_ip, &family, addr)) ||
        (remote_ip != NULL && strlen(remote_ip) >= INET6_ADDRSTRLEN) ||
        (local_ip != NULL && strlen(local_ip) >= INET6_ADDRSTRLEN)) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ssl_set_addresses: bad SSL or IP address");
    }
    struct conn *c = mtlsp_tls_conn(ssl, 1);
    if (c == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_NOMEM, __FILE__, __LINE__, NULL);
    }
    snprintf(c->remote, sizeof(c->remote), "%s", remote_ip ? remote_ip : "");
    snprintf(c->local, sizeof(c->local), "%s", local_ip ? local_ip : "");
    c->has_addresses = 1;
    return MTLS_OK;
}

