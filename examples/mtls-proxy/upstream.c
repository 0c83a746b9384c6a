/*
 * upstream.c - connections to upstreams: non-blocking dial, a per-worker pool of idle
 * keep-alive connections (keyed by address, so they survive reloads), and byte queues.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/tcp.h>

#include "worker.h"

#define POOL_MAX 64                     /* idle connections per worker */
#define POOL_IDLE_MS (2 * 60 * 1000)    /* Caddy's (Go's) idle connection timeout */

/*
 * Buffers of IO_BUF bytes are recycled through a small per-thread cache: a keep-alive
 * connection gives its buffers back between requests (so idle connections hold none) and
 * takes them again for the next one without going through malloc each time.
 */
#define BUF_CACHE_MAX 64
static _Thread_local char *buf_cache[BUF_CACHE_MAX];
static _Thread_local size_t buf_cached;

int bq_room(struct bq *q, size_t want)
{
    if (q->off == q->len) {
        q->off = q->len = 0;
    }
    if (q->cap == 0 && want <= IO_BUF && buf_cached > 0) {
        q->p = buf_cache[--buf_cached];
        q->cap = IO_BUF;
        return 1;
    }
    if (q->cap - q->len >= want) {
        return 1;
    }
    if (q->off > 0) {
        memmove(q->p, q->p + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
        if (q->cap - q->len >= want) {
            return 1;
        }
    }
    size_t cap = q->cap ? q->cap : IO_BUF;
    while (cap - q->len < want) {
        cap *= 2;
    }
    char *p = realloc(q->p, cap);
    if (p == NULL) {
        return 0;
    }
    q->p = p;
    q->cap = cap;
    return 1;
}

void bq_consume(struct bq *q, size_t n)
{
    q->off += n;
    if (q->off == q->len) {
        q->off = q->len = 0;
    }
}

void bq_free(struct bq *q)
{
    if (q->cap == IO_BUF && buf_cached < BUF_CACHE_MAX) {
        buf_cache[buf_cached++] = q->p;
    } else {
        free(q->p);
    }
    memset(q, 0, sizeof(*q));
}

static int same_addr(const struct upconn *u, const struct upstream *up)
{
    return u->addr_len == up->addr_len && memcmp(&u->addr, &up->addr, up->addr_len) == 0;
}

static void up_destroy(struct upconn *u)
{
    if (u->fd >= 0) {
        close(u->fd); /* also leaves the epoll set */
    }
    bq_free(&u->in);
    bq_free(&u->out);
    u->fd = -1;
    u->ev.kind = 0; /* events later in this batch skip it; freed after the batch */
    u->next = u->w->dead_up;
    u->w->dead_up = u;
}

/* A pooled connection the upstream closed (or wrote to unasked) is useless. */
static int still_open(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct upconn *pool_take(struct worker *w, const struct upstream *up, int check)
{
    for (struct upconn **pp = &w->pool; *pp != NULL;) {
        struct upconn *u = *pp;
        if (!same_addr(u, up)) {
            pp = &u->next;
            continue;
        }
        *pp = u->next;
        w->pool_size--;
        u->next = NULL;
        if (!check || still_open(u->fd)) {
            u->reused = 1;
            u->readable = 0;
            return u;
        }
        up_destroy(u);
    }
    return NULL;
}

struct upconn *up_get(struct worker *w, const struct upstream *up, int check, int *out_err)
{
    struct upconn *u = pool_take(w, up, check);
    *out_err = 0;
    if (u != NULL) {
        return u;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        *out_err = ENOMEM;
        return NULL;
    }
    u->ev.kind = EV_UPSTREAM;
    u->w = w;
    u->addr = up->addr;
    u->addr_len = up->addr_len;
    u->fd = socket(up->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (u->fd < 0) {
        *out_err = errno;
        up_destroy(u);
        return NULL;
    }
    setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(u->fd, (const struct sockaddr *)&up->addr, up->addr_len) != 0) {
        if (errno != EINPROGRESS) {
            *out_err = errno;
            up_destroy(u);
            return NULL;
        }
        u->connecting = 1;
    }
    return u;
}

void up_release(struct upconn *u, int reusable)
{
    struct worker *w = u->w;
    u->c = NULL;
    if (!reusable || u->eof || u->connecting || bq_size(&u->in) != 0 ||
        bq_size(&u->out) != 0 || w->pool_size >= POOL_MAX || w->stopping) {
        up_destroy(u);
        return;
    }
    bq_free(&u->in);
    bq_free(&u->out);
    u->idle_since = now_ms();
    u->next = w->pool;
    w->pool = u;
    w->pool_size++;
    /* Watch it: an upstream that closes an idle connection makes it readable. */
    worker_set_events(w, u->fd, &u->ev, &u->events, EPOLLIN);
}

void up_pool_event(struct upconn *u, uint32_t events)
{
    struct worker *w = u->w;
    for (struct upconn **pp = &w->pool; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            w->pool_size--;
            up_destroy(u);
            return;
        }
    }
}

void up_pool_reap(struct worker *w, int64_t now, int all)
{
    for (struct upconn **pp = &w->pool; *pp != NULL;) {
        struct upconn *u = *pp;
        if (all || now - u->idle_since > POOL_IDLE_MS) {
            *pp = u->next;
            w->pool_size--;
            up_destroy(u);
        } else {
            pp = &u->next;
        }
    }
}

ssize_t up_send(struct upconn *u)
{
    size_t n = bq_size(&u->out);
    if (n == 0) {
        return 0;
    }
    ssize_t r = send(u->fd, u->out.p + u->out.off, n, MSG_NOSIGNAL);
    if (r > 0) {
        bq_consume(&u->out, (size_t)r);
        return r;
    }
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* Returns bytes read, 0 when nothing is there now, -1 on EOF or error (u->eof set). */
ssize_t up_recv(struct upconn *u, size_t want)
{
    if (!u->readable || !bq_room(&u->in, want)) {
        return 0;
    }
    size_t room = u->in.cap - u->in.len;
    ssize_t r = recv(u->fd, u->in.p + u->in.len, room, 0);
    if (r > 0) {
        u->in.len += (size_t)r;
        u->readable = (size_t)r == room; /* a short read emptied the socket */
        return r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        u->readable = 0;
        return 0;
    }
    u->eof = 1;
    return -1;
}

void bq_cache_drain(void)
{
    while (buf_cached > 0) {
        free(buf_cache[--buf_cached]);
    }
}
