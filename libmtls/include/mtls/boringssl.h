/*
 * mtls/boringssl.h - hook libmtls into a BoringSSL server's handshake with one call.
 *
 * The server must link the same BoringSSL that libmtls was built against (Debian:
 * android-libboringssl, /usr/lib/x86_64-linux-gnu/android). In a process that also holds
 * OpenSSL's libssl/libcrypto, BoringSSL's unversioned symbols may bind to OpenSSL's: do not
 * mix them (DESIGN.md §4).
 */
#ifndef MTLS_BORINGSSL_H
#define MTLS_BORINGSSL_H

#include <openssl/ssl.h>

#include <mtls/mtls.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "mtls/boringssl.h needs BoringSSL's <openssl/ssl.h> (e.g. -isystem /usr/include/android)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * mtls_ssl_ctx_attach makes `ssl_ctx` authenticate clients with the policy set `ctx`.
 * It installs, on `ssl_ctx`: a select-certificate (ClientHello) callback that picks the
 * connection policy by SNI and the connection's addresses and sets, per connection, the
 * verify mode, the CA names sent in CertificateRequest (none when the policy's anchors' names
 * would not fit the message's 64 KiB list, about 900 CAs), the session-ID context (a digest of
 * the policy and of `ctx`'s generation, so sessions never resume across policies or
 * reloads) and a custom verify callback; and a DoS-protection callback (BoringSSL's hook
 * right after the resumption decision) that judges a resumed session's stored chain again
 * by the current policy at the current time and aborts the handshake if it is now refused
 * (BoringSSL's own reverify-on-resume works for clients only). A connection that matches no
 * policy fails its handshake, as in Caddy.
 *
 * Calling it again on the same `ssl_ctx` atomically swaps in the new `ctx` (hot reload):
 * handshakes that already passed their ClientHello finish on the old one; every later
 * ClientHello, resumed or not, uses the new one. Thread-safe against running handshakes.
 *
 * Ownership: takes its own reference to `ctx` (the caller keeps its own and may free it);
 * the reference is dropped on the next swap or when `ssl_ctx` is freed.
 * It also sets the client signature algorithms `ssl_ctx` verifies to the list Go's server
 * accepts (adding Ed25519 and ECDSA P-521 to BoringSSL's defaults), and turns session tickets
 * off for a connection whose client chain exceeds 24 KiB (a TLS 1.3 ticket holds the chain,
 * and BoringSSL fails the connection's first write when tickets get that large).
 * WARNING: it replaces any select-certificate and DoS-protection callback of `ssl_ctx`; a server that needs its
 * own calls mtls_ssl_on_client_hello from it. Call it before serving.
 * Returns MTLS_OK, MTLS_ERR_INVALID_ARGUMENT, or MTLS_ERR_NOMEM.
 */
MTLS_API mtls_status mtls_ssl_ctx_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err);

/*
 * mtls_ssl_on_client_hello does libmtls's ClientHello work for servers that install their
 * own select-certificate callback: call it from that callback and return its result when it
 * is not ssl_select_cert_success.
 */
MTLS_API enum ssl_select_cert_result_t mtls_ssl_on_client_hello(const SSL_CLIENT_HELLO *hello);

/*
 * mtls_ssl_set_addresses tells libmtls the connection's remote and local IP addresses
 * (textual), for `remote_ip` / `local_ip` matchers, when `ssl` does not sit on a socket
 * file descriptor (otherwise libmtls reads them with getpeername/getsockname). Call before
 * the handshake. Either may be NULL. Returns MTLS_OK, MTLS_ERR_INVALID_ARGUMENT for an
 * unparsable address, or MTLS_ERR_NOMEM.
 */
MTLS_API mtls_status mtls_ssl_set_addresses(SSL *ssl, const char *remote_ip, const char *local_ip,
                                            mtls_error *err);

/*
 * mtls_ssl_get_policy_index writes the index of the connection policy that
 * mtls_ssl_on_client_hello picked for `ssl` to `*out_index` and returns 1, or returns 0 when no
 * policy was picked (before the ClientHello, no match, or `ssl_ctx` has no libmtls context).
 * Servers that apply the policy's other fields (certificate_selection, protocol_min, ...: see
 * mtls_ctx_policy_field) call it from their select-certificate callback, right after
 * mtls_ssl_on_client_hello. Not thread-safe: use from the thread that drives `ssl`.
 */
MTLS_API int mtls_ssl_get_policy_index(const SSL *ssl, size_t *out_index);

/*
 * mtls_ssl_get0_peer returns the verdict and identity of the client of `ssl`; call it once
 * the handshake has completed or failed. NULL before the ClientHello, when `ssl_ctx` has
 * no libmtls context, or when judging the client failed for lack of memory (the handshake
 * was then refused with an internal_error alert). If the client sent no certificate, the verdict is the policy's
 * verdict on "no certificate" (NO_CERTIFICATE when the policy requires one). The verdict
 * covers client authentication only: the handshake can still fail later (bad
 * CertificateVerify signature, network), so check SSL_do_handshake's result too. Connection placeholders
 * (http.request.tls.version, .cipher_suite, .resumed, .proto, .server_name) are filled from
 * `ssl`. Borrowed: valid until `ssl` is freed or renegotiates (libmtls servers never do).
 * Not thread-safe: use from the thread that drives `ssl`.
 */
MTLS_API mtls_peer *mtls_ssl_get0_peer(SSL *ssl);

#ifdef __cplusplus
}
#endif

#endif /* MTLS_BORINGSSL_H */
