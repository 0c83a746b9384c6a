/* util.c - small helpers shared by the proxy's files. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
    return s != NULL ? strndup(s, n) : NULL;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void header_norm(char *out, size_t out_len, const char *name, size_t name_len)
{
    size_t n = name_len < out_len - 1 ? name_len : out_len - 1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)name[i]);
        out[i] = c == '_' || c == '.' ? '-' : c;
    }
    out[n] = '\0';
}

/* Go's time.ParseDuration units, enough for configs: h, m, s, ms, us/µs, ns. */
static int parse_go_duration(const char *s, int64_t *out_ns)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ns", 1},          {"us", 1000},          {"\xc2\xb5s", 1000},
                 {"ms", 1000000},    {"s", 1000000000LL},   {"m", 60000000000LL},
                 {"h", 3600000000000LL}};
    int64_t total = 0;
    if (*s == '\0') {
        return -1;
    }
    while (*s != '\0') {
        if (!isdigit((unsigned char)*s)) {
            return -1;
        }
        char *end = NULL;
        double v = strtod(s, &end);
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, ul) == 0 && ul > best_len) {
                best = i;
                best_len = ul;
            }
        }
        if (best_len == 0 || v * (double)units[best].ns > 9.2e18) {
            return -1;
        }
        total += (int64_t)(v * (double)units[best].ns);
        s = end + best_len;
    }
    *out_ns = total;
    return 0;
}

int parse_duration(json_t *v, int *out_ms)
{
    int64_t ns = 0;
    if (json_is_integer(v)) {
        ns = json_integer_value(v);
    } else if (!json_is_string(v) || parse_go_duration(json_string_value(v), &ns) != 0) {
        return -1;
    }
    if (ns < 0 || ns / 1000000 > 0x7fffffff) {
        return -1;
    }
    *out_ms = (int)(ns / 1000000);
    if (ns > 0 && *out_ms == 0) {
        *out_ms = 1;
    }
    return 0;
}
