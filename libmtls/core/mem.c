/* core/mem.c - allocation wrappers with a failure-injection hook for tests. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mtls/mtls.h>

#include "mem.h"

static atomic_long fail_after = -1;

void mtlsp_mem_fail_after(long n)
{
    atomic_store(&fail_after, n);
}

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    if (n < 0) {
        return 0;
    }
    if (n == 0) {
        return 1;
    }
    atomic_fetch_sub(&fail_after, 1);
    return 0;
}

void *mtlsp_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *mtlsp_calloc(size_t num, size_t size)
{
    return should_fail() ? NULL : calloc(num ? num : 1, size ? size : 1);
}

void *mtlsp_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void *mtlsp_reallocarray(void *p, size_t num, size_t size)
{
    if (size != 0 && num > SIZE_MAX / size) {
        return NULL;
    }
    return mtlsp_realloc(p, num * size);
}

void mtlsp_free(void *p)
{
    free(p);
}

/* Releases what the library hands out as owned memory (mtls_ctx_describe_json). */
MTLS_API void mtls_free(void *p)
{
    mtlsp_free(p);
}

void *mtlsp_memdup(const void *p, size_t n)
{
    void *q = mtlsp_malloc(n);
    if (q != NULL && n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

char *mtlsp_strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *q = mtlsp_malloc(n + 1);
    if (q != NULL) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}

char *mtlsp_strdup(const char *s)
{
    return mtlsp_strndup(s, strlen(s));
}
