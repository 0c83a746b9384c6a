/*
 * caddyfile_int.h - internals shared by the Caddyfile adapter's files (not installed).
 *
 * The adapter mirrors Caddy 2.6.2's caddyconfig/caddyfile (lexer, parser, dispenser) and
 * caddyconfig/httpcaddyfile (site blocks -> servers) for the subset mtls-proxy runs:
 *   caddyfile_lex.c    env substitution and the lexer
 *   caddyfile_parse.c  server blocks, snippets, imports
 *   caddyfile_disp.c   the token dispenser of the directive parsers
 *   caddyfile_tls.c    the tls directive, PEM bundles, connection policies
 *   caddyfile_proxy.c  the reverse_proxy directive
 *   caddyfile_site.c   addresses, listeners, servers and routes
 *   caddyfile_tlsapp.c the tls app (load_files, automate, automation policies)
 *   caddyfile.c        caddyfile_adapt: global options, directives, JSON output
 *   caddyfile_util.c   arena, vectors, errors, file access
 *   caddyfile_gostd.c  ports of Go library functions whose behaviour shows in the output
 *
 * Memory: everything lives in one arena per adapt call (struct cf_ctx), freed at the end;
 * jansson values are built only for output. The arena has a byte budget and the parser a
 * token budget, so hostile input (import bombs, env blow-ups) ends in an error, not OOM.
 */
#ifndef MTLS_PROXY_CADDYFILE_INT_H
#define MTLS_PROXY_CADDYFILE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CF_ARENA_BUDGET ((size_t)64 << 20)  /* bytes per adapt call */
#define CF_TOKEN_BUDGET ((size_t)100000)    /* tokens produced by lexing + imports */
#define CF_IMPORT_DEPTH 32                  /* nested imports (snippets or files) */
#define CF_FILE_MAX ((size_t)4 << 20)       /* bytes of one Caddyfile / PEM file */

struct cf_chunk;

/* Options of one adapt call; the fuzz target turns file access off. */
struct cf_options {
    int no_files; /* imports of files and *_file subdirectives fail instead of reading */
};

struct cf_ctx {
    struct cf_chunk *chunks;
    size_t arena_used;
    size_t tokens_made;
    char *err;
    size_t err_len;
    int failed;
    struct cf_options opts;
    json_t **owned; /* jansson values released by cf_ctx_free */
    size_t nowned, owned_cap;
};

/* One node of an import chain (a file or a snippet expansion), for cycle detection. */
struct cf_frame {
    const char *name;
    const struct cf_frame *parent;
    int depth;
};

struct cf_token {
    const char *text; /* NUL-terminated, arena */
    const char *file; /* for errors and line comparisons (compared by content) */
    int line;
    char quoted;            /* 0, '"' or '`' */
    const char *snippet;    /* snippet the token was defined in, or NULL */
    const struct cf_frame *frame;
};

struct cf_strv {
    const char **v;
    size_t n, cap;
};

struct cf_segment {
    struct cf_token *tok;
    size_t n;
};

struct cf_block {
    struct cf_strv keys;
    const struct cf_token **keytok; /* keytok[i] is where keys.v[i] came from */
    struct cf_segment *seg;
    size_t nseg, segcap;
};

struct cf_blocks {
    struct cf_block *v;
    size_t n, cap;
};

/* --- caddyfile_util.c (and caddyfile_gostd.c: Go library behaviour) --- */
void cf_ctx_init(struct cf_ctx *ctx, char *err, size_t err_len);
void cf_ctx_free(struct cf_ctx *ctx);
void *cf_alloc(struct cf_ctx *ctx, size_t n);
void *cf_grow(struct cf_ctx *ctx, void *old, size_t old_bytes, size_t new_bytes);
char *cf_strndup(struct cf_ctx *ctx, const char *s, size_t n);
char *cf_strdup(struct cf_ctx *ctx, const char *s);
char *cf_printf(struct cf_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cf_strv_push(struct cf_ctx *ctx, struct cf_strv *v, const char *s);
int cf_strv_contains(const struct cf_strv *v, const char *s);
int cf_strv_equal(const struct cf_strv *a, const struct cf_strv *b);
json_t *cf_strv_json(const struct cf_strv *v);

/* Errors: the first one wins; all return -1 so callers can `return cf_fail(...)`. */
int cf_fail(struct cf_ctx *ctx, const struct cf_token *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cf_fail_at(struct cf_ctx *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cf_unsupported(struct cf_ctx *ctx, const struct cf_token *at, const char *what);
int cf_oom(struct cf_ctx *ctx);
/* cf_own hands `v` to the context (freed with it); returns `v`, or NULL (v released) */
json_t *cf_own(struct cf_ctx *ctx, json_t *v);

/* Go standard library behaviour the adapter depends on. */
int cf_split_host_port(struct cf_ctx *ctx, const char *hostport, const char **host,
                       const char **port);
char *cf_join_host_port(struct cf_ctx *ctx, const char *host, const char *port);
int cf_parse_ip(const char *s, uint8_t out[16], int *is_v4);
char *cf_ip_string(struct cf_ctx *ctx, const uint8_t ip[16], int is_v4);
int cf_atoi(const char *s, long *out); /* strconv.Atoi, 64-bit */
char *cf_canonical_header_key(struct cf_ctx *ctx, const char *s);
int cf_parse_duration(struct cf_ctx *ctx, const char *s, int64_t *out); /* caddy.ParseDuration */
char *cf_abs_path(struct cf_ctx *ctx, const char *path); /* filepath.Abs */
char *cf_dir(struct cf_ctx *ctx, const char *path);      /* filepath.Dir */
int cf_read_file(struct cf_ctx *ctx, const char *path, char **out, size_t *out_len,
                 int *err_no);
typedef int (*cf_less_fn)(void *user, const void *a, const void *b);
void cf_sort_stable(void **v, size_t n, cf_less_fn less, void *user); /* sort.SliceStable */
int cf_sort_strings(struct cf_strv *v);                                /* sort.Strings */
int cf_has_prefix(const char *s, const char *p);
int cf_has_suffix(const char *s, const char *p);

/* --- caddyfile_lex.c --- */
int cf_lex(struct cf_ctx *ctx, const char *input, size_t len, const char *file,
           const struct cf_frame *frame, struct cf_token **out, size_t *out_n);

/* --- caddyfile_parse.c --- */
int cf_parse(struct cf_ctx *ctx, const char *text, size_t len, const char *filename,
             struct cf_blocks *out);
int cf_line_breaks(const struct cf_token *t);
/* Caddy's "same line": same file and cur's last line is next's line */
int cf_same_line(const struct cf_token *cur, const struct cf_token *next);

/* --- caddyfile_disp.c --- */
/* Dispenser over one segment (Caddy's caddyfile.Dispenser, 2.6.2 semantics). */
struct cf_disp {
    struct cf_ctx *ctx;
    const struct cf_token *tok;
    size_t n;
    long cursor;
    int nesting;
};
void cf_disp_init(struct cf_disp *d, struct cf_ctx *ctx, const struct cf_token *tok, size_t n);
int cf_disp_next(struct cf_disp *d);
int cf_disp_prev(struct cf_disp *d);
int cf_disp_next_arg(struct cf_disp *d);
int cf_disp_next_block(struct cf_disp *d, int initial_nesting);
const char *cf_disp_val(const struct cf_disp *d);
const struct cf_token *cf_disp_token(const struct cf_disp *d);
int cf_disp_remaining_args(struct cf_disp *d, struct cf_strv *out);
int cf_disp_count_remaining_args(struct cf_disp *d);
int cf_disp_next_segment(struct cf_disp *d, struct cf_disp *sub);
int cf_disp_arg_err(struct cf_disp *d);
int cf_disp_err(struct cf_disp *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- caddyfile_tls.c --- */
struct cf_certsel {
    struct cf_strv any_tag;
};

struct cf_clientauth {
    struct cf_strv trusted_ca_certs;
    struct cf_strv trusted_leaf_certs;
    const char *mode;
    json_t *ca; /* trust_pool provider (current Caddy's "ca"), or NULL */
};

/* A tls connection policy (caddytls.ConnectionPolicy); shared by pointer like in Caddy. */
struct cf_policy {
    struct cf_strv *sni; /* match.sni, NULL when no matcher */
    struct cf_certsel *certsel;
    struct cf_strv ciphers, curves, alpn;
    const char *protocol_min, *protocol_max;
    struct cf_clientauth *client_auth;
    const struct cf_token *where;      /* the tls directive */
    const struct cf_token *cert_where; /* `tls CERT KEY` line, when it had one */
};

struct cf_loadfile {
    const char *cert, *key, *tag;
};

/* tls / cert state shared by all tls directives of one adapt call (Caddy's h.State). */
struct cf_tlsstate {
    struct cf_strv cert_files; /* index i has tag "cert<i>" */
};

struct cf_pile; /* per site block config values (caddyfile_site.c) */
int cf_parse_tls(struct cf_ctx *ctx, const struct cf_segment *seg, struct cf_tlsstate *st,
                 struct cf_pile *pile);
int cf_policy_settings_empty(const struct cf_policy *p);
int cf_consolidate_policies(struct cf_ctx *ctx, struct cf_policy ***cps, size_t *n);
json_t *cf_policy_json(const struct cf_policy *p);

/* --- caddyfile_proxy.c --- */
int cf_parse_reverse_proxy(struct cf_ctx *ctx, const struct cf_segment *seg, json_t **out);

/* --- caddyfile_site.c --- */
struct cf_pile {
    struct cf_strv bind;
    int has_bind;
    struct cf_policy **policies;
    size_t npolicies, policies_cap;
    struct cf_loadfile *loaders;
    size_t nloaders, loaders_cap;
    json_t *handlers; /* array of reverse_proxy handler objects, in directive order */
};

struct cf_global {
    int admin_off;
    int debug;
    const char *auto_https; /* NULL, "off", "disable_redirects", "disable_certs" */
    long http_port, https_port;
    int has_http_port, has_https_port;
};

struct cf_site {
    const struct cf_block *blk;
    struct cf_pile pile;
};

/* A site address (httpcaddyfile.Address, normalised) and its token. */
struct addr {
    const char *original, *scheme, *host, *port, *path;
    const struct cf_token *tok;
};

struct sblock {
    struct cf_site *site;
    struct cf_strv rawkeys;
    struct addr *keys;
    size_t nkeys;
};

struct sbvec {
    struct sblock **v;
    size_t n, cap;
};

struct pairing {
    struct cf_strv addresses;
    struct sbvec blocks;
};

struct build {
    struct cf_ctx *ctx;
    const struct cf_global *g;
    const char *http_port, *https_port;
};

int cf_pile_add_policy(struct cf_ctx *ctx, struct cf_pile *pile, struct cf_policy *p);
int cf_pile_add_loader(struct cf_ctx *ctx, struct cf_pile *pile, struct cf_loadfile lf);
int cf_build_config(struct cf_ctx *ctx, struct cf_site *sites, size_t nsites,
                    const struct cf_global *g, json_t *root);
int cf_hosts_from_keys(struct cf_ctx *ctx, const struct sblock *sb, struct cf_strv *out);
int cf_listeners_use_port_other_than(const struct cf_strv *listen, const char *port);

/* --- caddyfile_tlsapp.c --- */
json_t *cf_tls_app(struct build *b, struct pairing *p, size_t np);

/* Replace Caddyfile placeholder shorthands ({host}, {header.X}, ...) like Caddy 2.6.2. */
const char *cf_replace_shorthands(struct cf_ctx *ctx, const char *s);

/* caddyfile.c: the adapter with options (the fuzz target passes no_files). */
json_t *cf_adapt(const char *text, size_t len, const char *filename, char *err, size_t err_len,
                 const struct cf_options *opts);

#endif /* MTLS_PROXY_CADDYFILE_INT_H */
