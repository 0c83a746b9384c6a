/*
 * fuzz_caddyfile - the Caddyfile adapter of mtls-proxy (examples/mtls-proxy/caddyfile*.c).
 *
 * Input: Caddyfile text. File access (imports of files, trusted_*_cert_file) is turned off so
 * runs are deterministic and touch nothing outside the process. Invariants: adapt either
 * fails with a non-empty error message or returns a config that json_dumps can serialise
 * and that parses back to an equal value; everything is freed (leaks are failures).
 * Suggested -max_len: 16384.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "caddyfile_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    const struct cf_options opts = {.no_files = 1};
    json_t *cfg = cf_adapt((const char *)data, size, "fuzz.Caddyfile", err, sizeof(err), &opts);
    if (cfg == NULL) {
        if (err[0] == '\0') {
            abort(); /* every failure must say why */
        }
        return 0;
    }
    char *text = json_dumps(cfg, JSON_COMPACT);
    if (text == NULL) {
        abort();
    }
    json_t *back = json_loads(text, 0, NULL);
    if (back == NULL || !json_equal(back, cfg)) {
        abort();
    }
    json_decref(back);
    free(text);
    json_decref(cfg);
    return 0;
}
