/*
 * fuzz_caddyfile - the Caddyfile adapter of mtls-proxy (examples/mtls-proxy/caddyfile*.c),
 * and then libmtls's policy loader on what it produced, as mtls-proxy runs them.
 *
 * Input: Caddyfile text. File access is off twice over: the adapter's own option (imports
 * of files and *_file subdirectives fail instead of reading) and nofiles.c for anything
 * else linked in. Invariants: adapt either fails with a non-empty error message or returns
 * a config that json_dumps can serialise and that parses back to an equal value; adapting
 * twice gives equal configs; the tls_connection_policies of every server of the config
 * either load with mtls_ctx_new_from_json (naming the server) or fail with a well-formed
 * error (an adapted config may carry what only the loader refuses, e.g. bad base64, as
 * `caddy adapt` does); everything is freed (leaks are failures).
 * Suggested -max_len: 16384.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "caddyfile_int.h"
#include "fuzz_mtls.h"

static json_t *adapt(const uint8_t *data, size_t size)
{
    char err[512];
    const struct cf_options opts = {.no_files = 1};
    err[0] = '\0';
    json_t *cfg = cf_adapt((const char *)data, size, "fuzz.Caddyfile", err, sizeof(err), &opts);
    if (cfg == NULL) {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
    }
    return cfg;
}

/* Every server of the adapted config through the loader, by name. */
static void load_servers(const char *text, json_t *cfg)
{
    json_t *servers = json_object_get(json_object_get(json_object_get(cfg, "apps"), "http"),
                                      "servers");
    const char *name;
    json_t *srv;
    json_object_foreach(servers, name, srv)
    {
        mtls_error err;
        mtls_ctx *ctx = mtls_ctx_new_from_json(text, strlen(text), name, &err);
        if (ctx == NULL) {
            fuzz_check_error(&err);
        } else {
            FUZZ_CHECK(mtls_ctx_num_policies(ctx) >= 1);
            mtls_ctx_free(ctx);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_files_blocked = 1;
    json_t *cfg = adapt(data, size);
    if (cfg == NULL) {
        FUZZ_CHECK(adapt(data, size) == NULL);
        fuzz_files_blocked = 0;
        return 0;
    }
    json_t *twice = adapt(data, size);
    FUZZ_CHECK(twice != NULL && json_equal(twice, cfg));
    json_decref(twice);
    char *text = json_dumps(cfg, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    json_t *back = json_loads(text, 0, NULL);
    FUZZ_CHECK(back != NULL && json_equal(back, cfg));
    load_servers(text, cfg);
    json_decref(back);
    free(text);
    json_decref(cfg);
    fuzz_files_blocked = 0;
    return 0;
}
