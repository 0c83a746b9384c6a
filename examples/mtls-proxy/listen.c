/* listen.c - listening sockets and address parsing (see listen.h). */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int split(const char *addr, char *host, size_t host_len, char *port, size_t port_len,
                 int *family)
{
    *family = AF_UNSPEC;
    if (strncmp(addr, "tcp/", 4) == 0) {
        addr += 4;
    } else if (strncmp(addr, "tcp4/", 5) == 0) {
        addr += 5;
        *family = AF_INET;
    } else if (strncmp(addr, "tcp6/", 5) == 0) {
        addr += 5;
        *family = AF_INET6;
    }
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= port_len ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        return -1;
    }
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= host_len || memchr(addr, '[', hl) || memchr(addr, ']', hl)) {
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    long n = strtol(port, NULL, 10);
    return n > 0 && n < 65536 ? 0 : -1;
}

int listen_resolve(const char *addr, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len, char *err, size_t err_len)
{
    char host[256], port[8];
    int family;
    if (split(addr, host, sizeof(host), port, sizeof(port), &family) != 0) {
        snprintf(err, err_len, "\"%s\" is not a host:port address (port ranges and unix "
                 "sockets are not supported)", addr);
        return -1;
    }
    if (host[0] == '\0' && !passive) {
        snprintf(err, err_len, "\"%s\" has no host", addr);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(host[0] ? host : (family == AF_INET ? "0.0.0.0" : "::"), port, &hints,
                         &res);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", addr, gai_strerror(rc));
        return -1;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) { /* prefer IPv4 for names like localhost */
            pick = a;
            break;
        }
    }
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    *out_len = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int bind_new(const char *addr, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (listen_resolve(addr, 1, &ss, &len, err, err_len) != 0) {
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) ||
        /* Accepted sockets inherit TCP_NODELAY: no setsockopt per connection (loop.c). */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, err_len, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

int listen_open(struct listener *l, const char *addr, const struct runtime *prev,
                int bind_sockets, char *err, size_t err_len)
{
    l->fd = -1;
    l->addr = strdup(addr);
    if (l->addr == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; prev != NULL && i < prev->num_listeners; i++) {
        if (strcmp(prev->listeners[i].addr, addr) == 0 && prev->listeners[i].fd >= 0) {
            l->fd = fcntl(prev->listeners[i].fd, F_DUPFD_CLOEXEC, 0);
            if (l->fd < 0) {
                snprintf(err, err_len, "%s: dup: %s", addr, strerror(errno));
                return -1;
            }
            return 0;
        }
    }
    if (!bind_sockets) {
        struct sockaddr_storage ss;
        socklen_t len;
        return listen_resolve(addr, 1, &ss, &len, err, err_len);
    }
    l->fd = bind_new(addr, err, err_len);
    return l->fd >= 0 ? 0 : -1;
}

void listen_release(struct listener *l)
{
    if (l->fd >= 0) {
        close(l->fd);
    }
    l->fd = -1;
    free(l->addr);
    l->addr = NULL;
}
