/*
 * bench/micro/policy_load.c - policy load time and trust-pool size (issue 6, part 2).
 *
 * Load time (mtls_ctx_new_from_json, wall-clock = CPU here, median of the repetitions) of:
 *   typical      {"mode":"require_and_verify","trusted_ca_certs_pem_files":[CA file]}
 *   inline CA    the same with the CA as base64 in trusted_ca_certs
 *   Caddy config a whole Caddy JSON config (as `caddy adapt` writes it): admin, logging, a
 *                tls app with automation policies, an HTTPS server with 6 routes
 *                (reverse_proxy with identity headers) and 3 connection policies (SNI
 *                matchers; an inline `ca`; a CA file + a leaf verifier with 2 PEM pins; a
 *                catch-all), and an HTTP redirect server
 *   pool N       a PEM file of N CA certificates (each its own Ed25519 key and name; the
 *                client's CA at position N/2), N = 1, 1000, 10000
 * For each pool: the RSS the loaded ctx holds (RSS after - before, heap trimmed both times)
 * and the verification time with that pool: mtls_verify_der of the client leaf (accepted)
 * against d2i_X509 + X509_verify_cert with the same N CAs in an X509_STORE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <mtls/mtls.h>

#include "common.h"
#include "pki.h"

static const size_t pool_sizes[] = {1, 1000, 10000};
#define NUM_POOLS (sizeof(pool_sizes) / sizeof(pool_sizes[0]))

static mtls_ctx *load(const char *json, size_t len)
{
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, len, NULL, &err);
    if (ctx == NULL) {
        die("policy did not load: %s", err.message);
    }
    return ctx;
}

/* load_time returns the median wall µs of `reps` loads of `json` (one untimed first). */
static double load_time(const char *json, int reps)
{
    double v[1000];
    mtls_ctx_free(load(json, strlen(json)));
    for (int r = 0; r < reps; r++) {
        double t0 = wall_us();
        mtls_ctx *ctx = load(json, strlen(json));
        v[r] = wall_us() - t0;
        mtls_ctx_free(ctx);
    }
    return median(v, (size_t)reps);
}

static void caddy_route(struct text *t, int i, const char *host)
{
    text_add(t,
             "%s{\"match\":[{\"host\":[\"%s\"]}],\"handle\":[{\"handler\":\"subroute\","
             "\"routes\":[{\"handle\":[{\"handler\":\"reverse_proxy\",\"headers\":{\"request\":"
             "{\"set\":{\"X-Client-Subject\":[\"{http.request.tls.client.subject}\"],"
             "\"X-Client-Verified\":[\"{http.request.tls.client.verified}\"],"
             "\"X-Client-Fingerprint\":[\"{http.request.tls.client.fingerprint}\"]}}},"
             "\"upstreams\":[{\"dial\":\"127.0.0.1:%d\"}]}]}]}],\"terminal\":true}",
             i ? "," : "", host, 9000 + i);
}

/* caddy_config writes a whole Caddy config (see the file comment). */
static void caddy_config(struct text *t, const struct bench_pki *p)
{
    static const char *const hosts[] = {"api.example.com", "admin.example.com",
                                        "www.example.com", "static.example.com",
                                        "grpc.example.com", "metrics.example.com"};
    char *ca_b64 = pki_b64(p->ca_der, p->ca_der_len);
    struct text pins = {0};
    pki_pem_append(&pins, p->alice_der, p->alice_der_len);
    char *pin1 = strdup(pins.s);
    text_free(&pins);
    pki_pem_append(&pins, p->bob_der, p->bob_der_len);
    char *esc1 = NULL, *esc2 = NULL;
    /* JSON-escape the PEM newlines. */
    struct text e = {0};
    for (int k = 0; k < 2; k++) {
        const char *s = k ? pins.s : pin1;
        for (; *s; s++) {
            text_addn(&e, *s == '\n' ? "\\n" : s, *s == '\n' ? 2 : 1);
        }
        if (k == 0) {
            esc1 = strdup(e.s);
            text_free(&e);
        } else {
            esc2 = e.s;
        }
    }
    text_add(t, "{\"admin\":{\"disabled\":true},\"logging\":{\"logs\":{\"default\":{\"level\":"
             "\"INFO\",\"writer\":{\"output\":\"stderr\"},\"encoder\":{\"format\":\"json\"}}}},"
             "\"apps\":{\"tls\":{\"certificates\":{\"load_files\":[{\"certificate\":"
             "\"/etc/ssl/site.pem\",\"key\":\"/etc/ssl/site.key\"}]},\"automation\":{"
             "\"policies\":[{\"subjects\":[\"api.example.com\",\"admin.example.com\"],"
             "\"issuers\":[{\"module\":\"internal\"}]}]}},\"http\":{\"servers\":{\"srv0\":{"
             "\"listen\":[\":443\"],\"routes\":[");
    for (int i = 0; i < 6; i++) {
        caddy_route(t, i, hosts[i]);
    }
    text_add(t, "],\"tls_connection_policies\":[{\"match\":{\"sni\":[\"api.example.com\"]},"
             "\"client_authentication\":{\"ca\":{\"provider\":\"inline\",\"trusted_ca_certs\":"
             "[\"%s\"]},\"mode\":\"require_and_verify\"}},", ca_b64);
    text_add(t, "{\"match\":{\"sni\":[\"admin.example.com\"]},\"protocol_min\":\"tls1.3\","
             "\"client_authentication\":{\"trusted_ca_certs_pem_files\":[\"%s\"],"
             "\"verifiers\":[{\"verifier\":\"leaf\",\"leaf_certs_loaders\":[{\"loader\":"
             "\"pem\",\"certs\":[\"%s\",\"%s\"]}]}],\"mode\":\"require_and_verify\"}},",
             p->ca_file, esc1, esc2);
    text_add(t, "{}],\"automatic_https\":{\"disable_redirects\":false},\"logs\":{}},"
             "\"srv1\":{\"listen\":[\":80\"],\"routes\":[{\"handle\":[{\"handler\":"
             "\"static_response\",\"headers\":{\"Location\":[\"https://{http.request.host}"
             "{http.request.uri}\"]},\"status_code\":308}]}]}}}}}");
    free(ca_b64);
    free(pin1);
    free(esc1);
    free(esc2);
    text_free(&pins);
}

/* ---- trust pools ---- */

struct pool {
    size_t n;
    char file[256];
    X509 **cas;        /* the N CAs (the client's at N/2) */
    X509_STORE *store; /* the same CAs, for the BoringSSL baseline */
    mtls_ctx *ctx;     /* the first timed load, kept for verification */
    double gen_s, store_ms, load_ms, load_cpu_ms, rss_kib, mtls_us, bssl_us;
};

static void make_pool(struct pool *pl, const struct bench_pki *p)
{
    double t0 = wall_us();
    struct text pem = {0};
    pl->cas = calloc(pl->n, sizeof(*pl->cas));
    if (pl->cas == NULL) {
        die("out of memory");
    }
    for (size_t i = 0; i < pl->n; i++) {
        X509 *ca = p->ca;
        if (i != pl->n / 2) {
            char subj[128];
            snprintf(subj, sizeof(subj), "/C=US/O=libmtls bench pool/CN=Pool CA %06zu", i);
            EVP_PKEY *k = pki_key(KEY_ED25519);
            ca = pki_cert(CERT_CA, subj, NULL, k, NULL, NULL);
            EVP_PKEY_free(k);
        } else {
            X509_up_ref(ca);
        }
        size_t len = 0;
        uint8_t *der = pki_der(ca, &len);
        pki_pem_append(&pem, der, len);
        free(der);
        pl->cas[i] = ca;
    }
    char name[64];
    snprintf(name, sizeof(name), "pool%zu.pem", pl->n);
    snprintf(pl->file, sizeof(pl->file), "%s", tmp_path(name));
    write_file(pl->file, pem.s, pem.len);
    text_free(&pem);
    pl->gen_s = (wall_us() - t0) / 1e6;
    /* BoringSSL's own cost of holding the pool: one X509_STORE_add_cert per CA. */
    t0 = cpu_us();
    pl->store = X509_STORE_new();
    for (size_t i = 0; pl->store != NULL && i < pl->n; i++) {
        if (!X509_STORE_add_cert(pl->store, pl->cas[i])) {
            die("X509_STORE_add_cert");
        }
    }
    if (pl->store == NULL) {
        die("X509_STORE_new");
    }
    pl->store_ms = (cpu_us() - t0) / 1e3;
}

static void pool_free(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        X509_free(pl->cas[i]);
    }
    free(pl->cas);
    X509_STORE_free(pl->store);
    mtls_ctx_free(pl->ctx);
}

static double verify_mtls(const mtls_ctx *ctx, const struct bench_pki *p, int n)
{
    const uint8_t *certs[1] = {p->alice_der};
    size_t lens[1] = {p->alice_der_len};
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) {
        mtls_peer *peer = NULL;
        if (mtls_verify_der(ctx, 0, certs, lens, 1, MTLS_TIME_NOW, &peer, NULL) != MTLS_OK ||
            !mtls_peer_accepted(peer)) {
            die("mtls_verify_der refused the client with the pool");
        }
        mtls_peer_free(peer);
    }
    return (cpu_us() - t0) / n;
}

static double verify_bssl(X509_STORE *store, const struct bench_pki *p, int n)
{
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) {
        const uint8_t *q = p->alice_der;
        X509 *leaf = d2i_X509(NULL, &q, (long)p->alice_der_len);
        X509_STORE_CTX *sctx = X509_STORE_CTX_new();
        if (leaf == NULL || sctx == NULL || !X509_STORE_CTX_init(sctx, store, leaf, NULL) ||
            !X509_STORE_CTX_set_default(sctx, "ssl_client") || X509_verify_cert(sctx) != 1) {
            die("X509_verify_cert failed with the pool");
        }
        X509_STORE_CTX_free(sctx);
        X509_free(leaf);
    }
    return (cpu_us() - t0) / n;
}

/* load_pool times loads of the pool policy (at most 3 for pools of 10,000 and more, which
 * take seconds each); the first also measures the RSS its ctx holds and is kept. */
static void load_pool(struct pool *pl, const struct opts *o)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require_and_verify\",\"trusted_ca_certs_pem_files\":[\"%s\"]}",
             pl->file);
    char name[64];
    snprintf(name, sizeof(name), "pool%zu.json", pl->n);
    write_file(tmp_path(name), json, strlen(json)); /* for profiling with MICRO_KEEP_TMP */
    int big = pl->n >= 10000;
    int reps = big && o->reps > 3 ? 3 : o->reps;
    double w[1000], c[1000];
    if (!big) {
        mtls_ctx_free(load(json, strlen(json)));
    }
    for (int r = 0; r < reps; r++) {
        trim();
        size_t before = rss_kib();
        double w0 = wall_us(), c0 = cpu_us();
        mtls_ctx *ctx = load(json, strlen(json));
        w[r] = (wall_us() - w0) / 1e3;
        c[r] = (cpu_us() - c0) / 1e3;
        if (r > 0) {
            mtls_ctx_free(ctx);
            continue;
        }
        trim();
        pl->rss_kib = (double)rss_kib() - (double)before; /* page-granular: noise below ~100 */
        pl->ctx = ctx;
    }
    pl->load_ms = median(w, (size_t)reps);
    pl->load_cpu_ms = median(c, (size_t)reps);
}

/* verify_pools measures verification with every pool, round-robin per repetition so that
 * machine-load drift hits all pools alike. */
static void verify_pools(struct pool *pools, size_t num, const struct bench_pki *p,
                         const struct opts *o)
{
    int n = o->quick ? 30 : 300;
    static double m[8][1000], b[8][1000];
    for (size_t i = 0; i < num; i++) {
        verify_mtls(pools[i].ctx, p, n / 5);
        verify_bssl(pools[i].store, p, n / 5);
    }
    for (int r = 0; r < o->reps; r++) {
        for (size_t i = 0; i < num; i++) {
            m[i][r] = verify_mtls(pools[i].ctx, p, n);
            b[i][r] = verify_bssl(pools[i].store, p, n);
        }
    }
    for (size_t i = 0; i < num; i++) {
        pools[i].mtls_us = median(m[i], (size_t)o->reps);
        pools[i].bssl_us = median(b[i], (size_t)o->reps);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    long max_cas = 10000;
    parse_opts(&o, argc, argv, 7, "--max-cas", &max_cas);
    if (o.quick && max_cas > 1000) {
        max_cas = 1000;
    }
    struct bench_pki p;
    bench_pki_make(&p);
    char typical[512], inl[2048];
    snprintf(typical, sizeof(typical),
             "{\"mode\":\"require_and_verify\",\"trusted_ca_certs_pem_files\":[\"%s\"]}",
             p.ca_file);
    char *b64 = pki_b64(p.ca_der, p.ca_der_len);
    snprintf(inl, sizeof(inl), "{\"mode\":\"require_and_verify\",\"trusted_ca_certs\":[\"%s\"]}",
             b64);
    free(b64);
    struct text caddy = {0};
    caddy_config(&caddy, &p);
    write_file(tmp_path("caddy.json"), caddy.s, caddy.len);
    mtls_ctx *check = load(caddy.s, caddy.len);
    if (mtls_ctx_num_policies(check) != 3) {
        die("the Caddy config should give 3 policies");
    }
    mtls_ctx_free(check);
    double t_typ = load_time(typical, o.reps);
    double t_inl = load_time(inl, o.reps);
    double t_caddy = load_time(caddy.s, o.reps);
    struct pool pools[NUM_POOLS];
    size_t num_pools = 0;
    memset(pools, 0, sizeof(pools));
    for (size_t i = 0; i < NUM_POOLS && (long)pool_sizes[i] <= max_cas; i++) {
        pools[num_pools].n = pool_sizes[i];
        make_pool(&pools[num_pools], &p);
        load_pool(&pools[num_pools], &o);
        num_pools++;
    }
    verify_pools(pools, num_pools, &p, &o);
    if (!o.json_only) {
        printf("Policy load time (mtls_ctx_new_from_json, median of %d)\n\n", o.reps);
        printf("| %-52s | %10s |\n", "policy", "load µs");
        printf("|%s|%s|\n", "------------------------------------------------------",
               "-----------:");
        printf("| %-52s | %10.1f |\n", "typical (CA file, require_and_verify)", t_typ);
        printf("| %-52s | %10.1f |\n", "typical, CA inline (trusted_ca_certs)", t_inl);
        char label[96];
        snprintf(label, sizeof(label), "whole Caddy config (%zu bytes, 3 policies)", caddy.len);
        printf("| %-52s | %10.1f |\n", label, t_caddy);
        printf("\nTrust pools: a PEM file of N CAs. load: mtls_ctx_new_from_json (median of "
               "up to %d; 3 for 10k); BoringSSL store: X509_STORE_add_cert of the same N CAs "
               "(CPU, once);\nverify: CPU µs per verification of the client leaf (median of "
               "%d, pools round-robin)\n\n", o.reps, o.reps);
        printf("| %6s | %12s | %11s | %18s | %11s | %10s | %15s | %16s |\n", "CAs",
               "load ms wall", "load ms CPU", "BoringSSL store ms", "ctx RSS KiB", "KiB per CA",
               "mtls_verify_der", "X509_verify_cert");
        printf("|-------:|-------------:|------------:|-------------------:|------------:|"
               "-----------:|"
               "----------------:|-----------------:|\n");
        for (size_t i = 0; i < num_pools; i++) {
            const struct pool *pl = &pools[i];
            char per[32] = "-";
            if (pl->n >= 100) {
                snprintf(per, sizeof(per), "%.2f", pl->rss_kib / (double)pl->n);
            }
            printf("| %6zu | %12.2f | %11.2f | %18.2f | %11.0f | %10s | %15.2f | %16.2f |\n",
                   pl->n, pl->load_ms, pl->load_cpu_ms, pl->store_ms, pl->rss_kib, per,
                   pl->mtls_us, pl->bssl_us);
        }
        printf("\n(generating the pools took");
        for (size_t i = 0; i < num_pools; i++) {
            printf(" %.2f s", pools[i].gen_s);
        }
        printf("; not measured)\n");
        print_context();
    }
    struct text t = {0};
    text_add(&t, "{\"bench\":\"policy_load\",\"reps\":%d,\"load1\":%.2f,\"load_us\":{"
             "\"typical\":%.1f,\"typical_inline\":%.1f,\"caddy_config\":%.1f},"
             "\"caddy_config_bytes\":%zu,\"pools\":[", o.reps, load1(), t_typ, t_inl, t_caddy,
             caddy.len);
    for (size_t i = 0; i < num_pools; i++) {
        const struct pool *pl = &pools[i];
        text_add(&t, "%s{\"cas\":%zu,\"load_ms\":%.2f,\"load_cpu_ms\":%.2f,"
                 "\"x509_store_ms\":%.2f,\"rss_kib\":%.0f,\"mtls_verify_der_us\":%.2f,"
                 "\"x509_verify_cert_us\":%.2f}", i ? "," : "", pl->n, pl->load_ms,
                 pl->load_cpu_ms, pl->store_ms, pl->rss_kib, pl->mtls_us, pl->bssl_us);
        pool_free(&pools[i]);
    }
    text_add(&t, "]}");
    printf("%s\n", t.s);
    text_free(&t);
    text_free(&caddy);
    bench_pki_free(&p);
    return 0;
}
