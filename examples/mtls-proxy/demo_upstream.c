/* demo_upstream.c - the demo's built-in upstream: one thread answering each request with
 * the identity headers it received (demo_int.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo_int.h"

/* Identity headers the upstream echoes (the Caddyfile sets the first three). */
static const char *const shown_headers[] = {
    "X-Client-Subject", "X-Client-Fingerprint", "X-Client-Verified",
    "X-Forwarded-For",  "X-Forwarded-Proto",    "X-Forwarded-Host",
};


/* ---- the built-in upstream ------------------------------------------------------------ */

/* A response body under construction; text past the capacity is dropped. */
struct text {
    size_t len;
    char buf[32768];
};

static void text_add(struct text *t, const char *s, size_t n)
{
    size_t room = sizeof(t->buf) - t->len;
    n = n < room ? n : room;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* text_safe adds `s` with control bytes as \xHH: header values are attacker-influenced. */
static void text_safe(struct text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        if (c >= 0x20 && c != 0x7f) {
            text_add(t, &s[i], 1);
            continue;
        }
        snprintf(esc, sizeof(esc), "\\x%02x", c);
        text_add(t, esc, 4);
    }
}

/* add_header lists every `name` line of the header block [p, end), or "(not sent)". */
static void add_header(struct text *t, const char *p, const char *end, const char *name)
{
    size_t name_len = strlen(name);
    int found = 0;
    for (const char *eol; (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL; p = eol + 2) {
        if ((size_t)(eol - p) <= name_len || p[name_len] != ':' ||
            strncasecmp(p, name, name_len) != 0) {
            continue;
        }
        const char *v = p + name_len + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }
        text_str(t, name);
        text_str(t, ": ");
        text_safe(t, v, (size_t)(eol - v));
        text_str(t, "\n");
        found = 1;
    }
    if (!found) {
        text_str(t, name);
        text_str(t, ": (not sent)\n");
    }
}

/* read_head reads until the blank line; returns the head's length or 0. */
static size_t read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap) {
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        len += (size_t)n;
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (end != NULL) {
            return (size_t)(end - buf) + 4;
        }
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void serve_one(struct demo_upstream *up, int fd)
{
    char head[UPSTREAM_HEAD_MAX], status[192];
    struct text body = {.len = 0};
    struct timeval tv = {.tv_sec = 5};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t head_len = read_head(fd, head, sizeof(head));
    if (head_len == 0) {
        return;
    }
    /* Counted before answering, so the count is up to date once the client has its answer. */
    atomic_fetch_add(&up->received, 1);
    const char *line_end = memmem(head, head_len, "\r\n", 2); /* found: the head ends in one */
    text_str(&body, "Hello from the demo upstream. The proxy forwarded \"");
    text_safe(&body, head, (size_t)(line_end - head));
    text_str(&body, "\" with:\n");
    for (size_t i = 0; i < sizeof(shown_headers) / sizeof(shown_headers[0]); i++) {
        add_header(&body, line_end + 2, head + head_len, shown_headers[i]);
    }
    int n = snprintf(status, sizeof(status),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     body.len);
    if (send_all(fd, status, (size_t)n) == 0) {
        (void)send_all(fd, body.buf, body.len);
    }
}

static void *upstream_run(void *arg)
{
    struct demo_upstream *up = arg;
    struct pollfd pfd[2] = {{.fd = up->listen_fd, .events = POLLIN},
                            {.fd = up->wake[0], .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfd[1].revents != 0) {
            break;
        }
        if ((pfd[0].revents & POLLIN) == 0) {
            continue;
        }
        int fd = accept4(up->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            serve_one(up, fd);
            close(fd);
        }
    }
    return NULL;
}

int demo_upstream_start(struct demo_upstream *up)
{
    atomic_init(&up->received, 0);
    up->listen_fd = demo_bind_loopback(&up->port);
    if (up->listen_fd < 0 || listen(up->listen_fd, 16) != 0) {
        fprintf(stderr, "mtls-proxy demo: upstream: cannot listen on 127.0.0.1: %s\n",
                strerror(errno));
        return -1;
    }
    if (pipe2(up->wake, O_CLOEXEC) != 0) {
        fprintf(stderr, "mtls-proxy demo: upstream: pipe: %s\n", strerror(errno));
        return -1;
    }
    int e = pthread_create(&up->thread, NULL, upstream_run, up);
    if (e != 0) {
        fprintf(stderr, "mtls-proxy demo: upstream: cannot start its thread: %s\n", strerror(e));
        return -1;
    }
    up->started = 1;
    return 0;
}

void demo_upstream_stop(struct demo_upstream *up)
{
    if (up->started) {
        while (write(up->wake[1], "x", 1) < 0 && errno == EINTR) {
        }
        pthread_join(up->thread, NULL);
    }
    int fds[] = {up->listen_fd, up->wake[0], up->wake[1]};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}
