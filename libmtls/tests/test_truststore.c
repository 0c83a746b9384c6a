/*
 * test_truststore.c - PEM/base64/DER decoding, the structural check of leaf pins, the
 * der_list arena, file (streamed) and folder loaders, and the leaf pin set. Certificates
 * are generated with BoringSSL at test time into a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "testpki.h"
#include "core/buf.h"
#include "core/mem.h"
#include "truststore/truststore.h"

static char tmpdir[64];
static uint8_t *cert_der[3];
static size_t cert_len[3];

/* assert_pin: item `i` of the pin list `l` is the SHA-256 of `der` (pin lists keep no DER). */
static void assert_pin(const struct der_list *l, size_t i, const uint8_t *der, size_t len)
{
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(der, len, h);
    assert_true(i < l->num);
    assert_null(l->items);
    assert_memory_equal(l->digests[i], h, sizeof(h));
}

/* make_cert: a self-signed P-256 certificate with common name `cn`, DER into *out. */
static size_t make_cert(uint8_t **out, const char *cn)
{
    X509 *x = pki_self_signed(cn, 1, NULL);
    *out = NULL;
    int n = i2d_X509(x, out);
    assert_true(n > 0);
    X509_free(x);
    return (size_t)n;
}

/* pem_of renders DER as a PEM block of `type` into an owned string. */
static char *pem_of(const char *type, const uint8_t *der, size_t len)
{
    struct buf b = {0}, body = {0};
    char *out = NULL;
    mtls_error err;
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&body, der, len, &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----BEGIN ", &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, type, &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----\n", &err)));
    for (size_t i = 0; i < body.len; i += 64) {
        size_t n = body.len - i < 64 ? body.len - i : 64;
        assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, body.data + i, n, &err)));
        assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "\n", &err)));
    }
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----END ", &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, type, &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----\n", &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, &out, &err)));
    mtlsp_buf_free(&body);
    return out;
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static const char *tpath(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
    return path[k];
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtls-ts-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    for (int i = 0; i < 3; i++) {
        char cn[16];
        snprintf(cn, sizeof(cn), "cert%d", i);
        cert_len[i] = make_cert(&cert_der[i], cn);
    }
    char *a = pem_of("CERTIFICATE", cert_der[0], cert_len[0]);
    char *b = pem_of("CERTIFICATE", cert_der[1], cert_len[1]);
    char *k = pem_of("PRIVATE KEY", cert_der[2], cert_len[2]);
    write_file("one.pem", a, strlen(a));
    struct buf two = {0};
    mtls_error err;
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&two, "# a comment\n", &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&two, a, &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&two, b, &err)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&two, "trailing text\n", &err)));
    write_file("two.pem", two.data, two.len);
    write_file("key.pem", k, strlen(k));
    write_file("one.der", cert_der[0], cert_len[0]);
    write_file("garbage.bin", "\x30\x03\x01\x02", 4);
    write_file("empty.pem", "", 0);
    assert_int_equal(mkdir(tpath("dir"), 0700), 0);
    assert_int_equal(mkdir(tpath("dir/sub"), 0700), 0);
    assert_int_equal(mkdir(tpath("emptydir"), 0700), 0);
    write_file("dir/a.pem", a, strlen(a));
    write_file("dir/sub/b.PEM", b, strlen(b));
    write_file("dir/c.crt", k, strlen(k)); /* not *.pem: ignored, as Caddy does */
    mtlsp_buf_free(&two);
    free(a), free(b), free(k);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 3; i++) {
        OPENSSL_free(cert_der[i]);
    }
    return 0;
}

#define EXPECT_ERR(call, code_, substr)                                                       \
    do {                                                                                      \
        mtls_error e_;                                                                        \
        mtlsp_error_clear(&e_);                                                               \
        mtls_result r_ = (call);                                                              \
        assert_int_equal(r_.code, code_);                                                     \
        assert_int_equal(e_.code, code_);                                                     \
        if (strstr(e_.message, substr) == NULL) {                                             \
            fail_msg("message \"%s\" lacks \"%s\"", e_.message, substr);                      \
        }                                                                                     \
    } while (0)


static void test_pem_bundle_keeps_all_certs(void **state)
{
    struct der_list l = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_certs_from_pem_file(&l, tpath("two.pem"), &e)));
    assert_int_equal(l.num, 2);
    assert_memory_equal(l.items[0].data, cert_der[0], cert_len[0]);
    assert_memory_equal(l.items[1].data, cert_der[1], cert_len[1]);
    mtlsp_der_list_free(&l);
}

static void test_pem_errors(void **state)
{
    struct der_list l = {0};
    EXPECT_ERR(mtlsp_certs_from_pem_file(&l, tpath("key.pem"), &e_), MTLS_ERR_PEM_WRONG_TYPE,
               "is \"PRIVATE KEY\", not CERTIFICATE");
    EXPECT_ERR(mtlsp_certs_from_pem(&l, "hello\n", 6, "x.json", &e_),
               MTLS_ERR_PEM_NO_CERTIFICATE, "x.json: no CERTIFICATE PEM block found");
    const char *noend = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    EXPECT_ERR(mtlsp_certs_from_pem(&l, noend, strlen(noend), "w", &e_), MTLS_ERR_PEM_MALFORMED,
               "no END line");
    const char *mism = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n";
    EXPECT_ERR(mtlsp_certs_from_pem(&l, mism, strlen(mism), "w", &e_), MTLS_ERR_PEM_MALFORMED,
               "END line does not match");
    const char *bad64 = "-----BEGIN CERTIFICATE-----\nMII*B\n-----END CERTIFICATE-----\n";
    EXPECT_ERR(mtlsp_certs_from_pem(&l, bad64, strlen(bad64), "w", &e_),
               MTLS_ERR_BASE64_INVALID, "w: PEM block 1: invalid base64");
    const char *notder = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQh\n-----END CERTIFICATE-----";
    EXPECT_ERR(mtlsp_certs_from_pem(&l, notder, strlen(notder), "w", &e_), MTLS_ERR_DER_INVALID,
               "w: PEM block 1: not a DER X.509 certificate");
    const char *hdr = "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nMIIB\n"
                      "-----END CERTIFICATE-----\n";
    EXPECT_ERR(mtlsp_certs_from_pem(&l, hdr, strlen(hdr), "w", &e_), MTLS_ERR_PEM_MALFORMED,
               "headers are not allowed");
    assert_int_equal(l.num, 0);
    mtlsp_der_list_free(&l);
}

static void test_base64(void **state)
{
    struct der_list l = {0};
    struct buf b = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, cert_der[0], cert_len[0], &e)));
    assert_true(MTLS_IS_OK(mtlsp_cert_from_base64(&l, b.data, b.len, "p", &e)));
    assert_int_equal(l.num, 1);
    /* Go's StdEncoding skips CR/LF; other whitespace is an error. */
    char *wrapped = malloc(b.len + 3);
    memcpy(wrapped, b.data, 10);
    memcpy(wrapped + 10, "\r\n", 2);
    memcpy(wrapped + 12, b.data + 10, b.len - 10);
    assert_true(MTLS_IS_OK(mtlsp_cert_from_base64(&l, wrapped, b.len + 2, "p", &e)));
    wrapped[10] = ' ';
    EXPECT_ERR(mtlsp_cert_from_base64(&l, wrapped, b.len + 2, "cfg[1]", &e_),
               MTLS_ERR_BASE64_INVALID, "cfg[1]: invalid base64");
    EXPECT_ERR(mtlsp_cert_from_base64(&l, "aGVsbG8=", 8, "cfg[2]", &e_), MTLS_ERR_DER_INVALID,
               "cfg[2]: not a DER X.509 certificate");
    EXPECT_ERR(mtlsp_cert_from_base64(&l, "", 0, "cfg[3]", &e_), MTLS_ERR_BASE64_INVALID,
               "cfg[3]");
    /* a certificate followed by extra bytes is not one DER certificate */
    uint8_t *extra = malloc(cert_len[0] + 2);
    memcpy(extra, cert_der[0], cert_len[0]);
    extra[cert_len[0]] = 0;
    extra[cert_len[0] + 1] = 0;
    EXPECT_ERR(mtlsp_cert_check_der(extra, cert_len[0] + 2, "x", &e_), MTLS_ERR_DER_INVALID,
               "x: not a DER X.509 certificate");
    assert_int_equal(l.num, 2);
    free(extra);
    free(wrapped);
    mtlsp_buf_free(&b);
    mtlsp_der_list_free(&l);
}

static void test_read_file(void **state)
{
    char *data = NULL;
    size_t len = 0;
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_read_file(tpath("one.der"), 1 << 20, &data, &len, &e)));
    assert_int_equal(len, cert_len[0]);
    assert_int_equal(data[len], '\0');
    mtlsp_free(data);
    EXPECT_ERR(mtlsp_read_file(tpath("missing.pem"), 100, &data, &len, &e_),
               MTLS_ERR_FILE_OPEN, "missing.pem: No such file or directory");
    EXPECT_ERR(mtlsp_read_file(tpath("one.der"), 10, &data, &len, &e_), MTLS_ERR_TOO_LARGE,
               "larger than 10 bytes");
    EXPECT_ERR(mtlsp_read_file(tpath("dir"), 100, &data, &len, &e_), MTLS_ERR_FILE_READ,
               "Is a directory");
}

static void test_cert_file_pem_or_der(void **state)
{
    struct der_list l = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&l, tpath("one.der"), &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&l, tpath("two.pem"), &e)));
    assert_int_equal(l.num, 3);
    EXPECT_ERR(mtlsp_certs_from_file(&l, tpath("garbage.bin"), &e_), MTLS_ERR_DER_INVALID,
               "garbage.bin");
    EXPECT_ERR(mtlsp_certs_from_file(&l, tpath("empty.pem"), &e_),
               MTLS_ERR_PEM_NO_CERTIFICATE, "empty file");
    EXPECT_ERR(mtlsp_certs_from_pem_file(&l, tpath("one.der"), &e_),
               MTLS_ERR_PEM_NO_CERTIFICATE, "one.der: no CERTIFICATE PEM block found");
    mtlsp_der_list_free(&l);
}

static void test_folder(void **state)
{
    struct der_list l = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_certs_from_folder(&l, tpath("dir"), &e)));
    assert_int_equal(l.num, 2); /* a.pem and sub/b.PEM; c.crt ignored */
    assert_memory_equal(l.items[0].data, cert_der[0], cert_len[0]);
    assert_memory_equal(l.items[1].data, cert_der[1], cert_len[1]);
    EXPECT_ERR(mtlsp_certs_from_folder(&l, tpath("emptydir"), &e_), MTLS_ERR_EMPTY_TRUST,
               "holds no certificate");
    EXPECT_ERR(mtlsp_certs_from_folder(&l, tpath("nodir"), &e_), MTLS_ERR_DIR_OPEN,
               "nodir: No such file or directory");
    write_file("dir/zz.pem", "junk", 4);
    EXPECT_ERR(mtlsp_certs_from_folder(&l, tpath("dir"), &e_), MTLS_ERR_PEM_NO_CERTIFICATE,
               "zz.pem");
    unlink(tpath("dir/zz.pem"));
    mtlsp_der_list_free(&l);
}

static void test_der_list_move(void **state)
{
    struct der_list a = {0}, b = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&a, cert_der[0], cert_len[0], &e)));
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&b, cert_der[1], cert_len[1], &e)));
    assert_true(MTLS_IS_OK(mtlsp_der_list_move(&a, &b, &e)));
    assert_int_equal(a.num, 2);
    assert_int_equal(b.num, 0);
    assert_null(b.items);
    mtlsp_der_list_free(&a);
    mtlsp_der_list_free(&b);
}

/* Pinned bytes found, others not (a prefix, one bit flipped), duplicates counted once:
 * from a full list (the pinset hashes its items) and from a pin list (digests only). */
static void pinset_10k(enum cert_check check)
{
    enum { N = 10000 };
    struct der_list l = {.check = check};
    mtls_error e;
    uint8_t blob[64];
    for (uint32_t i = 0; i < N; i++) {
        memset(blob, 0xA5, sizeof(blob));
        memcpy(blob, &i, sizeof(i));
        assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, blob, 20 + i % 40, &e)));
    }
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, cert_der[0], cert_len[0], &e)));
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, cert_der[0], cert_len[0], &e))); /* dup */
    struct pinset *p = NULL;
    assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &l, &e)));
    assert_int_equal(mtlsp_pinset_size(p), N + 1);
    for (uint32_t i = 0; i < N; i++) {
        memset(blob, 0xA5, sizeof(blob));
        memcpy(blob, &i, sizeof(i));
        assert_true(mtlsp_pinset_contains(p, blob, 20 + i % 40));
        assert_false(mtlsp_pinset_contains(p, blob, 21 + i % 40)); /* prefix of another */
        blob[5] ^= 1;
        assert_false(mtlsp_pinset_contains(p, blob, 20 + i % 40));
    }
    assert_true(mtlsp_pinset_contains(p, cert_der[0], cert_len[0]));
    assert_false(mtlsp_pinset_contains(p, cert_der[1], cert_len[1]));
    assert_false(mtlsp_pinset_contains(p, cert_der[0], cert_len[0] - 1));
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(cert_der[2], cert_len[2], h);
    assert_false(mtlsp_pinset_contains_hash(p, h));
    SHA256(cert_der[0], cert_len[0], h);
    assert_true(mtlsp_pinset_contains_hash(p, h));
    assert_false(mtlsp_pinset_contains_hash(p, NULL));
    assert_false(mtlsp_pinset_contains_hash(NULL, h));
    mtlsp_pinset_free(p);
    mtlsp_der_list_free(&l);
}

static void test_pinset_10k(void **state)
{
    pinset_10k(MTLS_CERT_CHECK_FULL);
    pinset_10k(MTLS_CERT_CHECK_PIN);
}

/* A pin list keeps each pin's SHA-256 only, whatever loaded it; its scratch block is
 * reused by every pin and given back by mtlsp_der_list_done. */
static void test_pin_list_digests_only(void **state)
{
    struct der_list l = {.check = MTLS_CERT_CHECK_PIN}, m = {.check = MTLS_CERT_CHECK_PIN};
    struct der_list full = {0};
    mtls_error e;
    char *pem = pem_of("CERTIFICATE", cert_der[2], cert_len[2]);
    struct buf b = {0};
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, cert_der[1], cert_len[1], &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&l, tpath("one.der"), &e)));     /* DER */
    assert_true(MTLS_IS_OK(mtlsp_cert_from_base64(&l, b.data, b.len, "b64", &e))); /* base64 */
    assert_true(MTLS_IS_OK(mtlsp_certs_from_pem(&l, pem, strlen(pem), "pem", &e))); /* PEM */
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&l, tpath("two.pem"), &e)));      /* stream */
    assert_int_equal(l.num, 5);
    assert_pin(&l, 0, cert_der[0], cert_len[0]);
    assert_pin(&l, 1, cert_der[1], cert_len[1]);
    assert_pin(&l, 2, cert_der[2], cert_len[2]);
    assert_pin(&l, 3, cert_der[0], cert_len[0]);
    assert_pin(&l, 4, cert_der[1], cert_len[1]);
    assert_non_null(l.arena); /* the scratch block */
    /* a reservation not committed adds nothing; a bigger one replaces the scratch block */
    uint8_t *room = NULL;
    assert_true(MTLS_IS_OK(mtlsp_der_list_reserve(&l, 1 << 16, &room, &e)));
    memset(room, 0xee, 1 << 16);
    assert_int_equal(l.num, 5);
    mtlsp_der_list_done(&l);
    assert_null(l.arena);
    assert_int_equal(l.cap, 5);
    uint8_t h[SHA256_DIGEST_LENGTH];
    mtlsp_der_list_digest(&l, 2, h);
    assert_memory_equal(h, l.digests[2], sizeof(h));
    /* more pins after done; pin lists move into pin lists only */
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&m, cert_der[2], cert_len[2], &e)));
    assert_true(MTLS_IS_OK(mtlsp_der_list_move(&l, &m, &e)));
    assert_int_equal(l.num, 6);
    assert_int_equal(m.num, 0);
    assert_null(m.digests);
    assert_pin(&l, 5, cert_der[2], cert_len[2]);
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&full, cert_der[0], cert_len[0], &e)));
    mtlsp_der_list_digest(&full, 0, h);
    assert_memory_equal(h, l.digests[0], sizeof(h));
    EXPECT_ERR(mtlsp_der_list_move(&l, &full, &e_), MTLS_ERR_INVALID_ARGUMENT, "check modes");
    EXPECT_ERR(mtlsp_der_list_move(&full, &l, &e_), MTLS_ERR_INVALID_ARGUMENT, "check modes");
    /* `check` may not change once items are there */
    full.check = MTLS_CERT_CHECK_PIN;
    EXPECT_ERR(mtlsp_der_list_add(&full, cert_der[1], cert_len[1], &e_),
               MTLS_ERR_INVALID_ARGUMENT, "check mode changed");
    EXPECT_ERR(mtlsp_certs_from_file(&full, tpath("two.pem"), &e_), MTLS_ERR_INVALID_ARGUMENT,
               "check mode changed");
    full.check = MTLS_CERT_CHECK_FULL;
    assert_int_equal(full.num, 1);
    l.check = MTLS_CERT_CHECK_FULL;
    EXPECT_ERR(mtlsp_der_list_reserve(&l, 100, &room, &e_), MTLS_ERR_INVALID_ARGUMENT,
               "check mode changed");
    l.check = MTLS_CERT_CHECK_PIN;
    /* the pinset over it */
    struct pinset *p = NULL;
    assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &l, &e)));
    assert_int_equal(mtlsp_pinset_size(p), 3);
    for (int i = 0; i < 3; i++) {
        assert_true(mtlsp_pinset_contains(p, cert_der[i], cert_len[i]));
    }
    mtlsp_pinset_free(p);
    mtlsp_der_list_free(&l);
    mtlsp_der_list_free(&m);
    mtlsp_der_list_free(&full);
    assert_null(l.digests);
    mtlsp_der_list_done(&l); /* harmless on an empty list */
    mtlsp_buf_free(&b);
    free(pem);
}

static void test_pinset_empty_and_null(void **state)
{
    struct der_list l = {0};
    struct pinset *p = NULL;
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &l, &e)));
    assert_int_equal(mtlsp_pinset_size(p), 0);
    assert_false(mtlsp_pinset_contains(p, cert_der[0], cert_len[0]));
    assert_false(mtlsp_pinset_contains(NULL, cert_der[0], cert_len[0]));
    mtlsp_pinset_free(p);
    mtlsp_pinset_free(NULL);
}

/* ---- structural check of leaf pins --------------------------------------------------- */

/* A DER-shaped non-certificate: SEQUENCE { SEQUENCE { INTEGER 5 }, SEQUENCE { NULL },
 * BIT STRING 00 00 }. */
static const uint8_t shaped[] = {0x30, 0x0d, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30,
                                 0x02, 0x05, 0x00, 0x03, 0x02, 0x00, 0x00};

static void test_structure_check(void **state)
{
    mtls_error e;
    const uint8_t *c = cert_der[0];
    size_t n = cert_len[0];
    assert_true(MTLS_IS_OK(mtlsp_cert_check_structure(c, n, "pins.pem", &e)));
    assert_true(MTLS_IS_OK(mtlsp_cert_check(MTLS_CERT_CHECK_PIN, c, n, "pins.pem", 3, &e)));
    /* Shaped like a certificate: enough for a pin, not for a CA. */
    assert_true(MTLS_IS_OK(mtlsp_cert_check_structure(shaped, sizeof(shaped), "s", &e)));
    EXPECT_ERR(mtlsp_cert_check(MTLS_CERT_CHECK_FULL, shaped, sizeof(shaped), "ca.pem", 2, &e_),
               MTLS_ERR_DER_INVALID, "ca.pem: PEM block 2: not a DER X.509 certificate");
    EXPECT_ERR(mtlsp_cert_check(MTLS_CERT_CHECK_PIN, c, n - 1, "pins.pem", 7, &e_),
               MTLS_ERR_DER_INVALID,
               "pins.pem: PEM block 7: not a DER X.509 certificate (truncated");
    EXPECT_ERR(mtlsp_cert_check(MTLS_CERT_CHECK_PIN, c, 1, "pins.pem", 0, &e_),
               MTLS_ERR_DER_INVALID, "pins.pem: not a DER X.509 certificate (truncated");
    EXPECT_ERR(mtlsp_cert_check_structure(c, 0, "f.der", &e_), MTLS_ERR_DER_INVALID,
               "f.der: not a DER X.509 certificate (empty)");
    uint8_t *buf = malloc(n + 2);
    memcpy(buf, c, n);
    buf[n] = 0, buf[n + 1] = 0;
    EXPECT_ERR(mtlsp_cert_check_structure(buf, n + 2, "f.der", &e_), MTLS_ERR_DER_INVALID,
               "f.der: not a DER X.509 certificate (bytes after the certificate)");
    buf[0] = 0x31; /* SET */
    EXPECT_ERR(mtlsp_cert_check_structure(buf, n, "f.der", &e_), MTLS_ERR_DER_INVALID,
               "f.der: not a DER X.509 certificate (does not start with a SEQUENCE)");
    free(buf);
    /* Inner faults: each field missing or of the wrong type, and one field too many. */
    static const struct {
        uint8_t der[20];
        size_t len;
        const char *why;
    } bad[] = {
        {{0x30, 0x00}, 2, "no TBSCertificate"},
        {{0x30, 0x04, 0x02, 0x02, 0x01, 0x05}, 6, "no TBSCertificate"},
        {{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x05}, 7, "no signatureAlgorithm"},
        {{0x30, 0x09, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30, 0x02, 0x05, 0x00}, 11,
         "no signatureValue"},
        {{0x30, 0x0c, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30, 0x02, 0x05, 0x00, 0x03, 0x01, 0x08},
         14, "no signatureValue"}, /* 8 unused bits */
        {{0x30, 0x0f, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30, 0x02, 0x05, 0x00, 0x03, 0x02, 0x00,
          0x00, 0x05, 0x00},
         17, "fields after the signatureValue"},
        {{0x30, 0x81, 0x0d, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30, 0x02, 0x05, 0x00, 0x03, 0x02,
          0x00, 0x00},
         16, "truncated, or not a DER length"}, /* non-minimal length */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(mtlsp_cert_check_structure(bad[i].der, bad[i].len, "x.der", &e_),
                   MTLS_ERR_DER_INVALID, bad[i].why);
    }
}

/* Loaders check pins structurally when the list says so, and name the file and reason. */
static void test_pin_list_loaders(void **state)
{
    struct der_list pins = {.check = MTLS_CERT_CHECK_PIN}, cas = {0};
    mtls_error e;
    char *pem = pem_of("CERTIFICATE", shaped, sizeof(shaped));
    write_file("shaped.pem", pem, strlen(pem));
    write_file("shaped.der", shaped, sizeof(shaped));
    write_file("trunc.der", cert_der[0], cert_len[0] - 10);
    assert_true(MTLS_IS_OK(mtlsp_certs_from_pem_file(&pins, tpath("shaped.pem"), &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&pins, tpath("shaped.der"), &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&pins, tpath("two.pem"), &e)));
    assert_int_equal(pins.num, 4);
    assert_pin(&pins, 0, shaped, sizeof(shaped));
    assert_pin(&pins, 1, shaped, sizeof(shaped));
    assert_pin(&pins, 2, cert_der[0], cert_len[0]);
    assert_pin(&pins, 3, cert_der[1], cert_len[1]);
    EXPECT_ERR(mtlsp_certs_from_file(&pins, tpath("trunc.der"), &e_), MTLS_ERR_DER_INVALID,
               "trunc.der: not a DER X.509 certificate (truncated");
    EXPECT_ERR(mtlsp_certs_from_file(&pins, tpath("garbage.bin"), &e_), MTLS_ERR_DER_INVALID,
               "garbage.bin: not a DER X.509 certificate (truncated");
    EXPECT_ERR(mtlsp_certs_from_pem_file(&cas, tpath("shaped.pem"), &e_), MTLS_ERR_DER_INVALID,
               "shaped.pem: PEM block 1: not a DER X.509 certificate");
    EXPECT_ERR(mtlsp_certs_from_file(&cas, tpath("shaped.der"), &e_), MTLS_ERR_DER_INVALID,
               "shaped.der: not a DER X.509 certificate");
    struct buf b = {0};
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, shaped, sizeof(shaped), &e)));
    assert_true(MTLS_IS_OK(mtlsp_cert_from_base64(&pins, b.data, b.len, "leaf[0]", &e)));
    EXPECT_ERR(mtlsp_cert_from_base64(&cas, b.data, b.len, "ca[0]", &e_),
               MTLS_ERR_DER_INVALID, "ca[0]: not a DER X.509 certificate");
    assert_int_equal(pins.num, 5);
    assert_pin(&pins, 4, shaped, sizeof(shaped));
    assert_int_equal(cas.num, 0);
    mtlsp_buf_free(&b);
    free(pem);
    mtlsp_der_list_free(&pins);
    mtlsp_der_list_free(&cas);
}

/* ---- base64 --------------------------------------------------------------------------- */

static int b64(const char *s, int pem, uint8_t *out, size_t cap, size_t *len)
{
    return mtlsp_base64_decode(out, cap, len, s, strlen(s), pem);
}

static void test_base64_decoder(void **state)
{
    uint8_t out[64];
    size_t len = 0;
    assert_int_equal(b64("QUJD", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "ABC", 3);
    assert_int_equal(b64("QUI=", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 2);
    assert_int_equal(b64("QQ==", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 'A');
    /* bits after the last byte are ignored, as Go's StdEncoding and EVP_DecodeBase64 do */
    assert_int_equal(b64("QR==", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(out[0], 'A');
    assert_int_equal(b64("QUJDRA==", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 4);
    /* padding */
    assert_int_equal(b64("QQ=", 0, out, sizeof(out), &len), MTLS_B64_BAD_LENGTH);
    assert_int_equal(b64("QQ", 0, out, sizeof(out), &len), MTLS_B64_BAD_LENGTH);
    assert_int_equal(b64("Q===", 0, out, sizeof(out), &len), MTLS_B64_BAD_PADDING);
    assert_int_equal(b64("====", 0, out, sizeof(out), &len), MTLS_B64_BAD_PADDING);
    assert_int_equal(b64("QU=D", 0, out, sizeof(out), &len), MTLS_B64_BAD_PADDING);
    assert_int_equal(b64("QQ==QUJD", 0, out, sizeof(out), &len), MTLS_B64_BAD_PADDING);
    assert_int_equal(b64("QQ===", 0, out, sizeof(out), &len), MTLS_B64_BAD_PADDING);
    assert_int_equal(b64("QQ=\r\n=", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 1);
    /* empty, and nothing but skipped characters */
    assert_int_equal(b64("", 0, out, sizeof(out), &len), MTLS_B64_BAD_LENGTH);
    assert_int_equal(b64("\r\n", 0, out, sizeof(out), &len), MTLS_B64_BAD_LENGTH);
    assert_int_equal(b64(" \t\n", 1, out, sizeof(out), &len), MTLS_B64_BAD_LENGTH);
    /* invalid characters, with their offset */
    assert_int_equal(b64("QU*D", 0, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(len, 2);
    assert_int_equal(b64("QU-_", 0, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(b64("QUJD\0", 0, out, sizeof(out), &len), MTLS_B64_OK); /* strlen */
    assert_int_equal(mtlsp_base64_decode(out, sizeof(out), &len, "QU\0D", 4, 0),
                     MTLS_B64_BAD_CHAR);
    assert_int_equal(b64("QUJD\xc3\xa9", 0, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(len, 4);
    /* whitespace: CR/LF always skipped; spaces and tabs only in PEM bodies */
    assert_int_equal(b64("Q\r\nU\nJ\rD", 0, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 3);
    assert_int_equal(b64("QU JD", 0, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(b64("QU\tJD", 0, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(b64(" QU JD\t\r\n", 1, out, sizeof(out), &len), MTLS_B64_OK);
    assert_int_equal(len, 3);
    assert_int_equal(b64("QU\vJD", 1, out, sizeof(out), &len), MTLS_B64_BAD_CHAR);
    assert_int_equal(b64("QQ== \n", 1, out, sizeof(out), &len), MTLS_B64_OK);
    /* the output bound */
    assert_int_equal(b64("QUJDRA==", 0, out, 4, &len), MTLS_B64_OK);
    assert_int_equal(b64("QUJDRA==", 0, out, 3, &len), MTLS_B64_TOO_LONG);
    assert_int_equal(b64("QUJDREVG", 0, out, 5, &len), MTLS_B64_TOO_LONG);
    assert_string_equal(mtlsp_base64_reason(MTLS_B64_BAD_CHAR),
                        "a character outside the base64 alphabet");
}

/* The decoder accepts exactly what EVP_DecodeBase64 (the decoder it replaces) accepts, with
 * the same bytes: random strings over a small alphabet that hits every rule. */
static void test_base64_matches_boringssl(void **state)
{
    static const char alphabet[] = "AQgw+/9z=";
    uint32_t seed = 12345;
    for (int t = 0; t < 200000; t++) {
        char s[16];
        seed = seed * 1103515245 + 12345;
        size_t n = (seed >> 16) % 13;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            s[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        uint8_t a[16], b[16];
        size_t alen = 0, blen = 0;
        int ours = mtlsp_base64_decode(a, sizeof(a), &alen, s, n, 0) == MTLS_B64_OK;
        /* The oracle: BoringSSL's decoder; OpenSSL's EVP_DecodeBlock has other rules. */
#ifdef OPENSSL_IS_BORINGSSL
        int theirs = n > 0 && EVP_DecodeBase64(b, &blen, sizeof(b), (const uint8_t *)s, n);
#else
        int theirs = ours;
        blen = alen;
        memcpy(b, a, alen);
#endif
        if (ours != theirs || (ours && (alen != blen || memcmp(a, b, alen) != 0))) {
            fail_msg("\"%.*s\": ours %d (%zu), EVP_DecodeBase64 %d (%zu)", (int)n, s, ours,
                     alen, theirs, blen);
        }
    }
}

/* PEM bodies as people write them: CRLF, indented lines, trailing spaces. */
static void test_pem_whitespace(void **state)
{
    struct buf body = {0}, t = {0};
    struct der_list l = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&body, cert_der[0], cert_len[0], &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&t, "-----BEGIN CERTIFICATE-----\r\n", &e)));
    for (size_t i = 0; i < body.len; i += 40) {
        size_t n = body.len - i < 40 ? body.len - i : 40;
        assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&t, i % 80 ? "\t" : "  ", &e)));
        assert_true(MTLS_IS_OK(mtlsp_buf_append(&t, body.data + i, n, &e)));
        assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&t, " \r\n", &e)));
    }
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&t, "-----END CERTIFICATE-----\r\n", &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_pem(&l, t.data, t.len, "ws.pem", &e)));
    assert_int_equal(l.num, 1);
    assert_memory_equal(l.items[0].data, cert_der[0], cert_len[0]);
    /* a vertical tab is not PEM whitespace */
    char *vt = strstr(t.data, " \r\n");
    vt[0] = '\v';
    EXPECT_ERR(mtlsp_certs_from_pem(&l, t.data, t.len, "ws.pem", &e_), MTLS_ERR_BASE64_INVALID,
               "ws.pem: PEM block 1: invalid base64 (a character outside the base64 alphabet");
    mtlsp_buf_free(&body);
    mtlsp_buf_free(&t);
    mtlsp_der_list_free(&l);
}

/* ---- arena ---------------------------------------------------------------------------- */

/* Many items of varied sizes: every item keeps its bytes while the arena grows block by
 * block (items never move), also after a move into another list. */
static void test_arena_many_pins(void **state)
{
    enum { N = 100000 };
    struct der_list a = {0}, b = {0};
    mtls_error e;
    uint8_t blob[700];
    for (uint32_t i = 0; i < N; i++) {
        size_t len = 1 + (i * 7919u) % sizeof(blob);
        memset(blob, (int)(i & 0xff), len);
        memcpy(blob, &i, len < 4 ? len : 4);
        assert_true(MTLS_IS_OK(mtlsp_der_list_add(i % 3 ? &a : &b, blob, len, &e)));
    }
    /* a reservation that is not committed leaves nothing behind */
    uint8_t *room = NULL;
    assert_true(MTLS_IS_OK(mtlsp_der_list_reserve(&a, 1 << 16, &room, &e)));
    memset(room, 0xee, 1 << 16);
    assert_true(MTLS_IS_OK(mtlsp_der_list_move(&a, &b, &e)));
    assert_int_equal(a.num, N);
    assert_int_equal(b.num, 0);
    assert_null(b.arena);
    size_t ia = 0, ib = a.num - (N + 2) / 3;
    for (uint32_t i = 0; i < N; i++) {
        const struct der *d = &a.items[i % 3 ? ia++ : ib++];
        size_t len = 1 + (i * 7919u) % sizeof(blob);
        memset(blob, (int)(i & 0xff), len);
        memcpy(blob, &i, len < 4 ? len : 4);
        assert_int_equal(d->len, len);
        assert_memory_equal(d->data, blob, len);
    }
    struct pinset *p = NULL;
    assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &a, &e)));
    assert_true(mtlsp_pinset_contains(p, a.items[N / 2].data, a.items[N / 2].len));
    mtlsp_pinset_free(p);
    mtlsp_der_list_free(&a);
    mtlsp_der_list_free(&b);
    assert_null(a.arena);
    assert_null(a.items);
}

/* write_pins writes `n` copies of the three test certificates as PEM, with `junk` bytes of
 * text before the first block; returns the file size. */
static size_t write_pins(const char *name, size_t n, size_t junk)
{
    char *pem[3];
    for (int i = 0; i < 3; i++) {
        pem[i] = pem_of("CERTIFICATE", cert_der[i], cert_len[i]);
    }
    FILE *f = fopen(tpath(name), "wb");
    assert_non_null(f);
    for (size_t i = 0; i < junk; i++) {
        fputc(i % 61 == 60 ? '\n' : "-----BEGIN"[i % 10], f); /* marker prefixes, cut */
    }
    for (size_t i = 0; i < n; i++) {
        fputs(pem[i % 3], f);
    }
    long size = ftell(f);
    fclose(f);
    for (int i = 0; i < 3; i++) {
        free(pem[i]);
    }
    return (size_t)size;
}

/* Files are streamed through a 256 KiB buffer: blocks cut at every kind of place. */
static void test_streamed_pin_file(void **state)
{
    struct der_list l = {.check = MTLS_CERT_CHECK_PIN};
    mtls_error e;
    size_t size = write_pins("many.pem", 3001, 300000);
    assert_true(size > 3 * (256 << 10));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_file(&l, tpath("many.pem"), &e)));
    assert_true(MTLS_IS_OK(mtlsp_certs_from_pem_file(&l, tpath("many.pem"), &e)));
    assert_int_equal(l.num, 6002);
    for (size_t i = 0; i < l.num; i++) {
        size_t k = (i % 3001) % 3;
        assert_pin(&l, i, cert_der[k], cert_len[k]);
    }
    /* a broken block deep in the file is reported with its number */
    FILE *f = fopen(tpath("many.pem"), "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -(long)(strlen("-----END CERTIFICATE-----\n") + 3), SEEK_END), 0);
    fputc('*', f);
    fclose(f);
    EXPECT_ERR(mtlsp_certs_from_file(&l, tpath("many.pem"), &e_), MTLS_ERR_BASE64_INVALID,
               "many.pem: PEM block 3001: invalid base64");
    /* one with no END line */
    f = fopen(tpath("many.pem"), "ab");
    fputs("-----BEGIN CERTIFICATE-----\nMIIB\n", f);
    fclose(f);
    write_pins("noend.pem", 1000, 10);
    f = fopen(tpath("noend.pem"), "ab");
    fputs("-----BEGIN CERTIFICATE-----\nMIIB\n", f);
    fclose(f);
    EXPECT_ERR(mtlsp_certs_from_pem_file(&l, tpath("noend.pem"), &e_), MTLS_ERR_PEM_MALFORMED,
               "noend.pem: PEM block 1001 (CERTIFICATE): no END line");
    mtlsp_der_list_free(&l);
}

/* The digest behind the session-ID context: same pins, same digest; any change, another. */
static void test_pinset_digest(void **state)
{
    uint8_t d[5][32];
    mtls_error e;
    for (int v = 0; v < 5; v++) {
        /* v == 4: v == 0 as a pin list (digests only): the same digest, so the session-ID
         * context of a policy does not depend on how its pins are kept */
        struct der_list l = {.check = v == 4 ? MTLS_CERT_CHECK_PIN : MTLS_CERT_CHECK_FULL};
        int order[2] = {v == 2 ? 1 : 0, v == 2 ? 0 : 1};
        for (int k = 0; k < 2; k++) {
            assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, cert_der[order[k]],
                                                      cert_len[order[k]], &e)));
        }
        if (v == 3) {
            assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, cert_der[0], cert_len[0], &e)));
        }
        struct pinset *p = NULL;
        assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &l, &e)));
        mtlsp_pinset_digest(p, d[v]);
        mtlsp_pinset_free(p);
        mtlsp_der_list_free(&l);
    }
    assert_memory_equal(d[0], d[1], 32);     /* same list */
    assert_memory_equal(d[0], d[4], 32);     /* same pins, kept as digests */
    assert_memory_not_equal(d[0], d[2], 32); /* order */
    assert_memory_not_equal(d[0], d[3], 32); /* a duplicate added */
    struct der_list l = {.check = MTLS_CERT_CHECK_PIN};
    uint8_t *x = malloc(cert_len[1]);
    memcpy(x, cert_der[1], cert_len[1]);
    x[cert_len[1] - 1] ^= 1; /* one bit of the second pin */
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, cert_der[0], cert_len[0], &e)));
    assert_true(MTLS_IS_OK(mtlsp_der_list_add(&l, x, cert_len[1], &e)));
    struct pinset *p = NULL;
    assert_true(MTLS_IS_OK(mtlsp_pinset_new(&p, &l, &e)));
    uint8_t dx[32];
    mtlsp_pinset_digest(p, dx);
    assert_memory_not_equal(d[0], dx, 32);
    mtlsp_pinset_free(p);
    mtlsp_der_list_free(&l);
    free(x);
}

static void test_alloc_failures(void **state)
{
    for (long n = 0; n < 100; n++) {
        struct der_list l = {0};
        mtls_error e;
        mtlsp_error_clear(&e);
        mtlsp_mem_fail_after(n);
        mtls_result r = mtlsp_certs_from_folder(&l, tpath("dir"), &e);
        struct pinset *p = NULL, *q = NULL;
        struct der_list pins = {.check = MTLS_CERT_CHECK_PIN};
        if (MTLS_IS_OK(r)) {
            r = mtlsp_certs_from_file(&pins, tpath("two.pem"), &e);
        }
        if (MTLS_IS_OK(r)) {
            r = mtlsp_certs_from_file(&pins, tpath("one.der"), &e);
        }
        if (MTLS_IS_OK(r)) {
            r = mtlsp_cert_from_base64(&pins, "MA0wAwIBBTACBQADAgAA", 20, "b64", &e);
        }
        mtlsp_der_list_done(&pins);
        if (MTLS_IS_OK(r)) {
            r = mtlsp_pinset_new(&p, &pins, &e);
        }
        if (MTLS_IS_OK(r)) {
            r = mtlsp_pinset_new(&q, &l, &e); /* a full list: hashed by the pinset */
        }
        mtlsp_mem_fail_after(-1);
        assert_true(MTLS_IS_OK(r) || r.code == MTLS_ERR_NOMEM);
        if (MTLS_IS_OK(r)) {
            assert_int_equal(pins.num, 4);
            assert_true(mtlsp_pinset_contains(p, cert_der[0], cert_len[0]));
            assert_true(mtlsp_pinset_contains(q, l.items[0].data, l.items[0].len));
        }
        mtlsp_pinset_free(p);
        mtlsp_pinset_free(q);
        mtlsp_der_list_free(&l);
        mtlsp_der_list_free(&pins);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem_bundle_keeps_all_certs),
        cmocka_unit_test(test_pem_errors),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_cert_file_pem_or_der),
        cmocka_unit_test(test_folder),
        cmocka_unit_test(test_der_list_move),
        cmocka_unit_test(test_pinset_10k),
        cmocka_unit_test(test_pinset_empty_and_null),
        cmocka_unit_test(test_pin_list_digests_only),
        cmocka_unit_test(test_structure_check),
        cmocka_unit_test(test_pin_list_loaders),
        cmocka_unit_test(test_base64_decoder),
        cmocka_unit_test(test_base64_matches_boringssl),
        cmocka_unit_test(test_pem_whitespace),
        cmocka_unit_test(test_arena_many_pins),
        cmocka_unit_test(test_streamed_pin_file),
        cmocka_unit_test(test_pinset_digest),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
