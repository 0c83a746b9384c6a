/*
 * identity/gotime.c - certificate times as Go's cryptobyte reads them, and RFC 3339.
 *
 * Go parses UTCTime with layout "060102150405Z0700" (falling back to the minute-precision
 * "0601021504Z0700") and GeneralizedTime with "20060102150405Z0700", then refuses any
 * value that does not format back to the same bytes: so no fractional seconds, no
 * "+0000" (it formats as "Z"), fields in range, and the day valid for the month.
 */
#include "identity_int.h"

struct civil {
    int64_t year;
    int month, day, hour, min, sec;
    int offset; /* seconds east of UTC */
};

/* Reads `n` decimal digits at *p. */
static int digits(const uint8_t **p, const uint8_t *end, int n, int *out)
{
    int v = 0;
    if (end - *p < n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        uint8_t c = (*p)[i];
        if (c < '0' || c > '9') {
            return 0;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int month, int64_t year)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : dm[month - 1];
}

/* "Z" or "+hhmm"/"-hhmm" ending the string, as Z0700 parses and formats. */
static int read_zone(const uint8_t *p, const uint8_t *end, int *offset)
{
    int hh, mm;
    if (end - p == 1 && *p == 'Z') {
        *offset = 0;
        return 1;
    }
    if (end - p != 5 || (*p != '+' && *p != '-')) {
        return 0;
    }
    int sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, end, 2, &hh) || !digits(&p, end, 2, &mm) || hh > 24 || mm > 59 ||
        (hh == 0 && mm == 0)) {
        return 0;
    }
    *offset = sign * (hh * 3600 + mm * 60);
    return 1;
}

/* Month..seconds (seconds optional when `with_sec` is 0) and the zone. */
static int read_rest(struct civil *t, const uint8_t *p, const uint8_t *end, int with_sec)
{
    t->sec = 0;
    if (!digits(&p, end, 2, &t->month) || !digits(&p, end, 2, &t->day) ||
        !digits(&p, end, 2, &t->hour) || !digits(&p, end, 2, &t->min) ||
        (with_sec && !digits(&p, end, 2, &t->sec))) {
        return 0;
    }
    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > days_in(t->month, t->year) ||
        t->hour > 23 || t->min > 59 || t->sec > 59) {
        return 0;
    }
    return read_zone(p, end, &t->offset);
}

static int parse_utc(struct civil *t, const uint8_t *p, const uint8_t *end)
{
    int yy;
    if (!digits(&p, end, 2, &yy)) {
        return 0;
    }
    /* Go's "06" gives 1969..2068; cryptobyte then moves 2050.. back a century. The day
     * check runs on the first year, which has the same leap-ness in that range. */
    t->year = yy >= 69 ? 1900 + yy : 2000 + yy;
    int ok = read_rest(t, p, end, 1) || read_rest(t, p, end, 0);
    if (t->year >= 2050) {
        t->year -= 100;
    }
    return ok;
}

static int parse_generalized(struct civil *t, const uint8_t *p, const uint8_t *end)
{
    int y;
    if (!digits(&p, end, 4, &y)) {
        return 0;
    }
    t->year = y;
    return read_rest(t, p, end, 1);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

MTLS_RESULT mtlsp_gotime_read(mtlsp_cbs *cbs, int64_t *out_unix, mtls_error *err)
{
    mtlsp_cbs v;
    struct civil t = {0};
    int ok = 0;
    /* peek first: a failed CBS_get_asn1 still consumes the element */
    if (mtlsp_cbs_peek_asn1_tag(cbs, MTLSP_ASN1_UTCTIME) && mtlsp_cbs_get_asn1(cbs, &v, MTLSP_ASN1_UTCTIME)) {
        ok = parse_utc(&t, mtlsp_cbs_data(&v), mtlsp_cbs_data(&v) + mtlsp_cbs_len(&v));
        ENSURE_MSG(ok, MTLS_ERR_CERT_PARSE, "x509: malformed UTCTime");
    } else if (mtlsp_cbs_peek_asn1_tag(cbs, MTLSP_ASN1_GENERALIZEDTIME) &&
               mtlsp_cbs_get_asn1(cbs, &v, MTLSP_ASN1_GENERALIZEDTIME)) {
        ok = parse_generalized(&t, mtlsp_cbs_data(&v), mtlsp_cbs_data(&v) + mtlsp_cbs_len(&v));
        ENSURE_MSG(ok, MTLS_ERR_CERT_PARSE, "x509: malformed GeneralizedTime");
    }
    ENSURE_MSG(ok, MTLS_ERR_CERT_PARSE, "x509: unsupported time format");
    *out_unix = days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 +
                t.min * 60 + t.sec - t.offset;
    return MTLS_RESULT_OK;
}

static MTLS_RESULT append_num(struct buf *out, int64_t v, int width, char sep, mtls_error *err)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while ((u != 0 || (int)sizeof(tmp) - i < width) && i > 1);
    if (v < 0) {
        tmp[--i] = '-';
    }
    GUARD(mtlsp_buf_append(out, tmp + i, sizeof(tmp) - (size_t)i, err));
    return sep ? mtlsp_buf_append_byte(out, (uint8_t)sep, err) : MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_gotime_append_rfc3339(struct buf *out, int64_t unix_secs, mtls_error *err)
{
    int64_t days = unix_secs / 86400, secs = unix_secs % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    GUARD(append_num(out, y, 4, '-', err));
    GUARD(append_num(out, m, 2, '-', err));
    GUARD(append_num(out, d, 2, 'T', err));
    GUARD(append_num(out, secs / 3600, 2, ':', err));
    GUARD(append_num(out, secs / 60 % 60, 2, ':', err));
    GUARD(append_num(out, secs % 60, 2, 'Z', err));
    return MTLS_RESULT_OK;
}
