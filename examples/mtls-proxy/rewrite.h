/*
 * rewrite.h - what the proxy changes in HTTP heads, as pure functions (no I/O, no TLS
 * calls), so that they can be unit-tested and fuzzed: routing by Host, the Host/SNI check,
 * the request head for the upstream (hop-by-hop and spoofed identity headers removed,
 * X-Forwarded-*, the route's header operations with placeholders), the response head for
 * the client, and the proxy's own error answers.
 */
#ifndef MTLS_PROXY_REWRITE_H
#define MTLS_PROXY_REWRITE_H

#include <stddef.h>

#include "http.h"
#include "proxy.h"
#include "sbuf.h"
#include "subst.h"

/*
 * rewrite_normalize turns an absolute-form request-target ("GET https://h/p HTTP/1.1") into
 * origin-form, its authority replacing the Host (RFC 9112 §3.2.2; Go does the same), so that
 * routing, the SNI check and the upstream all see one host. Pointers stay in the request.
 * Returns 0, or -1 when that authority holds a byte a Host header may not (h1_host_valid):
 * the caller answers 400, as for such a Host header.
 */
int rewrite_normalize(struct h1_request *r);

/* rewrite_hostname gives the Host header without its port (Go's net.SplitHostPort). */
void rewrite_hostname(const struct h1_request *r, const char **out, size_t *out_len);

/*
 * rewrite_sni_mismatch returns 1 when `host` differs (ASCII case-insensitively) from the TLS
 * server name `sni` (NULL or "" when the client sent none: then any non-empty Host differs):
 * Caddy's strict_sni_host check, answered with 421.
 */
int rewrite_sni_mismatch(const char *sni, const char *host, size_t host_len);

/* rewrite_route returns the first route of `s` whose host matcher takes `host`, or NULL. */
const struct route *rewrite_route(const struct srv *s, const char *host, size_t host_len);

/*
 * rewrite_request_head appends the head to send upstream for request `r` to `out`: Host
 * first (r->host, after rewrite_normalize), then the client's other headers.
 * `strip` lists normalised names (lowercase, '_' and '.' as '-') of headers the proxy sets:
 * every client copy of them is dropped. `rc` supplies placeholder values.
 */
void rewrite_request_head(struct sbuf *out, const struct h1_request *r, const struct handler *h,
                          char *const *strip, size_t num_strip, const struct req_ctx *rc);

/*
 * rewrite_response_head appends the head to send to the client for upstream response `r`:
 * the status line as HTTP/1.1, hop-by-hop headers removed, "Connection: close" when `close`
 * (never on 1xx), "Connection: Upgrade" on 101.
 */
void rewrite_response_head(struct sbuf *out, const struct h1_response *r, int close);

/* rewrite_error appends a complete plain-text answer `status` ("Connection: close" when
 * `close`) and returns the body length. */
size_t rewrite_error(struct sbuf *out, int status, const char *why, int close);

#endif /* MTLS_PROXY_REWRITE_H */
