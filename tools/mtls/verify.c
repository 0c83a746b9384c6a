/*
 * tools/mtls/verify.c - `mtls verify`: arguments, the policy (from --policy or --ca), the
 * presented chain (CERT + --untrusted, through tool_certs_parse), mtls_verify_der, and the
 * facts the explanation needs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "verify.h"

static int parse_int(const char *s, int max, int *out)
{
    long v = 0;
    if (*s == '\0') {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    *out = (int)v;
    return v <= max ? 0 : -1;
}

static int add_file(const char **list, size_t *num, const char *opt, const char *path)
{
    if (*num >= VERIFY_MAX_FILES) {
        tool_error("verify: more than %d %s files", VERIFY_MAX_FILES, opt);
        return -1;
    }
    list[(*num)++] = path;
    return 0;
}

/* One option at c->i; returns -1 on a usage error. */
static int parse_option(struct verify_args *a, struct cli *c)
{
    const char *v = NULL, *pos = NULL;
    char why[160];
    if (cli_flag(c, "--json")) {
        a->json = 1;
    } else if (cli_value(c, "--policy", &v)) {
        a->policy = v;
    } else if (cli_value(c, "--ca", &v)) {
        return c->failed || add_file(a->cas, &a->num_cas, "--ca", v);
    } else if (cli_value(c, "--untrusted", &v)) {
        return c->failed || add_file(a->untrusted, &a->num_untrusted, "--untrusted", v);
    } else if (cli_value(c, "--at", &v)) {
        if (!c->failed && tool_parse_time(v, &a->at, why, sizeof(why)) != 0) {
            tool_error("verify: --at %s", why);
            return -1;
        }
        a->has_at = 1;
    } else if (cli_value(c, "--purpose", &v)) {
        if (!c->failed && strcmp(v, "client") != 0 && strcmp(v, "server") != 0) {
            tool_error("verify: --purpose must be client or server, not \"%s\"", v);
            return -1;
        }
        a->purpose = v != NULL && strcmp(v, "server") == 0 ? MTLS_PURPOSE_SERVER
                                                          : MTLS_PURPOSE_CLIENT;
    } else if (cli_value(c, "--max-depth", &v)) {
        if (!c->failed && parse_int(v, MTLS_MAX_DEPTH_LIMIT, &a->max_depth) != 0) {
            tool_error("verify: --max-depth must be a number from 0 to %d, not \"%s\"",
                       MTLS_MAX_DEPTH_LIMIT, v);
            return -1;
        }
        a->has_max_depth = 1;
    } else if (cli_positional(c, &pos)) {
        if (a->cert != NULL) {
            tool_error("verify: one CERT file only (\"%s\", then \"%s\"); intermediates go "
                       "into CERT or --untrusted", a->cert, pos);
            return -1;
        }
        a->cert = pos;
    }
    return c->failed ? -1 : 0;
}

/* 0: run; 1: --help printed; -1: usage error (printed). */
static int parse_args(struct verify_args *a, int argc, char **argv)
{
    struct cli c = {argc, argv, 1, 0, "verify", 0};
    a->purpose = MTLS_PURPOSE_CLIENT;
    while (cli_next(&c)) {
        if (cli_flag(&c, "--help") || cli_flag(&c, "-h")) {
            tool_print_help(stdout);
            return 1;
        }
        if (parse_option(a, &c) != 0) {
            return -1;
        }
    }
    if (c.failed) {
        return -1;
    }
    const char *problem = a->cert == NULL ? "CERT is missing"
                          : a->policy != NULL && a->num_cas > 0
                              ? "--policy and --ca exclude each other"
                          : a->policy == NULL && a->num_cas == 0
                              ? "say what to trust: --policy FILE or --ca FILE"
                              : NULL;
    if (problem != NULL) {
        tool_error("verify: %s", problem);
        tool_usage_hint("verify");
        return -1;
    }
    return 0;
}

/* --ca FILE...: {"mode":"require_and_verify","trusted_ca_certs_pem_files":[FILE...]}. */
static mtls_ctx *ca_ctx(const struct verify_args *a, mtls_error *err)
{
    json_t *root = json_pack("{s:s}", "mode", "require_and_verify");
    json_t *files = json_array();
    for (size_t i = 0; i < a->num_cas; i++) {
        json_t *s = json_string(a->cas[i]);
        if (s == NULL) {
            tool_error("verify: --ca %s: the path is not UTF-8", a->cas[i]);
        }
        json_array_append_new(files, s);
    }
    json_object_set_new(root, "trusted_ca_certs_pem_files", files);
    char *text = json_array_size(files) == a->num_cas ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text == NULL) {
        return NULL;
    }
    mtls_ctx *ctx = mtls_ctx_new_from_json(text, strlen(text), NULL, err);
    free(text);
    if (ctx == NULL) {
        tool_lib_error(NULL, err);
    }
    return ctx;
}

static mtls_ctx *build_ctx(const struct verify_args *a)
{
    mtls_error err = {0};
    mtls_ctx *ctx;
    if (a->policy != NULL) {
        ctx = mtls_ctx_new_from_file(a->policy, NULL, &err);
        if (ctx == NULL) {
            tool_lib_error(a->policy, &err);
            if (err.code == MTLS_ERR_AMBIGUOUS_SERVER) {
                tool_error("list the servers with: mtls policy check %s", a->policy);
            }
        }
    } else {
        ctx = ca_ctx(a, &err);
    }
    if (ctx == NULL) {
        return NULL;
    }
    if (mtls_ctx_set_purpose(ctx, a->purpose, &err) != MTLS_OK ||
        (a->has_max_depth && mtls_ctx_set_max_depth(ctx, a->max_depth, &err) != MTLS_OK)) {
        tool_lib_error(NULL, &err);
        mtls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The policy that judges: the first one that asks for client certificates. */
static size_t pick_policy(const mtls_ctx *ctx)
{
    for (size_t i = 0; i < mtls_ctx_num_policies(ctx); i++) {
        if (mtls_ctx_policy_mode(ctx, i) != MTLS_MODE_OFF) {
            return i;
        }
    }
    return 0;
}

static int load_inputs(struct verify_run *r)
{
    const struct verify_args *a = r->args;
    if (tool_load_certs(&r->certs, a->cert) != 0) {
        return -1;
    }
    for (size_t i = 0; i < a->num_untrusted; i++) {
        if (tool_load_certs(&r->certs, a->untrusted[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* certinfo for each presented certificate and each certificate of the verified path. */
static int gather_facts(struct verify_run *r)
{
    r->info = calloc(r->certs.num, sizeof(*r->info));
    r->num_chain = mtls_peer_num_chain(r->peer);
    r->chain = calloc(r->num_chain ? r->num_chain : 1, sizeof(*r->chain));
    if (r->info == NULL || r->chain == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->certs.num; i++) {
        if (certinfo_get(&r->info[i], r->certs.ders[i], r->certs.lens[i]) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < r->num_chain; i++) {
        size_t len = 0;
        const uint8_t *der = mtls_peer_chain_cert(r->peer, i, &len);
        if (certinfo_get(&r->chain[i], der, len) != 0) {
            return -1;
        }
    }
    char *text = NULL;
    if (mtls_ctx_describe_json(r->ctx, &text, NULL, NULL) != MTLS_OK) {
        return -1;
    }
    r->describe = json_loads(text, 0, NULL);
    mtls_free(text);
    json_t *pol = json_array_get(json_object_get(r->describe, "policies"), r->index);
    r->anchors = json_object_get(pol, "trust_anchors");
    return r->describe != NULL ? 0 : -1;
}

static int judge(struct verify_run *r)
{
    mtls_error err = {0};
    r->ctx = build_ctx(r->args);
    if (r->ctx == NULL) {
        return -1;
    }
    r->index = pick_policy(r->ctx);
    r->at = r->args->has_at ? r->args->at : (int64_t)time(NULL);
    if (mtls_verify_der(r->ctx, r->index, (const uint8_t *const *)r->certs.ders, r->certs.lens,
                        r->certs.num, r->at, &r->peer, &err) != MTLS_OK) {
        tool_lib_error(NULL, &err);
        return -1;
    }
    if (gather_facts(r) != 0) {
        tool_error("verify: out of memory");
        return -1;
    }
    struct verify_facts f = {r->peer, &r->certs, r->info, r->anchors,
                             r->args->purpose == MTLS_PURPOSE_SERVER, r->at};
    explain(&r->why, &f);
    return 0;
}

static void run_free(struct verify_run *r)
{
    for (size_t i = 0; r->info != NULL && i < r->certs.num; i++) {
        certinfo_free(&r->info[i]);
    }
    for (size_t i = 0; r->chain != NULL && i < r->num_chain; i++) {
        certinfo_free(&r->chain[i]);
    }
    free(r->info);
    free(r->chain);
    json_decref(r->describe);
    mtls_peer_free(r->peer);
    mtls_ctx_free(r->ctx);
    tool_certs_free(&r->certs);
}

int cmd_verify(int argc, char **argv)
{
    struct verify_args a = {0};
    struct verify_run r = {0};
    int p = parse_args(&a, argc, argv);
    if (p != 0) {
        return p > 0 ? 0 : EXIT_USAGE;
    }
    r.args = &a;
    int rc = EXIT_USAGE;
    if (load_inputs(&r) == 0 && judge(&r) == 0) {
        if (a.json) {
            verify_print_json(&r);
        } else {
            verify_print_human(&r);
        }
        rc = mtls_peer_accepted(r.peer) ? EXIT_ACCEPTED : EXIT_REFUSED;
    }
    run_free(&r);
    return rc;
}
