/* The public_holidays table against a real, ephemeral PostgreSQL: migrations applied, a fill of
 * three years (national and regional rows), a second fill that adds nothing, refused spans,
 * and the lookup the claim query will make (a contact's region or the whole country). */
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
#include "store/compliance_store.h"
#include "store/store.h"
#include "testutil.h"

static char *dir;
static uv_loop_t loop;
static struct cr_pg *pg;
static volatile bool up;

static void on_state(void *arg, bool is_up)
{
    (void)arg;
    up = is_up;
}

struct migrated {
    bool done;
    int err;
};

static void on_migrated(void *arg, int err)
{
    struct migrated *m = arg;
    m->err = err;
    m->done = true;
}

static int group_setup(void **state)
{
    (void)state;
    cr_log_init("test_compliance_store", CR_LOG_WARN, false);
    dir = tu_mkdtemp();
    char conninfo[256];
    if (tu_pg_cluster_start(dir, conninfo, sizeof conninfo) != 0)
        return -1;
    uv_loop_init(&loop);
    struct cr_pg_opts o = {.conninfo = conninfo};
    if (cr_pg_new(&loop, &o, &pg) != 0)
        return -1;
    cr_pg_on_state(pg, on_state, NULL);
    if (!tu_run_until(&loop, &up, 20000))
        return -1;
    struct migrated m = {0};
    if (store_migrate(pg, CARILLON_MIGRATIONS_DIR, on_migrated, &m) != 0 ||
        !tu_run_until(&loop, &m.done, 60000))
        return -1;
    return m.err;
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

/* What a statement returned: its status, rows affected, and its first cell. */
struct seen {
    bool done;
    int status;
    long tuples;
    char value[256];
};

static void record(void *arg, const struct cr_pg_result *r)
{
    struct seen *s = arg;
    s->done = true;
    s->status = r->status;
    if (r->status == 0 && r->nres > 0 && r->res[0]) {
        s->tuples = atol(PQcmdTuples(r->res[0]));
        if (PQntuples(r->res[0]) > 0)
            snprintf(s->value, sizeof s->value, "%s", PQgetvalue(r->res[0], 0, 0));
    } else if (r->message) {
        snprintf(s->value, sizeof s->value, "%s", r->message);
    }
}

/* Fills profile's from..to and returns how many rows were new. */
static long fill(enum compliance_profile p, int from, int to)
{
    struct seen s = {0};
    assert_int_equal(store_holidays_fill(pg, p, from, to, record, &s), 0);
    assert_true(tu_run_until(&loop, &s.done, 20000));
    if (s.status != 0)
        fail_msg("fill %s %d-%d: %d %s", compliance_name(p), from, to, s.status, s.value);
    return s.tuples;
}

/* The claim query's test: is day a holiday of profile for a contact of region? Returns the
 * holiday's name, or "" when it is not one. */
static const char *holiday_name(const char *profile, const char *region, const char *day)
{
    static struct seen s;
    memset(&s, 0, sizeof s);
    const char *p[] = {profile, region, day};
    assert_int_equal(cr_pg_query(pg,
                                 "SELECT coalesce(string_agg(name, ', ' ORDER BY region), '') "
                                 "FROM public_holidays WHERE profile = $1 AND region IN ('', $2) "
                                 "AND day = $3::date",
                                 3, p, record, &s),
                     0);
    assert_true(tu_run_until(&loop, &s.done, 20000));
    assert_int_equal(s.status, 0);
    return s.value;
}

static void test_fill_and_lookup(void **state)
{
    (void)state;
    /* 2026-2028: 11 national days a year, Good Friday and 26 December in each of 57, 67, 68,
     * and one abolition day in each of 971, 972, 973, 974, 976: 3 * (11 + 6 + 5). */
    assert_int_equal(fill(COMPLIANCE_FR, 2026, 2028), 66);
    assert_int_equal(fill(COMPLIANCE_FR, 2026, 2028), 0);
    assert_int_equal(fill(COMPLIANCE_FR, 2028, 2029), 22); /* only 2029 is new */
    assert_int_equal(fill(COMPLIANCE_US, 2027, 2027), 0);  /* hours only, no holiday by law */

    assert_string_equal(holiday_name("FR", "", "2027-07-14"), "Bastille Day");
    assert_string_equal(holiday_name("FR", "75", "2027-03-29"), "Easter Monday");
    assert_string_equal(holiday_name("FR", "67", "2027-03-26"), "Good Friday");
    assert_string_equal(holiday_name("FR", "75", "2027-03-26"), "");
    assert_string_equal(holiday_name("FR", "974", "2027-12-20"), "Abolition of Slavery Day");
    assert_string_equal(holiday_name("FR", "971", "2027-12-20"), "");
    assert_string_equal(holiday_name("FR", "57", "2029-12-26"), "St Stephen's Day");
    assert_string_equal(holiday_name("US", "", "2027-07-04"), "");
}

static void test_refused_spans(void **state)
{
    (void)state;
    struct seen s = {0};
    assert_int_equal(store_holidays_fill(pg, COMPLIANCE_FR, 2028, 2027, record, &s), -EINVAL);
    assert_int_equal(store_holidays_fill(pg, COMPLIANCE_FR, 2000, 2100, record, &s), -EINVAL);
    assert_int_equal(store_holidays_fill(pg, COMPLIANCE_FR, 1500, 1600, record, &s), -EINVAL);
    assert_int_equal(store_holidays_fill(pg, COMPLIANCE_FR, 9999, 10000, record, &s), -EINVAL);
    assert_false(s.done); /* a call that fails never runs its callback */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_and_lookup),
        cmocka_unit_test(test_refused_spans),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
