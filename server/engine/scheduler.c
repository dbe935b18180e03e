/* The scheduler (engine.h): running campaigns, their pacing, claims and orders, and what call
 * events do to calls and agents.
 *
 * Each tick (engine_tick, 200 ms) every running campaign inside a schedule slot asks its pacer
 * how many calls to start (bounded by max_simultaneous_calls and the dialers' free capacity),
 * claims that many contacts (one claim in flight per campaign) and sends the orders:
 *   - customer-first: to the dialer whose ready agents most exceed its calls in flight, with the
 *     campaign's abandon_after; when the customer answers, a ready agent on that dialer is
 *     bridged (the oldest waiting call first when an agent becomes ready); if none comes in
 *     time the dialer plays the abandon message and the call ends abandoned;
 *   - agent-first: one ready agent reserved per call, bridged as soon as the call rings (early
 *     media), so the agent hears it ring; agent-first paces like progressive;
 *   - preview: one contact claimed for each ready agent and offered; the agent dials or skips
 *     (preview_timeout_s then does preview_timeout_action).
 * The campaigns are reloaded each second; a stop condition met finishes the campaign. A running
 * campaign that dials nothing says why (stats, and one log line when the reason changes). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "carillon/log.h"
#include "carillon/daemon.h"
#include "engine/compliance.h"
#include "engine/engine.h"
#include "store/agents_store.h"
#include "store/attempts_store.h"

#define TICK_MS   200
#define RELOAD_MS 1000

int64_t engine_mono_ms(const struct server *srv)
{
    return (int64_t)uv_now(srv->loop);
}

int64_t engine_now_ms(const struct server *srv)
{
    return cr_now_us() / 1000 + srv->cfg.test_clock_offset_s * 1000;
}

/* --- calls ----------------------------------------------------------------------------------- */

static unsigned bucket_of(int64_t id)
{
    return (unsigned)((uint64_t)id % ENGINE_CALL_BUCKETS);
}

struct call *call_find(struct engine *e, int64_t attempt_id)
{
    for (struct call *c = e->buckets[bucket_of(attempt_id)]; c; c = c->hnext)
        if (c->attempt_id == attempt_id)
            return c;
    return NULL;
}

static struct call *call_new(struct ecampaign *camp, const struct store_claimed *row)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    struct engine *e = camp->eng;
    c->camp = camp;
    c->attempt_id = row->attempt_id;
    c->contact_id = row->contact_id;
    snprintf(c->number, sizeof c->number, "%s", row->number);
    c->not_after_ms = row->not_after_ms;
    c->claimed_ms = engine_now_ms(e->srv);
    unsigned b = bucket_of(c->attempt_id);
    c->hnext = e->buckets[b];
    e->buckets[b] = c;
    c->next = camp->calls;
    if (camp->calls)
        camp->calls->prev = c;
    camp->calls = c;
    camp->ncalls++;
    return c;
}

void call_forget(struct call *call)
{
    struct ecampaign *camp = call->camp;
    struct engine *e = camp->eng;
    struct call **pp = &e->buckets[bucket_of(call->attempt_id)];
    while (*pp && *pp != call)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = call->hnext;
    if (call->prev)
        call->prev->next = call->next;
    else
        camp->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    camp->ncalls--;
    if (call->dialer && call->state >= CALL_PLACED && call->state != CALL_TALKED &&
        call->dialer->in_flight)
        call->dialer->in_flight--;
    if (call->agent && call->agent->call == call)
        call->agent->call = NULL;
    free(call);
}

struct ecampaign *campaign_find(struct engine *e, int64_t id)
{
    for (struct ecampaign *c = e->campaigns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static bool call_up(const struct call *c)
{
    return c->state >= CALL_PLACED && c->state <= CALL_BRIDGED;
}

static bool agent_free(const struct agent *a)
{
    return a->leg_up && !a->call && !a->ending && a->link &&
           a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_READY;
}

/* A ready agent of camp, on dialer d when given; the one ready the longest first. */
static struct agent *pick_agent(struct engine *e, struct ecampaign *camp, struct dialer *d,
                                int64_t prefer)
{
    struct agent *best = NULL;
    for (struct agent *a = e->agents; a; a = a->next) {
        if (!agent_free(a) || !agent_serves(a, camp->id) || (d && a->dialer != d))
            continue;
        if (prefer && a->user_id == prefer)
            return a;
        if (!best || a->since_ms < best->since_ms)
            best = a;
    }
    return best;
}

/* --- orders ---------------------------------------------------------------------------------- */

static void on_quiet(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status)
        cr_log_error("engine_store_failed", "error=%s", cr_log_q(r->message ? r->message : ""));
}

static void on_closed(void *arg, int err, const char *state, const char *msg)
{
    (void)msg;
    int64_t *id = arg;
    if (err)
        cr_log_error("attempt_not_closed", "attempt=%" PRId64 " error=%s", *id,
                     cr_log_q(strerror(-err)));
    else
        cr_log_debug("attempt_closed", "attempt=%" PRId64 " contact_state=%s", *id, state);
    free(id);
}

/* Closes the call's attempt (no call was made, or the talk was never qualified) and forgets it. */
static void call_close(struct call *call, const char *outcome, bool counted, const char *detail)
{
    struct engine *e = call->camp->eng;
    int64_t *id = malloc(sizeof *id);
    if (id) {
        *id = call->attempt_id;
        if (store_attempt_close(e->srv->pg, call->attempt_id, engine_now_ms(e->srv), outcome,
                                counted, detail, on_closed, id) != 0)
            free(id);
    }
    cr_log_info("call_closed", "campaign=%s attempt=%" PRId64 " outcome=%s detail=%s",
                cr_log_q(call->camp->name), call->attempt_id, outcome, cr_log_q(detail));
    call_forget(call);
}

static void send_bridge(struct call *call, struct agent *a)
{
    struct engine *e = call->camp->eng;
    Carillon__V1__Bridge b = CARILLON__V1__BRIDGE__INIT;
    b.attempt_id = (uint64_t)call->attempt_id;
    b.agent_id = a->session_id;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_BRIDGE;
    env.bridge = &b;
    env.request_id = ++call->dialer->rid;
    (void)dialer_send(call->dialer, &env);
    int64_t now = engine_now_ms(e->srv);
    call->bridged_ms = now;
    if (store_attempt_bridged(e->srv->pg, call->attempt_id, a->user_id, now, on_quiet, NULL) != 0)
        cr_log_error("engine_store_failed", "attempt=%" PRId64 " op=bridged", call->attempt_id);
}

/* Customer-first: an answered call takes a ready agent on its dialer. */
static bool bridge_waiting(struct call *call, struct agent *a)
{
    struct ecampaign *camp = call->camp;
    if (!a)
        a = pick_agent(camp->eng, camp, call->dialer, 0);
    if (!a)
        return false;
    if (call->state == CALL_ANSWERED && camp->nwaiting)
        camp->nwaiting--;
    call->agent = a;
    call->state = CALL_BRIDGED;
    send_bridge(call, a);
    camp->connected++;
    /* the customer waits from the answer, or from the verdict with AMD (the dialer's abandon
     * clock too) */
    cr_log_info("call_bridged", "campaign=%s attempt=%" PRId64 " agent=%s wait_ms=%" PRId64,
                cr_log_q(camp->name), call->attempt_id, a->login,
                engine_now_ms(camp->eng->srv) -
                    (call->detected_ms ? call->detected_ms : call->answered_ms));
    agent_call_connected(a, call, false);
    return true;
}

/* The AMD mode of a call's order. Only a customer-first call is analysed: an agent-first call
 * (and a preview, or an assigned contact's reserved agent) has its agent on the line from the
 * ringing on, who hears at once whether a person or a machine answers, and holding the bridge
 * back for a verdict would cut the first seconds of a person's "allô" from the agent. */
static int amd_mode_of(const struct call *call)
{
    const struct ecampaign *camp = call->camp;
    if (!camp->amd_enabled || call->agent_first || call->agent)
        return CARILLON__V1__AMD_MODE__AMD_MODE_OFF;
    switch (camp->amd_action) {
    case CARILLON__V1__AMD_ACTION__AMD_ACTION_CONNECT_AGENT:
        return CARILLON__V1__AMD_MODE__AMD_MODE_REPORT;
    case CARILLON__V1__AMD_ACTION__AMD_ACTION_LEAVE_MESSAGE:
        /* the database refuses leave_message without a message (017); were it empty anyway,
         * the dialer would refuse every order: hang up instead */
        if (camp->amd_message[0])
            return CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE;
        return CARILLON__V1__AMD_MODE__AMD_MODE_HANG_UP;
    default:
        return CARILLON__V1__AMD_MODE__AMD_MODE_HANG_UP;
    }
}

static void place(struct call *call, struct dialer *d)
{
    struct ecampaign *camp = call->camp;
    struct engine *e = camp->eng;
    Carillon__V1__PlaceCall pc = CARILLON__V1__PLACE_CALL__INIT;
    pc.attempt_id = (uint64_t)call->attempt_id;
    pc.number = call->number;
    pc.caller_id = camp->number_for_customers;
    pc.ring_timeout_ms = camp->ring_timeout_s * 1000;
    pc.campaign_id = (uint64_t)camp->id;
    pc.contact_id = (uint64_t)call->contact_id;
    pc.abandon_after_ms = call->agent ? 0 : camp->abandon_after_ms;
    pc.not_after_unix_ms = call->not_after_ms > 0 ? (uint64_t)call->not_after_ms : 0;
    call->amd_mode = amd_mode_of(call);
    pc.amd = (Carillon__V1__AmdMode)call->amd_mode;
    if (call->amd_mode == CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE)
        pc.amd_message = camp->amd_message;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_PLACE_CALL;
    env.place_call = &pc;
    call->dialer = d;
    if (dialer_send(d, &env) != 0) {
        call->dialer = NULL;
        if (call->agent) {
            struct agent *a = call->agent;
            call->agent = NULL;
            a->call = NULL;
            agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_READY, "");
        }
        call_close(call, "cancelled", false, "the dialer link went down before the order");
        return;
    }
    call->state = CALL_PLACED;
    call->placed_ms = engine_now_ms(e->srv);
    d->in_flight++;
    camp->placed++;
    camp->nringing++;
    cr_log_debug("call_placed",
                 "campaign=%s attempt=%" PRId64 " contact=%" PRId64 " dialer=%s agent=%s",
                 cr_log_q(camp->name), call->attempt_id, call->contact_id, d->node,
                 call->agent ? call->agent->login : "-");
}

/* Whether the profile's legal window is closed now in the campaign's own zone (a reason for
 * stats when a claim finds nothing; the claim itself checks each contact's zone). */
static bool legal_closed(const struct ecampaign *camp)
{
    if (camp->compliance == COMPLIANCE_NONE || !camp->local.year)
        return false;
    struct compliance_verdict v;
    if (compliance_next_allowed((enum compliance_profile)camp->compliance, &camp->local, NULL, &v))
        return false;
    return !v.allowed;
}

static void set_idle(struct ecampaign *camp, const char *why);

/* --- claims ---------------------------------------------------------------------------------- */

struct claim_req {
    struct engine *e;
    int64_t campaign_id;
    uint64_t for_session; /* preview: the agent the contact is for */
    char node[ENGINE_NODE_MAX];
    int asked;
};

static void on_claimed(void *arg, int err, const struct store_claimed *rows, int n)
{
    struct claim_req *r = arg;
    struct engine *e = r->e;
    struct ecampaign *camp = campaign_find(e, r->campaign_id);
    if (camp)
        camp->claiming = false;
    if (err) {
        cr_log_error("claim_failed", "campaign=%" PRId64 " error=%s", r->campaign_id,
                     cr_log_q(strerror(-err)));
        free(r);
        return;
    }
    if (camp && n < r->asked) {
        camp->exhausted = true;
        camp->exhausted_at_ms = engine_mono_ms(e->srv);
        if (n == 0 && !r->for_session)
            set_idle(camp, legal_closed(camp) ? "legal window closed" : "no contact due");
    }
    for (int i = 0; i < n; i++) {
        if (!camp) {
            /* stopped meanwhile: the contacts go back at once, nothing was dialled */
            struct ecampaign tmp = {.eng = e, .name = "?"};
            struct call *c = call_new(&tmp, &rows[i]);
            if (c)
                call_close(c, "cancelled", false, "the campaign stopped running");
            continue;
        }
        struct call *call = call_new(camp, &rows[i]);
        if (!call)
            continue;
        if (r->for_session) {
            struct agent *a = NULL;
            for (struct agent *x = e->agents; x; x = x->next)
                if (x->session_id == r->for_session)
                    a = x;
            if (!a || !agent_free(a)) {
                call_close(call, "cancelled", false, "the agent was no longer ready");
                continue;
            }
            call->state = CALL_PREVIEW;
            call->agent = a;
            call->agent_first = true;
            call->preview_deadline_ms =
                camp->preview_timeout_s
                    ? engine_now_ms(e->srv) + (int64_t)camp->preview_timeout_s * 1000
                    : 0;
            agent_call_offered(a, call);
            continue;
        }
        struct agent *a = NULL;
        if (camp->agent_first || rows[i].agent_id) {
            a = pick_agent(e, camp, NULL, rows[i].agent_id);
            if (!a && camp->agent_first) {
                call_close(call, "cancelled", false, "no agent was ready to reserve");
                continue;
            }
            if (a && rows[i].agent_id && a->user_id != rows[i].agent_id && !camp->agent_first)
                a = NULL; /* customer-first: an assigned contact's agent only if ready */
        }
        struct dialer *d = a ? a->dialer : dialer_for_customer(e, camp);
        if (!d) {
            call_close(call, "cancelled", false, "no dialer had capacity");
            continue;
        }
        if (a) {
            call->agent = a;
            call->agent_first = true;
            a->call = call;
            /* queued before the order: the call's events are stored after it (one connection) */
            if (a->user_id != rows[i].agent_id &&
                store_attempt_reserved(e->srv->pg, call->attempt_id, a->user_id, on_quiet, NULL))
                cr_log_error("engine_store_failed", "attempt=%" PRId64 " op=reserved",
                             call->attempt_id);
            agent_call_connected(a, call, true);
        }
        if (strcmp(d->node, r->node) != 0 &&
            store_attempt_node(e->srv->pg, call->attempt_id, d->node, on_quiet, NULL) != 0)
            cr_log_error("engine_store_failed", "attempt=%" PRId64 " op=node", call->attempt_id);
        place(call, d);
    }
    free(r);
}

static void claim(struct engine *e, struct ecampaign *camp, int n, struct agent *for_agent)
{
    struct dialer *d = for_agent ? for_agent->dialer : dialer_for_customer(e, camp);
    int64_t ready[256];
    size_t nready = 0;
    for (struct agent *a = e->agents; a && nready < 256; a = a->next)
        if (agent_free(a) && agent_serves(a, camp->id))
            ready[nready++] = a->user_id;
    size_t nwin = 0;
    const struct compliance_window *win =
        compliance_windows((enum compliance_profile)camp->compliance, &nwin);
    struct store_claim_req q = {
        .campaign_id = camp->id,
        .n = n,
        .now_ms = engine_now_ms(e->srv),
        .win = win,
        .nwin = nwin,
        .profile = (enum compliance_profile)camp->compliance,
        .ready = ready,
        .nready = nready,
        .for_agent = for_agent ? for_agent->user_id : 0,
        .agent_first = camp->agent_first || for_agent,
        .slot_end_ms = camp->slot_end_ms,
        .node = d ? d->node : "",
    };
    struct claim_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->e = e;
    r->campaign_id = camp->id;
    r->for_session = for_agent ? for_agent->session_id : 0;
    r->asked = n;
    snprintf(r->node, sizeof r->node, "%s", q.node);
    camp->claiming = true;
    if (store_claim(e->srv->pg, &q, on_claimed, r) != 0) {
        camp->claiming = false;
        free(r);
    }
}

/* --- pacing ---------------------------------------------------------------------------------- */

static void set_idle(struct ecampaign *camp, const char *why)
{
    if (strcmp(camp->idle, why ? why : "") == 0)
        return;
    snprintf(camp->idle, sizeof camp->idle, "%s", why ? why : "");
    if (why)
        cr_log_info("campaign_idle", "campaign=%s reason=%s", cr_log_q(camp->name), cr_log_q(why));
    else
        cr_log_info("campaign_dialing", "campaign=%s", cr_log_q(camp->name));
}

static bool any_dialer(struct engine *e)
{
    for (struct dialer *d = e->dialers; d; d = d->next)
        if (d->link == DIALER_UP && d->resumed)
            return true;
    return false;
}

static void pace(struct engine *e, struct ecampaign *camp, int64_t now)
{
    if (!camp->in_schedule)
        return set_idle(camp, "outside its schedule");
    if (camp->abandon_capped)
        return set_idle(camp, "abandon cap reached");
    if (!any_dialer(e))
        return set_idle(camp, "no dialer connected");
    unsigned ready = 0, busy_n = 0, ringing_n = 0, connected = 0, waiting = 0, up = 0,
             detecting = 0;
    struct pacing_busy_agent busy[512];
    int64_t ringing[1024];
    for (struct agent *a = e->agents; a; a = a->next) {
        if (!agent_serves(a, camp->id) || a->ending)
            continue;
        if (agent_free(a))
            ready++;
        else if (a->call && a->call->camp == camp && busy_n < 512 &&
                 (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL ||
                  a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP))
            busy[busy_n++] = (struct pacing_busy_agent){
                .since_ms = a->since_ms,
                .in_wrapup = a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP};
    }
    for (struct call *c = camp->calls; c; c = c->next) {
        if (call_up(c))
            up++;
        if ((c->state == CALL_PLACED || c->state == CALL_RINGING) && !c->agent_first &&
            ringing_n < 1024)
            ringing[ringing_n++] = c->placed_ms;
        if (c->state == CALL_ANSWERED || c->state == CALL_DETECTING || c->state == CALL_MACHINE ||
            (c->state == CALL_BRIDGED && c->answered_ms))
            connected++;
        if (c->state == CALL_ANSWERED)
            waiting++;
        if (c->state == CALL_DETECTING)
            detecting++;
    }
    if (camp->max_simultaneous == 0)
        return set_idle(camp, "max simultaneous calls is 0");
    if (ready == 0)
        return set_idle(camp, "no agent ready");
    if (camp->claiming)
        return;
    if (camp->exhausted && engine_mono_ms(e->srv) - camp->exhausted_at_ms < RELOAD_MS)
        return;
    if (camp->mode == PACING_PREVIEW) {
        for (struct agent *a = e->agents; a; a = a->next)
            if (agent_free(a) && agent_serves(a, camp->id) && a->dialer) {
                set_idle(camp, NULL);
                return claim(e, camp, 1, a);
            }
        return;
    }
    if (up >= camp->max_simultaneous)
        return set_idle(camp, "max simultaneous calls reached");
    unsigned free_slots = dialers_free(e);
    if (free_slots == 0)
        return set_idle(camp, "no dialer capacity");
    struct pacing_input in = {
        .now_ms = now,
        .agents_ready = ready,
        .busy = busy,
        .n_busy = busy_n,
        .ringing_since_ms = ringing,
        .n_ringing = ringing_n,
        .calls_connected = connected,
        .calls_waiting = waiting,
        .calls_detecting = detecting,
        .dialer_free = free_slots,
    };
    unsigned n = pacing_calls_to_launch(camp->pacing, &in);
    if (camp->agent_first) /* one reserved agent per call, so progressive */
        n = ready < free_slots ? ready : free_slots;
    if (up + n > camp->max_simultaneous)
        n = camp->max_simultaneous - up;
    if (n == 0)
        return; /* the pacer holds back: the calls in flight cover the agents */
    if (!camp->exhausted)
        set_idle(camp, NULL);
    claim(e, camp, (int)(n > 500 ? 500 : n), NULL);
}

/* --- events ---------------------------------------------------------------------------------- */

static enum pacing_outcome pacing_of(const struct call *c, const char *outcome)
{
    /* a machine needs no agent, even one the dialer ended as abandoned (017 stores it machine) */
    if (strcmp(outcome, "abandoned") == 0 &&
        c->amd_verdict != CARILLON__V1__AMD_VERDICT__AMD_VERDICT_MACHINE)
        return PACING_ABANDONED;
    if (c->answered_ms && c->agent)
        return PACING_CONNECTED;
    return PACING_NOT_ANSWERED;
}

/* The dialer's AMD verdict on an answered customer-first call. Not sure counts as a human: a
 * person left waiting is worse than an agent hearing a machine. A machine with connect_agent
 * (AMD_MODE_REPORT) is bridged like a person; with hang_up or leave_message the dialer ends the
 * call itself (outcome machine, the answering_machine rule) and no agent is taken. */
static void call_detected(struct call *call, const Carillon__V1__CallEvent *ev, int64_t now)
{
    struct ecampaign *camp = call->camp;
    if (call->state != CALL_DETECTING)
        return; /* no detection was asked (or it already decided, or timed out): nothing to do */
    call->amd_verdict = ev->amd_verdict;
    call->detected_ms = now;
    bool machine = ev->amd_verdict == CARILLON__V1__AMD_VERDICT__AMD_VERDICT_MACHINE;
    bool connect = !machine || call->amd_mode == CARILLON__V1__AMD_MODE__AMD_MODE_REPORT;
    const char *verdict = engine_amd_verdict_word(ev->amd_verdict);
    cr_log_info("call_detected",
                "campaign=%s attempt=%" PRId64 " verdict=%s reason=%s amd_ms=%u "
                "greeting_end_ms=%u action=%s",
                cr_log_q(camp->name), call->attempt_id, verdict[0] ? verdict : "none",
                cr_log_q(ev->amd_reason ? ev->amd_reason : ""), ev->amd_ms, ev->amd_greeting_end_ms,
                connect                                                            ? "connect_agent"
                : call->amd_mode == CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE ? "leave_message"
                                                                                   : "hang_up");
    if (!connect) {
        call->state = CALL_MACHINE;
        return;
    }
    call->state = CALL_ANSWERED;
    camp->nwaiting++;
    (void)bridge_waiting(call, NULL);
}

/* Calls whose verdict is overdue (ENGINE_AMD_VERDICT_MAX_MS) are bridged as not sure. */
static void verdicts_overdue(struct ecampaign *camp, int64_t mono, int64_t now)
{
    for (struct call *c = camp->calls; c; c = c->next) {
        if (c->state != CALL_DETECTING || mono < c->verdict_due_mono_ms)
            continue;
        cr_log_warn("amd_verdict_missing",
                    "campaign=%s attempt=%" PRId64 " waited_ms=%d action=connect_agent",
                    cr_log_q(camp->name), c->attempt_id, ENGINE_AMD_VERDICT_MAX_MS);
        c->detected_ms = now;
        c->state = CALL_ANSWERED;
        camp->nwaiting++;
        (void)bridge_waiting(c, NULL);
    }
}

void sched_call_event(struct engine *e, struct dialer *d, const Carillon__V1__CallEvent *ev)
{
    struct call *call = call_find(e, (int64_t)ev->attempt_id);
    if (!call)
        return; /* not ours in memory (a restart): the database closes it from the event */
    struct ecampaign *camp = call->camp;
    int64_t now = engine_now_ms(e->srv);
    if (call->dialer != d)
        call->dialer = d;
    switch (ev->state) {
    case CARILLON__V1__CALL_STATE__CALL_STATE_RINGING:
        if (call->state == CALL_PLACED)
            call->state = CALL_RINGING;
        if (call->agent_first && call->agent && !call->bridged_ms) {
            call->state = CALL_BRIDGED;
            send_bridge(call, call->agent); /* the agent hears it ring */
        }
        break;
    case CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED:
        call->answered_ms = now;
        camp->answered++;
        if (camp->nringing)
            camp->nringing--;
        if (call->agent) {
            if (!call->bridged_ms)
                send_bridge(call, call->agent);
            call->state = CALL_BRIDGED;
            camp->connected++;
            agent_set_state(call->agent, CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL, "");
        } else if (call->amd_mode != CARILLON__V1__AMD_MODE__AMD_MODE_OFF) {
            /* not bridgeable before the verdict: the DETECTED event decides */
            call->state = CALL_DETECTING;
            call->verdict_due_mono_ms = engine_mono_ms(e->srv) + ENGINE_AMD_VERDICT_MAX_MS;
            cr_log_debug("call_detecting", "campaign=%s attempt=%" PRId64, cr_log_q(camp->name),
                         call->attempt_id);
        } else {
            call->state = CALL_ANSWERED;
            camp->nwaiting++;
            (void)bridge_waiting(call, NULL);
        }
        break;
    case CARILLON__V1__CALL_STATE__CALL_STATE_DETECTED:
        call_detected(call, ev, now);
        break;
    case CARILLON__V1__CALL_STATE__CALL_STATE_ENDED: {
        const char *outcome = engine_outcome_word(ev->outcome);
        bool dialled = ev->outcome != CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_EXPIRED &&
                       ev->outcome != CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED &&
                       ev->outcome != CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_LOST &&
                       ev->outcome != CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED;
        if (dialled)
            pacing_observe_call_end(camp->pacing, pacing_of(call, outcome),
                                    ev->answered_at_us && ev->sent_at_us
                                        ? (ev->answered_at_us - ev->sent_at_us) / 1000
                                        : (int64_t)ev->ring_ms);
        if (ev->amd_verdict && !call->amd_verdict)
            call->amd_verdict = ev->amd_verdict; /* ENDED repeats a verdict we may have missed */
        bool machine = call->amd_verdict == CARILLON__V1__AMD_VERDICT__AMD_VERDICT_MACHINE;
        if (ev->outcome == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ABANDONED && !machine)
            camp->abandoned++;
        if (call->state == CALL_ANSWERED && camp->nwaiting)
            camp->nwaiting--;
        if (call->state <= CALL_RINGING && camp->nringing)
            camp->nringing--;
        if (d->in_flight)
            d->in_flight--;
        call->ended_ms = now;
        struct agent *a = call->agent;
        bool talked = a && call->answered_ms &&
                      ev->outcome == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED;
        const char *amd = engine_amd_verdict_word(call->amd_verdict);
        cr_log_info("call_ended",
                    "campaign=%s attempt=%" PRId64 " outcome=%s sip_status=%u "
                    "agent=%s talk_ms=%u amd=%s",
                    cr_log_q(camp->name), call->attempt_id, outcome, ev->sip_status,
                    a ? a->login : "-", ev->talk_ms, amd[0] ? amd : "-");
        const char *hung_up_by =
            ev->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "customer" : "agent";
        if (talked && camp->auto_answered) {
            /* Automatic qualification: carillon_call_event (016) qualifies the attempt as it
             * stores this event; the agent is told the call ended and is free at once. */
            call->state = CALL_TALKED;
            a->talk_ms = ev->talk_ms;
            agent_push_call_ended(a, call->attempt_id, outcome, hung_up_by);
            cr_log_info("auto_qualified", "campaign=%s attempt=%" PRId64 " agent=%s",
                        cr_log_q(camp->name), call->attempt_id, a->login);
            sched_qualified(e, call->attempt_id, a);
        } else if (talked) {
            call->state = CALL_TALKED;
            a->talk_ms = ev->talk_ms;
            agent_call_ended(a, call, outcome, hung_up_by, true);
        } else {
            call->state = CALL_TALKED; /* not up any more: in_flight already counted down */
            if (a)
                agent_call_ended(a, call, outcome, "dialer", false);
            call->agent = NULL;
            call->dialer = NULL;
            call_forget(call);
        }
        break;
    }
    default:
        break;
    }
}

void sched_agent_ready(struct engine *e, struct agent *a)
{
    /* the oldest answered call waiting for an agent of this agent's campaigns, on its dialer */
    struct call *best = NULL;
    for (struct ecampaign *camp = e->campaigns; camp; camp = camp->next) {
        if (!camp->nwaiting || !agent_serves(a, camp->id))
            continue;
        for (struct call *c = camp->calls; c; c = c->next)
            if (c->state == CALL_ANSWERED && c->dialer == a->dialer &&
                (!best || c->answered_ms < best->answered_ms))
                best = c;
    }
    if (best && agent_free(a))
        (void)bridge_waiting(best, a);
}

void sched_hangup(struct engine *e, struct call *call)
{
    (void)e;
    if (!call->dialer)
        return;
    Carillon__V1__HangupCall h = CARILLON__V1__HANGUP_CALL__INIT;
    h.attempt_id = (uint64_t)call->attempt_id;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_HANGUP;
    env.call_hangup = &h;
    (void)dialer_send(call->dialer, &env);
}

void sched_qualified(struct engine *e, int64_t attempt_id, struct agent *a)
{
    struct call *call = call_find(e, attempt_id);
    int64_t now = engine_now_ms(e->srv);
    if (call) {
        int64_t talk = call->ended_ms && call->bridged_ms ? call->ended_ms - call->bridged_ms : 0;
        int64_t wrap = call->ended_ms ? now - call->ended_ms : 0;
        pacing_observe_agent_free(call->camp->pacing, talk, wrap);
        if (call->state == CALL_TALKED) {
            call->dialer = NULL;
            call_forget(call);
        } else {
            /* qualified during the call: the hang-up's ENDED event forgets it */
            call->agent = NULL;
        }
    }
    if (a && !a->ending) {
        a->call = NULL;
        agent_set_state(a,
                        !a->leg_up           ? CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST
                        : a->pause_requested ? CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED
                                             : CARILLON__V1__AGENT_STATE__AGENT_STATE_READY,
                        a->pause_requested ? a->reason : "");
    }
}

void sched_agent_gone(struct engine *e, struct agent *a)
{
    struct call *call = a->call;
    a->call = NULL;
    if (!call)
        return;
    call->agent = NULL;
    if (call->state == CALL_PREVIEW)
        call_close(call, "skipped", false, "the agent logged out");
    else if (call->state == CALL_TALKED)
        call_close(call, "answered", true, "the agent left without qualifying the call");
    else
        sched_hangup(e, call);
}

void sched_preview_dial(struct engine *e, struct call *call)
{
    struct agent *a = call->agent;
    if (!a || !a->dialer) {
        call_close(call, "cancelled", false, "the agent has no phone leg");
        return;
    }
    (void)e;
    agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING, "");
    place(call, a->dialer);
}

void sched_preview_skip(struct engine *e, struct call *call, const char *reason)
{
    (void)e;
    struct agent *a = call->agent;
    call->agent = NULL;
    if (a)
        a->call = NULL;
    call_close(call, "skipped", false, reason);
    if (a && !a->ending)
        agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_READY, "");
}

/* --- timers: wrap-up and preview limits --------------------------------------------------------
 */

static void check_timeouts(struct engine *e, int64_t now)
{
    for (struct agent *a = e->agents; a; a = a->next) {
        struct call *call = a->call;
        if (!call || a->ending)
            continue;
        if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP &&
            call->camp->wrapup_max_s &&
            now - a->since_ms >= (int64_t)call->camp->wrapup_max_s * 1000) {
            cr_log_info("wrapup_timeout", "agent=%s attempt=%" PRId64 " wrapup_max_s=%u", a->login,
                        call->attempt_id, call->camp->wrapup_max_s);
            pacing_observe_agent_free(call->camp->pacing, call->ended_ms - call->bridged_ms,
                                      now - call->ended_ms);
            a->call = NULL;
            call->agent = NULL;
            call_close(call, "answered", true, "not qualified within wrapup_max_s");
            agent_set_state(a,
                            a->leg_up ? CARILLON__V1__AGENT_STATE__AGENT_STATE_READY
                                      : CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST,
                            "");
        } else if (call->state == CALL_PREVIEW && call->preview_deadline_ms &&
                   now >= call->preview_deadline_ms) {
            cr_log_info("preview_timeout", "agent=%s attempt=%" PRId64 " action=%s", a->login,
                        call->attempt_id, call->camp->preview_dial_on_timeout ? "dial" : "skip");
            if (call->camp->preview_dial_on_timeout)
                sched_preview_dial(e, call);
            else
                sched_preview_skip(e, call, "preview_timeout_s passed");
        }
    }
}

/* --- campaigns ----------------------------------------------------------------------------- */

static enum pacing_mode mode_of(const char *s)
{
    return strcmp(s, "preview") == 0      ? PACING_PREVIEW
           : strcmp(s, "power") == 0      ? PACING_POWER
           : strcmp(s, "predictive") == 0 ? PACING_PREDICTIVE
                                          : PACING_PROGRESSIVE;
}

/* A campaign no longer running (paused, stopped, finished) claims nothing more; its calls in
 * flight go on to their end (a customer talking to an agent is never cut off), previews are put
 * back, and it is forgotten once its last call is done. */
static void campaign_drain(struct engine *e, struct ecampaign *camp)
{
    if (!camp->draining)
        cr_log_info("campaign_draining", "campaign=%s calls=%u", cr_log_q(camp->name),
                    camp->ncalls);
    camp->draining = true;
    struct call *c = camp->calls;
    while (c) {
        struct call *next = c->next;
        if (c->state == CALL_PREVIEW)
            sched_preview_skip(e, c, "the campaign stopped running");
        c = next;
    }
}

static void campaign_free_drained(struct engine *e)
{
    struct ecampaign **pp = &e->campaigns;
    while (*pp) {
        struct ecampaign *c = *pp;
        if (!c->draining || c->calls) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        cr_log_info("campaign_unloaded", "campaign=%s", cr_log_q(c->name));
        free(c->pacing);
        free(c);
    }
}

static void on_finished(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status)
        cr_log_error("campaign_finish_failed", "error=%s", cr_log_q(r->message ? r->message : ""));
}

static void on_running(void *arg, int err, const struct store_running *rows, int n)
{
    struct engine *e = arg;
    e->reloading = false;
    if (err)
        return;
    for (struct ecampaign *c = e->campaigns; c; c = c->next)
        c->seen = false;
    for (int i = 0; i < n; i++) {
        const struct store_running *x = &rows[i];
        if (x->stop_reason) {
            cr_log_info("campaign_finished", "campaign=%s reason=%s", cr_log_q(x->name),
                        cr_log_q(x->stop_reason));
            if (store_campaign_finish(e->srv->pg, x->id, x->stop_reason, on_finished, NULL) != 0)
                cr_log_error("campaign_finish_failed", "campaign=%s error=queue",
                             cr_log_q(x->name));
            continue;
        }
        struct ecampaign *c = campaign_find(e, x->id);
        bool fresh = !c;
        if (!c) {
            c = calloc(1, sizeof *c);
            struct pacing_state *ps = calloc(1, sizeof *ps);
            if (!c || !ps) {
                free(c);
                free(ps);
                continue;
            }
            c->eng = e;
            c->id = x->id;
            c->pacing = ps;
            c->next = e->campaigns;
            e->campaigns = c;
        }
        c->seen = true;
        c->draining = false;
        snprintf(c->name, sizeof c->name, "%s", x->name);
        c->mode = mode_of(x->mode);
        c->agent_first = strcmp(x->call_order, "agent_first") == 0;
        c->max_simultaneous = x->max_simultaneous;
        c->ring_timeout_s = x->ring_timeout_s;
        c->abandon_after_ms = x->abandon_after_ms;
        c->wrapup_max_s = x->wrapup_max_s;
        c->auto_answered = x->auto_answered;
        c->amd_enabled = x->amd_enabled;
        c->amd_action = strcmp(x->amd_action, "connect_agent") == 0
                            ? CARILLON__V1__AMD_ACTION__AMD_ACTION_CONNECT_AGENT
                        : strcmp(x->amd_action, "leave_message") == 0
                            ? CARILLON__V1__AMD_ACTION__AMD_ACTION_LEAVE_MESSAGE
                            : CARILLON__V1__AMD_ACTION__AMD_ACTION_HANG_UP;
        snprintf(c->amd_message, sizeof c->amd_message, "%s", x->amd_message);
        c->preview_timeout_s = x->preview_timeout_s;
        c->preview_dial_on_timeout = strcmp(x->preview_action, "dial") == 0;
        c->power_ratio = x->power_ratio;
        c->abandon_target = x->abandon_target_pct / 100.0;
        enum compliance_profile prof = COMPLIANCE_NONE;
        if (compliance_parse(x->compliance, &prof) != 0)
            prof = COMPLIANCE_NONE;
        c->compliance = (int)prof;
        snprintf(c->number_for_agents, sizeof c->number_for_agents, "%s", x->number_for_agents);
        snprintf(c->number_for_customers, sizeof c->number_for_customers, "%s",
                 x->number_for_customers);
        snprintf(c->pause_reasons, sizeof c->pause_reasons, "%s", x->pause_reasons);
        snprintf(c->popup_fields, sizeof c->popup_fields, "%s", x->popup_fields);
        c->in_schedule = x->in_slot;
        memset(&c->local, 0, sizeof c->local);
        if (sscanf(x->local_time, "%d-%d-%d %d:%d:%d", &c->local.year, &c->local.month,
                   &c->local.day, &c->local.hour, &c->local.minute, &c->local.second) != 6)
            memset(&c->local, 0, sizeof c->local);
        c->slot_end_ms = x->slot_end_ms;
        c->answered_day = x->answered_day;
        c->abandoned_day = x->abandoned_day;
        c->answered_30d = x->answered_30d;
        c->abandoned_30d = x->abandoned_30d;
        /* US: 3 % per 30 days; UK: 3 % per day (compliance.h) */
        c->abandon_capped =
            (prof == COMPLIANCE_US && c->answered_30d >= 100 &&
             c->abandoned_30d * 100 >= c->answered_30d * COMPLIANCE_US_ABANDON_MAX_PERCENT) ||
            (prof == COMPLIANCE_UK && c->answered_day >= 100 &&
             c->abandoned_day * 100 >= c->answered_day * COMPLIANCE_UK_ABANDON_MAX_PERCENT);
        struct pacing_settings s = {
            .mode = c->mode,
            .max_simultaneous = c->max_simultaneous,
            .power_ratio = c->mode == PACING_POWER ? c->power_ratio : 1.0,
            .abandon_target =
                c->abandon_target > 0 ? c->abandon_target : PACING_DEFAULT_ABANDON_TARGET,
        };
        if (s.power_ratio < PACING_POWER_RATIO_MIN)
            s.power_ratio = PACING_POWER_RATIO_MIN;
        if (fresh) {
            pacing_init(c->pacing, &s);
            cr_log_info("campaign_loaded", "campaign=%s mode=%s call_order=%s max_calls=%u",
                        cr_log_q(c->name), x->mode, x->call_order, c->max_simultaneous);
        } else {
            pacing_set_settings(c->pacing, &s);
        }
        c->exhausted = false;
    }
    for (struct ecampaign *c = e->campaigns; c; c = c->next)
        if (!c->seen)
            campaign_drain(e, c);
}

void sched_tick(struct engine *e)
{
    int64_t now = engine_now_ms(e->srv), mono = engine_mono_ms(e->srv);
    if (!e->reloading && mono - e->last_reload_ms >= RELOAD_MS && cr_pg_is_up(e->srv->pg)) {
        e->last_reload_ms = mono;
        e->reloading = true;
        if (store_running_campaigns(e->srv->pg, now, on_running, e) != 0)
            e->reloading = false;
    }
    dialers_sweep(e, mono);
    agents_sweep(e, mono);
    check_timeouts(e, now);
    for (struct ecampaign *c = e->campaigns; c; c = c->next)
        verdicts_overdue(c, mono, now);
    for (struct ecampaign *c = e->campaigns; c; c = c->next)
        if (!c->draining)
            pace(e, c, now);
    campaign_free_drained(e);
}

/* --- start and stop -------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    sched_tick(t->data);
}

static void on_sessions_closed(void *arg, const struct cr_pg_result *r)
{
    struct engine *e = arg;
    if (r->status) {
        cr_log_error("agent_sessions_not_closed", "error=%s",
                     cr_log_q(r->message ? r->message : ""));
        return;
    }
    int n = PQntuples(r->res[0]);
    free(e->stale_legs);
    e->stale_legs = n ? calloc((size_t)n, sizeof *e->stale_legs) : NULL;
    e->nstale_legs = 0;
    for (int i = 0; e->stale_legs && i < n; i++)
        e->stale_legs[e->nstale_legs++] = strtoull(PQgetvalue(r->res[0], i, 0), NULL, 10);
    if (n)
        cr_log_info("agent_sessions_closed", "sessions=%d reason=\"server restart\"", n);
}

int engine_start(struct server *srv)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->srv = srv;
    srv->engine = e;
    /* Sessions of a previous run: their agents log in again (agentd re-announces them). */
    if (store_agent_sessions_close_all(srv->pg, "server restart", engine_now_ms(srv),
                                       on_sessions_closed, e) != 0)
        cr_log_error("agent_sessions_not_closed", "error=queue");
    dialers_reconcile_start(e);
    uv_timer_init(srv->loop, &e->tick);
    e->tick.data = e;
    e->ticking = true;
    uv_timer_start(&e->tick, on_tick, TICK_MS, TICK_MS);
    cr_log_info("engine_started", "dialer_grace_ms=%lld agent_grace_ms=%lld clock_offset_s=%lld",
                (long long)srv->cfg.dialer_grace_ms, (long long)srv->cfg.agent_grace_ms,
                (long long)srv->cfg.test_clock_offset_s);
    return 0;
}

void engine_stop(struct server *srv)
{
    struct engine *e = srv->engine;
    if (!e || !e->ticking)
        return;
    e->ticking = false;
    uv_timer_stop(&e->tick);
    uv_close((uv_handle_t *)&e->tick, NULL);
}

/* After the loop ended: every pending callback has run. */
void engine_free(struct server *srv)
{
    struct engine *e = srv->engine;
    if (!e)
        return;
    while (e->campaigns) {
        struct ecampaign *c = e->campaigns;
        e->campaigns = c->next;
        while (c->calls) {
            struct call *x = c->calls;
            c->calls = x->next;
            free(x);
        }
        free(c->pacing);
        free(c);
    }
    agents_free_all(e);
    dialers_free_all(e);
    free(e->stale_legs);
    free(e);
    srv->engine = NULL;
}

void engine_client_closed(struct client *c)
{
    struct engine *e = c->srv->engine;
    if (!e)
        return;
    dialers_client_closed(e, c);
    agents_client_closed(e, c);
}

void engine_campaign_live(const struct server *srv, int64_t campaign_id, struct engine_live *out)
{
    static const char *const modes[] = {"preview", "progressive", "power", "predictive"};
    memset(out, 0, sizeof *out);
    out->mode = "";
    struct engine *e = srv->engine;
    if (!e)
        return;
    for (struct agent *a = e->agents; a; a = a->next)
        if (agent_serves(a, campaign_id) && a->state >= 0 && a->state < 10)
            out->agents[a->state]++;
    struct ecampaign *c = campaign_find(e, campaign_id);
    if (!c)
        return;
    out->loaded = true;
    out->in_schedule = c->in_schedule;
    snprintf(out->idle, sizeof out->idle, "%s", c->idle);
    out->mode = (unsigned)c->mode < 4 ? modes[c->mode] : "";
    for (struct call *x = c->calls; x; x = x->next) {
        out->calls_up += call_up(x);
        out->ringing += x->state == CALL_PLACED || x->state == CALL_RINGING;
        out->waiting += x->state == CALL_ANSWERED;
        out->detecting += x->state == CALL_DETECTING || x->state == CALL_MACHINE;
        out->talked_unqualified += x->state == CALL_TALKED;
    }
    out->answer_rate = c->pacing->answer_rate;
    out->window_abandon_rate = pacing_window_abandon_rate(c->pacing);
    out->risk_scale = c->pacing->risk_scale;
    out->pacing_history = pacing_has_history(c->pacing);
    out->placed = c->placed;
    out->answered = c->answered;
    out->abandoned = c->abandoned;
    out->connected = c->connected;
}
