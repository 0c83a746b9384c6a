/*
 * http.c - HTTP/1.1 message framing for mtls-proxy (RFC 9112), strict against request
 * smuggling (DESIGN.md §6). The contract, and the choices made where RFC 9112 leaves room,
 * are in http.h. No I/O, no allocation; every loop is bounded by the bytes it is given.
 */
#include "http.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* ---- bytes ----------------------------------------------------------------------------- */

enum { C_TOKEN = 1, C_HOST = 2 };

/*
 * T: RFC 9110 tchar. H: the bytes Go's httpguts.ValidHostHeader allows in a Host value (so
 * the proxy refuses the Hosts Caddy refuses). B: both. Rows 0x20-0x7f; all else is neither.
 */
#define T C_TOKEN
#define H C_HOST
#define B (C_TOKEN | C_HOST)
static const unsigned char byte_class[256] = {
    [0x20] = 0, B, 0, T, B, B, B, B, H, H, B, B, H, B, B, 0, /* SP ! " # $ % & ' ( ) * + , - . / */
    B, B, B, B, B, B, B, B, B, B, H, H, 0, H, 0, 0,          /* 0-9 : ; < = > ? */
    0, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,          /* @ A-O */
    B, B, B, B, B, B, B, B, B, B, B, H, 0, H, T, B,          /* P-Z [ \ ] ^ _ */
    T, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,          /* ` a-o */
    B, B, B, B, B, B, B, B, B, B, B, 0, T, 0, B, 0,          /* p-z { | } ~ DEL */
};
#undef T
#undef H
#undef B

static int is_token(unsigned char c) { return (byte_class[c] & C_TOKEN) != 0; }
static int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Control bytes no field value may hold: CR, LF and NUL are how headers get injected. */
static int is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/*
 * ieq: `p` (`n` bytes) equals the NUL-terminated `lit`, ignoring ASCII case. Reads `lit` no
 * further than its NUL or n + 1 bytes: no strlen.
 */
static int ieq(const char *p, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || lower((unsigned char)p[i]) != lower((unsigned char)lit[i])) {
            return 0;
        }
    }
    return lit[i] == '\0';
}

int h1_header_is(const struct h1_header *h, const char *name)
{
    return h != NULL && name != NULL && ieq(h->name, h->name_len, name);
}

static int fail(struct h1_error *err, int status, const char *why)
{
    if (err != NULL) {
        err->status = status;
        err->why = why;
    }
    return H1_BAD;
}

/* ---- heads ----------------------------------------------------------------------------- */

/* What the framing headers said, gathered line by line and judged once the head is whole. */
struct fields {
    const char *cl; /* the first Content-Length value, NULL if none */
    size_t cl_len;
    uint64_t cl_value;
    int has_te, te_chunked; /* te_chunked: one Transfer-Encoding header, exactly "chunked" */
    const char *host;       /* NULL if none; an empty Host is non-NULL */
    size_t host_len;
    int conn_close, conn_keep_alive, conn_upgrade, expect_continue;
    int has_upgrade; /* -1: no Upgrade header yet; else whether the first one is non-empty */
};

struct head {
    const char *buf;
    size_t len, max_head;
    size_t lim; /* min(len, max_head): an LF at or past it cannot end the head */
    size_t pos; /* start of the next line */
    int response; /* every error is then a 502 */
    struct h1_header *hdrs;
    size_t max_hdrs, num_hdrs;
    struct fields f;
    struct h1_error *err;
};

static int head_fail(struct head *h, int status, const char *why)
{
    return fail(h->err, h->response ? 502 : status, why);
}

/*
 * take_line: the line at h->pos, without its CRLF, into `out_line`/`out_len`, and moves
 * past it. Returns H1_DONE, H1_INCOMPLETE (no LF yet), or H1_BAD: a bare LF (the classic way
 * to make two parsers disagree on line boundaries) or no LF within max_head (`too_big`).
 */
static int take_line(struct head *h, const char **out_line, size_t *out_len, int too_big)
{
    const char *lf = NULL;
    size_t end;

    if (h->pos < h->lim) {
        lf = memchr(h->buf + h->pos, '\n', h->lim - h->pos);
    }
    if (lf == NULL) {
        return h->len >= h->max_head ? head_fail(h, too_big, "head too large") : H1_INCOMPLETE;
    }
    end = (size_t)(lf - h->buf);
    if (end == h->pos || h->buf[end - 1] != '\r') {
        return head_fail(h, 400, "bare LF in head");
    }
    *out_line = h->buf + h->pos;
    *out_len = end - 1 - h->pos;
    h->pos = end + 1;
    return H1_DONE;
}

/* Returns 0, or the status for a version that is malformed (400) or unsupported (505). */
static int parse_version(const char *p, size_t n, int *out_minor)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) || p[6] != '.' ||
        !is_digit((unsigned char)p[7])) {
        return 400;
    }
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
        return 505;
    }
    *out_minor = p[7] - '0';
    return 0;
}

/* Connection is a comma list (possibly over several headers); three tokens matter here. */
static void note_connection(struct fields *f, const char *v, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t start, end;
        while (i < n && (is_ows((unsigned char)v[i]) || v[i] == ',')) {
            i++;
        }
        for (start = i; i < n && v[i] != ','; i++) {
        }
        for (end = i; end > start && is_ows((unsigned char)v[end - 1]); end--) {
        }
        f->conn_close |= ieq(v + start, end - start, "close");
        f->conn_keep_alive |= ieq(v + start, end - start, "keep-alive");
        f->conn_upgrade |= ieq(v + start, end - start, "upgrade");
    }
}

static int note_content_length(struct head *h, const struct h1_header *hdr)
{
    struct fields *f = &h->f;
    uint64_t n = 0;
    size_t i;

    if (hdr->value_len == 0) {
        return head_fail(h, 400, "empty Content-Length");
    }
    for (i = 0; i < hdr->value_len; i++) {
        unsigned char c = (unsigned char)hdr->value[i];
        /* Digits only: "+5", "-1", "0x5" and "5, 5" are where parsers disagree. */
        if (!is_digit(c)) {
            return head_fail(h, 400, "Content-Length is not a number");
        }
        /* Capped at INT64_MAX so that no caller's off_t arithmetic can go negative. */
        if (n > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10) {
            return head_fail(h, 400, "Content-Length overflows");
        }
        n = n * 10 + (uint64_t)(c - '0');
    }
    if (f->cl != NULL &&
        (f->cl_len != hdr->value_len || memcmp(f->cl, hdr->value, hdr->value_len) != 0)) {
        return head_fail(h, 400, "differing Content-Length values");
    }
    f->cl = hdr->value;
    f->cl_len = hdr->value_len;
    f->cl_value = n;
    return 0;
}

int h1_host_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((byte_class[(unsigned char)s[i]] & C_HOST) == 0) {
            return 0;
        }
    }
    return 1;
}

static int note_host(struct head *h, const struct h1_header *hdr)
{
    if (h->f.host != NULL) {
        return head_fail(h, 400, "more than one Host");
    }
    if (!h1_host_valid(hdr->value, hdr->value_len)) {
        return head_fail(h, 400, "invalid byte in Host");
    }
    h->f.host = hdr->value;
    h->f.host_len = hdr->value_len;
    return 0;
}

/* note_field looks at the headers that decide framing; switching on length keeps it cheap. */
static int note_field(struct head *h, const struct h1_header *hdr)
{
    struct fields *f = &h->f;

    switch (hdr->name_len) {
    case 4:
        /* Host rules are for requests; a response's Host means nothing here. */
        return !h->response && h1_header_is(hdr, "host") ? note_host(h, hdr) : 0;
    case 6:
        f->expect_continue |= h1_header_is(hdr, "expect") &&
                              ieq(hdr->value, hdr->value_len, "100-continue");
        return 0;
    case 7:
        /* The first Upgrade header decides, as Go's Header.Get (so ReverseProxy) reads it,
         * and it is the one rewrite.c forwards. */
        if (f->has_upgrade < 0 && h1_header_is(hdr, "upgrade")) {
            f->has_upgrade = hdr->value_len > 0;
        }
        return 0;
    case 10:
        if (h1_header_is(hdr, "connection")) {
            note_connection(f, hdr->value, hdr->value_len);
        }
        return 0;
    case 14:
        return h1_header_is(hdr, "content-length") ? note_content_length(h, hdr) : 0;
    case 17:
        if (h1_header_is(hdr, "transfer-encoding")) {
            /* A second header makes the list "chunked, chunked": not exactly chunked. */
            f->te_chunked = !f->has_te && ieq(hdr->value, hdr->value_len, "chunked");
            f->has_te = 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* Why the name part of a field line (a token of `i` bytes, then p[i]) is not "name:". */
static const char *name_why(const char *p, size_t n, size_t i)
{
    /* obs-fold, or whitespace before the first header (RFC 9112 §2.2): both refused. */
    if (is_ows((unsigned char)p[0])) {
        return "obs-fold or whitespace at line start";
    }
    if (i == n) {
        return "header line without colon";
    }
    if (p[i] != ':') {
        return is_ows((unsigned char)p[i]) ? "whitespace before header colon"
                                           : "invalid byte in header name";
    }
    return "empty header name";
}

/* parse_field_line checks one "name: value" line (`n` > 0 bytes, no CRLF) and records it. */
static int parse_field_line(struct head *h, const char *p, size_t n)
{
    struct h1_header *hdr;
    size_t i = 0, v, end = n;

    while (i < n && is_token((unsigned char)p[i])) {
        i++;
    }
    if (i == 0 || i == n || p[i] != ':') {
        return head_fail(h, 400, name_why(p, n, i));
    }
    for (v = i + 1; v < n; v++) {
        if (is_ctl((unsigned char)p[v])) {
            return head_fail(h, 400, "control byte in header value");
        }
    }
    for (v = i + 1; v < n && is_ows((unsigned char)p[v]); v++) {
    }
    while (end > v && is_ows((unsigned char)p[end - 1])) {
        end--;
    }
    if (h->num_hdrs >= h->max_hdrs) {
        return head_fail(h, 431, "too many header fields");
    }
    hdr = &h->hdrs[h->num_hdrs++];
    hdr->name = p;
    hdr->name_len = i;
    hdr->value = p + v;
    hdr->value_len = end - v;
    return note_field(h, hdr);
}

/* parse_fields reads field lines up to the empty one. Bounded: each turn eats a line. */
static int parse_fields(struct head *h)
{
    for (;;) {
        const char *line;
        size_t n;
        int r = take_line(h, &line, &n, 431);
        if (r != H1_DONE || n == 0) {
            return r;
        }
        if (parse_field_line(h, line, n) != 0) {
            return H1_BAD;
        }
    }
}

static void head_init(struct head *h, struct h1_header *headers, size_t max_headers,
                      const char *buf, size_t len, size_t max_head, int response,
                      struct h1_error *err)
{
    *h = (struct head){.buf = buf, .len = len, .max_head = max_head,
                       .lim = len < max_head ? len : max_head, .response = response,
                       .hdrs = headers, .max_hdrs = headers != NULL ? max_headers : 0, .err = err,
                       .f = {.has_upgrade = -1}};
}

/* ---- requests -------------------------------------------------------------------------- */

/* method SP request-target SP HTTP-version: single spaces, nothing else. */
static int parse_request_line(struct head *h, struct h1_request *req, const char *p, size_t n)
{
    size_t m = 0, t;
    int status;

    while (m < n && is_token((unsigned char)p[m])) {
        m++;
    }
    if (m == 0 || m == n || p[m] != ' ') {
        return head_fail(h, 400, m < n && p[m] != ' ' ? "invalid byte in method"
                                                      : "malformed request line");
    }
    /* The target ends at the next SP; control bytes (and HTAB, DEL) are refused in it. */
    for (t = m + 1; t < n && (unsigned char)p[t] > 0x20 && p[t] != 0x7f; t++) {
    }
    if (t == m + 1 || t == n || p[t] != ' ') {
        return head_fail(h, 400, t < n && p[t] != ' ' ? "control byte in request-target"
                                                      : "malformed request line");
    }
    status = parse_version(p + t + 1, n - t - 1, &req->minor);
    if (status != 0) {
        return head_fail(h, status, status == 505 ? "unsupported HTTP version"
                                                  : "malformed HTTP version");
    }
    req->method = p;
    req->method_len = m;
    req->target = p + m + 1;
    req->target_len = t - m - 1;
    return 0;
}

/* finish_request judges the framing headers as a whole (RFC 9112 §6.1, §6.3, §3.2). */
static int finish_request(struct head *h, struct h1_request *req)
{
    const struct fields *f = &h->f;

    if (f->has_te && req->minor == 0) {
        return head_fail(h, 400, "Transfer-Encoding in HTTP/1.0");
    }
    if (f->has_te && f->cl != NULL) {
        return head_fail(h, 400, "Content-Length with Transfer-Encoding");
    }
    if (f->has_te && !f->te_chunked) {
        return head_fail(h, 501, "Transfer-Encoding other than chunked");
    }
    if (f->host == NULL && req->minor == 1) {
        return head_fail(h, 400, "missing Host");
    }
    req->headers = h->hdrs;
    req->num_headers = h->num_hdrs;
    req->head_len = h->pos;
    /* "Content-Length: 0" is no body at all: NONE, so callers need no zero-length case. */
    req->body = f->has_te ? H1_BODY_CHUNKED : f->cl_value > 0 ? H1_BODY_LENGTH : H1_BODY_NONE;
    req->content_length = f->cl_value;
    req->keep_alive = !f->conn_close && (req->minor == 1 || f->conn_keep_alive);
    req->upgrade = req->minor == 1 && f->conn_upgrade && f->has_upgrade == 1;
    req->expect_continue = f->expect_continue;
    req->host = f->host;
    req->host_len = f->host_len;
    return H1_DONE;
}

int h1_parse_request(struct h1_request *req, struct h1_header *headers, size_t max_headers,
                     const char *buf, size_t len, size_t max_head, struct h1_error *err)
{
    struct head h;
    const char *line;
    size_t n;
    int r;

    memset(req, 0, sizeof *req);
    head_init(&h, headers, max_headers, buf, len, max_head, 0, err);
    /* RFC 9112 §2.2: ignore empty lines before the request line (old clients' extra CRLF). */
    while (h.pos + 1 < h.lim && buf[h.pos] == '\r' && buf[h.pos + 1] == '\n') {
        h.pos += 2;
    }
    r = take_line(&h, &line, &n, 414);
    if (r != H1_DONE) {
        return r;
    }
    if (parse_request_line(&h, req, line, n) != 0) {
        return H1_BAD;
    }
    r = parse_fields(&h);
    return r == H1_DONE ? finish_request(&h, req) : r;
}

/* ---- responses ------------------------------------------------------------------------- */

/* HTTP-version SP 3DIGIT [SP reason]; a missing SP before an empty reason is tolerated. */
static int parse_status_line(struct head *h, struct h1_response *res, const char *p, size_t n)
{
    size_t i;

    if (n < 12 || parse_version(p, 8, &res->minor) != 0 || p[8] != ' ') {
        return head_fail(h, 502, "malformed status line");
    }
    if (p[9] < '1' || p[9] > '5' || !is_digit((unsigned char)p[10]) ||
        !is_digit((unsigned char)p[11]) || (n > 12 && p[12] != ' ')) {
        return head_fail(h, 502, "malformed status code");
    }
    for (i = 13; i < n; i++) {
        if (is_ctl((unsigned char)p[i])) {
            return head_fail(h, 502, "control byte in reason phrase");
        }
    }
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    res->reason = p + (n > 12 ? 13 : 12);
    res->reason_len = n > 12 ? n - 13 : 0;
    return 0;
}

/* finish_response: the same conflicts as requests, then the body rules of RFC 9112 §6.3. */
static int finish_response(struct head *h, struct h1_response *res, int head_request)
{
    const struct fields *f = &h->f;
    int st = res->status;

    if (f->has_te && (res->minor == 0 || f->cl != NULL || !f->te_chunked)) {
        return head_fail(h, 502, "bad Transfer-Encoding framing");
    }
    res->headers = h->hdrs;
    res->num_headers = h->num_hdrs;
    res->head_len = h->pos;
    if (head_request || st / 100 == 1 || st == 204 || st == 304) {
        res->body = H1_BODY_NONE;
    } else if (f->has_te) {
        res->body = H1_BODY_CHUNKED;
    } else if (f->cl != NULL) {
        res->body = f->cl_value > 0 ? H1_BODY_LENGTH : H1_BODY_NONE;
        res->content_length = f->cl_value;
    } else {
        res->body = H1_BODY_CLOSE;
    }
    /* A close-delimited body ends the connection whatever Connection says. */
    res->keep_alive = !f->conn_close && (res->minor == 1 || f->conn_keep_alive) &&
                      res->body != H1_BODY_CLOSE;
    res->upgrade = st == 101;
    return H1_DONE;
}

int h1_parse_response(struct h1_response *res, struct h1_header *headers, size_t max_headers,
                      const char *buf, size_t len, size_t max_head, int head_request,
                      struct h1_error *err)
{
    struct head h;
    const char *line;
    size_t n;
    int r;

    memset(res, 0, sizeof *res);
    head_init(&h, headers, max_headers, buf, len, max_head, 1, err);
    r = take_line(&h, &line, &n, 502);
    if (r != H1_DONE) {
        return r;
    }
    if (parse_status_line(&h, res, line, n) != 0) {
        return H1_BAD;
    }
    r = parse_fields(&h);
    return r == H1_DONE ? finish_response(&h, res, head_request) : r;
}

/* ---- bodies ---------------------------------------------------------------------------- */

/*
 * Chunked scanner states: positions in RFC 9112 §7.1's grammar (BWS: optional SP/HTAB).
 * SIZE_WS: BWS after the size or a value, only ';' may follow. EXT_NAME_WS: after ';'.
 * EXT_NAME_END: BWS after a name, '=' or ';' follows. EXT_VAL_WS: after '='. QPAIR: after
 * a backslash in a quoted-string. EXT_END: after its closing quote. TRAILER: the start of a
 * trailer line or of the final CRLF. ERROR is sticky: a failed body never resumes.
 */
enum chunk_state {
    CS_SIZE, CS_SIZE_WS, CS_EXT_NAME_WS, CS_EXT_NAME, CS_EXT_NAME_END, CS_EXT_VAL_WS,
    CS_EXT_TOKEN, CS_EXT_QUOTED, CS_EXT_QPAIR, CS_EXT_END, CS_SIZE_LF,
    CS_DATA, CS_DATA_CR, CS_DATA_LF,
    CS_TRAILER, CS_TRAILER_NAME, CS_TRAILER_VALUE, CS_TRAILER_LF, CS_FINAL_LF,
    CS_DONE, CS_ERROR
};

void h1_body_init(struct h1_body *b, enum h1_body_mode mode, uint64_t length)
{
    memset(b, 0, sizeof *b);
    b->mode = mode;
    b->remaining = mode == H1_BODY_LENGTH ? length : 0;
    b->state = CS_SIZE;
    /* An unknown mode is left not done: h1_body_scan then fails on it. */
    b->done = mode == H1_BODY_NONE || (mode == H1_BODY_LENGTH && length == 0);
}

/* go: moves to `state`; returns NULL (no error) so that a transition is one expression. */
static const char *go(struct h1_body *b, enum chunk_state state)
{
    b->state = (int)state;
    return NULL;
}

/* qdtext and quoted-pair's second byte: HTAB, SP, VCHAR, obs-text. */
static int is_qtext(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* ext_next: after a size, name or value: BWS ';' starts an extension, CR ends the line. */
static const char *ext_next(struct h1_body *b, unsigned char c, const char *why)
{
    switch (c) {
    case ' ':
    case '\t':
        return go(b, CS_SIZE_WS);
    case ';':
        return go(b, CS_EXT_NAME_WS);
    case '\r':
        return go(b, CS_SIZE_LF);
    default:
        return why;
    }
}

static const char *size_digit(struct h1_body *b, unsigned char c)
{
    unsigned char l = lower(c);
    int v = is_digit(c) ? c - '0' : (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;

    if (v < 0) {
        return b->digits == 0 ? "chunk size is not hex" : ext_next(b, c, "junk after chunk size");
    }
    /* 16 hex digits fill a uint64_t, so a 17th (even a leading zero) is refused; and, as for
     * Content-Length, sizes above INT64_MAX are: an upstream reading them as signed 64-bit
     * numbers would see a negative size. */
    if (b->digits == 16) {
        return "chunk size too long";
    }
    if (b->remaining > ((uint64_t)INT64_MAX - (uint64_t)v) / 16) {
        return "chunk size overflows";
    }
    b->digits++;
    b->remaining = b->remaining * 16 + (uint64_t)v;
    return NULL;
}

/* size_line_byte: one byte of "chunk-size *( BWS ; BWS name [ BWS = BWS value ] ) CRLF". */
static const char *size_line_byte(struct h1_body *b, unsigned char c)
{
    const char *bad = "malformed chunk extension";

    if (++b->line_len > H1_MAX_CHUNK_LINE) {
        return "chunk size line too long";
    }
    if (is_ows(c) && (b->state == CS_SIZE_WS || b->state == CS_EXT_NAME_WS ||
                      b->state == CS_EXT_NAME_END || b->state == CS_EXT_VAL_WS)) {
        return NULL; /* BWS may be any length (bounded by the line limit) */
    }
    switch (b->state) {
    case CS_SIZE:
        return size_digit(b, c);
    case CS_SIZE_WS:
        return c == ';' ? go(b, CS_EXT_NAME_WS) : "junk after chunk size";
    case CS_EXT_NAME_WS:
        return is_token(c) ? go(b, CS_EXT_NAME) : "chunk extension without name";
    case CS_EXT_NAME:
        if (is_token(c) || c == '=') {
            return c == '=' ? go(b, CS_EXT_VAL_WS) : NULL;
        }
        return is_ows(c) ? go(b, CS_EXT_NAME_END) : ext_next(b, c, bad);
    case CS_EXT_NAME_END:
        return c == '=' ? go(b, CS_EXT_VAL_WS) : c == ';' ? go(b, CS_EXT_NAME_WS) : bad;
    case CS_EXT_VAL_WS:
        return c == '"' ? go(b, CS_EXT_QUOTED) : is_token(c) ? go(b, CS_EXT_TOKEN) : bad;
    case CS_EXT_TOKEN:
        return is_token(c) ? NULL : ext_next(b, c, bad);
    case CS_EXT_QUOTED:
        if (c == '"' || c == '\\') {
            return go(b, c == '"' ? CS_EXT_END : CS_EXT_QPAIR);
        }
        return is_qtext(c) ? NULL : bad;
    case CS_EXT_QPAIR:
        return is_qtext(c) ? go(b, CS_EXT_QUOTED) : bad;
    case CS_EXT_END:
        return ext_next(b, c, bad);
    case CS_SIZE_LF:
        if (c != '\n') {
            return "chunk size line not ended by CRLF";
        }
        return go(b, b->remaining == 0 ? CS_TRAILER : CS_DATA);
    default:
        return "internal: bad chunk state";
    }
}

/* trailer_byte: one byte of the trailer section, under the header-line rules, bounded. */
static const char *trailer_byte(struct h1_body *b, unsigned char c)
{
    if (++b->trailer_len > H1_MAX_TRAILER) {
        return "trailer section too large";
    }
    switch (b->state) {
    case CS_TRAILER:
        if (c == '\r' || is_token(c)) {
            return go(b, c == '\r' ? CS_FINAL_LF : CS_TRAILER_NAME);
        }
        return c == ':' ? "empty trailer name" : is_ows(c) ? "obs-fold in trailers"
                                                           : "malformed trailer line";
    case CS_TRAILER_NAME:
        if (c == ':' || is_token(c)) {
            return go(b, c == ':' ? CS_TRAILER_VALUE : CS_TRAILER_NAME);
        }
        return is_ows(c) ? "whitespace before trailer colon" : "invalid byte in trailer name";
    case CS_TRAILER_VALUE:
        if (c == '\r') {
            return go(b, CS_TRAILER_LF);
        }
        return is_ctl(c) ? "control byte in trailer value" : NULL;
    case CS_TRAILER_LF:
    case CS_FINAL_LF:
        if (c != '\n') {
            return "trailer line not ended by CRLF";
        }
        b->done = b->state == CS_FINAL_LF;
        return go(b, b->done ? CS_DONE : CS_TRAILER);
    default:
        return "internal: bad chunk state";
    }
}

/* chunk_byte: one byte outside chunk data (the data is skipped in bulk by the caller). */
static const char *chunk_byte(struct h1_body *b, unsigned char c)
{
    switch (b->state) {
    case CS_DATA_CR:
        return c == '\r' ? go(b, CS_DATA_LF) : "missing CRLF after chunk data";
    case CS_DATA_LF:
        if (c != '\n') {
            return "missing CRLF after chunk data";
        }
        b->digits = 0;
        b->line_len = 0;
        return go(b, CS_SIZE);
    case CS_TRAILER:
    case CS_TRAILER_NAME:
    case CS_TRAILER_VALUE:
    case CS_TRAILER_LF:
    case CS_FINAL_LF:
        return trailer_byte(b, c);
    default:
        return size_line_byte(b, c);
    }
}

/* Bounded: every turn consumes a byte, or leaves CS_DATA (with remaining 0) for CS_DATA_CR. */
static long scan_chunked(struct h1_body *b, const char *p, size_t len, struct h1_error *err)
{
    size_t i = 0;

    if (b->state == CS_ERROR) {
        return fail(err, 400, "chunked body already failed");
    }
    while (i < len && !b->done) {
        const char *why;
        if (b->state == CS_DATA) {
            size_t n = (uint64_t)(len - i) > b->remaining ? (size_t)b->remaining : len - i;
            i += n;
            b->remaining -= n;
            b->state = b->remaining == 0 ? CS_DATA_CR : CS_DATA;
            continue;
        }
        why = chunk_byte(b, (unsigned char)p[i]);
        if (why != NULL) {
            b->state = CS_ERROR;
            return fail(err, 400, why);
        }
        i++;
        if (b->state == CS_TRAILER && !b->in_trailers) {
            b->in_trailers = 1; /* stop here: the caller may drop the trailer section */
            return (long)i;
        }
    }
    return (long)i;
}

long h1_body_scan(struct h1_body *b, const char *p, size_t len, struct h1_error *err)
{
    /* The count is returned as a long: never claim more than it can hold. */
    if (len > (size_t)LONG_MAX) {
        len = (size_t)LONG_MAX;
    }
    if (b->done) {
        return 0;
    }
    switch (b->mode) {
    case H1_BODY_NONE:
        b->done = 1;
        return 0;
    case H1_BODY_CLOSE:
        return (long)len;
    case H1_BODY_LENGTH:
        if ((uint64_t)len > b->remaining) {
            len = (size_t)b->remaining;
        }
        b->remaining -= len;
        b->done = b->remaining == 0;
        return (long)len;
    case H1_BODY_CHUNKED:
        return scan_chunked(b, p, len, err);
    default:
        return fail(err, 400, "unknown body mode");
    }
}
