/*
 * test_verify.c - the TLS-independent verify API (mtls_verify_der) on the generated PKI:
 * every manifest case under require_and_verify, every mode without a certificate, leaf
 * pinning, time injection, hostile input and argument errors; the verify options
 * (mtls_ctx_set_purpose, mtls_ctx_set_max_depth).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <mtls/mtls.h>

#include "testpki.h"

#define MAX_CASES 128

static struct pki_case cases[MAX_CASES];
static size_t num_cases;

static const struct pki_case *find_case(const char *name)
{
    return pki_find(cases, num_cases, name);
}

static mtls_ctx *load(const char *json)
{
    return pki_ctx(json);
}

/* Verifies the chain file of `c` under `json` at `at`; returns the peer (caller frees). */
static mtls_peer *judge_file(const char *json, const char *chain, int64_t at)
{
    uint8_t *ders[16];
    size_t lens[16];
    size_t n = pki_read_chain(chain, ders, lens, 16);
    mtls_ctx *ctx = load(json);
    mtls_peer *peer = NULL;
    mtls_error err;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)ders, lens, n, at, &peer,
                                     &err),
                     MTLS_OK);
    mtls_ctx_free(ctx);
    pki_free_ders(ders, n);
    return peer;
}

static void manifest_verdicts(void **state)
{
    char json[1024];
    int failures = 0;
    for (size_t i = 0; i < num_cases; i++) {
        const struct pki_case *c = &cases[i];
        pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
        mtls_peer *peer = judge_file(json, c->chain, MTLS_TIME_NOW);
        int want = pki_reason_code(c->reason);
        if (mtls_peer_accepted(peer) != c->accept || mtls_peer_reason(peer) != want) {
            fprintf(stderr, "case %s: got accepted=%d reason=%d (%s), want %d/%d\n", c->name,
                    mtls_peer_accepted(peer), mtls_peer_reason(peer), mtls_peer_message(peer),
                    c->accept, want);
            failures++;
        }
        assert_int_equal(mtls_peer_verified(peer), c->accept);
        mtls_peer_free(peer);
    }
    assert_int_equal(failures, 0);
}

static void refusal_names_certificate(void **state)
{
    const struct pki_case *c = find_case("expired");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_peer *peer = judge_file(json, c->chain, MTLS_TIME_NOW);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_CERT_EXPIRED);
    const char *msg = mtls_peer_message(peer);
    assert_non_null(strstr(msg, "certificate has expired"));
    assert_non_null(strstr(msg, "subject \"CN="));
    assert_non_null(strstr(msg, "(sha256 "));
    const char *fp = NULL;
    assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.fingerprint", &fp, NULL, NULL),
                     MTLS_OK);
    assert_non_null(strstr(msg, fp));
    const char *status = NULL;
    assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.verified", &status, NULL, NULL),
                     MTLS_OK);
    assert_string_equal(status, "FAILED:CERT_EXPIRED");
    mtls_peer_free(peer);
}

static void injected_time_decides_validity(void **state)
{
    const struct pki_case *c = find_case("tutorial-v1");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_peer *now = judge_file(json, c->chain, MTLS_TIME_NOW);
    assert_true(mtls_peer_accepted(now));
    mtls_peer_free(now);
    mtls_peer *later = judge_file(json, c->chain, (int64_t)4102444800); /* 2100-01-01 */
    assert_false(mtls_peer_accepted(later));
    assert_int_equal(mtls_peer_reason(later), MTLS_ERR_CERT_EXPIRED);
    mtls_peer_free(later);
    mtls_peer *before = judge_file(json, c->chain, (int64_t)946684800); /* 2000-01-01 */
    assert_int_equal(mtls_peer_reason(before), MTLS_ERR_CERT_NOT_YET_VALID);
    mtls_peer_free(before);
}

/* No certificate: request/verify_if_given let the client in unverified, require modes do not. */
static void no_certificate_each_mode(void **state)
{
    static const struct {
        const char *mode;
        int accept;
    } modes[] = {{"request", 1}, {"require", 0}, {"verify_if_given", 1},
                 {"require_and_verify", 0}, {NULL, 0}};
    const struct pki_case *c = find_case("tutorial-v1");
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char json[1024];
        pki_policy_json(json, sizeof(json), modes[i].mode, c->trust);
        mtls_ctx *ctx = load(json);
        mtls_peer *peer = NULL;
        assert_int_equal(mtls_verify_der(ctx, 0, NULL, NULL, 0, MTLS_TIME_NOW, &peer, NULL),
                         MTLS_OK);
        assert_int_equal(mtls_peer_accepted(peer), modes[i].accept);
        assert_int_equal(mtls_peer_reason(peer),
                         modes[i].accept ? MTLS_OK : MTLS_ERR_NO_CERTIFICATE);
        assert_false(mtls_peer_verified(peer));
        assert_false(mtls_peer_has_certificate(peer));
        const char *v = NULL;
        assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.subject", &v, NULL, NULL),
                         MTLS_OK);
        assert_string_equal(v, "");
        assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.verified", &v, NULL, NULL),
                         MTLS_OK);
        assert_string_equal(v, modes[i].accept ? "NONE" : "FAILED:NO_CERTIFICATE");
        mtls_peer_free(peer);
        mtls_ctx_free(ctx);
    }
}

/* request/require never verify: an untrusted or expired certificate gets in, unverified. */
static void unverified_modes_accept_anything_parsable(void **state)
{
    const char *names[] = {"expired", "untrusted-ca", "self-signed", "server-as-client"};
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            const struct pki_case *c = find_case(names[i]);
            char json[1024];
            pki_policy_json(json, sizeof(json), m == 0 ? "request" : "require", c->trust);
            mtls_peer *peer = judge_file(json, c->chain, MTLS_TIME_NOW);
            assert_true(mtls_peer_accepted(peer));
            assert_false(mtls_peer_verified(peer));
            const char *v = NULL;
            assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.verified", &v, NULL,
                                           NULL),
                             MTLS_OK);
            assert_string_equal(v, "UNVERIFIED");
            mtls_peer_free(peer);
        }
    }
}

static void leaf_pins(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *other = find_case("p256");
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"file\",\"files\":[\"%s\"]}]}]}",
             alice->cert);
    mtls_peer *in = judge_file(json, alice->chain, MTLS_TIME_NOW);
    assert_true(mtls_peer_accepted(in));
    mtls_peer_free(in);
    mtls_peer *out = judge_file(json, other->chain, MTLS_TIME_NOW);
    assert_false(mtls_peer_accepted(out));
    assert_int_equal(mtls_peer_reason(out), MTLS_ERR_LEAF_NOT_PINNED);
    mtls_peer_free(out);
    /* Caddy runs the leaf verifier even without a certificate: request + pins refuses. */
    snprintf(json, sizeof(json),
             "{\"mode\":\"request\",\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":"
             "[{\"loader\":\"file\",\"files\":[\"%s\"]}]}]}",
             alice->cert);
    mtls_ctx *ctx = load(json);
    mtls_peer *none = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, NULL, NULL, 0, MTLS_TIME_NOW, &none, NULL), MTLS_OK);
    assert_false(mtls_peer_accepted(none));
    assert_int_equal(mtls_peer_reason(none), MTLS_ERR_LEAF_NOT_PINNED);
    mtls_peer_free(none);
    mtls_ctx_free(ctx);
}

/* Pins and CA together: the chain must verify AND the leaf must be pinned. */
static void pins_and_ca_both_apply(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *v3 = find_case("tutorial-v3");
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"trusted_ca_certs_pem_files\":[\"%s\"],\"verifiers\":[{\"verifier\":\"leaf\","
             "\"leaf_certs_loaders\":[{\"loader\":\"file\",\"files\":[\"%s\"]}]}]}",
             alice->trust, alice->cert);
    mtls_peer *in = judge_file(json, alice->chain, MTLS_TIME_NOW);
    assert_true(mtls_peer_accepted(in));
    assert_true(mtls_peer_verified(in));
    mtls_peer_free(in);
    mtls_peer *out = judge_file(json, v3->chain, MTLS_TIME_NOW); /* same CA, other leaf */
    assert_int_equal(mtls_peer_reason(out), MTLS_ERR_LEAF_NOT_PINNED);
    mtls_peer_free(out);
}

static void garbage_certificate_refused_in_every_mode(void **state)
{
    const struct pki_case *c = find_case("tutorial-v1");
    const char *modes[] = {"request", "require", "verify_if_given", "require_and_verify"};
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    const uint8_t *certs[] = {junk};
    size_t lens[] = {sizeof(junk)};
    for (size_t i = 0; i < 4; i++) {
        char json[1024];
        pki_policy_json(json, sizeof(json), modes[i], c->trust);
        mtls_ctx *ctx = load(json);
        mtls_peer *peer = NULL;
        assert_int_equal(mtls_verify_der(ctx, 0, certs, lens, 1, MTLS_TIME_NOW, &peer, NULL),
                         MTLS_OK);
        assert_false(mtls_peer_accepted(peer));
        assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_CERT_PARSE);
        assert_non_null(strstr(mtls_peer_message(peer), "sha256 "));
        mtls_peer_free(peer);
        mtls_ctx_free(ctx);
    }
}

static void too_many_certificates(void **state)
{
    const struct pki_case *c = find_case("tutorial-v1");
    uint8_t *ders[2];
    size_t lens1[2];
    size_t n = pki_read_chain(c->chain, ders, lens1, 2);
    assert_true(n >= 1);
    const uint8_t *certs[100];
    size_t lens[100];
    for (size_t i = 0; i < 100; i++) {
        certs[i] = ders[0];
        lens[i] = lens1[0];
    }
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *ctx = load(json);
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, certs, lens, 100, MTLS_TIME_NOW, &peer, NULL),
                     MTLS_OK);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_CHAIN_TOO_LONG);
    mtls_peer_free(peer);
    mtls_ctx_free(ctx);
    pki_free_ders(ders, n);
}

/* Verifies case `name` with the purpose and max depth given (-1: leave the default). */
static mtls_peer *judge_opts(const char *name, int purpose, int max_depth)
{
    const struct pki_case *c = find_case(name);
    uint8_t *ders[16];
    size_t lens[16];
    size_t n = pki_read_chain(c->chain, ders, lens, 16);
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *ctx = load(json);
    mtls_error err;
    if (purpose >= 0) {
        assert_int_equal(mtls_ctx_set_purpose(ctx, purpose, &err), MTLS_OK);
    }
    if (max_depth >= 0) {
        assert_int_equal(mtls_ctx_set_max_depth(ctx, max_depth, &err), MTLS_OK);
    }
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)ders, lens, n,
                                     MTLS_TIME_NOW, &peer, &err),
                     MTLS_OK);
    mtls_ctx_free(ctx);
    pki_free_ders(ders, n);
    return peer;
}

static void expect_verdict(const char *name, int purpose, int max_depth, int reason)
{
    mtls_peer *peer = judge_opts(name, purpose, max_depth);
    if (mtls_peer_reason(peer) != reason) {
        fprintf(stderr, "case %s purpose %d depth %d: %s\n", name, purpose, max_depth,
                mtls_peer_message(peer));
    }
    assert_int_equal(mtls_peer_reason(peer), reason);
    assert_int_equal(mtls_peer_accepted(peer), reason == MTLS_OK);
    mtls_peer_free(peer);
}

/* The default purpose is client authentication: serverAuth-only leaves are refused. */
static void purpose_client_is_default(void **state)
{
    expect_verdict("eku-server", -1, -1, MTLS_ERR_WRONG_EKU);
    expect_verdict("eku-client", -1, -1, MTLS_OK);
    expect_verdict("eku-server", MTLS_PURPOSE_CLIENT, -1, MTLS_ERR_WRONG_EKU);
    expect_verdict("eku-client", MTLS_PURPOSE_CLIENT, -1, MTLS_OK);
}

/* MTLS_PURPOSE_SERVER checks serverAuth instead, with the same Go rule. */
static void purpose_server_checks_server_auth(void **state)
{
    expect_verdict("eku-server", MTLS_PURPOSE_SERVER, -1, MTLS_OK);
    expect_verdict("eku-none", MTLS_PURPOSE_SERVER, -1, MTLS_OK);
    expect_verdict("eku-any", MTLS_PURPOSE_SERVER, -1, MTLS_OK);
    expect_verdict("eku-client", MTLS_PURPOSE_SERVER, -1, MTLS_ERR_WRONG_EKU);
    mtls_peer *peer = judge_opts("eku-client", MTLS_PURPOSE_SERVER, -1);
    assert_non_null(strstr(mtls_peer_message(peer), "serverAuth"));
    mtls_peer_free(peer);
    /* Other refusals are unchanged by the purpose. */
    expect_verdict("expired", MTLS_PURPOSE_SERVER, -1, MTLS_ERR_CERT_EXPIRED);
}

static void purpose_rejects_bad_arguments(void **state)
{
    const struct pki_case *c = find_case("eku-server");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *ctx = load(json);
    mtls_error err;
    assert_int_equal(mtls_ctx_set_purpose(NULL, MTLS_PURPOSE_SERVER, &err),
                     MTLS_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.category, MTLS_CATEGORY_USAGE);
    assert_int_equal(mtls_ctx_set_purpose(ctx, 0, &err), MTLS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "unknown purpose 0"));
    assert_int_equal(mtls_ctx_set_purpose(ctx, 3, NULL), MTLS_ERR_INVALID_ARGUMENT);
    mtls_ctx_free(ctx);
}

/* max_depth counts intermediates: the long chain has four, via-int one, basic none. */
static void max_depth_counts_intermediates(void **state)
{
    expect_verdict("long-chain", -1, -1, MTLS_OK); /* default 8 */
    expect_verdict("long-chain", -1, 4, MTLS_OK);
    expect_verdict("long-chain", -1, 3, MTLS_ERR_CHAIN_TOO_LONG);
    expect_verdict("via-int-sent", -1, 1, MTLS_OK);
    expect_verdict("via-int-sent", -1, 0, MTLS_ERR_CHAIN_TOO_LONG);
    expect_verdict("basic", -1, 0, MTLS_OK);
    /* An intermediate that is itself an anchor ends the path there. */
    expect_verdict("int-anchor-int-sent", -1, 0, MTLS_OK);
    expect_verdict("long-chain", -1, MTLS_MAX_DEPTH_LIMIT, MTLS_OK);
}

static void max_depth_rejects_bad_arguments(void **state)
{
    const struct pki_case *c = find_case("long-chain");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *ctx = load(json);
    mtls_error err;
    assert_int_equal(mtls_ctx_set_max_depth(NULL, 3, &err), MTLS_ERR_INVALID_ARGUMENT);
    assert_int_equal(mtls_ctx_set_max_depth(ctx, -1, &err), MTLS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "-1 is not in 0..64"));
    assert_int_equal(mtls_ctx_set_max_depth(ctx, MTLS_MAX_DEPTH_LIMIT + 1, NULL),
                     MTLS_ERR_INVALID_ARGUMENT);
    /* A refused value leaves the default in force: the long chain still passes. */
    uint8_t *ders[8];
    size_t lens[8];
    size_t n = pki_read_chain(c->chain, ders, lens, 8);
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)ders, lens, n,
                                     MTLS_TIME_NOW, &peer, &err),
                     MTLS_OK);
    assert_true(mtls_peer_accepted(peer));
    mtls_peer_free(peer);
    pki_free_ders(ders, n);
    mtls_ctx_free(ctx);
}

static void bad_arguments(void **state)
{
    const struct pki_case *c = find_case("tutorial-v1");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_ctx *ctx = load(json);
    mtls_peer *peer = NULL;
    mtls_error err;
    assert_int_equal(mtls_verify_der(ctx, 1, NULL, NULL, 0, MTLS_TIME_NOW, &peer, &err),
                     MTLS_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.category, MTLS_CATEGORY_USAGE);
    assert_non_null(strstr(err.message, "out of range"));
    assert_null(peer);
    assert_int_equal(mtls_verify_der(ctx, 0, NULL, NULL, 1, MTLS_TIME_NOW, &peer, &err),
                     MTLS_ERR_INVALID_ARGUMENT);
    assert_int_equal(mtls_verify_der(NULL, 0, NULL, NULL, 0, MTLS_TIME_NOW, &peer, &err),
                     MTLS_ERR_INVALID_ARGUMENT);
    const char *v;
    assert_int_equal(mtls_peer_get(NULL, "x", &v, NULL, &err), MTLS_ERR_INVALID_ARGUMENT);
    mtls_ctx_free(ctx);
    mtls_ctx_free(NULL);
    mtls_peer_free(NULL);
}

static void placeholder_lookup(void **state)
{
    const struct pki_case *c = find_case("tutorial-v1");
    char json[1024];
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    mtls_peer *peer = judge_file(json, c->chain, MTLS_TIME_NOW);
    const char *v = NULL;
    size_t len = 0;
    mtls_error err;
    assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.subject", &v, &len, &err),
                     MTLS_OK);
    assert_string_equal(v, "CN=alice");
    assert_int_equal(len, strlen("CN=alice"));
    assert_int_equal(mtls_peer_get(peer, "http.request.tls.client.nope", &v, &len, &err),
                     MTLS_ERR_UNKNOWN_PLACEHOLDER);
    assert_non_null(strstr(err.message, "http.request.tls.client.nope"));
    assert_int_equal(mtls_peer_get(peer, "http.request.tls.version", &v, &len, &err), MTLS_OK);
    assert_string_equal(v, ""); /* no connection behind the DER API */
    /* Every advertised placeholder renders. */
    size_t n = mtls_placeholder_count();
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        const char *name = mtls_placeholder_name(i);
        assert_non_null(name);
        assert_int_equal(mtls_peer_get(peer, name, &v, &len, &err), MTLS_OK);
    }
    assert_null(mtls_placeholder_name(n));
    mtls_peer_free(peer);
}

/* libmtls is bound to the TLS library it was built against (nothing else is loaded here):
 * "BoringSSL", or "OpenSSL 3.x.y <date>" for the OpenSSL build; code names for bindings. */
static void library_strings(void **state)
{
    (void)state;
#ifdef OPENSSL_IS_BORINGSSL
    assert_string_equal(mtls_tls_library(), "BoringSSL");
#else
    assert_true(strncmp(mtls_tls_library(), "OpenSSL 3.", 10) == 0);
#endif
    assert_non_null(mtls_version());
    assert_string_equal(mtls_error_name(MTLS_ERR_CERT_EXPIRED), "CERT_EXPIRED");
    assert_string_equal(mtls_error_name(MTLS_OK), "OK");
    assert_string_equal(mtls_error_name(-7), "UNKNOWN");
}

int main(void)
{
    num_cases = pki_load(cases, MAX_CASES);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_verdicts),
        cmocka_unit_test(refusal_names_certificate),
        cmocka_unit_test(injected_time_decides_validity),
        cmocka_unit_test(no_certificate_each_mode),
        cmocka_unit_test(unverified_modes_accept_anything_parsable),
        cmocka_unit_test(leaf_pins),
        cmocka_unit_test(pins_and_ca_both_apply),
        cmocka_unit_test(garbage_certificate_refused_in_every_mode),
        cmocka_unit_test(too_many_certificates),
        cmocka_unit_test(purpose_client_is_default),
        cmocka_unit_test(purpose_server_checks_server_auth),
        cmocka_unit_test(purpose_rejects_bad_arguments),
        cmocka_unit_test(max_depth_counts_intermediates),
        cmocka_unit_test(max_depth_rejects_bad_arguments),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(placeholder_lookup),
        cmocka_unit_test(library_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
