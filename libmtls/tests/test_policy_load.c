/*
 * test_policy_load.c - the policy loader. Data-driven cases live in tests/policy/<case>/
 * (policy.json + expect.txt); the folder is passed as argv[1] (or MTLS_POLICY_CASES).
 *
 * expect.txt lines (all optional except `code`):
 *   code NAME            expected status (OK, JSON_SYNTAX, ...)
 *   message PREFIX       err.message starts with PREFIX
 *   contains TEXT        err.message contains TEXT
 *   line N / column N    JSON position of the error
 *   server NAME          passed as the `server` argument
 *   num N                number of policies
 *   mode I NAME          effective mode of policy I (OFF, REQUEST, ..., REQUIRE_AND_VERIFY)
 *   anchors I N          number of CA anchors of policy I
 *   leaflists I N1,N2..  sizes of the leaf lists of policy I ("-" for none)
 *   field I NAME JSON    pass-through field text of policy I ("-" for unset)
 *   sni I a,b            sni matcher names of policy I
 * policy.json placeholders, replaced at test time with generated material: @CA_B64@,
 * @CA2_B64@, @LEAF_B64@, @LEAF_PEM@ (JSON-escaped PEM text); file names (ca.pem, cas.pem,
 * leaf.pem, leaf.der, key.pem, nocert.pem, notder.pem, leafdir, emptydir) are relative to
 * the generated temporary directory, which is the working directory while cases run.
 */
#include <dirent.h>
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
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/mem.h"
#include "policy/policy.h"

#include "core/result.h"
#include "testpki.h"

static const char *cases_dir;
static char tmpdir[64];
static char oldcwd[1024];
static char *ca_b64, *ca2_b64, *leaf_b64, *leaf_pem_json;

static const char *const mode_names[] = {"OFF", "REQUEST", "REQUIRE", "VERIFY_IF_GIVEN",
                                         "REQUIRE_AND_VERIFY"};

/* ---- generated certificates ---------------------------------------------------------- */

static X509 *make_cert(EVP_PKEY **out_key, const char *cn, int ca)
{
    X509 *x = pki_self_signed(cn, ca ? 1 : 2, out_key);
    assert_non_null(x);
    return x;
}

static char *b64_of(X509 *x)
{
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    struct buf b = {0};
    char *out = NULL;
    mtls_error e;
    assert_true(n > 0);
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, der, (size_t)n, &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, &out, &e)));
    OPENSSL_free(der);
    return out;
}

/* pem_of: PEM text of a base64 body; `nl` is the line separator ("\n" or "\\n"). */
static char *pem_of(const char *type, const char *b64, const char *nl)
{
    struct buf b = {0};
    char *out = NULL;
    mtls_error e;
    size_t len = strlen(b64);
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----BEGIN ", &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, type, &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----", &e)));
    for (size_t i = 0; i < len; i += 64) {
        assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, nl, &e)));
        assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, b64 + i, len - i < 64 ? len - i : 64, &e)));
    }
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, nl, &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----END ", &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, type, &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "-----", &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, nl, &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, &out, &e)));
    return out;
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(name, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_pem(const char *name, const char *type, const char *b64)
{
    char *p = pem_of(type, b64, "\n");
    write_file(name, p, strlen(p));
    free(p);
}

static int setup(void **state)
{
    EVP_PKEY *k1, *k2, *k3;
    X509 *ca = make_cert(&k1, "Test CA", 1), *ca2 = make_cert(&k2, "Test CA 2", 1);
    X509 *leaf = make_cert(&k3, "client", 0);
    ca_b64 = b64_of(ca), ca2_b64 = b64_of(ca2), leaf_b64 = b64_of(leaf);
    leaf_pem_json = pem_of("CERTIFICATE", leaf_b64, "\\n");
    assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtls-pl-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    assert_int_equal(chdir(tmpdir), 0);
    write_pem("ca.pem", "CERTIFICATE", ca_b64);
    char *a = pem_of("CERTIFICATE", ca_b64, "\n"), *b = pem_of("CERTIFICATE", ca2_b64, "\n");
    FILE *f = fopen("cas.pem", "w");
    fprintf(f, "%s%s", a, b);
    fclose(f);
    free(a), free(b);
    write_pem("leaf.pem", "CERTIFICATE", leaf_b64);
    write_pem("key.pem", "EC PRIVATE KEY", leaf_b64);
    write_pem("notder.pem", "CERTIFICATE", "aGVsbG8gd29ybGQh");
    write_file("nocert.pem", "just some text\n", 15);
    uint8_t *der = NULL;
    int n = i2d_X509(leaf, &der);
    write_file("leaf.der", der, (size_t)n);
    OPENSSL_free(der);
    assert_int_equal(mkdir("leafdir", 0700), 0);
    assert_int_equal(mkdir("emptydir", 0700), 0);
    write_pem("leafdir/leaf.pem", "CERTIFICATE", leaf_b64);
    X509_free(ca), X509_free(ca2), X509_free(leaf);
    EVP_PKEY_free(k1), EVP_PKEY_free(k2), EVP_PKEY_free(k3);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    assert_int_equal(chdir(oldcwd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    mtlsp_free(ca_b64), mtlsp_free(ca2_b64), mtlsp_free(leaf_b64), mtlsp_free(leaf_pem_json);
    return 0;
}

/* ---- data-driven cases ---------------------------------------------------------------- */

static char *substitute(const char *text)
{
    const char *keys[] = {"@CA_B64@", "@CA2_B64@", "@LEAF_B64@", "@LEAF_PEM@"};
    const char *vals[] = {ca_b64, ca2_b64, leaf_b64, leaf_pem_json};
    struct buf b = {0};
    char *out = NULL;
    mtls_error e;
    /* appending "" NUL-terminates even an empty result */
    assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, "", 0, &e)));
    for (const char *p = text; *p;) {
        size_t k = 0;
        while (k < 4 && strncmp(p, keys[k], strlen(keys[k])) != 0) {
            k++;
        }
        if (k < 4) {
            assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, vals[k], &e)));
            p += strlen(keys[k]);
        } else {
            assert_true(MTLS_IS_OK(mtlsp_buf_append(&b, p++, 1, &e)));
        }
    }
    assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, &out, &e)));
    return out;
}

static char *read_text(const char *dir, const char *name)
{
    char path[1024];
    char *data = NULL;
    size_t len = 0;
    mtls_error e;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!MTLS_IS_OK(mtlsp_read_file(path, 1 << 20, &data, &len, &e))) {
        return NULL;
    }
    return data;
}

static void list_sizes(char *out, size_t cap, const struct client_auth *a)
{
    size_t used = 0;
    snprintf(out, cap, "-");
    for (size_t i = 0; i < a->num_leaf_lists && used < cap; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s%zu", i ? "," : "",
                                 a->leaf_lists[i].num);
    }
}

static void sni_list(char *out, size_t cap, const struct matchers *m)
{
    size_t used = 0;
    snprintf(out, cap, "-");
    for (size_t i = 0; i < m->num_sni && used < cap; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "", m->sni[i]);
    }
}

/* check_policy_line checks one per-policy expectation; returns 0 and prints on mismatch. */
static int check_policy_line(const char *name, const char *key, const char *rest,
                             const struct policy_set *set)
{
    char arg[512] = "", got[512] = "";
    unsigned idx = 0;
    if (sscanf(rest, "%u %511[^\n]", &idx, arg) < 1 || set == NULL || idx >= set->num) {
        printf("case %s: bad expectation or policy index: %s %s\n", name, key, rest);
        return 0;
    }
    const struct conn_policy *cp = &set->policies[idx];
    if (strcmp(key, "mode") == 0) {
        snprintf(got, sizeof(got), "%s", mode_names[cp->auth.mode]);
    } else if (strcmp(key, "anchors") == 0) {
        snprintf(got, sizeof(got), "%zu", cp->auth.anchors.num);
    } else if (strcmp(key, "leaflists") == 0) {
        list_sizes(got, sizeof(got), &cp->auth);
    } else if (strcmp(key, "sni") == 0) {
        sni_list(got, sizeof(got), &cp->match);
    } else if (strcmp(key, "field") == 0) {
        char fname[64] = "";
        sscanf(arg, "%63s", fname);
        const char *text = "-";
        for (int f = 0; f < PF_NUM_FIELDS; f++) {
            if (strcmp(fname, mtlsp_policy_field_names[f]) == 0 && cp->fields[f] != NULL) {
                text = cp->fields[f];
            }
        }
        snprintf(got, sizeof(got), "%s %s", fname, text);
    }
    if (strcmp(got, arg) != 0) {
        printf("case %s: %s %u: expected \"%s\", got \"%s\"\n", name, key, idx, arg, got);
        return 0;
    }
    return 1;
}

static int check_line(const char *name, const char *line, const mtls_error *e,
                      const struct policy_set *set)
{
    char key[32] = "";
    int off = 0;
    if (sscanf(line, "%31s %n", key, &off) < 1) {
        return 1;
    }
    const char *rest = line + off;
    if (strcmp(key, "code") == 0) {
        const char *got = e->code ? mtlsp_error_name(e->code) : "OK";
        if (strcmp(got, rest) == 0) {
            return 1;
        }
        printf("case %s: expected %s, got %s: %s\n", name, rest, got, e->message);
        return 0;
    }
    if (strcmp(key, "message") == 0 || strcmp(key, "contains") == 0) {
        const char *hit = strstr(e->message, rest);
        if (hit != NULL && (key[0] == 'c' || hit == e->message)) {
            return 1;
        }
        printf("case %s: message \"%s\" does not %s \"%s\"\n", name, e->message,
               key[0] == 'c' ? "contain" : "start with", rest);
        return 0;
    }
    if (strcmp(key, "line") == 0 || strcmp(key, "column") == 0) {
        int want = (int)strtol(rest, NULL, 10), got = key[0] == 'l' ? e->line : e->column;
        if (want == got) {
            return 1;
        }
        printf("case %s: %s expected %d, got %d\n", name, key, want, got);
        return 0;
    }
    if (strcmp(key, "num") == 0) {
        size_t got = set ? set->num : 0;
        if (strtoul(rest, NULL, 10) == got) {
            return 1;
        }
        printf("case %s: expected %s policies, got %zu\n", name, rest, got);
        return 0;
    }
    if (strcmp(key, "server") == 0) {
        return 1;
    }
    return check_policy_line(name, key, rest, set);
}

static int run_case(const char *name)
{
    char dir[1024], server[128] = "";
    snprintf(dir, sizeof(dir), "%s/%s", cases_dir, name);
    char *json = read_text(dir, "policy.json"), *expect = read_text(dir, "expect.txt");
    if (json == NULL || expect == NULL) {
        printf("case %s: missing policy.json or expect.txt\n", name);
        mtlsp_free(json), mtlsp_free(expect);
        return 0;
    }
    const char *s = strstr(expect, "server ");
    if (s != NULL && (s == expect || s[-1] == '\n')) {
        sscanf(s + 7, "%127s", server);
    }
    char *text = substitute(json);
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    mtls_result r = mtlsp_policy_load(&set, text, strlen(text), server[0] ? server : NULL, &e);
    int ok = (r.code == e.code) && (MTLS_IS_OK(r) == (set != NULL));
    for (char *line = expect; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        ok &= check_line(name, line, &e, set);
        line = nl ? nl + 1 : line + strlen(line);
    }
    mtlsp_policy_set_free(set);
    free(text);
    mtlsp_free(json), mtlsp_free(expect);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_policy_cases(void **state)
{
    assert_non_null(cases_dir);
    DIR *d = opendir(cases_dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0, failed = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL && n < 512;) {
        if (de->d_name[0] != '.') {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        failed += !run_case(names[i]);
        free(names[i]);
    }
    printf("%zu policy cases, %zu failed\n", n, failed);
    assert_true(n >= 40);
    assert_int_equal(failed, 0);
}

/* ---- C cases ------------------------------------------------------------------------ */

static void test_too_large(void **state)
{
    size_t n = MTLS_MAX_POLICY_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{', big[n - 1] = '}';
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    assert_int_equal(mtlsp_policy_load(&set, big, n, NULL, &e).code, MTLS_ERR_TOO_LARGE);
    assert_null(set);
    assert_non_null(strstr(e.message, "larger than the limit"));
    free(big);
}

static struct policy_set *load_ok(const char *json, const char *server)
{
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    char *text = substitute(json);
    mtls_result r = mtlsp_policy_load(&set, text, strlen(text), server, &e);
    free(text);
    if (!MTLS_IS_OK(r)) {
        fail_msg("load failed: %s", e.message);
    }
    return set;
}

/* load_err loads `json` expecting failure with `code` and a message holding each of the
 * NULL-terminated substrings. */
static void load_err(const char *json, int code, ...)
{
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    char *text = substitute(json);
    mtls_result r = mtlsp_policy_load(&set, text, strlen(text), NULL, &e);
    free(text);
    assert_null(set);
    if (r.code != code) {
        fail_msg("expected code %d, got %d: %s", code, r.code, e.message);
    }
    va_list ap;
    va_start(ap, code);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;) {
        if (strstr(e.message, want) == NULL) {
            fail_msg("message \"%s\" lacks \"%s\"", e.message, want);
        }
    }
    va_end(ap);
}

/* leaf_sha256: the SHA-256 of the generated leaf's DER. */
static void leaf_sha256(uint8_t out[SHA256_DIGEST_LENGTH])
{
    size_t n = strlen(leaf_b64), len = 0;
    uint8_t *der = malloc(n);
    assert_non_null(der);
    assert_int_equal(mtlsp_base64_decode(der, n, &len, leaf_b64, n, 0), MTLS_B64_OK);
    SHA256(der, len, out);
    free(der);
}

/* A broken pin anywhere (inline base64, pem loader, a file, a folder) is a load error
 * naming the JSON path, the file and PEM block when there is one, and the reason, although
 * pins are kept as digests only. */
static void test_broken_pin_named(void **state)
{
    /* "MAA=" is SEQUENCE {}: DER, but no TBSCertificate in it. */
    static const char why[] = "not a DER X.509 certificate (no TBSCertificate SEQUENCE)";
    char *bad = pem_of("CERTIFICATE", "MAA=", "\n");
    char *good = pem_of("CERTIFICATE", leaf_b64, "\n");
    char *two = malloc(strlen(bad) + strlen(good) + 1);
    assert_non_null(two);
    strcpy(two, good);
    strcat(two, bad);
    write_file("bad2.pem", two, strlen(two));
    mkdir("leafdir2", 0700);
    write_file("leafdir2/a.pem", good, strlen(good));
    write_file("leafdir2/z.pem", bad, strlen(bad));
    load_err("{\"mode\":\"require\",\"trusted_leaf_certs\":[\"@LEAF_B64@\",\"MAA=\"]}",
             MTLS_ERR_DER_INVALID, "trusted_leaf_certs[1]: ", why, NULL);
    load_err("{\"mode\":\"require\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"pem\",\"certs\":[\"@LEAF_PEM@\",\"-----BEGIN CERTIFICATE-----\\n"
             "MAA=\\n-----END CERTIFICATE-----\\n\"]}]}]}",
             MTLS_ERR_DER_INVALID, "verifiers[0].leaf_certs_loaders[0].certs[1]: PEM block 1: ",
             why, NULL);
    load_err("{\"mode\":\"require\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"file\",\"files\":[\"leaf.pem\",{\"certificate\":\"bad2.pem\"}]}]}]}",
             MTLS_ERR_DER_INVALID, "verifiers[0].leaf_certs_loaders[0].files[1].certificate",
             "bad2.pem: PEM block 2: ", why, NULL);
    load_err("{\"mode\":\"require\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"folder\",\"folders\":[\"leafdir2\"]}]}]}",
             MTLS_ERR_DER_INVALID, "verifiers[0].leaf_certs_loaders[0].folders[0]",
             "z.pem: PEM block 1: ", why, NULL);
    free(two);
    mtlsp_free(bad);
    mtlsp_free(good);
}

/* Leaf pins get the structural check only (a DER-shaped non-certificate loads as a pin: it
 * can never equal a client certificate), CA certificates the full parse; both name the
 * JSON path, the file and the reason when they fail. */
static void test_pins_checked_structurally(void **state)
{
    /* SEQUENCE { SEQUENCE { INTEGER 5 }, SEQUENCE { NULL }, BIT STRING 00 00 } */
    static const uint8_t shaped[] = {0x30, 0x0d, 0x30, 0x03, 0x02, 0x01, 0x05, 0x30,
                                     0x02, 0x05, 0x00, 0x03, 0x02, 0x00, 0x00};
    struct buf b = {0};
    mtls_error e;
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, shaped, sizeof(shaped), &e)));
    write_pem("shaped.pem", "CERTIFICATE", b.data);
    write_file("shaped.der", shaped, sizeof(shaped));
    write_file("shaped-cut.der", shaped, sizeof(shaped) - 1);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require\",\"trusted_leaf_certs\":[\"%s\"],\"verifiers\":[{\"verifier\":"
             "\"leaf\",\"leaf_certs_loaders\":[{\"loader\":\"file\",\"files\":[\"shaped.pem\","
             "\"shaped.der\",\"leaf.pem\"]},{\"loader\":\"folder\",\"folders\":[\"leafdir\"]}]}]}",
             b.data);
    struct policy_set *set = load_ok(json, NULL);
    const struct client_auth *a = &set->policies[0].auth;
    assert_int_equal(a->num_leaf_lists, 2);
    assert_int_equal(a->leaf_lists[0].num, 1);
    assert_int_equal(a->leaf_lists[1].num, 4);
    /* Pin lists keep each pin's SHA-256 only, in load order, duplicates included (the
     * folder's leaf.pem is the file loader's too); no DER, no scratch block left. */
    uint8_t h_shaped[SHA256_DIGEST_LENGTH], h_leaf[SHA256_DIGEST_LENGTH];
    SHA256(shaped, sizeof(shaped), h_shaped);
    leaf_sha256(h_leaf);
    for (size_t l = 0; l < 2; l++) {
        assert_null(a->leaf_lists[l].items);
        assert_null(a->leaf_lists[l].arena);
        assert_int_equal(a->leaf_lists[l].cap, a->leaf_lists[l].num);
    }
    assert_memory_equal(a->leaf_lists[0].digests[0], h_shaped, sizeof(h_shaped));
    assert_memory_equal(a->leaf_lists[1].digests[0], h_shaped, sizeof(h_shaped));
    assert_memory_equal(a->leaf_lists[1].digests[1], h_shaped, sizeof(h_shaped));
    assert_memory_equal(a->leaf_lists[1].digests[2], h_leaf, sizeof(h_leaf));
    assert_memory_equal(a->leaf_lists[1].digests[3], h_leaf, sizeof(h_leaf));
    mtlsp_policy_set_free(set);
    load_err("{\"trusted_ca_certs_pem_files\":[\"shaped.pem\"]}", MTLS_ERR_DER_INVALID,
             "trusted_ca_certs_pem_files[0]", "shaped.pem: PEM block 1: not a DER X.509", NULL);
    snprintf(json, sizeof(json), "{\"ca\":{\"provider\":\"inline\",\"trusted_ca_certs\":[\"%s\"]}}",
             b.data);
    load_err(json, MTLS_ERR_DER_INVALID, "ca.trusted_ca_certs[0]: not a DER X.509", NULL);
    load_err("{\"mode\":\"require\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"file\",\"files\":[\"leaf.pem\",\"shaped-cut.der\"]}]}]}",
             MTLS_ERR_DER_INVALID, "verifiers[0].leaf_certs_loaders[0].files[1]",
             "shaped-cut.der: not a DER X.509 certificate (truncated", NULL);
    load_err("{\"mode\":\"require\",\"trusted_leaf_certs\":[\"MAA=\"]}", MTLS_ERR_DER_INVALID,
             "trusted_leaf_certs[0]: not a DER X.509 certificate (no TBSCertificate SEQUENCE)",
             NULL);
    load_err("{\"mode\":\"require\",\"trusted_leaf_certs\":[\"MA A=\"]}", MTLS_ERR_BASE64_INVALID,
             "trusted_leaf_certs[0]: invalid base64 (a character outside the base64 alphabet "
             "at character 3)", NULL);
    mtlsp_buf_free(&b);
}

static void test_anchor_bytes(void **state)
{
    struct policy_set *set = load_ok("{\"trusted_ca_certs\":[\"@CA_B64@\"],"
                                     "\"trusted_ca_certs_pem_files\":[\"cas.pem\"]}", NULL);
    struct buf b = {0};
    mtls_error e;
    const struct client_auth *a = &set->policies[0].auth;
    assert_int_equal(a->anchors.num, 3);
    assert_true(MTLS_IS_OK(mtlsp_buf_append_base64(&b, a->anchors.items[0].data,
                                                   a->anchors.items[0].len, &e)));
    assert_string_equal(b.data, ca_b64);
    assert_memory_equal(a->anchors.items[0].data, a->anchors.items[1].data,
                        a->anchors.items[0].len);
    assert_false(a->uses_system_roots);
    mtlsp_buf_free(&b);
    mtlsp_policy_set_free(set);
}

static void test_system_provider(void **state)
{
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) {
        skip();
    }
    struct policy_set *set = load_ok("{\"ca\":{\"provider\":\"system\"}}", NULL);
    const struct client_auth *a = &set->policies[0].auth;
    assert_true(a->uses_system_roots);
    assert_true(a->anchors.num > 10);
    assert_int_equal(a->mode, MTLS_MODE_REQUIRE_AND_VERIFY);
    mtlsp_policy_set_free(set);
}

static void test_bad_arguments(void **state)
{
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    assert_int_equal(mtlsp_policy_load(&set, "{}", 2, "srv0", &e).code,
                     MTLS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(e.message, "not a whole Caddy config"));
    mtlsp_error_clear(&e);
    assert_int_equal(mtlsp_policy_load(&set, NULL, 0, NULL, &e).code,
                     MTLS_ERR_INVALID_ARGUMENT);
    mtlsp_policy_set_free(NULL);
}

static void test_alloc_failures(void **state)
{
    char *text = substitute(
        "[{\"match\":{\"sni\":[\"A.example\"],\"remote_ip\":{\"ranges\":[\"10.0.0.0/8\"]}},"
        "\"alpn\":[\"h2\"],\"client_authentication\":{\"trusted_ca_certs\":[\"@CA_B64@\"],"
        "\"trusted_leaf_certs\":[\"@LEAF_B64@\"],\"verifiers\":[{\"verifier\":\"leaf\","
        "\"leaf_certs_loaders\":[{\"loader\":\"folder\",\"folders\":[\"leafdir\"]}]}]}},{}]");
    int ok_seen = 0;
    for (long n = 0; n < 200 && !ok_seen; n++) {
        struct policy_set *set = NULL;
        mtls_error e;
        mtlsp_error_clear(&e);
        mtlsp_mem_fail_after(n);
        mtls_result r = mtlsp_policy_load(&set, text, strlen(text), NULL, &e);
        mtlsp_mem_fail_after(-1);
        ok_seen = MTLS_IS_OK(r);
        if (!ok_seen) {
            assert_int_equal(r.code, MTLS_ERR_NOMEM);
            assert_null(set);
        }
        mtlsp_policy_set_free(set);
    }
    assert_true(ok_seen);
    free(text);
}

#define POLICY_LOAD_C_TESTS                                                                    \
    cmocka_unit_test(test_too_large), cmocka_unit_test(test_anchor_bytes),                     \
        cmocka_unit_test(test_system_provider), cmocka_unit_test(test_bad_arguments),          \
        cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_pins_checked_structurally), \
        cmocka_unit_test(test_broken_pin_named),

int main(int argc, char **argv)
{
    cases_dir = argc > 1 ? argv[1] : getenv("MTLS_POLICY_CASES");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_cases),
        POLICY_LOAD_C_TESTS
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
