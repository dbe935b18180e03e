/* The asynchronous PostgreSQL layer against a real, ephemeral cluster: parameters and UTF-8,
 * FIFO order, atomic batches, scripts, LISTEN/NOTIFY, notices, reconnection after a restart,
 * the queue bound, and cancellation on close. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/daemon.h"
#include "carillon/log.h"
#include "carillon/pg.h"
#include "testutil.h"

static char *dir;
static char conninfo[256];
static uv_loop_t loop;
static struct cr_pg *pg;
static volatile bool up;
static volatile bool up_again; /* set by each "up" callback */
static int ups, downs;
static void (*on_down_hook)(void);

static void on_state(void *arg, bool is_up)
{
    (void)arg;
    up = is_up;
    if (is_up) {
        ups++;
        up_again = true;
    } else
        downs++;
    if (!is_up && on_down_hook)
        on_down_hook();
}

static int group_setup(void **state)
{
    (void)state;
    cr_log_init("test_pg", CR_LOG_WARN, false);
    dir = tu_mkdtemp();
    if (tu_pg_cluster_start(dir, conninfo, sizeof conninfo) != 0)
        return -1;
    uv_loop_init(&loop);
    struct cr_pg_opts o = {.conninfo = conninfo, .reconnect_min_ms = 50, .reconnect_max_ms = 200};
    if (cr_pg_new(&loop, &o, &pg) != 0)
        return -1;
    cr_pg_on_state(pg, on_state, NULL);
    return tu_run_until(&loop, &up, 20000) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (pg)
        cr_pg_close(pg, NULL, NULL);
    cr_loop_close_all(&loop);
    tu_pg_cluster_stop(dir);
    tu_rmrf(dir);
    free(dir);
    return 0;
}

/* What a callback saw. */
struct seen {
    bool done;
    int calls;
    int status;
    char sqlstate[6];
    char message[256];
    char value[256];
    int nres;
    bool has_res[4];
    int order;
};

static int order_counter;

static void record(void *arg, const struct cr_pg_result *r)
{
    struct seen *s = arg;
    s->done = true;
    s->calls++;
    s->status = r->status;
    s->nres = r->nres;
    s->order = ++order_counter;
    if (r->sqlstate)
        snprintf(s->sqlstate, sizeof s->sqlstate, "%s", r->sqlstate);
    if (r->message)
        snprintf(s->message, sizeof s->message, "%s", r->message);
    for (int i = 0; i < r->nres && i < 4; i++)
        s->has_res[i] = r->res[i] != NULL;
    if (r->status == 0 && r->nres > 0) {
        const PGresult *last = r->res[r->nres - 1];
        if (last && PQntuples(last) > 0)
            snprintf(s->value, sizeof s->value, "%s",
                     PQgetisnull(last, 0, 0) ? "<null>" : PQgetvalue(last, 0, 0));
    }
}

static void run_until_done(struct seen *s)
{
    assert_true(tu_run_until(&loop, &s->done, 20000));
}

static void test_params_and_utf8(void **state)
{
    (void)state;
    struct seen s = {0};
    const char *p[] = {"Éloïse Château-Lefèvre", NULL};
    assert_int_equal(
        cr_pg_query(pg, "SELECT $1::text || coalesce($2, ' (none)')", 2, p, record, &s), 0);
    run_until_done(&s);
    assert_int_equal(s.status, 0);
    assert_string_equal(s.value, "Éloïse Château-Lefèvre (none)");

    struct seen n = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT NULL::text", 0, NULL, record, &n), 0);
    run_until_done(&n);
    assert_string_equal(n.value, "<null>");
}

static void test_fifo_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    static struct seen s[N];
    memset(s, 0, sizeof s);
    order_counter = 0;
    char num[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        const char *p[] = {num[i]};
        assert_int_equal(cr_pg_query(pg, "SELECT $1::int * 2", 1, p, record, &s[i]), 0);
    }
    run_until_done(&s[N - 1]);
    for (int i = 0; i < N; i++) {
        assert_true(s[i].done);
        assert_int_equal(s[i].order, i + 1);
        assert_int_equal(atoi(s[i].value), 2 * i);
    }
}

/* Megabytes both ways at once: the socket buffers fill in both directions, so PQflush has to
 * read the server's results while writing (libpq does, into its buffer) and those results must
 * still be delivered although the socket no longer reads as readable. */
static int big_ok, big_done;
static volatile bool big_all;
enum { BIG_N = 1500, BIG_LEN = 16384 };

static void big_cb(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status == 0 && PQgetlength(r->res[0], 0, 0) == BIG_LEN)
        big_ok++;
    if (++big_done == BIG_N)
        big_all = true;
}

static void test_big_pipeline(void **state)
{
    (void)state;
    static char param[BIG_LEN + 1];
    memset(param, 'x', BIG_LEN);
    param[BIG_LEN] = '\0';
    const char *p[] = {param};
    big_ok = big_done = 0;
    big_all = false;
    for (int i = 0; i < BIG_N; i++)
        assert_int_equal(cr_pg_query(pg, "SELECT $1::text", 1, p, big_cb, NULL), 0);
    assert_true(tu_run_until(&loop, &big_all, 60000));
    assert_int_equal(big_ok, BIG_N);
}

/* COPY between pipelined queries, in one explicit transaction: 20,000 rows (over 1 MB, more than
 * the socket takes at once) with UTF-8 and escapes; a bad row fails its COPY alone with the
 * server's message, and the queries queued behind it still run in order. */
static void test_copy(void **state)
{
    (void)state;
    enum { N = 20000 };
    size_t cap = (size_t)N * 80, len = 0;
    char *data = malloc(cap);
    assert_non_null(data);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(data + len, cap - len, "%d\tHélène\\t%-40s\n", i, "Lefèvre");
    struct seen b = {0}, c = {0}, q = {0}, bad = {0}, after = {0}, end = {0};
    order_counter = 0;
    assert_int_equal(cr_pg_query(pg, "BEGIN", 0, NULL, record, &b), 0);
    assert_int_equal(cr_pg_query(pg, "CREATE TEMP TABLE cp (n int, name text) ON COMMIT DROP", 0,
                                 NULL, NULL, NULL),
                     0);
    assert_int_equal(cr_pg_copy(pg, "COPY cp FROM STDIN", data, len, record, &c), 0);
    free(data);
    assert_int_equal(cr_pg_query(pg, "SELECT count(*) || ' ' || sum(n) || ' ' || min(name) FROM cp",
                                 0, NULL, record, &q),
                     0);
    assert_int_equal(cr_pg_query(pg, "COMMIT", 0, NULL, record, &end), 0);
    run_until_done(&end);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.nres, 1);
    assert_true(c.order < q.order);
    char want[128];
    snprintf(want, sizeof want, "%d %lld Hélène\t%-40s", N,
             /* COPY's \t escape: a tab */ (long long)N * (N - 1) / 2, "Lefèvre");
    assert_string_equal(q.value, want);

    assert_int_equal(cr_pg_copy(pg, "COPY nosuchtable FROM STDIN", "1\n", 2, record, &bad), 0);
    assert_int_equal(cr_pg_query(pg, "SELECT 'after'", 0, NULL, record, &after), 0);
    run_until_done(&after);
    assert_int_equal(bad.status, -EIO);
    assert_string_equal(bad.sqlstate, "42P01");
    assert_int_equal(after.status, 0);
    assert_string_equal(after.value, "after");
    assert_true(bad.order < after.order);
}

static void test_batches_are_atomic(void **state)
{
    (void)state;
    /* In flight before the script: the script waits for it. */
    struct seen before = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT pg_sleep(0.2)", 0, NULL, record, &before), 0);
    struct seen mk = {0};
    assert_int_equal(cr_pg_exec_script(pg,
                                       "DROP TABLE IF EXISTS t; CREATE TABLE t (k text PRIMARY "
                                       "KEY, v int); INSERT INTO t VALUES ('a', 1)",
                                       record, &mk),
                     0);
    /* Queued behind the script: must see its table. */
    struct seen after = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT count(*) FROM t", 0, NULL, record, &after), 0);
    run_until_done(&after);
    assert_int_equal(mk.status, 0);
    assert_int_equal(before.status, 0);
    assert_true(before.order < mk.order);
    assert_true(mk.order < after.order);
    assert_string_equal(after.value, "1");

    /* A batch that commits: both rows. */
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    const char *p1[] = {"b"}, *p2[] = {"c"};
    assert_int_equal(cr_pg_batch_add(b, "INSERT INTO t VALUES ($1, 2)", 1, p1), 0);
    assert_int_equal(cr_pg_batch_add(b, "INSERT INTO t VALUES ($1, 3) RETURNING v", 1, p2), 0);
    struct seen ok = {0};
    assert_int_equal(cr_pg_batch_send(b, record, &ok), 0);
    run_until_done(&ok);
    assert_int_equal(ok.status, 0);
    assert_int_equal(ok.nres, 2);
    assert_string_equal(ok.value, "3");

    /* A batch whose second statement violates the key: nothing of it is written. */
    b = cr_pg_batch_new(pg);
    const char *p3[] = {"d"}, *p4[] = {"a"};
    assert_int_equal(cr_pg_batch_add(b, "INSERT INTO t VALUES ($1, 4)", 1, p3), 0);
    assert_int_equal(cr_pg_batch_add(b, "INSERT INTO t VALUES ($1, 5)", 1, p4), 0);
    assert_int_equal(cr_pg_batch_add(b, "SELECT 1", 0, NULL), 0);
    struct seen bad = {0};
    assert_int_equal(cr_pg_batch_send(b, record, &bad), 0);
    struct seen count = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT count(*) FROM t", 0, NULL, record, &count), 0);
    run_until_done(&count);
    assert_int_equal(bad.status, -EIO);
    assert_string_equal(bad.sqlstate, "23505");
    assert_non_null(strstr(bad.message, "duplicate key"));
    assert_int_equal(bad.nres, 3);
    assert_true(bad.has_res[0]); /* ran, then rolled back with the rest */
    assert_false(bad.has_res[1]);
    assert_false(bad.has_res[2]);
    assert_string_equal(count.value, "3"); /* a, b, c: not d */

    /* A statement that fails to be added leaves the batch to be discarded by its owner. */
    b = cr_pg_batch_new(pg);
    assert_int_equal(cr_pg_batch_add(b, "SELECT 1", -1, NULL), -EINVAL);
    cr_pg_batch_discard(b);

    /* A failing script reports its error and leaves the connection usable. */
    struct seen sbad = {0};
    assert_int_equal(
        cr_pg_exec_script(pg, "INSERT INTO t VALUES ('e', 1); SELECT nope", record, &sbad), 0);
    struct seen again = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT count(*) FROM t", 0, NULL, record, &again), 0);
    run_until_done(&again);
    assert_int_equal(sbad.status, -EIO);
    assert_string_equal(sbad.sqlstate, "42703");
    assert_string_equal(again.value, "3");
}

static volatile bool notified;
static char notify_payload[64];

static void on_notify(void *arg, const char *channel, const char *payload)
{
    (void)arg;
    if (strcmp(channel, "carillon_test") == 0) {
        snprintf(notify_payload, sizeof notify_payload, "%s", payload);
        notified = true;
    }
}

static void test_notify_and_notice(void **state)
{
    (void)state;
    cr_pg_on_notify(pg, on_notify, NULL);
    struct seen l = {0};
    assert_int_equal(cr_pg_query(pg, "LISTEN carillon_test", 0, NULL, record, &l), 0);
    struct seen n = {0};
    assert_int_equal(
        cr_pg_query(pg, "SELECT pg_notify('carillon_test', 'Zoé')", 0, NULL, record, &n), 0);
    assert_true(tu_run_until(&loop, &notified, 10000));
    assert_string_equal(notify_payload, "Zoé");
    run_until_done(&l);
    run_until_done(&n);

    /* From another session, while nothing is in flight on ours. */
    notified = false;
    assert_int_equal(
        tu_sh(NULL, 0, "psql -X -q '%s' -c \"NOTIFY carillon_test, 'from outside'\"", conninfo), 0);
    assert_true(tu_run_until(&loop, &notified, 10000));
    assert_string_equal(notify_payload, "from outside");

    /* Notices go to the log (stderr), from a script and from a pipelined query alike. */
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    struct seen notice = {0}, notice2 = {0}, next = {0};
    int rc1 = cr_pg_exec_script(pg, "DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$", record,
                                &notice);
    int rc2 =
        cr_pg_query(pg, "DO $$ BEGIN RAISE NOTICE 'Ça marche'; END $$", 0, NULL, record, &notice2);
    int rc3 = cr_pg_query(pg, "SELECT 'still fine'", 0, NULL, record, &next);
    bool ok = tu_run_until(&loop, &next.done, 20000);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char logbuf[4096] = "";
    ssize_t got = pread(fd, logbuf, sizeof logbuf - 1, 0);
    close(fd);
    if (got > 0)
        logbuf[got] = '\0';
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(rc3, 0);
    assert_true(ok);
    assert_int_equal(notice.status, 0);
    assert_int_equal(notice2.status, 0);
    assert_string_equal(next.value, "still fine");
    assert_non_null(strstr(logbuf, "pg_notice"));
    assert_non_null(strstr(logbuf, "hello from plpgsql"));
    assert_non_null(strstr(logbuf, "Ça marche"));
}

/* pg.sh restart blocks, so it runs on the thread pool while the loop keeps serving. */
struct restart_work {
    uv_work_t req;
    int rc;
    volatile bool done;
};

static void restart_run(uv_work_t *req)
{
    struct restart_work *w = req->data;
    w->rc = tu_sh(NULL, 0, "'%s/tests/lib/pg.sh' restart '%s'", tu_source_dir(), dir);
}

static void restart_after(uv_work_t *req, int status)
{
    (void)status;
    struct restart_work *w = req->data;
    w->done = true;
}

/* Queued from the "down" callback, i.e. while there is no connection. */
static struct seen while_down;
static bool queued_while_down_was_up = true;

static void queue_while_down(void)
{
    on_down_hook = NULL;
    queued_while_down_was_up = cr_pg_is_up(pg);
    assert_int_equal(cr_pg_query(pg, "SELECT 'queued while down'", 0, NULL, record, &while_down),
                     0);
}

static void test_reconnect_after_restart(void **state)
{
    (void)state;
    int ups0 = ups, downs0 = downs;
    up_again = false;
    on_down_hook = queue_while_down;
    /* A slow query in flight while PostgreSQL restarts. */
    struct seen slow = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT pg_sleep(30)", 0, NULL, record, &slow), 0);
    struct restart_work w = {0};
    w.req.data = &w;
    assert_int_equal(uv_queue_work(&loop, &w.req, restart_run, restart_after), 0);
    assert_true(tu_run_until(&loop, &w.done, 60000));
    assert_int_equal(w.rc, 0);
    run_until_done(&slow);
    assert_int_equal(slow.status, -ECONNRESET);
    assert_int_equal(downs, downs0 + 1);
    assert_false(queued_while_down_was_up);

    /* Wait for the "up" callback, then the connection serves again. */
    assert_true(tu_run_until(&loop, &up_again, 20000));
    assert_int_equal(ups, ups0 + 1);
    assert_true(cr_pg_is_up(pg));
    run_until_done(&while_down);
    assert_int_equal(while_down.status, 0);
    assert_string_equal(while_down.value, "queued while down");
    struct seen later = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT 'back'", 0, NULL, record, &later), 0);
    run_until_done(&later);
    assert_int_equal(later.status, 0);
    assert_string_equal(later.value, "back");
}

/* Callbacks may queue more work: a chain of queries, each queued by the previous callback. */
static int chain_left;
static struct seen chain_last;

static void chain_step(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    assert_int_equal(r->status, 0);
    if (--chain_left == 0) {
        assert_int_equal(
            cr_pg_exec_script(pg, "SELECT 1; SELECT 'end of chain'", record, &chain_last), 0);
        return;
    }
    assert_int_equal(cr_pg_query(pg, "SELECT 1", 0, NULL, chain_step, NULL), 0);
}

static void test_enqueue_from_callback(void **state)
{
    (void)state;
    chain_left = 20;
    memset(&chain_last, 0, sizeof chain_last);
    assert_int_equal(cr_pg_query(pg, "SELECT 1", 0, NULL, chain_step, NULL), 0);
    run_until_done(&chain_last);
    assert_int_equal(chain_left, 0);
    assert_int_equal(chain_last.status, 0);
    assert_string_equal(chain_last.value, "end of chain");
}

static volatile bool closed_done;
static void on_closed(void *arg)
{
    (void)arg;
    closed_done = true;
}

static struct cr_pg *inner;
static void close_inside(void *arg, const struct cr_pg_result *r)
{
    record(arg, r);
    cr_pg_close(inner, on_closed, NULL);
    /* After close, new work is refused and never calls back. */
    assert_int_equal(cr_pg_query(inner, "SELECT 1", 0, NULL, record, NULL), -ECANCELED);
}

static void test_close_from_callback(void **state)
{
    (void)state;
    uv_loop_t l2;
    uv_loop_init(&l2);
    struct cr_pg_opts o = {.conninfo = conninfo};
    assert_int_equal(cr_pg_new(&l2, &o, &inner), 0);
    struct seen a = {0}, b = {0}, c = {0};
    assert_int_equal(cr_pg_query(inner, "SELECT 'a'", 0, NULL, close_inside, &a), 0);
    assert_int_equal(cr_pg_query(inner, "SELECT 'b'", 0, NULL, record, &b), 0);
    assert_int_equal(cr_pg_exec_script(inner, "SELECT 'c'", record, &c), 0);
    closed_done = false;
    assert_true(tu_run_until(&l2, &closed_done, 20000));
    assert_int_equal(a.status, 0);
    assert_string_equal(a.value, "a");
    assert_int_equal(b.status, -ECANCELED);
    assert_int_equal(c.status, -ECANCELED);
    assert_int_equal(a.calls + b.calls + c.calls, 3);
    assert_int_equal(cr_loop_close_all(&l2), 0);
}

/* Waits for a text in a file (stderr redirected there) from a timer, so the loop keeps going. */
struct watch_file {
    uv_timer_t t;
    int fd;
    const char *text;
    volatile bool found;
};

static void watch_tick(uv_timer_t *t)
{
    struct watch_file *w = (struct watch_file *)t;
    char buf[8192];
    ssize_t n = pread(w->fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = '\0';
        if (strstr(buf, w->text)) {
            w->found = true;
            uv_timer_stop(t);
        }
    }
}

static void test_host_names(void **state)
{
    (void)state;
    uv_loop_t l2;
    uv_loop_init(&l2);
    /* A name, looked up off the loop. */
    char ci[300];
    snprintf(ci, sizeof ci, "host=localhost port=%s", strstr(conninfo, "port=") + 5);
    struct cr_pg *named;
    struct cr_pg_opts o = {.conninfo = ci};
    assert_int_equal(cr_pg_new(&l2, &o, &named), 0);
    struct seen s = {0};
    assert_int_equal(cr_pg_query(named, "SELECT inet_client_addr()::text", 0, NULL, record, &s), 0);
    assert_true(tu_run_until(&l2, &s.done, 20000));
    assert_int_equal(s.status, 0);
    assert_string_equal(s.value, "127.0.0.1/32");
    closed_done = false;
    cr_pg_close(named, on_closed, NULL);
    assert_true(tu_run_until(&l2, &closed_done, 5000));

    /* A name that does not resolve: said in the log, the query waits, close cancels it. */
    char path[512];
    snprintf(path, sizeof path, "%s/resolve.log", dir);
    struct watch_file w = {.text = "cannot resolve nonexistent.invalid"};
    w.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(w.fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(w.fd, STDERR_FILENO);
    struct cr_pg *bad;
    struct cr_pg_opts ob = {.conninfo = "host=nonexistent.invalid dbname=carillon"};
    int rc = cr_pg_new(&l2, &ob, &bad);
    struct seen q = {0};
    int rq = rc ? rc : cr_pg_query(bad, "SELECT 1", 0, NULL, record, &q);
    uv_timer_init(&l2, &w.t);
    uv_timer_start(&w.t, watch_tick, 20, 20);
    bool found = tu_run_until(&l2, &w.found, 20000);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(w.fd);
    uv_close((uv_handle_t *)&w.t, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(rq, 0);
    assert_true(found);
    assert_false(q.done);
    assert_false(cr_pg_is_up(bad));
    closed_done = false;
    cr_pg_close(bad, on_closed, NULL);
    assert_int_equal(q.status, -ECANCELED);
    assert_true(tu_run_until(&l2, &closed_done, 5000));

    /* Closed while the lookup may still be pending. */
    struct cr_pg *early;
    assert_int_equal(cr_pg_new(&l2, &o, &early), 0);
    uv_run(&l2, UV_RUN_NOWAIT); /* starts the lookup */
    closed_done = false;
    cr_pg_close(early, on_closed, NULL);
    assert_true(tu_run_until(&l2, &closed_done, 5000));
    assert_int_equal(cr_loop_close_all(&l2), 0);
}

static void test_bad_conninfo(void **state)
{
    (void)state;
    struct cr_pg *x = NULL;
    struct cr_pg_opts o = {.conninfo = "host=127.0.0.1 nosuchoption=1"};
    assert_int_equal(cr_pg_new(&loop, &o, &x), -EINVAL);
    assert_null(x);
}

static void test_queue_bound_and_close(void **state)
{
    (void)state;
    uv_loop_t l2;
    uv_loop_init(&l2);
    struct cr_pg *small;
    struct cr_pg_opts o = {.conninfo = conninfo, .max_queue = 3};
    assert_int_equal(cr_pg_new(&l2, &o, &small), 0);
    struct seen s[4] = {{0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(cr_pg_query(small, "SELECT 1", 0, NULL, record, &s[i]), 0);
    assert_int_equal(cr_pg_query(small, "SELECT 1", 0, NULL, record, &s[3]), -ENOBUFS);
    assert_false(s[3].done); /* a failed call never runs its callback */
    /* Closing before they ran cancels them, and each callback runs once. */
    closed_done = false;
    cr_pg_close(small, on_closed, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].status, -ECANCELED);
    }
    assert_true(tu_run_until(&l2, &closed_done, 5000));
    assert_int_equal(cr_loop_close_all(&l2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_utf8),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_big_pipeline),
        cmocka_unit_test(test_batches_are_atomic),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_notify_and_notice),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_enqueue_from_callback),
        cmocka_unit_test(test_close_from_callback),
        cmocka_unit_test(test_host_names),
        cmocka_unit_test(test_bad_conninfo),
        cmocka_unit_test(test_queue_bound_and_close),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
