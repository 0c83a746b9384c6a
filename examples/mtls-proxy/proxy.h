/*
 * proxy.h - the configuration mtls-proxy runs: Caddy JSON (config.c) turned into servers,
 * routes, upstreams and TLS contexts. One `struct runtime` is one loaded config; a reload
 * builds a new one and swaps it in (reload.c); connections keep a reference to the runtime
 * they were accepted under, so nothing they use changes under them.
 */
#ifndef MTLS_PROXY_PROXY_H
#define MTLS_PROXY_PROXY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include <mtls/mtls.h>

struct tmpl; /* subst.h */

/* Defaults where Caddy has none that suits an edge proxy (all overridable). */
#define PROXY_DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define PROXY_MAX_HEADERS 128
#define PROXY_DEFAULT_HANDSHAKE_MS 10000
#define PROXY_DEFAULT_READ_HEADER_MS 30000
#define PROXY_DEFAULT_IDLE_MS (5 * 60 * 1000) /* Caddy's idle_timeout default */
#define PROXY_DEFAULT_DIAL_MS 3000            /* Caddy's dial_timeout default */
#define PROXY_DEFAULT_MAX_CONNS 10000

/* A header operation of a reverse_proxy handler (headers.request.set/add). */
struct hdr_op {
    char *name;
    struct tmpl *value;
};

struct upstream {
    char *dial; /* "host:port" as configured */
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

struct handler {
    struct upstream *upstreams;
    size_t num_upstreams;
    struct hdr_op *set;
    size_t num_set;
    struct hdr_op *add;
    size_t num_add;
    char **del;
    size_t num_del;
    int dial_timeout_ms;
    int response_header_timeout_ms; /* 0: none (Caddy's default) */
    atomic_uint next;               /* round robin */
};

struct route {
    char **hosts; /* lowercased; NULL/0: any host */
    size_t num_hosts;
    struct handler *handler;
};

/* A certificate from apps.tls.certificates.load_files. */
struct cert {
    char *file;
    CRYPTO_BUFFER **chain;
    size_t chain_len;
    EVP_PKEY *key;
    char **names; /* SAN DNS names (lowercased) and IP addresses */
    size_t num_names;
    char **tags;
    size_t num_tags;
};

/* What the server applies from one connection policy (libmtls judges the client). */
struct conn_policy {
    size_t *certs; /* indexes into runtime.certs allowed by certificate_selection */
    size_t num_certs;
    uint16_t min_version, max_version;
    uint8_t *alpn; /* wire format */
    size_t alpn_len;
    char *curves;  /* BoringSSL list syntax, NULL: default */
    char *ciphers; /* TLS 1.2 suites, NULL: default */
    char *default_sni;
    char *fallback_sni;
    int drop;
};

struct listener {
    char *addr; /* as configured, e.g. "127.0.0.1:8443" or ":443" */
    int fd;
};

struct srv {
    char *name;
    size_t *listeners; /* indexes into runtime.listeners */
    size_t num_listeners;
    struct route *routes;
    size_t num_routes;
    SSL_CTX *ssl_ctx;
    mtls_ctx *mctx;
    struct conn_policy *pols;
    size_t num_pols;
    int client_auth;     /* some policy asks for client certificates */
    int strict_sni_host; /* Host must equal SNI (421) */
    size_t max_header_bytes;
    int read_header_timeout_ms;
    int idle_timeout_ms;
    char **strip; /* normalised names of every header some route sets: client copies go */
    size_t num_strip;
    struct runtime *rt;
};

struct options {
    int workers;
    int handshake_timeout_ms;
    int max_connections;
    int grace_ms;
};

struct runtime {
    atomic_int refs;
    unsigned generation;
    struct srv *srvs;
    size_t num_srvs;
    struct cert *certs;
    size_t num_certs;
    struct listener *listeners;
    size_t num_listeners;
};

/*
 * config_load builds a runtime from the Caddy JSON `root`. Listener sockets are taken from
 * `prev` when the address is unchanged (so a reload never closes a listening socket that
 * stays), else bound anew (when `bind_sockets`; `validate` passes 0). Returns NULL with
 * `err` filled (naming the JSON path) on any unsupported or broken input.
 */
struct runtime *config_load(json_t *root, const struct runtime *prev, int bind_sockets,
                            char *err, size_t err_len);

/* config_read reads FILE as JSON, or as a Caddyfile when its name is "Caddyfile" (or starts
 * with "Caddyfile.") or `adapter` is "caddyfile". Returns a new reference or NULL. */
json_t *config_read(const char *path, const char *adapter, char *err, size_t err_len);

void runtime_up_ref(struct runtime *rt);
void runtime_free(struct runtime *rt);
/* runtime_describe writes one readable line per listener (the startup log). */
void runtime_describe(const struct runtime *rt, int fd);

/* server_tls.c */
int tls_build_srv(struct srv *s, const struct runtime *rt, json_t *root, char *err,
                  size_t err_len);
int tls_load_cert(struct cert *c, const char *cert_file, const char *key_file, char *err,
                  size_t err_len);
void tls_cert_free(struct cert *c);

/*
 * conn_rebind (conn.c) moves the connection of `ssl` to the current runtime's SSL_CTX for its
 * listener when a reload happened since it was accepted; server_tls.c calls it at ClientHello.
 * Returns 1, or 0 when the listener no longer exists (the handshake then fails).
 */
int conn_rebind(SSL *ssl);

/* Small helpers shared by the proxy's files. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int64_t now_ms(void);
/* parse_duration parses a Caddy duration ("10s", "1m30s", "500ms", or integer nanoseconds)
 * into milliseconds. Returns 0 on success. */
int parse_duration(json_t *v, int *out_ms);
/* header_norm lowercases `name` and maps '_' and '.' to '-' into `out` (size `out_len`). */
void header_norm(char *out, size_t out_len, const char *name, size_t name_len);

#endif /* MTLS_PROXY_PROXY_H */
