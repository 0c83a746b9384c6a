/*
 * truststore/der_list.c - lists of DER certificates whose bytes live in one arena per list:
 * a chain of blocks, each filled in order and never moved, so that loading many CAs costs
 * a few allocations instead of one per certificate, and the decoders write each
 * certificate in place (mtlsp_der_list_reserve, then _commit). Pin lists
 * (MTLS_CERT_CHECK_PIN) keep only each pin's SHA-256: the arena is one scratch block,
 * reused for every pin, and _commit hashes it into the digest array.
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/sha.h>

#include "../core/mem.h"
#include "truststore.h"

#define FIRST_BLOCK_BYTES ((size_t)4 << 10)
#define MAX_BLOCK_BYTES ((size_t)8 << 20) /* growth stops here (bigger reservations aside) */
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* Huge pages: a million pins are 631 MB of DER, and touching a fresh 4 KiB page costs a
 * page fault (0.3 µs on bare metal, 7 to 30 µs measured on the project's VMs: 1 to 4 s
 * for 154,000 pages). Asking for transparent huge pages on the big blocks makes that one
 * fault per 2 MiB where the kernel has them (THP "madvise" mode, Debian's default); it is
 * only a hint, ignored where unsupported. */
#ifdef MADV_HUGEPAGE
void mtlsp_advise_huge(void *p, size_t n)
{
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
    if (e > a) {
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
}
#else
void mtlsp_advise_huge(void *p, size_t n)
{
    (void)p;
    (void)n;
}
#endif

struct der_chunk {
    struct der_chunk *next; /* the older block */
    size_t cap;             /* bytes in data */
    size_t used;
    uint8_t *data; /* in this allocation, 2 MiB-aligned for big blocks */
};

static int is_pin_list(const struct der_list *l)
{
    return l->check == MTLS_CERT_CHECK_PIN;
}

/* consistent: `check` has not changed since items (or room for them) were allocated. */
static int consistent(const struct der_list *l)
{
    return is_pin_list(l) ? l->items == NULL : l->digests == NULL;
}

/* grow makes room for one more item (or digest). */
static MTLS_RESULT grow(struct der_list *l, mtls_error *err)
{
    ENSURE_MSG(consistent(l), MTLS_ERR_INVALID_ARGUMENT,
               "certificate list: check mode changed after items were added");
    if (l->num < l->cap) {
        return MTLS_RESULT_OK;
    }
    size_t size = is_pin_list(l) ? sizeof(*l->digests) : sizeof(*l->items);
    ENSURE(l->cap <= SIZE_MAX / 2 / size, MTLS_ERR_NOMEM);
    size_t cap = l->cap ? l->cap * 2 : 4;
    void *a = mtlsp_reallocarray(is_pin_list(l) ? (void *)l->digests : (void *)l->items, cap,
                                 size);
    ENSURE_MEM(a);
    mtlsp_advise_huge(a, cap * size); /* 32 MiB of digests for a million pins */
    if (is_pin_list(l)) {
        l->digests = a;
    } else {
        l->items = a;
    }
    l->cap = cap;
    return MTLS_RESULT_OK;
}

/* new_block puts a block with room for at least `need` bytes at the head of the arena:
 * twice the size of the previous one, from 4 KiB up to 8 MiB, so that small lists (one
 * CA) stay small and big ones waste under one reservation per block. */
static MTLS_RESULT new_block(struct der_list *l, size_t need, mtls_error *err)
{
    size_t cap = l->arena == NULL ? FIRST_BLOCK_BYTES : l->arena->cap * 2;
    if (cap > MAX_BLOCK_BYTES) {
        cap = MAX_BLOCK_BYTES;
    }
    if (cap < need) {
        cap = need;
    }
    /* A big block starts its data on a 2 MiB boundary, so that all of it can be huge
     * pages: the skipped bytes are never touched, so they cost address space, not memory. */
    size_t pad = cap >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : 0;
    ENSURE(cap <= SIZE_MAX - sizeof(struct der_chunk) - pad, MTLS_ERR_NOMEM);
    struct der_chunk *c = mtlsp_malloc(sizeof(*c) + pad + cap);
    ENSURE_MEM(c);
    uintptr_t data = (uintptr_t)(c + 1);
    if (pad > 0) {
        data = (data + pad - 1) & ~(uintptr_t)(pad - 1);
        mtlsp_advise_huge((void *)data, cap);
    }
    c->data = (uint8_t *)data;
    c->next = l->arena;
    c->cap = cap;
    c->used = 0;
    l->arena = c;
    return MTLS_RESULT_OK;
}

/* free_blocks frees every block of the arena. */
static void free_blocks(struct der_list *l)
{
    while (l->arena != NULL) {
        struct der_chunk *c = l->arena;
        l->arena = c->next;
        mtlsp_free(c);
    }
}

MTLS_RESULT mtlsp_der_list_reserve(struct der_list *l, size_t max, uint8_t **out,
                                   mtls_error *err)
{
    GUARD(grow(l, err));
    if (is_pin_list(l)) {
        /* One scratch block, reused by every pin: replaced only by a bigger one. */
        if (l->arena == NULL || l->arena->cap < max) {
            free_blocks(l);
            GUARD(new_block(l, max, err));
        }
        *out = l->arena->data;
        return MTLS_RESULT_OK;
    }
    if (l->arena == NULL || l->arena->cap - l->arena->used < max) {
        GUARD(new_block(l, max, err));
    }
    *out = l->arena->data + l->arena->used;
    return MTLS_RESULT_OK;
}

void mtlsp_der_list_commit(struct der_list *l, size_t len)
{
    struct der_chunk *c = l->arena;
    if (is_pin_list(l)) {
        SHA256(c->data, len, l->digests[l->num]);
        l->num++;
        return;
    }
    l->items[l->num].data = c->data + c->used;
    l->items[l->num].len = len;
    c->used += len;
    l->num++;
}

MTLS_RESULT mtlsp_der_list_add(struct der_list *l, const uint8_t *data, size_t len,
                               mtls_error *err)
{
    if (is_pin_list(l)) { /* no copy: hash the bytes where they are */
        GUARD(grow(l, err));
        SHA256(data, len, l->digests[l->num]);
        l->num++;
        return MTLS_RESULT_OK;
    }
    uint8_t *dst = NULL;
    GUARD(mtlsp_der_list_reserve(l, len, &dst, err));
    if (len > 0) {
        memcpy(dst, data, len);
    }
    mtlsp_der_list_commit(l, len);
    return MTLS_RESULT_OK;
}

/* move_digests: mtlsp_der_list_move for pin lists (from's scratch block is freed). */
static MTLS_RESULT move_digests(struct der_list *to, struct der_list *from, mtls_error *err)
{
    size_t need = to->num + from->num;
    if (need > to->cap) {
        uint8_t(*d)[MTLS_PIN_DIGEST_LEN] =
            mtlsp_reallocarray(to->digests, need, sizeof(*to->digests));
        ENSURE_MEM(d);
        to->digests = d;
        to->cap = need;
    }
    if (from->num > 0) {
        memcpy(to->digests + to->num, from->digests, from->num * sizeof(*from->digests));
    }
    to->num = need;
    mtlsp_der_list_free(from);
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_der_list_move(struct der_list *to, struct der_list *from, mtls_error *err)
{
    ENSURE_MSG(consistent(to) && consistent(from) && to->check == from->check,
               MTLS_ERR_INVALID_ARGUMENT, "certificate lists of different check modes");
    ENSURE(from->num <= SIZE_MAX - to->num, MTLS_ERR_NOMEM);
    if (is_pin_list(to)) {
        return move_digests(to, from, err);
    }
    size_t need = to->num + from->num;
    if (need > to->cap) {
        struct der *items = mtlsp_reallocarray(to->items, need, sizeof(*items));
        ENSURE_MEM(items);
        to->items = items;
        to->cap = need;
    }
    if (from->num > 0) {
        memcpy(to->items + to->num, from->items, from->num * sizeof(*from->items));
    }
    to->num = need;
    /* from's blocks go behind to's: to's newest block stays the one appended to. */
    struct der_chunk **tail = &to->arena;
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    *tail = from->arena;
    from->arena = NULL;
    mtlsp_free(from->items);
    from->items = NULL;
    from->num = from->cap = 0;
    return MTLS_RESULT_OK;
}

void mtlsp_der_list_done(struct der_list *l)
{
    if (l == NULL || !is_pin_list(l) || !consistent(l)) {
        return;
    }
    free_blocks(l);
    if (l->num == 0) {
        mtlsp_free(l->digests);
        l->digests = NULL;
        l->cap = 0;
    } else if (l->num < l->cap) {
        uint8_t(*d)[MTLS_PIN_DIGEST_LEN] =
            mtlsp_reallocarray(l->digests, l->num, sizeof(*l->digests));
        if (d != NULL) {
            l->digests = d;
            l->cap = l->num;
        }
    }
}

void mtlsp_der_list_digest(const struct der_list *l, size_t i,
                           uint8_t out[MTLS_PIN_DIGEST_LEN])
{
    if (l->digests != NULL) {
        memcpy(out, l->digests[i], MTLS_PIN_DIGEST_LEN);
    } else {
        SHA256(l->items[i].data, l->items[i].len, out);
    }
}

void mtlsp_der_list_free(struct der_list *l)
{
    if (l == NULL) {
        return;
    }
    free_blocks(l);
    mtlsp_free(l->items);
    mtlsp_free(l->digests);
    l->items = NULL;
    l->digests = NULL;
    l->num = l->cap = 0;
}
