/*
 * bench/micro/common.h - helpers shared by the libmtls micro-benchmarks: clocks, medians,
 * memory readings, command-line options, a small JSON line writer, and a temporary
 * directory removed at exit. Benchmark code, not library code: failures abort via die().
 */
#ifndef MICRO_COMMON_H
#define MICRO_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* die prints "micro: <message>" to stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Thread CPU time (user + system of the calling thread) and monotonic wall time, in µs. */
double cpu_us(void);
double wall_us(void);

/* median of `n` values (sorts `v` in place). 0 when n == 0. */
double median(double *v, size_t n);
/* min and max of `n` values. */
double min_of(const double *v, size_t n);
double max_of(const double *v, size_t n);

/* Resident set size and its peak (VmHWM) of this process, in KiB. */
size_t rss_kib(void);
size_t peak_rss_kib(void);
/* trim returns freed heap memory to the kernel (malloc_trim) so RSS deltas count live data. */
void trim(void);

/* Options every benchmark accepts: --reps N, --quick (fewer iterations, for smoke runs),
 * --json-only (no table). Unknown options are refused. `extra` lets a benchmark take one
 * more option with a value (e.g. "--max-pins"): its value is stored in *extra_value. */
struct opts {
    int reps;
    int quick;
    int json_only;
};
void parse_opts(struct opts *o, int argc, char **argv, int default_reps, const char *extra,
                long *extra_value);

/* A growing text buffer (JSON lines, PEM files, policy documents). */
struct text {
    char *s;
    size_t len, cap;
};
void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_addn(struct text *t, const char *s, size_t n);
void text_free(struct text *t);

/* make_tmpdir creates a private temporary directory (removed with its files at exit unless
 * MICRO_KEEP_TMP is set) and returns its path (static). */
const char *make_tmpdir(void);
/* tmp_path returns "<tmpdir>/<name>" in a static rotating buffer (8 slots). */
const char *tmp_path(const char *name);
/* write_file writes `len` bytes to `path` or dies. */
void write_file(const char *path, const void *data, size_t len);

/* Prints the machine context line (load average, cores) benchmarks put under their table. */
void print_context(void);
/* load1 returns the 1-minute load average. */
double load1(void);

#endif
