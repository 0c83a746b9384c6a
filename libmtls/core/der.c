/*
 * core/der.c - the DER reader and writer of der.h, written to behave as BoringSSL's CBS/CBB
 * do (see der.h for why, and tests/test_der.c for the case-by-case comparison).
 *
 * Plain C11: no TLS library headers. The writer allocates through core/mem.h.
 */
#include <assert.h>
#include <string.h>

#include "der.h"
#include "mem.h"

/* ---- reader: bytes ------------------------------------------------------------------- */

void mtlsp_cbs_init(mtlsp_cbs *cbs, const uint8_t *data, size_t len)
{
    cbs->data = data;
    cbs->len = len;
}

const uint8_t *mtlsp_cbs_data(const mtlsp_cbs *cbs)
{
    return cbs->data;
}

size_t mtlsp_cbs_len(const mtlsp_cbs *cbs)
{
    return cbs->len;
}

/* take moves the first `n` bytes of `cbs` into `out` (may be NULL); all or nothing. */
static int take(mtlsp_cbs *cbs, mtlsp_cbs *out, size_t n)
{
    if (cbs->len < n) {
        return 0;
    }
    if (out != NULL) {
        mtlsp_cbs_init(out, cbs->data, n);
    }
    cbs->data += n;
    cbs->len -= n;
    return 1;
}

int mtlsp_cbs_get_u8(mtlsp_cbs *cbs, uint8_t *out)
{
    if (cbs->len == 0) {
        return 0;
    }
    *out = cbs->data[0];
    return take(cbs, NULL, 1);
}

int mtlsp_cbs_mem_equal(const mtlsp_cbs *cbs, const uint8_t *data, size_t len)
{
    if (cbs->len != len) {
        return 0;
    }
    /* Accumulate every difference rather than stop at the first: the time does not tell
     * where the bytes differ (they may be a secret's hash). */
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++) {
        diff |= (uint8_t)(cbs->data[i] ^ data[i]);
    }
    return diff == 0;
}

/* ---- reader: identifiers and lengths ------------------------------------------------- */

/* read_base128 reads a high tag number: 7 bits a byte, the top bit set on all but the last.
 * Refused: a leading 0x80 (not minimal) and values that would pass 64 bits. */
static int read_base128(mtlsp_cbs *cbs, uint64_t *out)
{
    uint64_t v = 0;
    uint8_t b;
    do {
        if (!mtlsp_cbs_get_u8(cbs, &b) || (v >> 57) != 0 || (v == 0 && b == 0x80)) {
            return 0;
        }
        v = (v << 7) | (b & 0x7f);
    } while ((b & 0x80) != 0);
    *out = v;
    return 1;
}

/* read_tag reads an identifier into the in-memory tag layout of der.h. */
static int read_tag(mtlsp_cbs *cbs, unsigned *out)
{
    uint8_t first;
    if (!mtlsp_cbs_get_u8(cbs, &first)) {
        return 0;
    }
    unsigned tag = ((unsigned)first & 0xe0) << MTLSP_ASN1_TAG_SHIFT;
    unsigned number = first & 0x1f;
    if (number == 0x1f) {
        /* High tag number form: only for numbers that the low form cannot hold. */
        uint64_t v;
        if (!read_base128(cbs, &v) || v > MTLSP_ASN1_TAG_NUMBER_MASK || v < 0x1f) {
            return 0;
        }
        number = (unsigned)v;
    }
    tag |= number;
    /* [UNIVERSAL 0] belongs to the encoding itself (BER's end-of-contents). */
    if ((tag & ~MTLSP_ASN1_CONSTRUCTED) == 0) {
        return 0;
    }
    *out = tag;
    return 1;
}

/* read_length reads DER length octets into `*out_len`. */
static int read_length(mtlsp_cbs *cbs, size_t *out_len)
{
    uint8_t first;
    if (!mtlsp_cbs_get_u8(cbs, &first)) {
        return 0;
    }
    if ((first & 0x80) == 0) {
        *out_len = first;
        return 1;
    }
    /* Long form: 0x80 (indefinite) and more than four octets are refused outright. */
    size_t num_octets = first & 0x7f;
    if (num_octets == 0 || num_octets > 4 || cbs->len < num_octets) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < num_octets; i++) {
        v = (v << 8) | cbs->data[i];
    }
    /* Minimal: the short form below 128, and no leading zero octet. At most 2^32 - 1,
     * which a size_t holds. */
    if (v < 0x80 || (v >> ((num_octets - 1) * 8)) == 0) {
        return 0;
    }
    *out_len = (size_t)v;
    return take(cbs, NULL, num_octets);
}

int mtlsp_cbs_get_any_asn1_element(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned *out_tag,
                                   size_t *out_header_len)
{
    mtlsp_cbs rest = *cbs;
    unsigned tag;
    if (!read_tag(&rest, &tag)) {
        return 0;
    }
    if (out_tag != NULL) {
        *out_tag = tag;
    }
    size_t contents_len;
    if (!read_length(&rest, &contents_len)) {
        return 0;
    }
    size_t header_len = cbs->len - rest.len;
    if (contents_len > SIZE_MAX - header_len) {
        return 0;
    }
    if (out_header_len != NULL) {
        *out_header_len = header_len;
    }
    return take(cbs, out, header_len + contents_len);
}

int mtlsp_cbs_get_any_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned *out_tag)
{
    mtlsp_cbs element;
    size_t header_len;
    if (!mtlsp_cbs_get_any_asn1_element(cbs, &element, out_tag, &header_len)) {
        return 0;
    }
    if (out != NULL) {
        mtlsp_cbs_init(out, element.data + header_len, element.len - header_len);
    }
    return 1;
}

/* get_tagged reads one element and checks its tag afterwards, so that an element with the
 * wrong tag is consumed, as BoringSSL's CBS_get_asn1 does (der.h). */
static int get_tagged(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned tag_value, int keep_header)
{
    mtlsp_cbs element;
    unsigned tag;
    size_t header_len;
    if (!mtlsp_cbs_get_any_asn1_element(cbs, &element, &tag, &header_len)) {
        return 0;
    }
    if (tag != tag_value) {
        if (out != NULL) {
            *out = element;
        }
        return 0;
    }
    if (out != NULL) {
        size_t skip = keep_header ? 0 : header_len;
        mtlsp_cbs_init(out, element.data + skip, element.len - skip);
    }
    return 1;
}

int mtlsp_cbs_get_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned tag_value)
{
    return get_tagged(cbs, out, tag_value, 0);
}

int mtlsp_cbs_get_asn1_element(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned tag_value)
{
    return get_tagged(cbs, out, tag_value, 1);
}

int mtlsp_cbs_peek_asn1_tag(const mtlsp_cbs *cbs, unsigned tag_value)
{
    mtlsp_cbs copy = *cbs;
    unsigned tag;
    return read_tag(&copy, &tag) && tag == tag_value;
}

/* ---- reader: typed values ------------------------------------------------------------ */

int mtlsp_cbs_get_optional_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, int *out_present,
                                unsigned tag)
{
    int present = mtlsp_cbs_peek_asn1_tag(cbs, tag);
    if (present && !mtlsp_cbs_get_asn1(cbs, out, tag)) {
        return 0;
    }
    if (out_present != NULL) {
        *out_present = present;
    }
    return 1;
}

/* get_asn1_uint64 reads an INTEGER element holding a value in [0, 2^64). As BoringSSL,
 * `*out` is built byte by byte and left partial when the value turns out too large. */
static int get_asn1_uint64(mtlsp_cbs *cbs, uint64_t *out)
{
    mtlsp_cbs contents;
    int negative;
    if (!mtlsp_cbs_get_asn1(cbs, &contents, MTLSP_ASN1_INTEGER) ||
        !mtlsp_cbs_is_valid_asn1_integer(&contents, &negative) || negative) {
        return 0;
    }
    *out = 0;
    for (size_t i = 0; i < contents.len; i++) {
        if ((*out >> 56) != 0) {
            return 0;
        }
        *out = (*out << 8) | contents.data[i];
    }
    return 1;
}

int mtlsp_cbs_get_optional_asn1_uint64(mtlsp_cbs *cbs, uint64_t *out, unsigned tag,
                                       uint64_t default_value)
{
    mtlsp_cbs inner;
    int present;
    if (!mtlsp_cbs_get_optional_asn1(cbs, &inner, &present, tag)) {
        return 0;
    }
    if (!present) {
        *out = default_value;
        return 1;
    }
    return get_asn1_uint64(&inner, out) && inner.len == 0;
}

int mtlsp_cbs_get_asn1_bool(mtlsp_cbs *cbs, int *out)
{
    mtlsp_cbs contents;
    if (!mtlsp_cbs_get_asn1(cbs, &contents, MTLSP_ASN1_BOOLEAN) || contents.len != 1) {
        return 0;
    }
    uint8_t v = contents.data[0];
    if (v != 0x00 && v != 0xff) {
        return 0;
    }
    *out = v != 0;
    return 1;
}

int mtlsp_cbs_is_valid_asn1_integer(const mtlsp_cbs *cbs, int *out_is_negative)
{
    if (cbs->len == 0) {
        return 0;
    }
    uint8_t first = cbs->data[0];
    if (out_is_negative != NULL) {
        *out_is_negative = (first & 0x80) != 0;
    }
    if (cbs->len == 1) {
        return 1;
    }
    /* Minimal two's complement: the first nine bits are not all equal. */
    uint8_t top_of_second = cbs->data[1] & 0x80;
    return !((first == 0x00 && top_of_second == 0) || (first == 0xff && top_of_second != 0));
}

int mtlsp_cbs_is_valid_asn1_bitstring(const mtlsp_cbs *cbs)
{
    if (cbs->len == 0) {
        return 0;
    }
    uint8_t unused = cbs->data[0];
    if (unused > 7) {
        return 0;
    }
    if (unused == 0) {
        return 1;
    }
    /* The unused bits are the low bits of the last byte, which must exist and be zero. */
    if (cbs->len < 2) {
        return 0;
    }
    uint8_t last = cbs->data[cbs->len - 1];
    return (last & ((1u << unused) - 1)) == 0;
}

/* ---- writer: the store --------------------------------------------------------------- */

static struct mtlsp_cbb_store *store_of(mtlsp_cbb *cbb)
{
    if (cbb->is_child) {
        return cbb->shared;
    }
    return cbb->own.live ? &cbb->own : NULL;
}

/* grow makes room for `n` more bytes; on failure the store is failed for good. */
static int grow(struct mtlsp_cbb_store *s, size_t n)
{
    if (n > SIZE_MAX - s->len) {
        s->failed = 1;
        return 0;
    }
    size_t need = s->len + n;
    if (need <= s->cap) {
        return 1;
    }
    size_t cap = s->cap > SIZE_MAX / 2 ? need : s->cap * 2;
    if (cap < need) {
        cap = need;
    }
    uint8_t *p = mtlsp_realloc(s->bytes, cap);
    if (p == NULL) {
        s->failed = 1;
        return 0;
    }
    s->bytes = p;
    s->cap = cap;
    return 1;
}

void mtlsp_cbb_zero(mtlsp_cbb *cbb)
{
    memset(cbb, 0, sizeof(*cbb));
}

int mtlsp_cbb_init(mtlsp_cbb *cbb, size_t initial_capacity)
{
    mtlsp_cbb_zero(cbb);
    /* Never NULL, even for 0, so that finish always hands out a pointer to free. */
    cbb->own.bytes = mtlsp_malloc(initial_capacity);
    if (cbb->own.bytes == NULL) {
        return 0;
    }
    cbb->own.cap = initial_capacity;
    cbb->own.live = 1;
    return 1;
}

void mtlsp_cbb_cleanup(mtlsp_cbb *cbb)
{
    /* Children own nothing; a cleanup on one is a caller bug. */
    assert(!cbb->is_child);
    if (cbb->is_child) {
        return;
    }
    if (cbb->own.live) {
        mtlsp_free(cbb->own.bytes);
    }
    mtlsp_cbb_zero(cbb);
}

/* ---- writer: children ---------------------------------------------------------------- */

/* close_child writes the length octets of `child` (whose contents end the store) in the
 * placeholder byte before them, moving the contents along when the long form needs room. */
static int close_child(struct mtlsp_cbb_store *s, mtlsp_cbb *child)
{
    size_t len = s->len - child->start;
    if (len < 0x80) {
        s->bytes[child->start - 1] = (uint8_t)len;
        return 1;
    }
    /* The limit is BoringSSL's: four length octets, and never 0xffffffff. */
    if (len > 0xfffffffe) {
        return 0;
    }
    size_t extra = 1;
    while (extra < 4 && (len >> (8 * extra)) != 0) {
        extra++;
    }
    if (!grow(s, extra)) {
        return 0;
    }
    memmove(s->bytes + child->start + extra, s->bytes + child->start, len);
    s->len += extra;
    s->bytes[child->start - 1] = (uint8_t)(0x80 | extra);
    for (size_t i = 0; i < extra; i++) {
        s->bytes[child->start + i] = (uint8_t)(len >> (8 * (extra - 1 - i)));
    }
    return 1;
}

int mtlsp_cbb_flush(mtlsp_cbb *cbb)
{
    struct mtlsp_cbb_store *s = store_of(cbb);
    if (s == NULL || s->failed) {
        return 0;
    }
    mtlsp_cbb *child = cbb->child;
    if (child == NULL) {
        return 1;
    }
    if (!mtlsp_cbb_flush(child) || !close_child(s, child)) {
        s->failed = 1;
        return 0;
    }
    child->shared = NULL;
    cbb->child = NULL;
    return 1;
}

const uint8_t *mtlsp_cbb_data(const mtlsp_cbb *cbb)
{
    assert(cbb->child == NULL);
    const struct mtlsp_cbb_store *s = cbb->is_child ? cbb->shared : &cbb->own;
    return s->bytes + cbb->start;
}

size_t mtlsp_cbb_len(const mtlsp_cbb *cbb)
{
    assert(cbb->child == NULL);
    const struct mtlsp_cbb_store *s = cbb->is_child ? cbb->shared : &cbb->own;
    return s->len - cbb->start;
}

int mtlsp_cbb_finish(mtlsp_cbb *cbb, uint8_t **out_data, size_t *out_len)
{
    if (cbb->is_child || !mtlsp_cbb_flush(cbb) || out_data == NULL || out_len == NULL) {
        return 0;
    }
    *out_data = cbb->own.bytes;
    *out_len = cbb->own.len;
    mtlsp_cbb_zero(cbb);
    return 1;
}

/* ---- writer: bytes and elements ------------------------------------------------------ */

int mtlsp_cbb_add_bytes(mtlsp_cbb *cbb, const uint8_t *data, size_t len)
{
    if (!mtlsp_cbb_flush(cbb)) {
        return 0;
    }
    struct mtlsp_cbb_store *s = store_of(cbb);
    if (!grow(s, len)) {
        return 0;
    }
    if (len > 0) {
        memcpy(s->bytes + s->len, data, len);
    }
    s->len += len;
    return 1;
}

int mtlsp_cbb_add_u8(mtlsp_cbb *cbb, uint8_t value)
{
    return mtlsp_cbb_add_bytes(cbb, &value, 1);
}

/* add_base128 appends `v` 7 bits a byte, most significant first, in the fewest bytes. */
static int add_base128(mtlsp_cbb *cbb, uint64_t v)
{
    uint8_t out[10]; /* ceil(64 / 7) */
    size_t n = sizeof(out);
    uint8_t more = 0;
    do {
        out[--n] = (uint8_t)((v & 0x7f) | more);
        more = 0x80;
        v >>= 7;
    } while (v != 0);
    return mtlsp_cbb_add_bytes(cbb, out + n, sizeof(out) - n);
}

int mtlsp_cbb_add_asn1(mtlsp_cbb *cbb, mtlsp_cbb *out_contents, unsigned tag)
{
    uint8_t bits = (uint8_t)((tag >> MTLSP_ASN1_TAG_SHIFT) & 0xe0);
    unsigned number = tag & MTLSP_ASN1_TAG_NUMBER_MASK;
    int ok;
    if (number < 0x1f) {
        ok = mtlsp_cbb_add_u8(cbb, (uint8_t)(bits | number));
    } else {
        /* High tag number form: 0x1f in the first byte, then the number in base 128. */
        ok = mtlsp_cbb_add_u8(cbb, (uint8_t)(bits | 0x1f)) && add_base128(cbb, number);
    }
    /* One placeholder length byte; close_child widens it when the contents need more. */
    if (!ok || !mtlsp_cbb_add_u8(cbb, 0)) {
        return 0;
    }
    struct mtlsp_cbb_store *s = store_of(cbb);
    mtlsp_cbb_zero(out_contents);
    out_contents->is_child = 1;
    out_contents->shared = s;
    out_contents->start = s->len;
    cbb->child = out_contents;
    return 1;
}

int mtlsp_cbb_add_asn1_uint64(mtlsp_cbb *cbb, uint64_t value)
{
    uint8_t be[9]; /* a 0x00 in front of eight value bytes at most */
    size_t n = sizeof(be);
    do {
        be[--n] = (uint8_t)value;
        value >>= 8;
    } while (value != 0);
    if ((be[n] & 0x80) != 0) {
        be[--n] = 0; /* keep it non-negative */
    }
    mtlsp_cbb child;
    return mtlsp_cbb_add_asn1(cbb, &child, MTLSP_ASN1_INTEGER) &&
           mtlsp_cbb_add_bytes(&child, be + n, sizeof(be) - n) && mtlsp_cbb_flush(cbb);
}

int mtlsp_cbb_add_asn1_bool(mtlsp_cbb *cbb, int value)
{
    mtlsp_cbb child;
    return mtlsp_cbb_add_asn1(cbb, &child, MTLSP_ASN1_BOOLEAN) &&
           mtlsp_cbb_add_u8(&child, value != 0 ? 0xff : 0x00) && mtlsp_cbb_flush(cbb);
}

/* read_arc reads one decimal arc of a dotted OID and the dot after it. A dot ends the arc
 * only when more text follows it, so "1.2." fails on its last dot. */
static int read_arc(mtlsp_cbs *text, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    uint8_t c;
    while (mtlsp_cbs_get_u8(text, &c) && !(c == '.' && text->len > 0)) {
        unsigned d = (unsigned)c - '0';
        if (d > 9 || (digits > 0 && v == 0) || v > (UINT64_MAX - d) / 10) {
            return 0; /* not a digit, a leading zero, or past 64 bits */
        }
        v = v * 10 + d;
        digits++;
    }
    *out = v;
    return digits > 0;
}

int mtlsp_cbb_add_asn1_oid_from_text(mtlsp_cbb *cbb, const char *text, size_t len)
{
    if (!mtlsp_cbb_flush(cbb)) {
        return 0;
    }
    mtlsp_cbs in;
    mtlsp_cbs_init(&in, (const uint8_t *)text, len);
    uint64_t first, second;
    if (!read_arc(&in, &first) || !read_arc(&in, &second) || first > 2 ||
        (first < 2 && second > 39) || second > UINT64_MAX - 80 ||
        !add_base128(cbb, 40 * first + second)) {
        return 0;
    }
    while (in.len > 0) {
        uint64_t arc;
        if (!read_arc(&in, &arc) || !add_base128(cbb, arc)) {
            return 0;
        }
    }
    return 1;
}
