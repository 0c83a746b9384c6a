/*
 * loop.c - one epoll event loop per worker thread. Every worker watches every listening
 * socket (EPOLLEXCLUSIVE: one wakes per connection) and owns the connections it accepts.
 * Objects closed while a batch of events is being handled are freed after the batch, so a
 * later event of the same batch never touches freed memory.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

#define REGISTERED 0x80000000u
#define TICK_MS 250

struct lev {
    struct ev ev;
    int fd;
    struct srv *srv;
    const char *addr; /* the listener's configured address */
};

void worker_set_events(struct worker *w, int fd, struct ev *ev, uint32_t *registered,
                       uint32_t want)
{
    uint32_t have = *registered;
    if ((have & REGISTERED) && (have & ~REGISTERED) == want) {
        return;
    }
    struct epoll_event e = {.events = want, .data.ptr = ev};
    int op = (have & REGISTERED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(w->epfd, op, fd, &e) == 0) {
        *registered = want | REGISTERED;
    }
}

void worker_reap_dead(struct worker *w)
{
    while (w->dead != NULL) {
        struct conn *c = w->dead;
        w->dead = c->next;
        free(c);
    }
    while (w->dead_up != NULL) {
        struct upconn *u = w->dead_up;
        w->dead_up = u->next;
        free(u);
    }
}

void worker_wake(struct worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof(one));
    (void)n;
}

static void unregister_listeners(struct worker *w)
{
    if (w->rt == NULL) {
        return;
    }
    struct lev *lev = (struct lev *)w->lev;
    for (size_t i = 0; lev != NULL && i < w->rt->num_listeners; i++) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, lev[i].fd, NULL);
    }
    free(w->lev);
    w->lev = NULL;
    runtime_free(w->rt);
    w->rt = NULL;
}

/* Moves this worker's listeners to the current runtime (startup and reload). */
static void sync_runtime(struct worker *w)
{
    unsigned gen = atomic_load(&g_gen);
    struct runtime *rt = runtime_current();
    struct lev *lev = rt ? calloc(rt->num_listeners + 1, sizeof(*lev)) : NULL;
    if (lev == NULL) {
        runtime_free(rt);
        return; /* keep the old listeners; retried on the next loop */
    }
    for (size_t s = 0; s < rt->num_srvs; s++) {
        struct srv *srv = &rt->srvs[s];
        for (size_t j = 0; j < srv->num_listeners; j++) {
            size_t i = srv->listeners[j];
            lev[i].ev.kind = EV_LISTENER;
            lev[i].fd = rt->listeners[i].fd;
            lev[i].srv = srv;
            lev[i].addr = rt->listeners[i].addr;
        }
    }
    unregister_listeners(w);
    for (size_t i = 0; i < rt->num_listeners; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lev[i].ev};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, lev[i].fd, &e);
    }
    w->rt = rt;
    w->lev = &lev[0].ev;
    w->gen = gen;
    for (struct conn *c = w->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_retire(c);
    }
}

static void accept_some(struct worker *w, struct lev *l)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or a transient error such as EMFILE: retried on next event */
        }
        if (atomic_load(&g_conns) >= g_opts.max_connections) {
            close(fd); /* over the connection limit: refuse at once, never queue */
            continue;
        }
        conn_accept(w, l->srv, l->addr, fd, &ss); /* TCP_NODELAY: from the listener */
    }
}

static void begin_stop(struct worker *w)
{
    w->stopping = 1;
    w->stop_deadline = now_ms() + g_opts.grace_ms;
    unregister_listeners(w);
    for (struct conn *c = w->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_drain(c);
    }
}

static void tick(struct worker *w, int64_t now)
{
    for (struct conn *c = w->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_timeout(c, now);
    }
    up_pool_reap(w, now, 0);
}

static void dispatch(struct worker *w, struct epoll_event *e)
{
    struct ev *ev = e->data.ptr;
    switch (ev->kind) {
    case EV_LISTENER:
        if (!w->stopping) {
            accept_some(w, (struct lev *)ev);
        }
        break;
    case EV_CLIENT:
        conn_event((struct conn *)ev, e->events);
        break;
    case EV_UPSTREAM:
        conn_upstream_event((struct upconn *)ev, e->events);
        break;
    case EV_WAKE: {
        uint64_t v;
        ssize_t n = read(w->wake_fd, &v, sizeof(v));
        (void)n;
        break;
    }
    default:
        break; /* closed earlier in this batch */
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[128];
    int64_t next_tick = now_ms() + TICK_MS;
    log_thread_buffered();
    sync_runtime(w);
    for (;;) {
        if (atomic_load(&g_stop) && !w->stopping) {
            begin_stop(w);
        }
        int64_t now = now_ms();
        if (w->stopping && (w->num_conns == 0 || now >= w->stop_deadline)) {
            break;
        }
        if (!w->stopping && atomic_load(&g_gen) != w->gen) {
            sync_runtime(w);
        }
        log_flush();
        int n = epoll_wait(w->epfd, evs, 128, (int)(next_tick > now ? next_tick - now : 0));
        for (int i = 0; i < n; i++) {
            dispatch(w, &evs[i]);
        }
        worker_reap_dead(w);
        now = now_ms();
        if (now >= next_tick) {
            tick(w, now);
            worker_reap_dead(w);
            next_tick = now + TICK_MS;
        }
    }
    while (w->conns != NULL) {
        conn_close(w->conns);
    }
    worker_reap_dead(w);
    up_pool_reap(w, 0, 1);
    worker_reap_dead(w);
    unregister_listeners(w);
    log_thread_end();
    bq_cache_drain();
    return NULL;
}

int worker_start(struct worker *w, int id)
{
    w->id = id;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->wake_ev.kind = EV_WAKE;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &w->wake_ev};
    if (w->epfd < 0 || w->wake_fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &e) != 0) {
        return -1;
    }
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}
