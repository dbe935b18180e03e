/* The agent client library: one agent's link to carillon-agentd (TLS 1.3, Hello ROLE_AGENT,
 * AgentLogin), on libuv. It logs in by itself, keeps the session token and, when the link
 * drops, reconnects (same or next agentd, bounded backoff) and resumes the session with it.
 * Used by carillon-agent --script/--auto (script.c) and by the console (tui.c). */
#ifndef CARILLON_AGENTCLIENT_H
#define CARILLON_AGENTCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "carillon/v1/envelope.pb-c.h"

struct agentclient; /* allocated by agentclient_new; freed by the loop after agentclient_close */

enum agentclient_state {
    /* No link: connecting (first time, or again after AGENTCLIENT_LINK_DOWN). */
    AGENTCLIENT_CONNECTING = 0,
    /* TLS up and Welcome received from an agentd; AgentLogin (or its resume) sent. */
    AGENTCLIENT_LINK_UP = 1,
    /* AgentLoginOk received: the session is usable (agentclient_login_ok has it). Reported
     * again after every successful resume (AgentLoginOk.resumed is then true; reason
     * "resumed") and after logging in again once the session was gone (reason "new
     * session"; the first login's reason is "logged in"). */
    AGENTCLIENT_LOGGED_IN = 2,
    /* The link dropped (reason says why); the client reconnects and resumes by itself. Also
     * when the login (or its resume) was answered UNAVAILABLE (agentd's server link is down,
     * the server's database is): the next agentd is tried after the backoff. */
    AGENTCLIENT_LINK_DOWN = 3,
    /* Final: the server refused the login (wrong password, unknown campaign, ...; reason is
     * the server's Error message). No retry. */
    AGENTCLIENT_LOGIN_FAILED = 4,
    /* Final: AgentSessionEnded received (logout, grace over, user disabled, resumed
     * elsewhere); reason says which. No retry. (A resume refused because the session is gone,
     * e.g. after its grace or a server restart, is not final: the client logs in again with
     * its password and reports LINK_UP "session expired: logging in again", then LOGGED_IN
     * "new session". That holds for its own resume after a reconnect and for agentd's
     * re-announce after agentd's server link came back: agentd then sends an Error with
     * request_id 0, code UNAUTHENTICATED, field "resume_token", which on_envelope sees too.) */
    AGENTCLIENT_SESSION_ENDED = 5,
};

/* "connecting", "link_up", "logged_in", "link_down", "login_failed", "session_ended". */
const char *agentclient_state_name(enum agentclient_state s);

struct agentclient_opts {
    /* agentd addresses "host:port" ("[v6]:port"), tried in turn: the next one after a failure. */
    const char *const *agentd;
    size_t n_agentd;     /* 1..16 */
    const char *ca_file; /* PEM CA that signed the agentds' client-side certificates (required) */
    const char *login;
    const char *password;
    const char *softphone;        /* sip: or sips: URI the dialer calls for the nailed-up leg */
    const char *const *campaigns; /* campaigns to log into; n_campaigns 0 = all assigned ones */
    size_t n_campaigns;
    unsigned backoff_min_ms; /* reconnect backoff, doubled per failure; 0 = 200 */
    unsigned backoff_max_ms; /* its bound; 0 = 5000 */
    size_t max_frame;        /* 0 = CR_FRAME_DEFAULT_MAX */
};

/* Callbacks run on the loop's thread. They may call agentclient_send and agentclient_close
 * (after close, no further callback comes). */
struct agentclient_cbs {
    /* Every envelope received from agentd (answers and pushes), Welcome and Pong excepted.
     * request_id: the id agentclient_send returned for the request it answers, 0 for a push.
     * The client's own AgentLogin answers (AgentLoginOk, Error) come through too, with ids the
     * caller never saw. env is valid during the call only. May be NULL. */
    void (*on_envelope)(struct agentclient *c, uint64_t request_id,
                        const Carillon__V1__Envelope *env, void *data);
    /* The state changed; reason: a short human text ("connection refused", "resumed",
     * "logout", the server's error message), never NULL. May be NULL. */
    void (*on_state)(struct agentclient *c, enum agentclient_state state, const char *reason,
                     void *data);
};

/* Copies opts (strings included) and cbs. Nothing happens before the loop runs: the first
 * connection starts from the loop, so callbacks may still be replaced. Returns 0 or -EINVAL
 * (bad option: err names it), -ENOMEM. On failure *out is untouched. */
int agentclient_new(uv_loop_t *loop, const struct agentclient_opts *opts,
                    const struct agentclient_cbs *cbs, void *data, struct agentclient **out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Replaces the callbacks and their data (the console takes over a client made by main.c). */
void agentclient_set_callbacks(struct agentclient *c, const struct agentclient_cbs *cbs,
                               void *data);

/* Sends one agent request (body among the agent messages: AgentSetState, AgentDial, AgentSkip,
 * AgentHangup, AgentQualify, AgentLogout, AgentSaveAnswers, AgentInterviewAction, or Ping).
 * Sets env->request_id to a fresh id; the caller keeps ownership of env. Returns the id (> 0)
 * or a negative errno: -ENOTCONN (not logged in right now: the link is down or resuming),
 * -EINVAL (not an agent request), -EMSGSIZE (over max_frame), -EPIPE (closed or final). */
int64_t agentclient_send(struct agentclient *c, Carillon__V1__Envelope *env)
    __attribute__((warn_unused_result));

enum agentclient_state agentclient_state(const struct agentclient *c);
/* The last AgentLoginOk (campaigns, qualifications, pause reasons, session, state), or NULL
 * before the first login. Valid until the next callback. */
const Carillon__V1__AgentLoginOk *agentclient_login_ok(const struct agentclient *c);
/* The agentd "host:port" in use (or being tried). */
const char *agentclient_agentd(const struct agentclient *c);
uv_loop_t *agentclient_loop(const struct agentclient *c);
void *agentclient_data(const struct agentclient *c);

/* Closes the link (an orderly close: agentd tells the server the agent detached, so the
 * session waits agent_grace; send AgentLogout first to end it). No callback runs after this
 * returns; the memory is freed once the loop has closed the handles (uv_run then returns when
 * nothing else is active). Safe from inside a callback; idempotent. */
void agentclient_close(struct agentclient *c);

#endif
