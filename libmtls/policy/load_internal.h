/*
 * policy/load_internal.h - helpers shared by the policy loader's files: JSON paths for
 * error messages and strict, Go-like decoding of JSON objects.
 *
 * Decoding follows Caddy's strict JSON (Go's encoding/json with DisallowUnknownFields):
 * struct field names match case-insensitively (Go does; Caddy 2.6.2 accepts "MODE"),
 * unknown fields are errors, and null means "absent". Deliberately stricter than Go: two
 * keys naming the same field (exact duplicates, or differing only in case) are refused,
 * where Go silently keeps the last one.
 */
#ifndef MTLS_POLICY_LOAD_INTERNAL_H
#define MTLS_POLICY_LOAD_INTERNAL_H

#include <jansson.h>

#include "policy.h"

/* A JSON path like `tls_connection_policies[0].client_authentication.mode`. */
struct jpath {
    char s[160];
    size_t len;
};

void mtlsp_jpath_init(struct jpath *p, const char *root);
/* push_* append a component and return the length to pass to mtlsp_jpath_pop. */
size_t mtlsp_jpath_push_key(struct jpath *p, const char *key);
size_t mtlsp_jpath_push_index(struct jpath *p, size_t i);
void mtlsp_jpath_pop(struct jpath *p, size_t len);
/* The path text, or "(top level)" for the root. */
const char *mtlsp_jpath_str(const struct jpath *p);

/* mtlsp_policy_error_prefix puts "`prefix`: " in front of the message of the error already
 * recorded in `err` (so truststore errors also name the JSON path). */
void mtlsp_policy_error_prefix(mtls_error *err, const char *prefix);

/* mtlsp_policy_fields decodes object `obj` at path `p` into `out[i]` = the value of field
 * `names[i]` (NULL when absent or null). Unknown keys: MTLS_ERR_UNKNOWN_FIELD naming the key
 * and listing `names`; `obj` not an object: MTLS_ERR_JSON_TYPE. */
MTLS_RESULT mtlsp_policy_fields(json_t **out, json_t *obj, const char *const *names, size_t n,
                                const struct jpath *p, mtls_error *err);

/* mtlsp_policy_get_field: the value of field `name` of object `obj` (case-insensitive, as
 * Go), NULL when absent or null; other keys are tolerated (for whole Caddy configs). */
MTLS_RESULT mtlsp_policy_get_field(json_t **out, json_t *obj, const char *name,
                                   const struct jpath *p, mtls_error *err);

/* mtlsp_policy_load_servers finds the tls_connection_policies of a whole Caddy config:
 * those of server `server`, or (NULL) of the only server that has any. `*out_policies` is
 * NULL when there are none; `p` is set to the path of the array. */
MTLS_RESULT mtlsp_policy_load_servers(json_t **out_policies, struct jpath *p, json_t *root,
                                      const char *server, mtls_error *err);

/* Type checks that name the path and the expected type (MTLS_ERR_JSON_TYPE). */
MTLS_RESULT mtlsp_policy_expect(json_t *v, int json_type, const char *type_name,
                                const struct jpath *p, mtls_error *err);
/* An array whose elements are all strings. */
MTLS_RESULT mtlsp_policy_string_array(json_t *v, const struct jpath *p, mtls_error *err);
/* A non-empty array of strings (empty: MTLS_ERR_EMPTY_TRUST, fail closed). */
MTLS_RESULT mtlsp_policy_trust_array(json_t *v, const struct jpath *p, mtls_error *err);

/* mtlsp_policy_dump renders `v` as compact JSON text into an owned string. */
MTLS_RESULT mtlsp_policy_dump(char **out, json_t *v, mtls_error *err);

/* mtlsp_policy_load_auth decodes a client_authentication object (NULL: absent) into `a`. */
MTLS_RESULT mtlsp_policy_load_auth(struct client_auth *a, json_t *obj, struct jpath *p,
                                   mtls_error *err);
void mtlsp_policy_auth_free(struct client_auth *a);

/* mtlsp_policy_load_conn decodes one connection policy object into `cp`. */
MTLS_RESULT mtlsp_policy_load_conn(struct conn_policy *cp, json_t *obj, struct jpath *p,
                                   mtls_error *err);
void mtlsp_policy_conn_free(struct conn_policy *cp);

/* mtlsp_policy_check_field validates pass-through field `field` (an enum policy_field). */
MTLS_RESULT mtlsp_policy_check_field(int field, json_t *v, struct jpath *p, mtls_error *err);
/* protocol_min must not be above protocol_max (both already checked; either may be NULL). */
MTLS_RESULT mtlsp_policy_check_protocols(json_t *min, json_t *max, const struct jpath *p,
                                         mtls_error *err);
/* A non-empty array (empty: MTLS_ERR_EMPTY_TRUST, fail closed). */
MTLS_RESULT mtlsp_policy_nonempty_array(json_t *v, const char *type_name, const struct jpath *p,
                                        mtls_error *err);

/* Where the `system` trust pool provider reads the OS bundle (Debian's path). */
#ifndef MTLS_SYSTEM_CA_BUNDLE
#define MTLS_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#endif

#endif
