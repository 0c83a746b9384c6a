/*
 * caddyfile_proxy.c - the `reverse_proxy` directive (Caddy 2.6.2 reverseproxy
 * UnmarshalCaddyfile, subset): upstreams (args and `to`), header_up, lb_policy
 * first|round_robin|random, transport http timeouts.
 *
 * Stricter than Caddy on purpose: upstreams must be plain TCP host:port (or http://);
 * https://, h2c://, unix sockets, network prefixes, placeholders and non-numeric ports are
 * refused instead of producing a dial string the proxy cannot use.
 */
#include "caddyfile_int.h"

#include <string.h>
#include <strings.h>

struct rp {
    struct cf_ctx *ctx;
    json_t *upstreams;
    const char *common_scheme;
    json_t *headers; /* the "request" HeaderOps object */
    json_t *lb;
    json_t *transport;
};

static const char *const unsupported_rp_subdirs[] = {
    "header_down", "dynamic", "lb_retries", "lb_try_duration", "lb_try_interval",
    "lb_retry_match", "health_uri", "health_path", "health_port", "health_interval",
    "health_timeout", "health_status", "health_body", "health_headers", "max_fails",
    "fail_duration", "unhealthy_request_count", "unhealthy_status", "unhealthy_latency",
    "flush_interval", "request_buffers", "response_buffers", "buffer_requests",
    "buffer_responses", "max_buffer_size", "trusted_proxies", "method", "replace_status",
    "handle_response", "copy_response", "copy_response_headers", "stream_timeout",
    "stream_close_delay", NULL,
};

static const char *const unsupported_transport_subdirs[] = {
    "read_buffer", "write_buffer", "max_response_header", "dial_fallback_delay",
    "expect_continue_timeout", "resolvers", "tls", "tls_client_auth", "tls_insecure_skip_verify",
    "tls_timeout", "tls_trusted_ca_certs", "tls_server_name", "tls_renegotiation",
    "tls_except_ports", "keepalive", "keepalive_interval", "keepalive_idle_conns",
    "keepalive_idle_conns_per_host", "versions", "compression", "max_conns_per_host", NULL,
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

static int valid_port(const char *p)
{
    long v;
    if (p[0] < '0' || p[0] > '9' || cf_atoi(p, &v) != 0) {
        return 0;
    }
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') {
            return 0;
        }
    }
    return v >= 1 && v <= 65535;
}

/* http://HOST[:PORT] (Caddy: url.Parse, then scheme/port checks) -> dial address */
static int parse_url_upstream(struct cf_disp *d, const char *addr, const char **dial,
                              const char **scheme)
{
    struct cf_ctx *ctx = d->ctx;
    const char *sep = strstr(addr, "://");
    const char *sch = cf_strndup(ctx, addr, (size_t)(sep - addr));
    if (sch == NULL) {
        return -1;
    }
    if (strchr(addr, '{') != NULL) {
        return cf_disp_err(d, "due to parsing difficulties, placeholders are not allowed when "
                              "an upstream address contains a scheme");
    }
    if (strcasecmp(sch, "http") != 0) {
        const char *what = cf_printf(ctx, "upstream scheme %s:// (in %s)", sch, addr);
        return cf_unsupported(ctx, cf_disp_token(d), what ? what : "upstream scheme");
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (strcmp(rest, "") != 0 && strcmp(rest, "?") != 0 && strcmp(rest, "#") != 0 &&
        strcmp(rest, "?#") != 0) {
        return cf_disp_err(d, "for now, URLs for proxy upstreams only support scheme, host, "
                              "and port components");
    }
    char *a = cf_strndup(ctx, auth, alen);
    if (a == NULL) {
        return -1;
    }
    if (strchr(a, '@') != NULL || strchr(a, '%') != NULL) {
        return cf_disp_err(d, "upstream %s: user info and escapes are not supported by "
                              "mtls-proxy",
                           addr);
    }
    const char *host = a, *port = "";
    if (a[0] == '[') {
        char *close = strchr(a, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            return cf_disp_err(d, "parsing upstream URL: invalid host in %s", addr);
        }
        *close = '\0';
        host = a + 1;
        port = close[1] == ':' ? close + 2 : "";
    } else {
        char *colon = strrchr(a, ':');
        if (colon != NULL) {
            *colon = '\0';
            port = colon + 1;
        }
        if (strchr(a, ':') != NULL || strchr(a, '[') || strchr(a, ']')) {
            return cf_disp_err(d, "parsing upstream URL: invalid host in %s", addr);
        }
    }
    for (const char *q = port; *q; q++) {
        if (*q < '0' || *q > '9') {
            return cf_disp_err(d, "parsing upstream URL: invalid port \":%s\" after host", port);
        }
    }
    if (strcmp(port, "443") == 0) {
        return cf_disp_err(d, "upstream address has conflicting scheme (http://) and port "
                              "(:443, the HTTPS port)");
    }
    if (port[0] == '\0') {
        port = "80";
    }
    if (!valid_port(port)) {
        return cf_disp_err(d, "upstream %s: port %s is not supported by mtls-proxy", addr, port);
    }
    *dial = cf_join_host_port(ctx, host, port);
    *scheme = "http";
    return *dial != NULL ? 0 : -1;
}

static int parse_upstream(struct cf_disp *d, const char *addr, const char **dial,
                          const char **scheme)
{
    struct cf_ctx *ctx = d->ctx;
    *scheme = "";
    if (strstr(addr, "://") != NULL) {
        return parse_url_upstream(d, addr, dial, scheme);
    }
    if (strchr(addr, '/') != NULL) {
        const char *what = cf_printf(ctx, "upstream %s (network addresses)", addr);
        return cf_unsupported(ctx, cf_disp_token(d), what ? what : "network address");
    }
    if (strchr(addr, '{') != NULL) {
        const char *what = cf_printf(ctx, "upstream %s (placeholders in upstreams)", addr);
        return cf_unsupported(ctx, cf_disp_token(d), what ? what : "placeholder");
    }
    const char *host, *port;
    if (cf_split_host_port(ctx, addr, &host, &port) != 0) {
        uint8_t ip[16];
        int v4;
        if (ctx->failed) {
            return -1;
        }
        if (strchr(addr, ':') != NULL && cf_parse_ip(addr, ip, &v4) != 0) {
            return cf_disp_err(d, "upstream %s: invalid address", addr);
        }
        host = addr;
        port = "80";
    }
    if (!valid_port(port)) {
        return cf_disp_err(d, "upstream %s: port '%s' is not supported by mtls-proxy (use "
                              "1-65535)",
                           addr, port);
    }
    *dial = cf_join_host_port(ctx, host, port);
    return *dial != NULL ? 0 : -1;
}

static int append_upstream(struct cf_disp *d, struct rp *rp, const char *addr)
{
    const char *dial = NULL, *scheme = "";
    if (parse_upstream(d, addr, &dial, &scheme) != 0) {
        return -1;
    }
    if (rp->common_scheme != NULL && rp->common_scheme[0] != '\0' &&
        strcmp(scheme, rp->common_scheme) != 0) {
        return cf_disp_err(d,
                           "for now, all proxy upstreams must use the same scheme (transport "
                           "protocol); expecting '%s://' but got '%s://'",
                           rp->common_scheme, scheme);
    }
    rp->common_scheme = scheme;
    if (json_array_append_new(rp->upstreams, json_pack("{s:s}", "dial", dial)) != 0) {
        return cf_oom(d->ctx);
    }
    return 0;
}

static json_t *ops_member(json_t *ops, const char *key, int array)
{
    json_t *m = json_object_get(ops, key);
    if (m == NULL) {
        m = array ? json_array() : json_object();
        if (m == NULL || json_object_set_new(ops, key, m) != 0) {
            return NULL;
        }
    }
    return m;
}

/* headers.CaddyfileHeaderOp for request headers (2.6.2). */
static int header_up(struct cf_disp *d, struct rp *rp)
{
    struct cf_ctx *ctx = d->ctx;
    struct cf_strv args;
    if (cf_disp_remaining_args(d, &args) != 0) {
        return -1;
    }
    if (args.n < 1 || args.n > 3) {
        return cf_disp_arg_err(d);
    }
    const char *field = args.v[0];
    const char *value = args.n > 1 ? args.v[1] : "";
    const char *repl = args.n > 2 ? args.v[2] : "";
    if (rp->headers == NULL && (rp->headers = json_object()) == NULL) {
        return cf_oom(ctx);
    }
    json_t *ops = rp->headers, *m;
    if (field[0] == '+') {
        const char *key = cf_canonical_header_key(ctx, field + 1);
        m = ops_member(ops, "add", 0);
        json_t *list = m && key ? json_object_get(m, key) : NULL;
        if (m != NULL && key != NULL && list == NULL) {
            list = json_array();
            if (list == NULL || json_object_set_new(m, key, list) != 0) {
                return cf_oom(ctx);
            }
        }
        return list && json_array_append_new(list, json_string(value)) == 0 ? 0 : cf_oom(ctx);
    }
    if (field[0] == '-') {
        m = ops_member(ops, "delete", 1);
        return m && json_array_append_new(m, json_string(field + 1)) == 0 ? 0 : cf_oom(ctx);
    }
    if (field[0] == '?') {
        return cf_disp_err(d,
                           "%s: the default header modifier ('?') can only be used on response "
                           "headers; for conditional manipulation of request headers, use "
                           "matchers",
                           field);
    }
    if (repl[0] == '\0') {
        const char *key = cf_canonical_header_key(ctx, field);
        m = ops_member(ops, "set", 0);
        return m && key && json_object_set_new(m, key, json_pack("[s]", value)) == 0
                   ? 0
                   : cf_oom(ctx);
    }
    m = ops_member(ops, "replace", 0);
    json_t *list = m ? json_object_get(m, field) : NULL;
    if (m != NULL && list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(m, field, list) != 0) {
            return cf_oom(ctx);
        }
    }
    json_t *r = json_pack("{s:s, s:s}", "search_regexp", value, "replace", repl);
    return list && json_array_append_new(list, r) == 0 ? 0 : cf_oom(ctx);
}

static int lb_policy(struct cf_disp *d, struct rp *rp)
{
    if (!cf_disp_next_arg(d)) {
        return cf_disp_arg_err(d);
    }
    if (rp->lb != NULL) {
        return cf_disp_err(d, "load balancing selection policy already specified");
    }
    const char *name = cf_disp_val(d);
    if (strcmp(name, "first") != 0 && strcmp(name, "round_robin") != 0 &&
        strcmp(name, "random") != 0) {
        const char *what = cf_printf(d->ctx, "lb_policy %s", name);
        return cf_unsupported(d->ctx, cf_disp_token(d), what ? what : "lb_policy");
    }
    struct cf_disp sd;
    cf_disp_next_segment(d, &sd);
    if (sd.n > 1) {
        sd.cursor = 1;
        return cf_disp_err(&sd, "lb_policy %s takes no arguments or options", name);
    }
    rp->lb = json_pack("{s:{s:s}}", "selection_policy", "policy", name);
    return rp->lb != NULL ? 0 : cf_oom(d->ctx);
}

static int transport(struct cf_disp *d, struct rp *rp)
{
    struct cf_ctx *ctx = d->ctx;
    static const char *const timeouts[] = {"dial_timeout", "response_header_timeout",
                                           "read_timeout", "write_timeout", NULL};
    if (!cf_disp_next_arg(d)) {
        return cf_disp_arg_err(d);
    }
    if (rp->transport != NULL) {
        return cf_disp_err(d, "transport already specified");
    }
    const char *name = cf_disp_val(d);
    if (strcmp(name, "http") != 0) {
        const char *what = cf_printf(ctx, "transport %s", name);
        return cf_unsupported(ctx, cf_disp_token(d), what ? what : "transport");
    }
    if (cf_disp_next_arg(d)) {
        return cf_disp_arg_err(d);
    }
    json_t *t = json_object();
    if (t == NULL || json_object_set_new(t, "protocol", json_string("http")) != 0) {
        json_decref(t);
        return cf_oom(ctx);
    }
    rp->transport = t;
    for (int nesting = d->nesting; cf_disp_next_block(d, nesting);) {
        const char *sub = cf_disp_val(d);
        if (!in_list(timeouts, sub)) {
            if (in_list(unsupported_transport_subdirs, sub)) {
                const char *what = cf_printf(ctx, "transport http subdirective %s", sub);
                return cf_unsupported(ctx, cf_disp_token(d), what ? what : sub);
            }
            return cf_disp_err(d, "unrecognized subdirective %s", sub);
        }
        if (!cf_disp_next_arg(d)) {
            return cf_disp_arg_err(d);
        }
        int64_t ns;
        if (cf_parse_duration(ctx, cf_disp_val(d), &ns) != 0) {
            if (ctx->failed) {
                return -1;
            }
            return cf_disp_err(d, "bad timeout value '%s': invalid duration", cf_disp_val(d));
        }
        if (ns == 0) {
            json_object_del(t, sub);
        } else if (json_object_set_new(t, sub, json_integer((json_int_t)ns)) != 0) {
            return cf_oom(ctx);
        }
    }
    return 0;
}

static int rp_subdirective(struct cf_disp *d, struct rp *rp)
{
    const char *sub = cf_disp_val(d);
    if (sub[0] == '@') {
        return cf_unsupported(d->ctx, cf_disp_token(d), "reverse_proxy response matchers");
    }
    if (strcmp(sub, "to") == 0) {
        struct cf_strv args;
        if (cf_disp_remaining_args(d, &args) != 0) {
            return -1;
        }
        if (args.n == 0) {
            return cf_disp_arg_err(d);
        }
        for (size_t i = 0; i < args.n; i++) {
            if (append_upstream(d, rp, args.v[i]) != 0) {
                return -1;
            }
        }
        return 0;
    }
    if (strcmp(sub, "header_up") == 0) {
        return header_up(d, rp);
    }
    if (strcmp(sub, "lb_policy") == 0) {
        return lb_policy(d, rp);
    }
    if (strcmp(sub, "transport") == 0) {
        return transport(d, rp);
    }
    if (in_list(unsupported_rp_subdirs, sub)) {
        const char *what = cf_printf(d->ctx, "reverse_proxy subdirective %s", sub);
        return cf_unsupported(d->ctx, cf_disp_token(d), what ? what : sub);
    }
    return cf_disp_err(d, "unrecognized subdirective %s", sub);
}

static int rp_parse(struct cf_ctx *ctx, const struct cf_token *tok, size_t n, struct rp *rp)
{
    struct cf_disp d;
    cf_disp_init(&d, ctx, tok, n);
    while (cf_disp_next(&d)) {
        struct cf_strv ups;
        if (cf_disp_remaining_args(&d, &ups) != 0) {
            return -1;
        }
        for (size_t i = 0; i < ups.n; i++) {
            if (append_upstream(&d, rp, ups.v[i]) != 0) {
                return -1;
            }
        }
        while (cf_disp_next_block(&d, 0)) {
            if (rp_subdirective(&d, rp) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static json_t *rp_json(struct rp *rp)
{
    json_t *h = json_object();
    int rc = h == NULL || json_object_set_new(h, "handler", json_string("reverse_proxy")) != 0;
    if (!rc && json_array_size(rp->upstreams) > 0) {
        rc |= json_object_set(h, "upstreams", rp->upstreams);
    }
    if (!rc && rp->headers != NULL) {
        rc |= json_object_set_new(h, "headers", json_pack("{s:O}", "request", rp->headers));
    }
    if (!rc && rp->lb != NULL) {
        rc |= json_object_set(h, "load_balancing", rp->lb);
    }
    /* an HTTP transport equal to the default is not encoded */
    if (!rc && rp->transport != NULL && json_object_size(rp->transport) > 1) {
        rc |= json_object_set(h, "transport", rp->transport);
    }
    if (rc) {
        json_decref(h);
        return NULL;
    }
    return h;
}

int cf_parse_reverse_proxy(struct cf_ctx *ctx, const struct cf_segment *seg, json_t **out)
{
    const struct cf_token *tok = seg->tok;
    size_t n = seg->n;
    struct cf_token *copy = NULL;
    /* Helper.ExtractMatcherSet: an optional matcher token right after the directive */
    if (n > 1 && tok[1].line == tok[0].line && strcmp(tok[1].file, tok[0].file) == 0 &&
        strchr(tok[0].text, '\n') == NULL && strcmp(tok[1].text, "{") != 0) {
        const char *m = tok[1].text;
        if (m[0] == '/' || m[0] == '@') {
            return cf_unsupported(ctx, &tok[1], "request matchers (reverse_proxy /path or @name)");
        }
        if (strcmp(m, "*") == 0) {
            copy = cf_alloc(ctx, n * sizeof(*copy));
            if (copy == NULL) {
                return -1;
            }
            copy[0] = tok[0];
            memcpy(copy + 1, tok + 2, (n - 2) * sizeof(*copy));
            tok = copy;
            n--;
        }
    }
    struct rp rp = {ctx, json_array(), NULL, NULL, NULL, NULL};
    int rc = -1;
    if (rp.upstreams == NULL) {
        return cf_oom(ctx);
    }
    if (rp_parse(ctx, tok, n, &rp) == 0) {
        *out = rp_json(&rp);
        rc = *out != NULL ? 0 : cf_oom(ctx);
    }
    json_decref(rp.upstreams);
    json_decref(rp.headers);
    json_decref(rp.lb);
    json_decref(rp.transport);
    return rc;
}
