/* bench/micro/common.c - see common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, memmem (meson passes it too) */
#endif
#include "common.h"

#include <errno.h>
#include <ftw.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void die(const char *fmt, ...)
{
    va_list ap;
    fputs("micro: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double ts_us(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) {
        die("clock_gettime: %s", strerror(errno));
    }
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

double cpu_us(void)
{
    return ts_us(CLOCK_THREAD_CPUTIME_ID);
}

double wall_us(void)
{
    return ts_us(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, size_t n)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double min_of(const double *v, size_t n)
{
    double m = n ? v[0] : 0;
    for (size_t i = 1; i < n; i++) {
        m = v[i] < m ? v[i] : m;
    }
    return m;
}

double max_of(const double *v, size_t n)
{
    double m = n ? v[0] : 0;
    for (size_t i = 1; i < n; i++) {
        m = v[i] > m ? v[i] : m;
    }
    return m;
}

/* status_kib reads a "Key:  N kB" line of /proc/self/status. */
static size_t status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t klen = strlen(key), v = 0;
    if (f == NULL) {
        die("cannot open /proc/self/status: %s", strerror(errno));
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtoul(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

size_t rss_kib(void)
{
    return status_kib("VmRSS");
}

size_t peak_rss_kib(void)
{
    return status_kib("VmHWM");
}

void trim(void)
{
    malloc_trim(0);
}

static long parse_long(const char *name, const char *s)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        die("%s: not a non-negative number: %s", name, s);
    }
    return v;
}

void parse_opts(struct opts *o, int argc, char **argv, int default_reps, const char *extra,
                long *extra_value)
{
    o->reps = default_reps;
    o->quick = 0;
    o->json_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(argv[i], "--json-only") == 0) {
            o->json_only = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            o->reps = (int)parse_long("--reps", argv[++i]);
            if (o->reps < 1 || o->reps > 1000) {
                die("--reps must be in 1..1000");
            }
        } else if (extra != NULL && strcmp(argv[i], extra) == 0 && i + 1 < argc) {
            *extra_value = parse_long(extra, argv[++i]);
        } else {
            die("usage: %s [--reps N] [--quick] [--json-only]%s%s%s", argv[0],
                extra ? " [" : "", extra ? extra : "", extra ? " N]" : "");
        }
    }
}

void text_addn(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (t->len + n + 1 > cap) {
            cap *= 2;
        }
        char *p = realloc(t->s, cap);
        if (p == NULL) {
            die("out of memory (%zu bytes)", cap);
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void text_add(struct text *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        die("vsnprintf failed");
    }
    if ((size_t)n < sizeof(small)) {
        text_addn(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        die("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_addn(t, big, (size_t)n);
    free(big);
}

void text_free(struct text *t)
{
    free(t->s);
    t->s = NULL;
    t->len = t->cap = 0;
}

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tmpdir(void)
{
    if (tmpdir[0] != '\0' && getenv("MICRO_KEEP_TMP") == NULL) {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
    }
}

static void on_signal(int sig)
{
    rm_tmpdir();
    signal(sig, SIG_DFL);
    raise(sig);
}

const char *make_tmpdir(void)
{
    if (tmpdir[0] != '\0') {
        return tmpdir;
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/mtls-micro.XXXXXX",
             base != NULL && *base != '\0' && strlen(base) < 40 ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        die("mkdtemp %s: %s", tmpdir, strerror(errno));
    }
    atexit(rm_tmpdir);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    return tmpdir;
}

const char *tmp_path(const char *name)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    if (snprintf(b, sizeof(bufs[0]), "%s/%s", make_tmpdir(), name) >= (int)sizeof(bufs[0])) {
        die("path too long: %s", name);
    }
    return b;
}

void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        die("cannot write %s: %s", path, strerror(errno));
    }
}

double load1(void)
{
    double l[1] = {0};
    if (getloadavg(l, 1) != 1) {
        return -1;
    }
    return l[0];
}

void print_context(void)
{
    double l[3] = {0, 0, 0};
    if (getloadavg(l, 3) != 3) {
        l[0] = l[1] = l[2] = -1;
    }
    printf("machine: %ld online cores, load average %.2f %.2f %.2f%s\n",
           sysconf(_SC_NPROCESSORS_ONLN), l[0], l[1], l[2],
           l[0] > 0.8 * (double)sysconf(_SC_NPROCESSORS_ONLN) ? " (busy)" : "");
}
