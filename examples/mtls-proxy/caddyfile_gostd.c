/*
 * caddyfile_gostd.c - ports of the Go library functions whose exact behaviour shows in
 * `caddy adapt` output: net.SplitHostPort/JoinHostPort, net.ParseIP and IP.String,
 * strconv.Atoi, textproto.CanonicalMIMEHeaderKey, time.ParseDuration (plus Caddy's "d"
 * unit), strconv.FormatFloat(-1) and sort.SliceStable (its exact permutation matters where
 * Caddy's less function is not a strict weak order).
 */
#include "caddyfile_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* net.SplitHostPort. Returns 0 on success, -1 (no error recorded) if Go would fail. */
int cf_split_host_port(struct cf_ctx *ctx, const char *hp, const char **host, const char **port)
{
    size_t len = strlen(hp);
    const char *last = strrchr(hp, ':');
    size_t j = 0, k = 0;
    if (last == NULL) {
        return -1; /* missing port */
    }
    size_t i = (size_t)(last - hp);
    const char *h;
    if (hp[0] == '[') {
        const char *e = strchr(hp, ']');
        if (e == NULL) {
            return -1;
        }
        size_t end = (size_t)(e - hp);
        if (end + 1 == len) {
            return -1;
        }
        if (end + 1 != i) {
            return -1;
        }
        h = cf_strndup(ctx, hp + 1, end - 1);
        j = 1;
        k = end + 1;
    } else {
        h = cf_strndup(ctx, hp, i);
        if (h != NULL && strchr(h, ':') != NULL) {
            return -1;
        }
    }
    if (h == NULL) {
        return -1;
    }
    if (strchr(hp + j, '[') != NULL || strchr(hp + k, ']') != NULL) {
        return -1;
    }
    *host = h;
    *port = hp + i + 1;
    return 0;
}

char *cf_join_host_port(struct cf_ctx *ctx, const char *host, const char *port)
{
    if (strchr(host, ':') != NULL) {
        return cf_printf(ctx, "[%s]:%s", host, port);
    }
    return cf_printf(ctx, "%s:%s", host, port);
}

/* net.ParseIP (Go 1.19): IPv4 dotted decimal without leading zeros, or IPv6. */
static int parse_ipv4(const char *s, uint8_t out[4])
{
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            if (*s != '.') {
                return -1;
            }
            s++;
        }
        int n = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            n = n * 10 + (*s - '0');
            digits++;
            s++;
            if (n > 255 || digits > 3) {
                return -1;
            }
        }
        if (digits == 0 || (digits > 1 && s[-digits] == '0')) {
            return -1;
        }
        out[i] = (uint8_t)n;
    }
    return *s == '\0' ? 0 : -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int parse_ipv6(const char *s, uint8_t ip[16])
{
    int ellipsis = -1, i = 0;
    memset(ip, 0, 16);
    if (s[0] == ':' && s[1] == ':') {
        ellipsis = 0;
        s += 2;
        if (*s == '\0') {
            return 0;
        }
    }
    while (i < 16) {
        /* Go's xtoi: any number of hex digits while below 0xFFFFFF, then n <= 0xFFFF */
        long n = 0;
        int c = 0;
        while (hexval(s[c]) >= 0) {
            n = n * 16 + hexval(s[c]);
            c++;
            if (n >= 0xFFFFFF) {
                return -1;
            }
        }
        if (c == 0 || n > 0xFFFF) {
            return -1;
        }
        if (s[c] == '.') {
            if (ellipsis < 0 && i != 12) {
                return -1;
            }
            if (i + 4 > 16) {
                return -1;
            }
            if (parse_ipv4(s, ip + i) != 0) {
                return -1;
            }
            s += strlen(s);
            i += 4;
            break;
        }
        ip[i] = (uint8_t)(n >> 8);
        ip[i + 1] = (uint8_t)n;
        i += 2;
        s += c;
        if (*s == '\0') {
            break;
        }
        if (*s != ':' || s[1] == '\0') {
            return -1;
        }
        s++;
        if (*s == ':') {
            if (ellipsis >= 0) {
                return -1;
            }
            ellipsis = i;
            s++;
            if (*s == '\0') {
                break;
            }
        }
    }
    if (*s != '\0') {
        return -1;
    }
    if (i < 16) {
        if (ellipsis < 0) {
            return -1;
        }
        int n = 16 - i;
        for (int j = i - 1; j >= ellipsis; j--) {
            ip[j + n] = ip[j];
        }
        for (int j = ellipsis + n - 1; j >= ellipsis; j--) {
            ip[j] = 0;
        }
    } else if (ellipsis >= 0) {
        return -1; /* an ellipsis must stand for at least one group */
    }
    return 0;
}

int cf_parse_ip(const char *s, uint8_t out[16], int *is_v4)
{
    uint8_t v4[4];
    if (parse_ipv4(s, v4) == 0) {
        static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(out, prefix, 12);
        memcpy(out + 12, v4, 4);
        *is_v4 = 1;
        return 0;
    }
    *is_v4 = 0;
    return parse_ipv6(s, out);
}

/* net.IP.String: IPv4 (and IPv4-mapped IPv6) dotted, IPv6 per RFC 5952 like Go. */
char *cf_ip_string(struct cf_ctx *ctx, const uint8_t ip[16], int is_v4)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (is_v4 || memcmp(ip, prefix, 12) == 0) {
        return cf_printf(ctx, "%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
    }
    int e0 = -1, e1 = -1;
    for (int i = 0; i < 16; i += 2) {
        int j = i;
        while (j < 16 && ip[j] == 0 && ip[j + 1] == 0) {
            j += 2;
        }
        if (j > i && j - i > e1 - e0) {
            e0 = i;
            e1 = j;
            i = j;
        }
    }
    if (e1 - e0 <= 2) {
        e0 = e1 = -1;
    }
    char buf[64];
    size_t n = 0;
    for (int i = 0; i < 16; i += 2) {
        if (i == e0) {
            buf[n++] = ':';
            buf[n++] = ':';
            i = e1;
            if (i >= 16) {
                break;
            }
        } else if (i > 0) {
            buf[n++] = ':';
        }
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%x", (unsigned)(ip[i] << 8 | ip[i + 1]));
    }
    buf[n] = '\0';
    return cf_strdup(ctx, buf);
}

/* strconv.Atoi on 64-bit: optional sign, decimal digits only, no overflow. */
int cf_atoi(const char *s, long *out)
{
    int neg = 0;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    if (*s == '\0') {
        return -1;
    }
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        if (v > (ULONG_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if ((!neg && v > (unsigned long)LONG_MAX) || (neg && v > (unsigned long)LONG_MAX + 1)) {
        return -1;
    }
    *out = neg ? (long)(0 - v) : (long)v;
    return 0;
}

static int valid_header_field_byte(unsigned char c)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (c >= 0x80 || c <= ' ' || c == 0x7f) {
        return 0;
    }
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return strchr(tchar, c) != NULL;
}

/* textproto.CanonicalMIMEHeaderKey (Go 1.19): unchanged if any byte is not a token char. */
char *cf_canonical_header_key(struct cf_ctx *ctx, const char *s)
{
    char *out = cf_strdup(ctx, s);
    if (out == NULL) {
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!valid_header_field_byte(*p)) {
            return out;
        }
    }
    int upper = 1;
    for (char *p = out; *p; p++) {
        if (upper && *p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 'a' + 'A');
        } else if (!upper && *p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
        upper = *p == '-';
    }
    return out;
}

/* time.ParseDuration leadingInt / leadingFraction. */
static int leading_int(const char **s, uint64_t *x)
{
    *x = 0;
    while (**s >= '0' && **s <= '9') {
        if (*x > (UINT64_C(1) << 63) / 10) {
            return -1;
        }
        *x = *x * 10 + (uint64_t)(**s - '0');
        if (*x > (UINT64_C(1) << 63)) {
            return -1;
        }
        (*s)++;
    }
    return 0;
}

static void leading_fraction(const char **s, uint64_t *x, double *scale)
{
    int overflow = 0;
    *x = 0;
    *scale = 1;
    while (**s >= '0' && **s <= '9') {
        if (!overflow) {
            if (*x > ((UINT64_C(1) << 63) - 1) / 10) {
                overflow = 1;
            } else {
                uint64_t y = *x * 10 + (uint64_t)(**s - '0');
                if (y > (UINT64_C(1) << 63)) {
                    overflow = 1;
                } else {
                    *x = y;
                    *scale *= 10;
                }
            }
        }
        (*s)++;
    }
}

static uint64_t duration_unit(const char *u, size_t n)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000},
        {"\xce\xbcs", 1000},
        {"ms", 1000000},
        {"s", 1000000000},
        {"m", UINT64_C(60000000000)},
        {"h", UINT64_C(3600000000000)},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
            return units[i].ns;
        }
    }
    return 0;
}

/* time.ParseDuration; returns -1 on any error (the caller reports it). */
static int go_parse_duration(const char *s, int64_t *out)
{
    uint64_t d = 0;
    int neg = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*s == '\0') {
        return -1;
    }
    while (*s != '\0') {
        uint64_t v, f = 0;
        double scale = 1;
        if (!(*s == '.' || (*s >= '0' && *s <= '9'))) {
            return -1;
        }
        const char *start = s;
        if (leading_int(&s, &v) != 0) {
            return -1;
        }
        int pre = s != start, post = 0;
        if (*s == '.') {
            s++;
            const char *fs = s;
            leading_fraction(&s, &f, &scale);
            post = s != fs;
        }
        if (!pre && !post) {
            return -1;
        }
        size_t i = 0;
        while (s[i] != '\0' && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9')) {
            i++;
        }
        if (i == 0) {
            return -1;
        }
        uint64_t unit = duration_unit(s, i);
        s += i;
        if (unit == 0 || v > (UINT64_C(1) << 63) / unit) {
            return -1;
        }
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > (UINT64_C(1) << 63)) {
                return -1;
            }
        }
        d += v;
        if (d > (UINT64_C(1) << 63)) {
            return -1;
        }
    }
    if (neg) {
        *out = d == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > (uint64_t)INT64_MAX) {
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}

/* strconv.FormatFloat(f, 'f', -1, 64): shortest digits that round-trip, fixed notation. */
static char *format_float_shortest(struct cf_ctx *ctx, double f)
{
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) {
            break;
        }
    }
    /* buf is [-]d[.ddd]e[+-]XX; rebuild in fixed notation */
    char digits[32];
    size_t nd = 0;
    const char *p = buf;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1) {
            digits[nd++] = *p;
        }
    }
    digits[nd] = '\0';
    long exp = *p == 'e' ? strtol(p + 1, NULL, 10) : 0;
    while (nd > 1 && digits[nd - 1] == '0') {
        digits[--nd] = '\0';
    }
    if (exp > 400 || exp < -400) {
        return NULL;
    }
    char out[1024];
    size_t n = 0;
    if (neg) {
        out[n++] = '-';
    }
    long point = exp + 1; /* digits before the decimal point */
    if (point <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (long i = 0; i < -point; i++) {
            out[n++] = '0';
        }
        for (size_t i = 0; i < nd; i++) {
            out[n++] = digits[i];
        }
    } else {
        for (long i = 0; i < point; i++) {
            out[n++] = (size_t)i < nd ? digits[i] : '0';
        }
        if ((size_t)point < nd) {
            out[n++] = '.';
            for (size_t i = (size_t)point; i < nd; i++) {
                out[n++] = digits[i];
            }
        }
    }
    out[n] = '\0';
    return cf_strdup(ctx, out);
}

static int is_num_char(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+';
}

/* caddy.ParseDuration: time.ParseDuration plus a "d" (day) unit. -1 means invalid. */
int cf_parse_duration(struct cf_ctx *ctx, const char *in, int64_t *out)
{
    if (strlen(in) > 1024) {
        return -1;
    }
    char *s = cf_strdup(ctx, in);
    if (s == NULL) {
        return -1;
    }
    int in_number = 0;
    size_t num_start = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char ch = s[i];
        if (ch == 'd') {
            char *days_str = cf_strndup(ctx, s + num_start, i - num_start);
            if (days_str == NULL || days_str[0] == '\0') {
                return -1;
            }
            char *end = NULL;
            double days = strtod(days_str, &end);
            if (end == days_str || *end != '\0' || !isfinite(days)) {
                return -1;
            }
            for (const char *q = days_str; *q; q++) {
                if (!is_num_char(*q)) {
                    return -1;
                }
            }
            double hours = days * 24.0;
            if (!isfinite(hours)) {
                return -1;
            }
            char *hs = format_float_shortest(ctx, hours);
            if (hs == NULL) {
                return -1;
            }
            char *ns = cf_printf(ctx, "%.*s%sh%s", (int)num_start, s, hs, s + i + 1);
            if (ns == NULL || strlen(ns) > 4096) {
                return -1;
            }
            s = ns;
            /* Go: i-- then the loop's i++ revisits the same index */
            i--;
            continue;
        }
        if (!in_number) {
            num_start = i;
        }
        in_number = is_num_char(ch);
    }
    return go_parse_duration(s, out);
}

/* Go's sort.Stable (insertion sort on blocks of 20, then SymMerge): the exact permutation
 * matters when Caddy's less function is not a strict weak order. */
struct sorter {
    void **v;
    cf_less_fn less;
    void *user;
};

static int s_less(struct sorter *s, size_t i, size_t j)
{
    return s->less(s->user, s->v[i], s->v[j]);
}

static void s_swap(struct sorter *s, size_t i, size_t j)
{
    void *t = s->v[i];
    s->v[i] = s->v[j];
    s->v[j] = t;
}

static void insertion_sort(struct sorter *s, size_t a, size_t b)
{
    for (size_t i = a + 1; i < b; i++) {
        for (size_t j = i; j > a && s_less(s, j, j - 1); j--) {
            s_swap(s, j, j - 1);
        }
    }
}

static void swap_range(struct sorter *s, size_t a, size_t b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s_swap(s, a + i, b + i);
    }
}

static void rotate(struct sorter *s, size_t a, size_t m, size_t b)
{
    size_t i = m - a, j = b - m;
    while (i != j) {
        if (i > j) {
            swap_range(s, m - i, m, j);
            i -= j;
        } else {
            swap_range(s, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(s, m - i, m, i);
}

static void sym_merge(struct sorter *s, size_t a, size_t m, size_t b)
{
    if (m - a == 1) {
        size_t i = m, j = b;
        while (i < j) {
            size_t h = (i + j) / 2;
            if (s_less(s, h, a)) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for (size_t k = a; k + 1 < i; k++) {
            s_swap(s, k, k + 1);
        }
        return;
    }
    if (b - m == 1) {
        size_t i = a, j = m;
        while (i < j) {
            size_t h = (i + j) / 2;
            if (!s_less(s, m, h)) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for (size_t k = m; k > i; k--) {
            s_swap(s, k, k - 1);
        }
        return;
    }
    size_t mid = (a + b) / 2;
    size_t n = mid + m;
    size_t start, r;
    if (m > mid) {
        start = n - b;
        r = mid;
    } else {
        start = a;
        r = m;
    }
    size_t p = n - 1;
    while (start < r) {
        size_t c = (start + r) / 2;
        if (!s_less(s, p - c, c)) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    size_t end = n - start;
    if (start < m && m < end) {
        rotate(s, start, m, end);
    }
    if (a < start && start < mid) {
        sym_merge(s, a, start, mid);
    }
    if (mid < end && end < b) {
        sym_merge(s, mid, end, b);
    }
}

void cf_sort_stable(void **v, size_t n, cf_less_fn less, void *user)
{
    struct sorter s = {v, less, user};
    size_t block = 20, a = 0, b = block;
    while (b <= n) {
        insertion_sort(&s, a, b);
        a = b;
        b += block;
    }
    insertion_sort(&s, a, n);
    while (block < n) {
        a = 0;
        b = 2 * block;
        while (b <= n) {
            sym_merge(&s, a, a + block, b);
            a = b;
            b += 2 * block;
        }
        if (a + block < n) {
            sym_merge(&s, a, a + block, n);
        }
        block *= 2;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cf_sort_strings(struct cf_strv *v)
{
    if (v->n > 1) {
        qsort(v->v, v->n, sizeof(v->v[0]), cmp_str);
    }
    return 0;
}
