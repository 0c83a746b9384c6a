/*
 * policy/load_trust.h - trust material inside client_authentication: base64 and PEM-file
 * lists, `ca` trust-pool providers, and leaf verifiers with their loaders.
 * Every error names the JSON path `p` (and the file, for file errors).
 */
#ifndef MTLS_POLICY_LOAD_TRUST_H
#define MTLS_POLICY_LOAD_TRUST_H

#include "load_internal.h"

/* A non-empty array of base64 DER certificates, appended to `out`. */
MTLS_RESULT mtlsp_policy_load_b64_list(struct der_list *out, json_t *v, struct jpath *p,
                                       mtls_error *err);
/* A non-empty array of PEM file paths; every block of every file must be a CERTIFICATE. */
MTLS_RESULT mtlsp_policy_load_pem_files(struct der_list *out, json_t *v, struct jpath *p,
                                        mtls_error *err);
/* A `ca` provider object (inline, file, system, combined), anchors into a->anchors. */
MTLS_RESULT mtlsp_policy_load_provider(struct client_auth *a, json_t *obj, struct jpath *p,
                                       int depth, mtls_error *err);
/* One `verifiers[i]` object; its leaf certificates (at least one) into `out`. */
MTLS_RESULT mtlsp_policy_load_verifier(struct der_list *out, json_t *obj, struct jpath *p,
                                       mtls_error *err);

#endif
