/*
 * truststore/base64.c - a strict standard-alphabet base64 decoder, written for the trust
 * loaders so that they decode straight into a der_list's arena (no cleaned copy, no
 * allocation) and depend on no TLS library (libmtls is getting an OpenSSL 3 backend).
 *
 * Acceptance rules, those of Go's base64.StdEncoding (Caddy's `trusted_ca_certs`) and of
 * encoding/pem, which strips spaces and tabs from a block body before decoding it the same
 * way (and of BoringSSL's EVP_DecodeBase64, which libmtls used before):
 * - CR and LF are skipped anywhere; in PEM bodies (`pem`) spaces and tabs are skipped too;
 * - any other character outside A-Z a-z 0-9 + / = is an error;
 * - without the skipped characters the text is a non-empty multiple of 4 characters;
 * - '=' appears only as the last one or two characters ("xx==", "xxx=");
 * - the bits after the last decoded byte need not be zero (Go's non-strict StdEncoding
 *   ignores them, as EVP_DecodeBase64 did).
 */
#include <string.h>

#include "truststore.h"

/* The value of every byte: 0-63 a base64 digit, PAD '=', CRLF '\r' '\n', SPACE ' ' '\t',
 * BAD every other byte. One list, expanded into the tables below. */
enum { PAD = 0x40, CRLF = 0x41, SPACE = 0x42, BAD = 0xff };

#define B64_VALUES(X)                                                                 \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0x42) X(0x41) X(0xff) X(0xff) X(0x41) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0x42) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0x3e) X(0xff) X(0xff) X(0xff) X(0x3f) \
    X(0x34) X(0x35) X(0x36) X(0x37) X(0x38) X(0x39) X(0x3a) X(0x3b) \
    X(0x3c) X(0x3d) X(0xff) X(0xff) X(0xff) X(0x40) X(0xff) X(0xff) \
    X(0xff) X(0x00) X(0x01) X(0x02) X(0x03) X(0x04) X(0x05) X(0x06) \
    X(0x07) X(0x08) X(0x09) X(0x0a) X(0x0b) X(0x0c) X(0x0d) X(0x0e) \
    X(0x0f) X(0x10) X(0x11) X(0x12) X(0x13) X(0x14) X(0x15) X(0x16) \
    X(0x17) X(0x18) X(0x19) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0x1a) X(0x1b) X(0x1c) X(0x1d) X(0x1e) X(0x1f) X(0x20) \
    X(0x21) X(0x22) X(0x23) X(0x24) X(0x25) X(0x26) X(0x27) X(0x28) \
    X(0x29) X(0x2a) X(0x2b) X(0x2c) X(0x2d) X(0x2e) X(0x2f) X(0x30) \
    X(0x31) X(0x32) X(0x33) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) \
    X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff) X(0xff)

#define VALUE(v) v,
static const uint8_t table[256] = {B64_VALUES(VALUE)};

/* The fast path's tables: digit number k of a quad (k = 0..3), already shifted to its bits
 * in the three output bytes as a little-endian word (byte 0 in bits 0-7), so a quad decodes
 * to d0[a] | d1[b] | d2[c] | d3[d]. Anything that is not a digit sets bit 24 (NOT_DIGIT):
 * one test sends the quad to the slow path. */
#define NOT_DIGIT 0x1000000u
#define D0(v) ((v) < 64 ? (uint32_t)(v) << 2 : NOT_DIGIT),
#define D1(v) ((v) < 64 ? (uint32_t)(v) >> 4 | ((uint32_t)(v)&0xf) << 12 : NOT_DIGIT),
#define D2(v) ((v) < 64 ? ((uint32_t)(v) >> 2) << 8 | ((uint32_t)(v)&0x3) << 22 : NOT_DIGIT),
#define D3(v) ((v) < 64 ? (uint32_t)(v) << 16 : NOT_DIGIT),
static const uint32_t d0[256] = {B64_VALUES(D0)};
static const uint32_t d1[256] = {B64_VALUES(D1)};
static const uint32_t d2[256] = {B64_VALUES(D2)};
static const uint32_t d3[256] = {B64_VALUES(D3)};

struct decoder {
    uint8_t *out;
    size_t cap, len;
    uint8_t quad[4]; /* digits (or PAD) of the quad being assembled */
    int num;         /* how many of quad are filled */
    int ended;       /* a padded quad was seen: only skipped characters may follow */
};

/* put_quad decodes a complete quad (possibly padded) into the output. */
static int put_quad(struct decoder *d)
{
    const uint8_t *q = d->quad;
    size_t n = 3;
    if (q[0] == PAD || q[1] == PAD || (q[2] == PAD && q[3] != PAD)) {
        return MTLS_B64_BAD_PADDING; /* "=xxx", "x=xx", "xx=x" */
    }
    if (q[3] == PAD) {
        n = q[2] == PAD ? 1 : 2;
        d->ended = 1;
    }
    if (d->cap - d->len < n) {
        return MTLS_B64_TOO_LONG;
    }
    uint32_t v = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)(q[2] & 0x3f) << 6 |
                 (uint32_t)(q[3] & 0x3f);
    uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    for (size_t i = 0; i < n; i++) {
        d->out[d->len++] = b[i];
    }
    d->num = 0;
    return MTLS_B64_OK;
}

/* put_char feeds one character that the fast path could not take. */
static int put_char(struct decoder *d, uint8_t t, int pem)
{
    if (t == CRLF || (t == SPACE && pem)) {
        return MTLS_B64_OK;
    }
    if (t > PAD) {
        return MTLS_B64_BAD_CHAR;
    }
    if (d->ended) {
        return MTLS_B64_BAD_PADDING; /* data after "=" */
    }
    d->quad[d->num++] = t;
    return d->num == 4 ? put_quad(d) : MTLS_B64_OK;
}

/* fast_run decodes whole quads of digits from s[*i] on, as long as there is room, and
 * stops at the first quad holding anything else (or the end): the slow path takes it from
 * there. The loop keeps its state in locals; a PEM line is 16 quads. Each quad is stored
 * as a 4-byte word whose last byte the next quad overwrites, so it needs 4 bytes of room. */
static size_t fast_run(uint8_t *restrict out, size_t o, size_t cap,
                       const uint8_t *restrict p, size_t *i, size_t n)
{
    size_t k = *i;
    while (n - k >= 4 && cap - o >= 4) {
        uint32_t w = d0[p[k]] | d1[p[k + 1]] | d2[p[k + 2]] | d3[p[k + 3]];
        if (w & NOT_DIGIT) {
            break;
        }
        uint8_t b[4] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), 0};
        memcpy(out + o, b, 4);
        o += 3;
        k += 4;
    }
    *i = k;
    return o;
}

int mtlsp_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t n,
                        int pem)
{
    struct decoder d = {.out = out, .cap = cap};
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (d.num == 0 && !d.ended) {
            d.len = fast_run(out, d.len, cap, p, &i, n);
            if (i == n) {
                break;
            }
        }
        int rc = put_char(&d, table[p[i]], pem);
        if (rc != MTLS_B64_OK) {
            *out_len = i; /* the offending character */
            return rc;
        }
        i++;
    }
    if (d.num != 0 || d.len == 0) {
        *out_len = n;
        return MTLS_B64_BAD_LENGTH;
    }
    *out_len = d.len;
    return MTLS_B64_OK;
}

const char *mtlsp_base64_reason(int code)
{
    switch (code) {
    case MTLS_B64_OK:
        return "ok";
    case MTLS_B64_BAD_CHAR:
        return "a character outside the base64 alphabet";
    case MTLS_B64_BAD_LENGTH:
        return "not a non-empty multiple of 4 base64 characters";
    case MTLS_B64_BAD_PADDING:
        return "misplaced '=' padding";
    case MTLS_B64_TOO_LONG:
        return "decodes to more bytes than allowed";
    default:
        return "invalid";
    }
}
