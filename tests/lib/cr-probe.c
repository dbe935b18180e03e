/* cr-probe: a scripted protocol client for integration tests. It connects with TLS (optionally
 * with a client certificate), runs the steps given on the command line one after the other and
 * prints one line per message received, so shell tests can assert what the server answered.
 *
 *   cr-probe --server HOST:PORT --ca CA [--cert C --key K] STEP...
 *   steps: hello ROLE [VERSION] | ping | login USER PASSWORD | users | unknown | garbage |
 *          oversize BYTES | expect-close | wait-file PATH (no request: waits until PATH exists)
 *          | send BODY [PATH=VALUE]...
 * send builds any request by reflection: BODY is the Envelope's field (contact_list), each
 * PATH=VALUE sets a field of it (campaign.name=X; repeated fields append; enums by value name or
 * number; bools true/false). Other answers print "reply body=NAME" (contact lists add
 * "rows=N total=T").
 * Output lines: "welcome node=N version=V", "pong", "login_ok user=U role=R",
 * "error code=CODE field=F message=M", "closed error=E". Exit 0 when every step ran, 3 when the
 * connection failed before the first step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

struct probe {
    uv_loop_t *loop;
    struct cr_conn *conn;
    char **steps;
    int nsteps;
    int next;
    bool open;
    bool closed;
    int close_err;
    bool waiting; /* a reply (or close) is awaited for the current step */
    uint64_t rid;
    uv_timer_t timer;
    uv_timer_t file_timer;
    const char *wait_path;
};

static const char *code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&carillon__v1__code__descriptor, code);
    return v ? v->name + strlen("CODE_") : "?";
}

static int role_value(const char *s)
{
    if (strcmp(s, "supervisor") == 0)
        return CARILLON__V1__ROLE__ROLE_SUPERVISOR;
    if (strcmp(s, "agent") == 0)
        return CARILLON__V1__ROLE__ROLE_AGENT;
    if (strcmp(s, "agentd") == 0)
        return CARILLON__V1__ROLE__ROLE_AGENTD;
    if (strcmp(s, "dialer") == 0)
        return CARILLON__V1__ROLE__ROLE_DIALER;
    return 0;
}

static void run_steps(struct probe *p);
static void send_env(struct probe *p, Carillon__V1__Envelope *env);

static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (!m)
        exit(4);
    d->message_init(m);
    return m;
}

/* Sets the field at path ("campaign.name") of m from text; -1 when path names no field. */
static int set_field(ProtobufCMessage *m, const char *path, const char *val)
{
    char name[128];
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof name)
        return -1;
    memcpy(name, path, n);
    name[n] = '\0';
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!f)
        return -1;
    char *at = (char *)m + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    if (dot) {
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            return -1;
        ProtobufCMessage **sub = (ProtobufCMessage **)at;
        if (!*sub)
            *sub = message_new(f->descriptor);
        return set_field(*sub, dot + 1, val);
    }
    size_t size = f->type == PROTOBUF_C_TYPE_STRING    ? sizeof(char *)
                  : f->type == PROTOBUF_C_TYPE_BOOL    ? sizeof(protobuf_c_boolean)
                  : f->type == PROTOBUF_C_TYPE_INT64   ? sizeof(int64_t)
                  : f->type == PROTOBUF_C_TYPE_UINT64  ? sizeof(uint64_t)
                  : f->type == PROTOBUF_C_TYPE_MESSAGE ? sizeof(void *)
                                                       : sizeof(int32_t);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *count = (size_t *)((char *)m + f->quantifier_offset);
        char *arr = realloc(*(char **)at, (*count + 1) * size);
        if (!arr)
            exit(4);
        *(char **)at = arr;
        at = arr + (*count)++ * size;
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(char **)at = strdup(val);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)at = strcmp(val, "true") == 0;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        *(int64_t *)at = strtoll(val, NULL, 10);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
            (const ProtobufCEnumDescriptor *)f->descriptor, val);
        *(int32_t *)at = v ? v->value : atoi(val);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: /* a repeated message: one with its first field set */
        *(ProtobufCMessage **)at = message_new(f->descriptor);
        return set_field(*(ProtobufCMessage **)at,
                         ((const ProtobufCMessageDescriptor *)f->descriptor)->fields[0].name, val);
    default:
        *(int32_t *)at = (int32_t)strtol(val, NULL, 10);
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    return 0;
}

/* send BODY [PATH=VALUE]...: returns the number of arguments used. */
static int send_built(struct probe *p, char **a, int left)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&carillon__v1__envelope__descriptor, a[1]);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE) {
        fprintf(stderr, "cr-probe: no request body '%s'\n", a[1]);
        exit(2);
    }
    ProtobufCMessage *body = message_new(f->descriptor);
    int used = 2;
    for (; used < left; used++) {
        char *eq = strchr(a[used], '=');
        if (!eq)
            break;
        *eq = '\0';
        int rc = set_field(body, a[used], eq + 1);
        *eq = '=';
        if (rc)
            break; /* not a field: the next step */
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = (Carillon__V1__Envelope__BodyCase)f->id;
    *(ProtobufCMessage **)((char *)&env + f->offset) = body;
    send_env(p, &env);
    protobuf_c_message_free_unpacked(body, NULL);
    return used;
}

/* wait-file: polls for the file the test creates when it is time to go on. */
static void on_file_poll(uv_timer_t *t)
{
    struct probe *p = t->data;
    if (access(p->wait_path, F_OK) != 0)
        return;
    uv_timer_stop(t);
    printf("file %s\n", p->wait_path);
    fflush(stdout);
    if (p->conn)
        run_steps(p);
}

static void send_env(struct probe *p, Carillon__V1__Envelope *env)
{
    env->request_id = ++p->rid;
    int rc = cr_conn_send(p->conn, env);
    if (rc)
        printf("send_failed error=%s\n", strerror(-rc));
}

static void run_step(struct probe *p)
{
    char **a = p->steps + p->next;
    int left = p->nsteps - p->next;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    p->waiting = true;
    if (strcmp(a[0], "hello") == 0 && left >= 2) {
        Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
        h.role = role_value(a[1]);
        h.protocol_version = CR_PROTOCOL_VERSION;
        h.node_name = "cr-probe";
        h.software = "cr-probe";
        p->next += 2;
        if (left >= 3 && a[2][0] >= '0' && a[2][0] <= '9') {
            h.protocol_version = (uint32_t)atoi(a[2]);
            p->next++;
        }
        env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
        env.hello = &h;
        send_env(p, &env);
    } else if (strcmp(a[0], "ping") == 0) {
        Carillon__V1__Ping ping = CARILLON__V1__PING__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
        p->next++;
        send_env(p, &env);
    } else if (strcmp(a[0], "login") == 0 && left >= 3) {
        Carillon__V1__Login l = CARILLON__V1__LOGIN__INIT;
        l.login = a[1];
        l.secret_case = CARILLON__V1__LOGIN__SECRET_PASSWORD;
        l.password = a[2];
        env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGIN;
        env.login = &l;
        p->next += 3;
        send_env(p, &env);
    } else if (strcmp(a[0], "users") == 0) {
        Carillon__V1__UserList ul = CARILLON__V1__USER_LIST__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_LIST;
        env.user_list = &ul;
        p->next++;
        send_env(p, &env);
    } else if (strcmp(a[0], "wait-file") == 0 && left >= 2) {
        p->wait_path = a[1];
        p->next += 2;
        p->waiting = false;
        uv_timer_start(&p->file_timer, on_file_poll, 20, 20);
    } else if (strcmp(a[0], "unknown") == 0) {
        /* request_id 77, then field 9999 that no version of the protocol defines. */
        static const uint8_t raw[] = {0, 0, 0, 8, 0x08, 77, 0xfa, 0xf0, 0x04, 0x02, 0x08, 0x01};
        p->next++;
        if (cr_conn_send_raw(p->conn, raw, sizeof raw))
            printf("send_failed\n");
    } else if (strcmp(a[0], "garbage") == 0) {
        static const uint8_t raw[] = {0, 0, 0, 4, 0x08, 0xff, 0xff, 0xff};
        p->next++;
        if (cr_conn_send_raw(p->conn, raw, sizeof raw))
            printf("send_failed\n");
    } else if (strcmp(a[0], "oversize") == 0 && left >= 2) {
        unsigned long n = strtoul(a[1], NULL, 10);
        uint8_t hdr[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        p->next += 2;
        if (cr_conn_send_raw(p->conn, hdr, sizeof hdr))
            printf("send_failed\n");
    } else if (strcmp(a[0], "send") == 0 && left >= 2) {
        p->next += send_built(p, a, left);
    } else if (strcmp(a[0], "expect-close") == 0) {
        p->next++;
    } else {
        fprintf(stderr, "cr-probe: bad step '%s'\n", a[0]);
        exit(2);
    }
    fflush(stdout);
}

static void run_steps(struct probe *p)
{
    if (p->next >= p->nsteps) {
        cr_conn_close(p->conn);
        return;
    }
    run_step(p);
}

static void on_open(struct cr_conn *c)
{
    struct probe *p = cr_conn_data(c);
    p->open = true;
    run_steps(p);
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct probe *p = cr_conn_data(c);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_WELCOME:
        printf("welcome node=%s version=%u\n", env->welcome->node_name,
               env->welcome->protocol_version);
        break;
    case CARILLON__V1__ENVELOPE__BODY_PONG:
        printf("pong\n");
        break;
    case CARILLON__V1__ENVELOPE__BODY_LOGIN_OK:
        printf("login_ok user=%s role=%d\n", env->login_ok->user->login, env->login_ok->user->role);
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        printf("error code=%s field=%s request=%llu message=%s\n", code_name(env->error->code),
               env->error->field[0] ? env->error->field : "-", (unsigned long long)env->request_id,
               env->error->message);
        break;
    case CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST_REPLY:
        printf("reply body=contact_list_reply rows=%zu total=%llu\n",
               env->contact_list_reply->n_rows, (unsigned long long)env->contact_list_reply->total);
        break;
    default: {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
            &carillon__v1__envelope__descriptor, (unsigned)env->body_case);
        printf("reply body=%s\n", f ? f->name : "?");
    }
    }
    fflush(stdout);
    carillon__v1__envelope__free_unpacked(env, NULL);
    run_steps(p);
}

static void on_close(struct cr_conn *c, int err)
{
    struct probe *p = cr_conn_data(c);
    printf("closed error=%s\n", err ? strerror(-err) : "none");
    fflush(stdout);
    p->closed = true;
    p->close_err = err;
    p->conn = NULL;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&p->file_timer, NULL);
}

static void on_timeout(uv_timer_t *t)
{
    struct probe *p = t->data;
    printf("timeout\n");
    fflush(stdout);
    if (p->conn)
        cr_conn_abort(p->conn);
}

int main(int argc, char **argv)
{
    const char *server = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--server") == 0)
            server = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0)
            ca = argv[i + 1];
        else if (strcmp(argv[i], "--cert") == 0)
            cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            key = argv[i + 1];
        else
            break;
    }
    if (!server || !ca) {
        fprintf(stderr, "usage: cr-probe --server HOST:PORT --ca CA [--cert C --key K] STEP...\n");
        return 2;
    }
    cr_log_init("cr-probe", CR_LOG_WARN, false);
    char host[256];
    int port;
    if (cr_hostport_parse(server, host, sizeof host, &port) != 0) {
        fprintf(stderr, "cr-probe: bad --server '%s'\n", server);
        return 2;
    }

    struct cr_tls_config tc = {
        .ca_file = ca, .cert_file = cert, .key_file = key, .peer_role = CR_TLS_ROLE_SERVER};
    struct cr_tls_ctx *tls = NULL;
    char err[512];
    if (cr_tls_ctx_new_client(&tc, &tls, err, sizeof err)) {
        fprintf(stderr, "cr-probe: %s\n", err);
        return 3;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct probe p = {.loop = &loop, .steps = argv + i, .nsteps = argc - i};
    uv_timer_init(&loop, &p.timer);
    uv_timer_init(&loop, &p.file_timer);
    p.file_timer.data = &p;
    p.timer.data = &p;
    uv_timer_start(&p.timer, on_timeout, 10000, 0);
    static const struct cr_conn_cbs cbs = {on_open, on_message, on_close};
    struct cr_conn_opts copts = {0};
    if (cr_conn_connect(&loop, host, port, tls, &copts, &cbs, &p, &p.conn)) {
        printf("connect_failed\n");
        return 3;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&loop);
    cr_tls_ctx_free(tls);
    return p.open ? 0 : 3;
}
