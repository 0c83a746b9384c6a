/*
 * bench_c.c - the C baseline of the bindings' per-call overhead benchmarks (not a test).
 * Usage: bench_c TABLE CASE_NAME ITER
 * Builds the ctx of case CASE_NAME of the conformance table once, then prints the mean
 * nanoseconds per call of
 *   error_name       mtls_error_name(MTLS_ERR_CERT_EXPIRED)
 *   verify_identity  mtls_verify_der of the case's chain at its `at`, then every placeholder
 *                    and every `.N` SAN form rendered (conf_identity), then mtls_peer_free
 * one per line: "<operation> <ns>". Wall-clock time (CLOCK_MONOTONIC) by default; with
 * MTLS_BENCH_CLOCK=cpu in the environment, the process's CPU time (CLOCK_PROCESS_CPUTIME_ID),
 * which other load on a shared machine disturbs less.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <mtls/mtls.h>

#include "conformance.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static int touch(void *user, const char *name, const char *value, size_t len)
{
    sink += len;
    return 0;
}

static json_t *find_case(json_t *root, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            return c;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long iter = argc == 4 ? strtol(argv[3], &end, 10) : 0;
    if (argc != 4 || iter <= 0 || *end != '\0') {
        fprintf(stderr, "usage: bench_c TABLE CASE_NAME ITER\n");
        return 2;
    }
    const char *clk = getenv("MTLS_BENCH_CLOCK");
    if (clk != NULL && strcmp(clk, "cpu") == 0) {
        bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    }
    json_error_t je;
    json_t *root = json_load_file(argv[1], 0, &je);
    json_t *c = root != NULL ? find_case(root, argv[2]) : NULL;
    if (c == NULL) {
        fprintf(stderr, "bench_c: no case %s in %s\n", argv[2], argv[1]);
        json_decref(root);
        return 1;
    }
    const char *policy = json_string_value(json_object_get(c, "policy"));
    size_t index = (size_t)json_integer_value(json_object_get(c, "policy_index"));
    int64_t at = json_integer_value(json_object_get(c, "at"));
    json_t *chain = json_object_get(c, "chain_der_b64");
    uint8_t *ders[CONF_MAX_CHAIN];
    size_t lens[CONF_MAX_CHAIN], n = 0;
    for (; n < json_array_size(chain) && n < CONF_MAX_CHAIN; n++) {
        if (conf_unb64(json_string_value(json_array_get(chain, n)), &ders[n], &lens[n]) != 0) {
            fprintf(stderr, "bench_c: bad base64 in %s\n", argv[2]);
            return 1;
        }
    }
    mtls_error err = {0};
    mtls_ctx *ctx = mtls_ctx_new_from_json(policy, strlen(policy), NULL, &err);
    if (ctx == NULL) {
        fprintf(stderr, "bench_c: %s\n", err.message);
        return 1;
    }

    double t0 = now_ns();
    for (long i = 0; i < iter; i++) {
        sink += (size_t)mtls_error_name(MTLS_ERR_CERT_EXPIRED)[0];
    }
    double t1 = now_ns();
    printf("error_name %.1f\n", (t1 - t0) / (double)iter);

    t0 = now_ns();
    for (long i = 0; i < iter; i++) {
        mtls_peer *peer = NULL;
        if (mtls_verify_der(ctx, index, (const uint8_t *const *)ders, lens, n, at, &peer,
                            &err) != MTLS_OK) {
            fprintf(stderr, "bench_c: %s\n", err.message);
            return 1;
        }
        sink += (size_t)mtls_peer_accepted(peer);
        conf_identity(peer, touch, NULL, NULL);
        mtls_peer_free(peer);
    }
    t1 = now_ns();
    printf("verify_identity %.1f\n", (t1 - t0) / (double)iter);

    for (size_t i = 0; i < n; i++) {
        free(ders[i]);
    }
    mtls_ctx_free(ctx);
    json_decref(root);
    return 0;
}
