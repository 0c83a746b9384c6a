/*
 * truststore/pem.c - DER lists, and strict decoding of base64 and PEM certificate text.
 *
 * PEM rules (stricter than Go's pem.Decode, which silently skips malformed blocks and
 * Caddy's FileCAPool, which silently skips non-certificate blocks):
 * - text outside blocks (comments, `openssl x509 -text` output) is ignored, as Go does;
 * - every `-----BEGIN X-----` needs its `-----END X-----`, else MTLS_ERR_PEM_MALFORMED;
 * - every block must be a CERTIFICATE (MTLS_ERR_PEM_WRONG_TYPE names the type);
 * - block bodies are base64 of exactly one DER certificate; PEM headers are refused.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "../core/mem.h"
#include "truststore.h"

#define BEGIN_MARK "-----BEGIN "
#define END_MARK "-----END "
#define DASHES "-----"

MTLS_RESULT mtlsp_der_list_add(struct der_list *l, const uint8_t *data, size_t len,
                               mtls_error *err)
{
    if (l->num == l->cap) {
        ENSURE(l->cap <= SIZE_MAX / 2 / sizeof(struct der), MTLS_ERR_NOMEM);
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct der *items = mtlsp_reallocarray(l->items, cap, sizeof(*items));
        ENSURE_MEM(items);
        l->items = items;
        l->cap = cap;
    }
    uint8_t *copy = mtlsp_memdup(data, len);
    ENSURE_MEM(copy);
    l->items[l->num].data = copy;
    l->items[l->num].len = len;
    l->num++;
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_der_list_move(struct der_list *to, struct der_list *from, mtls_error *err)
{
    ENSURE(from->num <= SIZE_MAX - to->num, MTLS_ERR_NOMEM);
    size_t need = to->num + from->num;
    if (need > to->cap) {
        struct der *items = mtlsp_reallocarray(to->items, need, sizeof(*items));
        ENSURE_MEM(items);
        to->items = items;
        to->cap = need;
    }
    if (from->num > 0) {
        memcpy(to->items + to->num, from->items, from->num * sizeof(*from->items));
    }
    to->num = need;
    mtlsp_free(from->items);
    from->items = NULL;
    from->num = from->cap = 0;
    return MTLS_RESULT_OK;
}

void mtlsp_der_list_free(struct der_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->num; i++) {
        mtlsp_free(l->items[i].data);
    }
    mtlsp_free(l->items);
    l->items = NULL;
    l->num = l->cap = 0;
}

MTLS_RESULT mtlsp_cert_check_der(const uint8_t *data, size_t len, const char *what,
                                 mtls_error *err)
{
    ENSURE_MSG(len > 0 && len <= MTLS_MAX_CERT_BYTES, MTLS_ERR_DER_INVALID,
               "%s: not a DER X.509 certificate (%zu bytes)", what, len);
    CBS cbs, seq;
    CBS_init(&cbs, data, len);
    ENSURE_MSG(CBS_get_asn1(&cbs, &seq, CBS_ASN1_SEQUENCE) && CBS_len(&cbs) == 0,
               MTLS_ERR_DER_INVALID,
               "%s: not a DER X.509 certificate (not one complete DER SEQUENCE)", what);
    const uint8_t *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    int ok = x != NULL && p == data + len;
    X509_free(x);
    if (!ok) {
        mtlsp_error_set(err, MTLS_ERR_DER_INVALID, __FILE__, __LINE__,
                        "%s: not a DER X.509 certificate", what);
        mtlsp_error_append_tls(err);
        return (mtls_result){MTLS_ERR_DER_INVALID};
    }
    return MTLS_RESULT_OK;
}

static int is_b64_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* decode_b64 decodes `n` characters of base64, skipping the characters for which `skip`
 * returns 1, into an owned buffer. */
static MTLS_RESULT decode_b64(uint8_t **out, size_t *out_len, const char *s, size_t n,
                              int (*skip)(char), const char *what, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    char *clean = mtlsp_malloc(n + 1);
    uint8_t *der = NULL;
    size_t m = 0, max = 0;
    ENSURE_MEM(clean);
    for (size_t i = 0; i < n; i++) {
        if (!skip(s[i])) {
            clean[m++] = s[i];
        }
    }
    if (m == 0 || m % 4 != 0 || !EVP_DecodedLength(&max, m)) {
        SET_OUT(MTLS_ERR_BASE64_INVALID, "%s: invalid base64 (length %zu)", what, m);
    }
    if (max > MTLS_MAX_CERT_BYTES) {
        SET_OUT(MTLS_ERR_DER_INVALID, "%s: certificate larger than %zu bytes", what,
                MTLS_MAX_CERT_BYTES);
    }
    der = mtlsp_malloc(max);
    if (der == NULL) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    if (!EVP_DecodeBase64(der, out_len, max, (const uint8_t *)clean, m)) {
        ERR_clear_error();
        SET_OUT(MTLS_ERR_BASE64_INVALID, "%s: invalid base64", what);
    }
    *out = der;
    der = NULL;
out:
    mtlsp_free(clean);
    mtlsp_free(der);
    return rc;
}

/* Go's base64.StdEncoding ignores CR and LF (and nothing else). */
static int is_crlf(char c)
{
    return c == '\r' || c == '\n';
}

static MTLS_RESULT add_b64_cert(struct der_list *out, const char *b64, size_t len,
                                int (*skip)(char), const char *what, mtls_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    GUARD(decode_b64(&der, &der_len, b64, len, skip, what, err));
    mtls_result rc = mtlsp_cert_check_der(der, der_len, what, err);
    if (MTLS_IS_OK(rc)) {
        rc = mtlsp_der_list_add(out, der, der_len, err);
    }
    mtlsp_free(der);
    return rc;
}

MTLS_RESULT mtlsp_cert_from_base64(struct der_list *out, const char *b64, size_t len,
                                   const char *what, mtls_error *err)
{
    return add_b64_cert(out, b64, len, is_crlf, what, err);
}

static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

/* A PEM block found in text: the type label and the body between the marker lines. */
struct pem_block {
    const char *type;
    size_t type_len;
    const char *body;
    size_t body_len;
    const char *next; /* first byte after the END line */
};

/* next_block finds the block starting at or after `p`: sets `*found` and fills `b`, leaves
 * `*found` 0 when no BEGIN marker remains, or fails for a broken block. */
static MTLS_RESULT next_block(struct pem_block *b, int *found, const char *p, const char *end,
                              size_t index, const char *what, mtls_error *err)
{
    *found = 0;
    const char *begin = find(p, (size_t)(end - p), BEGIN_MARK);
    if (begin == NULL) {
        return MTLS_RESULT_OK;
    }
    b->type = begin + strlen(BEGIN_MARK);
    const char *close = find(b->type, (size_t)(end - b->type), DASHES);
    const char *eol = memchr(b->type, '\n', (size_t)(end - b->type));
    ENSURE_MSG(close != NULL && (eol == NULL || close < eol), MTLS_ERR_PEM_MALFORMED,
               "%s: PEM block %zu: malformed BEGIN line", what, index);
    b->type_len = (size_t)(close - b->type);
    ENSURE_MSG(b->type_len <= 64, MTLS_ERR_PEM_MALFORMED, "%s: PEM block %zu: type too long",
               what, index);
    b->body = close + strlen(DASHES);
    const char *e = find(b->body, (size_t)(end - b->body), END_MARK);
    ENSURE_MSG(e != NULL, MTLS_ERR_PEM_MALFORMED, "%s: PEM block %zu (%.*s): no END line",
               what, index, (int)b->type_len, b->type);
    b->body_len = (size_t)(e - b->body);
    const char *t = e + strlen(END_MARK);
    size_t rest = (size_t)(end - t);
    ENSURE_MSG(rest >= b->type_len + strlen(DASHES) && memcmp(t, b->type, b->type_len) == 0 &&
                   memcmp(t + b->type_len, DASHES, strlen(DASHES)) == 0,
               MTLS_ERR_PEM_MALFORMED, "%s: PEM block %zu (%.*s): END line does not match",
               what, index, (int)b->type_len, b->type);
    b->next = t + b->type_len + strlen(DASHES);
    *found = 1;
    return MTLS_RESULT_OK;
}

static MTLS_RESULT add_block(struct der_list *out, const struct pem_block *b, size_t index,
                             const char *what, mtls_error *err)
{
    static const char cert[] = "CERTIFICATE";
    ENSURE_MSG(b->type_len == strlen(cert) && memcmp(b->type, cert, b->type_len) == 0,
               MTLS_ERR_PEM_WRONG_TYPE, "%s: PEM block %zu is \"%.*s\", not CERTIFICATE", what,
               index, (int)b->type_len, b->type);
    ENSURE_MSG(memchr(b->body, ':', b->body_len) == NULL, MTLS_ERR_PEM_MALFORMED,
               "%s: PEM block %zu: headers are not allowed in a CERTIFICATE block", what,
               index);
    char label[300];
    snprintf(label, sizeof(label), "%s: PEM block %zu", what, index);
    return add_b64_cert(out, b->body, b->body_len, is_b64_space, label, err);
}

MTLS_RESULT mtlsp_certs_from_pem(struct der_list *out, const char *text, size_t len,
                                 const char *what, mtls_error *err)
{
    const char *p = text, *end = text + len;
    size_t index = 0;
    for (;;) {
        struct pem_block b;
        int found = 0;
        GUARD(next_block(&b, &found, p, end, index + 1, what, err));
        if (!found) {
            break;
        }
        index++;
        GUARD(add_block(out, &b, index, what, err));
        p = b.next;
    }
    ENSURE_MSG(index > 0, MTLS_ERR_PEM_NO_CERTIFICATE, "%s: no CERTIFICATE PEM block found",
               what);
    return MTLS_RESULT_OK;
}
