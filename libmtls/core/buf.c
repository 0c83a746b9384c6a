/* core/buf.c - growable NUL-terminated strings. */
#include <string.h>

#include "buf.h"
#include "mem.h"

static MTLS_RESULT reserve(struct buf *b, size_t extra, mtls_error *err)
{
    ENSURE(extra < SIZE_MAX - b->len - 1, MTLS_ERR_NOMEM);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return MTLS_RESULT_OK;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        ENSURE(cap <= SIZE_MAX / 2, MTLS_ERR_NOMEM);
        cap *= 2;
    }
    char *p = mtlsp_realloc(b->data, cap);
    ENSURE_MEM(p);
    b->data = p;
    b->cap = cap;
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_buf_append(struct buf *b, const void *p, size_t n, mtls_error *err)
{
    GUARD(reserve(b, n, err));
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_buf_append_str(struct buf *b, const char *s, mtls_error *err)
{
    return mtlsp_buf_append(b, s, strlen(s), err);
}

MTLS_RESULT mtlsp_buf_append_byte(struct buf *b, uint8_t c, mtls_error *err)
{
    return mtlsp_buf_append(b, &c, 1, err);
}

MTLS_RESULT mtlsp_buf_append_hex(struct buf *b, const uint8_t *p, size_t n, mtls_error *err)
{
    static const char digits[] = "0123456789abcdef";
    ENSURE(n < SIZE_MAX / 2, MTLS_ERR_NOMEM);
    GUARD(reserve(b, 2 * n, err));
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = digits[p[i] >> 4];
        b->data[b->len++] = digits[p[i] & 15];
    }
    b->data[b->len] = '\0';
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_buf_append_escaped(struct buf *b, const void *p, size_t n, mtls_error *err)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') {
            GUARD(mtlsp_buf_append_byte(b, c, err));
            continue;
        }
        char esc[4] = {'\\', 'x', digits[c >> 4], digits[c & 15]};
        GUARD(mtlsp_buf_append(b, esc, sizeof(esc), err));
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_buf_append_u64(struct buf *b, uint64_t v, mtls_error *err)
{
    char tmp[21];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return mtlsp_buf_append(b, tmp + i, sizeof(tmp) - i, err);
}

MTLS_RESULT mtlsp_buf_append_base64(struct buf *b, const uint8_t *p, size_t n, mtls_error *err)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ENSURE(n / 3 < SIZE_MAX / 4 - 1, MTLS_ERR_NOMEM);
    GUARD(reserve(b, (n + 2) / 3 * 4, err));
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_buf_take(struct buf *b, char **out, mtls_error *err)
{
    GUARD(reserve(b, 0, err));
    b->data[b->len] = '\0';
    *out = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return MTLS_RESULT_OK;
}

void mtlsp_buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void mtlsp_buf_free(struct buf *b)
{
    mtlsp_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
