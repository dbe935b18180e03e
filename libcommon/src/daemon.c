/* Daemon plumbing (see daemon.h): signals through uv_signal, the pid file, and closing every
 * handle of a loop at the end. Signal handles are unref'd so they never keep a loop alive. */
#include "carillon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carillon/log.h"

/* One daemon per process: the handles and callbacks live here. */
static struct {
    bool active;
    uv_signal_t term, intr, hup;
    struct cr_daemon_cbs cbs;
    void *arg;
    int stops;
    char pid_file[4096];
} d;

/* The pid a pid file names, 0 when it holds none (empty, garbage) or cannot be read. */
static int read_pid_file(const char *path)
{
    char buf[32] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    if (end == buf || (*end && *end != '\n') || pid <= 0 || pid > INT_MAX)
        return 0;
    return (int)pid;
}

/* Removes our pid file, unless someone else's pid is in it by now. */
static void remove_pid_file(void)
{
    if (d.pid_file[0] && read_pid_file(d.pid_file) == (int)getpid())
        unlink(d.pid_file);
    d.pid_file[0] = '\0';
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        cr_log_info("signal", "signal=HUP action=reload");
        if (d.cbs.on_reload)
            d.cbs.on_reload(d.arg);
        return;
    }
    const char *name = signum == SIGINT ? "INT" : "TERM";
    if (++d.stops > 1) {
        /* The operator insists: whatever was still finishing is abandoned. */
        cr_log_warn("forced_exit", "signal=%s", name);
        remove_pid_file();
        _exit(1);
    }
    cr_log_info("signal", "signal=%s action=%s", name,
                signum == SIGINT ? "fast_stop" : "graceful_stop");
    if (d.cbs.on_stop)
        d.cbs.on_stop(d.arg, signum == SIGINT);
}

/* O_EXCL, so two daemons starting at once cannot both believe the file is theirs. */
static int write_pid_file(const char *path)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
            ssize_t w = write(fd, buf, (size_t)n);
            int e = w < 0 ? errno : EIO;
            if (close(fd) != 0 && w == n) {
                e = errno;
                w = -1;
            }
            if (w == n)
                return 0;
            unlink(path);
            cr_log_error("pid_file_failed", "path=%s error=%s", cr_log_q(path),
                         cr_log_q(strerror(e)));
            return -e;
        }
        if (errno != EEXIST) {
            int e = errno;
            cr_log_error("pid_file_failed", "path=%s error=%s", cr_log_q(path),
                         cr_log_q(strerror(e)));
            return -e;
        }
        /* Someone's pid file: refuse if that process lives, replace it if not. Our own pid
         * in it is stale too (a container restarted with the same pid). */
        int pid = read_pid_file(path);
        if (pid > 0 && pid != (int)getpid() && (kill(pid, 0) == 0 || errno == EPERM)) {
            cr_log_error("pid_file_busy", "path=%s pid=%d", cr_log_q(path), pid);
            return -EEXIST;
        }
        cr_log_warn("pid_file_stale", "path=%s pid=%d", cr_log_q(path), pid);
        if (unlink(path) != 0 && errno != ENOENT) {
            int e = errno;
            cr_log_error("pid_file_failed", "path=%s error=%s", cr_log_q(path),
                         cr_log_q(strerror(e)));
            return -e;
        }
    }
    cr_log_error("pid_file_busy", "path=%s pid=unknown", cr_log_q(path));
    return -EEXIST;
}

int cr_daemon_init(uv_loop_t *loop, const char *pid_file, const struct cr_daemon_cbs *cbs,
                   void *arg)
{
    if (d.active)
        return -EALREADY;
    /* A TLS write on a socket the peer has closed must be an error, not the end of us. */
    signal(SIGPIPE, SIG_IGN);
    d.pid_file[0] = '\0';
    if (pid_file && *pid_file) {
        if (strlen(pid_file) >= sizeof d.pid_file)
            return -ENAMETOOLONG;
        int rc = write_pid_file(pid_file);
        if (rc)
            return rc;
        snprintf(d.pid_file, sizeof d.pid_file, "%s", pid_file);
    }
    d.cbs = *cbs;
    d.arg = arg;
    d.stops = 0;
    uv_signal_t *hs[] = {&d.term, &d.intr, &d.hup};
    int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        int rc = uv_signal_init(loop, hs[i]);
        if (rc == 0) {
            rc = uv_signal_start(hs[i], on_signal, sigs[i]);
            if (rc)
                uv_close((uv_handle_t *)hs[i], NULL);
        }
        if (rc) {
            /* The handles already open close with the loop (cr_loop_close_all). */
            for (int j = 0; j < i; j++)
                uv_close((uv_handle_t *)hs[j], NULL);
            cr_log_error("signal_setup_failed", "error=%s", uv_strerror(rc));
            remove_pid_file();
            return rc;
        }
        /* Signals alone must not keep a loop running once the daemon's work is done. */
        uv_unref((uv_handle_t *)hs[i]);
    }
    d.active = true;
    return 0;
}

void cr_daemon_shutdown(void)
{
    if (!d.active)
        return;
    d.active = false;
    uv_signal_t *hs[] = {&d.term, &d.intr, &d.hup};
    for (int i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)hs[i]))
            uv_close((uv_handle_t *)hs[i], NULL);
    remove_pid_file();
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int cr_loop_close_all(uv_loop_t *loop)
{
    if (d.active && d.term.loop == loop)
        cr_daemon_shutdown();
    /* A close callback may open a new handle (a reconnect timer), so walk again after each
     * turn; UV_RUN_ONCE waits only for requests still in flight (a getaddrinfo), never for a
     * timer, since every handle is closed before the turn. The bound stops a handle that
     * reopens itself forever. */
    int rc = UV_EBUSY;
    for (int round = 0; round < 1000 && rc == UV_EBUSY; round++) {
        uv_walk(loop, close_walk, NULL);
        uv_run(loop, UV_RUN_ONCE);
        rc = uv_loop_close(loop);
    }
    return rc;
}

long long cr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}
