/*
 * mtls/openssl.h - hook libmtls into an OpenSSL 3 server's handshake with one call
 * (nginx, HAProxy, lighttpd, Apache httpd, or your own).
 *
 * Only for the OpenSSL build of libmtls (meson -Dtls_backend=openssl): the server and libmtls
 * must link the same libssl/libcrypto (Debian: libssl3). mtls_tls_library() tells at run time
 * which library libmtls's calls reach. The functions below have the same names and meaning as
 * in mtls/boringssl.h; what differs is how they sit in OpenSSL's handshake.
 */
#ifndef MTLS_OPENSSL_H
#define MTLS_OPENSSL_H

#include <openssl/ssl.h>

#include <mtls/mtls.h>

#ifdef OPENSSL_IS_BORINGSSL
#error "mtls/openssl.h is for the OpenSSL build of libmtls; BoringSSL servers use mtls/boringssl.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * mtls_ssl_ctx_attach makes `ssl_ctx` authenticate clients with the policy set `ctx`.
 * It installs, on `ssl_ctx`:
 * - a ClientHello callback (SSL_CTX_set_client_hello_cb) that picks the connection policy by
 *   SNI and the connection's addresses and sets, per connection, the verify mode, the CA
 *   names sent in CertificateRequest (none when they would not fit the message's 64 KiB
 *   list), and the session-ID context (a digest of the policy and of `ctx`'s generation, so
 *   sessions never resume across policies or reloads);
 * - a certificate-verification callback (SSL_CTX_set_cert_verify_callback) that replaces
 *   OpenSSL's X509_verify_cert with libmtls's judge: Caddy's semantics, the same verdicts as
 *   the BoringSSL build;
 * - no resumption for connections whose policy requests a client certificate: OpenSSL cannot
 *   judge a resumed session's chain again, so such connections get no tickets and a session-ID
 *   context of their own, and always run a full handshake. Policies without client
 *   authentication resume as usual.
 *   WARNING: a server that switches SSL_CTX in its SNI callback (nginx's virtual servers) runs
 *   the ClientHello callback on the first SSL_CTX, and OpenSSL decides on resumption before
 *   the switch: a session of a server without client authentication can then resume on one
 *   whose policy requires a certificate, and no verify callback runs. The handshake completes;
 *   mtls_ssl_get0_peer then judges the connection by the final SSL_CTX's policy as a client
 *   without certificate (refused under require and require_and_verify). Such servers must
 *   check mtls_peer_accepted(mtls_ssl_get0_peer(ssl)) before serving, or refuse the resumed
 *   handshake in their SNI callback after the switch (integrations/nginx does both).
 * A connection that matches no policy fails its handshake, as in Caddy.
 *
 * Calling it again on the same `ssl_ctx` atomically swaps in the new `ctx` (hot reload):
 * handshakes that already passed their ClientHello finish on the old one; every later
 * ClientHello uses the new one. Thread-safe against running handshakes.
 *
 * Ownership: takes its own reference to `ctx` (the caller keeps its own and may free it);
 * the reference is dropped on the next swap or when `ssl_ctx` is freed.
 * WARNING: it replaces any ClientHello and cert-verify callback of `ssl_ctx`; a server that
 * needs its own ClientHello callback calls mtls_ssl_on_client_hello from it. Call it before
 * serving.
 * Returns MTLS_OK, MTLS_ERR_INVALID_ARGUMENT, or MTLS_ERR_NOMEM.
 */
MTLS_API mtls_status mtls_ssl_ctx_attach(SSL_CTX *ssl_ctx, mtls_ctx *ctx, mtls_error *err);

/*
 * mtls_ssl_on_client_hello does libmtls's ClientHello work for servers that install their
 * own ClientHello callback: call it from that callback (same arguments; `arg` is ignored) and
 * return its result when it is not SSL_CLIENT_HELLO_SUCCESS.
 */
MTLS_API int mtls_ssl_on_client_hello(SSL *ssl, int *alert, void *arg);

/* As in mtls/boringssl.h. */
MTLS_API mtls_status mtls_ssl_set_addresses(SSL *ssl, const char *remote_ip, const char *local_ip,
                                            mtls_error *err);

/* As in mtls/boringssl.h. */
MTLS_API int mtls_ssl_get_policy_index(const SSL *ssl, size_t *out_index);

/*
 * mtls_ssl_get0_peer returns the verdict and identity of the client of `ssl`, as in
 * mtls/boringssl.h. For a resumed session of a policy without client authentication the
 * verdict is the policy's verdict on "no certificate".
 */
MTLS_API mtls_peer *mtls_ssl_get0_peer(SSL *ssl);

#ifdef __cplusplus
}
#endif

#endif /* MTLS_OPENSSL_H */
