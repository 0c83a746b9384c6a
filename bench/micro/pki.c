/* bench/micro/pki.c - see pki.h. */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

const char *const typical_placeholders[NUM_TYPICAL] = {
    "http.request.tls.client.subject", "http.request.tls.client.verified",
    "http.request.tls.client.serial", "http.request.tls.client.fingerprint"};

static void die_tls(const char *what)
{
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    die("%s: %s", what, buf);
}

EVP_PKEY *pki_key(enum key_type t)
{
    EVP_PKEY *k = EVP_PKEY_new();
    if (k == NULL) {
        die_tls("EVP_PKEY_new");
    }
    if (t == KEY_ED25519) {
        EVP_PKEY_free(k);
        EVP_PKEY *out = NULL;
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        if (c == NULL || !EVP_PKEY_keygen_init(c) || !EVP_PKEY_keygen(c, &out)) {
            die_tls("Ed25519 keygen");
        }
        EVP_PKEY_CTX_free(c);
        return out;
    }
    EC_KEY *ec = EC_KEY_new_by_curve_name(t == KEY_P256 ? NID_X9_62_prime256v1 : NID_secp384r1);
    if (ec == NULL || !EC_KEY_generate_key(ec) || !EVP_PKEY_assign_EC_KEY(k, ec)) {
        die_tls("EC keygen");
    }
    return k;
}

/* set_name fills `name` from "/K=V/K=V" (values hold no '/'). */
static void set_name(X509_NAME *name, const char *subject)
{
    const char *p = subject;
    while (*p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
        char comp[256];
        if (n >= sizeof(comp)) {
            die("subject component too long: %s", subject);
        }
        memcpy(comp, p + 1, n);
        comp[n] = '\0';
        char *eq = strchr(comp, '=');
        if (eq == NULL) {
            die("bad subject component: %s", comp);
        }
        *eq = '\0';
        if (!X509_NAME_add_entry_by_txt(name, comp, MBSTRING_UTF8, (const uint8_t *)(eq + 1), -1,
                                        -1, 0)) {
            die_tls("X509_NAME_add_entry_by_txt");
        }
        p += n + 1;
    }
    if (*p != '\0') {
        die("subject must start with '/': %s", subject);
    }
}

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    if (e == NULL || !X509_add_ext(x, e, -1)) {
        die_tls("X509V3_EXT_nconf_nid");
    }
    X509_EXTENSION_free(e);
}

static void set_serial(X509 *x)
{
    uint8_t b[16];
    RAND_bytes(b, sizeof(b));
    b[0] = (uint8_t)(0x40 | (b[0] & 0x3f)); /* positive, always 16 bytes */
    BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (ai == NULL || !X509_set_serialNumber(x, ai)) {
        die_tls("serial");
    }
    ASN1_INTEGER_free(ai);
    BN_free(bn);
}

static const EVP_MD *md_for(EVP_PKEY *k)
{
    if (EVP_PKEY_id(k) == EVP_PKEY_ED25519) {
        return NULL;
    }
    return EVP_PKEY_bits(k) > 256 ? EVP_sha384() : EVP_sha256();
}

X509 *pki_cert(enum cert_kind kind, const char *subject, const char *san, EVP_PKEY *key,
               X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    if (x == NULL || !X509_set_version(x, X509_VERSION_3)) {
        die_tls("X509_new");
    }
    set_serial(x);
    set_name(X509_get_subject_name(x), subject);
    if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                        : X509_get_subject_name(x)) ||
        !X509_set_pubkey(x, key)) {
        die_tls("X509 names/key");
    }
    long days = kind == CERT_CA ? 3650 : 365;
    if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) == NULL) {
        die_tls("validity");
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &v3, NID_basic_constraints,
            kind == CERT_CA ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, &v3, NID_key_usage,
            kind == CERT_CA ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (kind != CERT_CA) {
        add_ext(x, &v3, NID_ext_key_usage, kind == CERT_CLIENT ? "clientAuth" : "serverAuth");
    }
    add_ext(x, &v3, NID_subject_key_identifier, "hash");
    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
    if (san != NULL) {
        add_ext(x, &v3, NID_subject_alt_name, san);
    }
    EVP_PKEY *signer = issuer_key ? issuer_key : key;
    if (!X509_sign(x, signer, md_for(signer))) {
        die_tls("X509_sign");
    }
    return x;
}

uint8_t *pki_der(X509 *x, size_t *out_len)
{
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0) {
        die_tls("i2d_X509");
    }
    uint8_t *copy = malloc((size_t)n);
    if (copy == NULL) {
        die("out of memory");
    }
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    *out_len = (size_t)n;
    return copy;
}

char *pki_b64(const uint8_t *der, size_t len)
{
    size_t n = 0;
    if (!EVP_EncodedLength(&n, len)) {
        die("base64 length overflow");
    }
    char *out = malloc(n);
    if (out == NULL) {
        die("out of memory");
    }
    EVP_EncodeBlock((uint8_t *)out, der, len);
    return out;
}

void pki_pem_append(struct text *t, const uint8_t *der, size_t len)
{
    char *b64 = pki_b64(der, len);
    size_t n = strlen(b64);
    text_add(t, "-----BEGIN CERTIFICATE-----\n");
    for (size_t i = 0; i < n; i += 64) {
        text_addn(t, b64 + i, n - i < 64 ? n - i : 64);
        text_addn(t, "\n", 1);
    }
    text_add(t, "-----END CERTIFICATE-----\n");
    free(b64);
}

static void write_cert(char *out_path, const char *name, const uint8_t *der, size_t len)
{
    struct text t = {0};
    pki_pem_append(&t, der, len);
    snprintf(out_path, 256, "%s", tmp_path(name));
    write_file(out_path, t.s, t.len);
    text_free(&t);
}

static void write_key(char *out_path, const char *name, EVP_PKEY *k)
{
    snprintf(out_path, 256, "%s", tmp_path(name));
    BIO *b = BIO_new_file(out_path, "w");
    if (b == NULL || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        die_tls("writing a key");
    }
    BIO_free(b);
}

void bench_pki_make(struct bench_pki *p)
{
    memset(p, 0, sizeof(*p));
    p->ca_key = pki_key(KEY_ED25519);
    p->ca = pki_cert(CERT_CA, "/C=US/O=libmtls bench/CN=Bench Client CA", NULL, p->ca_key, NULL,
                     NULL);
    p->alice_key = pki_key(KEY_P384);
    p->alice = pki_cert(CERT_CLIENT, ALICE_SUBJECT, ALICE_SAN, p->alice_key, p->ca, p->ca_key);
    p->bob_key = pki_key(KEY_P384);
    p->bob = pki_cert(CERT_CLIENT, "/C=US/O=libmtls bench/OU=Engineering/CN=bob",
                      "DNS:bob.example.com", p->bob_key, p->ca, p->ca_key);
    p->server_key = pki_key(KEY_P256);
    p->server = pki_cert(CERT_SERVER, "/O=libmtls bench/CN=localhost", "DNS:localhost",
                         p->server_key, NULL, NULL);
    p->ca_der = pki_der(p->ca, &p->ca_der_len);
    p->alice_der = pki_der(p->alice, &p->alice_der_len);
    p->bob_der = pki_der(p->bob, &p->bob_der_len);
    size_t server_len = 0;
    uint8_t *server_der = pki_der(p->server, &server_len);
    write_cert(p->ca_file, "ca.pem", p->ca_der, p->ca_der_len);
    write_cert(p->alice_file, "alice.pem", p->alice_der, p->alice_der_len);
    write_cert(p->server_file, "server.pem", server_der, server_len);
    free(server_der);
    write_key(p->alice_key_file, "alice.key.pem", p->alice_key);
    write_key(p->server_key_file, "server.key.pem", p->server_key);
}

void bench_pki_free(struct bench_pki *p)
{
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->alice_key);
    EVP_PKEY_free(p->bob_key);
    EVP_PKEY_free(p->server_key);
    X509_free(p->ca);
    X509_free(p->alice);
    X509_free(p->bob);
    X509_free(p->server);
    free(p->ca_der);
    free(p->alice_der);
    free(p->bob_der);
    memset(p, 0, sizeof(*p));
}
