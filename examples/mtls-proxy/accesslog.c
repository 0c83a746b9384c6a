/*
 * accesslog.c - one JSON line per request on stdout, in the shape of Caddy's access log
 * (logger "http.log.access"), with the client identity and verdict added under
 * request.tls; one line per refused handshake (logger "http.log.tls") with the verdict and
 * reason; other messages on stderr.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bytestring.h>
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

/* Appends the decimal digits of `v`. */
static void add_u64(struct sbuf *b, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    sbuf_add(b, d + i, sizeof(d) - i);
}

/* Appends `v` zero-padded to `width` digits (fractions). */
static void add_frac(struct sbuf *b, uint64_t v, int width)
{
    char d[12];
    for (int i = width - 1; i >= 0; i--) {
        d[i] = (char)('0' + v % 10);
        v /= 10;
    }
    sbuf_add(b, d, (size_t)width);
}

static void json_key(struct sbuf *b, const char *key)
{
    sbuf_add(b, ",\"", 2);
    sbuf_adds(b, key);
    sbuf_add(b, "\":", 2);
}

static void json_kn(struct sbuf *b, const char *key, uint64_t v)
{
    json_key(b, key);
    add_u64(b, v);
}

static void head(struct sbuf *b, const char *level, const char *logger, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sbuf_adds(b, "{\"level\":");
    json_str(b, level, strlen(level));
    sbuf_adds(b, ",\"ts\":");
    add_u64(b, (uint64_t)ts.tv_sec);
    sbuf_addc(b, '.');
    add_frac(b, (uint64_t)ts.tv_nsec / 1000, 6);
    json_kv(b, "logger", logger);
    json_kv(b, "msg", msg);
}

static void write_all(int fd, const char *p, size_t len)
{
    pthread_mutex_lock(&log_mu);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, p + off, len - off);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    pthread_mutex_unlock(&log_mu);
}

/*
 * Access-log lines of a worker thread collect in its buffer and go out with one write per
 * event-loop iteration (log_flush before each epoll_wait and when the worker stops), or
 * sooner once LOG_FLUSH_AT bytes wait. Other threads write each line at once.
 */
#define LOG_FLUSH_AT (32 * 1024)
static _Thread_local struct sbuf tl_log;
static _Thread_local int tl_buffered;

void log_thread_buffered(void)
{
    tl_buffered = 1;
}

void log_flush(void)
{
    if (tl_log.len != 0) {
        write_all(STDOUT_FILENO, tl_log.p, tl_log.len);
        tl_log.len = 0;
    }
}

void log_thread_end(void)
{
    log_flush();
    sbuf_free(&tl_log);
    tl_buffered = 0;
}

/* Where a line to `fd` is built: the thread's buffer, or `local`. */
static struct sbuf *line_buf(int fd, struct sbuf *local)
{
    return fd == STDOUT_FILENO && tl_buffered ? &tl_log : local;
}

/* Ends the line that began at `start` in `b` and sends or queues it. */
static void emit(struct sbuf *b, size_t start, int fd)
{
    sbuf_add(b, "}\n", 2);
    if (b != &tl_log) {
        if (!b->failed) {
            write_all(fd, b->p, b->len);
        }
        sbuf_free(b);
        return;
    }
    if (b->failed) {
        b->failed = 0; /* drop the incomplete line, keep the earlier ones */
        b->len = start;
    }
    if (b->len >= LOG_FLUSH_AT) {
        log_flush();
    }
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

/* The leaf's subject, parsed alone (cheaper than the whole certificate: no extensions, no
 * public key). NULL if `der` does not have the shape of a certificate. */
static X509_NAME *leaf_subject(const uint8_t *der, size_t len)
{
    CBS cert, tbs, name, skip;
    CBS_init(&cert, der, len);
    if (!CBS_get_asn1(&cert, &cert, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) ||
        !CBS_get_optional_asn1(&tbs, NULL, NULL,
                               CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0) ||
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_INTEGER) ||      /* serialNumber */
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* signature */
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* issuer */
        !CBS_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* validity */
        !CBS_get_asn1_element(&tbs, &name, CBS_ASN1_SEQUENCE)) {
        return NULL;
    }
    const uint8_t *p = CBS_data(&name);
    return d2i_X509_NAME(NULL, &p, (long)CBS_len(&name));
}

/* Go's Subject.CommonName: the last CN attribute of the leaf (Caddy logs it). */
static void json_common_name(struct sbuf *b, mtls_peer *p)
{
    size_t len = 0;
    const uint8_t *der = mtls_peer_cert(p, 0, &len);
    X509_NAME *name = der != NULL ? leaf_subject(der, len) : NULL;
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
    X509_NAME_free(name);
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
    json_kn(b, "version", (uint64_t)SSL_version(ssl));
    json_kn(b, "cipher_suite", cs ? SSL_CIPHER_get_protocol_id(cs) : 0);
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

/* request.tls is the same for every request of a connection: from its second request on,
 * the connection keeps it (one-request connections, idle ones included, hold nothing). */
static void add_tls(struct sbuf *b, struct conn *c)
{
    if (c->log_tls != NULL) {
        sbuf_add(b, c->log_tls, c->log_tls_len);
        return;
    }
    size_t start = b->len;
    tls_fields(b, c->ssl);
    if (c->served > 0 && !b->failed && (c->log_tls = malloc(b->len - start)) != NULL) {
        c->log_tls_len = b->len - start;
        memcpy(c->log_tls, b->p + start, c->log_tls_len);
    }
}

/* Caddy's duration: seconds with six decimals (ours has millisecond resolution). */
static void add_duration(struct sbuf *b, int64_t ms)
{
    uint64_t v = ms > 0 ? (uint64_t)ms : 0;
    json_key(b, "duration");
    add_u64(b, v / 1000);
    sbuf_addc(b, '.');
    add_frac(b, v % 1000, 3);
    sbuf_add(b, "000", 3);
}

void log_request(struct conn *c)
{
    struct sbuf local = {0};
    struct sbuf *b = line_buf(STDOUT_FILENO, &local);
    size_t start = b->len;
    head(b, c->status >= 500 ? "error" : "info", "http.log.access", "handled request");
    sbuf_adds(b, ",\"request\":{\"remote_ip\":");
    json_str(b, c->remote_ip, strlen(c->remote_ip));
    json_kv(b, "remote_port", c->remote_port);
    json_kv(b, "proto", c->log_proto ? c->log_proto : "");
    json_kv(b, "method", c->log_method ? c->log_method : "");
    json_kv(b, "host", c->log_host ? c->log_host : "");
    json_kv(b, "uri", c->log_uri ? c->log_uri : "");
    add_tls(b, c);
    sbuf_addc(b, '}');
    json_kn(b, "bytes_read", c->bytes_read);
    add_duration(b, now_ms() - c->t_start);
    json_kn(b, "size", c->bytes_written);
    json_kn(b, "status", (uint64_t)(c->status > 0 ? c->status : 0));
    emit(b, start, STDOUT_FILENO);
}

void log_handshake(struct conn *c, const char *what)
{
    struct sbuf local = {0};
    struct sbuf *b = line_buf(STDOUT_FILENO, &local);
    size_t start = b->len;
    mtls_peer *p = mtls_ssl_get0_peer(c->ssl);
    int refused = p != NULL && !mtls_peer_accepted(p);
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    head(b, "info", "http.log.tls", refused ? "client refused" : what);
    json_kv(b, "remote_ip", c->remote_ip);
    json_kv(b, "remote_port", c->remote_port);
    json_kv(b, "server_name", sni ? sni : "");
    if (refused) {
        const char *verdict = peer_value(p, "http.request.tls.client.verified");
        const char *colon = strchr(verdict, ':');
        json_kv(b, "verdict", verdict);
        json_kv(b, "reason", colon ? colon + 1 : verdict);
        json_kv_identity(b, "message", mtls_peer_message(p));
        json_kv_identity(b, "client_subject", peer_value(p, "http.request.tls.client.subject"));
        json_kv(b, "client_fingerprint", peer_value(p, "http.request.tls.client.fingerprint"));
    }
    emit(b, start, STDOUT_FILENO);
}

void log_line(const char *level, const char *logger, const char *msg, const char *extra_json)
{
    struct sbuf b = {0};
    head(&b, level, logger, msg);
    if (extra_json != NULL) {
        sbuf_addc(&b, ',');
        sbuf_adds(&b, extra_json);
    }
    emit(&b, 0, STDERR_FILENO);
}
