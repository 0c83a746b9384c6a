/*
 * policy/load_auth.c - Caddy's `client_authentication` object: mode, legacy trust fields,
 * the `ca` trust-pool providers and the leaf `verifiers`.
 *
 * Fail closed: an empty, unreadable or malformed trust source is a load error (Caddy 2.6.2
 * silently skipped unreadable `trusted_ca_certs_pem_files`), and a verifying mode without
 * any CA is refused because libmtls never falls back to the system roots.
 */
#include <string.h>

#include "../core/mem.h"
#include "load_internal.h"
#include "load_trust.h"

static const char *const auth_fields[] = {"ca",         "trusted_ca_certs",
                                          "trusted_ca_certs_pem_files",
                                          "trusted_leaf_certs", "verifiers", "mode"};
enum { A_CA, A_CA_CERTS, A_CA_FILES, A_LEAF_CERTS, A_VERIFIERS, A_MODE, A_NUM };

static const char *const mode_names[] = {"request", "require", "verify_if_given",
                                         "require_and_verify"};

/* parse_mode: `*out` = an mtls_mode, or MTLS_MODE_OFF when absent or "" (Go's omitempty). */
static MTLS_RESULT parse_mode(int *out, json_t *v, struct jpath *p, mtls_error *err)
{
    *out = MTLS_MODE_OFF;
    if (v == NULL) {
        return MTLS_RESULT_OK;
    }
    size_t old = mtlsp_jpath_push_key(p, "mode");
    mtls_result rc = mtlsp_policy_expect(v, JSON_STRING, "a string", p, err);
    const char *s = MTLS_IS_OK(rc) ? json_string_value(v) : "";
    for (int i = 0; MTLS_IS_OK(rc) && s[0] != '\0'; i++) {
        if (i == 4) {
            rc = (mtls_result){mtlsp_error_set(err, MTLS_ERR_UNKNOWN_MODE, __FILE__, __LINE__,
                                               "client auth mode not recognized: %s (at %s)",
                                               s, mtlsp_jpath_str(p))};
            break;
        }
        if (strcmp(s, mode_names[i]) == 0) {
            *out = MTLS_MODE_REQUEST + i;
            break;
        }
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}

/* add_leaf_list moves `l` (a pin list: SHA-256 digests only) into a new leaf list of `a`,
 * its scratch block freed and its digest array trimmed to size. */
static MTLS_RESULT add_leaf_list(struct client_auth *a, struct der_list *l, mtls_error *err)
{
    mtlsp_der_list_done(l);
    struct der_list *lists =
        mtlsp_reallocarray(a->leaf_lists, a->num_leaf_lists + 1, sizeof(*lists));
    ENSURE_MEM(lists);
    a->leaf_lists = lists;
    lists[a->num_leaf_lists] = *l;
    a->num_leaf_lists++;
    memset(l, 0, sizeof(*l));
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_legacy_ca(struct client_auth *a, json_t **f, struct jpath *p,
                                  mtls_error *err)
{
    if (f[A_CA_CERTS] != NULL) {
        size_t old = mtlsp_jpath_push_key(p, "trusted_ca_certs");
        mtls_result rc = mtlsp_policy_load_b64_list(&a->anchors, f[A_CA_CERTS], p, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    if (f[A_CA_FILES] != NULL) {
        size_t old = mtlsp_jpath_push_key(p, "trusted_ca_certs_pem_files");
        mtls_result rc = mtlsp_policy_load_pem_files(&a->anchors, f[A_CA_FILES], p, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_leaf_certs(struct client_auth *a, json_t *v, struct jpath *p,
                                   mtls_error *err)
{
    struct der_list l = {.check = MTLS_CERT_CHECK_PIN}; /* pins: shape check, SHA-256 kept */
    size_t old = mtlsp_jpath_push_key(p, "trusted_leaf_certs");
    mtls_result rc = mtlsp_policy_load_b64_list(&l, v, p, err);
    mtlsp_jpath_pop(p, old);
    if (MTLS_IS_OK(rc)) {
        rc = add_leaf_list(a, &l, err);
    }
    mtlsp_der_list_free(&l);
    return rc;
}

static MTLS_RESULT load_verifiers(struct client_auth *a, json_t *v, struct jpath *p,
                                  mtls_error *err)
{
    size_t old = mtlsp_jpath_push_key(p, "verifiers");
    mtls_result rc = mtlsp_policy_nonempty_array(v, "an array of verifier objects", p, err);
    for (size_t i = 0; MTLS_IS_OK(rc) && i < json_array_size(v); i++) {
        struct der_list l = {.check = MTLS_CERT_CHECK_PIN}; /* pins: shape check, SHA-256 kept */
        size_t o2 = mtlsp_jpath_push_index(p, i);
        rc = mtlsp_policy_load_verifier(&l, json_array_get(v, i), p, err);
        mtlsp_jpath_pop(p, o2);
        if (MTLS_IS_OK(rc)) {
            rc = add_leaf_list(a, &l, err);
        }
        mtlsp_der_list_free(&l);
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}

static MTLS_RESULT load_trust(struct client_auth *a, json_t **f, struct jpath *p,
                              mtls_error *err)
{
    if (f[A_CA] != NULL && (f[A_CA_CERTS] != NULL || f[A_CA_FILES] != NULL)) {
        BAIL_MSG(MTLS_ERR_CONFLICTING_TRUST,
                 "conflicting config for client authentication trust CA (at %s: `ca` "
                 "together with trusted_ca_certs/trusted_ca_certs_pem_files)",
                 mtlsp_jpath_str(p));
    }
    a->has_trust_config = f[A_CA] != NULL || f[A_CA_CERTS] != NULL || f[A_CA_FILES] != NULL;
    GUARD(load_legacy_ca(a, f, p, err));
    if (f[A_CA] != NULL) {
        size_t old = mtlsp_jpath_push_key(p, "ca");
        mtls_result rc = mtlsp_policy_load_provider(a, f[A_CA], p, 0, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    if (f[A_LEAF_CERTS] != NULL) {
        GUARD(load_leaf_certs(a, f[A_LEAF_CERTS], p, err));
    }
    if (f[A_VERIFIERS] != NULL) {
        GUARD(load_verifiers(a, f[A_VERIFIERS], p, err));
    }
    return MTLS_RESULT_OK;
}

/* Caddy's defaults (ClientAuthentication.Active / ConfigureTLSConfig): nothing configured
 * means no client auth; no mode means require_and_verify when CA certificates, CA files,
 * leaf certificates or a `ca` are given, else require (verifiers alone do not count). */
static MTLS_RESULT apply_mode(struct client_auth *a, int mode, json_t **f, struct jpath *p,
                              mtls_error *err)
{
    a->mode_explicit = mode != MTLS_MODE_OFF;
    int active = a->mode_explicit || a->has_trust_config || f[A_LEAF_CERTS] != NULL ||
                 f[A_VERIFIERS] != NULL;
    if (!active) {
        a->mode = MTLS_MODE_OFF;
        return MTLS_RESULT_OK;
    }
    if (!a->mode_explicit) {
        int verify = a->has_trust_config || f[A_LEAF_CERTS] != NULL;
        mode = verify ? MTLS_MODE_REQUIRE_AND_VERIFY : MTLS_MODE_REQUIRE;
    }
    a->mode = mode;
    int verifying = mode == MTLS_MODE_VERIFY_IF_GIVEN || mode == MTLS_MODE_REQUIRE_AND_VERIFY;
    ENSURE_MSG(!verifying || a->anchors.num > 0, MTLS_ERR_NO_TRUST_FOR_VERIFY,
               "%s: mode %s%s verifies client certificates but no trusted CA is configured; "
               "use mode require with leaf pins, or add trusted CA certificates (libmtls "
               "never falls back to system roots)",
               mtlsp_jpath_str(p), mode_names[mode - MTLS_MODE_REQUEST],
               a->mode_explicit ? "" : " (the default)");
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_load_auth(struct client_auth *a, json_t *obj, struct jpath *p,
                                   mtls_error *err)
{
    memset(a, 0, sizeof(*a));
    if (obj == NULL) {
        a->mode = MTLS_MODE_OFF;
        return MTLS_RESULT_OK;
    }
    json_t *f[A_NUM];
    int mode = MTLS_MODE_OFF;
    GUARD(mtlsp_policy_fields(f, obj, auth_fields, A_NUM, p, err));
    GUARD(parse_mode(&mode, f[A_MODE], p, err));
    GUARD(load_trust(a, f, p, err));
    return apply_mode(a, mode, f, p, err);
}

void mtlsp_policy_auth_free(struct client_auth *a)
{
    if (a == NULL) {
        return;
    }
    mtlsp_der_list_free(&a->anchors);
    for (size_t i = 0; i < a->num_leaf_lists; i++) {
        mtlsp_der_list_free(&a->leaf_lists[i]);
    }
    mtlsp_free(a->leaf_lists);
    memset(a, 0, sizeof(*a));
}
