/*
 * main.c - mtls-proxy's command line, mirroring Caddy's (`run`, `adapt`, `validate`), plus
 * `demo`; signals (SIGHUP/SIGUSR1 reload, SIGTERM/SIGINT drain and stop) and worker start-up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/base.h>

#include "caddyfile.h"
#include "demo.h"
#include "proxy.h"
#include "reload.h"
#include "worker.h"

static const char usage[] =
    "usage: mtls-proxy <command> [options]\n"
    "\n"
    "Caddy's TLS client authentication (client_auth) in front of any HTTP service, on libmtls.\n"
    "\n"
    "commands:\n"
    "  run [--config FILE] [--adapter caddyfile|json] [run options]\n"
    "        serve the config (default ./Caddyfile). A file named Caddyfile (or --adapter\n"
    "        caddyfile) is read as a Caddyfile, anything else as Caddy JSON.\n"
    "        SIGHUP or SIGUSR1 reloads it (a broken new config is logged and the running one\n"
    "        kept); SIGTERM or SIGINT stops accepting, lets requests in flight finish (up to\n"
    "        --grace) and exits.\n"
    "  adapt [--config FILE] [--adapter caddyfile] [--pretty]\n"
    "        print the Caddy JSON of a Caddyfile, as `caddy adapt` does\n"
    "  validate [--config FILE] [--adapter caddyfile|json]\n"
    "        load the config completely (files, certificates, policies) without serving it\n"
    "  demo [--keep]\n"
    "        make a throwaway PKI, run the proxy in front of a built-in upstream and show one\n"
    "        client accepted and one refused\n"
    "  version, --version    print the version\n"
    "  help, --help          print this help\n"
    "\n"
    "run options (not in Caddy's config):\n"
    "  --workers N              event loops (default: one per CPU)\n"
    "  --handshake-timeout SEC  close connections whose TLS handshake takes longer (default 10)\n"
    "  --max-connections N      refuse connections beyond N at once (default 10000)\n"
    "  --grace SEC              how long SIGTERM waits for requests in flight (default 30)\n"
    "\n"
    "Access log: one JSON line per request (and per refused handshake) on stdout.\n";

struct args {
    const char *config;
    const char *adapter;
    int pretty;
};

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int run_option(const char *opt, const char *val)
{
    int v;
    if (strcmp(opt, "--workers") == 0 && parse_int(val, 1, 256, &v) == 0) {
        g_opts.workers = v;
    } else if (strcmp(opt, "--handshake-timeout") == 0 && parse_int(val, 1, 3600, &v) == 0) {
        g_opts.handshake_timeout_ms = v * 1000;
    } else if (strcmp(opt, "--max-connections") == 0 && parse_int(val, 1, 1 << 24, &v) == 0) {
        g_opts.max_connections = v;
    } else if (strcmp(opt, "--grace") == 0 && parse_int(val, 0, 3600, &v) == 0) {
        g_opts.grace_ms = v * 1000;
    } else {
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a, int allow_run_opts)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--pretty") == 0) {
            a->pretty = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mtls-proxy %s: %s needs a value (see --help)\n", argv[0], o);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(o, "--config") == 0 || strcmp(o, "-c") == 0) {
            a->config = v;
        } else if (strcmp(o, "--adapter") == 0) {
            a->adapter = v;
        } else if (!allow_run_opts || run_option(o, v) != 0) {
            fprintf(stderr, "mtls-proxy %s: bad option %s %s (see --help)\n", argv[0], o, v);
            return -1;
        }
    }
    if (a->config == NULL) {
        a->config = "Caddyfile"; /* Caddy's default */
        if (access(a->config, R_OK) != 0) {
            fprintf(stderr, "mtls-proxy %s: no --config given and no ./Caddyfile\n", argv[0]);
            return -1;
        }
    }
    return 0;
}

static int cmd_adapt(int argc, char **argv)
{
    struct args a = {0};
    char err[512];
    if (parse_args(argc, argv, &a, 0) != 0) {
        return 2;
    }
    if (a.adapter == NULL) {
        a.adapter = "caddyfile"; /* `caddy adapt` defaults to the Caddyfile adapter */
    }
    json_t *root = config_read(a.config, a.adapter, err, sizeof(err));
    if (root == NULL) {
        fprintf(stderr, "mtls-proxy adapt: %s\n", err);
        return 1;
    }
    char *out = json_dumps(root, a.pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER
                                          : JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (out == NULL) {
        fprintf(stderr, "mtls-proxy adapt: out of memory\n");
        return 1;
    }
    puts(out);
    free(out);
    return 0;
}

static int cmd_validate(int argc, char **argv)
{
    struct args a = {0};
    char err[512];
    if (parse_args(argc, argv, &a, 0) != 0) {
        return 2;
    }
    json_t *root = config_read(a.config, a.adapter, err, sizeof(err));
    struct runtime *rt = root ? config_load(root, NULL, 0, err, sizeof(err)) : NULL;
    json_decref(root);
    if (rt == NULL) {
        fprintf(stderr, "mtls-proxy validate: %s\n", err);
        return 1;
    }
    runtime_describe(rt, STDERR_FILENO);
    runtime_free(rt);
    fprintf(stderr, "Valid configuration\n");
    return 0;
}

static int wait_signals(const char *config, const char *adapter, const sigset_t *set,
                        struct worker *ws, int n)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig == SIGHUP || sig == SIGUSR1) {
            if (runtime_load(config, adapter, 0) == 0) {
                for (int i = 0; i < n; i++) {
                    worker_wake(&ws[i]); /* move listeners now, not at the next tick */
                }
            }
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_line("info", "mtls-proxy", "shutting down: draining connections", NULL);
            return 0;
        }
    }
}

static int cmd_run(int argc, char **argv)
{
    struct args a = {0};
    if (parse_args(argc, argv, &a, 1) != 0) {
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    if (runtime_load(a.config, a.adapter, 1) != 0) {
        return 1;
    }
    int n = g_opts.workers > 0 ? g_opts.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n;
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    int started = 0;
    while (ws != NULL && started < n && worker_start(&ws[started], started) == 0) {
        started++;
    }
    if (started == 0) {
        fprintf(stderr, "mtls-proxy: cannot start worker threads\n");
        return 1;
    }
    fprintf(stderr, "mtls-proxy: serving with %d worker%s (pid %d)\n", started,
            started == 1 ? "" : "s", (int)getpid());
    wait_signals(a.config, a.adapter, &set, ws, started);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < started; i++) {
        worker_wake(&ws[i]);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        close(ws[i].epfd);
        close(ws[i].wake_fd);
    }
    free(ws);
    runtime_shutdown();
    log_line("info", "mtls-proxy", "stopped", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "help";
    if (strcmp(cmd, "run") == 0) {
        return cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "adapt") == 0) {
        return cmd_adapt(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0) {
        return cmd_validate(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "demo") == 0) {
        return demo_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mtls-proxy %s (libmtls %s, BoringSSL)\n", MTLS_VERSION_STRING, mtls_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "mtls-proxy: unknown command %s\n\n%s", cmd, usage);
    return 2;
}
