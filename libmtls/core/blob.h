/*
 * core/blob.h - immutable, reference-counted bytes (the library's replacement for
 * BoringSSL's CRYPTO_BUFFER, which OpenSSL 3 does not have): one certificate's DER, say,
 * shared by a chain, a peer and the handshake without copies.
 *
 * A blob's bytes never change after mtlsp_blob_new, so a blob may be read from any number
 * of threads at once; mtlsp_blob_up_ref and mtlsp_blob_free are atomic and may race with
 * each other and with readers holding their own reference.
 */
#ifndef MTLS_CORE_BLOB_H
#define MTLS_CORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct mtlsp_blob;

/* mtlsp_blob_new returns a blob holding a copy of the `len` bytes at `data` (`data` may be
 * NULL when `len` is 0), with one reference (owned: release with mtlsp_blob_free), or NULL
 * when out of memory. */
struct mtlsp_blob *mtlsp_blob_new(const uint8_t *data, size_t len);

/* mtlsp_blob_up_ref adds a reference to `blob`; each is released with mtlsp_blob_free. */
void mtlsp_blob_up_ref(struct mtlsp_blob *blob);

/* mtlsp_blob_free drops one reference and frees the blob with the last one. NULL is a
 * no-op. */
void mtlsp_blob_free(struct mtlsp_blob *blob);

/* mtlsp_blob_data returns the bytes (borrowed: valid while the caller holds a reference;
 * never NULL, even for an empty blob). */
const uint8_t *mtlsp_blob_data(const struct mtlsp_blob *blob);

/* mtlsp_blob_len returns the number of bytes. */
size_t mtlsp_blob_len(const struct mtlsp_blob *blob);

#endif
