/* testpki.c - reading tests/pki/mkpki.sh output for the unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mtls/mtls.h>

#include "testpki.h"

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

const char *pki_dir(void)
{
    const char *d = getenv("MTLS_PKI_DIR");
    if (d == NULL || *d == '\0') {
        die("MTLS_PKI_DIR is not set (run through meson test)");
    }
    return d;
}

static void join(char *out, size_t cap, const char *rel)
{
    if (snprintf(out, cap, "%s/%s", pki_dir(), rel) >= (int)cap) {
        die("path too long: %s", rel);
    }
}

const struct pki_case *pki_find(const struct pki_case *cases, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].name, name) == 0) {
            return &cases[i];
        }
    }
    die("no case %s in the manifest", name);
    return NULL;
}

struct mtls_ctx *pki_ctx(const char *json)
{
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, strlen(json), NULL, &err);
    if (ctx == NULL) {
        die("policy did not load: %s (%s)", err.message, json);
    }
    return ctx;
}

size_t pki_load(struct pki_case *out, size_t max)
{
    char path[512], line[2048];
    join(path, sizeof(path), "manifest.tsv");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die("cannot open %s", path);
    }
    size_t n = 0;
    while (fgets(line, sizeof(line), f) != NULL && n < max) {
        char *fields[7];
        char *save = NULL;
        size_t nf = 0;
        line[strcspn(line, "\r\n")] = '\0';
        for (char *t = strtok_r(line, "\t", &save); t && nf < 7; t = strtok_r(NULL, "\t", &save)) {
            fields[nf++] = t;
        }
        if (nf != 7 || strcmp(fields[0], "name") == 0) {
            continue;
        }
        struct pki_case *c = &out[n++];
        snprintf(c->name, sizeof(c->name), "%s", fields[0]);
        join(c->cert, sizeof(c->cert), fields[1]);
        join(c->key, sizeof(c->key), fields[2]);
        join(c->chain, sizeof(c->chain), fields[3]);
        join(c->trust, sizeof(c->trust), fields[4]);
        c->accept = strcmp(fields[5], "accept") == 0;
        snprintf(c->reason, sizeof(c->reason), "%s", fields[6]);
    }
    fclose(f);
    if (n == 0) {
        die("no cases in %s", path);
    }
    return n;
}

size_t pki_read_chain(const char *path, uint8_t **ders, size_t *lens, size_t max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die("cannot open %s", path);
    }
    size_t n = 0;
    X509 *x;
    while (n < max && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        uint8_t *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (len <= 0) {
            die("cannot encode %s", path);
        }
        ders[n] = der;
        lens[n++] = (size_t)len;
    }
    fclose(f);
    return n;
}

void pki_free_ders(uint8_t **ders, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(ders[i]);
    }
}

int pki_reason_code(const char *word)
{
    static const struct {
        const char *word;
        int code;
    } map[] = {
        {"-", MTLS_OK},
        {"expired", MTLS_ERR_CERT_EXPIRED},
        {"not_yet_valid", MTLS_ERR_CERT_NOT_YET_VALID},
        {"unknown_issuer", MTLS_ERR_UNKNOWN_ISSUER},
        {"wrong_eku", MTLS_ERR_WRONG_EKU},
        {"issuer_not_ca", MTLS_ERR_ISSUER_NOT_CA},
        {"bad_signature", MTLS_ERR_BAD_SIGNATURE},
        {"insecure_algorithm", MTLS_ERR_INSECURE_ALGORITHM},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].word, word) == 0) {
            return map[i].code;
        }
    }
    die("unknown reason word in manifest: %s", word);
    return -1;
}

void pki_policy_json(char *out, size_t cap, const char *mode, const char *trust)
{
    int n;
    if (mode != NULL) {
        n = snprintf(out, cap, "{\"mode\":\"%s\",\"trusted_ca_certs_pem_files\":[\"%s\"]}", mode,
                     trust);
    } else {
        n = snprintf(out, cap, "{\"trusted_ca_certs_pem_files\":[\"%s\"]}", trust);
    }
    if (n < 0 || (size_t)n >= cap) {
        die("policy too long");
    }
}
