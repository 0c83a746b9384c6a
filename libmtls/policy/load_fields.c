/*
 * policy/load_fields.c - validation of the connection-policy fields that libmtls does not
 * apply itself but hands to the server: certificate_selection, protocol_min/max, alpn,
 * cipher_suites, curves, default_sni, fallback_sni, drop.
 *
 * Stricter than Caddy on purpose: Caddy silently ignores an unknown protocol version or
 * curve name (they map to Go's zero value, i.e. the default); libmtls refuses them.
 */
#include <string.h>
#include <strings.h>

#include "load_internal.h"

/* Go's tls.CipherSuites() names (Go 1.19, as Caddy 2.6.2 accepts them). */
static const char *const cipher_suites[] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    NULL};

/* Caddy's SupportedCurves keys (X25519mlkem768 spelled as Caddy spells it). */
static const char *const curves[] = {"x25519", "secp256r1", "secp384r1", "secp521r1",
                                     "X25519mlkem768", NULL};

static const char *const protocols[] = {"tls1.2", "tls1.3", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* names_in: every string of array `v` is in `list`, else `msg` naming the element. */
static MTLS_RESULT names_in(json_t *v, const char *const *list, const char *msg,
                            struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_string_array(v, p, err));
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        ENSURE_MSG(in_list(s, list), MTLS_ERR_INVALID_VALUE, "%s[%zu]: %s: %s",
                   mtlsp_jpath_str(p), i, msg, s);
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT check_alpn(json_t *v, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_string_array(v, p, err));
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t n = json_string_length(json_array_get(v, i));
        ENSURE_MSG(n >= 1 && n <= 255, MTLS_ERR_INVALID_VALUE,
                   "%s[%zu]: an ALPN protocol name must be 1 to 255 bytes", mtlsp_jpath_str(p),
                   i);
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT check_protocol(json_t *v, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_expect(v, JSON_STRING, "a string", p, err));
    const char *s = json_string_value(v);
    ENSURE_MSG(s[0] == '\0' || in_list(s, protocols), MTLS_ERR_INVALID_VALUE,
               "%s: unsupported protocol version \"%s\" (Caddy supports tls1.2 and tls1.3)",
               mtlsp_jpath_str(p), s);
    return MTLS_RESULT_OK;
}

static int is_decimal(const char *s)
{
    s += (*s == '+' || *s == '-');
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static MTLS_RESULT check_serials(json_t *v, struct jpath *p, mtls_error *err)
{
    GUARD(mtlsp_policy_string_array(v, p, err));
    for (size_t k = 0; k < json_array_size(v); k++) {
        const char *s = json_string_value(json_array_get(v, k));
        ENSURE_MSG(is_decimal(s), MTLS_ERR_INVALID_VALUE, "%s[%zu]: not a valid big integer: %s",
                   mtlsp_jpath_str(p), k, s);
    }
    return MTLS_RESULT_OK;
}

/* Caddy lowercases the algorithm name before looking it up. */
static MTLS_RESULT check_algorithm(json_t *v, struct jpath *p, mtls_error *err)
{
    static const char *const algos[] = {"rsa", "dsa", "ecdsa", NULL};
    GUARD(mtlsp_policy_expect(v, JSON_STRING, "a string", p, err));
    const char *s = json_string_value(v);
    char low[8] = {0};
    for (size_t k = 0; s[k] != '\0' && k + 1 < sizeof(low); k++) {
        low[k] = (s[k] >= 'A' && s[k] <= 'Z') ? (char)(s[k] + 32) : s[k];
    }
    ENSURE_MSG(strlen(s) < sizeof(low) && in_list(low, algos), MTLS_ERR_INVALID_VALUE,
               "%s: unrecognized public key algorithm: %s (expected rsa, dsa or ecdsa)",
               mtlsp_jpath_str(p), s);
    return MTLS_RESULT_OK;
}

static MTLS_RESULT check_selection(json_t *v, struct jpath *p, mtls_error *err)
{
    static const char *const names[] = {"serial_number", "subject_organization",
                                        "public_key_algorithm", "any_tag", "all_tags"};
    json_t *f[5];
    GUARD(mtlsp_policy_fields(f, v, names, 5, p, err));
    for (int i = 0; i < 5; i++) {
        if (f[i] == NULL) {
            continue;
        }
        struct jpath q = *p;
        mtlsp_jpath_push_key(&q, names[i]);
        mtls_result rc = i == 0   ? check_serials(f[i], &q, err)
                         : i == 2 ? check_algorithm(f[i], &q, err)
                                  : mtlsp_policy_string_array(f[i], &q, err);
        GUARD(rc);
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_check_field(int field, json_t *v, struct jpath *p, mtls_error *err)
{
    switch (field) {
    case PF_CERTIFICATE_SELECTION:
        return check_selection(v, p, err);
    case PF_PROTOCOL_MIN:
    case PF_PROTOCOL_MAX:
        return check_protocol(v, p, err);
    case PF_ALPN:
        return check_alpn(v, p, err);
    case PF_CIPHER_SUITES:
        return names_in(v, cipher_suites, "unsupported cipher suite", p, err);
    case PF_CURVES:
        return names_in(v, curves, "unsupported curve", p, err);
    case PF_DEFAULT_SNI:
    case PF_FALLBACK_SNI:
        return mtlsp_policy_expect(v, JSON_STRING, "a string", p, err);
    case PF_DROP:
        return mtlsp_policy_expect(v, JSON_TRUE, "a boolean", p, err);
    default:
        BAIL(MTLS_ERR_INTERNAL);
    }
}

MTLS_RESULT mtlsp_policy_check_protocols(json_t *min, json_t *max, const struct jpath *p,
                                         mtls_error *err)
{
    if (min == NULL || max == NULL) {
        return MTLS_RESULT_OK;
    }
    const char *a = json_string_value(min), *b = json_string_value(max);
    ENSURE_MSG(a[0] == '\0' || b[0] == '\0' || strcmp(a, b) <= 0, MTLS_ERR_INVALID_VALUE,
               "%s: protocol_min (%s) cannot be greater than protocol_max (%s)",
               mtlsp_jpath_str(p), a, b);
    return MTLS_RESULT_OK;
}
