/* subst.c - compile and render Caddy placeholders in header values (see subst.h). */
#include "subst.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ph_kind {
    PH_LITERAL = 0,
    PH_TLS,
    PH_HOST,
    PH_HOSTPORT,
    PH_PORT,
    PH_METHOD,
    PH_SCHEME,
    PH_PROTO,
    PH_URI,
    PH_PATH,
    PH_QUERY,
    PH_REMOTE,
    PH_REMOTE_HOST,
    PH_REMOTE_PORT,
    PH_HEADER,
    PH_ENV,
    PH_UP_HOSTPORT,
    PH_UP_HOST,
    PH_UP_PORT
};

struct seg {
    enum ph_kind kind;
    char *text; /* literal bytes, or the placeholder's argument (TLS name, header, env) */
    size_t len;
};

struct tmpl {
    struct seg *segs;
    size_t num_segs;
    int identity;
};

static const struct {
    const char *name;
    enum ph_kind kind;
} fixed[] = {
    {"http.request.host", PH_HOST},
    {"http.request.hostport", PH_HOSTPORT},
    {"http.request.port", PH_PORT},
    {"http.request.method", PH_METHOD},
    {"http.request.scheme", PH_SCHEME},
    {"http.request.proto", PH_PROTO},
    {"http.request.uri", PH_URI},
    {"http.request.orig_uri", PH_URI},
    {"http.request.uri.path", PH_PATH},
    {"http.request.uri.query", PH_QUERY},
    {"http.request.remote", PH_REMOTE},
    {"http.request.remote.host", PH_REMOTE_HOST},
    {"http.request.remote.port", PH_REMOTE_PORT},
    {"http.reverse_proxy.upstream.hostport", PH_UP_HOSTPORT},
    {"http.reverse_proxy.upstream.host", PH_UP_HOST},
    {"http.reverse_proxy.upstream.port", PH_UP_PORT},
};

/* A libmtls name, or one with a numeric index appended (san.dns_names.0). */
static int tls_name_known(const char *name)
{
    size_t n = strlen(name);
    const char *dot = strrchr(name, '.');
    size_t base = n;
    if (dot != NULL && dot[1] != '\0' && strspn(dot + 1, "+-0123456789") == strlen(dot + 1)) {
        base = (size_t)(dot - name);
    }
    for (size_t i = 0; i < mtls_placeholder_count(); i++) {
        const char *k = mtls_placeholder_name(i);
        if ((strlen(k) == n && strncasecmp(k, name, n) == 0) ||
            (strlen(k) == base && strncasecmp(k, name, base) == 0)) {
            return 1;
        }
    }
    return 0;
}

static int classify(struct seg *s, const char *name, size_t len, char *err, size_t err_len)
{
    char key[256];
    if (len == 0 || len >= sizeof(key)) {
        snprintf(err, err_len, "placeholder {%.*s} is not supported", (int)(len % 200),
                 name);
        return -1;
    }
    memcpy(key, name, len);
    key[len] = '\0';
    if (strncasecmp(key, "http.request.header.", 20) == 0 && len > 20) {
        s->kind = PH_HEADER;
        s->text = strndup(key + 20, len - 20);
        s->len = len - 20;
        return s->text != NULL ? 0 : -1;
    }
    if (strncmp(key, "env.", 4) == 0 && len > 4) {
        s->kind = PH_ENV;
        s->text = strndup(key + 4, len - 4);
        return s->text != NULL ? 0 : -1;
    }
    if (strncasecmp(key, "http.request.tls.", 17) == 0) {
        if (!tls_name_known(key)) {
            snprintf(err, err_len, "unknown placeholder {%s}", key);
            return -1;
        }
        s->kind = PH_TLS;
        s->text = strdup(key);
        return s->text != NULL ? 0 : -1;
    }
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcasecmp(key, fixed[i].name) == 0) {
            s->kind = fixed[i].kind;
            return 0;
        }
    }
    snprintf(err, err_len, "placeholder {%s} is not supported by mtls-proxy", key);
    return -1;
}

static int push(struct tmpl *t, struct seg s)
{
    struct seg *segs = realloc(t->segs, (t->num_segs + 1) * sizeof(*segs));
    if (segs == NULL) {
        free(s.text);
        return -1;
    }
    t->segs = segs;
    t->segs[t->num_segs++] = s;
    return 0;
}

static int push_literal(struct tmpl *t, const char *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    struct seg s = {PH_LITERAL, strndup(p, n), n};
    return s.text != NULL ? push(t, s) : -1;
}

int tmpl_compile(struct tmpl **out, const char *text, char *err, size_t err_len)
{
    struct tmpl *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            snprintf(err, err_len, "control byte 0x%02x in a header value", (unsigned)*p);
            goto fail;
        }
    }
    const char *lit = text;
    const char *p = text;
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p + 1, '}');
        const char *inner = strchr(p + 1, '{');
        if (end == NULL || (inner != NULL && inner < end)) {
            p++; /* a lone brace is literal, as in Caddy */
            continue;
        }
        struct seg s = {PH_LITERAL, NULL, 0};
        if (push_literal(t, lit, (size_t)(p - lit)) != 0 ||
            classify(&s, p + 1, (size_t)(end - p - 1), err, err_len) != 0 || push(t, s) != 0) {
            if (err[0] == '\0') {
                snprintf(err, err_len, "out of memory");
            }
            goto fail;
        }
        t->identity |= s.kind == PH_TLS;
        lit = p = end + 1;
    }
    if (push_literal(t, lit, strlen(lit)) != 0) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    *out = t;
    return 0;
fail:
    tmpl_free(t);
    return -1;
}

void tmpl_free(struct tmpl *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->num_segs; i++) {
        free(t->segs[i].text);
    }
    free(t->segs);
    free(t);
}

int tmpl_is_identity(const struct tmpl *t)
{
    return t->identity;
}

void escape_value(struct sbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) {
            continue;
        }
        sbuf_add(out, s + run, i - run);
        char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        sbuf_add(out, e, 4);
        run = i + 1;
    }
    sbuf_add(out, s + run, n - run);
}

/* Host without its port (Go's r.Host through net.SplitHostPort). */
static void split_host(const char *h, size_t n, size_t *host_off, size_t *host_len,
                       const char **port, size_t *port_len)
{
    *host_off = 0;
    *host_len = n;
    *port = "";
    *port_len = 0;
    const char *colon = n ? memrchr(h, ':', n) : NULL;
    if (colon == NULL) {
        return;
    }
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (close == NULL || close + 1 != colon) {
            return;
        }
        *host_off = 1;
        *host_len = (size_t)(close - h) - 1;
    } else {
        if (memchr(h, ':', (size_t)(colon - h)) != NULL) {
            return; /* a bare IPv6 address */
        }
        *host_len = (size_t)(colon - h);
    }
    *port = colon + 1;
    *port_len = n - (size_t)(colon - h) - 1;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

static void render_path(const struct h1_request *r, struct sbuf *out)
{
    size_t n = r->target_len;
    const char *q = memchr(r->target, '?', n);
    if (q != NULL) {
        n = (size_t)(q - r->target);
    }
    struct sbuf raw = {0};
    for (size_t i = 0; i < n; i++) {
        char c = r->target[i];
        if (c == '%' && i + 2 < n + 0 && isxdigit((unsigned char)r->target[i + 1]) &&
            isxdigit((unsigned char)r->target[i + 2])) {
            c = (char)(hexval(r->target[i + 1]) * 16 + hexval(r->target[i + 2]));
            i += 2;
        }
        sbuf_addc(&raw, c);
    }
    escape_value(out, raw.p ? raw.p : "", raw.len);
    sbuf_free(&raw);
}

static void render_header(const struct h1_request *r, const char *name, struct sbuf *out)
{
    int first = 1;
    for (size_t i = 0; i < r->num_headers; i++) {
        if (h1_header_is(&r->headers[i], name)) {
            if (!first) {
                sbuf_addc(out, ',');
            }
            escape_value(out, r->headers[i].value, r->headers[i].value_len);
            first = 0;
        }
    }
}

static void render_request(const struct seg *s, const struct req_ctx *rc, struct sbuf *out)
{
    const struct h1_request *r = rc->req;
    size_t ho = 0, hl = 0, pl = 0;
    const char *port = "";
    if (r != NULL && r->host != NULL) {
        split_host(r->host, r->host_len, &ho, &hl, &port, &pl);
    }
    switch (s->kind) {
    case PH_HOST:
        if (r != NULL && r->host != NULL) {
            escape_value(out, r->host + ho, hl);
        }
        break;
    case PH_HOSTPORT:
        if (r != NULL && r->host != NULL) {
            escape_value(out, r->host, r->host_len);
        }
        break;
    case PH_PORT:
        escape_value(out, port, pl);
        break;
    case PH_METHOD:
        if (r != NULL) {
            sbuf_add(out, r->method, r->method_len);
        }
        break;
    case PH_SCHEME:
        sbuf_adds(out, "https");
        break;
    case PH_PROTO:
        sbuf_adds(out, r != NULL && r->minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
        break;
    case PH_URI:
        if (r != NULL) {
            sbuf_add(out, r->target, r->target_len);
        }
        break;
    case PH_PATH:
        if (r != NULL) {
            render_path(r, out);
        }
        break;
    case PH_QUERY: {
        const char *q = r != NULL ? memchr(r->target, '?', r->target_len) : NULL;
        if (q != NULL) {
            sbuf_add(out, q + 1, r->target_len - (size_t)(q - r->target) - 1);
        }
        break;
    }
    case PH_HEADER:
        if (r != NULL) {
            render_header(r, s->text, out);
        }
        break;
    default:
        break;
    }
}

static void render_addr(const struct seg *s, const struct req_ctx *rc, struct sbuf *out)
{
    const char *ip = rc->remote_ip ? rc->remote_ip : "";
    const char *rport = rc->remote_port ? rc->remote_port : "";
    const char *up = rc->upstream ? rc->upstream : "";
    size_t ho = 0, hl = 0, pl = 0;
    const char *uport = "";
    split_host(up, strlen(up), &ho, &hl, &uport, &pl);
    switch (s->kind) {
    case PH_REMOTE:
        if (strchr(ip, ':') != NULL) {
            sbuf_addc(out, '[');
            sbuf_adds(out, ip);
            sbuf_addc(out, ']');
        } else {
            sbuf_adds(out, ip);
        }
        sbuf_addc(out, ':');
        sbuf_adds(out, rport);
        break;
    case PH_REMOTE_HOST:
        sbuf_adds(out, ip);
        break;
    case PH_REMOTE_PORT:
        sbuf_adds(out, rport);
        break;
    case PH_UP_HOSTPORT:
        sbuf_adds(out, up);
        break;
    case PH_UP_HOST:
        sbuf_add(out, up + ho, hl);
        break;
    case PH_UP_PORT:
        sbuf_add(out, uport, pl);
        break;
    default:
        break;
    }
}

void tmpl_render(const struct tmpl *t, const struct req_ctx *rc, struct sbuf *out)
{
    for (size_t i = 0; i < t->num_segs; i++) {
        const struct seg *s = &t->segs[i];
        switch (s->kind) {
        case PH_LITERAL:
            sbuf_add(out, s->text, s->len);
            break;
        case PH_TLS: {
            const char *v = NULL;
            size_t n = 0;
            if (rc->peer != NULL && mtls_peer_get(rc->peer, s->text, &v, &n, NULL) == MTLS_OK) {
                escape_value(out, v, n);
            }
            break;
        }
        case PH_ENV: {
            const char *v = getenv(s->text);
            if (v != NULL) {
                escape_value(out, v, strlen(v));
            }
            break;
        }
        case PH_REMOTE:
        case PH_REMOTE_HOST:
        case PH_REMOTE_PORT:
        case PH_UP_HOSTPORT:
        case PH_UP_HOST:
        case PH_UP_PORT:
            render_addr(s, rc, out);
            break;
        default:
            render_request(s, rc, out);
            break;
        }
    }
}
