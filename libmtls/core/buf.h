/*
 * core/buf.h - a growable, always NUL-terminated byte string for rendering.
 */
#ifndef MTLS_CORE_BUF_H
#define MTLS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

struct buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
};

MTLS_RESULT mtlsp_buf_append(struct buf *b, const void *p, size_t n, mtls_error *err);
MTLS_RESULT mtlsp_buf_append_str(struct buf *b, const char *s, mtls_error *err);
MTLS_RESULT mtlsp_buf_append_byte(struct buf *b, uint8_t c, mtls_error *err);
/* lowercase hex of `n` bytes */
MTLS_RESULT mtlsp_buf_append_hex(struct buf *b, const uint8_t *p, size_t n, mtls_error *err);
MTLS_RESULT mtlsp_buf_append_u64(struct buf *b, uint64_t v, mtls_error *err);
/* `n` bytes with every byte below 0x20, DEL, '"' and backslash written as \xHH (UTF-8 passes):
 * one printable line that cannot end a quoted field early */
MTLS_RESULT mtlsp_buf_append_escaped(struct buf *b, const void *p, size_t n, mtls_error *err);
/* standard base64 with padding, no line breaks */
MTLS_RESULT mtlsp_buf_append_base64(struct buf *b, const uint8_t *p, size_t n, mtls_error *err);
/* mtlsp_buf_take hands the string to the caller (never NULL on success: "" for empty). */
MTLS_RESULT mtlsp_buf_take(struct buf *b, char **out, mtls_error *err);
void mtlsp_buf_reset(struct buf *b);
void mtlsp_buf_free(struct buf *b);

#endif
