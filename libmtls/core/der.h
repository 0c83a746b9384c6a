/*
 * core/der.h - a bounded DER reader (`mtlsp_cbs`) and a small DER writer (`mtlsp_cbb`).
 *
 * This is the in-house replacement for the part of BoringSSL's <openssl/bytestring.h> that
 * libmtls uses, so that the library also builds on a TLS stack without CBS/CBB (OpenSSL 3).
 * The names map one to one, which lets the library switch over with a mechanical rename:
 *   CBS -> mtlsp_cbs, CBS_foo( -> mtlsp_cbs_foo(, CBB -> mtlsp_cbb, CBB_foo( -> mtlsp_cbb_foo(,
 *   CBS_ASN1_X -> MTLSP_ASN1_X.
 * Because of that rename, and unlike the rest of the library (STYLE.md §2-3):
 *   - the two types are typedef'd (`CBS cbs;` becomes `mtlsp_cbs cbs;`);
 *   - functions return 1 on success and 0 on failure, as BoringSSL's do, not `mtls_result`;
 *   - argument order is BoringSSL's (the object first, then outputs, then inputs).
 *
 * The semantics are BoringSSL's (Debian's android-libboringssl, which libmtls is built on),
 * down to the corner cases, because identity/ and verify/ mirror Go's x509 parser on top of
 * this reader and their verdicts must not move: the same DER strictness, the same bytes
 * consumed on failure, the same outputs written before a failure. tests/test_der.c and
 * fuzz/fuzz_der.c compare the two implementations input by input.
 *
 * Nothing here allocates except the writer (through core/mem.h). Neither type is
 * thread-safe; a reader only borrows the bytes it reads, which must outlive it.
 */
#ifndef MTLS_CORE_DER_H
#define MTLS_CORE_DER_H

#include <stddef.h>
#include <stdint.h>

/* ---- tags ---------------------------------------------------------------------------- */

/*
 * Tags are held as an `unsigned` in BoringSSL's layout, which is not the DER layout: the
 * class bits and the constructed bit of the identifier octet sit in the top three bits of a
 * 32-bit value and the tag number (0 to 2^29 - 1) in the bits below, so that high tag
 * numbers fit. Build tags by ORing a class, MTLSP_ASN1_CONSTRUCTED and a number; the
 * universal constants below already carry the constructed bit where DER requires it.
 * MTLSP_ASN1_TAG names that type for code that spells it (BoringSSL's CBS_ASN1_TAG).
 */
typedef unsigned MTLSP_ASN1_TAG;

#define MTLSP_ASN1_TAG_SHIFT 24
#define MTLSP_ASN1_CONSTRUCTED (0x20u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_UNIVERSAL (0u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_APPLICATION (0x40u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_CONTEXT_SPECIFIC (0x80u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_PRIVATE (0xc0u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_CLASS_MASK (0xc0u << MTLSP_ASN1_TAG_SHIFT)
#define MTLSP_ASN1_TAG_NUMBER_MASK ((1u << (5 + MTLSP_ASN1_TAG_SHIFT)) - 1)

#define MTLSP_ASN1_BOOLEAN 0x1u
#define MTLSP_ASN1_INTEGER 0x2u
#define MTLSP_ASN1_BITSTRING 0x3u
#define MTLSP_ASN1_OCTETSTRING 0x4u
#define MTLSP_ASN1_NULL 0x5u
#define MTLSP_ASN1_OBJECT 0x6u
#define MTLSP_ASN1_ENUMERATED 0xau
#define MTLSP_ASN1_UTF8STRING 0xcu
#define MTLSP_ASN1_SEQUENCE (0x10u | MTLSP_ASN1_CONSTRUCTED)
#define MTLSP_ASN1_SET (0x11u | MTLSP_ASN1_CONSTRUCTED)
#define MTLSP_ASN1_NUMERICSTRING 0x12u
#define MTLSP_ASN1_PRINTABLESTRING 0x13u
#define MTLSP_ASN1_T61STRING 0x14u
#define MTLSP_ASN1_VIDEOTEXSTRING 0x15u
#define MTLSP_ASN1_IA5STRING 0x16u
#define MTLSP_ASN1_UTCTIME 0x17u
#define MTLSP_ASN1_GENERALIZEDTIME 0x18u
#define MTLSP_ASN1_GRAPHICSTRING 0x19u
#define MTLSP_ASN1_VISIBLESTRING 0x1au
#define MTLSP_ASN1_GENERALSTRING 0x1bu
#define MTLSP_ASN1_UNIVERSALSTRING 0x1cu
#define MTLSP_ASN1_BMPSTRING 0x1eu

/* ---- reader -------------------------------------------------------------------------- */

/* mtlsp_cbs: a window of `len` borrowed bytes at `data`; reading advances the window. */
typedef struct mtlsp_cbs {
    const uint8_t *data;
    size_t len;
} mtlsp_cbs;

/* mtlsp_cbs_init points `cbs` at the `len` bytes at `data` (borrowed, not copied). */
void mtlsp_cbs_init(mtlsp_cbs *cbs, const uint8_t *data, size_t len);

/* mtlsp_cbs_data returns the unread bytes (borrowed, like the window). */
const uint8_t *mtlsp_cbs_data(const mtlsp_cbs *cbs);

/* mtlsp_cbs_len returns the number of unread bytes. */
size_t mtlsp_cbs_len(const mtlsp_cbs *cbs);

/* mtlsp_cbs_get_u8 reads one byte into `*out`. Returns 1, or 0 (nothing read) when empty. */
int mtlsp_cbs_get_u8(mtlsp_cbs *cbs, uint8_t *out);

/* mtlsp_cbs_mem_equal returns 1 if the unread bytes are exactly the `len` bytes at `data`,
 * else 0. When the lengths agree the comparison takes the same time whatever the bytes. */
int mtlsp_cbs_mem_equal(const mtlsp_cbs *cbs, const uint8_t *data, size_t len);

/*
 * mtlsp_cbs_get_any_asn1_element reads one DER element (identifier, length, contents).
 * On success it advances `cbs` over it, points `out` at the whole element, sets `*out_tag`
 * and `*out_header_len` (identifier plus length octets) and returns 1. Each output may be
 * NULL. Returns 0 and leaves `cbs` and `out` alone on a malformed or truncated element.
 * WARNING: as BoringSSL does, `*out_tag` is written as soon as the identifier parses and
 * `*out_header_len` as soon as the length does, even if the call then fails.
 *
 * DER only: a high tag number (identifier 0x1f form) must be minimal base-128 (no leading
 * 0x80), at least 31 and at most MTLSP_ASN1_TAG_NUMBER_MASK; [UNIVERSAL 0] is refused
 * (primitive or constructed); lengths must use the short form below 128 and the fewest
 * octets above it, at most four (so no indefinite length 0x80 and nothing of 4 GiB).
 */
int mtlsp_cbs_get_any_asn1_element(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned *out_tag,
                                   size_t *out_header_len);

/* mtlsp_cbs_get_any_asn1 is mtlsp_cbs_get_any_asn1_element with `out` at the contents
 * only (no header). `out` and `out_tag` may be NULL. */
int mtlsp_cbs_get_any_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned *out_tag);

/*
 * mtlsp_cbs_get_asn1 reads one DER element whose tag must be `tag_value` and points `out`
 * (may be NULL) at its contents. Returns 1 on success, 0 on failure.
 * WARNING: as BoringSSL does, an element that parses but has another tag is still consumed:
 * `cbs` is advanced over it and `out` points at the whole element (header included).
 */
int mtlsp_cbs_get_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned tag_value);

/* mtlsp_cbs_get_asn1_element is mtlsp_cbs_get_asn1 with `out` at the whole element. */
int mtlsp_cbs_get_asn1_element(mtlsp_cbs *cbs, mtlsp_cbs *out, unsigned tag_value);

/* mtlsp_cbs_peek_asn1_tag returns 1 if the next identifier parses and equals `tag_value`,
 * else 0. Reads nothing; the rest of the element is not checked. */
int mtlsp_cbs_peek_asn1_tag(const mtlsp_cbs *cbs, unsigned tag_value);

/*
 * mtlsp_cbs_get_optional_asn1 reads an element tagged `tag` if the next identifier is that
 * tag: then `out` (may be NULL) is its contents and `*out_present` (may be NULL) is 1.
 * Otherwise nothing is read, `out` is left alone and `*out_present` is 0. Returns 1 in both
 * cases, and 0 when the tagged element is there but malformed.
 */
int mtlsp_cbs_get_optional_asn1(mtlsp_cbs *cbs, mtlsp_cbs *out, int *out_present,
                                unsigned tag);

/*
 * mtlsp_cbs_get_optional_asn1_uint64 reads an optional element tagged `tag` (explicit
 * tagging) holding exactly one non-negative INTEGER of at most 64 bits, into `*out`; when
 * the tag is absent `*out` is `default_value`. Returns 1 in both cases, 0 on failure.
 * WARNING: on failure the tagged element may have been consumed and `*out` partly written.
 */
int mtlsp_cbs_get_optional_asn1_uint64(mtlsp_cbs *cbs, uint64_t *out, unsigned tag,
                                       uint64_t default_value);

/* mtlsp_cbs_get_asn1_bool reads a DER BOOLEAN (one byte, 0x00 or 0xff) into `*out` as 0 or
 * 1. Returns 1 on success, 0 on failure (the element may have been consumed, as in
 * mtlsp_cbs_get_asn1). */
int mtlsp_cbs_get_asn1_bool(mtlsp_cbs *cbs, int *out);

/* mtlsp_cbs_is_valid_asn1_integer returns 1 if `cbs` holds valid INTEGER contents (not
 * empty, minimal two's complement), else 0. `*out_is_negative` (may be NULL) gets the sign
 * bit whenever `cbs` is not empty, even if the encoding is then refused (as BoringSSL). */
int mtlsp_cbs_is_valid_asn1_integer(const mtlsp_cbs *cbs, int *out_is_negative);

/* mtlsp_cbs_is_valid_asn1_bitstring returns 1 if `cbs` holds valid BIT STRING contents (an
 * unused-bits count of 0-7, the unused bits present and zero), else 0. */
int mtlsp_cbs_is_valid_asn1_bitstring(const mtlsp_cbs *cbs);

/* ---- writer -------------------------------------------------------------------------- */

/* The bytes of a top-level writer; its children write into the same store. */
struct mtlsp_cbb_store {
    uint8_t *bytes; /* mtlsp_malloc'd */
    size_t len;
    size_t cap;
    int live;   /* initialised, not yet finished or cleaned up */
    int failed; /* a write failed: every later call fails */
};

/*
 * mtlsp_cbb: a growable buffer (top level) or a pending ASN.1 element inside one (child,
 * from mtlsp_cbb_add_asn1). A child's length octets are written when its parent (or any
 * ancestor) is written to, flushed or finished; the child is then invalid and every call on
 * it fails. Only one child of a writer is open at a time. After a call fails, only
 * mtlsp_cbb_cleanup on the top level is meaningful. A top-level mtlsp_cbb must not be moved
 * (copied) while children are open. Fields are private.
 */
typedef struct mtlsp_cbb {
    struct mtlsp_cbb_store own;     /* top level only */
    struct mtlsp_cbb_store *shared; /* child only: its top level's store, NULL once closed */
    struct mtlsp_cbb *child;        /* the open child, or NULL */
    size_t start;                   /* offset of this writer's contents in the store */
    int is_child;
} mtlsp_cbb;

/* mtlsp_cbb_zero puts `cbb` in a state where mtlsp_cbb_cleanup is a no-op. */
void mtlsp_cbb_zero(mtlsp_cbb *cbb);

/* mtlsp_cbb_init starts an empty top-level writer with room for `initial_capacity` bytes
 * (a hint: it grows). Returns 1, or 0 when out of memory (cleanup is then a no-op). */
int mtlsp_cbb_init(mtlsp_cbb *cbb, size_t initial_capacity);

/* mtlsp_cbb_cleanup frees the buffer of a top-level writer (children own nothing). */
void mtlsp_cbb_cleanup(mtlsp_cbb *cbb);

/*
 * mtlsp_cbb_finish flushes a top-level writer and hands its bytes to the caller:
 * `*out_data` (owned, free with mtlsp_free; never NULL on success, even when empty) and
 * `*out_len`. Both must be non-NULL. Returns 1; the writer is then cleaned up. Returns 0
 * for a child, a failed writer or NULL outputs; the writer still needs mtlsp_cbb_cleanup.
 */
int mtlsp_cbb_finish(mtlsp_cbb *cbb, uint8_t **out_data, size_t *out_len);

/* mtlsp_cbb_flush writes the length octets of every open descendant of `cbb` and closes
 * them. Returns 1, or 0 when `cbb` has failed, is closed, or memory runs out. */
int mtlsp_cbb_flush(mtlsp_cbb *cbb);

/* mtlsp_cbb_data and mtlsp_cbb_len: the contents written to `cbb` so far (for a child, its
 * contents without the header). `cbb` must have no open child (asserted). The pointer is
 * borrowed until the next write to the store. */
const uint8_t *mtlsp_cbb_data(const mtlsp_cbb *cbb);
size_t mtlsp_cbb_len(const mtlsp_cbb *cbb);

/*
 * mtlsp_cbb_add_asn1 writes the identifier for `tag` (the high tag number form from 31 up)
 * and a placeholder length, and makes `out_contents` the child that receives the contents.
 * The length octets are the fewest DER allows (contents up to 0xfffffffe bytes).
 * Returns 1, or 0 on failure.
 */
int mtlsp_cbb_add_asn1(mtlsp_cbb *cbb, mtlsp_cbb *out_contents, unsigned tag);

/* mtlsp_cbb_add_bytes appends `len` bytes from `data` (may be NULL when `len` is 0). */
int mtlsp_cbb_add_bytes(mtlsp_cbb *cbb, const uint8_t *data, size_t len);

/* mtlsp_cbb_add_u8 appends one byte. */
int mtlsp_cbb_add_u8(mtlsp_cbb *cbb, uint8_t value);

/* mtlsp_cbb_add_asn1_uint64 appends a complete INTEGER element holding `value` (minimal,
 * a 0x00 in front when the top bit is set) and flushes `cbb`. */
int mtlsp_cbb_add_asn1_uint64(mtlsp_cbb *cbb, uint64_t value);

/* mtlsp_cbb_add_asn1_bool appends a complete BOOLEAN element (0xff for non-zero `value`,
 * 0x00 for zero) and flushes `cbb`. */
int mtlsp_cbb_add_asn1_bool(mtlsp_cbb *cbb, int value);

/*
 * mtlsp_cbb_add_asn1_oid_from_text appends the contents (no identifier or length) of the
 * OBJECT IDENTIFIER written as dotted decimal in the `len` bytes at `text`, such as
 * "1.2.840.113549.1.1.11". Refused (0): fewer than two arcs, an empty arc, a leading zero,
 * any other byte, an arc above 2^64 - 1, a first arc above 2, a second arc above 39 under
 * 0 or 1, or a second arc above 2^64 - 81 under 2.
 * WARNING: as BoringSSL does, the text is encoded while it is parsed, so a refusal may leave
 * the arcs before the bad one written; it does not fail the writer.
 */
int mtlsp_cbb_add_asn1_oid_from_text(mtlsp_cbb *cbb, const char *text, size_t len);

#endif
