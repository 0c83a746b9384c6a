/* reload.h - loading the config as the current runtime, at start and on SIGHUP. */
#ifndef MTLS_PROXY_RELOAD_H
#define MTLS_PROXY_RELOAD_H

/*
 * runtime_load reads and loads `path` and makes it the current runtime. On failure the
 * current runtime stays; the error goes to stderr (`initial`) or the JSON log. Returns 0/-1.
 */
int runtime_load(const char *path, const char *adapter, int initial);

/* runtime_shutdown drops the current runtime (after the workers stopped). */
void runtime_shutdown(void);

#endif /* MTLS_PROXY_RELOAD_H */
