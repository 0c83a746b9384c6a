/*
 * verify/peer.c - the verdict object and Caddy placeholder lookup. Values are rendered on
 * first use and cached on the peer (PERF.md: render only what a config uses).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../core/buf.h"
#include "../core/mem.h"
#include "../identity/identity.h"
#include "verify.h"

#define CLIENT_PREFIX "http.request.tls.client."
#define TLS_PREFIX "http.request.tls."

/* Connection-level placeholders (http.request.tls.*), rendered from conn_info. */
static const char *const conn_keys[] = {"version", "cipher_suite", "resumed", "proto",
                                        "proto_mutual", "server_name", NULL};

struct mtls_peer *mtlsp_peer_new(void)
{
    struct mtls_peer *p = mtlsp_calloc(1, sizeof(*p));
    if (p != NULL) {
        atomic_init(&p->refs, 1);
        p->reason = MTLS_ERR_HANDSHAKE_UNVERIFIED;
        p->depth = -1;
    }
    return p;
}

MTLS_API void mtls_peer_up_ref(mtls_peer *peer)
{
    if (peer != NULL) {
        atomic_fetch_add(&peer->refs, 1);
    }
}

static void conn_info_free(struct conn_info *c)
{
    mtlsp_free(c->version);
    mtlsp_free(c->cipher);
    mtlsp_free(c->proto);
    mtlsp_free(c->server_name);
    memset(c, 0, sizeof(*c));
}

MTLS_API void mtls_peer_free(mtls_peer *peer)
{
    if (peer == NULL || atomic_fetch_sub(&peer->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < peer->num_certs; i++) {
        mtlsp_blob_free(peer->certs[i]);
    }
    mtlsp_free(peer->certs);
    for (size_t i = 0; i < peer->num_cache; i++) {
        mtlsp_free(peer->cache[i].name);
        mtlsp_free(peer->cache[i].value);
    }
    mtlsp_free(peer->cache);
    mtlsp_leaf_free(peer->leaf);
    conn_info_free(&peer->conn);
    X509_free(peer->bad);
    mtlsp_blob_list_free(&peer->chain);
    mtlsp_free(peer->message);
    mtlsp_free(peer);
}

MTLS_API int mtls_peer_accepted(const mtls_peer *peer)
{
    return peer != NULL && peer->accepted;
}

MTLS_API int mtls_peer_verified(const mtls_peer *peer)
{
    return peer != NULL && peer->verified;
}

MTLS_API int mtls_peer_has_certificate(const mtls_peer *peer)
{
    return peer != NULL && peer->num_certs > 0;
}

MTLS_API int mtls_peer_reason(const mtls_peer *peer)
{
    return peer != NULL ? peer->reason : MTLS_ERR_INVALID_ARGUMENT;
}

MTLS_API size_t mtls_peer_policy_index(const mtls_peer *peer)
{
    return peer != NULL ? peer->policy_index : 0;
}

MTLS_API int mtls_peer_mode(const mtls_peer *peer)
{
    return peer != NULL ? peer->mode : -1;
}

MTLS_API size_t mtls_peer_num_certs(const mtls_peer *peer)
{
    return peer != NULL ? peer->num_certs : 0;
}

MTLS_API const uint8_t *mtls_peer_cert(const mtls_peer *peer, size_t i, size_t *out_len)
{
    if (peer == NULL || i >= peer->num_certs) {
        return NULL;
    }
    if (out_len != NULL) {
        *out_len = mtlsp_blob_len(peer->certs[i]);
    }
    return mtlsp_blob_data(peer->certs[i]);
}

MTLS_RESULT mtlsp_describe_cert(struct buf *out, const uint8_t *der, size_t len,
                                mtls_error *err)
{
    struct buf subject = {0};
    int known = 0;
    mtls_result rc = mtlsp_identity_render(&subject, &known, der, len, "subject", err);
    if (!MTLS_IS_OK(rc)) {
        /* An unparsable name still gets named by its fingerprint. */
        if (rc.code != MTLS_ERR_CERT_PARSE) {
            goto out;
        }
        if (err != NULL && err->code == MTLS_ERR_CERT_PARSE) {
            mtlsp_error_clear(err);
        }
        rc = MTLS_RESULT_OK;
        mtlsp_buf_reset(&subject);
        GUARD_OUT(mtlsp_buf_append_str(&subject, "(unparsable)", err));
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(der, len, digest);
    GUARD_OUT(mtlsp_buf_append_str(out, "subject \"", err));
    /* Go's DN string passes CR, LF and NUL through: escaped, the message stays one line. */
    GUARD_OUT(mtlsp_buf_append_escaped(out, subject.data ? subject.data : "", subject.len, err));
    GUARD_OUT(mtlsp_buf_append_str(out, "\" (sha256 ", err));
    GUARD_OUT(mtlsp_buf_append_hex(out, digest, sizeof(digest), err));
    GUARD_OUT(mtlsp_buf_append_str(out, ")", err));
out:
    mtlsp_buf_free(&subject);
    return rc;
}

/* The certificate the message names: the one at fault, else the leaf. DER into *out_der
 * (*out_owned to free with OPENSSL_free when it had to be encoded). */
static void message_cert(const struct mtls_peer *p, const uint8_t **out_der, size_t *out_len,
                         uint8_t **out_owned)
{
    *out_der = NULL;
    *out_owned = NULL;
    if (p->bad != NULL) {
        int n = i2d_X509(p->bad, out_owned);
        if (n > 0) {
            *out_der = *out_owned;
            *out_len = (size_t)n;
        }
        return;
    }
    if (p->num_certs > 0) {
        size_t i = p->depth >= 0 && (size_t)p->depth < p->num_certs ? (size_t)p->depth : 0;
        *out_der = mtlsp_blob_data(p->certs[i]);
        *out_len = mtlsp_blob_len(p->certs[i]);
    }
}

static MTLS_RESULT render_message(struct buf *b, const struct mtls_peer *p, mtls_error *err)
{
    GUARD(mtlsp_buf_append_str(b, p->reason == MTLS_OK ? "accepted" : "refused", err));
    if (p->reason != MTLS_OK) {
        GUARD(mtlsp_buf_append_str(b, ": ", err));
        GUARD(mtlsp_buf_append_str(b, mtls_strerror(p->reason), err));
        if (p->why != NULL) {
            GUARD(mtlsp_buf_append_str(b, " (", err));
            GUARD(mtlsp_buf_append_str(b, p->why, err));
            GUARD(mtlsp_buf_append_str(b, ")", err));
        }
    }
    const uint8_t *der;
    size_t len = 0;
    uint8_t *owned;
    message_cert(p, &der, &len, &owned);
    mtls_result rc = MTLS_RESULT_OK;
    if (der != NULL) {
        rc = mtlsp_buf_append_str(b, ": certificate ", err);
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_describe_cert(b, der, len, err);
        }
    }
    OPENSSL_free(owned);
    return rc;
}

MTLS_API const char *mtls_peer_message(mtls_peer *peer)
{
    if (peer == NULL) {
        return "";
    }
    if (peer->message == NULL) {
        struct buf b = {0};
        if (!MTLS_IS_OK(render_message(&b, peer, NULL)) ||
            !MTLS_IS_OK(mtlsp_buf_take(&b, &peer->message, NULL))) {
            mtlsp_buf_free(&b);
            return mtls_strerror(peer->reason); /* out of memory: the default sentence */
        }
    }
    return peer->message;
}

/* The verify status, nginx's $ssl_client_verify style (DESIGN.md §6). */
static MTLS_RESULT render_verified(struct buf *b, const struct mtls_peer *p, mtls_error *err)
{
    if (!p->accepted) {
        GUARD(mtlsp_buf_append_str(b, "FAILED:", err));
        return mtlsp_buf_append_str(b, mtlsp_error_name(p->reason), err);
    }
    if (p->num_certs == 0) {
        return mtlsp_buf_append_str(b, "NONE", err);
    }
    return mtlsp_buf_append_str(b, p->verified ? "SUCCESS" : "UNVERIFIED", err);
}

static int in_list(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], key) == 0) {
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT render_conn(struct buf *b, int *known, const struct mtls_peer *p,
                               const char *key, mtls_error *err)
{
    *known = in_list(conn_keys, key);
    if (!*known || !p->has_conn) {
        return MTLS_RESULT_OK;
    }
    const struct conn_info *c = &p->conn;
    const char *v = NULL;
    if (strcmp(key, "version") == 0) {
        v = c->version;
    } else if (strcmp(key, "cipher_suite") == 0) {
        v = c->cipher;
    } else if (strcmp(key, "resumed") == 0) {
        v = c->resumed ? "true" : "false";
    } else if (strcmp(key, "proto") == 0) {
        v = c->proto;
    } else if (strcmp(key, "proto_mutual") == 0) {
        v = "true";
    } else {
        v = c->server_name;
    }
    return mtlsp_buf_append_str(b, v != NULL ? v : "", err);
}

/* Go's strconv.Atoi accepting only non-negative results that fit an int. */
static int atoi_index(const char *s)
{
    size_t i = (*s == '+') ? 1 : 0;
    if (s[i] == '\0') {
        return 0;
    }
    long v = 0;
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (1L << 31)) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v <= 0x7fffffffL;
}

/* Whether `key` names a certificate placeholder (used when no certificate was sent, so
 * that known names render empty and unknown ones stay errors). */
static int identity_key_known(const char *key)
{
    static const char *const lists[] = {"san.dns_names", "san.emails", "san.ips", "san.uris",
                                        NULL};
    if (in_list(mtlsp_identity_keys, key)) {
        return 1;
    }
    for (size_t i = 0; lists[i] != NULL; i++) {
        size_t n = strlen(lists[i]);
        if (strncmp(key, lists[i], n) == 0 && key[n] == '.' && atoi_index(key + n + 1)) {
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT render_client(struct buf *b, int *known, struct mtls_peer *p,
                                 const char *key, mtls_error *err)
{
    if (strcmp(key, "verified") == 0) {
        *known = 1;
        return render_verified(b, p, err);
    }
    if (p->num_certs == 0) {
        *known = identity_key_known(key);
        return MTLS_RESULT_OK;
    }
    if (p->leaf == NULL) {
        /* Read the leaf once for all its placeholders; a leaf Go refuses is read (and
         * refused) again on each call, which only a `require` peer can meet. */
        mtls_error scratch = {0};
        mtls_result rc = mtlsp_leaf_parse(&p->leaf, mtlsp_blob_data(p->certs[0]),
                                          mtlsp_blob_len(p->certs[0]), &scratch);
        if (!MTLS_IS_OK(rc)) {
            return mtlsp_identity_render(b, known, mtlsp_blob_data(p->certs[0]),
                                         mtlsp_blob_len(p->certs[0]), key, err);
        }
    }
    return mtlsp_identity_render_leaf(b, known, p->leaf, key, err);
}

static MTLS_RESULT cache_add(struct mtls_peer *p, const char *name, struct buf *b,
                             mtls_error *err)
{
    struct cache_entry *c = mtlsp_reallocarray(p->cache, p->num_cache + 1, sizeof(*c));
    ENSURE_MEM(c);
    p->cache = c;
    char *n = mtlsp_strdup(name);
    ENSURE_MEM(n);
    size_t len = b->len;
    char *v = NULL;
    mtls_result rc = mtlsp_buf_take(b, &v, err);
    if (!MTLS_IS_OK(rc)) {
        mtlsp_free(n);
        return rc;
    }
    c[p->num_cache++] = (struct cache_entry){n, v, len};
    return MTLS_RESULT_OK;
}

MTLS_API mtls_status mtls_peer_get(mtls_peer *peer, const char *name, const char **out,
                                   size_t *out_len, mtls_error *err)
{
    mtlsp_error_clear(err);
    mtls_result rc = MTLS_RESULT_OK;
    struct buf b = {0};
    int known = 0;
    if (peer == NULL || name == NULL || out == NULL) {
        SET_OUT(MTLS_ERR_INVALID_ARGUMENT, "mtls_peer_get: NULL argument");
    }
    for (size_t i = 0; i < peer->num_cache; i++) {
        if (strcmp(peer->cache[i].name, name) == 0) {
            *out = peer->cache[i].value;
            if (out_len != NULL) {
                *out_len = peer->cache[i].len;
            }
            return MTLS_OK;
        }
    }
    if (strncmp(name, CLIENT_PREFIX, strlen(CLIENT_PREFIX)) == 0) {
        GUARD_OUT(render_client(&b, &known, peer, name + strlen(CLIENT_PREFIX), err));
    } else if (strncmp(name, TLS_PREFIX, strlen(TLS_PREFIX)) == 0) {
        GUARD_OUT(render_conn(&b, &known, peer, name + strlen(TLS_PREFIX), err));
    }
    if (!known) {
        SET_OUT(MTLS_ERR_UNKNOWN_PLACEHOLDER, "unknown placeholder: %s", name);
    }
    GUARD_OUT(cache_add(peer, name, &b, err));
    struct cache_entry *c = &peer->cache[peer->num_cache - 1];
    *out = c->value;
    if (out_len != NULL) {
        *out_len = c->len;
    }
out:
    mtlsp_buf_free(&b);
    return mtlsp_status(rc);
}

/* Every name mtls_peer_get knows: connection fields, then client fields. */
static size_t num_identity_keys(void)
{
    size_t n = 0;
    while (mtlsp_identity_keys[n] != NULL) {
        n++;
    }
    return n;
}

MTLS_API size_t mtls_placeholder_count(void)
{
    return (sizeof(conn_keys) / sizeof(conn_keys[0]) - 1) + num_identity_keys() + 1;
}

static char placeholder_names[64][64];
static size_t num_placeholder_names;

static void build_names(void)
{
    size_t nconn = sizeof(conn_keys) / sizeof(conn_keys[0]) - 1;
    size_t nid = num_identity_keys();
    size_t total = nconn + nid + 1;
    for (size_t k = 0; k < total && k < 64; k++) {
        const char *prefix = k < nconn ? TLS_PREFIX : CLIENT_PREFIX;
        const char *key = k < nconn         ? conn_keys[k]
                          : k < nconn + nid ? mtlsp_identity_keys[k - nconn]
                                            : "verified";
        size_t pl = strlen(prefix), kl = strlen(key);
        if (pl + kl + 1 > sizeof(placeholder_names[k])) {
            return;
        }
        memcpy(placeholder_names[k], prefix, pl);
        memcpy(placeholder_names[k] + pl, key, kl + 1);
        num_placeholder_names = k + 1;
    }
}

MTLS_API const char *mtls_placeholder_name(size_t i)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_names);
    return i < num_placeholder_names ? placeholder_names[i] : NULL;
}
