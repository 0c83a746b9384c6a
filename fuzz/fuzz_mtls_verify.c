/*
 * fuzz_mtls_verify - the input path of `mtls verify` (tools/mtls), files in memory: CERT and
 * the --untrusted bundles through tool_certs_parse (pem.c), the --at value through
 * tool_parse_time (timeparse.c), a --ca bundle through libmtls's PEM reader (what the
 * tool's trusted_ca_certs_pem_files policy reads), then the list judged with mtls_verify_der
 * at the parsed time, as cmd_verify (verify.c) does.
 *
 * Input: byte 0 says which parts follow and how they are judged:
 *   bits 0-1  the number of --untrusted files (0-3);
 *   bit 2     an --at part (without one the fixed clock FUZZ_NOW stands for "now");
 *   bit 3     a --ca part: the trust anchors (without one the fixed PKI of fuzz_pki.c,
 *             policy 0 require_and_verify trusting the root, as in fuzz_verify_chain);
 *   bit 4     --purpose server (else client);
 *   bit 5     without --ca: policy 1 (verify_if_given, the root and the intermediate).
 * The rest is cut at "\n%%\n" into CERT, the --untrusted files, --at and --ca, in that order;
 * the last part takes what is left (separators included), missing parts are empty files.
 * Every part is copied into a buffer of exactly its size; --at ends at its first NUL (it is
 * an argv string).
 *
 * Invariants:
 * - tool_certs_parse: a refusal leaves the list as it was, with a message that names a line
 *   or byte of the file that exists; a success appends certificates that are each one
 *   complete DER certificate the TLS library (d2i_X509) parses and that are: for DER input,
 *   the input cut in pieces (concatenated, they are the file); for PEM input, exactly the
 *   CERTIFICATE and X509 CERTIFICATE blocks a reference reading of the file finds, in order,
 *   at their BEGIN lines, byte-identical to a strict base64 decoding of each body (BoringSSL's
 *   EVP_DecodeBase64 rules, ref_b64_decode), the other blocks counted as skipped. Parsing the
 *   file again, alone and with a message buffer too small for the message, gives the same
 *   certificates, lines and skipped count, or the same message (cut); only the
 *   100-certificate limit may make the appended parse fail alone.
 * - tool_parse_time: the same result twice; a refusal quotes the value; a time renders
 *   (tool_format_time) to text that parses back to the same instant; an RFC 3339 value
 *   shifted by its zone renders as its own date and time ("Z", fraction dropped).
 * - libmtls's --ca reader: a failure fills mtls_error naming "--ca"; a success gives
 *   certificates the TLS library parses.
 * - the verdict: fuzz_check_peer (fuzz_peer.c: verdict, message, every placeholder, the
 *   same twice); a verified path starts at the leaf sent, runs through certificates that
 *   were sent (CERT or --untrusted) or are trust anchors (BoringSSL's first path goes on
 *   past an anchor that is not self-signed up to the root, where Go's chain stops: same
 *   verdict, a longer path) and ends at a trust anchor, and each of its certificates is
 *   valid at the time asked (notBefore <= at < notAfter); an unverified peer has no path;
 *   accepted under the fixed PKI => issued below its CAs.
 * Suggested -max_len: 16384; dictionary mtls_verify.dict.
 */
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/der.h"

#include "../tools/mtls/tool.h"
#include "fuzz_mtls.h"
#include "truststore/truststore.h"

#define SEP "\n%%\n"
#define SEP_LEN 4
#define MAX_UNTRUSTED 3
#define SMALL_WHY 24 /* a message buffer shorter than most messages */

enum {
    OPT_UNTRUSTED = 0x03,
    OPT_AT = 0x04,
    OPT_CA = 0x08,
    OPT_SERVER = 0x10,
    OPT_POLICY1 = 0x20,
};

/* The fixed PKI's ctx per purpose: [0] client, [1] server; policies as fuzz_verify_chain. */
static mtls_ctx *fixed[2];
static char limit_msg[64]; /* pem.c's message when the list would pass TOOL_MAX_CERTS */

static mtls_ctx *fixed_ctx(int purpose)
{
    const struct fuzz_pki *k = fuzz_pki_get();
    char json[4096];
    int n = snprintf(json, sizeof(json),
                     "[{\"client_authentication\":{\"mode\":\"require_and_verify\","
                     "\"trusted_ca_certs\":[\"%s\"]}},"
                     "{\"client_authentication\":{\"mode\":\"verify_if_given\","
                     "\"trusted_ca_certs\":[\"%s\",\"%s\"]}}]",
                     k->root_b64, k->root_b64, k->inter_b64);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(json));
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, (size_t)n, NULL, &err);
    FUZZ_CHECK(ctx != NULL && mtls_ctx_num_policies(ctx) == 2);
    FUZZ_CHECK(mtls_ctx_set_purpose(ctx, purpose, &err) == MTLS_OK);
    return ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fixed[0] = fixed_ctx(MTLS_PURPOSE_CLIENT);
    fixed[1] = fixed_ctx(MTLS_PURPOSE_SERVER);
    snprintf(limit_msg, sizeof(limit_msg), "more than %d certificates", TOOL_MAX_CERTS);

    /* The fixed chain is accepted for clients (else the path checks would hold vacuously). */
    const struct fuzz_pki *k = fuzz_pki_get();
    const uint8_t *certs[] = {k->leaf.der, k->inter.der};
    size_t lens[] = {k->leaf.len, k->inter.len};
    mtls_peer *peer = NULL;
    mtls_error err;
    FUZZ_CHECK(mtls_verify_der(fixed[0], 0, certs, lens, 2, FUZZ_NOW, &peer, &err) == MTLS_OK);
    FUZZ_CHECK(mtls_peer_accepted(peer) && mtls_peer_num_chain(peer) == 3);
    mtls_peer_free(peer);
    return 0;
}

/* ---- the input's parts ---------------------------------------------------------------- */

struct part {
    uint8_t *p; /* owned, exactly n bytes */
    size_t n;
};

static const uint8_t *find(const uint8_t *p, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (p[i] == (uint8_t)needle[0] && memcmp(p + i, needle, k) == 0) {
            return p + i;
        }
    }
    return NULL;
}

static void split(struct part *parts, size_t num, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < num; i++) {
        const uint8_t *sep = i + 1 < num ? find(data, size, SEP, SEP_LEN) : NULL;
        size_t n = sep != NULL ? (size_t)(sep - data) : size;
        parts[i].p = malloc(n > 0 ? n : 1);
        parts[i].n = n;
        FUZZ_CHECK(parts[i].p != NULL);
        if (n > 0) {
            memcpy(parts[i].p, data, n);
        }
        n += sep != NULL ? SEP_LEN : 0;
        data += n;
        size -= n;
    }
}

/* ---- tool_certs_parse ------------------------------------------------------------------ */

/* One complete DER certificate that the TLS library parses, as pem.h promises. */
static void check_one_cert(const uint8_t *der, size_t len)
{
    mtlsp_cbs cbs, elem;
    mtlsp_cbs_init(&cbs, der, len);
    FUZZ_CHECK(len > 0 && len <= TOOL_MAX_CERT_BYTES);
    FUZZ_CHECK(mtlsp_cbs_get_asn1_element(&cbs, &elem, MTLSP_ASN1_SEQUENCE) && mtlsp_cbs_len(&cbs) == 0);
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    FUZZ_CHECK(x != NULL && p == der + len);
    X509_free(x);
}

/* DER input: the certificates are the file cut in pieces. */
static void check_der(const struct tool_certs *c, size_t first, size_t skipped, const uint8_t *data,
                      size_t len)
{
    size_t off = 0;
    FUZZ_CHECK(skipped == 0);
    for (size_t i = first; i < c->num; i++) {
        FUZZ_CHECK(c->lines[i] == 0 && c->lens[i] <= len - off);
        FUZZ_CHECK(memcmp(c->ders[i], data + off, c->lens[i]) == 0);
        off += c->lens[i];
    }
    FUZZ_CHECK(off == len);
}

/* A line as pem.h reads files: up to LF, without the trailing CR, spaces and tabs. */
static int ref_line(const uint8_t *data, size_t len, size_t *pos, const uint8_t **s, size_t *n)
{
    if (*pos >= len) {
        return 0;
    }
    const uint8_t *start = data + *pos, *nl = memchr(start, '\n', len - *pos);
    size_t k = nl != NULL ? (size_t)(nl - start) : len - *pos;
    *pos += k + (nl != NULL ? 1 : 0);
    while (k > 0 && (start[k - 1] == '\r' || start[k - 1] == ' ' || start[k - 1] == '\t')) {
        k--;
    }
    *s = start;
    *n = k;
    return 1;
}

/* "-----BEGIN X-----" (or END) with X at most 64 bytes; *label and *label_len give X. */
static int ref_marker(const uint8_t *s, size_t n, const char *kind, const uint8_t **label,
                      size_t *label_len)
{
    size_t k = strlen(kind);
    if (n < k + 5 || memcmp(s, kind, k) != 0 || memcmp(s + n - 5, "-----", 5) != 0 ||
        n - k - 5 > 64) {
        return 0;
    }
    *label = s + k;
    *label_len = n - k - 5;
    return 1;
}

static int ref_is_cert(const uint8_t *label, size_t n)
{
    return (n == 11 && memcmp(label, "CERTIFICATE", 11) == 0) ||
           (n == 16 && memcmp(label, "X509 CERTIFICATE", 16) == 0);
}

static int ref_b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Strict standard base64 as BoringSSL's EVP_DecodeBase64 reads it: a multiple of 4 bytes of
 * the alphabet, '=' only as the last one or two (unused low bits not checked). The shape is
 * checked here and the bytes come from EVP_DecodeBlock, which both TLS libraries have
 * (OpenSSL's would skip whitespace around the text and read '=' anywhere as zero bits).
 * `out` has room for n / 4 * 3 bytes. Returns 1 and *out_len, or 0 when invalid. */
static int ref_b64_decode(uint8_t *out, size_t *out_len, const uint8_t *b64, size_t n)
{
    size_t pad = n >= 1 && b64[n - 1] == '=' ? 1 + (n >= 2 && b64[n - 2] == '=') : 0;
    if (n % 4 != 0 || n > INT_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n - pad; i++) {
        if (!ref_b64_char(b64[i])) {
            return 0;
        }
    }
    int got = n > 0 ? EVP_DecodeBlock(out, b64, (int)n) : 0;
    if (got < 0 || (size_t)got != n / 4 * 3) {
        return 0;
    }
    *out_len = (size_t)got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return 1;
}

/* Certificate `i` is the base64 body (spaces and tabs dropped) of `b64`, strictly decoded. */
static void check_decoded(const struct tool_certs *c, size_t i, const uint8_t *b64, size_t n)
{
    size_t got = 0;
    FUZZ_CHECK(i < c->num);
    uint8_t *der = malloc(n / 4 * 3 + 1);
    FUZZ_CHECK(der != NULL);
    FUZZ_CHECK(ref_b64_decode(der, &got, b64, n));
    FUZZ_CHECK(got == c->lens[i] && memcmp(der, c->ders[i], got) == 0);
    free(der);
}

/* PEM input: a reference reading of the file (pem.h's rules) finds the same blocks. */
static void check_pem(const struct tool_certs *c, size_t first, size_t skipped, const uint8_t *data,
                      size_t len)
{
    uint8_t *body = malloc(len);
    const uint8_t *s, *label;
    size_t pos = 0, line = 0, n, label_len, body_len = 0, begin = 0, certs = 0, others = 0;
    int inside = 0, want = 0;
    FUZZ_CHECK(body != NULL);
    while (ref_line(data, len, &pos, &s, &n)) {
        line++;
        if (!inside && ref_marker(s, n, "-----BEGIN ", &label, &label_len)) {
            inside = 1;
            want = ref_is_cert(label, label_len);
            begin = line;
            body_len = 0;
        } else if (inside && ref_marker(s, n, "-----END ", &label, &label_len)) {
            inside = 0;
            if (!want) {
                others++;
                continue;
            }
            FUZZ_CHECK(first + certs < c->num && c->lines[first + certs] == begin);
            check_decoded(c, first + certs, body, body_len);
            certs++;
        } else if (inside && want) {
            for (size_t i = 0; i < n; i++) {
                if (s[i] != ' ' && s[i] != '\t') {
                    body[body_len++] = s[i];
                }
            }
        }
    }
    FUZZ_CHECK(!inside && first + certs == c->num && others == skipped);
    free(body);
}

/* A number at *s (decimal, at least one digit), or 0. */
static int read_num(const char **s, size_t *out)
{
    size_t v = 0, k = 0;
    for (; (*s)[k] >= '0' && (*s)[k] <= '9' && k < 20; k++) {
        v = v * 10 + (size_t)((*s)[k] - '0');
    }
    *s += k;
    *out = v;
    return k > 0;
}

static size_t count_lines(const uint8_t *data, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += data[i] == '\n';
    }
    return n + (len > 0 && data[len - 1] != '\n');
}

/* A refusal names a line, certificate or byte that exists, or says what is missing. */
static void check_certs_why(const char *why, size_t cap, const uint8_t *data, size_t len, int pem)
{
    FUZZ_CHECK(memchr(why, '\0', cap) != NULL && why[0] != '\0');
    size_t lines = count_lines(data, len), k, at;
    const char *s = why;
    if (strncmp(s, "line ", 5) == 0) {
        s += 5;
        FUZZ_CHECK(pem && read_num(&s, &at) && at >= 1 && at <= lines && *s == ':');
    } else if (strncmp(s, "certificate ", 12) == 0) {
        s += 12;
        FUZZ_CHECK(pem && read_num(&s, &k) && k >= 1 && strncmp(s, " (line ", 7) == 0);
        s += 7;
        FUZZ_CHECK(read_num(&s, &at) && at >= 1 && at <= lines && strncmp(s, "): ", 3) == 0);
    } else if (strncmp(s, "DER certificate ", 16) == 0) {
        s += 16;
        FUZZ_CHECK(!pem && read_num(&s, &k) && k >= 1 && strncmp(s, " (byte ", 7) == 0);
        s += 7;
        FUZZ_CHECK(read_num(&s, &at) && at < len && strncmp(s, "): ", 3) == 0);
    } else if (strcmp(s, "the file is empty") == 0) {
        FUZZ_CHECK(len == 0);
    } else if (strncmp(s, "no CERTIFICATE block in the PEM", 31) == 0) {
        FUZZ_CHECK(pem);
    } else if (strncmp(s, "no PEM certificate", 18) == 0) {
        FUZZ_CHECK(!pem && len > 0 && data[0] != 0x30);
    } else {
        FUZZ_CHECK(strcmp(s, limit_msg) == 0 || strcmp(s, "out of memory") == 0);
    }
}

/* The same file parsed again, alone, into a message buffer of SMALL_WHY bytes. */
static void check_again(const struct tool_certs *all, size_t before, size_t skipped, int rc,
                        const char *why, const uint8_t *data, size_t len)
{
    struct tool_certs again = {0};
    size_t skipped2 = SIZE_MAX;
    char *small = malloc(SMALL_WHY);
    FUZZ_CHECK(small != NULL);
    int rc2 = tool_certs_parse(&again, &skipped2, data, len, small, SMALL_WHY);
    if (rc == 0) {
        FUZZ_CHECK(rc2 == 0 && skipped2 == skipped && again.num == all->num - before);
        for (size_t i = 0; i < again.num; i++) {
            FUZZ_CHECK(again.lens[i] == all->lens[before + i] &&
                       again.lines[i] == all->lines[before + i] &&
                       memcmp(again.ders[i], all->ders[before + i], again.lens[i]) == 0);
        }
    } else if (rc2 == 0 || strncmp(small, why, SMALL_WHY - 1) != 0) {
        /* Only the list's limit depends on what was parsed before. */
        FUZZ_CHECK(before > 0 && strcmp(why, limit_msg) == 0);
    } else {
        FUZZ_CHECK(skipped2 == SIZE_MAX && again.num == 0);
        FUZZ_CHECK(memchr(small, '\0', SMALL_WHY) != NULL);
    }
    free(small);
    tool_certs_free(&again);
}

/* A file appended to `all` as load_inputs does; 0 when it parsed. */
static int parse_file(struct tool_certs *all, const struct part *f)
{
    size_t before = all->num, skipped = SIZE_MAX;
    char why[256];
    memset(why, 'x', sizeof(why));
    int rc = tool_certs_parse(all, &skipped, f->p, f->n, why, sizeof(why));
    int pem = find(f->p, f->n, "-----BEGIN ", 11) != NULL;
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(all->num == before && skipped == SIZE_MAX);
        check_certs_why(why, sizeof(why), f->p, f->n, pem);
    } else {
        FUZZ_CHECK(all->num > before && all->num <= TOOL_MAX_CERTS && skipped != SIZE_MAX);
        FUZZ_CHECK(pem || f->p[0] == 0x30);
        for (size_t i = before; i < all->num; i++) {
            check_one_cert(all->ders[i], all->lens[i]);
        }
        if (pem) {
            check_pem(all, before, skipped, f->p, f->n);
        } else {
            check_der(all, before, skipped, f->p, f->n);
        }
    }
    check_again(all, before, skipped, rc, why, f->p, f->n);
    return rc;
}

/* ---- tool_parse_time ------------------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SS" (T, t or a space) at the start of `s`. */
static int rfc3339_shape(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        char c = s[i], want = shape[i];
        int ok = want == 'd'   ? c >= '0' && c <= '9'
                 : want == 'T' ? c == 'T' || c == 't' || c == ' '
                               : c == want;
        if (!ok) {
            return 0; /* before reading past a NUL */
        }
    }
    return 1;
}

/* An accepted time renders to text that parses back to it; RFC 3339 input, moved to UTC
 * by its own zone, renders as its own date and time. */
static void check_time_renders(const char *s, int64_t t)
{
    char out[32], why[160];
    int64_t back = 0;
    memset(out, 'x', sizeof(out));
    tool_format_time(t, out);
    FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL && out[0] != '\0');
    FUZZ_CHECK(tool_parse_time(out, &back, why, sizeof(why)) == 0 && back == t);
    if (s[0] == '@') {
        return;
    }
    FUZZ_CHECK(rfc3339_shape(s));
    size_t n = strlen(s);
    int64_t zone = 0;
    if (s[n - 1] != 'Z' && s[n - 1] != 'z') {
        const char *z = s + n - 6;
        FUZZ_CHECK(n >= 25 && (z[0] == '+' || z[0] == '-') && z[3] == ':');
        zone = ((z[1] - '0') * 10 + (z[2] - '0')) * 3600 + ((z[4] - '0') * 10 + (z[5] - '0')) * 60;
        zone = z[0] == '-' ? -zone : zone;
    }
    char want[21];
    memcpy(want, s, 19);
    want[10] = 'T';
    want[19] = 'Z';
    want[20] = '\0';
    tool_format_time(t + zone, out);
    FUZZ_CHECK(strcmp(out, want) == 0);
}

/* --at VALUE; 0 when it parsed. */
static int parse_at(const struct part *f, int64_t *at)
{
    const uint8_t *nul = memchr(f->p, '\0', f->n);
    size_t n = nul != NULL ? (size_t)(nul - f->p) : f->n;
    char *s = malloc(n + 1), why[160], small[8];
    int64_t again = 0;
    FUZZ_CHECK(s != NULL);
    memcpy(s, f->p, n);
    s[n] = '\0';
    memset(why, 'x', sizeof(why));
    int rc = tool_parse_time(s, at, why, sizeof(why));
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(tool_parse_time(s, &again, small, sizeof(small)) == rc);
    if (rc != 0) {
        FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0] == '"');
        FUZZ_CHECK(strncmp(small, why, sizeof(small) - 1) == 0);
    } else {
        FUZZ_CHECK(again == *at);
        check_time_renders(s, *at);
    }
    free(s);
    return rc;
}

/* ---- the trust anchors of --ca --------------------------------------------------------- */

/* --ca FILE as the tool's policy reads it; NULL when the tool would stop (exit 2). */
static mtls_ctx *ca_ctx(struct der_list *anchors, const struct part *f, int purpose)
{
    mtls_error err = {0}; /* internal calls keep the first error recorded */
    mtls_result rc = mtlsp_certs_from_pem(anchors, (const char *)f->p, f->n, "--ca", &err);
    if (!MTLS_IS_OK(rc)) {
        fuzz_check_error(&err);
        FUZZ_CHECK(err.code == rc.code &&
                   (strncmp(err.message, "--ca", 4) == 0 || err.code == MTLS_ERR_NOMEM));
        return NULL;
    }
    json_t *list = json_array();
    FUZZ_CHECK(anchors->num > 0 && list != NULL);
    for (size_t i = 0; i < anchors->num; i++) {
        check_one_cert(anchors->items[i].data, anchors->items[i].len);
        char *b64 = fuzz_base64(anchors->items[i].data, anchors->items[i].len);
        FUZZ_CHECK(b64 != NULL && json_array_append_new(list, json_string(b64)) == 0);
        free(b64);
    }
    json_t *root = json_pack("{s:s, s:o}", "mode", "require_and_verify", "trusted_ca_certs", list);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    FUZZ_CHECK(text != NULL);
    json_decref(root);
    mtls_ctx *ctx = mtls_ctx_new_from_json(text, strlen(text), NULL, &err);
    free(text);
    if (ctx == NULL) {
        fuzz_check_error(&err);
        return NULL;
    }
    FUZZ_CHECK(mtls_ctx_set_purpose(ctx, purpose, &err) == MTLS_OK);
    return ctx;
}

/* ---- the verdict ----------------------------------------------------------------------- */

static int same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static int in_list(const uint8_t *der, size_t len, const uint8_t *const *ders, const size_t *lens,
                   size_t num)
{
    for (size_t i = 0; i < num; i++) {
        if (same(der, len, ders[i], lens[i])) {
            return 1;
        }
    }
    return 0;
}

/* notBefore <= at < notAfter, as libmtls counts (verify/gorules.c time_check). */
static int valid_at(const uint8_t *der, size_t len, int64_t at)
{
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    time_t t = (time_t)at;
    int ok = x != NULL && X509_cmp_time(X509_get0_notBefore(x), &t) < 0 &&
             X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
    X509_free(x);
    return ok;
}

/* The verified path: the leaf sent, certificates sent or trusted, a trust anchor; valid at
 * `at`. */
static void check_path(mtls_peer *peer, const struct tool_certs *c, int64_t at,
                       const uint8_t *const *anchors, const size_t *anchor_lens, size_t num_anchors)
{
    size_t num = mtls_peer_num_chain(peer), len = 0;
    if (!mtls_peer_verified(peer)) {
        FUZZ_CHECK(num == 0 && mtls_peer_chain_cert(peer, 0, NULL) == NULL);
        return;
    }
    FUZZ_CHECK(num >= 1 && num <= MTLS_DEFAULT_MAX_DEPTH + 2);
    for (size_t i = 0; i < num; i++) {
        const uint8_t *der = mtls_peer_chain_cert(peer, i, &len);
        FUZZ_CHECK(der != NULL && valid_at(der, len, at));
        FUZZ_CHECK(i > 0 || same(der, len, c->ders[0], c->lens[0]));
        int trusted = in_list(der, len, anchors, anchor_lens, num_anchors);
        FUZZ_CHECK(i + 1 < num || trusted);
        FUZZ_CHECK(trusted || in_list(der, len, (const uint8_t *const *)c->ders, c->lens, c->num));
    }
    FUZZ_CHECK(mtls_peer_chain_cert(peer, num, NULL) == NULL);
}

/* The presented list judged twice by policy `index`; `anchors` are what it trusts. */
static void judge(const mtls_ctx *ctx, size_t index, const struct tool_certs *c, int64_t at,
                  const uint8_t *const *anchors, const size_t *anchor_lens, size_t num_anchors,
                  int fixed_pki)
{
    const uint8_t *const *certs = (const uint8_t *const *)c->ders;
    mtls_peer *a = NULL, *b = NULL;
    mtls_error err;
    FUZZ_CHECK(c->num > 0 && at != MTLS_TIME_NOW);
    FUZZ_CHECK(mtls_verify_der(ctx, index, certs, c->lens, c->num, at, &a, &err) == MTLS_OK);
    FUZZ_CHECK(mtls_verify_der(ctx, index, certs, c->lens, c->num, at, &b, NULL) == MTLS_OK);
    FUZZ_CHECK(a != NULL && b != NULL && mtls_peer_policy_index(a) == index);
    fuzz_check_peer(a, b, certs, c->lens, c->num, 1);
    check_path(a, c, at, anchors, anchor_lens, num_anchors);
    int depth = mtls_peer_error_depth(a);
    FUZZ_CHECK(mtls_peer_accepted(a) ? depth == -1
                                     : depth >= -1 && depth < (int)mtls_peer_num_certs(a));
    if (mtls_peer_accepted(a) && fixed_pki) {
        const char *issuer, *subject;
        FUZZ_CHECK(mtls_peer_get(a, "http.request.tls.client.issuer", &issuer, NULL, NULL) ==
                       MTLS_OK &&
                   strstr(issuer, "O=libmtls fuzz") != NULL);
        FUZZ_CHECK(mtls_peer_get(a, "http.request.tls.client.subject", &subject, NULL, NULL) ==
                       MTLS_OK &&
                   subject[0] != '\0');
    }
    mtls_peer_free(a);
    mtls_peer_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opts = size > 0 ? data[0] : 0;
    size_t num_untrusted = opts & OPT_UNTRUSTED, at_part = 1 + num_untrusted;
    size_t ca_part = at_part + ((opts & OPT_AT) != 0), num = ca_part + ((opts & OPT_CA) != 0);
    struct part parts[1 + MAX_UNTRUSTED + 2];
    split(parts, num, data + (size > 0), size - (size > 0));

    struct tool_certs certs = {0};
    struct der_list ca_certs = {0};
    int ok = 1, purpose = opts & OPT_SERVER ? MTLS_PURPOSE_SERVER : MTLS_PURPOSE_CLIENT;
    int64_t at = FUZZ_NOW;
    for (size_t i = 0; i <= num_untrusted; i++) {
        ok &= parse_file(&certs, &parts[i]) == 0;
    }
    if (opts & OPT_AT) {
        ok &= parse_at(&parts[at_part], &at) == 0;
    }
    mtls_ctx *ca = opts & OPT_CA ? ca_ctx(&ca_certs, &parts[ca_part], purpose) : NULL;
    if (ok && ca != NULL) {
        const uint8_t **anchors = calloc(ca_certs.num, sizeof(*anchors));
        size_t *lens = calloc(ca_certs.num, sizeof(*lens));
        FUZZ_CHECK(anchors != NULL && lens != NULL);
        for (size_t i = 0; i < ca_certs.num; i++) {
            anchors[i] = ca_certs.items[i].data;
            lens[i] = ca_certs.items[i].len;
        }
        judge(ca, 0, &certs, at, anchors, lens, ca_certs.num, 0);
        free(anchors);
        free(lens);
    } else if (ok && !(opts & OPT_CA)) {
        const struct fuzz_pki *k = fuzz_pki_get();
        const uint8_t *anchors[] = {k->root.der, k->inter.der};
        size_t lens[] = {k->root.len, k->inter.len}, index = (opts & OPT_POLICY1) != 0;
        judge(fixed[purpose == MTLS_PURPOSE_SERVER], index, &certs, at, anchors, lens, index + 1,
              1);
    }
    mtls_ctx_free(ca);
    mtlsp_der_list_free(&ca_certs);
    tool_certs_free(&certs);
    for (size_t i = 0; i < num; i++) {
        free(parts[i].p);
    }
    return 0;
}
