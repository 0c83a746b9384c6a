/*
 * fuzz/fuzz.h - what every fuzz target shares: the libFuzzer entry points and an invariant
 * check that stays on whatever NDEBUG says. Targets over libmtls add fuzz_mtls.h.
 */
#ifndef MTLS_FUZZ_H
#define MTLS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_fail prints the broken invariant and aborts (libFuzzer then saves the input). */
static inline _Noreturn void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
    fflush(stderr);
    abort();
}

/* Always on, unlike assert(). */
#define FUZZ_CHECK(c)                                                                          \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            fuzz_fail(#c, __FILE__, __LINE__);                                                 \
        }                                                                                      \
    } while (0)

#endif
