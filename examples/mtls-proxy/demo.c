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
#include "demo_int.h"
#include "demo_pki.h"

extern char **environ;

#define PROXY_ATTEMPTS 3        /* a fresh port each time: another process may take ours */
#define READY_TIMEOUT_MS 10000  /* until the proxy's port accepts connections */
#define CURL_OUT_MAX 65536      /* curl output kept (the rest is read and dropped) */
#define MAX_CMD_WORDS 16

struct demo {
    int keep;
    int port; /* the proxy's */
    pid_t proxy;
    char **envp;
    struct demo_upstream up;
    char dir[PATH_MAX];
    char caddyfile[PATH_MAX];
    char curl[PATH_MAX];
    char proxy_file[PATH_MAX];
    char *proxy_argv[MAX_CMD_WORDS + 3];
    char cmd_words[1024];
    char home_env[PATH_MAX + 8];
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
        if (demo_find_program(d->proxy_argv[0], d->proxy_file, sizeof(d->proxy_file)) != 0) {
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
    if (make_env(d) != 0 || proxy_command(d) != 0 || demo_upstream_start(&d->up) != 0) {
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
        if (demo_wait_for(d->proxy, 0, status)) {
            d->proxy = -1;
            return 0;
        }
        if (demo_port_accepts(d->port)) {
            return 1;
        }
        demo_sleep_ms(100);
    }
    return -1;
}

static int start_proxy(struct demo *d)
{
    char text[2048], why[64];
    for (int attempt = 1; attempt <= PROXY_ATTEMPTS; attempt++) {
        int status = 0, fd = demo_bind_loopback(&d->port);
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
        demo_print_command("\n== starting the proxy: ", d->proxy_argv);
        d->proxy = demo_spawn(d->proxy_file, d->proxy_argv, d->envp, d->dir, -1);
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
        demo_describe_status(status, why, sizeof(why));
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
    demo_print_command("$ ", argv);
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, "mtls-proxy demo: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = demo_spawn(d->curl, argv, d->envp, d->dir, p[1]);
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
        demo_describe_status(demo_stop_child(d->proxy, "the proxy"), why, sizeof(why));
        printf("== the proxy stopped: %s\n", why);
    }
    demo_upstream_stop(&d->up);
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
    if (demo_find_program("curl", d.curl, sizeof(d.curl)) != 0) {
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
