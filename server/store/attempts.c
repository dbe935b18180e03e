/* SQL of the campaign engine (attempts_store.h): each call is one statement running one of
 * migration 012's functions, so one transaction; call events go several to a batch. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carillon/log.h"
#include "store/store.h"
#include "store/attempts_store.h"
#include "store/contacts_store.h"

void store_ts(int64_t ms, char *out, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Unix milliseconds from a column holding extract(epoch ...) * 1000, or 0 for NULL. */
static int64_t ms_of(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return (int64_t)strtod(PQgetvalue(res, row, col), NULL);
}

static int64_t int_of(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

struct call {
    void *cb;
    void *arg;
};

static struct call *call_new(void *cb, void *arg)
{
    struct call *c = malloc(sizeof *c);
    if (c) {
        c->cb = cb;
        c->arg = arg;
    }
    return c;
}

/* "{1,2,3}" for n integers (caller frees). */
static char *int_array(const int64_t *v, size_t n)
{
    char *s = malloc(n * 21 + 3);
    if (!s)
        return NULL;
    size_t at = 0;
    s[at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(s + at, "%s%" PRId64, i ? "," : "", v[i]);
    s[at++] = '}';
    s[at] = '\0';
    return s;
}

/* --- claim --------------------------------------------------------------------------------- */

static void on_claimed(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_claim_cb cb = (store_claim_cb)c->cb;
    int err = store_result_err(r, "claim");
    int n = err ? 0 : PQntuples(r->res[0]);
    struct store_claimed *rows = n ? calloc((size_t)n, sizeof *rows) : NULL;
    if (n && !rows)
        err = -ENOMEM; /* the claimed contacts stay running; the grace sweep gives them back */
    for (int i = 0; rows && i < n; i++) {
        const PGresult *res = r->res[0];
        rows[i].attempt_id = int_of(res, i, 0);
        rows[i].contact_id = int_of(res, i, 1);
        snprintf(rows[i].number, sizeof rows[i].number, "%s", PQgetvalue(res, i, 2));
        rows[i].agent_id = int_of(res, i, 3);
        rows[i].not_after_ms = ms_of(res, i, 4);
        rows[i].callback = PQgetvalue(res, i, 5)[0] == 't';
    }
    cb(c->arg, err, rows, err ? 0 : n);
    free(rows);
    free(c);
}

int store_claim(struct cr_pg *pg, const struct store_claim_req *q, store_claim_cb cb, void *arg)
{
    static const char *const profiles[] = {"", "FR", "US", "UK"};
    int64_t day[64], start[64], end[64];
    size_t nwin = q->nwin < 64 ? q->nwin : 64;
    for (size_t i = 0; i < nwin; i++) {
        day[i] = q->win[i].weekday;
        start[i] = q->win[i].start_min;
        end[i] = q->win[i].end_min;
    }
    char campaign[24], n[16], for_agent[24], now[40], slot_end[40];
    snprintf(campaign, sizeof campaign, "%" PRId64, q->campaign_id);
    snprintf(n, sizeof n, "%d", q->n);
    snprintf(for_agent, sizeof for_agent, "%" PRId64, q->for_agent);
    store_ts(q->now_ms, now, sizeof now);
    if (q->slot_end_ms)
        store_ts(q->slot_end_ms, slot_end, sizeof slot_end);
    char *days = int_array(day, nwin), *starts = int_array(start, nwin),
         *ends = int_array(end, nwin), *ready = int_array(q->ready, q->nready);
    struct call *c = call_new((void *)cb, arg);
    int rc = -ENOMEM;
    if (days && starts && ends && ready && c) {
        const char *p[] = {campaign,
                           n,
                           now,
                           days,
                           starts,
                           ends,
                           (unsigned)q->profile < 4 ? profiles[q->profile] : "",
                           ready,
                           q->for_agent ? for_agent : NULL,
                           q->agent_first ? "t" : "f",
                           q->slot_end_ms ? slot_end : NULL,
                           q->node ? q->node : ""};
        rc = cr_pg_query(pg,
                         "SELECT attempt_id, contact_id, number, agent_id, "
                         "extract(epoch FROM not_after) * 1000, callback FROM carillon_claim("
                         "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                         12, p, on_claimed, c);
    }
    if (rc)
        free(c);
    free(days);
    free(starts);
    free(ends);
    free(ready);
    return rc;
}

/* --- call events ----------------------------------------------------------------------------- */

static void on_events(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_events_cb cb = (store_events_cb)c->cb;
    int err = store_result_err(r, "call_event");
    const char *results[STORE_EVENTS_MAX];
    int n = err ? 0 : r->nres;
    for (int i = 0; i < n && i < STORE_EVENTS_MAX; i++)
        results[i] = PQgetvalue(r->res[i], 0, 0);
    cb(c->arg, err, results, n);
    free(c);
}

static void us_ts(int64_t us, char *out, size_t len)
{
    store_ts(us / 1000, out, len);
}

/* The dialer's one-word AMD reason as a safe word: ASCII letters, digits, '_' and '-' kept,
 * any other byte '_' (it comes off the wire: never let it break the batch's UTF-8), cut at
 * len - 1 bytes. */
static void amd_word(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '-'
                     ? (char)ch
                     : '_';
    }
    out[i] = '\0';
}

int store_call_events(struct cr_pg *pg, const struct store_call_event *ev, int n,
                      store_events_cb cb, void *arg)
{
    if (n <= 0 || n > STORE_EVENTS_MAX)
        return -EINVAL;
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const struct store_call_event *e = &ev[i];
        char boot[24], seq[24], attempt[24], now[40], status[16], sent[40], ringing[40],
            answered[40], ended[40], ring[16], talk[16], amd_ms[16], amd_end[16];
        snprintf(boot, sizeof boot, "%" PRId64, (int64_t)e->boot_id);
        snprintf(seq, sizeof seq, "%" PRIu64, e->seq);
        snprintf(attempt, sizeof attempt, "%" PRId64, e->attempt_id);
        store_ts(e->now_ms, now, sizeof now);
        snprintf(status, sizeof status, "%u", e->sip_status);
        us_ts(e->sent_at_us, sent, sizeof sent);
        us_ts(e->ringing_at_us, ringing, sizeof ringing);
        us_ts(e->answered_at_us, answered, sizeof answered);
        us_ts(e->ended_at_us, ended, sizeof ended);
        snprintf(ring, sizeof ring, "%d", e->ring_ms);
        snprintf(talk, sizeof talk, "%d", e->talk_ms);
        bool amd = e->amd_verdict && e->amd_verdict[0];
        char reason[STORE_AMD_REASON_MAX + 1];
        amd_word(amd && e->amd_reason ? e->amd_reason : "", reason, sizeof reason);
        /* the dialer's figures are unsigned: past INT_MAX they are not times, store none */
        snprintf(amd_ms, sizeof amd_ms, "%u", e->amd_ms);
        snprintf(amd_end, sizeof amd_end, "%u", e->amd_greeting_end_ms);
        const char *p[] = {boot,
                           seq,
                           e->node ? e->node : "",
                           attempt,
                           e->state,
                           e->outcome ? e->outcome : "",
                           now,
                           e->call_id ? e->call_id : "",
                           status,
                           e->hung_up_by ? e->hung_up_by : "",
                           e->sent_at_us ? sent : NULL,
                           e->ringing_at_us ? ringing : NULL,
                           e->answered_at_us ? answered : NULL,
                           e->ended_at_us ? ended : NULL,
                           e->ring_ms >= 0 ? ring : NULL,
                           e->talk_ms >= 0 ? talk : NULL,
                           e->detail ? e->detail : "",
                           amd ? e->amd_verdict : "",
                           reason,
                           amd && e->amd_ms <= INT32_MAX ? amd_ms : NULL,
                           amd && e->amd_greeting_end_ms <= INT32_MAX ? amd_end : NULL};
        int rc = cr_pg_batch_add(b,
                                 "SELECT carillon_call_event($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                                 "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                                 21, p);
        if (rc) {
            cr_pg_batch_discard(b);
            return rc;
        }
    }
    struct call *c = call_new((void *)cb, arg);
    if (!c) {
        cr_pg_batch_discard(b);
        return -ENOMEM;
    }
    int rc = cr_pg_batch_send(b, on_events, c);
    if (rc)
        free(c);
    return rc;
}

/* --- close, qualify, bridge ------------------------------------------------------------------ */

static void on_state(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_state_cb cb = (store_state_cb)c->cb;
    int err = store_result_err(r, "attempt");
    cb(c->arg, err, err ? "" : PQgetvalue(r->res[0], 0, 0),
       err == -EINVAL && r->message ? r->message : "");
    free(c);
}

static int state_query(struct cr_pg *pg, const char *sql, int np, const char *const *p,
                       store_state_cb cb, void *arg)
{
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg, sql, np, p, on_state, c);
    if (rc)
        free(c);
    return rc;
}

int store_attempt_close(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *outcome,
                        bool counted, const char *detail, store_state_cb cb, void *arg)
{
    char id[24], now[40];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {id, now, outcome, counted ? "t" : "f", detail ? detail : ""};
    return state_query(pg, "SELECT carillon_attempt_close($1, $2, $3, $4, $5)", 5, p, cb, arg);
}

int store_attempt_qualify(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *code,
                          int64_t by, int64_t callback_at_ms, bool personal, store_state_cb cb,
                          void *arg)
{
    char id[24], now[40], bys[24], cbat[40];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    store_ts(now_ms, now, sizeof now);
    snprintf(bys, sizeof bys, "%" PRId64, by);
    if (callback_at_ms)
        store_ts(callback_at_ms, cbat, sizeof cbat);
    const char *p[] = {
        id, now, code, by ? bys : NULL, callback_at_ms ? cbat : NULL, personal ? "t" : "f"};
    return state_query(pg, "SELECT carillon_attempt_qualify($1, $2, $3, $4, $5, $6)", 6, p, cb,
                       arg);
}

int store_attempt_bridged(struct cr_pg *pg, int64_t attempt_id, int64_t agent_id, int64_t now_ms,
                          cr_pg_cb cb, void *arg)
{
    char id[24], agent[24], now[40];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    snprintf(agent, sizeof agent, "%" PRId64, agent_id);
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {id, agent, now};
    return cr_pg_query(
        pg,
        "WITH a AS (UPDATE attempts SET agent_id = $2, bridged_at = coalesce(bridged_at, $3) "
        "WHERE id = $1 AND closed_at IS NULL RETURNING contact_id) UPDATE contacts c "
        "SET interview = 'started', interview_at = $3 FROM a WHERE c.id = "
        "a.contact_id",
        3, p, cb, arg);
}

/* --- reconciliation -------------------------------------------------------------------------- */

static void on_ids(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_ids_cb cb = (store_ids_cb)c->cb;
    int err = store_result_err(r, "open_attempts");
    int n = err ? 0 : PQntuples(r->res[0]);
    int64_t *ids = n ? calloc((size_t)n, sizeof *ids) : NULL;
    if (n && !ids)
        err = -ENOMEM;
    for (int i = 0; ids && i < n; i++)
        ids[i] = int_of(r->res[0], i, 0);
    cb(c->arg, err, ids, err ? 0 : n);
    free(ids);
    free(c);
}

int store_open_attempts(struct cr_pg *pg, const char *node, bool quiet, int64_t before_ms,
                        uint64_t other_boot, store_ids_cb cb, void *arg)
{
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    char before[40], boot[24];
    store_ts(before_ms, before, sizeof before);
    snprintf(boot, sizeof boot, "%" PRId64, (int64_t)other_boot);
    const char *p[] = {node, quiet ? "t" : "f", before, boot};
    int rc = cr_pg_query(pg,
                         "SELECT id FROM attempts WHERE closed_at IS NULL AND dialer_node = $1 "
                         "AND (NOT $2 OR (ringing_at IS NULL AND answered_at IS NULL AND ended_at "
                         "IS NULL AND sent_at IS NULL AND created_at < $3)) AND ($4::bigint = 0 OR "
                         "(dialer_boot IS NOT NULL AND dialer_boot <> $4::bigint)) ORDER BY id",
                         4, p, on_ids, c);
    if (rc)
        free(c);
    return rc;
}

static void on_nodes(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_nodes_cb cb = (store_nodes_cb)c->cb;
    int err = store_result_err(r, "open_nodes");
    int n = err ? 0 : PQntuples(r->res[0]);
    char **nodes = n ? calloc((size_t)n, sizeof *nodes) : NULL;
    if (n && !nodes)
        err = -ENOMEM;
    for (int i = 0; nodes && i < n; i++)
        nodes[i] = PQgetvalue(r->res[0], i, 0);
    cb(c->arg, err, nodes, err ? 0 : n);
    free(nodes);
    free(c);
}

int store_open_nodes(struct cr_pg *pg, store_nodes_cb cb, void *arg)
{
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg, "SELECT DISTINCT dialer_node FROM attempts WHERE closed_at IS NULL", 0,
                         NULL, on_nodes, c);
    if (rc)
        free(c);
    return rc;
}

static void on_seq(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_seq_cb cb = (store_seq_cb)c->cb;
    int err = store_result_err(r, "last_seq");
    cb(c->arg, err, err ? 0 : (uint64_t)int_of(r->res[0], 0, 0));
    free(c);
}

int store_last_seq(struct cr_pg *pg, uint64_t boot_id, store_seq_cb cb, void *arg)
{
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    char boot[24];
    snprintf(boot, sizeof boot, "%" PRId64, (int64_t)boot_id);
    const char *p[] = {boot};
    int rc = cr_pg_query(pg, "SELECT coalesce(max(seq), 0) FROM dialer_events WHERE boot_id = $1",
                         1, p, on_seq, c);
    if (rc)
        free(c);
    return rc;
}

/* --- running campaigns ------------------------------------------------------------------------ */

static void on_running(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_running_cb cb = (store_running_cb)c->cb;
    int err = store_result_err(r, "running_campaigns");
    int n = err ? 0 : PQntuples(r->res[0]);
    struct store_running *rows = n ? calloc((size_t)n, sizeof *rows) : NULL;
    if (n && !rows)
        err = -ENOMEM;
    for (int i = 0; rows && i < n; i++) {
        const PGresult *res = r->res[0];
        struct store_running *x = &rows[i];
        x->id = int_of(res, i, 0);
        x->name = PQgetvalue(res, i, 1);
        x->mode = PQgetvalue(res, i, 2);
        x->call_order = PQgetvalue(res, i, 3);
        x->max_simultaneous = (unsigned)int_of(res, i, 4);
        x->power_ratio = strtod(PQgetvalue(res, i, 5), NULL);
        x->abandon_target_pct = strtod(PQgetvalue(res, i, 6), NULL);
        x->ring_timeout_s = (unsigned)int_of(res, i, 7);
        x->abandon_after_ms = (unsigned)int_of(res, i, 8);
        x->compliance = PQgetvalue(res, i, 9);
        x->number_for_agents = PQgetvalue(res, i, 10);
        x->number_for_customers = PQgetvalue(res, i, 11);
        x->wrapup_max_s = (unsigned)int_of(res, i, 12);
        x->preview_timeout_s = (unsigned)int_of(res, i, 13);
        x->preview_action = PQgetvalue(res, i, 14);
        x->pause_reasons = PQgetvalue(res, i, 15);
        x->popup_fields = PQgetvalue(res, i, 16);
        x->in_slot = !PQgetisnull(res, i, 17);
        x->slot_end_ms = ms_of(res, i, 17);
        x->stop_reason = PQgetisnull(res, i, 18) ? NULL : PQgetvalue(res, i, 18);
        x->local_time = PQgetvalue(res, i, 19);
        x->answered_day = (unsigned)int_of(res, i, 20);
        x->abandoned_day = (unsigned)int_of(res, i, 21);
        x->answered_30d = (unsigned)int_of(res, i, 22);
        x->abandoned_30d = (unsigned)int_of(res, i, 23);
        x->auto_answered = PQgetvalue(res, i, 24)[0] == 't';
        x->amd_enabled = PQgetvalue(res, i, 25)[0] == 't';
        x->amd_action = PQgetvalue(res, i, 26);
        x->amd_message = PQgetvalue(res, i, 27);
    }
    cb(c->arg, err, rows, err ? 0 : n);
    free(rows);
    free(c);
}

int store_running_campaigns(struct cr_pg *pg, int64_t now_ms, store_running_cb cb, void *arg)
{
    char now[40];
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {now};
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    /* The schedule: an exception date of the day replaces the weekly slots (closed, or its own
     * hours); the slot's end bounds the orders' not_after. */
    int rc = cr_pg_query(
        pg,
        "WITH t AS (SELECT c.*, ($1::timestamptz AT TIME ZONE c.time_zone) AS lt FROM campaigns c "
        "WHERE c.state = 'running') "
        "SELECT t.id, t.name, t.dialing_mode, t.call_order, t.max_simultaneous_calls, "
        "t.power_ratio, t.abandon_target_pct, t.ring_timeout_s, t.abandon_after_ms, t.compliance, "
        "t.number_for_agents, t.number_for_customers, t.wrapup_max_s, t.preview_timeout_s, "
        "t.preview_timeout_action, array_to_string(t.pause_reasons, ','), "
        "array_to_string(t.popup_fields, E'\\x1f'), "
        "CASE WHEN t.start_date IS NOT NULL AND t.lt::date < t.start_date THEN NULL "
        "WHEN EXISTS (SELECT 1 FROM campaign_schedule_dates d WHERE d.campaign_id = t.id AND "
        "d.day = t.lt::date) THEN (SELECT extract(epoch FROM (d.day + d.end_time) AT TIME ZONE "
        "t.time_zone) * 1000 FROM campaign_schedule_dates d WHERE d.campaign_id = t.id AND d.day "
        "= t.lt::date AND d.open AND t.lt::time >= d.start_time AND t.lt::time < d.end_time LIMIT "
        "1) ELSE (SELECT extract(epoch FROM min((t.lt::date + s.end_time) AT TIME ZONE "
        "t.time_zone)) * 1000 FROM campaign_schedule_slots s WHERE s.campaign_id = t.id AND s.day "
        "= extract(isodow FROM t.lt) AND t.lt::time >= s.start_time AND t.lt::time < s.end_time) "
        "END, "
        "CASE WHEN t.stop_at_end_date AND t.end_date IS NOT NULL AND t.lt::date > t.end_date "
        "THEN 'its end date passed' WHEN t.positive_target > 0 AND (SELECT count(*) FROM "
        "contacts ct JOIN qualifications q ON q.campaign_id = ct.campaign_id AND q.code = "
        "ct.last_qualification AND q.type = 'positive' WHERE ct.campaign_id = t.id) >= "
        "t.positive_target THEN 'its positive target was reached' WHEN t.stop_when_all_done AND "
        /* a waiting contact whose every number is blacklisted (blocked) or failed has nothing
         * left to call: it stays waiting (a number taken off the blacklist is called when the
         * campaign runs again) but does not keep the campaign running */
        "NOT EXISTS (SELECT 1 FROM contacts ct WHERE ct.campaign_id = t.id AND (ct.state = "
        "'running' OR (ct.state = 'waiting' AND EXISTS (SELECT 1 FROM addresses a WHERE "
        "a.contact_id = ct.id AND a.state IN ('scheduled', 'rescheduled', 'waiting'))))) "
        "THEN 'every contact is done' END, "
        "to_char(t.lt, 'YYYY-MM-DD HH24:MI:SS'), "
        "coalesce((SELECT l.answered FROM abandon_ledger l WHERE l.campaign_id = t.id AND l.day = "
        "t.lt::date), 0), coalesce((SELECT l.abandoned FROM abandon_ledger l WHERE l.campaign_id "
        "= t.id AND l.day = t.lt::date), 0), coalesce((SELECT sum(l.answered) FROM abandon_ledger "
        "l WHERE l.campaign_id = t.id AND l.day > t.lt::date - 30), 0), coalesce((SELECT "
        "sum(l.abandoned) FROM abandon_ledger l WHERE l.campaign_id = t.id AND l.day > t.lt::date "
        "- 30), 0), carillon_auto_code(t.id, 'answered') IS NOT NULL, t.amd_enabled, t.amd_action, "
        "t.amd_message FROM t ORDER BY t.id",
        1, p, on_running, c);
    if (rc)
        free(c);
    return rc;
}

int store_campaign_finish(struct cr_pg *pg, int64_t campaign_id, const char *reason, cr_pg_cb cb,
                          void *arg)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, campaign_id);
    const char *p[] = {id, reason};
    return cr_pg_query(pg,
                       "WITH c AS (UPDATE campaigns SET state = 'finished', updated_at = now() "
                       "WHERE id = $1 AND state = 'running' RETURNING name) INSERT INTO "
                       "audit_log (action, subject, detail) SELECT 'campaign.state.finished', "
                       "c.name, jsonb_build_object('reason', $2::text) FROM c",
                       2, p, cb, arg);
}

int store_attempt_node(struct cr_pg *pg, int64_t attempt_id, const char *node, cr_pg_cb cb,
                       void *arg)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    const char *p[] = {id, node};
    return cr_pg_query(pg, "UPDATE attempts SET dialer_node = $2 WHERE id = $1", 2, p, cb, arg);
}

int store_attempt_reserved(struct cr_pg *pg, int64_t attempt_id, int64_t agent_id, cr_pg_cb cb,
                           void *arg)
{
    char id[24], agent[24];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    snprintf(agent, sizeof agent, "%" PRId64, agent_id);
    const char *p[] = {id, agent};
    return cr_pg_query(pg, "UPDATE attempts SET agent_id = $2 WHERE id = $1 AND closed_at IS NULL",
                       2, p, cb, arg);
}
