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

static MTLS_RESULT read_all(int fd, const char *path, size_t max, char **out, size_t *out_len,
                            mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    size_t cap = 4096, len = 0;
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
    rc = read_all(fd, path, max, out, out_len, err);
out:
    close(fd);
    return rc;
}

MTLS_RESULT mtlsp_certs_from_pem_file(struct der_list *out, const char *path, mtls_error *err)
{
    char *text = NULL;
    size_t len = 0;
    GUARD(mtlsp_read_file(path, MTLS_MAX_FILE_BYTES, &text, &len, err));
    mtls_result rc = mtlsp_certs_from_pem(out, text, len, path, err);
    mtlsp_free(text);
    return rc;
}

/* A file is PEM when it holds a BEGIN marker; otherwise it must be one DER certificate. */
MTLS_RESULT mtlsp_certs_from_file(struct der_list *out, const char *path, mtls_error *err)
{
    char *data = NULL;
    size_t len = 0;
    GUARD(mtlsp_read_file(path, MTLS_MAX_FILE_BYTES, &data, &len, err));
    mtls_result rc;
    if (len == 0) {
        rc = (mtls_result){mtlsp_error_set(err, MTLS_ERR_PEM_NO_CERTIFICATE, __FILE__, __LINE__,
                                           "%s: empty file, no certificate", path)};
    } else if (memmem(data, len, "-----BEGIN ", 11) != NULL || (uint8_t)data[0] != 0x30) {
        rc = mtlsp_certs_from_pem(out, data, len, path, err);
    } else {
        rc = mtlsp_cert_check_der((const uint8_t *)data, len, path, err);
        if (MTLS_IS_OK(rc)) {
            rc = mtlsp_der_list_add(out, (const uint8_t *)data, len, err);
        }
    }
    mtlsp_free(data);
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
