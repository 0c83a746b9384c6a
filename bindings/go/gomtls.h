/*
 * gomtls.h - C helpers of the Go binding: one cgo call verifies a chain and collects the
 * whole verdict and identity (every placeholder that renders, then the `.N` forms of the SAN
 * lists), so that Go copies it out and frees the peer at once.
 */
#ifndef GOMTLS_H
#define GOMTLS_H

#include <stddef.h>
#include <stdint.h>

#include <mtls/mtls.h>

/* Borrowed bytes (valid until gomtls_result_free). */
typedef struct gomtls_blob {
    const uint8_t *data;
    size_t len;
} gomtls_blob;

/* One identity entry: placeholder `name` (static), or list `list` (0 dns_names, 1 emails,
 * 2 ips, 3 uris; name NULL) at `index`. `value` is borrowed from the peer. */
typedef struct gomtls_entry {
    const char *name;
    int list;
    int index;
    const char *value;
    size_t len;
} gomtls_entry;

typedef struct gomtls_result {
    mtls_peer *peer;
    int accepted;
    int verified;
    int has_certificate;
    int reason;
    int mode;
    int error_depth;
    size_t policy_index;
    const char *message;
    size_t num_entries;
    gomtls_entry *entries;
    size_t num_presented;
    gomtls_blob *presented;
    size_t num_chain;
    gomtls_blob *chain;
} gomtls_result;

/* The SAN list placeholders whose `.N` forms are collected, in gomtls_entry.list order. */
extern const char *const gomtls_san_lists[4];

/*
 * gomtls_verify runs mtls_verify_der on the `n` certificates stored back to back in `buf`
 * (lengths in `lens`) and fills `r` (release with gomtls_result_free, also on failure).
 * Returns MTLS_OK or the error of mtls_verify_der / MTLS_ERR_NOMEM with `err` filled.
 */
int gomtls_verify(const mtls_ctx *ctx, size_t index, const uint8_t *buf, const size_t *lens,
                  size_t n, int64_t at, gomtls_result *r, mtls_error *err);

/* gomtls_result_free frees what gomtls_verify allocated, and the peer. */
void gomtls_result_free(gomtls_result *r);

#endif
