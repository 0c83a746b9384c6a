/*
 * fuzz/nofiles.c - keeps the policy loader away from the file system while a fuzz input
 * runs. A policy may name files (trusted_ca_certs_pem_files, pem_files, folders): under
 * fuzzing they could be /dev/stdin, /dev/zero or a huge directory, and reading them would
 * make runs slow and dependent on the machine. The targets that load fuzzed policies are
 * linked with -Wl,--wrap=SYM for the calls below (fuzz/meson.build: nofiles_link_args),
 * so every call from code linked statically into the target (libmtls_internal, the proxy's
 * static libraries) comes here first; while fuzz_files_blocked is set it fails with EACCES,
 * as a file that cannot be read does. Outside the inputs (libFuzzer reading its corpus, the
 * replay driver) the real function runs. fopen is deliberately not wrapped: libFuzzer
 * writes its crash-* file with fopen while the crashing input is still running.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fuzz_mtls.h"

int fuzz_files_blocked;

/* The declarations the linker's --wrap pairs with; -Wmissing-prototypes wants them. */
int __real_open(const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
int __real_openat64(int dirfd, const char *path, int flags, ...);
DIR *__real_opendir(const char *path);
int __real_stat(const char *path, struct stat *st);
int __real_lstat(const char *path, struct stat *st);
int __real_stat64(const char *path, struct stat64 *st);
int __real_lstat64(const char *path, struct stat64 *st);

int __wrap_open(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat64(int dirfd, const char *path, int flags, ...);
DIR *__wrap_opendir(const char *path);
int __wrap_stat(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st);
int __wrap_stat64(const char *path, struct stat64 *st);
int __wrap_lstat64(const char *path, struct stat64 *st);

#define REFUSE(ret)                                                                            \
    do {                                                                                       \
        if (fuzz_files_blocked) {                                                              \
            errno = EACCES;                                                                    \
            return ret;                                                                        \
        }                                                                                      \
    } while (0)

/* open's third argument exists only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, last)                                                                  \
    mode_t mode = 0;                                                                           \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
        va_list ap;                                                                            \
        va_start(ap, last);                                                                    \
        mode = (mode_t)va_arg(ap, unsigned);                                                   \
        va_end(ap);                                                                            \
    }

int __wrap_open(const char *path, int flags, ...)
{
    MODE_ARG(flags, flags);
    REFUSE(-1);
    return __real_open(path, flags, mode);
}

int __wrap_open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, flags);
    REFUSE(-1);
    return __real_open64(path, flags, mode);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, flags);
    REFUSE(-1);
    return __real_openat(dirfd, path, flags, mode);
}

int __wrap_openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, flags);
    REFUSE(-1);
    return __real_openat64(dirfd, path, flags, mode);
}

DIR *__wrap_opendir(const char *path)
{
    REFUSE(NULL);
    return __real_opendir(path);
}

int __wrap_stat(const char *path, struct stat *st)
{
    REFUSE(-1);
    return __real_stat(path, st);
}

int __wrap_lstat(const char *path, struct stat *st)
{
    REFUSE(-1);
    return __real_lstat(path, st);
}

int __wrap_stat64(const char *path, struct stat64 *st)
{
    REFUSE(-1);
    return __real_stat64(path, st);
}

int __wrap_lstat64(const char *path, struct stat64 *st)
{
    REFUSE(-1);
    return __real_lstat64(path, st);
}
