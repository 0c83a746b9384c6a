/*
 * gen_conformance.c - writes the conformance table every binding checks (README.md here):
 * each test-PKI case (MTLS_PKI_DIR's manifest.tsv) and "no certificate" under every mode,
 * plus multi-policy, leaf-pin and unparsable-certificate cases, with libmtls's verdict and
 * identity. The verdicts are not taken on trust from libmtls: each case's expected
 * accept/reason comes from the manifest (as test_tls_handshake.c's expected() reads it) or
 * from the rule the case was written for, and the generator fails naming the case when
 * libmtls disagrees. SAN list lengths are cross-checked against the TLS library's own parse.
 *
 * Usage: gen_conformance OUTPUT.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mtls/mtls.h>

#include "conformance.h"
#include "testpki.h"

#define MAX_CASES 128

static struct pki_case cases[MAX_CASES];
static size_t num_cases;
static json_t *out_cases;
static int64_t gen_at;
static int failures;

struct chain {
    uint8_t *ders[CONF_MAX_CHAIN];
    size_t lens[CONF_MAX_CHAIN];
    size_t n;
};

/* What a case must give, decided without asking libmtls. */
struct want {
    int accept;
    int reason;
    int mode; /* mtls_mode after Caddy's defaults */
    int verifies;
};

static void fail(const char *name, const char *what)
{
    fprintf(stderr, "gen_conformance: case %s: %s\n", name, what);
    failures++;
}

static void read_chain(struct chain *c, const char *path)
{
    c->n = pki_read_chain(path, c->ders, c->lens, CONF_MAX_CHAIN);
    if (c->n == 0) {
        fprintf(stderr, "gen_conformance: no certificate in %s\n", path);
        exit(1);
    }
}

static void free_chain(struct chain *c)
{
    pki_free_ders(c->ders, c->n);
    c->n = 0;
}

static json_t *b64_string(const uint8_t *p, size_t n)
{
    char *b = conf_b64(p, n);
    if (b == NULL) {
        fprintf(stderr, "gen_conformance: out of memory\n");
        exit(1);
    }
    json_t *s = json_string(b);
    free(b);
    return s;
}

static json_t *b64_array(const struct chain *c)
{
    json_t *a = json_array();
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        json_array_append_new(a, b64_string(c->ders[i], c->lens[i]));
    }
    return a;
}

/* The trust anchors of `path` inline: "trusted_ca_certs": [base64 DER, ...]. */
static json_t *inline_cas(const char *path)
{
    struct chain t = {0};
    read_chain(&t, path);
    json_t *a = b64_array(&t);
    free_chain(&t);
    return a;
}

static const char *const mode_names[] = {"off", "request", "require", "verify_if_given",
                                         "require_and_verify"};

static int mode_value(const char *mode)
{
    for (int i = 1; mode != NULL && i < 5; i++) {
        if (strcmp(mode, mode_names[i]) == 0) {
            return i;
        }
    }
    return MTLS_MODE_REQUIRE_AND_VERIFY; /* absent, with a CA: Caddy's default */
}

/* test_tls_handshake.c's expected(): `c` NULL is "no certificate", `mode` NULL absent. */
static struct want expected(const char *mode, const struct pki_case *c)
{
    struct want w = {0};
    w.mode = mode_value(mode);
    w.verifies = mode == NULL || strcmp(mode, "verify_if_given") == 0 ||
                 strcmp(mode, "require_and_verify") == 0;
    int requires = mode == NULL || strcmp(mode, "require") == 0 ||
                   strcmp(mode, "require_and_verify") == 0;
    if (c == NULL) {
        w.accept = !requires;
        w.reason = requires ? MTLS_ERR_NO_CERTIFICATE : MTLS_OK;
    } else if (w.verifies) {
        w.accept = c->accept;
        w.reason = pki_reason_code(c->reason);
    } else {
        w.accept = 1;
        w.reason = MTLS_OK;
    }
    return w;
}

static struct want fixed(int mode, int verifies, int accept, int reason)
{
    struct want w = {accept, reason, mode, verifies};
    return w;
}

/* Number of subjectAltName entries of GENERAL_NAME `type` in leaf DER (the TLS library's
 * view: BoringSSL or OpenSSL). */
static size_t san_count(const uint8_t *der, size_t len, int type)
{
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL) {
        return 0;
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    /* sk_*_num: size_t in BoringSSL, int (-1 for NULL) in OpenSSL */
    size_t n = 0, num = names != NULL ? (size_t)sk_GENERAL_NAME_num(names) : 0;
    for (size_t i = 0; i < num; i++) {
        n += sk_GENERAL_NAME_value(names, (int)i)->type == type;
    }
    GENERAL_NAMES_free(names);
    X509_free(x);
    return n;
}

static int add_identity(void *user, const char *name, const char *value, size_t len)
{
    json_object_set_new((json_t *)user, name, b64_string((const uint8_t *)value, len));
    return 0;
}

/* Checks the identity's SAN lists against the TLS library's parse of the leaf. */
static void check_san_counts(const char *name, const struct chain *c, const size_t counts[4])
{
    static const int types[4] = {GEN_DNS, GEN_EMAIL, GEN_IPADD, GEN_URI};
    for (size_t l = 0; l < 4; l++) {
        size_t want = c != NULL && c->n > 0 ? san_count(c->ders[0], c->lens[0], types[l]) : 0;
        if (counts[l] != want) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s has %zu .N forms, the leaf %zu entries",
                     conf_san_lists[l], counts[l], want);
            fail(name, msg);
        }
    }
}

/* Compares libmtls's verdict with `w`; records a failure naming the case. */
static void check_verdict(const char *name, mtls_peer *peer, const struct chain *c,
                          struct want w)
{
    char msg[512];
    int has = c != NULL && c->n > 0;
    int verified = w.accept && has && w.verifies;
    if (mtls_peer_accepted(peer) != w.accept || mtls_peer_reason(peer) != w.reason) {
        snprintf(msg, sizeof(msg), "libmtls says %s/%s (%s), expected %s/%s",
                 mtls_peer_accepted(peer) ? "accept" : "refuse",
                 mtls_error_name(mtls_peer_reason(peer)), mtls_peer_message(peer),
                 w.accept ? "accept" : "refuse", mtls_error_name(w.reason));
        fail(name, msg);
    }
    if (mtls_peer_mode(peer) != w.mode || mtls_peer_has_certificate(peer) != has ||
        mtls_peer_verified(peer) != verified || (mtls_peer_num_chain(peer) > 0) != verified) {
        snprintf(msg, sizeof(msg), "mode %d has_certificate %d verified %d num_chain %zu, "
                 "expected mode %d has_certificate %d verified %d",
                 mtls_peer_mode(peer), mtls_peer_has_certificate(peer),
                 mtls_peer_verified(peer), mtls_peer_num_chain(peer), w.mode, has, verified);
        fail(name, msg);
    }
}

static json_t *expect_json(const char *name, mtls_peer *peer, const struct chain *c)
{
    json_t *e = json_object();
    int reason = mtls_peer_reason(peer);
    const char *message = mtls_peer_message(peer);
    json_t *m = json_stringn(message, strlen(message));
    if (m == NULL) {
        fail(name, "message is not UTF-8 (the table format needs it as a JSON string)");
        m = json_string("");
    }
    json_object_set_new(e, "accepted", json_boolean(mtls_peer_accepted(peer)));
    json_object_set_new(e, "verified", json_boolean(mtls_peer_verified(peer)));
    json_object_set_new(e, "has_certificate", json_boolean(mtls_peer_has_certificate(peer)));
    json_object_set_new(e, "reason", json_string(mtls_error_name(reason)));
    json_object_set_new(e, "reason_code", json_integer(reason));
    json_object_set_new(e, "category", json_integer(mtls_category_of(reason)));
    json_object_set_new(e, "message", m);
    json_object_set_new(e, "mode", json_integer(mtls_peer_mode(peer)));
    json_object_set_new(e, "num_chain", json_integer((json_int_t)mtls_peer_num_chain(peer)));
    json_t *id = json_object();
    size_t counts[4];
    conf_identity(peer, add_identity, id, counts);
    check_san_counts(name, c, counts);
    json_object_set_new(e, "identity_b64", id);
    return e;
}

/* Optional "select": connections and the policy index mtls_ctx_select must pick (-1: none). */
struct selection {
    const char *sni, *remote_ip, *local_ip;
    int index;
};

static json_t *select_json(const char *name, const mtls_ctx *ctx, const struct selection *s,
                           size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t idx = 0;
        mtls_status st = mtls_ctx_select(ctx, s[i].sni, s[i].remote_ip, s[i].local_ip, &idx, NULL);
        int got = st == MTLS_OK ? (int)idx : -1;
        if (got != s[i].index) {
            char msg[256];
            snprintf(msg, sizeof(msg), "select(%s, %s) gives %d, expected %d",
                     s[i].sni ? s[i].sni : "NULL", s[i].remote_ip ? s[i].remote_ip : "NULL",
                     got, s[i].index);
            fail(name, msg);
        }
        json_t *o = json_object();
        json_object_set_new(o, "sni", s[i].sni ? json_string(s[i].sni) : json_null());
        json_object_set_new(o, "remote_ip",
                            s[i].remote_ip ? json_string(s[i].remote_ip) : json_null());
        json_object_set_new(o, "local_ip",
                            s[i].local_ip ? json_string(s[i].local_ip) : json_null());
        json_object_set_new(o, "index", json_integer(s[i].index));
        json_array_append_new(a, o);
    }
    return a;
}

struct spec {
    const char *name;
    const char *cert;  /* manifest name, "(none)" or "(garbage)" */
    json_t *policy;    /* taken */
    size_t index;
    const struct chain *chain; /* NULL: no certificate */
    struct want want;
    const struct selection *sel;
    size_t num_sel;
};

static void emit(struct spec s)
{
    char *text = json_dumps(s.policy, JSON_COMPACT);
    json_decref(s.policy);
    mtls_error err = {0};
    mtls_ctx *ctx = mtls_ctx_new_from_json(text, strlen(text), NULL, &err);
    if (ctx == NULL) {
        fail(s.name, err.message);
        free(text);
        return;
    }
    size_t n = s.chain != NULL ? s.chain->n : 0;
    mtls_peer *peer = NULL;
    if (mtls_verify_der(ctx, s.index, n ? (const uint8_t *const *)s.chain->ders : NULL,
                        n ? s.chain->lens : NULL, n, gen_at, &peer, &err) != MTLS_OK) {
        fail(s.name, err.message);
        mtls_ctx_free(ctx);
        free(text);
        return;
    }
    check_verdict(s.name, peer, s.chain, s.want);
    char *pem = n ? conf_pem((const uint8_t *const *)s.chain->ders, s.chain->lens, n) : NULL;
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(s.name));
    json_object_set_new(c, "cert", json_string(s.cert));
    json_object_set_new(c, "policy", json_string(text));
    json_object_set_new(c, "policy_index", json_integer((json_int_t)s.index));
    json_object_set_new(c, "chain_der_b64", b64_array(s.chain));
    json_object_set_new(c, "chain_pem", json_string(pem != NULL ? pem : ""));
    json_object_set_new(c, "at", json_integer(gen_at));
    if (s.num_sel > 0) {
        json_object_set_new(c, "select", select_json(s.name, ctx, s.sel, s.num_sel));
    }
    json_object_set_new(c, "expect", expect_json(s.name, peer, s.chain));
    json_array_append_new(out_cases, c);
    free(pem);
    mtls_peer_free(peer);
    mtls_ctx_free(ctx);
    free(text);
}

static json_t *simple_policy(const char *mode, const char *trust)
{
    json_t *p = json_object();
    if (mode != NULL) {
        json_object_set_new(p, "mode", json_string(mode));
    }
    json_object_set_new(p, "trusted_ca_certs", inline_cas(trust));
    return p;
}

/* Every manifest case and "no certificate", under every mode and mode absent. */
static void mode_matrix(void)
{
    const char *modes[] = {NULL, "request", "require", "verify_if_given", "require_and_verify"};
    for (size_t m = 0; m < 5; m++) {
        for (size_t i = 0; i <= num_cases; i++) {
            const struct pki_case *c = i < num_cases ? &cases[i] : NULL;
            struct chain ch = {0};
            if (c != NULL) {
                read_chain(&ch, c->chain);
            }
            char name[128];
            snprintf(name, sizeof(name), "%.63s/%.40s", c ? c->name : "none",
                     conf_mode_name(modes[m]));
            emit((struct spec){name, c ? c->name : "(none)",
                               simple_policy(modes[m], c ? c->trust : cases[0].trust), 0,
                               c ? &ch : NULL, expected(modes[m], c), NULL, 0});
            free_chain(&ch);
        }
    }
}

/* A whole Caddy config, one server, two connection policies chosen by SNI / remote IP. */
static json_t *multi_config(void)
{
    const struct pki_case *basic = pki_find(cases, num_cases, "basic");
    json_t *p0 = json_pack("{s:{s:[s]},s:{s:s}}", "match", "sni", "a.example",
                           "client_authentication", "mode", "request");
    json_t *p1 = json_pack("{s:{s:[s],s:{s:[s]}},s:{s:s,s:o}}", "match", "sni", "B.Example",
                           "remote_ip", "ranges", "127.0.0.0/8", "client_authentication",
                           "mode", "require_and_verify", "trusted_ca_certs",
                           inline_cas(basic->trust));
    return json_pack("{s:{s:{s:{s:{s:[s],s:[o,o]}}}}}", "apps", "http", "servers", "srv0",
                     "listen", ":443", "tls_connection_policies", p0, p1);
}

static void multi_policy(void)
{
    static const struct selection sel[] = {
        {"a.example", "192.0.2.1", NULL, 0},
        {"b.example", "127.0.0.1", "127.0.0.1", 1},
        {"B.EXAMPLE", "127.0.0.2", NULL, 1},
        {"b.example", "192.0.2.1", NULL, -1},
        {"c.example", "127.0.0.1", NULL, -1},
        {NULL, NULL, NULL, -1},
    };
    const char *names[] = {"basic", "expired", "eku-server", "via-int-sent",
                           "via-int-not-sent", "san", NULL};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct pki_case *c = names[i] ? pki_find(cases, num_cases, names[i]) : NULL;
        struct chain ch = {0};
        if (c != NULL) {
            read_chain(&ch, c->chain);
        }
        char name[128];
        snprintf(name, sizeof(name), "multi/%s@1", c ? c->name : "none");
        emit((struct spec){name, c ? c->name : "(none)", multi_config(), 1, c ? &ch : NULL,
                           expected("require_and_verify", c), sel,
                           i == 0 ? sizeof(sel) / sizeof(sel[0]) : 0});
        snprintf(name, sizeof(name), "multi/%s@0", c ? c->name : "none");
        emit((struct spec){name, c ? c->name : "(none)", multi_config(), 0, c ? &ch : NULL,
                           expected("request", c), NULL, 0});
        free_chain(&ch);
    }
}

/* Leaf pins: the `leaf` verifier with an inline PEM loader, and legacy trusted_leaf_certs. */
static void leaf_pins(void)
{
    const struct pki_case *alice = pki_find(cases, num_cases, "tutorial-v1");
    const struct pki_case *v3 = pki_find(cases, num_cases, "tutorial-v3");
    const struct pki_case *other = pki_find(cases, num_cases, "p256");
    struct chain leaf = {0}, a = {0}, b = {0}, o = {0};
    read_chain(&leaf, alice->cert);
    read_chain(&a, alice->chain);
    read_chain(&b, v3->chain);
    read_chain(&o, other->chain);
    char *pem = conf_pem((const uint8_t *const *)leaf.ders, leaf.lens, 1);
    const int REQ = MTLS_MODE_REQUIRE, RQ = MTLS_MODE_REQUEST, RAV = MTLS_MODE_REQUIRE_AND_VERIFY;
#define PINNED(mode) \
    json_pack("{s:s,s:[{s:s,s:[{s:s,s:[s]}]}]}", "mode", mode, "verifiers", "verifier", \
              "leaf", "leaf_certs_loaders", "loader", "pem", "certificates", pem)
    emit((struct spec){"pin/tutorial-v1/require", alice->name, PINNED("require"), 0, &a,
                       fixed(REQ, 0, 1, MTLS_OK), NULL, 0});
    emit((struct spec){"pin/p256/require", other->name, PINNED("require"), 0, &o,
                       fixed(REQ, 0, 0, MTLS_ERR_LEAF_NOT_PINNED), NULL, 0});
    emit((struct spec){"pin/none/require", "(none)", PINNED("require"), 0, NULL,
                       fixed(REQ, 0, 0, MTLS_ERR_NO_CERTIFICATE), NULL, 0});
    /* Caddy runs the leaf verifier even without a certificate: request + pins refuses. */
    emit((struct spec){"pin/none/request", "(none)", PINNED("request"), 0, NULL,
                       fixed(RQ, 0, 0, MTLS_ERR_LEAF_NOT_PINNED), NULL, 0});
#undef PINNED
    /* Pins and a CA together (mode absent): the chain must verify AND the leaf be pinned. */
    json_t *both = json_pack("{s:o,s:[o]}", "trusted_ca_certs", inline_cas(alice->trust),
                             "trusted_leaf_certs", b64_string(leaf.ders[0], leaf.lens[0]));
    emit((struct spec){"pin+ca/tutorial-v1/absent", alice->name, json_deep_copy(both), 0, &a,
                       fixed(RAV, 1, 1, MTLS_OK), NULL, 0});
    emit((struct spec){"pin+ca/tutorial-v3/absent", v3->name, both, 0, &b,
                       fixed(RAV, 1, 0, MTLS_ERR_LEAF_NOT_PINNED), NULL, 0});
    free(pem);
    free_chain(&leaf);
    free_chain(&a);
    free_chain(&b);
    free_chain(&o);
}

/* A "certificate" no X.509 parser accepts: refused in every mode, no identity renders. */
static void garbage(void)
{
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    struct chain ch = {{(uint8_t *)junk}, {sizeof(junk)}, 1};
    const char *modes[] = {"request", "require_and_verify"};
    for (size_t m = 0; m < 2; m++) {
        char name[64];
        snprintf(name, sizeof(name), "garbage/%s", modes[m]);
        emit((struct spec){name, "(garbage)", simple_policy(modes[m], cases[0].trust), 0, &ch,
                           fixed(mode_value(modes[m]), m == 1, 0, MTLS_ERR_CERT_PARSE), NULL,
                           0});
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_conformance OUTPUT.json (MTLS_PKI_DIR set)\n");
        return 2;
    }
    num_cases = pki_load(cases, MAX_CASES);
    gen_at = (int64_t)time(NULL);
    out_cases = json_array();
    mode_matrix();
    multi_policy();
    leaf_pins();
    garbage();
    if (failures > 0) {
        fprintf(stderr, "gen_conformance: %d disagreement(s) with the expected verdicts\n",
                failures);
        json_decref(out_cases);
        return 1;
    }
    json_t *names = json_array();
    for (size_t i = 0; i < mtls_placeholder_count(); i++) {
        json_array_append_new(names, json_string(mtls_placeholder_name(i)));
    }
    json_t *root = json_pack("{s:i,s:s,s:s,s:I,s:o,s:o}", "format", 1, "library_version",
                             mtls_version(), "tls_library", mtls_tls_library(), "generated_at",
                             (json_int_t)gen_at, "placeholders", names, "cases", out_cases);
    if (json_dump_file(root, argv[1], JSON_INDENT(1)) != 0) {
        fprintf(stderr, "gen_conformance: cannot write %s\n", argv[1]);
        json_decref(root);
        return 1;
    }
    printf("%zu cases\n", json_array_size(out_cases));
    json_decref(root);
    return 0;
}
