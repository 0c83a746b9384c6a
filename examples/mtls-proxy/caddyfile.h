/*
 * caddyfile.h - the Caddyfile subset of mTLS tutorials, adapted to Caddy JSON the way
 * `caddy adapt` (2.6.2) does, so that `mtls-proxy run` loads one format only (config.c).
 */
#ifndef MTLS_PROXY_CADDYFILE_H
#define MTLS_PROXY_CADDYFILE_H

#include <stddef.h>

#include <jansson.h>

/*
 * caddyfile_adapt turns the Caddyfile text `text` (`len` bytes; `filename` names it in
 * errors and anchors relative `import` paths) into a Caddy JSON config, field for field what
 * `caddy adapt` 2.6.2 prints for the same file (DESIGN.md §1 lists the deliberate
 * differences). Returns a new reference (json_decref it) or NULL with `err` (size `err_len`)
 * holding "FILE:LINE: message" naming the directive or token at fault. Anything outside the
 * subset is an error, never ignored.
 */
json_t *caddyfile_adapt(const char *text, size_t len, const char *filename, char *err,
                        size_t err_len);

#endif /* MTLS_PROXY_CADDYFILE_H */
