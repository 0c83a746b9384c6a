/*
 * test_alloc.c - allocation-failure walk over every public entry point that allocates.
 *
 * Each entry point runs with libmtls's allocator (core/mem.c) failing after 0, 1, 2, ...
 * successful allocations (mtlsp_mem_fail_after(n): n allocations succeed, every later one
 * fails) until a run finishes without reaching the failure. A run that reached it must end
 * cleanly: MTLS_ERR_NOMEM (constructors: NULL with err.code MTLS_ERR_NOMEM, category NOMEM),
 * the documented fallback (mtls_peer_message: the reason's default sentence), a failed
 * handshake (never an accepted client that should be refused), or -- where the failed
 * allocation was optional -- exactly what an unhindered run gives. After a failed call the
 * object must still work: the same call with a healthy allocator gives the unhindered result.
 *
 * Leaks: nothing may leak from any run. Under ASan (scripts/test.sh's sanitizer build) each
 * run ends with a LeakSanitizer check, so a report names the walk and step that leaked;
 * under valgrind (the `valgrind` test setup) the check happens at exit.
 *
 * Scope: only libmtls's own allocations (mtlsp_malloc & co.) can be failed. BoringSSL (X509,
 * CRYPTO_BUFFER, SSL objects, error queue) and jansson (the JSON tree) allocate through their
 * own allocators, which this test leaves alone; their failures are outside this walk.
 *
 * Links libmtls_internal (the static build) to reach the hook mtlsp_mem_fail_after.
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

#include "testcompat.h"

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#ifdef OPENSSL_IS_BORINGSSL
#include <mtls/boringssl.h>
#else
#include <mtls/openssl.h>
#endif

#include "core/mem.h"
#include "testpki.h"

#define MAX_CASES 128
#define MAX_STEPS 100000L /* a walk that never finishes is a bug in itself */

/* LeakSanitizer's on-demand check: present only in sanitizer builds (weak: NULL otherwise). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static struct pki_case cases[MAX_CASES];
static size_t num_cases;
static char tmpdir[] = "/tmp/mtls-test-alloc-XXXXXX";
static char policy_path[256], leafdir[256], server_cert[512], server_key[512];

/* ---------------------------------------------------------------------------------------
 * The walk
 * ------------------------------------------------------------------------------------- */

enum outcome {
    SAME,  /* exactly the unhindered result */
    NOMEM, /* a clean allocation failure (or the documented fallback) */
    WRONG  /* anything else: the attempt printed what */
};

/* An attempt prepares what the call under test needs, opens the failure window with
 * fail_start(n) right before that call and closes it with fail_stop() right after (before
 * anything else that allocates), then checks and frees what it made, and classifies it. */
typedef enum outcome (*attempt_fn)(const void *arg, long n);

static int reached; /* set by fail_stop: whether the injected failure was reached */

static void fail_start(long n)
{
    ERR_clear_error();
    mtlsp_mem_fail_after(n);
}

static void fail_stop(void)
{
    void *probe = mtlsp_malloc(1); /* NULL iff the countdown hit 0 */
    mtlsp_mem_fail_after(-1);
    mtlsp_free(probe);
    reached = probe == NULL;
}

static int leak_check(void)
{
    return __lsan_do_recoverable_leak_check != NULL ? __lsan_do_recoverable_leak_check() : 0;
}

/* walk runs `attempt` with the allocator failing after 0, 1, 2, ... allocations until a run
 * completes without reaching the failure. Returns the number of libmtls allocations of the
 * unhindered run (each of which has been failed once): the walk ends at step T + 1, since
 * step T, with exactly T allocations, empties the countdown without failing anything. */
static long walk(const char *what, attempt_fn attempt, const void *arg)
{
    for (long n = 0; n < MAX_STEPS; n++) {
        mtlsp_mem_fail_after(-1); /* healthy until the attempt opens the window */
        reached = -1;
        enum outcome o = attempt(arg, n);
        if (reached < 0) {
            fail_stop(); /* the attempt bailed before ending the window */
            fail_msg("%s: step %ld: attempt did not end the failure window", what, n);
        }
        ERR_clear_error();
        if (leak_check() != 0) {
            fail_msg("%s: step %ld: leaked (see the LeakSanitizer report)", what, n);
        }
        if (o == WRONG) {
            fail_msg("%s: step %ld (%s): wrong result", what, n,
                     reached ? "allocation failed" : "no allocation failed");
        }
        if (!reached) {
            if (o != SAME) {
                fail_msg("%s: step %ld: NOMEM although no allocation failed", what, n);
            }
            return n - 1;
        }
    }
    fail_msg("%s: still allocating after %ld steps", what, MAX_STEPS);
    return -1;
}

static int is_nomem(const mtls_error *err)
{
    return err->code == MTLS_ERR_NOMEM && err->category == MTLS_CATEGORY_NOMEM &&
           err->message[0] != '\0';
}

/* ---------------------------------------------------------------------------------------
 * Test data: policy documents built from the generated PKI
 * ------------------------------------------------------------------------------------- */

static const struct pki_case *find_case(const char *name)
{
    return pki_find(cases, num_cases, name);
}

static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len + 4096 > cap) {
            cap = 2 * cap + 4096;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    *out_len = len;
    return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The base64 of the first certificate in PEM file `rel` (in the PKI directory). */
static char *cert_b64(const char *rel)
{
    char path[512];
    uint8_t *ders[4];
    size_t lens[4];
    snprintf(path, sizeof(path), "%s/%s", pki_dir(), rel);
    size_t n = pki_read_chain(path, ders, lens, 4);
    assert_true(n >= 1);
    char *out = test_b64_encode(ders[0], lens[0]);
    assert_non_null(out);
    pki_free_ders(ders, n);
    return out;
}

/* The PEM file `rel` as the inside of a JSON string (newlines escaped). */
static char *pem_json(const char *rel)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", pki_dir(), rel);
    char *pem = read_file(path, &len);
    char *out = malloc(2 * len + 1), *o = out;
    assert_non_null(out);
    for (size_t i = 0; i < len; i++) {
        if (pem[i] == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = pem[i];
        }
    }
    *o = '\0';
    free(pem);
    return out;
}

enum doc_id {
    DOC_FILES,     /* bare client_authentication, CA from a PEM file */
    DOC_PINNED,    /* inline CA, trusted_leaf_certs, leaf verifiers with every loader */
    DOC_POLICIES,  /* tls_connection_policies: matchers, every field, combined CA provider */
    DOC_CONFIG,    /* a whole Caddy config with two servers, server named */
    DOC_BAD_LATE,  /* fails after loading a full first policy (unknown mode in the second) */
    NUM_DOCS
};

static char *docs[NUM_DOCS];
static const char *doc_server[NUM_DOCS] = {[DOC_CONFIG] = "srv0"};
static const char *doc_names[NUM_DOCS] = {"bare client_authentication",
                                          "pins and leaf verifiers",
                                          "connection policies with matchers and fields",
                                          "whole Caddy config", "document failing late"};

static char *format(const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    vsnprintf(s, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return s;
}

#define POLICY_FIELDS                                                                          \
    "\"protocol_min\":\"tls1.2\",\"protocol_max\":\"tls1.3\",\"alpn\":[\"h2\",\"http/1.1\"],"  \
    "\"cipher_suites\":[\"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\"],"                         \
    "\"curves\":[\"x25519\",\"secp256r1\"],\"default_sni\":\"a.example\","                     \
    "\"certificate_selection\":{\"any_tag\":[\"t\"]},\"drop\":false"

static void build_docs(void)
{
    char *ca = cert_b64("root-ca.pem"), *leaf = cert_b64("basic.pem");
    char *leaf_pem = pem_json("basic.pem");
    const char *d = pki_dir();
    char files[1024];
    pki_policy_json(files, sizeof(files), "require_and_verify",
                    find_case("basic")->trust);
    docs[DOC_FILES] = format("%s", files);
    docs[DOC_PINNED] = format(
        "{\"mode\":\"require_and_verify\",\"trusted_ca_certs\":[\"%s\"],"
        "\"trusted_leaf_certs\":[\"%s\"],\"verifiers\":[{\"verifier\":\"leaf\","
        "\"leaf_certs_loaders\":[{\"loader\":\"pem\",\"certificates\":[\"%s\"]},"
        "{\"loader\":\"file\",\"files\":[\"%s/basic.pem\",{\"certificate\":\"%s/san.pem\","
        "\"format\":\"pem\",\"tags\":[\"t\"]}]},{\"loader\":\"folder\",\"folders\":[\"%s\"]}]}]}",
        ca, leaf, leaf_pem, d, d, leafdir);
    docs[DOC_POLICIES] = format(
        "[{\"match\":{\"sni\":[\"A.example\",\"b.example\"],\"remote_ip\":{\"ranges\":"
        "[\"10.0.0.0/8\",\"2001:db8::/32\",\"192.0.2.1\"],\"not_ranges\":[\"10.1.0.0/16\"]},"
        "\"local_ip\":{\"ranges\":[\"127.0.0.1\"]}},\"client_authentication\":{"
        "\"mode\":\"verify_if_given\",\"ca\":{\"provider\":\"combined\",\"sources\":["
        "{\"provider\":\"inline\",\"trusted_ca_certs\":[\"%s\"]},{\"provider\":\"file\","
        "\"pem_files\":[\"%s/root-ca.pem\",\"%s/int-ca.pem\"]}]}}," POLICY_FIELDS "},"
        "{\"client_authentication\":{\"mode\":\"require_and_verify\","
        "\"trusted_ca_certs_pem_files\":[\"%s/root-ca.pem\"]}}]",
        ca, d, d, d);
    docs[DOC_CONFIG] = format(
        "{\"admin\":{\"disabled\":true},\"apps\":{\"tls\":{},\"http\":{\"servers\":{"
        "\"srv0\":{\"listen\":[\":443\"],\"routes\":[],\"tls_connection_policies\":["
        "{\"match\":{\"sni\":[\"localhost\"]},\"client_authentication\":{"
        "\"trusted_ca_certs\":[\"%s\"],\"mode\":\"require_and_verify\"}},{}]},"
        "\"srv1\":{\"listen\":[\":8443\"],\"tls_connection_policies\":[{"
        "\"client_authentication\":{\"trusted_ca_certs_pem_files\":[\"%s/root-ca.pem\"]}}]}"
        "}}}}",
        ca, d);
    docs[DOC_BAD_LATE] = format(
        "[{\"client_authentication\":{\"trusted_ca_certs\":[\"%s\"],\"trusted_leaf_certs\":"
        "[\"%s\"]}," POLICY_FIELDS "},{\"client_authentication\":{\"mode\":\"bogus\"}}]",
        ca, leaf);
    free(ca);
    free(leaf);
    free(leaf_pem);
}

static void make_leafdir(void)
{
    char src[512], dst[600];
    size_t len;
    assert_non_null(mkdtemp(tmpdir));
    snprintf(leafdir, sizeof(leafdir), "%s/leaves", tmpdir);
    assert_int_equal(mkdir(leafdir, 0700), 0);
    const char *leaves[] = {"basic.pem", "san.pem"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof(src), "%s/%s", pki_dir(), leaves[i]);
        snprintf(dst, sizeof(dst), "%s/%s", leafdir, leaves[i]);
        char *pem = read_file(src, &len);
        write_file(dst, pem, len);
        free(pem);
    }
}

static int group_setup(void **state)
{
    num_cases = pki_load(cases, MAX_CASES);
    snprintf(server_cert, sizeof(server_cert), "%s/server.pem", pki_dir());
    snprintf(server_key, sizeof(server_key), "%s/server.key.pem", pki_dir());
    make_leafdir();
    build_docs();
    snprintf(policy_path, sizeof(policy_path), "%s/policy.json", tmpdir);
    write_file(policy_path, docs[DOC_POLICIES], strlen(docs[DOC_POLICIES]));
    return 0;
}

static int group_teardown(void **state)
{
    char path[600];
    const char *leaves[] = {"basic.pem", "san.pem"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", leafdir, leaves[i]);
        unlink(path);
    }
    rmdir(leafdir);
    unlink(policy_path);
    rmdir(tmpdir);
    for (size_t i = 0; i < NUM_DOCS; i++) {
        free(docs[i]);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * mtls_ctx_new_from_json / _from_file / mtls_ctx_describe_json
 * ------------------------------------------------------------------------------------- */

struct load_arg {
    enum doc_id doc;
    int from_file;
    int want_code;      /* MTLS_OK, or the error the document gives */
    const char *want;   /* MTLS_OK: mtls_ctx_describe_json of the unhindered ctx */
};

/* The effective policy set of `ctx` as text (mtls_free it). */
static char *describe(const mtls_ctx *ctx)
{
    char *out = NULL;
    assert_int_equal(mtls_ctx_describe_json(ctx, &out, NULL, NULL), MTLS_OK);
    return out;
}

static enum outcome load_attempt(const void *varg, long n)
{
    const struct load_arg *a = varg;
    mtls_error err;
    memset(&err, 0x5a, sizeof(err));
    fail_start(n);
    mtls_ctx *ctx = a->from_file
                        ? mtls_ctx_new_from_file(policy_path, NULL, &err)
                        : mtls_ctx_new_from_json(docs[a->doc], strlen(docs[a->doc]),
                                                 doc_server[a->doc], &err);
    fail_stop();
    enum outcome o = WRONG;
    if (ctx != NULL && a->want_code == MTLS_OK) {
        char *got = describe(ctx); /* every policy, anchor, pin and matcher as unhindered */
        o = strcmp(got, a->want) == 0 ? SAME : WRONG;
        mtls_free(got);
    } else if (ctx != NULL) {
        o = WRONG;
    } else if (is_nomem(&err)) {
        o = NOMEM;
    } else if (err.code == a->want_code && a->want_code != MTLS_OK) {
        o = SAME;
    }
    if (o == WRONG) {
        fprintf(stderr, "load: ctx=%p code=%d (%s), want %d\n", (void *)ctx, err.code,
                err.message, a->want_code);
    }
    mtls_ctx_free(ctx);
    return o;
}

static mtls_ctx *doc_ctx(enum doc_id doc)
{
    mtls_error err;
    mtls_ctx *ctx =
        mtls_ctx_new_from_json(docs[doc], strlen(docs[doc]), doc_server[doc], &err);
    if (ctx == NULL) {
        fail_msg("%s did not load: %s", doc_names[doc], err.message);
    }
    return ctx;
}

static void load_walk(enum doc_id doc, int from_file, int want_code)
{
    struct load_arg a = {doc, from_file, want_code, NULL};
    mtls_ctx *ctx = want_code == MTLS_OK ? doc_ctx(doc) : NULL;
    char *want = ctx != NULL ? describe(ctx) : NULL;
    a.want = want;
    long steps = walk(doc_names[doc], load_attempt, &a);
    fprintf(stderr, "%s (%s): %ld allocations\n",
            from_file ? "mtls_ctx_new_from_file" : "mtls_ctx_new_from_json", doc_names[doc],
            steps);
    assert_true(steps > 0);
    mtls_free(want);
    mtls_ctx_free(ctx);
}

static void load_json_walk(void **state)
{
    for (enum doc_id d = DOC_FILES; d < DOC_BAD_LATE; d++) {
        load_walk(d, 0, MTLS_OK);
    }
    load_walk(DOC_BAD_LATE, 0, MTLS_ERR_UNKNOWN_MODE);
}

static void load_file_walk(void **state)
{
    load_walk(DOC_POLICIES, 1, MTLS_OK); /* policy_path holds DOC_POLICIES */
}

struct describe_arg {
    const mtls_ctx *ctx;
    const char *want;
    size_t want_len;
};

static enum outcome describe_attempt(const void *varg, long n)
{
    const struct describe_arg *a = varg;
    mtls_error err;
    char *out = (char *)&err; /* must be set to NULL on failure */
    size_t len = 0;
    fail_start(n);
    mtls_status st = mtls_ctx_describe_json(a->ctx, &out, &len, &err);
    fail_stop();
    enum outcome o = WRONG;
    if (st == MTLS_OK) {
        o = out != NULL && len == a->want_len && memcmp(out, a->want, len) == 0 ? SAME : WRONG;
    } else if (st == MTLS_ERR_NOMEM && is_nomem(&err) && out == NULL) {
        o = NOMEM;
    }
    mtls_free(st == MTLS_OK ? out : NULL);
    return o;
}

static void describe_walk(void **state)
{
    const enum doc_id which[] = {DOC_PINNED, DOC_POLICIES};
    for (size_t i = 0; i < 2; i++) {
        mtls_ctx *ctx = doc_ctx(which[i]);
        struct describe_arg a = {ctx, NULL, 0};
        char *want = NULL;
        assert_int_equal(mtls_ctx_describe_json(ctx, &want, &a.want_len, NULL), MTLS_OK);
        a.want = want;
        long steps = walk("mtls_ctx_describe_json", describe_attempt, &a);
        fprintf(stderr, "mtls_ctx_describe_json (%s): %ld allocations\n", doc_names[which[i]],
                steps);
        assert_true(steps > 0);
        mtls_free(want);
        mtls_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------------------------------
 * mtls_verify_der, mtls_peer_get, mtls_peer_message
 * ------------------------------------------------------------------------------------- */

struct chain {
    uint8_t *ders[16];
    size_t lens[16];
    size_t n;
};

struct verify_arg {
    const mtls_ctx *ctx;
    const struct chain *chain;
    int accepted, reason, verified, depth;
    size_t num_chain;
};

static mtls_peer *verify(const mtls_ctx *ctx, const struct chain *c, mtls_status *st,
                         mtls_error *err)
{
    mtls_peer *peer = NULL;
    *st = mtls_verify_der(ctx, 0, (const uint8_t *const *)c->ders, c->lens, c->n,
                          MTLS_TIME_NOW, &peer, err);
    return peer;
}

static enum outcome verify_attempt(const void *varg, long n)
{
    const struct verify_arg *a = varg;
    mtls_error err;
    mtls_status st;
    fail_start(n);
    mtls_peer *peer = verify(a->ctx, a->chain, &st, &err);
    fail_stop();
    enum outcome o = WRONG;
    if (st == MTLS_OK && peer != NULL) {
        o = mtls_peer_accepted(peer) == a->accepted && mtls_peer_reason(peer) == a->reason &&
                    mtls_peer_verified(peer) == a->verified &&
                    mtls_peer_error_depth(peer) == a->depth &&
                    mtls_peer_num_chain(peer) == a->num_chain
                ? SAME
                : WRONG;
        if (o == WRONG) {
            fprintf(stderr, "verify: accepted=%d reason=%d (%s), want %d/%d\n",
                    mtls_peer_accepted(peer), mtls_peer_reason(peer), mtls_peer_message(peer),
                    a->accepted, a->reason);
        }
    } else if (st == MTLS_ERR_NOMEM && is_nomem(&err) && peer == NULL) {
        o = NOMEM;
    }
    mtls_peer_free(peer);
    return o;
}

static void chain_load(struct chain *c, const struct pki_case *pc)
{
    c->n = pc != NULL ? pki_read_chain(pc->chain, c->ders, c->lens, 16) : 0;
}

/* A ctx with `mode` over the trust anchors of case `name`. */
static mtls_ctx *case_ctx(const char *mode, const char *name)
{
    char json[1024];
    pki_policy_json(json, sizeof(json), mode, find_case(name)->trust);
    return pki_ctx(json);
}

static void verify_walk(void **state)
{
    /* accepted, refused at every stage, no certificate, and a pinned policy */
    const char *names[] = {"basic",          "via-int-sent",   "int-anchor",      "long-chain",
                           "san",            "expired",        "untrusted-ca",    "eku-server",
                           "by-cafalse-int", "via-int-not-sent", "by-v1-int-sent", NULL};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct pki_case *pc = names[i] != NULL ? find_case(names[i]) : NULL;
        mtls_ctx *ctx = case_ctx("require_and_verify", pc != NULL ? pc->name : "basic");
        struct chain c;
        chain_load(&c, pc);
        mtls_status st;
        mtls_peer *base = verify(ctx, &c, &st, NULL);
        assert_int_equal(st, MTLS_OK);
        struct verify_arg a = {ctx,
                               &c,
                               mtls_peer_accepted(base),
                               mtls_peer_reason(base),
                               mtls_peer_verified(base),
                               mtls_peer_error_depth(base),
                               mtls_peer_num_chain(base)};
        assert_int_equal(a.accepted, pc != NULL ? pc->accept : 0);
        mtls_peer_free(base);
        long steps = walk(names[i] ? names[i] : "no certificate", verify_attempt, &a);
        fprintf(stderr, "mtls_verify_der (%s): %ld allocations\n",
                names[i] ? names[i] : "no certificate", steps);
        assert_true(steps > 0);
        pki_free_ders(c.ders, c.n);
        mtls_ctx_free(ctx);
    }
}

static void verify_pinned_walk(void **state)
{
    mtls_ctx *ctx = doc_ctx(DOC_PINNED);
    const char *names[] = {"basic", "san", "eku-client"}; /* pinned, pinned, not pinned */
    for (size_t i = 0; i < 3; i++) {
        struct chain c;
        chain_load(&c, find_case(names[i]));
        mtls_status st;
        mtls_peer *base = verify(ctx, &c, &st, NULL);
        assert_int_equal(st, MTLS_OK);
        struct verify_arg a = {ctx,
                               &c,
                               mtls_peer_accepted(base),
                               mtls_peer_reason(base),
                               mtls_peer_verified(base),
                               mtls_peer_error_depth(base),
                               mtls_peer_num_chain(base)};
        mtls_peer_free(base);
        long steps = walk(names[i], verify_attempt, &a);
        fprintf(stderr, "mtls_verify_der pinned (%s, accepted %d): %ld allocations\n",
                names[i], a.accepted, steps);
        assert_true(steps > 0);
        pki_free_ders(c.ders, c.n);
    }
    mtls_ctx_free(ctx);
}

struct get_arg {
    const mtls_ctx *ctx;
    const struct chain *chain;
    const char *name;
    mtls_status want_st;
    const char *want;
    size_t want_len;
};

static int get_matches(mtls_peer *peer, const struct get_arg *a, mtls_status st,
                       const char *v, size_t len)
{
    if (st != a->want_st) {
        return 0;
    }
    return st != MTLS_OK || (len == a->want_len && memcmp(v, a->want, len) == 0);
}

static enum outcome get_attempt(const void *varg, long n)
{
    const struct get_arg *a = varg;
    mtls_status st;
    mtls_error err;
    mtls_peer *peer = verify(a->ctx, a->chain, &st, NULL); /* fresh peer: empty cache */
    assert_int_equal(st, MTLS_OK);
    const char *v = NULL;
    size_t len = 0;
    fail_start(n);
    st = mtls_peer_get(peer, a->name, &v, &len, &err);
    fail_stop();
    enum outcome o = WRONG;
    if (get_matches(peer, a, st, v, len)) {
        o = SAME;
    } else if (st == MTLS_ERR_NOMEM && is_nomem(&err)) {
        o = NOMEM;
    }
    /* The peer still answers once memory is back. */
    st = mtls_peer_get(peer, a->name, &v, &len, NULL);
    if (!get_matches(peer, a, st, v, len)) {
        fprintf(stderr, "peer_get %s: wrong after a failed call (status %d)\n", a->name, st);
        o = WRONG;
    }
    mtls_peer_free(peer);
    return o;
}

/* Every placeholder name, plus the indexed SAN forms and one unknown name. */
static size_t placeholder_names(const char **names, size_t max)
{
    static const char *const extra[] = {
        "http.request.tls.client.san.dns_names.0", "http.request.tls.client.san.dns_names.1",
        "http.request.tls.client.san.emails.0",    "http.request.tls.client.san.ips.1",
        "http.request.tls.client.san.uris.0",      "http.request.tls.client.nonsense",
    };
    size_t n = 0;
    for (size_t i = 0; i < mtls_placeholder_count() && n < max; i++) {
        names[n++] = mtls_placeholder_name(i);
    }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && n < max; i++) {
        names[n++] = extra[i];
    }
    return n;
}

static void peer_get_walk(void **state)
{
    const char *names[128];
    size_t num = placeholder_names(names, 128);
    assert_true(num > 20);
    const char *cert_names[] = {"san", "expired", NULL}; /* every SAN kind; refused; none */
    for (size_t k = 0; k < 3; k++) {
        const struct pki_case *pc = cert_names[k] != NULL ? find_case(cert_names[k]) : NULL;
        mtls_ctx *ctx = case_ctx("request", "basic");
        struct chain c;
        chain_load(&c, pc);
        long total = 0;
        for (size_t i = 0; i < num; i++) {
            mtls_status st;
            mtls_peer *base = verify(ctx, &c, &st, NULL);
            struct get_arg a = {ctx, &c, names[i], MTLS_OK, NULL, 0};
            a.want_st = mtls_peer_get(base, names[i], &a.want, &a.want_len, NULL);
            assert_true(a.want_st == MTLS_OK || a.want_st == MTLS_ERR_UNKNOWN_PLACEHOLDER);
            long steps = walk(names[i], get_attempt, &a);
            if (a.want_st == MTLS_OK) {
                assert_true(steps > 0); /* the value is copied into the peer's cache */
            }
            total += steps;
            mtls_peer_free(base);
        }
        fprintf(stderr, "mtls_peer_get (%s, %zu names): %ld allocations\n",
                cert_names[k] ? cert_names[k] : "no certificate", num, total);
        pki_free_ders(c.ders, c.n);
        mtls_ctx_free(ctx);
    }
}

struct message_arg {
    const mtls_ctx *ctx;
    const struct chain *chain;
    const char *want;
};

static enum outcome message_attempt(const void *varg, long n)
{
    const struct message_arg *a = varg;
    mtls_status st;
    mtls_peer *peer = verify(a->ctx, a->chain, &st, NULL);
    assert_int_equal(st, MTLS_OK);
    fail_start(n);
    const char *msg = mtls_peer_message(peer);
    fail_stop();
    enum outcome o = WRONG;
    if (msg != NULL && strcmp(msg, a->want) == 0) {
        o = SAME;
    } else if (msg != NULL && strcmp(msg, mtls_strerror(mtls_peer_reason(peer))) == 0) {
        o = NOMEM; /* documented fallback: the reason's default sentence */
    } else {
        fprintf(stderr, "peer_message: %s\nwant: %s\n", msg ? msg : "(null)", a->want);
    }
    /* The fallback is not cached: with memory back, the full sentence. */
    msg = mtls_peer_message(peer);
    if (msg == NULL || strcmp(msg, a->want) != 0) {
        fprintf(stderr, "peer_message after a failure: %s\n", msg ? msg : "(null)");
        o = WRONG;
    }
    mtls_peer_free(peer);
    return o;
}

static void peer_message_walk(void **state)
{
    const char *names[] = {"basic", "expired", "untrusted-ca", "eku-server", "by-cafalse-int",
                           NULL};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct pki_case *pc = names[i] != NULL ? find_case(names[i]) : NULL;
        mtls_ctx *ctx = case_ctx("require_and_verify", "basic");
        struct chain c;
        chain_load(&c, pc);
        mtls_status st;
        mtls_peer *base = verify(ctx, &c, &st, NULL);
        assert_int_equal(st, MTLS_OK);
        struct message_arg a = {ctx, &c, mtls_peer_message(base)};
        long steps = walk(names[i] ? names[i] : "no certificate", message_attempt, &a);
        fprintf(stderr, "mtls_peer_message (%s): %ld allocations: %s\n",
                names[i] ? names[i] : "no certificate", steps, a.want);
        mtls_peer_free(base);
        pki_free_ders(c.ders, c.n);
        mtls_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------------------------------
 * The BoringSSL glue: mtls_ssl_ctx_attach, mtls_ssl_set_addresses, whole handshakes
 * ------------------------------------------------------------------------------------- */

static SSL_CTX *server_ssl_ctx(void)
{
    SSL_CTX *s = SSL_CTX_new(TLS_method());
    assert_non_null(s);
    assert_true(SSL_CTX_use_certificate_chain_file(s, server_cert));
    assert_true(SSL_CTX_use_PrivateKey_file(s, server_key, SSL_FILETYPE_PEM));
    return s;
}

struct attach_arg {
    mtls_ctx *ctx;
    mtls_ctx *swap; /* if not NULL: attach `ctx` first, then walk the swap to `swap` */
};

static enum outcome attach_attempt(const void *varg, long n)
{
    const struct attach_arg *a = varg;
    SSL_CTX *s = server_ssl_ctx();
    mtls_error err;
    if (a->swap != NULL) {
        assert_int_equal(mtls_ssl_ctx_attach(s, a->ctx, NULL), MTLS_OK);
    }
    fail_start(n);
    mtls_status st = mtls_ssl_ctx_attach(s, a->swap != NULL ? a->swap : a->ctx, &err);
    fail_stop();
    enum outcome o = WRONG;
    if (st == MTLS_OK) {
        o = SAME;
    } else if (st == MTLS_ERR_NOMEM && is_nomem(&err)) {
        o = NOMEM;
    }
    SSL_CTX_free(s);
    return o;
}

static void attach_walk(void **state)
{
    mtls_ctx *ctx = doc_ctx(DOC_POLICIES), *other = doc_ctx(DOC_FILES);
    struct attach_arg a = {ctx, NULL};
    long steps = walk("mtls_ssl_ctx_attach", attach_attempt, &a);
    fprintf(stderr, "mtls_ssl_ctx_attach: %ld allocations\n", steps);
    assert_true(steps > 0);
    a.swap = other;
    steps = walk("mtls_ssl_ctx_attach (swap)", attach_attempt, &a);
    fprintf(stderr, "mtls_ssl_ctx_attach (swap): %ld allocations\n", steps);
    mtls_ctx_free(other);
    mtls_ctx_free(ctx);
}

static enum outcome addresses_attempt(const void *varg, long n)
{
    SSL_CTX *s = server_ssl_ctx();
    SSL *ssl = SSL_new(s);
    assert_non_null(ssl);
    mtls_error err;
    fail_start(n);
    mtls_status st = mtls_ssl_set_addresses(ssl, "192.0.2.1", "::1", &err);
    fail_stop();
    enum outcome o = WRONG;
    if (st == MTLS_OK) {
        o = SAME;
    } else if (st == MTLS_ERR_NOMEM && is_nomem(&err)) {
        o = NOMEM;
    }
    SSL_free(ssl);
    SSL_CTX_free(s);
    return o;
}

static void set_addresses_walk(void **state)
{
    long steps = walk("mtls_ssl_set_addresses", addresses_attempt, NULL);
    fprintf(stderr, "mtls_ssl_set_addresses: %ld allocations\n", steps);
    assert_true(steps > 0);
}

static SSL_SESSION *last_session; /* the client's newest session (TLS 1.3: its ticket) */

static int record_session(SSL *ssl, SSL_SESSION *session)
{
    SSL_SESSION_free(last_session);
    last_session = session; /* takes the reference */
    return 1;
}

static SSL_CTX *client_ssl_ctx(const struct pki_case *c, uint16_t max_version)
{
    SSL_CTX *cl = SSL_CTX_new(TLS_method());
    assert_non_null(cl);
    SSL_CTX_set_max_proto_version(cl, max_version);
    SSL_CTX_set_session_cache_mode(cl, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(cl, record_session);
    if (c != NULL) {
        assert_true(SSL_CTX_use_certificate_chain_file(cl, c->chain));
        assert_true(SSL_CTX_use_PrivateKey_file(cl, c->key, SSL_FILETYPE_PEM));
    }
    return cl;
}

static int step(SSL *ssl, int *done)
{
    if (*done) {
        return 1;
    }
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
        *done = 1;
        return 1;
    }
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* The connection placeholders the glue fills from the SSL. */
static const char *const conn_names[] = {
    "http.request.tls.version", "http.request.tls.cipher_suite", "http.request.tls.resumed",
    "http.request.tls.server_name", "http.request.tls.client.subject",
    "http.request.tls.client.verified"};
#define NUM_CONN_NAMES (sizeof(conn_names) / sizeof(conn_names[0]))

struct hs_result {
    int server_ok, resumed, has_peer, accepted, reason;
    char values[NUM_CONN_NAMES][160];
};

struct hs_arg {
    SSL_CTX *sctx, *cctx;
    SSL_SESSION *resume;        /* offered by the client when not NULL */
    const char *remote, *local; /* mtls_ssl_set_addresses before the handshake */
    struct hs_result want;
};

/* Reads the verdict and the connection placeholders from the server's SSL. */
static void hs_read(struct hs_result *r, SSL *s)
{
    mtls_peer *peer = mtls_ssl_get0_peer(s);
    r->has_peer = peer != NULL;
    r->accepted = peer != NULL ? mtls_peer_accepted(peer) : -1;
    r->reason = peer != NULL ? mtls_peer_reason(peer) : -1;
    for (size_t i = 0; i < NUM_CONN_NAMES; i++) {
        const char *v = "(error)";
        if (peer == NULL || mtls_peer_get(peer, conn_names[i], &v, NULL, NULL) != MTLS_OK) {
            v = "(error)";
        }
        snprintf(r->values[i], sizeof(r->values[i]), "%s", v);
    }
}

static int hs_same(const struct hs_result *a, const struct hs_result *b)
{
    int same = a->server_ok == b->server_ok && a->resumed == b->resumed &&
               a->has_peer == b->has_peer && a->accepted == b->accepted &&
               a->reason == b->reason;
    for (size_t i = 0; same && i < NUM_CONN_NAMES; i++) {
        same = strcmp(a->values[i], b->values[i]) == 0;
    }
    return same;
}

/* One handshake over a BIO pair with the window (n >= 0) over the whole server side:
 * mtls_ssl_set_addresses, the ClientHello callback, verification, re-judging a resumed
 * session, and the first mtls_ssl_get0_peer. Then, with memory back, reads the verdict and
 * the placeholders again into `r`. `out_session` (may be NULL) gets the client's session. */
static void hs_run(const struct hs_arg *a, long n, struct hs_result *r,
                   SSL_SESSION **out_session)
{
    SSL *s = SSL_new(a->sctx), *c = SSL_new(a->cctx);
    BIO *bs = NULL, *bc = NULL;
    assert_true(s != NULL && c != NULL && BIO_new_bio_pair(&bs, 0, &bc, 0));
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "localhost");
    if (a->resume != NULL) {
        SSL_set_session(c, a->resume);
    }
    fail_start(n);
    int sdone = 0, cdone = 0, cok = 1, sok = 1;
    if (a->remote != NULL) {
        sok = mtls_ssl_set_addresses(s, a->remote, a->local, NULL) == MTLS_OK;
    }
    for (int i = 0; i < 64 && sok && cok && !(sdone && cdone); i++) {
        cok = step(c, &cdone);
        sok = step(s, &sdone);
    }
    memset(r, 0, sizeof(*r));
    r->server_ok = sok && sdone;
    if (r->server_ok) {
        char byte = 'x'; /* TLS 1.3 tickets arrive with the first read */
        r->server_ok = SSL_write(s, &byte, 1) == 1 && SSL_read(c, &byte, 1) == 1;
    }
    r->resumed = r->server_ok && SSL_session_reused(s);
    (void)mtls_ssl_get0_peer(s);
    fail_stop();
    hs_read(r, s);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    if (out_session != NULL) {
        *out_session = last_session;
        last_session = NULL;
    }
    SSL_SESSION_free(last_session);
    last_session = NULL;
}

static void hs_print(const char *what, const struct hs_result *r)
{
    fprintf(stderr, "%s: ok=%d resumed=%d peer=%d accepted=%d reason=%d\n", what, r->server_ok,
            r->resumed, r->has_peer, r->accepted, r->reason);
    for (size_t i = 0; i < NUM_CONN_NAMES; i++) {
        fprintf(stderr, "  %s = %s\n", conn_names[i], r->values[i]);
    }
}

static enum outcome hs_attempt(const void *varg, long n)
{
    const struct hs_arg *a = varg;
    struct hs_result r;
    hs_run(a, n, &r, NULL);
    enum outcome o = WRONG;
    if (hs_same(&r, &a->want)) {
        o = SAME;
    } else if (!r.server_ok && reached) {
        /* A failed handshake is the clean outcome. A verdict it reached must be the right one
         * (or say NOMEM); once memory is back the peer must still render correctly. */
        int verdict_ok = !r.has_peer || r.reason == MTLS_ERR_NOMEM ||
                         (r.accepted == a->want.accepted && r.reason == a->want.reason);
        o = verdict_ok ? NOMEM : WRONG;
    }
    if (r.server_ok && !a->want.accepted) {
        fprintf(stderr, "handshake: a client that must be refused got in\n");
        o = WRONG;
    }
    if (o == WRONG) {
        hs_print("handshake", &r);
        hs_print("unhindered", &a->want);
    }
    return o;
}

struct hs_case {
    const char *cert;   /* manifest case the client presents, NULL: no certificate */
    const char *mode;
    uint16_t version;
    int resume;         /* walk the resumed handshake instead */
    int with_addresses; /* policy with IP matchers; addresses given with set_addresses */
};

static void handshake_walk_one(const struct hs_case *hc)
{
    const struct pki_case *pc = hc->cert != NULL ? find_case(hc->cert) : NULL;
    char json[2048];
    if (hc->with_addresses) {
        snprintf(json, sizeof(json),
                 "[{\"match\":{\"remote_ip\":{\"ranges\":[\"10.0.0.0/8\"]}}},"
                 "{\"match\":{\"sni\":[\"localhost\"],\"remote_ip\":{\"ranges\":"
                 "[\"192.0.2.0/24\"]},\"local_ip\":{\"ranges\":[\"::1\"]}},"
                 "\"client_authentication\":{\"mode\":\"%s\",\"trusted_ca_certs_pem_files\":"
                 "[\"%s\"]}}]",
                 hc->mode, find_case("basic")->trust);
    } else {
        pki_policy_json(json, sizeof(json), hc->mode, pc != NULL ? pc->trust
                                                                 : find_case("basic")->trust);
    }
    mtls_ctx *ctx = pki_ctx(json);
    SSL_CTX *sctx = server_ssl_ctx();
    assert_int_equal(mtls_ssl_ctx_attach(sctx, ctx, NULL), MTLS_OK);
    mtls_ctx_free(ctx);
    struct hs_arg a = {sctx, client_ssl_ctx(pc, hc->version), NULL, NULL, NULL, {0}};
    if (hc->with_addresses) {
        a.remote = "192.0.2.7";
        a.local = "::1";
    }
    SSL_SESSION *session = NULL;
    hs_run(&a, -1, &a.want, &session);
    if (hc->resume) {
        a.resume = session;
        hs_run(&a, -1, &a.want, NULL);
#ifdef OPENSSL_IS_BORINGSSL
        assert_true(a.want.resumed);
#endif
        /* OpenSSL: client-auth policies never resume (mtls/openssl.h): a full handshake. */
    }
    assert_int_equal(a.want.server_ok, pc != NULL ? pc->accept : 0);
    char what[160];
    snprintf(what, sizeof(what), "handshake %s, %s, TLS 0x%x%s%s", hc->cert ? hc->cert : "(none)",
             hc->mode, hc->version, hc->resume ? ", resumed" : "",
             hc->with_addresses ? ", IP matchers" : "");
    long steps = walk(what, hs_attempt, &a);
    fprintf(stderr, "%s: %ld allocations\n", what, steps);
    assert_true(steps > 0);
    SSL_SESSION_free(session);
    SSL_CTX_free(a.cctx);
    SSL_CTX_free(sctx);
}

static void handshake_walk(void **state)
{
    const struct hs_case hcs[] = {
        {"basic", "require_and_verify", TLS1_3_VERSION, 0, 0},
        {"san", "require_and_verify", TLS1_2_VERSION, 0, 1},
        {"expired", "require_and_verify", TLS1_3_VERSION, 0, 0},
        {"untrusted-ca", "require_and_verify", TLS1_2_VERSION, 0, 0},
        {"eku-server", "verify_if_given", TLS1_3_VERSION, 0, 0},
        {NULL, "require", TLS1_3_VERSION, 0, 0},
        {"basic", "require_and_verify", TLS1_3_VERSION, 1, 0},
        {"via-int-sent", "require_and_verify", TLS1_2_VERSION, 1, 0},
    };
    for (size_t i = 0; i < sizeof(hcs) / sizeof(hcs[0]); i++) {
        handshake_walk_one(&hcs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_json_walk),     cmocka_unit_test(load_file_walk),
        cmocka_unit_test(describe_walk),      cmocka_unit_test(verify_walk),
        cmocka_unit_test(verify_pinned_walk), cmocka_unit_test(peer_get_walk),
        cmocka_unit_test(peer_message_walk),  cmocka_unit_test(attach_walk),
        cmocka_unit_test(set_addresses_walk), cmocka_unit_test(handshake_walk),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
