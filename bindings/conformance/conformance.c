/* conformance.c - helpers shared by gen_conformance, check_conformance and bench_c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "testcompat.h" /* base64 with calls BoringSSL and OpenSSL 3 both have */

#define SAN_PREFIX "http.request.tls.client.san."

const char *const conf_san_lists[4] = {
    SAN_PREFIX "dns_names", SAN_PREFIX "emails", SAN_PREFIX "ips", SAN_PREFIX "uris"};

char *conf_b64(const uint8_t *p, size_t len)
{
    return len <= (size_t)INT32_MAX / 4 * 3 - 3 ? test_b64_encode(p, len) : NULL;
}

int conf_unb64(const char *text, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(text), cap = n / 4 * 3;
    uint8_t *buf = malloc(cap + 1);
    if (buf == NULL) {
        return -1;
    }
    if (n > (size_t)INT32_MAX || !test_b64_decode(buf, out_len, cap, text, n)) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

char *conf_pem(const uint8_t *const *ders, const size_t *lens, size_t n)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
    static const char end[] = "-----END CERTIFICATE-----\n";
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        cap += sizeof(begin) + sizeof(end) + (lens[i] / 48 + 2) * 65;
    }
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char *b = conf_b64(ders[i], lens[i]);
        if (b == NULL) {
            free(out);
            return NULL;
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "%s", begin);
        for (size_t off = 0, bl = strlen(b); off < bl; off += 64) {
            pos += (size_t)snprintf(out + pos, cap - pos, "%.64s\n", b + off);
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "%s", end);
        free(b);
    }
    return out;
}

int conf_unpem(const char *text, uint8_t **ders, size_t *lens, size_t max)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    size_t n = 0;
    const char *p = text;
    while ((p = strstr(p, begin)) != NULL) {
        p += strlen(begin);
        const char *e = strstr(p, end);
        if (e == NULL || n == max) {
            goto fail;
        }
        char *b = malloc((size_t)(e - p) + 1);
        if (b == NULL) {
            goto fail;
        }
        size_t bl = 0;
        for (const char *q = p; q < e; q++) {
            if (*q != '\n' && *q != '\r') {
                b[bl++] = *q;
            }
        }
        b[bl] = '\0';
        int rc = conf_unb64(b, &ders[n], &lens[n]);
        free(b);
        if (rc != 0) {
            goto fail;
        }
        n++;
        p = e + strlen(end);
    }
    return (int)n;
fail:
    for (size_t i = 0; i < n; i++) {
        free(ders[i]);
    }
    return -1;
}

int conf_identity(mtls_peer *peer, conf_identity_fn fn, void *user, size_t counts[4])
{
    for (size_t i = 0; i < mtls_placeholder_count(); i++) {
        const char *name = mtls_placeholder_name(i), *v = NULL;
        size_t len = 0;
        if (name != NULL && mtls_peer_get(peer, name, &v, &len, NULL) == MTLS_OK) {
            int rc = fn(user, name, v, len);
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (size_t l = 0; l < 4; l++) {
        size_t n = 0;
        for (;; n++) {
            char name[128];
            const char *v = NULL;
            size_t len = 0;
            snprintf(name, sizeof(name), "%s.%zu", conf_san_lists[l], n);
            if (mtls_peer_get(peer, name, &v, &len, NULL) != MTLS_OK || len == 0) {
                break;
            }
            int rc = fn(user, name, v, len);
            if (rc != 0) {
                return rc;
            }
        }
        if (counts != NULL) {
            counts[l] = n;
        }
    }
    return 0;
}

const char *conf_mode_name(const char *mode)
{
    return mode != NULL ? mode : "absent";
}
