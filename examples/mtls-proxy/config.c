/*
 * config.c - the Caddy JSON subset of DESIGN.md §5 turned into a runtime (proxy.h).
 *
 * Strict like Caddy's decoder: every key is known or an error naming its JSON path. What
 * mtls-proxy does not do (ACME, other handlers, matchers other than host, ...) is refused at
 * load time, never ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "caddyfile.h"
#include "listen.h"
#include "proxy.h"
#include "subst.h"

struct cfg {
    char *err;
    size_t err_len;
    struct runtime *rt;
    json_t *root;
    const struct runtime *prev;
    int bind_sockets;
};

static int fail(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cfg *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->err_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Refuses keys of `obj` not in the NULL-terminated `known` list. */
static int only_keys(struct cfg *c, json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj)) {
        return fail(c, "%s: must be an object", path);
    }
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (known[i] != NULL && strcmp(known[i], key) != 0) {
            i++;
        }
        if (known[i] == NULL) {
            return fail(c, "%s.%s: not supported by mtls-proxy", path, key);
        }
    }
    return 0;
}

/* Copies a JSON array of strings. */
static int strings(struct cfg *c, json_t *arr, const char *path, char ***out, size_t *out_n,
                   int lower)
{
    size_t i;
    json_t *v;
    if (!json_is_array(arr)) {
        return fail(c, "%s: must be an array of strings", path);
    }
    *out = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (*out == NULL) {
        return fail(c, "out of memory");
    }
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            return fail(c, "%s[%zu]: must be a string", path, i);
        }
        char *s = strdup(json_string_value(v));
        if (s == NULL) {
            return fail(c, "out of memory");
        }
        for (char *p = s; lower && *p; p++) {
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        }
        (*out)[(*out_n)++] = s;
    }
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* ---- apps.tls.certificates.load_files ------------------------------------------------ */

static int load_certs(struct cfg *c, json_t *tls)
{
    static const char *const tls_keys[] = {"certificates", NULL};
    static const char *const cert_keys[] = {"load_files", NULL};
    static const char *const file_keys[] = {"certificate", "key", "tags", "format", NULL};
    if (tls == NULL) {
        return 0;
    }
    json_t *certs = json_object_get(tls, "certificates");
    json_t *files = certs ? json_object_get(certs, "load_files") : NULL;
    if (only_keys(c, tls, "apps.tls", tls_keys) != 0 ||
        (certs && only_keys(c, certs, "apps.tls.certificates", cert_keys) != 0)) {
        return -1;
    }
    if (files == NULL) {
        return 0;
    }
    if (!json_is_array(files)) {
        return fail(c, "apps.tls.certificates.load_files: must be an array");
    }
    c->rt->certs = calloc(json_array_size(files) + 1, sizeof(struct cert));
    if (c->rt->certs == NULL) {
        return fail(c, "out of memory");
    }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        char path[96];
        snprintf(path, sizeof(path), "apps.tls.certificates.load_files[%zu]", i);
        json_t *cf = json_object_get(f, "certificate"), *kf = json_object_get(f, "key");
        json_t *fmt = json_object_get(f, "format"), *tags = json_object_get(f, "tags");
        if (only_keys(c, f, path, file_keys) != 0) {
            return -1;
        }
        if (!json_is_string(cf) || !json_is_string(kf)) {
            return fail(c, "%s: needs \"certificate\" and \"key\" file names", path);
        }
        if (fmt != NULL && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "pem"))) {
            return fail(c, "%s.format: only \"pem\" is supported", path);
        }
        struct cert *ce = &c->rt->certs[c->rt->num_certs++];
        char tpath[128];
        snprintf(tpath, sizeof(tpath), "%s.tags", path);
        if ((tags && strings(c, tags, tpath, &ce->tags, &ce->num_tags, 0) != 0) ||
            tls_load_cert(ce, json_string_value(cf), json_string_value(kf), c->err,
                          c->err_len) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- routes and the reverse_proxy handler --------------------------------------------- */

static int header_ops(struct cfg *c, json_t *obj, const char *path, struct hdr_op **out,
                      size_t *out_n)
{
    const char *key;
    json_t *vals;
    if (!json_is_object(obj)) {
        return fail(c, "%s: must be an object of header name to values", path);
    }
    *out = calloc(json_object_size(obj) + 1, sizeof(struct hdr_op));
    if (*out == NULL) {
        return fail(c, "out of memory");
    }
    json_object_foreach(obj, key, vals) {
        size_t i;
        json_t *v;
        if (!json_is_array(vals) || key[0] == '\0' || strpbrk(key, " :\t\r\n{}") != NULL) {
            return fail(c, "%s.%s: must be a valid header name with an array of values", path,
                        key);
        }
        /* Caddy joins several values of one "set" field with ","; add keeps each. */
        struct sbuf joined = {0};
        json_array_foreach(vals, i, v) {
            if (!json_is_string(v)) {
                return fail(c, "%s.%s[%zu]: must be a string", path, key, i);
            }
            if (i > 0) {
                sbuf_addc(&joined, ',');
            }
            sbuf_adds(&joined, json_string_value(v));
        }
        sbuf_addc(&joined, '\0');
        struct hdr_op *op = &(*out)[(*out_n)++];
        op->name = strdup(key);
        char e[200] = "";
        int rc = joined.failed || op->name == NULL ? -1
                                                   : tmpl_compile(&op->value, joined.p, e, sizeof(e));
        sbuf_free(&joined);
        if (rc != 0) {
            return fail(c, "%s.%s: %s", path, key, e[0] ? e : "out of memory");
        }
    }
    return 0;
}

static int request_headers(struct cfg *c, struct handler *h, json_t *hdrs, const char *path)
{
    static const char *const keys[] = {"request", NULL};
    static const char *const req_keys[] = {"set", "add", "delete", NULL};
    char p[200];
    if (only_keys(c, hdrs, path, keys) != 0) {
        return -1;
    }
    json_t *req = json_object_get(hdrs, "request");
    if (req == NULL) {
        return 0;
    }
    snprintf(p, sizeof(p), "%s.request", path);
    if (only_keys(c, req, p, req_keys) != 0) {
        return -1;
    }
    json_t *set = json_object_get(req, "set"), *add = json_object_get(req, "add");
    json_t *del = json_object_get(req, "delete");
    snprintf(p, sizeof(p), "%s.request.set", path);
    if (set && header_ops(c, set, p, &h->set, &h->num_set) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s.request.add", path);
    if (add && header_ops(c, add, p, &h->add, &h->num_add) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s.request.delete", path);
    return del ? strings(c, del, p, &h->del, &h->num_del, 0) : 0;
}

static int transport(struct cfg *c, struct handler *h, json_t *t, const char *path)
{
    static const char *const keys[] = {"protocol", "dial_timeout", "response_header_timeout",
                                       "read_timeout", "write_timeout", "keep_alive", NULL};
    json_t *proto = json_object_get(t, "protocol");
    if (only_keys(c, t, path, keys) != 0) {
        return -1;
    }
    if (!json_is_string(proto) || strcmp(json_string_value(proto), "http") != 0) {
        return fail(c, "%s.protocol: only \"http\" is supported", path);
    }
    json_t *d = json_object_get(t, "dial_timeout"), *r = json_object_get(t, "response_header_timeout");
    if (d != NULL && parse_duration(d, &h->dial_timeout_ms) != 0) {
        return fail(c, "%s.dial_timeout: not a duration", path);
    }
    if (r != NULL && parse_duration(r, &h->response_header_timeout_ms) != 0) {
        return fail(c, "%s.response_header_timeout: not a duration", path);
    }
    return 0;
}

static int upstreams(struct cfg *c, struct handler *h, json_t *ups, const char *path)
{
    static const char *const keys[] = {"dial", NULL};
    size_t i;
    json_t *u;
    if (!json_is_array(ups) || json_array_size(ups) == 0) {
        return fail(c, "%s: needs at least one upstream", path);
    }
    h->upstreams = calloc(json_array_size(ups), sizeof(struct upstream));
    if (h->upstreams == NULL) {
        return fail(c, "out of memory");
    }
    json_array_foreach(ups, i, u) {
        char p[200];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        json_t *dial = json_object_get(u, "dial");
        if (only_keys(c, u, p, keys) != 0) {
            return -1;
        }
        if (!json_is_string(dial)) {
            return fail(c, "%s.dial: must be \"host:port\"", p);
        }
        struct upstream *up = &h->upstreams[h->num_upstreams++];
        up->dial = strdup(json_string_value(dial));
        char e[200];
        if (up->dial == NULL || listen_resolve(up->dial, 0, &up->addr, &up->addr_len, e,
                                               sizeof(e)) != 0) {
            return fail(c, "%s.dial: %s", p, up->dial ? e : "out of memory");
        }
    }
    return 0;
}

static int lb(struct cfg *c, json_t *l, const char *path)
{
    static const char *const keys[] = {"selection_policy", NULL};
    json_t *sp = json_object_get(l, "selection_policy");
    if (only_keys(c, l, path, keys) != 0) {
        return -1;
    }
    json_t *pol = sp ? json_object_get(sp, "policy") : NULL;
    if (sp != NULL && (json_object_size(sp) != 1 || !json_is_string(pol) ||
                       strcmp(json_string_value(pol), "round_robin") != 0)) {
        return fail(c, "%s.selection_policy: only {\"policy\":\"round_robin\"} is supported",
                    path);
    }
    return 0;
}

static int reverse_proxy(struct cfg *c, struct handler *h, json_t *rp, const char *path)
{
    static const char *const keys[] = {"handler", "upstreams", "headers", "transport",
                                       "load_balancing", NULL};
    char p[200];
    if (only_keys(c, rp, path, keys) != 0) {
        return -1;
    }
    h->dial_timeout_ms = PROXY_DEFAULT_DIAL_MS;
    json_t *hd = json_object_get(rp, "headers"), *tr = json_object_get(rp, "transport");
    json_t *l = json_object_get(rp, "load_balancing");
    snprintf(p, sizeof(p), "%s.upstreams", path);
    if (upstreams(c, h, json_object_get(rp, "upstreams"), p) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s.headers", path);
    if (hd != NULL && request_headers(c, h, hd, p) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s.transport", path);
    if (tr != NULL && transport(c, h, tr, p) != 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s.load_balancing", path);
    return l != NULL ? lb(c, l, p) : 0;
}

/* Finds the one reverse_proxy of a route's handle list, through nested subroutes. */
static int find_handler(struct cfg *c, json_t *handle, const char *path, json_t **out,
                        char *out_path, size_t out_path_len, int depth)
{
    if (!json_is_array(handle) || json_array_size(handle) != 1) {
        return fail(c, "%s: mtls-proxy supports exactly one handler per route "
                       "(reverse_proxy, possibly inside a subroute)", path);
    }
    json_t *h = json_array_get(handle, 0);
    json_t *name = json_object_get(h, "handler");
    const char *n = json_is_string(name) ? json_string_value(name) : "";
    if (strcmp(n, "reverse_proxy") == 0) {
        *out = h;
        snprintf(out_path, out_path_len, "%s[0]", path);
        return 0;
    }
    if (strcmp(n, "subroute") != 0 || depth > 8) {
        return fail(c, "%s[0].handler: \"%s\" is not supported by mtls-proxy "
                       "(only reverse_proxy and subroute)", path, n);
    }
    static const char *const keys[] = {"handler", "routes", NULL};
    char p[200];
    snprintf(p, sizeof(p), "%s[0]", path);
    json_t *routes = json_object_get(h, "routes");
    if (only_keys(c, h, p, keys) != 0) {
        return -1;
    }
    if (!json_is_array(routes) || json_array_size(routes) != 1) {
        return fail(c, "%s.routes: mtls-proxy supports exactly one route in a subroute", p);
    }
    json_t *r = json_array_get(routes, 0);
    static const char *const rkeys[] = {"handle", "terminal", NULL};
    snprintf(p, sizeof(p), "%s[0].routes[0]", path);
    if (only_keys(c, r, p, rkeys) != 0) {
        return -1;
    }
    char hp[200];
    snprintf(hp, sizeof(hp), "%s.handle", p);
    return find_handler(c, json_object_get(r, "handle"), hp, out, out_path, out_path_len,
                        depth + 1);
}

static int route_hosts(struct cfg *c, struct route *r, json_t *match, const char *path)
{
    size_t i;
    json_t *set;
    if (!json_is_array(match)) {
        return fail(c, "%s: must be an array of matcher sets", path);
    }
    json_array_foreach(match, i, set) {
        static const char *const keys[] = {"host", NULL};
        char p[200];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (only_keys(c, set, p, keys) != 0) {
            return -1;
        }
        json_t *hosts = json_object_get(set, "host");
        if (hosts == NULL) {
            free_strings(r->hosts, r->num_hosts);
            r->hosts = NULL;
            r->num_hosts = 0;
            return 0; /* an empty matcher set matches every request */
        }
        char **more = NULL;
        size_t n = 0;
        snprintf(p, sizeof(p), "%s[%zu].host", path, i);
        if (strings(c, hosts, p, &more, &n, 1) != 0) {
            free_strings(more, n);
            return -1;
        }
        char **all = realloc(r->hosts, (r->num_hosts + n + 1) * sizeof(char *));
        if (all == NULL) {
            free_strings(more, n);
            return fail(c, "out of memory");
        }
        memcpy(all + r->num_hosts, more, n * sizeof(char *));
        free(more);
        r->hosts = all;
        r->num_hosts += n;
    }
    return 0;
}

static int routes(struct cfg *c, struct srv *s, json_t *rs, const char *path)
{
    size_t i;
    json_t *r;
    if (rs == NULL) {
        return fail(c, "%s: a server needs routes with a reverse_proxy handler", path);
    }
    if (!json_is_array(rs)) {
        return fail(c, "%s: must be an array", path);
    }
    s->routes = calloc(json_array_size(rs) + 1, sizeof(struct route));
    if (s->routes == NULL) {
        return fail(c, "out of memory");
    }
    json_array_foreach(rs, i, r) {
        static const char *const keys[] = {"match", "handle", "terminal", "group", NULL};
        char p[160], mp[200], hp[200], rp[300];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (only_keys(c, r, p, keys) != 0) {
            return -1;
        }
        struct route *ro = &s->routes[s->num_routes++];
        json_t *match = json_object_get(r, "match"), *h = NULL;
        snprintf(mp, sizeof(mp), "%s.match", p);
        snprintf(hp, sizeof(hp), "%s.handle", p);
        if ((match != NULL && route_hosts(c, ro, match, mp) != 0) ||
            find_handler(c, json_object_get(r, "handle"), hp, &h, rp, sizeof(rp), 0) != 0) {
            return -1;
        }
        ro->handler = calloc(1, sizeof(*ro->handler));
        if (ro->handler == NULL) {
            return fail(c, "out of memory");
        }
        if (reverse_proxy(c, ro->handler, h, rp) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- servers ---------------------------------------------------------------------------- */

static int add_strip(struct srv *s, const char *name)
{
    char norm[256];
    header_norm(norm, sizeof(norm), name, strlen(name));
    for (size_t i = 0; i < s->num_strip; i++) {
        if (strcmp(s->strip[i], norm) == 0) {
            return 0;
        }
    }
    char **v = realloc(s->strip, (s->num_strip + 1) * sizeof(char *));
    if (v == NULL) {
        return -1;
    }
    s->strip = v;
    s->strip[s->num_strip] = strdup(norm);
    return s->strip[s->num_strip++] != NULL ? 0 : -1;
}

/* Every header a route of the listener sets is stripped from clients on every route. */
static int collect_strip(struct cfg *c, struct srv *s)
{
    static const char *const fwd[] = {"X-Forwarded-For", "X-Forwarded-Proto",
                                      "X-Forwarded-Host"};
    for (size_t i = 0; i < 3; i++) {
        if (add_strip(s, fwd[i]) != 0) {
            return fail(c, "out of memory");
        }
    }
    for (size_t i = 0; i < s->num_routes; i++) {
        const struct handler *h = s->routes[i].handler;
        for (size_t j = 0; j < h->num_set; j++) {
            if (add_strip(s, h->set[j].name) != 0) {
                return fail(c, "out of memory");
            }
        }
        for (size_t j = 0; j < h->num_add; j++) {
            if (add_strip(s, h->add[j].name) != 0) {
                return fail(c, "out of memory");
            }
        }
    }
    return 0;
}

static int server_limits(struct cfg *c, struct srv *s, json_t *js, const char *path)
{
    json_t *v;
    s->max_header_bytes = PROXY_DEFAULT_MAX_HEADER_BYTES;
    s->read_header_timeout_ms = PROXY_DEFAULT_READ_HEADER_MS;
    s->idle_timeout_ms = PROXY_DEFAULT_IDLE_MS;
    if ((v = json_object_get(js, "max_header_bytes")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1024 ||
            json_integer_value(v) > 16 * 1024 * 1024) {
            return fail(c, "%s.max_header_bytes: must be an integer in [1024, 16777216]", path);
        }
        s->max_header_bytes = (size_t)json_integer_value(v);
    }
    if ((v = json_object_get(js, "read_header_timeout")) != NULL &&
        parse_duration(v, &s->read_header_timeout_ms) != 0) {
        return fail(c, "%s.read_header_timeout: not a duration", path);
    }
    if ((v = json_object_get(js, "idle_timeout")) != NULL &&
        parse_duration(v, &s->idle_timeout_ms) != 0) {
        return fail(c, "%s.idle_timeout: not a duration", path);
    }
    if ((v = json_object_get(js, "strict_sni_host")) != NULL && !json_is_boolean(v)) {
        return fail(c, "%s.strict_sni_host: must be true or false", path);
    }
    if ((v = json_object_get(js, "automatic_https")) != NULL) {
        static const char *const keys[] = {"disable", "disable_redirects", "skip",
                                           "skip_certificates", NULL};
        char p[160];
        snprintf(p, sizeof(p), "%s.automatic_https", path);
        if (only_keys(c, v, p, keys) != 0) {
            return -1;
        }
    }
    return 0;
}

static int server_listen(struct cfg *c, struct srv *s, json_t *listen, const char *path)
{
    size_t i;
    json_t *a;
    if (!json_is_array(listen) || json_array_size(listen) == 0) {
        return fail(c, "%s.listen: needs at least one address", path);
    }
    s->listeners = calloc(json_array_size(listen), sizeof(size_t));
    if (s->listeners == NULL) {
        return fail(c, "out of memory");
    }
    json_array_foreach(listen, i, a) {
        if (!json_is_string(a)) {
            return fail(c, "%s.listen[%zu]: must be a string", path, i);
        }
        struct runtime *rt = c->rt;
        for (size_t j = 0; j < rt->num_listeners; j++) {
            if (strcmp(rt->listeners[j].addr, json_string_value(a)) == 0) {
                return fail(c, "%s.listen[%zu]: %s is already used by another server", path,
                            i, json_string_value(a));
            }
        }
        struct listener *l = &rt->listeners[rt->num_listeners];
        char e[200];
        if (listen_open(l, json_string_value(a), c->prev, c->bind_sockets, e, sizeof(e)) != 0) {
            return fail(c, "%s.listen[%zu]: %s", path, i, e);
        }
        s->listeners[s->num_listeners++] = rt->num_listeners++;
    }
    return 0;
}

static int server(struct cfg *c, struct srv *s, const char *name, json_t *js)
{
    static const char *const keys[] = {"listen", "routes", "tls_connection_policies",
                                       "automatic_https", "max_header_bytes",
                                       "read_header_timeout", "read_timeout", "write_timeout",
                                       "idle_timeout", "strict_sni_host", "protocols", NULL};
    char path[160];
    snprintf(path, sizeof(path), "apps.http.servers.%s", name);
    s->name = strdup(name);
    s->rt = c->rt;
    json_t *protos = json_object_get(js, "protocols");
    if (s->name == NULL || only_keys(c, js, path, keys) != 0 ||
        server_limits(c, s, js, path) != 0) {
        return s->name == NULL ? fail(c, "out of memory") : -1;
    }
    if (protos != NULL) {
        size_t i;
        json_t *p;
        int h1 = 0;
        json_array_foreach(protos, i, p) {
            h1 |= json_is_string(p) && strcmp(json_string_value(p), "h1") == 0;
        }
        if (!h1) {
            return fail(c, "%s.protocols: mtls-proxy speaks HTTP/1.1 only (\"h1\")", path);
        }
    }
    if (json_object_get(js, "tls_connection_policies") == NULL) {
        return fail(c, "%s: no tls_connection_policies: mtls-proxy serves HTTPS only; give the "
                       "site a certificate (Caddyfile: `tls cert.pem key.pem`)", path);
    }
    char rp[200];
    snprintf(rp, sizeof(rp), "%s.routes", path);
    if (server_listen(c, s, json_object_get(js, "listen"), path) != 0 ||
        routes(c, s, json_object_get(js, "routes"), rp) != 0 || collect_strip(c, s) != 0 ||
        tls_build_srv(s, c->rt, c->root, c->err, c->err_len) != 0) {
        return -1;
    }
    json_t *strict = json_object_get(js, "strict_sni_host");
    s->strict_sni_host = strict != NULL ? json_is_true(strict) : s->client_auth;
    return 0;
}

static int servers(struct cfg *c, json_t *http)
{
    static const char *const keys[] = {"servers", "http_port", "https_port", "grace_period",
                                       NULL};
    if (only_keys(c, http, "apps.http", keys) != 0) {
        return -1;
    }
    json_t *ss = json_object_get(http, "servers");
    if (!json_is_object(ss) || json_object_size(ss) == 0) {
        return fail(c, "apps.http.servers: needs at least one server");
    }
    size_t total_listen = 0;
    const char *name;
    json_t *js;
    json_object_foreach(ss, name, js) {
        total_listen += json_array_size(json_object_get(js, "listen"));
    }
    c->rt->srvs = calloc(json_object_size(ss), sizeof(struct srv));
    c->rt->listeners = calloc(total_listen + 1, sizeof(struct listener));
    if (c->rt->srvs == NULL || c->rt->listeners == NULL) {
        return fail(c, "out of memory");
    }
    json_object_foreach(ss, name, js) {
        if (server(c, &c->rt->srvs[c->rt->num_srvs++], name, js) != 0) {
            return -1;
        }
    }
    return 0;
}

struct runtime *config_load(json_t *root, const struct runtime *prev, int bind_sockets,
                            char *err, size_t err_len)
{
    static const char *const root_keys[] = {"admin", "apps", NULL};
    static const char *const admin_keys[] = {"disabled", "listen", NULL};
    static const char *const app_keys[] = {"http", "tls", NULL};
    struct cfg c = {err, err_len, calloc(1, sizeof(struct runtime)), root, prev, bind_sockets};
    err[0] = '\0';
    if (c.rt == NULL) {
        fail(&c, "out of memory");
        return NULL;
    }
    atomic_init(&c.rt->refs, 1);
    json_t *admin = json_object_get(root, "admin"), *apps = json_object_get(root, "apps");
    if (only_keys(&c, root, "(config)", root_keys) != 0 ||
        (admin != NULL && only_keys(&c, admin, "admin", admin_keys) != 0) ||
        (apps == NULL && fail(&c, "apps.http: the config has no HTTP servers") != 0) ||
        only_keys(&c, apps, "apps", app_keys) != 0 ||
        load_certs(&c, json_object_get(apps, "tls")) != 0) {
        goto fail;
    }
    json_t *http = json_object_get(apps, "http");
    if (http == NULL) {
        fail(&c, "apps.http: the config has no HTTP servers");
        goto fail;
    }
    if (servers(&c, http) != 0) {
        goto fail;
    }
    return c.rt;
fail:
    runtime_free(c.rt);
    return NULL;
}

/* ---- reading files ---------------------------------------------------------------------- */

static int is_caddyfile_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(base, "Caddyfile") == 0 || strncmp(base, "Caddyfile.", 10) == 0;
}

static char *slurp(const char *path, size_t *out_len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct sbuf b = {0};
    b.limit = 64u << 20;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        sbuf_add(&b, chunk, n);
    }
    int bad = ferror(f) || b.failed;
    fclose(f);
    sbuf_addc(&b, '\0');
    if (bad || b.failed) {
        snprintf(err, err_len, "%s: %s", path, b.failed ? "too large or out of memory"
                                                        : "read error");
        sbuf_free(&b);
        return NULL;
    }
    *out_len = b.len - 1;
    return b.p;
}

json_t *config_read(const char *path, const char *adapter, char *err, size_t err_len)
{
    size_t len = 0;
    char *text = slurp(path, &len, err, err_len);
    if (text == NULL) {
        return NULL;
    }
    json_t *root = NULL;
    if (adapter != NULL && strcmp(adapter, "caddyfile") != 0 && strcmp(adapter, "json") != 0) {
        snprintf(err, err_len, "--adapter %s: only caddyfile and json are supported", adapter);
    } else if ((adapter != NULL && strcmp(adapter, "caddyfile") == 0) ||
               (adapter == NULL && is_caddyfile_name(path))) {
        root = caddyfile_adapt(text, len, path, err, err_len);
    } else {
        json_error_t je;
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (root == NULL) {
            snprintf(err, err_len, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        }
    }
    free(text);
    return root;
}

/* ---- lifetime --------------------------------------------------------------------------- */

static void handler_free(struct handler *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->num_upstreams; i++) {
        free(h->upstreams[i].dial);
    }
    free(h->upstreams);
    for (size_t i = 0; i < h->num_set; i++) {
        free(h->set[i].name);
        tmpl_free(h->set[i].value);
    }
    for (size_t i = 0; i < h->num_add; i++) {
        free(h->add[i].name);
        tmpl_free(h->add[i].value);
    }
    free(h->set);
    free(h->add);
    free_strings(h->del, h->num_del);
    free(h);
}

static void srv_free(struct srv *s)
{
    for (size_t i = 0; i < s->num_routes; i++) {
        free_strings(s->routes[i].hosts, s->routes[i].num_hosts);
        handler_free(s->routes[i].handler);
    }
    free(s->routes);
    for (size_t i = 0; i < s->num_pols; i++) {
        struct conn_policy *p = &s->pols[i];
        free(p->certs);
        free(p->alpn);
        free(p->curves);
        free(p->ciphers);
        free(p->default_sni);
        free(p->fallback_sni);
    }
    free(s->pols);
    SSL_CTX_free(s->ssl_ctx);
    mtls_ctx_free(s->mctx);
    free_strings(s->strip, s->num_strip);
    free(s->listeners);
    free(s->name);
}

void runtime_up_ref(struct runtime *rt)
{
    atomic_fetch_add(&rt->refs, 1);
}

void runtime_free(struct runtime *rt)
{
    if (rt == NULL || atomic_fetch_sub(&rt->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < rt->num_srvs; i++) {
        srv_free(&rt->srvs[i]);
    }
    free(rt->srvs);
    for (size_t i = 0; i < rt->num_certs; i++) {
        tls_cert_free(&rt->certs[i]);
    }
    free(rt->certs);
    for (size_t i = 0; i < rt->num_listeners; i++) {
        listen_release(&rt->listeners[i]);
    }
    free(rt->listeners);
    free(rt);
}

/* DESIGN.md §6: Caddy trusts any pool certificate as an anchor (a partial chain); say so. */
static void warn_partial_anchors(const struct srv *s, int fd)
{
    char *text = NULL;
    size_t len = 0;
    if (mtls_ctx_describe_json(s->mctx, &text, &len, NULL) != MTLS_OK) {
        return;
    }
    json_t *d = json_loadb(text, len, 0, NULL);
    mtls_free(text);
    size_t i, j;
    json_t *pol, *a;
    json_array_foreach(json_object_get(d, "policies"), i, pol) {
        json_array_foreach(json_object_get(pol, "trust_anchors"), j, a) {
            if (json_is_false(json_object_get(a, "self_signed"))) {
                dprintf(fd, "mtls-proxy: warning: %s policy %zu trusts \"%s\" (sha256 %s), which is "
                        "not self-signed: clients chaining to it are accepted without its issuer "
                        "(partial chain, as in Caddy)\n", s->name, i,
                        json_string_value(json_object_get(a, "subject")),
                        json_string_value(json_object_get(a, "sha256")));
            }
        }
    }
    json_decref(d);
}

void runtime_describe(const struct runtime *rt, int fd)
{
    static const char *const modes[] = {"off", "request", "require", "verify_if_given",
                                        "require_and_verify"};
    for (size_t i = 0; i < rt->num_srvs; i++) {
        const struct srv *s = &rt->srvs[i];
        struct sbuf b = {0};
        for (size_t j = 0; j < s->num_pols; j++) {
            int m = mtls_ctx_policy_mode(s->mctx, j);
            sbuf_adds(&b, j ? ", " : "");
            sbuf_adds(&b, m >= 0 && m <= 4 ? modes[m] : "?");
        }
        sbuf_addc(&b, '\0');
        for (size_t j = 0; j < s->num_listeners; j++) {
            dprintf(fd, "mtls-proxy: %s listening on https://%s (%zu route%s, client_auth: %s%s)\n",
                    s->name, rt->listeners[s->listeners[j]].addr, s->num_routes,
                    s->num_routes == 1 ? "" : "s", b.p ? b.p : "", s->strict_sni_host ?
                    "; Host must match SNI" : "");
        }
        sbuf_free(&b);
        warn_partial_anchors(s, fd);
    }
}
