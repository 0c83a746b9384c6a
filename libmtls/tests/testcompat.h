/*
 * testcompat.h - the few test helpers whose natural call differs between BoringSSL and
 * OpenSSL 3 (base64, Ed25519 key generation), written with calls both libraries have, so
 * that every unit test builds against either backend (meson -Dtls_backend=...).
 */
#ifndef MTLS_TESTCOMPAT_H
#define MTLS_TESTCOMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Standard base64 of `len` bytes, NUL-terminated, malloc'd (free()); NULL on failure. */
static inline char *test_b64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out != NULL) {
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    }
    return out;
}

/* Decodes standard base64 (length a multiple of 4, no whitespace) into `out` (room for
 * `cap` bytes). Returns 1 and *out_len, or 0 when invalid or too long. */
static inline int test_b64_decode(uint8_t *out, size_t *out_len, size_t cap, const char *b64,
                                  size_t len)
{
    if (len % 4 != 0 || len / 4 * 3 > cap + 2) {
        return 0;
    }
    uint8_t *tmp = malloc(len / 4 * 3 + 1);
    int n = tmp != NULL ? EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)len) : -1;
    size_t pad = len >= 1 && b64[len - 1] == '=' ? 1 + (len >= 2 && b64[len - 2] == '=') : 0;
    int ok = n >= 0 && (size_t)n >= pad && (size_t)n - pad <= cap;
    if (ok) {
        *out_len = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        memcpy(out, tmp, *out_len);
    }
    free(tmp);
    return ok;
}

/* A fresh Ed25519 key, or NULL. */
static inline EVP_PKEY *test_ed25519_key(void)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (pctx == NULL || EVP_PKEY_keygen_init(pctx) != 1 || EVP_PKEY_keygen(pctx, &key) != 1) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(pctx);
    return key;
}

#endif
