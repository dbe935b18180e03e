/* The agent client library (agentclient.h): one TLS link to an agentd at a time, login by
 * itself, resume with the token after every drop, agentds tried in turn with bounded backoff. */
#include "agentclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/conn.h"
#include "carillon/log.h"

#define AGENTD_MAX 16
#define TOKEN_MAX  256

/* Allocated by agentclient_new, freed once closed and both the timer and the connection are
 * gone (their close callbacks). */
struct agentclient {
    uv_loop_t *loop;
    char *agentd[AGENTD_MAX];
    size_t n_agentd, idx;
    char *login, *password, *softphone;
    char **campaigns;
    size_t n_campaigns;
    unsigned backoff_min, backoff_max, backoff;
    size_t max_frame;
    struct agentclient_cbs cbs;
    void *data;
    struct cr_tls_ctx *tls;
    struct cr_conn *conn;
    bool welcomed, closed, final, timer_closed, was_welcomed;
    enum agentclient_state state;
    uint64_t rid, login_rid;
    bool login_resume;
    bool had_session;    /* an AgentLoginOk came once: a later fresh one is a "new session" */
    char retry_why[320]; /* set when the login was answered UNAVAILABLE: why the link closes */
    char token[TOKEN_MAX];
    Carillon__V1__Envelope *login_env; /* the last AgentLoginOk's envelope */
    uv_timer_t timer;
};

const char *agentclient_state_name(enum agentclient_state s)
{
    static const char *const n[] = {"connecting", "link_up",      "logged_in",
                                    "link_down",  "login_failed", "session_ended"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

static void set_state(struct agentclient *c, enum agentclient_state s, const char *reason)
{
    c->state = s;
    if (s == AGENTCLIENT_LOGIN_FAILED || s == AGENTCLIENT_SESSION_ENDED)
        c->final = true;
    if (!c->closed && c->cbs.on_state)
        c->cbs.on_state(c, s, reason ? reason : "", c->data);
}

static void free_maybe(struct agentclient *c)
{
    if (!c->closed || c->conn || !c->timer_closed)
        return;
    for (size_t i = 0; i < c->n_agentd; i++)
        free(c->agentd[i]);
    for (size_t i = 0; i < c->n_campaigns; i++)
        free(c->campaigns[i]);
    free(c->campaigns);
    free(c->login);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    free(c->softphone);
    if (c->login_env)
        carillon__v1__envelope__free_unpacked(c->login_env, NULL);
    if (c->tls)
        cr_tls_ctx_free(c->tls);
    free(c);
}

static void connect_now(uv_timer_t *t);

static void schedule_reconnect(struct agentclient *c, bool next)
{
    if (c->closed || c->final)
        return;
    if (next)
        c->idx = (c->idx + 1) % c->n_agentd;
    unsigned delay = c->backoff;
    c->backoff = c->backoff ? c->backoff * 2 : c->backoff_min;
    if (c->backoff > c->backoff_max)
        c->backoff = c->backoff_max;
    uv_timer_start(&c->timer, connect_now, delay, 0);
}

static void send_login(struct agentclient *c)
{
    Carillon__V1__AgentLogin l = CARILLON__V1__AGENT_LOGIN__INIT;
    l.login = c->login;
    c->login_resume = c->token[0] != '\0';
    if (c->login_resume) {
        l.resume_token = c->token;
    } else {
        l.password = c->password;
        l.softphone = c->softphone;
        l.campaigns = c->campaigns;
        l.n_campaigns = c->n_campaigns;
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = c->login_rid = ++c->rid;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &l;
    if (cr_conn_send(c->conn, &env) != 0)
        cr_conn_close(c->conn);
}

static void on_open(struct cr_conn *conn)
{
    struct agentclient *c = cr_conn_data(conn);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_AGENT;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = c->login;
    h.software = "carillon-agent " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = ++c->rid;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (cr_conn_send(conn, &env) != 0)
        cr_conn_close(conn);
}

static void deliver(struct agentclient *c, const Carillon__V1__Envelope *env)
{
    if (!c->closed && c->cbs.on_envelope)
        c->cbs.on_envelope(c, env->request_id, env, c->data);
}

/* The session is gone: forget the token, log in with the password on this connection. */
static void login_again(struct agentclient *c)
{
    memset(c->token, 0, sizeof c->token);
    if (c->closed)
        return;
    set_state(c, AGENTCLIENT_LINK_UP, "session expired: logging in again");
    if (!c->closed && c->conn)
        send_login(c);
}

/* agentd's word that the session it re-announced is gone: an Error with no request behind it,
 * UNAUTHENTICATED on resume_token, while logged in (and no login of ours under way). */
static bool session_gone(const struct agentclient *c, const Carillon__V1__Envelope *env)
{
    return env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && env->request_id == 0 &&
           c->state == AGENTCLIENT_LOGGED_IN && c->login_rid == 0 &&
           env->error->code == CARILLON__V1__CODE__CODE_UNAUTHENTICATED && env->error->field &&
           strcmp(env->error->field, "resume_token") == 0;
}

static void on_message(struct cr_conn *conn, Carillon__V1__Envelope *env)
{
    struct agentclient *c = cr_conn_data(conn);
    bool keep = false;
    if (c->closed || conn != c->conn) {
        /* closing: nothing more to say */
    } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_WELCOME) {
        c->welcomed = c->was_welcomed = true;
        set_state(c, AGENTCLIENT_LINK_UP, c->token[0] ? "resuming the session" : "logging in");
        if (!c->closed)
            send_login(c);
    } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_PONG) {
        if (env->request_id != 0)
            deliver(c, env);
    } else if (env->request_id && env->request_id == c->login_rid) {
        c->login_rid = 0;
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK) {
            const Carillon__V1__AgentLoginOk *ok = env->agent_login_ok;
            if (ok->token && ok->token[0])
                snprintf(c->token, sizeof c->token, "%s", ok->token);
            if (c->login_env)
                carillon__v1__envelope__free_unpacked(c->login_env, NULL);
            c->login_env = env;
            keep = true;
            c->backoff = 0; /* a link that worked is tried again at once when it drops */
            bool again = c->had_session;
            c->had_session = true;
            set_state(c, AGENTCLIENT_LOGGED_IN,
                      ok->resumed ? "resumed"
                      : again     ? "new session"
                                  : "logged in");
            deliver(c, env);
        } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && c->login_resume &&
                   env->error->code == CARILLON__V1__CODE__CODE_UNAUTHENTICATED) {
            /* the session is gone (grace over, server restarted): a new one, with the password */
            deliver(c, env);
            login_again(c);
        } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR &&
                   env->error->code == CARILLON__V1__CODE__CODE_UNAVAILABLE) {
            /* not a verdict (agentd's server link is down, the database is): the next agentd,
             * after the backoff, keeps the token or the password for the next try */
            deliver(c, env);
            snprintf(c->retry_why, sizeof c->retry_why, "%s: login not answered: %s",
                     c->agentd[c->idx], env->error->message);
            cr_conn_close(conn);
        } else {
            deliver(c, env);
            set_state(c, AGENTCLIENT_LOGIN_FAILED,
                      env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR ? env->error->message
                                                                           : "unexpected answer");
            cr_conn_close(conn);
        }
    } else if (session_gone(c, env)) {
        /* agentd's re-announce after its server link came back was refused (server restarted):
         * agentd logged this client out, so it is a refused resume like ours */
        deliver(c, env);
        login_again(c);
    } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_AGENT_SESSION_ENDED) {
        deliver(c, env);
        c->token[0] = '\0';
        set_state(c, AGENTCLIENT_SESSION_ENDED, env->agent_session_ended->reason);
        cr_conn_close(conn);
    } else {
        deliver(c, env);
    }
    if (!keep)
        carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *conn, int err)
{
    struct agentclient *c = cr_conn_data(conn);
    if (conn != c->conn)
        return;
    c->conn = NULL;
    bool was = c->welcomed;
    c->welcomed = false;
    c->login_rid = 0;
    if (c->closed) {
        free_maybe(c);
        return;
    }
    if (c->final)
        return;
    char why[sizeof c->retry_why];
    bool retry = c->retry_why[0] != '\0';
    if (retry)
        snprintf(why, sizeof why, "%s", c->retry_why);
    else
        snprintf(why, sizeof why, "%s: %s", c->agentd[c->idx],
                 err ? strerror(-err) : "closed by agentd");
    c->retry_why[0] = '\0';
    set_state(c, AGENTCLIENT_LINK_DOWN, why);
    /* an established link is tried again once at once; a failed attempt (or a login agentd
     * could not pass on) moves on, after the backoff */
    schedule_reconnect(c, !was || retry);
}

static void connect_now(uv_timer_t *t)
{
    struct agentclient *c = t->data;
    if (c->closed || c->final || c->conn)
        return;
    char host[256];
    int port;
    if (cr_hostport_parse(c->agentd[c->idx], host, sizeof host, &port) != 0) {
        schedule_reconnect(c, true);
        return;
    }
    if (c->state != AGENTCLIENT_CONNECTING)
        set_state(c, AGENTCLIENT_CONNECTING, c->agentd[c->idx]);
    struct cr_conn_opts co = {.max_frame = c->max_frame};
    static const struct cr_conn_cbs cbs = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close};
    int rc = cr_conn_connect(c->loop, host, port, c->tls, &co, &cbs, c, &c->conn);
    if (rc) {
        c->conn = NULL;
        char why[300];
        snprintf(why, sizeof why, "%s: %s", c->agentd[c->idx], strerror(-rc));
        set_state(c, AGENTCLIENT_LINK_DOWN, why);
        schedule_reconnect(c, true);
    }
}

static char *dup_or(const char *s)
{
    return strdup(s ? s : "");
}

int agentclient_new(uv_loop_t *loop, const struct agentclient_opts *opts,
                    const struct agentclient_cbs *cbs, void *data, struct agentclient **out,
                    char *err, size_t errlen)
{
    const char *bad = NULL;
    char host[256];
    int port;
    if (!opts->n_agentd || opts->n_agentd > AGENTD_MAX)
        bad = "1 to 16 agentd addresses (HOST:PORT) are needed";
    for (size_t i = 0; !bad && i < opts->n_agentd; i++)
        if (!opts->agentd[i] || cr_hostport_parse(opts->agentd[i], host, sizeof host, &port))
            bad = "an agentd address is not HOST:PORT";
    if (!bad && (!opts->ca_file || !opts->ca_file[0]))
        bad = "a CA file is needed (--ca)";
    if (!bad && (!opts->login || !opts->login[0] || strlen(opts->login) > 64))
        bad = "a login of 1 to 64 bytes is needed";
    if (!bad && (!opts->password || !opts->password[0] || strlen(opts->password) > 256))
        bad = "a password of 1 to 256 bytes is needed";
    if (!bad && (!opts->softphone || (strncmp(opts->softphone, "sip:", 4) != 0 &&
                                      strncmp(opts->softphone, "sips:", 5) != 0)))
        bad = "a softphone sip: or sips: URI is needed";
    if (!bad && opts->n_campaigns > 16)
        bad = "at most 16 campaigns";
    if (!bad && opts->max_frame > CR_FRAME_LIMIT_MAX)
        bad = "max_frame is at most 64 MiB";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -EINVAL;
    }
    struct agentclient *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    struct cr_tls_config tc = {.ca_file = opts->ca_file, .peer_role = CR_TLS_ROLE_AGENTD};
    int rc = cr_tls_ctx_new_client(&tc, &c->tls, err, errlen);
    if (rc) {
        free(c);
        return -EINVAL;
    }
    c->loop = loop;
    c->n_agentd = opts->n_agentd;
    for (size_t i = 0; i < opts->n_agentd; i++)
        c->agentd[i] = dup_or(opts->agentd[i]);
    c->login = dup_or(opts->login);
    c->password = dup_or(opts->password);
    c->softphone = dup_or(opts->softphone);
    c->campaigns = calloc(opts->n_campaigns + 1, sizeof *c->campaigns);
    c->n_campaigns = opts->n_campaigns;
    for (size_t i = 0; c->campaigns && i < opts->n_campaigns; i++)
        c->campaigns[i] = dup_or(opts->campaigns[i]);
    c->backoff_min = opts->backoff_min_ms ? opts->backoff_min_ms : 200;
    c->backoff_max = opts->backoff_max_ms ? opts->backoff_max_ms : 5000;
    if (c->backoff_max < c->backoff_min)
        c->backoff_max = c->backoff_min;
    c->max_frame = opts->max_frame;
    if (cbs)
        c->cbs = *cbs;
    c->data = data;
    c->state = AGENTCLIENT_CONNECTING;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, connect_now, 0, 0);
    *out = c;
    return 0;
}

void agentclient_set_callbacks(struct agentclient *c, const struct agentclient_cbs *cbs, void *data)
{
    c->cbs = cbs ? *cbs : (struct agentclient_cbs){0};
    c->data = data;
}

int64_t agentclient_send(struct agentclient *c, Carillon__V1__Envelope *env)
{
    if (c->closed || c->final)
        return -EPIPE;
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SET_STATE:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_QUALIFY:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGOUT:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_INTERVIEW_ACTION:
    case CARILLON__V1__ENVELOPE__BODY_PING:
        break;
    default:
        return -EINVAL;
    }
    if (!c->conn || c->state != AGENTCLIENT_LOGGED_IN)
        return -ENOTCONN;
    env->request_id = ++c->rid;
    env->agent = NULL;
    int rc = cr_conn_send(c->conn, env);
    if (rc == -EPIPE || rc == -ENOBUFS)
        return -ENOTCONN;
    return rc ? rc : (int64_t)env->request_id;
}

enum agentclient_state agentclient_state(const struct agentclient *c)
{
    return c->state;
}

const Carillon__V1__AgentLoginOk *agentclient_login_ok(const struct agentclient *c)
{
    return c->login_env ? c->login_env->agent_login_ok : NULL;
}

const char *agentclient_agentd(const struct agentclient *c)
{
    return c->agentd[c->idx];
}

uv_loop_t *agentclient_loop(const struct agentclient *c)
{
    return c->loop;
}

void *agentclient_data(const struct agentclient *c)
{
    return c->data;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct agentclient *c = h->data;
    c->timer_closed = true;
    free_maybe(c);
}

void agentclient_close(struct agentclient *c)
{
    if (c->closed)
        return;
    c->closed = true;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    if (c->conn)
        cr_conn_close(c->conn);
}
