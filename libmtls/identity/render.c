/*
 * identity/render.c - {http.request.tls.client.*} placeholders, as Caddy's
 * getReqTLSReplacement (modules/caddyhttp/replacer.go) renders them, plus libmtls's
 * extensions. Key lookup follows Caddy: the key is lowercased, "san.X" prefixes are
 * matched, and "san.X.N" indexes with N read like Go's strconv.Atoi.
 */
#include <string.h>

#include <openssl/sha.h>

#include "../core/mem.h"
#include "identity.h"
#include "identity_int.h"

enum key_id {
    K_FINGERPRINT, K_PUBLIC_KEY, K_PUBLIC_KEY_SHA256, K_ISSUER, K_SUBJECT, K_SERIAL,
    K_PEM, K_DER_BASE64, K_SPIFFE_ID, K_SPKI_SHA256, K_NOT_BEFORE, K_NOT_AFTER, K_XFCC,
    K_SAN_DNS, K_SAN_EMAILS, K_SAN_IPS, K_SAN_URIS, K_NUM
};

const char *const mtlsp_identity_keys[] = {
    [K_FINGERPRINT] = "fingerprint",
    [K_PUBLIC_KEY] = "public_key",
    [K_PUBLIC_KEY_SHA256] = "public_key_sha256",
    [K_ISSUER] = "issuer",
    [K_SUBJECT] = "subject",
    [K_SERIAL] = "serial",
    [K_PEM] = "certificate_pem",
    [K_DER_BASE64] = "certificate_der_base64",
    [K_SPIFFE_ID] = "spiffe_id",
    [K_SPKI_SHA256] = "spki_sha256",
    [K_NOT_BEFORE] = "not_before",
    [K_NOT_AFTER] = "not_after",
    [K_XFCC] = "xfcc",
    [K_SAN_DNS] = "san.dns_names",
    [K_SAN_EMAILS] = "san.emails",
    [K_SAN_IPS] = "san.ips",
    [K_SAN_URIS] = "san.uris",
    [K_NUM] = NULL,
};

struct key {
    enum key_id id;
    long index; /* -1: whole list */
};

static int lower_eq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
        if (c != b[i]) {
            return 0;
        }
    }
    return 1;
}

/* strconv.Atoi: optional sign, decimal digits, no overflow. */
static int parse_go_int(const char *s, long *out)
{
    int neg = *s == '-';
    unsigned long v = 0;
    if (*s == '-' || *s == '+') {
        s++;
    }
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (0x7fffffffffffffffUL - (unsigned long)(*s - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (unsigned long)(*s - '0');
    }
    *out = neg ? -(long)v : (long)v;
    return 1;
}

/* Caddy: "san." then a list name as prefix; nothing after it, or ".N". */
static int classify_san(struct key *k, const char *rest)
{
    static const char *const lists[] = {"dns_names", "emails", "ips", "uris"};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(lists[i]);
        if (strlen(rest) < n || !lower_eq(rest, n, lists[i])) {
            continue;
        }
        const char *tail = rest + n;
        k->id = (enum key_id)(K_SAN_DNS + i);
        k->index = -1;
        if (*tail == '\0') {
            return 1;
        }
        return tail[0] == '.' && tail[1] != '\0' && parse_go_int(tail + 1, &k->index) &&
               k->index >= 0;
    }
    return 0;
}

static int classify(struct key *k, const char *key)
{
    if (strlen(key) >= 4 && lower_eq(key, 4, "san.")) {
        return classify_san(k, key + 4);
    }
    for (int i = 0; i < K_SAN_DNS; i++) {
        if (lower_eq(key, strlen(key), mtlsp_identity_keys[i])) {
            k->id = (enum key_id)i;
            k->index = -1;
            return 1;
        }
    }
    return 0;
}

static MTLS_RESULT append_sha256_hex(struct buf *out, const uint8_t *p, size_t n,
                                     mtls_error *err)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    return mtlsp_buf_append_hex(out, md, sizeof(md), err);
}

static MTLS_RESULT append_public_key(struct buf *out, const struct gocert *c, int hashed,
                                     mtls_error *err)
{
    uint8_t *key = NULL;
    size_t len = 0;
    GUARD(mtlsp_pubkey_bytes(&key, &len, c, err));
    mtls_result rc = MTLS_RESULT_OK;
    if (len > 0) {
        rc = hashed ? append_sha256_hex(out, key, len, err)
                    : mtlsp_buf_append_hex(out, key, len, err);
    }
    mtlsp_free(key);
    return rc;
}

/* encoding/pem EncodeToMemory of a CERTIFICATE block: 64-column base64 lines. */
static MTLS_RESULT append_pem(struct buf *out, const mtlsp_cbs *der, mtls_error *err)
{
    struct buf b64 = {0};
    mtls_result rc = mtlsp_buf_append_base64(&b64, mtlsp_cbs_data(der), mtlsp_cbs_len(der), err);
    if (MTLS_IS_OK(rc)) {
        rc = mtlsp_buf_append_str(out, "-----BEGIN CERTIFICATE-----\n", err);
    }
    for (size_t i = 0; MTLS_IS_OK(rc) && i < b64.len; i += 64) {
        size_t n = b64.len - i < 64 ? b64.len - i : 64;
        rc = mtlsp_buf_append(out, b64.data + i, n, err);
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_buf_append_byte(out, '\n', err);
        }
    }
    if (MTLS_IS_OK(rc)) {
        rc = mtlsp_buf_append_str(out, "-----END CERTIFICATE-----\n", err);
    }
    mtlsp_buf_free(&b64);
    return rc;
}

/* Envoy x-forwarded-client-cert element: Hash, Subject (always quoted), URI..., DNS.... */
static MTLS_RESULT append_xfcc(struct buf *out, const struct gocert *c, mtls_error *err)
{
    struct buf subject = {0};
    GUARD(mtlsp_buf_append_str(out, "Hash=", err));
    GUARD(append_sha256_hex(out, mtlsp_cbs_data(&c->raw), mtlsp_cbs_len(&c->raw), err));
    GUARD(mtlsp_buf_append_str(out, ";Subject=", err));
    mtls_result rc = mtlsp_render_dn(&subject, mtlsp_cbs_data(&c->subject), mtlsp_cbs_len(&c->subject),
                                     err);
    if (MTLS_IS_OK(rc)) {
        rc = mtlsp_xfcc_append_value(out, subject.data ? subject.data : "", subject.len, 1,
                                     err);
    }
    mtlsp_buf_free(&subject);
    GUARD(rc);
    return mtlsp_san_append_xfcc(out, &c->san, err);
}

static MTLS_RESULT render_key(struct buf *out, const struct gocert *c, const struct key *k,
                              mtls_error *err)
{
    switch (k->id) {
    case K_FINGERPRINT:
        return append_sha256_hex(out, mtlsp_cbs_data(&c->raw), mtlsp_cbs_len(&c->raw), err);
    case K_PUBLIC_KEY:
    case K_PUBLIC_KEY_SHA256:
        return append_public_key(out, c, k->id == K_PUBLIC_KEY_SHA256, err);
    case K_ISSUER:
        return mtlsp_render_dn(out, mtlsp_cbs_data(&c->issuer), mtlsp_cbs_len(&c->issuer), err);
    case K_SUBJECT:
        return mtlsp_render_dn(out, mtlsp_cbs_data(&c->subject), mtlsp_cbs_len(&c->subject), err);
    case K_SERIAL:
        return mtlsp_int_append_decimal(out, mtlsp_cbs_data(&c->serial), mtlsp_cbs_len(&c->serial), err);
    case K_PEM:
        return append_pem(out, &c->raw, err);
    case K_DER_BASE64:
        return mtlsp_buf_append_base64(out, mtlsp_cbs_data(&c->raw), mtlsp_cbs_len(&c->raw), err);
    case K_SPIFFE_ID:
        return mtlsp_san_append_spiffe(out, &c->san, err);
    case K_SPKI_SHA256:
        return append_sha256_hex(out, mtlsp_cbs_data(&c->spki), mtlsp_cbs_len(&c->spki), err);
    case K_NOT_BEFORE:
        return mtlsp_gotime_append_rfc3339(out, c->not_before, err);
    case K_NOT_AFTER:
        return mtlsp_gotime_append_rfc3339(out, c->not_after, err);
    case K_XFCC:
        return append_xfcc(out, c, err);
    case K_SAN_DNS:
    case K_SAN_EMAILS:
    case K_SAN_IPS:
    case K_SAN_URIS:
        return mtlsp_san_append(out, &c->san, SAN_DNS + (int)(k->id - K_SAN_DNS), k->index,
                                err);
    default:
        BAIL(MTLS_ERR_INTERNAL);
    }
}

struct mtlsp_leaf {
    struct gocert c;
};

MTLS_RESULT mtlsp_leaf_parse(struct mtlsp_leaf **out, const uint8_t *der, size_t der_len,
                             mtls_error *err)
{
    ENSURE_REF(out);
    *out = NULL;
    ENSURE_MSG(der != NULL && der_len > 0, MTLS_ERR_CERT_PARSE, "x509: empty certificate");
    struct mtlsp_leaf *leaf = mtlsp_calloc(1, sizeof(*leaf));
    ENSURE_MEM(leaf);
    mtls_result rc = mtlsp_gocert_parse(&leaf->c, der, der_len, err);
    if (!MTLS_IS_OK(rc)) {
        mtlsp_free(leaf);
        return rc;
    }
    *out = leaf;
    return MTLS_RESULT_OK;
}

int mtlsp_leaf_key_supported(const struct mtlsp_leaf *leaf)
{
    return mtlsp_gocert_key_supported(&leaf->c);
}

void mtlsp_leaf_free(struct mtlsp_leaf *leaf)
{
    mtlsp_free(leaf);
}

static MTLS_RESULT render_parsed(struct buf *out, const struct gocert *c, const struct key *k,
                                 mtls_error *err)
{
    size_t saved = out->len;
    mtls_result rc = render_key(out, c, k, err);
    if (!MTLS_IS_OK(rc) && out->data != NULL) {
        out->len = saved; /* leave nothing half-rendered */
        out->data[saved] = '\0';
    }
    return rc;
}

MTLS_RESULT mtlsp_identity_render_leaf(struct buf *out, int *out_known,
                                       const struct mtlsp_leaf *leaf, const char *key,
                                       mtls_error *err)
{
    struct key k;
    ENSURE_REF(out);
    ENSURE_REF(out_known);
    ENSURE_REF(leaf);
    ENSURE_REF(key);
    *out_known = classify(&k, key);
    return *out_known ? render_parsed(out, &leaf->c, &k, err) : MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_identity_check(const uint8_t *der, size_t der_len, mtls_error *err)
{
    struct gocert c;
    ENSURE_MSG(der != NULL && der_len > 0, MTLS_ERR_CERT_PARSE, "x509: empty certificate");
    return mtlsp_gocert_parse(&c, der, der_len, err);
}

MTLS_RESULT mtlsp_identity_render(struct buf *out, int *out_known, const uint8_t *der,
                                  size_t der_len, const char *key, mtls_error *err)
{
    struct key k;
    struct gocert c;
    ENSURE_REF(out);
    ENSURE_REF(out_known);
    ENSURE_REF(key);
    *out_known = 0;
    if (!classify(&k, key)) {
        return MTLS_RESULT_OK;
    }
    *out_known = 1;
    ENSURE_MSG(der != NULL && der_len > 0, MTLS_ERR_CERT_PARSE, "x509: empty certificate");
    GUARD(mtlsp_gocert_parse(&c, der, der_len, err));
    return render_parsed(out, &c, &k, err);
}
