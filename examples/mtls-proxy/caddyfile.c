/*
 * caddyfile.c - caddyfile_adapt: the Caddyfile subset of mTLS tutorials to Caddy JSON, the
 * way Caddy 2.6.2's `caddy adapt` does it (httpcaddyfile.ServerType.Setup): global options,
 * placeholder shorthands, directives per site block, then servers and apps
 * (caddyfile_site.c). Anything outside the subset is an error naming file, line and
 * directive; nothing is ignored silently.
 */
#include "caddyfile.h"
#include "caddyfile_int.h"

#include <stdio.h>
#include <string.h>

/* Caddy 2.6.2 names, so that an error says "not supported" rather than "unrecognized" */
static const char *const caddy_directives[] = {
    "abort", "acme_server", "basicauth", "encode", "error", "file_server", "forward_auth",
    "handle", "handle_errors", "handle_path", "header", "log", "map", "method", "metrics",
    "php_fastcgi", "push", "redir", "request_body", "request_header", "respond", "rewrite",
    "root", "route", "skip_log", "templates", "tracing", "try_files", "uri", "vars",
    "copy_response", "copy_response_headers", NULL,
};

static const char *const caddy_global_options[] = {
    "default_bind", "grace_period", "shutdown_delay", "default_sni", "order", "storage",
    "storage_clean_interval", "renew_interval", "ocsp_interval", "acme_ca", "acme_ca_root",
    "acme_dns", "acme_eab", "cert_issuer", "skip_install_trust", "email", "on_demand_tls",
    "local_certs", "key_type", "servers", "ocsp_stapling", "log", "preferred_chains",
    "persist_config", "pki", "events", "filesystem", "metrics", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++) {
        if (strcmp(*list, s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- placeholder shorthands (httpcaddyfile Setup, 2.6.2) ---- */

static const char *const shorthands[][2] = {
    {"{dir}", "{http.request.uri.path.dir}"},
    {"{file}", "{http.request.uri.path.file}"},
    {"{host}", "{http.request.host}"},
    {"{hostport}", "{http.request.hostport}"},
    {"{port}", "{http.request.port}"},
    {"{method}", "{http.request.method}"},
    {"{path}", "{http.request.uri.path}"},
    {"{query}", "{http.request.uri.query}"},
    {"{remote}", "{http.request.remote}"},
    {"{remote_host}", "{http.request.remote.host}"},
    {"{remote_port}", "{http.request.remote.port}"},
    {"{scheme}", "{http.request.scheme}"},
    {"{uri}", "{http.request.uri}"},
    {"{tls_cipher}", "{http.request.tls.cipher_suite}"},
    {"{tls_version}", "{http.request.tls.version}"},
    {"{tls_client_fingerprint}", "{http.request.tls.client.fingerprint}"},
    {"{tls_client_issuer}", "{http.request.tls.client.issuer}"},
    {"{tls_client_serial}", "{http.request.tls.client.serial}"},
    {"{tls_client_subject}", "{http.request.tls.client.subject}"},
    {"{tls_client_certificate_pem}", "{http.request.tls.client.certificate_pem}"},
    {"{tls_client_certificate_der_base64}", "{http.request.tls.client.certificate_der_base64}"},
    {"{upstream_hostport}", "{http.reverse_proxy.upstream.hostport}"},
};

/* regexp shorthands `{name.X}`: X is [\w-]* (with '.' too when dots is set) */
static const struct {
    const char *name, *repl;
    int dots, two;
} regexp_shorthands[] = {
    {"query", "{http.request.uri.query.", 0, 0},
    {"labels", "{http.request.host.labels.", 0, 0},
    {"header", "{http.request.header.", 0, 0},
    {"path", "{http.request.uri.path.", 0, 0},
    {"re", "{http.regexp.", 0, 1},
    {"cookie", "{http.request.cookie.", 0, 0},
    {"vars", "{http.vars.", 0, 0},
    {"rp", "{http.reverse_proxy.", 1, 0},
    {"err", "{http.error.", 1, 0},
    {"file_match", "{http.matchers.file.", 0, 0},
    {"file", "{http.request.uri.path.file.", 0, 0},
};

struct sb_out {
    char *p;
    size_t n, cap;
    struct cf_ctx *ctx;
};

static int out_put(struct sb_out *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        size_t nc = (o->n + n + 1) * 2;
        char *np = cf_grow(o->ctx, o->p, o->n, nc);
        if (np == NULL) {
            return -1;
        }
        o->p = np;
        o->cap = nc;
    }
    if (n > 0) {
        memcpy(o->p + o->n, s, n);
    }
    o->n += n;
    o->p[o->n] = '\0';
    return 0;
}

static int word_char(char c, int dots)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || (dots && c == '.');
}

/* length of a match of `{name\.([\w-]*)(\.([\w-]*))?}` at s, or 0 */
static size_t regexp_match(const char *s, size_t k, size_t *cap_start, size_t *cap_len)
{
    size_t nl = strlen(regexp_shorthands[k].name);
    if (s[0] != '{' || strncmp(s + 1, regexp_shorthands[k].name, nl) != 0 || s[1 + nl] != '.') {
        return 0;
    }
    size_t i = 2 + nl;
    *cap_start = i;
    while (word_char(s[i], regexp_shorthands[k].dots)) {
        i++;
    }
    if (regexp_shorthands[k].two) {
        if (s[i] != '.') {
            return 0;
        }
        i++;
        while (word_char(s[i], 0)) {
            i++;
        }
    }
    if (s[i] != '}') {
        return 0;
    }
    *cap_len = i - *cap_start;
    return i + 1;
}

const char *cf_replace_shorthands(struct cf_ctx *ctx, const char *s)
{
    if (strchr(s, '{') == NULL) {
        return s;
    }
    struct sb_out o = {NULL, 0, 0, ctx};
    if (out_put(&o, "", 0) != 0) {
        return NULL;
    }
    for (size_t i = 0; s[i] != '\0';) {
        size_t adv = 0;
        if (s[i] == '{') {
            for (size_t k = 0; k < sizeof(shorthands) / sizeof(shorthands[0]); k++) {
                size_t l = strlen(shorthands[k][0]);
                if (strncmp(s + i, shorthands[k][0], l) == 0) {
                    if (out_put(&o, shorthands[k][1], strlen(shorthands[k][1])) != 0) {
                        return NULL;
                    }
                    adv = l;
                    break;
                }
            }
        }
        if (adv == 0) {
            if (out_put(&o, s + i, 1) != 0) {
                return NULL;
            }
            adv = 1;
        }
        i += adv;
    }
    /* the regexps run one after the other over the whole string, like Caddy's loop */
    for (size_t k = 0; k < sizeof(regexp_shorthands) / sizeof(regexp_shorthands[0]); k++) {
        const char *in = o.p;
        struct sb_out r = {NULL, 0, 0, ctx};
        if (out_put(&r, "", 0) != 0) {
            return NULL;
        }
        for (size_t i = 0; in[i] != '\0';) {
            size_t cs, cl, m = regexp_match(in + i, k, &cs, &cl);
            if (m == 0) {
                if (out_put(&r, in + i, 1) != 0) {
                    return NULL;
                }
                i++;
                continue;
            }
            if (out_put(&r, regexp_shorthands[k].repl, strlen(regexp_shorthands[k].repl)) != 0 ||
                out_put(&r, in + i + cs, cl) != 0 || out_put(&r, "}", 1) != 0) {
                return NULL;
            }
            i += m;
        }
        o = r;
    }
    return o.p;
}

/* ---- global options ---- */

static int opt_port(struct cf_disp *d, long *out, int *has)
{
    cf_disp_next(d);
    if (!cf_disp_next(d)) {
        return cf_disp_arg_err(d);
    }
    const char *v = cf_disp_val(d);
    if (cf_atoi(v, out) != 0) {
        return cf_disp_err(d, "converting port '%s' to integer value: strconv.Atoi: parsing "
                              "\"%s\": invalid syntax",
                           v, v);
    }
    if (*out < 0 || *out > 65535) {
        return cf_disp_err(d, "port %s is out of range (0-65535)", v);
    }
    if (cf_disp_next(d)) {
        return cf_disp_arg_err(d);
    }
    *has = 1;
    return 0;
}

static int global_option(struct cf_ctx *ctx, const struct cf_segment *seg, struct cf_global *g)
{
    const char *opt = seg->tok[0].text;
    struct cf_disp d;
    cf_disp_init(&d, ctx, seg->tok, seg->n);
    if (strcmp(opt, "admin") == 0) {
        cf_disp_next(&d);
        if (cf_disp_next_arg(&d) && strcmp(cf_disp_val(&d), "off") == 0) {
            if (cf_disp_next(&d)) {
                return cf_disp_err(&d, "No more option is allowed after turning off admin config");
            }
            g->admin_off = 1;
            return 0;
        }
        return cf_unsupported(ctx, &seg->tok[0], "the admin API (only `admin off`)");
    }
    if (strcmp(opt, "auto_https") == 0) {
        cf_disp_next(&d);
        if (!cf_disp_next(&d)) {
            return cf_disp_arg_err(&d);
        }
        const char *v = cf_disp_val(&d);
        if (cf_disp_next(&d)) {
            return cf_disp_arg_err(&d);
        }
        if (strcmp(v, "ignore_loaded_certs") == 0) {
            return cf_unsupported(ctx, cf_disp_token(&d), "auto_https ignore_loaded_certs");
        }
        if (strcmp(v, "off") != 0 && strcmp(v, "disable_redirects") != 0 &&
            strcmp(v, "disable_certs") != 0) {
            return cf_disp_err(&d, "auto_https must be one of 'off', 'disable_redirects', "
                                   "'disable_certs', or 'ignore_loaded_certs'");
        }
        g->auto_https = v;
        return 0;
    }
    if (strcmp(opt, "http_port") == 0) {
        return opt_port(&d, &g->http_port, &g->has_http_port);
    }
    if (strcmp(opt, "https_port") == 0) {
        return opt_port(&d, &g->https_port, &g->has_https_port);
    }
    if (strcmp(opt, "debug") == 0) {
        g->debug = 1;
        return 0;
    }
    if (in_list(caddy_global_options, opt)) {
        const char *what = cf_printf(ctx, "global option %s", opt);
        return cf_unsupported(ctx, &seg->tok[0], what ? what : opt);
    }
    return cf_fail(ctx, &seg->tok[0], "unrecognized global option: %s", opt);
}

/* ---- site blocks ---- */

static int parse_bind(struct cf_ctx *ctx, const struct cf_segment *seg, struct cf_pile *pile)
{
    struct cf_disp d;
    cf_disp_init(&d, ctx, seg->tok, seg->n);
    while (cf_disp_next(&d)) {
        if (strcmp(cf_disp_val(&d), "{") == 0) {
            return cf_disp_err(&d, "bind takes no block");
        }
        while (cf_disp_next_arg(&d)) {
            const char *host = cf_disp_val(&d);
            size_t l = strlen(host);
            char *h = cf_strndup(ctx, host, l);
            uint8_t ip[16];
            int v4;
            if (h == NULL) {
                return -1;
            }
            if (strchr(host, '/') != NULL || strchr(host, '{') != NULL) {
                const char *what = cf_printf(ctx, "bind %s (network types and placeholders)", host);
                return cf_unsupported(ctx, cf_disp_token(&d), what ? what : "bind");
            }
            if (l >= 2 && host[0] == '[' && host[l - 1] == ']') {
                h[l - 1] = '\0';
                h++;
            }
            if (strchr(h, ':') != NULL && cf_parse_ip(h, ip, &v4) != 0) {
                return cf_disp_err(&d, "bind %s: give a host or IP address without a port", host);
            }
            if (cf_strv_push(ctx, &pile->bind, host) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int site_directive(struct cf_ctx *ctx, const struct cf_segment *seg, struct cf_site *site,
                          struct cf_tlsstate *st)
{
    const char *dir = seg->tok[0].text;
    if (dir[0] == '@') {
        return cf_unsupported(ctx, &seg->tok[0], "request matcher definitions (@name)");
    }
    if (strcmp(dir, "bind") == 0) {
        return parse_bind(ctx, seg, &site->pile);
    }
    if (strcmp(dir, "tls") == 0) {
        return cf_parse_tls(ctx, seg, st, &site->pile);
    }
    if (strcmp(dir, "reverse_proxy") == 0) {
        json_t *h = NULL;
        if (cf_parse_reverse_proxy(ctx, seg, &h) != 0) {
            return -1;
        }
        if (json_array_append_new(site->pile.handlers, h) != 0) {
            return cf_oom(ctx);
        }
        return 0;
    }
    if (in_list(caddy_directives, dir)) {
        return cf_unsupported(ctx, &seg->tok[0], dir);
    }
    return cf_fail(ctx, &seg->tok[0], "unrecognized directive: %s", dir);
}

static int check_keys(struct cf_ctx *ctx, const struct cf_blocks *blocks)
{
    for (size_t i = 0; i < blocks->n; i++) {
        const struct cf_block *b = &blocks->v[i];
        if (b->keys.n > 0 && b->keys.v[0][0] == '@') {
            return cf_fail(ctx, b->keytok[0], "cannot define a matcher outside of a site block: "
                                              "'%s'",
                           b->keys.v[0]);
        }
    }
    return 0;
}

static int eval_sites(struct cf_ctx *ctx, const struct cf_blocks *blocks, size_t first,
                      struct cf_site *sites)
{
    struct cf_tlsstate st = {{0}};
    for (size_t i = first; i < blocks->n; i++) {
        const struct cf_block *b = &blocks->v[i];
        struct cf_site *site = &sites[i - first];
        site->blk = b;
        site->pile.handlers = json_array();
        if (site->pile.handlers == NULL) {
            return cf_oom(ctx);
        }
        for (size_t s = 0; s < b->nseg; s++) {
            for (size_t t = 0; t < b->seg[s].n; t++) {
                const char *r = cf_replace_shorthands(ctx, b->seg[s].tok[t].text);
                if (r == NULL) {
                    return -1;
                }
                b->seg[s].tok[t].text = r;
            }
        }
        if (b->keys.n == 0) {
            const struct cf_token *at = b->nseg > 0 ? &b->seg[0].tok[0] : NULL;
            return cf_fail(ctx, at, "server block without any key is global configuration, and "
                                    "if used, it must be first");
        }
        for (size_t s = 0; s < b->nseg; s++) {
            if (site_directive(ctx, &b->seg[s], site, &st) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int add_globals(struct cf_ctx *ctx, const struct cf_global *g, json_t *root)
{
    if (g->admin_off &&
        json_object_set_new(root, "admin", json_pack("{s:b}", "disabled", 1)) != 0) {
        return cf_oom(ctx);
    }
    if (g->debug && json_object_set_new(root, "logging",
                                        json_pack("{s:{s:{s:s}}}", "logs", "default", "level",
                                                  "DEBUG")) != 0) {
        return cf_oom(ctx);
    }
    return 0;
}

static void free_sites(struct cf_site *sites, size_t n)
{
    for (size_t i = 0; sites != NULL && i < n; i++) {
        json_decref(sites[i].pile.handlers);
    }
}

json_t *cf_adapt(const char *text, size_t len, const char *filename, char *err, size_t err_len,
                 const struct cf_options *opts)
{
    struct cf_ctx ctx;
    struct cf_blocks blocks;
    struct cf_global g;
    struct cf_site *sites = NULL;
    size_t nsites = 0, first = 0;
    json_t *root = NULL;
    int ok = 0;
    cf_ctx_init(&ctx, err, err_len);
    memset(&g, 0, sizeof(g));
    if (opts != NULL) {
        ctx.opts = *opts;
    }
    if (filename == NULL || filename[0] == '\0') {
        filename = "Caddyfile";
    }
    if (text == NULL && len > 0) {
        cf_fail(&ctx, NULL, "no Caddyfile text");
        goto out;
    }
    if (cf_parse(&ctx, text ? text : "", len, filename, &blocks) != 0 ||
        check_keys(&ctx, &blocks) != 0) {
        goto out;
    }
    if (blocks.n > 0 && blocks.v[0].keys.n == 0) {
        for (size_t s = 0; s < blocks.v[0].nseg; s++) {
            if (global_option(&ctx, &blocks.v[0].seg[s], &g) != 0) {
                goto out;
            }
        }
        first = 1;
    }
    nsites = blocks.n - first;
    sites = cf_alloc(&ctx, (nsites ? nsites : 1) * sizeof(*sites));
    root = json_object();
    if (sites == NULL || root == NULL) {
        cf_oom(&ctx);
        goto out;
    }
    if (eval_sites(&ctx, &blocks, first, sites) != 0 ||
        cf_build_config(&ctx, sites, nsites, &g, root) != 0 || add_globals(&ctx, &g, root) != 0) {
        goto out;
    }
    ok = 1;
out:
    free_sites(sites, nsites);
    if (!ok || ctx.failed) {
        if (!ctx.failed) {
            cf_fail(&ctx, NULL, "%s: internal error while adapting the Caddyfile", filename);
        }
        json_decref(root);
        root = NULL;
    }
    cf_ctx_free(&ctx);
    return root;
}

json_t *caddyfile_adapt(const char *text, size_t len, const char *filename, char *err,
                        size_t err_len)
{
    return cf_adapt(text, len, filename, err, err_len, NULL);
}
