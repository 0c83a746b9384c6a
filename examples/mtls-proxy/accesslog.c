/*
 * accesslog.c - one JSON line per request on stdout, in the shape of Caddy's access log
 * (logger "http.log.access"), with the client identity and verdict added under
 * request.tls; one line per refused handshake (logger "http.log.tls") with the verdict and
 * reason; other messages on stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <mtls/boringssl.h>

#include "subst.h"
#include "worker.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* Length of the valid UTF-8 sequence at `s` (at most `n` bytes), 0 if invalid: no overlong
 * forms, no surrogates, nothing above U+10FFFF (RFC 3629 table 3.7). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (len > n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/* Appends `s` as a JSON string (control bytes \u-escaped, invalid UTF-8 as U+FFFD). */
static void json_str(struct sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_addc(b, '"');
    for (size_t i = 0; s != NULL && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            sbuf_addc(b, '\\');
            sbuf_addc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sbuf_add(b, e, 6);
        } else if (c < 0x80) {
            sbuf_addc(b, (char)c);
        } else {
            size_t l = utf8_len((const unsigned char *)s + i, n - i);
            if (l == 0) {
                sbuf_adds(b, "\\ufffd");
            } else {
                sbuf_add(b, s + i, l);
                i += l - 1;
            }
        }
    }
    sbuf_addc(b, '"');
}

static void json_kv(struct sbuf *b, const char *key, const char *v)
{
    sbuf_addc(b, ',');
    json_str(b, key, strlen(key));
    sbuf_addc(b, ':');
    json_str(b, v, v ? strlen(v) : 0);
}

static void json_kn(struct sbuf *b, const char *key, double v, int integer)
{
    char num[64];
    snprintf(num, sizeof(num), integer ? "%.0f" : "%.6f", v);
    sbuf_addc(b, ',');
    json_str(b, key, strlen(key));
    sbuf_addc(b, ':');
    sbuf_adds(b, num);
}

static void head(struct sbuf *b, const char *level, const char *logger, const char *msg)
{
    struct timespec ts;
    char t[48];
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(t, sizeof(t), "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
    sbuf_adds(b, "{\"level\":");
    json_str(b, level, strlen(level));
    sbuf_adds(b, ",\"ts\":");
    sbuf_adds(b, t);
    json_kv(b, "logger", logger);
    json_kv(b, "msg", msg);
}

static void emit(struct sbuf *b, int fd)
{
    sbuf_add(b, "}\n", 2);
    if (!b->failed) {
        pthread_mutex_lock(&log_mu);
        for (size_t off = 0; off < b->len;) {
            ssize_t n = write(fd, b->p + off, b->len - off);
            if (n <= 0) {
                break;
            }
            off += (size_t)n;
        }
        pthread_mutex_unlock(&log_mu);
    }
    sbuf_free(b);
}

static const char *peer_value(mtls_peer *p, const char *name)
{
    const char *v = NULL;
    return p != NULL && mtls_peer_get(p, name, &v, NULL, NULL) == MTLS_OK ? v : "";
}

/* An identity value: control bytes as \xHH, as in forwarded headers, then JSON. */
static void json_kv_identity(struct sbuf *b, const char *key, const char *v)
{
    struct sbuf e = {0};
    escape_value(&e, v, strlen(v));
    sbuf_addc(b, ',');
    json_str(b, key, strlen(key));
    sbuf_addc(b, ':');
    json_str(b, e.p ? e.p : "", e.len);
    sbuf_free(&e);
}

/* Go's Subject.CommonName: the last CN attribute of the leaf (Caddy logs it). */
static void json_common_name(struct sbuf *b, mtls_peer *p)
{
    size_t len = 0;
    const uint8_t *der = mtls_peer_cert(p, 0, &len);
    X509 *x = der != NULL ? d2i_X509(NULL, &der, (long)len) : NULL;
    const X509_NAME *name = x != NULL ? X509_get_subject_name(x) : NULL;
    int idx = -1, last = -1;
    while (name != NULL && (idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0) {
        last = idx;
    }
    uint8_t *utf8 = NULL;
    int n = last >= 0 ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                                       X509_NAME_get_entry(name, last)))
                      : 0;
    char *cn = n > 0 ? strndup((const char *)utf8, (size_t)n) : NULL;
    json_kv_identity(b, "client_common_name", cn ? cn : "");
    free(cn);
    OPENSSL_free(utf8);
    X509_free(x);
}

static void tls_fields(struct sbuf *b, SSL *ssl)
{
    mtls_peer *p = mtls_ssl_get0_peer(ssl);
    const SSL_CIPHER *cs = SSL_get_current_cipher(ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const uint8_t *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    sbuf_adds(b, ",\"tls\":{\"resumed\":");
    sbuf_adds(b, SSL_session_reused(ssl) ? "true" : "false");
    json_kn(b, "version", SSL_version(ssl), 1);
    json_kn(b, "cipher_suite", cs ? SSL_CIPHER_get_protocol_id(cs) : 0, 1);
    sbuf_adds(b, ",\"proto\":");
    json_str(b, (const char *)alpn, alpn_len);
    json_kv(b, "server_name", sni ? sni : "");
    if (p != NULL && mtls_peer_has_certificate(p)) {
        json_common_name(b, p);
        json_kv(b, "client_serial", peer_value(p, "http.request.tls.client.serial"));
    }
    json_kv_identity(b, "client_subject", peer_value(p, "http.request.tls.client.subject"));
    json_kv(b, "client_fingerprint", peer_value(p, "http.request.tls.client.fingerprint"));
    json_kv(b, "client_verified", peer_value(p, "http.request.tls.client.verified"));
    sbuf_addc(b, '}');
}

void log_request(const struct conn *c)
{
    struct sbuf b = {0};
    head(&b, c->status >= 500 ? "error" : "info", "http.log.access", "handled request");
    sbuf_adds(&b, ",\"request\":{\"remote_ip\":");
    json_str(&b, c->remote_ip, strlen(c->remote_ip));
    json_kv(&b, "remote_port", c->remote_port);
    json_kv(&b, "proto", c->log_proto ? c->log_proto : "");
    json_kv(&b, "method", c->log_method ? c->log_method : "");
    json_kv(&b, "host", c->log_host ? c->log_host : "");
    json_kv(&b, "uri", c->log_uri ? c->log_uri : "");
    tls_fields(&b, c->ssl);
    sbuf_addc(&b, '}');
    json_kn(&b, "bytes_read", (double)c->bytes_read, 1);
    json_kn(&b, "duration", (double)(now_ms() - c->t_start) / 1000.0, 0);
    json_kn(&b, "size", (double)c->bytes_written, 1);
    json_kn(&b, "status", c->status, 1);
    emit(&b, STDOUT_FILENO);
}

void log_handshake(struct conn *c, const char *what)
{
    struct sbuf b = {0};
    mtls_peer *p = mtls_ssl_get0_peer(c->ssl);
    int refused = p != NULL && !mtls_peer_accepted(p);
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    head(&b, "info", "http.log.tls", refused ? "client refused" : what);
    json_kv(&b, "remote_ip", c->remote_ip);
    json_kv(&b, "remote_port", c->remote_port);
    json_kv(&b, "server_name", sni ? sni : "");
    if (refused) {
        const char *verdict = peer_value(p, "http.request.tls.client.verified");
        const char *colon = strchr(verdict, ':');
        json_kv(&b, "verdict", verdict);
        json_kv(&b, "reason", colon ? colon + 1 : verdict);
        json_kv_identity(&b, "message", mtls_peer_message(p));
        json_kv_identity(&b, "client_subject", peer_value(p, "http.request.tls.client.subject"));
        json_kv(&b, "client_fingerprint", peer_value(p, "http.request.tls.client.fingerprint"));
    }
    emit(&b, STDOUT_FILENO);
}

void log_line(const char *level, const char *logger, const char *msg, const char *extra_json)
{
    struct sbuf b = {0};
    head(&b, level, logger, msg);
    if (extra_json != NULL) {
        sbuf_addc(&b, ',');
        sbuf_adds(&b, extra_json);
    }
    emit(&b, STDERR_FILENO);
}
