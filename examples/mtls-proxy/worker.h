/*
 * worker.h - one event loop per core (loop.c) and the connections it drives (conn.c,
 * upstream.c). Every object a worker touches belongs to that worker's thread; the only
 * shared state is the current runtime (reload.c) and a few counters.
 */
#ifndef MTLS_PROXY_WORKER_H
#define MTLS_PROXY_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "http.h"
#include "proxy.h"
#include "sbuf.h"

enum ev_kind { EV_LISTENER = 1, EV_CLIENT, EV_UPSTREAM, EV_WAKE };

struct ev {
    enum ev_kind kind;
};

#define IO_BUF 16384

/* A byte queue: data in [off, len). */
struct bq {
    char *p;
    size_t off, len, cap;
};

/* The client socket under the SSL (tlsio.c): read-ahead buffer, and whether the last read
 * found the socket empty (no read until epoll reports it readable again). */
struct cio {
    int fd;
    int drained;
    int busy; /* the last read filled the buffer: read more at once */
    int cork; /* collect records in `wb` until cio_flush */
    struct bq rb;
    struct bq wb; /* sealed records not sent yet */
};

struct upconn {
    struct ev ev;
    struct worker *w;
    struct conn *c; /* the owner, NULL while pooled */
    struct upconn *next; /* pool list */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd;
    int connecting;
    int reused;
    int eof;
    int readable; /* epoll reported input not read yet (no recv that would find nothing) */
    uint32_t events; /* registered with epoll */
    int64_t idle_since;
    struct bq in;  /* from the upstream */
    struct bq out; /* to the upstream */
};

enum conn_state { C_HANDSHAKE, C_REQ_HEAD, C_PROXY, C_TUNNEL, C_CLOSING };
enum req_state { REQ_NONE, REQ_BODY, REQ_DONE };
enum resp_state { RESP_HEAD, RESP_BODY, RESP_DONE };
enum timer_kind { T_HANDSHAKE, T_IDLE, T_HEADER, T_DIAL, T_RESPONSE, T_BODY, T_DRAIN };

struct conn {
    struct ev ev;
    struct worker *w;
    struct conn *prev, *next;
    struct srv *srv; /* holds a reference on srv->rt */
    const char *listener; /* the address it was accepted on (owned by srv->rt) */
    int logged;           /* the request in flight has its access-log line */
    int fd;
    SSL *ssl;
    struct cio io;
    int in_event; /* the client socket reported input since the last update_events */
    enum conn_state state;
    enum timer_kind timer;
    int64_t deadline;
    uint32_t events;
    int ssl_want_write; /* the last SSL call wants the socket writable */
    int client_eof;
    int close_after; /* close once `out` is flushed */
    unsigned served;  /* requests answered on this connection */
    char remote_ip[INET6_ADDRSTRLEN];
    char remote_port[8];
    struct bq in;  /* decrypted bytes from the client */
    struct bq out; /* bytes for the client */

    /* The request in flight. */
    enum req_state req;
    enum resp_state resp;
    struct h1_body req_body, resp_body;
    int req_keep_alive, req_upgrade, req_head_method, req_minor;
    int resp_keep_alive;
    int resp_started; /* some response bytes went to the client */
    uint64_t body_sent;   /* request body bytes handed to the upstream */
    const struct handler *handler;
    unsigned attempt, first;
    int last_timeout;
    struct sbuf uphead; /* the request head for the upstream (kept for a retry) */
    struct upconn *up;

    /* Access log. */
    int64_t t_start;
    char *log_method, *log_host, *log_uri, *log_proto; /* one allocation at log_method */
    char *log_tls; /* the request.tls JSON, kept from the second request on (accesslog.c) */
    size_t log_tls_len;
    int status;
    uint64_t bytes_read, bytes_written; /* bytes_written: response body bytes */
};

struct worker {
    int id;
    int epfd;
    int wake_fd;
    pthread_t thread;
    struct ev wake_ev;
    struct runtime *rt;   /* the runtime whose listeners are registered */
    struct ev *lev;       /* one per listener of rt */
    unsigned gen;
    struct conn *conns;
    size_t num_conns;
    struct upconn *pool;
    size_t pool_size;
    struct conn *dead;      /* closed during this batch of events, freed after it */
    struct upconn *dead_up;
    int stopping;
    int64_t stop_deadline;
    struct h1_header hdrs[PROXY_MAX_HEADERS];
};

/* Shared state (reload.c / main.c). */
extern struct options g_opts;
extern atomic_int g_conns;
extern atomic_int g_stop;
extern atomic_uint g_gen;
/* runtime_current returns the current runtime with a reference added. */
struct runtime *runtime_current(void);

/* loop.c */
int worker_start(struct worker *w, int id);
void worker_wake(struct worker *w);
void worker_reap_dead(struct worker *w);
void worker_set_events(struct worker *w, int fd, struct ev *ev, uint32_t *registered,
                       uint32_t want);

/* conn.c */
void conn_accept(struct worker *w, struct srv *s, const char *listener, int fd,
                 const struct sockaddr_storage *ss);
void conn_event(struct conn *c, uint32_t events);
void conn_upstream_event(struct upconn *u, uint32_t events);
void conn_timeout(struct conn *c, int64_t now);
void conn_drain(struct conn *c);
/* conn_retire closes `c` if it is idle on a runtime that is no longer current. */
void conn_retire(struct conn *c);
void conn_close(struct conn *c);

/* upstream.c */
/* up_get takes a pooled connection to `u` (probed first when `check`) or dials one. */
struct upconn *up_get(struct worker *w, const struct upstream *u, int check, int *out_err);
void up_release(struct upconn *u, int reusable);
void up_pool_event(struct upconn *u, uint32_t events);
void up_pool_reap(struct worker *w, int64_t now, int all);
ssize_t up_send(struct upconn *u);
/* up_recv reads into room for at least `want` more bytes (only after epoll said readable). */
ssize_t up_recv(struct upconn *u, size_t want);

/* accesslog.c */
void log_request(struct conn *c);
/* log_thread_buffered makes the calling (worker) thread queue its access-log lines until
 * log_flush, which the event loop calls before every epoll_wait and when it stops. */
void log_thread_buffered(void);
void log_flush(void);
/* log_thread_end flushes and frees the calling thread's buffer (a worker that stops). */
void log_thread_end(void);
void log_handshake(struct conn *c, const char *what);
void log_line(const char *level, const char *logger, const char *msg, const char *extra_json);

/* tlsio.c: cio_attach puts `io` on socket `fd` under `ssl`. Returns 1, or 0 on ENOMEM. */
int cio_attach(SSL *ssl, struct cio *io, int fd);
/* cio_flush sends what `wb` holds: 1 all sent, 0 some left (would block), -1 error. */
int cio_flush(struct cio *io);

/* bq helpers */
int bq_room(struct bq *q, size_t want);
void bq_consume(struct bq *q, size_t n);
void bq_free(struct bq *q);
void bq_cache_drain(void); /* frees the calling thread's cached buffers */
static inline size_t bq_size(const struct bq *q)
{
    return q->len - q->off;
}

#endif /* MTLS_PROXY_WORKER_H */
