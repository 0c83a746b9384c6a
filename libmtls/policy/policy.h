/*
 * policy/policy.h - Caddy `tls_connection_policies` / `client_authentication` as plain,
 * immutable data. load.c turns JSON into it (strictly: unknown keys and wrong types are
 * errors naming the JSON path); match.c selects a policy for a connection. No TLS here
 * beyond the truststore helpers that decode certificates.
 */
#ifndef MTLS_POLICY_H
#define MTLS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/result.h"
#include "../truststore/truststore.h"

#define MTLS_MAX_POLICY_BYTES ((size_t)64 << 20)

struct cidr {
    int family;       /* 4 or 6 */
    uint8_t addr[16]; /* network address, host bits cleared; IPv4 in addr[0..3] */
    int bits;         /* prefix length */
};

struct matchers {
    int has_sni;
    char **sni; /* lowercased; may start with "*." */
    size_t num_sni;
    int has_remote_ip;
    struct cidr *remote_ranges;
    size_t num_remote_ranges;
    struct cidr *remote_not_ranges;
    size_t num_remote_not_ranges;
    int has_local_ip;
    struct cidr *local_ranges;
    size_t num_local_ranges;
};

struct client_auth {
    int mode;          /* mtls_mode, after Caddy's defaults */
    int mode_explicit; /* `mode` was given */
    /* Trust anchors from trusted_ca_certs + trusted_ca_certs_pem_files, or from `ca`. */
    struct der_list anchors;
    int has_trust_config;  /* any CA source was configured at all */
    int uses_system_roots; /* a `system` provider was named (its anchors are in `anchors`) */
    /* Leaf verifiers: the client leaf must be in EVERY list (Caddy runs each verifier;
     * legacy trusted_leaf_certs is one more). */
    struct der_list *leaf_lists;
    size_t num_leaf_lists;
};

/* Connection-policy fields that libmtls validates and hands to the server. */
enum policy_field {
    PF_CERTIFICATE_SELECTION,
    PF_PROTOCOL_MIN,
    PF_PROTOCOL_MAX,
    PF_ALPN,
    PF_CIPHER_SUITES,
    PF_CURVES,
    PF_DEFAULT_SNI,
    PF_FALLBACK_SNI,
    PF_DROP,
    PF_NUM_FIELDS
};

struct conn_policy {
    struct matchers match;
    struct client_auth auth;
    char *fields[PF_NUM_FIELDS]; /* compact JSON text of the field, or NULL */
};

struct policy_set {
    struct conn_policy *policies;
    size_t num;
};

/* The names of enum policy_field, in order ("certificate_selection", ...). */
extern const char *const mtlsp_policy_field_names[PF_NUM_FIELDS];

/* mtlsp_policy_load parses any of the three accepted shapes (see mtls_ctx_new_from_json).
 * A bare client_authentication object or an empty policies array gives one policy with no
 * matchers. Errors carry codes from errors.def; JSON syntax errors carry line/column; field
 * errors name the JSON path. */
MTLS_RESULT mtlsp_policy_load(struct policy_set **out, const char *json, size_t len,
                              const char *server, mtls_error *err);
void mtlsp_policy_set_free(struct policy_set *set);

/* mtlsp_policy_select: first policy whose matchers all match; MTLS_ERR_NO_MATCHING_POLICY
 * if none. `sni` NULL/"" = none sent; IPs textual or NULL (unknown: IP matchers fail). */
MTLS_RESULT mtlsp_policy_select(const struct policy_set *set, const char *sni,
                                const char *remote_ip, const char *local_ip, size_t *out_index,
                                mtls_error *err);

/* mtlsp_parse_ip parses a textual IPv4/IPv6 address (IPv4-mapped IPv6 counts as IPv4).
 * Returns 1 and fills family/addr on success, 0 otherwise. */
int mtlsp_parse_ip(const char *s, int *out_family, uint8_t out_addr[16]);

#endif
