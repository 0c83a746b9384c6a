/*
 * loadgen.c - the benchmark's HTTPS/mTLS load generator (BoringSSL, epoll, pthreads).
 *
 * Every thread runs one epoll loop over its share of the connections; each connection is a
 * small state machine (connect, TLS handshake, write request, read response). Modes:
 *   handshake  one new TCP+TLS connection per request (full handshake, no resumption offered)
 *   resume     as handshake, but each connection resumes with the ticket its previous
 *              connection received (TLS 1.3 PSK); full handshakes are counted separately
 *   keepalive  requests back to back on persistent connections (opened before the window)
 *   body       as keepalive, each request uploading (--upload) or downloading --body-size
 *              bytes (download path: /bytes/N, which bench/upstream.c answers)
 *   idle       opens --connections connections (at most --ramp handshakes in flight per
 *              thread), one request each, then holds them: prints "READY <n>" once all are
 *              up and holds them for --duration seconds (or until SIGTERM)
 * TLS 1.3 only, X25519 only (--groups to change), ALPN http/1.1.
 *
 * Measurement: after --warmup seconds a window of --duration seconds opens; operations that
 * complete inside it are counted (rate, latency p50/p99, errors). With --pid, the CPU time
 * (utime+stime, /proc/PID/stat) of those processes over the same window is reported, in
 * total and per operation. With --count N there is no warmup: the window runs from the
 * start until N operations completed.
 *
 * Output: one human-readable line, then one JSON line (prefixed "JSON ") for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http1.h"

enum mode { M_HANDSHAKE, M_RESUME, M_KEEPALIVE, M_BODY, M_IDLE };
static const char *const mode_names[] = {"handshake", "resume", "keepalive", "body", "idle"};

enum cstate { S_CLOSED, S_CONNECTING, S_HANDSHAKE, S_SEND, S_RECV, S_IDLE };

#define HEAD_CAP 4096
#define RBUF_CAP (64 * 1024)
#define MAX_PIDS 64

struct opts {
    enum mode mode;
    const char *host, *sni, *host_header, *cert, *key, *ca, *path, *groups;
    int port, threads, connections, reqs_per_conn, ramp, upload;
    double duration, warmup;
    uint64_t count, body_size;
    pid_t pids[MAX_PIDS];
    int num_pids;
};

struct stats {
    uint64_t ops, errors, bytes, resumed, full, reconnects, closed_idle;
    uint32_t *lat; /* latencies in µs of the operations counted */
    size_t num_lat, cap_lat;
    char first_err[200];
};

struct conn {
    int fd;
    unsigned events;        /* epoll interest now (0: not registered) */
    enum cstate st;
    SSL *ssl;
    SSL_SESSION *sess;      /* resume: the ticket to offer next */
    uint64_t t_op;          /* start of the operation being timed (ns) */
    size_t sent;            /* request head bytes written */
    uint64_t body_sent;
    int reqs;               /* requests completed on this connection */
    int in_body, status, must_close;
    struct h1body body;
    size_t head_len;
    char head[HEAD_CAP];
};

struct worker {
    int id, ep, num_conns, next_unstarted, established, failed;
    struct conn *conns;
    int *reopen;            /* connections to reopen after this round of events */
    int num_reopen;
    pthread_t th;
    struct stats st;
    char req[1024];
    size_t req_len;
    char rbuf[RBUF_CAP];
};

static struct opts g = {
    .mode = M_HANDSHAKE, .host = "127.0.0.1", .sni = "localhost", .path = "/",
    .groups = "X25519", .port = 443, .threads = 1, .connections = 8, .ramp = 64,
    .duration = 5, .warmup = 1,
};
static SSL_CTX *g_ctx;
static struct sockaddr_in g_addr;
static atomic_int g_measuring, g_stop, g_established, g_settled;
static atomic_uint_fast64_t g_done;
static char g_filler[64 * 1024];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

/* ----------------------------------------------------------------------------------------- */
/* statistics */

static int counting(void)
{
    return atomic_load_explicit(&g_measuring, memory_order_relaxed);
}

static void note_error(struct worker *w, const char *what)
{
    if (!counting()) {
        ERR_clear_error();
        return;
    }
    w->st.errors++;
    if (w->st.first_err[0] == '\0') {
        char e[120] = "";
        unsigned long code = ERR_peek_last_error();
        if (code != 0) {
            ERR_error_string_n(code, e, sizeof(e));
        } else if (errno != 0) {
            snprintf(e, sizeof(e), "%s", strerror(errno));
        }
        snprintf(w->st.first_err, sizeof(w->st.first_err), "%s%s%s", what, e[0] ? ": " : "", e);
    }
    ERR_clear_error();
}

static void add_latency(struct stats *s, uint64_t ns)
{
    if (s->num_lat == s->cap_lat) {
        size_t cap = s->cap_lat ? s->cap_lat * 2 : 65536;
        uint32_t *p = realloc(s->lat, cap * sizeof(*p));
        if (p == NULL) {
            return;
        }
        s->lat = p;
        s->cap_lat = cap;
    }
    uint64_t us = ns / 1000;
    s->lat[s->num_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ----------------------------------------------------------------------------------------- */
/* connections */

static void set_events(struct worker *w, struct conn *c, unsigned ev)
{
    if (c->events == ev) {
        return;
    }
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(w->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void conn_close(struct conn *c, int clean)
{
    if (c->ssl != NULL) {
        if (clean) {
            SSL_shutdown(c->ssl); /* close_notify, as a real client sends; no wait */
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    c->events = 0;
    c->st = S_CLOSED;
}

static void schedule_reopen(struct worker *w, struct conn *c)
{
    if (g.mode != M_IDLE && !atomic_load(&g_stop)) {
        w->reopen[w->num_reopen++] = (int)(c - w->conns);
    }
}

static void conn_fail(struct worker *w, struct conn *c, const char *what)
{
    note_error(w, what);
    conn_close(c, 0);
    if (g.mode == M_IDLE) {
        w->failed++;
        atomic_fetch_add(&g_settled, 1);
        return;
    }
    schedule_reopen(w, c);
}

static void conn_open(struct worker *w, struct conn *c)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->events = 0;
    c->reqs = 0;
    c->must_close = 0;
    if (c->fd < 0) {
        conn_fail(w, c, "socket");
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0 &&
        errno != EINPROGRESS) {
        conn_fail(w, c, "connect");
        return;
    }
    c->ssl = SSL_new(g_ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) ||
        !SSL_set_tlsext_host_name(c->ssl, g.sni)) {
        conn_fail(w, c, "SSL_new");
        return;
    }
    SSL_set_connect_state(c->ssl);
    SSL_set_app_data(c->ssl, c);
    if (g.mode == M_RESUME && c->sess != NULL) {
        SSL_set_session(c->ssl, c->sess);
    }
    c->st = S_CONNECTING;
    c->t_op = now_ns();
    set_events(w, c, EPOLLOUT);
}

/* Maps an SSL_* result to the epoll interest it waits for. Returns 0 if it is an error. */
static int want(struct worker *w, struct conn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        set_events(w, c, EPOLLIN);
        return 1;
    case SSL_ERROR_WANT_WRITE:
        set_events(w, c, EPOLLOUT);
        return 1;
    default:
        return 0;
    }
}

static void start_request(struct conn *c)
{
    c->sent = 0;
    c->body_sent = 0;
    c->head_len = 0;
    c->in_body = 0;
    c->status = 0;
    if (g.mode == M_KEEPALIVE || g.mode == M_BODY || g.mode == M_IDLE) {
        c->t_op = now_ns();
    }
    c->st = S_SEND;
}

/* Writes the request head and (upload) its body. 1: all written, 0: waiting, -1: error. */
static int send_some(struct worker *w, struct conn *c)
{
    uint64_t body = g.upload ? g.body_size : 0;
    while (c->sent < w->req_len || c->body_sent < body) {
        int r;
        if (c->sent < w->req_len) {
            r = SSL_write(c->ssl, w->req + c->sent, (int)(w->req_len - c->sent));
        } else {
            uint64_t left = body - c->body_sent;
            r = SSL_write(c->ssl, g_filler, left < sizeof(g_filler) ? (int)left
                                                                   : (int)sizeof(g_filler));
        }
        if (r <= 0) {
            return want(w, c, r) ? 0 : -1;
        }
        if (c->sent < w->req_len) {
            c->sent += (size_t)r;
        } else {
            c->body_sent += (uint64_t)r;
        }
    }
    return 1;
}

/* Parses response bytes. 1: response complete, 0: more needed, -1: malformed. */
static int parse(struct conn *c, const char *p, size_t n)
{
    int done = 0;
    if (!c->in_body) {
        size_t k = n < HEAD_CAP - c->head_len ? n : HEAD_CAP - c->head_len;
        memcpy(c->head + c->head_len, p, k);
        size_t old = c->head_len;
        c->head_len += k;
        size_t end = h1_head_end(c->head, c->head_len);
        if (end == 0) {
            return c->head_len == HEAD_CAP ? -1 : 0;
        }
        if (c->head_len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0 ||
            h1body_init(&c->body, c->head, end, 1) != 0) {
            return -1;
        }
        c->status = atoi(c->head + 9);
        const char *v;
        size_t vl;
        if (h1_header(c->head, end, "Connection", &v, &vl) && vl == 5 &&
            strncasecmp(v, "close", 5) == 0) {
            c->must_close = 1;
        }
        c->in_body = 1;
        p += end - old;
        n -= end - old;
    }
    long used = h1body_feed(&c->body, p, n, &done);
    if (used < 0) {
        return -1;
    }
    return done;
}

/* Reads the response. 1: complete, 0: waiting, -1: error, 2: closed before any byte. */
static int recv_some(struct worker *w, struct conn *c)
{
    for (;;) {
        int r = SSL_read(c->ssl, w->rbuf, sizeof(w->rbuf));
        if (r > 0) {
            int p = parse(c, w->rbuf, (size_t)r);
            if (p != 0) {
                return p;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return want(w, c, r) ? 0 : -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            if (c->in_body && c->body.kind == H1_CLOSE) {
                c->must_close = 1;
                return 1;
            }
            if (c->head_len == 0 && c->reqs > 0) {
                return 2;
            }
        }
        return -1;
    }
}

static void after_handshake(struct worker *w, struct conn *c)
{
    if (!counting()) {
        return;
    }
    if (SSL_session_reused(c->ssl)) {
        w->st.resumed++;
    } else {
        w->st.full++;
    }
}

/* idle: keeps up to --ramp connections of this thread connecting or handshaking. */
static void top_up_idle(struct worker *w)
{
    while (w->next_unstarted < w->num_conns && !atomic_load(&g_stop) &&
           w->next_unstarted - w->established - w->failed < g.ramp) {
        conn_open(w, &w->conns[w->next_unstarted++]);
    }
}

/* The response of an operation is complete. Returns 1 to keep driving this connection. */
static int op_done(struct worker *w, struct conn *c)
{
    uint64_t t = now_ns();
    c->reqs++;
    if (counting()) {
        if (c->status == 200) {
            w->st.ops++;
            w->st.bytes += c->body.total + (g.upload ? g.body_size : 0);
            add_latency(&w->st, t - c->t_op);
        } else {
            char what[40];
            snprintf(what, sizeof(what), "HTTP status %d", c->status);
            errno = 0;
            note_error(w, what);
        }
        if (g.count > 0 && atomic_fetch_add(&g_done, 1) + 1 >= g.count) {
            atomic_store(&g_stop, 1);
        }
    }
    switch (g.mode) {
    case M_HANDSHAKE:
    case M_RESUME:
        conn_close(c, 1);
        conn_open(w, c);
        return 0;
    case M_IDLE:
        c->st = S_IDLE;
        set_events(w, c, EPOLLIN);
        w->established++;
        atomic_fetch_add(&g_established, 1);
        atomic_fetch_add(&g_settled, 1);
        return 0;
    default:
        if (c->must_close || (g.reqs_per_conn > 0 && c->reqs >= g.reqs_per_conn)) {
            conn_close(c, 1);
            conn_open(w, c);
            return 0;
        }
        start_request(c);
        return 1;
    }
}

static void drive(struct worker *w, struct conn *c)
{
    for (;;) {
        int r, err = 0;
        socklen_t len = sizeof(err);
        switch (c->st) {
        case S_CONNECTING:
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                errno = err;
                conn_fail(w, c, "connect");
                return;
            }
            c->st = S_HANDSHAKE;
            break;
        case S_HANDSHAKE:
            r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                if (!want(w, c, r)) {
                    conn_fail(w, c, "handshake");
                }
                return;
            }
            after_handshake(w, c);
            start_request(c);
            break;
        case S_SEND:
            r = send_some(w, c);
            if (r <= 0) {
                if (r < 0) {
                    conn_fail(w, c, "write");
                }
                return;
            }
            c->st = S_RECV;
            break;
        case S_RECV:
            r = recv_some(w, c);
            if (r == 0) {
                return;
            }
            if (r == 2) { /* the server closed a keep-alive connection: not an error */
                w->st.reconnects += (uint64_t)counting();
                conn_close(c, 0);
                conn_open(w, c);
                return;
            }
            if (r < 0) {
                conn_fail(w, c, c->head_len == 0 && !c->in_body ? "read" : "bad response");
                return;
            }
            if (!op_done(w, c)) {
                return;
            }
            break;
        case S_IDLE:
            r = SSL_read(c->ssl, w->rbuf, sizeof(w->rbuf));
            if (r <= 0 && want(w, c, r)) {
                return;
            }
            w->st.closed_idle++; /* the server closed (or spoke on) an idle connection */
            conn_close(c, 0);
            return;
        default:
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[512];
    if (g.mode == M_IDLE) {
        top_up_idle(w);
    } else {
        for (int i = 0; i < w->num_conns; i++) {
            conn_open(w, &w->conns[i]);
        }
    }
    while (!atomic_load(&g_stop)) {
        int n = epoll_wait(w->ep, evs, 512, w->num_reopen > 0 ? 0 : 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->st != S_CLOSED) {
                drive(w, c);
            }
        }
        if (g.mode == M_IDLE) {
            top_up_idle(w);
        }
        int k = w->num_reopen;
        w->num_reopen = 0;
        for (int i = 0; i < k; i++) {
            struct conn *c = &w->conns[w->reopen[i]];
            if (c->st == S_CLOSED) {
                conn_open(w, c);
            }
        }
    }
    for (int i = 0; i < w->num_conns; i++) {
        conn_close(&w->conns[i], 0);
        SSL_SESSION_free(w->conns[i].sess);
        w->conns[i].sess = NULL;
    }
    return NULL;
}

/* ----------------------------------------------------------------------------------------- */
/* setup */

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct conn *c = SSL_get_app_data(ssl);
    SSL_SESSION_free(c->sess);
    c->sess = sess;
    return 1; /* we keep the reference */
}

static void die_ssl(const char *what)
{
    fprintf(stderr, "loadgen: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static void setup_tls(void)
{
    static const uint8_t alpn[] = "\x08http/1.1";
    g_ctx = SSL_CTX_new(TLS_method());
    if (g_ctx == NULL || !SSL_CTX_set_min_proto_version(g_ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(g_ctx, TLS1_3_VERSION)) {
        die_ssl("SSL_CTX_new");
    }
    if (!SSL_CTX_set1_curves_list(g_ctx, g.groups)) {
        die_ssl("bad --groups");
    }
    if (SSL_CTX_set_alpn_protos(g_ctx, alpn, sizeof(alpn) - 1) != 0) {
        die_ssl("ALPN");
    }
    if (g.cert != NULL &&
        (!SSL_CTX_use_certificate_chain_file(g_ctx, g.cert) ||
         !SSL_CTX_use_PrivateKey_file(g_ctx, g.key ? g.key : g.cert, SSL_FILETYPE_PEM) ||
         !SSL_CTX_check_private_key(g_ctx))) {
        die_ssl("client certificate or key");
    }
    if (g.ca != NULL) {
        if (!SSL_CTX_load_verify_locations(g_ctx, g.ca, NULL)) {
            die_ssl("--ca");
        }
        SSL_CTX_set_verify(g_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
    }
    if (g.mode == M_RESUME) {
        SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(g_ctx, new_session);
    } else {
        SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_mode(g_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void build_request(struct worker *w)
{
    char path[600];
    const char *host = g.host_header ? g.host_header : g.sni;
    int n;
    if (g.mode == M_BODY && !g.upload && strcmp(g.path, "/") == 0) {
        snprintf(path, sizeof(path), "/bytes/%" PRIu64, g.body_size);
    } else {
        snprintf(path, sizeof(path), "%s", g.path);
    }
    if (g.upload) {
        n = snprintf(w->req, sizeof(w->req),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mtls-bench-loadgen\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: %" PRIu64
                     "\r\n\r\n", path, host, g.body_size);
    } else {
        n = snprintf(w->req, sizeof(w->req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mtls-bench-loadgen\r\n"
                     "Accept: */*\r\n\r\n", path, host);
    }
    if (n < 0 || (size_t)n >= sizeof(w->req)) {
        fprintf(stderr, "loadgen: request head too long\n");
        exit(2);
    }
    w->req_len = (size_t)n;
}

/* ----------------------------------------------------------------------------------------- */
/* CPU of the measured processes */

/* utime+stime of `pid` (all its threads) in clock ticks, or 0 if it is gone. */
static uint64_t proc_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after "comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2) {
        return 0;
    }
    return ut + st;
}

static double server_cpu_us(void)
{
    uint64_t t = 0;
    for (int i = 0; i < g.num_pids; i++) {
        t += proc_ticks(g.pids[i]);
    }
    return (double)t * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* ----------------------------------------------------------------------------------------- */
/* report */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

struct result {
    double secs, server_us, self_us;
};

static void report(struct worker *ws, const struct result *r)
{
    struct stats t = {0};
    for (int i = 0; i < g.threads; i++) {
        struct stats *s = &ws[i].st;
        t.ops += s->ops;
        t.errors += s->errors;
        t.bytes += s->bytes;
        t.resumed += s->resumed;
        t.full += s->full;
        t.reconnects += s->reconnects;
        t.closed_idle += s->closed_idle;
        if (t.first_err[0] == '\0') {
            memcpy(t.first_err, s->first_err, sizeof(t.first_err));
        }
        t.num_lat += s->num_lat;
    }
    uint32_t *lat = malloc((t.num_lat + 1) * sizeof(*lat));
    size_t k = 0;
    for (int i = 0; lat != NULL && i < g.threads; i++) {
        memcpy(lat + k, ws[i].st.lat, ws[i].st.num_lat * sizeof(*lat));
        k += ws[i].st.num_lat;
    }
    if (lat != NULL) {
        qsort(lat, k, sizeof(*lat), cmp_u32);
    } else {
        k = 0;
    }
    double rate = r->secs > 0 ? (double)t.ops / r->secs : 0;
    double p50 = pct(lat, k, 0.50), p99 = pct(lat, k, 0.99);
    double mbps = r->secs > 0 ? (double)t.bytes / r->secs / 1e6 : 0;
    double per_op = t.ops > 0 && g.num_pids > 0 ? r->server_us / (double)t.ops : 0;
    double self_pct = r->secs > 0 ? r->self_us / (r->secs * 1e6) * 100 : 0;
    for (char *p = t.first_err; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            *p = '\'';
        }
    }
    printf("%s: %d conns, %d threads, %.2f s: %" PRIu64 " ops, %.1f/s, p50 %.3f ms, p99 %.3f ms,"
           " errors %" PRIu64 "%s%s",
           mode_names[g.mode], g.connections, g.threads, r->secs, t.ops, rate, p50 / 1000,
           p99 / 1000, t.errors, t.first_err[0] ? " (first: " : "",
           t.first_err[0] ? t.first_err : "");
    printf("%s", t.first_err[0] ? ")" : "");
    if (g.mode == M_RESUME || g.mode == M_HANDSHAKE) {
        printf(", resumed %" PRIu64 " full %" PRIu64, t.resumed, t.full);
    }
    if (g.mode == M_BODY) {
        printf(", %.1f MB/s", mbps);
    }
    if (g.mode == M_IDLE) {
        printf(", established %d, closed by server %" PRIu64, atomic_load(&g_established),
               t.closed_idle);
    }
    if (g.num_pids > 0) {
        printf(", server CPU %.0f µs (%.1f µs/op)", r->server_us, per_op);
    }
    printf(", loadgen CPU %.0f%%\n", self_pct);
    printf("JSON {\"mode\":\"%s\",\"connections\":%d,\"threads\":%d,\"seconds\":%.4f,"
           "\"ops\":%" PRIu64 ",\"rate\":%.2f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
           "\"errors\":%" PRIu64 ",\"first_error\":\"%s\",\"resumed\":%" PRIu64
           ",\"full\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"mbps\":%.2f,\"established\":%d,\"closed_idle\":%" PRIu64
           ",\"server_cpu_us\":%.0f,\"server_cpu_us_per_op\":%.2f,\"loadgen_cpu_pct\":%.1f}\n",
           mode_names[g.mode], g.connections, g.threads, r->secs, t.ops, rate, p50, p99,
           t.errors, t.first_err, t.resumed, t.full, t.reconnects, t.bytes, mbps,
           atomic_load(&g_established), t.closed_idle, r->server_us, per_op, self_pct);
    fflush(stdout);
    free(lat);
}

/* ----------------------------------------------------------------------------------------- */
/* main */

static const char usage[] =
    "usage: loadgen MODE [options]\n"
    "modes: handshake | resume | keepalive | body | idle\n"
    "  --host IP (127.0.0.1)  --port N (443)  --sni NAME (localhost)  --host-header NAME (=sni)\n"
    "  --cert FILE --key FILE (client certificate chain and key, PEM)\n"
    "  --ca FILE              verify the server against FILE (default: no server check)\n"
    "  --threads N (1)  --connections N (8, total over all threads)\n"
    "  --duration S (5)  --warmup S (1)  --count N (instead of a timed window)\n"
    "  --path P (/)  --body-size BYTES  --upload (body mode: POST instead of GET /bytes/N)\n"
    "  --requests-per-conn N  (keepalive/body: reconnect after N requests; 0 = never)\n"
    "  --ramp N (64)          (idle: handshakes in flight per thread)\n"
    "  --groups LIST (X25519)  --pid PID[,PID...] (measure these processes' CPU)\n";

static uint64_t parse_size(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    uint64_t mul = 1;
    if (end != NULL && (*end == 'k' || *end == 'K')) {
        mul = 1024;
    } else if (end != NULL && (*end == 'm' || *end == 'M')) {
        mul = 1024 * 1024;
    } else if (end != NULL && (*end == 'g' || *end == 'G')) {
        mul = 1024ull * 1024 * 1024;
    }
    return (uint64_t)(v * (double)mul);
}

static void parse_pids(const char *s)
{
    while (*s && g.num_pids < MAX_PIDS) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (end == s) {
            break;
        }
        g.pids[g.num_pids++] = (pid_t)v;
        s = *end == ',' ? end + 1 : end;
    }
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"sni", 1, 0, 's'},
        {"host-header", 1, 0, 'H'}, {"cert", 1, 0, 'c'}, {"key", 1, 0, 'k'},
        {"ca", 1, 0, 'C'}, {"threads", 1, 0, 't'}, {"connections", 1, 0, 'n'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'}, {"count", 1, 0, 'N'},
        {"path", 1, 0, 'P'}, {"body-size", 1, 0, 'b'}, {"upload", 0, 0, 'u'},
        {"requests-per-conn", 1, 0, 'r'}, {"ramp", 1, 0, 'R'}, {"groups", 1, 0, 'g'},
        {"pid", 1, 0, 'i'}, {"help", 0, 0, '?'}, {0, 0, 0, 0}};
    if (argc < 2) {
        fputs(usage, stderr);
        exit(2);
    }
    int m;
    for (m = 0; m < 5 && strcmp(argv[1], mode_names[m]) != 0; m++) {
    }
    if (m == 5) {
        fputs(usage, stderr);
        exit(2);
    }
    g.mode = (enum mode)m;
    optind = 2;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'h': g.host = optarg; break;
        case 'p': g.port = atoi(optarg); break;
        case 's': g.sni = optarg; break;
        case 'H': g.host_header = optarg; break;
        case 'c': g.cert = optarg; break;
        case 'k': g.key = optarg; break;
        case 'C': g.ca = optarg; break;
        case 't': g.threads = atoi(optarg); break;
        case 'n': g.connections = atoi(optarg); break;
        case 'd': g.duration = atof(optarg); break;
        case 'w': g.warmup = atof(optarg); break;
        case 'N': g.count = parse_size(optarg); break;
        case 'P': g.path = optarg; break;
        case 'b': g.body_size = parse_size(optarg); break;
        case 'u': g.upload = 1; break;
        case 'r': g.reqs_per_conn = atoi(optarg); break;
        case 'R': g.ramp = atoi(optarg); break;
        case 'g': g.groups = optarg; break;
        case 'i': parse_pids(optarg); break;
        default: fputs(usage, stderr); exit(2);
        }
    }
    if (g.threads < 1 || g.connections < g.threads || g.port <= 0 || g.port > 65535 ||
        g.ramp < 1 || inet_pton(AF_INET, g.host, &g_addr.sin_addr) != 1) {
        fputs(usage, stderr);
        exit(2);
    }
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)g.port);
}

static void sleep_s(double s)
{
    uint64_t end = now_ns() + (uint64_t)(s * 1e9);
    while (!atomic_load(&g_stop) && now_ns() < end) {
        usleep(2000);
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Runs the window; returns its length and the CPU used in it. */
static struct result measure(void)
{
    struct result r = {0};
    uint64_t t0;
    double c0, s0;
    if (g.mode == M_IDLE) {
        atomic_store(&g_measuring, 1);
        t0 = now_ns();
        while (!atomic_load(&g_stop) && atomic_load(&g_settled) < g.connections) {
            usleep(5000);
        }
        r.secs = (double)(now_ns() - t0) / 1e9;
        printf("READY %d %.3f\n", atomic_load(&g_established), r.secs);
        fflush(stdout);
        sleep_s(g.duration);
        atomic_store(&g_measuring, 0);
        return r;
    }
    if (g.count == 0) {
        sleep_s(g.warmup);
    }
    c0 = server_cpu_us();
    s0 = self_cpu_us();
    t0 = now_ns();
    atomic_store(&g_measuring, 1);
    if (g.count > 0) {
        while (!atomic_load(&g_stop)) {
            usleep(1000);
        }
    } else {
        sleep_s(g.duration);
    }
    atomic_store(&g_measuring, 0);
    r.secs = (double)(now_ns() - t0) / 1e9;
    r.server_us = server_cpu_us() - c0;
    r.self_us = self_cpu_us() - s0;
    return r;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    memset(g_filler, 'x', sizeof(g_filler));
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    raise_nofile();
    setup_tls();
    struct worker *ws = calloc((size_t)g.threads, sizeof(*ws));
    if (ws == NULL) {
        return 2;
    }
    for (int i = 0; i < g.threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->num_conns = g.connections / g.threads + (i < g.connections % g.threads);
        w->conns = calloc((size_t)w->num_conns, sizeof(*w->conns));
        w->reopen = calloc((size_t)w->num_conns, sizeof(*w->reopen));
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->conns == NULL || w->reopen == NULL || w->ep < 0) {
            fprintf(stderr, "loadgen: out of memory\n");
            return 2;
        }
        for (int j = 0; j < w->num_conns; j++) {
            w->conns[j].fd = -1;
        }
        build_request(w);
    }
    for (int i = 0; i < g.threads; i++) {
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    }
    struct result r = measure();
    atomic_store(&g_stop, 1);
    for (int i = 0; i < g.threads; i++) {
        pthread_join(ws[i].th, NULL);
    }
    report(ws, &r);
    return 0;
}
