/* The supervisors' view of the engine: CampaignStats (carillonctl campaign stats, top) joins a
 * campaign's figures from PostgreSQL with what the engine knows of it now; ComplianceReport
 * sets its abandon ledger against its compliance profile's limits. Rights: listener.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "engine/engine.h"
#include "store/stats_store.h"

#define REPORT_DEFAULT_DAYS 30

static void stats_db_failed(struct request *req, const struct cr_pg_result *res, const char *op)
{
    if (res && res->status == -EIO)
        cr_log_error("store_error", "op=%s campaign=%s sqlstate=%s message=%s", op,
                     cr_log_q(req->campaign), res->sqlstate ? res->sqlstate : "-",
                     cr_log_q(res->message));
    request_fail(req, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                 "the database is unavailable, try again");
}

/* Whether the answer can go: the client is still there and the campaign still exists. */
static bool answerable(struct request *req, const struct cr_pg_result *res, const char *op)
{
    if (!req->c->conn) {
        request_free(req);
        return false;
    }
    if (res->status) {
        stats_db_failed(req, res, op);
        return false;
    }
    if (PQntuples(res->res[0]) == 0) {
        request_fail(req, CARILLON__V1__CODE__CODE_NOT_FOUND, "campaign", "no campaign named '%s'",
                     req->campaign);
        return false;
    }
    return true;
}

static uint64_t u64_at(const PGresult *r, int row, int col)
{
    return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

/* part of whole, in percent; 0 when whole is 0 (the counts beside it say so). */
static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int enum_at(const ProtobufCEnumDescriptor *d, const PGresult *r, int col)
{
    int v = 0;
    return cr_pb_enum_parse(d, PQgetvalue(r, 0, col), &v) == 0 ? v : 0;
}

/* --- CampaignStats ---------------------------------------------------------------------- */

/* The reply and every part it points to, filled from one batch's results and the engine. */
struct stats_out {
    Carillon__V1__CampaignStatsReply reply;
    Carillon__V1__InterviewCounts interview;
    Carillon__V1__ContactStateCounts contacts;
    Carillon__V1__RateWindow today, last_30;
    struct engine_live engine; /* live's strings point into it */
    Carillon__V1__EngineLive live;
    Carillon__V1__AgentStateCounts agents;
    Carillon__V1__StatCount *outcomes, **outcome_ptrs, *quals, **qual_ptrs;
};

/* The rows (key, count) of r as StatCounts; strings point into r. -ENOMEM. */
static int stat_counts(const PGresult *r, Carillon__V1__StatCount **items,
                       Carillon__V1__StatCount ***ptrs, size_t *n)
{
    int rows = PQntuples(r);
    *items = calloc(rows ? (size_t)rows : 1, sizeof **items);
    *ptrs = calloc(rows ? (size_t)rows : 1, sizeof **ptrs);
    if (!*items || !*ptrs)
        return -ENOMEM;
    for (int i = 0; i < rows; i++) {
        carillon__v1__stat_count__init(&(*items)[i]);
        (*items)[i].key = PQgetvalue(r, i, 0);
        (*items)[i].count = u64_at(r, i, 1);
        (*ptrs)[i] = &(*items)[i];
    }
    *n = (size_t)rows;
    return 0;
}

static void rate_window(Carillon__V1__RateWindow *w, const PGresult *r, int col)
{
    carillon__v1__rate_window__init(w);
    w->dialled = u64_at(r, 0, col);
    w->answered = u64_at(r, 0, col + 1);
    w->answered_by_person = u64_at(r, 0, col + 2);
    w->abandoned = u64_at(r, 0, col + 3);
    w->answer_rate_pct = pct(w->answered, w->dialled);
    w->abandon_rate_pct = pct(w->abandoned, w->answered_by_person);
}

static void live_fill(struct stats_out *o, const struct server *srv, int64_t campaign_id)
{
    engine_campaign_live(srv, campaign_id, &o->engine);
    const struct engine_live *l = &o->engine;
    Carillon__V1__EngineLive *v = &o->live;
    carillon__v1__engine_live__init(v);
    carillon__v1__agent_state_counts__init(&o->agents);
    v->loaded = l->loaded;
    v->in_schedule = l->in_schedule;
    v->idle_reason = o->engine.idle;
    v->mode = (char *)(l->mode ? l->mode : "");
    v->calls_up = l->calls_up;
    v->ringing = l->ringing;
    v->waiting_for_agent = l->waiting;
    v->talked_unqualified = l->talked_unqualified;
    v->answer_rate_pct = 100.0 * l->answer_rate;
    v->window_abandon_rate_pct = 100.0 * l->window_abandon_rate;
    v->risk_scale = l->risk_scale;
    v->pacing_history = l->pacing_history;
    v->placed = l->placed;
    v->answered = l->answered;
    v->abandoned = l->abandoned;
    v->connected = l->connected;
    Carillon__V1__AgentStateCounts *a = &o->agents;
    a->ready = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_READY];
    a->paused = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED];
    a->on_call = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL];
    a->wrap_up = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP];
    a->connecting = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING];
    a->phone_lost = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST];
    a->preview = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW];
    a->dialing = l->agents[CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING];
    a->total = a->ready + a->paused + a->on_call + a->wrap_up + a->connecting + a->phone_lost +
               a->preview + a->dialing;
    v->agents = a;
}

static void stats_fill(struct stats_out *o, const PGresult *r)
{
    Carillon__V1__CampaignStatsReply *s = &o->reply;
    s->state = enum_at(&carillon__v1__campaign_state__descriptor, r, 1);
    s->mode = enum_at(&carillon__v1__dialing_mode__descriptor, r, 2);
    s->time_zone = PQgetvalue(r, 0, 3);
    s->at = PQgetvalue(r, 0, 4);
    s->abandon_target_pct = strtod(PQgetvalue(r, 0, 5), NULL);
    Carillon__V1__InterviewCounts *iv = &o->interview;
    carillon__v1__interview_counts__init(iv);
    uint64_t *ivf[] = {&iv->to_call,  &iv->to_call_back, &iv->started,
                       &iv->finished, &iv->cancelled,    &iv->suspended};
    for (int i = 0; i < 6; i++)
        *ivf[i] = u64_at(r, 0, STORE_STATS_COL_INTERVIEW + i);
    Carillon__V1__ContactStateCounts *ct = &o->contacts;
    carillon__v1__contact_state_counts__init(ct);
    uint64_t *ctf[] = {&ct->total,          &ct->waiting, &ct->running, &ct->done,
                       &ct->failed,         &ct->shelved, &ct->paused,  &ct->list_stopped,
                       &ct->list_suspended, &ct->deleted};
    for (int i = 0; i < 10; i++)
        *ctf[i] = u64_at(r, 0, STORE_STATS_COL_CONTACTS + i);
    s->interview = iv;
    s->contacts = ct;
    s->in_progress = ct->running;
    s->callbacks_due = u64_at(r, 0, STORE_STATS_COL_CALLBACKS);
    s->callbacks_open = u64_at(r, 0, STORE_STATS_COL_CALLBACKS + 1);
    s->next_callback_at = PQgetvalue(r, 0, STORE_STATS_COL_CALLBACKS + 2);
    rate_window(&o->today, r, STORE_STATS_COL_WINDOWS);
    rate_window(&o->last_30, r, STORE_STATS_COL_WINDOWS + 4);
    s->today = &o->today;
    s->last_30_days = &o->last_30;
}

static void on_stats(void *arg, const struct cr_pg_result *res)
{
    struct request *req = arg;
    if (!answerable(req, res, "campaign_stats"))
        return;
    const PGresult *r = res->res[0];
    struct stats_out o = {0};
    carillon__v1__campaign_stats_reply__init(&o.reply);
    o.reply.name = (char *)req->campaign;
    stats_fill(&o, r);
    live_fill(&o, req->c->srv, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
    o.reply.live = &o.live;
    int rc = stat_counts(res->res[1], &o.outcomes, &o.outcome_ptrs, &o.reply.n_attempts_by_outcome);
    if (!rc)
        rc = stat_counts(res->res[2], &o.quals, &o.qual_ptrs, &o.reply.n_attempts_by_qualification);
    o.reply.attempts_by_outcome = o.outcome_ptrs;
    o.reply.attempts_by_qualification = o.qual_ptrs;
    if (rc) {
        request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    } else {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_STATS_REPLY;
        env.campaign_stats_reply = &o.reply;
        request_reply(req, &env);
        request_free(req);
    }
    free(o.outcomes);
    free(o.outcome_ptrs);
    free(o.quals);
    free(o.qual_ptrs);
}

void campaigns_handle_stats(struct request *req)
{
    struct server *srv = req->c->srv;
    if (store_campaign_stats(srv->pg, req->campaign, engine_now_ms(srv), on_stats, req) != 0)
        stats_db_failed(req, NULL, "campaign_stats");
}

/* --- ComplianceReport ------------------------------------------------------------------- */

/* A legal window: its ledger figures against the profile's limit (limit_pct 0: none). */
static void compliance_window(Carillon__V1__ComplianceWindow *w, const PGresult *r, int col,
                              char *to_day, double limit_pct)
{
    carillon__v1__compliance_window__init(w);
    w->from_day = PQgetvalue(r, 0, col);
    w->to_day = to_day;
    w->answered = u64_at(r, 0, col + 1);
    w->abandoned = u64_at(r, 0, col + 2);
    w->abandon_rate_pct = pct(w->abandoned, w->answered);
    w->limited = limit_pct > 0;
    w->limit_pct = limit_pct;
    /* "at most 3 %": exactly the limit is within it */
    w->within_limit = !w->limited || 100 * w->abandoned <= (uint64_t)limit_pct * w->answered;
}

static void on_report(void *arg, const struct cr_pg_result *res)
{
    struct request *req = arg;
    if (!answerable(req, res, "compliance_report"))
        return;
    const PGresult *r = res->res[0], *dr = res->res[1];
    Carillon__V1__ComplianceReportReply out = CARILLON__V1__COMPLIANCE_REPORT_REPLY__INIT;
    out.name = (char *)req->campaign;
    enum compliance_profile prof = COMPLIANCE_NONE;
    if (compliance_parse(PQgetvalue(r, 0, 0), &prof) != 0)
        prof = COMPLIANCE_NONE;
    static const int profile_values[] = {
        [COMPLIANCE_NONE] = CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_NONE,
        [COMPLIANCE_FR] = CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_FR,
        [COMPLIANCE_US] = CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_US,
        [COMPLIANCE_UK] = CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_UK,
    };
    out.profile = profile_values[prof];
    out.time_zone = PQgetvalue(r, 0, 1);
    out.at = PQgetvalue(r, 0, 2);
    out.abandon_target_pct = strtod(PQgetvalue(r, 0, 3), NULL);
    char *today = PQgetvalue(r, 0, 4);
    Carillon__V1__ComplianceWindow day, month;
    compliance_window(&day, r, 4, today,
                      prof == COMPLIANCE_UK ? COMPLIANCE_UK_ABANDON_MAX_PERCENT : 0);
    compliance_window(&month, r, 7, today,
                      prof == COMPLIANCE_US ? COMPLIANCE_US_ABANDON_MAX_PERCENT : 0);
    out.last_day = &day;
    out.last_30_days = &month;
    if (prof == COMPLIANCE_FR) {
        out.fr_numbers_at_attempt_cap = u64_at(r, 0, 10);
        out.fr_numbers_in_refusal_quiet = u64_at(r, 0, 11);
        out.fr_max_attempts = COMPLIANCE_FR_MAX_ATTEMPTS;
        out.fr_attempts_period_days = COMPLIANCE_FR_ATTEMPTS_PERIOD_DAYS;
        out.fr_refusal_quiet_days = COMPLIANCE_FR_REFUSAL_QUIET_DAYS;
    }
    out.uk_numbers_in_abandon_quiet = u64_at(r, 0, 12);
    int n = PQntuples(dr);
    Carillon__V1__ComplianceDay *days = calloc(n ? (size_t)n : 1, sizeof *days);
    Carillon__V1__ComplianceDay **ptrs = calloc(n ? (size_t)n : 1, sizeof *ptrs);
    if (!days || !ptrs) {
        free(days);
        free(ptrs);
        return request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                            "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__compliance_day__init(&days[i]);
        days[i].day = PQgetvalue(dr, i, 0);
        days[i].answered = u64_at(dr, i, 1);
        days[i].abandoned = u64_at(dr, i, 2);
        days[i].abandon_rate_pct = pct(days[i].abandoned, days[i].answered);
        ptrs[i] = &days[i];
    }
    out.days = ptrs;
    out.n_days = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_COMPLIANCE_REPORT_REPLY;
    env.compliance_report_reply = &out;
    request_reply(req, &env);
    request_free(req);
    free(days);
    free(ptrs);
}

void compliance_handle_report(struct request *req)
{
    struct server *srv = req->c->srv;
    uint32_t days = req->env->compliance_report->days;
    if (days == 0)
        days = REPORT_DEFAULT_DAYS;
    if (days > STORE_REPORT_DAYS_MAX)
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "days",
                            "days is 1 to %d, not %" PRIu32, STORE_REPORT_DAYS_MAX, days);
    static const struct store_compliance_caps caps = {
        .fr_max_attempts = COMPLIANCE_FR_MAX_ATTEMPTS,
        .fr_attempts_period_days = COMPLIANCE_FR_ATTEMPTS_PERIOD_DAYS,
        .fr_refusal_quiet_days = COMPLIANCE_FR_REFUSAL_QUIET_DAYS,
        .uk_abandon_quiet_hours = COMPLIANCE_UK_ABANDON_QUIET_HOURS,
    };
    if (store_compliance_report(srv->pg, req->campaign, engine_now_ms(srv), (int)days, &caps,
                                on_report, req) != 0)
        stats_db_failed(req, NULL, "compliance_report");
}
