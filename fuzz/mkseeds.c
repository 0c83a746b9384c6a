/*
 * fuzz/mkseeds.c - writes the generated seed corpora (fuzz/README.md, "Seeds"):
 *
 *   fuzz_mkseeds CORPUS_DIR POLICY_DIR [PKI_DIR]
 *
 * CORPUS_DIR/fuzz_verify_chain: chains in the length-prefixed format of fuzz_mtls.h, built
 *   from the fixed PKI of fuzz_pki.c (so the targets' trust store accepts the good ones) and
 *   variants signed by its CAs: expired, not yet valid, wrong EKU, v1, name constraints,
 *   path length, an issuer without keyCertSign, too many certificates, ...; plus, when
 *   PKI_DIR (the test PKI, BUILD/libmtls/tests/pki) is given, a few of its chains (RSA,
 *   P-384, odd DNs and URIs) for their shapes.
 * CORPUS_DIR/fuzz_identity: the leaves of those chains, DER alone.
 * CORPUS_DIR/fuzz_policy_load: every POLICY_DIR/NAME/policy.json (libmtls/tests/policy),
 *   its @CA_B64@, @CA2_B64@, @LEAF_B64@ and @LEAF_PEM@ replaced by the fixed PKI's root,
 *   intermediate and leaf, so that the probe chains of fuzz_policy_load meet real anchors.
 * Test-only data; the certificates of the fixed PKI are the same on every run.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz_mtls.h"

static const char *corpus;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_mkseeds: %s\n", what);
    exit(1);
}

static void write_file(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus, target);
    mkdir(path, 0777);
    snprintf(path, sizeof(path), "%s/%s/%s", corpus, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        die(path);
    }
}

/* ---- chains ------------------------------------------------------------------------------ */

struct chain {
    uint8_t buf[65536];
    size_t len;
};

static void chain_add(struct chain *c, const uint8_t *der, size_t len)
{
    if (len > 0xffff || c->len + 2 + len > sizeof(c->buf)) {
        die("chain too large");
    }
    c->buf[c->len++] = (uint8_t)(len >> 8);
    c->buf[c->len++] = (uint8_t)len;
    if (len > 0) {
        memcpy(c->buf + c->len, der, len);
    }
    c->len += len;
}

static struct fuzz_der der_of(const struct fuzz_cert *c)
{
    struct fuzz_der d;
    if (c == NULL || !fuzz_cert_der(c, &d)) {
        die("building a certificate failed");
    }
    return d;
}

/* Writes the chain `certs` (leaf first) as NAME, and its leaf for fuzz_identity. */
static void seed_chain(const char *name, const struct fuzz_der *const *certs, size_t n)
{
    struct chain c = {.len = 0};
    for (size_t i = 0; i < n; i++) {
        chain_add(&c, certs[i]->der, certs[i]->len);
    }
    write_file("fuzz_verify_chain", name, c.buf, c.len);
    if (n > 0) {
        write_file("fuzz_identity", name, certs[0]->der, certs[0]->len);
    }
}

#define SEED(name, ...)                                                                        \
    do {                                                                                       \
        const struct fuzz_der *list_[] = {__VA_ARGS__};                                        \
        seed_chain(name, list_, sizeof(list_) / sizeof(list_[0]));                             \
    } while (0)

/* A leaf like the fixed one, changed by `edit`, issued by `issuer`. */
static struct fuzz_der variant(const struct fuzz_cert *issuer, const char *seed,
                               void (*edit)(struct fuzz_cert_spec *))
{
    struct fuzz_cert_spec s = fuzz_spec_leaf;
    s.key_seed = seed;
    edit(&s);
    struct fuzz_cert *c = fuzz_cert_new(&s, issuer);
    struct fuzz_der d = der_of(c);
    fuzz_cert_free(c);
    return d;
}

static void expired(struct fuzz_cert_spec *s) { s->not_after = FUZZ_NOW - 86400; }
static void not_yet(struct fuzz_cert_spec *s) { s->not_before = FUZZ_NOW + 86400; }
static void server_eku(struct fuzz_cert_spec *s) { s->ext_key_usage = "serverAuth"; }
static void no_eku(struct fuzz_cert_spec *s) { s->ext_key_usage = NULL; }
static void any_eku(struct fuzz_cert_spec *s)
{
    s->ext_key_usage = "anyExtendedKeyUsage";
    s->subject[3][1] = "any-eku.example";
}
static void v1(struct fuzz_cert_spec *s) { s->version1 = 1; }
static void ed25519(struct fuzz_cert_spec *s)
{
    s->key_kind = FUZZ_KEY_ED25519;
    s->subject_alt_name = "DNS:a.example,DNS:b.example,DNS:c.example,email:a@example.com,"
                          "email:b@example.com,IP:10.0.0.1,IP:::1,URI:https://example.com/a?b#c,"
                          "URI:spiffe://example.org/ed";
}
static void many_sans(struct fuzz_cert_spec *s)
{
    s->subject_alt_name = "DNS:x0.example,DNS:x1.example,DNS:x2.example,DNS:x3.example,"
                          "DNS:x4.example,DNS:x5.example,DNS:x6.example,DNS:x7.example,"
                          "URI:spiffe://example.org/a,URI:spiffe://example.org/b";
}
static void nasty(struct fuzz_cert_spec *s)
{
    s->subject[0][0] = "O";
    s->subject[0][1] = "evil\r\nX-Client-Subject: CN=admin";
    s->subject[1][0] = "OU";
    s->subject[1][1] = "tab\there \xc3\xa9t\xc3\xa9 del\x7f";
    s->subject[2][0] = "CN";
    s->subject[2][1] = "nasty\nclient";
    s->subject[3][0] = NULL;
}
static void is_ca(struct fuzz_cert_spec *s)
{
    s->basic_constraints = "critical,CA:TRUE";
    s->key_usage = "critical,keyCertSign,digitalSignature";
    s->subject[3][1] = "sub CA below pathlen 0";
}

static struct fuzz_cert *ca(const char *seed, const char *cn, const char *bc, const char *ku,
                            const char *nc, const struct fuzz_cert *issuer)
{
    struct fuzz_cert_spec s = fuzz_spec_inter;
    s.key_seed = seed;
    s.subject[1][1] = cn;
    s.basic_constraints = bc;
    s.key_usage = ku;
    s.ext_key_usage = NULL;
    s.name_constraints = nc;
    struct fuzz_cert *c = fuzz_cert_new(&s, issuer);
    if (c == NULL) {
        die("building a CA failed");
    }
    return c;
}

static void fixed_pki_seeds(void)
{
    struct fuzz_cert *root = fuzz_cert_new(&fuzz_spec_root, NULL);
    struct fuzz_cert *inter = fuzz_cert_new(&fuzz_spec_inter, root);
    struct fuzz_cert *leafc = fuzz_cert_new(&fuzz_spec_leaf, inter);
    struct fuzz_cert *strangerc = fuzz_cert_new(&fuzz_spec_stranger, NULL);
    struct fuzz_der r = der_of(root), i = der_of(inter), l = der_of(leafc),
                    s = der_of(strangerc);
    /* The fixed PKI must be what the targets build. */
    const struct fuzz_pki *k = fuzz_pki_get();
    if (l.len != k->leaf.len || memcmp(l.der, k->leaf.der, l.len) != 0) {
        die("the fixed PKI is not deterministic");
    }

    SEED("leaf_inter", &l, &i);
    SEED("leaf_only", &l);
    SEED("leaf_inter_root", &l, &i, &r);
    SEED("inter_leaf_reversed", &i, &l);
    SEED("root_alone", &r);
    SEED("inter_alone", &i);
    SEED("stranger", &s);
    seed_chain("empty", NULL, 0);

    struct fuzz_der e = variant(inter, "expired", expired);
    struct fuzz_der ny = variant(inter, "not yet", not_yet);
    struct fuzz_der se = variant(inter, "server eku", server_eku);
    struct fuzz_der ne = variant(inter, "no eku", no_eku);
    struct fuzz_der ae = variant(inter, "any eku", any_eku);
    struct fuzz_der v = variant(inter, "v1", v1);
    struct fuzz_der ed = variant(inter, "ed25519", ed25519);
    struct fuzz_der ms = variant(inter, "many sans", many_sans);
    struct fuzz_der na = variant(inter, "nasty", nasty);
    struct fuzz_der lr = variant(root, "under root", no_eku);
    SEED("expired", &e, &i);
    SEED("not_yet_valid", &ny, &i);
    SEED("server_eku", &se, &i);
    SEED("no_eku", &ne, &i);
    SEED("any_eku", &ae, &i);
    SEED("v1_leaf", &v, &i);
    SEED("ed25519_leaf", &ed, &i);
    SEED("many_sans", &ms, &i);
    SEED("control_bytes_dn", &na, &i);
    SEED("leaf_under_root", &lr);

    /* A CA below the pathlen-0 intermediate, and a leaf under it: path length exceeded. */
    struct fuzz_cert_spec sub = fuzz_spec_leaf;
    is_ca(&sub);
    sub.key_seed = "sub ca";
    struct fuzz_cert *subc = fuzz_cert_new(&sub, inter);
    struct fuzz_der sd = der_of(subc);
    struct fuzz_der pl = variant(subc, "below sub ca", no_eku);
    SEED("path_length", &pl, &sd, &i);

    /* An issuer without keyCertSign, and one without basicConstraints. */
    struct fuzz_cert *nosign = ca("no keycertsign", "CA without keyCertSign", "critical,CA:TRUE",
                                  "critical,digitalSignature", NULL, root);
    struct fuzz_cert *nobc = ca("no bc", "CA without basicConstraints", NULL,
                                "critical,keyCertSign", NULL, root);
    struct fuzz_der nsd = der_of(nosign), nbd = der_of(nobc);
    struct fuzz_der ln = variant(nosign, "by no keycertsign", no_eku),
                    lb = variant(nobc, "by no bc", no_eku);
    SEED("issuer_without_keycertsign", &ln, &nsd);
    SEED("issuer_without_basic_constraints", &lb, &nbd);

    /* Name constraints: the leaf's client.example is outside example.org. */
    struct fuzz_cert *ncc = ca("constrained", "CA constrained to example.org", "critical,CA:TRUE",
                               "critical,keyCertSign",
                               "critical,permitted;DNS:example.org,permitted;email:example.org",
                               root);
    struct fuzz_der ncd = der_of(ncc), lnc = variant(ncc, "by constrained", no_eku);
    SEED("name_constraints_violated", &lnc, &ncd);

    /* A P-256 intermediate (ECDSA signatures below it). */
    struct fuzz_cert_spec p = fuzz_spec_inter;
    p.key_kind = FUZZ_KEY_P256;
    p.key_seed = "p256 intermediate";
    p.subject[1][1] = "libmtls fuzz P-256 intermediate CA";
    struct fuzz_cert *pc = fuzz_cert_new(&p, root);
    struct fuzz_der pd = der_of(pc), lp = variant(pc, "under p256", no_eku);
    SEED("p256_intermediate", &lp, &pd);

    /* Seventy certificates, more than a client may send (MTLS_MAX_PEER_CERTS, 64): the
     * leaf, the intermediate, then empty ones to keep the seed small. */
    struct fuzz_der none = {NULL, 0};
    const struct fuzz_der *many[70];
    for (size_t n = 0; n < 70; n++) {
        many[n] = n == 0 ? &l : n == 1 ? &i : &none;
    }
    seed_chain("too_many_certs", many, 70);

    /* Garbage and truncation. */
    struct fuzz_der cut = {l.der, l.len / 2};
    SEED("truncated_leaf", &cut, &i);
    static const uint8_t junk[] = {0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00};
    struct fuzz_der j = {(uint8_t *)junk, sizeof(junk)};
    SEED("junk", &j);

    struct fuzz_der *all[] = {&r, &i, &l, &s, &e, &ny, &se, &ne, &ae, &v, &ed, &ms, &na, &lr,
                              &sd, &pl, &nsd, &nbd, &ln, &lb, &pd, &lp, &ncd, &lnc};
    for (size_t n = 0; n < sizeof(all) / sizeof(all[0]); n++) {
        free(all[n]->der);
    }
    struct fuzz_cert *certs[] = {root, inter, leafc, strangerc, subc, nosign, nobc, pc, ncc};
    for (size_t n = 0; n < sizeof(certs) / sizeof(certs[0]); n++) {
        fuzz_cert_free(certs[n]);
    }
}

/* ---- the test PKI ------------------------------------------------------------------------ */

static void test_pki_seed(const char *pki, const char *chain_pem, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", pki, chain_pem);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "fuzz_mkseeds: skipping %s (missing)\n", path);
        return;
    }
    struct fuzz_der ders[16];
    const struct fuzz_der *list[16];
    size_t n = 0;
    X509 *x;
    while (n < 16 && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        uint8_t *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (len <= 0) {
            die("i2d_X509");
        }
        ders[n].der = der;
        ders[n].len = (size_t)len;
        list[n] = &ders[n];
        n++;
    }
    fclose(f);
    seed_chain(name, list, n);
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(ders[i].der);
    }
}

static void test_pki_seeds(const char *pki)
{
    static const char *const cases[][2] = {
        {"rsa2048.chain.pem", "testpki_rsa2048"},
        {"p384.chain.pem", "testpki_p384"},
        {"p521.chain.pem", "testpki_p521"},
        {"san.chain.pem", "testpki_san"},
        {"uri-odd.chain.pem", "testpki_uri_odd"},
        {"dn-special.chain.pem", "testpki_dn_special"},
        {"dn-spaces.chain.pem", "testpki_dn_spaces"},
        {"dn-dup-cn.chain.pem", "testpki_dn_dup_cn"},
        {"dn-ctl-tab.chain.pem", "testpki_dn_ctl_tab"},
        {"serial-big.chain.pem", "testpki_serial_big"},
        {"by-v1-root.chain.pem", "testpki_by_v1_root"},
        {"long-chain.chain.pem", "testpki_long_chain"},
        {"tutorial/alice.chain.pem", "testpki_tutorial_v1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_pki_seed(pki, cases[i][0], cases[i][1]);
    }
}

/* ---- policies ---------------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *p = malloc(cap);
    size_t n;
    while (p != NULL && (n = fread(p + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            p = realloc(p, cap *= 2);
        }
    }
    fclose(f);
    if (p == NULL) {
        die("out of memory");
    }
    p[len] = '\0';
    *out_len = len;
    return p;
}

/* `text` with every `key` replaced by `value` (owned). */
static char *replace(char *text, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value), n = 0;
    for (const char *p = strstr(text, key); p != NULL; p = strstr(p + kl, key)) {
        n++;
    }
    char *out = malloc(strlen(text) + n * vl + 1), *o = out;
    const char *p = text, *hit;
    if (out == NULL) {
        die("out of memory");
    }
    while ((hit = strstr(p, key)) != NULL) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, value, vl);
        o += vl;
        p = hit + kl;
    }
    strcpy(o, p);
    free(text);
    return out;
}

/* The fixed leaf as PEM, escaped for a JSON string (newlines as \n). */
static char *leaf_pem_json(const struct fuzz_pki *k)
{
    size_t b64 = strlen(k->leaf_b64);
    char *out = malloc(64 + b64 + b64 / 64 * 2 + 64), *o = out;
    if (out == NULL) {
        die("out of memory");
    }
    o += sprintf(o, "-----BEGIN CERTIFICATE-----\\n");
    for (size_t i = 0; i < b64; i += 64) {
        size_t n = b64 - i < 64 ? b64 - i : 64;
        memcpy(o, k->leaf_b64 + i, n);
        o += n;
        o += sprintf(o, "\\n");
    }
    sprintf(o, "-----END CERTIFICATE-----\\n");
    return out;
}

/* Documents that load, to start the fuzzer on the paths past the checks. */
static const char *const good_policies[][2] = {
    {"x_matchers_and_modes.json",
     "[{\"match\":{\"sni\":[\"client.example\"],\"remote_ip\":{\"ranges\":[\"192.0.2.0/24\"]}},"
     "\"client_authentication\":{\"mode\":\"require_and_verify\",\"trusted_ca_certs\":"
     "[\"@CA_B64@\"]}},"
     "{\"match\":{\"remote_ip\":{\"ranges\":[\"2001:db8::/32\",\"10.0.0.0/8\"],"
     "\"not_ranges\":[\"10.1.0.0/16\"]},\"local_ip\":{\"ranges\":[\"::1\",\"10.0.0.1\"]}},"
     "\"client_authentication\":{\"mode\":\"verify_if_given\",\"trusted_ca_certs\":"
     "[\"@CA_B64@\",\"@CA2_B64@\"]}},"
     "{\"match\":{\"sni\":[\"*.example.com\",\"localhost\"]},\"client_authentication\":"
     "{\"mode\":\"require\",\"trusted_leaf_certs\":[\"@LEAF_B64@\"]}},"
     "{\"client_authentication\":{\"mode\":\"request\"}}]"},
    {"x_config_srv0.json",
     "{\"apps\":{\"http\":{\"servers\":{\"srv0\":{\"listen\":[\":443\"],"
     "\"tls_connection_policies\":[{\"match\":{\"sni\":[\"a.example\"]},"
     "\"alpn\":[\"h2\"],\"protocol_min\":\"tls1.2\",\"client_authentication\":{\"ca\":"
     "{\"provider\":\"inline\",\"trusted_ca_certs\":[\"@CA2_B64@\"]},\"verifiers\":"
     "[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":[{\"loader\":\"pem\","
     "\"certificates\":[\"@LEAF_PEM@\"]}]}]}},{}]},\"srv1\":{\"listen\":[\":80\"]}}}}}"},
    {"x_wrapper_pins.json",
     "{\"tls_connection_policies\":[{\"client_authentication\":{\"mode\":\"require\","
     "\"trusted_leaf_certs\":[\"@LEAF_B64@\"],\"trusted_ca_certs\":[\"@CA_B64@\"]},"
     "\"default_sni\":\"client.example\",\"drop\":false}]}"},
};

static char *substitute(char *text, const struct fuzz_pki *k, const char *pem)
{
    text = replace(text, "@CA_B64@", k->root_b64);
    text = replace(text, "@CA2_B64@", k->inter_b64);
    text = replace(text, "@LEAF_B64@", k->leaf_b64);
    return replace(text, "@LEAF_PEM@", pem);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void policy_seeds(const char *dir)
{
    const struct fuzz_pki *k = fuzz_pki_get();
    char *pem = leaf_pem_json(k);
    DIR *d = opendir(dir);
    if (d == NULL) {
        die(dir);
    }
    char *names[512];
    size_t num = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && num < 512) {
        if (e->d_name[0] != '.') {
            names[num++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, num, sizeof(names[0]), by_name);
    for (size_t i = 0; i < num; i++) {
        char path[4096], out[512];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s/policy.json", dir, names[i]);
        char *text = read_all(path, &len);
        if (text != NULL) {
            text = substitute(text, k, pem);
            snprintf(out, sizeof(out), "%s.json", names[i]);
            write_file("fuzz_policy_load", out, text, strlen(text));
            free(text);
        }
        free(names[i]);
    }
    for (size_t i = 0; i < sizeof(good_policies) / sizeof(good_policies[0]); i++) {
        char *text = substitute(strdup(good_policies[i][1]), k, pem);
        write_file("fuzz_policy_load", good_policies[i][0], text, strlen(text));
        free(text);
    }
    free(pem);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_mkseeds CORPUS_DIR POLICY_DIR [PKI_DIR]\n");
        return 2;
    }
    corpus = argv[1];
    fixed_pki_seeds();
    if (argc > 3) {
        test_pki_seeds(argv[3]);
    }
    policy_seeds(argv[2]);
    return 0;
}
