/*
 * test_verify_paths.c - path building and name constraints the Go way (verify/pathbuild.c,
 * verify/nameconstraints.c), on certificates made in memory: backtracking past a dead end
 * BoringSSL takes, IP-address name constraints (BoringSSL reports them unsupported), Go's
 * rule that constraints bind SANs and not the CN, excluded names hidden behind a wildcard,
 * critical constraints of a type Go does not handle, and bounded work on hostile chains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testcompat.h"
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mtls/mtls.h>

#define DAY 86400L

static EVP_PKEY *new_key(void)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EVP_PKEY *key = EVP_PKEY_new();
    assert_true(ec != NULL && key != NULL && EC_KEY_generate_key(ec) &&
                EVP_PKEY_assign_EC_KEY(key, ec));
    return key;
}

/* A certificate for `cn` with `key`, signed by `issuer`/`issuer_key` (NULL: self-signed),
 * valid from `from` to `to` days around now, with extensions "nid=value" (NULL-ended). */
static X509 *make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long from,
                  long to, const char *const *exts)
{
    static long serial = 1000;
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from * DAY);
    X509_gmtime_adj(X509_getm_notAfter(x), to * DAY);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const uint8_t *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    /* Key identifiers, so that BoringSSL tells a CA's key rollover from a self-signed one. */
    const char *ids[] = {"subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid:always"};
    for (size_t i = 0; i < 2 + (exts ? 64 : 0); i++) {
        const char *ext = i < 2 ? ids[i] : exts[i - 2];
        if (ext == NULL) {
            break;
        }
        const char *eq = strchr(ext, '=');
        char name[64];
        assert_true(eq != NULL && (size_t)(eq - ext) < sizeof(name));
        memcpy(name, ext, (size_t)(eq - ext));
        name[eq - ext] = '\0';
        X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &v3, OBJ_txt2nid(name), eq + 1);
        assert_non_null(e);
        assert_true(X509_add_ext(x, e, -1));
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static const char *const ca_exts[] = {"basicConstraints=critical,CA:TRUE",
                                      "keyUsage=critical,keyCertSign", NULL};

/* Verifies `chain` (leaf first) against the single anchor `anchor` now. */
static mtls_peer *judge(X509 *anchor, X509 *const *chain, size_t n)
{
    uint8_t *der = NULL;
    int len = i2d_X509(anchor, &der);
    assert_true(len > 0);
    char *b64 = test_b64_encode(der, (size_t)len);
    assert_non_null(b64);
    size_t b64_len = strlen(b64) + 1;
    OPENSSL_free(der);
    size_t cap = b64_len + 128;
    char *json = malloc(cap);
    assert_non_null(json);
    snprintf(json, cap, "{\"mode\":\"require_and_verify\",\"trusted_ca_certs\":[\"%s\"]}", b64);
    free(b64);
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, strlen(json), NULL, &err);
    free(json);
    assert_non_null(ctx);
    uint8_t *ders[80];
    size_t lens[80];
    assert_true(n <= 80);
    for (size_t i = 0; i < n; i++) {
        ders[i] = NULL;
        int l = i2d_X509(chain[i], &ders[i]);
        assert_true(l > 0);
        lens[i] = (size_t)l;
    }
    mtls_peer *peer = NULL;
    assert_int_equal(mtls_verify_der(ctx, 0, (const uint8_t *const *)ders, lens, n,
                                     MTLS_TIME_NOW, &peer, &err),
                     MTLS_OK);
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(ders[i]);
    }
    mtls_ctx_free(ctx);
    return peer;
}

static void expect(X509 *anchor, X509 *const *chain, size_t n, int reason)
{
    mtls_peer *peer = judge(anchor, chain, n);
    if (mtls_peer_reason(peer) != reason) {
        fprintf(stderr, "want %s, got: %s\n", mtls_strerror(reason), mtls_peer_message(peer));
    }
    assert_int_equal(mtls_peer_reason(peer), reason);
    mtls_peer_free(peer);
}

/* A root with `constraint` (a nameConstraints value) and a leaf with `san` (or none). */
static void nc_case(const char *constraint, const char *cn, const char *san, int reason)
{
    EVP_PKEY *rk = new_key(), *lk = new_key();
    char nc[256];
    snprintf(nc, sizeof(nc), "nameConstraints=%s", constraint);
    const char *root_exts[] = {ca_exts[0], ca_exts[1], nc, NULL};
    X509 *root = make("constrained root", rk, NULL, NULL, -1, 30, root_exts);
    char sanext[256];
    snprintf(sanext, sizeof(sanext), "subjectAltName=%s", san ? san : "");
    const char *leaf_exts[] = {"extendedKeyUsage=clientAuth", san ? sanext : NULL, NULL};
    X509 *leaf = make(cn, lk, root, rk, -1, 10, leaf_exts);
    expect(root, &leaf, 1, reason);
    X509_free(root);
    X509_free(leaf);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(lk);
}

/* IP-address constraints, which BoringSSL reports as unsupported, are checked as Go does. */
static void ip_name_constraints(void **state)
{
    (void)state;
    nc_case("critical,permitted;IP:127.0.0.0/255.255.255.0", "ip", "IP:127.0.0.1", MTLS_OK);
    nc_case("critical,permitted;IP:127.0.0.0/255.255.255.0", "ip", "IP:1.1.1.1",
            MTLS_ERR_NAME_CONSTRAINTS);
    nc_case("critical,excluded;IP:127.0.0.0/255.255.255.0", "ip", "IP:127.0.0.1",
            MTLS_ERR_NAME_CONSTRAINTS);
    nc_case("critical,excluded;IP:127.0.0.0/255.255.255.0", "ip", "IP:1.1.1.1", MTLS_OK);
    /* An IPv6 name is in no IPv4 range: with only IPv4 ranges permitted, it is refused;
     * with only IPv4 ranges excluded, it passes (Go compares lengths first). */
    nc_case("critical,permitted;IP:127.0.0.0/255.255.255.0", "ip", "IP:::1",
            MTLS_ERR_NAME_CONSTRAINTS);
    nc_case("critical,excluded;IP:0.0.0.0/0.0.0.0", "ip", "IP:::1", MTLS_OK);
}

/* Constraints bind the SANs of the leaf, never its CN (Go ignores the CN since 1.15). */
static void dns_name_constraints(void **state)
{
    (void)state;
    const char *perm = "critical,permitted;DNS:example.com";
    nc_case(perm, "bad.test", "DNS:a.example.com", MTLS_OK);
    nc_case(perm, "a.example.com", "DNS:bad.test", MTLS_ERR_NAME_CONSTRAINTS);
    nc_case(perm, "bad.test", NULL, MTLS_OK); /* no SAN: nothing to check */
    nc_case(perm, "x", "email:alice@bad.test", MTLS_OK); /* other name types are free */
    nc_case("critical,excluded;DNS:bar.example.com", "x", "DNS:*.example.com",
            MTLS_ERR_NAME_CONSTRAINTS); /* the wildcard may stand for bar */
    nc_case("critical,excluded;DNS:a.bar.example.com", "x", "DNS:*.example.com", MTLS_OK);
    nc_case("critical,permitted;email:example.com", "x", "email:alice@example.com", MTLS_OK);
    nc_case("critical,permitted;email:example.com", "x", "email:alice@bad.test",
            MTLS_ERR_NAME_CONSTRAINTS);
}

/* Go refuses a CA whose critical constraints have a type it does not handle (here a
 * directoryName, permitted CN=x); the same extension non-critical is ignored. */
static void unhandled_constraint_type(void **state)
{
    (void)state;
    static const uint8_t dn_nc[] = {0x30, 0x14, 0xa0, 0x12, 0x30, 0x10, 0xa4, 0x0e,
                                    0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03,
                                    0x55, 0x04, 0x03, 0x0c, 0x01, 0x78};
    for (int critical = 1; critical >= 0; critical--) {
        EVP_PKEY *rk = new_key(), *lk = new_key();
        X509 *root = make("root", rk, NULL, NULL, -1, 30, ca_exts);
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        assert_true(v != NULL && ASN1_OCTET_STRING_set(v, dn_nc, sizeof(dn_nc)));
        X509_EXTENSION *e = X509_EXTENSION_create_by_NID(NULL, NID_name_constraints, critical, v);
        assert_true(e != NULL && X509_add_ext(root, e, -1));
        assert_true(X509_sign(root, rk, EVP_sha256()) > 0);
        const char *leaf_exts[] = {"subjectAltName=DNS:a.example.com", NULL};
        X509 *leaf = make("x", lk, root, rk, -1, 10, leaf_exts);
        expect(root, &leaf, 1, critical ? MTLS_ERR_UNHANDLED_CRITICAL : MTLS_OK);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(v);
        X509_free(root);
        X509_free(leaf);
        EVP_PKEY_free(rk);
        EVP_PKEY_free(lk);
    }
}

/* The client sends a copy of its intermediate restricted to serverAuth before the good
 * one: BoringSSL builds through the first (it does not check EKU) and the Go rules refuse
 * that path; path building finds the second (BetterTLS pathbuilding). */
static void backtracks_past_dead_end(void **state)
{
    (void)state;
    EVP_PKEY *rk = new_key(), *ik = new_key(), *lk = new_key();
    X509 *root = make("root", rk, NULL, NULL, -1, 30, ca_exts);
    const char *server_only[] = {ca_exts[0], ca_exts[1], "extendedKeyUsage=serverAuth", NULL};
    X509 *stale = make("intermediate", ik, root, rk, -1, 30, server_only);
    X509 *fresh = make("intermediate", ik, root, rk, -1, 30, ca_exts);
    X509 *leaf = make("client", lk, fresh, ik, -1, 10, NULL);
    X509 *both[] = {leaf, stale, fresh};
    mtls_peer *peer = judge(root, both, 3);
    assert_true(mtls_peer_accepted(peer));
    assert_int_equal(mtls_peer_num_chain(peer), 3);
    size_t len;
    const uint8_t *mid = mtls_peer_chain_cert(peer, 1, &len);
    uint8_t *want = NULL;
    assert_int_equal((int)len, i2d_X509(fresh, &want));
    assert_memory_equal(mid, want, len);
    OPENSSL_free(want);
    mtls_peer_free(peer);
    /* Only the dead end: refused, with the reason found on BoringSSL's path. */
    X509 *dead[] = {leaf, stale};
    expect(root, dead, 2, MTLS_ERR_WRONG_EKU);
    X509 *objs[] = {root, stale, fresh, leaf};
    for (size_t i = 0; i < 4; i++) {
        X509_free(objs[i]);
    }
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
}

/* Go counts every intermediate against pathLenConstraint, self-issued ones too; BoringSSL
 * (and RFC 5280) skip the self-issued one and accept this chain. */
static void go_path_length_counts_self_issued(void **state)
{
    (void)state;
    EVP_PKEY *rk = new_key(), *ik = new_key(), *ik2 = new_key(), *lk = new_key();
    const char *root_exts[] = {"basicConstraints=critical,CA:TRUE,pathlen:1",
                               "keyUsage=critical,keyCertSign", NULL};
    X509 *root = make("root", rk, NULL, NULL, -1, 30, root_exts);
    X509 *inter = make("intermediate", ik, root, rk, -1, 30, ca_exts);
    X509 *rollover = make("intermediate", ik2, inter, ik, -1, 30, ca_exts); /* self-issued */
    X509 *leaf = make("client", lk, rollover, ik2, -1, 10, NULL);
    X509 *chain[] = {leaf, rollover, inter};
    expect(root, chain, 3, MTLS_ERR_PATH_LENGTH);
    X509 *objs[] = {root, inter, rollover, leaf};
    for (size_t i = 0; i < 4; i++) {
        X509_free(objs[i]);
    }
    EVP_PKEY *keys[] = {rk, ik, ik2, lk};
    for (size_t i = 0; i < 4; i++) {
        EVP_PKEY_free(keys[i]);
    }
}

/* 63 intermediates that all claim to be the leaf's issuer but are signed by strangers:
 * refused, and the signature budget keeps it quick. */
static void hostile_candidates_bounded(void **state)
{
    (void)state;
    EVP_PKEY *rk = new_key(), *ik = new_key(), *lk = new_key();
    X509 *root = make("root", rk, NULL, NULL, -1, 30, ca_exts);
    X509 *chain[64];
    X509 *issuer = make("decoy", ik, root, rk, -1, 30, ca_exts);
    chain[0] = make("client", lk, issuer, ik, -1, 10, NULL);
    for (size_t i = 1; i < 64; i++) {
        EVP_PKEY *k = new_key();
        chain[i] = make("decoy", k, NULL, NULL, -1, 30, ca_exts);
        EVP_PKEY_free(k);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mtls_peer *peer = judge(root, chain, 64);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_false(mtls_peer_accepted(peer));
    mtls_peer_free(peer);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "64 hostile certificates judged in %.3f s\n", secs);
    assert_true(secs < 5.0);
    X509_free(issuer);
    X509_free(root);
    for (size_t i = 0; i < 64; i++) {
        X509_free(chain[i]);
    }
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ip_name_constraints),
        cmocka_unit_test(dns_name_constraints),
        cmocka_unit_test(unhandled_constraint_type),
        cmocka_unit_test(backtracks_past_dead_end),
        cmocka_unit_test(go_path_length_counts_self_issued),
        cmocka_unit_test(hostile_candidates_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
