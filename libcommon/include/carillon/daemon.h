/* Daemon plumbing: signals through uv_signal (TERM graceful, INT fast, a second TERM or INT
 * exits at once, HUP reload), the pid file, and closing every handle of a loop at shutdown. */
#ifndef CARILLON_DAEMON_H
#define CARILLON_DAEMON_H

#include <stdbool.h>
#include <uv.h>

struct cr_daemon_cbs {
    /* First TERM (fast = false) or INT (fast = true). The daemon stops its work and lets the
     * loop end; a second TERM/INT makes cr_daemon exit(1) at once. */
    void (*on_stop)(void *arg, bool fast);
    /* HUP. */
    void (*on_reload)(void *arg);
};

/* Installs the signal handles on loop and writes pid_file (NULL = none). Refuses (-EEXIST)
 * when pid_file names a live process; a stale file is replaced. */
int cr_daemon_init(uv_loop_t *loop, const char *pid_file, const struct cr_daemon_cbs *cbs,
                   void *arg) __attribute__((warn_unused_result));
/* Closes the signal handles and removes the pid file. */
void cr_daemon_shutdown(void);

/* Closes every handle still open on loop and runs it until they are closed, then closes the
 * loop. For the end of main() and of tests. Returns uv_loop_close's result. */
int cr_loop_close_all(uv_loop_t *loop);

/* Current wall-clock time in microseconds since the epoch. */
long long cr_now_us(void);

#endif
