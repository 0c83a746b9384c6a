/*
 * ngx_http_mtls_module - Caddy's TLS client authentication for nginx, through libmtls.
 *
 * Directive (http, server):  mtls_policy FILE [SERVER] | off;
 *   FILE is a Caddy `client_authentication` object, a `tls_connection_policies` array or a
 *   whole Caddy config (SERVER: which of its servers, e.g. srv0, when it has several). The
 *   policy is loaded while nginx reads its configuration (a bad policy fails `nginx -t` and a
 *   reload, naming FILE and libmtls's message) and attached to the server's SSL_CTX with
 *   mtls_ssl_ctx_attach() once the ssl module has created it (postconfiguration), so
 *   libmtls judges every client certificate inside the handshake, as Caddy does.
 *
 * Variables: $mtls_<placeholder> for every Caddy placeholder libmtls renders (the name
 *   without "http.request.tls.", '.' -> '_'), $mtls_client_san_<list>_<N> for the Nth entry
 *   of a SAN list, $mtls_verify and $mtls_tls_library. See README.md.
 *
 * What nginx does around the handshake, and what this module does about it:
 * - nginx's SNI callback (ngx_http_ssl_servername) switches the connection to the SSL_CTX of
 *   the server named by SNI and resets the verify mode and options from that SSL_CTX, which
 *   would undo libmtls's per-connection settings. The module wraps that callback and lets
 *   libmtls redo its ClientHello work for the server nginx switched to.
 * - A session resumed across that switch was never judged by the new server's policy: the
 *   handshake is refused when that policy asks for a client certificate.
 * - A request whose Host selects a server with mtls_policy other than the one the handshake
 *   was authenticated for gets 421 (nginx itself checks that only for ssl_verify_client).
 * - A request on a connection whose verdict is not "accepted" gets 403 (fail closed: libmtls
 *   refuses such clients inside the handshake, so this only catches a handshake that escaped
 *   it).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mtls/mtls.h>
#include <mtls/openssl.h>

#if !(NGX_HTTP_SSL)
#error "ngx_http_mtls_module needs nginx configured --with-http_ssl_module"
#endif


#define NGX_HTTP_MTLS_PH_PREFIX      "http.request.tls."
#define NGX_HTTP_MTLS_VERIFIED_PH    "http.request.tls.client.verified"
#define NGX_HTTP_MTLS_MAX_INDEX_LEN  10


typedef struct {
    mtls_ctx                 *ctx;       /* NULL: no policy here ("off" or none) */
    ngx_str_t                 file;
    ngx_uint_t                set;       /* mtls_policy given at this level */
} ngx_http_mtls_srv_conf_t;


/* A SAN list placeholder and the prefix of its indexed variables. */
typedef struct {
    ngx_str_t                 prefix;    /* e.g. "mtls_client_san_dns_names_" */
    const char               *placeholder;
} ngx_http_mtls_list_t;


typedef struct {
    ngx_array_t               lists;     /* ngx_http_mtls_list_t */
    ngx_uint_t                attached;  /* servers whose SSL_CTX got a policy */
} ngx_http_mtls_main_conf_t;


static ngx_int_t ngx_http_mtls_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_mtls_init(ngx_conf_t *cf);
static void *ngx_http_mtls_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_mtls_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_mtls_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_mtls_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_mtls_cleanup_ctx(void *data);
static int ngx_http_mtls_servername(ngx_ssl_conn_t *ssl_conn, int *ad,
    void *arg);
static ngx_int_t ngx_http_mtls_post_read_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mtls_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mtls_list_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mtls_tls_library_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_command_t  ngx_http_mtls_commands[] = {

    { ngx_string("mtls_policy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_mtls_policy,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mtls_module_ctx = {
    ngx_http_mtls_add_variables,           /* preconfiguration */
    ngx_http_mtls_init,                    /* postconfiguration */

    ngx_http_mtls_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_mtls_create_srv_conf,         /* create server configuration */
    ngx_http_mtls_merge_srv_conf,          /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_mtls_module = {
    NGX_MODULE_V1,
    &ngx_http_mtls_module_ctx,             /* module context */
    ngx_http_mtls_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* ---------------------------------------------------------------------------------------
 * configuration
 */

static void *
ngx_http_mtls_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mtls_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtls_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mmcf->lists, cf->pool, 4, sizeof(ngx_http_mtls_list_t))
        != NGX_OK)
    {
        return NULL;
    }

    return mmcf;
}


static void *
ngx_http_mtls_create_srv_conf(ngx_conf_t *cf)
{
    /* ctx = NULL, file = "", set = 0 */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_mtls_srv_conf_t));
}


static char *
ngx_http_mtls_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mtls_srv_conf_t  *prev = parent;
    ngx_http_mtls_srv_conf_t  *conf = child;

    if (!conf->set) {
        conf->ctx = prev->ctx;
        conf->file = prev->file;
        conf->set = prev->set;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_mtls_cleanup_ctx(void *data)
{
    mtls_ctx_free(data);
}


static char *
ngx_http_mtls_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtls_srv_conf_t  *mscf = conf;

    char                *path, *server, *msg;
    size_t               n;
    mtls_ctx            *ctx;
    ngx_str_t           *value, file;
    mtls_error           err;
    ngx_pool_cleanup_t  *cln;

    if (mscf->set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0)
    {
        mscf->set = 1;
        mscf->ctx = NULL;
        return NGX_CONF_OK;
    }

    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path = ngx_pnalloc(cf->pool, file.len + 1);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(path, file.data, file.len);
    path[file.len] = '\0';

    server = NULL;

    if (cf->args->nelts == 3) {
        server = ngx_pnalloc(cf->pool, value[2].len + 1);
        if (server == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(server, value[2].data, value[2].len);
        server[value[2].len] = '\0';
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&err, sizeof(mtls_error));

    ctx = mtls_ctx_new_from_file(path, server, &err);

    if (ctx == NULL) {
        /* libmtls's message may start with the path too: say it once */
        msg = err.message;
        n = ngx_strlen(path);

        if (ngx_strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') {
            msg += n + 2;
        }

        if (err.line > 0 && ngx_strstr(msg, "line") == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mtls_policy \"%s\": %s (line %d, column %d) "
                               "[%s]", path, msg, err.line, err.column,
                               mtls_error_name(err.code));

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mtls_policy \"%s\": %s [%s]", path, msg,
                               mtls_error_name(err.code));
        }

        return NGX_CONF_ERROR;
    }

    /* the reference is dropped with the configuration (old cycle on reload) */
    cln->handler = ngx_http_mtls_cleanup_ctx;
    cln->data = ctx;

    mscf->set = 1;
    mscf->ctx = ctx;
    mscf->file = file;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mtls_init(ngx_conf_t *cf)
{
    ngx_uint_t                  s, nmtls;
    mtls_error                  err;
    ngx_http_handler_pt        *h;
    ngx_http_ssl_srv_conf_t    *sscf;
    ngx_http_mtls_srv_conf_t   *mscf;
    ngx_http_mtls_main_conf_t  *mmcf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mtls_module);
    cscfp = cmcf->servers.elts;
    nmtls = 0;

    /*
     * Every server's SSL_CTX exists by now: the ssl module creates it while merging the
     * server configurations, which nginx does for all modules before any postconfiguration.
     */
    for (s = 0; s < cmcf->servers.nelts; s++) {
        mscf = cscfp[s]->ctx->srv_conf[ngx_http_mtls_module.ctx_index];
        sscf = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (mscf->ctx == NULL || sscf->ssl.ctx == NULL) {
            /* no policy, or a plain-HTTP server (nothing to authenticate) */
            continue;
        }

        if (sscf->verify) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "mtls_policy \"%V\" cannot be combined with "
                          "ssl_verify_client in server \"%V\": libmtls "
                          "decides on client certificates", &mscf->file,
                          &cscfp[s]->server_name);
            return NGX_ERROR;
        }

        ngx_memzero(&err, sizeof(mtls_error));

        if (mtls_ssl_ctx_attach(sscf->ssl.ctx, mscf->ctx, &err) != MTLS_OK) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "mtls_policy \"%V\": attaching to server \"%V\" "
                          "failed: %s [%s]", &mscf->file,
                          &cscfp[s]->server_name, err.message,
                          mtls_error_name(err.code));
            return NGX_ERROR;
        }

        nmtls++;
    }

    mmcf->attached = nmtls;

    if (nmtls == 0) {
        return NGX_OK;
    }

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME
    /*
     * A handshake starts on the SSL_CTX of the listening socket's default server; nginx's
     * SNI callback, which that SSL_CTX carries, then switches to the named server's. Each
     * SSL_CTX of the block gets the wrapper, whichever server is a default one.
     */
    for (s = 0; s < cmcf->servers.nelts; s++) {
        sscf = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (sscf->ssl.ctx == NULL) {
            continue;
        }

        if (SSL_CTX_set_tlsext_servername_callback(sscf->ssl.ctx,
                                                   ngx_http_mtls_servername)
            == 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "mtls_policy: SSL_CTX_set_tlsext_servername_callback "
                          "failed");
            return NGX_ERROR;
        }
    }
#endif

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mtls_post_read_handler;

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "mtls: libmtls %s on %s: client authentication policy "
                  "attached to %ui server(s)", mtls_version(),
                  mtls_tls_library(), nmtls);

    return NGX_OK;
}


/* ---------------------------------------------------------------------------------------
 * handshake
 */

#ifdef SSL_CTRL_SET_TLSEXT_HOSTNAME

static int
ngx_http_mtls_servername(ngx_ssl_conn_t *ssl_conn, int *ad, void *arg)
{
    int                        rc;
    size_t                     index;
    ngx_str_t                 *before;
    ngx_connection_t          *c;
    ngx_http_connection_t     *hc;
    ngx_http_mtls_srv_conf_t  *mscf;

    c = ngx_ssl_get_connection(ssl_conn);
    hc = c->data;
    before = hc->ssl_servername;

    rc = ngx_http_ssl_servername(ssl_conn, ad, arg);

    if (rc == SSL_TLSEXT_ERR_ALERT_FATAL
        || hc->ssl_servername == NULL || hc->ssl_servername == before)
    {
        /* nginx kept the connection on its first server: libmtls's work stands */
        return rc;
    }

    /* nginx switched to the SNI's server and reset verify mode and options */

    mscf = ngx_http_get_module_srv_conf(hc->conf_ctx, ngx_http_mtls_module);

    if (mscf->ctx == NULL) {
        /* CA names that libmtls may have set for the first server do not apply here */
        SSL_set_client_CA_list(ssl_conn, NULL);
        return rc;
    }

    *ad = SSL_AD_HANDSHAKE_FAILURE;

    if (mtls_ssl_on_client_hello(ssl_conn, ad, NULL)
        != SSL_CLIENT_HELLO_SUCCESS)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "mtls: handshake refused for server name \"%V\" "
                      "(no matching connection policy in \"%V\")",
                      hc->ssl_servername, &mscf->file);
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    /*
     * OpenSSL decided on resumption before this callback, by the first server's session
     * context: a session resumed here was not judged by this server's policy.
     */
    if (SSL_session_reused(ssl_conn)
        && mtls_ssl_get_policy_index(ssl_conn, &index)
        && mtls_ctx_policy_mode(mscf->ctx, index) != MTLS_MODE_OFF)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "mtls: refused to resume a session of another server "
                      "for server name \"%V\"", hc->ssl_servername);
        *ad = SSL_AD_ACCESS_DENIED;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    return rc;
}

#endif


static ngx_int_t
ngx_http_mtls_post_read_handler(ngx_http_request_t *r)
{
    mtls_peer                 *peer;
    ngx_http_ssl_srv_conf_t   *sscf;
    ngx_http_mtls_srv_conf_t  *mscf;

    if (r != r->main || r->connection->ssl == NULL) {
        return NGX_DECLINED;
    }

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mtls_module);

    if (mscf->ctx == NULL) {
        return NGX_DECLINED;
    }

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_ssl_module);

    if (SSL_get_SSL_CTX(r->connection->ssl->connection) != sscf->ssl.ctx) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mtls: client sent Host \"%V\" of a server its TLS "
                      "handshake was not authenticated for",
                      &r->headers_in.server);
        return NGX_HTTP_MISDIRECTED_REQUEST;
    }

    /*
     * Fail closed: libmtls refuses a client inside the handshake, so a request never meets a
     * refused verdict, unless a handshake escaped libmtls (a bug, or a resumption the checks
     * above missed).
     */
    peer = mtls_ssl_get0_peer(r->connection->ssl->connection);

    if (peer == NULL || !mtls_peer_accepted(peer)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mtls: request on a connection that policy \"%V\" did "
                      "not accept (%s): refused", &mscf->file,
                      peer ? mtls_error_name(mtls_peer_reason(peer)) : "no verdict");
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_DECLINED;
}


/* ---------------------------------------------------------------------------------------
 * variables
 */

static mtls_peer *
ngx_http_mtls_peer(ngx_http_request_t *r)
{
    ngx_http_mtls_srv_conf_t  *mscf;

    if (r->connection->ssl == NULL) {
        return NULL;
    }

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mtls_module);

    if (mscf->ctx == NULL) {
        return NULL;
    }

    return mtls_ssl_get0_peer(r->connection->ssl->connection);
}


/*
 * Caddy's strings byte for byte, except that control bytes (below 0x20, and 0x7f) are
 * written as \xHH, as mtls-proxy does (DESIGN.md section 6): a DN may hold CR or LF, and
 * nginx writes variables into headers and logs unchecked.
 */
static ngx_int_t
ngx_http_mtls_set_value(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    const char *s, size_t len)
{
    u_char      *p;
    size_t       i, nctl;
    ngx_uint_t   c;

    static const u_char  hex[] = "0123456789abcdef";

    nctl = 0;

    for (i = 0; i < len; i++) {
        c = (u_char) s[i];
        if (c < 0x20 || c == 0x7f) {
            nctl++;
        }
    }

    if (nctl == 0) {
        /* borrowed from the peer, which lives as long as the connection */
        v->data = (u_char *) s;
        v->len = len;

    } else {
        p = ngx_pnalloc(r->pool, len + 3 * nctl);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;

        for (i = 0; i < len; i++) {
            c = (u_char) s[i];

            if (c < 0x20 || c == 0x7f) {
                *p++ = '\\';
                *p++ = 'x';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 0xf];

            } else {
                *p++ = (u_char) c;
            }
        }

        v->len = p - v->data;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtls_render(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    const char *placeholder)
{
    size_t       len;
    mtls_peer   *peer;
    const char  *s;

    peer = ngx_http_mtls_peer(r);

    if (peer == NULL
        || mtls_peer_get(peer, placeholder, &s, &len, NULL) != MTLS_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_mtls_set_value(r, v, s, len);
}


static ngx_int_t
ngx_http_mtls_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    return ngx_http_mtls_render(r, v, (const char *) data);
}


/* $mtls_client_san_<list>_<N>: data is the variable's whole name (a prefix variable) */
static ngx_int_t
ngx_http_mtls_list_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    u_char                     *p, *last;
    size_t                      plen, ilen;
    ngx_uint_t                  i, k;
    ngx_http_mtls_list_t       *list;
    ngx_http_mtls_main_conf_t  *mmcf;
    u_char                      ph[128];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtls_module);
    list = mmcf->lists.elts;

    for (i = 0; i < mmcf->lists.nelts; i++) {
        if (name->len <= list[i].prefix.len
            || ngx_strncmp(name->data, list[i].prefix.data,
                           list[i].prefix.len) != 0)
        {
            continue;
        }

        ilen = name->len - list[i].prefix.len;
        plen = ngx_strlen(list[i].placeholder);

        if (ilen > NGX_HTTP_MTLS_MAX_INDEX_LEN || plen + ilen + 2 > sizeof(ph)) {
            break;
        }

        for (k = 0; k < ilen; k++) {
            if (name->data[list[i].prefix.len + k] < '0'
                || name->data[list[i].prefix.len + k] > '9')
            {
                goto not_found;
            }
        }

        last = ph + sizeof(ph);
        p = ngx_cpymem(ph, list[i].placeholder, plen);
        *p++ = '.';
        p = ngx_cpymem(p, name->data + list[i].prefix.len, ilen);

        if (p >= last) {
            break;
        }

        *p = '\0';

        return ngx_http_mtls_render(r, v, (const char *) ph);
    }

not_found:

    v->not_found = 1;
    return NGX_OK;
}


static ngx_int_t
ngx_http_mtls_tls_library_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char  *s;

    s = mtls_tls_library();

    v->data = (u_char *) s;
    v->len = ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtls_add_one(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_get_variable_pt handler, uintptr_t data, ngx_uint_t flags)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, name, flags);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = handler;
    var->data = data;

    return NGX_OK;
}


/* "http.request.tls.client.san.dns_names" -> "mtls_client_san_dns_names" */
static ngx_int_t
ngx_http_mtls_var_name(ngx_conf_t *cf, const char *ph, ngx_str_t *out,
    size_t extra)
{
    size_t      skip, len, i;
    u_char     *p;

    skip = sizeof(NGX_HTTP_MTLS_PH_PREFIX) - 1;

    if (ngx_strncmp(ph, NGX_HTTP_MTLS_PH_PREFIX, skip) != 0) {
        skip = 0;
    }

    len = ngx_strlen(ph) - skip;

    p = ngx_pnalloc(cf->pool, sizeof("mtls_") - 1 + len + extra);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    p = ngx_cpymem(p, "mtls_", sizeof("mtls_") - 1);

    for (i = 0; i < len; i++) {
        *p++ = (ph[skip + i] == '.') ? '_' : ngx_tolower(ph[skip + i]);
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtls_add_variables(ngx_conf_t *cf)
{
    size_t                      i, n;
    ngx_str_t                   name;
    const char                 *ph;
    ngx_http_mtls_list_t       *list;
    ngx_http_mtls_main_conf_t  *mmcf;

    static ngx_str_t  verify = ngx_string("mtls_verify");
    static ngx_str_t  library = ngx_string("mtls_tls_library");

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mtls_module);
    n = mtls_placeholder_count();

    for (i = 0; i < n; i++) {
        ph = mtls_placeholder_name(i);
        if (ph == NULL) {
            break;
        }

        if (ngx_http_mtls_var_name(cf, ph, &name, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_mtls_add_one(cf, &name, ngx_http_mtls_variable,
                                  (uintptr_t) ph, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_strstr(ph, ".san.") == NULL) {
            continue;
        }

        /* the list's indexed forms: $mtls_client_san_dns_names_0, ... */
        name.data[name.len++] = '_';

        list = ngx_array_push(&mmcf->lists);
        if (list == NULL) {
            return NGX_ERROR;
        }

        list->prefix = name;
        list->placeholder = ph;

        if (ngx_http_mtls_add_one(cf, &name, ngx_http_mtls_list_variable, 0,
                                  NGX_HTTP_VAR_PREFIX)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* nginx's $ssl_client_verify spelling of http.request.tls.client.verified */
    if (ngx_http_mtls_add_one(cf, &verify, ngx_http_mtls_variable,
                              (uintptr_t) NGX_HTTP_MTLS_VERIFIED_PH, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mtls_add_one(cf, &library,
                                 ngx_http_mtls_tls_library_variable, 0, 0);
}
