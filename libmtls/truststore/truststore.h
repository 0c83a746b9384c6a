/*
 * truststore/truststore.h - certificate material: DER lists decoded from PEM, base64 and
 * files, and the hash table used for leaf pinning. Uses BoringSSL only for the full X.509
 * check of CA certificates and SHA-256 (base64 and the DER walk are in-house); no policy
 * logic.
 *
 * Every loader below appends to `out` and checks each certificate as `out->check` says
 * (full X.509 parse, or structural for leaf pins: see MTLS_CERT_CHECK_PIN); errors name
 * `what` (a JSON path) or the file, plus "PEM block N" and the reason. A list of leaf pins
 * keeps only the SHA-256 of each pin, never its DER (see MTLS_CERT_CHECK_PIN).
 */
#ifndef MTLS_TRUSTSTORE_H
#define MTLS_TRUSTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/result.h"

/* Size limits on operator-supplied trust material. */
#define MTLS_MAX_FILE_BYTES ((size_t)256 << 20) /* one PEM/cert file */
#define MTLS_MAX_CERT_BYTES ((size_t)64 << 10)  /* one certificate */

/* How a loader checks and keeps each certificate it appends to a der_list
 * (der_list.check, set before the first item and never changed; a list whose `check`
 * changed after items were added fails with MTLS_ERR_INVALID_ARGUMENT).
 * - MTLS_CERT_CHECK_FULL (the default of a zeroed list): BoringSSL parses it as X.509
 *   (d2i_X509) and the list keeps its DER (items[i]). For CA certificates
 *   (trusted_ca_certs*, `ca` providers), which are parsed again when the ctx is compiled.
 * - MTLS_CERT_CHECK_PIN: a structural DER walk only (mtlsp_cert_check_structure), for leaf
 *   pins (Caddy's leaf verifier, trusted_leaf_certs), and the list keeps only the SHA-256
 *   of each pin's DER (digests[i], 32 bytes): the DER is decoded into a scratch buffer
 *   reused for every pin, checked, hashed and dropped.
 *   A pin is only ever compared with a client certificate, which the handshake parses
 *   anyway: a pin that is not a certificate can never equal one, so it cannot admit
 *   anybody. What is lost is a precise load error for a corrupt pin that is still
 *   DER-shaped (Caddy's loaders run x509.ParseCertificate on every pin and refuse such a
 *   file); what is won is the cost of a full X.509 parse per pin.
 *   Caddy compares the raw bytes (x509.Certificate.Equal); libmtls compares their SHA-256
 *   digests. Equal bytes give equal digests, and different bytes with equal digests would
 *   be a SHA-256 second preimage of a pinned certificate (about 2^256 work; even a plain
 *   collision, 2^128, is out of reach, and X.509 signatures rely on the same property), so
 *   the two tests admit the same certificates for all practical purposes. Keeping 32 bytes
 *   instead of the DER (~650 bytes) is what lets a million pins load in about a second and
 *   hold tens of bytes each. */
enum cert_check { MTLS_CERT_CHECK_FULL = 0, MTLS_CERT_CHECK_PIN = 1 };

#define MTLS_PIN_DIGEST_LEN 32 /* SHA-256 */

struct der {
    const uint8_t *data; /* borrowed from the arena of the der_list holding it */
    size_t len;
};

/* struct der_chunk: one block of a der_list's arena (private to der_list.c). */
struct der_chunk;

/* A list of DER certificates, or of the SHA-256 of leaf pins (check == MTLS_CERT_CHECK_PIN).
 * - Full lists: the bytes of every item live in the list's own arena, a chain of blocks
 *   that never move once allocated (so items[i].data stays valid while more items are
 *   appended), filled in order and freed all at once by mtlsp_der_list_free; items[i] only
 *   points into it. One allocation per block (4 KiB growing to 8 MiB), not per
 *   certificate. `digests` is NULL.
 * - Pin lists: `items` is NULL and digests[i] is the SHA-256 of the i-th pin's DER
 *   (duplicates included, in load order); the arena is a single scratch block, reused by
 *   every reservation, that the decoders write each pin into before it is hashed.
 * `num` counts the items either way. A zeroed struct is an empty full list; set `check`
 * before loading pins into it. Not thread-safe while being filled; read-only afterwards. */
struct der_list {
    struct der *items; /* full lists: owned array; the bytes are in `arena` */
    uint8_t (*digests)[MTLS_PIN_DIGEST_LEN]; /* pin lists: owned array */
    size_t num;
    size_t cap; /* of items or digests */
    struct der_chunk *arena; /* owned: newest block first (pin lists: the scratch block) */
    enum cert_check check;
};

/* mtlsp_der_list_add appends a copy of `data` (the caller has checked it) to `l`'s arena,
 * or its SHA-256 to a pin list's digests. */
MTLS_RESULT mtlsp_der_list_add(struct der_list *l, const uint8_t *data, size_t len,
                               mtls_error *err);
/* mtlsp_der_list_reserve: room for one more item of at most `max` bytes, at `*out` (in the
 * arena; for a pin list, in its scratch block). The caller writes the item there and
 * appends it with mtlsp_der_list_commit, or does nothing (the room is reused by the next
 * reservation). Fails with NOMEM, or INVALID_ARGUMENT when `check` changed (see above). */
MTLS_RESULT mtlsp_der_list_reserve(struct der_list *l, size_t max, uint8_t **out,
                                   mtls_error *err);
/* mtlsp_der_list_commit appends the first `len` (<= max) bytes of the last reservation
 * (a pin list: hashes them into the next digest; the bytes are then dropped). */
void mtlsp_der_list_commit(struct der_list *l, size_t len);
/* Moves every item of `from` (and its arena) to the end of `to`; `from` is left empty.
 * Both must be full lists, or both pin lists (else MTLS_ERR_INVALID_ARGUMENT). */
MTLS_RESULT mtlsp_der_list_move(struct der_list *to, struct der_list *from, mtls_error *err);
/* mtlsp_der_list_done: loading is over. A pin list gives back its scratch block and the
 * unused tail of its digest array; a full list is left as it is. Never fails (a failed
 * shrink keeps the bigger array). More items may still be added afterwards. */
void mtlsp_der_list_done(struct der_list *l);
/* mtlsp_der_list_digest: the SHA-256 of item `i`'s DER (stored for a pin list, computed
 * for a full one). */
void mtlsp_der_list_digest(const struct der_list *l, size_t i,
                           uint8_t out[MTLS_PIN_DIGEST_LEN]);
/* Frees the items, digests and the arena; `l` is left an empty list (its `check` kept). */
void mtlsp_der_list_free(struct der_list *l);
/* mtlsp_advise_huge: a hint that [p, p + n) (its 2 MiB-aligned part) be backed by
 * transparent huge pages: fewer page faults when a big allocation is first written. */
void mtlsp_advise_huge(void *p, size_t n);

/* mtlsp_cert_check_der fails with MTLS_ERR_DER_INVALID (message naming `what`) unless the
 * bytes are one complete DER X.509 certificate that BoringSSL parses. */
MTLS_RESULT mtlsp_cert_check_der(const uint8_t *data, size_t len, const char *what,
                                 mtls_error *err);

/* mtlsp_cert_check_structure fails with MTLS_ERR_DER_INVALID, the message naming `what` and
 * the first thing wrong, unless the bytes are shaped like a DER X.509 certificate:
 * 1 to MTLS_MAX_CERT_BYTES bytes holding exactly one SEQUENCE of a SEQUENCE
 * (TBSCertificate), a SEQUENCE (signatureAlgorithm) and a BIT STRING (signatureValue), with
 * DER lengths and nothing after either. The contents are not parsed: see
 * MTLS_CERT_CHECK_PIN for why that is enough for leaf pins. */
MTLS_RESULT mtlsp_cert_check_structure(const uint8_t *data, size_t len, const char *what,
                                       mtls_error *err);

/* mtlsp_cert_check: mtlsp_cert_check_der or _structure as `check` says. Errors name
 * "`what`: PEM block `block`" when `block` > 0, else `what`. */
MTLS_RESULT mtlsp_cert_check(enum cert_check check, const uint8_t *data, size_t len,
                             const char *what, size_t block, mtls_error *err);

/* Base64 (base64.c, no TLS library): mtlsp_base64_decode decodes the `n` characters at `s`
 * into `out` (at most `cap` bytes; n / 4 * 3 is always enough) and returns MTLS_B64_OK with
 * the byte count in `*out_len`, or another MTLS_B64_* value with the offset of the
 * offending character (n for a length error) in `*out_len`. Rules: those of Go's
 * base64.StdEncoding: CR and LF skipped anywhere, with `pem` non-zero spaces and tabs too
 * (Go's encoding/pem strips them from block bodies); the rest must be a non-empty multiple
 * of 4 characters of the standard alphabet, '=' only as the last one or two; bits after
 * the last byte are ignored. mtlsp_base64_reason returns a static text for a code. */
enum {
    MTLS_B64_OK = 0,
    MTLS_B64_BAD_CHAR,
    MTLS_B64_BAD_LENGTH,
    MTLS_B64_BAD_PADDING,
    MTLS_B64_TOO_LONG /* more than `cap` bytes */
};
int mtlsp_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t n,
                        int pem);
const char *mtlsp_base64_reason(int code);

/* mtlsp_cert_from_base64 decodes standard base64 (Caddy's `trusted_ca_certs` and
 * `trusted_leaf_certs` entries; CR and LF skipped) straight into `out`'s arena, checks it
 * and appends it. `what` names the JSON path in errors
 * (MTLS_ERR_BASE64_INVALID, MTLS_ERR_DER_INVALID). A pin list keeps only the SHA-256. */
MTLS_RESULT mtlsp_cert_from_base64(struct der_list *out, const char *b64, size_t len,
                                   const char *what, mtls_error *err);

/* mtlsp_certs_from_pem appends every CERTIFICATE block of `text` to `out`. Every PEM block
 * must be a CERTIFICATE (else MTLS_ERR_PEM_WRONG_TYPE naming the block type and `what`), at
 * least one must be present (else MTLS_ERR_PEM_NO_CERTIFICATE), bodies must be valid
 * base64 (spaces, tabs, CR, LF skipped, as Go's encoding/pem does; MTLS_ERR_BASE64_INVALID)
 * of one certificate (MTLS_ERR_DER_INVALID), decoded straight into `out`'s arena (a pin list:
 * into its scratch block, then hashed). */
MTLS_RESULT mtlsp_certs_from_pem(struct der_list *out, const char *text, size_t len,
                                 const char *what, mtls_error *err);

/* mtlsp_pem_scan: the PEM parser of mtlsp_certs_from_pem, for text that arrives in pieces
 * (files are streamed through a small buffer: reading a 90 MB pin file whole costs more in
 * page faults than decoding it). Appends the complete blocks of `text` to `out`, numbering
 * them from `*index` + 1 (updated), and sets `*out_used` to how much of `text` was
 * consumed. With `final` 0 it stops, without an error, at a block that is not complete
 * (it may be cut by the end of the piece): the caller passes the text from `*out_used` on
 * again with more appended. With `final` 1 the text is all there is: a broken block is an
 * error and `*out_used` is `len`. Finding no block at all is not an error here. */
MTLS_RESULT mtlsp_pem_scan(struct der_list *out, size_t *index, size_t *out_used,
                           const char *text, size_t len, int final, const char *what,
                           mtls_error *err);

/* mtlsp_read_file reads a whole file (at most `max` bytes) into an owned buffer with a
 * trailing NUL. Errors name `path` and strerror(errno): MTLS_ERR_FILE_OPEN, _FILE_READ,
 * MTLS_ERR_TOO_LARGE. */
MTLS_RESULT mtlsp_read_file(const char *path, size_t max, char **out, size_t *out_len,
                            mtls_error *err);

/* mtlsp_certs_from_pem_file: mtlsp_certs_from_pem on the file's contents, errors naming
 * `path` (and those of mtlsp_read_file). The file is streamed through a 256 KiB buffer
 * (mtlsp_pem_scan), not read whole: memory is the certificates, not the PEM text. */
MTLS_RESULT mtlsp_certs_from_pem_file(struct der_list *out, const char *path, mtls_error *err);

/* mtlsp_certs_from_file: a file holding PEM (any number of CERTIFICATE blocks) or a single
 * DER certificate (Caddy's leaf `file` loader accepts both). A file that does not start
 * with byte 0x30 is PEM and streamed; one that does is read whole, and is PEM when it holds
 * a BEGIN marker. An empty file is MTLS_ERR_PEM_NO_CERTIFICATE. */
MTLS_RESULT mtlsp_certs_from_file(struct der_list *out, const char *path, mtls_error *err);

/* mtlsp_certs_from_folder: like Caddy's leaf `folder` loader, every file under `dir`
 * (recursively, in lexical order, symlinked directories not followed) whose name ends in
 * ".pem" (case-insensitively), through mtlsp_certs_from_pem_file; other files are ignored,
 * as Caddy ignores them (pinning more than Caddy would admit more clients). A folder with
 * no certificate is MTLS_ERR_EMPTY_TRUST; an unreadable entry is an error.
 * Every loader above may leave certificates appended to `out` when it fails: the caller
 * frees `out` either way. */
MTLS_RESULT mtlsp_certs_from_folder(struct der_list *out, const char *dir, mtls_error *err);

/* Leaf pin set: constant-time lookup of a leaf by the SHA-256 of its DER. Immutable once
 * built. mtlsp_pinset_new BORROWS `certs`: for a pin list (MTLS_CERT_CHECK_PIN) the pinset
 * stores only hash bits and indexes into its digests, so `certs` must stay alive and
 * unmodified until mtlsp_pinset_free; for a full list it hashes every item into a digest
 * array of its own. A hit is an equal 32-byte digest (why that is Caddy's byte comparison:
 * MTLS_CERT_CHECK_PIN). About 16 bytes of table per pin besides the list's 32-byte digest;
 * duplicates are counted once. It also keeps a digest of the whole list
 * (mtlsp_pinset_digest). */
struct pinset;
MTLS_RESULT mtlsp_pinset_new(struct pinset **out, const struct der_list *certs,
                             mtls_error *err);
void mtlsp_pinset_free(struct pinset *p);
/* Returns 1 if the bytes `der` are in the set (their SHA-256 is), else 0. Thread-safe. */
int mtlsp_pinset_contains(const struct pinset *p, const uint8_t *der, size_t len);
size_t mtlsp_pinset_size(const struct pinset *p);
/* mtlsp_pinset_digest: SHA-256 over the count and the SHA-256 of every item of `certs`, in
 * list order, duplicates included (computed by mtlsp_pinset_new from the digests it reads
 * anyway): it changes whenever any pin, their order or their number changes. For the
 * session-ID context. */
void mtlsp_pinset_digest(const struct pinset *p, uint8_t out[32]);
/* mtlsp_pinset_contains_hash: the same with the leaf's SHA-256 already computed (all a
 * lookup needs). Returns 0 for a NULL set or hash. */
int mtlsp_pinset_contains_hash(const struct pinset *p, const uint8_t sha256[32]);

#endif
