/* policy/load_json.c - JSON paths and strict object decoding for the policy loader. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/mem.h"
#include "load_internal.h"

void mtlsp_jpath_init(struct jpath *p, const char *root)
{
    int n = snprintf(p->s, sizeof(p->s), "%s", root);
    p->len = n < 0 ? 0 : ((size_t)n < sizeof(p->s) ? (size_t)n : sizeof(p->s) - 1);
}

static size_t push(struct jpath *p, const char *fmt, const char *key, size_t i)
{
    size_t old = p->len;
    size_t room = sizeof(p->s) - p->len;
    int n = key ? snprintf(p->s + p->len, room, fmt, key) : snprintf(p->s + p->len, room, fmt, i);
    if (n > 0) {
        p->len += (size_t)n < room ? (size_t)n : room - 1;
    }
    return old;
}

size_t mtlsp_jpath_push_key(struct jpath *p, const char *key)
{
    return push(p, p->len == 0 ? "%s" : ".%s", key, 0);
}

size_t mtlsp_jpath_push_index(struct jpath *p, size_t i)
{
    return push(p, "[%zu]", NULL, i);
}

void mtlsp_jpath_pop(struct jpath *p, size_t len)
{
    p->len = len;
    p->s[len] = '\0';
}

const char *mtlsp_jpath_str(const struct jpath *p)
{
    return p->len == 0 ? "(top level)" : p->s;
}

void mtlsp_policy_error_prefix(mtls_error *err, const char *prefix)
{
    if (err == NULL || err->code == 0) {
        return;
    }
    /* Shift the message right and put the prefix in front; truncation is acceptable. */
    size_t cap = sizeof(err->message), plen = strlen(prefix), mlen = strlen(err->message);
    if (plen + 2 >= cap) {
        return;
    }
    if (mlen > cap - 1 - plen - 2) {
        mlen = cap - 1 - plen - 2;
    }
    memmove(err->message + plen + 2, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen] = ':';
    err->message[plen + 1] = ' ';
    err->message[plen + 2 + mlen] = '\0';
}

/* list_names renders "a, b, c" for error messages. */
static void list_names(char *out, size_t cap, const char *const *names, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int k = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (k < 0) {
            return;
        }
        used += (size_t)k;
    }
}

static MTLS_RESULT field_index(size_t *out, const char *key, const char *const *names,
                               size_t n, const struct jpath *p, mtls_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(key, names[i]) == 0) {
            *out = i;
            return MTLS_RESULT_OK;
        }
    }
    char expected[200];
    list_names(expected, sizeof(expected), names, n);
    BAIL_MSG(MTLS_ERR_UNKNOWN_FIELD, "%s: unknown field \"%s\" (expected one of: %s)",
             mtlsp_jpath_str(p), key, expected);
}

MTLS_RESULT mtlsp_policy_fields(json_t **out, json_t *obj, const char *const *names, size_t n,
                                const struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_expect(obj, JSON_OBJECT, "an object", p, err));
    unsigned char seen[32] = {0};
    ENSURE(n <= sizeof(seen), MTLS_ERR_INTERNAL);
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        GUARD(field_index(&i, key, names, n, p, err));
        ENSURE_MSG(!seen[i], MTLS_ERR_INVALID_VALUE,
                   "%s: field \"%s\" given twice (keys differing only in case name the same "
                   "field; Caddy would silently keep the last)",
                   mtlsp_jpath_str(p), names[i]);
        seen[i] = 1;
        out[i] = json_is_null(v) ? NULL : v;
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_expect(json_t *v, int json_type, const char *type_name,
                                const struct jpath *p, mtls_error *err)
{
    int ok = v != NULL && ((int)json_typeof(v) == json_type ||
                           (json_type == JSON_TRUE && json_is_boolean(v)));
    ENSURE_MSG(ok, MTLS_ERR_JSON_TYPE, "%s: expected %s", mtlsp_jpath_str(p), type_name);
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_string_array(json_t *v, const struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_expect(v, JSON_ARRAY, "an array of strings", p, err));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        struct jpath q = *p;
        mtlsp_jpath_push_index(&q, i);
        GUARD(mtlsp_policy_expect(e, JSON_STRING, "a string", &q, err));
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_nonempty_array(json_t *v, const char *type_name, const struct jpath *p,
                                        mtls_error *err)
{
    GUARD(mtlsp_policy_expect(v, JSON_ARRAY, type_name, p, err));
    ENSURE_MSG(json_array_size(v) > 0, MTLS_ERR_EMPTY_TRUST,
               "%s: empty list (an empty trust list is refused, fail closed)",
               mtlsp_jpath_str(p));
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_trust_array(json_t *v, const struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_string_array(v, p, err));
    ENSURE_MSG(json_array_size(v) > 0, MTLS_ERR_EMPTY_TRUST,
               "%s: empty list (an empty trust list is refused, fail closed)",
               mtlsp_jpath_str(p));
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_dump(char **out, json_t *v, mtls_error *err)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb(v, NULL, 0, flags);
    ENSURE(n > 0 && n < SIZE_MAX, MTLS_ERR_INTERNAL);
    char *s = mtlsp_malloc(n + 1);
    ENSURE_MEM(s);
    if (json_dumpb(v, s, n, flags) != n) {
        mtlsp_free(s);
        BAIL(MTLS_ERR_INTERNAL);
    }
    s[n] = '\0';
    *out = s;
    return MTLS_RESULT_OK;
}

/* mtlsp_policy_get_field: the value of struct field `name` of `obj` (Go: case-insensitive), NULL when
 * absent or null; other keys are tolerated (whole Caddy configs). */
MTLS_RESULT mtlsp_policy_get_field(json_t **out, json_t *obj, const char *name,
                                   const struct jpath *p, mtls_error *err)
{
    const char *key;
    json_t *v;
    int seen = 0;
    *out = NULL;
    json_object_foreach(obj, key, v)
    {
        if (strcasecmp(key, name) != 0) {
            continue;
        }
        ENSURE_MSG(!seen, MTLS_ERR_INVALID_VALUE, "%s: field \"%s\" given twice",
                   mtlsp_jpath_str(p), name);
        seen = 1;
        *out = json_is_null(v) ? NULL : v;
    }
    return MTLS_RESULT_OK;
}
