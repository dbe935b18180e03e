/* The campaign engine: the server runs campaigns. Running campaigns (scheduler.c) claim contacts
 * and send call orders to the dialers (dialers.c: registry, placement, event ingest, grace), and
 * hand answered calls to agent sessions (agents.c: the agentd link, states, grace). The pacing
 * module (pacing.c) decides how many calls; PostgreSQL holds every fact (store/attempts.c).
 *
 * Everything runs on the server's libuv loop. In memory: the dialers, the agent sessions, the
 * running campaigns and their calls in flight; all of it can be rebuilt from PostgreSQL after a
 * restart (open attempts wait dialer_grace for their dialer, then close as lost). */
#ifndef CARILLON_ENGINE_H
#define CARILLON_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "carillon/v1/envelope.pb-c.h"
#include "engine/compliance.h"
#include "engine/pacing.h"

struct server;
struct client;

#define ENGINE_NODE_MAX        64
#define ENGINE_NAME_MAX        129
#define ENGINE_CAMPAIGNS       16 /* campaigns one agent works on at once */
#define ENGINE_REASON_MAX      33
#define ENGINE_CALL_BUCKETS    1024
#define ENGINE_AMD_MESSAGE_MAX 65 /* a message name (api: 32 bytes) and its NUL */
/* The longest an answered call waits for its AMD verdict before the engine bridges it as "not
 * sure": dialerd's analysis stops at its total_analysis_time (30 s at most), so a verdict that
 * has not come by then never will (a dialer without AMD, a lost event), and a person must not
 * be left in silence. */
#define ENGINE_AMD_VERDICT_MAX_MS 35000

enum call_state {
    CALL_CLAIMED, /* claimed, the order not sent yet */
    CALL_PREVIEW, /* shown to an agent who dials or skips */
    CALL_PLACED,  /* PlaceCall sent */
    CALL_RINGING, /* the dialer said ringing */
    /* AMD (customer-first, the campaign's amd_enabled): answered, waiting for the dialer's
     * verdict (DETECTED), not for an agent: nothing bridges it yet. A human or not-sure verdict
     * (and a machine with connect_agent) makes it CALL_ANSWERED. */
    CALL_DETECTING,
    /* AMD said machine with hang_up or leave_message: the dialer hangs up (after the message)
     * and ENDED says outcome machine; no agent is needed. */
    CALL_MACHINE,
    CALL_ANSWERED, /* answered, waiting for an agent (customer-first) */
    CALL_BRIDGED,  /* an agent is bridged (agent-first: also while ringing) */
    CALL_TALKED,   /* ended after a conversation: waiting for the qualification */
};

enum dialer_link {
    DIALER_UP,    /* connected and resumed */
    DIALER_GRACE, /* the link dropped: its calls stay open until the grace ends */
    DIALER_GONE,  /* its grace ended (or it came back with a new boot): its attempts closed */
};

struct dialer {
    struct engine *eng;
    struct dialer *next;
    struct client *c; /* NULL when not connected */
    char node[ENGINE_NODE_MAX];
    uint64_t boot_id;
    enum dialer_link link;
    unsigned max_calls, max_cps, active_calls; /* from its DialerCapacity */
    int64_t hold_until_ms; /* its trunk asked for no new calls until then (503 Retry-After) */
    unsigned in_flight;    /* our calls on it not ended yet */
    unsigned legs;         /* agent legs opened on it */
    int64_t last_seen_ms, lost_at_ms;
    bool resumed;            /* DialerResume sent */
    int64_t reconcile_at_ms; /* then, close its attempts it never reported on */
    /* events received, waiting to be stored (one batch in flight at a time) */
    Carillon__V1__Envelope **queue;
    unsigned nqueue, cap_queue;
    unsigned storing;     /* batches in flight */
    bool store_failed;    /* a batch failed on this link: acknowledge nothing more */
    unsigned gen;         /* the link's generation: a batch acknowledges only within its own */
    uint64_t applied_seq; /* highest seq whose in-memory effects ran */
    uint64_t rid;
};

struct ecampaign;
struct agent;

struct call {
    struct call *hnext;       /* hash chain */
    struct call *next, *prev; /* the campaign's calls */
    struct ecampaign *camp;
    struct dialer *dialer;
    struct agent *agent; /* reserved or bridged */
    int64_t attempt_id, contact_id;
    char number[24];
    enum call_state state;
    bool agent_first;
    int amd_mode;    /* Carillon__V1__AmdMode the order was placed with */
    int amd_verdict; /* Carillon__V1__AmdVerdict of its DETECTED event, 0 before */
    int64_t claimed_ms, placed_ms, answered_ms, bridged_ms, ended_ms, not_after_ms;
    int64_t detected_ms;         /* the verdict (AMD), 0: none */
    int64_t verdict_due_mono_ms; /* CALL_DETECTING: past this, no verdict is coming */
    int64_t preview_deadline_ms;
};

/* A running campaign's settings (reloaded each second) and live figures. */
struct ecampaign {
    struct ecampaign *next;
    struct engine *eng;
    int64_t id;
    char name[ENGINE_NAME_MAX];
    enum pacing_mode mode;
    bool agent_first;
    unsigned max_simultaneous, ring_timeout_s, abandon_after_ms, wrapup_max_s;
    unsigned preview_timeout_s;
    bool preview_dial_on_timeout;
    double power_ratio, abandon_target;
    int compliance; /* enum compliance_profile */
    char number_for_agents[33], number_for_customers[33];
    char pause_reasons[512]; /* comma-separated; empty: the server's */
    char popup_fields[1024]; /* \x1f-separated names */
    bool in_schedule;
    int64_t slot_end_ms;
    bool seen;      /* mark of the reload */
    bool draining;  /* no longer running: its calls in flight end, nothing new */
    bool claiming;  /* one claim in flight */
    bool exhausted; /* the last claim found fewer than asked: wait a second */
    int64_t exhausted_at_ms;
    bool abandon_capped; /* US/UK: the legal abandon rate is reached */
    unsigned answered_day, abandoned_day, answered_30d, abandoned_30d; /* the ledger */
    struct compliance_time local; /* the campaign's local time at the last reload */
    struct pacing_state *pacing;
    struct call *calls; /* in flight (placed to qualified) */
    unsigned ncalls, nringing, nwaiting;
    char idle[64]; /* why it dials nothing, or "" */
    /* live counters since the server started */
    uint64_t placed, answered, abandoned, connected;
    bool auto_answered; /* automatic qualification of answered calls: no wrap-up (016) */
    /* answering-machine detection (017): off, or Carillon__V1__AmdAction with the message to
     * leave (ENGINE_AMD_MESSAGE_MAX as the API bounds it) */
    bool amd_enabled;
    int amd_action;
    char amd_message[ENGINE_AMD_MESSAGE_MAX];
};

struct agent {
    struct agent *next;
    struct engine *eng;
    uint64_t session_id;
    int64_t user_id;
    char login[65];
    char display_name[513];
    char token_sha256[65];
    char softphone[257];
    char address[48];
    struct client *link; /* the agentd link; NULL in grace */
    uint64_t client_tag; /* agentd's number for the client */
    int64_t grace_until_ms;
    struct dialer *dialer;
    bool leg_up;
    int state; /* Carillon__V1__AgentState */
    char reason[ENGINE_REASON_MAX];
    int64_t since_ms;
    int64_t campaign_ids[ENGINE_CAMPAIGNS];
    int ncampaigns;
    struct call *call; /* the call reserved, bridged, offered or in wrap-up */
    int64_t talk_ms;
    int in_flight;                    /* requests of this session being handled */
    bool pause_requested;             /* paused while connecting */
    Carillon__V1__AgentCampaign *acs; /* what AgentLoginOk said of its campaigns (resume) */
    int nacs;
    bool ending;
};

struct engine {
    struct server *srv;
    uv_timer_t tick;
    bool ticking;
    int64_t last_reload_ms, last_sweep_ms;
    bool reloading;
    struct dialer *dialers;
    struct agent *agents;
    struct ecampaign *campaigns;
    struct call *buckets[ENGINE_CALL_BUCKETS];
    /* sessions a previous run left open: their legs are closed on every dialer that resumes */
    uint64_t *stale_legs;
    int nstale_legs;
    bool reconciled;
};

/* --- engine.c / scheduler.c --- */
int engine_start(struct server *srv) __attribute__((warn_unused_result));
void engine_stop(struct server *srv);
/* Frees what the engine holds, once the loop has ended. */
void engine_free(struct server *srv);
/* The engine's clock, unix ms: the wall clock, moved by [testing] clock_offset in test builds. */
int64_t engine_now_ms(const struct server *srv);
/* A monotonic clock in ms for the engine's own intervals (graces, reloads): it never jumps,
 * whatever the wall clock or clock_offset do. */
int64_t engine_mono_ms(const struct server *srv);
/* A message on a dialer or agentd link (owns env). */
void engine_dialer_message(struct client *c, Carillon__V1__Envelope *env);
void engine_agentd_message(struct client *c, Carillon__V1__Envelope *env);
/* A dialer or agentd link closed. */
void engine_client_closed(struct client *c);

/* What the engine knows of a campaign now (stats): zeros and loaded=false when it does not run
 * here. */
struct engine_live {
    bool loaded, in_schedule;
    char idle[64]; /* why it dials nothing, "" when it dials */
    const char *mode;
    unsigned calls_up, ringing, waiting, talked_unqualified;
    unsigned detecting;  /* answered, AMD verdict pending, or a machine being hung up */
    unsigned agents[10]; /* by Carillon__V1__AgentState, agents serving the campaign */
    double answer_rate, window_abandon_rate, risk_scale;
    bool pacing_history;
    uint64_t placed, answered, abandoned, connected; /* since the server started */
};
void engine_campaign_live(const struct server *srv, int64_t campaign_id, struct engine_live *out);

/* internal, between the engine's files */
struct call *call_find(struct engine *e, int64_t attempt_id);
void call_forget(struct call *call);
struct ecampaign *campaign_find(struct engine *e, int64_t id);
/* An event's in-memory effects (dialers.c calls it once per new event). */
void sched_call_event(struct engine *e, struct dialer *d, const Carillon__V1__CallEvent *ev);
/* An agent became free (ready): a waiting answered call may take it. */
void sched_agent_ready(struct engine *e, struct agent *a);
void sched_tick(struct engine *e);
/* An agent leaves with a call: a preview or an unqualified talk closes, a call up is hung up. */
void sched_agent_gone(struct engine *e, struct agent *a);
/* The agent's qualification is stored: the call is done, the agent free. */
void sched_qualified(struct engine *e, int64_t attempt_id, struct agent *a);
void sched_hangup(struct engine *e, struct call *call);
void sched_preview_dial(struct engine *e, struct call *call);
void sched_preview_skip(struct engine *e, struct call *call, const char *reason);
const char *engine_outcome_word(int outcome);
/* Carillon__V1__AmdVerdict as attempts.amd_verdict writes it; "" for none. */
const char *engine_amd_verdict_word(int verdict);
void dialers_client_closed(struct engine *e, struct client *c);
void agents_client_closed(struct engine *e, struct client *c);

/* dialers.c */
struct dialer *dialer_for_agent(struct engine *e);
struct dialer *dialer_for_customer(struct engine *e, struct ecampaign *camp);
unsigned dialers_free(struct engine *e);
int dialer_send(struct dialer *d, Carillon__V1__Envelope *env);
/* Stores the events d has queued now, even with a batch in flight: what is written next (a
 * qualification) must come after them. */
void dialer_flush(struct dialer *d);
void dialers_sweep(struct engine *e, int64_t mono);
void dialers_reconcile_start(struct engine *e);
void dialers_free_all(struct engine *e);

/* agents.c */
void agent_set_state(struct agent *a, int state, const char *reason);
void agent_push(struct agent *a, Carillon__V1__Envelope *env);
void agent_leg_event(struct engine *e, const Carillon__V1__AgentLegEvent *ev);
void agents_sweep(struct engine *e, int64_t mono);
void agents_dialer_back(struct engine *e, struct dialer *d, bool new_boot);
bool agent_serves(const struct agent *a, int64_t campaign_id);
void agents_free_all(struct engine *e);
/* The call connected to the agent: CallConnected with the contact's pop-up fields and the
 * interview window (store/interview.c), loaded in one batch; a preview's CallOffered too. */
void agent_call_connected(struct agent *a, struct call *call, bool ringing);
void agent_call_offered(struct agent *a, struct call *call);
/* Pushes CallEnded to the agent's client, nothing else. */
void agent_push_call_ended(struct agent *a, int64_t attempt_id, const char *outcome,
                           const char *hung_up_by);
void agent_call_ended(struct agent *a, struct call *call, const char *outcome,
                      const char *hung_up_by, bool talked);

#ifdef CARILLON_TESTING
/* benchpush.c: starts [testing] bench_push_rate's generator at the first agent login. */
void benchpush_kick(struct engine *e);
/* benchpush.c: a is being freed (its generator never keeps a pointer to it). */
void benchpush_forget(struct agent *a);
#endif

#endif
