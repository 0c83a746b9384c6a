/*
 * identity/cert.c - read a leaf the way Go's x509.ParseCertificate does (parser.go), so
 * that a certificate Go (and so Caddy's handshake) refuses is refused here too, and keep
 * the slices the placeholders render. Reproduced: the structure, version, serial
 * encoding, matching signature algorithms, names (dn.c), times (gotime.c), the public key
 * for RSA/ECDSA/Ed25519 (pubkey.c), duplicate extensions and the SAN extension (san.c).
 * Not reproduced: Go's checks of the other extensions (key usage, basic constraints, EKU,
 * name constraints, ...) and of DSA/X25519/ML-DSA keys; BoringSSL's verifier covers most.
 */
#include <string.h>

#include "../core/mem.h"
#include "identity.h"
#include "identity_int.h"

#define TAG_CTX(n) (MTLSP_ASN1_CONTEXT_SPECIFIC | (n))
#define TAG_CTX_CONS(n) (MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED | (n))

static const uint8_t oid_san[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */

/* parseAI: an OID, then optionally one element of any type (rest ignored, as Go does). */
static MTLS_RESULT parse_ai(mtlsp_cbs ai, mtlsp_cbs *out_oid, mtlsp_cbs *out_params, mtls_error *err)
{
    ENSURE_MSG(mtlsp_cbs_get_asn1(&ai, out_oid, MTLSP_ASN1_OBJECT) && mtlsp_oid_valid(out_oid),
               MTLS_ERR_CERT_PARSE, "x509: malformed OID");
    mtlsp_cbs_init(out_params, NULL, 0);
    if (mtlsp_cbs_len(&ai) > 0) {
        ENSURE_MSG(mtlsp_cbs_get_any_asn1_element(&ai, out_params, NULL, NULL), MTLS_ERR_CERT_PARSE,
                   "x509: malformed parameters");
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_sigalg(mtlsp_cbs *tbs, mtlsp_cbs *cert, mtls_error *err)
{
    mtlsp_cbs inner, outer, oid, params;
    ENSURE_MSG(mtlsp_cbs_get_asn1(tbs, &inner, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed signature algorithm identifier");
    ENSURE_MSG(mtlsp_cbs_get_asn1(cert, &outer, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed algorithm identifier");
    ENSURE_MSG(mtlsp_cbs_mem_equal(&inner, mtlsp_cbs_data(&outer), mtlsp_cbs_len(&outer)), MTLS_ERR_CERT_PARSE,
               "x509: inner and outer signature algorithm identifiers don't match");
    return parse_ai(inner, &oid, &params, err);
}

static MTLS_RESULT check_name(const mtlsp_cbs *name, mtls_error *err)
{
    struct buf scratch = {0};
    mtls_result rc = mtlsp_render_dn(&scratch, mtlsp_cbs_data(name), mtlsp_cbs_len(name), err);
    mtlsp_buf_free(&scratch);
    return rc;
}

static MTLS_RESULT parse_spki(struct gocert *c, mtlsp_cbs *tbs, mtls_error *err)
{
    mtlsp_cbs spki, ai, bits;
    ENSURE_MSG(mtlsp_cbs_get_asn1_element(tbs, &c->spki, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed spki");
    spki = c->spki;
    ENSURE_MSG(mtlsp_cbs_get_asn1(&spki, &spki, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed spki");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&spki, &ai, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed public key algorithm identifier");
    GUARD(parse_ai(ai, &c->key_oid, &c->key_params, err));
    ENSURE_MSG(mtlsp_cbs_get_asn1(&spki, &bits, MTLSP_ASN1_BITSTRING) &&
                   mtlsp_cbs_is_valid_asn1_bitstring(&bits),
               MTLS_ERR_CERT_PARSE, "x509: malformed subjectPublicKey");
    c->key_bits = bits; /* padding byte kept: pubkey.c requires it to be 0 */
    uint8_t *key = NULL;
    size_t key_len = 0;
    GUARD(mtlsp_pubkey_bytes(&key, &key_len, c, err));
    mtlsp_free(key);
    return MTLS_RESULT_OK;
}

/* One Extension: OID, optional critical BOOLEAN, OCTET STRING value. */
static MTLS_RESULT parse_extension(mtlsp_cbs *exts, mtlsp_cbs *out_oid, mtlsp_cbs *out_val, mtls_error *err)
{
    mtlsp_cbs ext;
    int critical = 0;
    ENSURE_MSG(mtlsp_cbs_get_asn1(exts, &ext, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed extension");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&ext, out_oid, MTLSP_ASN1_OBJECT) && mtlsp_oid_valid(out_oid),
               MTLS_ERR_CERT_PARSE, "x509: malformed extension OID field");
    if (mtlsp_cbs_peek_asn1_tag(&ext, MTLSP_ASN1_BOOLEAN)) {
        ENSURE_MSG(mtlsp_cbs_get_asn1_bool(&ext, &critical), MTLS_ERR_CERT_PARSE,
                   "x509: malformed extension critical field");
    }
    ENSURE_MSG(mtlsp_cbs_get_asn1(&ext, out_val, MTLSP_ASN1_OCTETSTRING), MTLS_ERR_CERT_PARSE,
               "x509: malformed extension value field");
    return MTLS_RESULT_OK;
}

/* Is `oid` equal to an OID met before it in the extension list `all`? */
static int seen_before(mtlsp_cbs all, const mtlsp_cbs *oid)
{
    mtlsp_cbs o, v;
    mtls_error ignored = {0};
    while (mtlsp_cbs_data(&all) < mtlsp_cbs_data(oid) && MTLS_IS_OK(parse_extension(&all, &o, &v,
                                                                        &ignored))) {
        if (mtlsp_cbs_data(&o) < mtlsp_cbs_data(oid) && mtlsp_cbs_mem_equal(&o, mtlsp_cbs_data(oid), mtlsp_cbs_len(oid))) {
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT parse_extensions(struct gocert *c, mtlsp_cbs *tbs, mtls_error *err)
{
    mtlsp_cbs wrapper, exts, oid, val;
    int present = 0;
    ENSURE_MSG(mtlsp_cbs_get_optional_asn1(tbs, &wrapper, &present, TAG_CTX_CONS(3)),
               MTLS_ERR_CERT_PARSE, "x509: malformed extensions");
    if (!present) {
        return MTLS_RESULT_OK;
    }
    ENSURE_MSG(mtlsp_cbs_get_asn1(&wrapper, &exts, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed extensions");
    mtlsp_cbs all = exts;
    while (mtlsp_cbs_len(&exts) > 0) {
        GUARD(parse_extension(&exts, &oid, &val, err));
        ENSURE_MSG(!seen_before(all, &oid), MTLS_ERR_CERT_PARSE,
                   "x509: certificate contains duplicate extension");
        if (mtlsp_cbs_mem_equal(&oid, oid_san, sizeof(oid_san))) {
            GUARD(mtlsp_san_check(&val, err));
            c->san = val;
        }
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_tbs(struct gocert *c, mtlsp_cbs *tbs, mtlsp_cbs *cert, mtls_error *err)
{
    uint64_t version;
    mtlsp_cbs validity;
    int neg;
    ENSURE_MSG(mtlsp_cbs_get_optional_asn1_uint64(tbs, &version, TAG_CTX_CONS(0), 0) &&
                   version <= 2,
               MTLS_ERR_CERT_PARSE, "x509: malformed version");
    ENSURE_MSG(mtlsp_cbs_get_asn1(tbs, &c->serial, MTLSP_ASN1_INTEGER) &&
                   mtlsp_cbs_is_valid_asn1_integer(&c->serial, &neg),
               MTLS_ERR_CERT_PARSE, "x509: malformed serial number");
    GUARD(parse_sigalg(tbs, cert, err));
    ENSURE_MSG(mtlsp_cbs_get_asn1_element(tbs, &c->issuer, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed issuer");
    GUARD(check_name(&c->issuer, err));
    ENSURE_MSG(mtlsp_cbs_get_asn1(tbs, &validity, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed validity");
    GUARD(mtlsp_gotime_read(&validity, &c->not_before, err));
    GUARD(mtlsp_gotime_read(&validity, &c->not_after, err));
    ENSURE_MSG(mtlsp_cbs_get_asn1_element(tbs, &c->subject, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed subject");
    GUARD(check_name(&c->subject, err));
    GUARD(parse_spki(c, tbs, err));
    if (version == 0) {
        return MTLS_RESULT_OK; /* v1: Go reads nothing more of the TBS */
    }
    ENSURE_MSG(mtlsp_cbs_get_optional_asn1(tbs, NULL, NULL, TAG_CTX(1)), MTLS_ERR_CERT_PARSE,
               "x509: malformed issuerUniqueID");
    ENSURE_MSG(mtlsp_cbs_get_optional_asn1(tbs, NULL, NULL, TAG_CTX(2)), MTLS_ERR_CERT_PARSE,
               "x509: malformed subjectUniqueID");
    return version == 2 ? parse_extensions(c, tbs, err) : MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_gocert_parse(struct gocert *out, const uint8_t *der, size_t der_len,
                               mtls_error *err)
{
    mtlsp_cbs in, cert, tbs, sig;
    memset(out, 0, sizeof(*out));
    mtlsp_cbs_init(&out->san, NULL, 0);
    mtlsp_cbs_init(&in, der, der_len);
    ENSURE_MSG(mtlsp_cbs_get_asn1_element(&in, &out->raw, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed certificate");
    ENSURE_MSG(mtlsp_cbs_len(&in) == 0, MTLS_ERR_CERT_PARSE, "x509: trailing data");
    cert = out->raw;
    ENSURE_MSG(mtlsp_cbs_get_asn1(&cert, &cert, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed certificate");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&cert, &tbs, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed tbs certificate");
    GUARD(parse_tbs(out, &tbs, &cert, err));
    ENSURE_MSG(mtlsp_cbs_get_asn1(&cert, &sig, MTLSP_ASN1_BITSTRING) &&
                   mtlsp_cbs_is_valid_asn1_bitstring(&sig),
               MTLS_ERR_CERT_PARSE, "x509: malformed signature");
    return MTLS_RESULT_OK;
}
