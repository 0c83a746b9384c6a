/*
 * identity/san.c - Subject Alternative Names as Caddy prints them: Go's parseSANExtension
 * (IA5 checks, IP lengths, URI parsing), net.IP.String(), fmt's %+v of a slice
 * ("[a b]"), and libmtls's SPIFFE ID and Envoy XFCC renderings.
 */
#include <string.h>

#include "identity_int.h"

static const unsigned kind_tags[] = {
    [SAN_DNS] = MTLSP_ASN1_CONTEXT_SPECIFIC | 2,
    [SAN_EMAIL] = MTLSP_ASN1_CONTEXT_SPECIFIC | 1,
    [SAN_IP] = MTLSP_ASN1_CONTEXT_SPECIFIC | 7,
    [SAN_URI] = MTLSP_ASN1_CONTEXT_SPECIFIC | 6,
};

static int open_seq(const mtlsp_cbs *san, mtlsp_cbs *seq)
{
    mtlsp_cbs in = *san;
    return mtlsp_cbs_get_asn1(&in, seq, MTLSP_ASN1_SEQUENCE);
}

/* Next GeneralName of `kind` in an already checked sequence; 0 at the end. */
static int next_of(mtlsp_cbs *seq, int kind, mtlsp_cbs *out)
{
    unsigned tag;
    while (mtlsp_cbs_len(seq) > 0 && mtlsp_cbs_get_any_asn1(seq, out, &tag)) {
        if (tag == kind_tags[kind]) {
            return 1;
        }
    }
    return 0;
}

static int ia5(const mtlsp_cbs *v)
{
    for (size_t i = 0; i < mtlsp_cbs_len(v); i++) {
        if (mtlsp_cbs_data(v)[i] >= 0x80) {
            return 0;
        }
    }
    return 1;
}

static MTLS_RESULT check_one(unsigned tag, const mtlsp_cbs *v, mtls_error *err)
{
    struct buf scratch = {0};
    mtls_result rc = MTLS_RESULT_OK;
    if (tag == kind_tags[SAN_EMAIL]) {
        ENSURE_MSG(ia5(v), MTLS_ERR_CERT_PARSE, "x509: SAN rfc822Name is malformed");
    } else if (tag == kind_tags[SAN_DNS]) {
        ENSURE_MSG(ia5(v), MTLS_ERR_CERT_PARSE, "x509: SAN dNSName is malformed");
    } else if (tag == kind_tags[SAN_URI]) {
        ENSURE_MSG(ia5(v), MTLS_ERR_CERT_PARSE,
                   "x509: SAN uniformResourceIdentifier is malformed");
        rc = mtlsp_url_append(&scratch, NULL, (const char *)mtlsp_cbs_data(v), mtlsp_cbs_len(v), err);
        mtlsp_buf_free(&scratch);
    } else if (tag == kind_tags[SAN_IP]) {
        /* Go 1.19 (Caddy 2.6.2) accepts an IPv4-mapped IPv6 SAN, current Go refuses it. */
        ENSURE_MSG(mtlsp_cbs_len(v) == 4 || mtlsp_cbs_len(v) == 16, MTLS_ERR_CERT_PARSE,
                   "x509: cannot parse IP address of length %zu", mtlsp_cbs_len(v));
    }
    return rc;
}

MTLS_RESULT mtlsp_san_check(const mtlsp_cbs *san, mtls_error *err)
{
    mtlsp_cbs seq, v;
    unsigned tag;
    ENSURE_MSG(open_seq(san, &seq), MTLS_ERR_CERT_PARSE,
               "x509: invalid subject alternative names");
    while (mtlsp_cbs_len(&seq) > 0) {
        ENSURE_MSG(mtlsp_cbs_get_any_asn1(&seq, &v, &tag), MTLS_ERR_CERT_PARSE,
                   "x509: invalid subject alternative name");
        GUARD(check_one(tag, &v, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT append_dotted(struct buf *out, const uint8_t *p, mtls_error *err)
{
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            GUARD(mtlsp_buf_append_byte(out, '.', err));
        }
        GUARD(mtlsp_buf_append_u64(out, p[i], err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT append_group(struct buf *out, unsigned g, mtls_error *err)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[4];
    size_t n = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        if (n > 0 || (g >> shift) != 0 || shift == 0) {
            tmp[n++] = hex[(g >> shift) & 15];
        }
    }
    return mtlsp_buf_append(out, tmp, n, err);
}

MTLS_RESULT mtlsp_ip_append(struct buf *out, const uint8_t *ip, size_t len, mtls_error *err)
{
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (len == 4) {
        return append_dotted(out, ip, err);
    }
    ENSURE_MSG(len == 16, MTLS_ERR_CERT_PARSE, "x509: cannot parse IP address");
    if (memcmp(ip, v4_prefix, sizeof(v4_prefix)) == 0) {
        return append_dotted(out, ip + 12, err);
    }
    /* RFC 5952 as Go does it: the first longest run of >= 2 zero groups becomes "::". */
    int e0 = -1, e1 = -1;
    for (int i = 0; i < 16; i += 2) {
        int j = i;
        while (j < 16 && ip[j] == 0 && ip[j + 1] == 0) {
            j += 2;
        }
        if (j > i && j - i > e1 - e0) {
            e0 = i;
            e1 = j;
            i = j;
        }
    }
    if (e1 - e0 <= 2) {
        e0 = e1 = -1;
    }
    for (int i = 0; i < 16; i += 2) {
        if (i == e0) {
            GUARD(mtlsp_buf_append_str(out, "::", err));
            i = e1;
            if (i >= 16) {
                break;
            }
        } else if (i > 0) {
            GUARD(mtlsp_buf_append_byte(out, ':', err));
        }
        GUARD(append_group(out, (unsigned)ip[i] << 8 | ip[i + 1], err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT append_value(struct buf *out, int kind, const mtlsp_cbs *v, mtls_error *err)
{
    switch (kind) {
    case SAN_IP:
        return mtlsp_ip_append(out, mtlsp_cbs_data(v), mtlsp_cbs_len(v), err);
    case SAN_URI:
        return mtlsp_url_append(out, NULL, (const char *)mtlsp_cbs_data(v), mtlsp_cbs_len(v), err);
    default:
        return mtlsp_buf_append(out, mtlsp_cbs_data(v), mtlsp_cbs_len(v), err);
    }
}

MTLS_RESULT mtlsp_san_append(struct buf *out, const mtlsp_cbs *san, int kind, long index,
                             mtls_error *err)
{
    mtlsp_cbs seq, v;
    long i = 0;
    if (!open_seq(san, &seq)) {
        mtlsp_cbs_init(&seq, NULL, 0); /* no SAN extension: empty lists */
    }
    if (index >= 0) {
        while (next_of(&seq, kind, &v)) {
            if (i++ == index) {
                return append_value(out, kind, &v, err);
            }
        }
        return MTLS_RESULT_OK;
    }
    GUARD(mtlsp_buf_append_byte(out, '[', err));
    while (next_of(&seq, kind, &v)) {
        if (i++ > 0) {
            GUARD(mtlsp_buf_append_byte(out, ' ', err));
        }
        GUARD(append_value(out, kind, &v, err));
    }
    return mtlsp_buf_append_byte(out, ']', err);
}

MTLS_RESULT mtlsp_san_append_spiffe(struct buf *out, const mtlsp_cbs *san, mtls_error *err)
{
    mtlsp_cbs seq, v, only;
    size_t num = 0;
    int spiffe = 0;
    if (!open_seq(san, &seq)) {
        return MTLS_RESULT_OK;
    }
    while (next_of(&seq, SAN_URI, &v)) {
        only = v;
        num++;
    }
    if (num != 1) {
        return MTLS_RESULT_OK; /* an X509-SVID has exactly one URI SAN */
    }
    struct buf id = {0};
    mtls_result rc =
        mtlsp_url_append(&id, &spiffe, (const char *)mtlsp_cbs_data(&only), mtlsp_cbs_len(&only), err);
    if (MTLS_IS_OK(rc) && spiffe) {
        rc = mtlsp_buf_append(out, id.data, id.len, err);
    }
    mtlsp_buf_free(&id);
    return rc;
}

MTLS_RESULT mtlsp_xfcc_append_value(struct buf *out, const char *s, size_t n, int force_quote,
                                    mtls_error *err)
{
    int quote = force_quote;
    for (size_t i = 0; i < n && !quote; i++) {
        quote = s[i] == ',' || s[i] == ';' || s[i] == '=' || s[i] == '"' || s[i] == '\\';
    }
    if (quote) {
        GUARD(mtlsp_buf_append_byte(out, '"', err));
    }
    for (size_t i = 0; i < n; i++) {
        if (quote && (s[i] == '"' || s[i] == '\\')) {
            GUARD(mtlsp_buf_append_byte(out, '\\', err));
        }
        GUARD(mtlsp_buf_append_byte(out, (uint8_t)s[i], err));
    }
    return quote ? mtlsp_buf_append_byte(out, '"', err) : MTLS_RESULT_OK;
}

static MTLS_RESULT xfcc_pairs(struct buf *out, mtlsp_cbs seq, int kind, const char *key,
                              mtls_error *err)
{
    mtlsp_cbs v;
    while (next_of(&seq, kind, &v)) {
        struct buf val = {0};
        mtls_result rc = append_value(&val, kind, &v, err);
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_buf_append_str(out, key, err);
        }
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_xfcc_append_value(out, val.data ? val.data : "", val.len, 0, err);
        }
        mtlsp_buf_free(&val);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_san_append_xfcc(struct buf *out, const mtlsp_cbs *san, mtls_error *err)
{
    mtlsp_cbs seq;
    if (!open_seq(san, &seq)) {
        return MTLS_RESULT_OK;
    }
    GUARD(xfcc_pairs(out, seq, SAN_URI, ";URI=", err));
    return xfcc_pairs(out, seq, SAN_DNS, ";DNS=", err);
}
