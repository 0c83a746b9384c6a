/* core/error.c - filling mtls_error, and the code table's strings. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "result.h"

struct code_info {
    int code;
    int category;
    const char *name;
    const char *message;
};

static const struct code_info codes[] = {
#define X(name, value, category, message)                                                      \
    {value, MTLS_CATEGORY_##category, #name, message},
#include <mtls/errors.def>
#undef X
};

static const struct code_info *find(int code)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].code == code) {
            return &codes[i];
        }
    }
    return NULL;
}

MTLS_API const char *mtls_strerror(int code)
{
    const struct code_info *c = find(code);
    return c ? c->message : "unknown error code";
}

MTLS_API int mtls_category_of(int code)
{
    const struct code_info *c = find(code);
    return c ? c->category : MTLS_CATEGORY_INTERNAL;
}

MTLS_API const char *mtls_error_name(int code)
{
    return mtlsp_error_name(code);
}

const char *mtlsp_error_name(int code)
{
    const struct code_info *c = find(code);
    return c ? c->name : "UNKNOWN";
}

void mtlsp_error_clear(mtls_error *err)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
    err->line = -1;
    err->column = -1;
}

int mtlsp_error_set(mtls_error *err, int code, const char *file, int line, const char *fmt, ...)
{
    if (err == NULL || err->code != 0) {
        return code;
    }
    err->code = code;
    err->category = mtls_category_of(code);
    err->line = -1;
    err->column = -1;
    if (fmt == NULL) {
        snprintf(err->message, sizeof(err->message), "%s", mtls_strerror(code));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    const char *base = strrchr(file, '/');
    snprintf(err->where, sizeof(err->where), "%s:%d", base ? base + 1 : file, line);
    return code;
}

void mtlsp_error_set_pos(mtls_error *err, int line, int column)
{
    if (err == NULL) {
        return;
    }
    err->line = line;
    err->column = column;
}

void mtlsp_error_prefix(mtls_error *err, const char *prefix)
{
    if (err == NULL || err->code == 0) {
        return;
    }
    size_t cap = sizeof(err->message);
    size_t pl = strlen(prefix);
    size_t ml = strlen(err->message);
    if (pl + 2 >= cap) {
        pl = cap - 3;
    }
    size_t keep = ml < cap - 1 - pl - 2 ? ml : cap - 1 - pl - 2;
    memmove(err->message + pl + 2, err->message, keep);
    memcpy(err->message, prefix, pl);
    err->message[pl] = ':';
    err->message[pl + 1] = ' ';
    err->message[pl + 2 + keep] = '\0';
}

void mtlsp_error_append_tls(mtls_error *err)
{
    uint32_t e = (uint32_t)ERR_get_error();
    if (err == NULL || e == 0) {
        ERR_clear_error();
        return;
    }
    size_t used = strlen(err->message);
    if (used + 3 < sizeof(err->message)) {
        err->message[used++] = ':';
        err->message[used++] = ' ';
        err->message[used] = '\0';
        ERR_error_string_n(e, err->message + used, sizeof(err->message) - used);
    }
    ERR_clear_error();
}
