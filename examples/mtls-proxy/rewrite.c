/* rewrite.c - HTTP head rewriting for mtls-proxy (see rewrite.h). */
#include "rewrite.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int host_matches(const char *pattern, const char *host, size_t n)
{
    if (strlen(pattern) == n && strncasecmp(pattern, host, n) == 0) {
        return 1;
    }
    const char *dot = memchr(host, '.', n);
    return pattern[0] == '*' && pattern[1] == '.' && dot != NULL && dot != host &&
           strlen(pattern + 1) == n - (size_t)(dot - host) &&
           strncasecmp(pattern + 1, dot, n - (size_t)(dot - host)) == 0;
}

/* The Host header without its port, as Go's net.SplitHostPort gives it. */
int rewrite_normalize(struct h1_request *r)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(schemes[i]);
        if (r->target_len < n || strncasecmp(r->target, schemes[i], n) != 0) {
            continue;
        }
        const char *auth = r->target + n, *end = r->target + r->target_len, *p = auth;
        while (p < end && *p != '/' && *p != '?' && *p != '#') {
            p++;
        }
        if (!h1_host_valid(auth, (size_t)(p - auth))) {
            return -1;
        }
        r->host = auth;
        r->host_len = (size_t)(p - auth);
        r->target = p < end ? p : "/";
        r->target_len = p < end ? (size_t)(end - p) : 1;
        return 0;
    }
    return 0;
}

void rewrite_hostname(const struct h1_request *r, const char **out, size_t *out_len)
{
    const char *h = r->host ? r->host : "";
    size_t n = r->host ? r->host_len : 0;
    if (n > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        *out = h + 1;
        *out_len = close ? (size_t)(close - h) - 1 : n - 1;
        return;
    }
    const char *colon = memchr(h, ':', n);
    *out = h;
    *out_len = colon ? (size_t)(colon - h) : n;
}

const struct route *rewrite_route(const struct srv *s, const char *host, size_t n)
{
    for (size_t i = 0; i < s->num_routes; i++) {
        const struct route *r = &s->routes[i];
        if (r->num_hosts == 0) {
            return r;
        }
        for (size_t j = 0; j < r->num_hosts; j++) {
            if (host_matches(r->hosts[j], host, n)) {
                return r;
            }
        }
    }
    return NULL;
}

static int in_list(char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Connection-header tokens name more hop-by-hop headers (RFC 9110 §7.6.1). */
static int named_by_connection(const struct h1_request *r, const struct h1_header *h)
{
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct h1_header *k = &r->headers[i];
        if (!h1_header_is(k, "connection")) {
            continue;
        }
        const char *p = k->value, *end = k->value + k->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }
            const char *t = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t') {
                p++;
            }
            if ((size_t)(p - t) == h->name_len && strncasecmp(t, h->name, h->name_len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static int forward_header(const struct h1_request *r, const struct h1_header *h,
                          const struct handler *hd, char *const *strip, size_t num_strip)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "te",
                                      "trailer", "upgrade", "proxy-authorization",
                                      "proxy-authenticate"};
    char norm[128];
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++) {
        if (h1_header_is(h, hop[i])) {
            return 0;
        }
    }
    static const char *const framing[] = {"content-length", "transfer-encoding", "host"};
    header_norm(norm, sizeof(norm), h->name, h->name_len);
    if (h->name_len < sizeof(norm) && in_list(strip, num_strip, norm, strlen(norm))) {
        return 0; /* a client copy of a header the proxy sets (spoofing) */
    }
    /* "Content_Length" next to the real framing: some upstreams map '_' to '-' (as nginx
     * refuses to by default), so an alias of a framing header is never forwarded. */
    for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        if (strcmp(norm, framing[i]) == 0 && !h1_header_is(h, framing[i])) {
            return 0;
        }
    }
    if (in_list(hd->del, hd->num_del, h->name, h->name_len)) {
        return 0;
    }
    /* "Connection: Content-Length" must not drop the framing the body is forwarded by: the
     * upstream would read the body as a second, unrewritten request (smuggling). */
    return !named_by_connection(r, h) || h1_header_is(h, "transfer-encoding") ||
           h1_header_is(h, "content-length") || h1_header_is(h, "host");
}

static int op_sets(const struct handler *h, const char *name)
{
    for (size_t i = 0; i < h->num_set; i++) {
        if (strcasecmp(h->set[i].name, name) == 0) {
            return 1;
        }
    }
    return in_list(h->del, h->num_del, name, strlen(name));
}

static void add_header(struct sbuf *b, const char *name, const char *value, size_t n)
{
    sbuf_adds(b, name);
    sbuf_add(b, ": ", 2);
    escape_value(b, value, n);
    sbuf_add(b, "\r\n", 2);
}

static void render_ops(struct sbuf *b, const struct hdr_op *ops, size_t n,
                       const struct req_ctx *rc)
{
    for (size_t i = 0; i < n; i++) {
        sbuf_adds(b, ops[i].name);
        sbuf_add(b, ": ", 2);
        tmpl_render(ops[i].value, rc, b);
        sbuf_add(b, "\r\n", 2);
    }
}

static void copy_header(struct sbuf *b, const struct h1_header *h)
{
    sbuf_add(b, h->name, h->name_len);
    sbuf_add(b, ": ", 2);
    sbuf_add(b, h->value, h->value_len);
    sbuf_add(b, "\r\n", 2);
}

/* The Upgrade pair, re-added after the hop-by-hop headers were dropped: the first Upgrade
 * header, the one http.c judged the request by (non-empty when r->upgrade). */
static void add_upgrade(struct sbuf *b, const struct h1_header *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (h1_header_is(&headers[i], "upgrade")) {
            sbuf_adds(b, "Connection: Upgrade\r\nUpgrade: ");
            sbuf_add(b, headers[i].value, headers[i].value_len);
            sbuf_add(b, "\r\n", 2);
            return;
        }
    }
}

void rewrite_request_head(struct sbuf *b, const struct h1_request *r, const struct handler *h,
                          char *const *strip, size_t num_strip, const struct req_ctx *rc)
{
    sbuf_add(b, r->method, r->method_len);
    sbuf_addc(b, ' ');
    sbuf_add(b, r->target, r->target_len);
    sbuf_adds(b, r->minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    if (r->host != NULL) {
        sbuf_adds(b, "Host: ");
        sbuf_add(b, r->host, r->host_len);
        sbuf_add(b, "\r\n", 2);
    }
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct h1_header *hd = &r->headers[i];
        if (!h1_header_is(hd, "host") && forward_header(r, hd, h, strip, num_strip)) {
            copy_header(b, hd);
        }
    }
    /* Caddy 2.6 trusts no proxy by default: these replace whatever the client sent. */
    if (!op_sets(h, "X-Forwarded-For")) {
        add_header(b, "X-Forwarded-For", rc->remote_ip, strlen(rc->remote_ip));
    }
    if (!op_sets(h, "X-Forwarded-Proto")) {
        sbuf_adds(b, "X-Forwarded-Proto: https\r\n");
    }
    if (!op_sets(h, "X-Forwarded-Host")) {
        add_header(b, "X-Forwarded-Host", r->host ? r->host : "", r->host ? r->host_len : 0);
    }
    render_ops(b, h->set, h->num_set, rc);
    render_ops(b, h->add, h->num_add, rc);
    if (r->upgrade) {
        add_upgrade(b, r->headers, r->num_headers);
    }
    if (r->minor == 0 && !r->upgrade) {
        sbuf_adds(b, "Connection: close\r\n"); /* no chunked answers to HTTP/1.0 clients */
    }
    sbuf_add(b, "\r\n", 2);
}

static int is_hop_response_header(const struct h1_header *h)
{
    return h1_header_is(h, "connection") || h1_header_is(h, "keep-alive") ||
           h1_header_is(h, "proxy-connection") || h1_header_is(h, "upgrade");
}

void rewrite_response_head(struct sbuf *b, const struct h1_response *r, int close)
{
    char line[32];
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", r->status);
    sbuf_adds(b, line);
    sbuf_add(b, r->reason, r->reason_len);
    sbuf_add(b, "\r\n", 2);
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct h1_header *h = &r->headers[i];
        if (!is_hop_response_header(h)) {
            copy_header(b, h);
        }
    }
    if (r->upgrade) {
        add_upgrade(b, r->headers, r->num_headers);
    }
    if (!r->upgrade && close && r->status >= 200) {
        sbuf_adds(b, "Connection: close\r\n");
    }
    sbuf_add(b, "\r\n", 2);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

size_t rewrite_error(struct sbuf *out, int status, const char *why, int close)
{
    char head[256];
    char body[256];
    int bl = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason_phrase(status), why);
    bl = bl < 0 ? 0 : bl >= (int)sizeof(body) ? (int)sizeof(body) - 1 : bl;
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %d\r\n%s\r\n",
                      status, reason_phrase(status), bl, close ? "Connection: close\r\n" : "");
    sbuf_add(out, head, (size_t)hl);
    sbuf_add(out, body, (size_t)bl);
    return (size_t)bl;
}

int rewrite_sni_mismatch(const char *sni, const char *host, size_t host_len)
{
    if (sni == NULL || sni[0] == '\0') {
        return host_len != 0;
    }
    return strlen(sni) != host_len || strncasecmp(sni, host, host_len) != 0;
}
