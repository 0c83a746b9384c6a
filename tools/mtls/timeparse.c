/*
 * tools/mtls/timeparse.c - `--at`: RFC 3339 date-times and @UNIX_SECONDS, without the C
 * library's locale- and TZ-dependent parsers.
 */
#include <string.h>
#include <time.h>

#include "tool.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly `n` digits at *s. */
static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9') {
            return -1;
        }
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int expect(const char **s, const char *set)
{
    if (**s == '\0' || strchr(set, **s) == NULL) {
        return -1;
    }
    (*s)++;
    return 0;
}

static int parse_unix(const char *s, int64_t *out)
{
    int neg = *s == '-';
    s += neg;
    if (*s == '\0' || strlen(s) > 12) { /* +/- 31,000 years is plenty */
        return -1;
    }
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* The zone suffix: Z or +HH:MM / -HH:MM, as seconds east of UTC. */
static int parse_zone(const char *s, int *out)
{
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *out = 0;
        return 0;
    }
    int sign = s[0] == '+' ? 1 : s[0] == '-' ? -1 : 0, hh, mm;
    s++;
    if (sign == 0 || digits(&s, 2, &hh) || expect(&s, ":") || digits(&s, 2, &mm) ||
        *s != '\0' || hh > 23 || mm > 59) {
        return -1;
    }
    *out = sign * (hh * 3600 + mm * 60);
    return 0;
}

int tool_parse_time(const char *s, int64_t *out, char *why, size_t why_len)
{
    if (s[0] == '@') {
        if (parse_unix(s + 1, out) != 0) {
            snprintf(why, why_len, "\"%s\": expected @ followed by decimal seconds", s);
            return -1;
        }
        return 0;
    }
    int y, mo, d, h, mi, sec, zone;
    const char *p = s;
    if (digits(&p, 4, &y) || expect(&p, "-") || digits(&p, 2, &mo) || expect(&p, "-") ||
        digits(&p, 2, &d) || expect(&p, "Tt ") || digits(&p, 2, &h) || expect(&p, ":") ||
        digits(&p, 2, &mi) || expect(&p, ":") || digits(&p, 2, &sec)) {
        snprintf(why, why_len,
                 "\"%s\": expected RFC 3339 (2024-05-01T12:00:00Z) or @UNIX_SECONDS", s);
        return -1;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            snprintf(why, why_len, "\"%s\": digits expected after the decimal point", s);
            return -1;
        }
        while (*p >= '0' && *p <= '9') {
            p++; /* fractions of a second: certificates count whole seconds */
        }
    }
    if (parse_zone(p, &zone) != 0) {
        snprintf(why, why_len, "\"%s\": time zone expected at the end: Z or +HH:MM", s);
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59) {
        snprintf(why, why_len, "\"%s\": no such date or time", s);
        return -1;
    }
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    return 0;
}

/* RFC 3339 years have four digits (strftime's %Y has no padding: "999-..."), so a time
 * outside 0000-9999, which --at takes as @UNIX_SECONDS, is written that way: every
 * rendering parses back with --at (fuzz/fuzz_mtls_verify.c checks it). */
void tool_format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        snprintf(out, 32, "@%lld", (long long)t);
        return;
    }
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
