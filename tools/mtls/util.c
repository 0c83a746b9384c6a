/*
 * tools/mtls/util.c - file reading, escaping and names shared by the subcommands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

int tool_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, char *why,
                   size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_len, "%s", strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int rc = -1;
    while (buf != NULL) {
        if (len == cap) {
            if (cap > max) {
                snprintf(why, why_len, "larger than %zu bytes", max);
                goto out;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(why, why_len, "read error: %s", strerror(errno));
                goto out;
            }
            if (len > max) {
                snprintf(why, why_len, "larger than %zu bytes", max);
                goto out;
            }
            *out = buf;
            *out_len = len;
            buf = NULL;
            rc = 0;
            goto out;
        }
    }
    snprintf(why, why_len, "out of memory");
out:
    free(buf);
    fclose(f);
    return rc;
}

int tool_load_certs(struct tool_certs *out, const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char why[256];
    if (tool_read_file(path, TOOL_MAX_FILE_BYTES, &data, &len, why, sizeof(why)) != 0 ||
        tool_certs_parse(out, NULL, data, len, why, sizeof(why)) != 0) {
        tool_error("%s: %s", path, why);
        free(data);
        return -1;
    }
    free(data);
    return 0;
}

char *tool_escape(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 1) / 4) {
        return NULL;
    }
    char *out = malloc(4 * n + 1);
    size_t k = 0;
    if (out == NULL) {
        return NULL;
    }
    /* Same rule as mtls-proxy's escape_value: control bytes and DEL become \xHH. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) {
            out[k++] = (char)c;
            continue;
        }
        out[k++] = '\\';
        out[k++] = 'x';
        out[k++] = hex[c >> 4];
        out[k++] = hex[c & 15];
    }
    out[k] = '\0';
    return out;
}

void tool_fputs_escaped(FILE *f, const char *s)
{
    char *e = tool_escape(s, strlen(s));
    fputs(e != NULL ? e : "(out of memory)", f);
    free(e);
}

json_t *tool_json_text(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v != NULL) {
        return v;
    }
    /* Not UTF-8: keep ASCII, write other bytes as \xHH so nothing is lost. */
    static const char hex[] = "0123456789abcdef";
    char *buf = malloc(4 * n + 1);
    size_t k = 0;
    if (buf == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            buf[k++] = (char)c;
            continue;
        }
        buf[k++] = '\\';
        buf[k++] = 'x';
        buf[k++] = hex[c >> 4];
        buf[k++] = hex[c & 15];
    }
    v = json_stringn(buf, k);
    free(buf);
    return v;
}

void tool_print_json(json_t *v)
{
    char *s = v != NULL ? json_dumps(v, JSON_INDENT(2)) : NULL;
    if (s == NULL) {
        tool_error("out of memory");
    } else {
        fputs(s, stdout);
        fputc('\n', stdout);
    }
    free(s);
    json_decref(v);
}

const char *tool_error_name(int code)
{
    switch (code) {
#define X(name, value, category, message)                                                      \
    case value:                                                                                \
        return #name;
#include <mtls/errors.def>
#undef X
    default:
        return "UNKNOWN";
    }
}

const char *tool_mode_name(int mode)
{
    switch (mode) {
    case MTLS_MODE_REQUEST:
        return "request";
    case MTLS_MODE_REQUIRE:
        return "require";
    case MTLS_MODE_VERIFY_IF_GIVEN:
        return "verify_if_given";
    case MTLS_MODE_REQUIRE_AND_VERIFY:
        return "require_and_verify";
    default:
        return "off";
    }
}
