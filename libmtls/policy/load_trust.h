/*
 * policy/load_trust.h - trust material inside client_authentication: base64 and PEM-file
 * lists, `ca` trust-pool providers, and leaf verifiers with their loaders.
 * Every error names the JSON path `p` (and the file, for file errors) and the reason.
 *
 * Certificates are checked as `out->check` says (truststore.h): CA certificates with a full
 * X.509 parse (MTLS_ERR_DER_INVALID with BoringSSL's reason), leaf pins (lists set to
 * MTLS_CERT_CHECK_PIN by load_auth.c: trusted_leaf_certs, each leaf verifier) with a
 * structural DER walk only (MTLS_ERR_DER_INVALID naming the first structural fault: not a
 * SEQUENCE, truncated, trailing bytes, ...). A pin that is not a certificate can never
 * equal a client certificate, which the handshake parses anyway, so nothing is admitted by
 * it; the cost is that a corrupt but DER-shaped pin file loads where Caddy's loader
 * (x509.ParseCertificate) refuses it. A pin list keeps only the SHA-256 of each pin, not
 * its DER: Caddy compares raw bytes (x509.Certificate.Equal), libmtls their SHA-256, the
 * same test for all practical purposes (truststore.h, MTLS_CERT_CHECK_PIN). Together they
 * make a million pins load in about a second and hold tens of bytes each.
 */
#ifndef MTLS_POLICY_LOAD_TRUST_H
#define MTLS_POLICY_LOAD_TRUST_H

#include "load_internal.h"

/* A non-empty array of base64 DER certificates (Go's StdEncoding: CR/LF skipped), appended
 * to `out`: trusted_ca_certs, or trusted_leaf_certs into a pin list. */
MTLS_RESULT mtlsp_policy_load_b64_list(struct der_list *out, json_t *v, struct jpath *p,
                                       mtls_error *err);
/* A non-empty array of PEM file paths; every block of every file must be a CERTIFICATE. */
MTLS_RESULT mtlsp_policy_load_pem_files(struct der_list *out, json_t *v, struct jpath *p,
                                        mtls_error *err);
/* A `ca` provider object (inline, file, system, combined), anchors into a->anchors. */
MTLS_RESULT mtlsp_policy_load_provider(struct client_auth *a, json_t *obj, struct jpath *p,
                                       int depth, mtls_error *err);
/* One `verifiers[i]` object; its leaf certificates (at least one) into `out`, a pin list
 * (MTLS_CERT_CHECK_PIN: the file, folder and pem loaders check each pin structurally). */
MTLS_RESULT mtlsp_policy_load_verifier(struct der_list *out, json_t *obj, struct jpath *p,
                                       mtls_error *err);

#endif
