/* SQL of the campaign engine: claims, call events, closes and qualifications of attempts, and
 * the agents' sessions. The transactions themselves are the functions of migration
 * 012_engine.sql (carillon_claim, carillon_call_event, carillon_attempt_close,
 * carillon_attempt_qualify): each is one statement, so one transaction, and this file is their
 * only caller. Times are unix milliseconds of the engine's clock (engine_now_ms), passed to
 * PostgreSQL as timestamps so that tests can move the clock. */
#ifndef CARILLON_ATTEMPTS_STORE_H
#define CARILLON_ATTEMPTS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/pg.h"
#include "engine/compliance.h"

#define STORE_NUMBER_MAX     24 /* E.164 with its +, and the NUL */
#define STORE_AMD_REASON_MAX 32 /* bytes of an AMD reason word kept (store_call_events) */

/* One claim: up to n contacts of a campaign (carillon_claim says which may be claimed). */
struct store_claim_req {
    int64_t campaign_id;
    int n;
    int64_t now_ms;
    const struct compliance_window *win; /* the profile's windows; nwin 0: no hours limit */
    size_t nwin;
    enum compliance_profile profile;
    const int64_t *ready; /* agents ready for the campaign (assigned contacts) */
    size_t nready;
    int64_t for_agent; /* preview: the agent the contact is for; 0: none */
    bool agent_first;
    int64_t slot_end_ms; /* end of the schedule slot; 0: none */
    const char *node;    /* the dialer the calls go to, recorded on the attempts */
};

struct store_claimed {
    int64_t attempt_id, contact_id;
    int64_t agent_id; /* the contact's assigned (or preview) agent, 0 if none */
    char number[STORE_NUMBER_MAX];
    int64_t not_after_ms; /* 0: none */
    bool callback;
};
typedef void (*store_claim_cb)(void *arg, int err, const struct store_claimed *rows, int n);

/* err as store.h says; rows live during the callback only. */
int store_claim(struct cr_pg *pg, const struct store_claim_req *q, store_claim_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* One dialer CallEvent to store (strings may be empty, times 0 when the step did not happen,
 * ring_ms/talk_ms -1 when unknown). */
struct store_call_event {
    uint64_t boot_id, seq; /* seq 0: not from a dialer's numbered stream (no dedup) */
    const char *node;
    int64_t attempt_id;
    const char *state;   /* ringing, answered, detected, ended */
    const char *outcome; /* outcome word when ended, else "" */
    int64_t now_ms;
    const char *call_id;
    unsigned sip_status;
    const char *hung_up_by; /* customer, dialer or "" */
    int64_t sent_at_us, ringing_at_us, answered_at_us, ended_at_us;
    int ring_ms, talk_ms;
    const char *detail;
    /* the AMD verdict the event carries (DETECTED, and ENDED after one): human, machine,
     * not_sure, or "" (none: the other amd_* are then ignored); times from the answer */
    const char *amd_verdict;
    const char *amd_reason;
    unsigned amd_ms, amd_greeting_end_ms;
};
/* results[i]: what carillon_call_event said of events[i] (duplicate, unknown, progress, talked,
 * or the contact's new state). */
typedef void (*store_events_cb)(void *arg, int err, const char *const *results, int n);
/* Stores n events in one transaction (all or nothing): acknowledge them to the dialer after
 * cb. n at most STORE_EVENTS_MAX. */
#define STORE_EVENTS_MAX 256
int store_call_events(struct cr_pg *pg, const struct store_call_event *ev, int n,
                      store_events_cb cb, void *arg) __attribute__((warn_unused_result));

/* What a close or a qualification left: the contact's state, or err (-EINVAL with msg saying
 * why for a refused qualification). */
typedef void (*store_state_cb)(void *arg, int err, const char *state, const char *msg);
/* Closes an attempt without a qualification (lost, expired, skipped, an unqualified talk). */
int store_attempt_close(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *outcome,
                        bool counted, const char *detail, store_state_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* callback_at_ms 0: none. */
int store_attempt_qualify(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *code,
                          int64_t by, int64_t callback_at_ms, bool personal, store_state_cb cb,
                          void *arg) __attribute__((warn_unused_result));
/* The agent was bridged to (or reserved for) the call at now_ms: the contact's interview is
 * started (seed 003). */
int store_attempt_bridged(struct cr_pg *pg, int64_t attempt_id, int64_t agent_id, int64_t now_ms,
                          cr_pg_cb cb, void *arg) __attribute__((warn_unused_result));

/* Attempts of a dialer node still open (for the grace and the start-up reconciliation); quiet:
 * only those the dialer never reported on (no ringing, answer or end), created before
 * before_ms; other_boot (non-zero): only those a boot other than it reported on. */
typedef void (*store_ids_cb)(void *arg, int err, const int64_t *ids, int n);
int store_open_attempts(struct cr_pg *pg, const char *node, bool quiet, int64_t before_ms,
                        uint64_t other_boot, store_ids_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Nodes with attempts still open (server start). */
typedef void (*store_nodes_cb)(void *arg, int err, char *const *nodes, int n);
int store_open_nodes(struct cr_pg *pg, store_nodes_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* The last event seq stored for a dialer boot (DialerResume). */
typedef void (*store_seq_cb)(void *arg, int err, uint64_t last_seq);
int store_last_seq(struct cr_pg *pg, uint64_t boot_id, store_seq_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* A running campaign as the engine reloads it each second, with its schedule evaluated at the
 * engine's clock, the stop condition it meets (or NULL), and its abandon ledger. Strings live
 * during the callback. */
struct store_running {
    int64_t id;
    const char *name, *mode, *call_order, *compliance, *number_for_agents, *number_for_customers;
    const char *pause_reasons, *popup_fields, *preview_action;
    const char *stop_reason; /* NULL: none met */
    const char *local_time;  /* "YYYY-MM-DD HH:MM:SS" in the campaign's zone */
    unsigned max_simultaneous, ring_timeout_s, abandon_after_ms, wrapup_max_s, preview_timeout_s;
    double power_ratio, abandon_target_pct;
    bool in_slot;
    int64_t slot_end_ms;
    unsigned answered_day, abandoned_day, answered_30d, abandoned_30d;
    /* qualification_mode automatic with a code for 'answered' (016): an answered call is
     * qualified when it ends and its agent is ready at once */
    bool auto_answered;
    /* answering-machine detection (017): amd_action hang_up, connect_agent or leave_message,
     * amd_message the message's name with leave_message */
    bool amd_enabled;
    const char *amd_action, *amd_message;
};
typedef void (*store_running_cb)(void *arg, int err, const struct store_running *rows, int n);
int store_running_campaigns(struct cr_pg *pg, int64_t now_ms, store_running_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* running -> finished, with the reason in the audit log. */
int store_campaign_finish(struct cr_pg *pg, int64_t campaign_id, const char *reason, cr_pg_cb cb,
                          void *arg) __attribute__((warn_unused_result));
/* The dialer an attempt was sent to, when it is not the one named at the claim. */
int store_attempt_node(struct cr_pg *pg, int64_t attempt_id, const char *node, cr_pg_cb cb,
                       void *arg) __attribute__((warn_unused_result));

/* The agent reserved for an agent-first call, written before the order goes out: a call that
 * never rings (busy, not a number) is never bridged, yet it was that agent's. */
int store_attempt_reserved(struct cr_pg *pg, int64_t attempt_id, int64_t agent_id, cr_pg_cb cb,
                           void *arg) __attribute__((warn_unused_result));

/* "2026-12-05 14:00:00.123+00" for unix milliseconds (out: at least 40 bytes). */
void store_ts(int64_t ms, char *out, size_t len);

#endif
