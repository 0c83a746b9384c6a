/*
 * http1.h - the little HTTP/1.1 the benchmark tools need (loadgen.c, upstream.c): find the
 * end of a head, read one header's value, and an incremental body decoder for
 * Content-Length, chunked and until-close bodies. Header-only, static functions.
 *
 * Benchmark tooling: it trusts its peers (our own upstream, the servers under test) far more
 * than the proxy's http.c does, and says so by failing the request, never by guessing.
 */
#ifndef BENCH_HTTP1_H
#define BENCH_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

enum h1_kind {
    H1_NONE = 0,  /* no body */
    H1_LENGTH,    /* Content-Length */
    H1_CHUNKED,   /* Transfer-Encoding: chunked */
    H1_CLOSE      /* until the connection closes */
};

enum h1_chunk_state {
    H1C_SIZE = 0, /* hex digits of a chunk size */
    H1C_EXT,      /* chunk extension, up to LF */
    H1C_DATA,     /* chunk data */
    H1C_DATA_CR,  /* CR after chunk data */
    H1C_DATA_LF,  /* LF after chunk data */
    H1C_TRAILER,  /* start of a trailer line (an empty one ends the body) */
    H1C_TRAILER_LINE /* inside a trailer line, up to LF */
};

struct h1body {
    enum h1_kind kind;
    uint64_t left;       /* H1_LENGTH: bytes left; H1_CHUNKED: bytes left in the chunk */
    uint64_t total;      /* body bytes seen (chunk framing not counted) */
    int cstate;          /* enum h1_chunk_state */
    int size_digits;
    int trailer_cr;      /* H1C_TRAILER: a CR was seen at the start of the line */
};

/* Offset just past the "\r\n\r\n" that ends a head in p[0..n), or 0 if it is not there yet. */
static inline size_t h1_head_end(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++) {
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') {
            return i + 1;
        }
    }
    return 0;
}

/* Finds header `name` (case-insensitive) in the head p[0..n); sets *val and *vlen to its value
 * without surrounding blanks. Returns 1 if found, 0 if not. The first line is skipped. */
static inline int h1_header(const char *p, size_t n, const char *name, const char **val,
                            size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = p + n;
    const char *line = memchr(p, '\n', n);
    while (line != NULL && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            *val = v;
            *vlen = (size_t)(ve - v);
            return 1;
        }
        line = eol;
    }
    return 0;
}

/* Parses a decimal unsigned number of exactly `n` bytes; -1 if it is not one. */
static inline int h1_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Sets up `b` for the body that follows head p[0..n). `is_response`: a response without
 * length or chunking runs until close; a request has no body then. Returns -1 on a bad
 * Content-Length. */
static inline int h1body_init(struct h1body *b, const char *p, size_t n, int is_response)
{
    const char *v;
    size_t vl;
    memset(b, 0, sizeof(*b));
    if (h1_header(p, n, "Transfer-Encoding", &v, &vl)) {
        b->kind = H1_CHUNKED;
        return 0;
    }
    if (h1_header(p, n, "Content-Length", &v, &vl)) {
        if (h1_u64(v, vl, &b->left) != 0) {
            return -1;
        }
        b->kind = b->left > 0 ? H1_LENGTH : H1_NONE;
        return 0;
    }
    b->kind = is_response ? H1_CLOSE : H1_NONE;
    return 0;
}

static inline int h1_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One byte of chunk framing. Returns 1 when the body ended, 0 to go on, -1 if malformed. */
static inline int h1_chunk_byte(struct h1body *b, char c)
{
    int h;
    switch (b->cstate) {
    case H1C_SIZE:
        h = h1_hex(c);
        if (h >= 0 && b->size_digits < 15) {
            b->left = b->left * 16 + (uint64_t)h;
            b->size_digits++;
            return 0;
        }
        if (b->size_digits == 0) {
            return -1;
        }
        b->cstate = H1C_EXT;
        /* fall through: this byte (';', CR or LF) belongs to the rest of the line */
        /* FALLTHROUGH */
    case H1C_EXT:
        if (c == '\n') {
            b->size_digits = 0;
            b->cstate = b->left > 0 ? H1C_DATA : H1C_TRAILER;
        }
        return 0;
    case H1C_DATA_CR:
        b->cstate = H1C_DATA_LF;
        return c == '\r' ? 0 : -1;
    case H1C_DATA_LF:
        b->cstate = H1C_SIZE;
        return c == '\n' ? 0 : -1;
    case H1C_TRAILER:
        if (c == '\r' && !b->trailer_cr) {
            b->trailer_cr = 1;
            return 0;
        }
        if (c == '\n') {
            return 1;
        }
        b->trailer_cr = 0;
        b->cstate = H1C_TRAILER_LINE;
        return 0;
    case H1C_TRAILER_LINE:
        if (c == '\n') {
            b->cstate = H1C_TRAILER;
        }
        return 0;
    default:
        return -1;
    }
}

/* Feeds body bytes p[0..n). Returns how many belong to this body (the rest is the next
 * message), or -1 if malformed; sets *done once the body is complete. H1_CLOSE bodies end
 * only at EOF (the caller decides). */
static inline long h1body_feed(struct h1body *b, const char *p, size_t n, int *done)
{
    size_t i = 0;
    *done = 0;
    switch (b->kind) {
    case H1_NONE:
        *done = 1;
        return 0;
    case H1_CLOSE:
        b->total += n;
        return (long)n;
    case H1_LENGTH: {
        size_t k = n < b->left ? n : (size_t)b->left;
        b->left -= k;
        b->total += k;
        *done = b->left == 0;
        return (long)k;
    }
    case H1_CHUNKED:
        while (i < n) {
            if (b->cstate == H1C_DATA) {
                size_t k = n - i < b->left ? n - i : (size_t)b->left;
                b->left -= k;
                b->total += k;
                i += k;
                if (b->left == 0) {
                    b->cstate = H1C_DATA_CR;
                }
                continue;
            }
            int r = h1_chunk_byte(b, p[i++]);
            if (r < 0) {
                return -1;
            }
            if (r == 1) {
                *done = 1;
                return (long)i;
            }
        }
        return (long)i;
    default:
        return -1;
    }
}

#endif
