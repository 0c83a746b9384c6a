/* sbuf.h - a growable byte buffer (heads, log lines); aborts nothing, reports ENOMEM. */
#ifndef MTLS_PROXY_SBUF_H
#define MTLS_PROXY_SBUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int failed; /* an append ran out of memory or over `limit`: the content is incomplete */
    size_t limit; /* 0: none */
};

static inline int sbuf_reserve(struct sbuf *b, size_t extra)
{
    if (b->failed) {
        return 0;
    }
    if (extra > (size_t)-1 / 2 - b->len || (b->limit != 0 && b->len + extra > b->limit)) {
        b->failed = 1;
        return 0;
    }
    if (b->len + extra <= b->cap) {
        return 1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static inline void sbuf_add(struct sbuf *b, const void *s, size_t n)
{
    if (n != 0 && sbuf_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static inline void sbuf_adds(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

static inline void sbuf_addc(struct sbuf *b, char c)
{
    sbuf_add(b, &c, 1);
}

static inline void sbuf_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

#endif /* MTLS_PROXY_SBUF_H */
