/*
 * policy/load.c - mtlsp_policy_load: JSON text to a policy_set. Recognises the accepted
 * document shapes and hands each connection policy to load_conn.c.
 *
 * Shapes (see mtls_ctx_new_from_json): a bare client_authentication object (recognised by
 * its keys; `{}` too), a tls_connection_policies array, an object
 * {"tls_connection_policies": [...]}, or a whole Caddy config (recognised by a top-level
 * `apps`, `admin`, `logging` or `storage` key). In a whole config only the
 * tls_connection_policies subtree is decoded strictly; everything else is tolerated.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/mem.h"
#include "load_internal.h"

static const char *const auth_keys[] = {"mode", "ca", "trusted_ca_certs",
                                        "trusted_ca_certs_pem_files", "trusted_leaf_certs",
                                        "verifiers", NULL};
static const char *const config_keys[] = {"apps", "admin", "logging", "storage", NULL};
static const char policies_key[] = "tls_connection_policies";

enum shape { SHAPE_BARE, SHAPE_ARRAY, SHAPE_WRAPPER, SHAPE_CONFIG };

static MTLS_RESULT parse_json(json_t **out, const char *json, size_t len, mtls_error *err)
{
    ENSURE_MSG(len <= MTLS_MAX_POLICY_BYTES, MTLS_ERR_TOO_LARGE,
               "policy document of %zu bytes is larger than the limit of %zu bytes", len,
               MTLS_MAX_POLICY_BYTES);
    json_error_t je;
    *out = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (*out != NULL) {
        return MTLS_RESULT_OK;
    }
    if (json_error_code(&je) == json_error_duplicate_key) {
        mtlsp_error_set(err, MTLS_ERR_JSON_SYNTAX, __FILE__, __LINE__,
                        "%s (refused: Caddy would silently keep the last)", je.text);
    } else {
        mtlsp_error_set(err, MTLS_ERR_JSON_SYNTAX, __FILE__, __LINE__, "malformed JSON: %s",
                        je.text);
    }
    /* jansson says column 0 (and line 0 for an empty document) before the first character
     * of a line; mtls.h promises 1-based positions. */
    mtlsp_error_set_pos(err, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1);
    return (mtls_result){MTLS_ERR_JSON_SYNTAX};
}

static int in_ci(const char *key, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcasecmp(key, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT detect(enum shape *out, json_t *root, mtls_error *err)
{
    if (json_is_array(root)) {
        *out = SHAPE_ARRAY;
        return MTLS_RESULT_OK;
    }
    const char *key, *other = NULL;
    json_t *v;
    int any_auth = json_object_size(root) == 0, any_config = 0, any_policies = 0;
    json_object_foreach(root, key, v)
    {
        any_auth |= in_ci(key, auth_keys);
        any_config |= in_ci(key, config_keys);
        any_policies |= strcasecmp(key, policies_key) == 0;
        other = other ? other : key;
    }
    *out = any_config ? SHAPE_CONFIG : any_auth ? SHAPE_BARE : SHAPE_WRAPPER;
    ENSURE_MSG(any_config || any_auth || any_policies, MTLS_ERR_UNKNOWN_FIELD,
               "(top level): unknown field \"%s\": expected a client_authentication object, a "
               "tls_connection_policies array, or a Caddy config (apps.http.servers)", other);
    return MTLS_RESULT_OK;
}

static MTLS_RESULT new_set(struct policy_set **out, size_t n, mtls_error *err)
{
    struct policy_set *set = mtlsp_calloc(1, sizeof(*set));
    ENSURE_MEM(set);
    set->policies = mtlsp_calloc(n, sizeof(*set->policies));
    if (set->policies == NULL) {
        mtlsp_free(set);
        BAIL(MTLS_ERR_NOMEM);
    }
    set->num = n;
    *out = set;
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_array(struct policy_set *set, json_t *arr, struct jpath *p,
                              mtls_error *err)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        size_t old = mtlsp_jpath_push_index(p, i);
        mtls_result rc = mtlsp_policy_load_conn(&set->policies[i], json_array_get(arr, i), p,
                                                err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

/* build: an array of connection policies (NULL or empty: one policy, no matcher, no auth). */
static MTLS_RESULT build(struct policy_set **out, json_t *arr, struct jpath *p, mtls_error *err)
{
    if (arr != NULL) {
        GUARD(mtlsp_policy_expect(arr, JSON_ARRAY, "an array of connection policies", p, err));
    }
    size_t n = arr != NULL && json_array_size(arr) > 0 ? json_array_size(arr) : 1;
    GUARD(new_set(out, n, err));
    mtls_result rc = arr != NULL ? load_array(*out, arr, p, err) : MTLS_RESULT_OK;
    if (!MTLS_IS_OK(rc)) {
        mtlsp_policy_set_free(*out);
        *out = NULL;
    }
    return rc;
}

static MTLS_RESULT build_bare(struct policy_set **out, json_t *root, mtls_error *err)
{
    struct jpath p;
    mtlsp_jpath_init(&p, "");
    GUARD(new_set(out, 1, err));
    mtls_result rc = mtlsp_policy_load_auth(&(*out)->policies[0].auth, root, &p, err);
    if (!MTLS_IS_OK(rc)) {
        mtlsp_policy_set_free(*out);
        *out = NULL;
    }
    return rc;
}

static MTLS_RESULT build_wrapper(struct policy_set **out, json_t *root, mtls_error *err)
{
    static const char *const names[] = {policies_key};
    json_t *arr;
    struct jpath p;
    mtlsp_jpath_init(&p, "");
    GUARD(mtlsp_policy_fields(&arr, root, names, 1, &p, err));
    mtlsp_jpath_init(&p, policies_key);
    return build(out, arr, &p, err);
}

static MTLS_RESULT build_config(struct policy_set **out, json_t *root, const char *server,
                                mtls_error *err)
{
    json_t *arr = NULL;
    struct jpath p;
    mtlsp_jpath_init(&p, "");
    GUARD(mtlsp_policy_load_servers(&arr, &p, root, server, err));
    return build(out, arr, &p, err);
}

static MTLS_RESULT load_root(struct policy_set **out, json_t *root, const char *server,
                             mtls_error *err)
{
    enum shape shape;
    struct jpath p;
    GUARD(detect(&shape, root, err));
    ENSURE_MSG(server == NULL || shape == SHAPE_CONFIG, MTLS_ERR_INVALID_ARGUMENT,
               "server \"%s\" given, but the document is not a whole Caddy config", server);
    switch (shape) {
    case SHAPE_ARRAY:
        mtlsp_jpath_init(&p, policies_key);
        return build(out, root, &p, err);
    case SHAPE_WRAPPER:
        return build_wrapper(out, root, err);
    case SHAPE_CONFIG:
        return build_config(out, root, server, err);
    case SHAPE_BARE:
    default:
        return build_bare(out, root, err);
    }
}

MTLS_RESULT mtlsp_policy_load(struct policy_set **out, const char *json, size_t len,
                              const char *server, mtls_error *err)
{
    ENSURE_REF(out);
    ENSURE_REF(json);
    json_t *root = NULL;
    *out = NULL;
    GUARD(parse_json(&root, json, len, err));
    mtls_result rc = load_root(out, root, server, err);
    json_decref(root);
    return rc;
}

void mtlsp_policy_set_free(struct policy_set *set)
{
    if (set == NULL) {
        return;
    }
    for (size_t i = 0; i < set->num; i++) {
        mtlsp_policy_conn_free(&set->policies[i]);
    }
    mtlsp_free(set->policies);
    mtlsp_free(set);
}
