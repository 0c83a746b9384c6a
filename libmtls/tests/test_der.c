/*
 * tests/test_der.c - core/der.c and core/blob.c. The reader and writer of der.h must behave
 * exactly as BoringSSL's CBS/CBB, which this build links, so every case runs both and
 * compares everything observable: the return value, what is left in the input, every output
 * (outputs start at sentinels, so that "written on failure" is compared too) and, for the
 * writer, the bytes. Hand-written vectors pin the DER corners (with the expected answer
 * asserted as well), then seeded pseudo-random inputs and writer programs sweep around them.
 * On a disagreement the input is printed in hex.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "core/blob.h"
#include "core/der.h"
#include "core/mem.h"

/* ---- disagreement reports ------------------------------------------------------------ */

static const uint8_t *cur_in; /* the input being compared, for the report */
static size_t cur_len;
static const char *cur_what;

static void set_current(const char *what, const uint8_t *in, size_t len)
{
    cur_what = what;
    cur_in = in;
    cur_len = len;
}

static void mismatch(const char *cond, int line)
{
    fprintf(stderr, "test_der.c:%d: BoringSSL and core/der.c disagree: %s\n", line, cond);
    fprintf(stderr, "  in %s, input (%zu bytes):", cur_what != NULL ? cur_what : "?", cur_len);
    for (size_t i = 0; i < cur_len && i < 200; i++) {
        fprintf(stderr, " %02x", cur_in[i]);
    }
    fprintf(stderr, "%s\n", cur_len > 200 ? " ..." : "");
    fail_msg("disagreement: %s (line %d)", cond, line);
}

#define SAME(c)                                                                                \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            mismatch(#c, __LINE__);                                                            \
        }                                                                                      \
    } while (0)

/* ---- deterministic pseudo-random numbers (splitmix64) -------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* hex reads "30 03 02 01 05" into `out` (spaces ignored) and returns the byte count. */
static size_t hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (; *s != '\0'; s++) {
        int v;
        if (*s >= '0' && *s <= '9') {
            v = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            v = *s - 'a' + 10;
        } else {
            continue;
        }
        if (half < 0) {
            half = v;
            continue;
        }
        assert_true(n < cap);
        out[n++] = (uint8_t)(half << 4 | v);
        half = -1;
    }
    assert_int_equal(half, -1);
    return n;
}

/* ---- the reader and the writer, side by side: der_oracle.h ------------------------- */

#define DER_ORACLE_CHECK(cond) SAME(cond)
#define DER_ORACLE_BEGIN(what, p, n) set_current((what), (p), (n))
#define DER_ORACLE_END() set_current(NULL, NULL, 0)
#include "der_oracle.h"

/* check_input compares every reader call on `n` bytes, copied to a buffer of exactly that
 * size (so that valgrind and ASan see any read past the end). */
static void check_input(const char *what, const uint8_t *in, size_t n, size_t rot)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    if (n > 0) {
        memcpy(p, in, n);
    }
    set_current(what, p, n);
    cmp_contents(p, n, rot, 4);
    int budget = 24;
    walk(p, n, 0, &budget);
    set_current(NULL, NULL, 0);
    free(p);
}

static void check_hex(const char *what, const char *h)
{
    uint8_t buf[1024];
    size_t n = hex(h, buf, sizeof(buf));
    check_input(what, buf, n, 0);
    check_input(what, buf, n, NUM_FIXED_TAGS / 2);
}

/* ---- reader: hand-written vectors ---------------------------------------------------- */

static void test_constants_match_boringssl(void **state)
{
    (void)state;
    assert_int_equal(MTLSP_ASN1_TAG_SHIFT, CBS_ASN1_TAG_SHIFT);
    assert_int_equal(MTLSP_ASN1_CONSTRUCTED, CBS_ASN1_CONSTRUCTED);
    assert_int_equal(MTLSP_ASN1_UNIVERSAL, CBS_ASN1_UNIVERSAL);
    assert_int_equal(MTLSP_ASN1_APPLICATION, CBS_ASN1_APPLICATION);
    assert_int_equal(MTLSP_ASN1_CONTEXT_SPECIFIC, CBS_ASN1_CONTEXT_SPECIFIC);
    assert_int_equal(MTLSP_ASN1_PRIVATE, CBS_ASN1_PRIVATE);
    assert_int_equal(MTLSP_ASN1_CLASS_MASK, CBS_ASN1_CLASS_MASK);
    assert_int_equal(MTLSP_ASN1_TAG_NUMBER_MASK, CBS_ASN1_TAG_NUMBER_MASK);
    static const unsigned pairs[][2] = {
        {MTLSP_ASN1_BOOLEAN, CBS_ASN1_BOOLEAN},
        {MTLSP_ASN1_INTEGER, CBS_ASN1_INTEGER},
        {MTLSP_ASN1_BITSTRING, CBS_ASN1_BITSTRING},
        {MTLSP_ASN1_OCTETSTRING, CBS_ASN1_OCTETSTRING},
        {MTLSP_ASN1_NULL, CBS_ASN1_NULL},
        {MTLSP_ASN1_OBJECT, CBS_ASN1_OBJECT},
        {MTLSP_ASN1_ENUMERATED, CBS_ASN1_ENUMERATED},
        {MTLSP_ASN1_UTF8STRING, CBS_ASN1_UTF8STRING},
        {MTLSP_ASN1_SEQUENCE, CBS_ASN1_SEQUENCE},
        {MTLSP_ASN1_SET, CBS_ASN1_SET},
        {MTLSP_ASN1_NUMERICSTRING, CBS_ASN1_NUMERICSTRING},
        {MTLSP_ASN1_PRINTABLESTRING, CBS_ASN1_PRINTABLESTRING},
        {MTLSP_ASN1_T61STRING, CBS_ASN1_T61STRING},
        {MTLSP_ASN1_VIDEOTEXSTRING, CBS_ASN1_VIDEOTEXSTRING},
        {MTLSP_ASN1_IA5STRING, CBS_ASN1_IA5STRING},
        {MTLSP_ASN1_UTCTIME, CBS_ASN1_UTCTIME},
        {MTLSP_ASN1_GENERALIZEDTIME, CBS_ASN1_GENERALIZEDTIME},
        {MTLSP_ASN1_GRAPHICSTRING, CBS_ASN1_GRAPHICSTRING},
        {MTLSP_ASN1_VISIBLESTRING, CBS_ASN1_VISIBLESTRING},
        {MTLSP_ASN1_GENERALSTRING, CBS_ASN1_GENERALSTRING},
        {MTLSP_ASN1_UNIVERSALSTRING, CBS_ASN1_UNIVERSALSTRING},
        {MTLSP_ASN1_BMPSTRING, CBS_ASN1_BMPSTRING},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_int_equal(pairs[i][0], pairs[i][1]);
    }
    MTLSP_ASN1_TAG t = MTLSP_ASN1_SEQUENCE;
    assert_int_equal(sizeof(t), sizeof(unsigned));
}

/* One element: does CBS_get_any_asn1_element take it, and what does it report. */
struct element_vector {
    const char *name;
    const char *hex;
    int ok;
    unsigned tag;      /* when ok */
    size_t header_len; /* when ok */
    size_t consumed;   /* when ok */
};

#define CTX MTLSP_ASN1_CONTEXT_SPECIFIC
#define CONS MTLSP_ASN1_CONSTRUCTED

static const struct element_vector element_vectors[] = {
    {"empty input", "", 0, 0, 0, 0},
    {"NULL", "05 00", 1, MTLSP_ASN1_NULL, 2, 2},
    {"empty SEQUENCE", "30 00", 1, MTLSP_ASN1_SEQUENCE, 2, 2},
    {"short form, trailing data left", "04 01 aa bb", 1, MTLSP_ASN1_OCTETSTRING, 2, 3},
    {"tag [UNIVERSAL 0]", "00 00", 0, 0, 0, 0},
    {"tag [UNIVERSAL 0] constructed", "20 00", 0, 0, 0, 0},
    {"tag [UNIVERSAL 0] high form", "1f 80 00 00", 0, 0, 0, 0},
    {"[CONTEXT 0] primitive", "80 00", 1, CTX | 0, 2, 2},
    {"[CONTEXT 0] constructed", "a0 02 05 00", 1, CTX | CONS | 0, 2, 4},
    {"[APPLICATION 30]", "5e 00", 1, MTLSP_ASN1_APPLICATION | 30, 2, 2},
    {"[PRIVATE 1] constructed", "e1 00", 1, MTLSP_ASN1_PRIVATE | CONS | 1, 2, 2},
    {"tag 31: first high tag number", "1f 1f 00", 1, 31, 3, 3},
    {"tag 30 in high form (not minimal)", "1f 1e 00", 0, 0, 0, 0},
    {"tag 0 in high form", "1f 00 00", 0, 0, 0, 0},
    {"high tag with leading 0x80", "1f 80 1f 00", 0, 0, 0, 0},
    {"high tag 127", "9f 7f 00", 1, CTX | 127, 3, 3},
    {"high tag 128 (two bytes)", "bf 81 00 00", 1, CTX | CONS | 128, 4, 4},
    {"high tag 2^28", "1f 81 80 80 80 00 00", 1, 1u << 28, 7, 7},
    {"high tag at the mask (2^29 - 1)", "1f 81 ff ff ff 7f 00", 1, MTLSP_ASN1_TAG_NUMBER_MASK, 7,
     7},
    {"high tag 2^29: above the mask", "1f 82 80 80 80 00 00", 0, 0, 0, 0},
    {"high tag past 64 bits", "1f ff ff ff ff ff ff ff ff ff ff 7f 00", 0, 0, 0, 0},
    {"high tag truncated", "1f", 0, 0, 0, 0},
    {"high tag unterminated", "1f 81", 0, 0, 0, 0},
    {"no length byte", "04", 0, 0, 0, 0},
    {"indefinite length", "30 80 05 00 00 00", 0, 0, 0, 0},
    {"indefinite length, primitive", "04 80 00 00", 0, 0, 0, 0},
    {"length 0x81 0x7f (should be short)", "04 81 7f", 0, 0, 0, 0},
    {"length 0x81 0x00", "04 81 00", 0, 0, 0, 0},
    {"length 0x82 00 80 (leading zero)", "04 82 00 80", 0, 0, 0, 0},
    {"length 0x83 00 01 00 (leading zero)", "04 83 00 01 00", 0, 0, 0, 0},
    {"length 0x84 00 01 00 00 (leading zero)", "04 84 00 01 00 00", 0, 0, 0, 0},
    {"five length bytes", "04 85 01 00 00 00 00", 0, 0, 0, 0},
    {"length byte 0xff", "04 ff", 0, 0, 0, 0},
    {"long length truncated in the length", "04 82 01", 0, 0, 0, 0},
    {"four length bytes, contents missing", "04 84 01 00 00 00", 0, 0, 0, 0},
    {"four length bytes 0xffffffff", "04 84 ff ff ff ff 00", 0, 0, 0, 0},
    {"contents truncated", "04 02 01", 0, 0, 0, 0},
    {"empty INTEGER element (valid TLV)", "02 00", 1, MTLSP_ASN1_INTEGER, 2, 2},
};

static void test_element_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(element_vectors) / sizeof(element_vectors[0]); i++) {
        const struct element_vector *v = &element_vectors[i];
        uint8_t buf[64];
        size_t n = hex(v->hex, buf, sizeof(buf));
        mtlsp_cbs cbs, out;
        unsigned tag = SENT_TAG;
        size_t header_len = SENT_LEN;
        mtlsp_cbs_init(&cbs, buf, n);
        int ok = mtlsp_cbs_get_any_asn1_element(&cbs, &out, &tag, &header_len);
        if (ok != v->ok) {
            fail_msg("%s: got %d, want %d", v->name, ok, v->ok);
        }
        if (ok) {
            assert_int_equal(tag, v->tag);
            assert_int_equal(header_len, v->header_len);
            assert_int_equal(n - cbs.len, v->consumed);
            assert_ptr_equal(out.data, buf);
            assert_int_equal(out.len, v->consumed);
        } else {
            assert_int_equal(cbs.len, n); /* a failure consumes nothing */
        }
        check_hex(v->name, v->hex);
    }
}

/* Long lengths need long inputs: 128, 255, 256, 65535, 65536 and 16 MiB content bytes. */
static void test_long_lengths(void **state)
{
    (void)state;
    static const size_t sizes[] = {127, 128, 255, 256, 65535, 65536, 16777216};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        uint8_t *buf = calloc(len + 6, 1);
        assert_non_null(buf);
        size_t h = 0;
        buf[h++] = 0x04;
        size_t octets = 0;
        while (len >= 0x80 && (len >> (8 * octets)) != 0) {
            octets++;
        }
        buf[h++] = octets == 0 ? (uint8_t)len : (uint8_t)(0x80 | octets);
        for (size_t k = octets; k > 0; k--) {
            buf[h++] = (uint8_t)(len >> (8 * (k - 1)));
        }
        mtlsp_cbs cbs, out;
        mtlsp_cbs_init(&cbs, buf, h + len);
        assert_int_equal(mtlsp_cbs_get_asn1(&cbs, &out, MTLSP_ASN1_OCTETSTRING), 1);
        assert_int_equal(out.len, len);
        assert_int_equal(cbs.len, 0);
        if (len < 70000) {
            check_input("long length", buf, h + len, i);
            check_input("long length, one byte short", buf, h + len - 1, i);
        } else {
            cmp_any_element(buf, h + len);
            cmp_any_element(buf, h + len - 1);
        }
        free(buf);
    }
}

static void test_get_asn1_wrong_tag_consumes(void **state)
{
    (void)state;
    /* BoringSSL's quirk, kept on purpose: the element is read, then the tag is checked. */
    static const uint8_t in[] = {0x30, 0x00, 0x05, 0x00};
    mtlsp_cbs cbs, out;
    mtlsp_cbs_init(&cbs, in, sizeof(in));
    assert_int_equal(mtlsp_cbs_get_asn1(&cbs, &out, MTLSP_ASN1_INTEGER), 0);
    assert_int_equal(cbs.len, 2);
    assert_ptr_equal(out.data, in);
    assert_int_equal(out.len, 2);
    check_input("wrong tag", in, sizeof(in), 0);
    /* A malformed element consumes nothing. */
    static const uint8_t bad[] = {0x30, 0x81, 0x05};
    mtlsp_cbs_init(&cbs, bad, sizeof(bad));
    assert_int_equal(mtlsp_cbs_get_asn1(&cbs, &out, MTLSP_ASN1_SEQUENCE), 0);
    assert_int_equal(cbs.len, sizeof(bad));
}

static void test_peek(void **state)
{
    (void)state;
    static const uint8_t seq[] = {0x30, 0x81}; /* the length is bad: peek does not care */
    mtlsp_cbs cbs;
    mtlsp_cbs_init(&cbs, seq, sizeof(seq));
    assert_int_equal(mtlsp_cbs_peek_asn1_tag(&cbs, MTLSP_ASN1_SEQUENCE), 1);
    assert_int_equal(mtlsp_cbs_peek_asn1_tag(&cbs, MTLSP_ASN1_SET), 0);
    assert_int_equal(cbs.len, sizeof(seq));
    mtlsp_cbs_init(&cbs, NULL, 0);
    assert_int_equal(mtlsp_cbs_peek_asn1_tag(&cbs, MTLSP_ASN1_SEQUENCE), 0);
    check_hex("peek", "30 81");
    check_hex("peek tag 0", "00");
    check_hex("peek high", "bf 81 00");
    check_hex("peek high bad", "bf 80 01");
}

static void test_optional(void **state)
{
    (void)state;
    const unsigned tag0 = CTX | CONS | 0;
    uint8_t buf[16];
    size_t n = hex("a0 03 02 01 05", buf, sizeof(buf));
    mtlsp_cbs cbs, out;
    int present = SENT_INT;
    mtlsp_cbs_init(&cbs, buf, n);
    assert_int_equal(mtlsp_cbs_get_optional_asn1(&cbs, &out, &present, tag0), 1);
    assert_int_equal(present, 1);
    assert_int_equal(out.len, 3);
    assert_int_equal(cbs.len, 0);

    /* Absent: success, nothing read, `out` untouched. */
    mtlsp_cbs_init(&cbs, buf, n);
    mtlsp_cbs_init(&out, SENT_PTR, SENT_LEN);
    present = SENT_INT;
    assert_int_equal(mtlsp_cbs_get_optional_asn1(&cbs, &out, &present, CTX | CONS | 1), 1);
    assert_int_equal(present, 0);
    assert_ptr_equal(out.data, SENT_PTR);
    assert_int_equal(cbs.len, n);
    assert_int_equal(mtlsp_cbs_get_optional_asn1(&cbs, NULL, NULL, CTX | CONS | 1), 1);

    /* Present but malformed: failure. */
    n = hex("a0 80 00 00", buf, sizeof(buf));
    mtlsp_cbs_init(&cbs, buf, n);
    assert_int_equal(mtlsp_cbs_get_optional_asn1(&cbs, &out, &present, tag0), 0);

    static const char *const cases[] = {
        "a0 03 02 01 05", "30 00", "", "a0 80 00 00", "1f", "a0", "a1 00", "80 00", "a0 00 30 00",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_hex("optional", cases[i]);
    }
}

static void test_optional_uint64(void **state)
{
    (void)state;
    const unsigned tag0 = CTX | CONS | 0;
    struct {
        const char *hex;
        int ok;
        uint64_t value;
    } const v[] = {
        {"a0 03 02 01 05", 1, 5},
        {"a0 03 02 01 00", 1, 0},
        {"30 00", 1, 42}, /* absent: the default */
        {"", 1, 42},
        {"a0 0b 02 09 00 ff ff ff ff ff ff ff ff", 1, UINT64_MAX},
        {"a0 0a 02 08 7f ff ff ff ff ff ff ff", 1, UINT64_C(0x7fffffffffffffff)},
        {"a0 0b 02 09 01 00 00 00 00 00 00 00 00", 0, 0}, /* 2^64 */
        {"a0 03 02 01 80", 0, 0},                         /* negative */
        {"a0 03 02 01 ff", 0, 0},
        {"a0 04 02 02 00 05", 0, 0},    /* leading 0x00 */
        {"a0 04 02 02 00 80", 1, 128},  /* needed 0x00 */
        {"a0 04 02 02 ff 80", 0, 0},    /* leading 0xff */
        {"a0 02 02 00", 0, 0},          /* empty INTEGER */
        {"a0 05 02 01 05 05 00", 0, 0}, /* trailing data inside the tag */
        {"a0 03 04 01 05", 0, 0},       /* not an INTEGER */
        {"a0 00", 0, 0},
        {"a0 81 03 02 01 05", 0, 0}, /* non-minimal outer length */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t buf[32];
        size_t n = hex(v[i].hex, buf, sizeof(buf));
        mtlsp_cbs cbs;
        uint64_t out = SENT_U64;
        mtlsp_cbs_init(&cbs, buf, n);
        int ok = mtlsp_cbs_get_optional_asn1_uint64(&cbs, &out, tag0, 42);
        if (ok != v[i].ok || (ok && out != v[i].value)) {
            fail_msg("optional uint64 %s: got %d/%llu", v[i].hex, ok, (unsigned long long)out);
        }
        check_hex("optional uint64", v[i].hex);
    }
}

static void test_bool(void **state)
{
    (void)state;
    struct {
        const char *hex;
        int ok;
        int value;
    } const v[] = {
        {"01 01 00", 1, 0},    {"01 01 ff", 1, 1},       {"01 01 01", 0, 0},
        {"01 01 80", 0, 0},    {"01 01 fe", 0, 0},       {"01 00", 0, 0},
        {"01 02 00 00", 0, 0}, {"02 01 00", 0, 0},       {"21 01 ff", 0, 0},
        {"01 81 01 ff", 0, 0}, {"01 01 ff 05 00", 1, 1}, {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t buf[16];
        size_t n = hex(v[i].hex, buf, sizeof(buf));
        mtlsp_cbs cbs;
        int out = SENT_INT;
        mtlsp_cbs_init(&cbs, buf, n);
        int ok = mtlsp_cbs_get_asn1_bool(&cbs, &out);
        if (ok != v[i].ok || (ok && out != v[i].value)) {
            fail_msg("bool %s: got %d/%d", v[i].hex, ok, out);
        }
        check_hex("bool", v[i].hex);
    }
}

static void test_integer_contents(void **state)
{
    (void)state;
    struct {
        const char *hex;
        int ok;
        int negative;
    } const v[] = {
        {"", 0, 0},       {"00", 1, 0},       {"7f", 1, 0},       {"80", 1, 1},
        {"ff", 1, 1},     {"00 7f", 0, 0},    {"00 80", 1, 0},    {"00 00", 0, 0},
        {"ff 80", 0, 1},  {"ff 7f", 1, 1},    {"ff ff", 0, 1},    {"7f ff", 1, 0},
        {"01 00", 1, 0},  {"80 00", 1, 1},    {"00 ff 00", 1, 0}, {"00 00 01", 0, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t buf[16];
        size_t n = hex(v[i].hex, buf, sizeof(buf));
        mtlsp_cbs cbs;
        int negative = SENT_INT;
        mtlsp_cbs_init(&cbs, buf, n);
        int ok = mtlsp_cbs_is_valid_asn1_integer(&cbs, &negative);
        if (ok != v[i].ok || (n > 0 && negative != v[i].negative)) {
            fail_msg("integer %s: got %d/%d", v[i].hex, ok, negative);
        }
        assert_int_equal(mtlsp_cbs_is_valid_asn1_integer(&cbs, NULL), v[i].ok);
        check_hex("integer contents", v[i].hex);
        /* And wrapped in an INTEGER element, for the uint64 path. */
        char wrapped[80];
        snprintf(wrapped, sizeof(wrapped), "a0 %02zx 02 %02zx %s", n + 2, n, v[i].hex);
        check_hex("integer in [0]", wrapped);
    }
}

static void test_bitstring_contents(void **state)
{
    (void)state;
    struct {
        const char *hex;
        int ok;
    } const v[] = {
        {"", 0},      {"00", 1},    {"01", 0},    {"07", 0},    {"08", 0},    {"ff", 0},
        {"00 ff", 1}, {"07 80", 1}, {"07 81", 0}, {"01 fe", 1}, {"01 ff", 0}, {"03 f8", 1},
        {"03 fc", 0}, {"08 00", 0}, {"07 00 80", 1}, {"02 ff 01", 0}, {"02 ff 04", 1},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t buf[16];
        size_t n = hex(v[i].hex, buf, sizeof(buf));
        mtlsp_cbs cbs;
        mtlsp_cbs_init(&cbs, buf, n);
        if (mtlsp_cbs_is_valid_asn1_bitstring(&cbs) != v[i].ok) {
            fail_msg("bitstring %s: want %d", v[i].hex, v[i].ok);
        }
        check_hex("bitstring contents", v[i].hex);
    }
}

static void test_u8_and_mem_equal(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x01, 0x02, 0x03};
    mtlsp_cbs cbs;
    uint8_t b = 0;
    mtlsp_cbs_init(&cbs, in, sizeof(in));
    assert_int_equal(mtlsp_cbs_mem_equal(&cbs, in, 3), 1);
    assert_int_equal(mtlsp_cbs_mem_equal(&cbs, in, 2), 0);
    assert_int_equal(mtlsp_cbs_mem_equal(&cbs, (const uint8_t *)"\x01\x02\x04", 3), 0);
    assert_int_equal(mtlsp_cbs_get_u8(&cbs, &b), 1);
    assert_int_equal(b, 1);
    assert_ptr_equal(mtlsp_cbs_data(&cbs), in + 1);
    assert_int_equal(mtlsp_cbs_len(&cbs), 2);
    assert_int_equal(mtlsp_cbs_get_u8(&cbs, &b), 1);
    assert_int_equal(mtlsp_cbs_get_u8(&cbs, &b), 1);
    b = 0x77;
    assert_int_equal(mtlsp_cbs_get_u8(&cbs, &b), 0);
    assert_int_equal(b, 0x77);
    mtlsp_cbs_init(&cbs, NULL, 0);
    assert_int_equal(mtlsp_cbs_mem_equal(&cbs, NULL, 0), 1);
    check_input("u8", in, sizeof(in), 0);
    check_input("u8 empty", in, 0, 0);
}

/* ---- reader: pseudo-random and mutated inputs ---------------------------------------- */

struct gen {
    uint8_t buf[2048];
    size_t len;
};

static void put(struct gen *g, uint8_t b)
{
    if (g->len < sizeof(g->buf)) {
        g->buf[g->len++] = b;
    }
}

static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x05, 0x1e, 0x1f, 0x20, 0x30, 0x7f,
                                      0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xa0, 0xbf, 0xff};

static uint8_t rnd_byte(void)
{
    return rnd_below(3) == 0 ? interesting[rnd_below(sizeof(interesting))] : (uint8_t)rnd();
}

/* gen_tag writes an identifier: usually a plausible one, sometimes a broken high form. */
static void gen_tag(struct gen *g, int constructed)
{
    uint8_t cons = constructed ? 0x20 : 0;
    uint8_t cls = (uint8_t)(rnd_below(4) == 0 ? rnd_below(4) << 6 : 0);
    size_t kind = rnd_below(16);
    if (kind < 12) {
        static const uint8_t low[] = {1, 2, 3, 4, 5, 6, 12, 19, 22, 23, 24, 30, 0, 16, 17};
        put(g, (uint8_t)(cls | cons | low[rnd_below(sizeof(low))]));
        return;
    }
    put(g, (uint8_t)(cls | cons | 0x1f));
    if (kind == 15) { /* broken: leading 0x80, small number, or too long */
        size_t k = 1 + rnd_below(6);
        for (size_t i = 0; i < k; i++) {
            put(g, rnd_byte());
        }
        return;
    }
    uint64_t number = rnd_below(2) ? 31 + rnd_below(200) : rnd() >> rnd_below(64);
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(number & 0x7f);
        number >>= 7;
    } while (number != 0);
    while (n > 0) {
        n--;
        put(g, (uint8_t)(tmp[n] | (n > 0 ? 0x80 : 0)));
    }
}

/* gen_length writes the length of `len` content bytes, minimal or (sometimes) not. */
static void gen_length(struct gen *g, size_t len)
{
    size_t kind = rnd_below(24);
    if (kind == 0) { /* non-minimal long form */
        put(g, 0x82);
        put(g, (uint8_t)(len >> 8));
        put(g, (uint8_t)len);
        return;
    }
    if (kind == 1) { /* five octets */
        put(g, 0x85);
        for (int i = 4; i >= 0; i--) {
            put(g, (uint8_t)(i < 2 ? len >> (8 * i) : 0));
        }
        return;
    }
    if (kind == 2 && len < 128) { /* 0x81 below 128 */
        put(g, 0x81);
        put(g, (uint8_t)len);
        return;
    }
    if (len < 0x80) {
        put(g, (uint8_t)len);
    } else if (len <= 0xff) {
        put(g, 0x81);
        put(g, (uint8_t)len);
    } else {
        put(g, 0x82);
        put(g, (uint8_t)(len >> 8));
        put(g, (uint8_t)len);
    }
}

static void gen_element(struct gen *g, int depth)
{
    struct gen contents = {.len = 0};
    int constructed = depth < 4 && rnd_below(3) == 0;
    if (constructed) {
        size_t k = rnd_below(4);
        for (size_t i = 0; i < k; i++) {
            gen_element(&contents, depth + 1);
        }
    } else {
        size_t kind = rnd_below(8);
        size_t n = kind == 0 ? 120 + rnd_below(200) : rnd_below(10);
        if (kind == 1 && n > 0) { /* integer-like start */
            put(&contents, rnd_below(2) ? 0x00 : 0xff);
            n--;
        }
        for (size_t i = 0; i < n; i++) {
            put(&contents, rnd_byte());
        }
    }
    gen_tag(g, constructed);
    if (rnd_below(40) == 0) { /* indefinite length with end-of-contents */
        put(g, 0x80);
        for (size_t i = 0; i < contents.len; i++) {
            put(g, contents.buf[i]);
        }
        put(g, 0);
        put(g, 0);
        return;
    }
    gen_length(g, contents.len);
    for (size_t i = 0; i < contents.len; i++) {
        put(g, contents.buf[i]);
    }
}

static void mutate(struct gen *g)
{
    size_t k = rnd_below(4);
    for (size_t i = 0; i < k; i++) {
        size_t at = rnd_below(g->len + 1);
        switch (rnd_below(6)) {
        case 0: /* flip a bit */
            if (at < g->len) {
                g->buf[at] ^= (uint8_t)(1u << rnd_below(8));
            }
            break;
        case 1: /* set an interesting byte */
            if (at < g->len) {
                g->buf[at] = interesting[rnd_below(sizeof(interesting))];
            }
            break;
        case 2: /* truncate */
            g->len = at;
            break;
        case 3: /* insert a byte */
            if (g->len < sizeof(g->buf)) {
                memmove(g->buf + at + 1, g->buf + at, g->len - at);
                g->buf[at] = rnd_byte();
                g->len++;
            }
            break;
        case 4: /* delete a byte */
            if (at < g->len) {
                memmove(g->buf + at, g->buf + at + 1, g->len - at - 1);
                g->len--;
            }
            break;
        default: /* append garbage */
            put(g, rnd_byte());
            break;
        }
    }
}

static void test_random_inputs(void **state)
{
    (void)state;
    rng_state = UINT64_C(20240611);
    const size_t num_inputs = 200000;
    for (size_t i = 0; i < num_inputs; i++) {
        struct gen g = {.len = 0};
        if (i % 4 == 0) { /* short random bytes */
            size_t n = rnd_below(12);
            for (size_t k = 0; k < n; k++) {
                put(&g, rnd_byte());
            }
        } else {
            size_t k = 1 + rnd_below(3);
            for (size_t e = 0; e < k; e++) {
                gen_element(&g, 0);
            }
            if (i % 4 != 1) {
                mutate(&g);
            }
        }
        check_input("random input", g.buf, g.len, i);
    }
}

/* ---- writer tests -------------------------------------------------------------------- */

/* finish_hex finishes `cbb` and checks its bytes against `want`. */
static void finish_hex(mtlsp_cbb *cbb, const char *want)
{
    uint8_t expected[256];
    size_t n = hex(want, expected, sizeof(expected));
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(mtlsp_cbb_finish(cbb, &out, &len), 1);
    assert_non_null(out);
    assert_int_equal(len, n);
    assert_memory_equal(out, expected, n);
    mtlsp_free(out);
}

static void test_writer_vectors(void **state)
{
    (void)state;
    mtlsp_cbb cbb, seq, child;
    assert_int_equal(mtlsp_cbb_init(&cbb, 0), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&cbb, &seq, MTLSP_ASN1_SEQUENCE), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_uint64(&seq, 0), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_uint64(&seq, 127), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_uint64(&seq, 128), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_uint64(&seq, 256), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_uint64(&seq, UINT64_MAX), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_bool(&seq, 1), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_bool(&seq, 0), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&seq, &child, MTLSP_ASN1_OBJECT), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&child, "1.2.840.113549.1.1.11", 21), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&seq, &child, 31), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&seq, &child, CTX | CONS | 128), 1);
    assert_int_equal(mtlsp_cbb_add_u8(&child, 0x42), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&seq, &child, CTX | CONS | MTLSP_ASN1_TAG_NUMBER_MASK), 1);
    finish_hex(&cbb, "30 39"
                     " 02 01 00  02 01 7f  02 02 00 80  02 02 01 00"
                     " 02 09 00 ff ff ff ff ff ff ff ff"
                     " 01 01 ff  01 01 00"
                     " 06 09 2a 86 48 86 f7 0d 01 01 0b"
                     " 1f 1f 00  bf 81 00 01 42  bf 81 ff ff ff 7f 00");
    mtlsp_cbb_cleanup(&cbb); /* a no-op after finish */

    /* The same, and a few more, against BoringSSL through the program interpreter. */
    static const uint8_t prog[] = {16, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 0, 2,
                                   5, 0, 22, 0, 0, 13, 1, 0, 8, 7, 0, 6, 0};
    run_writer_program(prog, sizeof(prog));
}

static void test_writer_long_children(void **state)
{
    (void)state;
    const uint8_t *pat = pattern();
    for (size_t i = 0; i < sizeof(writer_lens) / sizeof(writer_lens[0]); i++) {
        size_t len = writer_lens[i];
        for (int nested = 0; nested < 2; nested++) {
            CBB b, bc, bg;
            mtlsp_cbb m, mc, mg;
            set_current("long child", NULL, 0);
            SAME(CBB_init(&b, 1) == 1 && mtlsp_cbb_init(&m, 1) == 1);
            SAME(CBB_add_asn1(&b, &bc, CBS_ASN1_SEQUENCE) ==
                 mtlsp_cbb_add_asn1(&m, &mc, MTLSP_ASN1_SEQUENCE));
            CBB *bt = &bc;
            mtlsp_cbb *mt = &mc;
            if (nested) {
                SAME(CBB_add_asn1(&bc, &bg, CBS_ASN1_OCTETSTRING) ==
                     mtlsp_cbb_add_asn1(&mc, &mg, MTLSP_ASN1_OCTETSTRING));
                bt = &bg;
                mt = &mg;
            }
            SAME(CBB_add_bytes(bt, pat, len) == mtlsp_cbb_add_bytes(mt, pat, len));
            SAME(CBB_len(bt) == mtlsp_cbb_len(mt) && mtlsp_cbb_len(mt) == len);
            uint8_t *bo, *mo;
            size_t bl, ml;
            SAME(CBB_finish(&b, &bo, &bl) == 1 && mtlsp_cbb_finish(&m, &mo, &ml) == 1);
            SAME(bl == ml && memcmp(bo, mo, bl) == 0);
            /* And the reader takes it back. */
            mtlsp_cbs cbs, out;
            mtlsp_cbs_init(&cbs, mo, ml);
            assert_int_equal(mtlsp_cbs_get_asn1(&cbs, &out, MTLSP_ASN1_SEQUENCE), 1);
            assert_int_equal(cbs.len, 0);
            OPENSSL_free(bo);
            mtlsp_free(mo);
        }
    }
    /* A child past 16 MiB: four length octets, on both sides. */
    size_t huge = 16777216 + 3;
    uint8_t *big = calloc(huge, 1);
    assert_non_null(big);
    CBB hb, hbc;
    mtlsp_cbb hm, hmc;
    uint8_t *bo, *mo;
    size_t bl, ml;
    set_current("16 MiB child", NULL, 0);
    SAME(CBB_init(&hb, 0) == 1 && mtlsp_cbb_init(&hm, 0) == 1);
    SAME(CBB_add_asn1(&hb, &hbc, CBS_ASN1_OCTETSTRING) == 1);
    SAME(mtlsp_cbb_add_asn1(&hm, &hmc, MTLSP_ASN1_OCTETSTRING) == 1);
    SAME(CBB_add_bytes(&hbc, big, huge) == 1 && mtlsp_cbb_add_bytes(&hmc, big, huge) == 1);
    SAME(CBB_finish(&hb, &bo, &bl) == 1 && mtlsp_cbb_finish(&hm, &mo, &ml) == 1);
    SAME(bl == ml && memcmp(bo, mo, bl) == 0);
    static const uint8_t huge_header[] = {0x04, 0x84, 0x01, 0x00, 0x00, 0x03};
    assert_int_equal(ml, huge + sizeof(huge_header));
    assert_memory_equal(mo, huge_header, sizeof(huge_header));
    OPENSSL_free(bo);
    mtlsp_free(mo);
    free(big);

    /* Exact headers at the length boundaries. */
    static const struct {
        size_t len;
        const char *header;
    } h[] = {{127, "04 7f"}, {128, "04 81 80"}, {255, "04 81 ff"}, {256, "04 82 01 00"},
             {65535, "04 82 ff ff"}, {65536, "04 83 01 00 00"}};
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        mtlsp_cbb m, mc;
        uint8_t want[8], *out;
        size_t n = hex(h[i].header, want, sizeof(want)), len;
        assert_int_equal(mtlsp_cbb_init(&m, 0), 1);
        assert_int_equal(mtlsp_cbb_add_asn1(&m, &mc, MTLSP_ASN1_OCTETSTRING), 1);
        assert_int_equal(mtlsp_cbb_add_bytes(&mc, pat, h[i].len), 1);
        assert_int_equal(mtlsp_cbb_finish(&m, &out, &len), 1);
        assert_int_equal(len, n + h[i].len);
        assert_memory_equal(out, want, n);
        assert_memory_equal(out + n, pat, h[i].len);
        mtlsp_free(out);
    }
}

static void test_writer_oid_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < NUM_OID_TEXTS; i++) {
        const char *s = oid_texts[i];
        CBB b;
        mtlsp_cbb m;
        set_current(s, (const uint8_t *)s, strlen(s));
        SAME(CBB_init(&b, 0) == 1 && mtlsp_cbb_init(&m, 0) == 1);
        SAME(CBB_add_asn1_oid_from_text(&b, s, strlen(s)) ==
             mtlsp_cbb_add_asn1_oid_from_text(&m, s, strlen(s)));
        SAME(CBB_len(&b) == mtlsp_cbb_len(&m));
        SAME(memcmp(CBB_data(&b), mtlsp_cbb_data(&m), CBB_len(&b)) == 0);
        CBB_cleanup(&b);
        mtlsp_cbb_cleanup(&m);
    }
    /* A NUL inside the given length is refused; the text need not be NUL-terminated. */
    mtlsp_cbb m;
    assert_int_equal(mtlsp_cbb_init(&m, 0), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "1.2\0", 4), 0);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "1.2.3x", 6), 0);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "1.2.3.4", 3), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "2.999.3", 7), 1);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "0.40", 4), 0);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "1.2.", 4), 0);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, "1.02", 4), 0);
    assert_int_equal(mtlsp_cbb_add_asn1_oid_from_text(&m, NULL, 0), 0);
    finish_hex(&m, "2a  2a  88 37 03"); /* "1.2.3x" wrote the 2a of "1.2" before failing */
}

static void test_writer_random_programs(void **state)
{
    (void)state;
    rng_state = UINT64_C(0x6d746c73);
    for (size_t i = 0; i < 30000; i++) {
        uint8_t prog[96];
        size_t n = 1 + rnd_below(sizeof(prog));
        for (size_t k = 0; k < n; k++) {
            prog[k] = (uint8_t)rnd();
        }
        /* Mostly small lengths: the big ones once in a while. */
        if (rnd_below(8) != 0) {
            for (size_t k = 0; k + 2 < n; k++) {
                if (prog[k] % 9 == 1) {
                    prog[k + 2] = (uint8_t)(prog[k + 2] % 12);
                }
            }
        }
        run_writer_program(prog, n);
    }
}

static void test_writer_child_rules(void **state)
{
    (void)state;
    mtlsp_cbb cbb, child, grandchild, other;
    uint8_t *out = NULL;
    size_t len = SENT_LEN;
    assert_int_equal(mtlsp_cbb_init(&cbb, 4), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&cbb, &child, MTLSP_ASN1_SEQUENCE), 1);
    assert_int_equal(mtlsp_cbb_finish(&child, &out, &len), 0); /* not a top level */
    assert_int_equal(mtlsp_cbb_add_asn1(&child, &grandchild, MTLSP_ASN1_SET), 1);
    assert_int_equal(mtlsp_cbb_add_u8(&grandchild, 7), 1);
    /* A write to the parent closes the child and the grandchild. */
    assert_int_equal(mtlsp_cbb_add_asn1(&cbb, &other, MTLSP_ASN1_NULL), 1);
    assert_int_equal(mtlsp_cbb_add_u8(&child, 1), 0);
    assert_int_equal(mtlsp_cbb_add_u8(&grandchild, 1), 0);
    assert_int_equal(mtlsp_cbb_flush(&child), 0);
    assert_int_equal(mtlsp_cbb_len(&other), 0);
    assert_int_equal(mtlsp_cbb_finish(&cbb, NULL, &len), 0);
    assert_int_equal(mtlsp_cbb_flush(&cbb), 1);
    assert_int_equal(mtlsp_cbb_len(&cbb), 7);
    finish_hex(&cbb, "30 03 31 01 07  05 00");
    mtlsp_cbb_cleanup(&cbb);

    /* Zeroed and cleaned-up writers: cleanup is a no-op, calls fail. */
    mtlsp_cbb_zero(&cbb);
    mtlsp_cbb_cleanup(&cbb);
    assert_int_equal(mtlsp_cbb_add_u8(&cbb, 1), 0);
    assert_int_equal(mtlsp_cbb_finish(&cbb, &out, &len), 0);
    assert_int_equal(mtlsp_cbb_init(&cbb, 0), 1);
    finish_hex(&cbb, ""); /* empty, but a buffer to free */
}

static void test_writer_out_of_memory(void **state)
{
    (void)state;
    mtlsp_cbb cbb, child;
    mtlsp_mem_fail_after(0);
    assert_int_equal(mtlsp_cbb_init(&cbb, 16), 0);
    mtlsp_cbb_cleanup(&cbb);

    /* The buffer is allocated, growing it fails: the writer fails for good. */
    mtlsp_mem_fail_after(1);
    assert_int_equal(mtlsp_cbb_init(&cbb, 1), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&cbb, &child, MTLSP_ASN1_SEQUENCE), 0);
    mtlsp_mem_fail_after(-1);
    assert_int_equal(mtlsp_cbb_add_u8(&cbb, 1), 0);
    assert_int_equal(mtlsp_cbb_flush(&cbb), 0);
    uint8_t *out;
    size_t len;
    assert_int_equal(mtlsp_cbb_finish(&cbb, &out, &len), 0);
    mtlsp_cbb_cleanup(&cbb);

    /* Growth failing while a child's long length is written at flush. */
    assert_int_equal(mtlsp_cbb_init(&cbb, 300), 1);
    assert_int_equal(mtlsp_cbb_add_asn1(&cbb, &child, MTLSP_ASN1_OCTETSTRING), 1);
    assert_int_equal(mtlsp_cbb_add_bytes(&child, pattern(), 298), 1);
    mtlsp_mem_fail_after(0);
    assert_int_equal(mtlsp_cbb_flush(&cbb), 0);
    mtlsp_mem_fail_after(-1);
    assert_int_equal(mtlsp_cbb_add_u8(&cbb, 1), 0);
    mtlsp_cbb_cleanup(&cbb);
}

/* ---- blob ---------------------------------------------------------------------------- */

static void test_blob_copy_and_refs(void **state)
{
    (void)state;
    uint8_t src[] = {1, 2, 3, 4};
    struct mtlsp_blob *b = mtlsp_blob_new(src, sizeof(src));
    assert_non_null(b);
    src[0] = 9; /* a copy: the blob does not see it */
    assert_int_equal(mtlsp_blob_len(b), 4);
    assert_int_equal(mtlsp_blob_data(b)[0], 1);
    assert_ptr_not_equal(mtlsp_blob_data(b), src);
    mtlsp_blob_up_ref(b);
    mtlsp_blob_up_ref(b);
    mtlsp_blob_free(b);
    mtlsp_blob_free(b);
    assert_int_equal(mtlsp_blob_data(b)[3], 4); /* one reference left */
    mtlsp_blob_free(b);
    mtlsp_blob_free(NULL);

    struct mtlsp_blob *empty = mtlsp_blob_new(NULL, 0);
    assert_non_null(empty);
    assert_non_null(mtlsp_blob_data(empty));
    assert_int_equal(mtlsp_blob_len(empty), 0);
    mtlsp_blob_free(empty);
}

static void test_blob_out_of_memory(void **state)
{
    (void)state;
    mtlsp_mem_fail_after(0);
    assert_null(mtlsp_blob_new((const uint8_t *)"x", 1));
    mtlsp_mem_fail_after(-1);
    assert_null(mtlsp_blob_new(NULL, SIZE_MAX - 4)); /* size overflow */
}

#define BLOB_THREADS 4
#define BLOB_ROUNDS 20000

static void *blob_worker(void *arg)
{
    struct mtlsp_blob *b = arg;
    unsigned sum = 0;
    for (int i = 0; i < BLOB_ROUNDS; i++) {
        mtlsp_blob_up_ref(b);
        sum += mtlsp_blob_data(b)[i % mtlsp_blob_len(b)];
        mtlsp_blob_free(b);
    }
    mtlsp_blob_free(b); /* the reference the main thread took for this worker */
    return (void *)(uintptr_t)sum;
}

static void test_blob_threads(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct mtlsp_blob *b = mtlsp_blob_new(bytes, sizeof(bytes));
    assert_non_null(b);
    pthread_t t[BLOB_THREADS];
    for (int i = 0; i < BLOB_THREADS; i++) {
        mtlsp_blob_up_ref(b);
        assert_int_equal(pthread_create(&t[i], NULL, blob_worker, b), 0);
    }
    mtlsp_blob_free(b); /* the workers hold the last references now */
    for (int i = 0; i < BLOB_THREADS; i++) {
        void *sum;
        assert_int_equal(pthread_join(t[i], &sum), 0);
        assert_int_equal((uintptr_t)sum, BLOB_ROUNDS / 8 * 36);
    }
    /* valgrind (and the leak checker) confirm the last worker freed it. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants_match_boringssl),
        cmocka_unit_test(test_element_vectors),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_get_asn1_wrong_tag_consumes),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_optional),
        cmocka_unit_test(test_optional_uint64),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_integer_contents),
        cmocka_unit_test(test_bitstring_contents),
        cmocka_unit_test(test_u8_and_mem_equal),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_writer_vectors),
        cmocka_unit_test(test_writer_long_children),
        cmocka_unit_test(test_writer_oid_text),
        cmocka_unit_test(test_writer_random_programs),
        cmocka_unit_test(test_writer_child_rules),
        cmocka_unit_test(test_writer_out_of_memory),
        cmocka_unit_test(test_blob_copy_and_refs),
        cmocka_unit_test(test_blob_out_of_memory),
        cmocka_unit_test(test_blob_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
