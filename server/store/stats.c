/* SQL of the supervisors' view (stats_store.h): a campaign's figures and its abandon ledger,
 * each one batch read in one transaction, keyed by the campaign's name. */
#include <errno.h>
#include <stdio.h>

#include "store/attempts_store.h"
#include "store/stats_store.h"

/* The campaign named $1 at the engine's clock $2: its local day, and its zone for the times. */
#define CAMPAIGN_AT                                                                                \
    "WITH k AS (SELECT id, state, dialing_mode, time_zone AS tz, abandon_target_pct, compliance, " \
    "$2::timestamptz AS now, ($2::timestamptz AT TIME ZONE time_zone)::date AS today "             \
    "FROM campaigns WHERE name = $1) "

/* A timestamptz as RFC 3339 in the campaign's zone, with its offset ("2027-03-02T10:30:00+01:00").
 * PostgreSQL's own offsets (TZH:TZM) follow the session's TimeZone, not a zone of our choosing. */
#define RFC3339(x)                                                                                 \
    "(to_char((" x ") AT TIME ZONE k.tz, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN (" x            \
    ") AT TIME ZONE k.tz < (" x ") AT TIME ZONE 'UTC' THEN '-' ELSE '+' END || "                   \
    "to_char(make_interval(secs => abs(extract(epoch FROM ((" x ") AT TIME ZONE k.tz) - ((" x      \
    ") AT TIME ZONE 'UTC')))), 'HH24:MI'))"

#define NOW_TEXT RFC3339("k.now")

/* The abandon ledger's today and last 30 days (today included), as the engine counts them. */
#define LEDGER_WINDOWS                                                                             \
    "CROSS JOIN LATERAL (SELECT coalesce(sum(l.answered) FILTER (WHERE l.day = k.today), 0) AS "   \
    "ans_day, coalesce(sum(l.abandoned) FILTER (WHERE l.day = k.today), 0) AS ab_day, "            \
    "coalesce(sum(l.answered), 0) AS ans_30, coalesce(sum(l.abandoned), 0) AS ab_30 FROM "         \
    "abandon_ledger l WHERE l.campaign_id = k.id AND l.day > k.today - 30 AND l.day <= k.today) "  \
    "lw "

static const char stats_sql[] = CAMPAIGN_AT "SELECT k.id, k.state, k.dialing_mode, k.tz, " RFC3339(
    "k.now") ", k.abandon_target_pct, "
             "ct.to_call, ct.to_call_back, ct.started, ct.finished, ct.cancelled, ct.suspended, "
             "ct.total, "
             "ct.waiting, ct.running, ct.done, ct.failed, ct.shelved, ct.paused, ct.list_stopped, "
             "ct.list_suspended, ct.deleted, cb.due, cb.open, cb.next, aw.dialled_day, "
             "aw.answered_day, "
             "lw.ans_day, lw.ab_day, aw.dialled_30, aw.answered_30, lw.ans_30, lw.ab_30 FROM k "
             "CROSS JOIN LATERAL (SELECT "
             "count(*) FILTER (WHERE c.interview = 'to_call' AND c.state <> 'deleted') AS to_call, "
             "count(*) FILTER (WHERE c.interview = 'to_call_back' AND c.state <> 'deleted') AS "
             "to_call_back, "
             "count(*) FILTER (WHERE c.interview = 'started' AND c.state <> 'deleted') AS started, "
             "count(*) FILTER (WHERE c.interview = 'finished' AND c.state <> 'deleted') AS "
             "finished, "
             "count(*) FILTER (WHERE c.interview = 'cancelled' AND c.state <> 'deleted') AS "
             "cancelled, "
             "count(*) FILTER (WHERE c.interview = 'suspended' AND c.state <> 'deleted') AS "
             "suspended, "
             "count(*) FILTER (WHERE c.state <> 'deleted') AS total, "
             "count(*) FILTER (WHERE c.state = 'waiting') AS waiting, "
             "count(*) FILTER (WHERE c.state = 'running') AS running, "
             "count(*) FILTER (WHERE c.state = 'done') AS done, "
             "count(*) FILTER (WHERE c.state = 'failed') AS failed, "
             "count(*) FILTER (WHERE c.state = 'shelved') AS shelved, "
             "count(*) FILTER (WHERE c.state = 'paused') AS paused, "
             "count(*) FILTER (WHERE c.state = 'list_stopped') AS list_stopped, "
             "count(*) FILTER (WHERE c.state = 'list_suspended') AS list_suspended, "
             "count(*) FILTER (WHERE c.state = 'deleted') AS deleted "
             "FROM contacts c WHERE c.campaign_id = k.id) ct "
             "CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE b.due_at <= k.now) AS due, "
             "count(*) AS "
             "open, coalesce(" RFC3339(
                 "min(b.due_at) FILTER (WHERE b.due_at > k.now)") ", '') AS next "
                                                                  "FROM callbacks b WHERE "
                                                                  "b.campaign_id = k.id AND "
                                                                  "b.done_at IS NULL) cb "
                                                                  "CROSS JOIN LATERAL (SELECT "
                                                                  "count(*) FILTER (WHERE "
                                                                  "a.counted AND (a.created_at AT "
                                                                  "TIME ZONE k.tz)::date = "
                                                                  "k.today) AS "
                                                                  "dialled_day, "
                                                                  "count(*) FILTER (WHERE "
                                                                  "a.answered_at IS NOT NULL AND "
                                                                  "(a.created_at AT TIME ZONE "
                                                                  "k.tz)::date = k.today) AS "
                                                                  "answered_day, "
                                                                  "count(*) FILTER (WHERE "
                                                                  "a.counted) AS dialled_30, "
                                                                  "count(*) FILTER (WHERE "
                                                                  "a.answered_at IS NOT NULL) AS "
                                                                  "answered_30 "
                                                                  "FROM attempts a WHERE "
                                                                  "a.campaign_id = k.id AND "
                                                                  "a.created_at >= ((k.today - "
                                                                  "29)::timestamp "
                                                                  "AT TIME ZONE k.tz) AND "
                                                                  "(a.created_at AT TIME ZONE "
                                                                  "k.tz)::date <= k.today) "
                                                                  "aw " LEDGER_WINDOWS;

int store_campaign_stats(struct cr_pg *pg, const char *campaign, int64_t now_ms, cr_pg_cb cb,
                         void *arg)
{
    char now[40];
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {campaign, now};
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    int rc = cr_pg_batch_add(b, stats_sql, 2, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT coalesce(a.outcome, 'in_progress'), count(*) FROM attempts a "
                             "JOIN campaigns k ON k.id = a.campaign_id WHERE k.name = $1 "
                             "GROUP BY 1 ORDER BY 2 DESC, 1",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT a.qualification, count(*) FROM attempts a JOIN campaigns k "
                             "ON k.id = a.campaign_id WHERE k.name = $1 AND a.qualification IS "
                             "NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
                             1, p);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return cr_pg_batch_send(b, cb, arg);
}

/* Numbers of the campaign's contacts for which cond (on attempts x of that number, across every
 * campaign) holds; only computed under profile. */
#define NUMBERS_WHERE(profile, cond)                                                               \
    "CASE WHEN k.compliance = '" profile "' THEN (SELECT count(DISTINCT ad.number) FROM contacts " \
    "c JOIN addresses ad ON ad.contact_id = c.id WHERE c.campaign_id = k.id AND " cond             \
    ") ELSE 0 END"

/* FR: numbers at the cap of attempts ($4 in $3 days); in the quiet period after a refusal ($5
 * days). UK: in the quiet period after an abandoned call ($6 hours). As carillon_claim counts. */
#define FR_AT_CAP                                                                                  \
    NUMBERS_WHERE("fr", "(SELECT count(*) FROM attempts x WHERE x.number = ad.number AND "         \
                        "x.counted AND x.created_at > k.now - make_interval(days => $3::int)) "    \
                        ">= $4::int")
#define FR_REFUSED                                                                                 \
    NUMBERS_WHERE("fr", "EXISTS (SELECT 1 FROM attempts x WHERE x.number = ad.number AND "         \
                        "x.refusal AND x.qualified_at > k.now - make_interval(days => $5::int))")
#define UK_ABANDONED                                                                               \
    NUMBERS_WHERE("uk", "EXISTS (SELECT 1 FROM attempts x WHERE x.number = ad.number AND "         \
                        "x.outcome = 'abandoned' AND x.ended_at > k.now - "                        \
                        "make_interval(hours => $6::int))")

static const char report_sql[] =
    CAMPAIGN_AT "SELECT k.compliance, k.tz, " NOW_TEXT ", k.abandon_target_pct, k.today::text, "
                "lw.ans_day, lw.ab_day, (k.today - 29)::text, lw.ans_30, lw.ab_30, " FR_AT_CAP
                ", " FR_REFUSED ", " UK_ABANDONED " FROM k " LEDGER_WINDOWS;

int store_compliance_report(struct cr_pg *pg, const char *campaign, int64_t now_ms, int days,
                            const struct store_compliance_caps *caps, cr_pg_cb cb, void *arg)
{
    if (days < 1 || days > STORE_REPORT_DAYS_MAX)
        return -EINVAL;
    char now[40], ndays[16], period[16], max[16], quiet[16], hours[16];
    store_ts(now_ms, now, sizeof now);
    snprintf(ndays, sizeof ndays, "%d", days);
    snprintf(period, sizeof period, "%d", caps->fr_attempts_period_days);
    snprintf(max, sizeof max, "%d", caps->fr_max_attempts);
    snprintf(quiet, sizeof quiet, "%d", caps->fr_refusal_quiet_days);
    snprintf(hours, sizeof hours, "%d", caps->uk_abandon_quiet_hours);
    const char *p0[] = {campaign, now, period, max, quiet, hours};
    const char *p1[] = {campaign, now, ndays};
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    int rc = cr_pg_batch_add(b, report_sql, 6, p0);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             CAMPAIGN_AT
                             "SELECT g.d::date::text, coalesce(l.answered, 0), "
                             "coalesce(l.abandoned, 0) FROM k CROSS JOIN LATERAL "
                             "generate_series(k.today, k.today - ($3::int - 1), interval '-1 "
                             "day') AS g(d) LEFT JOIN abandon_ledger l ON l.campaign_id = k.id "
                             "AND l.day = g.d::date ORDER BY g.d DESC",
                             3, p1);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return cr_pg_batch_send(b, cb, arg);
}
