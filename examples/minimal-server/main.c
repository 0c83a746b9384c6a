/*
 * minimal-server: the smallest BoringSSL HTTPS server with libmtls client authentication.
 *
 *   minimal-server --cert server.pem --key server.key --policy policy.json [--port 8443]
 *
 * One call wires the policy into the SSL_CTX (mtls_ssl_ctx_attach); after the handshake the
 * verdict and Caddy-style identity are read from the SSL. Serves one connection at a time,
 * answers every request with the client's identity, and logs each verdict to stderr.
 * Listens on 127.0.0.1 only; a connection gets 10 s in all; SIGTERM or SIGINT stops it
 * cleanly (exit status 0). Not a
 * production server: see examples/mtls-proxy for that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <mtls/boringssl.h>

static const char *const shown[] = {
    "http.request.tls.client.verified",
    "http.request.tls.client.subject",
    "http.request.tls.client.issuer",
    "http.request.tls.client.serial",
    "http.request.tls.client.fingerprint",
    "http.request.tls.client.san.dns_names",
    "http.request.tls.client.san.uris",
    "http.request.tls.client.spiffe_id",
    "http.request.tls.version",
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: minimal-server --cert FILE --key FILE --policy FILE [--port N]\n"
               "  --cert    server certificate chain (PEM)\n"
               "  --key     server private key (PEM)\n"
               "  --policy  Caddy client_authentication JSON, tls_connection_policies array\n"
               "            or whole Caddy config\n"
               "  --port    TCP port on 127.0.0.1 (default 8443; 0 picks one and prints it)\n");
}

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key, const char *policy)
{
    mtls_error err;
    SSL_CTX *ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (ssl_ctx == NULL || !SSL_CTX_use_certificate_chain_file(ssl_ctx, cert) ||
        !SSL_CTX_use_PrivateKey_file(ssl_ctx, key, SSL_FILETYPE_PEM)) {
        fprintf(stderr, "minimal-server: cannot load %s / %s\n", cert, key);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }
    mtls_ctx *ctx = mtls_ctx_new_from_file(policy, NULL, &err);
    if (ctx == NULL) {
        fprintf(stderr, "minimal-server: %s\n", err.message);
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }
    /* The one call: policy selection, verify mode, CA names, verification, resumption. */
    mtls_status st = mtls_ssl_ctx_attach(ssl_ctx, ctx, &err);
    mtls_ctx_free(ctx); /* the SSL_CTX holds its own reference */
    if (st != MTLS_OK) {
        fprintf(stderr, "minimal-server: %s\n", err.message);
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }
    return ssl_ctx;
}

static int listen_on(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        perror("minimal-server: listen");
        return -1;
    }
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    printf("listening on https://127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

/* Appends `n` bytes to the growing string *out, each byte below 0x20 and DEL as \xHH (so a
 * certificate field cannot add lines). Returns 0, or -1 when memory runs out. */
static int append_escaped(char **out, size_t *len, const char *v, size_t n)
{
    char *p = realloc(*out, *len + 4 * n + 2); /* + NUL + the caller's newline */
    if (p == NULL) {
        return -1;
    }
    *out = p;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f) {
            *len += (size_t)snprintf(p + *len, 5, "\\x%02x", ch);
        } else {
            p[(*len)++] = (char)ch;
        }
    }
    p[*len] = '\0';
    return 0;
}

/* The identity as "name: value" lines, values escaped for safe display, whole however
 * long (thousands of SANs). Returns a malloc'd string, or NULL when memory runs out. */
static char *render_identity(mtls_peer *peer, size_t *out_len)
{
    char *out = NULL;
    size_t len = 0;
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        const char *v = "";
        size_t n = 0; /* values may hold NUL: use the length, not strlen */
        if (mtls_peer_get(peer, shown[i], &v, &n, NULL) != MTLS_OK) {
            v = "", n = 0;
        }
        if (append_escaped(&out, &len, shown[i], strlen(shown[i])) != 0 ||
            append_escaped(&out, &len, ": ", 2) != 0 || append_escaped(&out, &len, v, n) != 0) {
            free(out);
            return NULL;
        }
        out[len++] = '\n'; /* room: append_escaped reserves 2 bytes past the text */
        out[len] = '\0';
    }
    *out_len = len;
    return out;
}

/* SIGALRM ends a connection that takes too long as a whole: recv() fails with EINTR (no
 * SA_RESTART), so a client trickling its ClientHello or request cannot hold this
 * one-connection-at-a-time server beyond CONN_DEADLINE seconds. */
#define CONN_DEADLINE 10

static void on_alarm(int sig)
{
    (void)sig;
}

static void serve(SSL_CTX *ssl_ctx, int fd)
{
    struct timeval tv = {.tv_sec = CONN_DEADLINE};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(ssl_ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, fd)) {
        SSL_free(ssl);
        return;
    }
    alarm(CONN_DEADLINE);
    int ok = SSL_accept(ssl) == 1;
    mtls_peer *peer = mtls_ssl_get0_peer(ssl);
    /* mtls_peer_message escapes the certificate fields it names: one line per client. */
    fprintf(stderr, "client %s: %s\n", ok ? "accepted" : "rejected",
            peer ? mtls_peer_message(peer) : "handshake failed before client authentication");
    size_t body_len = 0;
    char *body = ok ? render_identity(peer, &body_len) : NULL;
    if (body != NULL) {
        char req[8192], head[160];
        int n = SSL_read(ssl, req, sizeof(req) - 1); /* one request; headers fit or we answer anyway */
        (void)n;
        fwrite(body, 1, body_len, stdout);
        fflush(stdout);
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          body_len);
        /* One write: a client that half-closed after its request still gets all of it. */
        char *resp = malloc((size_t)hl + body_len);
        if (resp != NULL) {
            memcpy(resp, head, (size_t)hl);
            memcpy(resp + hl, body, body_len);
            if (SSL_write(ssl, resp, hl + (int)body_len) == hl + (int)body_len) {
                SSL_shutdown(ssl);
            }
            free(resp);
        }
        free(body);
    }
    alarm(0);
    ERR_clear_error();
    SSL_free(ssl);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *policy = NULL;
    long port = 8443;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--cert") == 0) {
            cert = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--policy") == 0) {
            policy = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0) {
            char *end = NULL;
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || port < 0 || port > 65535) {
                usage(stderr);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (cert == NULL || key == NULL || policy == NULL) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* No SA_RESTART: accept() returns EINTR and the loop ends, so everything is freed (and
     * LeakSanitizer runs at exit in sanitizer builds). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    SSL_CTX *ssl_ctx = make_ssl_ctx(cert, key, policy);
    int lfd = ssl_ctx ? listen_on((int)port) : -1;
    if (lfd < 0) {
        SSL_CTX_free(ssl_ctx);
        return 1;
    }
    int status = 0;
    while (!stopping) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("minimal-server: accept");
            status = 1;
            break;
        }
        serve(ssl_ctx, fd);
        close(fd);
    }
    close(lfd);
    SSL_CTX_free(ssl_ctx);
    return status;
}
