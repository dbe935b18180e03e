/* Per-peer limits of the server's person connections, after PgBouncer's max_client_conn,
 * client_login_timeout and client_idle_timeout: how many wait to log in, how long, how many are
 * logged in, how long they may idle, and how many requests each may have in flight. */
#ifndef CARILLON_LIMITS_H
#define CARILLON_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "carillon/v1/envelope.pb-c.h"

struct client;
struct server;

/* Which count a client is in (what limits.c last accounted, not the session state itself). */
enum limits_class {
    LIMITS_NONE,    /* not yet counted, or closed */
    LIMITS_PENDING, /* TLS, Hello or Login not finished */
    LIMITS_USER,    /* a logged-in person */
    LIMITS_DAEMON,  /* a daemon link (dialer, agentd), counted apart */
};

/* Embedded in struct client; zeroed by its calloc. */
struct client_limits {
    enum limits_class cls;
    uint64_t since_ms;                    /* accepted, or back to pending after a logout */
    uint64_t last_active_ms;              /* last request received */
    int in_flight;                        /* requests dispatched and not yet answered */
    bool paused;                          /* reading stopped for back-pressure */
    bool closing;                         /* a limit closed it: out of every count already */
    struct client *pend_next, *pend_prev; /* the pending list, oldest first */
};

/* Embedded in struct server. */
struct server_limits {
    int npending, nusers, ndaemons;
    struct client *pend_head, *pend_tail;
    uv_timer_t janitor;
    bool janitor_started;
};

/* Starts the janitor (login and idle timeouts, session expiry). */
void limits_start(struct server *srv);
void limits_stop(struct server *srv);
/* A connection was accepted: counts it as pending, closing the oldest pending one when
 * max_pending is reached. */
void limits_accepted(struct client *c);
/* Brings the counts in line with the client's state (after Hello, login, logout, close). */
void limits_sync(struct client *c);
/* A request arrived (before dispatch). Returns false when it was answered here (max_clients
 * at login); env is then freed. */
bool limits_request(struct client *c, Carillon__V1__Envelope *env);
/* A reply to request_id went out (or was dropped): one less in flight, reading resumes. */
void limits_replied(struct client *c, uint64_t request_id);

#endif
