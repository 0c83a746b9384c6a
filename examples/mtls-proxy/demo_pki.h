/*
 * demo_pki.h - the throwaway PKI of `mtls-proxy demo`, generated with BoringSSL alone.
 *
 * Files written into the directory (certificates 0644, private keys 0600, keys as PKCS#8):
 *   ca-cert.pem / ca-key.pem                 "libmtls demo client CA", Ed25519, self-signed:
 *                                            the CA the demo proxy trusts (the YubiKey tutorial's)
 *   alice.pem / alice-key.pem                CN=alice, P-384 key, EKU clientAuth, signed by it
 *   mallory-ca.pem / mallory-ca-key.pem      "libmtls demo untrusted CA", Ed25519, self-signed
 *   mallory.pem / mallory-key.pem            CN=mallory, P-384 key, EKU clientAuth, signed by
 *                                            the untrusted CA
 *   server-ca.pem / server-ca-key.pem        "libmtls demo server CA", P-256, self-signed
 *   server.pem / server-key.pem              CN=localhost, P-256 key, EKU serverAuth,
 *                                            SAN DNS:localhost, IP:127.0.0.1, IP:::1
 * Every certificate is X.509 v3 with a random 63-bit serial, SKI and AKI, and is valid from
 * one hour ago until one day from now.
 */
#ifndef MTLS_PROXY_DEMO_PKI_H
#define MTLS_PROXY_DEMO_PKI_H

#include <stddef.h>

#define DEMO_PKI_CA_CERT "ca-cert.pem"
#define DEMO_PKI_ALICE_CERT "alice.pem"
#define DEMO_PKI_ALICE_KEY "alice-key.pem"
#define DEMO_PKI_MALLORY_CERT "mallory.pem"
#define DEMO_PKI_MALLORY_KEY "mallory-key.pem"
#define DEMO_PKI_SERVER_CA "server-ca.pem"
#define DEMO_PKI_SERVER_CERT "server.pem"
#define DEMO_PKI_SERVER_KEY "server-key.pem"

/*
 * demo_pki_write generates the PKI above and writes it into the existing directory `dir`
 * (borrowed). The files must not exist yet (they are created with O_EXCL). Returns 0 on
 * success, -1 on failure with `err` (size `err_len`) naming the step or file and the
 * BoringSSL error. Files written before a failure are left in place.
 */
int demo_pki_write(const char *dir, char *err, size_t err_len);

#endif /* MTLS_PROXY_DEMO_PKI_H */
