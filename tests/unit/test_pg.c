/* The asynchronous PostgreSQL layer against a real, ephemeral cluster: parameters and UTF-8,
 * FIFO order, atomic batches, scripts, LISTEN/NOTIFY, notices, reconnection after a restart,
 * the queue bound, and cancellation on close. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void on_state(void *arg, bool is_up)
{
    (void)arg;
    up = is_up;
}

static int group_setup(void **state)
{
    (void)state;
    cr_log_init("test_pg", CR_LOG_WARN, false);
    dir = tu_mkdtemp();
    char out[512];
    if (tu_sh(out, sizeof out, "'%s/tests/lib/pg.sh' start '%s'", tu_source_dir(), dir) != 0)
        return -1;
    char *port = strstr(out, "PGPORT=");
    if (!port)
        return -1;
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=carillon dbname=carillon",
             atoi(port + 7));
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
    tu_sh(NULL, 0, "'%s/tests/lib/pg.sh' stop '%s'", tu_source_dir(), dir);
    tu_rmrf(dir);
    free(dir);
    return 0;
}

/* What a callback saw. */
struct seen {
    bool done;
    int status;
    char sqlstate[6];
    char value[256];
    int nres;
    int order;
};

static int order_counter;

static void record(void *arg, const struct cr_pg_result *r)
{
    struct seen *s = arg;
    s->done = true;
    s->status = r->status;
    s->nres = r->nres;
    s->order = ++order_counter;
    if (r->sqlstate)
        snprintf(s->sqlstate, sizeof s->sqlstate, "%s", r->sqlstate);
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

static void test_batches_are_atomic(void **state)
{
    (void)state;
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
    assert_string_equal(count.value, "3"); /* a, b, c: not d */

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
    struct seen notice = {0};
    assert_int_equal(cr_pg_exec_script(pg, "DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$",
                                       record, &notice),
                     0);
    run_until_done(&notice);
    assert_int_equal(notice.status, 0);
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

static void test_reconnect_after_restart(void **state)
{
    (void)state;
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

    /* Queued after the loss: sent once the connection is back. */
    struct seen later = {0};
    assert_int_equal(cr_pg_query(pg, "SELECT 'back'", 0, NULL, record, &later), 0);
    run_until_done(&later);
    assert_int_equal(later.status, 0);
    assert_string_equal(later.value, "back");
    assert_true(up);
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
    cr_pg_close(small, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_true(s[i].done);
        assert_int_equal(s[i].status, -ECANCELED);
    }
    assert_int_equal(cr_loop_close_all(&l2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_utf8),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_batches_are_atomic),
        cmocka_unit_test(test_notify_and_notice),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_queue_bound_and_close),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
