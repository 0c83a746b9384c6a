/*
 * bench/micro/pki.h - run-time test PKI for the micro-benchmarks, made with BoringSSL's API
 * (nothing generated is committed). Key types follow issue 6: P-256 server key, Ed25519
 * client CA, P-384 client key.
 */
#ifndef MICRO_PKI_H
#define MICRO_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>

#include "common.h"

enum key_type { KEY_P256, KEY_P384, KEY_ED25519 };

enum cert_kind { CERT_CA, CERT_CLIENT, CERT_SERVER };

/* pki_key generates a key of type `t` or dies. Free with EVP_PKEY_free. */
EVP_PKEY *pki_key(enum key_type t);

/*
 * pki_cert issues a certificate for `key` with subject `subject` ("/O=x/CN=y", openssl -subj
 * syntax without escapes) and, when `san` is not NULL, subjectAltName `san` (openssl syntax:
 * "DNS:a,email:b,URI:c,IP:d"). `issuer`/`issuer_key` NULL makes it self-signed. CAs get
 * basicConstraints CA:TRUE and keyCertSign; clients clientAuth, servers serverAuth; all get
 * SKI/AKI, a random 16-byte serial and a validity of [now - 1 h, now + 1 year (CAs 10)].
 * Dies on failure; free with X509_free.
 */
X509 *pki_cert(enum cert_kind kind, const char *subject, const char *san, EVP_PKEY *key,
               X509 *issuer, EVP_PKEY *issuer_key);

/* pki_der returns a malloc'd DER encoding of `x` and its length in *out_len. */
uint8_t *pki_der(X509 *x, size_t *out_len);

/* pki_pem_append appends a PEM CERTIFICATE block of `der` to `t`. */
void pki_pem_append(struct text *t, const uint8_t *der, size_t len);

/* pki_b64 returns malloc'd standard base64 of `der` (one line, no newline). */
char *pki_b64(const uint8_t *der, size_t len);

/* The benchmark PKI: an Ed25519 client CA, a P-384 client leaf (alice, with DNS, email,
 * URI and IP SANs and clientAuth), a second P-384 leaf (bob) from the same CA, and a P-256
 * self-signed server certificate. DER and PEM files are written to the temp directory:
 * ca.pem, alice.pem, alice.key.pem, server.pem, server.key.pem. */
struct bench_pki {
    EVP_PKEY *ca_key, *alice_key, *bob_key, *server_key;
    X509 *ca, *alice, *bob, *server;
    uint8_t *ca_der, *alice_der, *bob_der;
    size_t ca_der_len, alice_der_len, bob_der_len;
    char ca_file[256], alice_file[256], alice_key_file[256];
    char server_file[256], server_key_file[256];
};
void bench_pki_make(struct bench_pki *p);
void bench_pki_free(struct bench_pki *p);

/* The subject and SAN of the client leaves (placeholders render them). */
#define ALICE_SUBJECT "/C=US/O=libmtls bench/OU=Engineering/CN=alice"
#define ALICE_SAN                                                                        \
    "DNS:alice.example.com,DNS:alice.internal,email:alice@example.com,"                 \
    "URI:spiffe://example.org/user/alice,IP:10.0.0.7"

/* The placeholders a typical config reads per request: the mtls-proxy docs' header_up lines
 * (subject, verified) and its access log (serial, fingerprint). */
#define NUM_TYPICAL 4
extern const char *const typical_placeholders[NUM_TYPICAL];

#endif
