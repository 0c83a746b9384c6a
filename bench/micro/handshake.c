/*
 * bench/micro/handshake.c - libmtls's verification + identity extraction per handshake
 * against BoringSSL's built-in verification of the same chain (issue 6, part 2).
 *
 * (a) In-memory TLS 1.3 handshakes over a BIO pair, one server SSL_CTX set up once
 *     (P-256 server key, X25519 only, tickets and session cache off) and then configured as:
 *       none       no client certificate requested (reference);
 *       no_verify  the client certificate requested, and a custom verify callback that
 *                  accepts it unchecked (reference: the handshake without verification, so
 *                  that "variant - no_verify" is what verification itself costs in a
 *                  handshake, cold caches included);
 *       boringssl  SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, an X509_STORE holding
 *                  the client CA, and the CA name in the CertificateRequest (as libmtls);
 *       libmtls    mtls_ssl_ctx_attach with {"mode":"require_and_verify", CA file};
 *       libmtls+id the same, plus mtls_ssl_get0_peer and the typical placeholders read.
 *     The same client (P-384 key, Ed25519 CA) connects to each. Measured: the server's
 *     thread CPU time (CLOCK_THREAD_CPUTIME_ID) around its SSL_do_handshake calls only
 *     (for libmtls+id also around the identity reads). Variants run interleaved in batches
 *     (rotating order each repetition) so machine load drifts hit all alike; reported: the
 *     median over repetitions of each batch's median handshake, and the median of the
 *     paired (same-repetition) differences.
 * (b) The pure cost without TLS: mtls_verify_der (+ the typical placeholders) against
 *     d2i_X509 + X509_verify_cert (purpose ssl_client, as BoringSSL's server uses) of the
 *     same leaf with the same CA in an X509_STORE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mtls/boringssl.h>

#include "common.h"
#include "pki.h"

enum { V_NONE, V_NOVERIFY, V_BSSL, V_MTLS, V_MTLS_ID, NUM_VARIANTS };

static const char *const variant_names[NUM_VARIANTS] = {"none", "no_verify", "boringssl",
                                                        "libmtls", "libmtls_identity"};
static const char *const variant_labels[NUM_VARIANTS] = {
    "no client certificate (reference)", "client cert, not verified (reference)",
    "BoringSSL built-in verify", "libmtls verify", "libmtls verify + typical placeholders"};

static void die_tls(const char *what)
{
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    die("%s: %s", what, buf);
}

static SSL_CTX *server_ctx(const struct bench_pki *p)
{
    SSL_CTX *s = SSL_CTX_new(TLS_method());
    if (s == NULL || !SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) ||
        !SSL_CTX_use_certificate(s, p->server) || !SSL_CTX_use_PrivateKey(s, p->server_key) ||
        !SSL_CTX_set1_curves_list(s, "X25519")) {
        die_tls("server SSL_CTX");
    }
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    return s;
}

static void configure_boringssl(SSL_CTX *s, const struct bench_pki *p)
{
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (!X509_STORE_add_cert(SSL_CTX_get_cert_store(s), p->ca)) {
        die_tls("X509_STORE_add_cert");
    }
    /* The CA's subject in the CertificateRequest, as libmtls sends it. */
    uint8_t *name = NULL;
    int len = i2d_X509_NAME(X509_get_subject_name(p->ca), &name);
    STACK_OF(CRYPTO_BUFFER) *names = sk_CRYPTO_BUFFER_new_null();
    CRYPTO_BUFFER *b = len > 0 ? CRYPTO_BUFFER_new(name, (size_t)len, NULL) : NULL;
    if (names == NULL || b == NULL || !sk_CRYPTO_BUFFER_push(names, b)) {
        die_tls("CA names");
    }
    OPENSSL_free(name);
    SSL_CTX_set0_client_CAs(s, names);
}

static enum ssl_verify_result_t accept_unchecked(SSL *ssl, uint8_t *out_alert)
{
    (void)ssl;
    (void)out_alert;
    return ssl_verify_ok;
}

static mtls_ctx *typical_policy(const struct bench_pki *p)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require_and_verify\",\"trusted_ca_certs_pem_files\":[\"%s\"]}",
             p->ca_file);
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, strlen(json), NULL, &err);
    if (ctx == NULL) {
        die("policy did not load: %s", err.message);
    }
    return ctx;
}

static SSL_CTX *client_ctx(const struct bench_pki *p)
{
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    if (c == NULL || !SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) ||
        !SSL_CTX_use_certificate(c, p->alice) || !SSL_CTX_use_PrivateKey(c, p->alice_key) ||
        !SSL_CTX_set1_curves_list(c, "X25519")) {
        die_tls("client SSL_CTX");
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return c;
}

/* step runs one SSL_do_handshake; returns 1 when done, 0 when it wants I/O, dies on error. */
static int step(SSL *ssl, const char *who)
{
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
        return 1;
    }
    int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        die_tls(who);
    }
    return 0;
}

/* The identity work of a libmtls server after the handshake; returns its CPU µs. */
static double read_identity(SSL *s)
{
    double t0 = cpu_us();
    mtls_peer *peer = mtls_ssl_get0_peer(s);
    if (peer == NULL || !mtls_peer_accepted(peer)) {
        die("libmtls refused the client");
    }
    for (size_t i = 0; i < NUM_TYPICAL; i++) {
        const char *v = NULL;
        if (mtls_peer_get(peer, typical_placeholders[i], &v, NULL, NULL) != MTLS_OK) {
            die("mtls_peer_get %s failed", typical_placeholders[i]);
        }
    }
    return cpu_us() - t0;
}

static void check_verified(SSL *s, int variant)
{
    if (variant == V_NONE) {
        return;
    }
    const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(s);
    if (chain == NULL || sk_CRYPTO_BUFFER_num(chain) != 1) {
        die("%s: the server holds no client certificate", variant_names[variant]);
    }
    if (variant == V_BSSL && SSL_get_verify_result(s) != X509_V_OK) {
        die("BoringSSL did not verify the client");
    }
}

/* One handshake; returns the server's CPU µs in the measured window, and adds to part[0]
 * the server's first SSL_do_handshake (ClientHello in, ServerHello..Finished out) and to
 * part[1] the later ones (the client's Certificate, CertificateVerify, Finished in). */
static double handshake(SSL_CTX *sctx, SSL_CTX *cctx, int variant, double part[2])
{
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    BIO *bs = NULL, *bc = NULL;
    if (s == NULL || c == NULL || !BIO_new_bio_pair(&bs, 0, &bc, 0)) {
        die_tls("SSL_new");
    }
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    int sdone = 0, cdone = 0;
    double t = 0;
    for (int round = 0; !(sdone && cdone); round++) {
        if (round > 10) {
            die("handshake did not finish");
        }
        if (!cdone) {
            cdone = step(c, "client handshake");
        }
        if (!sdone) {
            double t0 = cpu_us();
            sdone = step(s, "server handshake");
            double dt = cpu_us() - t0;
            t += dt;
            part[round == 0 ? 0 : 1] += dt;
        }
    }
    check_verified(s, variant);
    if (variant == V_MTLS_ID) {
        t += read_identity(s);
    }
    SSL_free(c);
    SSL_free(s);
    return t;
}

/* batch runs `n` handshakes and returns the median server CPU µs of one handshake, and the
 * medians of the two parts. Medians, not means: a handshake during which the thread was
 * preempted (its caches refilled by a neighbour) is an outlier on a shared machine. */
static double batch(SSL_CTX *sctx, SSL_CTX *cctx, int variant, int n, double part[2])
{
    double *t = calloc((size_t)n, sizeof(double)), *p0 = calloc((size_t)n, sizeof(double));
    double *p1 = calloc((size_t)n, sizeof(double));
    if (t == NULL || p0 == NULL || p1 == NULL) {
        die("out of memory");
    }
    for (int i = 0; i < n; i++) {
        double p[2] = {0, 0};
        t[i] = handshake(sctx, cctx, variant, p);
        p0[i] = p[0];
        p1[i] = p[1];
    }
    double m = median(t, (size_t)n);
    part[0] = median(p0, (size_t)n);
    part[1] = median(p1, (size_t)n);
    free(t);
    free(p0);
    free(p1);
    return m;
}

/* ---- (b) pure verification cost ---- */

static double loop_bssl(X509_STORE *store, const struct bench_pki *p, int n)
{
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) {
        const uint8_t *q = p->alice_der;
        X509 *leaf = d2i_X509(NULL, &q, (long)p->alice_der_len);
        X509_STORE_CTX *sctx = X509_STORE_CTX_new();
        if (leaf == NULL || sctx == NULL || !X509_STORE_CTX_init(sctx, store, leaf, NULL) ||
            !X509_STORE_CTX_set_default(sctx, "ssl_client") || X509_verify_cert(sctx) != 1) {
            die_tls("X509_verify_cert");
        }
        X509_STORE_CTX_free(sctx);
        X509_free(leaf);
    }
    return (cpu_us() - t0) / n;
}

static double loop_mtls(const mtls_ctx *ctx, const struct bench_pki *p, int n, int typical)
{
    const uint8_t *certs[1] = {p->alice_der};
    size_t lens[1] = {p->alice_der_len};
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) {
        mtls_peer *peer = NULL;
        mtls_error err;
        if (mtls_verify_der(ctx, 0, certs, lens, 1, MTLS_TIME_NOW, &peer, &err) != MTLS_OK ||
            !mtls_peer_accepted(peer)) {
            die("mtls_verify_der refused the client: %s", peer ? mtls_peer_message(peer) : "");
        }
        for (size_t k = 0; typical && k < NUM_TYPICAL; k++) {
            const char *v = NULL;
            if (mtls_peer_get(peer, typical_placeholders[k], &v, NULL, NULL) != MTLS_OK) {
                die("mtls_peer_get failed");
            }
        }
        mtls_peer_free(peer);
    }
    return (cpu_us() - t0) / n;
}

struct pure {
    double bssl, mtls, mtls_typical;
};

static void pure_cost(struct pure *out, const struct bench_pki *p, const mtls_ctx *ctx,
                      const struct opts *o)
{
    int n = o->quick ? 50 : 400;
    X509_STORE *store = X509_STORE_new();
    if (store == NULL || !X509_STORE_add_cert(store, p->ca)) {
        die_tls("X509_STORE");
    }
    double *b = calloc((size_t)o->reps, sizeof(double));
    double *m = calloc((size_t)o->reps, sizeof(double));
    double *t = calloc((size_t)o->reps, sizeof(double));
    if (b == NULL || m == NULL || t == NULL) {
        die("out of memory");
    }
    loop_bssl(store, p, n / 4); /* warm-up */
    loop_mtls(ctx, p, n / 4, 1);
    for (int r = 0; r < o->reps; r++) {
        b[r] = loop_bssl(store, p, n);
        m[r] = loop_mtls(ctx, p, n, 0);
        t[r] = loop_mtls(ctx, p, n, 1);
    }
    out->bssl = median(b, (size_t)o->reps);
    out->mtls = median(m, (size_t)o->reps);
    out->mtls_typical = median(t, (size_t)o->reps);
    free(b);
    free(m);
    free(t);
    X509_STORE_free(store);
}

/* ---- main ---- */

struct results {
    double med[NUM_VARIANTS], lo[NUM_VARIANTS], hi[NUM_VARIANTS];
    double part[NUM_VARIANTS][2]; /* medians of the two parts (see handshake()) */
    double diff, diff_id; /* medians of paired differences vs boringssl, µs */
    double bssl_verify, mtls_verify; /* boringssl - no_verify, libmtls - no_verify */
};

static void run_handshakes(struct results *res, SSL_CTX **sctx, SSL_CTX *cctx,
                           const struct opts *o, int n)
{
    size_t reps = (size_t)o->reps;
    double *v[NUM_VARIANTS], *d = calloc(reps, sizeof(double)), *di = calloc(reps, sizeof(double));
    double *pv[NUM_VARIANTS][2], scratch[2];
    double *da = calloc(reps, sizeof(double)), *dm = calloc(reps, sizeof(double));
    for (int k = 0; k < NUM_VARIANTS; k++) {
        v[k] = calloc(reps, sizeof(double));
        pv[k][0] = calloc(reps, sizeof(double));
        pv[k][1] = calloc(reps, sizeof(double));
        if (v[k] == NULL || pv[k][0] == NULL || pv[k][1] == NULL) {
            die("out of memory");
        }
        batch(sctx[k], cctx, k, n / 5 + 1, scratch); /* warm-up */
    }
    if (d == NULL || di == NULL || da == NULL || dm == NULL) {
        die("out of memory");
    }
    for (size_t r = 0; r < reps; r++) {
        for (int j = 0; j < NUM_VARIANTS; j++) {
            int k = (int)((r + (size_t)j) % NUM_VARIANTS);
            double part[2];
            v[k][r] = batch(sctx[k], cctx, k, n, part);
            pv[k][0][r] = part[0];
            pv[k][1][r] = part[1];
        }
        d[r] = v[V_MTLS][r] - v[V_BSSL][r];
        di[r] = v[V_MTLS_ID][r] - v[V_BSSL][r];
        da[r] = v[V_BSSL][r] - v[V_NOVERIFY][r];
        dm[r] = v[V_MTLS][r] - v[V_NOVERIFY][r];
    }
    for (int k = 0; k < NUM_VARIANTS; k++) {
        res->lo[k] = min_of(v[k], reps);
        res->hi[k] = max_of(v[k], reps);
        res->med[k] = median(v[k], reps);
        res->part[k][0] = median(pv[k][0], reps);
        res->part[k][1] = median(pv[k][1], reps);
        free(v[k]);
        free(pv[k][0]);
        free(pv[k][1]);
    }
    res->diff = median(d, reps);
    res->diff_id = median(di, reps);
    res->bssl_verify = median(da, reps);
    res->mtls_verify = median(dm, reps);
    free(d);
    free(di);
    free(da);
    free(dm);
}

static void print_table(const struct results *r, const struct pure *pc, int n,
                        const struct opts *o)
{
    double base = r->med[V_BSSL];
    printf("Verification overhead per handshake: server CPU µs per TLS 1.3 handshake over a "
           "BIO pair\n(P-256 server key, X25519, Ed25519 client CA, P-384 client key; "
           "median over %d interleaved batches of each batch's median of %d handshakes)\n\n",
           o->reps, n);
    printf("| %-40s | %10s | %10s | %10s | %13s | %13s |\n", "server configuration",
           "median µs", "min batch", "max batch", "1st flight µs", "2nd flight µs");
    printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------", "-----------:",
           "-----------:", "-----------:", "--------------:", "--------------:");
    for (int k = 0; k < NUM_VARIANTS; k++) {
        printf("| %-40s | %10.1f | %10.1f | %10.1f | %13.1f | %13.1f |\n", variant_labels[k],
               r->med[k], r->lo[k], r->hi[k], r->part[k][0], r->part[k][1]);
    }
    printf("(1st flight: the server's SSL_do_handshake on the ClientHello; 2nd: on the client's "
           "Certificate..Finished, where verification runs; libmtls+id adds the identity reads "
           "to the total only)\n");
    printf("\nverification within the handshake (vs not verified, paired medians): BoringSSL "
           "%.1f µs, libmtls %.1f µs (%.2fx)\n", r->bssl_verify, r->mtls_verify,
           r->mtls_verify / r->bssl_verify);
    printf("libmtls vs BoringSSL (paired median):      %+.1f µs = %+.2f%% of the handshake "
           "(target <= 2%%: %s)\n", r->diff, 100 * r->diff / base,
           100 * r->diff / base <= 2 ? "met" : "MISSED");
    printf("libmtls + typical placeholders vs BoringSSL: %+.1f µs = %+.2f%% of the handshake\n",
           r->diff_id, 100 * r->diff_id / base);
    printf("\nPure verification cost (no TLS), CPU µs per call, median of %d:\n\n", o->reps);
    printf("| %-58s | %8s |\n", "operation", "µs");
    printf("|%s|%s|\n", "------------------------------------------------------------",
           "---------:");
    printf("| %-58s | %8.2f |\n", "d2i_X509 + X509_verify_cert (BoringSSL, ssl_client)",
           pc->bssl);
    printf("| %-58s | %8.2f |\n", "mtls_verify_der + mtls_peer_free", pc->mtls);
    printf("| %-58s | %8.2f |\n", "mtls_verify_der + typical placeholders + free",
           pc->mtls_typical);
    printf("| %-58s | %+8.2f |\n", "difference (verify only)", pc->mtls - pc->bssl);
    printf("| %-58s | %+8.2f |\n", "difference (verify + typical placeholders)",
           pc->mtls_typical - pc->bssl);
    printf("\ntypical placeholders: subject, verified, serial, fingerprint\n");
    print_context();
}

static void print_json(const struct results *r, const struct pure *pc, int n,
                       const struct opts *o)
{
    struct text t = {0};
    double base = r->med[V_BSSL];
    text_add(&t, "{\"bench\":\"handshake\",\"reps\":%d,\"batch\":%d,\"load1\":%.2f,"
             "\"server_cpu_us\":{", o->reps, n, load1());
    for (int k = 0; k < NUM_VARIANTS; k++) {
        text_add(&t, "%s\"%s\":%.1f", k ? "," : "", variant_names[k], r->med[k]);
    }
    text_add(&t, "},\"verify_in_handshake_us\":{\"boringssl\":%.1f,\"libmtls\":%.1f},"
             "\"overhead_us\":%.1f,\"overhead_pct\":%.2f,"
             "\"overhead_identity_us\":%.1f,\"overhead_identity_pct\":%.2f,\"target_pct\":2,"
             "\"target_met\":%s,", r->bssl_verify, r->mtls_verify, r->diff,
             100 * r->diff / base, r->diff_id,
             100 * r->diff_id / base, 100 * r->diff / base <= 2 ? "true" : "false");
    text_add(&t, "\"pure_us\":{\"x509_verify_cert\":%.2f,\"mtls_verify_der\":%.2f,"
             "\"mtls_verify_der_typical\":%.2f}}", pc->bssl, pc->mtls, pc->mtls_typical);
    printf("%s\n", t.s);
    text_free(&t);
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(&o, argc, argv, 7, NULL, NULL);
    int n = o.quick ? 10 : 100;
    struct bench_pki p;
    bench_pki_make(&p);
    mtls_ctx *policy = typical_policy(&p);
    SSL_CTX *sctx[NUM_VARIANTS];
    for (int k = 0; k < NUM_VARIANTS; k++) {
        sctx[k] = server_ctx(&p);
    }
    configure_boringssl(sctx[V_BSSL], &p);
    configure_boringssl(sctx[V_NOVERIFY], &p);
    SSL_CTX_set_custom_verify(sctx[V_NOVERIFY],
                              SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_unchecked);
    for (int k = V_MTLS; k <= V_MTLS_ID; k++) {
        mtls_error err;
        if (mtls_ssl_ctx_attach(sctx[k], policy, &err) != MTLS_OK) {
            die("mtls_ssl_ctx_attach: %s", err.message);
        }
    }
    SSL_CTX *cctx = client_ctx(&p);
    struct results res;
    struct pure pc;
    run_handshakes(&res, sctx, cctx, &o, n);
    pure_cost(&pc, &p, policy, &o);
    if (!o.json_only) {
        print_table(&res, &pc, n, &o);
    }
    print_json(&res, &pc, n, &o);
    for (int k = 0; k < NUM_VARIANTS; k++) {
        SSL_CTX_free(sctx[k]);
    }
    SSL_CTX_free(cctx);
    mtls_ctx_free(policy);
    bench_pki_free(&p);
    return 0;
}
