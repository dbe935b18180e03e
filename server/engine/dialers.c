/* The dialer registry (engine.h): each carillon-dialerd that connects with its dialer
 * certificate, by node name, with its boot, capacity, calls in flight and last heartbeat.
 *
 * Events: every CallEvent and AgentLegEvent is applied in memory when it arrives (once per seq:
 * a replay after a reconnect only repeats what PostgreSQL may lack), queued, and stored in
 * batches (one transaction per batch, carillon_call_event deduplicates by (boot_id, seq)); the
 * dialer gets an EventAck for a batch once it is committed. DialerCapacity is answered with a
 * DialerResume naming the last seq stored for its boot.
 *
 * Loss: a dialer whose link drops keeps its calls; its attempts stay open for dialer_grace and
 * close from the replayed events when it comes back. After the grace, or when it returns with a
 * new boot_id, its open attempts are closed 'lost' (retried after the campaign's failure delay,
 * no try counted). At server start, the open attempts of every node wait the same grace. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "carillon/log.h"
#include "engine/engine.h"
#include "store/attempts_store.h"

static struct dialer *dialer_by_node(struct engine *e, const char *node)
{
    for (struct dialer *d = e->dialers; d; d = d->next)
        if (strcmp(d->node, node) == 0)
            return d;
    return NULL;
}

int dialer_send(struct dialer *d, Carillon__V1__Envelope *env)
{
    if (!d->c || !d->c->conn || d->link != DIALER_UP)
        return -ENOTCONN;
    return cr_conn_send(d->c->conn, env);
}

/* Agent legs go to softphones, not through the trunk: a trunk's hold does not stop them. */
static unsigned dialer_free_legs(const struct dialer *d)
{
    unsigned used = d->in_flight + d->legs;
    if (d->active_calls > used)
        used = d->active_calls;
    return d->max_calls > used ? d->max_calls - used : 0;
}

/* Free room for customer calls: none while the dialer's trunk is held (DialerCapacity.hold_ms);
 * the hold ends by itself at hold_until_ms, even if the dialer's "hold over" never comes. */
static unsigned dialer_free_slots(const struct dialer *d)
{
    if (d->hold_until_ms && engine_now_ms(d->eng->srv) < d->hold_until_ms)
        return 0;
    unsigned used = d->in_flight + d->legs;
    if (d->active_calls > used)
        used = d->active_calls;
    return d->max_calls > used ? d->max_calls - used : 0;
}

unsigned dialers_free(struct engine *e)
{
    unsigned n = 0;
    for (struct dialer *d = e->dialers; d; d = d->next)
        if (d->link == DIALER_UP && d->resumed)
            n += dialer_free_slots(d);
    return n;
}

/* An agent's leg goes to the dialer with the most free capacity. */
struct dialer *dialer_for_agent(struct engine *e)
{
    struct dialer *best = NULL;
    for (struct dialer *d = e->dialers; d; d = d->next)
        if (d->link == DIALER_UP && d->resumed &&
            (!best || dialer_free_legs(d) > dialer_free_legs(best)))
            best = d;
    return best && dialer_free_legs(best) > 0 ? best : NULL;
}

/* A customer-first call goes where the campaign's ready agents most exceed the calls in flight,
 * so that whoever answers finds an agent on the same dialer (a bridge is inside one dialerd). */
struct dialer *dialer_for_customer(struct engine *e, struct ecampaign *camp)
{
    struct dialer *best = NULL;
    long best_score = 0;
    for (struct dialer *d = e->dialers; d; d = d->next) {
        if (d->link != DIALER_UP || !d->resumed || dialer_free_slots(d) == 0)
            continue;
        long ready = 0, calls = 0;
        for (struct agent *a = e->agents; a; a = a->next)
            if (a->dialer == d && a->leg_up &&
                a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_READY &&
                agent_serves(a, camp->id))
                ready++;
        for (struct call *c = camp->calls; c; c = c->next)
            if (c->dialer == d && !c->agent && c->state != CALL_TALKED)
                calls++;
        long score = ready - calls;
        if (!best || score > best_score) {
            best = d;
            best_score = score;
        }
    }
    return best;
}

/* --- event ingest ------------------------------------------------------------------------------
 */

static const char *state_word(Carillon__V1__CallState s)
{
    switch (s) {
    case CARILLON__V1__CALL_STATE__CALL_STATE_RINGING:
        return "ringing";
    case CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED:
        return "answered";
    case CARILLON__V1__CALL_STATE__CALL_STATE_ENDED:
        return "ended";
    case CARILLON__V1__CALL_STATE__CALL_STATE_DETECTED:
        return "detected";
    default:
        return "unknown";
    }
}

const char *engine_outcome_word(int outcome)
{
    static const char *const words[] = {
        "",          "answered",      "busy",      "no_answer", "invalid_number",
        "rejected",  "trunk_failure", "cancelled", "lost",      "refused",
        "abandoned", "expired",       "machine"};
    return outcome >= 0 && (size_t)outcome < sizeof words / sizeof words[0] ? words[outcome]
                                                                            : "trunk_failure";
}

/* attempts.amd_verdict's word (017), or "" for none. */
const char *engine_amd_verdict_word(int verdict)
{
    switch (verdict) {
    case CARILLON__V1__AMD_VERDICT__AMD_VERDICT_HUMAN:
        return "human";
    case CARILLON__V1__AMD_VERDICT__AMD_VERDICT_MACHINE:
        return "machine";
    case CARILLON__V1__AMD_VERDICT__AMD_VERDICT_NOT_SURE:
        return "not_sure";
    default:
        return "";
    }
}

static const char *party_word(Carillon__V1__CallParty p)
{
    return p == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "customer"
           : p == CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER ? "dialer"
                                                              : "";
}

static void store_next(struct dialer *d, bool force);

struct batch {
    struct dialer *d;
    unsigned gen;
    uint64_t boot_id, up_to_seq;
    Carillon__V1__Envelope **envs;
    unsigned n;
};

static void batch_free(struct batch *b)
{
    for (unsigned i = 0; i < b->n; i++)
        carillon__v1__envelope__free_unpacked(b->envs[i], NULL);
    free(b->envs);
    free(b);
}

static void attempt_lost(struct engine *e, int64_t attempt_id, const char *why);

static void on_stored(void *arg, int err, const char *const *results, int n)
{
    struct batch *b = arg;
    struct dialer *d = b->d;
    /* A call that talked waits for its agent's qualification: with no agent in memory (the
     * server restarted, the agent is gone) nobody will qualify it. */
    for (int i = 0; !err && i < n && i < (int)b->n; i++) {
        const Carillon__V1__Envelope *env = b->envs[i];
        if (strcmp(results[i], "talked") != 0 ||
            env->body_case != CARILLON__V1__ENVELOPE__BODY_CALL_EVENT)
            continue;
        struct call *call = call_find(d->eng, (int64_t)env->call_event->attempt_id);
        if (!call || !call->agent)
            attempt_lost(d->eng, (int64_t)env->call_event->attempt_id, NULL);
    }
    if (d->storing)
        d->storing--;
    if (err) {
        /* Not acknowledged: the dialer keeps the events and replays them on its next link. */
        d->store_failed = true;
        cr_log_error("events_not_stored", "node=%s events=%u error=%s", d->node, b->n,
                     cr_log_q(strerror(-err)));
        batch_free(b);
        if (d->c && d->c->conn && d->link == DIALER_UP)
            cr_conn_close(d->c->conn);
        return;
    }
    if (b->up_to_seq && b->boot_id == d->boot_id && b->gen == d->gen && !d->store_failed) {
        Carillon__V1__EventAck ack = CARILLON__V1__EVENT_ACK__INIT;
        ack.boot_id = b->boot_id;
        ack.up_to_seq = b->up_to_seq;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_EVENT_ACK;
        env.event_ack = &ack;
        (void)dialer_send(d, &env);
    }
    batch_free(b);
    store_next(d, false);
}

void dialer_flush(struct dialer *d)
{
    store_next(d, true);
}

static void store_next(struct dialer *d, bool force)
{
    if ((d->storing && !force) || d->nqueue == 0)
        return;
    struct engine *e = d->eng;
    unsigned n = d->nqueue < STORE_EVENTS_MAX ? d->nqueue : STORE_EVENTS_MAX;
    struct batch *b = calloc(1, sizeof *b);
    struct store_call_event *ev = calloc(n, sizeof *ev);
    if (!b || !ev) {
        free(b);
        free(ev);
        return; /* retried at the next event or sweep */
    }
    b->d = d;
    b->gen = d->gen;
    b->envs = malloc(n * sizeof *b->envs);
    if (!b->envs) {
        free(b);
        free(ev);
        return;
    }
    memcpy(b->envs, d->queue, n * sizeof *b->envs);
    b->n = n;
    d->nqueue -= n;
    memmove(d->queue, d->queue + n, d->nqueue * sizeof *d->queue);
    int64_t now = engine_now_ms(e->srv);
    for (unsigned i = 0; i < n; i++) {
        Carillon__V1__Envelope *env = b->envs[i];
        struct store_call_event *s = &ev[i];
        s->node = d->node;
        s->now_ms = now;
        s->ring_ms = s->talk_ms = -1;
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_CALL_EVENT) {
            const Carillon__V1__CallEvent *c = env->call_event;
            s->boot_id = c->boot_id;
            s->seq = c->seq;
            s->attempt_id = (int64_t)c->attempt_id;
            s->state = state_word(c->state);
            s->outcome = c->state == CARILLON__V1__CALL_STATE__CALL_STATE_ENDED
                             ? engine_outcome_word(c->outcome)
                             : "";
            s->call_id = c->sip_call_id;
            s->sip_status = c->sip_status;
            s->hung_up_by = party_word(c->hung_up_by);
            s->sent_at_us = c->sent_at_us;
            s->ringing_at_us = c->ringing_at_us;
            s->answered_at_us = c->answered_at_us;
            s->ended_at_us = c->ended_at_us;
            if (c->state == CARILLON__V1__CALL_STATE__CALL_STATE_ENDED) {
                s->ring_ms = (int)c->ring_ms;
                s->talk_ms = (int)c->talk_ms;
            }
            s->detail = c->detail;
            s->amd_verdict = engine_amd_verdict_word(c->amd_verdict);
            s->amd_reason = c->amd_reason;
            s->amd_ms = c->amd_ms;
            s->amd_greeting_end_ms = c->amd_greeting_end_ms;
        } else {
            const Carillon__V1__AgentLegEvent *a = env->agent_leg_event;
            s->boot_id = a->boot_id;
            s->seq = a->seq;
            s->attempt_id = 0;
            s->state = a->state == CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_UP ? "leg_up"
                       : a->state == CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_LOST
                           ? "leg_lost"
                           : "leg_closed";
            s->outcome = "";
            s->detail = a->detail;
        }
        if (s->seq > b->up_to_seq) {
            b->up_to_seq = s->seq;
            b->boot_id = s->boot_id;
        }
    }
    d->storing++;
    int rc = store_call_events(e->srv->pg, ev, (int)n, on_stored, b);
    free(ev);
    if (rc) {
        d->storing--;
        cr_log_error("events_not_stored", "node=%s events=%u error=%s", d->node, n,
                     cr_log_q(strerror(-rc)));
        batch_free(b);
    }
}

static void queue_event(struct dialer *d, Carillon__V1__Envelope *env)
{
    if (d->nqueue == d->cap_queue) {
        unsigned cap = d->cap_queue ? d->cap_queue * 2 : 64;
        Carillon__V1__Envelope **q = realloc(d->queue, cap * sizeof *q);
        if (!q) {
            /* Not stored nor acknowledged: the dialer replays it after the next reconnect. */
            cr_log_error("event_dropped", "node=%s reason=out_of_memory", d->node);
            carillon__v1__envelope__free_unpacked(env, NULL);
            return;
        }
        d->queue = q;
        d->cap_queue = cap;
    }
    d->queue[d->nqueue++] = env;
    store_next(d, false);
}

/* --- open attempts of a lost dialer ------------------------------------------------------------
 */

static void on_lost_closed(void *arg, int err, const char *state, const char *msg)
{
    (void)msg;
    int64_t *id = arg;
    if (err)
        cr_log_error("attempt_not_closed", "attempt=%" PRId64 " error=%s", *id,
                     cr_log_q(strerror(-err)));
    else
        cr_log_info("attempt_lost", "attempt=%" PRId64 " contact_state=%s", *id, state);
    free(id);
}

/* Closes one attempt as lost (no try counted) and forgets its call; why NULL: a call that
 * talked and that no agent can qualify any more (closed answered, counted). */
static void attempt_lost(struct engine *e, int64_t attempt_id, const char *why)
{
    struct call *call = call_find(e, attempt_id);
    if (call) {
        if (call->agent)
            agent_call_ended(call->agent, call, "lost", "dialer", false);
        call_forget(call);
    }
    int64_t *id = malloc(sizeof *id);
    if (!id)
        return;
    *id = attempt_id;
    if (store_attempt_close(
            e->srv->pg, attempt_id, engine_now_ms(e->srv), why ? "lost" : "answered", !why,
            why ? why : "no agent left to qualify the call", on_lost_closed, id) != 0) {
        cr_log_error("attempt_not_closed", "attempt=%" PRId64 " error=queue", attempt_id);
        free(id);
    }
}

struct lost_req {
    struct engine *e;
    char why[96];
};

static void on_open_attempts(void *arg, int err, const int64_t *ids, int n)
{
    struct lost_req *r = arg;
    if (err)
        cr_log_error("open_attempts_failed", "error=%s", cr_log_q(strerror(-err)));
    for (int i = 0; i < n; i++)
        attempt_lost(r->e, ids[i], r->why);
    free(r);
}

/* quiet: only the attempts the dialer never said anything about, older than the grace. */
static void close_node_attempts_boot(struct engine *e, const char *node, bool quiet,
                                     uint64_t other_boot, const char *why)
{
    struct lost_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->e = e;
    snprintf(r->why, sizeof r->why, "%s", why);
    int64_t before = engine_now_ms(e->srv) - (quiet ? e->srv->cfg.dialer_grace_ms : 0);
    if (store_open_attempts(e->srv->pg, node, quiet, before, other_boot, on_open_attempts, r) != 0)
        free(r);
}

static void close_node_attempts(struct engine *e, const char *node, bool quiet, const char *why)
{
    close_node_attempts_boot(e, node, quiet, 0, why);
}

/* --- messages ----------------------------------------------------------------------------------
 */

struct resume_req {
    struct engine *e;
    char node[ENGINE_NODE_MAX];
    uint64_t boot_id;
    bool new_boot;
};

static void on_last_seq(void *arg, int err, uint64_t last_seq)
{
    struct resume_req *r = arg;
    struct dialer *d = dialer_by_node(r->e, r->node);
    if (!d || d->boot_id != r->boot_id || d->link != DIALER_UP) {
        free(r);
        return;
    }
    if (err) {
        cr_log_error("dialer_resume_failed", "node=%s error=%s", d->node, cr_log_q(strerror(-err)));
        if (d->c && d->c->conn)
            cr_conn_close(d->c->conn); /* it reconnects and asks again */
        free(r);
        return;
    }
    Carillon__V1__DialerResume dr = CARILLON__V1__DIALER_RESUME__INIT;
    dr.boot_id = r->boot_id;
    dr.last_seq = last_seq;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_DIALER_RESUME;
    env.dialer_resume = &dr;
    if (last_seq > d->applied_seq)
        d->applied_seq = last_seq;
    (void)dialer_send(d, &env);
    d->resumed = true;
    d->gen++;
    d->store_failed = false;
    /* legs of the sessions a previous run of the server left (the dialer outlived it) */
    for (int i = 0; i < r->e->nstale_legs; i++) {
        Carillon__V1__CloseAgentLeg cl = CARILLON__V1__CLOSE_AGENT_LEG__INIT;
        cl.agent_id = r->e->stale_legs[i];
        Carillon__V1__Envelope ce = CARILLON__V1__ENVELOPE__INIT;
        ce.body_case = CARILLON__V1__ENVELOPE__BODY_CLOSE_AGENT_LEG;
        ce.close_agent_leg = &cl;
        (void)dialer_send(d, &ce);
    }
    /* Orders lost with the link (or with a server restart) never get an event: once the grace
     * has passed, an attempt of this dialer it never reported on is closed as lost. */
    d->reconcile_at_ms = engine_mono_ms(r->e->srv) + r->e->srv->cfg.dialer_grace_ms;
    cr_log_info("dialer_resumed", "node=%s boot=%" PRIu64 " last_seq=%" PRIu64 " max_calls=%u",
                d->node, r->boot_id, last_seq, d->max_calls);
    /* agents waiting for a dialer get their leg (with a new boot, the legs it had are gone) */
    agents_dialer_back(r->e, d, r->new_boot);
    free(r);
}

static void on_capacity(struct engine *e, struct client *c, const Carillon__V1__DialerCapacity *cap)
{
    const char *node = c->node_name[0] ? c->node_name : c->peer;
    struct dialer *d = dialer_by_node(e, node);
    int64_t now = engine_now_ms(e->srv);
    if (d && d->c && d->c != c && d->c->conn) {
        /* the same node on a second link: the newer wins */
        cr_log_warn("dialer_replaced", "node=%s old_peer=%s new_peer=%s", node, d->c->peer,
                    c->peer);
        struct client *old = d->c;
        d->c = NULL;
        client_unref(old);
        cr_conn_close(old->conn);
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) {
            cr_conn_close(c->conn);
            return;
        }
        d->eng = e;
        snprintf(d->node, sizeof d->node, "%s", node);
        d->next = e->dialers;
        e->dialers = d;
    }
    bool new_boot = d->boot_id && d->boot_id != cap->boot_id;
    bool first = d->c != c;
    if (first) {
        d->c = c;
        client_ref(c);
    }
    if (new_boot) {
        /* What the old boot had in flight is gone with it. */
        cr_log_warn("dialer_new_boot",
                    "node=%s old_boot=%" PRIu64 " boot=%" PRIu64 " open_calls=%u action=close_lost",
                    node, d->boot_id, cap->boot_id, d->in_flight);
        d->in_flight = 0;
        d->legs = 0;
        d->applied_seq = 0;
        close_node_attempts(e, node, false, "the dialer restarted (new boot)");
    }
    if (!d->boot_id)
        /* known only from its open attempts (a server restart): those another boot of it
         * reported on died with that boot */
        close_node_attempts_boot(e, node, false, cap->boot_id, "the dialer restarted (new boot)");
    if (d->link == DIALER_GONE && !new_boot && d->boot_id == cap->boot_id)
        cr_log_warn("dialer_back_after_grace", "node=%s", node);
    d->boot_id = cap->boot_id;
    d->max_calls = cap->max_calls;
    d->max_cps = cap->max_calls_per_second;
    d->active_calls = cap->active_calls;
    d->last_seen_ms = now;
    int64_t hold_until = cap->hold_ms ? now + (int64_t)cap->hold_ms : 0;
    if (cap->hold_ms || d->hold_until_ms)
        cr_log_info(cap->hold_ms ? "dialer_hold" : "dialer_hold_end",
                    "node=%s hold_ms=%u reason=%s", node, cap->hold_ms,
                    cr_log_q(cap->hold_reason ? cap->hold_reason : ""));
    d->hold_until_ms = hold_until;
    bool was_up = d->link == DIALER_UP;
    d->link = DIALER_UP;
    if (!first && was_up && d->resumed) {
        cr_log_info("dialer_capacity", "node=%s max_calls=%u max_cps=%u active=%u", node,
                    d->max_calls, d->max_cps, d->active_calls);
        return; /* a reload: new figures only */
    }
    d->resumed = false;
    cr_log_info("dialer_connected", "node=%s peer=%s boot=%" PRIu64 " max_calls=%u max_cps=%u",
                node, c->peer, cap->boot_id, d->max_calls, d->max_cps);
    struct resume_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->e = e;
    snprintf(r->node, sizeof r->node, "%s", node);
    r->boot_id = cap->boot_id;
    r->new_boot = new_boot;
    if (store_last_seq(e->srv->pg, cap->boot_id, on_last_seq, r) != 0) {
        free(r);
        cr_conn_close(c->conn);
    }
}

static struct dialer *dialer_of(struct engine *e, struct client *c)
{
    for (struct dialer *d = e->dialers; d; d = d->next)
        if (d->c == c)
            return d;
    return NULL;
}

void engine_dialer_message(struct client *c, Carillon__V1__Envelope *env)
{
    struct engine *e = c->srv->engine;
    struct dialer *d = dialer_of(e, c);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_DIALER_CAPACITY:
        on_capacity(e, c, env->dialer_capacity);
        break;
    case CARILLON__V1__ENVELOPE__BODY_CALL_EVENT:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LEG_EVENT: {
        if (!d || !d->resumed) {
            cr_log_warn("event_before_resume", "peer=%s", c->peer);
            break; /* not acknowledged: replayed after DialerResume */
        }
        d->last_seen_ms = engine_now_ms(e->srv);
        bool call = env->body_case == CARILLON__V1__ENVELOPE__BODY_CALL_EVENT;
        uint64_t seq = call ? env->call_event->seq : env->agent_leg_event->seq;
        uint64_t boot = call ? env->call_event->boot_id : env->agent_leg_event->boot_id;
        if (boot != d->boot_id)
            break;
        if (seq == 0 || seq > d->applied_seq) {
            if (seq)
                d->applied_seq = seq;
            if (call)
                sched_call_event(e, d, env->call_event);
            else
                agent_leg_event(e, env->agent_leg_event);
        }
        queue_event(d, env);
        return; /* the queue owns env */
    }
    case CARILLON__V1__ENVELOPE__BODY_OK:
    case CARILLON__V1__ENVELOPE__BODY_PONG:
        if (d)
            d->last_seen_ms = engine_now_ms(e->srv);
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        /* A Bridge refused (the call ended meanwhile): the events say what happened. */
        cr_log_warn("dialer_error", "node=%s request=%" PRIu64 " code=%d message=%s",
                    d ? d->node : c->peer, env->request_id, env->error->code,
                    cr_log_q(env->error->message ? env->error->message : ""));
        break;
    default:
        client_error(c, env->request_id, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                     "a dialer link does not take this message");
        break;
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

void dialers_client_closed(struct engine *e, struct client *c)
{
    struct dialer *d = dialer_of(e, c);
    if (!d)
        return;
    d->c = NULL;
    d->resumed = false;
    d->link = DIALER_GRACE;
    d->lost_at_ms = engine_mono_ms(e->srv);
    cr_log_warn("dialer_lost", "node=%s open_calls=%u agent_legs=%u grace_ms=%lld", d->node,
                d->in_flight, d->legs, (long long)e->srv->cfg.dialer_grace_ms);
    client_unref(c);
}

/* The grace of lost dialers. */
void dialers_sweep(struct engine *e, int64_t mono)
{
    for (struct dialer *d = e->dialers; d; d = d->next) {
        if (d->link == DIALER_GRACE && mono - d->lost_at_ms >= e->srv->cfg.dialer_grace_ms) {
            cr_log_warn("dialer_grace_over", "node=%s open_calls=%u action=close_lost", d->node,
                        d->in_flight);
            d->link = DIALER_GONE;
            d->in_flight = 0;
            d->legs = 0;
            close_node_attempts(e, d->node, false,
                                "the dialer did not come back within dialer_grace");
            agents_dialer_back(e, d, true); /* its agents lost their legs */
        }
        if (d->link == DIALER_UP && !d->storing && d->nqueue)
            store_next(d, false);
        if (d->link == DIALER_UP && d->reconcile_at_ms && mono >= d->reconcile_at_ms) {
            d->reconcile_at_ms = 0;
            close_node_attempts(e, d->node, true,
                                "the dialer never reported on this order (lost with its link)");
        }
    }
}

/* Server start: every node with open attempts is a dialer in grace until it comes back. */
static void on_open_nodes(void *arg, int err, char *const *nodes, int n)
{
    struct engine *e = arg;
    if (err) {
        cr_log_error("reconcile_failed", "error=%s", cr_log_q(strerror(-err)));
        return;
    }
    int64_t now = engine_mono_ms(e->srv);
    for (int i = 0; i < n; i++) {
        if (!nodes[i][0]) {
            close_node_attempts(e, "", false,
                                "claimed but never sent to a dialer (server restart)");
            continue;
        }
        if (dialer_by_node(e, nodes[i]))
            continue;
        struct dialer *d = calloc(1, sizeof *d);
        if (!d)
            return;
        d->eng = e;
        snprintf(d->node, sizeof d->node, "%s", nodes[i]);
        d->link = DIALER_GRACE;
        d->lost_at_ms = now;
        d->next = e->dialers;
        e->dialers = d;
        cr_log_info("reconcile_wait", "node=%s grace_ms=%lld", d->node,
                    (long long)e->srv->cfg.dialer_grace_ms);
    }
}

void dialers_reconcile_start(struct engine *e)
{
    if (store_open_nodes(e->srv->pg, on_open_nodes, e) != 0)
        cr_log_error("reconcile_failed", "error=queue");
}

void dialers_free_all(struct engine *e)
{
    while (e->dialers) {
        struct dialer *d = e->dialers;
        e->dialers = d->next;
        for (unsigned i = 0; i < d->nqueue; i++)
            carillon__v1__envelope__free_unpacked(d->queue[i], NULL);
        free(d->queue);
        if (d->c)
            client_unref(d->c);
        free(d);
    }
}
