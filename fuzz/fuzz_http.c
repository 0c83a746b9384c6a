/*
 * fuzz/fuzz_http.c - mtls-proxy's HTTP/1.1 framing (examples/mtls-proxy/http.c).
 *
 * The input is parsed as a request head with small limits; when it is complete, the bytes
 * after it go through the body scanner whole, byte by byte and in 7-byte pieces, and the
 * three answers must agree. The same input is also scanned as a chunked body from its
 * first byte (so the chunk grammar is reached without a valid head first) and parsed as a
 * response. Invariants, not just "no crash": pointers stay inside the head, heads end in
 * CRLF CRLF with no bare LF, statuses are from the documented set, and a complete head's
 * strict prefixes are H1_INCOMPLETE. Deterministic; no allocation, no global state.
 * Suggested -max_len: 4096 (the head limit here is 1024 bytes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

#define MAX_HEAD 1024
#define MAX_HEADERS 16

/* Always on, unlike assert(), whatever NDEBUG says (fuzz.h). */
#define CHECK(c) FUZZ_CHECK(c)

struct scan {
    long consumed;
    int done;
    int failed;
    const char *why;
};

/* Feeds `p` in pieces of `step` bytes (0: all at once) until done, an error or the end. */
static struct scan scan_steps(enum h1_body_mode mode, uint64_t length, const char *p, size_t n,
                              size_t step)
{
    struct scan out = {0, 0, 0, NULL};
    struct h1_body b;
    size_t off = 0;

    h1_body_init(&b, mode, length);
    while (off < n && !b.done) {
        size_t piece = (step == 0 || n - off < step) ? n - off : step;
        struct h1_error e = {0, NULL};
        int was_in_trailers = b.in_trailers;
        long r = h1_body_scan(&b, p + off, piece, &e);
        if (r < 0) {
            CHECK(r == -1 && e.status == 400 && e.why != NULL);
            out.failed = 1;
            out.why = e.why;
            return out;
        }
        CHECK((size_t)r <= piece);
        /* Only the body's end stops short, and (once) the start of the trailer section,
         * so that the caller can drop the trailers (b73280f). */
        CHECK((size_t)r == piece || b.done || (b.in_trailers && !was_in_trailers));
        out.consumed += r;
        off += (size_t)r;
    }
    out.done = b.done;
    return out;
}

static void check_same(struct scan a, struct scan b)
{
    CHECK(a.failed == b.failed);
    if (a.failed) {
        CHECK(strcmp(a.why, b.why) == 0);
        return;
    }
    CHECK(a.consumed == b.consumed && a.done == b.done);
}

static void check_body(enum h1_body_mode mode, uint64_t length, const char *p, size_t n)
{
    struct scan whole = scan_steps(mode, length, p, n, 0);

    check_same(whole, scan_steps(mode, length, p, n, 1));
    check_same(whole, scan_steps(mode, length, p, n, 7));
    if (mode == H1_BODY_LENGTH && !whole.failed) {
        CHECK((uint64_t)whole.consumed == (length < n ? length : n));
    }
}

/* A parsed head: every pointer inside it, no CR/LF leaked into a name or value. */
static void check_head(const char *buf, size_t head_len, const struct h1_header *h, size_t num)
{
    size_t i, j;

    CHECK(head_len >= 4 && memcmp(buf + head_len - 4, "\r\n\r\n", 4) == 0);
    for (i = 0; i < head_len; i++) {
        CHECK(buf[i] != '\n' || (i > 0 && buf[i - 1] == '\r'));
    }
    CHECK(num <= MAX_HEADERS);
    for (i = 0; i < num; i++) {
        CHECK(h[i].name_len > 0 && h[i].name >= buf && h[i].name + h[i].name_len <= buf + head_len);
        CHECK(h[i].value >= buf && h[i].value + h[i].value_len <= buf + head_len);
        for (j = 0; j < h[i].name_len; j++) {
            CHECK(h[i].name[j] != ':' && h[i].name[j] != ' ' && h[i].name[j] != '\r');
        }
        for (j = 0; j < h[i].value_len; j++) {
            CHECK(h[i].value[j] != '\r' && h[i].value[j] != '\n' && h[i].value[j] != '\0');
        }
        CHECK(h[i].value_len == 0 ||
              (h[i].value[0] != ' ' && h[i].value[0] != '\t' &&
               h[i].value[h[i].value_len - 1] != ' ' && h[i].value[h[i].value_len - 1] != '\t'));
    }
}

static int request(const char *buf, size_t len, struct h1_header *hdrs, struct h1_request *req)
{
    struct h1_error err = {0, NULL};
    int rc = h1_parse_request(req, hdrs, MAX_HEADERS, buf, len, MAX_HEAD, &err);

    if (rc == H1_BAD) {
        CHECK(err.why != NULL);
        CHECK(err.status == 400 || err.status == 414 || err.status == 431 ||
              err.status == 501 || err.status == 505);
    }
    return rc;
}

static void fuzz_request(const char *buf, size_t len)
{
    struct h1_header hdrs[MAX_HEADERS], scratch[MAX_HEADERS];
    struct h1_request req, again;
    int rc = request(buf, len, hdrs, &req);

    if (rc == H1_BAD) {
        return;
    }
    if (rc == H1_INCOMPLETE) {
        /* Every prefix of a valid prefix is one too. */
        CHECK(len < MAX_HEAD);
        CHECK(request(buf, len / 2, scratch, &again) == H1_INCOMPLETE);
        return;
    }
    CHECK(rc == H1_DONE && req.head_len <= len && req.head_len <= MAX_HEAD);
    CHECK(req.minor == 0 || req.minor == 1);
    CHECK(req.method_len > 0 && req.target_len > 0);
    CHECK(req.minor == 0 || req.host != NULL);
    CHECK(req.body != H1_BODY_CLOSE);
    CHECK((req.body == H1_BODY_LENGTH) == (req.content_length > 0) || req.body == H1_BODY_CHUNKED);
    CHECK(req.body != H1_BODY_CHUNKED || req.content_length == 0);
    check_head(buf, req.head_len, req.headers, req.num_headers);
    /* The head alone parses the same; one byte less, or half of it, is not there yet. */
    CHECK(request(buf, req.head_len, scratch, &again) == H1_DONE);
    CHECK(again.head_len == req.head_len && again.body == req.body &&
          again.num_headers == req.num_headers && again.keep_alive == req.keep_alive);
    CHECK(request(buf, req.head_len - 1, scratch, &again) == H1_INCOMPLETE);
    CHECK(request(buf, req.head_len / 2, scratch, &again) == H1_INCOMPLETE);
    check_body(req.body, req.content_length, buf + req.head_len, len - req.head_len);
}

static void fuzz_response(const char *buf, size_t len, int head_request)
{
    struct h1_header hdrs[MAX_HEADERS];
    struct h1_response res;
    struct h1_error err = {0, NULL};
    int rc = h1_parse_response(&res, hdrs, MAX_HEADERS, buf, len, MAX_HEAD, head_request, &err);

    if (rc == H1_BAD) {
        CHECK(err.status == 502 && err.why != NULL);
        return;
    }
    if (rc == H1_INCOMPLETE) {
        CHECK(len < MAX_HEAD);
        return;
    }
    CHECK(rc == H1_DONE && res.head_len <= len && res.status >= 100 && res.status <= 599);
    CHECK(res.reason + res.reason_len <= buf + res.head_len);
    CHECK(res.body != H1_BODY_CLOSE || !res.keep_alive);
    CHECK(!head_request || res.body == H1_BODY_NONE);
    check_head(buf, res.head_len, res.headers, res.num_headers);
    check_body(res.body, res.content_length, buf + res.head_len, len - res.head_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    fuzz_request(buf, size);
    fuzz_response(buf, size, (int)(size & 1));
    check_body(H1_BODY_CHUNKED, 0, buf, size);
    return 0;
}
