/*
 * test_tls_handshake.c - real BoringSSL handshakes, client and server in one process over a
 * BIO pair: every mode (and mode absent) x every manifest certificate and "no certificate";
 * SNI policy selection; CA names in the CertificateRequest; resumption re-judged after a
 * policy swap and after the clock moves; identity read from the SSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

/* The glue header of the build's TLS library: the tests below run on both. */
#ifdef OPENSSL_IS_BORINGSSL
#include <mtls/boringssl.h>
#else
#include <mtls/openssl.h>
#endif

#include "testpki.h"

#define MAX_CASES 128

static struct pki_case cases[MAX_CASES];
static size_t num_cases;
static char server_cert[512], server_key[512];

static const struct pki_case *find_case(const char *name)
{
    return pki_find(cases, num_cases, name);
}

static mtls_ctx *load(const char *json)
{
    return pki_ctx(json);
}

static SSL_CTX *server_ctx(mtls_ctx *policy)
{
    SSL_CTX *s = SSL_CTX_new(TLS_method());
    assert_non_null(s);
    assert_true(SSL_CTX_use_certificate_chain_file(s, server_cert));
    assert_true(SSL_CTX_use_PrivateKey_file(s, server_key, SSL_FILETYPE_PEM));
    assert_int_equal(mtls_ssl_ctx_attach(s, policy, NULL), MTLS_OK);
    return s;
}

/* The client's view: CA names of the last CertificateRequest, and the last session. */
static _Thread_local size_t seen_ca_names; /* per thread: swap test */
static _Thread_local SSL_SESSION *last_session;

static int record_ca_names(SSL *ssl, void *arg)
{
#ifdef OPENSSL_IS_BORINGSSL
    const STACK_OF(CRYPTO_BUFFER) *names = SSL_get0_server_requested_CAs(ssl);
    seen_ca_names = names != NULL ? sk_CRYPTO_BUFFER_num(names) : 0;
#else
    const STACK_OF(X509_NAME) *names = SSL_get0_peer_CA_list(ssl);
    seen_ca_names = names != NULL ? (size_t)sk_X509_NAME_num(names) : 0;
#endif
    return 1;
}

static int record_session(SSL *ssl, SSL_SESSION *session)
{
    SSL_SESSION_free(last_session);
    last_session = session; /* takes the reference */
    return 1;
}

static SSL_CTX *client_ctx(const struct pki_case *c, uint16_t max_version)
{
    SSL_CTX *cl = SSL_CTX_new(TLS_method());
    assert_non_null(cl);
    SSL_CTX_set_max_proto_version(cl, max_version);
    SSL_CTX_set_cert_cb(cl, record_ca_names, NULL);
    SSL_CTX_set_session_cache_mode(cl, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(cl, record_session);
    if (c != NULL) {
        assert_true(SSL_CTX_use_certificate_chain_file(cl, c->chain));
        assert_true(SSL_CTX_use_PrivateKey_file(cl, c->key, SSL_FILETYPE_PEM));
    }
    return cl;
}

struct result {
    int server_ok;       /* server finished the handshake */
    int resumed;
    mtls_peer *peer;     /* server's verdict (own reference) */
    SSL_SESSION *session; /* client's session after the handshake (own reference) */
    size_t ca_names;     /* CA names in the CertificateRequest */
    int has_index; /* mtls_ssl_get_policy_index */
    size_t index;
};

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

/* Runs one handshake; the client then reads one byte so TLS 1.3 tickets arrive. */
static struct result handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *sni,
                               SSL_SESSION *resume)
{
    struct result res = {0};
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    BIO *bs = NULL, *bc = NULL;
    assert_true(BIO_new_bio_pair(&bs, 0, &bc, 0));
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    if (sni != NULL) {
        SSL_set_tlsext_host_name(c, sni);
    }
    if (resume != NULL) {
        SSL_set_session(c, resume);
    }
    int sdone = 0, cdone = 0, sok = 1, cok = 1;
    seen_ca_names = 0;
    SSL_SESSION_free(last_session);
    last_session = NULL;
    for (int i = 0; i < 64 && sok && cok && !(sdone && cdone); i++) {
        cok = step(c, &cdone);
        sok = step(s, &sdone);
    }
    res.server_ok = sok && sdone;
    if (res.server_ok) {
        char byte = 'x';
        assert_int_equal(SSL_write(s, &byte, 1), 1);
        assert_int_equal(SSL_read(c, &byte, 1), 1);
        res.resumed = SSL_session_reused(s);
        res.session = last_session; /* TLS 1.3 tickets arrive with the first read */
        last_session = NULL;
    }
    res.ca_names = seen_ca_names;
    res.has_index = mtls_ssl_get_policy_index(s, &res.index);
    res.peer = mtls_ssl_get0_peer(s);
    mtls_peer_up_ref(res.peer);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    return res;
}

static void result_free(struct result *r)
{
    mtls_peer_free(r->peer);
    SSL_SESSION_free(r->session);
}

/* Expected verdict of `c` (NULL: no certificate) under `mode` (NULL: absent). */
static void expected(const char *mode, const struct pki_case *c, int *accept, int *reason)
{
    int verifies = mode == NULL || strcmp(mode, "verify_if_given") == 0 ||
                   strcmp(mode, "require_and_verify") == 0;
    int requires = mode == NULL || strcmp(mode, "require") == 0 ||
                   strcmp(mode, "require_and_verify") == 0;
    if (c == NULL) {
        *accept = !requires;
        *reason = requires ? MTLS_ERR_NO_CERTIFICATE : MTLS_OK;
    } else if (verifies) {
        *accept = c->accept;
        *reason = pki_reason_code(c->reason);
    } else {
        *accept = 1;
        *reason = MTLS_OK;
    }
}

static void mode_matrix(void **state)
{
    const char *modes[] = {"request", "require", "verify_if_given", "require_and_verify", NULL};
    int failures = 0, runs = 0;
    for (size_t m = 0; m < 5; m++) {
        for (size_t i = 0; i <= num_cases; i++) {
            const struct pki_case *c = i < num_cases ? &cases[i] : NULL;
            const char *trust = c != NULL ? c->trust : cases[0].trust;
            char json[1024];
            pki_policy_json(json, sizeof(json), modes[m], trust);
            mtls_ctx *policy = load(json);
            SSL_CTX *sctx = server_ctx(policy);
            SSL_CTX *cctx = client_ctx(c, (i % 2) ? TLS1_2_VERSION : TLS1_3_VERSION);
            struct result r = handshake(sctx, cctx, "localhost", NULL);
            int accept, reason;
            expected(modes[m], c, &accept, &reason);
            runs++;
            if (r.server_ok != accept || r.peer == NULL || mtls_peer_reason(r.peer) != reason) {
                fprintf(stderr, "mode %s cert %s: server_ok=%d reason=%d (%s); want %d/%d\n",
                        modes[m] ? modes[m] : "(absent)", c ? c->name : "(none)", r.server_ok,
                        r.peer ? mtls_peer_reason(r.peer) : -1,
                        r.peer ? mtls_peer_message(r.peer) : "no peer", accept, reason);
                failures++;
            }
            result_free(&r);
            SSL_CTX_free(cctx);
            SSL_CTX_free(sctx);
            mtls_ctx_free(policy);
        }
    }
    fprintf(stderr, "mode matrix: %d handshakes, %d wrong\n", runs, failures);
    assert_int_equal(failures, 0);
}

static void identity_from_ssl(void **state)
{
    const struct pki_case *c = find_case("san");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *policy = load(json);
    SSL_CTX *sctx = server_ctx(policy);
    SSL_CTX *cctx = client_ctx(c, TLS1_3_VERSION);
    struct result r = handshake(sctx, cctx, "localhost", NULL);
    assert_true(r.server_ok);
    const char *v = NULL;
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.version", &v, NULL, NULL), MTLS_OK);
    assert_string_equal(v, "tls1.3");
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.server_name", &v, NULL, NULL),
                     MTLS_OK);
    assert_string_equal(v, "localhost");
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.resumed", &v, NULL, NULL), MTLS_OK);
    assert_string_equal(v, "false");
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.cipher_suite", &v, NULL, NULL),
                     MTLS_OK);
    assert_true(strncmp(v, "TLS_", 4) == 0);
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.client.spiffe_id", &v, NULL, NULL),
                     MTLS_OK);
    assert_true(strncmp(v, "spiffe://", 9) == 0);
    assert_int_equal(mtls_peer_get(r.peer, "http.request.tls.client.verified", &v, NULL, NULL),
                     MTLS_OK);
    assert_string_equal(v, "SUCCESS");
    /* The CertificateRequest named the trusted CA. */
    assert_int_equal(r.ca_names, 1);
    result_free(&r);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    mtls_ctx_free(policy);
}

/* A pool whose CA names overflow the CertificateRequest's 16-bit list: no names are sent and
 * the client is still judged (before, every handshake failed). */
static void huge_ca_pool_sends_no_names(void **state)
{
    const struct pki_case *good = find_case("basic");
    char path[] = "/tmp/mtls-test-pool-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (long i = 0; i < 1000; i++) { /* 60-character names: ~75 bytes each, 75 KB in all */
        char cn[64];
        snprintf(cn, sizeof(cn), "decoy CA %04ld with a deliberately long common name ....", i);
        X509 *x = pki_self_signed(cn, i + 1, NULL);
        assert_non_null(x);
        assert_true(PEM_write_X509(f, x));
        X509_free(x);
    }
    assert_int_equal(fclose(f), 0);
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require_and_verify\",\"trusted_ca_certs_pem_files\":[\"%s\",\"%s\"]}",
             path, good->trust);
    mtls_ctx *policy = load(json);
    unlink(path);
    SSL_CTX *sctx = server_ctx(policy);
    for (int v = 0; v < 2; v++) {
        SSL_CTX *cctx = client_ctx(good, v ? TLS1_2_VERSION : TLS1_3_VERSION);
        struct result r = handshake(sctx, cctx, "localhost", NULL);
        assert_true(r.server_ok);
        assert_non_null(r.peer);
        assert_true(mtls_peer_verified(r.peer));
        assert_int_equal(r.ca_names, 0);
        result_free(&r);
        SSL_CTX_free(cctx);
    }
    SSL_CTX_free(sctx);
    mtls_ctx_free(policy);
}

/* Two policies by SNI: the strict one for admin.mtls.test, an open one for the rest. */
static void sni_selects_policy(void **state)
{
    const struct pki_case *good = find_case("tutorial-v1");
    char json[2048];
    snprintf(json, sizeof(json),
             "[{\"match\":{\"sni\":[\"admin.mtls.test\"]},\"client_authentication\":"
             "{\"trusted_ca_certs_pem_files\":[\"%s\"]}},{}]",
             good->trust);
    mtls_ctx *policy = load(json);
    assert_int_equal(mtls_ctx_num_policies(policy), 2);
    SSL_CTX *sctx = server_ctx(policy);
    SSL_CTX *anon = client_ctx(NULL, TLS1_3_VERSION);
    struct result strict = handshake(sctx, anon, "ADMIN.mtls.test", NULL);
    assert_false(strict.server_ok);
    assert_int_equal(mtls_peer_reason(strict.peer), MTLS_ERR_NO_CERTIFICATE);
    assert_true(strict.has_index);
    assert_int_equal(strict.index, 0);
    struct result open = handshake(sctx, anon, "www.mtls.test", NULL);
    assert_true(open.server_ok);
    assert_int_equal(mtls_peer_policy_index(open.peer), 1);
    assert_int_equal(mtls_peer_mode(open.peer), MTLS_MODE_OFF);
    assert_true(open.has_index);
    assert_int_equal(open.index, 1);
    struct result nosni = handshake(sctx, anon, NULL, NULL);
    assert_true(nosni.server_ok);
    assert_int_equal(mtls_peer_policy_index(nosni.peer), 1);
    result_free(&strict);
    result_free(&open);
    result_free(&nosni);
    SSL_CTX_free(anon);
    SSL_CTX_free(sctx);
    mtls_ctx_free(policy);
}

static void no_matching_policy_fails_handshake(void **state)
{
    mtls_ctx *policy = load("[{\"match\":{\"sni\":[\"only.mtls.test\"]}}]");
    SSL_CTX *sctx = server_ctx(policy);
    SSL_CTX *anon = client_ctx(NULL, TLS1_3_VERSION);
    struct result r = handshake(sctx, anon, "other.mtls.test", NULL);
    assert_false(r.server_ok);
    assert_int_equal(mtls_peer_reason(r.peer), MTLS_ERR_NO_MATCHING_POLICY);
    assert_false(r.has_index);
    result_free(&r);
    SSL_CTX_free(anon);
    SSL_CTX_free(sctx);
    mtls_ctx_free(policy);
}

static int64_t clock_value;
static int64_t test_clock(void *user)
{
    (void)user;
    return clock_value;
}

/* BoringSSL: a resumed session is judged again, by the swapped-in policy and at the current
 * time. OpenSSL cannot judge a resumed session, so a client-auth policy never resumes: every
 * handshake below is a full one, judged the same way. */
#ifdef OPENSSL_IS_BORINGSSL
static const int client_auth_resumes = 1;
#else
static const int client_auth_resumes = 0;
#endif

static void resumption_rejudged(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *other = find_case("untrusted-ca");
    for (int v = 0; v < 2; v++) {
        uint16_t version = v ? TLS1_2_VERSION : TLS1_3_VERSION;
        char json[1024];
        pki_policy_json(json, sizeof(json), "require_and_verify", alice->trust);
        mtls_ctx *policy = load(json);
        clock_value = (int64_t)time(NULL);
        assert_int_equal(mtls_ctx_set_clock(policy, test_clock, NULL, NULL), MTLS_OK);
        SSL_CTX *sctx = server_ctx(policy);
        SSL_CTX *cctx = client_ctx(alice, version);
        struct result first = handshake(sctx, cctx, "localhost", NULL);
        assert_true(first.server_ok);
        assert_true(first.session != NULL || !client_auth_resumes);
        /* Same policy, same time: resumes, and is re-verified (accepted). */
        struct result again = handshake(sctx, cctx, "localhost", first.session);
        assert_true(again.server_ok);
        assert_int_equal(again.resumed, client_auth_resumes);
        assert_true(mtls_peer_verified(again.peer));
        /* The clock passes the leaf's notAfter: the resumed session is refused. */
        clock_value = (int64_t)4102444800; /* 2100-01-01 */
        struct result late = handshake(sctx, cctx, "localhost", first.session);
        assert_false(late.server_ok);
        assert_int_equal(mtls_peer_reason(late.peer), MTLS_ERR_CERT_EXPIRED);
        clock_value = (int64_t)time(NULL);
        /* Swap in a policy that no longer trusts alice's CA: the old session is refused. */
        pki_policy_json(json, sizeof(json), "require_and_verify", other->trust);
        mtls_ctx *revoked = load(json);
        assert_int_equal(mtls_ssl_ctx_attach(sctx, revoked, NULL), MTLS_OK);
        mtls_ctx_free(revoked);
        struct result after = handshake(sctx, cctx, "localhost", first.session);
        assert_false(after.server_ok);
        assert_false(after.resumed);
        assert_int_equal(mtls_peer_reason(after.peer), MTLS_ERR_UNKNOWN_ISSUER);
        result_free(&first);
        result_free(&again);
        result_free(&late);
        result_free(&after);
        SSL_CTX_free(cctx);
        SSL_CTX_free(sctx);
        mtls_ctx_free(policy);
    }
}

/* A reload never resumes a session of the previous generation, even with equal content. */
static void reload_changes_session_context(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", alice->trust);
    mtls_ctx *policy = load(json);
    SSL_CTX *sctx = server_ctx(policy);
    SSL_CTX *cctx = client_ctx(alice, TLS1_3_VERSION);
    struct result first = handshake(sctx, cctx, "localhost", NULL);
    assert_true(first.server_ok);
    mtls_ctx *same = load(json);
    assert_int_equal(mtls_ssl_ctx_attach(sctx, same, NULL), MTLS_OK);
    mtls_ctx_free(same);
    struct result second = handshake(sctx, cctx, "localhost", first.session);
    assert_true(second.server_ok);
    assert_false(second.resumed);
    assert_true(mtls_peer_verified(second.peer));
    result_free(&first);
    result_free(&second);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    mtls_ctx_free(policy);
}

/* Hot reload under load: two threads handshake on one SSL_CTX while the main thread swaps
 * between a policy that trusts alice's CA and one that does not. Every handshake must get
 * exactly the verdict of one of the two policies (never a crash, never a mixed state), and
 * after the last swap every handshake is refused. */
static atomic_int workers_done;

struct swap_worker {
    SSL_CTX *sctx;
    SSL_CTX *cctx;
    int accepted;
    int refused;
    int wrong;
};

static void *swap_worker_run(void *arg)
{
    struct swap_worker *w = arg;
    for (int i = 0; i < 150; i++) {
        struct result r = handshake(w->sctx, w->cctx, "localhost", NULL);
        int reason = r.peer != NULL ? mtls_peer_reason(r.peer) : -1;
        if (r.server_ok && reason == MTLS_OK) {
            w->accepted++;
        } else if (!r.server_ok && reason == MTLS_ERR_UNKNOWN_ISSUER) {
            w->refused++;
        } else {
            w->wrong++;
        }
        result_free(&r);
    }
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

static void swap_during_handshakes(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *other = find_case("untrusted-ca");
    char trusting[1024], refusing[1024];
    pki_policy_json(trusting, sizeof(trusting), "require_and_verify", alice->trust);
    pki_policy_json(refusing, sizeof(refusing), "require_and_verify", other->trust);
    mtls_ctx *policies[2] = {load(trusting), load(refusing)};
    SSL_CTX *sctx = server_ctx(policies[0]);
    struct swap_worker w[2] = {{sctx, client_ctx(alice, TLS1_3_VERSION), 0, 0, 0},
                               {sctx, client_ctx(alice, TLS1_2_VERSION), 0, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, swap_worker_run, &w[i]), 0);
    }
    /* Swap every 0.2 ms until both workers are done (bounded: 150 handshakes each). */
    int swaps = 0;
    while (atomic_load(&workers_done) < 2) {
        assert_int_equal(mtls_ssl_ctx_attach(sctx, policies[swaps++ % 2], NULL), MTLS_OK);
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    atomic_store(&workers_done, 0);
    fprintf(stderr, "swap under load: %d swaps; accepted %d, refused %d, wrong %d\n", swaps,
            w[0].accepted + w[1].accepted, w[0].refused + w[1].refused, w[0].wrong + w[1].wrong);
    assert_int_equal(w[0].wrong + w[1].wrong, 0);
    /* Both policies were in force during the run (hundreds of swaps per worker's run). */
    assert_true(w[0].accepted + w[1].accepted > 0);
    assert_true(w[0].refused + w[1].refused > 0);
    assert_int_equal(mtls_ssl_ctx_attach(sctx, policies[1], NULL), MTLS_OK);
    struct result last = handshake(sctx, w[0].cctx, "localhost", NULL);
    assert_false(last.server_ok);
    assert_int_equal(mtls_peer_reason(last.peer), MTLS_ERR_UNKNOWN_ISSUER);
    result_free(&last);
    for (int i = 0; i < 2; i++) {
        SSL_CTX_free(w[i].cctx);
        mtls_ctx_free(policies[i]);
    }
    SSL_CTX_free(sctx);
}

static void attach_rejects_null(void **state)
{
    mtls_error err;
    assert_int_equal(mtls_ssl_ctx_attach(NULL, NULL, &err), MTLS_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.category, MTLS_CATEGORY_USAGE);
    assert_null(mtls_ssl_get0_peer(NULL));
}

int main(void)
{
    num_cases = pki_load(cases, MAX_CASES);
    snprintf(server_cert, sizeof(server_cert), "%s/server.pem", pki_dir());
    snprintf(server_key, sizeof(server_key), "%s/server.key.pem", pki_dir());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode_matrix),
        cmocka_unit_test(identity_from_ssl),
        cmocka_unit_test(sni_selects_policy),
        cmocka_unit_test(no_matching_policy_fails_handshake),
        cmocka_unit_test(resumption_rejudged),
        cmocka_unit_test(reload_changes_session_context),
        cmocka_unit_test(swap_during_handshakes),
        cmocka_unit_test(attach_rejects_null),
        cmocka_unit_test(huge_ca_pool_sends_no_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
