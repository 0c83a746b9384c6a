/*
 * reload.c - the current runtime and its atomic replacement. A reload builds a complete new
 * runtime (config, certificates, policies, TLS contexts; listening sockets shared with the
 * old one); only when all of it loads is it swapped in. Workers pick it up at their next
 * loop turn; connections finish on the runtime they started with.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reload.h"
#include "worker.h"

struct options g_opts = {0, PROXY_DEFAULT_HANDSHAKE_MS, PROXY_DEFAULT_MAX_CONNS, 30000};
atomic_int g_conns;
atomic_int g_stop;
atomic_uint g_gen;

static pthread_mutex_t cur_mu = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *cur;

struct runtime *runtime_current(void)
{
    pthread_mutex_lock(&cur_mu);
    struct runtime *rt = cur;
    if (rt != NULL) {
        runtime_up_ref(rt);
    }
    pthread_mutex_unlock(&cur_mu);
    return rt;
}

static void log_error(const char *msg, const char *err)
{
    struct sbuf b = {0};
    sbuf_adds(&b, "\"error\":\"");
    for (const char *p = err; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sbuf_addc(&b, '\\');
        }
        sbuf_addc(&b, (unsigned char)*p < 0x20 ? ' ' : *p);
    }
    sbuf_addc(&b, '"');
    sbuf_addc(&b, '\0');
    log_line("error", "mtls-proxy", msg, b.failed ? NULL : b.p);
    sbuf_free(&b);
}

int runtime_load(const char *path, const char *adapter, int initial)
{
    char err[512] = "";
    json_t *root = config_read(path, adapter, err, sizeof(err));
    struct runtime *old = runtime_current();
    struct runtime *rt = root ? config_load(root, old, 1, err, sizeof(err)) : NULL;
    json_decref(root);
    if (rt == NULL) {
        runtime_free(old);
        if (initial) {
            fprintf(stderr, "mtls-proxy: %s\n", err);
        } else {
            log_error("reload failed; keeping the running configuration", err);
        }
        return -1;
    }
    rt->generation = atomic_load(&g_gen) + 1;
    pthread_mutex_lock(&cur_mu);
    struct runtime *prev = cur;
    cur = rt;
    atomic_store(&g_gen, rt->generation);
    pthread_mutex_unlock(&cur_mu);
    runtime_free(prev);
    runtime_free(old);
    runtime_describe(rt, STDERR_FILENO);
    if (!initial) {
        log_line("info", "mtls-proxy", "configuration reloaded", NULL);
    }
    return 0;
}

void runtime_shutdown(void)
{
    pthread_mutex_lock(&cur_mu);
    struct runtime *rt = cur;
    cur = NULL;
    pthread_mutex_unlock(&cur_mu);
    runtime_free(rt);
}
