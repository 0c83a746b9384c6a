/*
 * caddyfile_site.c - from evaluated site blocks to Caddy's http app (and, through
 * caddyfile_tlsapp.c, the tls app), ported from Caddy 2.6.2 httpcaddyfile:
 * ParseAddress/Normalize, mapAddressToServerBlocks, consolidateAddrMappings,
 * serversFromPairings (routes, connection policies, automatic HTTPS hints) and
 * detectConflictingSchemes.
 *
 * Connection policies are shared by pointer between the servers a site block is split into,
 * as in Caddy, so mutations made while building one server show in the others' output.
 * One deliberate difference: a policy's match.sni lists hosts in Caddyfile order (Caddy
 * iterates a Go map, so its order changes from run to run).
 */
#include "caddyfile_int.h"

#include <stdlib.h>
#include <string.h>

struct addrmap {
    const char *addr;
    struct sbvec blocks;
    int grouped;
};


struct route {
    json_t *match; /* array of matcher sets, or NULL */
    json_t *handle;
    int terminal;
};

struct server {
    struct cf_strv listen;
    struct route *routes;
    size_t nroutes, routes_cap;
    struct cf_policy **pol;
    size_t npol, pol_cap;
    int auto_disable, auto_disable_redir, auto_disable_certs;
    struct cf_strv skip;
};

int cf_pile_add_policy(struct cf_ctx *ctx, struct cf_pile *pile, struct cf_policy *p)
{
    if (pile->npolicies == pile->policies_cap) {
        size_t nc = pile->policies_cap ? pile->policies_cap * 2 : 4;
        struct cf_policy **nv = cf_grow(ctx, pile->policies, pile->npolicies * sizeof(*nv),
                                        nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        pile->policies = nv;
        pile->policies_cap = nc;
    }
    pile->policies[pile->npolicies++] = p;
    return 0;
}

int cf_pile_add_loader(struct cf_ctx *ctx, struct cf_pile *pile, struct cf_loadfile lf)
{
    if (pile->nloaders == pile->loaders_cap) {
        size_t nc = pile->loaders_cap ? pile->loaders_cap * 2 : 4;
        struct cf_loadfile *nv = cf_grow(ctx, pile->loaders, pile->nloaders * sizeof(*nv),
                                         nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        pile->loaders = nv;
        pile->loaders_cap = nc;
    }
    pile->loaders[pile->nloaders++] = lf;
    return 0;
}

static int sbvec_push(struct cf_ctx *ctx, struct sbvec *v, struct sblock *b)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 4;
        struct sblock **nv = cf_grow(ctx, v->v, v->n * sizeof(*nv), nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = b;
    return 0;
}

static const char *lower_ascii(struct cf_ctx *ctx, const char *s)
{
    char *o = cf_strdup(ctx, s);
    for (char *p = o; p && *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    return o;
}

/* httpcaddyfile.ParseAddress + Normalize (paths, placeholders and non-ASCII refused). */
static int parse_address(struct cf_ctx *ctx, const struct cf_token *tok, const char *key,
                         struct addr *a)
{
    memset(a, 0, sizeof(*a));
    a->tok = tok;
    a->original = key;
    a->scheme = a->host = a->port = a->path = "";
    const char *rem = key;
    const char *sep = strstr(rem, "://");
    if (sep != NULL) {
        a->scheme = cf_strndup(ctx, rem, (size_t)(sep - rem));
        rem = sep + 3;
    }
    size_t hl = strcspn(rem, "/");
    char *hostport = cf_strndup(ctx, rem, hl);
    if (a->scheme == NULL || hostport == NULL) {
        return -1;
    }
    if (rem[hl] == '/') {
        return cf_fail(ctx, tok, "site address %s: paths in site addresses are not supported by "
                                 "mtls-proxy",
                       key);
    }
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (*p >= 0x80 || *p == '{' || *p == '}' || *p < 0x20) {
            return cf_fail(ctx, tok, "site address %s: placeholders and non-ASCII characters "
                                     "(use punycode) are not supported by mtls-proxy",
                           key);
        }
    }
    const char *host, *port;
    char *withcolon = cf_printf(ctx, "%s:", hostport);
    if (withcolon == NULL) {
        return -1;
    }
    if (cf_split_host_port(ctx, hostport, &host, &port) != 0 &&
        cf_split_host_port(ctx, withcolon, &host, &port) != 0) {
        if (ctx->failed) {
            return -1;
        }
        host = hostport;
        port = "";
    }
    if (port[0] != '\0') {
        long v;
        if (cf_atoi(port, &v) != 0) {
            return cf_fail(ctx, tok, "parsing key '%s': invalid port '%s'", key, port);
        }
        if (v < 0 || v > 65535) {
            return cf_fail(ctx, tok, "parsing key '%s': port %ld is out of range", key, v);
        }
    }
    uint8_t ip[16];
    int v4;
    if (cf_parse_ip(host, ip, &v4) == 0) {
        host = cf_ip_string(ctx, ip, v4);
    }
    a->host = host ? lower_ascii(ctx, host) : NULL;
    a->scheme = lower_ascii(ctx, a->scheme);
    a->port = port;
    return a->host && a->scheme ? 0 : -1;
}

static int bind_listener(struct build *b, const struct cf_token *at, const char *host,
                         const char *port, const char **out)
{
    struct cf_ctx *ctx = b->ctx;
    if (strchr(host, '/') != NULL || strchr(host, '{') != NULL) {
        const char *what = cf_printf(ctx, "bind %s (network types and placeholders)", host);
        return cf_unsupported(ctx, at, what ? what : "bind");
    }
    size_t l = strlen(host);
    const char *h = host;
    if (l >= 2 && host[0] == '[' && host[l - 1] == ']') {
        h = cf_strndup(ctx, host + 1, l - 2);
        if (h == NULL) {
            return -1;
        }
    }
    uint8_t ip[16];
    int v4;
    if (strchr(h, ':') != NULL && cf_parse_ip(h, ip, &v4) != 0) {
        return cf_fail(ctx, at, "bind %s: give a host or IP address without a port", host);
    }
    *out = cf_join_host_port(ctx, h, port);
    return *out != NULL ? 0 : -1;
}

/* listenerAddrsForServerBlockKey */
static int listener_addrs(struct build *b, struct cf_site *site, const struct addr *a,
                          struct cf_strv *out)
{
    struct cf_ctx *ctx = b->ctx;
    memset(out, 0, sizeof(*out));
    if (strcmp(a->scheme, "wss") == 0 || strcmp(a->scheme, "ws") == 0) {
        return cf_fail(ctx, a->tok, "the scheme %s:// is only supported in browsers; use %s:// "
                                    "instead",
                       a->scheme, a->scheme[1] == 's' ? "https" : "http");
    }
    if (a->scheme[0] != '\0' && strcmp(a->scheme, "http") != 0 && strcmp(a->scheme, "https") != 0) {
        /* Caddy 2.6.2 ignores unknown schemes (serves them like https://) */
        const char *what = cf_printf(ctx, "the scheme %s:// (site address %s)", a->scheme,
                                     a->original);
        return cf_unsupported(ctx, a->tok, what ? what : "URL scheme");
    }
    const char *ln_port = b->https_port;
    if (a->port[0] != '\0') {
        ln_port = a->port;
    } else if (strcmp(a->scheme, "http") == 0) {
        ln_port = b->http_port;
    }
    if ((strcmp(a->scheme, "http") == 0 && strcmp(ln_port, b->https_port) == 0) ||
        (strcmp(a->scheme, "https") == 0 && strcmp(ln_port, b->http_port) == 0)) {
        return cf_fail(ctx, a->tok, "[%s] scheme and port violate convention", a->original);
    }
    struct cf_strv hosts = site->pile.bind;
    struct cf_strv def = {0};
    if (hosts.n == 0) {
        if (cf_strv_push(ctx, &def, "") != 0) {
            return -1;
        }
        hosts = def;
    }
    for (size_t i = 0; i < hosts.n; i++) {
        const char *ln = NULL;
        if (bind_listener(b, a->tok, hosts.v[i], ln_port, &ln) != 0) {
            return -1;
        }
        if (!cf_strv_contains(out, ln) && cf_strv_push(ctx, out, ln) != 0) {
            return -1;
        }
    }
    return cf_sort_strings(out);
}

static struct addrmap *map_get(struct cf_ctx *ctx, struct addrmap **m, size_t *n, size_t *cap,
                               const char *addr)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*m)[i].addr, addr) == 0) {
            return &(*m)[i];
        }
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct addrmap *nm = cf_grow(ctx, *m, *n * sizeof(**m), nc * sizeof(**m));
        if (nm == NULL) {
            return NULL;
        }
        *m = nm;
        *cap = nc;
    }
    struct addrmap *e = &(*m)[(*n)++];
    memset(e, 0, sizeof(*e));
    e->addr = addr;
    return e;
}

/* mapAddressToServerBlocks: one split block per (site, listener address). */
static int map_sites(struct build *b, struct cf_site *sites, size_t nsites, struct addrmap **m,
                     size_t *mn)
{
    struct cf_ctx *ctx = b->ctx;
    size_t mcap = 0;
    *m = NULL;
    *mn = 0;
    for (size_t s = 0; s < nsites; s++) {
        const struct cf_block *blk = sites[s].blk;
        struct addrmap *local = NULL; /* addr -> keys of this site */
        size_t ln = 0, lcap = 0;
        struct cf_strv *keysof = NULL;
        for (size_t k = 0; k < blk->keys.n; k++) {
            struct addr a;
            struct cf_strv addrs;
            if (parse_address(ctx, blk->keytok[k], blk->keys.v[k], &a) != 0 ||
                listener_addrs(b, &sites[s], &a, &addrs) != 0) {
                return -1;
            }
            for (size_t i = 0; i < addrs.n; i++) {
                size_t before = ln;
                struct addrmap *e = map_get(ctx, &local, &ln, &lcap, addrs.v[i]);
                if (e == NULL) {
                    return -1;
                }
                if (ln != before) {
                    struct cf_strv *nk = cf_grow(ctx, keysof, before * sizeof(*nk), ln * sizeof(*nk));
                    if (nk == NULL) {
                        return -1;
                    }
                    keysof = nk;
                    memset(&keysof[ln - 1], 0, sizeof(*keysof));
                }
                if (cf_strv_push(ctx, &keysof[e - local], blk->keys.v[k]) != 0) {
                    return -1;
                }
            }
        }
        /* in sorted address order, like Caddy */
        for (size_t done = 0; done < ln; done++) {
            size_t best = SIZE_MAX;
            for (size_t i = 0; i < ln; i++) {
                if (!local[i].grouped &&
                    (best == SIZE_MAX || strcmp(local[i].addr, local[best].addr) < 0)) {
                    best = i;
                }
            }
            local[best].grouped = 1;
            struct sblock *sb = cf_alloc(ctx, sizeof(*sb));
            struct addrmap *e = map_get(ctx, m, mn, &mcap, local[best].addr);
            if (sb == NULL || e == NULL) {
                return -1;
            }
            sb->site = &sites[s];
            sb->rawkeys = keysof[best];
            sb->keys = cf_alloc(ctx, sb->rawkeys.n * sizeof(*sb->keys));
            if (sb->keys == NULL) {
                return -1;
            }
            for (size_t k = 0; k < sb->rawkeys.n; k++) {
                const struct cf_token *kt = NULL;
                for (size_t j = 0; j < blk->keys.n; j++) {
                    if (strcmp(blk->keys.v[j], sb->rawkeys.v[k]) == 0) {
                        kt = blk->keytok[j];
                        break;
                    }
                }
                if (parse_address(ctx, kt, sb->rawkeys.v[k], &sb->keys[k]) != 0) {
                    return -1;
                }
            }
            sb->nkeys = sb->rawkeys.n;
            if (sbvec_push(ctx, &e->blocks, sb) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int sbvec_equal(const struct sbvec *a, const struct sbvec *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i]->site != b->v[i]->site || !cf_strv_equal(&a->v[i]->rawkeys, &b->v[i]->rawkeys)) {
            return 0;
        }
    }
    return 1;
}

/* consolidateAddrMappings: addresses with identical block lists share one server. */
static int pairings_from_map(struct cf_ctx *ctx, struct addrmap *m, size_t mn,
                             struct pairing **out, size_t *np)
{
    struct pairing *p = cf_alloc(ctx, (mn ? mn : 1) * sizeof(*p));
    size_t n = 0;
    if (p == NULL) {
        return -1;
    }
    for (size_t i = 0; i < mn; i++) {
        m[i].grouped = 0;
    }
    for (size_t i = 0; i < mn; i++) {
        if (m[i].grouped) {
            continue;
        }
        m[i].grouped = 1;
        memset(&p[n], 0, sizeof(p[n]));
        p[n].blocks = m[i].blocks;
        if (cf_strv_push(ctx, &p[n].addresses, m[i].addr) != 0) {
            return -1;
        }
        for (size_t j = 0; j < mn; j++) {
            if (!m[j].grouped && sbvec_equal(&m[i].blocks, &m[j].blocks)) {
                m[j].grouped = 1;
                if (cf_strv_push(ctx, &p[n].addresses, m[j].addr) != 0) {
                    return -1;
                }
            }
        }
        cf_sort_strings(&p[n].addresses);
        n++;
    }
    /* sort pairings by first address (insertion sort: few servers) */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(p[j].addresses.v[0], p[j - 1].addresses.v[0]) < 0; j--) {
            struct pairing t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    }
    *out = p;
    *np = n;
    return 0;
}

/* specificity: len(s) minus wildcards and placeholders */
static int specificity(const char *s)
{
    int l = (int)strlen(s);
    for (const char *p = s; *p; p++) {
        l -= *p == '*';
    }
    while (*s) {
        const char *open = strchr(s, '{');
        if (open == NULL) {
            return l;
        }
        const char *close = strchr(open, '}');
        if (close == NULL) {
            return l;
        }
        l -= (int)(close - open + 1);
        s = close + 1;
    }
    return l;
}

static void longest(const struct sblock *sb, const char **host, const char **path, int *wild)
{
    *host = *path = "";
    *wild = 0;
    for (size_t i = 0; i < sb->nkeys; i++) {
        const struct addr *a = &sb->keys[i];
        if (strchr(a->host, '*') != NULL || a->host[0] == '\0') {
            *wild = 1;
        }
        if (specificity(a->host) > specificity(*host)) {
            *host = a->host;
        }
        if (specificity(a->path) > specificity(*path)) {
            *path = a->path;
        }
    }
}

static int sblock_less(void *user, const void *va, const void *vb)
{
    (void)user;
    const char *ih, *ip, *jh, *jp;
    int iw, jw;
    longest(va, &ih, &ip, &iw);
    longest(vb, &jh, &jp, &jw);
    if (specificity(ih) == 0) {
        return 0;
    }
    if (specificity(jh) == 0) {
        return 1;
    }
    if (iw != jw) {
        return jw && !iw;
    }
    if (specificity(ih) == specificity(jh)) {
        return strlen(ip) > strlen(jp);
    }
    return specificity(ih) > specificity(jh);
}

/* hostsFromKeys(false): empty if any key is host-less; first-seen order */
int cf_hosts_from_keys(struct cf_ctx *ctx, const struct sblock *sb, struct cf_strv *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sb->nkeys; i++) {
        if (sb->keys[i].host[0] == '\0') {
            memset(out, 0, sizeof(*out));
            return 0;
        }
        if (!cf_strv_contains(out, sb->keys[i].host) && cf_strv_push(ctx, out, sb->keys[i].host)) {
            return -1;
        }
    }
    return 0;
}

/* compileEncodedMatcherSets without paths: [{"host": [...]}] or NULL (catch-all) */
static json_t *matcher_sets(struct cf_ctx *ctx, const struct sblock *sb)
{
    struct cf_strv hosts = {0};
    for (size_t i = 0; i < sb->nkeys; i++) {
        if (sb->keys[i].host[0] == '\0') {
            return NULL;
        }
        if (!cf_strv_contains(&hosts, sb->keys[i].host)) {
            cf_strv_push(ctx, &hosts, sb->keys[i].host);
        }
    }
    if (hosts.n == 0) {
        return NULL;
    }
    return json_pack("[{s:o}]", "host", cf_strv_json(&hosts));
}

int cf_listeners_use_port_other_than(const struct cf_strv *listen, const char *port)
{
    long other;
    if (cf_atoi(port, &other) != 0) {
        return 0;
    }
    for (size_t i = 0; i < listen->n; i++) {
        const char *colon = strrchr(listen->v[i], ':');
        long p;
        if (colon == NULL || cf_atoi(colon + 1, &p) != 0) {
            continue;
        }
        if (p != other) {
            return 1;
        }
    }
    return 0;
}

static int add_route(struct cf_ctx *ctx, struct server *srv, struct route r)
{
    if (srv->nroutes == srv->routes_cap) {
        size_t nc = srv->routes_cap ? srv->routes_cap * 2 : 4;
        struct route *nv = cf_grow(ctx, srv->routes, srv->nroutes * sizeof(*nv), nc * sizeof(*nv));
        if (nv == NULL) {
            json_decref(r.match);
            json_decref(r.handle);
            return -1;
        }
        srv->routes = nv;
        srv->routes_cap = nc;
    }
    srv->routes[srv->nroutes++] = r;
    return 0;
}

static int add_policy(struct cf_ctx *ctx, struct server *srv, struct cf_policy *p)
{
    if (srv->npol == srv->pol_cap) {
        size_t nc = srv->pol_cap ? srv->pol_cap * 2 : 4;
        struct cf_policy **nv = cf_grow(ctx, srv->pol, srv->npol * sizeof(*nv), nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        srv->pol = nv;
        srv->pol_cap = nc;
    }
    srv->pol[srv->npol++] = p;
    return 0;
}

/* buildSubroute + appendSubrouteToRouteList for one site block */
static int site_routes(struct build *b, struct server *srv, const struct sblock *sb,
                       size_t nblocks)
{
    json_t *handlers = sb->site->pile.handlers;
    size_t nh = json_array_size(handlers);
    json_t *match = matcher_sets(b->ctx, sb);
    json_t *subroutes = NULL;
    if (nh > 0) {
        subroutes = json_pack("[{s:O}]", "handle", handlers);
        if (subroutes == NULL) {
            json_decref(match);
            return cf_oom(b->ctx);
        }
    }
    if (match == NULL && nh == 0) {
        return 0;
    }
    if (match == NULL && nblocks == 1) {
        struct route r = {NULL, json_deep_copy(handlers), 0};
        json_decref(subroutes);
        return add_route(b->ctx, srv, r);
    }
    struct route r = {match, NULL, 1};
    if (nh > 0) {
        r.handle = json_pack("[{s:s, s:o}]", "handler", "subroute", "routes", subroutes);
        subroutes = NULL;
        if (r.handle == NULL) {
            json_decref(match);
            return cf_oom(b->ctx);
        }
    }
    json_decref(subroutes);
    return add_route(b->ctx, srv, r);
}

static int route_equal_match(const struct route *a, const struct route *b)
{
    if (a->match == NULL || b->match == NULL) {
        return a->match == b->match;
    }
    return json_equal(a->match, b->match);
}

/* consolidateRoutes: merge neighbours with the same matchers and terminal flag */
static void consolidate_routes(struct server *srv)
{
    for (size_t i = 0; i + 1 < srv->nroutes;) {
        struct route *a = &srv->routes[i], *c = &srv->routes[i + 1];
        if (route_equal_match(a, c) && a->terminal == c->terminal) {
            if (a->handle == NULL) {
                a->handle = c->handle;
                c->handle = NULL;
            } else if (c->handle != NULL) {
                json_array_extend(a->handle, c->handle);
            }
            json_decref(c->handle);
            json_decref(c->match);
            memmove(c, c + 1, (srv->nroutes - i - 2) * sizeof(*c));
            srv->nroutes--;
            continue;
        }
        i++;
    }
}

/* Go's %v of a []string: "[a b c]" */
static const char *listen_text(struct cf_ctx *ctx, const struct cf_strv *l)
{
    const char *s = "[";
    for (size_t i = 0; s != NULL && i < l->n; i++) {
        s = cf_printf(ctx, "%s%s%s", s, i > 0 ? " " : "", l->v[i]);
    }
    s = s ? cf_printf(ctx, "%s]", s) : NULL;
    return s ? s : "[]";
}

/* detectConflictingSchemes */
static int conflicting_schemes(struct build *b, const struct server *srv, const struct pairing *p)
{
    int mode = 0; /* 1 HTTP, 2 HTTPS */
    const char *lt = listen_text(b->ctx, &srv->listen);
    for (size_t i = 0; i < p->blocks.n; i++) {
        const struct sblock *sb = p->blocks.v[i];
        for (size_t k = 0; k < sb->nkeys; k++) {
            const struct addr *a = &sb->keys[k];
            int http = strcmp(a->scheme, "http") == 0 || strcmp(a->port, b->http_port) == 0;
            int https = strcmp(a->scheme, "https") == 0 || strcmp(a->port, b->https_port) == 0 ||
                        srv->npol > 0;
            if (http || (!https && a->host[0] == '\0')) {
                if (mode == 2) {
                    return cf_fail(b->ctx, a->tok,
                                   "server listening on %s is configured for HTTPS and cannot "
                                   "natively multiplex HTTP and HTTPS: %s%s",
                                   lt, a->original,
                                   a->scheme[0] == '\0' && a->host[0] == '\0'
                                       ? " (try specifying https:// in the address)"
                                       : "");
                }
                if (srv->npol > 0) {
                    return cf_fail(b->ctx, a->tok,
                                   "server listening on %s is HTTP, but attempts to configure "
                                   "TLS connection policies",
                                   lt);
                }
                mode = 1;
            } else if (https) {
                if (mode == 1) {
                    return cf_fail(b->ctx, a->tok,
                                   "server listening on %s is configured for HTTP and cannot "
                                   "natively multiplex HTTP and HTTPS: %s",
                                   lt, a->original);
                }
                mode = 2;
            }
        }
    }
    return 0;
}

/* the same site address twice on one listener (Caddy issue #4635) */
static int ambiguous_sites(struct build *b, const struct pairing *p)
{
    for (size_t j = 0; j < p->blocks.n; j++) {
        const struct sblock *s1 = p->blocks.v[j];
        for (size_t k = 0; k < s1->nkeys; k++) {
            for (size_t o = 0; o < p->blocks.n; o++) {
                if (o != j && cf_strv_contains(&p->blocks.v[o]->rawkeys, s1->rawkeys.v[k])) {
                    return cf_fail(b->ctx, s1->keys[k].tok, "ambiguous site definition: %s",
                                   s1->rawkeys.v[k]);
                }
            }
        }
    }
    return 0;
}

static int build_server(struct build *b, const struct pairing *p, struct server *srv)
{
    struct cf_ctx *ctx = b->ctx;
    const char *ah = b->g->auto_https;
    memset(srv, 0, sizeof(*srv));
    if (ambiguous_sites(b, p) != 0) {
        return -1;
    }
    srv->listen = p->addresses;
    if (ah != NULL) {
        srv->auto_disable = strcmp(ah, "off") == 0;
        srv->auto_disable_redir = strcmp(ah, "disable_redirects") == 0;
        srv->auto_disable_certs = strcmp(ah, "disable_certs") == 0;
    }
    cf_sort_stable((void **)p->blocks.v, p->blocks.n, sblock_less, NULL);
    int has_catch_all = 0, qualifies = 0;
    int will_add = ah == NULL || strcmp(ah, "off") != 0;
    const struct cf_token *first_tok = NULL;
    for (size_t i = 0; i < p->blocks.n; i++) {
        const struct sblock *sb = p->blocks.v[i];
        struct cf_strv hosts;
        if (cf_hosts_from_keys(ctx, sb, &hosts) != 0) {
            return -1;
        }
        if (first_tok == NULL && sb->nkeys > 0) {
            first_tok = sb->keys[0].tok;
        }
        for (size_t k = 0; k < sb->site->pile.npolicies; k++) {
            struct cf_policy *cp = sb->site->pile.policies[k];
            if (hosts.n > 0) {
                struct cf_strv *sni = cf_alloc(ctx, sizeof(*sni));
                if (sni == NULL) {
                    return -1;
                }
                *sni = hosts;
                cp->sni = sni;
            }
            if (!cf_policy_settings_empty(cp)) {
                if (add_policy(ctx, srv, cp) != 0) {
                    return -1;
                }
                has_catch_all = hosts.n == 0;
            }
        }
        for (size_t k = 0; k < sb->nkeys; k++) {
            const struct addr *a = &sb->keys[k];
            if (cf_listeners_use_port_other_than(&srv->listen, b->http_port) &&
                strcmp(a->scheme, "http") == 0 && a->host[0] != '\0' &&
                !cf_strv_contains(&srv->skip, a->host) &&
                cf_strv_push(ctx, &srv->skip, a->host) != 0) {
                return -1;
            }
            if (strcmp(a->scheme, "https") == 0 ||
                (strcmp(a->scheme, "http") != 0 && a->host[0] != '\0' &&
                 strcmp(a->port, b->http_port) != 0)) {
                qualifies = 1;
            }
            will_add = will_add && (strcmp(a->port, b->https_port) == 0 ||
                                    (strcmp(a->port, b->http_port) != 0 && a->host[0] != '\0'));
        }
        if (site_routes(b, srv, sb, p->blocks.n) != 0) {
            return -1;
        }
    }
    if (conflicting_schemes(b, srv, p) != 0) {
        return -1;
    }
    if (qualifies && !has_catch_all && (srv->npol > 0 || !will_add)) {
        struct cf_policy *empty = cf_alloc(ctx, sizeof(*empty));
        if (empty == NULL) {
            return -1;
        }
        empty->protocol_min = empty->protocol_max = "";
        empty->where = first_tok;
        if (add_policy(ctx, srv, empty) != 0) {
            return -1;
        }
    }
    if (cf_consolidate_policies(ctx, &srv->pol, &srv->npol) != 0) {
        return -1;
    }
    consolidate_routes(srv);
    return 0;
}

static json_t *server_json(const struct server *srv)
{
    json_t *s = json_pack("{s:o}", "listen", cf_strv_json(&srv->listen));
    int rc = s == NULL;
    if (!rc && srv->nroutes > 0) {
        json_t *routes = json_array();
        rc |= routes == NULL || json_object_set_new(s, "routes", routes) != 0;
        for (size_t i = 0; !rc && i < srv->nroutes; i++) {
            const struct route *r = &srv->routes[i];
            json_t *o = json_object();
            rc |= o == NULL || json_array_append_new(routes, o) != 0;
            if (!rc && r->match != NULL) {
                rc |= json_object_set(o, "match", r->match);
            }
            if (!rc && r->handle != NULL && json_array_size(r->handle) > 0) {
                rc |= json_object_set(o, "handle", r->handle);
            }
            if (!rc && r->terminal) {
                rc |= json_object_set_new(o, "terminal", json_true());
            }
        }
    }
    if (!rc && srv->npol > 0) {
        json_t *pols = json_array();
        rc |= pols == NULL || json_object_set_new(s, "tls_connection_policies", pols) != 0;
        for (size_t i = 0; !rc && i < srv->npol; i++) {
            rc |= json_array_append_new(pols, cf_policy_json(srv->pol[i])) != 0;
        }
    }
    if (!rc && (srv->auto_disable || srv->auto_disable_redir || srv->auto_disable_certs ||
                srv->skip.n > 0)) {
        json_t *ah = json_object();
        rc |= ah == NULL || json_object_set_new(s, "automatic_https", ah) != 0;
        if (!rc && srv->auto_disable) {
            rc |= json_object_set_new(ah, "disable", json_true());
        }
        if (!rc && srv->auto_disable_redir) {
            rc |= json_object_set_new(ah, "disable_redirects", json_true());
        }
        if (!rc && srv->auto_disable_certs) {
            rc |= json_object_set_new(ah, "disable_certificates", json_true());
        }
        if (!rc && srv->skip.n > 0) {
            rc |= json_object_set_new(ah, "skip", cf_strv_json(&srv->skip));
        }
    }
    if (rc) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static void free_servers(struct server *srv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < srv[i].nroutes; r++) {
            json_decref(srv[i].routes[r].match);
            json_decref(srv[i].routes[r].handle);
        }
        srv[i].nroutes = 0;
    }
}

int cf_build_config(struct cf_ctx *ctx, struct cf_site *sites, size_t nsites,
                    const struct cf_global *g, json_t *root)
{
    struct build b = {ctx, g, NULL, NULL};
    b.http_port = cf_printf(ctx, "%ld", g->has_http_port ? g->http_port : 80L);
    b.https_port = cf_printf(ctx, "%ld", g->has_https_port ? g->https_port : 443L);
    struct addrmap *m;
    size_t mn, np, ns = 0;
    struct pairing *p;
    if (b.http_port == NULL || b.https_port == NULL || map_sites(&b, sites, nsites, &m, &mn) != 0 ||
        pairings_from_map(ctx, m, mn, &p, &np) != 0) {
        return -1;
    }
    struct server *srv = cf_alloc(ctx, (np ? np : 1) * sizeof(*srv));
    json_t *servers = json_object(), *apps = json_object(), *tls = NULL;
    int rc = -1;
    if (srv == NULL || servers == NULL || apps == NULL) {
        cf_oom(ctx);
        goto out;
    }
    for (ns = 0; ns < np; ns++) {
        if (build_server(&b, &p[ns], &srv[ns]) != 0) {
            ns++;
            goto out;
        }
    }
    /* JSON is made after all servers exist: policies shared by pointer show their last state */
    for (size_t i = 0; i < np; i++) {
        char name[32];
        snprintf(name, sizeof(name), "srv%zu", i);
        json_t *s = server_json(&srv[i]);
        if (s == NULL || json_object_set_new(servers, name, s) != 0) {
            cf_oom(ctx);
            goto out;
        }
    }
    if ((tls = cf_tls_app(&b, p, np)) == NULL) {
        goto out;
    }
    if (np > 0) {
        json_t *http = json_pack("{s:O}", "servers", servers);
        if (http == NULL || json_object_set_new(apps, "http", http) != 0) {
            cf_oom(ctx);
            goto out;
        }
        if (g->has_http_port && g->http_port != 0) {
            json_object_set_new(http, "http_port", json_integer(g->http_port));
        }
        if (g->has_https_port && g->https_port != 0) {
            json_object_set_new(http, "https_port", json_integer(g->https_port));
        }
    }
    if (json_object_size(tls) > 0 && json_object_set(apps, "tls", tls) != 0) {
        cf_oom(ctx);
        goto out;
    }
    if (json_object_size(apps) > 0 && json_object_set(root, "apps", apps) != 0) {
        cf_oom(ctx);
        goto out;
    }
    rc = 0;
out:
    if (srv != NULL) {
        free_servers(srv, ns);
    }
    json_decref(servers);
    json_decref(apps);
    json_decref(tls);
    return rc;
}
