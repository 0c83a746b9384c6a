/* demo_proc.c - ports and child processes for `mtls-proxy demo` (demo_int.h): fork + execve
 * only, no PATH search or allocation in the child. */
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

extern char **environ;

void demo_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* bind_loopback returns a socket bound to 127.0.0.1 on a free port and that port, or -1. */
int demo_bind_loopback(int *out_port)
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

int demo_port_accepts(int port)
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


/* ---- child processes -------------------------------------------------------------------- */

/* find_program puts the path of the executable `name` (searched in PATH unless it has a '/')
 * into `out`; 0 if found. */
int demo_find_program(const char *name, char *out, size_t cap)
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

/* spawn starts `file` with `argv` in `dir`, stdout on `out_fd` if >= 0; returns its pid. */
pid_t demo_spawn(const char *file, char *const argv[], char *const envp[], const char *dir,
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
int demo_wait_for(pid_t pid, long ms, int *status)
{
    for (long waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            return 1;
        }
        if (waited >= ms) {
            return 0;
        }
        demo_sleep_ms(20);
    }
}

/* stop_child sends SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns the wait status. */
int demo_stop_child(pid_t pid, const char *what)
{
    int status = 0;
    kill(pid, SIGTERM);
    if (demo_wait_for(pid, STOP_TIMEOUT_MS, &status)) {
        return status;
    }
    fprintf(stderr, "mtls-proxy demo: %s did not stop within %d s of SIGTERM; killing it\n",
            what, STOP_TIMEOUT_MS / 1000);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

void demo_describe_status(int status, char *out, size_t cap)
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
void demo_print_command(const char *prefix, char *const argv[])
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
