/* Per-peer limits (see limits.h): the pending list (oldest first, so a flood of idle peers is
 * closed from its old end and a fresh login gets through), the counts, back-pressure on
 * requests in flight, and the janitor that enforces the login and idle timeouts. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/server.h"
#include "carillon/log.h"

#define JANITOR_MS 250 /* timeouts are enforced within this of their deadline */

static uint64_t now_ms(const struct server *srv)
{
    return uv_now(srv->loop);
}

static void pending_unlink(struct server_limits *sl, struct client *c)
{
    struct client_limits *l = &c->lim;
    if (l->pend_prev)
        l->pend_prev->lim.pend_next = l->pend_next;
    else
        sl->pend_head = l->pend_next;
    if (l->pend_next)
        l->pend_next->lim.pend_prev = l->pend_prev;
    else
        sl->pend_tail = l->pend_prev;
    l->pend_next = l->pend_prev = NULL;
}

static void pending_append(struct server_limits *sl, struct client *c)
{
    c->lim.pend_prev = sl->pend_tail;
    c->lim.pend_next = NULL;
    if (sl->pend_tail)
        sl->pend_tail->lim.pend_next = c;
    else
        sl->pend_head = c;
    sl->pend_tail = c;
}

/* Moves c from the count it is in to cls. */
static void set_class(struct client *c, enum limits_class cls)
{
    struct server_limits *sl = &c->srv->lim;
    switch (c->lim.cls) {
    case LIMITS_PENDING:
        pending_unlink(sl, c);
        sl->npending--;
        break;
    case LIMITS_USER:
        sl->nusers--;
        break;
    case LIMITS_DAEMON:
        sl->ndaemons--;
        break;
    case LIMITS_NONE:
        break;
    }
    c->lim.cls = cls;
    switch (cls) {
    case LIMITS_PENDING:
        c->lim.since_ms = now_ms(c->srv);
        pending_append(sl, c);
        sl->npending++;
        break;
    case LIMITS_USER:
        sl->nusers++;
        break;
    case LIMITS_DAEMON:
        sl->ndaemons++;
        break;
    case LIMITS_NONE:
        break;
    }
}

/* Closes a connection a limit ends; it leaves every count at once (its close comes later). */
static void limits_close(struct client *c, bool flush)
{
    set_class(c, LIMITS_NONE);
    c->lim.closing = true;
    if (!c->conn)
        return;
    if (flush)
        cr_conn_close(c->conn);
    else
        cr_conn_abort(c->conn);
}

void limits_accepted(struct client *c)
{
    struct server *srv = c->srv;
    c->lim.last_active_ms = now_ms(srv);
    set_class(c, LIMITS_PENDING);
    /* PgBouncer refuses beyond max_client_conn; here the oldest pending peer makes room, so
     * idle peers cannot keep a real login out, whatever their number. */
    while (srv->lim.npending > srv->cfg.max_pending && srv->lim.pend_head != c) {
        struct client *old = srv->lim.pend_head;
        cr_log_warn("pending_evicted", "peer=%s age_ms=%llu pending=%d max_pending=%lld", old->peer,
                    (unsigned long long)(now_ms(srv) - old->lim.since_ms), srv->lim.npending,
                    (long long)srv->cfg.max_pending);
        limits_close(old, false);
    }
}

void limits_sync(struct client *c)
{
    enum limits_class want;
    switch (c->state) {
    case CLIENT_HELLO:
    case CLIENT_ANON:
        want = LIMITS_PENDING;
        break;
    case CLIENT_USER:
        want = LIMITS_USER;
        break;
    case CLIENT_DAEMON:
        want = LIMITS_DAEMON;
        break;
    default:
        want = LIMITS_NONE;
        break;
    }
    if (want == c->lim.cls)
        return;
    /* A connection a limit closed stays out of the counts until its close completes. */
    if (c->lim.closing)
        return;
    if (want == LIMITS_USER)
        c->lim.last_active_ms = now_ms(c->srv);
    set_class(c, want);
}

bool limits_request(struct client *c, Carillon__V1__Envelope *env)
{
    struct server *srv = c->srv;
    c->lim.last_active_ms = now_ms(srv);
    if (env->request_id == 0)
        return true;
    c->lim.in_flight++;
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_LOGIN && c->state == CLIENT_ANON &&
        srv->lim.nusers >= srv->cfg.max_clients) {
        cr_log_warn("login_refused", "peer=%s reason=max_clients users=%d max_clients=%lld",
                    c->peer, srv->lim.nusers, (long long)srv->cfg.max_clients);
        client_error(c, env->request_id, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                     "the server has %d sessions, its limit (max_clients = %lld): try again later",
                     srv->lim.nusers, (long long)srv->cfg.max_clients);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return false;
    }
    if (c->lim.in_flight >= srv->cfg.max_requests_in_flight && !c->lim.paused && c->conn) {
        c->lim.paused = true;
        cr_conn_pause(c->conn);
        cr_log_info("backpressure",
                    "peer=%s user=%s in_flight=%d max_requests_in_flight=%lld "
                    "action=stop_reading",
                    c->peer, c->state == CLIENT_USER ? cr_log_q(c->user.login) : "-",
                    c->lim.in_flight, (long long)srv->cfg.max_requests_in_flight);
    }
    return true;
}

void limits_replied(struct client *c, uint64_t request_id)
{
    if (request_id == 0)
        return;
    if (c->lim.in_flight > 0)
        c->lim.in_flight--;
    if (c->lim.paused && c->lim.in_flight < c->srv->cfg.max_requests_in_flight) {
        c->lim.paused = false;
        if (c->conn)
            cr_conn_resume(c->conn);
    }
}

/* --- the janitor ------------------------------------------------------------------------ */

static void check_user(struct client *c, uint64_t now, int64_t wall_s)
{
    struct server *srv = c->srv;
    if (c->session_expires_at && wall_s >= c->session_expires_at) {
        cr_log_info("session_expired", "peer=%s user=%s action=close", c->peer,
                    cr_log_q(c->user.login));
        client_error(c, 0, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, NULL,
                     "your session expired: log in again");
        limits_close(c, true);
        return;
    }
    if (srv->cfg.idle_timeout_ms > 0 && c->lim.in_flight == 0 &&
        now - c->lim.last_active_ms >= (uint64_t)srv->cfg.idle_timeout_ms) {
        cr_log_info("idle_timeout", "peer=%s user=%s idle_ms=%llu idle_timeout_ms=%lld", c->peer,
                    cr_log_q(c->user.login), (unsigned long long)(now - c->lim.last_active_ms),
                    (long long)srv->cfg.idle_timeout_ms);
        client_error(c, 0, CARILLON__V1__CODE__CODE_DEADLINE_EXCEEDED, NULL,
                     "closed after %lld ms without a request (idle_timeout)",
                     (long long)srv->cfg.idle_timeout_ms);
        limits_close(c, true);
    }
}

static void on_janitor(uv_timer_t *t)
{
    struct server *srv = t->data;
    uint64_t now = now_ms(srv);
    /* The pending list is in age order: only its expired head is visited. */
    while (srv->lim.pend_head &&
           now - srv->lim.pend_head->lim.since_ms >= (uint64_t)srv->cfg.login_timeout_ms) {
        struct client *c = srv->lim.pend_head;
        cr_log_warn(
            "login_timeout", "peer=%s state=%s age_ms=%llu login_timeout_ms=%lld action=close",
            c->peer, c->state == CLIENT_HELLO ? "hello" : "login",
            (unsigned long long)(now - c->lim.since_ms), (long long)srv->cfg.login_timeout_ms);
        limits_close(c, false);
    }
    int64_t wall_s = (int64_t)time(NULL);
    for (struct client *c = srv->clients; c; c = c->next)
        if (c->lim.cls == LIMITS_USER)
            check_user(c, now, wall_s);
}

void limits_start(struct server *srv)
{
    uv_timer_init(srv->loop, &srv->lim.janitor);
    srv->lim.janitor.data = srv;
    uv_timer_start(&srv->lim.janitor, on_janitor, JANITOR_MS, JANITOR_MS);
    srv->lim.janitor_started = true;
}

void limits_stop(struct server *srv)
{
    if (srv->lim.janitor_started && !uv_is_closing((uv_handle_t *)&srv->lim.janitor))
        uv_close((uv_handle_t *)&srv->lim.janitor, NULL);
}
