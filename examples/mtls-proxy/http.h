/*
 * http.h - HTTP/1.1 message framing for mtls-proxy (RFC 9112), strict against smuggling.
 *
 * Pure functions over caller-owned buffers: no I/O, no allocation, no TLS. The proxy reads
 * bytes, asks h1_parse_request / h1_parse_response whether a whole head is there, rewrites
 * the head, then forwards body bytes verbatim, using an h1_body scanner to find where the
 * message ends (Content-Length or chunked) and to refuse malformed framing.
 *
 * Strictness (DESIGN.md §6, all refused with 400 unless noted): bare LF line endings,
 * whitespace before a header colon, obs-fold continuation lines, Content-Length together
 * with Transfer-Encoding, differing duplicate Content-Length, a Content-Length that is not
 * all digits or overflows, a Transfer-Encoding other than exactly "chunked" (501), any
 * Transfer-Encoding in HTTP/1.0, control bytes in a header value (except HTAB), non-token
 * bytes in a method or header name, a missing or repeated Host in HTTP/1.1, a version other
 * than HTTP/1.0 / HTTP/1.1 (505), a head larger than the limit or with more headers than the
 * limit (431; 414 when the request line alone exceeds the limit), malformed chunk sizes
 * (non-hex, more than 16 digits, overflow), malformed chunk extensions, missing CRLF after a
 * chunk, malformed or oversized trailers.
 *
 * Choices within RFC 9112 (the proxy relies on them):
 * - H1_INCOMPLETE: every complete line so far is valid; the unfinished last line is judged
 *   once its CRLF arrives (a bare LF is refused as soon as it is in the buffer).
 * - Empty lines before a request line are skipped (RFC 9112 §2.2) and counted in head_len;
 *   so `method` need not be at `buf`. Responses get no such leniency.
 * - Duplicate Content-Length headers are accepted only when byte-identical ("5" twice);
 *   "5" with "05", and list forms ("5, 5"), are refused. Values above INT64_MAX overflow.
 * - Two Transfer-Encoding headers are the list "chunked, chunked": 501.
 * - Host may be empty but may hold only the bytes Go's net/http accepts (as Caddy does).
 * - "Content-Length: 0" gives H1_BODY_NONE (content_length 0): LENGTH always means > 0 bytes.
 * - An Upgrade in an HTTP/1.0 request is ignored (RFC 9110 §7.8): upgrade stays 0.
 * - Responses accept "HTTP/1.1 200" without the SP before an empty reason.
 */
#ifndef MTLS_PROXY_HTTP_H
#define MTLS_PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

enum h1_result {
    H1_BAD = -1,       /* malformed: see h1_error */
    H1_INCOMPLETE = 0, /* need more bytes (every complete line so far is valid) */
    H1_DONE = 1        /* a complete head was parsed */
};

/* How a message body is delimited. */
enum h1_body_mode {
    H1_BODY_NONE = 0,  /* no body */
    H1_BODY_LENGTH,    /* Content-Length bytes */
    H1_BODY_CHUNKED,   /* Transfer-Encoding: chunked */
    H1_BODY_CLOSE      /* responses only: until the connection closes */
};

struct h1_error {
    int status;      /* HTTP status to answer with (400, 414, 431, 501, 505); 502 for responses */
    const char *why; /* static text, e.g. "Content-Length with Transfer-Encoding" */
};

/* Pointers into the parsed buffer (not NUL-terminated). */
struct h1_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing SP/HTAB trimmed */
    size_t value_len;
};

struct h1_request {
    const char *method;
    size_t method_len;
    const char *target; /* request-target as sent */
    size_t target_len;
    int minor;          /* 0 or 1 (HTTP/1.minor) */
    struct h1_header *headers; /* the caller's array */
    size_t num_headers;
    size_t head_len;    /* bytes of the head, through the final CRLF CRLF */
    enum h1_body_mode body;
    uint64_t content_length;   /* when body == H1_BODY_LENGTH */
    int keep_alive;     /* 1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
    int upgrade;        /* "Connection: upgrade" (a list element) and an Upgrade header */
    int expect_continue;/* "Expect: 100-continue" */
    const char *host;   /* the Host header value, NULL if absent */
    size_t host_len;
};

struct h1_response {
    int status;
    int minor;
    const char *reason;
    size_t reason_len;
    struct h1_header *headers;
    size_t num_headers;
    size_t head_len;
    enum h1_body_mode body;    /* per RFC 9112 §6.3: HEAD request, 1xx, 204, 304 -> NONE */
    uint64_t content_length;
    int keep_alive;
    int upgrade;        /* 101 Switching Protocols */
};

/*
 * h1_parse_request parses the request head at the start of `buf` (`len` bytes), using
 * `headers` (room for `max_headers`) for the header list. `max_head` bounds the head size.
 * Returns H1_DONE (and fills `req`), H1_INCOMPLETE, or H1_BAD (and fills `err`).
 */
int h1_parse_request(struct h1_request *req, struct h1_header *headers, size_t max_headers,
                     const char *buf, size_t len, size_t max_head, struct h1_error *err);

/*
 * h1_parse_response parses a response head from an upstream. `head_request` is 1 when the
 * request was HEAD (no body follows whatever the headers say). Errors have status 502.
 */
int h1_parse_response(struct h1_response *res, struct h1_header *headers, size_t max_headers,
                      const char *buf, size_t len, size_t max_head, int head_request,
                      struct h1_error *err);

/* Chunked framing limits: one chunk-size line (with extensions, CRLF included), and the
 * whole trailer section (from after the last-chunk line through the final CRLF). */
#define H1_MAX_CHUNK_LINE 4096
#define H1_MAX_TRAILER 16384

/* h1_body tracks where a body ends while its bytes are forwarded verbatim. */
struct h1_body {
    enum h1_body_mode mode;
    uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in the current chunk */
    int state;          /* CHUNKED: internal state */
    uint32_t line_len;  /* CHUNKED: bytes in the current size/trailer line (bounded) */
    uint32_t trailer_len;
    uint32_t digits;
    int in_trailers;    /* CHUNKED: past the last chunk, in the trailer section (and its
                         * final CRLF); a scan never returns bytes of both sides of this */
    int done;
};

/* h1_body_init starts scanning a body of `mode` (`length` for H1_BODY_LENGTH). */
void h1_body_init(struct h1_body *b, enum h1_body_mode mode, uint64_t length);

/*
 * h1_body_scan looks at the next `len` bytes of the stream at `p` and returns how many of
 * them belong to the body (0..len; the rest belong to the next message), setting b->done
 * once the body's last byte (for chunked: the final CRLF after the trailers) is consumed.
 * A chunked scan also stops right after the last-chunk line, setting b->in_trailers: the
 * bytes returned so far end the chunk data, the next scans return the trailer section and
 * its final CRLF (which the proxy drops for requests and sends as "\r\n").
 * Returns -1 on malformed framing (fills `err`, status 400). CLOSE bodies never finish
 * (the caller ends them at EOF). NONE bodies are done at once.
 */
long h1_body_scan(struct h1_body *b, const char *p, size_t len, struct h1_error *err);

/* h1_host_valid: whether `s` may be a Host value (the bytes Go's httpguts.ValidHostHeader
 * allows; h1_parse_request refuses a Host header with any other byte). */
int h1_host_valid(const char *s, size_t n);

/* h1_header_is: case-insensitive compare of a header name with NUL-terminated `name`. */
int h1_header_is(const struct h1_header *h, const char *name);

#endif /* MTLS_PROXY_HTTP_H */
