/*
 * core/mem.h - the library's allocator. Every allocation goes through here so that the
 * allocation-failure test can fail the Nth one.
 */
#ifndef MTLS_CORE_MEM_H
#define MTLS_CORE_MEM_H

#include <stddef.h>

void *mtlsp_malloc(size_t n);
void *mtlsp_calloc(size_t num, size_t size);
void *mtlsp_realloc(void *p, size_t n);
/* mtlsp_reallocarray: realloc with an overflow-checked num * size. */
void *mtlsp_reallocarray(void *p, size_t num, size_t size);
void mtlsp_free(void *p);
char *mtlsp_strdup(const char *s);
char *mtlsp_strndup(const char *s, size_t n);
void *mtlsp_memdup(const void *p, size_t n);

/* Test hook: make the allocation after `n` successful ones fail (n < 0 disables). */
void mtlsp_mem_fail_after(long n);

#endif
