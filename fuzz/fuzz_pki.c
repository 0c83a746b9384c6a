/*
 * fuzz/fuzz_pki.c - the fixed in-memory PKI of the fuzz targets, and the certificate
 * builder that fuzz/mkseeds.c uses for seed chains.
 *
 * Determinism: keys come from fixed seeds (Ed25519 from a SHA-256 of the seed text, P-256
 * as BoringSSL's EC_KEY_derive_from_secret derives it, computed here with calls BoringSSL and
 * OpenSSL 3 both have), validity times and serials are fixed, and every issuer of the fixed
 * PKI is Ed25519, whose signatures are deterministic: the DER is the same on every run and
 * in both builds (-Dtls_backend), so seeds that embed it (policy documents, chains) keep
 * meaning the same thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h> /* BoringSSL: EC_KEY (openssl/ec_key.h, which OpenSSL lacks) */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fuzz_mtls.h"

struct fuzz_cert {
    X509 *x;
    EVP_PKEY *key;
};

/* 2020-01-01, 2024-01-01, 2030-01-01, 2040-01-01 (UTC). */
#define T2020 INT64_C(1577836800)
#define T2024 INT64_C(1704067200)
#define T2030 INT64_C(1893456000)
#define T2040 INT64_C(2208988800)

const struct fuzz_cert_spec fuzz_spec_root = {
    .key_kind = FUZZ_KEY_ED25519,
    .key_seed = "libmtls fuzz root",
    .subject = {{"O", "libmtls fuzz"}, {"CN", "libmtls fuzz root CA"}},
    .serial = 1,
    .not_before = T2020,
    .not_after = T2040,
    .basic_constraints = "critical,CA:TRUE",
    .key_usage = "critical,keyCertSign,cRLSign",
};

const struct fuzz_cert_spec fuzz_spec_inter = {
    .key_kind = FUZZ_KEY_ED25519,
    .key_seed = "libmtls fuzz intermediate",
    .subject = {{"O", "libmtls fuzz"}, {"CN", "libmtls fuzz intermediate CA"}},
    .serial = 2,
    .not_before = T2020,
    .not_after = T2040,
    .basic_constraints = "critical,CA:TRUE,pathlen:0",
    .key_usage = "critical,keyCertSign,cRLSign",
    .ext_key_usage = "clientAuth,serverAuth",
};

const struct fuzz_cert_spec fuzz_spec_leaf = {
    .key_kind = FUZZ_KEY_P256,
    .key_seed = "libmtls fuzz leaf",
    .subject = {{"C", "DE"},
                {"O", "libmtls fuzz"},
                {"OU", "clients"},
                {"CN", "client.example"}},
    .serial = 0x1001,
    .not_before = T2024,
    .not_after = T2030,
    .basic_constraints = "critical,CA:FALSE",
    .key_usage = "critical,digitalSignature",
    .ext_key_usage = "clientAuth",
    .subject_alt_name = "DNS:client.example,DNS:*.example.net,email:client@example.com,"
                        "IP:192.0.2.7,IP:2001:db8::7,URI:spiffe://example.org/ns/prod/client",
};

const struct fuzz_cert_spec fuzz_spec_stranger = {
    .key_kind = FUZZ_KEY_ED25519,
    .key_seed = "libmtls fuzz stranger",
    .subject = {{"CN", "stranger"}},
    .serial = 7,
    .not_before = T2024,
    .not_after = T2030,
    .ext_key_usage = "clientAuth",
};

/* HKDF-SHA256 (RFC 5869) with an empty salt, 48 bytes of output (two HMAC blocks). */
static int hkdf_sha256_48(uint8_t out[48], const uint8_t *secret, size_t secret_len,
                          const char *info)
{
    static const uint8_t zeros[SHA256_DIGEST_LENGTH];
    uint8_t prk[SHA256_DIGEST_LENGTH], t2[SHA256_DIGEST_LENGTH];
    uint8_t block[SHA256_DIGEST_LENGTH + 64 + 1];
    size_t info_len = strlen(info);
    unsigned md_len = 0;
    if (info_len > 64 ||
        HMAC(EVP_sha256(), zeros, sizeof(zeros), secret, secret_len, prk, &md_len) == NULL) {
        return 0;
    }
    /* T(1) = HMAC(PRK, info | 1), T(2) = HMAC(PRK, T(1) | info | 2) */
    memcpy(block, info, info_len);
    block[info_len] = 1;
    if (HMAC(EVP_sha256(), prk, sizeof(prk), block, info_len + 1, out, &md_len) == NULL) {
        return 0;
    }
    memcpy(block, out, SHA256_DIGEST_LENGTH);
    memcpy(block + SHA256_DIGEST_LENGTH, info, info_len);
    block[SHA256_DIGEST_LENGTH + info_len] = 2;
    if (HMAC(EVP_sha256(), prk, sizeof(prk), block, SHA256_DIGEST_LENGTH + info_len + 1, t2,
             &md_len) == NULL) {
        return 0;
    }
    memcpy(out + SHA256_DIGEST_LENGTH, t2, 48 - SHA256_DIGEST_LENGTH);
    return 1;
}

/* The P-256 key BoringSSL's EC_KEY_derive_from_secret(P-256, seed) gives: 48 bytes of
 * HKDF-SHA256(seed, info "derive EC key P-256") reduced modulo the group order (128 bits
 * more than the order, so the bias is negligible). */
static EC_KEY *derive_p256(const char *seed)
{
    uint8_t okm[48];
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    const EC_GROUP *group = ec != NULL ? EC_KEY_get0_group(ec) : NULL;
    BN_CTX *bn_ctx = BN_CTX_new();
    BIGNUM *priv = BN_new();
    EC_POINT *pub = group != NULL ? EC_POINT_new(group) : NULL;
    int ok = pub != NULL && bn_ctx != NULL && priv != NULL &&
             hkdf_sha256_48(okm, (const uint8_t *)seed, strlen(seed), "derive EC key P-256") &&
             BN_bin2bn(okm, sizeof(okm), priv) != NULL &&
             BN_nnmod(priv, priv, EC_GROUP_get0_order(group), bn_ctx) &&
             EC_POINT_mul(group, pub, priv, NULL, NULL, bn_ctx) &&
             EC_KEY_set_private_key(ec, priv) && EC_KEY_set_public_key(ec, pub);
    EC_POINT_free(pub);
    BN_free(priv);
    BN_CTX_free(bn_ctx);
    if (!ok) {
        EC_KEY_free(ec);
        return NULL;
    }
    return ec;
}

static EVP_PKEY *make_key(const struct fuzz_cert_spec *s)
{
    if (s->key_kind == FUZZ_KEY_ED25519) {
        uint8_t seed[SHA256_DIGEST_LENGTH];
        SHA256((const uint8_t *)s->key_seed, strlen(s->key_seed), seed);
        return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    }
    EC_KEY *ec = derive_p256(s->key_seed);
    EVP_PKEY *key = EVP_PKEY_new();
    if (ec == NULL || key == NULL || !EVP_PKEY_assign_EC_KEY(key, ec)) {
        EC_KEY_free(ec);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    if (value == NULL) {
        return 1;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int build(X509 *x, EVP_PKEY *key, const struct fuzz_cert_spec *s,
                 const struct fuzz_cert *issuer)
{
    X509 *ix = issuer ? issuer->x : x;
    EVP_PKEY *signer = issuer ? issuer->key : key;
    X509_NAME *name = X509_get_subject_name(x);
    for (size_t i = 0; i < 8 && s->subject[i][0] != NULL; i++) {
        if (!X509_NAME_add_entry_by_txt(name, s->subject[i][0], MBSTRING_UTF8,
                                        (const uint8_t *)s->subject[i][1], -1, -1, 0)) {
            return 0;
        }
    }
    if (!X509_set_version(x, s->version1 ? X509_VERSION_1 : X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ix)) || !X509_set_pubkey(x, key)) {
        return 0;
    }
    if (!s->version1) {
        if (!add_ext(x, ix, NID_basic_constraints, s->basic_constraints) ||
            !add_ext(x, ix, NID_key_usage, s->key_usage) ||
            !add_ext(x, ix, NID_ext_key_usage, s->ext_key_usage) ||
            !add_ext(x, ix, NID_subject_alt_name, s->subject_alt_name) ||
            !add_ext(x, ix, NID_name_constraints, s->name_constraints) ||
            !add_ext(x, ix, NID_subject_key_identifier, "hash") ||
            (issuer != NULL && !add_ext(x, ix, NID_authority_key_identifier, "keyid:always"))) {
            return 0;
        }
    }
    const EVP_MD *md = EVP_PKEY_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    return X509_sign(x, signer, md) > 0;
}

struct fuzz_cert *fuzz_cert_new(const struct fuzz_cert_spec *spec, const struct fuzz_cert *issuer)
{
    struct fuzz_cert *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->x = X509_new();
    c->key = make_key(spec);
    if (c->x == NULL || c->key == NULL || !build(c->x, c->key, spec, issuer)) {
        ERR_clear_error();
        fuzz_cert_free(c);
        return NULL;
    }
    return c;
}

int fuzz_cert_der(const struct fuzz_cert *c, struct fuzz_der *out)
{
    uint8_t *der = NULL;
    int n = i2d_X509(c->x, &der);
    out->der = NULL;
    out->len = 0;
    if (n <= 0) {
        return 0;
    }
    out->der = malloc((size_t)n);
    if (out->der != NULL) {
        memcpy(out->der, der, (size_t)n);
        out->len = (size_t)n;
    }
    OPENSSL_free(der);
    return out->der != NULL;
}

void fuzz_cert_free(struct fuzz_cert *c)
{
    if (c != NULL) {
        X509_free(c->x);
        EVP_PKEY_free(c->key);
        free(c);
    }
}

char *fuzz_base64(const uint8_t *p, size_t n)
{
    /* EVP_EncodeBlock takes an int length in OpenSSL (size_t in BoringSSL). */
    if (n > (size_t)INT32_MAX / 4 * 3 - 3) {
        return NULL;
    }
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out != NULL) {
        EVP_EncodeBlock((uint8_t *)out, p, (int)n);
    }
    return out;
}

static struct fuzz_pki pki;
static int pki_ready;

/* Lives until exit, like libFuzzer's own state; LeakSanitizer sees it as reachable. */
const struct fuzz_pki *fuzz_pki_get(void)
{
    if (pki_ready) {
        return &pki;
    }
    struct fuzz_cert *root = fuzz_cert_new(&fuzz_spec_root, NULL);
    struct fuzz_cert *inter = root ? fuzz_cert_new(&fuzz_spec_inter, root) : NULL;
    struct fuzz_cert *leaf = inter ? fuzz_cert_new(&fuzz_spec_leaf, inter) : NULL;
    struct fuzz_cert *stranger = fuzz_cert_new(&fuzz_spec_stranger, NULL);
    if (leaf == NULL || stranger == NULL || !fuzz_cert_der(root, &pki.root) ||
        !fuzz_cert_der(inter, &pki.inter) || !fuzz_cert_der(leaf, &pki.leaf) ||
        !fuzz_cert_der(stranger, &pki.stranger) ||
        (pki.root_b64 = fuzz_base64(pki.root.der, pki.root.len)) == NULL ||
        (pki.inter_b64 = fuzz_base64(pki.inter.der, pki.inter.len)) == NULL ||
        (pki.leaf_b64 = fuzz_base64(pki.leaf.der, pki.leaf.len)) == NULL) {
        fprintf(stderr, "fuzz_pki: building the fixed PKI failed\n");
        abort();
    }
    fuzz_cert_free(root);
    fuzz_cert_free(inter);
    fuzz_cert_free(leaf);
    fuzz_cert_free(stranger);
    pki_ready = 1;
    return &pki;
}
