/*
 * demo_pki.c - the throwaway PKI of `mtls-proxy demo` (see demo_pki.h), made in C with
 * BoringSSL so that the demo needs no openssl CLI and no files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "demo_pki.h"

#define VALID_BEFORE_NOW_SECS (60L * 60)      /* notBefore = now - 1 h (clock skew) */
#define VALID_AFTER_NOW_SECS (24L * 60 * 60)  /* notAfter = now + 1 day */

enum key_type { KEY_ED25519, KEY_P256, KEY_P384 };
enum profile { PROFILE_CA, PROFILE_CLIENT, PROFILE_SERVER };

struct cert_spec {
    const char *cert_file;
    const char *key_file;
    const char *cn;
    enum key_type key_type;
    enum profile profile;
    int issuer; /* index of an earlier entry, or -1 for self-signed */
};

static const struct cert_spec specs[] = {
    {DEMO_PKI_CA_CERT, "ca-key.pem", "libmtls demo client CA", KEY_ED25519, PROFILE_CA, -1},
    {DEMO_PKI_ALICE_CERT, DEMO_PKI_ALICE_KEY, "alice", KEY_P384, PROFILE_CLIENT, 0},
    {"mallory-ca.pem", "mallory-ca-key.pem", "libmtls demo untrusted CA", KEY_ED25519,
     PROFILE_CA, -1},
    {DEMO_PKI_MALLORY_CERT, DEMO_PKI_MALLORY_KEY, "mallory", KEY_P384, PROFILE_CLIENT, 2},
    {DEMO_PKI_SERVER_CA, "server-ca-key.pem", "libmtls demo server CA", KEY_P256, PROFILE_CA,
     -1},
    {DEMO_PKI_SERVER_CERT, DEMO_PKI_SERVER_KEY, "localhost", KEY_P256, PROFILE_SERVER, 4},
};
#define NUM_SPECS (sizeof(specs) / sizeof(specs[0]))

struct ext {
    int nid;
    const char *value; /* OpenSSL config syntax */
};

/* Extensions per profile, in order: SKI must precede AKI (a self-signed AKI reads it). */
static const struct ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};
static const struct ext client_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "clientAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};
static const struct ext server_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};

/* An issued certificate and its key, kept so that later entries can be signed by it. */
struct issued {
    X509 *cert;
    EVP_PKEY *key;
};

/* fail formats `fmt` into `err`, appends the first queued BoringSSL error, returns -1. */
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err_len == 0) {
        ERR_clear_error();
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    uint32_t e = ERR_get_error();
    if (e != 0 && n >= 0 && (size_t)n < err_len) {
        char buf[160];
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err + n, err_len - (size_t)n, " (%s)", buf);
    }
    ERR_clear_error();
    return -1;
}

static EVP_PKEY *new_key(enum key_type type)
{
    EVP_PKEY *key = NULL;
    int id = type == KEY_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_EC;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(id, NULL);
    if (pctx == NULL || !EVP_PKEY_keygen_init(pctx)) {
        goto out;
    }
    if (type != KEY_ED25519 &&
        !EVP_PKEY_CTX_set_ec_paramgen_curve_nid(
            pctx, type == KEY_P256 ? NID_X9_62_prime256v1 : NID_secp384r1)) {
        goto out;
    }
    if (!EVP_PKEY_keygen(pctx, &key)) {
        key = NULL;
    }
out:
    EVP_PKEY_CTX_free(pctx);
    return key;
}

/* random_serial sets a random positive 63-bit serial number (RFC 5280: at most 20 octets). */
static int random_serial(X509 *x)
{
    uint8_t b[8];
    if (!RAND_bytes(b, sizeof(b))) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(b); i++) {
        v = (v << 8) | b[i];
    }
    v = (v & 0x7fffffffffffffffULL) | 0x4000000000000000ULL; /* positive, never short */
    return ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), v);
}

/* set_fields fills everything but the extensions and the signature; 1 on success. */
static int set_fields(X509 *x, const struct cert_spec *spec, EVP_PKEY *key, X509 *issuer)
{
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3) || !random_serial(x) ||
        X509_gmtime_adj(X509_getm_notBefore(x), -VALID_BEFORE_NOW_SECS) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), VALID_AFTER_NOW_SECS) == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)spec->cn, -1,
                                    -1, 0) ||
        !X509_set_pubkey(x, key)) {
        return 0;
    }
    return X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
}

static int add_exts(X509 *x, X509 *issuer, enum profile profile)
{
    const struct ext *exts = profile == PROFILE_CA       ? ca_exts
                             : profile == PROFILE_CLIENT ? client_exts
                                                         : server_exts;
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    for (; exts->nid != 0; exts++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, exts->nid, exts->value);
        int ok = ext != NULL && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* Ed25519 signs the message itself (no digest); ECDSA with the digest matching the curve. */
static const EVP_MD *digest_for(const EVP_PKEY *key)
{
    if (EVP_PKEY_id(key) == EVP_PKEY_ED25519) {
        return NULL;
    }
    return EVP_PKEY_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
}

/* write_file writes `len` bytes to DIR/NAME, which must not exist, with `mode`. */
static int write_file(const char *dir, const char *name, mode_t mode, const uint8_t *data,
                      size_t len, char *err, size_t err_len)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        return fail(err, err_len, "path too long: %s/%s", dir, name);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return fail(err, err_len, "cannot create %s: %s", path, strerror(errno));
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = errno;
            close(fd);
            return fail(err, err_len, "cannot write %s: %s", path, strerror(e));
        }
        data += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        return fail(err, err_len, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

/* write_pem renders the key (PKCS#8, unencrypted) or the certificate and writes it. */
static int write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, char *err,
                     size_t err_len)
{
    const uint8_t *data;
    size_t len;
    int rc = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL &&
             (key != NULL ? PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_X509(bio, cert)) &&
             BIO_mem_contents(bio, &data, &len);
    if (!ok) {
        rc = fail(err, err_len, "cannot encode %s as PEM", name);
        goto out;
    }
    rc = write_file(dir, name, key != NULL ? 0600 : 0644, data, len, err, err_len);
out:
    BIO_free(bio);
    return rc;
}

/* issue makes specs[i] into `out` (signed by an earlier entry of `done`) and writes it. */
static int issue(const char *dir, size_t i, struct issued *done, char *err, size_t err_len)
{
    const struct cert_spec *spec = &specs[i];
    X509 *issuer = spec->issuer >= 0 ? done[spec->issuer].cert : NULL;
    EVP_PKEY *key = new_key(spec->key_type);
    if (key == NULL) {
        return fail(err, err_len, "cannot generate the key for %s", spec->key_file);
    }
    EVP_PKEY *signer = spec->issuer >= 0 ? done[spec->issuer].key : key;
    X509 *x = X509_new();
    done[i] = (struct issued){.cert = x, .key = key}; /* freed by the caller, also on error */
    if (x == NULL || !set_fields(x, spec, key, issuer)) {
        return fail(err, err_len, "cannot fill in the certificate %s", spec->cert_file);
    }
    if (!add_exts(x, issuer, spec->profile)) {
        return fail(err, err_len, "cannot add the extensions of %s", spec->cert_file);
    }
    if (!X509_sign(x, signer, digest_for(signer))) {
        return fail(err, err_len, "cannot sign %s", spec->cert_file);
    }
    if (write_pem(dir, spec->key_file, key, NULL, err, err_len) != 0) {
        return -1;
    }
    return write_pem(dir, spec->cert_file, NULL, x, err, err_len);
}

int demo_pki_write(const char *dir, char *err, size_t err_len)
{
    struct issued done[NUM_SPECS] = {{NULL, NULL}};
    int rc = 0;
    for (size_t i = 0; i < NUM_SPECS && rc == 0; i++) {
        rc = issue(dir, i, done, err, err_len);
    }
    for (size_t i = 0; i < NUM_SPECS; i++) {
        X509_free(done[i].cert);
        EVP_PKEY_free(done[i].key);
    }
    return rc;
}
