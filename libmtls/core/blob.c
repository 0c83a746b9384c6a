/* core/blob.c - immutable reference-counted bytes (blob.h). */
#include <stdatomic.h>
#include <string.h>

#include "blob.h"
#include "mem.h"

struct mtlsp_blob {
    atomic_size_t refs;
    size_t len;
    uint8_t data[]; /* the bytes follow the header in the same allocation */
};

struct mtlsp_blob *mtlsp_blob_new(const uint8_t *data, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct mtlsp_blob)) {
        return NULL;
    }
    struct mtlsp_blob *blob = mtlsp_malloc(sizeof(*blob) + len);
    if (blob == NULL) {
        return NULL;
    }
    atomic_init(&blob->refs, 1);
    blob->len = len;
    if (len > 0) {
        memcpy(blob->data, data, len);
    }
    return blob;
}

void mtlsp_blob_up_ref(struct mtlsp_blob *blob)
{
    /* Relaxed: taking a reference needs one already held, which orders everything else. */
    atomic_fetch_add_explicit(&blob->refs, 1, memory_order_relaxed);
}

void mtlsp_blob_free(struct mtlsp_blob *blob)
{
    if (blob == NULL) {
        return;
    }
    /* Release on every drop and acquire on the last, so the thread that frees sees every
     * other holder done with the bytes. */
    if (atomic_fetch_sub_explicit(&blob->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    mtlsp_free(blob);
}

const uint8_t *mtlsp_blob_data(const struct mtlsp_blob *blob)
{
    return blob->data;
}

size_t mtlsp_blob_len(const struct mtlsp_blob *blob)
{
    return blob->len;
}
