/* listen.h - listening sockets (kept across reloads) and address parsing. */
#ifndef MTLS_PROXY_LISTEN_H
#define MTLS_PROXY_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include "proxy.h"

/*
 * listen_resolve parses a Caddy network address ("host:port", ":port", "[v6]:port", with an
 * optional "tcp/", "tcp4/" or "tcp6/" prefix) into a socket address. An empty host gives the
 * wildcard address when `passive`, else is an error. Returns 0 or -1 with `err` filled.
 */
int listen_resolve(const char *addr, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len, char *err, size_t err_len);

/*
 * listen_open fills `l` for address `addr`: a duplicate of the socket `prev` listens on
 * for the same address (a reload keeps its sockets, so no connection is refused), else a
 * new non-blocking listening socket (SO_REUSEADDR; ":port" is dual-stack), or fd -1 when
 * `bind_sockets` is 0. Returns 0 or -1 with `err` naming the address and errno text.
 */
int listen_open(struct listener *l, const char *addr, const struct runtime *prev,
                int bind_sockets, char *err, size_t err_len);

void listen_release(struct listener *l);

#endif /* MTLS_PROXY_LISTEN_H */
