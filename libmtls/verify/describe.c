/*
 * verify/describe.c - mtls_ctx_describe_json: the effective policy set as JSON, for
 * `mtls policy check` and for operators' logs. Renders what the ctx holds after loading
 * (modes after Caddy's defaults, every anchor and leaf pin), never the source text.
 * jansson builds the document; the text is copied into the library's allocator so that
 * mtls_free releases it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../core/buf.h"
#include "../core/mem.h"
#include "../identity/identity.h"
#include "verify.h"

static const char *mode_name(int mode)
{
    switch (mode) {
    case MTLS_MODE_REQUEST:
        return "request";
    case MTLS_MODE_REQUIRE:
        return "require";
    case MTLS_MODE_VERIFY_IF_GIVEN:
        return "verify_if_given";
    case MTLS_MODE_REQUIRE_AND_VERIFY:
        return "require_and_verify";
    default:
        return "off";
    }
}

/* Adds `v` (a new reference, NULL when an allocation failed) to `obj` under `key`. */
static MTLS_RESULT put(json_t *obj, const char *key, json_t *v, mtls_error *err)
{
    ENSURE_MEM(v);
    ENSURE(json_object_set_new(obj, key, v) == 0, MTLS_ERR_NOMEM);
    return MTLS_RESULT_OK;
}

static MTLS_RESULT push(json_t *arr, json_t *v, mtls_error *err)
{
    ENSURE_MEM(v);
    ENSURE(json_array_append_new(arr, v) == 0, MTLS_ERR_NOMEM);
    return MTLS_RESULT_OK;
}

/* A JSON string of `s`; bytes that are not UTF-8 become U+FFFD (jansson refuses them). */
static json_t *text(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v != NULL) {
        return v;
    }
    struct buf b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        mtls_result rc = c < 0x80 ? mtlsp_buf_append_byte(&b, c, NULL)
                                  : mtlsp_buf_append_str(&b, "\xef\xbf\xbd", NULL);
        if (!MTLS_IS_OK(rc)) {
            mtlsp_buf_free(&b);
            return NULL;
        }
    }
    v = json_stringn(b.data != NULL ? b.data : "", b.len);
    mtlsp_buf_free(&b);
    return v;
}

/* hex_json: a SHA-256 digest in lowercase hex. */
static json_t *hex_json(const uint8_t md[SHA256_DIGEST_LENGTH])
{
    static const char hex[] = "0123456789abcdef";
    char s[2 * SHA256_DIGEST_LENGTH];
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        s[2 * i] = hex[md[i] >> 4];
        s[2 * i + 1] = hex[md[i] & 15];
    }
    return json_stringn(s, sizeof(s));
}

static json_t *sha256_hex(const uint8_t *der, size_t len)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(der, len, md);
    return hex_json(md);
}

static MTLS_RESULT put_cidrs(json_t *obj, const char *key, const struct cidr *c, size_t n,
                             mtls_error *err)
{
    json_t *arr = json_array();
    GUARD(put(obj, key, arr, err));
    for (size_t i = 0; i < n; i++) {
        char addr[INET6_ADDRSTRLEN];
        char s[INET6_ADDRSTRLEN + 8];
        ENSURE(inet_ntop(c[i].family == 4 ? AF_INET : AF_INET6, c[i].addr, addr,
                         sizeof(addr)) != NULL,
               MTLS_ERR_INTERNAL);
        snprintf(s, sizeof(s), "%s/%d", addr, c[i].bits);
        GUARD(push(arr, json_string(s), err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT describe_match(json_t *pol, const struct matchers *m, mtls_error *err)
{
    json_t *match = json_object();
    GUARD(put(pol, "match", match, err));
    if (m->has_sni) {
        json_t *sni = json_array();
        GUARD(put(match, "sni", sni, err));
        for (size_t i = 0; i < m->num_sni; i++) {
            GUARD(push(sni, text(m->sni[i], strlen(m->sni[i])), err));
        }
    }
    if (m->has_remote_ip) {
        json_t *r = json_object();
        GUARD(put(match, "remote_ip", r, err));
        GUARD(put_cidrs(r, "ranges", m->remote_ranges, m->num_remote_ranges, err));
        GUARD(put_cidrs(r, "not_ranges", m->remote_not_ranges, m->num_remote_not_ranges, err));
    }
    if (m->has_local_ip) {
        json_t *l = json_object();
        GUARD(put(match, "local_ip", l, err));
        GUARD(put_cidrs(l, "ranges", m->local_ranges, m->num_local_ranges, err));
    }
    return MTLS_RESULT_OK;
}

/* A Go-rendered certificate field ("subject", "not_after", ...), or JSON null when Go
 * could not parse the certificate. */
static MTLS_RESULT put_cert_field(json_t *obj, const char *key, const struct der *d,
                                  mtls_error *err)
{
    struct buf b = {0};
    int known = 0;
    mtls_error scratch = {0};
    mtls_result rc = mtlsp_identity_render(&b, &known, d->data, d->len, key, &scratch);
    if (!MTLS_IS_OK(rc)) {
        mtlsp_buf_free(&b);
        ENSURE(rc.code == MTLS_ERR_CERT_PARSE, rc.code);
        return put(obj, key, json_null(), err);
    }
    json_t *v = text(b.data != NULL ? b.data : "", b.len);
    mtlsp_buf_free(&b);
    return put(obj, key, v, err);
}

/* Self-signed: issuer equals subject and the certificate's own key verifies it. */
static int self_signed(const struct der *d)
{
    const uint8_t *p = d->data;
    X509 *x = d2i_X509(NULL, &p, (long)d->len);
    EVP_PKEY *key = x != NULL ? X509_get_pubkey(x) : NULL;
    int ok = key != NULL &&
             X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
             X509_verify(x, key) == 1;
    EVP_PKEY_free(key);
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static MTLS_RESULT describe_anchor(json_t *arr, const struct der *d, mtls_error *err)
{
    json_t *a = json_object();
    GUARD(push(arr, a, err));
    GUARD(put_cert_field(a, "subject", d, err));
    GUARD(put_cert_field(a, "issuer", d, err));
    GUARD(put(a, "sha256", sha256_hex(d->data, d->len), err));
    GUARD(put(a, "self_signed", json_boolean(self_signed(d)), err));
    GUARD(put_cert_field(a, "not_before", d, err));
    GUARD(put_cert_field(a, "not_after", d, err));
    return MTLS_RESULT_OK;
}

static MTLS_RESULT describe_auth(json_t *pol, const struct client_auth *a, mtls_error *err)
{
    GUARD(put(pol, "mode", json_string(mode_name(a->mode)), err));
    GUARD(put(pol, "mode_explicit", json_boolean(a->mode_explicit), err));
    GUARD(put(pol, "system_roots", json_boolean(a->uses_system_roots), err));
    json_t *anchors = json_array();
    GUARD(put(pol, "trust_anchors", anchors, err));
    for (size_t i = 0; i < a->anchors.num; i++) {
        GUARD(describe_anchor(anchors, &a->anchors.items[i], err));
    }
    json_t *lists = json_array();
    GUARD(put(pol, "leaf_pins", lists, err));
    for (size_t l = 0; l < a->num_leaf_lists; l++) {
        json_t *pins = json_array();
        GUARD(push(lists, pins, err));
        /* Pin lists keep only each pin's SHA-256, which is what is shown. */
        for (size_t i = 0; i < a->leaf_lists[l].num; i++) {
            uint8_t md[SHA256_DIGEST_LENGTH];
            mtlsp_der_list_digest(&a->leaf_lists[l], i, md);
            GUARD(push(pins, hex_json(md), err));
        }
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT describe_fields(json_t *pol, const struct conn_policy *cp, mtls_error *err)
{
    json_t *fields = json_object();
    GUARD(put(pol, "fields", fields, err));
    for (size_t f = 0; f < PF_NUM_FIELDS; f++) {
        if (cp->fields[f] == NULL) {
            continue;
        }
        json_t *v = json_loads(cp->fields[f], JSON_DECODE_ANY, NULL);
        ENSURE(v != NULL, MTLS_ERR_INTERNAL); /* stored as valid compact JSON at load */
        GUARD(put(fields, mtlsp_policy_field_names[f], v, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT describe_set(json_t *root, const struct policy_set *set, mtls_error *err)
{
    json_t *arr = json_array();
    GUARD(put(root, "policies", arr, err));
    for (size_t i = 0; i < set->num; i++) {
        const struct conn_policy *cp = &set->policies[i];
        json_t *pol = json_object();
        GUARD(push(arr, pol, err));
        GUARD(put(pol, "index", json_integer((json_int_t)i), err));
        GUARD(describe_match(pol, &cp->match, err));
        GUARD(describe_auth(pol, &cp->auth, err));
        GUARD(describe_fields(pol, cp, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT describe(char **out, size_t *out_len, const struct mtls_ctx *ctx,
                            mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    char *dumped = NULL;
    json_t *root = json_object();
    ENSURE_MEM(root);
    GUARD_OUT(describe_set(root, ctx->set, err));
    dumped = json_dumps(root, JSON_INDENT(2));
    if (dumped == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    size_t len = strlen(dumped);
    char *copy = mtlsp_memdup(dumped, len + 1);
    if (copy == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    *out = copy;
    if (out_len != NULL) {
        *out_len = len;
    }
out:
    if (dumped != NULL) {
        json_malloc_t jmalloc;
        json_free_t jfree;
        json_get_alloc_funcs(&jmalloc, &jfree); /* a host may have replaced jansson's */
        jfree(dumped);
    }
    json_decref(root);
    return rc;
}

MTLS_API mtls_status mtls_ctx_describe_json(const mtls_ctx *ctx, char **out, size_t *out_len,
                                            mtls_error *err)
{
    mtlsp_error_clear(err);
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || out == NULL) {
        return (mtls_status)mtlsp_error_set(err, MTLS_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                                            "mtls_ctx_describe_json: NULL argument");
    }
    return mtlsp_status(describe(out, out_len, ctx, err));
}
