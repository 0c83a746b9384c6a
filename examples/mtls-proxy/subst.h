/*
 * subst.h - Caddy placeholders in header values, compiled once at load and rendered per
 * request: every {http.request.tls.*} (rendered by libmtls) plus the request ones people
 * forward ({http.request.host}, {http.request.remote.host}, {http.request.header.X}, ...).
 */
#ifndef MTLS_PROXY_SUBST_H
#define MTLS_PROXY_SUBST_H

#include <stddef.h>

#include <mtls/mtls.h>

#include "http.h"
#include "sbuf.h"

struct tmpl;

/* What a request offers to its templates. Any field may be NULL. */
struct req_ctx {
    mtls_peer *peer;
    const struct h1_request *req;
    const char *remote_ip;
    const char *remote_port;
    const char *upstream; /* "host:port" of the chosen upstream */
};

/*
 * tmpl_compile parses `text`. Unknown placeholders and control bytes are load-time errors
 * (Caddy would send an unknown placeholder literally; mtls-proxy refuses to guess).
 * Returns 0 and an owned template, or -1 with `err` filled.
 */
int tmpl_compile(struct tmpl **out, const char *text, char *err, size_t err_len);
void tmpl_free(struct tmpl *t);

/* tmpl_is_identity returns 1 when the template uses an {http.request.tls.client.*} value. */
int tmpl_is_identity(const struct tmpl *t);

/*
 * tmpl_render appends the rendered value to `out`. Control bytes (0x00-0x1f, TAB included,
 * and 0x7f) in rendered values are written as \xHH: a DN may hold CR, LF, NUL or TAB, and
 * Go passes them through and then fails the request with 502 (or forwards a raw TAB). No
 * value can split or bend a header: a deliberate difference from Caddy.
 */
void tmpl_render(const struct tmpl *t, const struct req_ctx *rc, struct sbuf *out);

/* escape_value appends `n` bytes of `s` with control bytes (TAB too) as \xHH. */
void escape_value(struct sbuf *out, const char *s, size_t n);

#endif /* MTLS_PROXY_SUBST_H */
