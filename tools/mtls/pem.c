/*
 * tools/mtls/pem.c - certificate files (PEM or DER) to a list of DER certificates.
 * Bounded, allocation-checked, no I/O: the input path that a fuzz target exercises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/der.h"
#include <openssl/err.h>
#include <openssl/x509.h>

#include "pem.h"

#define MAX_LABEL 64

struct cursor {
    const uint8_t *p;
    size_t len;
    size_t pos;
    size_t line;  /* number of the line last returned, 1-based */
    size_t first; /* out->num when this input started: certificates count from there */
};

struct growbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* next_line returns the next line without its end (LF or CRLF) and trailing blanks. */
static int next_line(struct cursor *c, const uint8_t **out, size_t *out_len)
{
    if (c->pos >= c->len) {
        return 0;
    }
    const uint8_t *s = c->p + c->pos;
    const uint8_t *nl = memchr(s, '\n', c->len - c->pos);
    size_t n = nl != NULL ? (size_t)(nl - s) : c->len - c->pos;
    c->pos += n + (nl != NULL ? 1 : 0);
    c->line++;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    *out = s;
    *out_len = n;
    return 1;
}

static int has_prefix(const uint8_t *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* The label of a "-----BEGIN X-----" / "-----END X-----" line, copied into `label`
 * (printable ASCII only, at most MAX_LABEL bytes); 0 if the line is not of that form. */
static int marker(const uint8_t *s, size_t n, const char *kind, char label[MAX_LABEL + 1])
{
    if (!has_prefix(s, n, kind) || n < strlen(kind) + 5 || memcmp(s + n - 5, "-----", 5) != 0) {
        return 0;
    }
    size_t start = strlen(kind), k = n - 5 - start;
    if (k > MAX_LABEL) {
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        uint8_t ch = s[start + i];
        label[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    label[k] = '\0';
    return 1;
}

static int grow(struct growbuf *b, size_t extra)
{
    if (extra > TOOL_MAX_CERT_BYTES || b->len + extra > TOOL_MAX_CERT_BYTES) {
        return -1;
    }
    if (b->len + extra <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap * 2 : 2048;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

struct b64 {
    uint32_t acc;
    int bits;
    size_t chars; /* base64 characters seen, padding included */
    int pad;
};

/* Decodes one body line into `out`. Returns 0, or -1 with `why` filled. */
static int b64_line(struct b64 *st, struct growbuf *out, const uint8_t *s, size_t n, size_t line,
                    char *why, size_t why_len)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t') {
            continue;
        }
        int v = s[i] == '=' ? -2 : b64_value(s[i]);
        if (v == -1 || (st->pad && v != -2) || (v == -2 && ++st->pad > 2)) {
            snprintf(why, why_len, "line %zu: invalid base64 in the PEM body", line);
            return -1;
        }
        st->chars++;
        if (v == -2) {
            continue;
        }
        st->acc = (st->acc << 6) | (uint32_t)v;
        st->bits += 6;
        if (st->bits >= 8) {
            st->bits -= 8;
            if (grow(out, 1) != 0) {
                snprintf(why, why_len, "line %zu: certificate larger than %zu bytes", line,
                         TOOL_MAX_CERT_BYTES);
                return -1;
            }
            out->data[out->len++] = (uint8_t)(st->acc >> st->bits);
        }
    }
    return 0;
}

/* Checks that `der` is one complete certificate BoringSSL parses. */
static int check_cert(const uint8_t *der, size_t len, const char *what, char *why,
                      size_t why_len)
{
    mtlsp_cbs cbs, elem;
    mtlsp_cbs_init(&cbs, der, len);
    if (!mtlsp_cbs_get_asn1_element(&cbs, &elem, MTLSP_ASN1_SEQUENCE) || mtlsp_cbs_len(&cbs) != 0) {
        snprintf(why, why_len, "%s: not one DER SEQUENCE (truncated, or trailing data)", what);
        return -1;
    }
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    uint32_t e = (uint32_t)ERR_peek_error();
    int ok = x != NULL && p == der + len;
    X509_free(x);
    ERR_clear_error();
    if (!ok) {
        const char *r = ERR_reason_error_string(e);
        snprintf(why, why_len, "%s: not a valid X.509 certificate (%s)", what,
                 r != NULL ? r : "malformed");
        return -1;
    }
    return 0;
}

/* Appends a copy of `der` to `out`. */
static int push(struct tool_certs *out, const uint8_t *der, size_t len, size_t line, char *why,
                size_t why_len)
{
    if (out->num >= TOOL_MAX_CERTS) {
        snprintf(why, why_len, "more than %d certificates", TOOL_MAX_CERTS);
        return -1;
    }
    if (out->num == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        uint8_t **d = realloc(out->ders, cap * sizeof(*d));
        if (d != NULL) {
            out->ders = d;
        }
        size_t *l = realloc(out->lens, cap * sizeof(*l));
        if (l != NULL) {
            out->lens = l;
        }
        size_t *ln = realloc(out->lines, cap * sizeof(*ln));
        if (ln != NULL) {
            out->lines = ln;
        }
        if (d == NULL || l == NULL || ln == NULL) {
            snprintf(why, why_len, "out of memory");
            return -1;
        }
        out->cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    memcpy(copy, der, len);
    out->ders[out->num] = copy;
    out->lens[out->num] = len;
    out->lines[out->num] = line;
    out->num++;
    return 0;
}

static int is_cert_label(const char *label)
{
    return strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0;
}

/* One PEM block whose BEGIN line (number `begin`) was just read. */
static int pem_block(struct tool_certs *out, size_t *skipped, struct cursor *c,
                     const char *label, size_t begin, char *why, size_t why_len)
{
    struct growbuf der = {0};
    struct b64 st = {0};
    const uint8_t *s;
    size_t n;
    char end[MAX_LABEL + 1];
    int rc = -1, want = is_cert_label(label);
    for (;;) {
        if (!next_line(c, &s, &n)) {
            snprintf(why, why_len, "line %zu: \"-----BEGIN %s-----\" has no END line", begin,
                     label);
            goto out;
        }
        if (marker(s, n, "-----END ", end)) {
            break;
        }
        if (want && b64_line(&st, &der, s, n, c->line, why, why_len) != 0) {
            goto out;
        }
    }
    if (strcmp(end, label) != 0) {
        snprintf(why, why_len, "line %zu: \"-----END %s-----\" closes \"-----BEGIN %s-----\"",
                 c->line, end, label);
        goto out;
    }
    if (!want) {
        ++*skipped;
        rc = 0;
        goto out;
    }
    char what[64];
    snprintf(what, sizeof(what), "certificate %zu (line %zu)", out->num - c->first + 1, begin);
    if (st.chars % 4 != 0 || der.len == 0) {
        snprintf(why, why_len, "%s: truncated or empty base64", what);
        goto out;
    }
    if (check_cert(der.data, der.len, what, why, why_len) != 0) {
        goto out;
    }
    rc = push(out, der.data, der.len, begin, why, why_len);
out:
    free(der.data);
    return rc;
}

static int parse_pem(struct tool_certs *out, size_t *skipped, const uint8_t *data, size_t len,
                     char *why, size_t why_len)
{
    struct cursor c = {data, len, 0, 0, out->num};
    const uint8_t *s;
    size_t n;
    char label[MAX_LABEL + 1];
    while (next_line(&c, &s, &n)) {
        if (marker(s, n, "-----BEGIN ", label) &&
            pem_block(out, skipped, &c, label, c.line, why, why_len) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Concatenated DER certificates. */
static int parse_der(struct tool_certs *out, const uint8_t *data, size_t len, char *why,
                     size_t why_len)
{
    mtlsp_cbs cbs, elem;
    size_t first = out->num;
    mtlsp_cbs_init(&cbs, data, len);
    while (mtlsp_cbs_len(&cbs) > 0) {
        size_t offset = len - mtlsp_cbs_len(&cbs);
        char what[64];
        snprintf(what, sizeof(what), "DER certificate %zu (byte %zu)", out->num - first + 1,
                 offset);
        if (!mtlsp_cbs_get_asn1_element(&cbs, &elem, MTLSP_ASN1_SEQUENCE)) {
            snprintf(why, why_len, "%s: not a DER SEQUENCE (truncated or garbage)", what);
            return -1;
        }
        if (check_cert(mtlsp_cbs_data(&elem), mtlsp_cbs_len(&elem), what, why, why_len) != 0 ||
            push(out, mtlsp_cbs_data(&elem), mtlsp_cbs_len(&elem), 0, why, why_len) != 0) {
            return -1;
        }
    }
    return 0;
}

static int contains(const uint8_t *data, size_t len, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++) {
        if (data[i] == (uint8_t)needle[0] && memcmp(data + i, needle, k) == 0) {
            return 1;
        }
    }
    return 0;
}

static void truncate_to(struct tool_certs *c, size_t num)
{
    while (c->num > num) {
        free(c->ders[--c->num]);
    }
}

int tool_certs_parse(struct tool_certs *out, size_t *out_skipped, const uint8_t *data,
                     size_t len, char *why, size_t why_len)
{
    size_t start = out->num, skipped = 0;
    int rc;
    if (len == 0) {
        snprintf(why, why_len, "the file is empty");
        return -1;
    }
    if (contains(data, len, "-----BEGIN ")) {
        rc = parse_pem(out, &skipped, data, len, why, why_len);
        if (rc == 0 && out->num == start) {
            snprintf(why, why_len, "no CERTIFICATE block in the PEM (%zu other block%s)",
                     skipped, skipped == 1 ? "" : "s");
            rc = -1;
        }
    } else if (data[0] == 0x30) {
        rc = parse_der(out, data, len, why, why_len);
    } else {
        snprintf(why, why_len,
                 "no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line), and not DER");
        rc = -1;
    }
    if (rc != 0) {
        truncate_to(out, start);
        return -1;
    }
    if (out_skipped != NULL) {
        *out_skipped = skipped;
    }
    return 0;
}

void tool_certs_free(struct tool_certs *c)
{
    truncate_to(c, 0);
    free(c->ders);
    free(c->lens);
    free(c->lines);
    memset(c, 0, sizeof(*c));
}
