/* fuzz/fuzz_common.c - helpers shared by the libmtls fuzz targets (see fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mtls.h"
#include "known_issues.h"

int fuzz_is_known_code(int code)
{
    switch (code) {
#define X(name, value, category, message) case value:
#include <mtls/errors.def>
#undef X
        return 1;
    default:
        return 0;
    }
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

void fuzz_check_error(const mtls_error *err)
{
    FUZZ_CHECK(err->code != MTLS_OK && fuzz_is_known_code(err->code));
    FUZZ_CHECK(err->category == mtls_category_of(err->code));
    FUZZ_CHECK(terminated(err->message, sizeof(err->message)) && err->message[0] != '\0');
    FUZZ_CHECK(terminated(err->where, sizeof(err->where)) && err->where[0] != '\0');
    /* Only JSON syntax errors carry a position, 1-based (mtls.h). */
    if (err->code == MTLS_ERR_JSON_SYNTAX) {
        FUZZ_CHECK(err->line >= 1 && err->column >= (KNOWN_JSON_COLUMN_ZERO ? 0 : 1));
    } else {
        FUZZ_CHECK(err->line == -1 && err->column == -1);
    }
}

size_t fuzz_split_chain(const uint8_t *data, size_t size, const uint8_t **certs, size_t *lens,
                        size_t max)
{
    size_t n = 0;
    while (size >= 2 && n < max) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (len > size) {
            len = size;
        }
        certs[n] = data;
        lens[n] = len;
        n++;
        data += len;
        size -= len;
    }
    return n;
}
