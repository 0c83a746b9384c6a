/*
 * conformance.h - shared by the conformance table's generator, its checker and bench_c:
 * base64 and PEM text of DER certificates, and the identity of a peer as the table records
 * it (every placeholder, then the `.N` forms of the four SAN lists).
 */
#ifndef MTLS_CONFORMANCE_H
#define MTLS_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include <mtls/mtls.h>

#define CONF_MAX_CHAIN 16

/* The SAN list placeholders whose `.N` forms the table records, in this order. */
extern const char *const conf_san_lists[4];

/* Base64 (no line breaks) of `len` bytes; owned, free with free(). NULL on failure. */
char *conf_b64(const uint8_t *p, size_t len);
/* Decodes base64 text into an owned buffer (free with free()); -1 on invalid input. */
int conf_unb64(const char *text, uint8_t **out, size_t *out_len);
/* PEM text (CERTIFICATE blocks, 64-column lines) of `n` DER certificates; owned, free().
 * "" for n == 0. */
char *conf_pem(const uint8_t *const *ders, const size_t *lens, size_t n);
/* Decodes every CERTIFICATE block of PEM `text` (base64 only: no DER parsing); returns the
 * count, or -1 on malformed text. Free the buffers with free(). */
int conf_unpem(const char *text, uint8_t **ders, size_t *lens, size_t max);

/* Called once per rendered identity entry (name, exact bytes). */
typedef int (*conf_identity_fn)(void *user, const char *name, const char *value, size_t len);
/*
 * conf_identity walks the identity of `peer` as the table records it: every
 * mtls_placeholder_name() that renders (a failing one is skipped), then for each SAN list
 * `NAME.0`, `NAME.1`, ... up to the first empty value (excluded). Stops and returns the
 * callback's value if it is non-zero; else returns 0. `counts` (may be NULL) receives the
 * number of `.N` forms of each list of conf_san_lists.
 */
int conf_identity(mtls_peer *peer, conf_identity_fn fn, void *user, size_t counts[4]);

/* The mode name used in case names ("absent" for NULL). */
const char *conf_mode_name(const char *mode);

#endif
