/*
 * server_tls.c - the only file that uses mtls/boringssl.h: one SSL_CTX per server, with
 * libmtls judging clients and this file applying the rest of each connection policy
 * (certificate_selection, protocol_min/max, alpn, cipher_suites, curves, default_sni,
 * fallback_sni, drop) at ClientHello, after libmtls has picked the policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <mtls/boringssl.h>

#include "proxy.h"
#include "sbuf.h"

static int srv_idx = -1;
static pthread_once_t srv_once = PTHREAD_ONCE_INIT;

static void init_idx(void)
{
    srv_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int tls_fail(char *err, size_t err_len, const char *what)
{
    char buf[160];
    uint32_t e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, err_len, "%s%s%s", what, e ? ": " : "", e ? buf : "");
    ERR_clear_error();
    return -1;
}

/* ---- certificates ---------------------------------------------------------------------- */

static int add_name(struct cert *c, const char *name, size_t n)
{
    char **v = realloc(c->names, (c->num_names + 1) * sizeof(char *));
    if (v == NULL) {
        return -1;
    }
    c->names = v;
    char *s = strndup(name, n);
    for (char *p = s; s && *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    c->names[c->num_names] = s;
    return s != NULL ? (c->num_names++, 0) : -1;
}

static int cert_names(struct cert *c, X509 *leaf)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int rc = 0;
    for (size_t i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && rc == 0; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        char ip[INET6_ADDRSTRLEN];
        if (g->type == GEN_DNS) {
            rc = add_name(c, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
                          (size_t)ASN1_STRING_length(g->d.dNSName));
        } else if (g->type == GEN_IPADD && (g->d.iPAddress->length == 4 ||
                                            g->d.iPAddress->length == 16)) {
            inet_ntop(g->d.iPAddress->length == 4 ? AF_INET : AF_INET6,
                      g->d.iPAddress->data, ip, sizeof(ip));
            rc = add_name(c, ip, strlen(ip));
        }
    }
    GENERAL_NAMES_free(sans);
    if (rc == 0 && c->num_names == 0) { /* certmagic falls back to the CN */
        char cn[256];
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn,
                                          sizeof(cn));
        rc = n > 0 ? add_name(c, cn, (size_t)n) : 0;
    }
    return rc;
}

static int read_chain(struct cert *c, const char *file, X509 **out_leaf, char *err,
                      size_t err_len)
{
    BIO *bio = BIO_new_file(file, "r");
    if (bio == NULL) {
        snprintf(err, err_len, "certificate %s: %s", file, strerror(errno));
        ERR_clear_error();
        return -1;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        uint8_t *der = NULL;
        int len = i2d_X509(x, &der);
        CRYPTO_BUFFER **v = realloc(c->chain, (c->chain_len + 1) * sizeof(*v));
        CRYPTO_BUFFER *b = len > 0 ? CRYPTO_BUFFER_new(der, (size_t)len, NULL) : NULL;
        OPENSSL_free(der);
        if (v == NULL || b == NULL) {
            CRYPTO_BUFFER_free(b);
            X509_free(x);
            BIO_free(bio);
            if (v != NULL) {
                c->chain = v;
            }
            return tls_fail(err, err_len, "out of memory");
        }
        c->chain = v;
        c->chain[c->chain_len++] = b;
        if (*out_leaf == NULL) {
            *out_leaf = x;
        } else {
            X509_free(x);
        }
    }
    BIO_free(bio);
    uint32_t e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE &&
        c->chain_len > 0) {
        ERR_clear_error();
        return 0;
    }
    char what[300];
    snprintf(what, sizeof(what), "certificate %s: %s", file,
             c->chain_len ? "broken PEM after the certificates" : "no CERTIFICATE block");
    return tls_fail(err, err_len, what);
}

int tls_load_cert(struct cert *c, const char *cert_file, const char *key_file, char *err,
                  size_t err_len)
{
    X509 *leaf = NULL;
    c->file = strdup(cert_file);
    if (c->file == NULL || read_chain(c, cert_file, &leaf, err, err_len) != 0) {
        X509_free(leaf);
        return c->file == NULL ? tls_fail(err, err_len, "out of memory") : -1;
    }
    BIO *bio = BIO_new_file(key_file, "r");
    if (bio == NULL) {
        X509_free(leaf);
        snprintf(err, err_len, "key %s: %s", key_file, strerror(errno));
        ERR_clear_error();
        return -1;
    }
    c->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    char what[300];
    int rc = 0;
    if (c->key == NULL) {
        snprintf(what, sizeof(what), "key %s: no usable private key", key_file);
        rc = tls_fail(err, err_len, what);
    } else if (!X509_check_private_key(leaf, c->key)) {
        snprintf(what, sizeof(what), "key %s does not match certificate %s", key_file,
                 cert_file);
        rc = tls_fail(err, err_len, what);
    } else if (cert_names(c, leaf) != 0) {
        rc = tls_fail(err, err_len, "out of memory");
    }
    X509_free(leaf);
    return rc;
}

void tls_cert_free(struct cert *c)
{
    for (size_t i = 0; i < c->chain_len; i++) {
        CRYPTO_BUFFER_free(c->chain[i]);
    }
    free(c->chain);
    EVP_PKEY_free(c->key);
    for (size_t i = 0; i < c->num_names; i++) {
        free(c->names[i]);
    }
    free(c->names);
    for (size_t i = 0; i < c->num_tags; i++) {
        free(c->tags[i]);
    }
    free(c->tags);
    free(c->file);
}

/* A certificate name covers `host`: equal, or a wildcard for its first label. */
static int tls_name_covers(const char *name, const char *host)
{
    if (strcasecmp(name, host) == 0) {
        return 1;
    }
    const char *dot = strchr(host, '.');
    return name[0] == '*' && name[1] == '.' && dot != NULL && dot != host &&
           strcasecmp(name + 1, dot) == 0;
}

static int cert_covers(const struct cert *c, const char *host)
{
    for (size_t i = 0; i < c->num_names; i++) {
        if (tls_name_covers(c->names[i], host)) {
            return 1;
        }
    }
    return 0;
}

/* certmagic's choice: exact name, then wildcard; with no SNI at all, any certificate. */
static const struct cert *pick_cert(const struct srv *s, const struct conn_policy *p,
                                    const char *sni)
{
    const struct runtime *rt = s->rt;
    const char *names[2] = {sni != NULL && sni[0] ? sni : p->default_sni, p->fallback_sni};
    for (size_t n = 0; n < 2; n++) {
        for (size_t i = 0; names[n] != NULL && i < p->num_certs; i++) {
            if (cert_covers(&rt->certs[p->certs[i]], names[n])) {
                return &rt->certs[p->certs[i]];
            }
        }
    }
    if ((sni == NULL || sni[0] == '\0') && p->num_certs > 0) {
        return &rt->certs[p->certs[0]];
    }
    return NULL;
}

static enum ssl_select_cert_result_t select_cb(const SSL_CLIENT_HELLO *hello)
{
    SSL *ssl = hello->ssl;
    if (!conn_rebind(ssl)) {
        return ssl_select_cert_error;
    }
    enum ssl_select_cert_result_t r = mtls_ssl_on_client_hello(hello);
    const struct srv *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), srv_idx);
    size_t idx;
    if (r != ssl_select_cert_success || s == NULL || !mtls_ssl_get_policy_index(ssl, &idx) ||
        idx >= s->num_pols) {
        return ssl_select_cert_error;
    }
    const struct conn_policy *p = &s->pols[idx];
    const struct cert *c = pick_cert(s, p, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    if (p->drop || c == NULL || !SSL_set_min_proto_version(ssl, p->min_version) ||
        !SSL_set_max_proto_version(ssl, p->max_version) ||
        (p->curves != NULL && !SSL_set1_curves_list(ssl, p->curves)) ||
        (p->ciphers != NULL && !SSL_set_strict_cipher_list(ssl, p->ciphers)) ||
        !SSL_set_chain_and_key(ssl, c->chain, c->chain_len, c->key, NULL)) {
        return ssl_select_cert_error;
    }
    return ssl_select_cert_success;
}

static int alpn_cb(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                   unsigned in_len, void *arg)
{
    /* mtls-proxy speaks HTTP/1.1 only; a client offering only h2 proceeds without ALPN. */
    for (unsigned i = 0; i < in_len;) {
        unsigned n = in[i];
        if (i + 1 + n > in_len) {
            break;
        }
        if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *out_len = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---- connection policies ------------------------------------------------------------------ */

static json_t *field(const struct srv *s, size_t i, const char *name)
{
    const char *text = mtls_ctx_policy_field(s->mctx, i, name);
    return text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

static int has_tag(const struct cert *c, const char *tag)
{
    for (size_t i = 0; i < c->num_tags; i++) {
        if (strcmp(c->tags[i], tag) == 0) {
            return 1;
        }
    }
    return 0;
}

static int cert_selected(const struct cert *c, json_t *sel)
{
    json_t *any = json_object_get(sel, "any_tag"), *all = json_object_get(sel, "all_tags");
    size_t i;
    json_t *t;
    int ok = any == NULL;
    json_array_foreach(any, i, t) {
        ok |= has_tag(c, json_string_value(t));
    }
    json_array_foreach(all, i, t) {
        ok &= has_tag(c, json_string_value(t));
    }
    return ok;
}

static int policy_certs(struct conn_policy *p, const struct runtime *rt, json_t *sel,
                        const char *path, char *err, size_t err_len)
{
    const char *key;
    json_t *v;
    json_object_foreach(sel, key, v) {
        if (strcmp(key, "any_tag") != 0 && strcmp(key, "all_tags") != 0) {
            snprintf(err, err_len, "%s.certificate_selection.%s: not supported by mtls-proxy "
                     "(any_tag, all_tags)", path, key);
            return -1;
        }
    }
    p->certs = calloc(rt->num_certs + 1, sizeof(size_t));
    if (p->certs == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < rt->num_certs; i++) {
        if (sel == NULL || cert_selected(&rt->certs[i], sel)) {
            p->certs[p->num_certs++] = i;
        }
    }
    return 0;
}

static uint16_t version_of(json_t *v, uint16_t dflt)
{
    const char *s = json_string_value(v);
    if (s == NULL) {
        return dflt;
    }
    return strcmp(s, "tls1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

static int policy_alpn(struct conn_policy *p, json_t *alpn, const char *path, char *err,
                       size_t err_len)
{
    size_t i;
    json_t *v;
    json_array_foreach(alpn, i, v) {
        if (strcmp(json_string_value(v), "http/1.1") == 0) {
            return 0;
        }
    }
    snprintf(err, err_len, "%s.alpn: mtls-proxy speaks HTTP/1.1 only; the list must contain "
             "\"http/1.1\"", path);
    return -1;
}

/* Caddy's curve and cipher-suite names to BoringSSL's. */
static char *curves_list(json_t *curves, const char *path, char *err, size_t err_len)
{
    static const char *const map[][2] = {{"x25519", "X25519"}, {"secp256r1", "P-256"},
                                         {"secp384r1", "P-384"}, {"secp521r1", "P-521"}};
    struct sbuf b = {0};
    size_t i;
    json_t *v;
    json_array_foreach(curves, i, v) {
        size_t k = 0;
        while (k < 4 && strcmp(map[k][0], json_string_value(v)) != 0) {
            k++;
        }
        if (k == 4) {
            snprintf(err, err_len, "%s.curves[%zu]: %s is not supported", path, i,
                     json_string_value(v));
            sbuf_free(&b);
            return NULL;
        }
        sbuf_adds(&b, i ? ":" : "");
        sbuf_adds(&b, map[k][1]);
    }
    sbuf_addc(&b, '\0');
    return b.p;
}

static char *ciphers_list(json_t *suites, const char *path, char *err, size_t err_len)
{
    SSL_CTX *all = SSL_CTX_new(TLS_method());
    STACK_OF(SSL_CIPHER) *known = all ? SSL_CTX_get_ciphers(all) : NULL;
    struct sbuf b = {0};
    size_t i;
    json_t *v;
    json_array_foreach(suites, i, v) {
        const char *want = json_string_value(v);
        const SSL_CIPHER *found = NULL;
        for (size_t k = 0; known != NULL && k < sk_SSL_CIPHER_num(known); k++) {
            const SSL_CIPHER *c = sk_SSL_CIPHER_value(known, k);
            if (strcmp(SSL_CIPHER_standard_name(c), want) == 0) {
                found = c;
            }
        }
        if (found == NULL && strncmp(want, "TLS_AES_", 8) != 0 &&
            strncmp(want, "TLS_CHACHA20_", 13) != 0) {
            snprintf(err, err_len, "%s.cipher_suites[%zu]: %s is not supported", path, i, want);
            sbuf_free(&b);
            SSL_CTX_free(all);
            return NULL;
        }
        if (found != NULL) { /* TLS 1.3 suites are not configurable, as in Go */
            sbuf_adds(&b, b.len ? ":" : "");
            sbuf_adds(&b, SSL_CIPHER_get_name(found));
        }
    }
    SSL_CTX_free(all);
    sbuf_addc(&b, '\0');
    return b.p;
}

static int build_policy(struct srv *s, size_t i, char *err, size_t err_len)
{
    struct conn_policy *p = &s->pols[i];
    char path[160];
    snprintf(path, sizeof(path), "apps.http.servers.%s.tls_connection_policies[%zu]", s->name,
             i);
    json_t *sel = field(s, i, "certificate_selection"), *alpn = field(s, i, "alpn");
    json_t *curves = field(s, i, "curves"), *ciphers = field(s, i, "cipher_suites");
    json_t *pmin = field(s, i, "protocol_min"), *pmax = field(s, i, "protocol_max");
    json_t *dsni = field(s, i, "default_sni"), *fsni = field(s, i, "fallback_sni");
    json_t *drop = field(s, i, "drop");
    p->min_version = version_of(pmin, TLS1_2_VERSION);
    p->max_version = version_of(pmax, TLS1_3_VERSION);
    p->drop = json_is_true(drop);
    p->default_sni = xstrdup(json_string_value(dsni));
    p->fallback_sni = xstrdup(json_string_value(fsni));
    int rc = policy_certs(p, s->rt, sel, path, err, err_len);
    if (rc == 0 && alpn != NULL) {
        rc = policy_alpn(p, alpn, path, err, err_len);
    }
    if (rc == 0 && curves != NULL && (p->curves = curves_list(curves, path, err, err_len)) == NULL) {
        rc = -1;
    }
    if (rc == 0 && ciphers != NULL &&
        (p->ciphers = ciphers_list(ciphers, path, err, err_len)) == NULL) {
        rc = -1;
    }
    if (rc == 0 && p->num_certs == 0 && !p->drop) {
        snprintf(err, err_len, "%s: no certificate to serve (mtls-proxy does not obtain "
                 "certificates: give one with `tls cert.pem key.pem` in the Caddyfile, or "
                 "apps.tls.certificates.load_files)", path);
        rc = -1;
    }
    json_t *all[] = {sel, alpn, curves, ciphers, pmin, pmax, dsni, fsni, drop};
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        json_decref(all[k]);
    }
    return rc;
}

/* Every site needs a certificate: there is no ACME here. */
static int check_sites(const struct srv *s, char *err, size_t err_len)
{
    for (size_t r = 0; r < s->num_routes; r++) {
        for (size_t h = 0; h < s->routes[r].num_hosts; h++) {
            const char *host = s->routes[r].hosts[h];
            size_t c = 0;
            while (c < s->rt->num_certs && !cert_covers(&s->rt->certs[c], host)) {
                c++;
            }
            if (c == s->rt->num_certs) {
                snprintf(err, err_len, "apps.http.servers.%s.routes[%zu]: site \"%s\" has no "
                         "certificate: mtls-proxy does not obtain certificates (no ACME); give "
                         "one with `tls cert.pem key.pem` in the Caddyfile, or in "
                         "apps.tls.certificates.load_files", s->name, r, host);
                return -1;
            }
        }
    }
    return 0;
}

static int new_ssl_ctx(struct srv *s, char *err, size_t err_len)
{
    pthread_once(&srv_once, init_idx);
    s->ssl_ctx = SSL_CTX_new(TLS_method());
    if (s->ssl_ctx == NULL || !SSL_CTX_set_min_proto_version(s->ssl_ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(s->ssl_ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_ex_data(s->ssl_ctx, srv_idx, s)) {
        return tls_fail(err, err_len, "SSL_CTX_new");
    }
    SSL_CTX_set_mode(s->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_select_cb(s->ssl_ctx, alpn_cb, NULL);
    /* One TLS 1.3 ticket, not BoringSSL's two: each carries the client's chain, and two of a
     * 32-64 KiB chain overflow the record layer's write buffer (the first write fails). */
    SSL_CTX_set_num_tickets(s->ssl_ctx, 1);
    mtls_error me = {0};
    if (mtls_ssl_ctx_attach(s->ssl_ctx, s->mctx, &me) != MTLS_OK) {
        snprintf(err, err_len, "server %s: %s", s->name, me.message);
        return -1;
    }
    /* Ours replaces libmtls's and calls it first (mtls/boringssl.h). */
    SSL_CTX_set_select_certificate_cb(s->ssl_ctx, select_cb);
    return 0;
}

int tls_build_srv(struct srv *s, const struct runtime *rt, json_t *root, char *err,
                  size_t err_len)
{
    char *text = json_dumps(root, JSON_COMPACT);
    mtls_error me = {0};
    if (text == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    s->mctx = mtls_ctx_new_from_json(text, strlen(text), s->name, &me);
    free(text);
    if (s->mctx == NULL) {
        snprintf(err, err_len, "%s", me.message);
        return -1;
    }
    s->num_pols = mtls_ctx_num_policies(s->mctx);
    s->pols = calloc(s->num_pols, sizeof(struct conn_policy));
    if (s->pols == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->num_pols; i++) {
        s->client_auth |= mtls_ctx_policy_mode(s->mctx, i) != MTLS_MODE_OFF;
        if (build_policy(s, i, err, err_len) != 0) {
            return -1;
        }
    }
    (void)rt;
    return check_sites(s, err, err_len) != 0 ? -1 : new_ssl_ctx(s, err, err_len);
}
