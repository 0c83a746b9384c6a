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

int bq_room(struct bq *q, size_t want)
{
    if (q->off == q->len) {
        q->off = q->len = 0;
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
    free(q->p);
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

static struct upconn *pool_take(struct worker *w, const struct upstream *up)
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
        if (still_open(u->fd)) {
            u->reused = 1;
            return u;
        }
        up_destroy(u);
    }
    return NULL;
}

struct upconn *up_get(struct worker *w, const struct upstream *up, int *out_err)
{
    struct upconn *u = pool_take(w, up);
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
ssize_t up_recv(struct upconn *u)
{
    if (!bq_room(&u->in, IO_BUF / 2)) {
        return 0;
    }
    ssize_t r = recv(u->fd, u->in.p + u->in.len, u->in.cap - u->in.len, 0);
    if (r > 0) {
        u->in.len += (size_t)r;
        return r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 0;
    }
    u->eof = 1;
    return -1;
}
