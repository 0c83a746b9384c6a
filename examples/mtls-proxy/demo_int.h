/* demo_int.h - the pieces of `mtls-proxy demo` shared by demo.c, demo_upstream.c and
 * demo_proc.c. */
#ifndef MTLS_PROXY_DEMO_INT_H
#define MTLS_PROXY_DEMO_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#define STOP_TIMEOUT_MS 5000    /* after SIGTERM, before SIGKILL */
#define UPSTREAM_HEAD_MAX 16384 /* request head the upstream accepts */

/* The built-in upstream: one thread answering one request per connection. */
struct demo_upstream {
    int listen_fd;
    int wake[2]; /* a byte written to wake[1] makes the thread return */
    int port;
    int started;
    atomic_int received; /* request heads read, to show that mallory reached nothing */
    pthread_t thread;
};

/* demo_upstream_start starts the upstream thread on a free 127.0.0.1 port; 0 on success. */
int demo_upstream_start(struct demo_upstream *up);
void demo_upstream_stop(struct demo_upstream *up);

void demo_sleep_ms(long ms);
/* demo_bind_loopback returns a socket bound to 127.0.0.1 on a free port and that port, or -1. */
int demo_bind_loopback(int *out_port);
int demo_port_accepts(int port);
/* demo_find_program puts the path of `name` (searched in PATH unless it has a '/') in `out`. */
int demo_find_program(const char *name, char *out, size_t cap);
/* demo_spawn starts `file` with `argv` in `dir`, stdout on `out_fd` if >= 0; returns its pid. */
pid_t demo_spawn(const char *file, char *const argv[], char *const envp[], const char *dir,
                 int out_fd);
/* demo_wait_for waits up to `ms` for `pid`: 1 if it exited (status in *status), else 0. */
int demo_wait_for(pid_t pid, long ms, int *status);
/* demo_stop_child sends SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns the status. */
int demo_stop_child(pid_t pid, const char *what);
void demo_describe_status(int status, char *out, size_t cap);
/* demo_print_command prints `argv` as a shell command line. */
void demo_print_command(const char *prefix, char *const argv[]);

#endif /* MTLS_PROXY_DEMO_INT_H */
