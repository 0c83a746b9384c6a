/*
 * truststore/pinset.c - the leaf pin set: an open-addressing hash table keyed by the
 * SHA-256 of each leaf's DER. A slot holds only a 32-bit tag (more hash bits) and the index
 * of the pin's digest in the borrowed list's digest array, 8 bytes per slot at load <= 1/2,
 * so a million pins cost about 16 MiB of table besides their 32 MiB of digests. A hit is
 * an equal 32-byte digest: no DER is kept (why that is Caddy's byte comparison:
 * MTLS_CERT_CHECK_PIN in truststore.h).
 */
#include <string.h>

#include <openssl/sha.h>

#include "../core/mem.h"
#include "truststore.h"

#define EMPTY_SLOT UINT32_MAX

struct slot {
    uint32_t tag;
    uint32_t index; /* into digests, EMPTY_SLOT when free */
};

struct pinset {
    const uint8_t (*digests)[MTLS_PIN_DIGEST_LEN]; /* the list's, or `owned` */
    uint8_t (*owned)[MTLS_PIN_DIGEST_LEN];         /* a full list's items, hashed */
    struct slot *slots;
    size_t mask; /* number of slots - 1 (a power of two minus one) */
    size_t num;  /* distinct certificates */
    uint8_t digest[SHA256_DIGEST_LENGTH]; /* mtlsp_pinset_digest */
};

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* find returns the slot holding the digest `h`, or the free slot where it would go. */
static struct slot *find(const struct pinset *p, const uint8_t h[32])
{
    uint32_t tag = load32(h + 8);
    size_t i = (size_t)load64(h) & p->mask;
    for (;;) {
        struct slot *s = &p->slots[i];
        if (s->index == EMPTY_SLOT) {
            return s;
        }
        if (s->tag == tag && memcmp(p->digests[s->index], h, MTLS_PIN_DIGEST_LEN) == 0) {
            return s;
        }
        i = (i + 1) & p->mask;
    }
}

static MTLS_RESULT alloc_table(struct pinset *p, size_t num, mtls_error *err)
{
    ENSURE_MSG(num < EMPTY_SLOT / 2, MTLS_ERR_TOO_LARGE, "too many leaf pins (%zu)", num);
    size_t slots = 16;
    while (slots < num * 2) {
        slots *= 2;
    }
    p->slots = mtlsp_reallocarray(NULL, slots, sizeof(*p->slots));
    ENSURE_MEM(p->slots);
    mtlsp_advise_huge(p->slots, slots * sizeof(*p->slots)); /* 16 MiB for a million pins */
    memset(p->slots, 0xff, slots * sizeof(*p->slots));
    p->mask = slots - 1;
    return MTLS_RESULT_OK;
}

/* use_digests points p->digests at the list's digests, or at its items hashed (a list of
 * full certificates, as the unit tests build). */
static MTLS_RESULT use_digests(struct pinset *p, const struct der_list *certs, mtls_error *err)
{
    if (certs->items == NULL) {
        p->digests = (const uint8_t(*)[MTLS_PIN_DIGEST_LEN])certs->digests;
        return MTLS_RESULT_OK;
    }
    p->owned = mtlsp_reallocarray(NULL, certs->num, sizeof(*p->owned));
    ENSURE_MEM(p->owned);
    for (size_t i = 0; i < certs->num; i++) {
        mtlsp_der_list_digest(certs, i, p->owned[i]);
    }
    p->digests = (const uint8_t(*)[MTLS_PIN_DIGEST_LEN])p->owned;
    return MTLS_RESULT_OK;
}

/* Pins inserted per batch: every slot of the batch prefetched first, then the insertions,
 * so that the cache and TLB misses of a big table (16 MiB for a million pins) overlap
 * instead of following one another. */
#define BATCH 16

static void insert_batch(struct pinset *p, SHA256_CTX *all, size_t first, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const uint8_t *h = p->digests[first + k];
        SHA256_Update(all, h, MTLS_PIN_DIGEST_LEN);
        __builtin_prefetch(&p->slots[(size_t)load64(h) & p->mask], 1);
    }
    for (size_t k = 0; k < n; k++) {
        const uint8_t *h = p->digests[first + k];
        struct slot *s = find(p, h);
        if (s->index == EMPTY_SLOT) { /* duplicates keep their first index */
            s->tag = load32(h + 8);
            s->index = (uint32_t)(first + k);
            p->num++;
        }
    }
}

MTLS_RESULT mtlsp_pinset_new(struct pinset **out, const struct der_list *certs,
                             mtls_error *err)
{
    ENSURE_REF(out);
    ENSURE_REF(certs);
    ENSURE_MSG(certs->num == 0 || certs->items != NULL || certs->digests != NULL,
               MTLS_ERR_INVALID_ARGUMENT, "leaf pin list without items");
    struct pinset *p = mtlsp_calloc(1, sizeof(*p));
    ENSURE_MEM(p);
    mtls_result rc = alloc_table(p, certs->num, err);
    if (MTLS_IS_OK(rc)) {
        rc = use_digests(p, certs, err);
    }
    if (!MTLS_IS_OK(rc)) {
        mtlsp_pinset_free(p);
        return rc;
    }
    SHA256_CTX all;
    SHA256_Init(&all);
    uint8_t count[8];
    for (int b = 0; b < 8; b++) {
        count[b] = (uint8_t)((uint64_t)certs->num >> (56 - 8 * b));
    }
    SHA256_Update(&all, count, sizeof(count));
    for (size_t i = 0; i < certs->num; i += BATCH) {
        insert_batch(p, &all, i, certs->num - i < BATCH ? certs->num - i : BATCH);
    }
    SHA256_Final(p->digest, &all);
    *out = p;
    return MTLS_RESULT_OK;
}

void mtlsp_pinset_free(struct pinset *p)
{
    if (p == NULL) {
        return;
    }
    mtlsp_free(p->slots);
    mtlsp_free(p->owned);
    mtlsp_free(p);
}

int mtlsp_pinset_contains_hash(const struct pinset *p, const uint8_t sha256[32])
{
    if (p == NULL || sha256 == NULL) {
        return 0;
    }
    return find(p, sha256)->index != EMPTY_SLOT;
}

int mtlsp_pinset_contains(const struct pinset *p, const uint8_t *der, size_t len)
{
    if (p == NULL || der == NULL) {
        return 0;
    }
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(der, len, h);
    return mtlsp_pinset_contains_hash(p, h);
}

size_t mtlsp_pinset_size(const struct pinset *p)
{
    return p ? p->num : 0;
}

void mtlsp_pinset_digest(const struct pinset *p, uint8_t out[32])
{
    memcpy(out, p->digest, sizeof(p->digest));
}
