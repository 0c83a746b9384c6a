/*
 * identity/goint.c - decimal rendering of an ASN.1 INTEGER of any size, as Go's
 * big.Int String() prints a certificate serial ("-" prefix for negative values).
 */
#include <string.h>

#include "../core/mem.h"
#include "identity_int.h"

/* Divides the big-endian magnitude `mag` by 10^9 in place; returns the remainder. */
static uint32_t div_1e9(uint8_t *mag, size_t n)
{
    uint64_t rem = 0;
    for (size_t i = 0; i < n; i++) {
        rem = rem << 8 | mag[i];
        mag[i] = (uint8_t)(rem / 1000000000u);
        rem %= 1000000000u;
    }
    return (uint32_t)rem;
}

static int is_zero(const uint8_t *mag, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (mag[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* Two's-complement negation in place (turns a negative value into its magnitude). */
static void negate(uint8_t *mag, size_t n)
{
    unsigned carry = 1;
    for (size_t i = n; i-- > 0;) {
        unsigned v = (uint8_t)~mag[i] + carry;
        mag[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

static MTLS_RESULT append_chunks(struct buf *out, const uint32_t *chunk, size_t num,
                                 mtls_error *err)
{
    GUARD(mtlsp_buf_append_u64(out, chunk[num - 1], err));
    for (size_t i = num - 1; i-- > 0;) {
        char d[9];
        uint32_t v = chunk[i];
        for (int k = 8; k >= 0; k--) {
            d[k] = (char)('0' + v % 10);
            v /= 10;
        }
        GUARD(mtlsp_buf_append(out, d, sizeof(d), err));
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_int_append_decimal(struct buf *out, const uint8_t *p, size_t len,
                                     mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    uint8_t *mag = NULL;
    uint32_t *chunk = NULL;
    size_t num = 0;
    ENSURE_MSG(len > 0, MTLS_ERR_CERT_PARSE, "x509: malformed serial number");
    mag = mtlsp_memdup(p, len);
    /* every 10^9 chunk takes at least 29.8 bits: len*8/29 + 1 chunks are enough */
    chunk = mtlsp_calloc(len / 3 + 2, sizeof(*chunk));
    if (mag == NULL || chunk == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    int negative = (p[0] & 0x80) != 0;
    if (negative) {
        negate(mag, len);
        GUARD_OUT(mtlsp_buf_append_byte(out, '-', err));
    }
    do {
        chunk[num++] = div_1e9(mag, len);
    } while (!is_zero(mag, len));
    GUARD_OUT(append_chunks(out, chunk, num, err));
out:
    mtlsp_free(mag);
    mtlsp_free(chunk);
    return rc;
}
