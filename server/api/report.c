/* Campaign reports (seed 003's PDF export): CampaignReport answers one page of the targets that
 * answered, with their details, answers, history and numbers; carillonctl turns each into a PDF.
 * Rights: the campaign's export right, declared at the route (listener.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "carillon/frame.h"
#include "carillon/log.h"
#include "store/report_store.h"

/* Room kept in a reply frame for the envelope and the campaign's name around the targets. */
#define REPORT_FRAME_MARGIN 4096

static int64_t i64_at(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void report_db_failed(struct request *req, const struct cr_pg_result *res)
{
    if (res && res->status == -EIO)
        cr_log_error("store_error", "op=campaign_report campaign=%s sqlstate=%s message=%s",
                     cr_log_q(req->campaign), res->sqlstate ? res->sqlstate : "-",
                     cr_log_q(res->message));
    request_fail(req, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                 "the database is unavailable, try again");
}

/* The reply and every part it points to; strings point into the query's results. Arrays are
 * sized by the results' rows (each target's share is a slice of them). */
struct report_out {
    Carillon__V1__ReportTarget *targets;
    Carillon__V1__ReportTarget **target_ptrs;
    Carillon__V1__AgentField *details;
    Carillon__V1__AgentField **detail_ptrs;
    Carillon__V1__ReportAnswer *answers;
    Carillon__V1__ReportAnswer **answer_ptrs;
    char **values;
    Carillon__V1__AgentHistoryEntry *history;
    Carillon__V1__AgentHistoryEntry **history_ptrs;
    Carillon__V1__AgentNumber *numbers;
    Carillon__V1__AgentNumber **number_ptrs;
};

static void report_out_free(struct report_out *o)
{
    free(o->targets);
    free(o->target_ptrs);
    free(o->details);
    free(o->detail_ptrs);
    free(o->answers);
    free(o->answer_ptrs);
    free(o->values);
    free(o->history);
    free(o->history_ptrs);
    free(o->numbers);
    free(o->number_ptrs);
}

/* calloc of at least one element, so that an empty result still gets a valid pointer. */
static void *alloc_n(int n, size_t size)
{
    return calloc(n > 0 ? (size_t)n : 1, size);
}

static int report_out_alloc(struct report_out *o, int ntargets, const struct cr_pg_result *res)
{
    int nd = PQntuples(res->res[2]), na = PQntuples(res->res[3]);
    int nh = PQntuples(res->res[4]), nn = PQntuples(res->res[5]);
    o->targets = alloc_n(ntargets, sizeof *o->targets);
    o->target_ptrs = alloc_n(ntargets, sizeof *o->target_ptrs);
    o->details = alloc_n(nd, sizeof *o->details);
    o->detail_ptrs = alloc_n(nd, sizeof *o->detail_ptrs);
    o->answers = alloc_n(na, sizeof *o->answers);
    o->answer_ptrs = alloc_n(na, sizeof *o->answer_ptrs);
    o->values = alloc_n(na, sizeof *o->values);
    o->history = alloc_n(nh, sizeof *o->history);
    o->history_ptrs = alloc_n(nh, sizeof *o->history_ptrs);
    o->numbers = alloc_n(nn, sizeof *o->numbers);
    o->number_ptrs = alloc_n(nn, sizeof *o->number_ptrs);
    if (!o->targets || !o->target_ptrs || !o->details || !o->detail_ptrs || !o->answers ||
        !o->answer_ptrs || !o->values || !o->history || !o->history_ptrs || !o->numbers ||
        !o->number_ptrs)
        return -ENOMEM;
    return 0;
}

/* Moves *row past the rows of r (ordered by contact id in column 0) before contact id; returns
 * how many rows belong to id from there. */
static int rows_of(const PGresult *r, int *row, int64_t id)
{
    int n = PQntuples(r);
    while (*row < n && i64_at(r, *row, 0) < id)
        (*row)++;
    int k = 0;
    while (*row + k < n && i64_at(r, *row + k, 0) == id)
        k++;
    return k;
}

/* Fills target t (contact id) from the slices of the detail, answer, history and number rows. */
static void fill_target(struct report_out *o, Carillon__V1__ReportTarget *t,
                        const struct cr_pg_result *res, int at[4])
{
    const PGresult *d = res->res[2], *a = res->res[3], *h = res->res[4], *n = res->res[5];
    int k = rows_of(d, &at[0], t->contact_id);
    t->details = o->detail_ptrs + at[0];
    t->n_details = (size_t)k;
    for (int i = at[0]; i < at[0] + k; i++) {
        Carillon__V1__AgentField *f = &o->details[i];
        carillon__v1__agent_field__init(f);
        f->name = PQgetvalue(d, i, STORE_REPORT_D_NAME);
        f->label = PQgetvalue(d, i, STORE_REPORT_D_LABEL);
        f->value = PQgetvalue(d, i, STORE_REPORT_D_VALUE);
        o->detail_ptrs[i] = f;
    }
    at[0] += k;

    /* Answers: one row per value, consecutive rows of one answer id. */
    k = rows_of(a, &at[1], t->contact_id);
    t->answers = o->answer_ptrs + at[1];
    Carillon__V1__ReportAnswer *cur = NULL;
    const char *cur_id = NULL;
    for (int i = at[1]; i < at[1] + k; i++) {
        const char *id = PQgetvalue(a, i, STORE_REPORT_A_ID);
        if (!cur_id || strcmp(id, cur_id) != 0) {
            cur = &o->answers[i];
            carillon__v1__report_answer__init(cur);
            cur->export_name = PQgetvalue(a, i, STORE_REPORT_A_EXPORT_NAME);
            cur->question = PQgetvalue(a, i, STORE_REPORT_A_QUESTION);
            cur->matrix_row = PQgetvalue(a, i, STORE_REPORT_A_MATRIX_ROW);
            cur->values = o->values + i;
            o->answer_ptrs[at[1] + t->n_answers++] = cur;
            cur_id = id;
        }
        if (!PQgetisnull(a, i, STORE_REPORT_A_VALUE))
            cur->values[cur->n_values++] = PQgetvalue(a, i, STORE_REPORT_A_VALUE);
    }
    at[1] += k;

    k = rows_of(h, &at[2], t->contact_id);
    t->history = o->history_ptrs + at[2];
    t->n_history = (size_t)k;
    for (int i = at[2]; i < at[2] + k; i++) {
        Carillon__V1__AgentHistoryEntry *e = &o->history[i];
        carillon__v1__agent_history_entry__init(e);
        e->at_unix_ms = i64_at(h, i, STORE_REPORT_H_AT_MS);
        e->event = PQgetvalue(h, i, STORE_REPORT_H_EVENT);
        e->attempt_id = (uint64_t)i64_at(h, i, STORE_REPORT_H_ATTEMPT);
        e->outcome = PQgetvalue(h, i, STORE_REPORT_H_OUTCOME);
        e->qualification = PQgetvalue(h, i, STORE_REPORT_H_QUALIFICATION);
        e->agent = PQgetvalue(h, i, STORE_REPORT_H_AGENT);
        e->detail = PQgetvalue(h, i, STORE_REPORT_H_DETAIL);
        o->history_ptrs[i] = e;
    }
    at[2] += k;

    k = rows_of(n, &at[3], t->contact_id);
    t->numbers = o->number_ptrs + at[3];
    t->n_numbers = (size_t)k;
    for (int i = at[3]; i < at[3] + k; i++) {
        Carillon__V1__AgentNumber *num = &o->numbers[i];
        carillon__v1__agent_number__init(num);
        num->number = PQgetvalue(n, i, STORE_REPORT_N_NUMBER);
        num->type = PQgetvalue(n, i, STORE_REPORT_N_TYPE);
        num->state = PQgetvalue(n, i, STORE_REPORT_N_STATE);
        o->number_ptrs[i] = num;
    }
    at[3] += k;
}

static void on_report(void *arg, const struct cr_pg_result *res)
{
    struct request *req = arg;
    if (!req->c->conn) {
        request_free(req);
        return;
    }
    if (res->status || res->nres < 6)
        return report_db_failed(req, res);
    if (PQntuples(res->res[0]) == 0)
        return request_fail(req, CARILLON__V1__CODE__CODE_NOT_FOUND, "campaign",
                            "no campaign named '%s'", req->campaign);
    const Carillon__V1__CampaignReport *in = req->env->campaign_report;
    unsigned limit = in->limit ? in->limit : STORE_REPORT_LIMIT_DEFAULT;
    const PGresult *tr = res->res[1];
    int found = PQntuples(tr);
    bool more = found > (int)limit; /* the query reads one target past the page */
    int n = more ? (int)limit : found;
    struct report_out o = {0};
    if (report_out_alloc(&o, n, res) != 0) {
        report_out_free(&o);
        return request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                            "out of memory");
    }
    /* The targets that fit in one reply frame; the rest go to the next page. */
    /* Clients read frames of the default size at most (carillonctl does), whatever ours is. */
    size_t frame = (size_t)req->c->srv->cfg.max_frame, used = 0;
    if (frame > CR_FRAME_DEFAULT_MAX)
        frame = CR_FRAME_DEFAULT_MAX;
    size_t budget = frame > 2 * REPORT_FRAME_MARGIN ? frame - REPORT_FRAME_MARGIN : frame / 2;
    int at[4] = {0}, kept = 0;
    for (int i = 0; i < n; i++) {
        Carillon__V1__ReportTarget *t = &o.targets[i];
        carillon__v1__report_target__init(t);
        t->contact_id = i64_at(tr, i, STORE_REPORT_T_ID);
        t->interview_state = PQgetvalue(tr, i, STORE_REPORT_T_INTERVIEW);
        t->interview_at_unix_ms = i64_at(tr, i, STORE_REPORT_T_INTERVIEW_AT_MS);
        t->last_qualification = PQgetvalue(tr, i, STORE_REPORT_T_LAST_QUALIFICATION);
        fill_target(&o, t, res, at);
        size_t size = carillon__v1__report_target__get_packed_size(t) + 8; /* tag, length */
        if (used + size > budget) {
            if (kept == 0) {
                report_out_free(&o);
                return request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                                    "the report of contact %" PRId64
                                    " takes %zu bytes, more than a reply frame holds (%zu)",
                                    t->contact_id, size, budget);
            }
            more = true;
            break;
        }
        used += size;
        o.target_ptrs[kept++] = t;
    }
    Carillon__V1__CampaignReportReply out = CARILLON__V1__CAMPAIGN_REPORT_REPLY__INIT;
    out.campaign = (char *)req->campaign;
    out.targets = o.target_ptrs;
    out.n_targets = (size_t)kept;
    out.next_after = more ? o.targets[kept - 1].contact_id : 0;
    cr_log_info("campaign_report", "user=%s campaign=%s after=%" PRId64 " targets=%d next=%" PRId64,
                cr_log_q(req->c->user.login), cr_log_q(req->campaign), in->after_contact_id, kept,
                out.next_after);
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPORT_REPLY;
    env.campaign_report_reply = &out;
    request_reply(req, &env);
    request_free(req);
    report_out_free(&o);
}

/* Rights were checked at the route: export on the campaign. */
void campaigns_handle_report(struct request *req)
{
    const Carillon__V1__CampaignReport *in = req->env->campaign_report;
    if (in->limit > STORE_REPORT_LIMIT_MAX)
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "limit",
                            "limit is 1 to %d targets per page (0: %d), not %" PRIu32,
                            STORE_REPORT_LIMIT_MAX, STORE_REPORT_LIMIT_DEFAULT, in->limit);
    if (in->after_contact_id < 0)
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "after_contact_id",
                            "after_contact_id is a contact id (0 for the first page), not %" PRId64,
                            in->after_contact_id);
    const struct store_report_query q = {
        .campaign = req->campaign,
        .include_unfinished = in->include_unfinished,
        .after_contact_id = in->after_contact_id,
        .limit = in->limit ? in->limit : STORE_REPORT_LIMIT_DEFAULT,
    };
    if (store_campaign_report(req->c->srv->pg, &q, on_report, req) != 0)
        report_db_failed(req, NULL);
}
