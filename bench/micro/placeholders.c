/*
 * bench/micro/placeholders.c - the cost of rendering each placeholder (issue 6, part 2).
 *
 * Peers come from mtls_verify_der of the benchmark client leaf (P-384 key, Ed25519 CA,
 * subject C/O/OU/CN, SANs: 2 DNS, email, URI, IP) under a require_and_verify policy. For
 * every name mtls_placeholder_name lists (plus the `.0` index forms of the SAN lists), a
 * batch of fresh peers is made untimed, then the first mtls_peer_get of that name on each
 * is timed (thread CPU time over the whole batch / batch size): that is the cost a server
 * pays once per connection for each placeholder its config uses. The second read (served
 * from the peer's cache) is timed the same way. "all placeholders" reads every name, in
 * order, on a fresh peer. Connection placeholders (http.request.tls.version, ...) render
 * empty here, as for any mtls_verify_der peer; a handshake peer copies short strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtls/mtls.h>

#include "common.h"
#include "pki.h"

#define MAX_NAMES 64

static const char *const index_forms[] = {
    "http.request.tls.client.san.dns_names.0", "http.request.tls.client.san.emails.0",
    "http.request.tls.client.san.ips.0", "http.request.tls.client.san.uris.0"};

struct ph {
    const char *name;
    double first, cached; /* medians, µs */
    size_t len;           /* rendered length */
};

static mtls_peer *new_peer(const mtls_ctx *ctx, const struct bench_pki *p)
{
    const uint8_t *certs[1] = {p->alice_der};
    size_t lens[1] = {p->alice_der_len};
    mtls_peer *peer = NULL;
    mtls_error err;
    if (mtls_verify_der(ctx, 0, certs, lens, 1, MTLS_TIME_NOW, &peer, &err) != MTLS_OK ||
        !mtls_peer_accepted(peer)) {
        die("mtls_verify_der refused the client");
    }
    return peer;
}

static void get(mtls_peer *peer, const char *name, size_t *len)
{
    const char *v = NULL;
    mtls_error err;
    if (mtls_peer_get(peer, name, &v, len, &err) != MTLS_OK) {
        die("mtls_peer_get %s: %s", name, err.message);
    }
}

/* measure times the first and the second read of `names` on `n` fresh peers. */
static void measure(double *first, double *cached, size_t *len, mtls_peer **peers,
                    const mtls_ctx *ctx, const struct bench_pki *p, const char *const *names,
                    size_t num_names, int n)
{
    for (int i = 0; i < n; i++) {
        peers[i] = new_peer(ctx, p);
    }
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < num_names; k++) {
            get(peers[i], names[k], len);
        }
    }
    double t1 = cpu_us();
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < num_names; k++) {
            get(peers[i], names[k], len);
        }
    }
    double t2 = cpu_us();
    for (int i = 0; i < n; i++) {
        mtls_peer_free(peers[i]);
    }
    *first = (t1 - t0) / n;
    *cached = (t2 - t1) / n;
}

static void run_one(struct ph *out, mtls_peer **peers, const mtls_ctx *ctx,
                    const struct bench_pki *p, const char *const *names, size_t num_names,
                    int n, int reps)
{
    double f[1000], c[1000];
    for (int r = 0; r < reps; r++) {
        measure(&f[r], &c[r], &out->len, peers, ctx, p, names, num_names, n);
    }
    out->first = median(f, (size_t)reps);
    out->cached = median(c, (size_t)reps);
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(&o, argc, argv, 7, NULL, NULL);
    int n = o.quick ? 20 : 200;
    struct bench_pki p;
    bench_pki_make(&p);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"mode\":\"require_and_verify\",\"trusted_ca_certs_pem_files\":[\"%s\"]}",
             p.ca_file);
    mtls_error err;
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, strlen(json), NULL, &err);
    if (ctx == NULL) {
        die("policy did not load: %s", err.message);
    }
    const char *names[MAX_NAMES];
    size_t num = 0;
    for (size_t i = 0; i < mtls_placeholder_count() && num < MAX_NAMES - 4; i++) {
        names[num++] = mtls_placeholder_name(i);
    }
    for (size_t i = 0; i < sizeof(index_forms) / sizeof(index_forms[0]); i++) {
        names[num++] = index_forms[i];
    }
    mtls_peer **peers = calloc((size_t)n, sizeof(*peers));
    struct ph *res = calloc(num + 3, sizeof(*res));
    if (peers == NULL || res == NULL) {
        die("out of memory");
    }
    double verify_us = 0;
    {
        double v[1000];
        for (int r = 0; r < o.reps; r++) {
            double t0 = cpu_us();
            for (int i = 0; i < n; i++) {
                mtls_peer_free(new_peer(ctx, &p));
            }
            v[r] = (cpu_us() - t0) / n;
        }
        verify_us = median(v, (size_t)o.reps);
    }
    for (size_t k = 0; k < num; k++) {
        res[k].name = names[k];
        run_one(&res[k], peers, ctx, &p, &names[k], 1, n, o.reps);
    }
    res[num].name = "all placeholders (each name above, once)";
    run_one(&res[num], peers, ctx, &p, names, num, n, o.reps);
    res[num + 1].name = "typical set (subject, verified, serial, fingerprint)";
    run_one(&res[num + 1], peers, ctx, &p, typical_placeholders, NUM_TYPICAL, n, o.reps);
    if (!o.json_only) {
        printf("Placeholder rendering: CPU µs per mtls_peer_get on a verified peer "
               "(median of %d batches of %d peers)\nmtls_verify_der + mtls_peer_free of the "
               "same leaf, for scale: %.2f µs\n\n", o.reps, n, verify_us);
        printf("| %-56s | %9s | %9s | %6s |\n", "placeholder", "first µs", "cached µs", "bytes");
        printf("|%s|%s|%s|%s|\n", "----------------------------------------------------------",
               "----------:", "----------:", "-------:");
        for (size_t k = 0; k < num + 2; k++) {
            printf("| %-56s | %9.3f | %9.3f | %6zu |\n", res[k].name, res[k].first,
                   res[k].cached, k < num ? res[k].len : 0);
        }
        print_context();
    }
    struct text t = {0};
    text_add(&t, "{\"bench\":\"placeholders\",\"reps\":%d,\"batch\":%d,\"load1\":%.2f,"
             "\"verify_der_us\":%.2f,\"first_us\":{", o.reps, n, load1(), verify_us);
    for (size_t k = 0; k < num; k++) {
        text_add(&t, "%s\"%s\":%.3f", k ? "," : "", res[k].name, res[k].first);
    }
    text_add(&t, "},\"all_first_us\":%.2f,\"all_cached_us\":%.2f,\"typical_first_us\":%.2f}",
             res[num].first, res[num].cached, res[num + 1].first);
    printf("%s\n", t.s);
    text_free(&t);
    free(res);
    free(peers);
    mtls_ctx_free(ctx);
    bench_pki_free(&p);
    return 0;
}
