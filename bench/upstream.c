/*
 * upstream.c - the benchmark's shared upstream: a tiny epoll HTTP/1.1 keep-alive server on
 * 127.0.0.1 that every server under test proxies to. It must never be the bottleneck, so it
 * does almost nothing:
 *   GET /bytes/N   200 with N bytes of body (Content-Length), streamed from a static buffer
 *   GET /echo      200 with the request head as body (the runner's check that every server
 *                  forwards the client subject)
 *   anything else  reads the request body (Content-Length or chunked) and answers
 *                  200 "ok\n" (Content-Length: 3)
 * Keep-alive unless the request says Connection: close; pipelined requests are answered in
 * order. Its CPU time is not counted (the runner measures the servers' processes only).
 *
 *   upstream --port N [--threads T]     (T event loops, SO_REUSEPORT; default 1)
 * Runs until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http1.h"

#define IN_CAP (64 * 1024)
#define ECHO_CAP 8000
#define OUT_CAP (ECHO_CAP + 192)
#define BODY_CHUNK (256 * 1024)

static const char ok_response[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 3\r\n\r\nok\n";
static char filler[BODY_CHUNK];
static volatile sig_atomic_t stopping;

struct uconn {
    int fd;
    size_t in_len;
    int have_head;      /* a request head was parsed; its body is being read */
    int close_after;    /* Connection: close on the request being answered */
    size_t echo_len;    /* /echo: the request head kept for the response, else 0 */
    struct h1body body;
    uint64_t resp_body; /* body bytes the response to the current request will carry */
    char out[OUT_CAP];
    char echo[ECHO_CAP];
    size_t out_len, out_off;
    uint64_t out_body_left;
    char in[IN_CAP];
};

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void uconn_close(int ep, struct uconn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Parses the head at the start of c->in (ending at `end`) and sets up the response. */
static int start_request(struct uconn *c, size_t end)
{
    const char *v;
    size_t vl;
    uint64_t n = 0;
    c->resp_body = 0;
    c->close_after = h1_header(c->in, end, "Connection", &v, &vl) && vl == 5 &&
                     strncasecmp(v, "close", 5) == 0;
    const char *sp = memchr(c->in, ' ', end);
    if (sp != NULL && (size_t)(sp - c->in) + 8 < end && memcmp(sp + 1, "/bytes/", 7) == 0) {
        const char *d = sp + 8, *de = d;
        while (de < c->in + end && *de >= '0' && *de <= '9') {
            de++;
        }
        if (h1_u64(d, (size_t)(de - d), &n) == 0) {
            c->resp_body = n;
        }
    }
    if (h1body_init(&c->body, c->in, end, 0) != 0) {
        return -1;
    }
    c->echo_len = 0;
    if (sp != NULL && (size_t)(sp - c->in) + 6 <= end && memcmp(sp + 1, "/echo", 5) == 0) {
        c->echo_len = end < ECHO_CAP ? end : ECHO_CAP;
        memcpy(c->echo, c->in, c->echo_len);
    }
    memmove(c->in, c->in + end, c->in_len - end);
    c->in_len -= end;
    c->have_head = 1;
    return 0;
}

static void queue_response(struct uconn *c)
{
    if (c->echo_len > 0) {
        int n = snprintf(c->out, OUT_CAP,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\n%s\r\n",
                         c->echo_len, c->close_after ? "Connection: close\r\n" : "");
        memcpy(c->out + n, c->echo, c->echo_len);
        c->out_len = (size_t)n + c->echo_len;
        c->out_body_left = 0;
    } else if (c->resp_body == 0 && !c->close_after) {
        memcpy(c->out, ok_response, sizeof(ok_response) - 1);
        c->out_len = sizeof(ok_response) - 1;
        c->out_body_left = 0;
    } else {
        int n = snprintf(c->out, sizeof(c->out),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %llu\r\n%s\r\n%s",
                         (unsigned long long)(c->resp_body ? c->resp_body : 3),
                         c->close_after ? "Connection: close\r\n" : "",
                         c->resp_body ? "" : "ok\n");
        c->out_len = (size_t)n;
        c->out_body_left = c->resp_body;
    }
    c->out_off = 0;
    c->have_head = 0;
}

/* Consumes what is buffered: heads, bodies; queues at most one response at a time.
 * Returns -1 when the connection must close. */
static int process(struct uconn *c)
{
    while (c->out_off == c->out_len && c->out_body_left == 0) {
        if (!c->have_head) {
            size_t end = h1_head_end(c->in, c->in_len);
            if (end == 0) {
                return c->in_len == IN_CAP ? -1 : 0;
            }
            if (start_request(c, end) != 0) {
                return -1;
            }
        }
        int done = 0;
        long k = h1body_feed(&c->body, c->in, c->in_len, &done);
        if (k < 0) {
            return -1;
        }
        memmove(c->in, c->in + k, c->in_len - (size_t)k);
        c->in_len -= (size_t)k;
        if (!done) {
            return 0;
        }
        queue_response(c);
    }
    return 0;
}

/* Writes what is queued. Returns 1 when all is written, 0 on EAGAIN, -1 on error or when a
 * Connection: close response is complete. */
static int flush_out(struct uconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        c->out_off += (size_t)n;
    }
    while (c->out_body_left > 0) {
        size_t k = c->out_body_left < BODY_CHUNK ? (size_t)c->out_body_left : BODY_CHUNK;
        ssize_t n = write(c->fd, filler, k);
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        c->out_body_left -= (uint64_t)n;
    }
    if (c->out_len > 0 && c->close_after) {
        return -1;
    }
    c->out_len = c->out_off = 0;
    return 1;
}

/* Edge-triggered: answer what is buffered, flush, read until EAGAIN, until nothing moves. */
static int handle(struct uconn *c)
{
    for (;;) {
        if (process(c) < 0) {
            return -1;
        }
        int queued = c->out_len > 0;
        int f = flush_out(c);
        if (f <= 0) {
            return f; /* error, or EPOLLOUT will come */
        }
        if (queued) {
            continue; /* answered one: more requests may be buffered */
        }
        if (c->in_len == IN_CAP) {
            return -1; /* a head that does not fit */
        }
        ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            return -1;
        }
        if (n < 0) {
            return 0;
        }
        c->in_len += (size_t)n;
    }
}

static int listen_on(int port)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0) {
        perror("upstream: listen");
        exit(1);
    }
    return fd;
}

static void accept_all(int ep, int lfd)
{
    for (;;) {
        int one = 1;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct uconn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

static void *loop(void *arg)
{
    int port = *(int *)arg;
    int lfd = listen_on(port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!stopping) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct uconn *c = evs[i].data.ptr;
            if (c == NULL) {
                accept_all(ep, lfd);
            } else if (handle(c) < 0) {
                uconn_close(ep, c);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 0, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = (int)strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = (int)strtol(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "usage: upstream --port N [--threads T]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: upstream --port N [--threads T]\n");
        return 2;
    }
    memset(filler, 'x', sizeof(filler));
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t th[64];
    for (int i = 1; i < threads; i++) {
        pthread_create(&th[i], NULL, loop, &port);
    }
    loop(&port);
    for (int i = 1; i < threads; i++) {
        pthread_join(th[i], NULL);
    }
    return 0;
}
