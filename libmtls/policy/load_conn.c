/*
 * policy/load_conn.c - one element of `tls_connection_policies`: its `match` matchers,
 * its client_authentication, and the TLS fields that libmtls validates and hands to the
 * server (stored as compact JSON text).
 */
#include <stdio.h>
#include <string.h>

#include "../core/mem.h"
#include "load_internal.h"

const char *const mtlsp_policy_field_names[PF_NUM_FIELDS] = {
    "certificate_selection", "protocol_min", "protocol_max", "alpn", "cipher_suites",
    "curves", "default_sni", "fallback_sni", "drop"};

/* Field order of a connection policy: the PF_* fields, then these. */
static const char *const conn_fields[] = {
    "certificate_selection", "protocol_min", "protocol_max", "alpn", "cipher_suites",
    "curves", "default_sni", "fallback_sni", "drop", "match", "client_authentication",
    "insecure_secrets_log", "handshake_context", "ech"};
enum { C_MATCH = PF_NUM_FIELDS, C_AUTH, C_SECRETS_LOG, C_HANDSHAKE_CTX, C_ECH, C_NUM };

static MTLS_RESULT load_names(struct matchers *m, json_t *v, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_string_array(v, p, err));
    size_t n = json_array_size(v);
    m->has_sni = 1;
    m->sni = mtlsp_calloc(n, sizeof(*m->sni));
    ENSURE_MEM(m->sni);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char *s = mtlsp_strndup(json_string_value(e), json_string_length(e));
        ENSURE_MEM(s);
        for (char *c = s; *c; c++) {
            *c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        }
        m->sni[m->num_sni++] = s;
    }
    return MTLS_RESULT_OK;
}

/* parse_bits: a decimal prefix length without sign or leading zeros, at most `max`. */
static int parse_bits(const char *s, int max, int *out)
{
    int v = 0;
    if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 3) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return v <= max;
}

/* parse_cidr: "10.0.0.0/8", "2001:db8::/32", or a bare IP (= /32 or /128), as Caddy. */
static int parse_cidr(const char *s, struct cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n >= sizeof(addr)) {
        return 0;
    }
    memcpy(addr, s, n);
    addr[n] = '\0';
    if (!mtlsp_parse_ip(addr, &out->family, out->addr)) {
        return 0;
    }
    int max = out->family == 4 ? 32 : 128;
    out->bits = max;
    if (slash != NULL && !parse_bits(slash + 1, max, &out->bits)) {
        return 0;
    }
    for (int i = 0; i < 16; i++) { /* clear host bits */
        int keep = out->bits - 8 * i;
        out->addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return 1;
}

static MTLS_RESULT load_ranges(struct cidr **out, size_t *num, json_t *v, const char *name,
                               struct jpath *p, mtls_error *err)
{
    if (v == NULL) {
        return MTLS_RESULT_OK;
    }
    size_t old = mtlsp_jpath_push_key(p, name);
    mtls_result rc = mtlsp_policy_string_array(v, p, err);
    size_t n = json_array_size(v);
    *out = MTLS_IS_OK(rc) ? mtlsp_calloc(n, sizeof(**out)) : NULL;
    if (MTLS_IS_OK(rc) && *out == NULL) {
        rc = (mtls_result){mtlsp_error_set(err, MTLS_ERR_NOMEM, __FILE__, __LINE__, NULL)};
    }
    for (size_t i = 0; MTLS_IS_OK(rc) && i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        size_t o2 = mtlsp_jpath_push_index(p, i);
        if (!parse_cidr(s, &(*out)[i])) {
            rc = (mtls_result){mtlsp_error_set(err, MTLS_ERR_INVALID_CIDR, __FILE__, __LINE__,
                                               "%s: invalid IP address or CIDR range \"%s\"",
                                               mtlsp_jpath_str(p), s)};
        }
        mtlsp_jpath_pop(p, o2);
        *num = i + 1;
    }
    mtlsp_jpath_pop(p, old);
    return rc;
}

static MTLS_RESULT load_ip_matcher(struct matchers *m, json_t *v, int remote, struct jpath *p,
                                   mtls_error *err)
{
    static const char *const remote_f[] = {"ranges", "not_ranges"};
    json_t *f[2];
    GUARD(mtlsp_policy_fields(f, v, remote_f, remote ? 2 : 1, p, err));
    if (!remote) {
        m->has_local_ip = 1;
        return load_ranges(&m->local_ranges, &m->num_local_ranges, f[0], "ranges", p, err);
    }
    m->has_remote_ip = 1;
    GUARD(load_ranges(&m->remote_ranges, &m->num_remote_ranges, f[0], "ranges", p, err));
    return load_ranges(&m->remote_not_ranges, &m->num_remote_not_ranges, f[1], "not_ranges",
                       p, err);
}

/* `match` is a Caddy module map: its keys are module names, matched exactly. */
static MTLS_RESULT load_match(struct matchers *m, json_t *obj, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_expect(obj, JSON_OBJECT, "an object", p, err));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t old = mtlsp_jpath_push_key(p, key);
        mtls_result rc;
        if (strcmp(key, "sni") == 0) {
            rc = load_names(m, v, p, err);
        } else if (strcmp(key, "remote_ip") == 0 || strcmp(key, "local_ip") == 0) {
            rc = load_ip_matcher(m, v, key[0] == 'r', p, err);
        } else {
            rc = (mtls_result){mtlsp_error_set(
                err, MTLS_ERR_UNKNOWN_FIELD, __FILE__, __LINE__,
                "%s: unknown connection matcher \"%s\" (libmtls supports sni, remote_ip, "
                "local_ip)", mtlsp_jpath_str(p), key)};
        }
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT load_fields(struct conn_policy *cp, json_t **f, struct jpath *p,
                               mtls_error *err)
{
    for (int i = 0; i < PF_NUM_FIELDS; i++) {
        if (f[i] == NULL) {
            continue;
        }
        size_t old = mtlsp_jpath_push_key(p, mtlsp_policy_field_names[i]);
        mtls_result rc = mtlsp_policy_check_field(i, f[i], p, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
        if (json_is_string(f[i]) && json_string_length(f[i]) == 0) {
            continue; /* "" is Go's omitempty zero value: unset */
        }
        GUARD(mtlsp_policy_dump(&cp->fields[i], f[i], err));
    }
    return mtlsp_policy_check_protocols(f[PF_PROTOCOL_MIN], f[PF_PROTOCOL_MAX], p, err);
}

static MTLS_RESULT refuse_unsupported(json_t **f, const struct jpath *p, mtls_error *err)
{
    for (int i = C_SECRETS_LOG; i < C_NUM; i++) {
        ENSURE_MSG(f[i] == NULL, MTLS_ERR_UNKNOWN_FIELD,
                   "%s: field \"%s\" is a Caddy connection-policy field that libmtls does "
                   "not support", mtlsp_jpath_str(p), conn_fields[i]);
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_load_conn(struct conn_policy *cp, json_t *obj, struct jpath *p,
                                   mtls_error *err)
{
    json_t *f[C_NUM];
    GUARD(mtlsp_policy_fields(f, obj, conn_fields, C_NUM, p, err));
    GUARD(refuse_unsupported(f, p, err));
    if (f[C_MATCH] != NULL) {
        size_t old = mtlsp_jpath_push_key(p, "match");
        mtls_result rc = load_match(&cp->match, f[C_MATCH], p, err);
        mtlsp_jpath_pop(p, old);
        GUARD(rc);
    }
    GUARD(load_fields(cp, f, p, err));
    size_t old = mtlsp_jpath_push_key(p, "client_authentication");
    mtls_result rc = mtlsp_policy_load_auth(&cp->auth, f[C_AUTH], p, err);
    mtlsp_jpath_pop(p, old);
    return rc;
}

void mtlsp_policy_conn_free(struct conn_policy *cp)
{
    if (cp == NULL) {
        return;
    }
    for (size_t i = 0; i < cp->match.num_sni; i++) {
        mtlsp_free(cp->match.sni[i]);
    }
    mtlsp_free(cp->match.sni);
    mtlsp_free(cp->match.remote_ranges);
    mtlsp_free(cp->match.remote_not_ranges);
    mtlsp_free(cp->match.local_ranges);
    mtlsp_policy_auth_free(&cp->auth);
    for (int i = 0; i < PF_NUM_FIELDS; i++) {
        mtlsp_free(cp->fields[i]);
    }
    memset(cp, 0, sizeof(*cp));
}
