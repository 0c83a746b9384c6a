/*
 * tools/mtls/certinfo.c - what the tool says about one certificate: its names, fingerprint
 * and validity as libmtls renders them (Caddy's placeholder strings, through a `request`
 * policy that judges nothing), and the flags hints need (basicConstraints, keyUsage,
 * extendedKeyUsage), read with BoringSSL.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tool.h"

static mtls_ctx *render_ctx;

void certinfo_shutdown(void)
{
    mtls_ctx_free(render_ctx);
    render_ctx = NULL;
}

/* An owned copy of placeholder `key` of `peer` (the fallback when Go cannot render it). */
static char *field(mtls_peer *peer, const char *key, const char *fallback)
{
    char name[96];
    const char *v = NULL;
    size_t n = 0;
    snprintf(name, sizeof(name), "http.request.tls.client.%s", key);
    if (peer == NULL || mtls_peer_get(peer, name, &v, &n, NULL) != MTLS_OK) {
        return strdup(fallback);
    }
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, v, n);
        s[n] = '\0';
    }
    return s;
}

static void eku_names(struct certinfo *ci, X509 *x)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    size_t k = 0;
    ci->eku_names[0] = '\0';
    for (size_t i = 0; eku != NULL && i < (size_t)sk_ASN1_OBJECT_num(eku); i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        char txt[80];
        int nid = OBJ_obj2nid(o);
        if (nid != NID_undef) {
            snprintf(txt, sizeof(txt), "%s", OBJ_nid2sn(nid));
        } else if (OBJ_obj2txt(txt, sizeof(txt), o, 1) <= 0) {
            snprintf(txt, sizeof(txt), "?");
        }
        int w = snprintf(ci->eku_names + k, sizeof(ci->eku_names) - k, "%s%s", k ? ", " : "",
                         txt);
        if (w < 0 || (size_t)w >= sizeof(ci->eku_names) - k) {
            break;
        }
        k += (size_t)w;
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

static void x509_flags(struct certinfo *ci, const uint8_t *der, size_t len)
{
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL) {
        ERR_clear_error();
        return;
    }
    uint32_t flags = X509_get_extension_flags(x);
    uint32_t xku = X509_get_extended_key_usage(x);
    ci->x509_ok = 1;
    ci->version = (int)X509_get_version(x) + 1;
    ci->has_bc = (flags & EXFLAG_BCONS) != 0;
    ci->is_ca = ci->has_bc && (flags & EXFLAG_CA) != 0;
    ci->has_ku = (flags & EXFLAG_KUSAGE) != 0;
    ci->ku_cert_sign = ci->has_ku && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0;
    ci->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
    ci->eku_client = ci->has_eku && (xku & XKU_SSL_CLIENT) != 0;
    ci->eku_server = ci->has_eku && (xku & XKU_SSL_SERVER) != 0;
    ci->eku_any = ci->has_eku && (xku & XKU_ANYEKU) != 0;
    EVP_PKEY *key = X509_get_pubkey(x);
    ci->self_signed = key != NULL &&
                      X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
                      X509_verify(x, key) == 1;
    EVP_PKEY_free(key);
    eku_names(ci, x);
    X509_free(x);
    ERR_clear_error();
}

int certinfo_get(struct certinfo *ci, const uint8_t *der, size_t len)
{
    memset(ci, 0, sizeof(*ci));
    if (render_ctx == NULL) {
        static const char request[] = "{\"mode\":\"request\"}";
        render_ctx = mtls_ctx_new_from_json(request, sizeof(request) - 1, NULL, NULL);
    }
    mtls_peer *peer = NULL;
    if (render_ctx == NULL ||
        mtls_verify_der(render_ctx, 0, &der, &len, 1, MTLS_TIME_NOW, &peer, NULL) != MTLS_OK) {
        return -1;
    }
    const char *unparsable = "(Go cannot parse this certificate)";
    ci->subject = field(peer, "subject", unparsable);
    ci->issuer = field(peer, "issuer", unparsable);
    ci->sha256 = field(peer, "fingerprint", "");
    ci->not_before = field(peer, "not_before", "");
    ci->not_after = field(peer, "not_after", "");
    mtls_peer_free(peer);
    if (ci->subject == NULL || ci->issuer == NULL || ci->sha256 == NULL ||
        ci->not_before == NULL || ci->not_after == NULL) {
        certinfo_free(ci);
        return -1;
    }
    char why[128];
    if (tool_parse_time(ci->not_before, &ci->not_before_unix, why, sizeof(why)) != 0) {
        ci->not_before_unix = INT64_MIN;
    }
    if (tool_parse_time(ci->not_after, &ci->not_after_unix, why, sizeof(why)) != 0) {
        ci->not_after_unix = INT64_MAX;
    }
    x509_flags(ci, der, len);
    return 0;
}

void certinfo_free(struct certinfo *ci)
{
    free(ci->subject);
    free(ci->issuer);
    free(ci->sha256);
    free(ci->not_before);
    free(ci->not_after);
    memset(ci, 0, sizeof(*ci));
}

json_t *certinfo_json(const struct certinfo *ci)
{
    json_t *o = json_object();
    json_object_set_new(o, "subject", tool_json_text(ci->subject, strlen(ci->subject)));
    json_object_set_new(o, "issuer", tool_json_text(ci->issuer, strlen(ci->issuer)));
    json_object_set_new(o, "sha256", json_string(ci->sha256));
    json_object_set_new(o, "not_before", json_string(ci->not_before));
    json_object_set_new(o, "not_after", json_string(ci->not_after));
    json_object_set_new(o, "self_signed", json_boolean(ci->self_signed));
    return o;
}
