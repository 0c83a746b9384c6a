/*
 * fuzz_policy_load - the policy loader: JSON bytes -> mtls_ctx_new_from_json.
 *
 * Invariants, beyond "no crash, no leak":
 * - a failed load fills the error: a known code with its category, a non-empty message and
 *   source location, and a 1-based line/column exactly for JSON syntax errors;
 * - a successful load is a function of the document: loading it again, and loading it after
 *   jansson re-serialises it (keys sorted and indented; keys in reverse order, compact),
 *   gives the same decisions: the policies' modes and fields, the verdicts and messages of
 *   mtls_verify_der on a fixed set of chains from the fixed PKI at the fixed clock, and
 *   mtls_ctx_select on a fixed set of (SNI, remote, local) connections;
 * - out-of-range policy indexes are refused with an error, never read;
 * - naming a server (the whole-Caddy-config shape) only ever succeeds or fails cleanly.
 * No file is read: nofiles.c makes every open() of the library fail while an input runs.
 * Suggested -max_len: 16384.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_mtls.h"

/* ---- a growable transcript of decisions -------------------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(t->p, cap);
        FUZZ_CHECK(p != NULL);
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    FUZZ_CHECK(n >= 0);
    text_add(t, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- the fixed probes --------------------------------------------------------------------- */

#define MAX_PROBE_CERTS 3
struct probe {
    const char *name;
    size_t num;
    const uint8_t *certs[MAX_PROBE_CERTS];
    size_t lens[MAX_PROBE_CERTS];
    int64_t at;
};

static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x00};

static struct probe probes[8];
static size_t num_probes;

static const char *const field_names[] = {"certificate_selection", "protocol_min", "protocol_max",
                                          "alpn", "cipher_suites", "curves", "default_sni",
                                          "fallback_sni", "drop", "nonexistent"};

static const struct {
    const char *sni, *remote, *local;
} conns[] = {
    {NULL, NULL, NULL},
    {"client.example", "192.0.2.7", "10.0.0.1"},
    {"localhost", "127.0.0.1", "127.0.0.1"},
    {"a.example.com", "2001:db8::1", "::1"},
    {"EXAMPLE.com", "10.1.2.3", NULL},
    {"", "198.51.100.200", "203.0.113.9"},
};

/* Judging every policy of a large document on every probe is slow and adds nothing. */
#define MAX_JUDGED_POLICIES 8

static void add_probe(const char *name, int64_t at, size_t num, const struct fuzz_der *a,
                      const struct fuzz_der *b, const struct fuzz_der *c)
{
    const struct fuzz_der *d[3] = {a, b, c};
    struct probe *p = &probes[num_probes++];
    p->name = name;
    p->num = num;
    p->at = at;
    for (size_t i = 0; i < num; i++) {
        p->certs[i] = d[i] ? d[i]->der : garbage;
        p->lens[i] = d[i] ? d[i]->len : sizeof(garbage);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const struct fuzz_pki *k = fuzz_pki_get();
    add_probe("none", FUZZ_NOW, 0, NULL, NULL, NULL);
    add_probe("leaf+inter", FUZZ_NOW, 2, &k->leaf, &k->inter, NULL);
    add_probe("leaf", FUZZ_NOW, 1, &k->leaf, NULL, NULL);
    add_probe("leaf+inter+root", FUZZ_NOW, 3, &k->leaf, &k->inter, &k->root);
    add_probe("leaf+inter@2031", INT64_C(1924992000), 2, &k->leaf, &k->inter, NULL);
    add_probe("stranger", FUZZ_NOW, 1, &k->stranger, NULL, NULL);
    add_probe("inter", FUZZ_NOW, 1, &k->inter, NULL, NULL);
    add_probe("garbage", FUZZ_NOW, 1, NULL, NULL, NULL);
    return 0;
}

/* A field's JSON text, canonical (sorted keys, compact), so that key order does not count. */
static void add_field(struct text *t, const char *json)
{
    if (json == NULL) {
        text_printf(t, "(unset)\n");
        return;
    }
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    FUZZ_CHECK(v != NULL); /* the library hands out valid JSON */
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    FUZZ_CHECK(s != NULL);
    text_add(t, s, strlen(s));
    text_add(t, "\n", 1);
    free(s);
    json_decref(v);
}

static void judge(struct text *t, const mtls_ctx *ctx, size_t index, const struct probe *p)
{
    mtls_peer *peer = NULL;
    mtls_error err;
    FUZZ_CHECK(mtls_verify_der(ctx, index, p->certs, p->lens, p->num, p->at, &peer, &err) ==
               MTLS_OK);
    FUZZ_CHECK(peer != NULL && err.code == MTLS_OK);
    int accepted = mtls_peer_accepted(peer), reason = mtls_peer_reason(peer);
    FUZZ_CHECK(accepted == (reason == MTLS_OK) && fuzz_is_known_code(reason));
    FUZZ_CHECK(mtls_peer_has_certificate(peer) == (p->num > 0));
    FUZZ_CHECK(mtls_peer_policy_index(peer) == index);
    FUZZ_CHECK(mtls_peer_mode(peer) == mtls_ctx_policy_mode(ctx, index));
    FUZZ_CHECK(!mtls_peer_verified(peer) || accepted);
    const char *msg = mtls_peer_message(peer);
    FUZZ_CHECK(msg != NULL && msg[0] != '\0');
    text_printf(t, "  %s: accepted=%d verified=%d reason=%d ", p->name, accepted,
                mtls_peer_verified(peer), reason);
    text_add(t, msg, strlen(msg));
    text_add(t, "\n", 1);
    mtls_peer_free(peer);
}

/* Everything a ctx decides, as text. */
static void decisions(struct text *t, const mtls_ctx *ctx)
{
    size_t n = mtls_ctx_num_policies(ctx);
    mtls_error err;
    mtls_peer *peer = NULL;
    FUZZ_CHECK(n >= 1);
    text_printf(t, "policies %zu\n", n);
    /* Out of range: refused, never read. */
    FUZZ_CHECK(mtls_ctx_policy_mode(ctx, n) == -1);
    FUZZ_CHECK(mtls_ctx_policy_field(ctx, n, "alpn") == NULL);
    FUZZ_CHECK(mtls_verify_der(ctx, n, NULL, NULL, 0, FUZZ_NOW, &peer, &err) ==
                   MTLS_ERR_INVALID_ARGUMENT &&
               peer == NULL);
    fuzz_check_error(&err);
    for (size_t i = 0; i < n && i < MAX_JUDGED_POLICIES; i++) {
        int mode = mtls_ctx_policy_mode(ctx, i);
        FUZZ_CHECK(mode >= MTLS_MODE_OFF && mode <= MTLS_MODE_REQUIRE_AND_VERIFY);
        text_printf(t, "policy %zu mode %d\n", i, mode);
        for (size_t f = 0; f < sizeof(field_names) / sizeof(field_names[0]); f++) {
            text_printf(t, "  %s=", field_names[f]);
            add_field(t, mtls_ctx_policy_field(ctx, i, field_names[f]));
        }
        for (size_t p = 0; p < num_probes; p++) {
            judge(t, ctx, i, &probes[p]);
        }
    }
    for (size_t c = 0; c < sizeof(conns) / sizeof(conns[0]); c++) {
        size_t index = (size_t)-1;
        mtls_status rc = mtls_ctx_select(ctx, conns[c].sni, conns[c].remote, conns[c].local,
                                         &index, &err);
        if (rc == MTLS_OK) {
            FUZZ_CHECK(index < n);
            text_printf(t, "select %zu -> %zu\n", c, index);
        } else {
            FUZZ_CHECK(rc == MTLS_ERR_NO_MATCHING_POLICY && err.code == (int)rc);
            fuzz_check_error(&err);
            text_printf(t, "select %zu -> none\n", c);
        }
    }
}

static mtls_ctx *load(const char *json, size_t len, const char *server)
{
    mtls_error err;
    memset(&err, 0x5a, sizeof(err)); /* the loader must overwrite it, whatever it held */
    mtls_ctx *ctx = mtls_ctx_new_from_json(json, len, server, &err);
    if (ctx == NULL) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK(err.code == MTLS_OK);
    }
    return ctx;
}

/* The same value with every object's keys inserted in reverse order. */
static json_t *reversed(json_t *v)
{
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        FUZZ_CHECK(out != NULL);
        json_array_foreach(v, i, e)
        {
            FUZZ_CHECK(json_array_append_new(out, reversed(e)) == 0);
        }
        return out;
    }
    if (!json_is_object(v)) {
        return json_incref(v);
    }
    size_t n = json_object_size(v), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    const char *key;
    json_t *e;
    FUZZ_CHECK(keys != NULL);
    json_object_foreach(v, key, e)
    {
        keys[i++] = key;
    }
    json_t *out = json_object();
    FUZZ_CHECK(out != NULL);
    while (i-- > 0) {
        FUZZ_CHECK(json_object_set_new(out, keys[i], reversed(json_object_get(v, keys[i]))) == 0);
    }
    free(keys);
    return out;
}

/* Loads `json` and compares its decisions with `want`. */
static void same_decisions(const char *json, const char *want)
{
    mtls_ctx *ctx = load(json, strlen(json), NULL);
    FUZZ_CHECK(ctx != NULL); /* a re-serialised document that loaded must load */
    struct text t = {0};
    decisions(&t, ctx);
    if (strcmp(t.p, want) != 0) {
        fprintf(stderr, "--- decisions of the input\n%s--- after re-serialisation\n%s---\n%s\n",
                want, t.p, json);
        FUZZ_CHECK(!"same decisions after a JSON round trip");
    }
    free(t.p);
    mtls_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    fuzz_files_blocked = 1;

    mtls_ctx *ctx = load(json, size, NULL);
    /* A named server: only the whole-config shape may succeed; never a crash. */
    mtls_ctx_free(load(json, size, "srv0"));
    if (ctx == NULL) {
        fuzz_files_blocked = 0;
        return 0;
    }
    struct text first = {0}, again = {0};
    decisions(&first, ctx);
    mtls_ctx_free(ctx);

    ctx = load(json, size, NULL);
    FUZZ_CHECK(ctx != NULL);
    decisions(&again, ctx);
    FUZZ_CHECK(strcmp(first.p, again.p) == 0);
    mtls_ctx_free(ctx);

    /* The loader took it, so jansson does too (it parses with JSON_REJECT_DUPLICATES). */
    json_t *root = json_loadb(json, size, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(root != NULL);
    char *sorted = json_dumps(root, JSON_INDENT(3) | JSON_SORT_KEYS);
    json_t *rev = reversed(root);
    char *compact = json_dumps(rev, JSON_COMPACT);
    FUZZ_CHECK(sorted != NULL && compact != NULL);
    same_decisions(sorted, first.p);
    same_decisions(compact, first.p);
    free(sorted);
    free(compact);
    json_decref(rev);
    json_decref(root);
    free(first.p);
    free(again.p);
    fuzz_files_blocked = 0;
    return 0;
}
