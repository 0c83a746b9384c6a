/*
 * fuzz/fuzz_peer.c - the invariants of a verdict (mtls_peer) and of every identity
 * placeholder it renders, shared by fuzz_verify_chain and fuzz_identity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "fuzz_mtls.h"
#include "known_issues.h"

#define CLIENT "http.request.tls.client."

static const char *const san_lists[] = {"san.dns_names", "san.emails", "san.ips", "san.uris"};

/* Renders `name` on both peers: same status, same bytes; the cached second call too. */
static mtls_status get_both(mtls_peer *a, mtls_peer *b, const char *name, const char **out,
                            size_t *out_len)
{
    const char *va = NULL, *vb = NULL, *again = NULL;
    size_t la = 0, lb = 0, lagain = 0;
    mtls_error err;
    mtls_status ra = mtls_peer_get(a, name, &va, &la, &err);
    if (ra != MTLS_OK) {
        fuzz_check_error(&err);
        FUZZ_CHECK(err.code == (int)ra);
    }
    mtls_status rb = mtls_peer_get(b, name, &vb, &lb, NULL);
    FUZZ_CHECK(ra == rb);
    if (ra == MTLS_OK) {
        FUZZ_CHECK(va != NULL && vb != NULL && va[la] == '\0' && vb[lb] == '\0');
        FUZZ_CHECK(la == lb && memcmp(va, vb, la) == 0);
        FUZZ_CHECK(mtls_peer_get(a, name, &again, &lagain, NULL) == MTLS_OK);
        FUZZ_CHECK(again == va && lagain == la);
    }
    *out = va;
    *out_len = la;
    return ra;
}

static int is_hex(const char *s, size_t n, size_t want)
{
    if (n != want) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int is_decimal(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-' ? 1 : 0;
    if (i == n) {
        return 0;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int eq(const char *v, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

static int starts(const char *v, size_t n, const char *prefix)
{
    return n >= strlen(prefix) && memcmp(v, prefix, strlen(prefix)) == 0;
}

static void check_leaf_values(mtls_peer *a, mtls_peer *b, const uint8_t *der, size_t len)
{
    const char *v;
    size_t n;
    char name[128];
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256(der, len, md);
    for (size_t i = 0; i < sizeof(md); i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    FUZZ_CHECK(get_both(a, b, CLIENT "fingerprint", &v, &n) == MTLS_OK && eq(v, n, hex));
    char *b64 = fuzz_base64(der, len);
    FUZZ_CHECK(b64 != NULL);
    FUZZ_CHECK(get_both(a, b, CLIENT "certificate_der_base64", &v, &n) == MTLS_OK &&
               eq(v, n, b64));
    /* PEM: the same base64 in 64-column lines between the armour lines. */
    FUZZ_CHECK(get_both(a, b, CLIENT "certificate_pem", &v, &n) == MTLS_OK);
    FUZZ_CHECK(starts(v, n, "-----BEGIN CERTIFICATE-----\n"));
    size_t off = strlen("-----BEGIN CERTIFICATE-----\n"), b64len = strlen(b64);
    for (size_t i = 0; i < b64len; i += 64) {
        size_t line = b64len - i < 64 ? b64len - i : 64;
        FUZZ_CHECK(off + line + 1 <= n && memcmp(v + off, b64 + i, line) == 0 &&
                   v[off + line] == '\n');
        off += line + 1;
    }
    FUZZ_CHECK(eq(v + off, n - off, "-----END CERTIFICATE-----\n"));
    free(b64);
    FUZZ_CHECK(get_both(a, b, CLIENT "spki_sha256", &v, &n) == MTLS_OK && is_hex(v, n, 64));
    FUZZ_CHECK(get_both(a, b, CLIENT "public_key_sha256", &v, &n) == MTLS_OK &&
               (n == 0 || is_hex(v, n, 64)));
    FUZZ_CHECK(get_both(a, b, CLIENT "public_key", &v, &n) == MTLS_OK &&
               (n == 0 || (n % 2 == 0 && is_hex(v, n, n))));
    FUZZ_CHECK(get_both(a, b, CLIENT "serial", &v, &n) == MTLS_OK && is_decimal(v, n));
    FUZZ_CHECK(get_both(a, b, CLIENT "not_before", &v, &n) == MTLS_OK && n >= 20);
    FUZZ_CHECK(get_both(a, b, CLIENT "not_after", &v, &n) == MTLS_OK && n >= 20);
    snprintf(name, sizeof(name), "Hash=%s;Subject=\"", hex);
    FUZZ_CHECK(get_both(a, b, CLIENT "xfcc", &v, &n) == MTLS_OK && starts(v, n, name));

    /* A whole SAN list is "[" + its elements joined by " " + "]" (Go's %v of []string), and
     * the elements are what the ".N" forms give; past the end ".N" is empty. */
    for (size_t l = 0; l < sizeof(san_lists) / sizeof(san_lists[0]); l++) {
        const char *whole;
        size_t wn;
        snprintf(name, sizeof(name), CLIENT "%s", san_lists[l]);
        FUZZ_CHECK(get_both(a, b, name, &whole, &wn) == MTLS_OK);
        FUZZ_CHECK(wn >= 2 && whole[0] == '[' && whole[wn - 1] == ']');
        size_t pos = 1, i = 0;
        int matched = wn == 2; /* "[]": zero elements, or one empty element */
        while (!matched && i < 64) {
            snprintf(name, sizeof(name), CLIENT "%s.%zu", san_lists[l], i);
            FUZZ_CHECK(get_both(a, b, name, &v, &n) == MTLS_OK);
            if (i > 0) {
                FUZZ_CHECK(pos < wn && whole[pos] == ' ');
                pos++;
            }
            FUZZ_CHECK(pos + n <= wn - 1 && memcmp(whole + pos, v, n) == 0);
            pos += n;
            i++;
            matched = pos == wn - 1;
        }
        if (matched) {
            snprintf(name, sizeof(name), CLIENT "%s.%zu", san_lists[l], i + 1000);
            FUZZ_CHECK(get_both(a, b, name, &v, &n) == MTLS_OK && n == 0);
        }
    }
}

/* The placeholder names beyond mtls_placeholder_name: index forms and near misses. */
static const char *const extra_names[] = {
    CLIENT "san.dns_names.0", CLIENT "san.dns_names.1", CLIENT "san.emails.0",
    CLIENT "san.ips.0",       CLIENT "san.uris.0",      CLIENT "san.uris.+0",
    CLIENT "san.ips.-1",      CLIENT "san.uris.x",      CLIENT "SAN.DNS_NAMES.0",
    CLIENT "Subject",         CLIENT "san.dns_names.99999999999999999999",
    CLIENT "san.",            CLIENT "nope",            "http.request.tls.nope",
    "http.request.tls.client", "",                      "http.request.host",
};

void fuzz_check_peer(mtls_peer *a, mtls_peer *b, const uint8_t *const *certs,
                     const size_t *lens, size_t num, int all_placeholders)
{
    const char *v;
    size_t n;
    int accepted = mtls_peer_accepted(a), reason = mtls_peer_reason(a);
    int verified = mtls_peer_verified(a), mode = mtls_peer_mode(a);
    int verifying = mode == MTLS_MODE_VERIFY_IF_GIVEN || mode == MTLS_MODE_REQUIRE_AND_VERIFY;

    /* The verdict. */
    FUZZ_CHECK(accepted == mtls_peer_accepted(b) && reason == mtls_peer_reason(b) &&
               verified == mtls_peer_verified(b));
    FUZZ_CHECK(accepted == (reason == MTLS_OK));
    FUZZ_CHECK(fuzz_is_known_code(reason));
    FUZZ_CHECK(accepted || mtls_category_of(reason) == MTLS_CATEGORY_VERIFY ||
               mtls_category_of(reason) == MTLS_CATEGORY_DENIED);
    FUZZ_CHECK(verified == (accepted && num > 0 && verifying));
    FUZZ_CHECK(mtls_peer_has_certificate(a) == (num > 0));
    size_t kept = mtls_peer_num_certs(a);
    /* mtls.h: more than 64 certificates are refused and only the first 65 kept. */
    FUZZ_CHECK(kept == (num > 64 ? 65 : num));
    FUZZ_CHECK(num <= 64 || reason == MTLS_ERR_CHAIN_TOO_LONG);
    for (size_t i = 0; i < kept; i++) {
        size_t len = 0;
        const uint8_t *der = mtls_peer_cert(a, i, &len);
        /* An empty certificate may come back as NULL (BoringSSL's empty CRYPTO_BUFFER). */
        FUZZ_CHECK(len == lens[i] &&
                   (len == 0 || (der != NULL && memcmp(der, certs[i], len) == 0)));
    }
    FUZZ_CHECK(mtls_peer_cert(a, kept, NULL) == NULL);

    /* The message: rendered once, cached, the same on both peers. */
    const char *msg = mtls_peer_message(a);
    FUZZ_CHECK(msg != NULL && msg[0] != '\0' && mtls_peer_message(a) == msg);
    FUZZ_CHECK(strcmp(msg, mtls_peer_message(b)) == 0);
    if (accepted) {
        FUZZ_CHECK(strncmp(msg, "accepted", 8) == 0);
    } else {
        FUZZ_CHECK(strncmp(msg, "refused: ", 9) == 0 &&
                   strncmp(msg + 9, mtls_strerror(reason), strlen(mtls_strerror(reason))) == 0);
    }

    FUZZ_CHECK(get_both(a, b, CLIENT "verified", &v, &n) == MTLS_OK);
    FUZZ_CHECK(accepted ? (num == 0 ? eq(v, n, "NONE")
                                    : eq(v, n, verified ? "SUCCESS" : "UNVERIFIED"))
                        : starts(v, n, "FAILED:"));
    if (!all_placeholders) {
        return;
    }

    /* Every placeholder mtls_placeholder_name lists renders; the name list ends with NULL. */
    size_t count = mtls_placeholder_count();
    FUZZ_CHECK(count > 0 && mtls_placeholder_name(count) == NULL);
    mtls_status parse_rc = MTLS_OK;
    if (num > 0) {
        parse_rc = get_both(a, b, CLIENT "fingerprint", &v, &n);
        FUZZ_CHECK(parse_rc == MTLS_OK || parse_rc == MTLS_ERR_CERT_PARSE);
    }
    /* Caddy's handshake parses the leaf with Go's x509.ParseCertificate: one Go refuses is
     * never let in, so an accepted leaf renders. */
    FUZZ_CHECK(!accepted || parse_rc == MTLS_OK || KNOWN_ACCEPTS_GO_UNPARSABLE);
    for (size_t i = 0; i < count; i++) {
        const char *name = mtls_placeholder_name(i);
        FUZZ_CHECK(name != NULL && strncmp(name, "http.request.tls.", 17) == 0);
        mtls_status rc = get_both(a, b, name, &v, &n);
        if (strncmp(name, CLIENT, strlen(CLIENT)) != 0) {
            FUZZ_CHECK(rc == MTLS_OK && n == 0); /* connection fields: no connection here */
        } else if (strcmp(name, CLIENT "verified") == 0) {
            FUZZ_CHECK(rc == MTLS_OK); /* checked above */
        } else if (num == 0) {
            FUZZ_CHECK(rc == MTLS_OK && n == 0);
        } else {
            /* Go parses all of the leaf or none of it. */
            FUZZ_CHECK(rc == parse_rc);
        }
    }
    for (size_t i = 0; i < sizeof(extra_names) / sizeof(extra_names[0]); i++) {
        mtls_status rc = get_both(a, b, extra_names[i], &v, &n);
        FUZZ_CHECK(rc == MTLS_OK || rc == MTLS_ERR_UNKNOWN_PLACEHOLDER ||
                   (rc == MTLS_ERR_CERT_PARSE && parse_rc == MTLS_ERR_CERT_PARSE));
    }
    if (num > 0 && parse_rc == MTLS_OK) {
        check_leaf_values(a, b, certs[0], lens[0]);
    }
}
