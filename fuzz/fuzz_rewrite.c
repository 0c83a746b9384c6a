/*
 * fuzz_rewrite - what mtls-proxy sends on (examples/mtls-proxy/rewrite.c, subst.c): the
 * input is parsed as a request head with h1_parse_request, normalised and routed as
 * conn.c does, and rewritten with rewrite_request_head for a fixed handler whose header
 * operations use request and identity placeholders; three peers are tried (no
 * certificate, the fixed leaf, and a leaf whose subject holds CR, LF, TAB, DEL and UTF-8).
 * The input is also parsed as a response and rewritten with rewrite_response_head, and
 * refused requests get their rewrite_error answer.
 *
 * Invariants: the rewritten head has no bare CR or LF, no NUL, and parses again with
 * h1_parse_request / h1_parse_response into the same method, target, version, Host, status
 * and -- what request smuggling is about -- the same body framing (mode and length) as the
 * proxy read; it holds no hop-by-hop header and no client copy of a header the proxy sets
 * (each of those exactly once); a deleted header is gone; rewriting twice gives the same
 * bytes. Deterministic: no I/O; the handler and peers are built once.
 * Suggested -max_len: 16384.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_mtls.h"
#include "known_issues.h"
#include "rewrite.h"

#define MAX_HEAD 16384
#define MAX_HEADERS PROXY_MAX_HEADERS
#define MAX_OUT_HEADERS (PROXY_MAX_HEADERS + 32)

static const char *const set_ops[][2] = {
    {"X-Client-Subject", "{http.request.tls.client.subject}"},
    {"X-Client-Verify", "{http.request.tls.client.verified}"},
    {"X-Client-Dns", "{http.request.tls.client.san.dns_names.0}"},
    {"X-Client-Xfcc", "{http.request.tls.client.xfcc}"},
    {"X-Ua", "{http.request.header.User-Agent}"},
    {"X-Path", "{http.request.uri.path}?{http.request.uri.query}"},
    {"X-Host", "{http.request.host}:{http.request.port}"},
    {"X-Remote", "{http.request.remote}"},
    {"X-Up", "{http.reverse_proxy.upstream.hostport}"},
};
static const char *const add_ops[][2] = {
    {"Via", "1.1 mtls-proxy {http.request.method} {http.request.uri} {http.request.proto} "
            "{http.request.scheme}://{http.request.hostport}"},
};
static char *strip[] = {"x-client-subject", "x-client-verify", "x-client-dns",
                        "x-client-xfcc",    "x-ua",            "x-path",
                        "x-host",           "x-remote",        "x-up",
                        "x-forwarded-for",  "x-forwarded-proto", "x-forwarded-host"};
#define NUM_STRIP (sizeof(strip) / sizeof(strip[0]))
static char *del[] = {"X-Secret"};
static const char *const hop_by_hop[] = {"keep-alive", "proxy-connection", "te", "trailer",
                                         "proxy-authorization", "proxy-authenticate"};

static struct hdr_op set[sizeof(set_ops) / sizeof(set_ops[0])];
static struct hdr_op add[sizeof(add_ops) / sizeof(add_ops[0])];
static struct handler handler;
static char *route_hosts[] = {"client.example", "*.example.net"};
static struct route routes[2];
static struct srv server;
static mtls_peer *peers[3]; /* none, the fixed leaf, the leaf with control bytes */

static const struct fuzz_cert_spec nasty_spec = {
    .key_kind = FUZZ_KEY_P256,
    .key_seed = "libmtls fuzz nasty leaf",
    .subject = {{"O", "evil\r\nX-Client-Subject: CN=admin"},
                {"OU", "tab\there del\x7f and \xc3\xa9t\xc3\xa9"},
                {"CN", "nasty\nclient"}},
    .serial = 0x1002,
    .not_before = INT64_C(1704067200),
    .not_after = INT64_C(1893456000),
    .ext_key_usage = "clientAuth",
    .subject_alt_name = "DNS:nasty.example,URI:spiffe://example.org/nasty",
};

static void compile(struct hdr_op *op, const char *name, const char *text)
{
    char err[256];
    op->name = (char *)name;
    FUZZ_CHECK(tmpl_compile(&op->value, text, err, sizeof(err)) == 0);
}

static mtls_peer *peer_of(const mtls_ctx *ctx, const struct fuzz_der *der)
{
    mtls_peer *p = NULL;
    const uint8_t *certs[] = {der->der};
    FUZZ_CHECK(mtls_verify_der(ctx, 0, certs, &der->len, 1, FUZZ_NOW, &p, NULL) == MTLS_OK);
    FUZZ_CHECK(mtls_peer_accepted(p));
    return p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < sizeof(set_ops) / sizeof(set_ops[0]); i++) {
        compile(&set[i], set_ops[i][0], set_ops[i][1]);
    }
    for (size_t i = 0; i < sizeof(add_ops) / sizeof(add_ops[0]); i++) {
        compile(&add[i], add_ops[i][0], add_ops[i][1]);
    }
    handler.set = set;
    handler.num_set = sizeof(set) / sizeof(set[0]);
    handler.add = add;
    handler.num_add = sizeof(add) / sizeof(add[0]);
    handler.del = del;
    handler.num_del = 1;
    routes[0] = (struct route){route_hosts, 2, &handler};
    routes[1] = (struct route){NULL, 0, &handler}; /* any other host */
    server.routes = routes;
    server.num_routes = 2;
    server.strip = strip;
    server.num_strip = NUM_STRIP;

    static const char json[] = "{\"mode\":\"require\"}";
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, sizeof(json) - 1, NULL, NULL);
    FUZZ_CHECK(ctx != NULL);
    const struct fuzz_pki *k = fuzz_pki_get();
    struct fuzz_cert *nasty = fuzz_cert_new(&nasty_spec, NULL);
    struct fuzz_der nasty_der;
    FUZZ_CHECK(nasty != NULL && fuzz_cert_der(nasty, &nasty_der));
    peers[1] = peer_of(ctx, &k->leaf);
    peers[2] = peer_of(ctx, &nasty_der);
    fuzz_cert_free(nasty);
    free(nasty_der.der);
    mtls_ctx_free(ctx); /* peers hold what they need */
    return 0;
}

/* Lowercase, '_' and '.' as '-': how the proxy compares names it strips. */
static int norm_is(const struct h1_header *h, const char *norm)
{
    char buf[128];
    if (h->name_len >= sizeof(buf)) {
        return 0;
    }
    header_norm(buf, sizeof(buf), h->name, h->name_len);
    return strcmp(buf, norm) == 0;
}

static size_t count(const struct h1_request *r, const char *name, int normalised)
{
    size_t n = 0;
    for (size_t i = 0; i < r->num_headers; i++) {
        n += normalised ? norm_is(&r->headers[i], name) : h1_header_is(&r->headers[i], name);
    }
    return n;
}

static void check_lines(const char *p, size_t n)
{
    FUZZ_CHECK(n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(p[i] != '\0');
        FUZZ_CHECK(p[i] != '\r' || (i + 1 < n && p[i + 1] == '\n'));
        FUZZ_CHECK(p[i] != '\n' || (i > 0 && p[i - 1] == '\r'));
    }
}

static int same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Whether h1_parse_request takes `host` as a Host header value. */
static int host_header_ok(const char *host, size_t len)
{
    char buf[MAX_HEAD + 64];
    struct h1_header hdrs[2];
    struct h1_request r;
    struct h1_error e = {0, NULL};
    if (len > MAX_HEAD) {
        return 0;
    }
    memcpy(buf, "GET / HTTP/1.1\r\nHost: ", 22);
    memcpy(buf + 22, host, len);
    memcpy(buf + 22 + len, "\r\n\r\n", 4);
    return h1_parse_request(&r, hdrs, 2, buf, len + 26, sizeof(buf), &e) == H1_DONE;
}

/* Whether a Connection header of `r` names `name` (rewrite.c's token rule). */
static int connection_names(const struct h1_request *r, const char *name)
{
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct h1_header *k = &r->headers[i];
        const char *p = k->value, *end = k->value + k->value_len;
        if (!h1_header_is(k, "connection")) {
            continue;
        }
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }
            const char *t = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t') {
                p++;
            }
            if ((size_t)(p - t) == strlen(name) && strncasecmp(t, name, strlen(name)) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Whether the first Upgrade header of `r` is empty. */
static int first_upgrade_empty(const struct h1_request *r)
{
    for (size_t i = 0; i < r->num_headers; i++) {
        if (h1_header_is(&r->headers[i], "upgrade")) {
            return r->headers[i].value_len == 0;
        }
    }
    return 0;
}

static void check_request(const struct h1_request *orig, mtls_peer *peer)
{
    struct h1_request r = *orig, out;
    struct h1_header hdrs[MAX_OUT_HEADERS];
    struct h1_error e = {0, NULL};
    struct sbuf b = {0}, again = {0};
    const char *host;
    size_t host_len;

    /* conn.c's order: normalise, Host without port, SNI check, route, rewrite. */
    if (rewrite_normalize(&r) != 0) {
        return; /* 400: the target's host holds a byte a Host header may not */
    }
    FUZZ_CHECK(r.target_len > 0);
    FUZZ_CHECK(r.host == orig->host || host_header_ok(r.host, r.host_len));
    rewrite_hostname(&r, &host, &host_len);
    FUZZ_CHECK(host_len == 0 || (r.host != NULL && host >= r.host &&
                                 host + host_len <= r.host + r.host_len));
    (void)rewrite_sni_mismatch("client.example", host, host_len);
    (void)rewrite_sni_mismatch(NULL, host, host_len);
    FUZZ_CHECK(rewrite_route(&server, host, host_len) != NULL); /* the catch-all route */

    struct req_ctx rc = {peer, &r, "192.0.2.7", "40000", "127.0.0.1:9000"};
    rewrite_request_head(&b, &r, &handler, strip, NUM_STRIP, &rc);
    rewrite_request_head(&again, &r, &handler, strip, NUM_STRIP, &rc);
    FUZZ_CHECK(!b.failed && same(b.p, b.len, again.p, again.len));
    check_lines(b.p, b.len);

    int rc2 = h1_parse_request(&out, hdrs, MAX_OUT_HEADERS, b.p, b.len, b.len, &e);
    if (rc2 != H1_DONE) {
        fprintf(stderr, "rewritten head (%d %d %s):\n%.*s\n", rc2, e.status,
                e.why ? e.why : "incomplete", (int)b.len, b.p);
    }
    FUZZ_CHECK(rc2 == H1_DONE && out.head_len == b.len);
    FUZZ_CHECK(same(out.method, out.method_len, r.method, r.method_len));
    FUZZ_CHECK(same(out.target, out.target_len, r.target, r.target_len));
    FUZZ_CHECK(out.minor == r.minor);
    /* The framing the upstream sees is the framing the proxy forwards the body by. */
    FUZZ_CHECK((out.body == r.body && out.content_length == r.content_length) ||
               (KNOWN_CONNECTION_DROPS_CONTENT_LENGTH && connection_names(&r, "content-length")));
    FUZZ_CHECK(out.upgrade == r.upgrade || (KNOWN_UPGRADE_FIRST_EMPTY && first_upgrade_empty(&r)));
    if (r.host != NULL) {
        FUZZ_CHECK(count(&out, "host", 0) == 1 && out.host != NULL &&
                   same(out.host, out.host_len, r.host, r.host_len));
    } else {
        FUZZ_CHECK(count(&out, "host", 0) == 0);
    }
    for (size_t i = 0; i < NUM_STRIP; i++) {
        FUZZ_CHECK(count(&out, strip[i], 1) == 1); /* the proxy's copy, never the client's */
    }
    FUZZ_CHECK(count(&out, "x-secret", 0) == 0);
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++) {
        FUZZ_CHECK(count(&out, hop_by_hop[i], 0) == 0);
    }
    FUZZ_CHECK(count(&out, "upgrade", 0) == (size_t)(r.upgrade != 0));
    sbuf_free(&b);
    sbuf_free(&again);
}

static void check_response(const char *buf, size_t len, int head_request, int close)
{
    struct h1_header hdrs[MAX_HEADERS], ohdrs[MAX_OUT_HEADERS];
    struct h1_response res, out;
    struct h1_error e = {0, NULL};
    if (h1_parse_response(&res, hdrs, MAX_HEADERS, buf, len, MAX_HEAD, head_request, &e) !=
        H1_DONE) {
        return;
    }
    struct sbuf b = {0};
    rewrite_response_head(&b, &res, close && !res.upgrade);
    FUZZ_CHECK(!b.failed);
    check_lines(b.p, b.len);
    int rc = h1_parse_response(&out, ohdrs, MAX_OUT_HEADERS, b.p, b.len, b.len, head_request,
                               &e);
    if (rc != H1_DONE) {
        fprintf(stderr, "rewritten response head (%s) :\n%.*s\n", e.why ? e.why : "incomplete",
                (int)b.len, b.p);
    }
    FUZZ_CHECK(rc == H1_DONE && out.head_len == b.len);
    FUZZ_CHECK(out.status == res.status && out.minor == 1);
    FUZZ_CHECK(same(out.reason, out.reason_len, res.reason, res.reason_len));
    FUZZ_CHECK(out.body == res.body && out.content_length == res.content_length);
    FUZZ_CHECK(out.upgrade == res.upgrade);
    sbuf_free(&b);
}

/* A refused request's answer is a complete response whose body is what it says. */
static void check_error(const struct h1_error *err, int close)
{
    struct h1_header hdrs[16];
    struct h1_response out;
    struct h1_error e = {0, NULL};
    struct sbuf b = {0};
    size_t body = rewrite_error(&b, err->status, err->why, close);
    FUZZ_CHECK(!b.failed && body > 0 && body < b.len);
    FUZZ_CHECK(h1_parse_response(&out, hdrs, 16, b.p, b.len, b.len, 0, &e) == H1_DONE);
    FUZZ_CHECK(out.status == err->status && out.body == H1_BODY_LENGTH &&
               out.content_length == body && out.head_len + body == b.len);
    FUZZ_CHECK(out.keep_alive == !close);
    sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct h1_header hdrs[MAX_HEADERS];
    struct h1_request req;
    struct h1_error e = {0, NULL};
    int rc = h1_parse_request(&req, hdrs, MAX_HEADERS, buf, size, MAX_HEAD, &e);
    if (rc == H1_DONE) {
        for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
            check_request(&req, peers[i]);
        }
    } else if (rc == H1_BAD) {
        FUZZ_CHECK(e.why != NULL);
        check_error(&e, (int)(size & 1));
    }
    check_response(buf, size, (int)(size & 1), (int)((size >> 1) & 1));
    return 0;
}
