/*
 * fuzz/replay.c - the `main` of a fuzz target built without a fuzzing engine
 * (-Dfuzzing_engine=none): runs LLVMFuzzerInitialize (when the target has one), then
 * LLVMFuzzerTestOneInput once on every file named on the command line or found in a named
 * directory (recursively, in byte order of the names, hidden files skipped), so that every
 * CI run replays the corpora and the regressions as ordinary tests.
 *
 * Each input is copied into a buffer of exactly its size, so that a sanitizer build catches
 * reads past its end as libFuzzer would. When an input fails (a signal, a sanitizer report)
 * the file is named on stderr. Arguments starting with '-' (libFuzzer flags) are ignored.
 * Exit status: 0 when every input ran, 1 when a path could not be read.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Optional in the target; a weak reference is NULL when it is absent. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Set when the program runs under a sanitizer (its runtime defines it). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const char *current; /* the input now running, for the failure note */
static size_t num_inputs;

static void say_current(void)
{
    if (current != NULL) {
        /* Async-signal-safe: write(2) only. */
        static const char pre[] = "replay: FAILED on input ";
        ssize_t r = write(STDERR_FILENO, pre, sizeof(pre) - 1);
        r = write(STDERR_FILENO, current, strlen(current));
        r = write(STDERR_FILENO, "\n", 1);
        (void)r;
    }
}

static void on_signal(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* Exactly `len` bytes (malloc(0) may return NULL: use a 1-byte block then). */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    current = path;
    LLVMFuzzerTestOneInput(exact, len);
    current = NULL;
    free(exact);
    num_inputs++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path);

static int run_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", path);
        return -1;
    }
    char **names = NULL;
    size_t num = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue; /* ".", "..", and hidden files */
        }
        if (num == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc(names, cap * sizeof(*names));
            if (more == NULL) {
                rc = -1;
                break;
            }
            names = more;
        }
        size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;
        if ((names[num] = malloc(len)) == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[num], len, "%s/%s", path, e->d_name);
        num++;
    }
    closedir(d);
    if (num > 0) {
        qsort(names, num, sizeof(*names), by_name);
    }
    for (size_t i = 0; i < num; i++) {
        if (rc == 0 && run_path(names[i]) != 0) {
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s\n", path);
        return -1;
    }
    return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int main(int argc, char **argv)
{
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], on_signal);
    }
    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(say_current);
    }
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' && run_path(argv[i]) != 0) {
            rc = 1;
        }
    }
    printf("replay: %zu inputs ran\n", num_inputs);
    return rc;
}
