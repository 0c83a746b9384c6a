/*
 * tools/mtls/verify.h - `mtls verify`: one run's inputs and results, shared between the
 * command (verify.c) and its output (verify_out.c).
 */
#ifndef MTLS_TOOL_VERIFY_H
#define MTLS_TOOL_VERIFY_H

#include "tool.h"

#define VERIFY_MAX_FILES 64

struct verify_args {
    const char *policy;
    const char *cas[VERIFY_MAX_FILES];
    size_t num_cas;
    const char *untrusted[VERIFY_MAX_FILES];
    size_t num_untrusted;
    int64_t at;
    int has_at;
    int purpose; /* MTLS_PURPOSE_CLIENT or _SERVER */
    int max_depth;
    int has_max_depth;
    int json;
    const char *cert;
};

struct verify_run {
    const struct verify_args *args;
    mtls_ctx *ctx;
    size_t index;
    struct tool_certs certs; /* CERT's certificates, then the --untrusted ones */
    mtls_peer *peer;
    struct certinfo *info; /* one per certificate in `certs` */
    struct certinfo *chain; /* one per certificate of the verified path */
    size_t num_chain;
    json_t *describe; /* mtls_ctx_describe_json, parsed */
    json_t *anchors;  /* borrowed from describe: trust_anchors of policy `index` */
    struct explanation why;
    int64_t at;
};

void verify_print_human(struct verify_run *r);
void verify_print_json(struct verify_run *r);

#endif
