/* testcert.c - certificates made in memory for module tests (no PKI directory needed). */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "testpki.h"

static void die(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

X509 *pki_self_signed(const char *cn, long serial, EVP_PKEY **out_key)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EVP_PKEY *key = EVP_PKEY_new();
    X509 *x = X509_new();
    if (ec == NULL || key == NULL || x == NULL || !EC_KEY_generate_key(ec) ||
        !EVP_PKEY_assign_EC_KEY(key, ec)) {
        die("pki_self_signed: key generation failed");
    }
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const uint8_t *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0) {
        die("pki_self_signed: signing failed");
    }
    if (out_key != NULL) {
        *out_key = key;
    } else {
        EVP_PKEY_free(key);
    }
    return x;
}
