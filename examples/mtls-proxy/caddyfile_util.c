/*
 * caddyfile_util.c - the adapter's arena (one per adapt call, with a byte budget), string
 * vectors, error reporting ("FILE:LINE: message", first error wins) and file access.
 */
#include "caddyfile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cf_chunk {
    struct cf_chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define CF_CHUNK_MIN ((size_t)64 << 10)

void cf_ctx_init(struct cf_ctx *ctx, char *err, size_t err_len)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->err = err;
    ctx->err_len = err_len;
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
}

void cf_ctx_free(struct cf_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nowned; i++) {
        json_decref(ctx->owned[i]);
    }
    ctx->nowned = 0;
    struct cf_chunk *c = ctx->chunks;
    while (c != NULL) {
        struct cf_chunk *next = c->next;
        free(c);
        c = next;
    }
    ctx->chunks = NULL;
}

int cf_oom(struct cf_ctx *ctx)
{
    return cf_fail(ctx, NULL, "out of memory (or the Caddyfile and its imports exceed %zu MiB)",
                   CF_ARENA_BUDGET >> 20);
}

json_t *cf_own(struct cf_ctx *ctx, json_t *v)
{
    if (v == NULL) {
        cf_oom(ctx);
        return NULL;
    }
    if (ctx->nowned == ctx->owned_cap) {
        size_t nc = ctx->owned_cap ? ctx->owned_cap * 2 : 16;
        json_t **nv = cf_grow(ctx, ctx->owned, ctx->nowned * sizeof(*nv), nc * sizeof(*nv));
        if (nv == NULL) {
            json_decref(v);
            return NULL;
        }
        ctx->owned = nv;
        ctx->owned_cap = nc;
    }
    ctx->owned[ctx->nowned++] = v;
    return v;
}

void *cf_alloc(struct cf_ctx *ctx, size_t n)
{
    const size_t align = sizeof(max_align_t);
    if (n > CF_ARENA_BUDGET) {
        cf_oom(ctx);
        return NULL;
    }
    n = (n + align - 1) / align * align;
    if (n == 0) {
        n = align;
    }
    struct cf_chunk *c = ctx->chunks;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CF_CHUNK_MIN ? n : CF_CHUNK_MIN;
        if (ctx->arena_used + size > CF_ARENA_BUDGET) {
            cf_oom(ctx);
            return NULL;
        }
        c = malloc(sizeof(*c) + size);
        if (c == NULL) {
            cf_oom(ctx);
            return NULL;
        }
        c->used = 0;
        c->size = size;
        c->next = ctx->chunks;
        ctx->chunks = c;
        ctx->arena_used += size;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *cf_grow(struct cf_ctx *ctx, void *old, size_t old_bytes, size_t new_bytes)
{
    void *p = cf_alloc(ctx, new_bytes);
    if (p != NULL && old != NULL && old_bytes > 0) {
        memcpy(p, old, old_bytes < new_bytes ? old_bytes : new_bytes);
    }
    return p;
}

char *cf_strndup(struct cf_ctx *ctx, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        cf_oom(ctx);
        return NULL;
    }
    char *p = cf_alloc(ctx, n + 1);
    if (p != NULL) {
        if (n > 0) {
            memcpy(p, s, n);
        }
        p[n] = '\0';
    }
    return p;
}

char *cf_strdup(struct cf_ctx *ctx, const char *s)
{
    return cf_strndup(ctx, s, strlen(s));
}

static char *cf_vprintf(struct cf_ctx *ctx, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        cf_oom(ctx);
        return NULL;
    }
    char *p = cf_alloc(ctx, (size_t)n + 1);
    if (p != NULL) {
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    }
    return p;
}

char *cf_printf(struct cf_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = cf_vprintf(ctx, fmt, ap);
    va_end(ap);
    return p;
}

int cf_strv_push(struct cf_ctx *ctx, struct cf_strv *v, const char *s)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        const char **nv = cf_grow(ctx, v->v, v->n * sizeof(*nv), cap * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = s;
    return 0;
}

int cf_strv_contains(const struct cf_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->v[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

int cf_strv_equal(const struct cf_strv *a, const struct cf_strv *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i], b->v[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

json_t *cf_strv_json(const struct cf_strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < v->n; i++) {
        if (json_array_append_new(a, json_string(v->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int cf_vfail(struct cf_ctx *ctx, const char *file, int line, const char *fmt, va_list ap)
{
    if (ctx->failed) {
        return -1;
    }
    ctx->failed = 1;
    if (ctx->err == NULL || ctx->err_len == 0) {
        return -1;
    }
    int n = 0;
    if (file != NULL) {
        n = snprintf(ctx->err, ctx->err_len, "%s:%d: ", file, line);
        if (n < 0 || (size_t)n >= ctx->err_len) {
            return -1;
        }
    }
    vsnprintf(ctx->err + n, ctx->err_len - (size_t)n, fmt, ap);
    return -1;
}

int cf_fail(struct cf_ctx *ctx, const struct cf_token *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_vfail(ctx, at ? at->file : NULL, at ? at->line : 0, fmt, ap);
    va_end(ap);
    return -1;
}

int cf_fail_at(struct cf_ctx *ctx, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_vfail(ctx, file, line, fmt, ap);
    va_end(ap);
    return -1;
}

int cf_unsupported(struct cf_ctx *ctx, const struct cf_token *at, const char *what)
{
    return cf_fail(ctx, at, "%s is not supported by mtls-proxy", what);
}

int cf_has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int cf_has_suffix(const char *s, const char *p)
{
    size_t ls = strlen(s), lp = strlen(p);
    return ls >= lp && memcmp(s + ls - lp, p, lp) == 0;
}

/* filepath.Clean for Unix paths. */
static char *clean_path(struct cf_ctx *ctx, const char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        return cf_strdup(ctx, ".");
    }
    int rooted = path[0] == '/';
    char *out = cf_alloc(ctx, n + 2);
    if (out == NULL) {
        return NULL;
    }
    size_t w = 0, r = 0, dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < n) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
            r++;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/') {
                    w--;
                }
            } else if (!rooted) {
                if (w > 0) {
                    out[w++] = '/';
                }
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0)) {
                out[w++] = '/';
            }
            for (; r < n && path[r] != '/'; r++) {
                out[w++] = path[r];
            }
        }
    }
    if (w == 0) {
        out[w++] = '.';
    }
    out[w] = '\0';
    return out;
}

char *cf_abs_path(struct cf_ctx *ctx, const char *path)
{
    if (path[0] == '/') {
        return clean_path(ctx, path);
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return clean_path(ctx, path);
    }
    char *joined = cf_printf(ctx, "%s/%s", cwd, path);
    return joined ? clean_path(ctx, joined) : NULL;
}

char *cf_dir(struct cf_ctx *ctx, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return cf_strdup(ctx, ".");
    }
    char *d = cf_strndup(ctx, path, (size_t)(slash - path) + 1);
    return d ? clean_path(ctx, d) : NULL;
}

/* Reads a regular file of at most CF_FILE_MAX bytes into the arena (NUL-terminated).
 * Returns -1 with *err_no set (EISDIR, EFBIG, EINVAL for non-regular files, ...). */
int cf_read_file(struct cf_ctx *ctx, const char *path, char **out, size_t *out_len, int *err_no)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        *err_no = errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        *err_no = EISDIR;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *err_no = EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > CF_FILE_MAX) {
        *err_no = EFBIG;
        goto out;
    }
    char *buf = cf_alloc(ctx, (size_t)st.st_size + 1);
    if (buf == NULL) {
        *err_no = ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            *err_no = errno;
            goto out;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    rc = 0;
out:
    close(fd);
    return rc;
}
