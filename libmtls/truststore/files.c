/*
 * truststore/files.c - reading certificate files and folders, with size limits and errors
 * that name the path and the errno text.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/mem.h"
#include "truststore.h"

/* Deepest folder nesting the folder loader descends into (a guard, not a Caddy limit). */
#define MAX_FOLDER_DEPTH 16

/* read_all reads `fd` to its end. `hint` is the size fstat gave (0 when unknown): the
 * buffer starts that big plus room to see the end, so a regular file costs one allocation
 * and no copy (it may still grow, if the file does meanwhile). */
static MTLS_RESULT read_all(int fd, const char *path, size_t max, size_t hint, char **out,
                            size_t *out_len, mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    size_t cap = hint > 0 && hint <= max ? hint + 2 : 4096, len = 0;
    char *data = mtlsp_malloc(cap);
    ENSURE_MEM(data);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max + 1 || cap > SIZE_MAX / 2) {
                SET_OUT(MTLS_ERR_TOO_LARGE, "%s: file larger than %zu bytes", path, max);
            }
            char *bigger = mtlsp_realloc(data, cap * 2);
            if (bigger == NULL) {
                SET_OUT(MTLS_ERR_NOMEM, NULL);
            }
            data = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, data + len, cap - len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            SET_OUT(MTLS_ERR_FILE_READ, "cannot read %s: %s", path, strerror(errno));
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > max) {
            SET_OUT(MTLS_ERR_TOO_LARGE, "%s: file larger than %zu bytes", path, max);
        }
    }
    data[len] = '\0';
    *out = data;
    *out_len = len;
    data = NULL;
out:
    mtlsp_free(data);
    return rc;
}

MTLS_RESULT mtlsp_read_file(const char *path, size_t max, char **out, size_t *out_len,
                            mtls_error *err)
{
    ENSURE_REF(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE_MSG(fd >= 0, MTLS_ERR_FILE_OPEN, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    mtls_result rc = MTLS_RESULT_OK;
    if (fstat(fd, &st) != 0) {
        SET_OUT(MTLS_ERR_FILE_READ, "cannot read %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        SET_OUT(MTLS_ERR_FILE_READ, "cannot read %s: %s", path, strerror(EISDIR));
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
        SET_OUT(MTLS_ERR_TOO_LARGE, "%s: file larger than %zu bytes", path, max);
    }
    size_t hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    rc = read_all(fd, path, max, hint, out, out_len, err);
out:
    close(fd);
    return rc;
}

/* Certificate files are read through a buffer of this size, reused for the whole file and
 * grown only for a single PEM block (or DER file) that does not fit. Reading a 90 MB pin
 * file whole would touch 22,000 fresh pages, each a page fault (several µs each on a VM),
 * for bytes that are decoded once and dropped. */
#define STREAM_BUF_BYTES ((size_t)256 << 10)

/* A file being read: the unconsumed text is buf[start, len), NUL-terminated. */
struct reader {
    int fd;
    const char *path;
    char *buf;
    size_t cap, start, len;
    size_t total; /* bytes read so far, at most MTLS_MAX_FILE_BYTES */
    int eof;
};

static MTLS_RESULT reader_open(struct reader *r, const char *path, mtls_error *err)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    ENSURE_REF(path);
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE_MSG(r->fd >= 0, MTLS_ERR_FILE_OPEN, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    ENSURE_MSG(fstat(r->fd, &st) == 0, MTLS_ERR_FILE_READ, "cannot read %s: %s", path,
               strerror(errno));
    ENSURE_MSG(!S_ISDIR(st.st_mode), MTLS_ERR_FILE_READ, "cannot read %s: %s", path,
               strerror(EISDIR));
    ENSURE_MSG(!S_ISREG(st.st_mode) || (uintmax_t)st.st_size <= (uintmax_t)MTLS_MAX_FILE_BYTES,
               MTLS_ERR_TOO_LARGE, "%s: file larger than %zu bytes", path, MTLS_MAX_FILE_BYTES);
    /* A small file gets a buffer of its size (+ room to see its end), a big one the
     * streaming buffer. */
    size_t size = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    r->cap = size > 0 && size + 2 < STREAM_BUF_BYTES ? size + 2 : STREAM_BUF_BYTES;
    r->buf = mtlsp_malloc(r->cap);
    ENSURE_MEM(r->buf);
    r->buf[0] = '\0';
    return MTLS_RESULT_OK;
}

static void reader_close(struct reader *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    mtlsp_free(r->buf);
}

/* reader_fill moves the unconsumed text to the front of the buffer (doubling the buffer
 * when that text fills it) and reads until the buffer is full or the file ends. */
static MTLS_RESULT reader_fill(struct reader *r, mtls_error *err)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    if (r->len + 1 >= r->cap) {
        ENSURE(r->cap <= SIZE_MAX / 2, MTLS_ERR_NOMEM);
        char *bigger = mtlsp_realloc(r->buf, r->cap * 2);
        ENSURE_MEM(bigger);
        r->buf = bigger;
        r->cap *= 2;
    }
    while (!r->eof && r->len + 1 < r->cap) {
        ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENSURE_MSG(n >= 0, MTLS_ERR_FILE_READ, "cannot read %s: %s", r->path, strerror(errno));
        r->eof = n == 0;
        r->len += (size_t)n;
        r->total += (size_t)n;
        ENSURE_MSG(r->total <= MTLS_MAX_FILE_BYTES, MTLS_ERR_TOO_LARGE,
                   "%s: file larger than %zu bytes", r->path, MTLS_MAX_FILE_BYTES);
    }
    r->buf[r->len] = '\0';
    return MTLS_RESULT_OK;
}

/* stream_pem parses the rest of the file as PEM, one buffer at a time. */
static MTLS_RESULT stream_pem(struct der_list *out, struct reader *r, mtls_error *err)
{
    size_t index = 0;
    for (;;) {
        size_t used = 0;
        GUARD(mtlsp_pem_scan(out, &index, &used, r->buf + r->start, r->len - r->start, r->eof,
                             r->path, err));
        r->start += used;
        if (r->eof) {
            break;
        }
        GUARD(reader_fill(r, err));
    }
    ENSURE_MSG(index > 0, MTLS_ERR_PEM_NO_CERTIFICATE, "%s: no CERTIFICATE PEM block found",
               r->path);
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_certs_from_pem_file(struct der_list *out, const char *path, mtls_error *err)
{
    struct reader r;
    mtls_result rc = reader_open(&r, path, err);
    if (MTLS_IS_OK(rc)) {
        rc = reader_fill(&r, err);
    }
    if (MTLS_IS_OK(rc)) {
        rc = stream_pem(out, &r, err);
    }
    reader_close(&r);
    return rc;
}

/* whole_file: a file that may be one DER certificate, read whole (at most 256 MiB). A file
 * is PEM when it holds a BEGIN marker; otherwise it must be one DER certificate. */
static MTLS_RESULT whole_file(struct der_list *out, struct reader *r, mtls_error *err)
{
    while (!r->eof) {
        GUARD(reader_fill(r, err));
    }
    const char *data = r->buf;
    size_t len = r->len;
    if (memmem(data, len, "-----BEGIN ", 11) != NULL) {
        return mtlsp_certs_from_pem(out, data, len, r->path, err);
    }
    GUARD(mtlsp_cert_check(out->check, (const uint8_t *)data, len, r->path, 0, err));
    return mtlsp_der_list_add(out, (const uint8_t *)data, len, err);
}

/* A file that does not start with 0x30 (a DER SEQUENCE) is PEM, streamed; one that does
 * is read whole and is PEM if it holds a BEGIN marker, else one DER certificate. */
MTLS_RESULT mtlsp_certs_from_file(struct der_list *out, const char *path, mtls_error *err)
{
    struct reader r;
    mtls_result rc = reader_open(&r, path, err);
    if (MTLS_IS_OK(rc)) {
        rc = reader_fill(&r, err);
    }
    if (MTLS_IS_OK(rc) && r.len == 0) {
        rc = (mtls_result){mtlsp_error_set(err, MTLS_ERR_PEM_NO_CERTIFICATE, __FILE__, __LINE__,
                                           "%s: empty file, no certificate", path)};
    }
    if (MTLS_IS_OK(rc)) {
        rc = (uint8_t)r.buf[0] != 0x30 ? stream_pem(out, &r, err) : whole_file(out, &r, err);
    }
    reader_close(&r);
    return rc;
}

/* Caddy's folder loader takes files whose name ends in ".pem", case-insensitively. */
static int is_pem_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".pem") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
    char **items;
    size_t num;
};

static void names_free(struct names *n)
{
    for (size_t i = 0; i < n->num; i++) {
        mtlsp_free(n->items[i]);
    }
    mtlsp_free(n->items);
}

/* list_dir returns the entry names of `dir` (without . and ..), sorted like Go's Walk. */
static MTLS_RESULT list_dir(struct names *out, const char *dir, mtls_error *err)
{
    DIR *d = opendir(dir);
    ENSURE_MSG(d != NULL, MTLS_ERR_DIR_OPEN, "cannot open directory %s: %s", dir,
               strerror(errno));
    mtls_result rc = MTLS_RESULT_OK;
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (out->num == cap) {
            cap = cap ? cap * 2 : 16;
            char **items = mtlsp_reallocarray(out->items, cap, sizeof(*items));
            if (items == NULL) {
                SET_OUT(MTLS_ERR_NOMEM, NULL);
            }
            out->items = items;
        }
        out->items[out->num] = mtlsp_strdup(e->d_name);
        if (out->items[out->num] == NULL) {
            SET_OUT(MTLS_ERR_NOMEM, NULL);
        }
        out->num++;
    }
    if (out->num > 1) {
        qsort(out->items, out->num, sizeof(*out->items), cmp_names);
    }
out:
    closedir(d);
    return rc;
}

static MTLS_RESULT walk(struct der_list *out, const char *dir, int depth, mtls_error *err);

static MTLS_RESULT walk_entry(struct der_list *out, const char *dir, const char *name,
                              int depth, mtls_error *err)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    ENSURE_MSG(n > 0 && (size_t)n < sizeof(path), MTLS_ERR_FILE_OPEN, "path too long: %s/%s",
               dir, name);
    struct stat st;
    /* Like Go's filepath.Walk: lstat, so symlinked directories are not descended into. */
    ENSURE_MSG(lstat(path, &st) == 0, MTLS_ERR_FILE_OPEN, "unable to traverse into path %s: %s",
               path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        return walk(out, path, depth + 1, err);
    }
    if (!is_pem_name(name)) {
        return MTLS_RESULT_OK;
    }
    return mtlsp_certs_from_pem_file(out, path, err);
}

static MTLS_RESULT walk(struct der_list *out, const char *dir, int depth, mtls_error *err)
{
    ENSURE_MSG(depth <= MAX_FOLDER_DEPTH, MTLS_ERR_DIR_OPEN,
               "%s: folders nested deeper than %d levels", dir, MAX_FOLDER_DEPTH);
    struct names names = {0};
    mtls_result rc = list_dir(&names, dir, err);
    for (size_t i = 0; MTLS_IS_OK(rc) && i < names.num; i++) {
        rc = walk_entry(out, dir, names.items[i], depth, err);
    }
    names_free(&names);
    return rc;
}

MTLS_RESULT mtlsp_certs_from_folder(struct der_list *out, const char *dir, mtls_error *err)
{
    ENSURE_REF(dir);
    size_t before = out->num;
    GUARD(walk(out, dir, 0, err));
    ENSURE_MSG(out->num > before, MTLS_ERR_EMPTY_TRUST,
               "folder %s holds no certificate (*.pem files, searched recursively)", dir);
    return MTLS_RESULT_OK;
}
