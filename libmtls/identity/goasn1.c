/*
 * identity/goasn1.c - the ASN.1 details of Go's certificate parser that show in Caddy's
 * strings: which attribute string types Go accepts and how it decodes them (parser.go
 * parseASN1String, current Go), how it reads OIDs (cryptobyte), and the DER that
 * encoding/asn1.Marshal re-creates for a string value.
 */
#include <string.h>

#include "identity_int.h"

/* parser.go isPrintable: PrintableString plus '*' and '&', which real certificates use. */
static int parser_printable(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           (b >= '\'' && b <= ')') || (b >= '+' && b <= '/') || b == ' ' || b == ':' ||
           b == '=' || b == '?' || b == '*' || b == '&';
}

/* encoding/asn1 isPrintable as Marshal uses it: '*' and '&' are rejected there. */
static int marshal_printable(uint8_t b)
{
    return b != '*' && b != '&' && parser_printable(b);
}

/* cryptobyte readBase128Int: at most 5 bytes, value below 2^31, minimal encoding. */
static int read_arc(mtlsp_cbs *cbs, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; mtlsp_cbs_len(cbs) > 0; i++) {
        uint8_t b;
        if (i == 5 || v >= (1u << 24) || !mtlsp_cbs_get_u8(cbs, &b) || (i == 0 && b == 0x80)) {
            return 0;
        }
        v = (v << 7) | (b & 0x7f);
        if ((b & 0x80) == 0) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

int mtlsp_oid_valid(const mtlsp_cbs *oid_contents)
{
    mtlsp_cbs c = *oid_contents;
    uint32_t arc;
    if (mtlsp_cbs_len(&c) == 0) {
        return 0;
    }
    while (mtlsp_cbs_len(&c) > 0) {
        if (!read_arc(&c, &arc)) {
            return 0;
        }
    }
    return 1;
}

MTLS_RESULT mtlsp_oid_append_text(struct buf *out, const mtlsp_cbs *oid_contents, mtls_error *err)
{
    mtlsp_cbs c = *oid_contents;
    uint32_t arc;
    ENSURE_MSG(mtlsp_oid_valid(&c) && read_arc(&c, &arc), MTLS_ERR_CERT_PARSE,
               "x509: malformed OID");
    uint32_t first = arc < 80 ? arc / 40 : 2;
    GUARD(mtlsp_buf_append_u64(out, first, err));
    GUARD(mtlsp_buf_append_byte(out, '.', err));
    GUARD(mtlsp_buf_append_u64(out, arc - first * 40, err));
    while (mtlsp_cbs_len(&c) > 0 && read_arc(&c, &arc)) {
        GUARD(mtlsp_buf_append_byte(out, '.', err));
        GUARD(mtlsp_buf_append_u64(out, arc, err));
    }
    return MTLS_RESULT_OK;
}

/* Appends code point `cp` (< 0x110000, not a surrogate) as UTF-8. */
static MTLS_RESULT append_utf8(struct buf *out, uint32_t cp, mtls_error *err)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else {
        b[0] = (uint8_t)(0xe0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    }
    return mtlsp_buf_append(out, b, n, err);
}

/* Go's utf8.Valid: shortest form, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (len == 0 || n - i < len) {
            return 0;
        }
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        } else if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
        for (size_t k = 1; k < len; k++) {
            uint8_t t = p[i + k];
            if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xbf)) {
                return 0;
            }
        }
        i += len;
    }
    return 1;
}

static MTLS_RESULT decode_bmp(struct buf *out, const uint8_t *p, size_t n, mtls_error *err)
{
    ENSURE_MSG(n % 2 == 0, MTLS_ERR_CERT_PARSE, "invalid BMPString");
    if (n >= 2 && p[n - 1] == 0 && p[n - 2] == 0) {
        n -= 2; /* Go strips one terminating NUL */
    }
    for (size_t i = 0; i < n; i += 2) {
        uint32_t cp = (uint32_t)p[i] << 8 | p[i + 1];
        ENSURE_MSG(cp != 0xfffe && cp != 0xffff && !(cp >= 0xfdd0 && cp <= 0xfdef) &&
                       !(cp >= 0xd800 && cp <= 0xdfff),
                   MTLS_ERR_CERT_PARSE, "invalid BMPString");
        GUARD(append_utf8(out, cp, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT decode_t61(struct buf *out, const uint8_t *p, size_t n, mtls_error *err)
{
    /* Current Go reads T61String as Latin-1 (Go 1.19 passed the bytes through raw). */
    for (size_t i = 0; i < n; i++) {
        GUARD(append_utf8(out, p[i], err));
    }
    return MTLS_RESULT_OK;
}

/* Checks every byte of `p` with `ok`; appends the bytes unchanged. */
static MTLS_RESULT copy_checked(struct buf *out, const uint8_t *p, size_t n,
                                int (*ok)(uint8_t), const char *what, mtls_error *err)
{
    for (size_t i = 0; i < n; i++) {
        ENSURE_MSG(ok(p[i]), MTLS_ERR_CERT_PARSE, "invalid %s", what);
    }
    return mtlsp_buf_append(out, p, n, err);
}

static int ia5_ok(uint8_t b)
{
    return b < 0x80;
}

static int numeric_ok(uint8_t b)
{
    return (b >= '0' && b <= '9') || b == ' ';
}

MTLS_RESULT mtlsp_asn1_string_decode(struct buf *out, unsigned tag, const mtlsp_cbs *value,
                                     mtls_error *err)
{
    const uint8_t *p = mtlsp_cbs_data(value);
    size_t n = mtlsp_cbs_len(value);
    switch (tag) {
    case MTLSP_ASN1_T61STRING:
        return decode_t61(out, p, n, err);
    case MTLSP_ASN1_PRINTABLESTRING:
        return copy_checked(out, p, n, parser_printable, "PrintableString", err);
    case MTLSP_ASN1_UTF8STRING:
        ENSURE_MSG(utf8_valid(p, n), MTLS_ERR_CERT_PARSE, "invalid UTF-8 string");
        return mtlsp_buf_append(out, p, n, err);
    case MTLSP_ASN1_BMPSTRING:
        return decode_bmp(out, p, n, err);
    case MTLSP_ASN1_IA5STRING:
        return copy_checked(out, p, n, ia5_ok, "IA5String", err);
    case MTLSP_ASN1_NUMERICSTRING:
        return copy_checked(out, p, n, numeric_ok, "NumericString", err);
    default:
        BAIL_MSG(MTLS_ERR_CERT_PARSE, "unsupported string type: %u", tag);
    }
}

MTLS_RESULT mtlsp_asn1_append_marshalled_hex(struct buf *out, const char *s, size_t len,
                                             mtls_error *err)
{
    uint8_t hdr[2 + sizeof(size_t)];
    size_t h = 0;
    hdr[h++] = MTLSP_ASN1_PRINTABLESTRING;
    for (size_t i = 0; i < len; i++) {
        if (!marshal_printable((uint8_t)s[i])) {
            hdr[0] = MTLSP_ASN1_UTF8STRING;
            break;
        }
    }
    if (len < 0x80) {
        hdr[h++] = (uint8_t)len;
    } else {
        size_t nbytes = 0;
        for (size_t v = len; v != 0; v >>= 8) {
            nbytes++;
        }
        hdr[h++] = (uint8_t)(0x80 | nbytes);
        for (size_t k = nbytes; k > 0; k--) {
            hdr[h++] = (uint8_t)(len >> (8 * (k - 1)));
        }
    }
    GUARD(mtlsp_buf_append_hex(out, hdr, h, err));
    return mtlsp_buf_append_hex(out, (const uint8_t *)s, len, err);
}
