/*
 * tls/glue.c - BoringSSL handshake glue: policy selection at ClientHello, per-connection
 * verify mode / CA names / session-ID context, the custom verify callback, re-judging of
 * resumed sessions, and the verdict attached to the SSL. No policy logic lives here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <mtls/boringssl.h>

#include "../core/mem.h"
#include "../verify/verify.h"

/* Per SSL_CTX: the current policy set, swapped atomically under `mu`. */
struct holder {
    pthread_mutex_t mu;
    struct mtls_ctx *ctx;
};

/* Per SSL: the policy set this handshake uses (pinned at ClientHello) and its verdict. */
struct conn {
    struct mtls_ctx *ctx;
    size_t index;
    struct mtls_peer *peer;
    char remote[INET6_ADDRSTRLEN];
    char local[INET6_ADDRSTRLEN];
    int has_addresses;
    int judge_failed; /* judging the chain failed (no memory): refused, and no verdict */
};

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

static struct conn *get_conn(const SSL *ssl, int create)
{
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

static void set_peer(struct conn *c, struct mtls_peer *p)
{
    mtls_peer_free(c->peer);
    c->peer = p;
}

static uint8_t alert_for(int reason)
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

/* Judges the chain BoringSSL holds for `ssl` (fresh or from the resumed session) and
 * records the verdict. Returns 1 if the client is accepted. */
static int judge_ssl(const SSL *ssl, struct conn *c, uint8_t *out_alert)
{
    *out_alert = SSL_AD_INTERNAL_ERROR;
    const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
    size_t n = chain != NULL ? sk_CRYPTO_BUFFER_num(chain) : 0;
    CRYPTO_BUFFER *certs[MTLS_MAX_PEER_CERTS + 1];
    if (n > MTLS_MAX_PEER_CERTS) {
        n = MTLS_MAX_PEER_CERTS + 1; /* judged as too long */
    }
    for (size_t i = 0; i < n; i++) {
        certs[i] = sk_CRYPTO_BUFFER_value(chain, i);
    }
    /* BoringSSL parsed the chain into the session before calling us (fresh or resumed):
     * the judge reuses that parse. */
    STACK_OF(X509) *parsed = SSL_get_peer_full_cert_chain(ssl);
    struct mtls_peer *p = NULL;
    mtls_result rc =
        mtlsp_judge(&p, c->ctx, c->index, certs, parsed, n, mtlsp_ctx_now(c->ctx), NULL);
    if (!MTLS_IS_OK(rc)) {
        /* Refused; mtls_ssl_get0_peer must not later judge "no certificate" instead. */
        set_peer(c, NULL);
        c->judge_failed = 1;
        return 0;
    }
    c->judge_failed = 0;
    set_peer(c, p);
    if (!p->accepted) {
        *out_alert = alert_for(p->reason);
    }
    return p->accepted;
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
    struct conn *c = get_conn(ssl, 0);
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
    struct conn *c = get_conn(ssl, 0);
    uint8_t alert;
    if (c == NULL || c->ctx == NULL || !SSL_session_reused(ssl)) {
        return 1;
    }
    return judge_ssl(ssl, c, &alert);
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

static CRYPTO_BUFFER *buffer_up_ref(CRYPTO_BUFFER *b)
{
    CRYPTO_BUFFER_up_ref(b);
    return b;
}

/* Applies policy `index` of `ctx` to the connection. Returns 1 on success. */
static int configure(SSL *ssl, const struct mtls_ctx *ctx, size_t index)
{
    const struct compiled_policy *cp = &ctx->compiled[index];
    int mode = ctx->set->policies[index].auth.mode;
    int verify = SSL_VERIFY_NONE;
    if (mode != MTLS_MODE_OFF) {
        verify = SSL_VERIFY_PEER;
        if (mtlsp_judge_rejects_no_cert(ctx, index)) {
            verify |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
    }
    SSL_set_custom_verify(ssl, verify, verify_callback);
    if (!SSL_set_session_id_context(ssl, cp->sid_ctx, sizeof(cp->sid_ctx))) {
        return 0;
    }
    if (mode != MTLS_MODE_OFF && cp->ca_names != NULL) {
        STACK_OF(CRYPTO_BUFFER) *names =
            sk_CRYPTO_BUFFER_deep_copy(cp->ca_names, buffer_up_ref, CRYPTO_BUFFER_free);
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
    pthread_once(&idx_once, init_indexes);
    struct holder *h = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), holder_idx);
    if (h == NULL) {
        return ssl_select_cert_success;
    }
    struct conn *c = get_conn(ssl, 1);
    if (c == NULL) {
        return ssl_select_cert_error;
    }
    pthread_mutex_lock(&h->mu);
    struct mtls_ctx *ctx = h->ctx;
    mtls_ctx_up_ref(ctx);
    pthread_mutex_unlock(&h->mu);
    mtls_ctx_free(c->ctx);
    c->ctx = ctx;
    read_addresses(c, ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    mtls_result rc = mtlsp_policy_select(ctx->set, sni, c->remote[0] ? c->remote : NULL,
                                         c->local[0] ? c->local : NULL, &c->index, NULL);
    if (!MTLS_IS_OK(rc)) {
        struct mtls_peer *p = mtlsp_peer_new();
        if (p != NULL) {
            p->reason = rc.code;
            p->mode = MTLS_MODE_OFF;
        }
        set_peer(c, p);
        return ssl_select_cert_error;
    }
    return configure(ssl, ctx, c->index) ? ssl_select_cert_success : ssl_select_cert_error;
}

/* The client CertificateVerify algorithms Go's server accepts (BoringSSL's default list lacks
 * Ed25519 and P-521, so an Ed25519 or P-521 client key would fail where Caddy succeeds). */
static const uint16_t client_sigalgs[] = {
    SSL_SIGN_RSA_PSS_RSAE_SHA256, SSL_SIGN_ECDSA_SECP256R1_SHA256, SSL_SIGN_ED25519,
    SSL_SIGN_RSA_PSS_RSAE_SHA384, SSL_SIGN_RSA_PSS_RSAE_SHA512,    SSL_SIGN_RSA_PKCS1_SHA256,
    SSL_SIGN_RSA_PKCS1_SHA384,    SSL_SIGN_RSA_PKCS1_SHA512,       SSL_SIGN_ECDSA_SECP384R1_SHA384,
    SSL_SIGN_ECDSA_SECP521R1_SHA512, SSL_SIGN_RSA_PKCS1_SHA1,      SSL_SIGN_ECDSA_SHA1,
};

MTLS_API mtls_status mtls_ssl_ctx_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err)
{
    mtlsp_error_clear(err);
    if (ssl_ctx == NULL || ctx == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ssl_ctx_attach: NULL argument");
    }
    pthread_once(&idx_once, init_indexes);
    struct holder *h = SSL_CTX_get_ex_data(ssl_ctx, holder_idx);
    if (h != NULL) {
        mtls_ctx_up_ref(ctx);
        pthread_mutex_lock(&h->mu);
        struct mtls_ctx *old = h->ctx;
        h->ctx = ctx;
        pthread_mutex_unlock(&h->mu);
        mtls_ctx_free(old);
        return MTLS_OK;
    }
    h = mtlsp_calloc(1, sizeof(*h));
    if (h == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_NOMEM, __FILE__, __LINE__, NULL);
    }
    pthread_mutex_init(&h->mu, NULL);
    mtls_ctx_up_ref(ctx);
    h->ctx = ctx;
    if (!SSL_CTX_set_ex_data(ssl_ctx, holder_idx, h)) {
        holder_free(NULL, h, NULL, 0, 0, NULL);
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_NOMEM, __FILE__, __LINE__, NULL);
    }
    if (!SSL_CTX_set_verify_algorithm_prefs(ssl_ctx, client_sigalgs,
                                            sizeof(client_sigalgs) / sizeof(client_sigalgs[0]))) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_TLS_LIBRARY, __FILE__, __LINE__,
                                            "SSL_CTX_set_verify_algorithm_prefs failed");
    }
    SSL_CTX_set_select_certificate_cb(ssl_ctx, mtls_ssl_on_client_hello);
    SSL_CTX_set_dos_protection_cb(ssl_ctx, resumption_callback);
    /* Until a ClientHello picks a policy, ask for nothing. */
    SSL_CTX_set_custom_verify(ssl_ctx, SSL_VERIFY_NONE, verify_callback);
    return MTLS_OK;
}

MTLS_API mtls_status mtls_ssl_set_addresses(SSL *ssl, const char *remote_ip, const char *local_ip,
                                            mtls_error *err)
{
    mtlsp_error_clear(err);
    int family;
    uint8_t addr[16];
    pthread_once(&idx_once, init_indexes);
    if (ssl == NULL || (remote_ip != NULL && !mtlsp_parse_ip(remote_ip, &family, addr)) ||
        (local_ip != NULL && !mtlsp_parse_ip(local_ip, &family, addr)) ||
        (remote_ip != NULL && strlen(remote_ip) >= INET6_ADDRSTRLEN) ||
        (local_ip != NULL && strlen(local_ip) >= INET6_ADDRSTRLEN)) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ssl_set_addresses: bad SSL or IP address");
    }
    struct conn *c = get_conn(ssl, 1);
    if (c == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_NOMEM, __FILE__, __LINE__, NULL);
    }
    snprintf(c->remote, sizeof(c->remote), "%s", remote_ip ? remote_ip : "");
    snprintf(c->local, sizeof(c->local), "%s", local_ip ? local_ip : "");
    c->has_addresses = 1;
    return MTLS_OK;
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
    pthread_once(&idx_once, init_indexes);
    const struct conn *c = ssl != NULL ? get_conn(ssl, 0) : NULL;
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
    pthread_once(&idx_once, init_indexes);
    struct conn *c = ssl != NULL ? get_conn(ssl, 0) : NULL;
    if (c == NULL || c->judge_failed) {
        return NULL;
    }
    if (c->peer == NULL && c->ctx != NULL) {
        /* No certificate was sent, so the verify callback never ran (and BoringSSL refused
         * the handshake if the policy requires one). */
        struct mtls_peer *p = NULL;
        if (!MTLS_IS_OK(mtlsp_judge(&p, c->ctx, c->index, NULL, NULL, 0, mtlsp_ctx_now(c->ctx), NULL))) {
            return NULL;
        }
        set_peer(c, p);
    }
    if (c->peer != NULL && !c->peer->has_conn && !SSL_in_init(ssl)) {
        fill_conn(c->peer, ssl);
    }
    return c->peer;
}
