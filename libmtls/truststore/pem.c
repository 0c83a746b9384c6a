/*
 * truststore/pem.c - strict decoding of base64 and PEM certificate text into a der_list
 * (straight into its arena, or a pin list's scratch block: no per-certificate copy or
 * allocation).
 *
 * PEM rules (stricter than Go's pem.Decode, which silently skips malformed blocks and
 * Caddy's FileCAPool, which silently skips non-certificate blocks):
 * - text outside blocks (comments, `openssl x509 -text` output) is ignored, as Go does;
 * - every `-----BEGIN X-----` needs its `-----END X-----`, else MTLS_ERR_PEM_MALFORMED;
 * - every block must be a CERTIFICATE (MTLS_ERR_PEM_WRONG_TYPE names the type);
 * - block bodies are base64 of exactly one DER certificate (spaces, tabs, CR and LF skipped,
 *   as Go's encoding/pem does); PEM headers are refused.
 */
#include <stdio.h>
#include <string.h>

#include "truststore.h"

#define BEGIN_MARK "-----BEGIN "
#define END_MARK "-----END "
#define DASHES "-----"

/* b64_error reports a base64 decoding failure (code `rc`, at offset `at`). A PEM body with
 * a ':' has headers (RFC 1421 Proc-Type, DEK-Info): refused as such, not as bad base64. */
static mtls_result b64_error(int rc, size_t at, const char *b64, size_t len, int pem,
                             const char *what, size_t block, mtls_error *err)
{
    char label[300];
    if (block > 0) {
        snprintf(label, sizeof(label), "%s: PEM block %zu", what, block);
        what = label;
    }
    ENSURE_MSG(!pem || memchr(b64, ':', len) == NULL, MTLS_ERR_PEM_MALFORMED,
               "%s: headers are not allowed in a CERTIFICATE block", what);
    ENSURE_MSG(rc != MTLS_B64_TOO_LONG, MTLS_ERR_DER_INVALID,
               "%s: certificate larger than %zu bytes", what, MTLS_MAX_CERT_BYTES);
    if (rc == MTLS_B64_BAD_LENGTH) {
        BAIL_MSG(MTLS_ERR_BASE64_INVALID, "%s: invalid base64 (%s)", what,
                 mtlsp_base64_reason(rc));
    }
    BAIL_MSG(MTLS_ERR_BASE64_INVALID, "%s: invalid base64 (%s at character %zu)", what,
             mtlsp_base64_reason(rc), at + 1);
}

/* add_b64_cert decodes base64 text straight into `out`'s arena (no copy, no allocation
 * beyond the arena's blocks), checks the certificate as `out->check` says and appends it
 * (a pin list: hashes it; its scratch block is reused by the next pin).
 * `pem`: skip spaces and tabs too (a PEM body). `what` and `block` (> 0 inside PEM) name it
 * in errors, formatted only when there is one. */
static MTLS_RESULT add_b64_cert(struct der_list *out, const char *b64, size_t len, int pem,
                                const char *what, size_t block, mtls_error *err)
{
    size_t max = len / 4 * 3;
    if (max > MTLS_MAX_CERT_BYTES) {
        max = MTLS_MAX_CERT_BYTES;
    }
    uint8_t *der = NULL;
    size_t der_len = 0;
    GUARD(mtlsp_der_list_reserve(out, max, &der, err));
    int rc = mtlsp_base64_decode(der, max, &der_len, b64, len, pem);
    if (rc != MTLS_B64_OK) {
        return b64_error(rc, der_len, b64, len, pem, what, block, err);
    }
    GUARD(mtlsp_cert_check(out->check, der, der_len, what, block, err));
    mtlsp_der_list_commit(out, der_len);
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_cert_from_base64(struct der_list *out, const char *b64, size_t len,
                                   const char *what, mtls_error *err)
{
    return add_b64_cert(out, b64, len, 0, what, 0, err);
}

/* find: memmem for the PEM markers, anchored on memchr of their first byte ('-'), which
 * never occurs in base64: the search jumps over a whole body in one vectorised memchr
 * (glibc's memmem was 3x slower on pin files). Linear: each '-' costs one short memcmp. */
static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    const char *end = hay + n;
    while ((size_t)(end - hay) >= m) {
        const char *c = memchr(hay, needle[0], (size_t)(end - hay) - m + 1);
        if (c == NULL) {
            return NULL;
        }
        if (memcmp(c, needle, m) == 0) {
            return c;
        }
        hay = c + 1;
    }
    return NULL;
}

/* A PEM block found in text: the type label and the body between the marker lines. */
struct pem_block {
    const char *begin; /* the BEGIN marker */
    const char *type;
    size_t type_len;
    const char *body;
    size_t body_len;
    const char *next; /* first byte after the END line */
    int cut;          /* not FOUND, but the rest of the block may lie past `end` */
};

/* What next_block found. Every state but FOUND and NONE is a broken block, or one whose
 * end has not been read yet. */
enum { FOUND, NONE, BAD_BEGIN, TYPE_TOO_LONG, NO_END, BAD_END };

/* next_block finds the block starting at or after `p` and fills `b` (b->begin is set unless
 * NONE is returned). Records no error: the caller decides whether the text is complete. */
static int next_block(struct pem_block *b, const char *p, const char *end)
{
    b->cut = 0;
    b->begin = find(p, (size_t)(end - p), BEGIN_MARK);
    if (b->begin == NULL) {
        return NONE;
    }
    b->type = b->begin + strlen(BEGIN_MARK);
    const char *close = find(b->type, (size_t)(end - b->type), DASHES);
    const char *eol = memchr(b->type, '\n', (size_t)(end - b->type));
    if (close == NULL || (eol != NULL && close > eol)) {
        b->cut = eol == NULL;
        return BAD_BEGIN;
    }
    b->type_len = (size_t)(close - b->type);
    if (b->type_len > 64) {
        return TYPE_TOO_LONG;
    }
    b->body = close + strlen(DASHES);
    const char *e = find(b->body, (size_t)(end - b->body), END_MARK);
    if (e == NULL) {
        b->cut = 1;
        return NO_END;
    }
    b->body_len = (size_t)(e - b->body);
    const char *t = e + strlen(END_MARK);
    size_t rest = (size_t)(end - t);
    if (rest < b->type_len + strlen(DASHES) || memcmp(t, b->type, b->type_len) != 0 ||
        memcmp(t + b->type_len, DASHES, strlen(DASHES)) != 0) {
        b->cut = rest < b->type_len + strlen(DASHES);
        return BAD_END;
    }
    b->next = t + b->type_len + strlen(DASHES);
    return FOUND;
}

static mtls_result block_error(int state, const struct pem_block *b, size_t index,
                               const char *what, mtls_error *err)
{
    ENSURE_MSG(state != BAD_BEGIN, MTLS_ERR_PEM_MALFORMED,
               "%s: PEM block %zu: malformed BEGIN line", what, index);
    ENSURE_MSG(state != TYPE_TOO_LONG, MTLS_ERR_PEM_MALFORMED,
               "%s: PEM block %zu: type too long", what, index);
    ENSURE_MSG(state != NO_END, MTLS_ERR_PEM_MALFORMED, "%s: PEM block %zu (%.*s): no END line",
               what, index, (int)b->type_len, b->type);
    BAIL_MSG(MTLS_ERR_PEM_MALFORMED, "%s: PEM block %zu (%.*s): END line does not match", what,
             index, (int)b->type_len, b->type);
}

static MTLS_RESULT add_block(struct der_list *out, const struct pem_block *b, size_t index,
                             const char *what, mtls_error *err)
{
    static const char cert[] = "CERTIFICATE";
    ENSURE_MSG(b->type_len == strlen(cert) && memcmp(b->type, cert, b->type_len) == 0,
               MTLS_ERR_PEM_WRONG_TYPE, "%s: PEM block %zu is \"%.*s\", not CERTIFICATE", what,
               index, (int)b->type_len, b->type);
    return add_b64_cert(out, b->body, b->body_len, 1, what, index, err);
}

MTLS_RESULT mtlsp_pem_scan(struct der_list *out, size_t *index, size_t *out_used,
                           const char *text, size_t len, int final, const char *what,
                           mtls_error *err)
{
    const char *p = text, *end = text + len;
    for (;;) {
        struct pem_block b;
        int state = next_block(&b, p, end);
        if (state == FOUND) {
            (*index)++;
            GUARD(add_block(out, &b, *index, what, err));
            p = b.next;
            continue;
        }
        if (final || (state != NONE && !b.cut)) {
            *out_used = len;
            return state == NONE ? MTLS_RESULT_OK : block_error(state, &b, *index + 1, what, err);
        }
        /* More text follows: resume at the unfinished block, or keep what may be the start of
         * a BEGIN marker cut by the end of this piece. */
        if (state != NONE) {
            p = b.begin;
        } else if ((size_t)(end - p) >= strlen(BEGIN_MARK)) {
            p = end - (strlen(BEGIN_MARK) - 1);
        }
        *out_used = (size_t)(p - text);
        return MTLS_RESULT_OK;
    }
}

MTLS_RESULT mtlsp_certs_from_pem(struct der_list *out, const char *text, size_t len,
                                 const char *what, mtls_error *err)
{
    size_t index = 0, used = 0;
    GUARD(mtlsp_pem_scan(out, &index, &used, text, len, 1, what, err));
    ENSURE_MSG(index > 0, MTLS_ERR_PEM_NO_CERTIFICATE, "%s: no CERTIFICATE PEM block found",
               what);
    return MTLS_RESULT_OK;
}
