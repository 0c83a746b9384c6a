/*
 * test_truststore.c - PEM/base64/DER decoding, file and folder loaders, and the leaf pin
 * set. Certificates are generated with BoringSSL at test time into a temporary directory.
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
#include <openssl/base64.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/x509.h>

#include "testpki.h"
#include "core/buf.h"
#include "core/mem.h"
#include "truststore/truststore.h"

static char tmpdir[64];
static uint8_t *cert_der[3];
static size_t cert_len[3];

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

static void test_pinset_10k(void **state)
{
    enum { N = 10000 };
    struct der_list l = {0};
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
    mtlsp_pinset_free(p);
    mtlsp_der_list_free(&l);
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

static void test_alloc_failures(void **state)
{
    for (long n = 0; n < 40; n++) {
        struct der_list l = {0};
        mtls_error e;
        mtlsp_error_clear(&e);
        mtlsp_mem_fail_after(n);
        mtls_result r = mtlsp_certs_from_folder(&l, tpath("dir"), &e);
        struct pinset *p = NULL;
        if (MTLS_IS_OK(r)) {
            r = mtlsp_pinset_new(&p, &l, &e);
        }
        mtlsp_mem_fail_after(-1);
        assert_true(MTLS_IS_OK(r) || r.code == MTLS_ERR_NOMEM);
        mtlsp_pinset_free(p);
        mtlsp_der_list_free(&l);
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
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
