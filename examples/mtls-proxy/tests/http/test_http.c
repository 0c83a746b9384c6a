/*
 * tests/http/test_http.c - http.c: strict HTTP/1.1 framing (RFC 9112, DESIGN.md §6).
 * Heads from real clients parse; every smuggling classic is refused with its exact status;
 * the chunked scanner gives the same answer fed whole, byte by byte, or split anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define MAX_HEAD 8192
#define MAX_HEADERS 64

static struct h1_header hdrs[MAX_HEADERS];

/* ---- helpers ---------------------------------------------------------------------------- */

/* Parses a request head; returns 200 for H1_DONE, 0 for H1_INCOMPLETE, else the status. */
static int req_parse(struct h1_request *out, const char *s, size_t len, size_t max_headers,
                     size_t max_head)
{
    struct h1_error e = {0, NULL};
    struct h1_request r;
    int rc = h1_parse_request(&r, hdrs, max_headers, s, len, max_head, &e);

    if (out != NULL) {
        *out = r;
    }
    if (rc == H1_DONE) {
        return 200;
    }
    if (rc == H1_INCOMPLETE) {
        return 0;
    }
    assert_int_equal(rc, H1_BAD);
    assert_non_null(e.why);
    return e.status;
}

/* The `why` of a refused request, to tell apart refusals that share a status. */
static const char *req_why(const char *s)
{
    struct h1_error e = {0, NULL};
    struct h1_request r;
    assert_int_equal(h1_parse_request(&r, hdrs, MAX_HEADERS, s, strlen(s), MAX_HEAD, &e), H1_BAD);
    return e.why;
}

static int req_status(const char *s)
{
    return req_parse(NULL, s, strlen(s), MAX_HEADERS, MAX_HEAD);
}

/* Parses a request that must be accepted. */
static struct h1_request req_ok(const char *s)
{
    struct h1_request r;
    assert_int_equal(req_parse(&r, s, strlen(s), MAX_HEADERS, MAX_HEAD), 200);
    return r;
}

static int res_parse(struct h1_response *out, const char *s, int head_request)
{
    struct h1_error e = {0, NULL};
    struct h1_response r;
    int rc = h1_parse_response(&r, hdrs, MAX_HEADERS, s, strlen(s), MAX_HEAD, head_request, &e);

    if (out != NULL) {
        *out = r;
    }
    if (rc == H1_DONE) {
        return 200;
    }
    if (rc == H1_INCOMPLETE) {
        return 0;
    }
    assert_int_equal(rc, H1_BAD);
    assert_non_null(e.why);
    return e.status;
}

static int res_status(const char *s)
{
    return res_parse(NULL, s, 0);
}

static struct h1_response res_ok(const char *s, int head_request)
{
    struct h1_response r;
    assert_int_equal(res_parse(&r, s, head_request), 200);
    return r;
}

static int str_is(const char *p, size_t n, const char *want)
{
    return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* One run of the body scanner: bytes consumed, done, or failed (with why). */
struct scan {
    long consumed;
    int done;
    int failed;
    const char *why;
};

/* Feeds `s` in pieces of `step` bytes (0: all at once), stopping at done or error. */
static struct scan scan_steps(enum h1_body_mode mode, uint64_t length, const char *s, size_t n,
                              size_t step)
{
    struct scan out = {0, 0, 0, NULL};
    struct h1_body b;
    size_t off = 0;

    h1_body_init(&b, mode, length);
    while (off < n && !b.done) {
        size_t piece = (step == 0 || n - off < step) ? n - off : step;
        struct h1_error e = {0, NULL};
        long r = h1_body_scan(&b, s + off, piece, &e);
        if (r < 0) {
            assert_int_equal(r, -1);
            assert_int_equal(e.status, 400);
            out.failed = 1;
            out.why = e.why;
            return out;
        }
        assert_true((size_t)r <= piece);
        out.consumed += r;
        off += (size_t)r;
        if ((size_t)r < piece && !b.done) {
            /* the only other short stop: at the start of the trailer section, once */
            assert_true(b.in_trailers);
            r = h1_body_scan(&b, s + off, piece - (size_t)r, &e);
            if (r < 0) {
                out.failed = 1;
                out.why = e.why;
                return out;
            }
            out.consumed += r;
            off += (size_t)r;
        }
        if (b.done) {
            break;
        }
    }
    out.done = b.done;
    return out;
}

/* Feeds `s` as two pieces split at `at`. */
static struct scan scan_split(enum h1_body_mode mode, uint64_t length, const char *s, size_t n,
                              size_t at)
{
    struct scan out = {0, 0, 0, NULL};
    struct h1_body b;
    struct h1_error e = {0, NULL};
    long r;

    h1_body_init(&b, mode, length);
    /* Two pieces; within a piece the scanner may stop once, where the trailers start. */
    size_t ends[2] = {at, n}, off = 0;
    for (int k = 0; k < 2 && !b.done; k++) {
        while (off < ends[k] && !b.done) {
            r = h1_body_scan(&b, s + off, ends[k] - off, &e);
            if (r < 0) {
                out.failed = 1;
                out.why = e.why;
                return out;
            }
            if (r == 0) {
                break;
            }
            off += (size_t)r;
            out.consumed += r;
        }
    }
    out.done = b.done;
    return out;
}

static void assert_same_scan(struct scan a, struct scan b)
{
    assert_int_equal(a.failed, b.failed);
    if (a.failed) {
        assert_string_equal(a.why, b.why);
        return;
    }
    assert_int_equal(a.consumed, b.consumed);
    assert_int_equal(a.done, b.done);
}

/*
 * Scans `s` as a chunked body whole, byte by byte, in 3-byte pieces and split at every
 * position, asserting the same answer each way. Returns the bytes consumed when done, -1 on
 * error, -2 when more bytes are needed.
 */
static long chunked_n(const char *s, size_t n)
{
    struct scan whole = scan_steps(H1_BODY_CHUNKED, 0, s, n, 0);
    size_t at;

    assert_same_scan(whole, scan_steps(H1_BODY_CHUNKED, 0, s, n, 1));
    assert_same_scan(whole, scan_steps(H1_BODY_CHUNKED, 0, s, n, 3));
    for (at = 0; at <= n; at++) {
        assert_same_scan(whole, scan_split(H1_BODY_CHUNKED, 0, s, n, at));
    }
    if (whole.failed) {
        return -1;
    }
    return whole.done ? whole.consumed : -2;
}

static long chunked(const char *s)
{
    return chunked_n(s, strlen(s));
}

/* A valid chunked body, consumed to its last byte. */
#define assert_chunked_whole(s) assert_int_equal(chunked(s), (long)strlen(s))

static const char *chunked_why(const char *s)
{
    struct scan r = scan_steps(H1_BODY_CHUNKED, 0, s, strlen(s), 0);
    assert_true(r.failed);
    return r.why;
}

/* ---- requests from real clients ------------------------------------------------------- */

static void request_curl_get(void **state)
{
    const char *s = "GET /api/v1/items?id=7&x=%20 HTTP/1.1\r\n"
                    "Host: example.com:8443\r\n"
                    "User-Agent: curl/8.5.0\r\n"
                    "Accept: */*\r\n"
                    "\r\n";
    struct h1_request r = req_ok(s);

    (void)state;
    assert_true(str_is(r.method, r.method_len, "GET"));
    assert_true(str_is(r.target, r.target_len, "/api/v1/items?id=7&x=%20"));
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.num_headers, 3);
    assert_ptr_equal(r.headers, hdrs);
    assert_true(str_is(r.headers[1].name, r.headers[1].name_len, "User-Agent"));
    assert_true(str_is(r.headers[1].value, r.headers[1].value_len, "curl/8.5.0"));
    assert_int_equal(r.head_len, strlen(s));
    assert_int_equal(r.body, H1_BODY_NONE);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.upgrade, 0);
    assert_int_equal(r.expect_continue, 0);
    assert_true(str_is(r.host, r.host_len, "example.com:8443"));
}

static void request_curl_post_expect_continue(void **state)
{
    struct h1_request r = req_ok("POST /upload HTTP/1.1\r\n"
                                 "Host: localhost:8443\r\n"
                                 "User-Agent: curl/8.5.0\r\n"
                                 "Accept: */*\r\n"
                                 "Content-Length: 2048\r\n"
                                 "Content-Type: application/x-www-form-urlencoded\r\n"
                                 "Expect: 100-continue\r\n"
                                 "\r\n");

    (void)state;
    assert_int_equal(r.body, H1_BODY_LENGTH);
    assert_int_equal(r.content_length, 2048);
    assert_int_equal(r.expect_continue, 1);
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue-x\r\n\r\n").expect_continue, 0);
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n").expect_continue, 1);
}

static void request_curl_chunked_upload(void **state)
{
    struct h1_request r = req_ok("PUT /f HTTP/1.1\r\n"
                                 "Host: h\r\n"
                                 "User-Agent: curl/8.5.0\r\n"
                                 "Transfer-Encoding: chunked\r\n"
                                 "\r\n");

    (void)state;
    assert_int_equal(r.body, H1_BODY_CHUNKED);
    assert_int_equal(r.content_length, 0);
}

static void request_firefox_get(void **state)
{
    struct h1_request r = req_ok(
        "GET /index.html HTTP/1.1\r\n"
        "Host: www.example.org\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        "Accept-Language: en-US,en;q=0.5\r\n"
        "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        "Connection: keep-alive\r\n"
        "Cookie: a=b; c=\"d e\"\r\n"
        "Upgrade-Insecure-Requests: 1\r\n"
        "Sec-Fetch-Dest: document\r\n"
        "Priority: u=0, i\r\n"
        "\r\n");

    (void)state;
    assert_int_equal(r.num_headers, 10);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.upgrade, 0); /* Upgrade-Insecure-Requests is not Upgrade */
}

static void request_websocket_upgrade(void **state)
{
    (void)state;
    assert_int_equal(req_ok("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
                         .upgrade,
                     1);
    /* Firefox lists keep-alive first. */
    assert_int_equal(req_ok("GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                            "Upgrade: websocket\r\n\r\n")
                         .upgrade,
                     1);
    /* Both halves are needed. */
    assert_int_equal(req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n").upgrade, 0);
    assert_int_equal(req_ok("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n").upgrade, 0);
    assert_int_equal(
        req_ok("GET / HTTP/1.1\r\nHost: h\r\nUpgrade:\r\nConnection: upgrade\r\n\r\n").upgrade, 0);
    /* RFC 9110 §7.8: ignored in HTTP/1.0. */
    assert_int_equal(
        req_ok("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n").upgrade, 0);
}

static void request_http10_keep_alive(void **state)
{
    struct h1_request r = req_ok("GET / HTTP/1.0\r\n\r\n");

    (void)state;
    assert_int_equal(r.minor, 0);
    assert_int_equal(r.keep_alive, 0);
    assert_null(r.host); /* Host is optional in 1.0 */
    assert_int_equal(req_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive, 1);
    assert_int_equal(
        req_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").keep_alive,
        0);
    assert_int_equal(req_ok("GET / HTTP/1.0\r\nHost: a\r\n\r\n").host_len, 1);
}

static void request_connection_close_list(void **state)
{
    (void)state;
    assert_int_equal(req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive,
                     0);
    assert_int_equal(
        req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: x-foo ,\t CLOSE ,\r\n\r\n").keep_alive, 0);
    assert_int_equal(
        req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nconnection: Close\r\n\r\n")
            .keep_alive,
        0);
    /* "closed" and "close-ish" are not "close". */
    assert_int_equal(
        req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed, close-ish\r\n\r\n").keep_alive, 1);
    assert_int_equal(req_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: ,,,\r\n\r\n").keep_alive, 1);
}

static void request_value_trimmed_and_obs_text_kept(void **state)
{
    struct h1_request r = req_ok("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a \tb\t \r\n"
                                 "X-Empty:\r\nX-Utf8: caf\xc3\xa9\r\n\r\n");

    (void)state;
    assert_int_equal(r.num_headers, 4);
    assert_true(str_is(r.headers[1].value, r.headers[1].value_len, "a \tb"));
    assert_true(str_is(r.headers[2].name, r.headers[2].name_len, "X-Empty"));
    assert_int_equal(r.headers[2].value_len, 0);
    assert_true(str_is(r.headers[3].value, r.headers[3].value_len, "caf\xc3\xa9"));
}

static void request_head_len_stops_at_body(void **state)
{
    const char *head = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
    char buf[256];
    struct h1_request r;

    (void)state;
    snprintf(buf, sizeof buf, "%shelloGET / HTTP/1.1\r\n", head);
    assert_int_equal(req_parse(&r, buf, strlen(buf), MAX_HEADERS, MAX_HEAD), 200);
    assert_int_equal(r.head_len, strlen(head));
    assert_int_equal(r.content_length, 5);
}

static void request_every_prefix_is_incomplete(void **state)
{
    const char *s = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Y: z\r\n\r\n";
    size_t n = strlen(s), i;

    (void)state;
    for (i = 0; i < n; i++) {
        assert_int_equal(req_parse(NULL, s, i, MAX_HEADERS, MAX_HEAD), 0);
    }
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, MAX_HEAD), 200);
    assert_int_equal(req_parse(NULL, NULL, 0, MAX_HEADERS, MAX_HEAD), 0);
}

static void request_leading_empty_lines_skipped(void **state)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    struct h1_request r = req_ok(s);

    (void)state;
    assert_ptr_equal(r.method, s + 4);
    assert_int_equal(r.head_len, strlen(s));
    assert_int_equal(req_status("\r\n"), 0);
    assert_int_equal(req_status("\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

static void request_methods_any_token(void **state)
{
    (void)state;
    assert_true(str_is(req_ok("PROPFIND /d HTTP/1.1\r\nHost: h\r\n\r\n").method, 8, "PROPFIND"));
    assert_int_equal(req_status("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n"), 200);
    assert_int_equal(req_status("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 200);
    assert_int_equal(
        req_status("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 200);
    assert_int_equal(req_status("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
}

static void request_duplicate_identical_content_length_accepted(void **state)
{
    struct h1_request r =
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length:  5 \r\n\r\n");

    (void)state;
    assert_int_equal(r.body, H1_BODY_LENGTH);
    assert_int_equal(r.content_length, 5);
}

static void request_content_length_bounds(void **state)
{
    (void)state;
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n")
            .content_length,
        INT64_MAX);
    /* Content-Length: 0 is no body, for requests and responses alike. */
    assert_int_equal(req_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0).body, H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0).keep_alive, 1);
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n").content_length, 7);
}

static void request_transfer_encoding_forms_accepted(void **state)
{
    (void)state;
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n").body,
        H1_BODY_CHUNKED);
    assert_int_equal(
        req_ok("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: CHUNKED \r\n\r\n").body,
        H1_BODY_CHUNKED);
}

static void request_host_forms(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"), 200);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n"), 200);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 200); /* RFC 9112 §3.2 */
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"), 400);
}

static void request_limits(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    size_t n = strlen(s);
    char big[600];

    (void)state;
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, n), 200);
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, n - 1), 431);
    assert_int_equal(req_parse(NULL, s, n - 1, MAX_HEADERS, n - 1), 431);
    assert_int_equal(req_parse(NULL, s, n - 2, MAX_HEADERS, n - 1), 0);
    assert_int_equal(req_parse(NULL, s, n, 3, MAX_HEAD), 200);
    assert_int_equal(req_parse(NULL, s, n, 2, MAX_HEAD), 431);
    assert_int_equal(req_parse(NULL, s, n, 0, MAX_HEAD), 431);
    /* The request line alone does not fit: 414. */
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, 10), 414);
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, 15), 414);
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, 16), 431); /* CRLF of line 1 fits */
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    assert_int_equal(req_parse(NULL, big, sizeof big, MAX_HEADERS, 512), 414);
    assert_int_equal(req_parse(NULL, big, 511, MAX_HEADERS, 512), 0);
    /* A valid head followed by more bytes than the limit is still fine. */
    assert_int_equal(req_parse(NULL, s, n, MAX_HEADERS, n), 200);
}

/* ---- requests refused ------------------------------------------------------------------ */

static void refuses_cl_te(void **state)
{
    (void)state;
    /* CL.TE and TE.CL: the order does not matter, both are refused. */
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED"),
                     400);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
                     400);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    /* CL.TE with a TE that is not chunked either: still 400, framing conflict first. */
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                                "Transfer-Encoding: gzip\r\n\r\n"),
                     400);
}

static void refuses_transfer_encoding_other_than_chunked(void **state)
{
    (void)state;
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
        501);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"), 501);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n"), 501);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunke\r\n\r\n"),
                     501);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 501);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n"), 501);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                     501);
    assert_int_equal(req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                "Transfer-Encoding: identity\r\n\r\n"),
                     501);
}

static void refuses_transfer_encoding_in_http10(void **state)
{
    (void)state;
    assert_int_equal(req_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    assert_int_equal(req_status("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
}

static void refuses_whitespace_before_colon(void **state)
{
    (void)state;
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n"), 400);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n"), 400);
    assert_string_equal(
        req_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"),
        "Content-Length with Transfer-Encoding");
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
}

static void refuses_obs_fold(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"), 400);
    /* Whitespace between the request line and the first header (RFC 9112 §2.2). */
    assert_int_equal(req_status("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"), 400);
    assert_string_equal(req_why("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"),
                        "obs-fold or whitespace at line start");
    assert_string_equal(req_why("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
                        "whitespace before header colon");
}

static void refuses_bare_lf(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.1\nHost: h\n\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
    assert_int_equal(
        req_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    /* Refused as soon as it arrives, before the head is complete. */
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\nX"), 400);
    assert_int_equal(req_status("\n"), 400);
}

static void refuses_bare_cr(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\rX: a\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

static void refuses_bad_content_length(void **state)
{
    static const char *const bad[] = {
        "+5",
        "-1",
        "0x5",
        "5, 5",
        "5,5",
        "5 5",
        "5a",
        "five",
        "",
        "1e3",
        "5.0",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "99999999999999999999999999",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
                 bad[i]);
        assert_int_equal(req_status(buf), 400);
    }
}

static void refuses_differing_content_length(void **state)
{
    (void)state;
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        400);
    /* The second value a prefix of the first, and the other way round. */
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nContent-Length: 1\r\n\r\n"),
        400);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 12\r\n\r\n"),
        400);
    assert_string_equal(
        req_why("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        "differing Content-Length values");
    /* Same number, different bytes: refused too. */
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n"),
        400);
    assert_int_equal(
        req_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n"
                   "Content-Length: 0\r\n\r\n"),
        400);
}

static void refuses_control_bytes_in_values(void **state)
{
    unsigned c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\nX: aZb\r\n\r\n");
        int bad = (c < 0x20 && c != '\t') || c == 0x7f;
        buf[29] = (char)c; /* replaces the 'Z' */
        assert_int_equal(buf[28], 'a');
        assert_int_equal(req_parse(NULL, buf, n, MAX_HEADERS, MAX_HEAD), bad ? 400 : 200);
    }
}

static int is_tchar_ref(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && c < 128 && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL);
}

static void refuses_non_token_header_names(void **state)
{
    unsigned c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\nXZY: v\r\n\r\n");
        int want = is_tchar_ref(c) ? 200 : 400;
        buf[26] = (char)c;
        if (c == ':') {
            want = 200; /* "X: Y: v": name X, value "Y: v" */
        }
        assert_int_equal(req_parse(NULL, buf, n, MAX_HEADERS, MAX_HEAD), want);
    }
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: h\r\nX\"Y: v\r\n\r\n"), 400);
}

static void refuses_non_token_methods(void **state)
{
    unsigned c;

    (void)state;
    for (c = 0; c < 256; c++) {
        char buf[64];
        size_t n = (size_t)snprintf(buf, sizeof buf, "GZT / HTTP/1.1\r\nHost: h\r\n\r\n");
        int want = is_tchar_ref(c) ? 200 : 400;
        buf[1] = (char)c;
        assert_int_equal(req_parse(NULL, buf, n, MAX_HEADERS, MAX_HEAD), want);
    }
    assert_int_equal(req_status(" / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

static void refuses_missing_or_repeated_host(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    assert_string_equal(req_why("GET / HTTP/1.1\r\n\r\n"), "missing Host");
    assert_string_equal(req_why("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
                        "more than one Host");
    assert_int_equal(req_status("GET / HTTP/1.1\r\nHost: a\r\nhOsT: b\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

static void refuses_bad_versions(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(req_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(req_status("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(req_status("GET / HTTP/3.0\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(req_status("GET / http/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/11.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1.x\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/1,1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/x.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET / HTTP/2\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /\r\n\r\n"), 400); /* HTTP/0.9 simple request */
    assert_int_equal(req_status("GET\r\n\r\n"), 400);
    assert_int_equal(req_status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
}

static void refuses_bad_request_target(void **state)
{
    (void)state;
    assert_int_equal(req_status("GET  HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /\t HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_int_equal(req_status("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    {
        static const char nul[] = "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_int_equal(req_parse(NULL, nul, sizeof nul - 1, MAX_HEADERS, MAX_HEAD), 400);
    }
}

/* ---- responses ------------------------------------------------------------------------- */

static void response_content_length(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n";
    struct h1_response r = res_ok(s, 0);

    (void)state;
    assert_int_equal(r.status, 200);
    assert_int_equal(r.minor, 1);
    assert_true(str_is(r.reason, r.reason_len, "OK"));
    assert_int_equal(r.num_headers, 2);
    assert_int_equal(r.head_len, strlen(s));
    assert_int_equal(r.body, H1_BODY_LENGTH);
    assert_int_equal(r.content_length, 12);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.upgrade, 0);
}

static void response_chunked_and_close_delimited(void **state)
{
    struct h1_response r = res_ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0);

    (void)state;
    assert_int_equal(r.body, H1_BODY_CHUNKED);
    assert_int_equal(r.keep_alive, 1);
    r = res_ok("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 0);
    assert_int_equal(r.body, H1_BODY_CLOSE);
    assert_int_equal(r.keep_alive, 0);
    r = res_ok("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0);
    assert_int_equal(r.minor, 0);
    assert_int_equal(r.keep_alive, 0);
    r = res_ok("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", 0);
    assert_int_equal(r.keep_alive, 1);
    r = res_ok("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", 0);
    assert_int_equal(r.keep_alive, 0);
}

static void response_no_body_statuses(void **state)
{
    (void)state;
    assert_int_equal(res_ok("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0).body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", 0).body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 100 Continue\r\n\r\n", 0).body, H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", 0).body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 1).body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1).body,
                     H1_BODY_NONE);
    assert_int_equal(res_ok("HTTP/1.1 200 OK\r\n\r\n", 1).keep_alive, 1);
}

static void response_switching_protocols(void **state)
{
    struct h1_response r = res_ok("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n\r\n",
                                  0);

    (void)state;
    assert_int_equal(r.upgrade, 1);
    assert_int_equal(r.body, H1_BODY_NONE);
}

static void response_reason_forms(void **state)
{
    struct h1_response r = res_ok("HTTP/1.1 404 \r\n\r\n", 0);

    (void)state;
    assert_int_equal(r.status, 404);
    assert_int_equal(r.reason_len, 0);
    r = res_ok("HTTP/1.1 599\r\n\r\n", 0);
    assert_int_equal(r.status, 599);
    assert_int_equal(r.reason_len, 0);
    r = res_ok("HTTP/1.1 500 Internal\tServer  Error \r\n\r\n", 0);
    assert_true(str_is(r.reason, r.reason_len, "Internal\tServer  Error "));
}

static void response_refusals_are_502(void **state)
{
    (void)state;
    assert_int_equal(res_status("HTTP/1.1 099 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 600 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 20 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 2000 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 abc X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 2x0 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 20x X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1  200 X\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/2.0 200 OK\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.2 200 OK\r\n\r\n"), 502);
    assert_int_equal(res_status("http/1.1 200 OK\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200 O\x01K\r\n\r\n"), 502);
    assert_int_equal(res_status("\r\nHTTP/1.1 200 OK\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n"), 502);
    assert_int_equal(
        res_status("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        502);
    assert_int_equal(res_status("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
    assert_int_equal(
        res_status("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), 502);
    assert_int_equal(res_status("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"), 502);
    {
        static const char nul[] = "HTTP/1.1 200 OK\r\nX: \0\r\n\r\n";
        struct h1_response r;
        struct h1_error e = {0, NULL};
        assert_int_equal(
            h1_parse_response(&r, hdrs, MAX_HEADERS, nul, sizeof nul - 1, MAX_HEAD, 0, &e), H1_BAD);
        assert_int_equal(e.status, 502);
    }
}

static void response_incomplete_and_too_large(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    size_t n = strlen(s), i;
    struct h1_response r;
    struct h1_error e = {0, NULL};

    (void)state;
    for (i = 0; i < n; i++) {
        assert_int_equal(h1_parse_response(&r, hdrs, MAX_HEADERS, s, i, MAX_HEAD, 0, &e),
                         H1_INCOMPLETE);
    }
    assert_int_equal(h1_parse_response(&r, hdrs, MAX_HEADERS, s, n, n - 1, 0, &e), H1_BAD);
    assert_int_equal(e.status, 502);
    assert_int_equal(h1_parse_response(&r, hdrs, MAX_HEADERS, s, n, 5, 0, &e), H1_BAD);
    assert_int_equal(e.status, 502);
    assert_int_equal(h1_parse_response(&r, hdrs, 0, s, n, MAX_HEAD, 0, &e), H1_BAD);
    assert_int_equal(e.status, 502);
    assert_int_equal(h1_parse_response(&r, hdrs, 1, s, n, MAX_HEAD, 0, &e), H1_DONE);
}

/* ---- header names ---------------------------------------------------------------------- */

static void header_is_ignores_case_only(void **state)
{
    struct h1_header h = {"Content-Length", 14, "5", 1};

    (void)state;
    assert_true(h1_header_is(&h, "content-length"));
    assert_true(h1_header_is(&h, "CONTENT-LENGTH"));
    assert_false(h1_header_is(&h, "content-lengt"));
    assert_false(h1_header_is(&h, "content-lengths"));
    assert_false(h1_header_is(&h, "content_length"));
    assert_false(h1_header_is(&h, ""));
    assert_false(h1_header_is(NULL, "x"));
    assert_false(h1_header_is(&h, NULL));
    h.name_len = 0;
    assert_true(h1_header_is(&h, ""));
}

/* ---- bodies ---------------------------------------------------------------------------- */

static void body_length_counts_down(void **state)
{
    struct h1_body b;
    struct h1_error e = {0, NULL};

    (void)state;
    h1_body_init(&b, H1_BODY_LENGTH, 5);
    assert_false(b.done);
    assert_int_equal(h1_body_scan(&b, "hel", 3, &e), 3);
    assert_false(b.done);
    assert_int_equal(h1_body_scan(&b, "loGET /", 7, &e), 2);
    assert_true(b.done);
    assert_int_equal(h1_body_scan(&b, "GET /", 5, &e), 0);
    h1_body_init(&b, H1_BODY_LENGTH, 0);
    assert_true(b.done);
    h1_body_init(&b, H1_BODY_LENGTH, UINT64_MAX);
    assert_int_equal(h1_body_scan(&b, "abc", 3, &e), 3);
    assert_int_equal(b.remaining, UINT64_MAX - 3);
    assert_same_scan(scan_steps(H1_BODY_LENGTH, 7, "0123456789", 10, 0),
                     scan_steps(H1_BODY_LENGTH, 7, "0123456789", 10, 1));
}

static void body_none_and_close(void **state)
{
    struct h1_body b;
    struct h1_error e = {0, NULL};

    (void)state;
    h1_body_init(&b, H1_BODY_NONE, 99);
    assert_true(b.done);
    assert_int_equal(h1_body_scan(&b, "abc", 3, &e), 0);
    h1_body_init(&b, H1_BODY_CLOSE, 0);
    assert_int_equal(h1_body_scan(&b, "abc", 3, &e), 3);
    assert_int_equal(h1_body_scan(&b, "0\r\n\r\n", 5, &e), 5);
    assert_false(b.done);
    h1_body_init(&b, (enum h1_body_mode)42, 0);
    assert_int_equal(h1_body_scan(&b, "abc", 3, &e), -1);
}

static void chunked_valid_bodies(void **state)
{
    (void)state;
    assert_chunked_whole("0\r\n\r\n");
    assert_chunked_whole("5\r\nhello\r\n0\r\n\r\n");
    assert_int_equal(chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), 26);
    assert_chunked_whole("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    assert_chunked_whole("0000000000000005\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("00\r\n\r\n");
    /* Data may hold anything, CR and LF included. */
    assert_chunked_whole("4\r\n\r\n\n\r\r\n0\r\n\r\n");
}

static void chunked_extensions(void **state)
{
    (void)state;
    assert_chunked_whole("5;a\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5;a=b\r\nhello\r\n0;last\r\n\r\n");
    assert_chunked_whole("5;a=b;c;d=\"e f\"\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5 ; a = b ; c\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5\t;\ta\t=\t\"x\\\"y\\\\\"\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5;a=\"caf\xc3\xa9\"\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5;a=\"\"\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5;a ;b\r\nhello\r\n0\r\n\r\n");
    assert_chunked_whole("5;a=\"\t\\\t\"\r\nhello\r\n0\r\n\r\n");
}

static void chunked_trailers(void **state)
{
    (void)state;
    assert_chunked_whole("0\r\nX-Checksum: abc\r\n\r\n");
    assert_int_equal(chunked("0\r\nA: 1\r\nB:\r\nC:\t x \r\n\r\nNEXT"), 23);
    assert_chunked_whole("0\r\nX-Utf8: caf\xc3\xa9\r\n\r\n");
}

static void chunked_incomplete(void **state)
{
    (void)state;
    assert_int_equal(chunked(""), -2);
    assert_int_equal(chunked("5"), -2);
    assert_int_equal(chunked("5\r\nhel"), -2);
    assert_int_equal(chunked("5\r\nhello\r\n0\r\n"), -2);
    assert_int_equal(chunked("5\r\nhello\r\n0\r\nX: y\r\n"), -2);
    assert_int_equal(chunked("5;a=\"unterminated"), -2);
}

static void chunked_refuses_bad_sizes(void **state)
{
    (void)state;
    assert_int_equal(chunked("5 junk\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5junk\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5 \r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("ffffffffffffffffff\r\n"), -1);
    assert_int_equal(chunked("00000000000000005\r\nhello\r\n0\r\n\r\n"), -1); /* 17 digits */
    assert_int_equal(chunked("\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("x\r\n"), -1);
    assert_int_equal(chunked("-5\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("+5\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("0x5\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked(" 5\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5\n\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5\nhello\n0\n\n"), -1);
    assert_int_equal(chunked("5\r\rhello\r\n0\r\n\r\n"), -1);
    assert_string_equal(chunked_why("ffffffffffffffffff\r\n"), "chunk size overflows");
    assert_string_equal(chunked_why("00000000000000005\r\n"), "chunk size too long");
    /* sizes above INT64_MAX: an upstream reading them as signed would see them negative */
    assert_string_equal(chunked_why("8000000000000000\r\n"), "chunk size overflows");
    assert_string_equal(chunked_why("ffffffffffffffff\r\n"), "chunk size overflows");
    assert_string_equal(chunked_why("5 junk\r\n"), "junk after chunk size");
}

static void chunked_accepts_sixteen_digit_size(void **state)
{
    struct h1_body b;
    struct h1_error e = {0, NULL};

    (void)state;
    h1_body_init(&b, H1_BODY_CHUNKED, 0);
    assert_int_equal(h1_body_scan(&b, "7fffffffffffffff\r\nabc", 21, &e), 21);
    assert_int_equal(b.remaining, (uint64_t)INT64_MAX - 3);
    assert_false(b.done);
}

/* A scan stops where the trailer section starts, so the proxy can drop the trailers. */
static void chunked_stops_at_trailers(void **state)
{
    static const char body[] = "3\r\nabc\r\n0\r\nX-Client-Subject: CN=admin\r\n\r\nGET";
    struct h1_body b;
    struct h1_error e = {0, NULL};

    (void)state;
    h1_body_init(&b, H1_BODY_CHUNKED, 0);
    assert_int_equal(h1_body_scan(&b, body, sizeof(body) - 1, &e), 11); /* through "0\r\n" */
    assert_true(b.in_trailers);
    assert_false(b.done);
    assert_int_equal(h1_body_scan(&b, body + 11, sizeof(body) - 12, &e),
                     sizeof(body) - 1 - 11 - 3);
    assert_true(b.done);
}

static void chunked_refuses_bad_extensions(void **state)
{
    (void)state;
    assert_int_equal(chunked("5;\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5; \r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;=x\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a \r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=b \r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=b c\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\"b\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a@b\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=b@\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a\x01\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;;a\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a=\"\\\x7f\"\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a ,b\r\nhello\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5;a= \"b\" x\r\nhello\r\n0\r\n\r\n"), -1);
}

static void chunked_refuses_missing_crlf_after_data(void **state)
{
    (void)state;
    assert_int_equal(chunked("5\r\nhelloX\r\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5\r\nhello\n0\r\n\r\n"), -1);
    assert_int_equal(chunked("5\r\nhello0\r\n\r\n"), -1);
    assert_int_equal(chunked("5\r\nhello\r0\r\n\r\n"), -1);
    /* Too much data for the announced size: the extra byte is no CRLF. */
    assert_int_equal(chunked("3\r\nhello\r\n0\r\n\r\n"), -1);
    assert_string_equal(chunked_why("5\r\nhelloX"), "missing CRLF after chunk data");
}

static void chunked_refuses_bad_trailers(void **state)
{
    (void)state;
    assert_int_equal(chunked("0\r\nX : y\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\n y\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\nA: b\r\n\tc\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\n: y\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\nNoColon\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\nX: a\x01\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\nX: a\rb\r\n\r\n"), -1);
    assert_int_equal(chunked("0\r\nX: y\n\r\n"), -1);
    assert_int_equal(chunked("0\r\n\n"), -1);
    assert_int_equal(chunked("0\r\n\r\r"), -1);
    assert_int_equal(chunked("0\r\nX\"Y: v\r\n\r\n"), -1);
}

static void chunked_limits(void **state)
{
    static char buf[H1_MAX_TRAILER + 64];
    size_t n;

    (void)state;
    /* A size line of exactly the limit passes; one byte more fails. */
    n = 0;
    buf[n++] = '1';
    buf[n++] = ';';
    while (n < H1_MAX_CHUNK_LINE - 2) {
        buf[n++] = 'a';
    }
    memcpy(buf + n, "\r\nx\r\n0\r\n\r\n", 10);
    assert_int_equal(chunked_n(buf, n + 10), (long)n + 10);
    memmove(buf + 1, buf, n + 10);
    buf[0] = '0';
    assert_int_equal(chunked_n(buf, n + 11), -1);
    /* The whole trailer section (after "0\r\n", final CRLF included) is bounded. */
    memcpy(buf, "0\r\nX: ", 6);
    n = 6;
    while (n < 3 + H1_MAX_TRAILER - 4) {
        buf[n++] = 'v';
    }
    memcpy(buf + n, "\r\n\r\n", 4);
    assert_int_equal(scan_steps(H1_BODY_CHUNKED, 0, buf, n + 4, 0).consumed, (long)n + 4);
    assert_true(scan_steps(H1_BODY_CHUNKED, 0, buf, n + 4, 0).done);
    memmove(buf + 4, buf + 3, n + 1);
    buf[3] = 'Y';
    assert_true(scan_steps(H1_BODY_CHUNKED, 0, buf, n + 5, 0).failed);
    assert_same_scan(scan_steps(H1_BODY_CHUNKED, 0, buf, n + 5, 0),
                     scan_steps(H1_BODY_CHUNKED, 0, buf, n + 5, 1));
}

static void chunked_error_is_sticky(void **state)
{
    struct h1_body b;
    struct h1_error e = {0, NULL};

    (void)state;
    h1_body_init(&b, H1_BODY_CHUNKED, 0);
    assert_int_equal(h1_body_scan(&b, "z", 1, &e), -1);
    e.status = 0;
    assert_int_equal(h1_body_scan(&b, "0\r\n\r\n", 5, &e), -1);
    assert_int_equal(e.status, 400);
}

/* A request with its chunked body, as the proxy sees it: head, then the scanner. */
static void chunked_request_end_to_end(void **state)
{
    const char *s = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n"
                    "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    struct h1_request r;
    size_t body_len;

    (void)state;
    assert_int_equal(req_parse(&r, s, strlen(s), MAX_HEADERS, MAX_HEAD), 200);
    assert_int_equal(r.body, H1_BODY_CHUNKED);
    body_len = (size_t)chunked(s + r.head_len);
    assert_string_equal(s + r.head_len + body_len, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_curl_get),
        cmocka_unit_test(request_curl_post_expect_continue),
        cmocka_unit_test(request_curl_chunked_upload),
        cmocka_unit_test(request_firefox_get),
        cmocka_unit_test(request_websocket_upgrade),
        cmocka_unit_test(request_http10_keep_alive),
        cmocka_unit_test(request_connection_close_list),
        cmocka_unit_test(request_value_trimmed_and_obs_text_kept),
        cmocka_unit_test(request_head_len_stops_at_body),
        cmocka_unit_test(request_every_prefix_is_incomplete),
        cmocka_unit_test(request_leading_empty_lines_skipped),
        cmocka_unit_test(request_methods_any_token),
        cmocka_unit_test(request_duplicate_identical_content_length_accepted),
        cmocka_unit_test(request_content_length_bounds),
        cmocka_unit_test(request_transfer_encoding_forms_accepted),
        cmocka_unit_test(request_host_forms),
        cmocka_unit_test(request_limits),
        cmocka_unit_test(refuses_cl_te),
        cmocka_unit_test(refuses_transfer_encoding_other_than_chunked),
        cmocka_unit_test(refuses_transfer_encoding_in_http10),
        cmocka_unit_test(refuses_whitespace_before_colon),
        cmocka_unit_test(refuses_obs_fold),
        cmocka_unit_test(refuses_bare_lf),
        cmocka_unit_test(refuses_bare_cr),
        cmocka_unit_test(refuses_bad_content_length),
        cmocka_unit_test(refuses_differing_content_length),
        cmocka_unit_test(refuses_control_bytes_in_values),
        cmocka_unit_test(refuses_non_token_header_names),
        cmocka_unit_test(refuses_non_token_methods),
        cmocka_unit_test(refuses_missing_or_repeated_host),
        cmocka_unit_test(refuses_bad_versions),
        cmocka_unit_test(refuses_bad_request_target),
        cmocka_unit_test(response_content_length),
        cmocka_unit_test(response_chunked_and_close_delimited),
        cmocka_unit_test(response_no_body_statuses),
        cmocka_unit_test(response_switching_protocols),
        cmocka_unit_test(response_reason_forms),
        cmocka_unit_test(response_refusals_are_502),
        cmocka_unit_test(response_incomplete_and_too_large),
        cmocka_unit_test(header_is_ignores_case_only),
        cmocka_unit_test(body_length_counts_down),
        cmocka_unit_test(body_none_and_close),
        cmocka_unit_test(chunked_valid_bodies),
        cmocka_unit_test(chunked_extensions),
        cmocka_unit_test(chunked_trailers),
        cmocka_unit_test(chunked_incomplete),
        cmocka_unit_test(chunked_refuses_bad_sizes),
        cmocka_unit_test(chunked_accepts_sixteen_digit_size),
        cmocka_unit_test(chunked_stops_at_trailers),
        cmocka_unit_test(chunked_refuses_bad_extensions),
        cmocka_unit_test(chunked_refuses_missing_crlf_after_data),
        cmocka_unit_test(chunked_refuses_bad_trailers),
        cmocka_unit_test(chunked_limits),
        cmocka_unit_test(chunked_error_is_sticky),
        cmocka_unit_test(chunked_request_end_to_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
