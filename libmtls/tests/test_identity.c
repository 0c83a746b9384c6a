/*
 * tests/test_identity.c - identity/: Caddy's client-certificate placeholders rendered as
 * Caddy (Go) renders them. Certificates are built here: with BoringSSL's X509 API for the
 * DESIGN.md §3 golden subject, and byte by byte with mtlsp_cbb elsewhere so that each case can
 * hold exactly the encoding it exercises (string types, bad lengths, odd times, ...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testcompat.h"

#include "../core/der.h"
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/mem.h"
#include "identity/identity.h"
#include "identity/identity_int.h"

/* ---- helpers: keys, names, extensions, certificates ---------------------------------- */

static EVP_PKEY *ed25519_key(void)
{
    return test_ed25519_key();
}

static EVP_PKEY *ec_key(int nid)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(nid);
    assert_non_null(ec);
    assert_int_equal(EC_KEY_generate_key(ec), 1);
    EVP_PKEY *k = EVP_PKEY_new();
    assert_int_equal(EVP_PKEY_assign_EC_KEY(k, ec), 1);
    return k;
}

static EVP_PKEY *rsa_key(void)
{
    RSA *rsa = RSA_new();
    BIGNUM *e = BN_new();
    assert_int_equal(BN_set_word(e, RSA_F4), 1);
    assert_int_equal(RSA_generate_key_ex(rsa, 2048, e, NULL), 1);
    BN_free(e);
    EVP_PKEY *k = EVP_PKEY_new();
    assert_int_equal(EVP_PKEY_assign_RSA(k, rsa), 1);
    return k;
}

struct ava {
    const char *oid;
    unsigned tag;
    const char *val;
    size_t len; /* 0: strlen(val) */
    int same_rdn;
};

static void add_name(mtlsp_cbb *parent, const struct ava *a, size_t n)
{
    mtlsp_cbb seq, set, atv, oid, val;
    assert_true(mtlsp_cbb_add_asn1(parent, &seq, MTLSP_ASN1_SEQUENCE));
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !a[i].same_rdn) {
            assert_true(mtlsp_cbb_add_asn1(&seq, &set, MTLSP_ASN1_SET));
        }
        size_t len = a[i].len ? a[i].len : strlen(a[i].val);
        assert_true(mtlsp_cbb_add_asn1(&set, &atv, MTLSP_ASN1_SEQUENCE));
        assert_true(mtlsp_cbb_add_asn1(&atv, &oid, MTLSP_ASN1_OBJECT));
        assert_true(mtlsp_cbb_add_asn1_oid_from_text(&oid, a[i].oid, strlen(a[i].oid)));
        assert_true(mtlsp_cbb_add_asn1(&atv, &val, a[i].tag));
        assert_true(mtlsp_cbb_add_bytes(&val, (const uint8_t *)a[i].val, len));
        assert_true(mtlsp_cbb_flush(&set));
    }
    assert_true(mtlsp_cbb_flush(parent));
}

/* Renders a Name built from `a` with mtlsp_render_dn; returns the code, *out the text. */
static int dn_of(char **out, const struct ava *a, size_t n)
{
    mtlsp_cbb cbb;
    uint8_t *der;
    size_t der_len;
    struct buf b = {0};
    mtls_error err = {0};
    assert_true(mtlsp_cbb_init(&cbb, 64));
    add_name(&cbb, a, n);
    assert_true(mtlsp_cbb_finish(&cbb, &der, &der_len));
    mtls_result r = mtlsp_render_dn(&b, der, der_len, &err);
    mtlsp_free(der);
    *out = NULL;
    if (MTLS_IS_OK(r)) {
        assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, "", 0, &err)));
        assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, out, &err)));
    }
    mtlsp_buf_free(&b);
    return r.code;
}

static void expect_dn(const char *want, const struct ava *a, size_t n)
{
    char *got;
    assert_int_equal(dn_of(&got, a, n), MTLS_OK);
    assert_string_equal(got, want);
    mtlsp_free(got);
}

struct gn {
    unsigned tag; /* context-specific tag number */
    const char *val;
    size_t len; /* 0: strlen(val) */
};

/* One Extension into `exts`; `san` entries form its value when `raw` is NULL. */
static void add_ext(mtlsp_cbb *exts, const char *oid_txt, int critical, const uint8_t *raw,
                    size_t raw_len, const struct gn *san, size_t num_san)
{
    mtlsp_cbb ext, oid, oct, seq, name;
    assert_true(mtlsp_cbb_add_asn1(exts, &ext, MTLSP_ASN1_SEQUENCE));
    assert_true(mtlsp_cbb_add_asn1(&ext, &oid, MTLSP_ASN1_OBJECT));
    assert_true(mtlsp_cbb_add_asn1_oid_from_text(&oid, oid_txt, strlen(oid_txt)));
    if (critical) {
        assert_true(mtlsp_cbb_add_asn1_bool(&ext, 1));
    }
    assert_true(mtlsp_cbb_add_asn1(&ext, &oct, MTLSP_ASN1_OCTETSTRING));
    if (raw != NULL) {
        assert_true(mtlsp_cbb_add_bytes(&oct, raw, raw_len));
    } else {
        assert_true(mtlsp_cbb_add_asn1(&oct, &seq, MTLSP_ASN1_SEQUENCE));
        for (size_t i = 0; i < num_san; i++) {
            size_t len = san[i].len ? san[i].len : strlen(san[i].val);
            assert_true(mtlsp_cbb_add_asn1(&seq, &name, MTLSP_ASN1_CONTEXT_SPECIFIC | san[i].tag));
            assert_true(mtlsp_cbb_add_bytes(&name, (const uint8_t *)san[i].val, len));
        }
    }
    assert_true(mtlsp_cbb_flush(exts));
}

struct tcert {
    int version; /* encoded value 0..2; -1 leaves the field out */
    const uint8_t *serial;
    size_t serial_len;
    const struct ava *subject;
    size_t num_subject;
    unsigned nb_tag, na_tag;
    const char *nb, *na;
    EVP_PKEY *key;
    const struct gn *san;
    size_t num_san;
    int dup_ext;
    const uint8_t *trailing;
    size_t trailing_len;
};

static EVP_PKEY *default_key;

static void add_ed25519_alg(mtlsp_cbb *alg)
{
    mtlsp_cbb oid;
    assert_true(mtlsp_cbb_add_asn1(alg, &oid, MTLSP_ASN1_OBJECT));
    assert_true(mtlsp_cbb_add_asn1_oid_from_text(&oid, "1.3.101.112", 11));
    assert_true(mtlsp_cbb_flush(alg));
}
static const uint8_t serial_one[] = {0x01};
static const struct ava default_subject[] = {{"2.5.4.3", MTLSP_ASN1_UTF8STRING, "leaf", 0, 0}};
static const struct ava default_issuer[] = {{"2.5.4.3", MTLSP_ASN1_UTF8STRING, "Test CA", 0, 0}};

/* SubjectPublicKeyInfo of `key` (i2d_PUBKEY: the same in BoringSSL and OpenSSL). */
static void add_spki(mtlsp_cbb *cbb, EVP_PKEY *key)
{
    uint8_t *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    assert_true(len > 0);
    assert_true(mtlsp_cbb_add_bytes(cbb, der, (size_t)len));
    OPENSSL_free(der);
}

static void add_tbs(mtlsp_cbb *cert, const struct tcert *t)
{
    mtlsp_cbb tbs, v, sn, alg, validity, tm, w, exts;
    assert_true(mtlsp_cbb_add_asn1(cert, &tbs, MTLSP_ASN1_SEQUENCE));
    if (t->version >= 0) {
        assert_true(mtlsp_cbb_add_asn1(&tbs, &v, MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED));
        assert_true(mtlsp_cbb_add_asn1_uint64(&v, (uint64_t)t->version));
    }
    assert_true(mtlsp_cbb_add_asn1(&tbs, &sn, MTLSP_ASN1_INTEGER));
    assert_true(mtlsp_cbb_add_bytes(&sn, t->serial ? t->serial : serial_one,
                              t->serial ? t->serial_len : 1));
    assert_true(mtlsp_cbb_add_asn1(&tbs, &alg, MTLSP_ASN1_SEQUENCE));
    add_ed25519_alg(&alg);
    add_name(&tbs, default_issuer, 1);
    assert_true(mtlsp_cbb_add_asn1(&tbs, &validity, MTLSP_ASN1_SEQUENCE));
    assert_true(mtlsp_cbb_add_asn1(&validity, &tm, t->nb_tag ? t->nb_tag : MTLSP_ASN1_UTCTIME));
    assert_true(mtlsp_cbb_add_bytes(&tm, (const uint8_t *)(t->nb ? t->nb : "260102030405Z"),
                              strlen(t->nb ? t->nb : "260102030405Z")));
    assert_true(mtlsp_cbb_add_asn1(&validity, &tm, t->na_tag ? t->na_tag : MTLSP_ASN1_GENERALIZEDTIME));
    assert_true(mtlsp_cbb_add_bytes(&tm, (const uint8_t *)(t->na ? t->na : "20500607080910Z"),
                              strlen(t->na ? t->na : "20500607080910Z")));
    add_name(&tbs, t->subject ? t->subject : default_subject,
             t->subject ? t->num_subject : 1);
    add_spki(&tbs, t->key ? t->key : default_key);
    if (t->version == 2 && (t->num_san > 0 || t->dup_ext)) {
        assert_true(mtlsp_cbb_add_asn1(&tbs, &w, MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED | 3));
        assert_true(mtlsp_cbb_add_asn1(&w, &exts, MTLSP_ASN1_SEQUENCE));
        add_ext(&exts, "2.5.29.17", 0, NULL, 0, t->san, t->num_san);
        if (t->dup_ext) {
            add_ext(&exts, "2.5.29.17", 0, NULL, 0, t->san, t->num_san);
        }
    }
    assert_true(mtlsp_cbb_flush(cert));
}

/* A certificate as DER (the signature is not checked by identity/, so it is filler). */
static uint8_t *build(const struct tcert *t, size_t *out_len)
{
    mtlsp_cbb top, cert, alg, sig;
    uint8_t *der;
    assert_true(mtlsp_cbb_init(&top, 512));
    assert_true(mtlsp_cbb_add_asn1(&top, &cert, MTLSP_ASN1_SEQUENCE));
    add_tbs(&cert, t);
    assert_true(mtlsp_cbb_add_asn1(&cert, &alg, MTLSP_ASN1_SEQUENCE));
    add_ed25519_alg(&alg);
    assert_true(mtlsp_cbb_add_asn1(&cert, &sig, MTLSP_ASN1_BITSTRING));
    assert_true(mtlsp_cbb_add_u8(&sig, 0));
    assert_true(mtlsp_cbb_add_bytes(&sig, (const uint8_t *)"signature", 9));
    if (t->trailing) {
        assert_true(mtlsp_cbb_flush(&top));
        assert_true(mtlsp_cbb_add_bytes(&top, t->trailing, t->trailing_len));
    }
    assert_true(mtlsp_cbb_finish(&top, &der, out_len));
    return der;
}

/* Renders `key` for `der`; returns the code; *known and *out (owned) filled. */
static int render(char **out, int *known, const uint8_t *der, size_t len, const char *key,
                  mtls_error *err)
{
    struct buf b = {0};
    mtls_result r = mtlsp_identity_render(&b, known, der, len, key, err);
    *out = NULL;
    if (MTLS_IS_OK(r)) {
        /* append "" first: mtlsp_buf_take on a never-written buf leaves it unterminated */
        assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, "", 0, err)));
        assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, out, err)));
    } else {
        print_message("render %s: %s (%s)\n", key, err->message, err->where);
        assert_true(b.len == 0);
    }
    mtlsp_buf_free(&b);
    return r.code;
}

static void expect_render(const char *want, const struct tcert *t, const char *key)
{
    size_t len;
    uint8_t *der = build(t, &len);
    char *got;
    int known = -1;
    mtls_error err = {0};
    assert_int_equal(render(&got, &known, der, len, key, &err), MTLS_OK);
    assert_int_equal(known, 1);
    assert_string_equal(got, want);
    mtlsp_free(got);
    mtlsp_free(der);
}

static void expect_parse_error(const struct tcert *t, const char *key)
{
    size_t len;
    uint8_t *der = build(t, &len);
    char *got;
    int known = -1;
    mtls_error err = {0};
    assert_int_equal(render(&got, &known, der, len, key, &err), MTLS_ERR_CERT_PARSE);
    assert_int_equal(err.code, MTLS_ERR_CERT_PARSE);
    assert_true(strlen(err.message) > 0);
    mtlsp_free(der);
}

static char *hex_of(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = d[p[i] >> 4];
        s[2 * i + 1] = d[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static int setup(void **state)
{
    (void)state;
    default_key = ed25519_key();
    return default_key == NULL;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(default_key);
    return 0;
}

/* ---- subject / issuer: Go's pkix.Name.String ----------------------------------------- */

static void add_txt(X509_NAME *n, const char *field, int type, const char *v, int set)
{
    assert_int_equal(X509_NAME_add_entry_by_txt(n, field, type, (const uint8_t *)v,
                                                (int)strlen(v), -1, set),
                     1);
}

/* The real Caddy 2.6.2 string recorded in DESIGN.md §3, from a certificate signed with
 * BoringSSL's X509 API (CN+UID in one RDN, two OUs, emailAddress as IA5String). */
static void subject_design_example(void **state)
{
    (void)state;
    static const char want[] =
        "CN=Zoë Ñandú,OU=R&D\\; \\<Lab\\>+OU=Back\\\\slash=Eq,"
        "O=Example\\, Inc. \\+ \\\"Friends\\\",L=Stuttgart,ST=Baden-Württemberg,C=DE,"
        "1.2.840.113549.1.9.1=#0c0f7a6f65406578616d706c652e6f7267,"
        "0.9.2342.19200300.100.1.1=#13037a6f65";
    X509_NAME *n = X509_NAME_new();
    add_txt(n, "C", V_ASN1_PRINTABLESTRING, "DE", 0);
    add_txt(n, "ST", V_ASN1_UTF8STRING, "Baden-Württemberg", 0);
    add_txt(n, "L", V_ASN1_UTF8STRING, "Stuttgart", 0);
    add_txt(n, "O", V_ASN1_UTF8STRING, "Example, Inc. + \"Friends\"", 0);
    add_txt(n, "OU", V_ASN1_UTF8STRING, "R&D; <Lab>", 0);
    add_txt(n, "OU", V_ASN1_UTF8STRING, "Back\\slash=Eq", 0);
    add_txt(n, "CN", V_ASN1_UTF8STRING, "Zoë Ñandú", 0);
    add_txt(n, "UID", V_ASN1_PRINTABLESTRING, "zoe", -1);
    add_txt(n, "emailAddress", V_ASN1_IA5STRING, "zoe@example.org", 0);
    X509 *x = X509_new();
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
    assert_int_equal(X509_set_subject_name(x, n), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, default_key), 1);
    assert_true(X509_sign(x, default_key, NULL) > 0);
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    assert_true(len > 0);
    char *got;
    int known;
    mtls_error err = {0};
    assert_int_equal(render(&got, &known, der, (size_t)len, "subject", &err), MTLS_OK);
    assert_string_equal(got, want);
    mtlsp_free(got);
    assert_int_equal(render(&got, &known, der, (size_t)len, "issuer", &err), MTLS_OK);
    assert_string_equal(got, want);
    mtlsp_free(got);
    assert_int_equal(render(&got, &known, der, (size_t)len, "serial", &err), MTLS_OK);
    assert_string_equal(got, "4242");
    mtlsp_free(got);
    OPENSSL_free(der);
    X509_free(x);
    X509_NAME_free(n);
}

#define U8 MTLSP_ASN1_UTF8STRING
#define PS MTLSP_ASN1_PRINTABLESTRING
#define IA5 MTLSP_ASN1_IA5STRING
#define N(a) (a), (sizeof(a) / sizeof((a)[0]))

static void subject_field_order(void **state)
{
    (void)state;
    static const struct ava a[] = {
        {"2.5.4.6", PS, "US", 0, 0},         {"2.5.4.8", U8, "CA", 0, 0},
        {"2.5.4.7", U8, "SF", 0, 0},         {"2.5.4.9", U8, "1 Main St", 0, 0},
        {"2.5.4.17", U8, "94000", 0, 0},     {"2.5.4.10", U8, "Org", 0, 0},
        {"2.5.4.11", U8, "Unit", 0, 0},      {"2.5.4.3", U8, "Name", 0, 0},
        {"2.5.4.5", PS, "SN1", 0, 0},        {"2.5.4.42", U8, "Given", 0, 0},
    };
    expect_dn("SERIALNUMBER=SN1,CN=Name,OU=Unit,O=Org,POSTALCODE=94000,STREET=1 Main St,"
              "L=SF,ST=CA,C=US,2.5.4.42=#1305476976656e",
              N(a));
    /* reversed input order gives the same string: Go rebuilds the sequence */
    static const struct ava b[] = {
        {"2.5.4.5", PS, "SN1", 0, 0}, {"2.5.4.3", U8, "Name", 0, 0}, {"2.5.4.6", PS, "US", 0, 0},
        {"2.5.4.10", U8, "Org", 0, 0},
    };
    expect_dn("SERIALNUMBER=SN1,CN=Name,O=Org,C=US", N(b));
}

static void subject_multivalued_rdn_split(void **state)
{
    (void)state;
    static const struct ava a[] = {
        {"2.5.4.10", U8, "Org", 0, 0},
        {"2.5.4.3", U8, "alice", 0, 0},
        {"0.9.2342.19200300.100.1.1", U8, "alice1", 0, 1},
        {"2.5.4.11", U8, "ou", 0, 1},
    };
    expect_dn("CN=alice,OU=ou,O=Org,0.9.2342.19200300.100.1.1=#1306616c69636531", N(a));
}

static void subject_repeated_joined(void **state)
{
    (void)state;
    static const struct ava a[] = {
        {"2.5.4.11", U8, "a", 0, 0}, {"2.5.4.10", U8, "o1", 0, 0}, {"2.5.4.11", U8, "b", 0, 0},
        {"2.5.4.10", U8, "o2", 0, 0}, {"2.5.4.6", PS, "DE", 0, 0}, {"2.5.4.6", PS, "FR", 0, 0},
        {"2.5.4.11", U8, "", 1, 0},
    };
    /* an empty OU still prints (only CN and SERIALNUMBER are dropped when empty) */
    static const struct ava e[] = {{"2.5.4.11", U8, "x", 0, 0}, {"2.5.4.11", U8, "", 0, 0}};
    char *got;
    expect_dn("OU=a+OU=b,O=o1+O=o2,C=DE+C=FR", a, 6);
    expect_dn("OU=x+OU=", N(e));
    /* the 7th entry in `a` has len 1 of "" which is a NUL byte: UTF-8 NUL passes raw */
    assert_int_equal(dn_of(&got, a, 7), MTLS_OK);
    assert_int_equal(memcmp(got, "OU=a+OU=b+OU=\0", 14), 0);
    mtlsp_free(got);
}

static void subject_repeated_cn_last_wins(void **state)
{
    (void)state;
    static const struct ava a[] = {
        {"2.5.4.3", U8, "first", 0, 0}, {"2.5.4.5", PS, "1", 0, 0},
        {"2.5.4.3", U8, "last", 0, 0},  {"2.5.4.5", PS, "2", 0, 0},
    };
    expect_dn("SERIALNUMBER=2,CN=last", N(a));
}

/* A Name whose CN list ends with an empty CN: Go keeps "" and then leaves CN out. */
static void subject_last_cn_empty_dropped(void **state)
{
    (void)state;
    mtlsp_cbb cbb, seq, set, atv, oid, val;
    uint8_t *der;
    size_t len;
    struct buf b = {0};
    mtls_error err = {0};
    assert_true(mtlsp_cbb_init(&cbb, 64));
    assert_true(mtlsp_cbb_add_asn1(&cbb, &seq, MTLSP_ASN1_SEQUENCE));
    const char *vals[] = {"x", "", NULL};
    for (int i = 0; vals[i]; i++) {
        assert_true(mtlsp_cbb_add_asn1(&seq, &set, MTLSP_ASN1_SET));
        assert_true(mtlsp_cbb_add_asn1(&set, &atv, MTLSP_ASN1_SEQUENCE));
        assert_true(mtlsp_cbb_add_asn1(&atv, &oid, MTLSP_ASN1_OBJECT));
        assert_true(mtlsp_cbb_add_asn1_oid_from_text(&oid, "2.5.4.3", 7));
        assert_true(mtlsp_cbb_add_asn1(&atv, &val, U8));
        assert_true(mtlsp_cbb_add_bytes(&val, (const uint8_t *)vals[i], strlen(vals[i])));
        assert_true(mtlsp_cbb_flush(&seq));
    }
    assert_true(mtlsp_cbb_finish(&cbb, &der, &len));
    assert_true(MTLS_IS_OK(mtlsp_render_dn(&b, der, len, &err)));
    assert_int_equal(b.len, 0);
    mtlsp_buf_free(&b);
    mtlsp_free(der);
}

static void subject_unknown_oid_reencoded(void **state)
{
    (void)state;
    /* emailAddress as IA5String: Go re-encodes the string; '@' is not Printable -> UTF8 */
    static const struct ava a[] = {{"1.2.840.113549.1.9.1", IA5, "a@b", 0, 0}};
    expect_dn("1.2.840.113549.1.9.1=#0c03614062", N(a));
    /* UID as UTF8String but printable -> re-encoded as PrintableString (13) */
    static const struct ava b[] = {{"0.9.2342.19200300.100.1.1", U8, "zoe", 0, 0}};
    expect_dn("0.9.2342.19200300.100.1.1=#13037a6f65", N(b));
    /* '*' and '&' are accepted by the parser but not Printable for Marshal */
    static const struct ava c[] = {{"2.5.4.4", PS, "a*b", 0, 0}, {"2.5.4.4", PS, "a&b", 0, 0}};
    expect_dn("2.5.4.4=#0c03612662,2.5.4.4=#0c03612a62", N(c));
    /* T61String is read as Latin-1: 0xE9 -> U+00E9 -> UTF-8 c3 a9 */
    static const struct ava d[] = {{"2.5.4.4", MTLSP_ASN1_T61STRING, "\xe9", 0, 0}};
    expect_dn("2.5.4.4=#0c02c3a9", N(d));
    /* empty value: PrintableString of length 0 */
    static const struct ava e[] = {{"2.5.4.4", U8, "", 0, 0}, {"2.5.4.3", U8, "x", 0, 0}};
    char *got;
    assert_int_equal(dn_of(&got, e, 2), MTLS_OK);
    assert_string_equal(got, "CN=x,2.5.4.4=#1300");
    mtlsp_free(got);
}

static void subject_long_unknown_value(void **state)
{
    (void)state;
    char v[200];
    memset(v, 'a', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    struct ava a[] = {{"2.5.4.4", U8, v, 0, 0}};
    char *got;
    assert_int_equal(dn_of(&got, a, 1), MTLS_OK);
    assert_int_equal(strncmp(got, "2.5.4.4=#1381c7616161", 20), 0); /* long-form length */
    assert_int_equal(strlen(got), strlen("2.5.4.4=#1381c7") + 2 * 199);
    mtlsp_free(got);
}

static void subject_escaping(void **state)
{
    (void)state;
    static const struct ava a[] = {{"2.5.4.3", U8, "a,b+c\"d\\e<f>g;h=i#j", 0, 0}};
    expect_dn("CN=a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h=i#j", N(a));
    static const struct ava b[] = {{"2.5.4.3", U8, "  two  ", 0, 0}};
    expect_dn("CN=\\  two \\ ", N(b));
    static const struct ava c[] = {{"2.5.4.3", U8, "#hash#", 0, 0}};
    expect_dn("CN=\\#hash#", N(c));
    static const struct ava d[] = {{"2.5.4.3", U8, " ", 0, 0}};
    expect_dn("CN=\\ ", N(d));
    /* control bytes and UTF-8 pass through raw (header safety is the proxy's job) */
    static const struct ava e[] = {{"2.5.4.3", U8, "a\r\nb\xc3\xa9", 0, 0}};
    expect_dn("CN=a\r\nb\xc3\xa9", N(e));
}

static void subject_string_types(void **state)
{
    (void)state;
    static const struct ava a[] = {
        {"2.5.4.3", MTLSP_ASN1_BMPSTRING, "\x00Z\x00o\x00\xeb\x00\x00", 8, 0},
        {"2.5.4.10", MTLSP_ASN1_T61STRING, "Caf\xe9", 0, 0},
        {"2.5.4.11", MTLSP_ASN1_NUMERICSTRING, "12 34", 0, 0},
        {"2.5.4.7", IA5, "town", 0, 0},
    };
    expect_dn("CN=Zo\xc3\xab,OU=12 34,O=Caf\xc3\xa9,L=town", N(a));
}

static void subject_empty_name(void **state)
{
    (void)state;
    static const uint8_t empty[] = {0x30, 0x00};
    struct buf b = {0};
    mtls_error err = {0};
    assert_true(MTLS_IS_OK(mtlsp_render_dn(&b, empty, sizeof(empty), &err)));
    assert_int_equal(b.len, 0);
    /* an empty RDN SET is skipped too */
    static const uint8_t empty_set[] = {0x30, 0x02, 0x31, 0x00};
    assert_true(MTLS_IS_OK(mtlsp_render_dn(&b, empty_set, sizeof(empty_set), &err)));
    assert_int_equal(b.len, 0);
    mtlsp_buf_free(&b);
}

static void subject_rejected_values(void **state)
{
    (void)state;
    char *got;
    static const struct ava universal[] = {{"2.5.4.3", MTLSP_ASN1_UNIVERSALSTRING, "\0\0\0a", 4, 0}};
    static const struct ava bad_utf8[] = {{"2.5.4.3", U8, "\xc3(", 0, 0}};
    static const struct ava surrogate_utf8[] = {{"2.5.4.3", U8, "\xed\xa0\x80", 0, 0}};
    static const struct ava bad_printable[] = {{"2.5.4.3", PS, "a@b", 0, 0}};
    static const struct ava bad_ia5[] = {{"2.5.4.3", IA5, "\x80", 0, 0}};
    static const struct ava odd_bmp[] = {{"2.5.4.3", MTLSP_ASN1_BMPSTRING, "\x00", 1, 0}};
    static const struct ava bmp_surrogate[] = {{"2.5.4.3", MTLSP_ASN1_BMPSTRING, "\xd8\x00", 2, 0}};
    static const struct ava bad_numeric[] = {{"2.5.4.3", MTLSP_ASN1_NUMERICSTRING, "12a", 0, 0}};
    static const struct ava integer[] = {{"2.5.4.3", MTLSP_ASN1_INTEGER, "\x01", 0, 0}};
    const struct ava *all[] = {universal, bad_utf8, surrogate_utf8, bad_printable, bad_ia5,
                               odd_bmp, bmp_surrogate, bad_numeric, integer};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(dn_of(&got, all[i], 1), MTLS_ERR_CERT_PARSE);
    }
}

static void subject_malformed_der(void **state)
{
    (void)state;
    struct buf b = {0};
    static const uint8_t truncated[] = {0x30, 0x05, 0x31, 0x03, 0x30};
    static const uint8_t not_seq[] = {0x31, 0x00};
    static const uint8_t bad_oid[] = {0x30, 0x0a, 0x31, 0x08, 0x30, 0x06, 0x06, 0x02,
                                      0x80, 0x01, 0x0c, 0x00}; /* non-minimal arc */
    static const uint8_t no_value[] = {0x30, 0x09, 0x31, 0x07, 0x30, 0x05,
                                       0x06, 0x03, 0x55, 0x04, 0x03};
    const uint8_t *bad[] = {truncated, not_seq, bad_oid, no_value};
    size_t lens[] = {sizeof(truncated), sizeof(not_seq), sizeof(bad_oid), sizeof(no_value)};
    for (size_t i = 0; i < 4; i++) {
        mtls_error err = {0};
        mtls_result r = mtlsp_render_dn(&b, bad[i], lens[i], &err);
        assert_int_equal(r.code, MTLS_ERR_CERT_PARSE);
        assert_int_equal(err.code, MTLS_ERR_CERT_PARSE);
    }
    mtlsp_buf_free(&b);
}

/* ---- SANs ------------------------------------------------------------------------------ */

static const struct gn sans[] = {
    {2, "a.example", 0},
    {1, "a@example.org", 0},
    {7, "\x0a\x00\x00\x01", 4},
    {6, "spiffe://example.org/ns/a", 0},
    {2, "b.example", 0},
    {7, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16},
    {7, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\x00\x02\x01", 16},
    {6, "HTTPS://Example.COM/a b?q=1 2#f g", 0},
    {0, "ignored-otherName?", 0},
};

static void san_lists(void **state)
{
    (void)state;
    struct tcert t = {.version = 2, .san = sans, .num_san = 9};
    expect_render("[a.example b.example]", &t, "san.dns_names");
    expect_render("[a@example.org]", &t, "san.emails");
    expect_render("[10.0.0.1 2001:db8::1 192.0.2.1]", &t, "san.ips");
    expect_render("[spiffe://example.org/ns/a https://Example.COM/a%20b?q=1 2#f%20g]", &t,
                  "san.uris");
    struct tcert none = {.version = 2};
    expect_render("[]", &none, "san.dns_names");
    expect_render("[]", &none, "san.uris");
    struct tcert v1 = {.version = -1};
    expect_render("[]", &v1, "san.ips");
}

static void san_index_forms(void **state)
{
    (void)state;
    struct tcert t = {.version = 2, .san = sans, .num_san = 9};
    expect_render("a.example", &t, "san.dns_names.0");
    expect_render("b.example", &t, "san.dns_names.1");
    expect_render("b.example", &t, "san.dns_names.+1");
    expect_render("a.example", &t, "san.dns_names.-0");
    expect_render("b.example", &t, "SAN.DNS_NAMES.01");
    expect_render("", &t, "san.dns_names.2");
    expect_render("", &t, "san.emails.9223372036854775807");
    expect_render("2001:db8::1", &t, "san.ips.1");
    expect_render("192.0.2.1", &t, "san.ips.2");
    expect_render("https://Example.COM/a%20b?q=1 2#f%20g", &t, "san.uris.1");
    size_t len;
    uint8_t *der = build(&t, &len);
    const char *unknown[] = {"san.dns_names.-1", "san.dns_names.x", "san.dns_names.",
                             "san.dns_names.1x", "san.dns_names.+", "san.dns_namesx",
                             "san.dns_names.9223372036854775808", "san.other", "san.",
                             "san.ips.1.2", "nope", "", "subject.x", " subject"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        char *got;
        int known = -1;
        mtls_error err = {0};
        assert_int_equal(render(&got, &known, der, len, unknown[i], &err), MTLS_OK);
        assert_int_equal(known, 0);
        assert_string_equal(got, "");
        mtlsp_free(got);
    }
    mtlsp_free(der);
}

static void expect_ip(const char *want, const char *ip, size_t len)
{
    struct buf b = {0};
    mtls_error err = {0};
    assert_true(MTLS_IS_OK(mtlsp_ip_append(&b, (const uint8_t *)ip, len, &err)));
    assert_string_equal(b.data, want);
    mtlsp_buf_free(&b);
}

static void san_ip_formats(void **state)
{
    (void)state;
    expect_ip("0.0.0.0", "\0\0\0\0", 4);
    expect_ip("255.1.2.3", "\xff\x01\x02\x03", 4);
    expect_ip("::", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    expect_ip("::1", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    expect_ip("1::", "\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    expect_ip("2001:db8:0:1::1", "\x20\x01\x0d\xb8\0\0\0\x01\0\0\0\0\0\0\0\x01", 16);
    /* the longer run wins even when later; equal runs: the first one */
    expect_ip("2001:0:0:1::1", "\x20\x01\0\0\0\0\0\x01\0\0\0\0\0\0\0\x01", 16);
    expect_ip("1::2:0:0:3:4", "\0\x01\0\0\0\0\0\x02\0\0\0\0\0\x03\0\x04", 16);
    /* a single zero group is never shortened */
    expect_ip("1:0:2:3:4:5:6:7", "\0\x01\0\0\0\x02\0\x03\0\x04\0\x05\0\x06\0\x07", 16);
    expect_ip("fe80::abcd:ef01", "\xfe\x80\0\0\0\0\0\0\0\0\0\0\xab\xcd\xef\x01", 16);
    /* IPv4-mapped prints as IPv4; IPv4-compatible (::a.b.c.d) does not */
    expect_ip("1.2.3.4", "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04", 16);
    expect_ip("::102:304", "\0\0\0\0\0\0\0\0\0\0\0\0\x01\x02\x03\x04", 16);
    struct buf b = {0};
    mtls_error err = {0};
    assert_int_equal(mtlsp_ip_append(&b, (const uint8_t *)"\1\2\3\4\5", 5, &err).code,
                     MTLS_ERR_CERT_PARSE);
    mtlsp_buf_free(&b);
}

static void san_rejected(void **state)
{
    (void)state;
    static const struct gn bad_ip[] = {{7, "\x01\x02\x03\x04\x05", 5}};
    static const struct gn bad_dns[] = {{2, "caf\xc3\xa9.example", 0}};
    static const struct gn bad_email[] = {{1, "\xff@x", 0}};
    static const struct gn bad_uri[] = {{6, "http://a b/", 0}};
    static const struct gn ctl_uri[] = {{6, "spiffe://x/\n", 0}};
    static const struct gn bad_host[] = {{6, "spiffe://a..b/x", 0}};
    const struct gn *all[] = {bad_ip, bad_dns, bad_email, bad_uri, ctl_uri, bad_host};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct tcert t = {.version = 2, .san = all[i], .num_san = 1};
        expect_parse_error(&t, "fingerprint");
    }
    struct tcert dup = {.version = 2, .san = sans, .num_san = 1, .dup_ext = 1};
    expect_parse_error(&dup, "subject");
}

static void expect_url(const char *want, const char *in)
{
    struct buf b = {0};
    mtls_error err = {0};
    mtls_result r = mtlsp_url_append(&b, NULL, in, strlen(in), &err);
    if (want == NULL) {
        assert_int_equal(r.code, MTLS_ERR_CERT_PARSE);
    } else {
        assert_int_equal(r.code, MTLS_OK);
        assert_string_equal(b.data ? b.data : "", want);
    }
    mtlsp_buf_free(&b);
}

static void san_uri_reserialised(void **state)
{
    (void)state;
    expect_url("spiffe://example.org/ns/a%20b", "SPIFFE://example.org/ns/a b");
    expect_url("http://Example.COM/%7efoo", "HTTP://Example.COM/%7efoo");
    expect_url("http://h/a/b%20c", "http://h/a%2Fb c");
    expect_url("https://user:p%40ss@host:8443/p?q=1#frag%20ment",
               "https://user:p%40ss@host:8443/p?q=1#frag ment");
    expect_url("urn:Foo Bar", "urn:Foo Bar");
    expect_url("mailto:Joe@Example.com", "mailto:Joe@Example.com");
    expect_url("http://[::1]:80/x", "http://[::1]:80/x");
    expect_url("file:///etc/x", "file:///etc/x");
    expect_url("s:/p", "s:/p");
    expect_url("x?", "x?");
    expect_url("a?b?c", "a?b?c");
    expect_url("h://a%2541/", "h://a%2541/");
    expect_url(NULL, "h://%c3%a9/"); /* url.Parse accepts; x509's host check does not */
    expect_url("", "");
    expect_url("p#x", "p#x");
    expect_url("p", "p#");
    /* url.Parse errors: the certificate is refused */
    expect_url(NULL, ":foo");
    expect_url(NULL, "1a:b");
    expect_url(NULL, "http://a b/");
    expect_url(NULL, "http://h/%zz");
    expect_url(NULL, "http://h/%4");
    expect_url(NULL, "http://host:port/");
    expect_url(NULL, "http://[example.com]/");
    expect_url(NULL, "http://[::1/");
    expect_url(NULL, "http://u\"ser@h/");
    expect_url(NULL, "http://%41/");
    expect_url(NULL, "x\x7f");
}

static void spiffe_id(void **state)
{
    (void)state;
    static const struct gn one[] = {{6, "spiffe://example.org/ns/a", 0}, {2, "x.example", 0}};
    static const struct gn two[] = {{6, "spiffe://example.org/a", 0},
                                     {6, "spiffe://example.org/b", 0}};
    static const struct gn other[] = {{6, "https://example.org/a", 0}};
    static const struct gn mixed[] = {{6, "spiffe://example.org/a", 0},
                                       {6, "https://example.org/b", 0}};
    static const struct gn upper[] = {{6, "SPIFFE://example.org/a", 0}};
    struct tcert t0 = {.version = 2};
    struct tcert t1 = {.version = 2, .san = one, .num_san = 2};
    struct tcert t2 = {.version = 2, .san = two, .num_san = 2};
    struct tcert t3 = {.version = 2, .san = other, .num_san = 1};
    struct tcert t4 = {.version = 2, .san = mixed, .num_san = 2};
    struct tcert t5 = {.version = 2, .san = upper, .num_san = 1};
    expect_render("", &t0, "spiffe_id");
    expect_render("spiffe://example.org/ns/a", &t1, "spiffe_id");
    expect_render("", &t2, "spiffe_id");
    expect_render("", &t3, "spiffe_id");
    expect_render("", &t4, "spiffe_id");
    expect_render("spiffe://example.org/a", &t5, "spiffe_id");
}

/* ---- serial, keys, encodings, times ---------------------------------------------------- */

static void serial_decimal(void **state)
{
    (void)state;
    static const uint8_t big[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
    static const uint8_t max20[] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[] = {0x00}, minus1[] = {0xff}, minus129[] = {0xff, 0x7f},
                         minus128[] = {0x80}, u64[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                         0xff, 0xff, 0xff};
    struct {
        const uint8_t *p;
        size_t n;
        const char *want;
    } cases[] = {
        {big, sizeof(big), "1339673755198158349044581307228491536"},
        {max20, sizeof(max20), "730750818665451459101842416358141509827966271487"},
        {zero, 1, "0"},
        {minus1, 1, "-1"},
        {minus129, 2, "-129"},
        {minus128, 1, "-128"},
        {u64, sizeof(u64), "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tcert t = {.version = 2, .serial = cases[i].p, .serial_len = cases[i].n};
        expect_render(cases[i].want, &t, "serial");
    }
    static const uint8_t nonminimal[] = {0x00, 0x01};
    struct tcert bad = {.version = 2, .serial = nonminimal, .serial_len = 2};
    expect_parse_error(&bad, "serial");
}

static void expect_key(EVP_PKEY *k, const uint8_t *want, size_t want_len)
{
    struct tcert t = {.version = 2, .key = k};
    char *hex = hex_of(want, want_len);
    expect_render(hex, &t, "public_key");
    free(hex);
    uint8_t md[32];
    SHA256(want, want_len, md);
    hex = hex_of(md, 32);
    expect_render(want_len ? hex : "", &t, "public_key_sha256");
    free(hex);
}

static void expect_ec_key(int nid)
{
    EVP_PKEY *k = ec_key(nid);
    const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(k);
    uint8_t pt[200];
    size_t n = EC_POINT_point2oct(EC_KEY_get0_group(ec), EC_KEY_get0_public_key(ec),
                                  POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt), NULL);
    assert_true(n > 0 && pt[0] == 0x04);
    expect_key(k, pt, nid == NID_secp224r1 ? 0 : n);
    EVP_PKEY_free(k);
}

static void public_key_forms(void **state)
{
    (void)state;
    expect_ec_key(NID_X9_62_prime256v1);
    expect_ec_key(NID_secp384r1);
    expect_ec_key(NID_secp521r1);
    expect_ec_key(NID_secp224r1); /* current Caddy: key.ECDH() fails for P-224 -> empty */
    uint8_t raw[32];
    size_t raw_len = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_public_key(default_key, raw, &raw_len), 1);
    expect_key(default_key, raw, raw_len);
    EVP_PKEY *r = rsa_key();
    uint8_t *pkcs1 = NULL;
    size_t pkcs1_len;
    int n = i2d_RSAPublicKey(EVP_PKEY_get0_RSA(r), &pkcs1);
    assert_true(n > 0);
    pkcs1_len = (size_t)n;
    expect_key(r, pkcs1, pkcs1_len);
    OPENSSL_free(pkcs1);
    EVP_PKEY_free(r);
}

static void fingerprint_and_spki(void **state)
{
    (void)state;
    struct tcert t = {.version = 2};
    size_t len;
    uint8_t *der = build(&t, &len), md[32], *spki = NULL;
    SHA256(der, len, md);
    char *hex = hex_of(md, 32);
    expect_render(hex, &t, "fingerprint");
    expect_render(hex, &t, "FingerPrint");
    free(hex);
    int spki_len = i2d_PUBKEY(default_key, &spki);
    assert_true(spki_len > 0);
    SHA256(spki, (size_t)spki_len, md);
    hex = hex_of(md, 32);
    expect_render(hex, &t, "spki_sha256");
    free(hex);
    OPENSSL_free(spki);
    mtlsp_free(der);
}

static void pem_and_base64(void **state)
{
    (void)state;
    static const struct gn big[] = {{2, "a-rather-long-name-to-make-the-certificate-longer.example", 0},
                                    {2, "another-rather-long-name-for-more-lines.example", 0}};
    struct tcert t = {.version = 2, .san = big, .num_san = 2};
    size_t len;
    uint8_t *der = build(&t, &len);
    char *got;
    int known;
    mtls_error err = {0};
    assert_int_equal(render(&got, &known, der, len, "certificate_pem", &err), MTLS_OK);
    const char *begin = "-----BEGIN CERTIFICATE-----\n", *end = "-----END CERTIFICATE-----\n";
    assert_int_equal(strncmp(got, begin, strlen(begin)), 0);
    size_t total = strlen(got);
    assert_string_equal(got + total - strlen(end), end);
    /* body: full 64-column lines, a shorter last line, each ending in '\n' */
    char b64[4096] = {0};
    size_t b64_len = 0, lines = 0;
    for (const char *p = got + strlen(begin); p < got + total - strlen(end); lines++) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        assert_true(n <= 64 && n > 0);
        if (nl + 1 < got + total - strlen(end)) {
            assert_int_equal(n, 64);
        }
        memcpy(b64 + b64_len, p, n);
        b64_len += n;
        p = nl + 1;
    }
    assert_true(lines >= 4);
    uint8_t back[4096];
    size_t back_len;
    assert_int_equal(test_b64_decode(back, &back_len, sizeof(back), b64, b64_len), 1);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, der, len);
    mtlsp_free(got);
    assert_int_equal(render(&got, &known, der, len, "certificate_der_base64", &err), MTLS_OK);
    assert_int_equal(strlen(got), b64_len);
    assert_memory_equal(got, b64, b64_len);
    mtlsp_free(got);
    mtlsp_free(der);
}

static void validity_times(void **state)
{
    (void)state;
    struct tcert t = {.version = 2};
    expect_render("2026-01-02T03:04:05Z", &t, "not_before");
    expect_render("2050-06-07T08:09:10Z", &t, "not_after");
    struct tcert old = {.version = 2, .nb = "500101000000Z", .na_tag = MTLSP_ASN1_UTCTIME,
                        .na = "491231235959Z"};
    expect_render("1950-01-01T00:00:00Z", &old, "not_before");
    expect_render("2049-12-31T23:59:59Z", &old, "not_after");
    struct tcert off = {.version = 2, .nb = "2601020304+0130", .na_tag = MTLSP_ASN1_GENERALIZEDTIME,
                        .na = "20000229235959-0100"};
    expect_render("2026-01-02T01:34:00Z", &off, "not_before");
    expect_render("2000-03-01T00:59:59Z", &off, "not_after");
    const char *bad_utc[] = {"260102030405+0000", "260230000000Z", "261301000000Z",
                             "260102240000Z", "260102030460Z", "2601020304Z0", "26010203Z",
                             "260102030405", "2601020304.5Z"};
    for (size_t i = 0; i < sizeof(bad_utc) / sizeof(bad_utc[0]); i++) {
        struct tcert b = {.version = 2, .nb = bad_utc[i]};
        expect_parse_error(&b, "not_before");
    }
    const char *bad_gen[] = {"20260102030405.5Z", "202601020304Z", "21000229000000Z"};
    for (size_t i = 0; i < sizeof(bad_gen) / sizeof(bad_gen[0]); i++) {
        struct tcert b = {.version = 2, .na = bad_gen[i]};
        expect_parse_error(&b, "not_after");
    }
    struct tcert wrong_type = {.version = 2, .nb_tag = MTLSP_ASN1_OCTETSTRING};
    expect_parse_error(&wrong_type, "subject");
}

static void xfcc_element(void **state)
{
    (void)state;
    static const struct ava subj[] = {{"2.5.4.3", U8, "a, \"b\"", 0, 0}};
    static const struct gn s[] = {{6, "spiffe://example.org/x", 0}, {2, "a.example", 0},
                                  {6, "https://h/p;q=1", 0}};
    struct tcert t = {.version = 2, .subject = subj, .num_subject = 1, .san = s, .num_san = 3};
    size_t len;
    uint8_t *der = build(&t, &len), md[32];
    SHA256(der, len, md);
    char *hex = hex_of(md, 32), want[512];
    snprintf(want, sizeof(want), "Hash=%s%s", hex,
             ";Subject=\"CN=a\\\\, \\\\\\\"b\\\\\\\"\";URI=spiffe://example.org/x"
             ";URI=\"https://h/p;q=1\";DNS=a.example");
    expect_render(want, &t, "xfcc");
    free(hex);
    mtlsp_free(der);
}

/* ---- whole-certificate errors, key list, allocation failures --------------------------- */

static void malformed_certificates(void **state)
{
    (void)state;
    static const uint8_t garbage[] = {0x01, 0x02, 0x03};
    static const uint8_t empty_seq[] = {0x30, 0x00};
    const uint8_t *bad[] = {garbage, empty_seq};
    size_t lens[] = {sizeof(garbage), sizeof(empty_seq)};
    for (size_t i = 0; i < 2; i++) {
        char *got;
        int known = -1;
        mtls_error err = {0};
        assert_int_equal(render(&got, &known, bad[i], lens[i], "subject", &err),
                         MTLS_ERR_CERT_PARSE);
        assert_int_equal(known, 1);
        assert_true(strstr(err.message, "x509:") != NULL);
    }
    /* truncated and trailing-data copies of a good certificate */
    struct tcert t = {.version = 2};
    size_t len;
    uint8_t *der = build(&t, &len);
    char *got;
    int known;
    mtls_error err = {0};
    assert_int_equal(render(&got, &known, der, len - 1, "fingerprint", &err),
                     MTLS_ERR_CERT_PARSE);
    mtlsp_free(der);
    static const uint8_t extra[] = {0x00};
    struct tcert trailing = {.version = 2, .trailing = extra, .trailing_len = 1};
    expect_parse_error(&trailing, "fingerprint");
    struct tcert bad_version = {.version = 3};
    expect_parse_error(&bad_version, "subject");
    /* NULL / empty DER */
    err = (mtls_error){0};
    assert_int_equal(render(&got, &known, NULL, 0, "subject", &err), MTLS_ERR_CERT_PARSE);
    /* an unknown key never looks at the DER */
    assert_int_equal(render(&got, &known, garbage, sizeof(garbage), "bogus", &err), MTLS_OK);
    assert_int_equal(known, 0);
    mtlsp_free(got);
}

static void keys_list_complete(void **state)
{
    (void)state;
    static const struct gn s[] = {{2, "a.example", 0}};
    struct tcert t = {.version = 2, .san = s, .num_san = 1};
    size_t len, n = 0;
    uint8_t *der = build(&t, &len);
    for (const char *const *k = mtlsp_identity_keys; *k != NULL; k++, n++) {
        char *got;
        int known = -1;
        mtls_error err = {0};
        assert_int_equal(render(&got, &known, der, len, *k, &err), MTLS_OK);
        assert_int_equal(known, 1);
        mtlsp_free(got);
    }
    assert_int_equal(n, 17);
    mtlsp_free(der);
}

static void allocation_failures(void **state)
{
    (void)state;
    struct tcert t = {.version = 2, .san = sans, .num_san = 9};
    size_t len;
    uint8_t *der = build(&t, &len);
    const char *keys[] = {"subject", "san.uris", "xfcc", "serial", "certificate_pem",
                          "public_key"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        int ok = 0;
        for (long n = 0; n < 1000 && !ok; n++) {
            struct buf b = {0};
            int known;
            mtls_error err = {0};
            mtlsp_mem_fail_after(n);
            mtls_result r = mtlsp_identity_render(&b, &known, der, len, keys[k], &err);
            mtlsp_mem_fail_after(-1);
            if (MTLS_IS_OK(r)) {
                ok = 1;
            } else {
                assert_int_equal(r.code, MTLS_ERR_NOMEM);
            }
            mtlsp_buf_free(&b);
        }
        assert_true(ok);
    }
    mtlsp_free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subject_design_example),
        cmocka_unit_test(subject_field_order),
        cmocka_unit_test(subject_multivalued_rdn_split),
        cmocka_unit_test(subject_repeated_joined),
        cmocka_unit_test(subject_repeated_cn_last_wins),
        cmocka_unit_test(subject_last_cn_empty_dropped),
        cmocka_unit_test(subject_unknown_oid_reencoded),
        cmocka_unit_test(subject_long_unknown_value),
        cmocka_unit_test(subject_escaping),
        cmocka_unit_test(subject_string_types),
        cmocka_unit_test(subject_empty_name),
        cmocka_unit_test(subject_rejected_values),
        cmocka_unit_test(subject_malformed_der),
        cmocka_unit_test(san_lists),
        cmocka_unit_test(san_index_forms),
        cmocka_unit_test(san_ip_formats),
        cmocka_unit_test(san_rejected),
        cmocka_unit_test(san_uri_reserialised),
        cmocka_unit_test(spiffe_id),
        cmocka_unit_test(serial_decimal),
        cmocka_unit_test(public_key_forms),
        cmocka_unit_test(fingerprint_and_spki),
        cmocka_unit_test(pem_and_base64),
        cmocka_unit_test(validity_times),
        cmocka_unit_test(xfcc_element),
        cmocka_unit_test(malformed_certificates),
        cmocka_unit_test(keys_list_complete),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
