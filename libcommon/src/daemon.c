/* Daemon plumbing (see daemon.h): signals through uv_signal, the pid file, and closing every
 * handle of a loop at the end. Signal handles are unref'd so they never keep a loop alive. */
#include "carillon/daemon.h"

#include <errno.h>
#include <fcntl.h>
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

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        cr_log_info("signal", "signal=HUP action=reload");
        if (d.cbs.on_reload)
            d.cbs.on_reload(d.arg);
        return;
    }
    if (++d.stops > 1) {
        cr_log_warn("forced_exit", "signal=%s", signum == SIGINT ? "INT" : "TERM");
        if (d.pid_file[0])
            unlink(d.pid_file);
        _exit(1);
    }
    cr_log_info("signal", "signal=%s action=%s", signum == SIGINT ? "INT" : "TERM",
                signum == SIGINT ? "fast_stop" : "graceful_stop");
    if (d.cbs.on_stop)
        d.cbs.on_stop(d.arg, signum == SIGINT);
}

static int write_pid_file(const char *path)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
            ssize_t w = write(fd, buf, (size_t)n);
            close(fd);
            return w == n ? 0 : -EIO;
        }
        if (errno != EEXIST)
            return -errno;
        /* Someone's pid file: refuse if that process lives, replace it if not. */
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f) {
            if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) {
            cr_log_error("pid_file_busy", "path=%s pid=%d", cr_log_q(path), pid);
            return -EEXIST;
        }
        cr_log_warn("pid_file_stale", "path=%s pid=%d", cr_log_q(path), pid);
        unlink(path);
    }
    return -EEXIST;
}

int cr_daemon_init(uv_loop_t *loop, const char *pid_file, const struct cr_daemon_cbs *cbs,
                   void *arg)
{
    if (d.active)
        return -EALREADY;
    signal(SIGPIPE, SIG_IGN);
    if (pid_file && *pid_file) {
        if (strlen(pid_file) >= sizeof d.pid_file)
            return -ENAMETOOLONG;
        int rc = write_pid_file(pid_file);
        if (rc)
            return rc;
        snprintf(d.pid_file, sizeof d.pid_file, "%s", pid_file);
    } else {
        d.pid_file[0] = '\0';
    }
    d.cbs = *cbs;
    d.arg = arg;
    d.stops = 0;
    uv_signal_t *hs[] = {&d.term, &d.intr, &d.hup};
    int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, hs[i]);
        uv_signal_start(hs[i], on_signal, sigs[i]);
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
    if (d.pid_file[0]) {
        FILE *f = fopen(d.pid_file, "r");
        int pid = 0;
        if (f) {
            if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid == (int)getpid())
            unlink(d.pid_file);
        d.pid_file[0] = '\0';
    }
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
    uv_walk(loop, close_walk, NULL);
    while (uv_run(loop, UV_RUN_DEFAULT) != 0)
        ;
    return uv_loop_close(loop);
}

long long cr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}
