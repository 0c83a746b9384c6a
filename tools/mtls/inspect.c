/*
 * tools/mtls/inspect.c - `mtls inspect [--json] CERT`: every client identity placeholder of
 * the leaf, exactly as mtls-proxy forwards it (libmtls's Caddy-identical value, then
 * control bytes escaped as \xHH). Nothing is verified: the chain is judged by a `request`
 * policy, which only needs every certificate to parse, as the proxy's handshake does.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tool.h"

#define CLIENT_PREFIX "http.request.tls.client."

static int parse_args(int argc, char **argv, int *json, const char **cert)
{
    struct cli c = {argc, argv, 1, 0, "inspect", 0};
    const char *pos = NULL;
    while (cli_next(&c)) {
        if (cli_flag(&c, "--help") || cli_flag(&c, "-h")) {
            tool_print_help(stdout);
            return 1;
        }
        if (cli_flag(&c, "--json")) {
            *json = 1;
        } else if (cli_positional(&c, &pos)) {
            if (*cert != NULL) {
                tool_error("inspect: one CERT file only");
                tool_usage_hint("inspect");
                return -1;
            }
            *cert = pos;
        }
    }
    if (!c.failed && *cert == NULL) {
        tool_error("inspect: CERT is missing");
        tool_usage_hint("inspect");
        return -1;
    }
    return c.failed ? -1 : 0;
}

/* Prints every client placeholder; -1 if one cannot be rendered. */
static int print_placeholders(mtls_peer *peer, int json)
{
    json_t *obj = json ? json_object() : NULL;
    int rc = 0;
    for (size_t i = 0; i < mtls_placeholder_count() && rc == 0; i++) {
        const char *name = mtls_placeholder_name(i), *v = NULL;
        size_t n = 0;
        mtls_error err = {0};
        if (name == NULL || strncmp(name, CLIENT_PREFIX, strlen(CLIENT_PREFIX)) != 0) {
            continue;
        }
        if (mtls_peer_get(peer, name, &v, &n, &err) != MTLS_OK) {
            tool_error("inspect: %s: %s", name, err.message);
            rc = -1;
            break;
        }
        char *e = tool_escape(v, n);
        if (e == NULL) {
            rc = -1;
        } else if (json) {
            json_object_set_new(obj, name, tool_json_text(e, strlen(e)));
        } else {
            printf("%s: %s\n", name, e);
        }
        free(e);
    }
    if (json && rc == 0) {
        tool_print_json(obj);
    } else {
        json_decref(obj);
    }
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    int json = 0;
    const char *cert = NULL;
    int p = parse_args(argc, argv, &json, &cert);
    if (p != 0) {
        return p > 0 ? 0 : EXIT_USAGE;
    }
    struct tool_certs certs = {0};
    static const char request[] = "{\"mode\":\"request\"}";
    mtls_ctx *ctx = mtls_ctx_new_from_json(request, sizeof(request) - 1, NULL, NULL);
    mtls_peer *peer = NULL;
    int rc = EXIT_USAGE;
    if (ctx == NULL || tool_load_certs(&certs, cert) != 0 ||
        mtls_verify_der(ctx, 0, (const uint8_t *const *)certs.ders, certs.lens, certs.num,
                        MTLS_TIME_NOW, &peer, NULL) != MTLS_OK) {
        goto out;
    }
    if (!mtls_peer_accepted(peer)) {
        /* Go refuses to parse it: the proxy's handshake fails, nothing is forwarded. */
        fprintf(stderr, "mtls: %s: ", cert);
        tool_fputs_escaped(stderr, mtls_peer_message(peer));
        fputc('\n', stderr);
        goto out;
    }
    rc = print_placeholders(peer, json) == 0 ? 0 : EXIT_USAGE;
out:
    mtls_peer_free(peer);
    mtls_ctx_free(ctx);
    tool_certs_free(&certs);
    return rc;
}
