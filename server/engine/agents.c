/* Agent sessions (engine.h), owned by the server: carillon-agentd relays them over its link
 * (role agentd), every message tagged with the agent's client and session (agent.proto).
 *
 * Login checks the password (the login limiter is keyed by login + the agent's own address),
 * opens a session row, and asks the dialer with the most free capacity to call the agent's
 * softphone (the nailed-up leg). The agent is connecting until the leg is up, then ready. A lost
 * leg puts the agent in phone_lost: no call is given until it is back (the agent logs in again).
 * Every state change is written with its time (agent_states).
 *
 * Grace: when the agent's client goes away (AgentDetached) or its agentd link drops, the session
 * waits agent_grace; AgentLogin with the session's token, through any agentd, takes it back
 * (a call in progress goes on). After the grace the agent is logged out and the leg closed. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "auth/password.h"
#include "carillon/log.h"
#include "engine/engine.h"
#include "store/agents_store.h"
#include "store/interview_store.h"

#define TOKEN_BYTES 32

static const char *state_name(int s)
{
    static const char *const names[] = {"unspecified", "logged_out", "ready",      "paused",
                                        "on_call",     "wrap_up",    "connecting", "phone_lost",
                                        "preview",     "dialing"};
    return s >= 0 && (size_t)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

bool agent_serves(const struct agent *a, int64_t campaign_id)
{
    for (int i = 0; i < a->ncampaigns; i++)
        if (a->campaign_ids[i] == campaign_id)
            return true;
    return false;
}

static struct agent *agent_by_session(struct engine *e, uint64_t id)
{
    for (struct agent *a = e->agents; a; a = a->next)
        if (a->session_id == id)
            return a;
    return NULL;
}

/* Sends env to the agent's client (nothing while in grace). */
void agent_push(struct agent *a, Carillon__V1__Envelope *env)
{
    if (!a->link || !a->link->conn)
        return;
    Carillon__V1__AgentTag tag = CARILLON__V1__AGENT_TAG__INIT;
    tag.client = a->client_tag;
    tag.session = a->session_id;
    env->agent = &tag;
    (void)!cr_conn_send(a->link->conn, env);
    env->agent = NULL;
}

/* Answers a request of a client on an agentd link. */
static void tag_reply(struct client *c, uint64_t client_tag, uint64_t session, uint64_t rid,
                      Carillon__V1__Envelope *env)
{
    if (!c || !c->conn)
        return;
    Carillon__V1__AgentTag tag = CARILLON__V1__AGENT_TAG__INIT;
    tag.client = client_tag;
    tag.session = session;
    env->agent = &tag;
    env->request_id = rid;
    (void)!cr_conn_send(c->conn, env);
    env->agent = NULL;
}

static void tag_error(struct client *c, uint64_t client_tag, uint64_t session, uint64_t rid,
                      int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void tag_error(struct client *c, uint64_t client_tag, uint64_t session, uint64_t rid,
                      int code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Carillon__V1__Error er = CARILLON__V1__ERROR__INIT;
    er.code = code;
    er.message = msg;
    er.field = (char *)(field ? field : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_ERROR;
    env.error = &er;
    tag_reply(c, client_tag, session, rid, &env);
}

static void tag_ok(struct client *c, uint64_t client_tag, uint64_t session, uint64_t rid)
{
    Carillon__V1__Ok ok = CARILLON__V1__OK__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_OK;
    env.ok = &ok;
    tag_reply(c, client_tag, session, rid, &env);
}

static void on_state_stored(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status)
        cr_log_error("agent_state_not_stored", "error=%s", cr_log_q(r->message ? r->message : ""));
}

void agent_set_state(struct agent *a, int state, const char *reason)
{
    struct engine *e = a->eng;
    int64_t now = engine_now_ms(e->srv);
    if (a->state == state && strcmp(a->reason, reason ? reason : "") == 0)
        return;
    a->state = state;
    snprintf(a->reason, sizeof a->reason, "%s", reason ? reason : "");
    a->since_ms = now;
    int64_t attempt = a->call ? a->call->attempt_id : 0;
    cr_log_info("agent_state", "agent=%s session=%" PRIu64 " state=%s reason=%s attempt=%" PRId64,
                a->login, a->session_id, state_name(state), a->reason[0] ? a->reason : "-",
                attempt);
    if (store_agent_state(e->srv->pg, (int64_t)a->session_id, state_name(state), a->reason, attempt,
                          a->dialer ? a->dialer->node : "", now, on_state_stored, NULL) != 0)
        cr_log_error("agent_state_not_stored", "agent=%s error=queue", a->login);
    Carillon__V1__AgentStateChanged sc = CARILLON__V1__AGENT_STATE_CHANGED__INIT;
    sc.agent_id = a->user_id;
    sc.state = state;
    sc.reason = a->reason;
    sc.since_unix_ms = now;
    sc.attempt_id = (uint64_t)attempt;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_STATE_CHANGED;
    env.agent_state_changed = &sc;
    agent_push(a, &env);
    if (state == CARILLON__V1__AGENT_STATE__AGENT_STATE_READY)
        sched_agent_ready(e, a);
}

/* --- the leg ------------------------------------------------------------------------------- */

static void open_leg(struct agent *a)
{
    struct engine *e = a->eng;
    struct dialer *d = dialer_for_agent(e);
    a->dialer = d;
    a->leg_up = false;
    if (!d) {
        cr_log_warn("agent_leg_waiting", "agent=%s reason=no_dialer", a->login);
        return; /* opened when a dialer comes (agents_dialer_back) */
    }
    /* the number for agents of the agent's first campaign (seed 002), else the server's */
    const char *caller = a->nacs && a->acs[0].number_for_agents[0] ? a->acs[0].number_for_agents
                                                                   : e->srv->cfg.agent_caller_id;
    Carillon__V1__OpenAgentLeg o = CARILLON__V1__OPEN_AGENT_LEG__INIT;
    o.agent_id = a->session_id;
    o.uri = a->softphone;
    o.caller_id = (char *)caller;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_OPEN_AGENT_LEG;
    env.open_agent_leg = &o;
    if (dialer_send(d, &env) == 0) {
        d->legs++;
        cr_log_info("agent_leg_open", "agent=%s session=%" PRIu64 " dialer=%s softphone=%s",
                    a->login, a->session_id, d->node, cr_log_q(a->softphone));
    } else {
        a->dialer = NULL;
    }
}

static void close_leg(struct agent *a)
{
    if (!a->dialer)
        return;
    Carillon__V1__CloseAgentLeg cl = CARILLON__V1__CLOSE_AGENT_LEG__INIT;
    cl.agent_id = a->session_id;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CLOSE_AGENT_LEG;
    env.close_agent_leg = &cl;
    (void)dialer_send(a->dialer, &env);
    if (a->dialer->legs)
        a->dialer->legs--;
    a->dialer = NULL;
    a->leg_up = false;
}

void agent_leg_event(struct engine *e, const Carillon__V1__AgentLegEvent *ev)
{
    struct agent *a = agent_by_session(e, ev->agent_id);
    if (!a)
        return;
    switch (ev->state) {
    case CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_UP:
        a->leg_up = true;
        if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING ||
            a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST)
            agent_set_state(a,
                            a->pause_requested ? CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED
                                               : CARILLON__V1__AGENT_STATE__AGENT_STATE_READY,
                            a->pause_requested ? a->reason : "");
        break;
    case CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_LOST:
        cr_log_warn("agent_phone_lost", "agent=%s sip_status=%u detail=%s", a->login,
                    ev->sip_status, cr_log_q(ev->detail ? ev->detail : ""));
        a->leg_up = false;
        if (a->dialer && a->dialer->legs)
            a->dialer->legs--;
        a->dialer = NULL;
        if (!a->ending)
            agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST,
                            ev->detail ? ev->detail : "");
        break;
    default:
        break;
    }
}

/* A dialer came back: agents waiting for one get their leg; with a new boot (or after its
 * grace) the legs it held are gone, so their agents' legs are opened again. */
void agents_dialer_back(struct engine *e, struct dialer *d, bool new_boot)
{
    for (struct agent *a = e->agents; a; a = a->next) {
        if (a->ending)
            continue;
        if (new_boot && a->dialer == d) {
            a->dialer = NULL;
            a->leg_up = false;
            if (a->state != CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED)
                agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING, "");
        }
        if (!a->dialer && d->link == DIALER_UP)
            open_leg(a);
    }
}

static void agent_free(struct agent *a);

/* --- session end --------------------------------------------------------------------------- */

static void on_closed_stored(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status)
        cr_log_error("agent_session_not_closed", "error=%s",
                     cr_log_q(r->message ? r->message : ""));
}

static void agent_end(struct agent *a, const char *reason)
{
    struct engine *e = a->eng;
    a->ending = true;
    cr_log_info("agent_logout", "agent=%s session=%" PRIu64 " reason=%s", a->login, a->session_id,
                cr_log_q(reason));
    if (a->call)
        sched_agent_gone(e, a);
    close_leg(a);
    Carillon__V1__AgentSessionEnded se = CARILLON__V1__AGENT_SESSION_ENDED__INIT;
    se.reason = (char *)reason;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SESSION_ENDED;
    env.agent_session_ended = &se;
    agent_push(a, &env);
    if (store_agent_session_close(e->srv->pg, (int64_t)a->session_id, reason, engine_now_ms(e->srv),
                                  on_closed_stored, NULL) != 0)
        cr_log_error("agent_session_not_closed", "agent=%s error=queue", a->login);
    struct agent **pp = &e->agents;
    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    agent_free(a);
}

static void agent_detach(struct agent *a, const char *why)
{
    struct engine *e = a->eng;
    if (a->link)
        client_unref(a->link);
    a->link = NULL;
    a->grace_until_ms = engine_mono_ms(e->srv) + e->srv->cfg.agent_grace_ms;
    cr_log_info("agent_detached", "agent=%s session=%" PRIu64 " why=%s grace_ms=%lld", a->login,
                a->session_id, why, (long long)e->srv->cfg.agent_grace_ms);
}

void agents_sweep(struct engine *e, int64_t mono)
{
    struct agent *a = e->agents;
    while (a) {
        struct agent *next = a->next;
        if (!a->link && a->grace_until_ms && mono >= a->grace_until_ms)
            agent_end(a, "agent_grace ended without the agent coming back");
        a = next;
    }
}

void agents_free_all(struct engine *e)
{
    while (e->agents) {
        struct agent *a = e->agents;
        e->agents = a->next;
        agent_free(a);
    }
}

void agents_client_closed(struct engine *e, struct client *c)
{
    for (struct agent *a = e->agents; a; a = a->next)
        if (a->link == c)
            agent_detach(a, "agentd link closed");
}

/* --- pushes about calls ------------------------------------------------------------------------
 */

struct popup_req {
    struct engine *e;
    uint64_t session_id;
    int64_t attempt_id;
    bool ringing, offer;
};

/* The window is loaded: CallOffered or CallConnected with the pop-up fields and the interview
 * (state, script with the contact's values, answers in progress, history, numbers). */
static void on_window(void *arg, int err, const struct store_popup *p,
                      const Carillon__V1__Interview *iv)
{
    struct popup_req *r = arg;
    struct agent *a = agent_by_session(r->e, r->session_id);
    struct call *call = call_find(r->e, r->attempt_id);
    if (!a || !call || a->call != call) {
        free(r);
        return;
    }
    if (err)
        cr_log_error("popup_failed", "attempt=%" PRId64 " error=%s", r->attempt_id,
                     cr_log_q(strerror(-err)));
    int n = err ? 0 : p->nfields;
    Carillon__V1__AgentField *fields = n ? calloc((size_t)n, sizeof *fields) : NULL;
    Carillon__V1__AgentField **fp = n ? calloc((size_t)n, sizeof *fp) : NULL;
    if (n && (!fields || !fp))
        n = 0;
    for (int i = 0; i < n; i++) {
        carillon__v1__agent_field__init(&fields[i]);
        fields[i].name = (char *)p->fields[i].name;
        fields[i].label = (char *)p->fields[i].label;
        fields[i].value = (char *)p->fields[i].value;
        fp[i] = &fields[i];
    }
    Carillon__V1__AgentContact ct = CARILLON__V1__AGENT_CONTACT__INIT;
    ct.id = call->contact_id;
    ct.number = call->number;
    ct.fields = fp;
    ct.n_fields = (size_t)n;
    ct.last_qualification = err ? "" : (char *)p->last_qualification;
    ct.attempts = err ? 0 : p->attempts;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    Carillon__V1__CallConnected cc = CARILLON__V1__CALL_CONNECTED__INIT;
    Carillon__V1__CallOffered co = CARILLON__V1__CALL_OFFERED__INIT;
    if (r->offer) {
        co.attempt_id = (uint64_t)call->attempt_id;
        co.campaign = call->camp->name;
        co.contact = &ct;
        co.timeout_s = call->camp->preview_timeout_s;
        co.timeout_action = call->camp->preview_dial_on_timeout ? "dial" : "skip";
        co.interview = (Carillon__V1__Interview *)iv;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_OFFERED;
        env.call_offered = &co;
    } else {
        cc.attempt_id = (uint64_t)call->attempt_id;
        cc.campaign = call->camp->name;
        cc.campaign_number = call->camp->number_for_agents;
        cc.contact = &ct;
        cc.ringing = r->ringing;
        cc.interview = (Carillon__V1__Interview *)iv;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED;
        env.call_connected = &cc;
    }
    /* The push must fit one frame: a long history gives up its oldest half, then the next, and
     * so on (the numbers, script and answers are what the agent needs first). */
    Carillon__V1__Interview ivc;
    size_t max = a->link && a->link->conn ? cr_conn_max_frame(a->link->conn) : 0;
    if (iv && max) {
        ivc = *iv;
        if (r->offer)
            co.interview = &ivc;
        else
            cc.interview = &ivc;
        size_t had = ivc.n_history;
        while (ivc.n_history && carillon__v1__envelope__get_packed_size(&env) + 64 > max) {
            size_t drop = (ivc.n_history + 1) / 2;
            ivc.history += drop;
            ivc.n_history -= drop;
        }
        if (ivc.n_history < had)
            cr_log_warn("interview_history_cut", "attempt=%" PRId64 " entries=%zu sent=%zu",
                        r->attempt_id, had, ivc.n_history);
    }
    agent_push(a, &env);
    free(fields);
    free(fp);
    free(r);
}

/* One batch (one round trip) loads the pop-up and the window. A connected call (not a preview)
 * starts the interview there (event started); agent-first, that is when the agent is reserved
 * and hears the call ring. */
static void push_contact(struct agent *a, struct call *call, bool ringing, bool offer)
{
    struct popup_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->e = a->eng;
    r->session_id = a->session_id;
    r->attempt_id = call->attempt_id;
    r->ringing = ringing;
    r->offer = offer;
    struct store_interview_req q = {
        .contact_id = call->contact_id,
        .campaign_id = call->camp->id,
        .attempt_id = call->attempt_id,
        .agent_id = a->user_id,
        .now_ms = engine_now_ms(a->eng->srv),
        .start = !offer,
        .popup_us = call->camp->popup_fields,
        .campaign = call->camp->name,
        .agent_name = a->display_name,
    };
    if (store_interview_load(a->eng->srv->pg, &q, on_window, r) != 0)
        free(r);
}

void agent_call_connected(struct agent *a, struct call *call, bool ringing)
{
    a->call = call;
    agent_set_state(a,
                    ringing ? CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING
                            : CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL,
                    "");
    push_contact(a, call, ringing, false);
}

void agent_call_offered(struct agent *a, struct call *call)
{
    a->call = call;
    agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW, "");
    push_contact(a, call, false, true);
}

void agent_push_call_ended(struct agent *a, int64_t attempt_id, const char *outcome,
                           const char *hung_up_by)
{
    Carillon__V1__CallEnded ce = CARILLON__V1__CALL_ENDED__INIT;
    ce.attempt_id = (uint64_t)attempt_id;
    ce.outcome = (char *)outcome;
    ce.hung_up_by = (char *)hung_up_by;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_ENDED;
    env.call_ended = &ce;
    agent_push(a, &env);
}

void agent_call_ended(struct agent *a, struct call *call, const char *outcome,
                      const char *hung_up_by, bool talked)
{
    agent_push_call_ended(a, call->attempt_id, outcome, hung_up_by);
    if (talked) {
        agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP, "");
        return;
    }
    a->call = NULL;
    if (a->ending)
        return;
    if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING ||
        a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL ||
        a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW)
        agent_set_state(a,
                        a->leg_up ? CARILLON__V1__AGENT_STATE__AGENT_STATE_READY
                                  : CARILLON__V1__AGENT_STATE__AGENT_STATE_PHONE_LOST,
                        "");
}

static void acs_free(Carillon__V1__AgentCampaign *acs, int n)
{
    for (int i = 0; i < n; i++) {
        for (size_t q = 0; q < acs[i].n_qualifications; q++)
            free(acs[i].qualifications[q]);
        free(acs[i].qualifications);
        free(acs[i].name);
        free(acs[i].number_for_agents);
        free(acs[i].dialing_mode);
    }
    free(acs);
}

static void agent_free(struct agent *a)
{
#ifdef CARILLON_TESTING
    benchpush_forget(a);
#endif
    if (a->link)
        client_unref(a->link);
    acs_free(a->acs, a->nacs);
    free(a);
}

/* --- login ------------------------------------------------------------------------------------ */

struct alogin {
    struct engine *e;
    struct client *c;
    uint64_t client_tag, rid;
    char login[65];
    char softphone[257];
    char address[48];
    char *campaigns[ENGINE_CAMPAIGNS];
    int ncampaigns;
    struct store_user user;
    char token[2 * TOKEN_BYTES + 1];
    char token_sha256[65];
    int64_t campaign_ids[ENGINE_CAMPAIGNS];
    int ncampaign_ids;
    Carillon__V1__AgentCampaign *acs; /* the reply's campaigns */
    int nacs;
    char *names_buf;
};

static void alogin_free(struct alogin *l)
{
    for (int i = 0; i < l->ncampaigns; i++)
        free(l->campaigns[i]);
    acs_free(l->acs, l->nacs);
    client_unref(l->c);
    OPENSSL_cleanse(l->token, sizeof l->token);
    free(l);
}

static void alogin_fail(struct alogin *l, int code, const char *field, const char *msg)
{
    tag_error(l->c, l->client_tag, 0, l->rid, code, field, "%s", msg);
    alogin_free(l);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *pause_list(struct agent *a);

static void reply_login_ok(struct agent *a, struct alogin *l, uint64_t rid, bool resumed)
{
    Carillon__V1__AgentLoginOk ok = CARILLON__V1__AGENT_LOGIN_OK__INIT;
    ok.session = a->session_id;
    ok.token = l ? l->token : ""; /* a resume: the client keeps the token it has */
    ok.agent_id = a->user_id;
    ok.display_name = a->display_name;
    ok.state = a->state;
    ok.resumed = resumed;
    ok.attempt_id = a->call ? (uint64_t)a->call->attempt_id : 0;
    Carillon__V1__AgentCampaign *cp[ENGINE_CAMPAIGNS];
    for (int i = 0; i < a->nacs && i < ENGINE_CAMPAIGNS; i++)
        cp[i] = &a->acs[i];
    ok.campaigns = cp;
    ok.n_campaigns = (size_t)(a->nacs < ENGINE_CAMPAIGNS ? a->nacs : ENGINE_CAMPAIGNS);
    char reasons[1024];
    snprintf(reasons, sizeof reasons, "%s", pause_list(a));
    char *rp[64];
    size_t nr = 0;
    for (char *save = NULL, *t = strtok_r(reasons, ", ", &save); t && nr < 64;
         t = strtok_r(NULL, ", ", &save))
        rp[nr++] = t;
    ok.pause_reasons = rp;
    ok.n_pause_reasons = nr;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK;
    env.agent_login_ok = &ok;
    tag_reply(a->link, a->client_tag, a->session_id, rid, &env);
}

static void on_session_opened(void *arg, int err, int64_t id)
{
    struct alogin *l = arg;
    struct engine *e = l->e;
    if (err) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                    "could not open a session: the database is unavailable, try again");
        return;
    }
    if (!l->c->conn) {
        alogin_free(l);
        return;
    }
    /* a live session of the same user, in memory, ends: one session per agent */
    for (struct agent *o = e->agents; o; o = o->next)
        if (o->user_id == l->user.id) {
            agent_end(o, "replaced by a new login");
            break;
        }
    struct agent *a = calloc(1, sizeof *a);
    if (!a) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return;
    }
    a->eng = e;
    a->session_id = (uint64_t)id;
    a->user_id = l->user.id;
    snprintf(a->login, sizeof a->login, "%s", l->user.login);
    snprintf(a->display_name, sizeof a->display_name, "%s", l->user.display_name);
    memcpy(a->token_sha256, l->token_sha256, sizeof a->token_sha256);
    snprintf(a->softphone, sizeof a->softphone, "%s", l->softphone);
    snprintf(a->address, sizeof a->address, "%s", l->address);
    a->link = l->c;
    client_ref(l->c);
    a->client_tag = l->client_tag;
    memcpy(a->campaign_ids, l->campaign_ids, sizeof a->campaign_ids);
    a->ncampaigns = l->ncampaign_ids;
    a->acs = l->acs; /* the agent keeps them for a resume's answer */
    a->nacs = l->nacs;
    l->acs = NULL;
    l->nacs = 0;
    a->state = CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING;
    a->since_ms = engine_now_ms(e->srv);
    a->next = e->agents;
    e->agents = a;
    cr_log_info("agent_login", "agent=%s session=%" PRIu64 " campaigns=%d softphone=%s agentd=%s",
                a->login, a->session_id, a->ncampaigns, cr_log_q(a->softphone),
                l->c->node_name[0] ? l->c->node_name : l->c->peer);
    reply_login_ok(a, l, l->rid, false);
    open_leg(a);
    alogin_free(l);
#ifdef CARILLON_TESTING
    benchpush_kick(e);
#endif
}

static bool quals_fill(Carillon__V1__AgentCampaign *ac, const char *quals)
{
    size_t n = 0;
    for (const char *p = quals; *p; p++)
        n += *p == '\x1f';
    n += quals[0] ? 1 : 0;
    ac->qualifications = n ? calloc(n, sizeof *ac->qualifications) : NULL;
    if (n && !ac->qualifications)
        return false;
    const char *p = quals;
    while (*p && ac->n_qualifications < n) {
        size_t len = strcspn(p, "\x1f");
        /* one block: struct + its strings, freed as one */
        Carillon__V1__AgentQualification *q = calloc(1, sizeof *q + len + 1);
        if (!q)
            return false;
        carillon__v1__agent_qualification__init(q);
        char *s = (char *)(q + 1);
        memcpy(s, p, len);
        s[len] = '\0';
        char *part[6] = {0};
        int np = 0;
        for (char *tok; np < 6 && (tok = strsep(&s, "\x1e")) != NULL;)
            part[np++] = tok;
        q->code = part[0] ? part[0] : "";
        q->name = part[1] ? part[1] : "";
        q->final = part[2] && part[2][0] == 't';
        q->callback = part[3] ? part[3] : "none";
        q->callback_min_days = part[4] ? (uint32_t)atoi(part[4]) : 0;
        q->callback_max_days = part[5] ? (uint32_t)atoi(part[5]) : 0;
        ac->qualifications[ac->n_qualifications++] = q;
        p += len;
        if (*p)
            p++;
    }
    return true;
}

static void on_agent_campaigns(void *arg, int err, const struct store_agent_campaign *rows, int n)
{
    struct alogin *l = arg;
    struct engine *e = l->e;
    if (err) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                    "the database is unavailable, try again");
        return;
    }
    /* the campaigns asked for must be among those assigned; none asked: all of them */
    for (int i = 0; i < l->ncampaigns; i++) {
        bool found = false;
        for (int r = 0; r < n && !found; r++)
            found = strcmp(rows[r].name, l->campaigns[i]) == 0;
        if (!found) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "campaign '%s' is not one you are assigned to (or it is not ready, running "
                     "or paused)",
                     l->campaigns[i]);
            alogin_fail(l, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "campaigns", msg);
            return;
        }
    }
    l->acs = calloc(ENGINE_CAMPAIGNS, sizeof *l->acs);
    if (!l->acs) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return;
    }
    for (int r = 0; r < n && l->ncampaign_ids < ENGINE_CAMPAIGNS; r++) {
        bool wanted = l->ncampaigns == 0;
        for (int i = 0; i < l->ncampaigns && !wanted; i++)
            wanted = strcmp(rows[r].name, l->campaigns[i]) == 0;
        if (!wanted)
            continue;
        l->campaign_ids[l->ncampaign_ids++] = rows[r].id;
        Carillon__V1__AgentCampaign *ac = &l->acs[l->nacs++];
        carillon__v1__agent_campaign__init(ac);
        ac->name = strdup(rows[r].name);
        ac->number_for_agents = strdup(rows[r].number_for_agents);
        ac->dialing_mode = strdup(rows[r].dialing_mode);
        ac->wrapup_max_s = rows[r].wrapup_max_s;
        if (!ac->name || !ac->number_for_agents || !ac->dialing_mode ||
            !quals_fill(ac, rows[r].qualifications)) {
            alogin_fail(l, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
            return;
        }
    }
    if (l->ncampaign_ids == 0) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "campaigns",
                    "you are assigned to no campaign that is ready, running or paused");
        return;
    }
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        alogin_fail(l, CARILLON__V1__CODE__CODE_INTERNAL, NULL, "no randomness for a token");
        return;
    }
    for (int i = 0; i < TOKEN_BYTES; i++)
        snprintf(l->token + 2 * i, 3, "%02x", raw[i]);
    sha256_hex(l->token, l->token_sha256);
    if (store_agent_session_open(e->srv->pg, l->user.id, l->token_sha256, l->softphone,
                                 l->campaign_ids, l->ncampaign_ids, l->address, l->c->node_name,
                                 "connecting", engine_now_ms(e->srv), on_session_opened, l) != 0)
        alogin_fail(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                    "the database is unavailable, try again");
}

static void on_password(void *arg, int code, const char *message, const struct store_user *u)
{
    struct alogin *l = arg;
    if (code) {
        alogin_fail(l, code, NULL, message);
        return;
    }
    if (u->role != STORE_ROLE_AGENT) {
        cr_log_warn("agent_login_refused", "login=%s reason=role role=%s", cr_log_q(u->login),
                    store_role_name(u->role));
        alogin_fail(l, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "login",
                    "only users with the agent role take calls");
        return;
    }
    l->user = *u;
    OPENSSL_cleanse(l->user.password_hash, sizeof l->user.password_hash);
    if (store_agent_campaigns(l->e->srv->pg, u->id, on_agent_campaigns, l) != 0)
        alogin_fail(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                    "the database is unavailable, try again");
}

static bool uri_ok(const char *s)
{
    if (strncmp(s, "sip:", 4) != 0 && strncmp(s, "sips:", 5) != 0)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>')
            return false;
    return strlen(s) > 5;
}

static void handle_login(struct engine *e, struct client *c, uint64_t client_tag, uint64_t rid,
                         Carillon__V1__AgentLogin *in)
{
    const char *why = NULL, *field = NULL;
    if (!in->login[0] || strlen(in->login) > STORE_LOGIN_MAX)
        why = "login is empty or longer than 64 bytes", field = "login";
    else if (!in->resume_token[0] && (!in->password[0] || strlen(in->password) > CR_PASSWORD_MAX))
        why = "AgentLogin needs a password (at most 256 bytes) or a resume_token",
        field = "password";
    else if (!in->resume_token[0] && (strlen(in->softphone) > 256 || !uri_ok(in->softphone)))
        why = "softphone must be a sip: or sips: URI of at most 256 bytes", field = "softphone";
    else if (in->n_campaigns > ENGINE_CAMPAIGNS)
        why = "at most 16 campaigns at once", field = "campaigns";
    else if (strlen(in->address) >= 48)
        why = "address is not an IP address", field = "address";
    if (why) {
        tag_error(c, client_tag, 0, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, field, "%s",
                  why);
        return;
    }
    if (in->resume_token[0]) {
        char sha[65];
        sha256_hex(in->resume_token, sha);
        for (struct agent *a = e->agents; a; a = a->next) {
            if (strcmp(a->token_sha256, sha) != 0 || strcmp(a->login, in->login) != 0 || a->ending)
                continue;
            if (a->link && (a->link != c || a->client_tag != client_tag)) {
                /* the client it had hears that another connection took the session */
                Carillon__V1__AgentSessionEnded se = CARILLON__V1__AGENT_SESSION_ENDED__INIT;
                se.reason = "resumed by another connection";
                Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
                env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SESSION_ENDED;
                env.agent_session_ended = &se;
                agent_push(a, &env);
            }
            if (a->link && a->link != c)
                client_unref(a->link);
            if (a->link != c)
                client_ref(c);
            a->link = c;
            a->client_tag = client_tag;
            a->grace_until_ms = 0;
            cr_log_info("agent_resumed", "agent=%s session=%" PRIu64 " agentd=%s", a->login,
                        a->session_id, c->node_name[0] ? c->node_name : c->peer);
            reply_login_ok(a, NULL, rid, true);
            return;
        }
        tag_error(c, client_tag, 0, rid, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, "resume_token",
                  "session expired or unknown: log in again");
        return;
    }
    struct alogin *l = calloc(1, sizeof *l);
    if (!l) {
        tag_error(c, client_tag, 0, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                  "out of memory");
        return;
    }
    l->e = e;
    l->c = c;
    client_ref(c);
    l->client_tag = client_tag;
    l->rid = rid;
    snprintf(l->login, sizeof l->login, "%s", in->login);
    snprintf(l->softphone, sizeof l->softphone, "%s", in->softphone);
    /* the agent's own address keys the login limiter; without one, agentd's */
    snprintf(l->address, sizeof l->address, "%s", in->address[0] ? in->address : c->ip);
    for (size_t i = 0; i < in->n_campaigns; i++) {
        l->campaigns[i] = strdup(in->campaigns[i]);
        if (l->campaigns[i])
            l->ncampaigns++;
    }
    char peer[128];
    snprintf(peer, sizeof peer, "%s/%s", l->address, c->peer);
    session_password_check(e->srv, l->login, in->password, l->address, peer, on_password, l);
    OPENSSL_cleanse(in->password, strlen(in->password));
}

/* --- the agent's requests ------------------------------------------------------------------- */

/* The pause reasons this agent may choose: the server's, narrowed by each campaign that narrows
 * them. */
static const char *pause_list(struct agent *a)
{
    static char out[1024];
    const char *server = a->eng->srv->cfg.pause_reasons;
    out[0] = '\0';
    size_t at = 0;
    char all[1024];
    snprintf(all, sizeof all, "%s", server);
    for (char *save = NULL, *t = strtok_r(all, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        bool ok = true;
        for (struct ecampaign *c = a->eng->campaigns; c && ok; c = c->next)
            if (agent_serves(a, c->id) && c->pause_reasons[0])
                ok = pause_reason_allowed(c->pause_reasons, t);
        if (ok)
            at += (size_t)snprintf(out + at, sizeof out - at, "%s%s", at ? "," : "", t);
        if (at >= sizeof out)
            break;
    }
    return out;
}

static void handle_set_state(struct agent *a, uint64_t rid, const Carillon__V1__AgentSetState *s)
{
    struct client *c = a->link;
    int from = a->state;
    if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED) {
        if (!s->reason[0] || !pause_reason_allowed(pause_list(a), s->reason))
            return tag_error(c, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "reason",
                             "pause reason '%s' is not one of: %s", s->reason, pause_list(a));
        if (from == CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING) {
            a->pause_requested = true;
            snprintf(a->reason, sizeof a->reason, "%s", s->reason);
            return tag_ok(c, a->client_tag, a->session_id, rid);
        }
        if (from != CARILLON__V1__AGENT_STATE__AGENT_STATE_READY &&
            from != CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED)
            return tag_error(c, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "state",
                             "cannot pause while %s: finish the call first", state_name(from));
        agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED, s->reason);
        return tag_ok(c, a->client_tag, a->session_id, rid);
    }
    if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_READY) {
        a->pause_requested = false;
        if (from == CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING ||
            from == CARILLON__V1__AGENT_STATE__AGENT_STATE_READY)
            return tag_ok(c, a->client_tag, a->session_id, rid);
        if (from != CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED)
            return tag_error(
                c, a->client_tag, a->session_id, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                "state", "cannot become ready while %s%s", state_name(from),
                from == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP ? ": qualify the call" : "");
        agent_set_state(a, CARILLON__V1__AGENT_STATE__AGENT_STATE_READY, "");
        return tag_ok(c, a->client_tag, a->session_id, rid);
    }
    tag_error(c, a->client_tag, a->session_id, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
              "state", "AgentSetState takes ready or paused");
}

struct qreq {
    struct engine *e;
    uint64_t session_id, client_tag, rid;
    struct client *c;
    int64_t attempt_id;
};

static struct qreq *qreq_new(struct agent *a, uint64_t rid, int64_t attempt_id)
{
    struct qreq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->e = a->eng;
    q->session_id = a->session_id;
    q->client_tag = a->client_tag;
    q->rid = rid;
    q->c = a->link;
    client_ref(q->c);
    q->attempt_id = attempt_id;
    a->in_flight++;
    return q;
}

/* The request is answered: its agent (if still there) has one request less in flight. */
static struct agent *qreq_done(struct qreq *q)
{
    struct agent *a = agent_by_session(q->e, q->session_id);
    if (a && a->in_flight)
        a->in_flight--;
    return a;
}

static void qreq_free(struct qreq *q)
{
    client_unref(q->c);
    free(q);
}

static void on_qualified(void *arg, int err, const char *state, const char *field, const char *msg)
{
    struct qreq *q = arg;
    struct agent *a = qreq_done(q);
    if (err == -EINVAL) {
        tag_error(q->c, q->client_tag, q->session_id, q->rid,
                  CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, field[0] ? field : "code", "%s", msg);
    } else if (err == -EAGAIN) {
        tag_error(q->c, q->client_tag, q->session_id, q->rid,
                  CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, field, "%s", msg);
    } else if (err) {
        tag_error(q->c, q->client_tag, q->session_id, q->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the qualification was not stored: the database is unavailable, try again");
    } else {
        cr_log_info("qualified", "attempt=%" PRId64 " contact_state=%s", q->attempt_id, state);
        tag_ok(q->c, q->client_tag, q->session_id, q->rid);
        sched_qualified(q->e, q->attempt_id, a);
    }
    qreq_free(q);
}

/* Qualifies the call. Mandatory questions (carillon_interview_qualify, migration 015): a
 * positive or argued qualification is refused while a mandatory question of the interview has
 * no answer; other qualifications (refusal, wrong number, callback...) are allowed, as the
 * conversation may have ended before the questions. A callback may go to another agent of the
 * campaign (callback_agent), personal to them. */
static void handle_qualify(struct agent *a, uint64_t rid, const Carillon__V1__AgentQualify *in)
{
    struct engine *e = a->eng;
    struct call *call = a->call;
    if (!call || (uint64_t)call->attempt_id != in->attempt_id)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                         "attempt %" PRIu64 " is not your current call", in->attempt_id);
    if (call->state != CALL_TALKED && call->state != CALL_BRIDGED)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                         "attempt %" PRIu64 " was not answered: there is nothing to qualify",
                         in->attempt_id);
    if (!in->code[0] || strlen(in->code) > 64)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "code",
                         "a qualification code is 1 to 64 bytes");
    if (strlen(in->callback_agent) > STORE_LOGIN_MAX)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "callback_agent",
                         "callback_agent is a login of at most %d bytes", STORE_LOGIN_MAX);
    if (call->state == CALL_BRIDGED)
        sched_hangup(e, call); /* qualifying during the call ends it */
    struct qreq *q = qreq_new(a, rid, call->attempt_id);
    if (!q)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    /* the call's last events first: the qualification closes the attempt they complete */
    if (call->dialer)
        dialer_flush(call->dialer);
    if (store_interview_qualify(e->srv->pg, call->attempt_id, engine_now_ms(e->srv), in->code,
                                a->user_id, in->callback_unix_ms, in->personal, in->callback_agent,
                                on_qualified, q) != 0) {
        qreq_done(q);
        qreq_free(q);
        tag_error(a->link, a->client_tag, a->session_id, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the database is unavailable, try again");
    }
}

/* --- the interview window: answers, cancel, suspend ------------------------------------------ */

/* The agent's current call, on call or in wrap-up, or an error sent (NULL). */
static struct call *interview_call(struct agent *a, uint64_t rid, uint64_t attempt_id)
{
    struct call *call = a->call;
    if (!call || (uint64_t)call->attempt_id != attempt_id) {
        tag_error(a->link, a->client_tag, a->session_id, rid,
                  CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                  "attempt %" PRIu64 " is not your current call", attempt_id);
        return NULL;
    }
    if (call->state != CALL_TALKED && call->state != CALL_BRIDGED) {
        tag_error(a->link, a->client_tag, a->session_id, rid,
                  CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                  "attempt %" PRIu64 " is not on call or in wrap-up: no interview yet", attempt_id);
        return NULL;
    }
    return call;
}

/* An AgentSaveAnswers on its way: the questions are read, the answers checked, then saved.
 * Owns msg (taken from its envelope). */
struct save_req {
    struct qreq *q;
    int64_t campaign_id, contact_id, agent_id;
    Carillon__V1__AgentSaveAnswers *msg;
};

static void save_req_free(struct save_req *s)
{
    qreq_free(s->q);
    carillon__v1__agent_save_answers__free_unpacked(s->msg, NULL);
    free(s);
}

static void on_answers_saved(void *arg, int err, unsigned saved, const char *const *missing,
                             int nmissing)
{
    struct save_req *s = arg;
    struct qreq *q = s->q;
    (void)qreq_done(q);
    if (err == -ENOENT) {
        tag_error(q->c, q->client_tag, q->session_id, q->rid,
                  CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                  "attempt %" PRId64 " is already qualified or closed: nothing saved",
                  q->attempt_id);
    } else if (err) {
        tag_error(q->c, q->client_tag, q->session_id, q->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the answers were not saved: the database is unavailable, try again");
    } else {
        cr_log_info("answers_saved", "attempt=%" PRId64 " contact=%" PRId64 " saved=%u missing=%d",
                    q->attempt_id, s->contact_id, saved, nmissing);
        Carillon__V1__AgentAnswersSaved as = CARILLON__V1__AGENT_ANSWERS_SAVED__INIT;
        as.attempt_id = (uint64_t)q->attempt_id;
        as.saved = saved;
        as.missing = (char **)missing;
        as.n_missing = (size_t)nmissing;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_ANSWERS_SAVED;
        env.agent_answers_saved = &as;
        tag_reply(q->c, q->client_tag, q->session_id, q->rid, &env);
    }
    save_req_free(s);
}

static void on_questions(void *arg, int err, const struct interview_question *qs, int nq)
{
    struct save_req *s = arg;
    struct qreq *q = s->q;
    if (err) {
        (void)qreq_done(q);
        tag_error(q->c, q->client_tag, q->session_id, q->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the answers were not saved: the database is unavailable, try again");
        return save_req_free(s);
    }
    /* the first refused answer fails the whole request: nothing is saved */
    for (size_t i = 0; i < s->msg->n_answers; i++) {
        char why[512];
        if (interview_check_answer(qs, nq, s->msg->answers[i], why, sizeof why) != 0) {
            (void)qreq_done(q);
            tag_error(q->c, q->client_tag, q->session_id, q->rid,
                      CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, s->msg->answers[i]->export_name,
                      "%s", why);
            return save_req_free(s);
        }
    }
    if (store_interview_save(q->e->srv->pg, s->campaign_id, s->contact_id, q->attempt_id,
                             s->agent_id, engine_now_ms(q->e->srv), s->msg->answers,
                             s->msg->n_answers, on_answers_saved, s) != 0) {
        (void)qreq_done(q);
        tag_error(q->c, q->client_tag, q->session_id, q->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the database is unavailable, try again");
        save_req_free(s);
    }
}

/* Takes env's AgentSaveAnswers (the envelope no longer frees it). */
static void handle_save_answers(struct agent *a, uint64_t rid, Carillon__V1__Envelope *env)
{
    Carillon__V1__AgentSaveAnswers *in = env->agent_save_answers;
    struct call *call = interview_call(a, rid, in->attempt_id);
    if (!call)
        return;
    if (in->n_answers == 0 || in->n_answers > INTERVIEW_ANSWERS_MAX)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "answers",
                         "AgentSaveAnswers takes 1 to %d answers, got %zu", INTERVIEW_ANSWERS_MAX,
                         in->n_answers);
    struct save_req *s = calloc(1, sizeof *s);
    struct qreq *q = s ? qreq_new(a, rid, call->attempt_id) : NULL;
    if (!q) {
        free(s);
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    s->q = q;
    s->campaign_id = call->camp->id;
    s->contact_id = call->contact_id;
    s->agent_id = a->user_id;
    s->msg = in;
    env->agent_save_answers = NULL;
    env->body_case = CARILLON__V1__ENVELOPE__BODY__NOT_SET;
    if (store_interview_questions(a->eng->srv->pg, s->campaign_id, on_questions, s) != 0) {
        (void)qreq_done(q);
        save_req_free(s);
        tag_error(a->link, a->client_tag, a->session_id, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the database is unavailable, try again");
    }
}

static void on_interview_action(void *arg, int err)
{
    struct qreq *q = arg;
    (void)qreq_done(q);
    if (err == -ENOENT)
        tag_error(q->c, q->client_tag, q->session_id, q->rid,
                  CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                  "attempt %" PRId64 " is already qualified or closed", q->attempt_id);
    else if (err)
        tag_error(q->c, q->client_tag, q->session_id, q->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the interview was not changed: the database is unavailable, try again");
    else
        tag_ok(q->c, q->client_tag, q->session_id, q->rid);
    qreq_free(q);
}

/* Cancel or suspend: the contact's interview changes now; the call still needs its
 * qualification, which leaves a cancelled or suspended interview as it is (migration 015). */
static void handle_interview_action(struct agent *a, uint64_t rid,
                                    const Carillon__V1__AgentInterviewAction *in)
{
    struct call *call = interview_call(a, rid, in->attempt_id);
    if (!call)
        return;
    if (strcmp(in->action, "cancel") != 0 && strcmp(in->action, "suspend") != 0)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "action",
                         "action is cancel or suspend, got '%.64s'", in->action);
    if (strlen(in->reason) > INTERVIEW_REASON_MAX)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "reason",
                         "a reason is at most %d bytes", INTERVIEW_REASON_MAX);
    struct qreq *q = qreq_new(a, rid, call->attempt_id);
    if (!q)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    cr_log_info("interview_action", "agent=%s attempt=%" PRId64 " contact=%" PRId64 " action=%s",
                a->login, call->attempt_id, call->contact_id, in->action);
    if (store_interview_action(a->eng->srv->pg, call->camp->id, call->contact_id, call->attempt_id,
                               a->user_id, engine_now_ms(a->eng->srv), in->action, in->reason,
                               on_interview_action, q) != 0) {
        (void)qreq_done(q);
        qreq_free(q);
        tag_error(a->link, a->client_tag, a->session_id, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE,
                  NULL, "the database is unavailable, try again");
    }
}

static void handle_call_action(struct agent *a, uint64_t rid, const Carillon__V1__Envelope *env)
{
    struct engine *e = a->eng;
    uint64_t id =
        env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL   ? env->agent_dial->attempt_id
        : env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP ? env->agent_skip->attempt_id
                                                                    : env->agent_hangup->attempt_id;
    struct call *call = a->call;
    if (!call || (uint64_t)call->attempt_id != id)
        return tag_error(a->link, a->client_tag, a->session_id, rid,
                         CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                         "attempt %" PRIu64 " is not your current call", id);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL:
        if (call->state != CALL_PREVIEW)
            return tag_error(a->link, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                             "attempt %" PRIu64 " is not a preview waiting to be dialled", id);
        sched_preview_dial(e, call);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP:
        if (call->state != CALL_PREVIEW)
            return tag_error(a->link, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                             "attempt %" PRIu64 " is not a preview: hang up instead", id);
        if (strlen(env->agent_skip->reason) > 128)
            return tag_error(a->link, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "reason",
                             "a skip reason is at most 128 bytes");
        sched_preview_skip(
            e, call, env->agent_skip->reason[0] ? env->agent_skip->reason : "skipped by the agent");
        break;
    default:
        if (call->state == CALL_TALKED || call->state == CALL_PREVIEW)
            return tag_error(a->link, a->client_tag, a->session_id, rid,
                             CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "attempt_id",
                             "attempt %" PRIu64 " has no call up to hang up", id);
        sched_hangup(e, call);
        break;
    }
    tag_ok(a->link, a->client_tag, a->session_id, rid);
}

void engine_agentd_message(struct client *c, Carillon__V1__Envelope *env)
{
    struct engine *e = c->srv->engine;
    uint64_t rid = env->request_id;
    const Carillon__V1__AgentTag *tag = env->agent;
    if (!tag || !tag->client) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "agent",
                     "every message on an agentd link names its agent (Envelope.agent)");
        goto done;
    }
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN) {
        if (!rid)
            tag_error(c, tag->client, 0, 0, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "request_id",
                      "a request needs a non-zero request_id");
        else
            handle_login(e, c, tag->client, rid, env->agent_login);
        goto done;
    }
    struct agent *a = agent_by_session(e, tag->session);
    if (!a || a->link != c || a->client_tag != tag->client) {
        if (env->body_case != CARILLON__V1__ENVELOPE__BODY_AGENT_DETACHED)
            tag_error(c, tag->client, tag->session, rid, CARILLON__V1__CODE__CODE_UNAUTHENTICATED,
                      NULL, "no session %" PRIu64 " for this client: log in first", tag->session);
        goto done;
    }
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_DETACHED) {
        agent_detach(a, "client went away");
        goto done;
    }
    if (!rid) {
        tag_error(c, tag->client, tag->session, 0, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                  "request_id", "a request needs a non-zero request_id");
        goto done;
    }
    /* the in-flight bound is per agent session, not per agentd link */
    if (a->in_flight >= e->srv->cfg.max_requests_in_flight) {
        tag_error(c, tag->client, tag->session, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED,
                  NULL, "%d requests of this session in flight (max_requests_in_flight)",
                  a->in_flight);
        goto done;
    }
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SET_STATE:
        handle_set_state(a, rid, env->agent_set_state);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_QUALIFY:
        handle_qualify(a, rid, env->agent_qualify);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS:
        handle_save_answers(a, rid, env);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_INTERVIEW_ACTION:
        handle_interview_action(a, rid, env->agent_interview_action);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP:
        handle_call_action(a, rid, env);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGOUT:
        if (a->call && a->call->state != CALL_PREVIEW) {
            tag_error(c, tag->client, tag->session, rid,
                      CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "state",
                      "finish and qualify the call first (attempt %" PRId64 ")",
                      a->call->attempt_id);
            break;
        }
        tag_ok(c, tag->client, tag->session, rid);
        agent_end(a, "logout");
        break;
    default:
        tag_error(c, tag->client, tag->session, rid, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                  "an agentd link does not take this message");
        break;
    }
done:
    carillon__v1__envelope__free_unpacked(env, NULL);
}
