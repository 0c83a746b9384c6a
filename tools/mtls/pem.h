/*
 * tools/mtls/pem.h - the `mtls verify` / `mtls inspect` input path: bytes of a certificate
 * file in, a list of DER certificates out. Pure (no I/O, no global state), so that a fuzz
 * target can call it directly: tool_certs_parse is the function to fuzz.
 */
#ifndef MTLS_TOOL_PEM_H
#define MTLS_TOOL_PEM_H

#include <stddef.h>
#include <stdint.h>

/* Limits on one input file. */
#define TOOL_MAX_FILE_BYTES ((size_t)16 << 20)
#define TOOL_MAX_CERTS 100
#define TOOL_MAX_CERT_BYTES ((size_t)1 << 20)

struct tool_certs {
    uint8_t **ders; /* owned, malloc'd */
    size_t *lens;
    size_t *lines; /* 1-based line of each BEGIN (0 for DER input) */
    size_t num;
    size_t cap;
};

/*
 * tool_certs_parse appends to `out` every certificate in the `len` bytes at `data`:
 * PEM ("CERTIFICATE" or "X509 CERTIFICATE" blocks, in order; other blocks such as keys are
 * skipped and counted in *out_skipped, which may be NULL), or, when the input holds no PEM
 * at all, one or more concatenated DER certificates. Every certificate must be one
 * complete DER X.509 certificate that BoringSSL parses.
 * Returns 0, or -1 with a sentence in `why` (naming the line or certificate number) and
 * `out` unchanged in length. Never reads outside `data`; `data` need not be NUL-terminated.
 */
int tool_certs_parse(struct tool_certs *out, size_t *out_skipped, const uint8_t *data,
                     size_t len, char *why, size_t why_len);

/* tool_certs_free frees every certificate of `c` and empties it. */
void tool_certs_free(struct tool_certs *c);

#endif
