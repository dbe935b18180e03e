/* The campaign engine's transactions (migration 012: carillon_claim, carillon_call_event,
 * carillon_attempt_close, carillon_attempt_qualify) against a real, ephemeral PostgreSQL, driven
 * through store/attempts_store.h with the engine's clock passed explicitly. Each test makes its
 * own campaign and numbers, so the FR caps (counted per number across campaigns) stay apart. */
#include <errno.h>
#include <inttypes.h>
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
#include "engine/compliance.h"
#include "store/attempts_store.h"
#include "store/compliance_store.h"
#include "store/store.h"
#include "testutil.h"

#define MINUTE_MS ((int64_t)60 * 1000)
#define HOUR_MS   (60 * MINUTE_MS)
#define DAY_MS    (24 * HOUR_MS)
#define WAIT_MS   20000

static char *dir;
static uv_loop_t loop;
static struct cr_pg *pg, *pg2; /* pg2: the second claimer of test_concurrent_claimers */
static volatile bool up, up2;

static void on_state(void *arg, bool is_up)
{
    *(volatile bool *)arg = is_up;
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

/* What a statement returned: its status, SQLSTATE, rows affected, and its first cell. */
struct seen {
    bool done;
    int status;
    char sqlstate[8];
    long tuples;
    char value[256];
};

static void record(void *arg, const struct cr_pg_result *r)
{
    struct seen *s = arg;
    s->done = true;
    s->status = r->status;
    if (r->sqlstate)
        snprintf(s->sqlstate, sizeof s->sqlstate, "%s", r->sqlstate);
    if (r->status == 0 && r->nres > 0 && r->res[0]) {
        s->tuples = atol(PQcmdTuples(r->res[0]));
        if (PQntuples(r->res[0]) > 0 && !PQgetisnull(r->res[0], 0, 0))
            snprintf(s->value, sizeof s->value, "%s", PQgetvalue(r->res[0], 0, 0));
    } else if (r->message) {
        snprintf(s->value, sizeof s->value, "%s", r->message);
    }
}

/* Runs one statement without parameters; s says how it went. */
static void sql_try(const char *stmt, struct seen *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(cr_pg_query(pg, stmt, 0, NULL, record, s), 0);
    assert_true(tu_run_until(&loop, &s->done, WAIT_MS));
}

/* Runs one statement (printf-style) that must succeed and returns its first cell ("" for none
 * or NULL), valid until the next call. */
static const char *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sql(const char *fmt, ...)
{
    static struct seen s;
    char stmt[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(stmt, sizeof stmt, fmt, ap);
    va_end(ap);
    assert_true(len > 0 && (size_t)len < sizeof stmt);
    sql_try(stmt, &s);
    if (s.status != 0)
        fail_msg("%s: %s %s", stmt, s.sqlstate, s.value);
    return s.value;
}

static int64_t as_int(const char *v)
{
    return strtoll(v, NULL, 10);
}

/* Unix milliseconds of a timestamptz literal such as "2027-06-14 10:00 Europe/Paris". */
static int64_t ms(const char *when)
{
    return as_int(sql("SELECT (extract(epoch FROM timestamptz '%s') * 1000)::bigint", when));
}

/* --- fixtures -------------------------------------------------------------------------------- */

/* A campaign with one active list. rules: its outcome_rules; set: more columns ("" for none). */
static int64_t campaign_new(const char *name, const char *rules, const char *set)
{
    int64_t id = as_int(sql("INSERT INTO campaigns (name, outcome_rules) VALUES ('%s', '%s') "
                            "RETURNING id",
                            name, rules));
    if (set[0])
        sql("UPDATE campaigns SET %s WHERE id = %" PRId64, set, id);
    sql("INSERT INTO lists (campaign_id, name) VALUES (%" PRId64 ", 'main')", id);
    return id;
}

/* A waiting contact of the campaign's list with one or two numbers (number2 NULL: one). */
static int64_t contact_new(int64_t campaign, const char *zone, const char *zip, const char *number,
                           const char *number2)
{
    int64_t id = as_int(sql("INSERT INTO contacts (campaign_id, list_id, time_zone, zip) "
                            "SELECT campaign_id, id, '%s', '%s' FROM lists "
                            "WHERE campaign_id = %" PRId64 " RETURNING id",
                            zone, zip, campaign));
    sql("INSERT INTO addresses (contact_id, position, number) VALUES (%" PRId64 ", 1, '%s')", id,
        number);
    if (number2)
        sql("INSERT INTO addresses (contact_id, position, number, state) "
            "VALUES (%" PRId64 ", 2, '%s', 'waiting')",
            id, number2);
    return id;
}

static int64_t agent_new(const char *login)
{
    return as_int(sql("INSERT INTO users (login, display_name, role, password_hash) "
                      "VALUES ('%s', '%s', 'agent', '-') RETURNING id",
                      login, login));
}

static void qualification_new(int64_t campaign, const char *code, const char *set)
{
    int64_t id = as_int(sql("INSERT INTO qualifications (campaign_id, position, code, name, type) "
                            "SELECT %" PRId64 ", count(*), '%s', '%s', 'misc' FROM qualifications "
                            "WHERE campaign_id = %" PRId64 " RETURNING id",
                            campaign, code, code, campaign));
    if (set[0])
        sql("UPDATE qualifications SET %s WHERE id = %" PRId64, set, id);
}

/* Gives the campaign's claimed contacts back (attempts removed, contacts waiting), so the next
 * claim at another time sees them again. */
static void release(int64_t campaign)
{
    sql("DELETE FROM attempts WHERE campaign_id = %" PRId64, campaign);
    sql("UPDATE contacts SET state = 'waiting' WHERE campaign_id = %" PRId64
        " AND state = 'running'",
        campaign);
}

static const char *contact_col(int64_t contact, const char *col)
{
    return sql("SELECT %s FROM contacts WHERE id = %" PRId64, col, contact);
}

/* --- the store calls ------------------------------------------------------------------------- */

struct claimed {
    bool done;
    int err, n;
    struct store_claimed rows[64];
};

static void on_claim(void *arg, int err, const struct store_claimed *rows, int n)
{
    struct claimed *c = arg;
    c->err = err;
    c->n = n < 64 ? n : 64;
    if (c->n)
        memcpy(c->rows, rows, (size_t)c->n * sizeof *rows);
    c->done = true;
}

/* A claim as the scheduler makes it: the profile's own windows, no agent ready, customer-first,
 * no slot end, up to 10 contacts. */
static struct store_claim_req req(int64_t campaign, enum compliance_profile p, int64_t now_ms)
{
    size_t nwin = 0;
    const struct compliance_window *win = compliance_windows(p, &nwin);
    return (struct store_claim_req){.campaign_id = campaign,
                                    .n = 10,
                                    .now_ms = now_ms,
                                    .win = win,
                                    .nwin = nwin,
                                    .profile = p,
                                    .node = "dialer-1"};
}

static const struct claimed *claim(const struct store_claim_req *q)
{
    static struct claimed c;
    memset(&c, 0, sizeof c);
    assert_int_equal(store_claim(pg, q, on_claim, &c), 0);
    assert_true(tu_run_until(&loop, &c.done, WAIT_MS));
    assert_int_equal(c.err, 0);
    return &c;
}

/* Claims with q and checks that exactly the nwant contacts given (int64_t) were claimed. */
static const struct claimed *claim_expect(const struct store_claim_req *q, int nwant, ...)
{
    const struct claimed *c = claim(q);
    va_list ap;
    va_start(ap, nwant);
    for (int i = 0; i < nwant; i++) {
        int64_t want = va_arg(ap, int64_t);
        bool found = false;
        for (int j = 0; j < c->n; j++)
            found = found || c->rows[j].contact_id == want;
        if (!found)
            fail_msg("contact %" PRId64 " was not claimed (%d claimed)", want, c->n);
    }
    va_end(ap);
    if (c->n != nwant)
        fail_msg("%d contacts claimed, %d expected (first: %" PRId64 ")", c->n, nwant,
                 c->n ? c->rows[0].contact_id : 0);
    return c;
}

/* The claimed row of a contact (the test fails when it is not there). */
static const struct store_claimed *row_of(const struct claimed *c, int64_t contact)
{
    for (int i = 0; i < c->n; i++)
        if (c->rows[i].contact_id == contact)
            return &c->rows[i];
    fail_msg("contact %" PRId64 " not among the claimed", contact);
    return NULL;
}

struct outcome {
    bool done;
    int err;
    char state[32];
    char msg[256];
};

static void on_outcome(void *arg, int err, const char *state, const char *msg)
{
    struct outcome *o = arg;
    o->err = err;
    snprintf(o->state, sizeof o->state, "%s", state);
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    o->done = true;
}

/* Closes an attempt and returns the contact's new state (valid until the next call). */
static const char *close_attempt(int64_t attempt, int64_t now_ms, const char *outcome, bool counted)
{
    static struct outcome o;
    memset(&o, 0, sizeof o);
    assert_int_equal(store_attempt_close(pg, attempt, now_ms, outcome, counted, "", on_outcome, &o),
                     0);
    assert_true(tu_run_until(&loop, &o.done, WAIT_MS));
    assert_int_equal(o.err, 0);
    return o.state;
}

/* Qualifies an attempt; returns the error (0, -EINVAL) and the contact's state in *state. */
static int qualify(int64_t attempt, int64_t now_ms, const char *code, int64_t by,
                   int64_t callback_at_ms, bool personal, const char **state)
{
    static struct outcome o;
    memset(&o, 0, sizeof o);
    assert_int_equal(store_attempt_qualify(pg, attempt, now_ms, code, by, callback_at_ms, personal,
                                           on_outcome, &o),
                     0);
    assert_true(tu_run_until(&loop, &o.done, WAIT_MS));
    if (state)
        *state = o.state;
    return o.err;
}

struct stored {
    bool done;
    int err, n;
    char results[8][32];
};

static void on_events(void *arg, int err, const char *const *results, int n)
{
    struct stored *s = arg;
    s->err = err;
    s->n = n < 8 ? n : 8;
    for (int i = 0; i < s->n; i++)
        snprintf(s->results[i], sizeof s->results[i], "%s", results[i]);
    s->done = true;
}

static const struct stored *send_events(const struct store_call_event *ev, int n)
{
    static struct stored s;
    memset(&s, 0, sizeof s);
    assert_int_equal(store_call_events(pg, ev, n, on_events, &s), 0);
    assert_true(tu_run_until(&loop, &s.done, WAIT_MS));
    assert_int_equal(s.err, 0);
    assert_int_equal(s.n, n);
    return &s;
}

/* A dialer's event with nothing optional set. */
static struct store_call_event event(uint64_t boot, uint64_t seq, int64_t attempt,
                                     const char *state, const char *outcome, int64_t now_ms)
{
    return (struct store_call_event){.boot_id = boot,
                                     .seq = seq,
                                     .node = "dialer-1",
                                     .attempt_id = attempt,
                                     .state = state,
                                     .outcome = outcome,
                                     .now_ms = now_ms,
                                     .call_id = "",
                                     .hung_up_by = "",
                                     .ring_ms = -1,
                                     .talk_ms = -1,
                                     .detail = ""};
}

static const char *send_event(const struct store_call_event *ev)
{
    return send_events(ev, 1)->results[0];
}

/* --- group ----------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    cr_log_init("test_engine_claim", CR_LOG_WARN, false);
    dir = tu_mkdtemp();
    char conninfo[256];
    if (tu_pg_cluster_start(dir, conninfo, sizeof conninfo) != 0)
        return -1;
    uv_loop_init(&loop);
    struct cr_pg_opts o = {.conninfo = conninfo};
    if (cr_pg_new(&loop, &o, &pg) != 0 || cr_pg_new(&loop, &o, &pg2) != 0)
        return -1;
    cr_pg_on_state(pg, on_state, (void *)&up);
    cr_pg_on_state(pg2, on_state, (void *)&up2);
    if (!tu_run_until(&loop, &up, WAIT_MS) || !tu_run_until(&loop, &up2, WAIT_MS))
        return -1;
    struct migrated m = {0};
    if (store_migrate(pg, CARILLON_MIGRATIONS_DIR, on_migrated, &m) != 0 ||
        !tu_run_until(&loop, &m.done, 60000) || m.err)
        return -1;
    struct seen s = {0};
    if (store_holidays_fill(pg, COMPLIANCE_FR, 2027, 2028, record, &s) != 0 ||
        !tu_run_until(&loop, &s.done, WAIT_MS) || s.status)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (pg)
        cr_pg_close(pg, NULL, NULL);
    if (pg2)
        cr_pg_close(pg2, NULL, NULL);
    cr_loop_close_all(&loop);
    tu_pg_cluster_stop(dir);
    tu_rmrf(dir);
    free(dir);
    return 0;
}

/* --- windows --------------------------------------------------------------------------------- */

/* FR: weekdays 10:00-13:00 and 14:00-20:00 in the contact's zone, end excluded; not_after is
 * the end of the window the claim falls in. 2027-06-14 is a Monday (CEST). */
static void test_windows_fr_paris(void **state)
{
    (void)state;
    int64_t camp = campaign_new("win-paris", "{}", "compliance = 'fr'");
    int64_t c = contact_new(camp, "Europe/Paris", "75011", "+33140000101", NULL);
    static const struct {
        const char *at, *not_after; /* NULL: not claimed */
    } cases[] = {
        {"2027-06-14 09:59", NULL},
        {"2027-06-14 10:00", "2027-06-14 13:00"},
        {"2027-06-14 12:59:59", "2027-06-14 13:00"},
        {"2027-06-14 13:00", NULL},
        {"2027-06-14 13:59", NULL},
        {"2027-06-14 14:00", "2027-06-14 20:00"},
        {"2027-06-14 19:59", "2027-06-14 20:00"},
        {"2027-06-14 20:00", NULL},
        {"2027-06-19 11:00", NULL}, /* Saturday */
        {"2027-06-20 11:00", NULL}, /* Sunday */
        {"2027-06-18 19:00", "2027-06-18 20:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char at[64], end[64];
        snprintf(at, sizeof at, "%s Europe/Paris", cases[i].at);
        struct store_claim_req q = req(camp, COMPLIANCE_FR, ms(at));
        const struct claimed *got = claim(&q);
        if (!cases[i].not_after) {
            if (got->n != 0)
                fail_msg("claimed at %s", at);
            continue;
        }
        if (got->n != 1)
            fail_msg("not claimed at %s", at);
        assert_int_equal(got->rows[0].contact_id, c);
        snprintf(end, sizeof end, "%s Europe/Paris", cases[i].not_after);
        assert_int_equal(got->rows[0].not_after_ms, ms(end));
        release(camp);
    }
}

/* The slot's end bounds not_after when it comes before the legal window's end. */
static void test_not_after_slot_end(void **state)
{
    (void)state;
    int64_t camp = campaign_new("win-slot", "{}", "compliance = 'fr'");
    int64_t c = contact_new(camp, "Europe/Paris", "75011", "+33140000201", NULL);
    struct store_claim_req q = req(camp, COMPLIANCE_FR, ms("2027-06-14 14:00 Europe/Paris"));
    q.slot_end_ms = ms("2027-06-14 18:30 Europe/Paris");
    assert_int_equal(row_of(claim_expect(&q, 1, c), c)->not_after_ms, q.slot_end_ms);
    release(camp);
    q.slot_end_ms = ms("2027-06-14 21:00 Europe/Paris");
    assert_int_equal(row_of(claim_expect(&q, 1, c), c)->not_after_ms,
                     ms("2027-06-14 20:00 Europe/Paris"));
    release(camp);
    /* no legal window (profile none): the slot's end alone, or none */
    int64_t open = campaign_new("win-slot-none", "{}", "");
    int64_t d = contact_new(open, "Europe/Paris", "", "+33140000202", NULL);
    q = req(open, COMPLIANCE_NONE, ms("2027-06-19 23:00 Europe/Paris"));
    assert_int_equal(row_of(claim_expect(&q, 1, d), d)->not_after_ms, 0);
    release(open);
    q.slot_end_ms = ms("2027-06-19 23:30 Europe/Paris");
    assert_int_equal(row_of(claim_expect(&q, 1, d), d)->not_after_ms, q.slot_end_ms);
}

/* The same FR windows in La Réunion's own zone (UTC+4, Paris UTC+2 in June), in one campaign
 * with a Paris contact: each is claimed by its own clock. */
static void test_windows_fr_reunion(void **state)
{
    (void)state;
    int64_t camp = campaign_new("win-reunion", "{}", "compliance = 'fr'");
    int64_t paris = contact_new(camp, "Europe/Paris", "75011", "+33140000301", NULL);
    int64_t reunion = contact_new(camp, "Indian/Reunion", "97400", "+262262000301", NULL);
    struct store_claim_req q = req(camp, COMPLIANCE_FR, ms("2027-06-14 09:59 Indian/Reunion"));
    claim_expect(&q, 0);
    q.now_ms = ms("2027-06-14 10:00 Indian/Reunion"); /* 08:00 in Paris */
    assert_int_equal(row_of(claim_expect(&q, 1, reunion), reunion)->not_after_ms,
                     ms("2027-06-14 13:00 Indian/Reunion"));
    release(camp);
    q.now_ms = ms("2027-06-14 11:00 Europe/Paris"); /* 13:00 in La Réunion */
    assert_int_equal(row_of(claim_expect(&q, 1, paris), paris)->not_after_ms,
                     ms("2027-06-14 13:00 Europe/Paris"));
    release(camp);
    q.now_ms = ms("2027-06-14 19:59 Indian/Reunion"); /* 17:59 in Paris */
    const struct claimed *got = claim_expect(&q, 2, paris, reunion);
    assert_int_equal(row_of(got, reunion)->not_after_ms, ms("2027-06-14 20:00 Indian/Reunion"));
    assert_int_equal(row_of(got, paris)->not_after_ms, ms("2027-06-14 20:00 Europe/Paris"));
}

/* US: 08:00-21:00 every day in the contact's zone (EDT in June), no holidays. */
static void test_windows_us_new_york(void **state)
{
    (void)state;
    int64_t camp = campaign_new("win-ny", "{}", "compliance = 'us'");
    int64_t c = contact_new(camp, "America/New_York", "10001", "+12125550401", NULL);
    struct store_claim_req q = req(camp, COMPLIANCE_US, ms("2027-06-14 07:59 America/New_York"));
    claim_expect(&q, 0);
    q.now_ms = ms("2027-06-14 08:00 America/New_York");
    assert_int_equal(row_of(claim_expect(&q, 1, c), c)->not_after_ms,
                     ms("2027-06-14 21:00 America/New_York"));
    release(camp);
    q.now_ms = ms("2027-06-14 20:59 America/New_York");
    assert_int_equal(row_of(claim_expect(&q, 1, c), c)->not_after_ms,
                     ms("2027-06-14 21:00 America/New_York"));
    release(camp);
    q.now_ms = ms("2027-06-14 21:00 America/New_York");
    claim_expect(&q, 0);
    q.now_ms = ms("2027-07-04 10:00 America/New_York"); /* a Sunday and Independence Day */
    claim_expect(&q, 1, c);
}

/* --- holidays -------------------------------------------------------------------------------- */

/* 14 July 2027 is a Wednesday: no FR call anywhere; the next day all are claimed again. */
static void test_holiday_national(void **state)
{
    (void)state;
    int64_t camp = campaign_new("hol-national", "{}", "compliance = 'fr'");
    int64_t paris = contact_new(camp, "Europe/Paris", "75011", "+33140000501", NULL);
    int64_t strasbourg = contact_new(camp, "Europe/Paris", "67000", "+33388000501", NULL);
    struct store_claim_req q = req(camp, COMPLIANCE_FR, ms("2027-07-14 11:00 Europe/Paris"));
    claim_expect(&q, 0);
    q.now_ms = ms("2027-07-15 11:00 Europe/Paris");
    claim_expect(&q, 2, paris, strasbourg);
    /* the same day under profile none: holidays do not apply */
    release(camp);
    q = req(camp, COMPLIANCE_NONE, ms("2027-07-14 11:00 Europe/Paris"));
    claim_expect(&q, 2, paris, strasbourg);
}

/* 26 December (Tuesday in 2028) is a holiday in Alsace-Moselle only (the postcode says 67);
 * 20 December (Monday in 2027) in La Réunion only (a +262 number without a postcode). */
static void test_holiday_regional(void **state)
{
    (void)state;
    int64_t camp = campaign_new("hol-regional", "{}", "compliance = 'fr'");
    int64_t paris = contact_new(camp, "Europe/Paris", "75011", "+33140000601", NULL);
    int64_t strasbourg = contact_new(camp, "Europe/Paris", "67000", "+33140000602", NULL);
    struct store_claim_req q = req(camp, COMPLIANCE_FR, ms("2028-12-26 11:00 Europe/Paris"));
    claim_expect(&q, 1, paris);
    release(camp);
    q.now_ms = ms("2028-12-27 11:00 Europe/Paris");
    claim_expect(&q, 2, paris, strasbourg);

    int64_t dom = campaign_new("hol-reunion", "{}", "compliance = 'fr'");
    int64_t reunion = contact_new(dom, "Indian/Reunion", "", "+262262000601", NULL);
    int64_t metro = contact_new(dom, "Indian/Reunion", "75015", "+33140000603", NULL);
    q = req(dom, COMPLIANCE_FR, ms("2027-12-20 11:00 Indian/Reunion"));
    claim_expect(&q, 1, metro);
    release(dom);
    q.now_ms = ms("2027-12-21 11:00 Indian/Reunion");
    claim_expect(&q, 2, reunion, metro);
}

/* --- caps and quiet periods ------------------------------------------------------------------ */

/* FR: 4 counted tries per number per rolling 30 days, whatever the campaign. The caps are
 * tested without hours (no windows) so that any instant will do. */
static void test_fr_cap_across_campaigns(void **state)
{
    (void)state;
    const char *rules = "{\"no_answer\": {\"retry_delay_s\": 0, \"max_attempts\": 10}}";
    int64_t a = campaign_new("cap-a", rules, "compliance = 'fr'");
    int64_t b = campaign_new("cap-b", rules, "compliance = 'fr'");
    int64_t ca = contact_new(a, "Europe/Paris", "75011", "+33612000701", NULL);
    int64_t cb = contact_new(b, "Europe/Paris", "75011", "+33612000701", NULL);
    int64_t other = contact_new(b, "Europe/Paris", "75011", "+33612000702", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req qa = req(a, COMPLIANCE_FR, t), qb = req(b, COMPLIANCE_FR, t);
    qa.nwin = qb.nwin = 0;
    qb.n = 1;
    for (int i = 0; i < 3; i++) {
        qa.now_ms = t + i * 10 * MINUTE_MS;
        int64_t att = row_of(claim_expect(&qa, 1, ca), ca)->attempt_id;
        assert_string_equal(close_attempt(att, qa.now_ms + MINUTE_MS, "no_answer", true),
                            "waiting");
    }
    qb.now_ms = t + 30 * MINUTE_MS;
    int64_t att = row_of(claim_expect(&qb, 1, cb), cb)->attempt_id;
    assert_string_equal(close_attempt(att, qb.now_ms + MINUTE_MS, "no_answer", true), "waiting");

    qa.now_ms = qb.now_ms = t + HOUR_MS;
    qb.n = 10;
    claim_expect(&qa, 0);
    claim_expect(&qb, 1, other); /* another number is not capped */
    qa.now_ms = t + 30 * DAY_MS - MINUTE_MS;
    claim_expect(&qa, 0);
    /* the first try leaves the 30 days: one more is allowed, in either campaign */
    qa.now_ms = qb.now_ms = t + 30 * DAY_MS + MINUTE_MS;
    claim_expect(&qb, 1, cb);
    claim_expect(&qa, 0); /* that claim is the fourth try of the 30 days again */
}

/* FR: nothing for 60 days after the consumer refused during a call, in any campaign. */
static void test_fr_refusal_quiet(void **state)
{
    (void)state;
    int64_t a = campaign_new("refusal-a", "{}", "compliance = 'fr'");
    int64_t b = campaign_new("refusal-b", "{}", "compliance = 'fr'");
    qualification_new(a, "REFUS", "refusal = true");
    int64_t ca = contact_new(a, "Europe/Paris", "75011", "+33612000801", NULL);
    int64_t cb = contact_new(b, "Europe/Paris", "75011", "+33612000801", NULL);
    int64_t agent = agent_new("refusal-agent");
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req qa = req(a, COMPLIANCE_FR, t), qb = req(b, COMPLIANCE_FR, t);
    qa.nwin = qb.nwin = 0;
    int64_t att = row_of(claim_expect(&qa, 1, ca), ca)->attempt_id;
    const char *st;
    assert_int_equal(qualify(att, t + MINUTE_MS, "REFUS", agent, 0, false, &st), 0);
    assert_string_equal(st, "waiting");
    assert_string_equal(sql("SELECT refusal FROM attempts WHERE id = %" PRId64, att), "t");
    qa.now_ms = qb.now_ms = t + DAY_MS;
    claim_expect(&qa, 0);
    claim_expect(&qb, 0);
    qa.now_ms = qb.now_ms = t + 59 * DAY_MS;
    claim_expect(&qa, 0);
    claim_expect(&qb, 0);
    qa.now_ms = qb.now_ms = t + 60 * DAY_MS + 2 * MINUTE_MS;
    claim_expect(&qb, 1, cb);
    claim_expect(&qa, 1, ca);
}

/* UK: no call to a number within 72 h of an abandoned call to it, unless an agent is reserved
 * for the call (agent-first). */
static void test_uk_abandon_quiet(void **state)
{
    (void)state;
    int64_t camp =
        campaign_new("uk-abandon", "{\"abandoned\": {\"retry_delay_s\": 0, \"max_attempts\": 5}}",
                     "compliance = 'uk', time_zone = 'Europe/London'");
    int64_t c = contact_new(camp, "Europe/London", "", "+447700900901", NULL);
    int64_t other = contact_new(camp, "Europe/London", "", "+447700900902", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/London");
    struct store_claim_req q = req(camp, COMPLIANCE_UK, t);
    assert_int_equal(q.nwin, 0); /* Ofcom limits abandoned calls, not hours */
    q.n = 1;
    int64_t att = row_of(claim_expect(&q, 1, c), c)->attempt_id;
    assert_string_equal(close_attempt(att, t + 30000, "abandoned", true), "waiting");
    q.n = 10;
    q.now_ms = t + HOUR_MS;
    claim_expect(&q, 1, other);
    q.now_ms = t + 72 * HOUR_MS;
    claim_expect(&q, 0); /* 72 h after the claim, not yet after the call's end */
    q.agent_first = true;
    claim_expect(&q, 1, c);
    release(camp);
    q.agent_first = false;
    q.now_ms = t + 30000 + 72 * HOUR_MS + 1000;
    claim_expect(&q, 2, c, other);
}

/* --- outcomes -------------------------------------------------------------------------------- */

/* Each outcome's rule: its delay, its own maximum (0 means one try), and the state after the
 * last (failed, done, shelved); tries of other outcomes do not count against it. */
static void test_retry_rules(void **state)
{
    (void)state;
    int64_t camp = campaign_new(
        "retry-rules",
        "{\"busy\": {\"retry_delay_s\": 600, \"max_attempts\": 2, \"after_last\": \"failed\"}, "
        "\"no_answer\": {\"retry_delay_s\": 3600, \"max_attempts\": 3, \"after_last\": \"done\"}, "
        "\"answering_machine\": {\"retry_delay_s\": 60, \"max_attempts\": 0, "
        "\"after_last\": \"shelved\"}}",
        "");
    int64_t a = contact_new(camp, "Europe/Paris", "", "+33612001001", NULL);
    int64_t b = contact_new(camp, "Europe/Paris", "", "+33612001002", NULL);
    int64_t m = contact_new(camp, "Europe/Paris", "", "+33612001003", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    const struct claimed *got = claim_expect(&q, 3, a, b, m);
    int64_t att_a = row_of(got, a)->attempt_id, att_b = row_of(got, b)->attempt_id,
            att_m = row_of(got, m)->attempt_id;
    assert_string_equal(close_attempt(att_a, t, "busy", true), "waiting");
    assert_string_equal(close_attempt(att_b, t, "busy", true), "waiting");
    assert_string_equal(close_attempt(att_m, t, "machine", true), "shelved");
    assert_int_equal(as_int(sql("SELECT extract(epoch FROM next_try) * 1000 FROM contacts "
                                "WHERE id = %" PRId64,
                                a)),
                     t + 600000);

    q.now_ms = t + 599000;
    claim_expect(&q, 0);
    q.now_ms = t + 600000;
    got = claim_expect(&q, 2, a, b);
    assert_string_equal(close_attempt(row_of(got, a)->attempt_id, q.now_ms, "busy", true),
                        "failed");
    /* b's second try is its first no_answer: the busy one does not count against that rule */
    assert_string_equal(close_attempt(row_of(got, b)->attempt_id, q.now_ms, "no_answer", true),
                        "waiting");
    q.now_ms += HOUR_MS - 1000;
    claim_expect(&q, 0);
    q.now_ms += 1000;
    got = claim_expect(&q, 1, b);
    assert_string_equal(close_attempt(row_of(got, b)->attempt_id, q.now_ms, "rejected", true),
                        "waiting"); /* 403/603 follows no_answer's rule: its second */
    q.now_ms += HOUR_MS;
    got = claim_expect(&q, 1, b);
    assert_string_equal(close_attempt(row_of(got, b)->attempt_id, q.now_ms, "no_answer", true),
                        "done");
    assert_string_equal(contact_col(a, "state || ' ' || attempts"), "failed 2");
    assert_string_equal(contact_col(b, "state || ' ' || attempts || ' ' || interview"),
                        "done 4 finished");
    assert_string_equal(contact_col(m, "state || ' ' || attempts"), "shelved 1");
    q.now_ms += DAY_MS;
    claim_expect(&q, 0);
}

/* invalid_number marks the number failed and moves to the contact's next one at once; with
 * none left the contact fails. A counted try rotates between the numbers. */
static void test_invalid_number_rotation(void **state)
{
    (void)state;
    int64_t camp = campaign_new("invalid-number",
                                "{\"no_answer\": {\"retry_delay_s\": 0, \"max_attempts\": 9}}", "");
    int64_t c = contact_new(camp, "Europe/Paris", "", "+33140001101", "+33612001101");
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    const struct claimed *got = claim_expect(&q, 1, c);
    assert_string_equal(got->rows[0].number, "+33140001101");
    assert_string_equal(close_attempt(got->rows[0].attempt_id, t, "invalid_number", true),
                        "waiting");
    assert_string_equal(sql("SELECT string_agg(state, ',' ORDER BY position) FROM addresses "
                            "WHERE contact_id = %" PRId64,
                            c),
                        "failed,scheduled");
    got = claim_expect(&q, 1, c); /* at once: no delay after invalid_number */
    assert_string_equal(got->rows[0].number, "+33612001101");
    assert_string_equal(close_attempt(got->rows[0].attempt_id, t, "invalid_number", true),
                        "failed");
    assert_string_equal(sql("SELECT string_agg(state, ',' ORDER BY position) FROM addresses "
                            "WHERE contact_id = %" PRId64,
                            c),
                        "failed,failed");
    claim_expect(&q, 0);

    int64_t d = contact_new(camp, "Europe/Paris", "", "+33140001102", "+33612001102");
    static const char *const order[] = {"+33140001102", "+33612001102", "+33140001102"};
    for (int i = 0; i < 3; i++) {
        got = claim_expect(&q, 1, d);
        assert_string_equal(got->rows[0].number, order[i]);
        assert_string_equal(close_attempt(got->rows[0].attempt_id, t, "no_answer", true),
                            "waiting");
    }
}

/* lost, expired, cancelled and skipped are retried after trunk_failure's delay without
 * counting: neither against the contact's maximum nor against the FR cap. */
static void test_lost_expired_not_counted(void **state)
{
    (void)state;
    int64_t camp = campaign_new("lost-expired",
                                "{\"trunk_failure\": {\"retry_delay_s\": 300, \"max_attempts\": 1},"
                                " \"no_answer\": {\"retry_delay_s\": 0, \"max_attempts\": 1}}",
                                "compliance = 'fr'");
    int64_t c = contact_new(camp, "Europe/Paris", "75011", "+33612001201", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_FR, t);
    q.nwin = 0;
    static const char *const outcomes[] = {"lost", "expired", "cancelled", "skipped", "lost"};
    for (int i = 0; i < 5; i++) {
        q.now_ms = t + i * 300000;
        if (i > 0) {
            q.now_ms -= 1000;
            claim_expect(&q, 0);
            q.now_ms += 1000;
        }
        int64_t att = row_of(claim_expect(&q, 1, c), c)->attempt_id;
        if (i < 4) {
            assert_string_equal(close_attempt(att, q.now_ms, outcomes[i], false), "waiting");
            continue;
        }
        /* from the dialer: a call sent then lost is not counted either */
        struct store_call_event ev = event(12, 1, att, "ringing", "", q.now_ms);
        ev.sent_at_us = q.now_ms * 1000;
        assert_string_equal(send_event(&ev), "progress");
        assert_string_equal(sql("SELECT counted FROM attempts WHERE id = %" PRId64, att), "t");
        ev = event(12, 2, att, "ended", "lost", q.now_ms + 1000);
        assert_string_equal(send_event(&ev), "waiting");
    }
    assert_string_equal(sql("SELECT count(*) || ' ' || count(*) FILTER (WHERE counted) "
                            "FROM attempts WHERE contact_id = %" PRId64,
                            c),
                        "5 0");
    assert_string_equal(contact_col(c, "state || ' ' || attempts"), "waiting 0");
    q.now_ms = t + 5 * 300000 + 1000;
    int64_t att = row_of(claim_expect(&q, 1, c), c)->attempt_id; /* not FR-capped */
    assert_string_equal(close_attempt(att, q.now_ms, "no_answer", true), "failed");
}

/* --- order and assignment -------------------------------------------------------------------- */

/* top_priority, then due callbacks, then priority, then next_try (never tried first), then the
 * id; one contact per claim so the LIMIT takes them in that order. */
static void test_claim_order(void **state)
{
    (void)state;
    int64_t camp = campaign_new("order", "{}", "");
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    int64_t plain1 = contact_new(camp, "Europe/Paris", "", "+33612001301", NULL);
    int64_t prio = contact_new(camp, "Europe/Paris", "", "+33612001302", NULL);
    int64_t top = contact_new(camp, "Europe/Paris", "", "+33612001303", NULL);
    int64_t cb = contact_new(camp, "Europe/Paris", "", "+33612001304", NULL);
    int64_t tried = contact_new(camp, "Europe/Paris", "", "+33612001305", NULL);
    int64_t plain2 = contact_new(camp, "Europe/Paris", "", "+33612001306", NULL);
    int64_t cb_later = contact_new(camp, "Europe/Paris", "", "+33612001307", NULL);
    sql("UPDATE contacts SET priority = 5, next_try = '2027-06-01 09:00 Europe/Paris' "
        "WHERE id = %" PRId64,
        prio);
    sql("UPDATE contacts SET top_priority = true, next_try = '2027-06-01 09:59 Europe/Paris' "
        "WHERE id = %" PRId64,
        top);
    sql("UPDATE contacts SET callback = true, next_try = '2027-06-01 09:30 Europe/Paris' "
        "WHERE id = %" PRId64,
        cb);
    sql("UPDATE contacts SET next_try = '2027-06-01 08:00 Europe/Paris' WHERE id = %" PRId64,
        tried);
    sql("UPDATE contacts SET callback = true, priority = 9, "
        "next_try = '2027-06-01 11:00 Europe/Paris' WHERE id = %" PRId64,
        cb_later);
    const int64_t want[] = {top, cb, prio, plain1, plain2, tried};
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    q.n = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct claimed *got = claim_expect(&q, 1, want[i]);
        assert_int_equal(got->rows[0].callback, want[i] == cb);
    }
    claim_expect(&q, 0); /* the callback of 11:00 is not due */
    q.now_ms = ms("2027-06-01 11:00 Europe/Paris");
    assert_true(claim_expect(&q, 1, cb_later)->rows[0].callback);
}

static void test_claim_order_newest_first(void **state)
{
    (void)state;
    int64_t camp = campaign_new("order-newest", "{}", "newest_first = true");
    int64_t c1 = contact_new(camp, "Europe/Paris", "", "+33612001401", NULL);
    int64_t c2 = contact_new(camp, "Europe/Paris", "", "+33612001402", NULL);
    int64_t c3 = contact_new(camp, "Europe/Paris", "", "+33612001403", NULL);
    int64_t c4 = contact_new(camp, "Europe/Paris", "", "+33612001404", NULL);
    sql("UPDATE contacts SET priority = 1 WHERE id = %" PRId64, c2);
    const int64_t want[] = {c2, c4, c3, c1};
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, ms("2027-06-01 10:00 Europe/Paris"));
    q.n = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        claim_expect(&q, 1, want[i]);
}

/* Exclusive assignment: an assigned contact only when its agent is ready. Otherwise an assigned
 * contact goes to anyone (its agent is still named on the attempt). */
static void test_exclusive_assignment(void **state)
{
    (void)state;
    int64_t u1 = agent_new("excl-u1"), u2 = agent_new("excl-u2");
    int64_t camp = campaign_new("exclusive", "{}", "exclusive_assignment = true");
    int64_t mine = contact_new(camp, "Europe/Paris", "", "+33612001501", NULL);
    int64_t anyone = contact_new(camp, "Europe/Paris", "", "+33612001502", NULL);
    sql("UPDATE contacts SET agent_id = %" PRId64 " WHERE id = %" PRId64, u1, mine);
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, ms("2027-06-01 10:00 Europe/Paris"));
    claim_expect(&q, 1, anyone);
    release(camp);
    q.ready = &u2;
    q.nready = 1;
    claim_expect(&q, 1, anyone);
    release(camp);
    const int64_t both[] = {u2, u1};
    q.ready = both;
    q.nready = 2;
    const struct claimed *got = claim_expect(&q, 2, mine, anyone);
    assert_int_equal(row_of(got, mine)->agent_id, u1);
    assert_int_equal(row_of(got, anyone)->agent_id, 0);

    int64_t open = campaign_new("non-exclusive", "{}", "");
    int64_t theirs = contact_new(open, "Europe/Paris", "", "+33612001503", NULL);
    sql("UPDATE contacts SET agent_id = %" PRId64 " WHERE id = %" PRId64, u1, theirs);
    q = req(open, COMPLIANCE_NONE, q.now_ms);
    assert_int_equal(row_of(claim_expect(&q, 1, theirs), theirs)->agent_id, u1);
}

/* Preview: the contact is shown to for_agent; contacts assigned to another agent are skipped,
 * even when that agent is ready too. */
static void test_preview_skips_others_contacts(void **state)
{
    (void)state;
    int64_t u1 = agent_new("preview-u1"), u2 = agent_new("preview-u2");
    const int64_t both[] = {u1, u2};
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    for (int exclusive = 0; exclusive < 2; exclusive++) {
        int64_t camp = campaign_new(exclusive ? "preview-exclusive" : "preview-open", "{}",
                                    exclusive ? "exclusive_assignment = true" : "");
        int64_t of_u1 = contact_new(camp, "Europe/Paris", "",
                                    exclusive ? "+33612001601" : "+33612001611", NULL);
        int64_t free_one = contact_new(camp, "Europe/Paris", "",
                                       exclusive ? "+33612001602" : "+33612001612", NULL);
        sql("UPDATE contacts SET agent_id = %" PRId64 " WHERE id = %" PRId64, u1, of_u1);
        struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
        q.ready = both;
        q.nready = 2;
        q.for_agent = u2;
        q.agent_first = true;
        assert_int_equal(row_of(claim_expect(&q, 1, free_one), free_one)->agent_id, u2);
        q.for_agent = u1;
        assert_int_equal(row_of(claim_expect(&q, 1, of_u1), of_u1)->agent_id, u1);
    }
}

/* A contact of camp claimed at 2027-06-01 10:00 Paris (*t) and qualified RAPPEL by u1 with a
 * callback 2 h later; q is the claim request at *t. */
static int64_t callback_contact(int64_t camp, const char *number, int64_t u1,
                                struct store_claim_req *q, int64_t *t)
{
    int64_t c = contact_new(camp, "Europe/Paris", "", number, NULL);
    *t = ms("2027-06-01 10:00 Europe/Paris");
    *q = req(camp, COMPLIANCE_NONE, *t);
    int64_t att = row_of(claim_expect(q, 1, c), c)->attempt_id;
    const char *st;
    assert_int_equal(qualify(att, *t + MINUTE_MS, "RAPPEL", u1, *t + 2 * HOUR_MS, false, &st), 0);
    assert_string_equal(st, "waiting");
    return c;
}

/* A personal callback is claimed only when its agent is ready, and names that agent. */
static void test_personal_callback(void **state)
{
    (void)state;
    int64_t u1 = agent_new("pcb-u1"), u2 = agent_new("pcb-u2");
    int64_t camp = campaign_new("personal-callback", "{}", "");
    qualification_new(camp, "RAPPEL", "callback = 'personal', callback_max_days = 7");
    struct store_claim_req q;
    int64_t t;
    int64_t c = callback_contact(camp, "+33612001701", u1, &q, &t);
    char want[64];
    snprintf(want, sizeof want, "%" PRId64 " true %" PRId64, u1, u1);
    assert_string_equal(sql("SELECT c.agent_id || ' ' || c.callback || ' ' || b.agent_id "
                            "FROM contacts c JOIN callbacks b ON b.contact_id = c.id "
                            "AND b.done_at IS NULL WHERE c.id = %" PRId64,
                            c),
                        want);

    q.now_ms = t + HOUR_MS;
    q.ready = &u1;
    q.nready = 1;
    claim_expect(&q, 0); /* not due */
    q.now_ms = t + 2 * HOUR_MS;
    q.ready = NULL;
    q.nready = 0;
    claim_expect(&q, 0); /* nobody ready: not to anyone, though the campaign is not exclusive */
    q.ready = &u2;
    q.nready = 1;
    claim_expect(&q, 0);
    const int64_t both[] = {u2, u1};
    q.ready = both;
    q.nready = 2;
    const struct store_claimed *r = row_of(claim_expect(&q, 1, c), c);
    assert_int_equal(r->agent_id, u1);
    assert_true(r->callback);
    assert_string_equal(close_attempt(r->attempt_id, q.now_ms, "no_answer", true), "failed");
    assert_string_equal(sql("SELECT count(*) FROM callbacks WHERE done_at IS NULL AND "
                            "contact_id = %" PRId64,
                            c),
                        "0");
}

/* A callback's call qualified final closes the callback (it was honoured). */
static void test_callback_honoured(void **state)
{
    (void)state;
    int64_t u1 = agent_new("cbh-u1");
    int64_t camp = campaign_new("callback-honoured", "{}", "");
    qualification_new(camp, "RAPPEL", "callback = 'manual', callback_max_days = 7");
    qualification_new(camp, "VENTE", "final = true, type = 'positive'");
    struct store_claim_req q;
    int64_t t;
    int64_t c = callback_contact(camp, "+33612001801", u1, &q, &t);
    const char *st;
    q.now_ms = t + 2 * HOUR_MS;
    const struct store_claimed *r = row_of(claim_expect(&q, 1, c), c);
    assert_true(r->callback);
    assert_int_equal(qualify(r->attempt_id, q.now_ms + MINUTE_MS, "VENTE", u1, 0, false, &st), 0);
    assert_string_equal(st, "done");
    assert_string_equal(sql("SELECT count(*) FROM callbacks WHERE done_at IS NULL AND "
                            "contact_id = %" PRId64,
                            c),
                        "0");
}

/* A final qualification ends the contact; a callback must be within the qualification's bounds;
 * any other sends the contact back after no_answer's delay; a refused qualification changes
 * nothing. */
static void test_qualify_rules(void **state)
{
    (void)state;
    int64_t u1 = agent_new("qualify-u1");
    int64_t camp = campaign_new(
        "qualify", "{\"no_answer\": {\"retry_delay_s\": 1800, \"max_attempts\": 1}}", "");
    qualification_new(camp, "VENTE", "final = true, type = 'positive'");
    qualification_new(camp, "NRP", "");
    qualification_new(camp, "PLUSTARD",
                      "callback = 'manual', callback_min_days = 1, callback_max_days = 3");
    int64_t sold = contact_new(camp, "Europe/Paris", "", "+33612001801", NULL);
    int64_t later = contact_new(camp, "Europe/Paris", "", "+33612001802", NULL);
    int64_t again = contact_new(camp, "Europe/Paris", "", "+33612001803", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    const struct claimed *got = claim_expect(&q, 3, sold, later, again);
    int64_t a_sold = row_of(got, sold)->attempt_id, a_later = row_of(got, later)->attempt_id,
            a_again = row_of(got, again)->attempt_id;
    const char *st;
    assert_int_equal(qualify(a_sold, t, "VENTE", u1, 0, false, &st), 0);
    assert_string_equal(st, "done");
    assert_string_equal(contact_col(sold, "state || ' ' || last_qualification || ' ' || attempts"),
                        "done VENTE 1");
    assert_int_equal(qualify(a_sold, t, "VENTE", u1, 0, false, &st), -EINVAL); /* closed */

    assert_int_equal(qualify(a_later, t, "NOPE", u1, 0, false, &st), -EINVAL);
    assert_int_equal(qualify(a_later, t, "NRP", u1, t + 2 * DAY_MS, false, &st), -EINVAL);
    assert_int_equal(qualify(a_later, t, "PLUSTARD", u1, t + 12 * HOUR_MS, false, &st), -EINVAL);
    assert_int_equal(qualify(a_later, t, "PLUSTARD", u1, t + 3 * DAY_MS + 1000, false, &st),
                     -EINVAL);
    assert_int_equal(qualify(a_later, t, "PLUSTARD", u1, t + 2 * DAY_MS, false, &st), 0);
    assert_string_equal(st, "waiting");
    assert_string_equal(contact_col(later, "coalesce(agent_id::text, '-') || ' ' || callback || "
                                           "' ' || interview || ' ' || attempts"),
                        "- true to_call_back 1");

    assert_int_equal(qualify(a_again, t, "NRP", u1, 0, false, &st), 0);
    assert_string_equal(st, "waiting");
    q.now_ms = t + 1800000 - 1000;
    claim_expect(&q, 0);
    q.now_ms += 1000;
    claim_expect(&q, 1, again);
    q.now_ms = t + 2 * DAY_MS;
    claim_expect(&q, 1, later);
}

/* --- dialer events --------------------------------------------------------------------------- */

/* (boot_id, seq) is an event's identity: the same event again, in another batch or in the same
 * one, changes nothing; the same seq of another boot is another event. */
static void test_events_deduplicated(void **state)
{
    (void)state;
    int64_t camp =
        campaign_new("events", "{\"no_answer\": {\"retry_delay_s\": 0, \"max_attempts\": 5}}", "");
    int64_t c = contact_new(camp, "Europe/Paris", "", "+33612001901", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    int64_t att = row_of(claim_expect(&q, 1, c), c)->attempt_id;
    struct store_call_event ev[2];
    ev[0] = event(77, 1, att, "ringing", "", t + 1000);
    ev[0].sent_at_us = t * 1000;
    ev[0].ringing_at_us = (t + 1000) * 1000;
    ev[0].sip_status = 180;
    assert_string_equal(send_event(&ev[0]), "progress");
    assert_string_equal(send_event(&ev[0]), "duplicate");
    ev[0] = event(77, 2, att, "ended", "no_answer", t + 30000);
    ev[0].ended_at_us = (t + 30000) * 1000;
    ev[0].ring_ms = 29000;
    ev[1] = ev[0];
    const struct stored *s = send_events(ev, 2);
    assert_string_equal(s->results[0], "waiting");
    assert_string_equal(s->results[1], "duplicate");
    assert_string_equal(send_event(&ev[0]), "duplicate");
    ev[0].boot_id = 78;
    assert_string_equal(send_event(&ev[0]), "unknown"); /* stored, but the attempt is closed */
    assert_string_equal(contact_col(c, "state || ' ' || attempts"), "waiting 1");
    assert_string_equal(sql("SELECT sip_status || ' ' || ring_ms || ' ' || outcome || ' ' || "
                            "counted FROM attempts WHERE id = %" PRId64,
                            att),
                        "180 29000 no_answer true");
    assert_string_equal(sql("SELECT count(*) FROM dialer_events WHERE boot_id IN (77, 78)"), "3");
}

/* The abandon ledger counts every call answered by a person, qualified by an agent or not, and
 * the abandoned ones. */
static void test_abandon_ledger(void **state)
{
    (void)state;
    int64_t u1 = agent_new("ledger-u1");
    int64_t camp = campaign_new("ledger", "{}", "compliance = 'us'");
    qualification_new(camp, "VENTE", "final = true");
    int64_t talked = contact_new(camp, "America/New_York", "", "+12125552001", NULL);
    int64_t dropped = contact_new(camp, "America/New_York", "", "+12125552002", NULL);
    int64_t t = ms("2027-06-01 10:00 America/New_York");
    struct store_claim_req q = req(camp, COMPLIANCE_US, t);
    const struct claimed *got = claim_expect(&q, 2, talked, dropped);
    int64_t a_talked = row_of(got, talked)->attempt_id,
            a_dropped = row_of(got, dropped)->attempt_id;

    struct store_call_event ev = event(90, 1, a_talked, "answered", "", t + 5000);
    ev.sent_at_us = t * 1000;
    ev.answered_at_us = (t + 5000) * 1000;
    assert_string_equal(send_event(&ev), "progress");
    struct seen s = {0};
    assert_int_equal(store_attempt_bridged(pg, a_talked, u1, t + 6000, record, &s), 0);
    assert_true(tu_run_until(&loop, &s.done, WAIT_MS));
    assert_int_equal(s.status, 0);
    ev = event(90, 2, a_talked, "ended", "answered", t + 60000);
    ev.ended_at_us = (t + 60000) * 1000;
    assert_string_equal(send_event(&ev), "talked");
    const char *st;
    assert_int_equal(qualify(a_talked, t + 70000, "VENTE", u1, 0, false, &st), 0);
    assert_string_equal(st, "done");

    ev = event(90, 3, a_dropped, "answered", "", t + 5000);
    ev.sent_at_us = t * 1000;
    ev.answered_at_us = (t + 5000) * 1000;
    assert_string_equal(send_event(&ev), "progress");
    ev = event(90, 4, a_dropped, "ended", "abandoned", t + 7000);
    ev.ended_at_us = (t + 7000) * 1000;
    assert_string_equal(send_event(&ev), "failed");

    /* the campaign's day: 2027-06-01 in Europe/Paris, its zone */
    assert_string_equal(sql("SELECT day || ' ' || answered || ' ' || abandoned FROM abandon_ledger "
                            "WHERE campaign_id = %" PRId64,
                            camp),
                        "2027-06-01 2 1");
}

/* --- invariants ------------------------------------------------------------------------------ */

/* attempts_one_live: a second live attempt for a contact is refused by the database. */
static void test_one_live_attempt(void **state)
{
    (void)state;
    int64_t camp = campaign_new("one-live", "{}", "");
    int64_t c = contact_new(camp, "Europe/Paris", "", "+33612002101", NULL);
    int64_t t = ms("2027-06-01 10:00 Europe/Paris");
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, t);
    int64_t att = row_of(claim_expect(&q, 1, c), c)->attempt_id;
    char stmt[256];
    snprintf(stmt, sizeof stmt,
             "INSERT INTO attempts (campaign_id, contact_id, number, created_at) "
             "VALUES (%" PRId64 ", %" PRId64 ", '+33612002101', now())",
             camp, c);
    struct seen s;
    sql_try(stmt, &s);
    assert_int_equal(s.status, -EIO);
    assert_string_equal(s.sqlstate, "23505");
    assert_string_equal(close_attempt(att, t, "no_answer", true), "failed");
    sql("UPDATE contacts SET state = 'waiting' WHERE id = %" PRId64, c);
    sql_try(stmt, &s); /* the first is closed: this one is the only live one */
    assert_int_equal(s.status, 0);
    claim_expect(&q, 0); /* and the claim does not give the contact another */
}

/* Two servers claiming from one campaign at the same time never get the same contact. */
static void test_concurrent_claimers(void **state)
{
    (void)state;
    enum { CONTACTS = 150 };
    int64_t camp = campaign_new("concurrent", "{}", "");
    sql("WITH c AS (INSERT INTO contacts (campaign_id, list_id, time_zone) "
        "SELECT l.campaign_id, l.id, 'Europe/Paris' FROM lists l, generate_series(1, %d) "
        "WHERE l.campaign_id = %" PRId64 " RETURNING id) "
        "INSERT INTO addresses (contact_id, position, number) "
        "SELECT id, 1, '+3361' || lpad(id::text, 7, '0') FROM c",
        CONTACTS, camp);
    int64_t first = as_int(sql("SELECT min(id) FROM contacts WHERE campaign_id = %" PRId64, camp));
    static unsigned char seen_by[CONTACTS];
    memset(seen_by, 0, sizeof seen_by);
    struct store_claim_req q = req(camp, COMPLIANCE_NONE, ms("2027-06-01 10:00 Europe/Paris"));
    q.n = 7;
    int total = 0, rounds = 0, per[2] = {0, 0};
    for (;;) {
        struct claimed c[2];
        memset(c, 0, sizeof c);
        assert_int_equal(store_claim(pg, &q, on_claim, &c[0]), 0);
        assert_int_equal(store_claim(pg2, &q, on_claim, &c[1]), 0);
        assert_true(tu_run_until(&loop, &c[0].done, WAIT_MS));
        assert_true(tu_run_until(&loop, &c[1].done, WAIT_MS));
        for (int k = 0; k < 2; k++) {
            if (c[k].err)
                fail_msg("claimer %d failed: %d", k, c[k].err);
            for (int i = 0; i < c[k].n; i++) {
                int64_t idx = c[k].rows[i].contact_id - first;
                assert_true(idx >= 0 && idx < CONTACTS);
                if (seen_by[idx])
                    fail_msg("contact %" PRId64 " claimed twice (claimers %d and %d)",
                             c[k].rows[i].contact_id, seen_by[idx] - 1, k);
                seen_by[idx] = (unsigned char)(k + 1);
            }
            per[k] += c[k].n;
        }
        rounds++;
        if (c[0].n == 0 && c[1].n == 0)
            break;
        total += c[0].n + c[1].n;
        assert_true(rounds < 100);
    }
    assert_int_equal(total, CONTACTS);
    assert_true(per[0] > 0 && per[1] > 0);
    assert_string_equal(sql("SELECT count(DISTINCT contact_id) || ' ' || count(*) FROM attempts "
                            "WHERE campaign_id = %" PRId64,
                            camp),
                        "150 150");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_fr_paris),
        cmocka_unit_test(test_not_after_slot_end),
        cmocka_unit_test(test_windows_fr_reunion),
        cmocka_unit_test(test_windows_us_new_york),
        cmocka_unit_test(test_holiday_national),
        cmocka_unit_test(test_holiday_regional),
        cmocka_unit_test(test_fr_cap_across_campaigns),
        cmocka_unit_test(test_fr_refusal_quiet),
        cmocka_unit_test(test_uk_abandon_quiet),
        cmocka_unit_test(test_retry_rules),
        cmocka_unit_test(test_invalid_number_rotation),
        cmocka_unit_test(test_lost_expired_not_counted),
        cmocka_unit_test(test_claim_order),
        cmocka_unit_test(test_claim_order_newest_first),
        cmocka_unit_test(test_exclusive_assignment),
        cmocka_unit_test(test_preview_skips_others_contacts),
        cmocka_unit_test(test_personal_callback),
        cmocka_unit_test(test_callback_honoured),
        cmocka_unit_test(test_qualify_rules),
        cmocka_unit_test(test_events_deduplicated),
        cmocka_unit_test(test_abandon_ledger),
        cmocka_unit_test(test_one_live_attempt),
        cmocka_unit_test(test_concurrent_claimers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
