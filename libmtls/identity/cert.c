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

#define TAG_CTX(n) (CBS_ASN1_CONTEXT_SPECIFIC | (n))
#define TAG_CTX_CONS(n) (CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | (n))

static const uint8_t oid_san[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */

/* parseAI: an OID, then optionally one element of any type (rest ignored, as Go does). */
static MTLS_RESULT parse_ai(CBS ai, CBS *out_oid, CBS *out_params, mtls_error *err)
{
    ENSURE_MSG(CBS_get_asn1(&ai, out_oid, CBS_ASN1_OBJECT) && mtlsp_oid_valid(out_oid),
               MTLS_ERR_CERT_PARSE, "x509: malformed OID");
    CBS_init(out_params, NULL, 0);
    if (CBS_len(&ai) > 0) {
        ENSURE_MSG(CBS_get_any_asn1_element(&ai, out_params, NULL, NULL), MTLS_ERR_CERT_PARSE,
                   "x509: malformed parameters");
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_sigalg(CBS *tbs, CBS *cert, mtls_error *err)
{
    CBS inner, outer, oid, params;
    ENSURE_MSG(CBS_get_asn1(tbs, &inner, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed signature algorithm identifier");
    ENSURE_MSG(CBS_get_asn1(cert, &outer, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed algorithm identifier");
    ENSURE_MSG(CBS_mem_equal(&inner, CBS_data(&outer), CBS_len(&outer)), MTLS_ERR_CERT_PARSE,
               "x509: inner and outer signature algorithm identifiers don't match");
    return parse_ai(inner, &oid, &params, err);
}

static MTLS_RESULT check_name(const CBS *name, mtls_error *err)
{
    struct buf scratch = {0};
    mtls_result rc = mtlsp_render_dn(&scratch, CBS_data(name), CBS_len(name), err);
    mtlsp_buf_free(&scratch);
    return rc;
}

static MTLS_RESULT parse_spki(struct gocert *c, CBS *tbs, mtls_error *err)
{
    CBS spki, ai, bits;
    ENSURE_MSG(CBS_get_asn1_element(tbs, &c->spki, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed spki");
    spki = c->spki;
    ENSURE_MSG(CBS_get_asn1(&spki, &spki, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed spki");
    ENSURE_MSG(CBS_get_asn1(&spki, &ai, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed public key algorithm identifier");
    GUARD(parse_ai(ai, &c->key_oid, &c->key_params, err));
    ENSURE_MSG(CBS_get_asn1(&spki, &bits, CBS_ASN1_BITSTRING) &&
                   CBS_is_valid_asn1_bitstring(&bits),
               MTLS_ERR_CERT_PARSE, "x509: malformed subjectPublicKey");
    c->key_bits = bits; /* padding byte kept: pubkey.c requires it to be 0 */
    uint8_t *key = NULL;
    size_t key_len = 0;
    GUARD(mtlsp_pubkey_bytes(&key, &key_len, c, err));
    mtlsp_free(key);
    return MTLS_RESULT_OK;
}

/* One Extension: OID, optional critical BOOLEAN, OCTET STRING value. */
static MTLS_RESULT parse_extension(CBS *exts, CBS *out_oid, CBS *out_val, mtls_error *err)
{
    CBS ext;
    int critical = 0;
    ENSURE_MSG(CBS_get_asn1(exts, &ext, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed extension");
    ENSURE_MSG(CBS_get_asn1(&ext, out_oid, CBS_ASN1_OBJECT) && mtlsp_oid_valid(out_oid),
               MTLS_ERR_CERT_PARSE, "x509: malformed extension OID field");
    if (CBS_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN)) {
        ENSURE_MSG(CBS_get_asn1_bool(&ext, &critical), MTLS_ERR_CERT_PARSE,
                   "x509: malformed extension critical field");
    }
    ENSURE_MSG(CBS_get_asn1(&ext, out_val, CBS_ASN1_OCTETSTRING), MTLS_ERR_CERT_PARSE,
               "x509: malformed extension value field");
    return MTLS_RESULT_OK;
}

/* Is `oid` equal to an OID met before it in the extension list `all`? */
static int seen_before(CBS all, const CBS *oid)
{
    CBS o, v;
    mtls_error ignored = {0};
    while (CBS_data(&all) < CBS_data(oid) && MTLS_IS_OK(parse_extension(&all, &o, &v,
                                                                        &ignored))) {
        if (CBS_data(&o) < CBS_data(oid) && CBS_mem_equal(&o, CBS_data(oid), CBS_len(oid))) {
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT parse_extensions(struct gocert *c, CBS *tbs, mtls_error *err)
{
    CBS wrapper, exts, oid, val;
    int present = 0;
    ENSURE_MSG(CBS_get_optional_asn1(tbs, &wrapper, &present, TAG_CTX_CONS(3)),
               MTLS_ERR_CERT_PARSE, "x509: malformed extensions");
    if (!present) {
        return MTLS_RESULT_OK;
    }
    ENSURE_MSG(CBS_get_asn1(&wrapper, &exts, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed extensions");
    CBS all = exts;
    while (CBS_len(&exts) > 0) {
        GUARD(parse_extension(&exts, &oid, &val, err));
        ENSURE_MSG(!seen_before(all, &oid), MTLS_ERR_CERT_PARSE,
                   "x509: certificate contains duplicate extension");
        if (CBS_mem_equal(&oid, oid_san, sizeof(oid_san))) {
            GUARD(mtlsp_san_check(&val, err));
            c->san = val;
        }
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_tbs(struct gocert *c, CBS *tbs, CBS *cert, mtls_error *err)
{
    uint64_t version;
    CBS validity;
    int neg;
    ENSURE_MSG(CBS_get_optional_asn1_uint64(tbs, &version, TAG_CTX_CONS(0), 0) &&
                   version <= 2,
               MTLS_ERR_CERT_PARSE, "x509: malformed version");
    ENSURE_MSG(CBS_get_asn1(tbs, &c->serial, CBS_ASN1_INTEGER) &&
                   CBS_is_valid_asn1_integer(&c->serial, &neg),
               MTLS_ERR_CERT_PARSE, "x509: malformed serial number");
    GUARD(parse_sigalg(tbs, cert, err));
    ENSURE_MSG(CBS_get_asn1_element(tbs, &c->issuer, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed issuer");
    GUARD(check_name(&c->issuer, err));
    ENSURE_MSG(CBS_get_asn1(tbs, &validity, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed validity");
    GUARD(mtlsp_gotime_read(&validity, &c->not_before, err));
    GUARD(mtlsp_gotime_read(&validity, &c->not_after, err));
    ENSURE_MSG(CBS_get_asn1_element(tbs, &c->subject, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed subject");
    GUARD(check_name(&c->subject, err));
    GUARD(parse_spki(c, tbs, err));
    if (version == 0) {
        return MTLS_RESULT_OK; /* v1: Go reads nothing more of the TBS */
    }
    ENSURE_MSG(CBS_get_optional_asn1(tbs, NULL, NULL, TAG_CTX(1)), MTLS_ERR_CERT_PARSE,
               "x509: malformed issuerUniqueID");
    ENSURE_MSG(CBS_get_optional_asn1(tbs, NULL, NULL, TAG_CTX(2)), MTLS_ERR_CERT_PARSE,
               "x509: malformed subjectUniqueID");
    return version == 2 ? parse_extensions(c, tbs, err) : MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_gocert_parse(struct gocert *out, const uint8_t *der, size_t der_len,
                               mtls_error *err)
{
    CBS in, cert, tbs, sig;
    memset(out, 0, sizeof(*out));
    CBS_init(&out->san, NULL, 0);
    CBS_init(&in, der, der_len);
    ENSURE_MSG(CBS_get_asn1_element(&in, &out->raw, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed certificate");
    ENSURE_MSG(CBS_len(&in) == 0, MTLS_ERR_CERT_PARSE, "x509: trailing data");
    cert = out->raw;
    ENSURE_MSG(CBS_get_asn1(&cert, &cert, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed certificate");
    ENSURE_MSG(CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: malformed tbs certificate");
    GUARD(parse_tbs(out, &tbs, &cert, err));
    ENSURE_MSG(CBS_get_asn1(&cert, &sig, CBS_ASN1_BITSTRING) &&
                   CBS_is_valid_asn1_bitstring(&sig),
               MTLS_ERR_CERT_PARSE, "x509: malformed signature");
    return MTLS_RESULT_OK;
}
