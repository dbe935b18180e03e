/* Daemon plumbing: the pid file (created, refused while its process lives, stale replaced),
 * signals delivered through the loop (HUP reload, TERM graceful, INT fast, a second signal
 * exits at once), and closing every handle at the end. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/daemon.h"
#include "carillon/log.h"
#include "testutil.h"

static volatile bool reloaded, stopped, stopped_fast;

static void on_stop(void *arg, bool fast)
{
    (void)arg;
    stopped = true;
    stopped_fast = fast;
}

static void on_reload(void *arg)
{
    (void)arg;
    reloaded = true;
}

static const struct cr_daemon_cbs cbs = {on_stop, on_reload};

static int read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    int pid = -1;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid;
}

static void test_pid_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char path[512];
    snprintf(path, sizeof path, "%s/d.pid", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);

    /* Held by a live process (our parent): refused, file untouched. */
    FILE *f = fopen(path, "w");
    fprintf(f, "%d\n", (int)getppid());
    fclose(f);
    assert_int_equal(cr_daemon_init(&loop, path, &cbs, NULL), -EEXIST);
    assert_int_equal(read_pid(path), (int)getppid());

    /* Stale (a process that has exited): replaced with ours. */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    f = fopen(path, "w");
    fprintf(f, "%d\n", (int)child);
    fclose(f);
    assert_int_equal(cr_daemon_init(&loop, path, &cbs, NULL), 0);
    assert_int_equal(read_pid(path), (int)getpid());
    /* Only one daemon per process. */
    assert_int_equal(cr_daemon_init(&loop, NULL, &cbs, NULL), -EALREADY);
    cr_daemon_shutdown();
    assert_int_equal(access(path, F_OK), -1); /* removed at shutdown */
    assert_int_equal(cr_loop_close_all(&loop), 0);

    /* Garbage, and our own pid (a restarted container), are stale too. */
    const char *stale[] = {"not a pid\n", "", "123abc\n", NULL};
    char own[32];
    snprintf(own, sizeof own, "%d\n", (int)getpid());
    stale[3] = own;
    for (int i = 0; i < 4; i++) {
        uv_loop_init(&loop);
        f = fopen(path, "w");
        fputs(stale[i], f);
        fclose(f);
        assert_int_equal(cr_daemon_init(&loop, path, &cbs, NULL), 0);
        assert_int_equal(read_pid(path), (int)getpid());
        cr_daemon_shutdown();
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(cr_loop_close_all(&loop), 0);
    }

    /* A pid file taken over by another process is not ours to remove. */
    uv_loop_init(&loop);
    assert_int_equal(cr_daemon_init(&loop, path, &cbs, NULL), 0);
    f = fopen(path, "w");
    fprintf(f, "%d\n", (int)getppid());
    fclose(f);
    cr_daemon_shutdown();
    assert_int_equal(read_pid(path), (int)getppid());
    assert_int_equal(cr_loop_close_all(&loop), 0);
    unlink(path);

    /* A pid file that cannot be created: the error, and no signal handles left behind. */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/d.pid", dir);
    uv_loop_init(&loop);
    assert_int_equal(cr_daemon_init(&loop, nodir, &cbs, NULL), -ENOENT);
    assert_int_equal(uv_loop_close(&loop), 0);
    tu_rmrf(dir);
    free(dir);
}

/* The signal handles do not keep a loop alive, and SIGPIPE no longer kills the process. */
static void test_unref_and_sigpipe(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(cr_daemon_init(&loop, NULL, &cbs, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns at once */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(p[1]);
    cr_daemon_shutdown();
    assert_int_equal(cr_loop_close_all(&loop), 0);
}

static void test_signals(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    reloaded = stopped = stopped_fast = false;
    assert_int_equal(cr_daemon_init(&loop, NULL, &cbs, NULL), 0);
    uv_kill(getpid(), SIGHUP);
    assert_true(tu_run_until(&loop, &reloaded, 5000));
    assert_false(stopped);
    uv_kill(getpid(), SIGTERM);
    assert_true(tu_run_until(&loop, &stopped, 5000));
    assert_false(stopped_fast);
    cr_daemon_shutdown();
    assert_int_equal(cr_loop_close_all(&loop), 0);

    uv_loop_init(&loop);
    stopped = false;
    assert_int_equal(cr_daemon_init(&loop, NULL, &cbs, NULL), 0);
    uv_kill(getpid(), SIGINT);
    assert_true(tu_run_until(&loop, &stopped, 5000));
    assert_true(stopped_fast);
    cr_daemon_shutdown();
    assert_int_equal(cr_loop_close_all(&loop), 0);
}

/* A daemon still busy after the first TERM (a call that has not ended) exits on the second. */
static int child_pipe = -1;

static void child_on_stop(void *arg, bool fast)
{
    (void)arg;
    (void)fast;
    if (write(child_pipe, "s", 1) != 1)
        _exit(5);
}

static void child_timer(uv_timer_t *t)
{
    (void)t;
}

static void test_second_signal_exits(void **state)
{
    (void)state;
    int p[2], logp[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(logp), 0);
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        close(logp[0]);
        dup2(logp[1], STDERR_FILENO);
        close(logp[1]);
        cr_log_set_level(CR_LOG_INFO);
        child_pipe = p[1];
        static const struct cr_daemon_cbs ccbs = {child_on_stop, NULL};
        uv_loop_t loop;
        uv_loop_init(&loop);
        if (cr_daemon_init(&loop, NULL, &ccbs, NULL) != 0)
            _exit(3);
        uv_timer_t busy; /* stands for work that outlives the first signal */
        uv_timer_init(&loop, &busy);
        uv_timer_start(&busy, child_timer, 60000, 0);
        if (write(p[1], "r", 1) != 1)
            _exit(4);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    close(p[1]);
    close(logp[1]);
    char b;
    assert_int_equal(read(p[0], &b, 1), 1);
    assert_int_equal(b, 'r');
    kill(child, SIGTERM);
    assert_int_equal(read(p[0], &b, 1), 1); /* the first TERM reached on_stop */
    assert_int_equal(b, 's');
    close(p[0]);
    kill(child, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char log[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof log - 1 && (r = read(logp[0], log + n, sizeof log - 1 - n)) > 0)
        n += (size_t)r;
    log[n] = '\0';
    close(logp[0]);
    assert_non_null(strstr(log, "graceful_stop"));
    assert_non_null(strstr(log, "forced_exit"));
}

static void idle_cb(uv_idle_t *h)
{
    (void)h;
}

static void timer_cb(uv_timer_t *t)
{
    (void)t;
}

static uv_timer_t reopened;

/* Like a reconnecting client: closing one handle starts another, which must be closed too. */
static void reopen_on_close(uv_handle_t *h)
{
    uv_timer_init(h->loop, &reopened);
    uv_timer_start(&reopened, timer_cb, 60000, 0);
}

static void test_close_all(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t t;
    uv_idle_t i;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, timer_cb, 60000, 0);
    uv_idle_init(&loop, &i);
    uv_idle_start(&i, idle_cb);
    assert_int_equal(cr_loop_close_all(&loop), 0);

    uv_loop_init(&loop);
    uv_timer_init(&loop, &t);
    uv_close((uv_handle_t *)&t, reopen_on_close);
    uv_idle_init(&loop, &i); /* left open */
    long long t0 = cr_now_us();
    assert_int_equal(cr_loop_close_all(&loop), 0);
    assert_true(cr_now_us() - t0 < 5000000); /* closed, not waited for (it is a 60 s timer) */
    assert_true(uv_is_closing((uv_handle_t *)&reopened));

    long long a = cr_now_us();
    assert_true(a > 1700000000LL * 1000000LL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long b = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
    assert_true(b >= a && b - a < 5000000);
}

int main(void)
{
    cr_log_init("test_daemon", CR_LOG_ERROR, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_file),  cmocka_unit_test(test_unref_and_sigpipe),
        cmocka_unit_test(test_signals),   cmocka_unit_test(test_second_signal_exits),
        cmocka_unit_test(test_close_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
