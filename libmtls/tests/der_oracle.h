/*
 * der_oracle.h - libmtls/core/der.c (der.h) side by side with BoringSSL's CBS/CBB, which the
 * including program links: every reader call with all its outputs (started at sentinels, so
 * values written on failure count too), an element-by-element walk, and a byte-coded writer
 * program run on both writers. Shared by tests/test_der.c (cmocka, hand-written and seeded
 * inputs) and fuzz/fuzz_der.c (libFuzzer), which define before including it:
 *   DER_ORACLE_CHECK(cond)      report a disagreement when cond is false (required);
 *   DER_ORACLE_BEGIN(what, p, n), DER_ORACLE_END()  bracket one writer program (optional).
 * BoringSSL builds only (the OpenSSL build has no CBS to compare with).
 */
#ifndef MTLS_DER_ORACLE_H
#define MTLS_DER_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "core/der.h"
#include "core/mem.h"

#ifndef DER_ORACLE_CHECK
#error "define DER_ORACLE_CHECK(cond) before including der_oracle.h"
#endif
#ifndef DER_ORACLE_BEGIN
#define DER_ORACLE_BEGIN(what, p, n) ((void)0)
#endif
#ifndef DER_ORACLE_END
#define DER_ORACLE_END() ((void)0)
#endif

/* ---- the reader, side by side -------------------------------------------------------- */

static const uint8_t sentinel_byte = 0xee;
#define SENT_PTR (&sentinel_byte)
#define SENT_LEN ((size_t)0x5a5a)
#define SENT_TAG 0xdeadbeefu
#define SENT_U64 UINT64_C(0x0123456789abcdef)
#define SENT_INT 0x5a

static void both_init(CBS *b, mtlsp_cbs *m, const uint8_t *p, size_t n)
{
    CBS_init(b, p, n);
    mtlsp_cbs_init(m, p, n);
}

static void both_sentinel(CBS *b, mtlsp_cbs *m)
{
    CBS_init(b, SENT_PTR, SENT_LEN);
    mtlsp_cbs_init(m, SENT_PTR, SENT_LEN);
}

static int same_cbs(const CBS *b, const mtlsp_cbs *m)
{
    return CBS_data(b) == mtlsp_cbs_data(m) && CBS_len(b) == mtlsp_cbs_len(m) &&
           m->data == mtlsp_cbs_data(m) && m->len == mtlsp_cbs_len(m);
}

/* cmp_any_element compares CBS_get_any_asn1_element (all outputs, then none) and returns
 * the tag BoringSSL reported (SENT_TAG when the identifier did not parse). */
static unsigned cmp_any_element(const uint8_t *p, size_t n)
{
    CBS b, bo;
    mtlsp_cbs m, mo;
    unsigned bt = SENT_TAG, mt = SENT_TAG;
    size_t bh = SENT_LEN, mh = SENT_LEN;
    both_init(&b, &m, p, n);
    both_sentinel(&bo, &mo);
    int rb = CBS_get_any_asn1_element(&b, &bo, &bt, &bh);
    int rm = mtlsp_cbs_get_any_asn1_element(&m, &mo, &mt, &mh);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(same_cbs(&bo, &mo));
    DER_ORACLE_CHECK(bt == mt);
    DER_ORACLE_CHECK(bh == mh);

    both_init(&b, &m, p, n);
    rb = CBS_get_any_asn1_element(&b, NULL, NULL, NULL);
    rm = mtlsp_cbs_get_any_asn1_element(&m, NULL, NULL, NULL);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    return bt;
}

/* cmp_any compares CBS_get_any_asn1 with and without the tag output. */
static void cmp_any(const uint8_t *p, size_t n)
{
    CBS b, bo;
    mtlsp_cbs m, mo;
    unsigned bt = SENT_TAG, mt = SENT_TAG;
    both_init(&b, &m, p, n);
    both_sentinel(&bo, &mo);
    int rb = CBS_get_any_asn1(&b, &bo, &bt);
    int rm = mtlsp_cbs_get_any_asn1(&m, &mo, &mt);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(same_cbs(&bo, &mo));
    DER_ORACLE_CHECK(bt == mt);

    both_init(&b, &m, p, n);
    both_sentinel(&bo, &mo);
    rb = CBS_get_any_asn1(&b, &bo, NULL);
    rm = mtlsp_cbs_get_any_asn1(&m, &mo, NULL);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(same_cbs(&bo, &mo));
}

/* cmp_get_asn1 compares CBS_get_asn1 (`element` 0) or CBS_get_asn1_element (1), with an
 * output and with NULL. */
static void cmp_get_asn1(const uint8_t *p, size_t n, unsigned tag, int element)
{
    CBS b, bo;
    mtlsp_cbs m, mo;
    both_init(&b, &m, p, n);
    both_sentinel(&bo, &mo);
    int rb = element ? CBS_get_asn1_element(&b, &bo, tag) : CBS_get_asn1(&b, &bo, tag);
    int rm = element ? mtlsp_cbs_get_asn1_element(&m, &mo, tag) : mtlsp_cbs_get_asn1(&m, &mo, tag);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(same_cbs(&bo, &mo));

    both_init(&b, &m, p, n);
    rb = element ? CBS_get_asn1_element(&b, NULL, tag) : CBS_get_asn1(&b, NULL, tag);
    rm = element ? mtlsp_cbs_get_asn1_element(&m, NULL, tag) : mtlsp_cbs_get_asn1(&m, NULL, tag);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
}

/* cmp_optional compares CBS_get_optional_asn1 with outputs, then with both NULL. */
static void cmp_optional(const uint8_t *p, size_t n, unsigned tag)
{
    CBS b, bo;
    mtlsp_cbs m, mo;
    int bp = SENT_INT, mp = SENT_INT;
    both_init(&b, &m, p, n);
    both_sentinel(&bo, &mo);
    int rb = CBS_get_optional_asn1(&b, &bo, &bp, tag);
    int rm = mtlsp_cbs_get_optional_asn1(&m, &mo, &mp, tag);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(same_cbs(&bo, &mo));
    DER_ORACLE_CHECK(bp == mp);

    both_init(&b, &m, p, n);
    rb = CBS_get_optional_asn1(&b, NULL, NULL, tag);
    rm = mtlsp_cbs_get_optional_asn1(&m, NULL, NULL, tag);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
}

static void cmp_optional_uint64(const uint8_t *p, size_t n, unsigned tag, uint64_t def)
{
    CBS b;
    mtlsp_cbs m;
    uint64_t bv = SENT_U64, mv = SENT_U64;
    both_init(&b, &m, p, n);
    int rb = CBS_get_optional_asn1_uint64(&b, &bv, tag, def);
    int rm = mtlsp_cbs_get_optional_asn1_uint64(&m, &mv, tag, def);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(bv == mv);
}

static void cmp_peek(const uint8_t *p, size_t n, unsigned tag)
{
    CBS b;
    mtlsp_cbs m;
    both_init(&b, &m, p, n);
    DER_ORACLE_CHECK(CBS_peek_asn1_tag(&b, tag) == mtlsp_cbs_peek_asn1_tag(&m, tag));
    DER_ORACLE_CHECK(same_cbs(&b, &m));
}

/* cmp_tagged runs every reader call that takes a tag. */
static void cmp_tagged(const uint8_t *p, size_t n, unsigned tag)
{
    cmp_get_asn1(p, n, tag, 0);
    cmp_get_asn1(p, n, tag, 1);
    cmp_peek(p, n, tag);
    cmp_optional(p, n, tag);
    cmp_optional_uint64(p, n, tag, (uint64_t)tag * UINT64_C(0x10001) + n);
}

/* cmp_values runs the calls that read values or judge contents. */
static void cmp_values(const uint8_t *p, size_t n)
{
    CBS b;
    mtlsp_cbs m;
    uint8_t bu = 0x11, mu = 0x11;
    both_init(&b, &m, p, n);
    int rb = CBS_get_u8(&b, &bu);
    int rm = mtlsp_cbs_get_u8(&m, &mu);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(bu == mu);

    int bb = SENT_INT, mb = SENT_INT;
    both_init(&b, &m, p, n);
    rb = CBS_get_asn1_bool(&b, &bb);
    rm = mtlsp_cbs_get_asn1_bool(&m, &mb);
    DER_ORACLE_CHECK(rb == rm);
    DER_ORACLE_CHECK(same_cbs(&b, &m));
    DER_ORACLE_CHECK(bb == mb);

    int bneg = SENT_INT, mneg = SENT_INT;
    both_init(&b, &m, p, n);
    DER_ORACLE_CHECK(CBS_is_valid_asn1_integer(&b, &bneg) == mtlsp_cbs_is_valid_asn1_integer(&m, &mneg));
    DER_ORACLE_CHECK(bneg == mneg);
    DER_ORACLE_CHECK(CBS_is_valid_asn1_integer(&b, NULL) == mtlsp_cbs_is_valid_asn1_integer(&m, NULL));
    DER_ORACLE_CHECK(CBS_is_valid_asn1_bitstring(&b) == mtlsp_cbs_is_valid_asn1_bitstring(&m));

    /* Equal bytes, a different length, and the two halves against each other. */
    DER_ORACLE_CHECK(CBS_mem_equal(&b, p, n) == mtlsp_cbs_mem_equal(&m, p, n));
    DER_ORACLE_CHECK(mtlsp_cbs_mem_equal(&m, p, n) == 1);
    if (n > 0) {
        DER_ORACLE_CHECK(CBS_mem_equal(&b, p, n - 1) == mtlsp_cbs_mem_equal(&m, p, n - 1));
        both_init(&b, &m, p, n / 2);
        DER_ORACLE_CHECK(CBS_mem_equal(&b, p + n - n / 2, n / 2) ==
             mtlsp_cbs_mem_equal(&m, p + n - n / 2, n / 2));
    }
}

static const unsigned fixed_tags[] = {
    CBS_ASN1_SEQUENCE,
    CBS_ASN1_SET,
    CBS_ASN1_INTEGER,
    CBS_ASN1_BOOLEAN,
    CBS_ASN1_OCTETSTRING,
    CBS_ASN1_BITSTRING,
    CBS_ASN1_OBJECT,
    CBS_ASN1_UTF8STRING,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 3,
    CBS_ASN1_CONTEXT_SPECIFIC | 0,
    CBS_ASN1_CONTEXT_SPECIFIC | 2,
    0,
    CBS_ASN1_CONSTRUCTED,
    31,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 31,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | CBS_ASN1_TAG_NUMBER_MASK,
    CBS_ASN1_APPLICATION | 1,
    CBS_ASN1_PRIVATE | CBS_ASN1_CONSTRUCTED | 5,
    CBS_ASN1_UTCTIME,
};
#define NUM_FIXED_TAGS (sizeof(fixed_tags) / sizeof(fixed_tags[0]))

/* cmp_contents runs the value and tagged calls on some bytes, with the tags the bytes start
 * with (as parsed, and near it) and `num_fixed` of the fixed ones from `rot` on. */
static void cmp_contents(const uint8_t *p, size_t n, size_t rot, size_t num_fixed)
{
    unsigned seen = cmp_any_element(p, n);
    cmp_any(p, n);
    cmp_values(p, n);
    if (seen != SENT_TAG) {
        cmp_tagged(p, n, seen);
        cmp_tagged(p, n, seen ^ CBS_ASN1_CONSTRUCTED);
        cmp_tagged(p, n, seen + 1);
    }
    for (size_t i = 0; i < num_fixed; i++) {
        cmp_tagged(p, n, fixed_tags[(rot + i) % NUM_FIXED_TAGS]);
    }
}

/* walk reads the elements of `p` one after the other on both sides, comparing each, and
 * compares every call on their contents, descending into constructed ones. */
static void walk(const uint8_t *p, size_t n, int depth, int *budget)
{
    CBS b;
    mtlsp_cbs m;
    both_init(&b, &m, p, n);
    while (*budget > 0) {
        CBS bc;
        mtlsp_cbs mc;
        unsigned bt = SENT_TAG, mt = SENT_TAG;
        both_sentinel(&bc, &mc);
        int rb = CBS_get_any_asn1(&b, &bc, &bt);
        int rm = mtlsp_cbs_get_any_asn1(&m, &mc, &mt);
        DER_ORACLE_CHECK(rb == rm);
        DER_ORACLE_CHECK(same_cbs(&b, &m));
        DER_ORACLE_CHECK(same_cbs(&bc, &mc));
        DER_ORACLE_CHECK(bt == mt);
        if (!rb) {
            return;
        }
        (*budget)--;
        cmp_contents(CBS_data(&bc), CBS_len(&bc), (size_t)*budget, 2);
        if ((bt & CBS_ASN1_CONSTRUCTED) != 0 && depth < 6) {
            walk(CBS_data(&bc), CBS_len(&bc), depth + 1, budget);
        }
    }
}


/* ---- the writer, side by side -------------------------------------------------------- */

#define MAX_LEVELS 8

/* Both writers at every nesting level: [0] is the top level, [d] the open child at depth d. */
struct writers {
    CBB b[MAX_LEVELS];
    mtlsp_cbb m[MAX_LEVELS];
    size_t depth;           /* deepest open level */
    int stale[MAX_LEVELS];  /* a closed child sits at this level */
    size_t total;           /* bytes written, to bound the program */
};

static const uint8_t *pattern(void)
{
    static uint8_t bytes[70000];
    static int ready;
    if (!ready) {
        for (size_t i = 0; i < sizeof(bytes); i++) {
            bytes[i] = (uint8_t)(i * 7 + (i >> 8));
        }
        ready = 1;
    }
    return bytes;
}

static const char *const oid_texts[] = {
    "",
    "1",
    "1.",
    ".1",
    "1.2",
    "0.0",
    "0.39",
    "0.40",
    "1.39",
    "1.40",
    "2.0",
    "2.40",
    "2.999",
    "3.1",
    "01.2",
    "1.02",
    "1.0",
    "1.2.0",
    "1.2.00",
    "1..2",
    "1.2.",
    "1.2..3",
    "1.2.840.113549.1.1.11",
    "2.5.4.3",
    "1.3.6.1.4.1.311.60.2.1.3",
    "1.3.6.1.5.5.7.3.2",
    "2.18446744073709551535",
    "2.18446744073709551536",
    "1.2.18446744073709551615",
    "1.2.18446744073709551616",
    "1.2.99999999999999999999",
    "18446744073709551615.1",
    "1.2.3a",
    " 1.2",
    "1.2 ",
    "1.2.-3",
    "1.2.+3",
    "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.127.128.16383.16384",
};
#define NUM_OID_TEXTS (sizeof(oid_texts) / sizeof(oid_texts[0]))

struct prog {
    const uint8_t *p;
    size_t n;
};

static uint8_t next(struct prog *pr)
{
    if (pr->n == 0) {
        return 0;
    }
    pr->n--;
    return *pr->p++;
}

static const unsigned writer_tags[] = {
    CBS_ASN1_SEQUENCE,
    CBS_ASN1_SET,
    CBS_ASN1_INTEGER,
    CBS_ASN1_OCTETSTRING,
    CBS_ASN1_OBJECT,
    CBS_ASN1_BITSTRING,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0,
    CBS_ASN1_CONTEXT_SPECIFIC | 2,
    30,
    31,
    0,
    CBS_ASN1_CONSTRUCTED,
    CBS_ASN1_CONTEXT_SPECIFIC | 127,
    CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 128,
    CBS_ASN1_PRIVATE | 16383,
    CBS_ASN1_APPLICATION | CBS_ASN1_CONSTRUCTED | 16384,
    CBS_ASN1_TAG_NUMBER_MASK,
    CBS_ASN1_CLASS_MASK | CBS_ASN1_CONSTRUCTED | CBS_ASN1_TAG_NUMBER_MASK,
};

static const size_t writer_lens[] = {0, 1, 2, 3, 5, 17, 126, 127, 128, 129, 255, 256, 300,
                                     65535, 65536, 70000};

/* close_below marks the children below `level` closed (a write to `level` flushed them). */
static void close_below(struct writers *w, size_t level)
{
    for (size_t i = level + 1; i <= w->depth; i++) {
        w->stale[i] = 1;
    }
    w->depth = level;
}

static void writer_len_check(struct writers *w, size_t k)
{
    int rb = CBB_flush(&w->b[k]);
    int rm = mtlsp_cbb_flush(&w->m[k]);
    DER_ORACLE_CHECK(rb == rm);
    close_below(w, k);
    if (!rb) {
        return;
    }
    DER_ORACLE_CHECK(CBB_len(&w->b[k]) == mtlsp_cbb_len(&w->m[k]));
    DER_ORACLE_CHECK(memcmp(CBB_data(&w->b[k]), mtlsp_cbb_data(&w->m[k]), CBB_len(&w->b[k])) == 0);
}

/* writer_op runs one operation of a writer program on both sides. */
static void writer_op(struct writers *w, struct prog *pr)
{
    uint8_t op = next(pr);
    size_t k = next(pr) % (w->depth + 1); /* the level it writes to */
    int rb = 0, rm = 0;
    switch (op % 9) {
    case 0: { /* open a child under the deepest level */
        uint8_t t = next(pr);
        unsigned tag = t < 200 ? writer_tags[t % (sizeof(writer_tags) / sizeof(writer_tags[0]))]
                               : ((unsigned)(t & 0xe0) << 24) | (unsigned)(next(pr) * 131);
        if (w->depth + 1 >= MAX_LEVELS) {
            return;
        }
        rb = CBB_add_asn1(&w->b[w->depth], &w->b[w->depth + 1], tag);
        rm = mtlsp_cbb_add_asn1(&w->m[w->depth], &w->m[w->depth + 1], tag);
        DER_ORACLE_CHECK(rb == rm);
        if (rb) {
            w->depth++;
            w->stale[w->depth] = 0;
        }
        return;
    }
    case 1: { /* bytes */
        size_t len = writer_lens[next(pr) % (sizeof(writer_lens) / sizeof(writer_lens[0]))];
        if (w->total + len > 400000) {
            len = 1;
        }
        w->total += len;
        rb = CBB_add_bytes(&w->b[k], pattern(), len);
        rm = mtlsp_cbb_add_bytes(&w->m[k], pattern(), len);
        break;
    }
    case 2: {
        uint8_t v = next(pr);
        rb = CBB_add_u8(&w->b[k], v);
        rm = mtlsp_cbb_add_u8(&w->m[k], v);
        break;
    }
    case 3: { /* an INTEGER of a random bit length */
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | next(pr);
        }
        v >>= next(pr) % 64;
        rb = CBB_add_asn1_uint64(&w->b[k], v);
        rm = mtlsp_cbb_add_asn1_uint64(&w->m[k], v);
        break;
    }
    case 4: {
        static const int bools[] = {0, 1, -1, 2, 0x100};
        int v = bools[next(pr) % 5];
        rb = CBB_add_asn1_bool(&w->b[k], v);
        rm = mtlsp_cbb_add_asn1_bool(&w->m[k], v);
        break;
    }
    case 5: { /* OID text: a listed edge case, or made of digits, dots and a few others */
        char text[96];
        size_t len;
        uint8_t choice = next(pr);
        if (choice < 128) {
            const char *s = oid_texts[choice % NUM_OID_TEXTS];
            len = strlen(s);
            DER_ORACLE_CHECK(len <= sizeof(text));
            memcpy(text, s, len);
        } else {
            static const char alphabet[] = "0123456789012345678901234567890123456789.....a -\0";
            len = next(pr) % 40;
            for (size_t i = 0; i < len; i++) {
                text[i] = alphabet[next(pr) % (sizeof(alphabet) - 1)];
            }
        }
        rb = CBB_add_asn1_oid_from_text(&w->b[k], text, len);
        rm = mtlsp_cbb_add_asn1_oid_from_text(&w->m[k], text, len);
        break;
    }
    case 6:
        rb = CBB_flush(&w->b[k]);
        rm = mtlsp_cbb_flush(&w->m[k]);
        break;
    case 7:
        writer_len_check(w, k);
        return;
    default: { /* write to a closed child: refused by both */
        for (size_t i = w->depth + 1; i < MAX_LEVELS; i++) {
            if (w->stale[i]) {
                DER_ORACLE_CHECK(CBB_add_u8(&w->b[i], 1) == mtlsp_cbb_add_u8(&w->m[i], 1));
                DER_ORACLE_CHECK(CBB_flush(&w->b[i]) == mtlsp_cbb_flush(&w->m[i]));
                break;
            }
        }
        return;
    }
    }
    DER_ORACLE_CHECK(rb == rm);
    close_below(w, k);
}

/* run_writer_program interprets `prog` on both writers and compares the finished bytes. */
static void run_writer_program(const uint8_t *prog, size_t n)
{
    struct writers w;
    memset(&w, 0, sizeof(w));
    DER_ORACLE_BEGIN("writer program", prog, n);
    size_t cap = n > 0 ? prog[0] : 0;
    DER_ORACLE_CHECK(CBB_init(&w.b[0], cap) == 1);
    DER_ORACLE_CHECK(mtlsp_cbb_init(&w.m[0], cap) == 1);
    struct prog pr = {prog + (n > 0), n - (n > 0)};
    while (pr.n > 0) {
        writer_op(&w, &pr);
    }
    uint8_t *bout = NULL, *mout = NULL;
    size_t blen = 0, mlen = 0;
    int rb = CBB_finish(&w.b[0], &bout, &blen);
    int rm = mtlsp_cbb_finish(&w.m[0], &mout, &mlen);
    DER_ORACLE_CHECK(rb == rm);
    if (rb) {
        DER_ORACLE_CHECK(blen == mlen);
        DER_ORACLE_CHECK(memcmp(bout, mout, blen) == 0);
        DER_ORACLE_CHECK(mout != NULL);
    }
    OPENSSL_free(bout);
    mtlsp_free(mout);
    CBB_cleanup(&w.b[0]);
    mtlsp_cbb_cleanup(&w.m[0]);
    DER_ORACLE_END();
}

#endif
