/*
 * demo.c - `mtls-proxy demo` (demo.h): a temporary directory with a throwaway PKI, a
 * built-in upstream, the tutorial's Caddyfile, the proxy as a child process, two curl
 * clients (one accepted, one refused), then a clean stop.
 *
 * Processes are started with fork + execve only (no PATH search, no allocation in the child)
 * because the upstream thread is already running when they are forked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "demo.h"
#include "demo_pki.h"

extern char **environ;

#define PROXY_ATTEMPTS 3        /* a fresh port each time: another process may take ours */
#define READY_TIMEOUT_MS 10000  /* until the proxy's port accepts connections */
#define STOP_TIMEOUT_MS 5000    /* after SIGTERM, before SIGKILL */
#define UPSTREAM_HEAD_MAX 16384 /* request head the upstream accepts */
#define CURL_OUT_MAX 65536      /* curl output kept (the rest is read and dropped) */
#define MAX_CMD_WORDS 16

/* The built-in upstream: one thread answering one request per connection. */
struct upstream {
    int listen_fd;
    int wake[2]; /* a byte written to wake[1] makes the thread return */
    int port;
    int started;
    atomic_int received; /* request heads read, to show that mallory reached nothing */
    pthread_t thread;
};

struct demo {
    int keep;
    int port; /* the proxy's */
    pid_t proxy;
    char **envp;
    struct upstream up;
    char dir[PATH_MAX];
    char caddyfile[PATH_MAX];
    char curl[PATH_MAX];
    char proxy_file[PATH_MAX];
    char *proxy_argv[MAX_CMD_WORDS + 3];
    char cmd_words[1024];
    char home_env[PATH_MAX + 8];
};

/* Identity headers the upstream echoes (the Caddyfile sets the first three). */
static const char *const shown_headers[] = {
    "X-Client-Subject", "X-Client-Fingerprint", "X-Client-Verified",
    "X-Forwarded-For",  "X-Forwarded-Proto",    "X-Forwarded-Host",
};

/* Children get HOME = the temporary directory; these would reach outside it. */
static const char *const stripped_env[] = {
    "HOME",       "CURL_HOME",   "XDG_CONFIG_HOME", "XDG_DATA_HOME", "http_proxy",
    "HTTPS_PROXY", "https_proxy", "ALL_PROXY",       "all_proxy",
};

static const char caddyfile_format[] =
    "{\n"
    "\tadmin off\n"
    "\tauto_https off\n"
    "}\n"
    "(mtls) {\n"
    "\ttls " DEMO_PKI_SERVER_CERT " " DEMO_PKI_SERVER_KEY " {\n"
    "\t\tclient_auth {\n"
    "\t\t\tmode require_and_verify\n"
    "\t\t\ttrusted_ca_cert_file " DEMO_PKI_CA_CERT "\n"
    "\t\t}\n"
    "\t}\n"
    "}\n"
    "localhost:%d {\n"
    "\tbind 127.0.0.1\n"
    "\timport mtls\n"
    "\treverse_proxy 127.0.0.1:%d {\n"
    "\t\theader_up X-Client-Subject {tls_client_subject}\n"
    "\t\theader_up X-Client-Fingerprint {tls_client_fingerprint}\n"
    "\t\theader_up X-Client-Verified {http.request.tls.client.verified}\n"
    "\t}\n"
    "}\n";

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* bind_loopback returns a socket bound to 127.0.0.1 on a free port and that port, or -1. */
static int bind_loopback(int *out_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sa_len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sa_len) != 0) {
        close(fd);
        return -1;
    }
    *out_port = ntohs(sa.sin_port);
    return fd;
}

static int port_accepts(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

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

static void serve_one(struct upstream *up, int fd)
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
    struct upstream *up = arg;
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

static int upstream_start(struct upstream *up)
{
    atomic_init(&up->received, 0);
    up->listen_fd = bind_loopback(&up->port);
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

static void upstream_stop(struct upstream *up)
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

/* ---- child processes -------------------------------------------------------------------- */

/* find_program puts the path of the executable `name` (searched in PATH unless it has a '/')
 * into `out`; 0 if found. */
static int find_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/') != NULL) {
        return snprintf(out, cap, "%s", name) < (int)cap && access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
        size_t dir_len = strcspn(p, ":");
        int n = snprintf(out, cap, "%.*s/%s", (int)dir_len, dir_len > 0 ? p : ".", name);
        if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0) {
            return 0;
        }
        p += dir_len + (p[dir_len] == ':');
    }
    return -1;
}

/* make_env copies the environment without `stripped_env` and adds HOME=`d->dir`. */
static int make_env(struct demo *d)
{
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    d->envp = calloc(n + 2, sizeof(*d->envp));
    if (d->envp == NULL) {
        fprintf(stderr, "mtls-proxy demo: out of memory\n");
        return -1;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strcspn(environ[i], "=");
        int keep = 1;
        for (size_t j = 0; j < sizeof(stripped_env) / sizeof(stripped_env[0]); j++) {
            if (strlen(stripped_env[j]) == name_len &&
                strncmp(environ[i], stripped_env[j], name_len) == 0) {
                keep = 0;
            }
        }
        if (keep) {
            d->envp[out++] = environ[i];
        }
    }
    snprintf(d->home_env, sizeof(d->home_env), "HOME=%s", d->dir);
    d->envp[out] = d->home_env;
    return 0;
}

/* spawn starts `file` with `argv` in `dir`, stdout on `out_fd` if >= 0; returns its pid. */
static pid_t spawn(const char *file, char *const argv[], char *const envp[], const char *dir,
                   int out_fd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    /* Child of a threaded process: async-signal-safe calls only, until execve. */
    sigset_t none;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    if (chdir(dir) == 0 && (out_fd < 0 || dup2(out_fd, STDOUT_FILENO) >= 0)) {
        execve(file, argv, envp);
    }
    static const char msg[] = "mtls-proxy demo: cannot start ";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)!write(STDERR_FILENO, file, strlen(file));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
}

/* wait_for waits up to `ms` for `pid`: 1 if it exited (status in *status), else 0. */
static int wait_for(pid_t pid, long ms, int *status)
{
    for (long waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            return 1;
        }
        if (waited >= ms) {
            return 0;
        }
        sleep_ms(20);
    }
}

/* stop_child sends SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns the wait status. */
static int stop_child(pid_t pid, const char *what)
{
    int status = 0;
    kill(pid, SIGTERM);
    if (wait_for(pid, STOP_TIMEOUT_MS, &status)) {
        return status;
    }
    fprintf(stderr, "mtls-proxy demo: %s did not stop within %d s of SIGTERM; killing it\n",
            what, STOP_TIMEOUT_MS / 1000);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

static void describe_status(int status, char *out, size_t cap)
{
    if (WIFEXITED(status)) {
        snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, cap, "wait status %d", status);
    }
}

/* print_command prints `argv` as a shell command line (single-quoting where needed). */
static void print_command(const char *prefix, char *const argv[])
{
    fputs(prefix, stdout);
    for (size_t i = 0; argv[i] != NULL; i++) {
        int plain = argv[i][0] != '\0' &&
                    strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789-_./:=,@+") == strlen(argv[i]);
        printf(plain ? "%s%s" : "%s'%s'", i > 0 ? " " : "", argv[i]);
    }
    fputs("\n", stdout);
}

/* ---- the demo ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: mtls-proxy demo [--keep]\n"
               "  Makes a throwaway PKI and Caddyfile in a temporary directory, runs the proxy\n"
               "  on 127.0.0.1 in front of a built-in upstream, and shows with curl one client\n"
               "  accepted (alice: trusted CA) and one refused (mallory: untrusted CA).\n"
               "  Needs curl. Exit status 0 when both behave as expected, 1 otherwise.\n"
               "  --keep  keep the temporary directory (certificates, keys, Caddyfile)\n"
               "  environment: MTLS_DEMO_PROXY_CMD replaces \"mtls-proxy run\" (split at\n"
               "  spaces, \"--config FILE\" appended), e.g. \"caddy run --adapter caddyfile\"\n");
}

/* parse_args returns -1 to run the demo, otherwise the exit status. */
static int parse_args(struct demo *d, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0) {
            d->keep = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mtls-proxy demo: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* split_words splits `s` in place at spaces and tabs; returns the count or -1 if > `max`. */
static int split_words(char *s, char **words, size_t max)
{
    size_t n = 0;
    for (char *p = s;;) {
        p += strspn(p, " \t");
        if (*p == '\0') {
            return (int)n;
        }
        if (n == max) {
            return -1;
        }
        words[n++] = p;
        p += strcspn(p, " \t");
        if (*p != '\0') {
            *p++ = '\0';
        }
    }
}

/* proxy_command sets the proxy's file and argv: this program's `run`, or MTLS_DEMO_PROXY_CMD,
 * followed by `--config DIR/Caddyfile`. */
static int proxy_command(struct demo *d)
{
    const char *cmd = getenv("MTLS_DEMO_PROXY_CMD");
    int n = 2;
    d->proxy_argv[0] = "mtls-proxy";
    d->proxy_argv[1] = "run";
    snprintf(d->proxy_file, sizeof(d->proxy_file), "/proc/self/exe");
    if (cmd != NULL && *cmd != '\0') {
        if (snprintf(d->cmd_words, sizeof(d->cmd_words), "%s", cmd) >= (int)sizeof(d->cmd_words) ||
            (n = split_words(d->cmd_words, d->proxy_argv, MAX_CMD_WORDS)) <= 0) {
            fprintf(stderr, "mtls-proxy demo: MTLS_DEMO_PROXY_CMD is empty or too long\n");
            return -1;
        }
        if (find_program(d->proxy_argv[0], d->proxy_file, sizeof(d->proxy_file)) != 0) {
            fprintf(stderr, "mtls-proxy demo: MTLS_DEMO_PROXY_CMD: %s not found in PATH\n",
                    d->proxy_argv[0]);
            return -1;
        }
    }
    d->proxy_argv[n++] = "--config";
    d->proxy_argv[n++] = d->caddyfile;
    d->proxy_argv[n] = NULL;
    return 0;
}

static int make_tempdir(struct demo *d)
{
    char made[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    tmp = tmp != NULL && *tmp != '\0' ? tmp : "/tmp";
    if (snprintf(made, sizeof(made), "%s/mtls-demo-XXXXXX", tmp) >= (int)sizeof(made)) {
        fprintf(stderr, "mtls-proxy demo: TMPDIR is too long: %s\n", tmp);
        return -1;
    }
    if (mkdtemp(made) == NULL) {
        fprintf(stderr, "mtls-proxy demo: cannot create a temporary directory in %s: %s\n", tmp,
                strerror(errno));
        return -1;
    }
    /* Absolute, because the children run inside it and get the Caddyfile's path. */
    if (realpath(made, d->dir) == NULL) {
        fprintf(stderr, "mtls-proxy demo: %s: %s\n", made, strerror(errno));
        rmdir(made);
        return -1;
    }
    if (snprintf(d->caddyfile, sizeof(d->caddyfile), "%s/Caddyfile", d->dir) >=
        (int)sizeof(d->caddyfile)) {
        fprintf(stderr, "mtls-proxy demo: path too long: %s/Caddyfile\n", d->dir);
        return -1;
    }
    return 0;
}

static int setup(struct demo *d)
{
    char err[512];
    if (make_tempdir(d) != 0) {
        return -1;
    }
    if (demo_pki_write(d->dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "mtls-proxy demo: making the demo PKI in %s: %s\n", d->dir, err);
        return -1;
    }
    printf("== a throwaway PKI in %s\n"
           "  " DEMO_PKI_CA_CERT "    \"libmtls demo client CA\" (Ed25519), the CA the proxy "
           "trusts\n"
           "  " DEMO_PKI_ALICE_CERT "      client CN=alice (P-384 key), signed by that CA\n"
           "  " DEMO_PKI_MALLORY_CERT "    client CN=mallory (P-384 key), signed by \"libmtls "
           "demo untrusted CA\" (mallory-ca.pem)\n"
           "  " DEMO_PKI_SERVER_CERT "     CN=localhost, 127.0.0.1, ::1 (P-256 key), signed by "
           "\"libmtls demo server CA\" (" DEMO_PKI_SERVER_CA ")\n",
           d->dir);
    if (make_env(d) != 0 || proxy_command(d) != 0 || upstream_start(&d->up) != 0) {
        return -1;
    }
    printf("== upstream: a built-in HTTP server on 127.0.0.1:%d that echoes the identity "
           "headers it receives\n",
           d->up.port);
    return 0;
}

static int write_caddyfile(const struct demo *d, char *text, size_t cap)
{
    int n = snprintf(text, cap, caddyfile_format, d->port, d->up.port);
    FILE *f = fopen(d->caddyfile, "w");
    if (n < 0 || (size_t)n >= cap || f == NULL || fputs(text, f) == EOF) {
        fprintf(stderr, "mtls-proxy demo: cannot write %s: %s\n", d->caddyfile, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "mtls-proxy demo: cannot write %s: %s\n", d->caddyfile, strerror(errno));
        return -1;
    }
    return 0;
}

/* wait_ready: 1 once the proxy's port accepts connections, 0 if the proxy exited (d->proxy is
 * then -1 and its wait status in *status), -1 after READY_TIMEOUT_MS. */
static int wait_ready(struct demo *d, int *status)
{
    for (long waited = 0; waited < READY_TIMEOUT_MS; waited += 100) {
        if (wait_for(d->proxy, 0, status)) {
            d->proxy = -1;
            return 0;
        }
        if (port_accepts(d->port)) {
            return 1;
        }
        sleep_ms(100);
    }
    return -1;
}

static int start_proxy(struct demo *d)
{
    char text[2048], why[64];
    for (int attempt = 1; attempt <= PROXY_ATTEMPTS; attempt++) {
        int status = 0, fd = bind_loopback(&d->port);
        if (fd < 0) {
            fprintf(stderr, "mtls-proxy demo: no free port on 127.0.0.1: %s\n", strerror(errno));
            return -1;
        }
        close(fd); /* the proxy binds it; PROXY_ATTEMPTS covers someone else taking it first */
        if (write_caddyfile(d, text, sizeof(text)) != 0) {
            return -1;
        }
        if (attempt == 1) {
            printf("\n== %s\n%s", d->caddyfile, text);
        } else {
            printf("\n== trying again with port %d in the Caddyfile\n", d->port);
        }
        print_command("\n== starting the proxy: ", d->proxy_argv);
        d->proxy = spawn(d->proxy_file, d->proxy_argv, d->envp, d->dir, -1);
        if (d->proxy < 0) {
            fprintf(stderr, "mtls-proxy demo: fork: %s\n", strerror(errno));
            return -1;
        }
        int ready = wait_ready(d, &status);
        if (ready == 1) {
            return 0;
        }
        if (ready < 0) {
            fprintf(stderr, "mtls-proxy demo: the proxy did not accept connections on port %d "
                            "within %d s\n", d->port, READY_TIMEOUT_MS / 1000);
            return -1;
        }
        describe_status(status, why, sizeof(why));
        fprintf(stderr, "mtls-proxy demo: the proxy exited (%s) before accepting connections "
                        "on port %d (attempt %d of %d)\n", why, d->port, attempt, PROXY_ATTEMPTS);
    }
    return -1;
}

/* ---- the two clients ---------------------------------------------------------------------- */

struct curl_result {
    int exit_code; /* curl's exit status, -1 if it did not exit normally */
    char http[4];  /* "%{http_code}": "000" when no HTTP response came back */
};

/* read_all reads `fd` to its end, keeping the first `cap` bytes; returns how many were kept. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    char drop[4096];
    size_t len = 0;
    for (;;) {
        int full = len == cap;
        ssize_t n = full ? read(fd, drop, sizeof(drop)) : read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return len;
        }
        len += full ? 0 : (size_t)n;
    }
}

/* run_curl prints and runs the client with `cert` and `key`, echoing the body it gets. */
static int run_curl(struct demo *d, char *cert, char *key, struct curl_result *res)
{
    char resolve[64], url[64], out[CURL_OUT_MAX];
    int p[2], status = 0;
    snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", d->port);
    snprintf(url, sizeof(url), "https://localhost:%d/", d->port);
    char *argv[] = {"curl", "-sS", "--max-time", "10", "--resolve", resolve,
                    "--cacert", DEMO_PKI_SERVER_CA, "--cert", cert, "--key", key,
                    "-w", "%{http_code}", url, NULL};
    print_command("$ ", argv);
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, "mtls-proxy demo: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = spawn(d->curl, argv, d->envp, d->dir, p[1]);
    close(p[1]);
    size_t len = pid > 0 ? read_all(p[0], out, sizeof(out)) : 0;
    close(p[0]);
    if (pid < 0) {
        fprintf(stderr, "mtls-proxy demo: fork: %s\n", strerror(errno));
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    snprintf(res->http, sizeof(res->http), "000");
    if (len >= 3) { /* -w prints the status code after the body */
        snprintf(res->http, sizeof(res->http), "%.3s", out + len - 3);
        len -= 3;
    }
    fwrite(out, 1, len, stdout);
    if (len > 0 && out[len - 1] != '\n') {
        fputs("\n", stdout);
    }
    return 0;
}

static int show_alice(struct demo *d)
{
    struct curl_result r;
    printf("\n== alice: a certificate signed by the trusted client CA\n");
    if (run_curl(d, DEMO_PKI_ALICE_CERT, DEMO_PKI_ALICE_KEY, &r) != 0) {
        return 0;
    }
    if (r.exit_code == 0 && strcmp(r.http, "200") == 0) {
        printf("=> accepted: HTTP 200. The proxy verified alice and told the upstream who she "
               "is (above).\n");
        return 1;
    }
    printf("=> FAILED: alice should have got HTTP 200, got HTTP %s (curl exit status %d)\n",
           r.http, r.exit_code);
    return 0;
}

static int show_mallory(struct demo *d)
{
    struct curl_result r;
    int received = atomic_load(&d->up.received);
    printf("\n== mallory: a certificate signed by a CA the proxy does not trust\n");
    if (run_curl(d, DEMO_PKI_MALLORY_CERT, DEMO_PKI_MALLORY_KEY, &r) != 0) {
        return 0;
    }
    /* In TLS 1.3 the client's handshake ends before the server has checked its certificate,
     * so curl reports the alert (or the reset that follows it) at whatever step it is in:
     * 35 handshake, 55 send, 56 receive, 16 HTTP/2 (when the server offers h2). */
    int tls_failure = r.exit_code == 35 || r.exit_code == 55 || r.exit_code == 56 ||
                      r.exit_code == 16;
    int reached = atomic_load(&d->up.received) != received;
    if (tls_failure && strcmp(r.http, "000") == 0 && !reached) {
        printf("=> refused: its CA is not trusted. The proxy aborted the TLS handshake with an "
               "alert (curl's error above); nothing reached the upstream.\n");
        return 1;
    }
    printf("=> FAILED: mallory should have been refused in the TLS handshake, got HTTP %s "
           "(curl exit status %d)%s\n",
           r.http, r.exit_code,
           reached ? "; the upstream received a request" : "");
    return 0;
}

/* ---- stop and clean up -------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(struct demo *d)
{
    char why[64];
    if (d->proxy > 0) {
        printf("\n== stopping the proxy (SIGTERM)\n");
        fflush(stdout);
        describe_status(stop_child(d->proxy, "the proxy"), why, sizeof(why));
        printf("== the proxy stopped: %s\n", why);
    }
    upstream_stop(&d->up);
    free(d->envp);
    if (d->dir[0] == '\0') {
        return;
    }
    if (d->keep) {
        printf("\n== kept %s: the PKI and the Caddyfile (the built-in upstream stopped with "
               "the demo)\n", d->dir);
        return;
    }
    if (nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "mtls-proxy demo: cannot remove %s: %s\n", d->dir, strerror(errno));
    }
}

int demo_main(int argc, char **argv)
{
    struct demo d = {.proxy = -1, .up = {.listen_fd = -1, .wake = {-1, -1}}};
    int rc = parse_args(&d, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (find_program("curl", d.curl, sizeof(d.curl)) != 0) {
        fprintf(stderr, "mtls-proxy demo: curl is not installed; the demo uses it as the client "
                        "(apt-get install curl)\n");
        return 2;
    }
    rc = 1;
    if (setup(&d) == 0 && start_proxy(&d) == 0) {
        int alice = show_alice(&d);
        int mallory = show_mallory(&d);
        rc = alice && mallory ? 0 : 1;
    }
    teardown(&d);
    printf(rc == 0 ? "\nmtls-proxy demo: OK: alice was accepted, mallory was refused.\n"
                   : "\nmtls-proxy demo: FAILED (see above).\n");
    return rc;
}
