/*
 * policy/load_trust.c - trust pools (`ca` providers, legacy lists) and leaf verifiers.
 * Mirrors Caddy's capools.go and leaf*loader.go, but strict everywhere: every list must be
 * non-empty, every file readable, every PEM block a CERTIFICATE. One deliberate leniency:
 * leaf pins are checked structurally, not parsed as X.509 as Caddy's loaders do, and kept as
 * SHA-256 digests, not DER (the list's `check`, set by load_auth.c; why: load_trust.h).
 */
#include <string.h>

#include "../core/mem.h"
#include "load_trust.h"

#define MAX_PROVIDER_DEPTH 8

typedef mtls_result (*item_fn)(struct der_list *out, json_t *e, struct jpath *p,
                               mtls_error *err);

/* each_item runs `fn` on every element of the non-empty string array `v`. */
static MTLS_RESULT each_item(struct der_list *out, json_t *v, struct jpath *p, item_fn fn,
                             mtls_error *err)
{
    GUARD(mtlsp_policy_trust_array(v, p, err));
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t old = mtlsp_jpath_push_index(p, i);
        mtls_result rc = fn(out, json_array_get(v, i), p, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

static mtls_result item_b64(struct der_list *out, json_t *e, struct jpath *p, mtls_error *err)
{
    return mtlsp_cert_from_base64(out, json_string_value(e), json_string_length(e),
                                  mtlsp_jpath_str(p), err);
}

static mtls_result item_pem_text(struct der_list *out, json_t *e, struct jpath *p,
                                 mtls_error *err)
{
    return mtlsp_certs_from_pem(out, json_string_value(e), json_string_length(e),
                                mtlsp_jpath_str(p), err);
}

/* with_path prefixes the JSON path to errors that only name a file. */
static mtls_result with_path(mtls_result rc, const struct jpath *p, mtls_error *err)
{
    if (!MTLS_IS_OK(rc)) {
        mtlsp_policy_error_prefix(err, mtlsp_jpath_str(p));
    }
    return rc;
}

static mtls_result item_pem_file(struct der_list *out, json_t *e, struct jpath *p,
                                 mtls_error *err)
{
    return with_path(mtlsp_certs_from_pem_file(out, json_string_value(e), err), p, err);
}

static mtls_result item_folder(struct der_list *out, json_t *e, struct jpath *p,
                               mtls_error *err)
{
    return with_path(mtlsp_certs_from_folder(out, json_string_value(e), err), p, err);
}

MTLS_RESULT mtlsp_policy_load_b64_list(struct der_list *out, json_t *v, struct jpath *p,
                                       mtls_error *err)
{
    return each_item(out, v, p, item_b64, err);
}

MTLS_RESULT mtlsp_policy_load_pem_files(struct der_list *out, json_t *v, struct jpath *p,
                                        mtls_error *err)
{
    return each_item(out, v, p, item_pem_file, err);
}

/* required_list: field `name` (value `v`) must be present; then `fn` on each element. */
static MTLS_RESULT required_list(struct der_list *out, json_t *v, const char *name,
                                 struct jpath *p, item_fn fn, mtls_error *err)
{
    ENSURE_MSG(v != NULL, MTLS_ERR_MISSING_FIELD, "%s: missing \"%s\" (an empty trust list "
               "is refused, fail closed)", mtlsp_jpath_str(p), name);
    size_t old = mtlsp_jpath_push_key(p, name);
    mtls_result rc = each_item(out, v, p, fn, err);
    mtlsp_jpath_pop(p, old);
    return rc;
}

/* inline_key returns the string value of the module-name key (`provider`, `verifier`,
 * `loader`; matched exactly, as Caddy looks it up in the raw JSON). */
static MTLS_RESULT inline_key(const char **out, json_t *obj, const char *key,
                              const char *choices, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_expect(obj, JSON_OBJECT, "an object", p, err));
    json_t *v = json_object_get(obj, key);
    ENSURE_MSG(v != NULL && !json_is_null(v), MTLS_ERR_MISSING_FIELD,
               "%s: missing \"%s\" (one of: %s)", mtlsp_jpath_str(p), key, choices);
    struct jpath q = *p;
    mtlsp_jpath_push_key(&q, key);
    GUARD(mtlsp_policy_expect(v, JSON_STRING, "a string", &q, err));
    *out = json_string_value(v);
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_system(struct client_auth *a, json_t *obj, struct jpath *p,
                               mtls_error *err)
{
    static const char *const names[] = {"provider"};
    json_t *f[1];
    GUARD(mtlsp_policy_fields(f, obj, names, 1, p, err));
    GUARD(with_path(mtlsp_certs_from_pem_file(&a->anchors, MTLS_SYSTEM_CA_BUNDLE, err), p, err));
    a->uses_system_roots = 1;
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_combined(struct client_auth *a, json_t *obj, struct jpath *p,
                                 int depth, mtls_error *err)
{
    static const char *const names[] = {"provider", "sources"};
    json_t *f[2];
    GUARD(mtlsp_policy_fields(f, obj, names, 2, p, err));
    ENSURE_MSG(f[1] != NULL, MTLS_ERR_MISSING_FIELD, "%s: missing \"sources\"",
               mtlsp_jpath_str(p));
    size_t old = mtlsp_jpath_push_key(p, "sources");
    mtls_result rc = mtlsp_policy_nonempty_array(f[1], "an array of provider objects", p, err);
    for (size_t i = 0; MTLS_IS_OK(rc) && i < json_array_size(f[1]); i++) {
        size_t o2 = mtlsp_jpath_push_index(p, i);
        rc = mtlsp_policy_load_provider(a, json_array_get(f[1], i), p, depth + 1, err);
        mtlsp_jpath_pop(p, o2);
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}

static int is_unsupported_provider(const char *name)
{
    static const char *const names[] = {"pki_root", "pki_intermediate", "storage", "http"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

MTLS_RESULT mtlsp_policy_load_provider(struct client_auth *a, json_t *obj, struct jpath *p,
                                       int depth, mtls_error *err)
{
    static const char *const inline_f[] = {"provider", "trusted_ca_certs"};
    static const char *const file_f[] = {"provider", "pem_files"};
    const char *name = NULL;
    json_t *f[2];
    ENSURE_MSG(depth <= MAX_PROVIDER_DEPTH, MTLS_ERR_INVALID_VALUE,
               "%s: combined providers nested too deeply", mtlsp_jpath_str(p));
    GUARD(inline_key(&name, obj, "provider", "inline, file, system, combined", p, err));
    if (strcmp(name, "inline") == 0) {
        GUARD(mtlsp_policy_fields(f, obj, inline_f, 2, p, err));
        return required_list(&a->anchors, f[1], "trusted_ca_certs", p, item_b64, err);
    }
    if (strcmp(name, "file") == 0) {
        GUARD(mtlsp_policy_fields(f, obj, file_f, 2, p, err));
        return required_list(&a->anchors, f[1], "pem_files", p, item_pem_file, err);
    }
    if (strcmp(name, "system") == 0) {
        return load_system(a, obj, p, err);
    }
    if (strcmp(name, "combined") == 0) {
        return load_combined(a, obj, p, depth, err);
    }
    ENSURE_MSG(!is_unsupported_provider(name), MTLS_ERR_UNSUPPORTED_PROVIDER,
               "%s: trust pool provider \"%s\" is not supported by libmtls (it needs Caddy's "
               "other apps); use inline, file, system or combined",
               mtlsp_jpath_str(p), name);
    BAIL_MSG(MTLS_ERR_UNKNOWN_PROVIDER,
             "%s: unknown trust pool provider \"%s\" (expected inline, file, system or "
             "combined)", mtlsp_jpath_str(p), name);
}

/* A `file` loader entry: a path (older Caddy) or {"certificate", "format", "tags"}. */
static mtls_result item_leaf_file(struct der_list *out, json_t *e, struct jpath *p,
                                  mtls_error *err)
{
    static const char *const names[] = {"certificate", "format", "tags"};
    json_t *f[3];
    if (json_is_string(e)) {
        return with_path(mtlsp_certs_from_file(out, json_string_value(e), err), p, err);
    }
    GUARD(mtlsp_policy_fields(f, e, names, 3, p, err));
    struct jpath q = *p;
    mtlsp_jpath_push_key(&q, "certificate");
    ENSURE_MSG(f[0] != NULL, MTLS_ERR_MISSING_FIELD, "%s: missing", mtlsp_jpath_str(&q));
    GUARD(mtlsp_policy_expect(f[0], JSON_STRING, "a string", &q, err));
    if (f[1] != NULL) {
        struct jpath r = *p;
        mtlsp_jpath_push_key(&r, "format");
        GUARD(mtlsp_policy_expect(f[1], JSON_STRING, "a string", &r, err));
        const char *fmt = json_string_value(f[1]);
        ENSURE_MSG(fmt[0] == '\0' || strcmp(fmt, "pem") == 0, MTLS_ERR_INVALID_VALUE,
                   "%s: unrecognized certificate/key encoding format: %s",
                   mtlsp_jpath_str(&r), fmt);
    }
    if (f[2] != NULL) {
        struct jpath r = *p;
        mtlsp_jpath_push_key(&r, "tags");
        GUARD(mtlsp_policy_string_array(f[2], &r, err));
    }
    return with_path(mtlsp_certs_from_file(out, json_string_value(f[0]), err), &q, err);
}

/* each_file: like each_item, but elements may also be objects. */
static MTLS_RESULT each_file(struct der_list *out, json_t *v, struct jpath *p, mtls_error *err)
{
    ENSURE_MSG(v != NULL, MTLS_ERR_MISSING_FIELD, "%s: missing \"files\"", mtlsp_jpath_str(p));
    size_t old = mtlsp_jpath_push_key(p, "files");
    mtls_result rc = mtlsp_policy_nonempty_array(v, "an array", p, err);
    for (size_t i = 0; MTLS_IS_OK(rc) && i < json_array_size(v); i++) {
        size_t o2 = mtlsp_jpath_push_index(p, i);
        json_t *e = json_array_get(v, i);
        rc = json_is_string(e) || json_is_object(e)
                 ? item_leaf_file(out, e, p, err)
                 : mtlsp_policy_expect(e, JSON_STRING, "a file path or a file object", p, err);
        mtlsp_jpath_pop(p, o2);
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}

static MTLS_RESULT load_pem_loader(struct der_list *out, json_t *obj, struct jpath *p,
                                   mtls_error *err)
{
    /* Caddy renamed `certificates` to `certs`; accept either, not both. */
    static const char *const names[] = {"loader", "certificates", "certs"};
    json_t *f[3];
    GUARD(mtlsp_policy_fields(f, obj, names, 3, p, err));
    ENSURE_MSG(f[1] == NULL || f[2] == NULL, MTLS_ERR_INVALID_VALUE,
               "%s: give \"certificates\" or \"certs\", not both", mtlsp_jpath_str(p));
    const char *name = f[2] != NULL ? "certs" : "certificates";
    return required_list(out, f[2] != NULL ? f[2] : f[1], name, p, item_pem_text, err);
}

static MTLS_RESULT load_loader(struct der_list *out, json_t *obj, struct jpath *p,
                               mtls_error *err)
{
    static const char *const file_f[] = {"loader", "files"};
    static const char *const folder_f[] = {"loader", "folders"};
    const char *name = NULL;
    json_t *f[2];
    GUARD(inline_key(&name, obj, "loader", "file, folder, pem", p, err));
    if (strcmp(name, "file") == 0) {
        GUARD(mtlsp_policy_fields(f, obj, file_f, 2, p, err));
        return each_file(out, f[1], p, err);
    }
    if (strcmp(name, "folder") == 0) {
        GUARD(mtlsp_policy_fields(f, obj, folder_f, 2, p, err));
        return required_list(out, f[1], "folders", p, item_folder, err);
    }
    if (strcmp(name, "pem") == 0) {
        return load_pem_loader(out, obj, p, err);
    }
    ENSURE_MSG(strcmp(name, "der") != 0 && strcmp(name, "storage") != 0,
               MTLS_ERR_UNKNOWN_LOADER,
               "%s: leaf certificate loader \"%s\" is not supported by libmtls (use file, "
               "folder or pem)", mtlsp_jpath_str(p), name);
    BAIL_MSG(MTLS_ERR_UNKNOWN_LOADER,
             "%s: unknown leaf certificate loader \"%s\" (expected file, folder or pem)",
             mtlsp_jpath_str(p), name);
}

MTLS_RESULT mtlsp_policy_load_verifier(struct der_list *out, json_t *obj, struct jpath *p,
                                       mtls_error *err)
{
    static const char *const names[] = {"verifier", "leaf_certs_loaders"};
    const char *name = NULL;
    json_t *f[2];
    GUARD(inline_key(&name, obj, "verifier", "leaf", p, err));
    ENSURE_MSG(strcmp(name, "leaf") == 0, MTLS_ERR_UNKNOWN_VERIFIER,
               "%s: unknown client certificate verifier \"%s\" (libmtls supports: leaf)",
               mtlsp_jpath_str(p), name);
    GUARD(mtlsp_policy_fields(f, obj, names, 2, p, err));
    ENSURE_MSG(f[1] != NULL, MTLS_ERR_MISSING_FIELD,
               "%s: leaf verifier without \"leaf_certs_loaders\" would refuse every client",
               mtlsp_jpath_str(p));
    size_t old = mtlsp_jpath_push_key(p, "leaf_certs_loaders");
    mtls_result rc = mtlsp_policy_nonempty_array(f[1], "an array of loader objects", p, err);
    for (size_t i = 0; MTLS_IS_OK(rc) && i < json_array_size(f[1]); i++) {
        size_t o2 = mtlsp_jpath_push_index(p, i);
        rc = load_loader(out, json_array_get(f[1], i), p, err);
        mtlsp_jpath_pop(p, o2);
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}
