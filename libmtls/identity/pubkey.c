/*
 * identity/pubkey.c - the bytes behind {http.request.tls.client.public_key}.
 *
 * Caddy's marshalPublicKey gives: ECDSA -> the uncompressed point (via key.ECDH(), which
 * fails for P-224, so P-224 renders empty), Ed25519 -> the 32-byte key, RSA -> Caddy means
 * asn1.Marshal of the key (PKCS#1 RSAPublicKey) but passes a pointer and always renders
 * empty; libmtls renders the intended PKCS#1 DER (DESIGN.md §3). Every other key type
 * renders empty. Keys are validated as Go's parsePublicKey does for these three types.
 */
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "../core/mem.h"
#include "identity_int.h"

static const uint8_t oid_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t oid_ec[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};
static const uint8_t asn1_null[] = {0x05, 0x00};

struct curve {
    uint8_t oid[8];
    size_t oid_len;
    int nid;
};

static const struct curve curves[] = {
    {{0x2b, 0x81, 0x04, 0x00, 0x21}, 5, NID_secp224r1},
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 8, NID_X9_62_prime256v1},
    {{0x2b, 0x81, 0x04, 0x00, 0x22}, 5, NID_secp384r1},
    {{0x2b, 0x81, 0x04, 0x00, 0x23}, 5, NID_secp521r1},
};

static int oid_is(const mtlsp_cbs *oid, const uint8_t *want, size_t want_len)
{
    return mtlsp_cbs_mem_equal(oid, want, want_len);
}

/* Go's ecdsa.ParseUncompressedPublicKey: 0x04 || X || Y, on the curve. */
static int ec_point_ok(int nid, const uint8_t *p, size_t n)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    EC_POINT *point = group ? EC_POINT_new(group) : NULL;
    size_t field = group ? (EC_GROUP_get_degree(group) + 7) / 8 : 0;
    int ok = point != NULL && n == 1 + 2 * field && p[0] == 0x04 &&
             EC_POINT_oct2point(group, point, p, n, NULL);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return ok;
}

static MTLS_RESULT ec_key(mtlsp_cbs *out, const struct gocert *c, mtlsp_cbs key, mtls_error *err)
{
    mtlsp_cbs params = c->key_params, curve_oid;
    ENSURE_MSG(mtlsp_cbs_get_asn1(&params, &curve_oid, MTLSP_ASN1_OBJECT) &&
                   mtlsp_oid_valid(&curve_oid),
               MTLS_ERR_CERT_PARSE, "x509: invalid ECDSA parameters");
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (oid_is(&curve_oid, curves[i].oid, curves[i].oid_len)) {
            ENSURE_MSG(ec_point_ok(curves[i].nid, mtlsp_cbs_data(&key), mtlsp_cbs_len(&key)),
                       MTLS_ERR_CERT_PARSE, "x509: invalid ECDSA public key");
            if (curves[i].nid != NID_secp224r1) {
                *out = key;
            }
            return MTLS_RESULT_OK;
        }
    }
    BAIL_MSG(MTLS_ERR_CERT_PARSE, "x509: unsupported elliptic curve");
}

static MTLS_RESULT encode_pkcs1(uint8_t **out, size_t *out_len, const mtlsp_cbs *n, const mtlsp_cbs *e,
                                mtls_error *err)
{
    mtlsp_cbb cbb, body, i1, i2;
    int ok = mtlsp_cbb_init(&cbb, mtlsp_cbs_len(n) + mtlsp_cbs_len(e) + 16) &&
             mtlsp_cbb_add_asn1(&cbb, &body, MTLSP_ASN1_SEQUENCE) &&
             mtlsp_cbb_add_asn1(&body, &i1, MTLSP_ASN1_INTEGER) &&
             mtlsp_cbb_add_bytes(&i1, mtlsp_cbs_data(n), mtlsp_cbs_len(n)) &&
             mtlsp_cbb_add_asn1(&body, &i2, MTLSP_ASN1_INTEGER) &&
             mtlsp_cbb_add_bytes(&i2, mtlsp_cbs_data(e), mtlsp_cbs_len(e)) && mtlsp_cbb_flush(&cbb);
    if (ok) {
        *out = mtlsp_memdup(mtlsp_cbb_data(&cbb), mtlsp_cbb_len(&cbb));
        *out_len = mtlsp_cbb_len(&cbb);
    }
    mtlsp_cbb_cleanup(&cbb);
    ENSURE(ok && *out != NULL, MTLS_ERR_NOMEM);
    return MTLS_RESULT_OK;
}

/* PKCS#1 RSAPublicKey as Go's asn1.Marshal re-encodes it (trailing data dropped). */
static MTLS_RESULT rsa_key(uint8_t **out, size_t *out_len, const struct gocert *c, mtlsp_cbs key,
                           mtls_error *err)
{
    mtlsp_cbs seq, n, e;
    int n_neg = 1, e_neg = 1;
    ENSURE_MSG(mtlsp_cbs_mem_equal(&c->key_params, asn1_null, sizeof(asn1_null)),
               MTLS_ERR_CERT_PARSE, "x509: RSA key missing NULL parameters");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&key, &seq, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: invalid RSA public key");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&seq, &n, MTLSP_ASN1_INTEGER) &&
                   mtlsp_cbs_is_valid_asn1_integer(&n, &n_neg),
               MTLS_ERR_CERT_PARSE, "x509: invalid RSA modulus");
    ENSURE_MSG(mtlsp_cbs_get_asn1(&seq, &e, MTLSP_ASN1_INTEGER) &&
                   mtlsp_cbs_is_valid_asn1_integer(&e, &e_neg) && mtlsp_cbs_len(&e) <= 8,
               MTLS_ERR_CERT_PARSE, "x509: invalid RSA public exponent");
    ENSURE_MSG(!n_neg && !(mtlsp_cbs_len(&n) == 1 && mtlsp_cbs_data(&n)[0] == 0), MTLS_ERR_CERT_PARSE,
               "x509: RSA modulus is not a positive number");
    ENSURE_MSG(!e_neg && !(mtlsp_cbs_len(&e) == 1 && mtlsp_cbs_data(&e)[0] == 0), MTLS_ERR_CERT_PARSE,
               "x509: RSA public exponent is not a positive number");
    return encode_pkcs1(out, out_len, &n, &e, err);
}

int mtlsp_gocert_key_supported(const struct gocert *c)
{
    return oid_is(&c->key_oid, oid_ec, sizeof(oid_ec)) ||
           oid_is(&c->key_oid, oid_rsa, sizeof(oid_rsa)) ||
           oid_is(&c->key_oid, oid_ed25519, sizeof(oid_ed25519));
}

MTLS_RESULT mtlsp_pubkey_bytes(uint8_t **out, size_t *out_len, const struct gocert *c,
                               mtls_error *err)
{
    mtlsp_cbs bits = c->key_bits, plain;
    uint8_t pad = 0xff;
    int ec = oid_is(&c->key_oid, oid_ec, sizeof(oid_ec));
    int rsa = oid_is(&c->key_oid, oid_rsa, sizeof(oid_rsa));
    int ed = oid_is(&c->key_oid, oid_ed25519, sizeof(oid_ed25519));
    *out = NULL;
    *out_len = 0;
    if (!ec && !rsa && !ed) {
        return MTLS_RESULT_OK;
    }
    ENSURE_MSG(mtlsp_cbs_get_u8(&bits, &pad) && pad == 0, MTLS_ERR_CERT_PARSE,
               "x509: public key BIT STRING is not byte-aligned");
    if (rsa) {
        return rsa_key(out, out_len, c, bits, err);
    }
    mtlsp_cbs_init(&plain, NULL, 0);
    if (ec) {
        GUARD(ec_key(&plain, c, bits, err));
    } else {
        ENSURE_MSG(mtlsp_cbs_len(&c->key_params) == 0, MTLS_ERR_CERT_PARSE,
                   "x509: Ed25519 key encoded with illegal parameters");
        ENSURE_MSG(mtlsp_cbs_len(&bits) == 32, MTLS_ERR_CERT_PARSE,
                   "x509: wrong Ed25519 public key size");
        plain = bits;
    }
    if (mtlsp_cbs_len(&plain) > 0) {
        *out = mtlsp_memdup(mtlsp_cbs_data(&plain), mtlsp_cbs_len(&plain));
        ENSURE_MEM(*out);
        *out_len = mtlsp_cbs_len(&plain);
    }
    return MTLS_RESULT_OK;
}
