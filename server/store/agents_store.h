/* SQL of the agents' sessions (engine/agents.c): the campaigns an agent may work on, the
 * session row, every state change with its time, and the contact shown when a call connects. */
#ifndef CARILLON_AGENTS_STORE_H
#define CARILLON_AGENTS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "carillon/pg.h"

struct store_agent_campaign {
    int64_t id;
    const char *name, *state, *number_for_agents, *dialing_mode, *pause_reasons;
    unsigned wrapup_max_s;
    /* "code\x1ename\x1efinal(t/f)\x1ecallback\x1emin\x1emax" joined by \x1f, in order */
    const char *qualifications;
};
typedef void (*store_agent_campaigns_cb)(void *arg, int err,
                                         const struct store_agent_campaign *rows, int n);
/* The campaigns user_id is assigned to (by name or profile) that are ready, running or paused. */
int store_agent_campaigns(struct cr_pg *pg, int64_t user_id, store_agent_campaigns_cb cb, void *arg)
    __attribute__((warn_unused_result));

typedef void (*store_id_cb)(void *arg, int err, int64_t id);
/* A new session (a live one of the same user is closed first, reason "replaced"). */
int store_agent_session_open(struct cr_pg *pg, int64_t user_id, const char *token_sha256,
                             const char *softphone, const int64_t *campaigns, int ncampaigns,
                             const char *address, const char *agentd_node, const char *state,
                             int64_t now_ms, store_id_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* A state change: the session's state and one agent_states row (cb may be NULL). */
int store_agent_state(struct cr_pg *pg, int64_t session_id, const char *state, const char *reason,
                      int64_t attempt_id, const char *dialer_node, int64_t now_ms, cr_pg_cb cb,
                      void *arg) __attribute__((warn_unused_result));
int store_agent_session_close(struct cr_pg *pg, int64_t session_id, const char *reason,
                              int64_t now_ms, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Sessions left open by a previous run of the server are closed at start; res[0] has their ids
 * (their agents' legs may still be up on a dialer that outlived the server). */
int store_agent_sessions_close_all(struct cr_pg *pg, const char *reason, int64_t now_ms,
                                   cr_pg_cb cb, void *arg) __attribute__((warn_unused_result));

/* What an agent sees of a contact: the pop-up fields (names in order, \x1f-separated, builtin
 * columns or the campaign's own fields) with their labels and values. */
struct store_popup_field {
    const char *name, *label, *value;
};
struct store_popup {
    int64_t contact_id;
    const char *last_qualification;
    unsigned attempts;
    const struct store_popup_field *fields;
    int nfields;
};
typedef void (*store_popup_cb)(void *arg, int err, const struct store_popup *p);
int store_contact_popup(struct cr_pg *pg, int64_t contact_id, const char *fields_us,
                        store_popup_cb cb, void *arg) __attribute__((warn_unused_result));
/* The same statement in a batch (store/interview.c), and its result read: p's strings point
 * into res; *fields is malloc'd (the caller frees it). 0, -ENOENT (no contact) or -ENOMEM. */
int store_contact_popup_add(struct cr_pg_batch *b, const char *contact_id, const char *fields_us)
    __attribute__((warn_unused_result));
int store_popup_parse(const PGresult *res, struct store_popup *p, struct store_popup_field **fields)
    __attribute__((warn_unused_result));

#endif
