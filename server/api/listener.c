/* The server's TLS listener, its clients' lifecycle and the request dispatch: every Envelope a
 * client sends goes through client_on_message, which checks the session state and routes it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "api/server.h"
#include "carillon/log.h"
#include "carillon/notify.h"
#include "engine/engine.h"

void client_ref(struct client *c)
{
    c->refs++;
}

void client_unref(struct client *c)
{
    if (--c->refs > 0)
        return;
    struct server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (srv->clients == c)
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nclients--;
    free(c);
}

static void reply_send(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env);

void client_reply(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env)
{
    limits_replied(c, request_id);
    reply_send(c, request_id, env);
}

void client_reply_part(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env)
{
    reply_send(c, request_id, env);
}

void client_handled(struct client *c, uint64_t request_id)
{
    limits_replied(c, request_id);
}

static void reply_send(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env)
{
    if (!c->conn)
        return;
    env->request_id = request_id;
    int rc = cr_conn_send(c->conn, env);
    limits_sync(c); /* a Welcome or a LoginOk moves the client to its count */
    if (rc == -EMSGSIZE) {
        /* Nothing was sent: the client must hear why rather than wait for ever. */
        size_t size = carillon__v1__envelope__get_packed_size(env);
        cr_log_warn("reply_too_large", "peer=%s request=%llu bytes=%zu max_frame=%zu", c->peer,
                    (unsigned long long)request_id, size, cr_conn_max_frame(c->conn));
        (void)cr_conn_send_error(c->conn, request_id, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED,
                                 NULL,
                                 "the reply is %zu bytes, over the frame limit of %zu bytes "
                                 "(max_frame): ask for less (a filter, fewer columns)",
                                 size, cr_conn_max_frame(c->conn));
        return;
    }
    if (rc && rc != -ENOBUFS && rc != -EPIPE)
        cr_log_warn("reply_failed", "peer=%s request=%llu error=%s", c->peer,
                    (unsigned long long)request_id, cr_log_q(strerror(-rc)));
}

void client_error(struct client *c, uint64_t request_id, int code, const char *field,
                  const char *fmt, ...)
{
    limits_replied(c, request_id);
    if (!c->conn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)cr_conn_send_error(c->conn, request_id, code, field, "%s", msg);
}

void client_ok(struct client *c, uint64_t request_id)
{
    Carillon__V1__Ok ok = CARILLON__V1__OK__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_OK;
    env.ok = &ok;
    client_reply(c, request_id, &env);
}

/* Name of a body case for logs and errors: the protobuf field name. */
static const char *body_name(const Carillon__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &carillon__v1__envelope__descriptor, (unsigned)env->body_case);
    return f ? f->name : "unknown";
}

typedef void (*session_fn)(struct client *c, Carillon__V1__Envelope *env);

/* Which session state a request needs. */
enum need {
    NEED_ANY_AFTER_HELLO, /* anyone who sent Hello */
    NEED_PERSON,          /* a people connection, logged in or not (Login itself) */
    NEED_USER,            /* a logged-in person */
};

/* One route: the session conversation's own handlers (before or around login) take the client
 * and the envelope; every other request gets a request object once require_right has let it
 * through, with the right the route names on the campaign its message names. */
struct route {
    int body_case;
    session_fn session;
    request_fn fn;
    enum need need;
    enum right right;
    const char *campaign_field; /* path of the campaign's name in the body ("campaign.name") */
    const char *target_field;   /* RIGHT_SELF_OR_ADMIN: the login the request is about */
    bool global_ok;             /* an empty campaign means every campaign (admins only) */
    const char *raise_field;    /* a bool in the body that, when true, needs raise_to instead */
    enum right raise_to;
};

#define SESSION(body, fn_, need_)                                                                  \
    {                                                                                              \
        .body_case = CARILLON__V1__ENVELOPE__BODY_##body, .session = fn_, .need = need_            \
    }
#define ROUTE(body, fn_, right_, ...)                                                              \
    {                                                                                              \
        .body_case = CARILLON__V1__ENVELOPE__BODY_##body, .fn = fn_, .need = NEED_USER,            \
        .right = right_, __VA_ARGS__                                                               \
    }

static const struct route routes[] = {
    SESSION(PING, session_handle_ping, NEED_ANY_AFTER_HELLO),
    SESSION(LOGIN, session_handle_login, NEED_PERSON),
    SESSION(LOGOUT, session_handle_logout, NEED_PERSON),
    SESSION(WHOAMI, session_handle_whoami, NEED_USER),
    ROUTE(USER_ADD, users_handle_add, RIGHT_ADMIN),
    ROUTE(USER_LIST, users_handle_list, RIGHT_STAFF),
    ROUTE(USER_PASSWD, users_handle_passwd, RIGHT_SELF_OR_ADMIN, .target_field = "login"),
    ROUTE(USER_DISABLE, users_handle_disable, RIGHT_ADMIN),
    ROUTE(USER_SET_PROFILES, users_handle_set_profiles, RIGHT_ADMIN),
    ROUTE(CAMPAIGN_GRANT, campaigns_handle_grant, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(CAMPAIGN_RIGHTS_GET, campaigns_handle_rights, RIGHT_VIEW, .campaign_field = "campaign"),
    ROUTE(CAMPAIGN_APPLY, campaigns_handle_apply, RIGHT_CREATE, .campaign_field = "campaign.name"),
    ROUTE(CAMPAIGN_GET, campaigns_handle_get, RIGHT_VIEW, .campaign_field = "name"),
    ROUTE(CAMPAIGN_LIST, campaigns_handle_list, RIGHT_STAFF),
    ROUTE(CAMPAIGN_SET_STATE, campaigns_handle_set_state, RIGHT_EDIT, .campaign_field = "name"),
    ROUTE(CAMPAIGN_DELETE, campaigns_handle_delete, RIGHT_EDIT, .campaign_field = "name"),
    ROUTE(CAMPAIGN_DUPLICATE, campaigns_handle_duplicate, RIGHT_EDIT, .campaign_field = "name"),
    ROUTE(CONTACT_CREATE, contacts_handle_create, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(CONTACT_LIST, contacts_handle_list, RIGHT_VIEW, .campaign_field = "campaign",
          .raise_field = "export", .raise_to = RIGHT_EXPORT),
    ROUTE(CONTACT_UPDATE, contacts_handle_update, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(CONTACT_MODIFY, contacts_handle_modify, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(LIST_SET, contacts_handle_list_set, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(LISTS_GET, contacts_handle_lists_get, RIGHT_VIEW, .campaign_field = "campaign"),
    ROUTE(FILTER_SAVE, contacts_handle_filter_save, RIGHT_STAFF),
    ROUTE(FILTERS_GET, contacts_handle_filters_get, RIGHT_STAFF),
    ROUTE(BLACKLIST_ADD, contacts_handle_blacklist_add, RIGHT_EDIT, .campaign_field = "campaign",
          .global_ok = true),
    ROUTE(BLACKLIST_LIST, contacts_handle_blacklist_list, RIGHT_VIEW, .campaign_field = "campaign",
          .global_ok = true),
    ROUTE(IMPORT_BEGIN, import_handle_begin, RIGHT_EDIT, .campaign_field = "campaign"),
    ROUTE(IMPORT_ROWS, import_handle_rows, RIGHT_STAFF),
    ROUTE(IMPORT_END, import_handle_end, RIGHT_STAFF),
    ROUTE(EXPORT_BEGIN, export_handle_begin, RIGHT_EXPORT, .campaign_field = "campaign"),
    ROUTE(EXPORT_NEXT, export_handle_next, RIGHT_STAFF),
    ROUTE(CAMPAIGN_STATS, campaigns_handle_stats, RIGHT_VIEW, .campaign_field = "name"),
    ROUTE(COMPLIANCE_REPORT, compliance_handle_report, RIGHT_VIEW, .campaign_field = "name"),
    ROUTE(CAMPAIGN_REPORT, campaigns_handle_report, RIGHT_EXPORT, .campaign_field = "campaign"),
};

/* The request's body message. */
static const ProtobufCMessage *body_of(const Carillon__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &carillon__v1__envelope__descriptor, (unsigned)env->body_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(const ProtobufCMessage *const *)((const char *)env + f->offset);
}

/* A field of msg by dotted path ("campaign.name"), or NULL (absent sub-message, wrong type). */
static const void *field_at(const ProtobufCMessage *msg, const char *path, ProtobufCType *type)
{
    char part[64];
    while (msg && path && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, part);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        const void *at = (const char *)msg + f->offset;
        if (!dot) {
            *type = f->type;
            return at;
        }
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return NULL;
        msg = *(const ProtobufCMessage *const *)at;
        path = dot + 1;
    }
    return NULL;
}

static const char *string_at(const ProtobufCMessage *body, const char *path)
{
    ProtobufCType t;
    const void *at = field_at(body, path, &t);
    return at && t == PROTOBUF_C_TYPE_STRING ? *(const char *const *)at : "";
}

static bool bool_at(const ProtobufCMessage *body, const char *path)
{
    ProtobufCType t;
    const void *at = field_at(body, path, &t);
    return at && t == PROTOBUF_C_TYPE_BOOL && *(const protobuf_c_boolean *)at;
}

/* Every request of a logged-in person goes through here: the route's right, then its handler. */
static void dispatch(struct client *c, const struct route *rt, Carillon__V1__Envelope *env)
{
    struct request *req = request_new(c, env);
    if (!req)
        return;
    const ProtobufCMessage *body = body_of(env);
    const char *campaign = rt->campaign_field ? string_at(body, rt->campaign_field) : NULL;
    if (campaign && !campaign[0] && !rt->global_ok)
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "campaign",
                            "%s needs a campaign name", body_name(env));
    enum right right = rt->right;
    if (rt->raise_field && bool_at(body, rt->raise_field))
        right = rt->raise_to;
    require_right(req, campaign, rt->target_field ? string_at(body, rt->target_field) : NULL, right,
                  rt->fn);
}

static void client_dispatch(struct client *c, Carillon__V1__Envelope *env);

static void client_on_message(struct cr_conn *conn, Carillon__V1__Envelope *env)
{
    struct client *c = cr_conn_data(conn);
    client_ref(c); /* limits_sync below, whatever the handler does */
    client_dispatch(c, env);
    limits_sync(c);
    client_unref(c);
}

static void client_dispatch(struct client *c, Carillon__V1__Envelope *env)
{
    struct cr_conn *conn = c->conn;
    uint64_t rid = env->request_id;
    /* The daemons' conversations are the engine's: a dialer's events, agentd's agents (their
     * limits are per agent session, engine/agents.c). Ping stays the session's. */
    if (c->state == CLIENT_DAEMON && c->srv->engine) {
        int b = (int)env->body_case;
        bool dialer_body = b == CARILLON__V1__ENVELOPE__BODY_DIALER_CAPACITY ||
                           b == CARILLON__V1__ENVELOPE__BODY_CALL_EVENT ||
                           b == CARILLON__V1__ENVELOPE__BODY_AGENT_LEG_EVENT ||
                           b == CARILLON__V1__ENVELOPE__BODY_OK ||
                           b == CARILLON__V1__ENVELOPE__BODY_ERROR ||
                           b == CARILLON__V1__ENVELOPE__BODY_PONG;
        bool agent_body = env->agent || (b >= 1000 && b < 2000);
        if (c->role == CARILLON__V1__ROLE__ROLE_DIALER && dialer_body)
            return engine_dialer_message(c, env);
        if (c->role == CARILLON__V1__ROLE__ROLE_AGENTD && agent_body)
            return engine_agentd_message(c, env);
    }
    if (!limits_request(c, env))
        return;

    if (c->state == CLIENT_HELLO) {
        if (env->body_case != CARILLON__V1__ENVELOPE__BODY_HELLO) {
            client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                         "the first message must be Hello, got %s", body_name(env));
            carillon__v1__envelope__free_unpacked(env, NULL);
            cr_conn_close(conn);
            return;
        }
        session_handle_hello(c, env);
        return;
    }
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY__NOT_SET) {
        cr_log_warn("unknown_message", "peer=%s request=%llu", c->peer, (unsigned long long)rid);
        client_error(c, rid, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                     "unknown message type: this server does not implement it");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (rt->body_case != (int)env->body_case)
            continue;
        if (rid == 0) {
            client_error(c, 0, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "request_id",
                         "a request needs a non-zero request_id");
        } else if (rt->need != NEED_ANY_AFTER_HELLO && c->state == CLIENT_DAEMON) {
            client_error(c, rid, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, NULL,
                         "%s is not for daemon connections", body_name(env));
        } else if (rt->need == NEED_USER && c->state != CLIENT_USER) {
            client_error(c, rid, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, NULL,
                         "log in first: %s needs an authenticated user", body_name(env));
        } else if (rt->session) {
            rt->session(c, env);
            return;
        } else {
            dispatch(c, rt, env);
            return;
        }
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    client_error(c, rid, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                 "%s is not a request this server handles", body_name(env));
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void client_on_open(struct cr_conn *conn)
{
    struct client *c = cr_conn_data(conn);
    cr_log_debug("client_connected", "peer=%s role=%s cn=%s", c->peer,
                 cr_conn_peer_role(conn) ? cr_conn_peer_role(conn) : "-",
                 cr_conn_peer_cn(conn) ? cr_conn_peer_cn(conn) : "-");
}

static void client_on_close(struct cr_conn *conn, int err)
{
    struct client *c = cr_conn_data(conn);
    if (c->state == CLIENT_USER || c->state == CLIENT_DAEMON || err)
        cr_log_info("client_closed", "peer=%s user=%s node=%s reason=%s", c->peer,
                    c->state == CLIENT_USER ? c->user.login : "-",
                    c->node_name[0] ? c->node_name : "-", err ? cr_log_q(strerror(-err)) : "eof");
    c->conn = NULL;
    c->state = CLIENT_CLOSED;
    limits_sync(c);
    import_client_closed(c);
    export_client_closed(c);
    engine_client_closed(c);
    client_unref(c);
}

static const struct cr_conn_cbs client_cbs = {
    .on_open = client_on_open,
    .on_message = client_on_message,
    .on_close = client_on_close,
};

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;
    if (status < 0) {
        cr_log_warn("accept_failed", "error=%s", cr_log_q(uv_strerror(status)));
        return;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        cr_log_error("accept_failed", "error=out_of_memory");
        return;
    }
    c->srv = srv;
    c->refs = 1;
    c->state = CLIENT_HELLO;
    struct cr_conn_opts opts = {
        .max_frame = (size_t)srv->cfg.max_frame,
        .max_write_queue = (size_t)srv->cfg.max_write_queue,
    };
    int rc = cr_conn_accept(listener, srv->tls, &opts, &client_cbs, c, &c->conn);
    if (rc) {
        cr_log_warn("accept_failed", "error=%s", cr_log_q(strerror(-rc)));
        free(c);
        return;
    }
    snprintf(c->peer, sizeof c->peer, "%s", cr_conn_peer(c->conn));
    snprintf(c->ip, sizeof c->ip, "%s", cr_conn_peer_ip(c->conn));
    c->next = srv->clients;
    if (srv->clients)
        srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    limits_accepted(c);
    if (srv->stopping)
        cr_conn_close(c->conn);
}

int server_listen(struct server *srv)
{
    char host[256];
    int port;
    int rc = cr_hostport_parse(srv->cfg.listen, host, sizeof host, &port);
    if (rc)
        return rc;
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        cr_log_error("listen_failed", "listen=%s error=\"listen needs an IP address\"",
                     srv->cfg.listen);
        return -EINVAL;
    }
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listening = true;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc) {
        cr_log_error("listen_failed", "listen=%s error=%s", srv->cfg.listen,
                     cr_log_q(uv_strerror(rc)));
        return rc;
    }
    limits_start(srv);
    bulk_janitor_start(srv);
    cr_log_info("ready", "listen=%s node=%s", srv->cfg.listen, srv->cfg.node_name);
    (void)cr_notify("READY=1");
    return 0;
}

void server_stop(struct server *srv, bool fast)
{
    srv->stopping = true;
    engine_stop(srv);
    (void)cr_notify("STOPPING=1");
    limits_stop(srv);
    if (srv->listening && !uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, NULL);
    bulk_janitor_stop(srv);
    for (struct client *c = srv->clients; c; c = c->next) {
        if (!c->conn)
            continue;
        if (fast)
            cr_conn_abort(c->conn);
        else
            cr_conn_close(c->conn);
    }
}
