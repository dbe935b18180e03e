/* carillon-agentd: relays agent clients (TLS 1.3, Hello ROLE_AGENT, agent messages) to
 * carillon-server over one mutual-TLS link (role agentd), every message tagged with the
 * client's number and session (agent.proto). It keeps nothing durable: per client, in memory,
 * its session, resume token and the map of its request ids to the link's.
 *
 * Re-announce: after the server link comes back, every logged-in client's session is resumed
 * (AgentLogin{resume_token}, tagged with that client). Those answers are agentd's own and are
 * not forwarded: an AgentLoginOk updates the token. An Error UNAUTHENTICATED means the session
 * is gone (the server restarted: it keeps agent sessions in memory only; or the grace ran out):
 * the client stays connected but is logged out here, and hears it as an unsolicited
 * Error{request_id 0, code UNAUTHENTICATED, field "resume_token"}, the answer it gets to a
 * refused resume of its own; the client library then logs in again with its password through
 * the same connection (a new session), and login_timeout runs again meanwhile. Any other Error
 * (a passing failure) closes the client without ending anything: it reconnects and resumes by
 * itself. AgentSessionEnded stays what the server says (logout, resumed elsewhere, ...). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentd.h"
#include "carillon/cfg.h"
#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define TOKEN_MAX      256
#define LOGIN_MAX      128
#define CLIENT_BUCKETS 16384

/* One request of a client awaiting the server's answer. reannounce: agentd's own AgentLogin. */
struct pending {
    uint64_t link_rid;
    uint64_t client_rid;
    bool login;
    bool reannounce;
};

/* One agent client. Allocated on accept, freed in its conn's on_close (after the login timer's
 * close callback: the client is freed when both are done). */
struct client {
    struct app *app;
    struct client *next, **pprev;
    struct client *hnext, **hpprev; /* app->by_num's chain */
    struct cr_conn *conn;
    uint64_t num;
    uint64_t session;
    char token[TOKEN_MAX];
    char login[LOGIN_MAX];
    bool hello, logged_in, ended, refused;
    uv_timer_t login_timer;
    int closing_handles;
    struct pending *pending; /* max_client_requests */
    size_t npending;
};

struct app {
    uv_loop_t *loop;
    struct agentd_config cfg;
    const char *config_path;
    struct cr_tls_ctx *link_tls, *client_tls;
    struct cr_client *link_client;
    struct cr_conn *link; /* once Welcome came, else NULL */
    uint64_t link_rid;
    uv_tcp_t listener;
    bool listening, stopping;
    struct client *clients;
    /* Clients by number: every message from the server names its client, and a walk of 10,000
     * clients per message cost a tenth of a core at 200 messages/s (tests/bench/agents). Numbers
     * are handed out in sequence, so their low bits spread them over the buckets. */
    struct client *by_num[CLIENT_BUCKETS];
    size_t nclients;
    uint64_t next_num;
    int exit_code;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: carillon-agentd --config FILE\n"
               "       carillon-agentd --example-config | --version | --help\n"
               "\n"
               "  --config FILE        INI configuration\n"
               "  --example-config     print a configuration file documenting every key\n");
}

static const char *login_of(const struct client *cl)
{
    return cl->login[0] ? cl->login : "-";
}

static struct client *client_by_num(struct app *app, uint64_t num)
{
    for (struct client *cl = app->by_num[num % CLIENT_BUCKETS]; cl; cl = cl->hnext)
        if (cl->num == num)
            return cl;
    return NULL;
}

/* --- the server link ------------------------------------------------------------------------ */

/* Sends env for cl on the link, tagged, with a fresh link request id (rid_zero: 0). Records
 * the client's own id. Returns 0 or a negative errno (-EAGAIN: too many in flight). */
static int link_forward(struct client *cl, Carillon__V1__Envelope *env, bool reannounce)
{
    struct app *app = cl->app;
    if (!app->link)
        return -ENOTCONN;
    uint64_t client_rid = env->request_id;
    bool has_rid = env->body_case != CARILLON__V1__ENVELOPE__BODY_AGENT_DETACHED;
    if (has_rid && cl->npending >= (size_t)app->cfg.max_client_requests)
        return -EAGAIN;
    Carillon__V1__AgentTag tag = CARILLON__V1__AGENT_TAG__INIT;
    tag.client = cl->num;
    tag.session = env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN ? 0 : cl->session;
    Carillon__V1__AgentTag *old_tag = env->agent;
    env->agent = &tag;
    env->request_id = has_rid ? ++app->link_rid : 0;
    int rc = cr_conn_send(app->link, env);
    uint64_t link_rid = env->request_id;
    env->agent = old_tag;
    env->request_id = client_rid;
    if (rc)
        return rc;
    if (has_rid)
        cl->pending[cl->npending++] =
            (struct pending){.link_rid = link_rid,
                             .client_rid = client_rid,
                             .login = env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN,
                             .reannounce = reannounce};
    return 0;
}

static void client_close(struct client *cl, const char *why)
{
    if (!cl->conn)
        return;
    cr_log_info("client_closing", "client=%" PRIu64 " session=%" PRIu64 " login=%s why=%s", cl->num,
                cl->session, cr_log_q(login_of(cl)), cr_log_q(why));
    cr_conn_close(cl->conn);
}

static void reannounce(struct client *cl)
{
    Carillon__V1__AgentLogin l = CARILLON__V1__AGENT_LOGIN__INIT;
    l.login = cl->login;
    l.resume_token = cl->token;
    l.address = (char *)cr_conn_peer_ip(cl->conn);
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &l;
    int rc = link_forward(cl, &env, true);
    if (rc)
        cr_log_warn("client_reannounce_failed",
                    "client=%" PRIu64 " session=%" PRIu64 " login=%s error=%s", cl->num,
                    cl->session, cr_log_q(cl->login), cr_log_q(strerror(-rc)));
    else
        cr_log_info("client_reannounced", "client=%" PRIu64 " session=%" PRIu64 " login=%s",
                    cl->num, cl->session, cr_log_q(cl->login));
}

static void send_pong(struct cr_conn *c, uint64_t rid)
{
    Carillon__V1__Pong po = CARILLON__V1__PONG__INIT;
    Carillon__V1__Envelope out = CARILLON__V1__ENVELOPE__INIT;
    out.request_id = rid;
    out.body_case = CARILLON__V1__ENVELOPE__BODY_PONG;
    out.pong = &po;
    if (cr_conn_send(c, &out) != 0)
        cr_log_debug("pong_not_sent", "peer=%s", cr_conn_peer(c));
}

static void on_link_open(struct cr_conn *c)
{
    struct app *app = cr_conn_data(c);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_AGENTD;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = app->cfg.node_name;
    h.software = "carillon-agentd " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = ++app->link_rid;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (cr_conn_send(c, &env) != 0)
        cr_conn_close(c);
}

static struct pending *pending_take(struct client *cl, uint64_t link_rid, struct pending *out)
{
    for (size_t i = 0; i < cl->npending; i++) {
        if (cl->pending[i].link_rid != link_rid)
            continue;
        *out = cl->pending[i];
        cl->pending[i] = cl->pending[--cl->npending];
        return out;
    }
    return NULL;
}

static void on_login_timeout(uv_timer_t *t);

/* The server refused agentd's re-announce of cl's session (see the header). */
static void reannounce_refused(struct client *cl, const Carillon__V1__Error *er)
{
    if (er->code != CARILLON__V1__CODE__CODE_UNAUTHENTICATED) {
        /* not a verdict on the session: the client resumes by itself on a new connection; no
         * AgentDetached for a session the server just refused to hand over */
        cl->session = 0;
        client_close(cl, "re-announce failed: the client reconnects and resumes");
        return;
    }
    cr_log_info("client_session_lost",
                "client=%" PRIu64 " session=%" PRIu64 " login=%s action=login_again", cl->num,
                cl->session, cr_log_q(login_of(cl)));
    uint64_t old = cl->session;
    cl->logged_in = false;
    cl->session = 0;
    memset(cl->token, 0, sizeof cl->token);
    uv_timer_start(&cl->login_timer, on_login_timeout, (uint64_t)cl->app->cfg.login_timeout_ms, 0);
    cr_conn_send_error(cl->conn, 0, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, "resume_token",
                       "session %" PRIu64 " is gone after the server link came back: %s", old,
                       er->message && er->message[0] ? er->message : "refused by the server");
}

/* An answer or push from the server for cl: restore the client's request id and pass it on. */
static void link_to_client(struct client *cl, Carillon__V1__Envelope *env)
{
    struct pending p = {0};
    bool answer = env->request_id && pending_take(cl, env->request_id, &p);
    if (env->request_id && !answer) {
        cr_log_warn("answer_unmatched", "client=%" PRIu64 " request=%" PRIu64 " body=%d", cl->num,
                    env->request_id, (int)env->body_case);
        return;
    }
    if (answer && p.login) {
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK) {
            const Carillon__V1__AgentLoginOk *ok = env->agent_login_ok;
            cl->session = ok->session;
            if (ok->token && ok->token[0])
                snprintf(cl->token, sizeof cl->token, "%s", ok->token);
            cl->logged_in = true;
            uv_timer_stop(&cl->login_timer);
            cr_log_info(p.reannounce ? "client_resumed" : "client_logged_in",
                        "client=%" PRIu64 " session=%" PRIu64 " login=%s resumed=%d", cl->num,
                        cl->session, cr_log_q(login_of(cl)), ok->resumed ? 1 : 0);
        } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR) {
            cr_log_info(p.reannounce ? "client_reannounce_refused" : "client_login_refused",
                        "client=%" PRIu64 " login=%s code=%d message=%s", cl->num,
                        cr_log_q(login_of(cl)), env->error->code, cr_log_q(env->error->message));
            if (p.reannounce) {
                reannounce_refused(cl, env->error);
                return;
            }
        }
    }
    if (answer && p.reannounce)
        return; /* agentd's own: the client never asked */
    env->request_id = answer ? p.client_rid : 0;
    Carillon__V1__AgentTag *tag = env->agent;
    env->agent = NULL; /* the tag is the link's business; packing skips a NULL */
    int rc = cr_conn_send(cl->conn, env);
    env->agent = tag; /* freed with env */
    if (rc && rc != -EPIPE)
        cr_log_warn("client_send_failed", "client=%" PRIu64 " session=%" PRIu64 " error=%s",
                    cl->num, cl->session, cr_log_q(strerror(-rc)));
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_SESSION_ENDED) {
        cl->ended = true;
        cr_log_info("client_session_ended",
                    "client=%" PRIu64 " session=%" PRIu64 " login=%s reason=%s", cl->num,
                    cl->session, cr_log_q(login_of(cl)),
                    cr_log_q(env->agent_session_ended->reason));
        cl->session = 0;
        client_close(cl, "session ended");
    }
}

static void on_link_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct app *app = cr_conn_data(c);
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_WELCOME) {
        app->link = c;
        cr_log_info("server_connected", "peer=%s server=%s version=%u clients=%zu", cr_conn_peer(c),
                    cr_log_q(env->welcome->node_name), env->welcome->protocol_version,
                    app->nclients);
        for (struct client *cl = app->clients; cl; cl = cl->next)
            if (cl->logged_in && !cl->ended && cl->token[0] && cl->conn)
                reannounce(cl);
    } else if (!env->agent || !env->agent->client) {
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
            cr_log_warn("server_error", "request=%" PRIu64 " code=%d message=%s", env->request_id,
                        env->error->code, cr_log_q(env->error->message));
        else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_PING)
            send_pong(c, env->request_id);
        else
            cr_log_warn("server_message_untagged", "body=%d", (int)env->body_case);
    } else if (app->link == c) {
        struct client *cl = client_by_num(app, env->agent->client);
        if (cl && cl->conn)
            link_to_client(cl, env);
        else
            cr_log_debug("server_message_for_gone_client", "client=%" PRIu64 " body=%d",
                         env->agent->client, (int)env->body_case);
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_link_close(struct cr_conn *c, int err)
{
    struct app *app = cr_conn_data(c);
    if (app->link != c) {
        if (!app->stopping)
            cr_log_warn("server_unreachable", "address=%s error=%s",
                        cr_log_q(app->cfg.server_address),
                        cr_log_q(err ? strerror(-err) : "closed"));
        return;
    }
    app->link = NULL;
    cr_log_warn("server_link_lost", "address=%s error=%s clients=%zu",
                cr_log_q(app->cfg.server_address), cr_log_q(err ? strerror(-err) : "closed"),
                app->nclients);
    /* the answers went with the link: every client's request in flight fails */
    for (struct client *cl = app->clients; cl; cl = cl->next) {
        for (size_t i = 0; i < cl->npending; i++)
            if (!cl->pending[i].reannounce && cl->conn)
                cr_conn_send_error(cl->conn, cl->pending[i].client_rid,
                                   CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                                   "the server link was lost before the answer: try again");
        cl->npending = 0;
    }
}

/* --- agent clients -------------------------------------------------------------------------- */

static void client_free_maybe(struct client *cl)
{
    if (cl->conn || cl->closing_handles)
        return;
    free(cl->pending);
    free(cl);
}

static void on_login_timer_closed(uv_handle_t *h)
{
    struct client *cl = h->data;
    cl->closing_handles--;
    client_free_maybe(cl);
}

static void on_login_timeout(uv_timer_t *t)
{
    struct client *cl = t->data;
    if (cl->logged_in)
        return;
    cr_log_warn("client_login_timeout", "client=%" PRIu64 " peer=%s login=%s timeout_ms=%lld",
                cl->num, cr_conn_peer(cl->conn), cr_log_q(login_of(cl)),
                (long long)cl->app->cfg.login_timeout_ms);
    cr_conn_send_error(cl->conn, 0, CARILLON__V1__CODE__CODE_DEADLINE_EXCEEDED, NULL,
                       "not logged in within %lld ms (login_timeout)",
                       (long long)cl->app->cfg.login_timeout_ms);
    client_close(cl, "login timeout");
}

static bool client_may_send(Carillon__V1__Envelope__BodyCase b)
{
    switch (b) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SET_STATE:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_QUALIFY:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGOUT:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_INTERVIEW_ACTION:
        return true;
    default:
        return false;
    }
}

static void client_hello(struct client *cl, Carillon__V1__Envelope *env)
{
    struct app *app = cl->app;
    if (env->body_case != CARILLON__V1__ENVELOPE__BODY_HELLO) {
        cr_conn_send_error(cl->conn, env->request_id, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                           NULL, "send Hello (role agent) first");
        client_close(cl, "no Hello");
        return;
    }
    const Carillon__V1__Hello *h = env->hello;
    if (h->role != CARILLON__V1__ROLE__ROLE_AGENT) {
        cr_conn_send_error(cl->conn, env->request_id, CARILLON__V1__CODE__CODE_PERMISSION_DENIED,
                           "role", "carillon-agentd serves agent clients only (Hello role agent)");
        client_close(cl, "Hello with another role");
        return;
    }
    if (h->protocol_version != CR_PROTOCOL_VERSION) {
        cr_conn_send_error(cl->conn, env->request_id, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                           "protocol_version", "protocol version %u is not supported (%d is)",
                           h->protocol_version, CR_PROTOCOL_VERSION);
        client_close(cl, "protocol version");
        return;
    }
    cl->hello = true;
    Carillon__V1__Welcome w = CARILLON__V1__WELCOME__INIT;
    w.protocol_version = CR_PROTOCOL_VERSION;
    w.node_name = app->cfg.node_name;
    w.software = "carillon-agentd " CARILLON_VERSION;
    w.max_frame = (uint32_t)app->cfg.max_frame;
    Carillon__V1__Envelope out = CARILLON__V1__ENVELOPE__INIT;
    out.request_id = env->request_id;
    out.body_case = CARILLON__V1__ENVELOPE__BODY_WELCOME;
    out.welcome = &w;
    if (cr_conn_send(cl->conn, &out) != 0)
        client_close(cl, "Welcome not sent");
}

static void client_request(struct client *cl, Carillon__V1__Envelope *env)
{
    struct app *app = cl->app;
    uint64_t rid = env->request_id;
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_PING) {
        send_pong(cl->conn, rid);
        return;
    }
    if (!client_may_send(env->body_case)) {
        bool agent_body = env->body_case >= 1000 && env->body_case < 2000;
        cr_log_info("client_message_refused", "client=%" PRIu64 " login=%s body=%d", cl->num,
                    cr_log_q(login_of(cl)), (int)env->body_case);
        cr_conn_send_error(cl->conn, rid,
                           agent_body ? CARILLON__V1__CODE__CODE_INVALID_ARGUMENT
                                      : CARILLON__V1__CODE__CODE_PERMISSION_DENIED,
                           "body",
                           agent_body ? "message %d is sent by the server, not by an agent"
                                      : "message %d is not an agent request (an agent client "
                                        "sends agent messages only)",
                           (int)env->body_case);
        return;
    }
    if (!rid) {
        cr_conn_send_error(cl->conn, 0, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "request_id",
                           "a request needs a non-zero request_id");
        return;
    }
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN) {
        Carillon__V1__AgentLogin *l = env->agent_login;
        if (cl->logged_in) {
            cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                               "already logged in (session %" PRIu64 ")", cl->session);
            return;
        }
        for (size_t i = 0; i < cl->npending; i++)
            if (cl->pending[i].login) {
                cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                                   NULL, "a login is already under way");
                return;
            }
        if (!l->login || !l->login[0] || strlen(l->login) >= LOGIN_MAX) {
            cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "login",
                               "AgentLogin needs a login of 1 to %d bytes", LOGIN_MAX - 1);
            return;
        }
        snprintf(cl->login, sizeof cl->login, "%s", l->login);
    }
    /* the server keys its failed-login limiter by the agent's own address, not the client's say */
    char *sent_address = NULL;
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN) {
        sent_address = env->agent_login->address;
        env->agent_login->address = (char *)cr_conn_peer_ip(cl->conn);
    } else if (!cl->logged_in) {
        cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, NULL,
                           "log in first (AgentLogin)");
        return;
    }
    int rc = link_forward(cl, env, false);
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN)
        env->agent_login->address = sent_address; /* freed with env */
    if (rc == -ENOTCONN)
        cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the server link is down; agentd reconnects: try again");
    else if (rc == -EAGAIN)
        cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                           "%lld requests already await the server's answer "
                           "(max_client_requests)",
                           (long long)app->cfg.max_client_requests);
    else if (rc)
        cr_conn_send_error(cl->conn, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "not relayed: %s", strerror(-rc));
}

static void on_client_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct client *cl = cr_conn_data(c);
    if (cl->refused) {
        /* over max_clients: closing */
    } else if (!cl->hello) {
        client_hello(cl, env);
    } else {
        client_request(cl, env);
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_client_close(struct cr_conn *c, int err)
{
    struct client *cl = cr_conn_data(c);
    struct app *app = cl->app;
    if (cl->refused) {
        cr_log_info("client_refused_closed", "client=%" PRIu64, cl->num);
    } else if (err == -ENOBUFS) {
        cr_log_warn("client_too_slow",
                    "client=%" PRIu64 " session=%" PRIu64 " login=%s max_client_queue=%lld",
                    cl->num, cl->session, cr_log_q(login_of(cl)),
                    (long long)app->cfg.max_client_queue);
    } else {
        cr_log_info("client_disconnected",
                    "client=%" PRIu64 " session=%" PRIu64 " login=%s error=%s", cl->num,
                    cl->session, cr_log_q(login_of(cl)), cr_log_q(err ? strerror(-err) : "closed"));
    }
    if (cl->session && !cl->ended && app->link) {
        /* the server starts agent_grace: the agent may come back with its token */
        Carillon__V1__AgentDetached d = CARILLON__V1__AGENT_DETACHED__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_DETACHED;
        env.agent_detached = &d;
        if (link_forward(cl, &env, false) == 0)
            cr_log_info("client_detached", "client=%" PRIu64 " session=%" PRIu64 " login=%s",
                        cl->num, cl->session, cr_log_q(login_of(cl)));
    }
    *cl->pprev = cl->next;
    if (cl->next)
        cl->next->pprev = cl->pprev;
    *cl->hpprev = cl->hnext;
    if (cl->hnext)
        cl->hnext->hpprev = cl->hpprev;
    if (!cl->refused)
        app->nclients--;
    cl->conn = NULL;
    cl->closing_handles++;
    uv_close((uv_handle_t *)&cl->login_timer, on_login_timer_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct app *app = listener->data;
    if (status < 0) {
        cr_log_warn("accept_failed", "error=%s", cr_log_q(uv_strerror(status)));
        return;
    }
    struct client *cl = calloc(1, sizeof *cl);
    if (cl)
        cl->pending = calloc((size_t)app->cfg.max_client_requests, sizeof *cl->pending);
    if (!cl || !cl->pending) {
        free(cl);
        uv_tcp_t tmp;
        uv_tcp_init(app->loop, &tmp);
        if (uv_accept(listener, (uv_stream_t *)&tmp) == 0)
            cr_log_warn("client_refused", "why=\"out of memory\"");
        uv_close((uv_handle_t *)&tmp, NULL);
        return;
    }
    cl->app = app;
    cl->num = ++app->next_num;
    struct cr_conn_opts co = {.max_frame = (size_t)app->cfg.max_frame,
                              .max_write_queue = (size_t)app->cfg.max_client_queue};
    static const struct cr_conn_cbs cbs = {.on_message = on_client_message,
                                           .on_close = on_client_close};
    int rc = cr_conn_accept(listener, app->client_tls, &co, &cbs, cl, &cl->conn);
    if (rc) {
        cr_log_warn("accept_failed", "error=%s", cr_log_q(strerror(-rc)));
        free(cl->pending);
        free(cl);
        return;
    }
    uv_timer_init(app->loop, &cl->login_timer);
    cl->login_timer.data = cl;
    cl->next = app->clients;
    if (app->clients)
        app->clients->pprev = &cl->next;
    cl->pprev = &app->clients;
    app->clients = cl;
    struct client **bucket = &app->by_num[cl->num % CLIENT_BUCKETS];
    cl->hnext = *bucket;
    if (*bucket)
        (*bucket)->hpprev = &cl->hnext;
    cl->hpprev = bucket;
    *bucket = cl;
    if (app->nclients >= (size_t)app->cfg.max_clients || app->stopping) {
        cl->refused = true;
        cr_log_warn("client_refused", "client=%" PRIu64 " peer=%s clients=%zu max_clients=%lld",
                    cl->num, cr_conn_peer(cl->conn), app->nclients,
                    (long long)app->cfg.max_clients);
        cr_conn_send_error(cl->conn, 0, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                           "this agentd already serves %zu clients (max_clients): try another",
                           app->nclients);
        cr_conn_close(cl->conn);
        return;
    }
    app->nclients++;
    uv_timer_start(&cl->login_timer, on_login_timeout, (uint64_t)app->cfg.login_timeout_ms, 0);
    cr_log_info("client_connected", "client=%" PRIu64 " peer=%s clients=%zu", cl->num,
                cr_conn_peer(cl->conn), app->nclients);
}

/* --- start and stop ------------------------------------------------------------------------- */

static void on_stop(void *arg, bool fast)
{
    struct app *app = arg;
    if (app->stopping)
        return;
    app->stopping = true;
    cr_log_info("stopping", "fast=%d clients=%zu", fast ? 1 : 0, app->nclients);
    if (app->listening)
        uv_close((uv_handle_t *)&app->listener, NULL);
    app->listening = false;
    /* clients close first, so their AgentDetached still goes out on the link */
    for (struct client *cl = app->clients; cl; cl = cl->next)
        if (cl->conn)
            fast ? cr_conn_abort(cl->conn) : cr_conn_close(cl->conn);
    if (app->link_client) {
        cr_client_stop(app->link_client, NULL, NULL);
        app->link_client = NULL;
        app->link = NULL;
    }
    cr_daemon_shutdown();
}

static void on_reload(void *arg)
{
    struct app *app = arg;
    char err[1024], warn[512];
    if (cr_cfg_reload(agentd_config_keys, agentd_config_nkeys, app->config_path, &app->cfg, err,
                      sizeof err, warn, sizeof warn) != 0) {
        cr_log_error("reload_failed", "error=%s", cr_log_q(err));
        return;
    }
    cr_log_set_level((enum cr_log_level)app->cfg.log_level);
    cr_log_set_json(app->cfg.log_json);
    cr_log_info("reloaded", "restart_needed=%s", cr_log_q(warn[0] ? warn : "-"));
}

static int setup(struct app *app, char *err, size_t errlen)
{
    struct cr_tls_config lt = {.ca_file = app->cfg.ca,
                               .cert_file = app->cfg.cert,
                               .key_file = app->cfg.key,
                               .crl_file = app->cfg.crl,
                               .peer_role = CR_TLS_ROLE_SERVER};
    char e2[512];
    int rc = cr_tls_ctx_new_client(&lt, &app->link_tls, e2, sizeof e2);
    if (rc) {
        snprintf(err, errlen, "[agentd] cert/key/ca: %s", e2);
        return -EINVAL;
    }
    struct cr_tls_config ct = {
        .ca_file = app->cfg.ca, .cert_file = app->cfg.client_cert, .key_file = app->cfg.client_key};
    rc = cr_tls_ctx_new_server(&ct, &app->client_tls, e2, sizeof e2);
    if (rc) {
        snprintf(err, errlen, "[agentd] client_cert/client_key: %s", e2);
        return -EINVAL;
    }
    char host[256];
    int port;
    if (cr_hostport_parse(app->cfg.listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "[agentd] listen: expected IP:PORT");
        return -EINVAL;
    }
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        snprintf(err, errlen, "[agentd] listen: '%s' is not an IP address", host);
        return -EINVAL;
    }
    uv_tcp_init(app->loop, &app->listener);
    app->listener.data = app;
    app->listening = true;
    rc = uv_tcp_bind(&app->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&app->listener, 511, on_connection);
    if (rc) {
        snprintf(err, errlen, "[agentd] listen: cannot listen on %s: %s", app->cfg.listen,
                 uv_strerror(rc));
        return -EADDRINUSE;
    }
    if (cr_hostport_parse(app->cfg.server_address, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "[server] address: expected HOST:PORT");
        return -EINVAL;
    }
    struct cr_client_opts co = {.host = host,
                                .port = port,
                                .tls = app->link_tls,
                                .backoff_min_ms = 100,
                                .backoff_max_ms = 5000};
    static const struct cr_conn_cbs cbs = {
        .on_open = on_link_open, .on_message = on_link_message, .on_close = on_link_close};
    rc = cr_client_start(app->loop, &co, &cbs, app, &app->link_client);
    if (rc) {
        snprintf(err, errlen, "cannot start the server link: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"example-config", no_argument, NULL, 'e'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct app app;
    memset(&app, 0, sizeof app);
    const char *config = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:eVh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'e':
            cr_cfg_write_example(agentd_config_keys, agentd_config_nkeys, STDOUT_FILENO);
            return 0;
        case 'V':
            printf("carillon-agentd %s\n", CARILLON_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        fprintf(stderr, "carillon-agentd: %s\n",
                config ? "unexpected argument" : "--config FILE is required");
        usage(stderr);
        return 2;
    }
    char err[1024];
    if (cr_cfg_load(agentd_config_keys, agentd_config_nkeys, config, &app.cfg, err, sizeof err) !=
        0) {
        fprintf(stderr, "carillon-agentd: %s\n", err);
        return 2;
    }
    app.config_path = config;
    cr_log_init("agentd", (enum cr_log_level)app.cfg.log_level, app.cfg.log_json);
    uv_loop_t loop;
    uv_loop_init(&loop);
    app.loop = &loop;
    static const struct cr_daemon_cbs dcbs = {.on_stop = on_stop, .on_reload = on_reload};
    int rc = cr_daemon_init(&loop, app.cfg.pid_file[0] ? app.cfg.pid_file : NULL, &dcbs, &app);
    if (rc) {
        fprintf(stderr, "carillon-agentd: pid file %s: %s\n", app.cfg.pid_file, strerror(-rc));
        app.exit_code = 1;
        goto done;
    }
    err[0] = '\0';
    rc = setup(&app, err, sizeof err);
    if (rc) {
        fprintf(stderr, "carillon-agentd: %s\n", err[0] ? err : strerror(-rc));
        app.exit_code = rc == -EINVAL ? 2 : 1;
        on_stop(&app, true);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto done;
    }
    cr_log_info("starting", "version=%s config=%s pid=%d node=%s listen=%s server=%s",
                CARILLON_VERSION, cr_log_q(config), (int)getpid(), cr_log_q(app.cfg.node_name),
                cr_log_q(app.cfg.listen), cr_log_q(app.cfg.server_address));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_log_info("stopped", "exit=%d", app.exit_code);
done:
    cr_loop_close_all(&loop);
    if (app.link_tls)
        cr_tls_ctx_free(app.link_tls);
    if (app.client_tls)
        cr_tls_ctx_free(app.client_tls);
    cr_cfg_free(agentd_config_keys, agentd_config_nkeys, &app.cfg);
    return app.exit_code;
}
