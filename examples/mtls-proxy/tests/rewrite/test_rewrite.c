/*
 * test_rewrite.c - what mtls-proxy changes in heads (rewrite.c) and how placeholders render
 * (subst.c): spoofed identity headers dropped under every alias, hop-by-hop headers
 * removed, X-Forwarded-* as Caddy 2.6 sets them, header operations, control bytes escaped,
 * Host/SNI check, routing, response heads, error answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rewrite.h"

static struct h1_header hdrs[PROXY_MAX_HEADERS];

static void parse(struct h1_request *r, const char *text)
{
    struct h1_error e = {0, NULL};
    assert_int_equal(h1_parse_request(r, hdrs, PROXY_MAX_HEADERS, text, strlen(text), 65536, &e),
                     H1_DONE);
}

/* A handler with the given "set" ops ("Name=value" strings), deletes and one upstream. */
static struct handler *handler_new(const char *const *set, size_t num_set, const char *del)
{
    struct handler *h = calloc(1, sizeof(*h));
    h->set = calloc(num_set + 1, sizeof(struct hdr_op));
    for (size_t i = 0; i < num_set; i++) {
        const char *eq = strchr(set[i], '=');
        char e[200] = "";
        h->set[i].name = strndup(set[i], (size_t)(eq - set[i]));
        assert_int_equal(tmpl_compile(&h->set[i].value, eq + 1, e, sizeof(e)), 0);
    }
    h->num_set = num_set;
    if (del != NULL) {
        h->del = calloc(1, sizeof(char *));
        h->del[0] = strdup(del);
        h->num_del = 1;
    }
    h->upstreams = calloc(1, sizeof(struct upstream));
    h->upstreams[0].dial = strdup("127.0.0.1:9000");
    h->num_upstreams = 1;
    return h;
}

static void handler_free(struct handler *h)
{
    for (size_t i = 0; i < h->num_set; i++) {
        free(h->set[i].name);
        tmpl_free(h->set[i].value);
    }
    free(h->set);
    if (h->del) {
        free(h->del[0]);
    }
    free(h->del);
    free(h->upstreams[0].dial);
    free(h->upstreams);
    free(h);
}

static char *rewrite(const char *req, struct handler *h, char *const *strip, size_t num_strip)
{
    struct h1_request r;
    struct sbuf b = {0};
    struct req_ctx rc = {NULL, &r, "192.0.2.7", "40000", "127.0.0.1:9000"};
    parse(&r, req);
    rewrite_request_head(&b, &r, h, strip, num_strip, &rc);
    sbuf_addc(&b, '\0');
    assert_false(b.failed);
    return b.p;
}

static void test_spoofed_identity_headers_dropped_under_every_alias(void **state)
{
    const char *set[] = {"X-Client-Subject={http.request.tls.client.subject}"};
    struct handler *h = handler_new(set, 1, NULL);
    char *strip[] = {"x-client-subject", "x-forwarded-for", "x-forwarded-proto",
                     "x-forwarded-host"};
    char *out = rewrite("GET / HTTP/1.1\r\nHost: a\r\nX-Client-Subject: CN=admin\r\n"
                        "x_client_subject: CN=admin\r\nX.CLIENT.SUBJECT: CN=admin\r\n"
                        "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: http\r\n"
                        "X-Forwarded-Host: evil\r\nAccept: */*\r\n\r\n",
                        h, strip, 4);
    assert_null(strstr(out, "admin"));
    assert_null(strstr(out, "10.9.9.9"));
    assert_null(strstr(out, "evil"));
    assert_non_null(strstr(out, "X-Client-Subject: \r\n")); /* no peer: empty, as Caddy */
    assert_non_null(strstr(out, "X-Forwarded-For: 192.0.2.7\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-Proto: https\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-Host: a\r\n"));
    assert_non_null(strstr(out, "Accept: */*\r\n"));
    free(out);
    handler_free(h);
}

static void test_hop_by_hop_headers_removed(void **state)
{
    struct handler *h = handler_new(NULL, 0, NULL);
    char *out = rewrite("POST /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\n"
                        "Keep-Alive: timeout=5\r\nX-Secret: 1\r\nTE: trailers\r\n"
                        "Proxy-Authorization: Basic Zm9v\r\nTransfer-Encoding: chunked\r\n\r\n",
                        h, NULL, 0);
    assert_string_equal(out, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                             "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"
                             "X-Forwarded-Host: a\r\n\r\n");
    free(out);
    handler_free(h);
}

/* Connection may not name the framing away (found by fuzz_rewrite: request smuggling). */
static void test_connection_cannot_drop_content_length(void **state)
{
    struct handler *h = handler_new(NULL, 0, NULL);
    char *out = rewrite("POST /x HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host\r\n"
                        "Content-Length: 5\r\n\r\n",
                        h, NULL, 0);
    assert_non_null(strstr(out, "Content-Length: 5\r\n"));
    assert_non_null(strstr(out, "Host: a\r\n"));
    free(out);
    handler_free(h);
}

/* An absolute-form target's host gets the Host header's byte check (found by fuzz_rewrite). */
static void test_absolute_form_host_checked(void **state)
{
    struct h1_request r;
    parse(&r, "GET https://a.example:8443/p?q HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_int_equal(rewrite_normalize(&r), 0);
    assert_int_equal(r.host_len, strlen("a.example:8443"));
    assert_memory_equal(r.host, "a.example:8443", r.host_len);
    assert_memory_equal(r.target, "/p?q", r.target_len);
    parse(&r, "GET https://a\xc3\xa9.example/ HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_int_equal(rewrite_normalize(&r), -1);
    parse(&r, "GET http://a<b/ HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_int_equal(rewrite_normalize(&r), -1);
}

/* The first Upgrade header decides, as in Go, and is the one forwarded (found by
 * fuzz_rewrite: an empty first one made an upgrade to the proxy none to the upstream). */
static void test_first_upgrade_header_decides(void **state)
{
    struct handler *h = handler_new(NULL, 0, NULL);
    struct h1_request r;
    parse(&r, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade:\r\n"
              "Upgrade: websocket\r\n\r\n");
    assert_false(r.upgrade);
    char *out = rewrite("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                        "Upgrade: websocket\r\nUpgrade: h2c\r\n\r\n",
                        h, NULL, 0);
    assert_non_null(strstr(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n"));
    assert_null(strstr(out, "h2c"));
    free(out);
    handler_free(h);
}

static void test_header_ops_and_request_placeholders(void **state)
{
    const char *set[] = {"X-Who={http.request.remote.host}:{http.request.remote.port}",
                         "X-Path={http.request.uri.path}?{http.request.uri.query}",
                         "X-Ua={http.request.header.User-Agent}", "X-Host={http.request.host}",
                         "X-Forwarded-For=fixed"};
    struct handler *h = handler_new(set, 5, "X-Drop");
    char *out = rewrite("GET /a%20b?q=1 HTTP/1.1\r\nHost: Example.COM:8443\r\nX-Drop: 1\r\n"
                        "User-Agent: t/1\r\n\r\n",
                        h, NULL, 0);
    assert_non_null(strstr(out, "X-Who: 192.0.2.7:40000\r\n"));
    assert_non_null(strstr(out, "X-Path: /a b?q=1\r\n"));
    assert_non_null(strstr(out, "X-Ua: t/1\r\n"));
    assert_non_null(strstr(out, "X-Host: Example.COM\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-For: fixed\r\n"));
    assert_null(strstr(out, "192.0.2.7\r\n")); /* the op replaced the default */
    assert_null(strstr(out, "X-Drop"));
    free(out);
    handler_free(h);
}

static void test_control_bytes_escaped_in_values(void **state)
{
    struct sbuf b = {0};
    escape_value(&b, "CN=a\r\nX-Evil: 1\x7f\t\0z", 19);
    sbuf_addc(&b, '\0');
    assert_string_equal(b.p, "CN=a\\x0d\\x0aX-Evil: 1\\x7f\\x09\\x00z");
    sbuf_free(&b);
    const char *set[] = {"X-Path={http.request.uri.path}"};
    struct handler *h = handler_new(set, 1, NULL);
    char *out = rewrite("GET /%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: a\r\n\r\n", h, NULL, 0);
    assert_non_null(strstr(out, "X-Path: /\\x0d\\x0aX-Injected: 1\r\n"));
    free(out);
    handler_free(h);
}

static void test_templates_refuse_unknown_placeholders(void **state)
{
    struct tmpl *t = NULL;
    char e[200] = "";
    assert_int_equal(tmpl_compile(&t, "{http.request.tls.client.subjekt}", e, sizeof(e)), -1);
    assert_non_null(strstr(e, "subjekt"));
    e[0] = '\0';
    assert_int_equal(tmpl_compile(&t, "{http.vars.x}", e, sizeof(e)), -1);
    assert_non_null(strstr(e, "not supported"));
    assert_int_equal(tmpl_compile(&t, "a\nb", e, sizeof(e)), -1);
    assert_int_equal(tmpl_compile(&t, "{http.request.tls.client.san.dns_names.0} {x", e,
                                  sizeof(e)), 0);
    assert_int_equal(tmpl_is_identity(t), 1);
    tmpl_free(t);
}

static void test_sni_host_check(void **state)
{
    assert_int_equal(rewrite_sni_mismatch("localhost", "localhost", 9), 0);
    assert_int_equal(rewrite_sni_mismatch("LocalHost", "localhost", 9), 0);
    assert_int_equal(rewrite_sni_mismatch("localhost", "other", 5), 1);
    assert_int_equal(rewrite_sni_mismatch(NULL, "localhost", 9), 1);
    assert_int_equal(rewrite_sni_mismatch("", "", 0), 0);
    struct h1_request r;
    const char *host;
    size_t n;
    parse(&r, "GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    rewrite_hostname(&r, &host, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(host, "::1", 3);
    parse(&r, "GET / HTTP/1.1\r\nHost: a.example:1\r\n\r\n");
    rewrite_hostname(&r, &host, &n);
    assert_int_equal(n, 9);
}

static void test_routes_by_host(void **state)
{
    char *h1[] = {"a.example", "*.wild.example"};
    struct route routes[2] = {{h1, 2, NULL}, {NULL, 0, NULL}};
    struct srv s = {0};
    s.routes = routes;
    s.num_routes = 1;
    assert_ptr_equal(rewrite_route(&s, "A.EXAMPLE", 9), &routes[0]);
    assert_ptr_equal(rewrite_route(&s, "x.wild.example", 14), &routes[0]);
    assert_null(rewrite_route(&s, "x.y.wild.example", 16));
    assert_null(rewrite_route(&s, "wild.example", 12));
    s.num_routes = 2;
    assert_ptr_equal(rewrite_route(&s, "other", 5), &routes[1]);
}

static void test_response_head(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: x\r\n"
                               "Content-Length: 2\r\nX-A: b\r\n\r\nok";
    struct h1_response r;
    struct h1_error e = {0, NULL};
    struct sbuf b = {0};
    assert_int_equal(h1_parse_response(&r, hdrs, PROXY_MAX_HEADERS, resp, sizeof(resp) - 1,
                                       65536, 0, &e), H1_DONE);
    rewrite_response_head(&b, &r, 1);
    sbuf_addc(&b, '\0');
    assert_string_equal(b.p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n"
                             "Connection: close\r\n\r\n");
    sbuf_free(&b);
    static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n\r\n";
    assert_int_equal(h1_parse_response(&r, hdrs, PROXY_MAX_HEADERS, up, sizeof(up) - 1, 65536,
                                       0, &e), H1_DONE);
    rewrite_response_head(&b, &r, 1);
    sbuf_addc(&b, '\0');
    assert_string_equal(b.p, "HTTP/1.1 101 Switching Protocols\r\n"
                             "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    sbuf_free(&b);
}

static void test_error_answers(void **state)
{
    struct sbuf b = {0};
    size_t n = rewrite_error(&b, 421, "Host differs from SNI", 1);
    sbuf_addc(&b, '\0');
    assert_non_null(strstr(b.p, "HTTP/1.1 421 Misdirected Request\r\n"));
    assert_non_null(strstr(b.p, "Connection: close\r\n"));
    assert_int_equal(n, strlen(strstr(b.p, "\r\n\r\n") + 4));
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spoofed_identity_headers_dropped_under_every_alias),
        cmocka_unit_test(test_hop_by_hop_headers_removed),
        cmocka_unit_test(test_connection_cannot_drop_content_length),
        cmocka_unit_test(test_absolute_form_host_checked),
        cmocka_unit_test(test_first_upgrade_header_decides),
        cmocka_unit_test(test_header_ops_and_request_placeholders),
        cmocka_unit_test(test_control_bytes_escaped_in_values),
        cmocka_unit_test(test_templates_refuse_unknown_placeholders),
        cmocka_unit_test(test_sni_host_check),
        cmocka_unit_test(test_routes_by_host),
        cmocka_unit_test(test_response_head),
        cmocka_unit_test(test_error_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
