/*
 * conn.c - one client connection: TLS handshake, HTTP/1.1 requests read and checked,
 * rewritten for the upstream, bodies streamed both ways through bounded buffers, responses
 * rewritten for the client, keep-alive, Upgrade tunnels, timeouts. Framing lives in http.c,
 * policy in libmtls; this file only moves bytes and decides what to answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>

#include <mtls/boringssl.h>

#include "rewrite.h"
#include "worker.h"

/* Bodies move in chunks of up to four TLS records: fewer loop turns and epoll calls per
 * byte, still a small bound per connection. */
#define BODY_CHUNK (4 * IO_BUF)
#define MAX_RESP_HEAD (64 * 1024)

static void drive(struct conn *c);

/* ---- lifetime -------------------------------------------------------------------------- */

/* Every request gets one access-log line, also one cut short by either side. */
static void log_once(struct conn *c)
{
    if (!c->logged) {
        c->logged = 1;
        log_request(c);
    }
}

static void reset_request(struct conn *c)
{
    free(c->log_method); /* log_host, log_uri and log_proto live in the same block */
    c->log_method = c->log_host = c->log_uri = c->log_proto = NULL;
    sbuf_free(&c->uphead);
    c->req = REQ_NONE;
    c->resp = RESP_HEAD;
    c->status = 0;
    c->logged = 0;
    c->bytes_read = c->bytes_written = 0;
    c->resp_started = 0;
    c->body_sent = 0;
    c->handler = NULL;
    c->attempt = 0;
    c->last_timeout = 0;
}

void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    if (c->log_method != NULL && !c->logged) {
        if (c->status == 0) {
            c->status = 499; /* nginx's "client closed request": no answer was given */
        }
        log_once(c);
    }
    if (c->up != NULL) {
        up_release(c->up, 0);
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    reset_request(c);
    free(c->log_tls);
    bq_free(&c->io.rb);
    bq_free(&c->io.wb);
    bq_free(&c->in);
    bq_free(&c->out);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    w->num_conns--;
    atomic_fetch_sub(&g_conns, 1);
    runtime_free(c->srv->rt);
    c->ev.kind = 0; /* events later in this batch skip it; freed after the batch */
    c->next = w->dead;
    w->dead = c;
}

/* After a reload or during shutdown a connection serves its current request and closes
 * (as Go's Server.Shutdown does), so that clients reconnect to the new configuration. */
static int retiring(const struct conn *c)
{
    return c->w->stopping || c->srv->rt != c->w->rt;
}

static void set_timer(struct conn *c, enum timer_kind t, int ms)
{
    c->timer = t;
    c->deadline = ms > 0 ? now_ms() + ms : 0;
}

void conn_accept(struct worker *w, struct srv *s, const char *listener, int fd,
                 const struct sockaddr_storage *ss)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->ev.kind = EV_CLIENT;
    c->w = w;
    c->srv = s;
    c->listener = listener;
    c->fd = fd;
    runtime_up_ref(s->rt);
    atomic_fetch_add(&g_conns, 1);
    c->next = w->conns;
    if (w->conns != NULL) {
        w->conns->prev = c;
    }
    w->conns = c;
    w->num_conns++;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, c->remote_ip, sizeof(c->remote_ip));
        if (strncmp(c->remote_ip, "::ffff:", 7) == 0 && strchr(c->remote_ip, '.') != NULL) {
            memmove(c->remote_ip, c->remote_ip + 7, strlen(c->remote_ip + 7) + 1);
        }
        snprintf(c->remote_port, sizeof(c->remote_port), "%u", ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, c->remote_ip, sizeof(c->remote_ip));
        snprintf(c->remote_port, sizeof(c->remote_port), "%u", ntohs(a->sin_port));
    }
    c->ssl = SSL_new(s->ssl_ctx);
    if (c->ssl == NULL || !cio_attach(c->ssl, &c->io, fd)) {
        ERR_clear_error();
        conn_close(c);
        return;
    }
    SSL_set_app_data(c->ssl, c); /* for conn_rebind */
    SSL_set_accept_state(c->ssl);
    set_timer(c, T_HANDSHAKE, g_opts.handshake_timeout_ms);
    c->state = C_HANDSHAKE;
    drive(c);
}

/* ---- client I/O -------------------------------------------------------------------------- */

/* Returns 1 progress, 0 would block, -1 EOF or error. */
static int client_read(struct conn *c)
{
    if (!bq_room(&c->in, BODY_CHUNK / 2)) {
        return -1;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, c->in.p + c->in.len, (int)(c->in.cap - c->in.len));
    if (n > 0) {
        c->in.len += (size_t)n;
        c->bytes_read += (uint64_t)n;
        return 1;
    }
    int e = SSL_get_error(c->ssl, n);
    c->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    c->client_eof = 1;
    return -1;
}

/* Nothing for the client is waiting, neither plaintext nor sealed records. */
static int client_flushed(const struct conn *c)
{
    return bq_size(&c->out) == 0 && bq_size(&c->io.wb) == 0;
}

static int client_write(struct conn *c)
{
    size_t n = bq_size(&c->out);
    int f = cio_flush(&c->io);
    if (f <= 0 || n == 0) {
        c->client_eof |= f < 0;
        return f < 0 ? -1 : 0;
    }
    ERR_clear_error();
    /* SSL_write seals one record per call (SSL_MODE_ENABLE_PARTIAL_WRITE): up to four
     * records collect in the BIO and leave in one send (tlsio.c), not one send each. */
    c->io.cork = n > IO_BUF;
    int w, records = 0;
    while ((w = SSL_write(c->ssl, c->out.p + c->out.off, (int)(n > IO_BUF ? IO_BUF : n))) > 0) {
        bq_consume(&c->out, (size_t)w);
        n -= (size_t)w;
        if (n == 0 || !c->io.cork || ++records == 4) {
            break;
        }
    }
    c->io.cork = 0;
    if (w > 0) {
        c->client_eof |= cio_flush(&c->io) < 0;
        return c->client_eof ? -1 : 1;
    }
    c->client_eof |= cio_flush(&c->io) < 0;
    int e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    c->client_eof = 1;
    return -1;
}

static void out_add(struct conn *c, const void *p, size_t n)
{
    if (n != 0 && bq_room(&c->out, n)) {
        memcpy(c->out.p + c->out.len, p, n);
        c->out.len += n;
    } else if (n != 0) {
        c->close_after = 1;
        c->state = C_CLOSING;
    }
}

/* ---- answers the proxy writes itself ------------------------------------------------------ */

/*
 * Answers `status` itself. The connection stays open when the request was read to its end
 * and the client keeps alive (Go's server does the same after a 502 or 421); otherwise it
 * closes after the answer (the request may be unread).
 */
static void respond_error(struct conn *c, int status, const char *why)
{
    int keep = c->req == REQ_DONE && c->req_keep_alive && !retiring(c) && !c->resp_started;
    struct sbuf b = {0};
    c->bytes_written = rewrite_error(&b, status, why, !keep); /* Caddy's "size": body bytes */
    c->status = status;
    out_add(c, b.p, b.len);
    sbuf_free(&b);
    if (c->up != NULL) {
        up_release(c->up, 0);
        c->up = NULL;
    }
    log_once(c);
    c->served++;
    if (keep && c->state != C_CLOSING) {
        reset_request(c);
        c->state = C_REQ_HEAD;
        set_timer(c, T_IDLE, c->srv->idle_timeout_ms);
        return;
    }
    c->resp_started = 1;
    c->close_after = 1;
    c->state = C_CLOSING;
}

static void start_upstream(struct conn *c);

/* Copies `n` bytes of `s` to `*at` as a C string; returns the copy. */
static char *put_str(char **at, const char *s, size_t n)
{
    char *p = *at;
    memcpy(p, s, n);
    p[n] = '\0';
    *at = p + n + 1;
    return p;
}

/* The access-log fields in one block (freed through log_method). */
static void keep_log_fields(struct conn *c, const struct h1_request *r)
{
    size_t host_len = r->host ? r->host_len : 0;
    char *p = malloc(r->method_len + host_len + r->target_len + 9 + 4);
    if (p == NULL) {
        return; /* logged with empty fields */
    }
    c->log_method = put_str(&p, r->method, r->method_len);
    c->log_host = put_str(&p, r->host ? r->host : "", host_len);
    c->log_uri = put_str(&p, r->target, r->target_len);
    c->log_proto = put_str(&p, r->minor == 0 ? "HTTP/1.0" : "HTTP/1.1", 8);
}

/* Checks a parsed request and sends it on its way. */
static void handle_request(struct conn *c, struct h1_request *r)
{
    const char *host;
    size_t host_len;
    keep_log_fields(c, r);
    int bad_host = rewrite_normalize(r) != 0;
    c->t_start = now_ms();
    c->req = r->body == H1_BODY_NONE ? REQ_DONE : REQ_BODY;
    c->req_keep_alive = r->keep_alive && !retiring(c);
    c->req_upgrade = r->upgrade;
    c->req_minor = r->minor;
    c->req_head_method = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    if (bad_host) {
        respond_error(c, 400, "invalid byte in the host of the request target");
        return;
    }
    rewrite_hostname(r, &host, &host_len);
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    if (c->srv->strict_sni_host && rewrite_sni_mismatch(sni, host, host_len)) {
        respond_error(c, 421, "the Host header does not match the TLS server name (SNI)");
        return;
    }
    const struct route *ro = rewrite_route(c->srv, host, host_len);
    if (ro == NULL) {
        respond_error(c, 404, "no site is configured for this host");
        return;
    }
    c->handler = ro->handler;
    c->first = atomic_fetch_add(&((struct handler *)ro->handler)->next, 1);
    const struct handler *h = ro->handler;
    struct req_ctx rc = {mtls_ssl_get0_peer(c->ssl), r, c->remote_ip, c->remote_port,
                         h->upstreams[c->first % h->num_upstreams].dial};
    rewrite_request_head(&c->uphead, r, h, c->srv->strip, c->srv->num_strip, &rc);
    if (c->uphead.failed) {
        respond_error(c, 502, "out of memory");
        return;
    }
    h1_body_init(&c->req_body, r->body, r->content_length);
    c->resp = RESP_HEAD;
    c->state = C_PROXY;
    start_upstream(c);
}

static void read_request_head(struct conn *c)
{
    struct h1_request r;
    struct h1_error e = {0, NULL};
    if (bq_size(&c->in) == 0) {
        return;
    }
    if (c->timer == T_IDLE) {
        set_timer(c, T_HEADER, c->srv->read_header_timeout_ms);
    }
    int rc = h1_parse_request(&r, c->w->hdrs, PROXY_MAX_HEADERS, c->in.p + c->in.off,
                              bq_size(&c->in), c->srv->max_header_bytes, &e);
    if (rc == H1_INCOMPLETE) {
        return;
    }
    if (rc == H1_BAD) {
        c->t_start = now_ms();
        respond_error(c, e.status, e.why ? e.why : "malformed request");
        return;
    }
    size_t head_len = r.head_len;
    handle_request(c, &r);
    if (c->state != C_CLOSING) {
        bq_consume(&c->in, head_len);
    }
}

/* ---- upstream connection ----------------------------------------------------------------- */

static void upstream_failed(struct conn *c, int timeout)
{
    c->last_timeout = timeout;
    if (c->up != NULL) {
        up_release(c->up, 0);
        c->up = NULL;
    }
    /* A request whose body already went (partly) upstream cannot be sent again. */
    if (c->body_sent == 0 && c->attempt < c->handler->num_upstreams && !c->resp_started) {
        start_upstream(c);
        return;
    }
    if (c->resp_started) {
        c->state = C_CLOSING;
        c->close_after = 1;
        return;
    }
    respond_error(c, timeout ? 504 : 502,
                  timeout ? "the upstream did not answer in time" : "no upstream is reachable");
}

static void start_upstream(struct conn *c)
{
    const struct handler *h = c->handler;
    while (c->attempt < h->num_upstreams) {
        const struct upstream *u = &h->upstreams[(c->first + c->attempt) % h->num_upstreams];
        int err;
        c->attempt++;
        /* Without a body, a stale pooled connection costs only a retry (see upstream_io):
         * no need to probe the pool's connection first. */
        c->up = up_get(c->w, u, c->req == REQ_BODY, &err);
        if (c->up == NULL) {
            c->last_timeout = 0;
            continue;
        }
        c->up->c = c;
        c->up->in.off = c->up->in.len = 0;
        if (!bq_room(&c->up->out, c->uphead.len)) {
            break;
        }
        memcpy(c->up->out.p + c->up->out.len, c->uphead.p, c->uphead.len);
        c->up->out.len += c->uphead.len;
        if (c->up->connecting) {
            set_timer(c, T_DIAL, h->dial_timeout_ms);
        } else {
            set_timer(c, T_BODY, c->srv->idle_timeout_ms);
        }
        return;
    }
    if (c->up != NULL) {
        up_release(c->up, 0);
        c->up = NULL;
    }
    respond_error(c, c->last_timeout ? 504 : 502, "no upstream is reachable");
}

/* ---- moving bytes ------------------------------------------------------------------------ */

/* Request body: client `in` -> upstream `out`, as far as the framing allows. */
static int pump_request_body(struct conn *c)
{
    struct upconn *u = c->up;
    if (c->req != REQ_BODY || u == NULL || u->connecting || bq_size(&c->in) == 0 ||
        bq_size(&u->out) >= BODY_CHUNK) {
        return 0;
    }
    struct h1_error e = {0, NULL};
    size_t avail = bq_size(&c->in);
    if (!bq_room(&u->out, avail + 2)) {
        c->state = C_CLOSING; /* out of memory: every byte scanned must be forwarded */
        c->close_after = 1;
        return 0;
    }
    /* Request trailers are dropped (the final CRLF is written instead): a client could put
     * an identity header there, and some upstreams merge trailers into the headers. */
    int trailers = c->req_body.in_trailers;
    long n = h1_body_scan(&c->req_body, c->in.p + c->in.off, avail, &e);
    if (n < 0) {
        if (c->resp_started) {
            c->state = C_CLOSING;
            c->close_after = 1;
            return 0;
        }
        respond_error(c, 400, e.why ? e.why : "malformed request body");
        return 0;
    }
    if (n > 0 && !trailers) {
        memcpy(u->out.p + u->out.len, c->in.p + c->in.off, (size_t)n);
        u->out.len += (size_t)n;
    }
    bq_consume(&c->in, (size_t)n);
    c->body_sent += (uint64_t)n;
    if (c->req_body.done) {
        if (trailers) {
            memcpy(u->out.p + u->out.len, "\r\n", 2);
            u->out.len += 2;
        }
        c->req = REQ_DONE;
    }
    return n > 0;
}

static void finish_exchange(struct conn *c);

static void write_response_head(struct conn *c, const struct h1_response *r, int informational)
{
    struct sbuf b = {0};
    /* An upstream that closes its connection does not close the client's. */
    int close = !informational && (!c->req_keep_alive || r->body == H1_BODY_CLOSE ||
                                   retiring(c) || c->req != REQ_DONE);
    rewrite_response_head(&b, r, close && !r->upgrade);
    c->close_after |= close && !r->upgrade;
    if (b.failed) {
        c->close_after = 1;
        c->state = C_CLOSING;
    } else {
        out_add(c, b.p, b.len);
    }
    sbuf_free(&b);
}

static int read_response_head(struct conn *c)
{
    struct upconn *u = c->up;
    struct h1_response r;
    struct h1_error e = {0, NULL};
    int rc = h1_parse_response(&r, c->w->hdrs, PROXY_MAX_HEADERS, u->in.p + u->in.off,
                               bq_size(&u->in), MAX_RESP_HEAD, c->req_head_method, &e);
    if (rc == H1_INCOMPLETE) {
        return 0;
    }
    if (rc == H1_BAD) {
        respond_error(c, 502, "the upstream sent a malformed response");
        return 0;
    }
    if (r.status >= 100 && r.status < 200 && !r.upgrade) {
        write_response_head(c, &r, 1); /* 100 Continue, 103 Early Hints */
        bq_consume(&u->in, r.head_len);
        return 1;
    }
    if (r.upgrade && !c->req_upgrade) {
        respond_error(c, 502, "the upstream switched protocols unasked");
        return 0;
    }
    c->status = r.status;
    c->resp_started = 1;
    c->resp_keep_alive = r.keep_alive && c->req_minor == 1;
    write_response_head(c, &r, 0);
    bq_consume(&u->in, r.head_len);
    if (r.upgrade) {
        c->state = C_TUNNEL;
        c->req = REQ_DONE;
        set_timer(c, T_BODY, c->srv->idle_timeout_ms);
        return 1;
    }
    h1_body_init(&c->resp_body, r.body, r.content_length);
    c->resp = RESP_BODY;
    set_timer(c, T_BODY, c->srv->idle_timeout_ms);
    if (c->resp_body.done) {
        c->resp = RESP_DONE;
    }
    return 1;
}

/* Response body: upstream `in` -> client `out`. */
static int pump_response_body(struct conn *c)
{
    struct upconn *u = c->up;
    if (c->resp != RESP_BODY || bq_size(&u->in) == 0 || bq_size(&c->out) >= BODY_CHUNK) {
        return 0;
    }
    struct h1_error e = {0, NULL};
    long n = h1_body_scan(&c->resp_body, u->in.p + u->in.off, bq_size(&u->in), &e);
    if (n < 0) {
        c->state = C_CLOSING; /* the head is out: all we can do is cut the connection */
        c->close_after = 1;
        c->client_eof = 1;
        return 0;
    }
    out_add(c, u->in.p + u->in.off, (size_t)n);
    bq_consume(&u->in, (size_t)n);
    c->bytes_written += (uint64_t)n;
    if (c->resp_body.done) {
        c->resp = RESP_DONE;
    }
    return n > 0;
}

static int pump_tunnel(struct conn *c)
{
    struct upconn *u = c->up;
    int progress = 0;
    size_t n = bq_size(&c->in);
    if (n > 0 && bq_size(&u->out) < BODY_CHUNK && bq_room(&u->out, n)) {
        memcpy(u->out.p + u->out.len, c->in.p + c->in.off, n);
        u->out.len += n;
        bq_consume(&c->in, n);
        progress = 1;
    }
    n = bq_size(&u->in);
    if (n > 0 && bq_size(&c->out) < BODY_CHUNK) {
        out_add(c, u->in.p + u->in.off, n);
        bq_consume(&u->in, n);
        progress = 1;
    }
    return progress;
}

static int up_wants_input(const struct conn *c)
{
    size_t limit = c->resp == RESP_HEAD ? MAX_RESP_HEAD + 1 : BODY_CHUNK;
    return bq_size(&c->up->in) < limit;
}

/* The upstream side: connect completion, writes, reads, EOF. */
static int upstream_io(struct conn *c)
{
    struct upconn *u = c->up;
    int progress = 0;
    if (u == NULL) {
        return 0;
    }
    if (u->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err == EINPROGRESS || err == EALREADY) {
            return 0;
        }
        if (err != 0) {
            upstream_failed(c, err == ETIMEDOUT);
            return 1;
        }
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        if (getpeername(u->fd, (struct sockaddr *)&peer, &pl) != 0) {
            return 0; /* still connecting */
        }
        u->connecting = 0;
        set_timer(c, T_BODY, c->srv->idle_timeout_ms);
        progress = 1;
    }
    ssize_t s = up_send(u);
    if (s < 0) {
        if (c->resp == RESP_HEAD && !c->resp_started && u->reused && c->body_sent == 0) {
            c->attempt--; /* a stale pooled connection: dial the same upstream again */
            upstream_failed(c, 0);
            return 1;
        }
        upstream_failed(c, 0);
        return 1;
    }
    progress |= s > 0;
    if (!u->eof && up_wants_input(c)) {
        size_t want = c->resp == RESP_HEAD ? IO_BUF / 2 : BODY_CHUNK - bq_size(&u->in);
        ssize_t r = up_recv(u, want);
        progress |= r > 0;
        if (r < 0 && c->state != C_TUNNEL && c->resp == RESP_HEAD) {
            int stale = u->reused && bq_size(&u->in) == 0 && c->body_sent == 0;
            if (stale) {
                c->attempt--;
            }
            upstream_failed(c, 0);
            return 1;
        }
        if (r < 0 && c->resp == RESP_BODY && c->resp_body.mode == H1_BODY_CLOSE) {
            c->resp = RESP_DONE;
            progress = 1;
        }
    }
    return progress;
}

/* ---- the state machine ------------------------------------------------------------------- */

static void handshake(struct conn *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        c->state = C_REQ_HEAD;
        set_timer(c, T_IDLE, c->srv->idle_timeout_ms);
        return;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
        return;
    }
    /* A client that hung up before its ClientHello (a port probe) is not worth a line. */
    if (e != SSL_ERROR_SYSCALL || mtls_ssl_get0_peer(c->ssl) != NULL) {
        log_handshake(c, "TLS handshake failed");
    }
    c->state = C_CLOSING;
    c->client_eof = 1;
}

static void finish_exchange(struct conn *c)
{
    log_once(c);
    c->served++;
    int reuse = c->resp_keep_alive && c->req == REQ_DONE && c->up != NULL && !c->up->eof;
    if (c->up != NULL) {
        up_release(c->up, reuse);
        c->up = NULL;
    }
    int keep = c->req_keep_alive && c->req == REQ_DONE && !c->close_after && !retiring(c);
    reset_request(c);
    if (!keep) {
        c->state = C_CLOSING;
        c->close_after = 1;
        return;
    }
    c->state = C_REQ_HEAD;
    set_timer(c, T_IDLE, c->srv->idle_timeout_ms);
}

static int wants_client_input(const struct conn *c)
{
    switch (c->state) {
    case C_REQ_HEAD:
        /* The previous response goes out first: a client's EOF read now would cut it. */
        return client_flushed(c) && bq_size(&c->in) <= c->srv->max_header_bytes;
    case C_PROXY:
        return c->req == REQ_BODY && bq_size(&c->in) < BODY_CHUNK;
    case C_TUNNEL:
        return bq_size(&c->in) < BODY_CHUNK;
    default:
        return 0;
    }
}

/* Go's ResponseHeaderTimeout starts once the whole request is written; before and after
 * that, any progress restarts the idle timer. */
static void update_timer(struct conn *c, int progress)
{
    const struct upconn *u = c->up;
    if (c->state == C_PROXY && c->resp == RESP_HEAD && u != NULL && !u->connecting &&
        c->req == REQ_DONE && bq_size(&u->out) == 0) {
        if (c->timer != T_RESPONSE) {
            set_timer(c, T_RESPONSE, c->handler->response_header_timeout_ms);
        }
    } else if (progress && (c->state == C_TUNNEL || (c->state == C_PROXY && u != NULL &&
                                                     !u->connecting))) {
        set_timer(c, T_BODY, c->srv->idle_timeout_ms);
    }
}

static int step(struct conn *c)
{
    int progress = 0;
    if (c->state == C_HANDSHAKE) {
        handshake(c);
        if (c->state == C_HANDSHAKE) {
            return 0;
        }
        progress = 1;
    }
    if (wants_client_input(c) && !c->client_eof) {
        int r = client_read(c);
        progress |= r > 0;
        /* A request body moves up to four records per turn (one send upstream, not four);
         * each is framed first, so nothing past the body's end is read. */
        for (int i = 0; r > 0 && i < 3 && c->state == C_PROXY && c->req == REQ_BODY; i++) {
            pump_request_body(c);
            if (c->state != C_PROXY || c->req != REQ_BODY || !wants_client_input(c)) {
                break;
            }
            r = client_read(c);
        }
        if (r < 0 && c->state != C_TUNNEL) {
            if (c->state == C_REQ_HEAD || c->req == REQ_BODY) {
                c->state = C_CLOSING; /* the client went away mid-request */
            }
        }
    }
    if (c->state == C_REQ_HEAD && bq_size(&c->out) == 0) {
        read_request_head(c);
        progress |= c->state != C_REQ_HEAD;
    }
    if (c->state == C_PROXY || c->state == C_TUNNEL) {
        progress |= upstream_io(c);
    }
    if (c->state == C_PROXY) {
        progress |= pump_request_body(c);
        if (c->state == C_PROXY && c->resp == RESP_HEAD && c->up && bq_size(&c->up->in) > 0) {
            progress |= read_response_head(c);
        }
        if (c->state == C_PROXY && c->resp == RESP_BODY) {
            progress |= pump_response_body(c);
        }
        if (c->state == C_PROXY && c->resp == RESP_BODY && c->up->eof &&
            bq_size(&c->up->in) == 0 && c->resp_body.mode != H1_BODY_CLOSE) {
            c->state = C_CLOSING; /* upstream died mid-body: cut the client too */
            c->client_eof = 1;
        }
        if (c->state == C_PROXY && c->resp == RESP_DONE &&
            (c->req == REQ_DONE || c->close_after)) {
            finish_exchange(c);
            progress = 1;
        }
    }
    if (c->state == C_TUNNEL) {
        progress |= pump_tunnel(c);
        if ((c->client_eof || c->up->eof) && bq_size(&c->up->in) == 0 &&
            bq_size(&c->up->out) == 0) {
            log_once(c);
            c->state = C_CLOSING;
            c->close_after = 1;
        }
    }
    if (!c->client_eof) {
        progress |= client_write(c) > 0;
    }
    update_timer(c, progress);
    return progress;
}

/* `more`: drive() stopped at its step cap with work left (a buffered upstream chunk, say)
 * that no socket event may announce: the client's EPOLLOUT, at once true on a writable
 * socket, brings the connection back on the next loop pass. */
static void update_events(struct conn *c, int more)
{
    uint32_t want = 0;
    if (c->state == C_HANDSHAKE) {
        want = c->ssl_want_write ? EPOLLOUT : EPOLLIN;
    } else {
        want |= wants_client_input(c) ? EPOLLIN : 0;
        want |= more || !client_flushed(c) || c->ssl_want_write ? EPOLLOUT : 0;
        /* EPOLLIN stays registered while the socket holds nothing unread (two epoll_ctl
         * per request spared); input that is not wanted now takes it off. */
        want |= (c->events & EPOLLIN) && (!c->in_event || c->io.drained) ? EPOLLIN : 0;
    }
    c->in_event = 0;
    worker_set_events(c->w, c->fd, &c->ev, &c->events, want);
    struct upconn *u = c->up;
    if (u != NULL) {
        uint32_t uw = 0;
        uw |= u->connecting || bq_size(&u->out) > 0 ? EPOLLOUT : 0;
        /* Input is watched while it is wanted, and stays watched until some arrives. */
        uw |= !u->connecting && !u->eof && (up_wants_input(c) || !u->readable) ? EPOLLIN : 0;
        worker_set_events(c->w, u->fd, &u->ev, &u->events, uw);
    }
}

/* Steps a connection while it progresses, at most DRIVE_STEPS times per event (others get
 * their turn). */
#define DRIVE_STEPS 64

static void drive(struct conn *c)
{
    int more = 1;
    for (int i = 0; i < DRIVE_STEPS && more; i++) {
        more = step(c);
    }
    int flushed = client_flushed(c);
    if (c->client_eof || (c->state == C_CLOSING && (flushed || !c->close_after))) {
        if (c->state == C_CLOSING && flushed && !c->client_eof) {
            SSL_shutdown(c->ssl); /* close_notify; best effort */
        }
        conn_close(c);
        return;
    }
    if (c->state == C_REQ_HEAD && bq_size(&c->in) == 0 && client_flushed(c)) {
        bq_free(&c->in); /* an idle keep-alive connection holds no buffers */
        bq_free(&c->out);
        bq_free(&c->io.wb);
        if (bq_size(&c->io.rb) == 0) {
            bq_free(&c->io.rb);
        }
    }
    update_events(c, more);
}

void conn_event(struct conn *c, uint32_t events)
{
    /* Errors and hang-ups show in the reads below. */
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        c->io.drained = 0;
        c->in_event = 1;
    }
    drive(c);
}

void conn_upstream_event(struct upconn *u, uint32_t events)
{
    if (u->c == NULL) {
        up_pool_event(u, events);
        return;
    }
    u->readable |= (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    drive(u->c);
}

void conn_timeout(struct conn *c, int64_t now)
{
    if (c->deadline == 0 || now < c->deadline) {
        return;
    }
    c->deadline = 0;
    switch (c->timer) {
    case T_DIAL:
        upstream_failed(c, 1);
        break;
    case T_RESPONSE:
        if (c->state == C_PROXY && c->resp == RESP_HEAD) {
            c->attempt = c->handler->num_upstreams; /* a slow upstream is not retried */
            upstream_failed(c, 1);
        }
        break;
    case T_HANDSHAKE:
        log_handshake(c, "TLS handshake timed out");
        c->client_eof = 1;
        break;
    default:
        c->client_eof = 1; /* idle, slow header, stalled body */
        break;
    }
    drive(c);
}

int conn_rebind(SSL *ssl)
{
    struct conn *c = SSL_get_app_data(ssl);
    if (c == NULL || c->srv->rt->generation == atomic_load(&g_gen)) {
        return 1;
    }
    /* Accepted before a reload, ClientHello after it: judge it by the new configuration. */
    struct runtime *rt = runtime_current();
    for (size_t i = 0; rt != NULL && i < rt->num_srvs; i++) {
        struct srv *s = &rt->srvs[i];
        for (size_t j = 0; j < s->num_listeners; j++) {
            const char *addr = rt->listeners[s->listeners[j]].addr;
            if (strcmp(addr, c->listener) == 0 && SSL_set_SSL_CTX(ssl, s->ssl_ctx) != NULL) {
                runtime_free(c->srv->rt);
                c->srv = s; /* the reference from runtime_current moves to the connection */
                c->listener = addr;
                return 1;
            }
        }
    }
    runtime_free(rt);
    return 0; /* the listener is gone from the new configuration */
}

void conn_retire(struct conn *c)
{
    /* Like Go's Shutdown: a connection that never had a request gets to send one. */
    if (c->state == C_REQ_HEAD && bq_size(&c->in) == 0 && c->served > 0 && retiring(c)) {
        c->client_eof = 1; /* idle on an old configuration: close now */
        drive(c);
    }
}

void conn_drain(struct conn *c)
{
    /* An idle keep-alive connection goes now; one mid-request finishes it first. */
    if (c->state == C_REQ_HEAD && bq_size(&c->in) == 0) {
        c->client_eof = 1;
        drive(c);
    } else if (c->state == C_HANDSHAKE) {
        set_timer(c, T_HANDSHAKE, 1000);
    }
}
