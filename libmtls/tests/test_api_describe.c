/*
 * test_api_describe.c - the explanation API, through the shared library only:
 * mtls_ctx_describe_json (+ mtls_free) on the generated PKI, and the verified path /
 * certificate at fault of a peer (mtls_peer_num_chain, mtls_peer_chain_cert,
 * mtls_peer_error_depth).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <mtls/mtls.h>

#include "testpki.h"

#define MAX_CASES 128
#define MAX_CHAIN 16

static struct pki_case cases[MAX_CASES];
static size_t num_cases;

static const struct pki_case *find_case(const char *name)
{
    return pki_find(cases, num_cases, name);
}

static void pki_path(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", pki_dir(), rel);
}

/* ---- mtls_ctx_describe_json ---------------------------------------------------------- */

/* Describes `json` and parses the result (the test fails on any error). */
static json_t *describe(const char *json)
{
    mtls_ctx *ctx = pki_ctx(json);
    char *text = NULL;
    size_t len = 0;
    mtls_error err;
    assert_int_equal(mtls_ctx_describe_json(ctx, &text, &len, &err), MTLS_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (root == NULL) {
        fprintf(stderr, "describe output does not parse: %s\n%s\n", je.text, text);
    }
    assert_non_null(root);
    mtls_free(text);
    mtls_ctx_free(ctx);
    return root;
}

static json_t *policy(json_t *root, size_t i)
{
    json_t *p = json_array_get(json_object_get(root, "policies"), i);
    assert_non_null(p);
    return p;
}

static const char *str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void sha256_hex_of(char out[65], const uint8_t *der, size_t len)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(der, len, md);
    for (size_t i = 0; i < sizeof(md); i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* The SHA-256 hex of the first certificate in PKI file `rel`. */
static void file_sha256(char out[65], const char *rel)
{
    char path[512];
    uint8_t *ders[MAX_CHAIN];
    size_t lens[MAX_CHAIN];
    pki_path(path, sizeof(path), rel);
    size_t n = pki_read_chain(path, ders, lens, MAX_CHAIN);
    assert_true(n >= 1);
    sha256_hex_of(out, ders[0], lens[0]);
    pki_free_ders(ders, n);
}

static void describe_anchor_fields(void **state)
{
    char json[1024], want[65];
    const struct pki_case *c = find_case("basic");
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    json_t *root = describe(json);
    assert_int_equal(json_array_size(json_object_get(root, "policies")), 1);
    json_t *p = policy(root, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "index")), 0);
    assert_string_equal(str(p, "mode"), "require_and_verify");
    assert_true(json_is_true(json_object_get(p, "mode_explicit")));
    assert_true(json_is_false(json_object_get(p, "system_roots")));
    assert_int_equal(json_object_size(json_object_get(p, "match")), 0);
    json_t *anchors = json_object_get(p, "trust_anchors");
    assert_int_equal(json_array_size(anchors), 1);
    json_t *a = json_array_get(anchors, 0);
    assert_string_equal(str(a, "subject"), "CN=Test Root CA,O=libmtls tests");
    assert_string_equal(str(a, "issuer"), "CN=Test Root CA,O=libmtls tests");
    file_sha256(want, "root-ca.pem");
    assert_string_equal(str(a, "sha256"), want);
    assert_true(json_is_true(json_object_get(a, "self_signed")));
    /* RFC 3339 in UTC, as the not_after placeholder renders it */
    const char *na = str(a, "not_after");
    assert_int_equal(strlen(na), 20);
    assert_int_equal(na[10], 'T');
    assert_int_equal(na[19], 'Z');
    assert_true(strcmp(str(a, "not_before"), na) < 0);
    assert_int_equal(json_array_size(json_object_get(p, "leaf_pins")), 0);
    assert_int_equal(json_object_size(json_object_get(p, "fields")), 0);
    json_decref(root);
}

/* An intermediate trusted as an anchor (partial chain) is reported as not self-signed. */
static void describe_partial_chain_anchor(void **state)
{
    char json[1024];
    const struct pki_case *c = find_case("int-anchor");
    pki_policy_json(json, sizeof(json), "require_and_verify", c->trust);
    json_t *root = describe(json);
    json_t *a = json_array_get(json_object_get(policy(root, 0), "trust_anchors"), 0);
    assert_string_equal(str(a, "subject"), "CN=Test Intermediate CA,O=libmtls tests");
    assert_string_equal(str(a, "issuer"), "CN=Test Root CA,O=libmtls tests");
    assert_true(json_is_false(json_object_get(a, "self_signed")));
    json_decref(root);
}

/* Caddy's default mode: require_and_verify with trust, off with nothing configured. */
static void describe_default_modes(void **state)
{
    char json[1024];
    const struct pki_case *c = find_case("basic");
    pki_policy_json(json, sizeof(json), NULL, c->trust);
    json_t *root = describe(json);
    assert_string_equal(str(policy(root, 0), "mode"), "require_and_verify");
    assert_true(json_is_false(json_object_get(policy(root, 0), "mode_explicit")));
    json_decref(root);
    root = describe("{}");
    assert_string_equal(str(policy(root, 0), "mode"), "off");
    assert_int_equal(json_array_size(json_object_get(policy(root, 0), "trust_anchors")), 0);
    json_decref(root);
}

static void describe_matchers_and_fields(void **state)
{
    json_t *root = describe(
        "[{\"match\":{\"sni\":[\"Example.COM\",\"*.x.test\"],"
        "\"remote_ip\":{\"ranges\":[\"10.1.2.3/8\",\"2001:db8::1\"],"
        "\"not_ranges\":[\"10.9.0.0/16\"]},"
        "\"local_ip\":{\"ranges\":[\"::ffff:127.0.0.1\"]}},"
        "\"protocol_min\":\"tls1.2\",\"alpn\":[\"h2\",\"http/1.1\"]},"
        "{}]");
    assert_int_equal(json_array_size(json_object_get(root, "policies")), 2);
    json_t *m = json_object_get(policy(root, 0), "match");
    json_t *sni = json_object_get(m, "sni");
    assert_int_equal(json_array_size(sni), 2);
    assert_string_equal(json_string_value(json_array_get(sni, 0)), "example.com");
    assert_string_equal(json_string_value(json_array_get(sni, 1)), "*.x.test");
    json_t *r = json_object_get(m, "remote_ip");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "ranges"), 0)),
                        "10.0.0.0/8");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "ranges"), 1)),
                        "2001:db8::1/128");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "not_ranges"), 0)),
                        "10.9.0.0/16");
    json_t *l = json_object_get(m, "local_ip");
    assert_string_equal(json_string_value(json_array_get(json_object_get(l, "ranges"), 0)),
                        "127.0.0.1/32");
    json_t *f = json_object_get(policy(root, 0), "fields");
    assert_string_equal(str(f, "protocol_min"), "tls1.2");
    json_t *alpn = json_object_get(f, "alpn");
    assert_int_equal(json_array_size(alpn), 2);
    assert_string_equal(json_string_value(json_array_get(alpn, 1)), "http/1.1");
    assert_null(json_object_get(f, "protocol_max"));
    /* the second policy has no matchers and no fields */
    assert_int_equal(json_object_size(json_object_get(policy(root, 1), "match")), 0);
    assert_int_equal(json_integer_value(json_object_get(policy(root, 1), "index")), 1);
    json_decref(root);
}

/* One pin list per leaf verifier (legacy trusted_leaf_certs is one more). */
static void describe_leaf_pins(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *p256 = find_case("p256");
    char json[4096], a_hex[65], p_hex[65];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require\",\"verifiers\":["
             "{\"verifier\":\"leaf\",\"leaf_certs_loaders\":[{\"loader\":\"file\","
             "\"files\":[\"%s\",\"%s\"]}]},"
             "{\"verifier\":\"leaf\",\"leaf_certs_loaders\":[{\"loader\":\"file\","
             "\"files\":[\"%s\"]}]}]}",
             alice->cert, p256->cert, alice->cert);
    json_t *root = describe(json);
    file_sha256(a_hex, "tutorial/alice.pem");
    file_sha256(p_hex, "p256.pem");
    json_t *lists = json_object_get(policy(root, 0), "leaf_pins");
    assert_int_equal(json_array_size(lists), 2);
    assert_int_equal(json_array_size(json_array_get(lists, 0)), 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(lists, 0), 0)), a_hex);
    assert_string_equal(json_string_value(json_array_get(json_array_get(lists, 0), 1)), p_hex);
    assert_int_equal(json_array_size(json_array_get(lists, 1)), 1);
    assert_string_equal(json_string_value(json_array_get(json_array_get(lists, 1), 0)), a_hex);
    assert_string_equal(str(policy(root, 0), "mode"), "require");
    json_decref(root);
}

/* pin_verdict: mtls_verify_der of the first certificate of PKI file `rel` alone. */
static int pin_verdict(const mtls_ctx *ctx, const char *rel)
{
    char path[512];
    uint8_t *ders[MAX_CHAIN];
    size_t lens[MAX_CHAIN];
    pki_path(path, sizeof(path), rel);
    size_t n = pki_read_chain(path, ders, lens, MAX_CHAIN);
    assert_true(n >= 1);
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)ders, lens, 1,
                                     MTLS_TIME_NOW, &peer, NULL),
                     MTLS_OK);
    int accepted = mtls_peer_accepted(peer);
    mtls_peer_free(peer);
    pki_free_ders(ders, n);
    return accepted;
}

/* Pins are kept as SHA-256 digests only: describe still lists every pin's hash in load
 * order, duplicates included, whatever loaded it (inline base64, pem loader, file), and the
 * verdicts are those of a byte comparison: the pinned leaf in, others out. */
static void describe_pins_kept_as_digests(void **state)
{
    char path[512], a_hex[65], p_hex[65];
    uint8_t *ders[MAX_CHAIN];
    size_t lens[MAX_CHAIN];
    pki_path(path, sizeof(path), "tutorial/alice.pem");
    size_t n = pki_read_chain(path, ders, lens, MAX_CHAIN);
    assert_true(n >= 1);
    char b64[8192];
    assert_true(4 * ((lens[0] + 2) / 3) < sizeof(b64));
    EVP_EncodeBlock((uint8_t *)b64, ders[0], lens[0]);
    pki_free_ders(ders, n);
    const struct pki_case *p256 = find_case("p256");
    static char json[32768];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require\",\"trusted_leaf_certs\":[\"%s\",\"%s\"],\"verifiers\":["
             "{\"verifier\":\"leaf\",\"leaf_certs_loaders\":[{\"loader\":\"pem\",\"certs\":["
             "\"-----BEGIN CERTIFICATE-----\\n%s\\n-----END CERTIFICATE-----\\n\"]},"
             "{\"loader\":\"file\",\"files\":[\"%s\"]}]}]}",
             b64, b64, b64, p256->cert);
    json_t *root = describe(json);
    file_sha256(a_hex, "tutorial/alice.pem");
    file_sha256(p_hex, "p256.pem");
    json_t *lists = json_object_get(policy(root, 0), "leaf_pins");
    assert_int_equal(json_array_size(lists), 2);
    json_t *l0 = json_array_get(lists, 0), *l1 = json_array_get(lists, 1);
    assert_int_equal(json_array_size(l0), 2);
    assert_string_equal(json_string_value(json_array_get(l0, 0)), a_hex);
    assert_string_equal(json_string_value(json_array_get(l0, 1)), a_hex);
    assert_int_equal(json_array_size(l1), 2);
    assert_string_equal(json_string_value(json_array_get(l1, 0)), a_hex);
    assert_string_equal(json_string_value(json_array_get(l1, 1)), p_hex);
    json_decref(root);
    mtls_ctx *ctx = pki_ctx(json);
    assert_true(pin_verdict(ctx, "tutorial/alice.pem"));  /* in both lists */
    assert_false(pin_verdict(ctx, "p256.pem"));           /* in the verifier's list only */
    assert_false(pin_verdict(ctx, "basic.pem"));          /* in none */
    mtls_ctx_free(ctx);
}

static void describe_argument_errors(void **state)
{
    mtls_ctx *ctx = pki_ctx("{}");
    char *text = (char *)"sentinel";
    mtls_error err;
    assert_int_equal(mtls_ctx_describe_json(NULL, &text, NULL, &err), MTLS_ERR_INVALID_ARGUMENT);
    assert_null(text);
    assert_int_equal(err.category, MTLS_CATEGORY_USAGE);
    assert_int_equal(mtls_ctx_describe_json(ctx, NULL, NULL, &err), MTLS_ERR_INVALID_ARGUMENT);
    /* out_len and err may be NULL */
    assert_int_equal(mtls_ctx_describe_json(ctx, &text, NULL, NULL), MTLS_OK);
    assert_non_null(strstr(text, "\"policies\""));
    mtls_free(text);
    mtls_free(NULL);
    mtls_ctx_free(ctx);
}

/* ---- verified path and certificate at fault ------------------------------------------ */

struct chain {
    uint8_t *ders[MAX_CHAIN];
    size_t lens[MAX_CHAIN];
    size_t n;
};

static void chain_add_file(struct chain *c, const char *path)
{
    c->n += pki_read_chain(path, c->ders + c->n, c->lens + c->n, MAX_CHAIN - c->n);
}

static void chain_add_pki(struct chain *c, const char *rel)
{
    char path[512];
    pki_path(path, sizeof(path), rel);
    chain_add_file(c, path);
}

static mtls_peer *judge(const char *mode, const char *trust, struct chain *c)
{
    char json[1024];
    pki_policy_json(json, sizeof(json), mode, trust);
    mtls_ctx *ctx = pki_ctx(json);
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)c->ders, c->lens, c->n,
                                     MTLS_TIME_NOW, &peer, NULL),
                     MTLS_OK);
    mtls_ctx_free(ctx); /* the peer does not need the ctx */
    return peer;
}

static mtls_peer *judge_case(const char *name, struct chain *c)
{
    const struct pki_case *k = find_case(name);
    chain_add_file(c, k->chain);
    return judge("require_and_verify", k->trust, c);
}

static void assert_chain_cert(const mtls_peer *peer, size_t i, const char *rel)
{
    struct chain want = {0};
    chain_add_pki(&want, rel);
    size_t len = 0;
    const uint8_t *der = mtls_peer_chain_cert(peer, i, &len);
    assert_non_null(der);
    assert_int_equal(len, want.lens[0]);
    assert_memory_equal(der, want.ders[0], len);
    pki_free_ders(want.ders, want.n);
}

static void chain_leaf_to_root_via_intermediate(void **state)
{
    struct chain c = {0};
    mtls_peer *peer = judge_case("via-int-sent", &c);
    assert_true(mtls_peer_verified(peer));
    assert_int_equal(mtls_peer_num_chain(peer), 3);
    assert_chain_cert(peer, 0, "via-int.pem");
    assert_chain_cert(peer, 1, "int-ca.pem");
    assert_chain_cert(peer, 2, "root-ca.pem");
    /* the leaf is the client's own buffer */
    assert_ptr_equal(mtls_peer_chain_cert(peer, 0, NULL), mtls_peer_cert(peer, 0, NULL));
    assert_null(mtls_peer_chain_cert(peer, 3, NULL));
    assert_int_equal(mtls_peer_error_depth(peer), -1);
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
}

/* The anchor the client did not send ends the chain; a partial-chain anchor ends it early. */
static void chain_ends_at_the_anchor(void **state)
{
    struct chain c = {0};
    mtls_peer *peer = judge_case("int-anchor-int-sent", &c);
    assert_true(mtls_peer_verified(peer));
    assert_int_equal(mtls_peer_num_chain(peer), 2);
    assert_chain_cert(peer, 0, "via-int.pem");
    assert_chain_cert(peer, 1, "int-ca.pem");
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
    struct chain l = {0};
    peer = judge_case("long-chain", &l);
    assert_int_equal(mtls_peer_num_chain(peer), 6);
    assert_chain_cert(peer, 5, "long-root.pem");
    assert_chain_cert(peer, 4, "long-int1.pem");
    mtls_peer_free(peer);
    pki_free_ders(l.ders, l.n);
}

static void chain_empty_unless_verified(void **state)
{
    const struct pki_case *basic = find_case("basic");
    struct chain c = {0};
    chain_add_file(&c, basic->chain);
    /* accepted but not verified */
    mtls_peer *peer = judge("request", basic->trust, &c);
    assert_true(mtls_peer_accepted(peer));
    assert_int_equal(mtls_peer_num_chain(peer), 0);
    assert_null(mtls_peer_chain_cert(peer, 0, NULL));
    assert_int_equal(mtls_peer_error_depth(peer), -1);
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
    /* refused */
    struct chain e = {0};
    peer = judge_case("expired", &e);
    assert_false(mtls_peer_accepted(peer));
    assert_int_equal(mtls_peer_num_chain(peer), 0);
    assert_int_equal(mtls_peer_error_depth(peer), 0);
    mtls_peer_free(peer);
    pki_free_ders(e.ders, e.n);
    /* NULL peer */
    assert_int_equal(mtls_peer_num_chain(NULL), 0);
    assert_null(mtls_peer_chain_cert(NULL, 0, NULL));
    assert_int_equal(mtls_peer_error_depth(NULL), -1);
}

/* A chain that verifies but whose leaf is not pinned is refused: no chain is shown. */
static void chain_empty_when_pin_refuses(void **state)
{
    const struct pki_case *alice = find_case("tutorial-v1");
    const struct pki_case *v3 = find_case("tutorial-v3");
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"trusted_ca_certs_pem_files\":[\"%s\"],\"verifiers\":[{\"verifier\":\"leaf\","
             "\"leaf_certs_loaders\":[{\"loader\":\"file\",\"files\":[\"%s\"]}]}]}",
             alice->trust, alice->cert);
    struct chain c = {0};
    chain_add_file(&c, v3->chain);
    mtls_ctx *ctx = pki_ctx(json);
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)c.ders, c.lens, c.n,
                                     MTLS_TIME_NOW, &peer, NULL),
                     MTLS_OK);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_LEAF_NOT_PINNED);
    assert_int_equal(mtls_peer_num_chain(peer), 0);
    assert_int_equal(mtls_peer_error_depth(peer), 0);
    mtls_peer_free(peer);
    mtls_ctx_free(ctx);
    pki_free_ders(c.ders, c.n);
}

static void error_depth_points_into_presented_chain(void **state)
{
    /* the intermediate the client sent lacks CA:TRUE */
    struct chain c = {0};
    mtls_peer *peer = judge_case("by-cafalse-int", &c);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_ISSUER_NOT_CA);
    assert_int_equal(mtls_peer_error_depth(peer), 1);
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
    /* the same with an unrelated certificate sent in between: still the presented index */
    struct chain d = {0};
    const struct pki_case *k = find_case("by-cafalse-int");
    chain_add_pki(&d, "by-cafalse.pem");
    chain_add_pki(&d, "other-ca.pem");
    chain_add_pki(&d, "issuer-cafalse.pem");
    peer = judge("require_and_verify", k->trust, &d);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_ISSUER_NOT_CA);
    assert_int_equal(mtls_peer_error_depth(peer), 2);
    mtls_peer_free(peer);
    pki_free_ders(d.ders, d.n);
}

/* The certificate at fault is the trust anchor, which the client did not send: -1, and the
 * message names the anchor. */
static void error_depth_anchor_not_presented(void **state)
{
    struct chain c = {0};
    mtls_peer *peer = judge_case("by-cafalse-anchor", &c);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_ISSUER_NOT_CA);
    assert_int_equal(mtls_peer_error_depth(peer), -1);
    assert_non_null(strstr(mtls_peer_message(peer), "Issuer with CA FALSE"));
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
}

static void error_depth_other_refusals(void **state)
{
    static const struct {
        const char *name;
        int reason;
        int depth;
    } want[] = {
        {"untrusted-ca", MTLS_ERR_UNKNOWN_ISSUER, 0},
        {"via-int-not-sent", MTLS_ERR_UNKNOWN_ISSUER, 0},
        {"eku-server", MTLS_ERR_WRONG_EKU, 0},
        {"not-yet-valid", MTLS_ERR_CERT_NOT_YET_VALID, 0},
        {"by-v1-int-sent", MTLS_ERR_ISSUER_NOT_CA, 1},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct chain c = {0};
        mtls_peer *peer = judge_case(want[i].name, &c);
        if (mtls_peer_reason(peer) != want[i].reason ||
            mtls_peer_error_depth(peer) != want[i].depth) {
            fprintf(stderr, "%s: reason %d depth %d\n", want[i].name, mtls_peer_reason(peer),
                    mtls_peer_error_depth(peer));
        }
        assert_int_equal(mtls_peer_reason(peer), want[i].reason);
        assert_int_equal(mtls_peer_error_depth(peer), want[i].depth);
        mtls_peer_free(peer);
        pki_free_ders(c.ders, c.n);
    }
}

/* An unparsable second certificate is at fault at index 1; no certificate at all: -1. */
static void error_depth_parse_and_no_certificate(void **state)
{
    const struct pki_case *basic = find_case("basic");
    struct chain c = {0};
    chain_add_file(&c, basic->chain);
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    c.ders[c.n] = OPENSSL_malloc(sizeof(junk));
    assert_non_null(c.ders[c.n]);
    memcpy(c.ders[c.n], junk, sizeof(junk));
    c.lens[c.n++] = sizeof(junk);
    mtls_peer *peer = judge("require_and_verify", basic->trust, &c);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_CERT_PARSE);
    assert_int_equal(mtls_peer_error_depth(peer), 1);
    mtls_peer_free(peer);
    pki_free_ders(c.ders, c.n);
    struct chain none = {0};
    peer = judge("require_and_verify", basic->trust, &none);
    assert_int_equal(mtls_peer_reason(peer), MTLS_ERR_NO_CERTIFICATE);
    assert_int_equal(mtls_peer_error_depth(peer), -1);
    mtls_peer_free(peer);
}

static int setup(void **state)
{
    num_cases = pki_load(cases, MAX_CASES);
    return num_cases > 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(describe_anchor_fields),
        cmocka_unit_test(describe_partial_chain_anchor),
        cmocka_unit_test(describe_default_modes),
        cmocka_unit_test(describe_matchers_and_fields),
        cmocka_unit_test(describe_leaf_pins),
        cmocka_unit_test(describe_pins_kept_as_digests),
        cmocka_unit_test(describe_argument_errors),
        cmocka_unit_test(chain_leaf_to_root_via_intermediate),
        cmocka_unit_test(chain_ends_at_the_anchor),
        cmocka_unit_test(chain_empty_unless_verified),
        cmocka_unit_test(chain_empty_when_pin_refuses),
        cmocka_unit_test(error_depth_points_into_presented_chain),
        cmocka_unit_test(error_depth_anchor_not_presented),
        cmocka_unit_test(error_depth_other_refusals),
        cmocka_unit_test(error_depth_parse_and_no_certificate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
