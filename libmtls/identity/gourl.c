/*
 * identity/gourl.c - a URI SAN as Caddy prints it: Go's url.Parse followed by
 * url.URL.String(), plus the host check crypto/x509 applies to URI SANs.
 *
 * What this reproduces: scheme detection and lowercasing, opaque URLs (kept raw), the
 * authority (userinfo re-escaped, host %-decoding rules and re-escaping, port syntax,
 * bracketed hosts must be IPv6), the path (kept raw when it is validly encoded, else
 * decoded and re-escaped: a space becomes %20), the query (raw), the fragment (like the
 * path), and every url.Parse error (control bytes, bad %-escapes, "missing protocol
 * scheme", colon in the first relative segment, invalid userinfo or port).
 */
#include <arpa/inet.h>
#include <string.h>

#include "identity_int.h"

enum mode { M_PATH, M_HOST, M_ZONE, M_USERPASS, M_FRAGMENT };

struct gourl {
    struct buf scheme, user, pass, host, path, frag; /* decoded */
    const char *raw_path, *opaque, *query, *raw_frag;
    size_t raw_path_len, opaque_len, query_len, raw_frag_len;
    int has_opaque, has_user, has_pass, omit_host, force_query, has_query, has_authority;
};

static int alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* net/url shouldEscape. */
static int should_escape(uint8_t c, enum mode m)
{
    if (alnum(c)) {
        return 0;
    }
    if ((m == M_HOST || m == M_ZONE) && c != 0 && strchr("!$&'()*+,;=:[]<>\"", c)) {
        return 0;
    }
    if (c == '-' || c == '_' || c == '.' || c == '~') {
        return 0;
    }
    if (c != 0 && strchr("$&+,/:;=?@", c)) {
        switch (m) {
        case M_PATH:
            return c == '?';
        case M_USERPASS:
            return c == '@' || c == '/' || c == '?' || c == ':';
        case M_FRAGMENT:
            return 0;
        default:
            break;
        }
    }
    if (m == M_FRAGMENT && (c == '!' || c == '(' || c == ')' || c == '*')) {
        return 0;
    }
    return 1;
}

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* net/url unescape (never in query mode, so '+' stays). */
static MTLS_RESULT unescape(struct buf *out, const char *s, size_t n, enum mode m,
                            mtls_error *err)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)s[i];
        if (c == '%') {
            ENSURE_MSG(i + 2 < n, MTLS_ERR_CERT_PARSE,
                       "net/url: invalid URL escape");
            int hi = hexval((uint8_t)s[i + 1]), lo = hexval((uint8_t)s[i + 2]);
            ENSURE_MSG(hi >= 0 && lo >= 0, MTLS_ERR_CERT_PARSE, "net/url: invalid URL escape");
            int is25 = s[i + 1] == '2' && s[i + 2] == '5';
            uint8_t v = (uint8_t)(hi << 4 | lo);
            ENSURE_MSG(!(m == M_HOST && hi < 8 && !is25), MTLS_ERR_CERT_PARSE,
                       "net/url: invalid URL escape in host");
            ENSURE_MSG(!(m == M_ZONE && v < 0x80 && !is25 && v != ' ' &&
                         should_escape(v, M_HOST)),
                       MTLS_ERR_CERT_PARSE, "net/url: invalid URL escape in zone");
            GUARD(mtlsp_buf_append_byte(out, v, err));
            i += 3;
            continue;
        }
        ENSURE_MSG(!((m == M_HOST || m == M_ZONE) && c < 0x80 && should_escape(c, m)),
                   MTLS_ERR_CERT_PARSE, "net/url: invalid character in host name");
        GUARD(mtlsp_buf_append_byte(out, c, err));
        i++;
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT escape(struct buf *out, const char *s, size_t n, enum mode m,
                          mtls_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (!should_escape(c, m)) {
            GUARD(mtlsp_buf_append_byte(out, c, err));
            continue;
        }
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        GUARD(mtlsp_buf_append(out, e, 3, err));
    }
    return MTLS_RESULT_OK;
}

/* net/url validEncoded: may the raw form be printed as is? */
static int valid_encoded(const char *s, size_t n, enum mode m)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == 0 || !strchr("!$&'()*+,;=:@[]%", c)) {
            if (should_escape(c, m)) {
                return 0;
            }
        }
    }
    return 1;
}

static const char *memrchr_(const char *s, size_t n, char c)
{
    for (size_t i = n; i-- > 0;) {
        if (s[i] == c) {
            return s + i;
        }
    }
    return NULL;
}

static int valid_optional_port(const char *p, size_t n)
{
    if (n == 0) {
        return 1;
    }
    if (p[0] != ':') {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* A bracketed host must hold an IPv6 address (Go >= 1.24.8/1.25.2). */
static int bracket_is_ipv6(const char *s, size_t n)
{
    char tmp[64];
    struct in6_addr a;
    if (n == 0 || n >= sizeof(tmp)) {
        return 0;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

static MTLS_RESULT parse_host(struct gourl *u, const char *h, size_t n, mtls_error *err)
{
    if (n > 0 && h[0] == '[') {
        const char *rb = memrchr_(h, n, ']');
        ENSURE_MSG(rb != NULL, MTLS_ERR_CERT_PARSE, "net/url: missing ']' in host");
        size_t i = (size_t)(rb - h);
        ENSURE_MSG(valid_optional_port(rb + 1, n - i - 1), MTLS_ERR_CERT_PARSE,
                   "net/url: invalid port after host");
        const char *zone = NULL;
        for (size_t k = 0; k + 3 <= i && zone == NULL; k++) {
            zone = memcmp(h + k, "%25", 3) == 0 ? h + k : NULL;
        }
        size_t addr_end = zone ? (size_t)(zone - h) : i;
        ENSURE_MSG(bracket_is_ipv6(h + 1, addr_end - 1), MTLS_ERR_CERT_PARSE,
                   "net/url: invalid IPv6 host");
        if (zone != NULL) {
            GUARD(unescape(&u->host, h, addr_end, M_HOST, err));
            GUARD(unescape(&u->host, zone, i - addr_end, M_ZONE, err));
            return unescape(&u->host, rb, n - i, M_HOST, err);
        }
    } else {
        const char *colon = memrchr_(h, n, ':');
        ENSURE_MSG(colon == NULL || valid_optional_port(colon, n - (size_t)(colon - h)),
                   MTLS_ERR_CERT_PARSE, "net/url: invalid port after host");
    }
    return unescape(&u->host, h, n, M_HOST, err);
}

static int valid_userinfo(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!alnum((uint8_t)s[i]) && (s[i] == 0 || !strchr("-._:~!$&'()*+,;=%@", s[i]))) {
            return 0;
        }
    }
    return 1;
}

static MTLS_RESULT parse_authority(struct gourl *u, const char *a, size_t n, mtls_error *err)
{
    const char *at = memrchr_(a, n, '@');
    size_t ui_len = at ? (size_t)(at - a) : 0;
    GUARD(at ? parse_host(u, at + 1, n - ui_len - 1, err) : parse_host(u, a, n, err));
    if (at == NULL) {
        return MTLS_RESULT_OK;
    }
    ENSURE_MSG(valid_userinfo(a, ui_len), MTLS_ERR_CERT_PARSE, "net/url: invalid userinfo");
    u->has_user = 1;
    const char *colon = memchr(a, ':', ui_len);
    size_t name_len = colon ? (size_t)(colon - a) : ui_len;
    GUARD(unescape(&u->user, a, name_len, M_USERPASS, err));
    if (colon != NULL) {
        u->has_pass = 1;
        GUARD(unescape(&u->pass, colon + 1, ui_len - name_len - 1, M_USERPASS, err));
    }
    return MTLS_RESULT_OK;
}

/* net/url getScheme: 1 and the scheme length, 0 for none; error for a leading ':'. */
static MTLS_RESULT get_scheme(size_t *out_len, const char *s, size_t n, mtls_error *err)
{
    *out_len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            continue;
        }
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0) {
                return MTLS_RESULT_OK;
            }
            continue;
        }
        ENSURE_MSG(!(c == ':' && i == 0), MTLS_ERR_CERT_PARSE, "net/url: missing protocol scheme");
        *out_len = c == ':' ? i : 0;
        return MTLS_RESULT_OK;
    }
    return MTLS_RESULT_OK;
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += s[i] == c;
    }
    return k;
}

/* url.parse(rawURL, viaRequest=false) of the part before '#'. */
static MTLS_RESULT parse(struct gourl *u, const char *s, size_t n, mtls_error *err)
{
    size_t slen;
    if (n == 1 && s[0] == '*') {
        u->raw_path = s;
        u->raw_path_len = 1;
        return mtlsp_buf_append(&u->path, s, 1, err);
    }
    GUARD(get_scheme(&slen, s, n, err));
    for (size_t i = 0; i < slen; i++) {
        uint8_t c = (uint8_t)s[i];
        GUARD(mtlsp_buf_append_byte(&u->scheme, c >= 'A' && c <= 'Z' ? c + 32 : c, err));
    }
    if (slen > 0) {
        s += slen + 1;
        n -= slen + 1;
    }
    const char *q = memchr(s, '?', n);
    if (n > 0 && s[n - 1] == '?' && count_char(s, n, '?') == 1) {
        u->force_query = 1;
        n--;
    } else if (q != NULL) {
        u->has_query = 1;
        u->query = q + 1;
        u->query_len = n - (size_t)(q - s) - 1;
        n = (size_t)(q - s);
    }
    if (n == 0 || s[0] != '/') {
        if (slen > 0) {
            u->has_opaque = 1;
            u->opaque = s;
            u->opaque_len = n;
            return MTLS_RESULT_OK;
        }
        const char *slash = memchr(s, '/', n);
        size_t seg = slash ? (size_t)(slash - s) : n;
        ENSURE_MSG(memchr(s, ':', seg) == NULL, MTLS_ERR_CERT_PARSE,
                   "net/url: first path segment in URL cannot contain colon");
    }
    int triple = n >= 3 && memcmp(s, "///", 3) == 0;
    if ((slen > 0 || !triple) && n >= 2 && memcmp(s, "//", 2) == 0) {
        const char *slash = memchr(s + 2, '/', n - 2);
        size_t alen = slash ? (size_t)(slash - s) - 2 : n - 2;
        u->has_authority = 1;
        GUARD(parse_authority(u, s + 2, alen, err));
        s += 2 + alen;
        n -= 2 + alen;
    } else if (slen > 0 && n > 0 && s[0] == '/') {
        u->omit_host = 1;
    }
    u->raw_path = s;
    u->raw_path_len = n;
    return unescape(&u->path, s, n, M_PATH, err);
}

/* crypto/x509 domainNameValid(host, false) for a URI SAN's host. */
static int x509_host_ok(const struct buf *h)
{
    size_t label = 0;
    if (h->len == 0) {
        return 1;
    }
    for (size_t i = 0; i <= h->len; i++) {
        if (i == h->len || h->data[i] == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
            continue;
        }
        uint8_t c = (uint8_t)h->data[i];
        if (c < 33 || c > 126) {
            return 0;
        }
        label++;
    }
    return 1;
}

/* url.URL.EscapedPath / EscapedFragment: the raw form when validly encoded. */
static MTLS_RESULT append_encoded(struct buf *out, const char *raw, size_t raw_len,
                                  const struct buf *dec, enum mode m, mtls_error *err)
{
    if (valid_encoded(raw, raw_len, m)) {
        return mtlsp_buf_append(out, raw, raw_len, err);
    }
    return escape(out, dec->data ? dec->data : "", dec->len, m, err);
}

static MTLS_RESULT append_authority(struct buf *out, const struct gourl *u, mtls_error *err)
{
    if (u->omit_host && u->host.len == 0 && !u->has_user) {
        return MTLS_RESULT_OK;
    }
    if (u->host.len > 0 || u->path.len > 0 || u->has_user) {
        GUARD(mtlsp_buf_append_str(out, "//", err));
    }
    if (u->has_user) {
        GUARD(escape(out, u->user.data, u->user.len, M_USERPASS, err));
        if (u->has_pass) {
            GUARD(mtlsp_buf_append_byte(out, ':', err));
            GUARD(escape(out, u->pass.data, u->pass.len, M_USERPASS, err));
        }
        GUARD(mtlsp_buf_append_byte(out, '@', err));
    }
    return escape(out, u->host.data, u->host.len, M_HOST, err);
}

/* url.URL.String(). */
static MTLS_RESULT to_string(struct buf *out, const struct gourl *u, mtls_error *err)
{
    size_t start = out->len;
    if (u->scheme.len > 0) {
        GUARD(mtlsp_buf_append(out, u->scheme.data, u->scheme.len, err));
        GUARD(mtlsp_buf_append_byte(out, ':', err));
    }
    if (u->has_opaque && u->opaque_len > 0) {
        GUARD(mtlsp_buf_append(out, u->opaque, u->opaque_len, err));
    } else {
        if (u->scheme.len > 0 || u->host.len > 0 || u->has_user) {
            GUARD(append_authority(out, u, err));
        }
        struct buf path = {0};
        mtls_result rc = append_encoded(&path, u->raw_path, u->raw_path_len, &u->path, M_PATH,
                                        err);
        const char *p = path.data ? path.data : "";
        const char *slash = memchr(p, '/', path.len);
        size_t seg = slash ? (size_t)(slash - p) : path.len;
        if (MTLS_IS_OK(rc) && path.len > 0 && p[0] != '/' && u->host.len > 0) {
            rc = mtlsp_buf_append_byte(out, '/', err);
        }
        if (MTLS_IS_OK(rc) && out->len == start && memchr(p, ':', seg) != NULL) {
            rc = mtlsp_buf_append_str(out, "./", err);
        }
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_buf_append(out, p, path.len, err);
        }
        mtlsp_buf_free(&path);
        GUARD(rc);
    }
    if (u->force_query || u->query_len > 0) {
        GUARD(mtlsp_buf_append_byte(out, '?', err));
        GUARD(mtlsp_buf_append(out, u->query, u->query_len, err));
    }
    if (u->frag.len > 0) {
        GUARD(mtlsp_buf_append_byte(out, '#', err));
        GUARD(append_encoded(out, u->raw_frag, u->raw_frag_len, &u->frag, M_FRAGMENT, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_all(struct gourl *u, const char *s, size_t n, mtls_error *err)
{
    for (size_t i = 0; i < n; i++) {
        ENSURE_MSG((uint8_t)s[i] >= 0x20 && (uint8_t)s[i] != 0x7f, MTLS_ERR_CERT_PARSE,
                   "net/url: invalid control character in URL");
    }
    const char *hash = memchr(s, '#', n);
    if (hash != NULL) {
        u->raw_frag = hash + 1;
        u->raw_frag_len = n - (size_t)(hash - s) - 1;
        GUARD(unescape(&u->frag, u->raw_frag, u->raw_frag_len, M_FRAGMENT, err));
        n = (size_t)(hash - s);
    }
    GUARD(parse(u, s, n, err));
    ENSURE_MSG(x509_host_ok(&u->host), MTLS_ERR_CERT_PARSE,
               "x509: cannot parse URI: invalid domain");
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_url_append(struct buf *out, int *out_spiffe, const char *s, size_t len,
                             mtls_error *err)
{
    struct gourl u;
    memset(&u, 0, sizeof(u));
    mtls_result rc = parse_all(&u, s, len, err);
    if (MTLS_IS_OK(rc)) {
        rc = to_string(out, &u, err);
    }
    if (out_spiffe != NULL) {
        *out_spiffe = MTLS_IS_OK(rc) && u.has_authority && u.scheme.len == 6 &&
                      memcmp(u.scheme.data, "spiffe", 6) == 0;
    }
    struct buf *bufs[] = {&u.scheme, &u.user, &u.pass, &u.host, &u.path, &u.frag};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        mtlsp_buf_free(bufs[i]);
    }
    return rc;
}
