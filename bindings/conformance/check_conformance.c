/*
 * check_conformance.c - the C side of the conformance table (README.md here): re-reads the
 * table gen_conformance wrote and re-checks every case the way each binding's test does --
 * build the ctx from `policy`, verify `chain_der_b64` at `at` under `policy_index`, compare
 * every field of `expect` and the identity byte for byte (every key present, no extra key),
 * and `select` when present. Also checks that `chain_pem` holds the same certificates, so a
 * drift in how the table is written is caught here before any binding sees it.
 *
 * Usage: check_conformance TABLE.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mtls/mtls.h>

#include "conformance.h"

static int failures;

static void fail(const char *name, const char *what, const char *detail)
{
    fprintf(stderr, "conformance: %s: %s%s%s\n", name, what, detail ? ": " : "",
            detail ? detail : "");
    failures++;
}

struct ders {
    uint8_t *p[CONF_MAX_CHAIN];
    size_t len[CONF_MAX_CHAIN];
    size_t n;
};

static void ders_free(struct ders *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->p[i]);
    }
    d->n = 0;
}

static int read_ders(const char *name, json_t *arr, struct ders *d)
{
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) > CONF_MAX_CHAIN) {
        fail(name, "chain_der_b64 is not an array of at most 16", NULL);
        return -1;
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || conf_unb64(json_string_value(v), &d->p[i], &d->len[i]) != 0) {
            fail(name, "chain_der_b64 holds invalid base64", NULL);
            return -1;
        }
        d->n = i + 1;
    }
    return 0;
}

/* chain_pem must decode to exactly the certificates of chain_der_b64. */
static void check_pem(const char *name, const char *pem, const struct ders *d)
{
    struct ders p = {0};
    int n = conf_unpem(pem, p.p, p.len, CONF_MAX_CHAIN);
    if (n < 0) {
        fail(name, "chain_pem is malformed", NULL);
        return;
    }
    p.n = (size_t)n;
    int same = p.n == d->n;
    for (size_t i = 0; same && i < p.n; i++) {
        same = p.len[i] == d->len[i] && memcmp(p.p[i], d->p[i], p.len[i]) == 0;
    }
    if (!same) {
        fail(name, "chain_pem and chain_der_b64 differ", NULL);
    }
    ders_free(&p);
}

static void check_int(const char *name, json_t *expect, const char *key, long long got)
{
    json_t *v = json_object_get(expect, key);
    if (!(json_is_integer(v) || json_is_boolean(v))) {
        fail(name, "expect lacks", key);
        return;
    }
    long long want = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
    if (want != got) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s is %lld, table says %lld", key, got, want);
        fail(name, msg, NULL);
    }
}

static void check_str(const char *name, json_t *expect, const char *key, const char *got)
{
    const char *want = json_string_value(json_object_get(expect, key));
    if (want == NULL || strcmp(want, got) != 0) {
        fail(name, key, got);
    }
}

struct id_check {
    const char *name;
    json_t *want;
    size_t seen;
};

static int check_entry(void *user, const char *key, const char *value, size_t len)
{
    struct id_check *ic = user;
    const char *b64 = json_string_value(json_object_get(ic->want, key));
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (b64 == NULL) {
        fail(ic->name, "identity entry missing from the table", key);
        return 0;
    }
    ic->seen++;
    if (conf_unb64(b64, &bytes, &n) != 0) {
        fail(ic->name, "identity entry is not base64", key);
        return 0;
    }
    if (n != len || memcmp(bytes, value, len) != 0) {
        fail(ic->name, "identity bytes differ", key);
    }
    free(bytes);
    return 0;
}

/* Every table entry renders to the same bytes, and the table has every entry. */
static void check_identity(const char *name, mtls_peer *peer, json_t *want)
{
    struct id_check ic = {name, want, 0};
    if (!json_is_object(want)) {
        fail(name, "expect.identity_b64 is not an object", NULL);
        return;
    }
    conf_identity(peer, check_entry, &ic, NULL);
    if (ic.seen != json_object_size(want)) {
        fail(name, "the table has identity entries libmtls does not render", NULL);
    }
}

static void check_expect(const char *name, mtls_peer *peer, json_t *e)
{
    int reason = mtls_peer_reason(peer);
    check_int(name, e, "accepted", mtls_peer_accepted(peer));
    check_int(name, e, "verified", mtls_peer_verified(peer));
    check_int(name, e, "has_certificate", mtls_peer_has_certificate(peer));
    check_str(name, e, "reason", mtls_error_name(reason));
    check_int(name, e, "reason_code", reason);
    check_int(name, e, "category", mtls_category_of(reason));
    check_str(name, e, "message", mtls_peer_message(peer));
    check_int(name, e, "mode", mtls_peer_mode(peer));
    check_int(name, e, "num_chain", (long long)mtls_peer_num_chain(peer));
    check_identity(name, peer, json_object_get(e, "identity_b64"));
}

static void check_select(const char *name, const mtls_ctx *ctx, json_t *sel)
{
    size_t i;
    json_t *s;
    json_array_foreach(sel, i, s)
    {
        size_t idx = 0;
        mtls_status st = mtls_ctx_select(ctx, json_string_value(json_object_get(s, "sni")),
                                         json_string_value(json_object_get(s, "remote_ip")),
                                         json_string_value(json_object_get(s, "local_ip")), &idx,
                                         NULL);
        json_int_t want = json_integer_value(json_object_get(s, "index"));
        if ((st == MTLS_OK ? (json_int_t)idx : -1) != want ||
            (st != MTLS_OK && st != MTLS_ERR_NO_MATCHING_POLICY)) {
            fail(name, "select disagrees", json_string_value(json_object_get(s, "sni")));
        }
    }
}

static void check_case(json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *policy = json_string_value(json_object_get(c, "policy"));
    const char *pem = json_string_value(json_object_get(c, "chain_pem"));
    json_t *at = json_object_get(c, "at"), *index = json_object_get(c, "policy_index");
    if (name == NULL || policy == NULL || pem == NULL || !json_is_integer(at) ||
        !json_is_integer(index) || !json_is_object(json_object_get(c, "expect"))) {
        fail(name ? name : "?", "case lacks a field", NULL);
        return;
    }
    struct ders d = {0};
    if (read_ders(name, json_object_get(c, "chain_der_b64"), &d) != 0) {
        ders_free(&d);
        return;
    }
    check_pem(name, pem, &d);
    mtls_error err = {0};
    mtls_ctx *ctx = mtls_ctx_new_from_json(policy, strlen(policy), NULL, &err);
    mtls_peer *peer = NULL;
    if (ctx == NULL) {
        fail(name, "policy does not load", err.message);
    } else if (mtls_verify_der(ctx, (size_t)json_integer_value(index),
                               (const uint8_t *const *)d.p, d.len, d.n, json_integer_value(at),
                               &peer, &err) != MTLS_OK) {
        fail(name, "mtls_verify_der failed", err.message);
    } else {
        check_expect(name, peer, json_object_get(c, "expect"));
        if (json_object_get(c, "select") != NULL) {
            check_select(name, ctx, json_object_get(c, "select"));
        }
    }
    mtls_peer_free(peer);
    mtls_ctx_free(ctx);
    ders_free(&d);
}

static void check_header(json_t *root)
{
    json_t *names = json_object_get(root, "placeholders");
    if (json_integer_value(json_object_get(root, "format")) != 1) {
        fail("(table)", "format is not 1", NULL);
    }
    check_str("(table)", root, "library_version", mtls_version());
    check_str("(table)", root, "tls_library", mtls_tls_library());
    if (json_array_size(names) != mtls_placeholder_count()) {
        fail("(table)", "placeholders: wrong count", NULL);
    }
    for (size_t i = 0; i < json_array_size(names); i++) {
        const char *n = json_string_value(json_array_get(names, i));
        const char *want = mtls_placeholder_name(i);
        if (n == NULL || want == NULL || strcmp(n, want) != 0) {
            fail("(table)", "placeholders differ at", n);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: check_conformance TABLE.json\n");
        return 2;
    }
    json_error_t je;
    json_t *root = json_load_file(argv[1], 0, &je);
    if (root == NULL) {
        fprintf(stderr, "conformance: %s:%d:%d: %s\n", argv[1], je.line, je.column, je.text);
        return 1;
    }
    check_header(root);
    json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        check_case(c);
    }
    if (json_array_size(cases) == 0) {
        fail("(table)", "no cases", NULL);
    }
    printf("%zu cases checked, %d failure(s)\n", json_array_size(cases), failures);
    json_decref(root);
    return failures == 0 ? 0 : 1;
}
