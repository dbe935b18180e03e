/* carillonctl's one request API: the TLS connection to carillon-server, Hello, requests and
 * their replies (one at a time, a few pipelined, or a streamed answer), and how errors are
 * printed (text on stderr, or one JSON object on stdout with --json). Every command file goes
 * through the functions declared in ctl.h; nothing else talks to the connection. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "ctl.h"
#include "ctlutil.h"

#define EXIT_REFUSED CTL_EXIT_REFUSED
#define EXIT_USAGE   CTL_EXIT_USAGE
#define EXIT_CONN    CTL_EXIT_CONN
#define opt          ctl_opt

struct ctl_options ctl_opt = {.timeout_ms = 10000};

/* --- errors ------------------------------------------------------------------------------- */

static const char *code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&carillon__v1__code__descriptor, code);
    return v ? v->name + strlen("CODE_") : "UNKNOWN";
}

static void json_error(const char *code, const char *field, const char *msg)
{
    printf("{\"error\":{\"code\":");
    ctl_json_string(stdout, code);
    printf(",\"message\":");
    ctl_json_string(stdout, msg);
    if (field && *field) {
        printf(",\"field\":");
        ctl_json_string(stdout, field);
    }
    printf("}}\n");
}

/* Prints an error the way the exit code says: JSON on stdout with --json, text on stderr. */
static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool quiet_errors; /* set while revoking a temporary session at exit */

static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
{
    if (quiet_errors)
        return exit_code;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt.json)
        json_error(code, field, msg);
    else if (exit_code == EXIT_REFUSED)
        fprintf(stderr, "error: %s: %s%s%s%s\n", code, msg, field && *field ? " (field: " : "",
                field && *field ? field : "", field && *field ? ")" : "");
    else
        fprintf(stderr, "carillonctl: %s\n", msg);
    return exit_code;
}

/* --- the connection --------------------------------------------------------------------- */

/* One request at a time: send, then run the loop until its reply, a close or the deadline.
 * Everything here lives for the whole process; disconnect() closes it. */
static struct {
    uv_loop_t loop;
    bool loop_ready;
    struct cr_tls_ctx *tls;
    struct cr_conn *conn; /* owned by conn.c; NULL once on_close ran */
    bool open;
    bool closed;
    int close_err;
    bool timed_out;
    bool bad_reply; /* a reply to a request we did not send: the stream cannot be trusted */
    uint64_t bad_rid;
    uint64_t next_rid;
    uint64_t want_rid;
    Carillon__V1__Envelope *reply; /* ours until drop_reply() */
    /* Requests sent ahead with ctl_send, oldest first, and the replies that came for them. */
    uint64_t ahead_rid[CTL_MAX_AHEAD];
    Carillon__V1__Envelope *ahead_reply[CTL_MAX_AHEAD];
    int nahead;
    /* A streamed answer (an export): every message carrying stream_rid, oldest first. */
    uint64_t stream_rid;
    Carillon__V1__Envelope *stream_q[CTL_STREAM_QUEUE];
    int nstream;
    uv_timer_t timer;
    char server_node[128];
} net;

static void on_open(struct cr_conn *c)
{
    (void)c;
    net.open = true;
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    if (net.stream_rid &&
        (env->request_id == net.stream_rid ||
         (env->request_id == 0 && env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR))) {
        if (net.nstream == CTL_STREAM_QUEUE) { /* more ahead than the server may send */
            net.bad_reply = true;
            net.bad_rid = env->request_id;
            carillon__v1__envelope__free_unpacked(env, NULL);
            cr_conn_abort(c);
            return;
        }
        net.stream_q[net.nstream++] = env;
        return;
    }
    /* A reply to a request sent ahead; an error that names no request stops the oldest. */
    for (int i = 0; i < net.nahead; i++)
        if (!net.ahead_reply[i] &&
            (env->request_id == net.ahead_rid[i] ||
             (env->request_id == 0 && env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR))) {
            net.ahead_reply[i] = env;
            return;
        }
    int m = net.want_rid && !net.reply
                ? ctl_reply_match(net.want_rid, env->request_id,
                                  env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
                : 0;
    if (m == 1) {
        net.reply = env;
        return;
    }
    if (m < 0 && !net.bad_reply) {
        net.bad_reply = true;
        net.bad_rid = env->request_id;
        cr_conn_abort(c);
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *c, int err)
{
    (void)c;
    net.closed = true;
    net.close_err = err;
    net.conn = NULL;
}

static void on_timeout(uv_timer_t *t)
{
    (void)t;
    net.timed_out = true;
    if (net.conn)
        cr_conn_abort(net.conn);
}

static bool is_open(void)
{
    return net.open;
}

static bool have_reply(void)
{
    return net.reply != NULL;
}

/* Runs the loop until done(), a close, or opt.timeout_ms without either. The deadline is per
 * wait, not per command, so time spent at a password prompt does not count. */
static void wait_until(bool (*done)(void))
{
    uv_timer_start(&net.timer, on_timeout, opt.timeout_ms, 0);
    while (!done() && !net.closed)
        uv_run(&net.loop, UV_RUN_ONCE);
    uv_timer_stop(&net.timer);
}

static int conn_failure(void)
{
    char why[512];
    if (net.bad_reply)
        snprintf(why, sizeof why, "it answered request %llu while request %llu was awaited",
                 (unsigned long long)net.bad_rid, (unsigned long long)net.want_rid);
    else if (net.timed_out)
        snprintf(why, sizeof why, "no answer within %.3g s (--timeout, CARILLON_TIMEOUT)",
                 opt.timeout_ms / 1000.0);
    else if (net.close_err == 0)
        snprintf(why, sizeof why, "the server closed the connection");
    else if (net.close_err == -EPROTO && !net.open)
        snprintf(why, sizeof why,
                 "TLS handshake failed: its certificate is not signed by the CA in %s or does "
                 "not name %s, or it is not a Carillon server",
                 opt.ca, opt.host);
    else if (net.close_err == -EPROTO)
        snprintf(why, sizeof why, "TLS or framing error");
    else if (net.close_err == -ETIMEDOUT)
        snprintf(why, sizeof why, "TLS handshake timed out");
    else
        snprintf(why, sizeof why, "%s", uv_strerror(net.close_err));
    return report(EXIT_CONN, net.bad_reply ? "INTERNAL" : "UNAVAILABLE", NULL,
                  "cannot talk to %s: %s", opt.server, why);
}

/* Sends env with a fresh request_id; 0 or an exit code (already reported). */
static int send_request(Carillon__V1__Envelope *env)
{
    env->request_id = ++net.next_rid;
    if (!net.conn)
        return conn_failure();
    int rc = cr_conn_send(net.conn, env);
    if (rc == -EMSGSIZE)
        return report(EXIT_REFUSED, "RESOURCE_EXHAUSTED", NULL,
                      "the request is larger than the largest frame (%zu bytes)",
                      cr_conn_max_frame(net.conn));
    return rc ? conn_failure() : 0;
}

/* Sends env and waits for its reply; 0 with net.reply set, or an exit code (already
 * reported). */
static int call(Carillon__V1__Envelope *env)
{
    net.reply = NULL;
    net.want_rid = net.next_rid + 1;
    int rc = send_request(env);
    if (rc)
        return rc;
    wait_until(have_reply);
    return net.reply ? 0 : conn_failure();
}

static void drop_reply(void);
static int expect(int want);

static bool have_oldest_ahead(void)
{
    return net.nahead > 0 && net.ahead_reply[0] != NULL;
}

int ctl_send(Carillon__V1__Envelope *env)
{
    if (net.nahead == CTL_MAX_AHEAD)
        return report(EXIT_CONN, "INTERNAL", NULL, "too many requests in flight");
    int rc = send_request(env);
    if (rc)
        return rc;
    net.ahead_rid[net.nahead] = env->request_id;
    net.ahead_reply[net.nahead] = NULL;
    net.nahead++;
    return 0;
}

int ctl_collect(int want)
{
    if (net.nahead == 0)
        return report(EXIT_CONN, "INTERNAL", NULL, "no request in flight");
    wait_until(have_oldest_ahead);
    if (!net.ahead_reply[0])
        return conn_failure();
    drop_reply();
    net.reply = net.ahead_reply[0];
    net.nahead--;
    memmove(net.ahead_rid, net.ahead_rid + 1, (size_t)net.nahead * sizeof net.ahead_rid[0]);
    memmove(net.ahead_reply, net.ahead_reply + 1, (size_t)net.nahead * sizeof net.ahead_reply[0]);
    return expect(want);
}

int ctl_in_flight(void)
{
    return net.nahead;
}

static bool have_stream(void)
{
    return net.nstream > 0;
}

int ctl_stream_begin(Carillon__V1__Envelope *env)
{
    drop_reply();
    int rc = send_request(env);
    if (!rc)
        net.stream_rid = env->request_id;
    return rc;
}

int ctl_stream_recv(void)
{
    drop_reply();
    wait_until(have_stream);
    if (!net.nstream)
        return conn_failure();
    net.reply = net.stream_q[0];
    net.nstream--;
    memmove(net.stream_q, net.stream_q + 1, (size_t)net.nstream * sizeof net.stream_q[0]);
    if (net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
        return expect(CARILLON__V1__ENVELOPE__BODY_ERROR);
    return 0;
}

int ctl_send_only(Carillon__V1__Envelope *env)
{
    return send_request(env);
}

void ctl_stream_end(void)
{
    net.stream_rid = 0;
    for (int i = 0; i < net.nstream; i++)
        carillon__v1__envelope__free_unpacked(net.stream_q[i], NULL);
    net.nstream = 0;
}

static void drop_reply(void)
{
    if (net.reply)
        carillon__v1__envelope__free_unpacked(net.reply, NULL);
    net.reply = NULL;
}

/* An Error reply becomes exit 1 with its message; anything but `want` is a protocol error. */
static int expect(int want)
{
    Carillon__V1__Envelope *r = net.reply;
    if (r->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR) {
        int rc = report(EXIT_REFUSED, code_name(r->error->code), r->error->field, "%s",
                        r->error->message);
        drop_reply();
        return rc;
    }
    if ((int)r->body_case != want) {
        int got = (int)r->body_case;
        drop_reply();
        return report(EXIT_CONN, "INTERNAL", NULL,
                      "unexpected reply from %s (message %d where %d was expected)", opt.server,
                      got, want);
    }
    return 0;
}

static int connect_server(void)
{
    if (net.loop_ready) /* once per process; a second call reports how the first ended */
        return net.conn && net.open ? 0 : conn_failure();
    int trc = ctl_check_target();
    if (trc)
        return trc;
    char err[512];
    struct cr_tls_config tc = {.ca_file = opt.ca, .peer_role = CR_TLS_ROLE_SERVER};
    if (cr_tls_ctx_new_client(&tc, &net.tls, err, sizeof err) != 0)
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot talk to %s: TLS set-up: %s",
                      opt.server, err);
    uv_loop_init(&net.loop);
    net.loop_ready = true;
    uv_timer_init(&net.loop, &net.timer);
    static const struct cr_conn_cbs cbs = {on_open, on_message, on_close};
    struct cr_conn_opts copts = {.handshake_ms = opt.timeout_ms};
    int rc = cr_conn_connect(&net.loop, opt.host, opt.port, net.tls, &copts, &cbs, NULL, &net.conn);
    if (rc) {
        net.conn = NULL;
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot connect to %s: %s", opt.server,
                      uv_strerror(rc));
    }
    wait_until(is_open);
    if (!net.open)
        return conn_failure();

    char hostname[256] = "";
    if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
        snprintf(hostname, sizeof hostname, "carillonctl");
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_SUPERVISOR;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = hostname;
    h.software = "carillonctl " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_WELCOME)))
        return rc;
    const Carillon__V1__Welcome *w = net.reply->welcome;
    if (w->protocol_version != CR_PROTOCOL_VERSION) {
        unsigned v = w->protocol_version;
        drop_reply();
        return report(EXIT_CONN, "FAILED_PRECONDITION", NULL,
                      "cannot talk to %s: it speaks protocol version %u, carillonctl %u",
                      opt.server, v, CR_PROTOCOL_VERSION);
    }
    snprintf(net.server_node, sizeof net.server_node, "%s", w->node_name);
    drop_reply();
    return 0;
}

static void disconnect(void)
{
    if (net.conn)
        cr_conn_close(net.conn);
    if (net.loop_ready) {
        cr_loop_close_all(&net.loop);
        net.loop_ready = false;
    }
    if (net.tls) {
        cr_tls_ctx_free(net.tls);
        net.tls = NULL;
    }
    for (int i = 0; i < net.nahead; i++)
        if (net.ahead_reply[i])
            carillon__v1__envelope__free_unpacked(net.ahead_reply[i], NULL);
    net.nahead = 0;
    ctl_stream_end();
}

/* --- the API (ctl.h) ------------------------------------------------------------------------ */

int ctl_connect(void)
{
    return connect_server();
}

void ctl_disconnect(void)
{
    drop_reply();
    disconnect();
}

const char *ctl_server_node(void)
{
    return net.server_node;
}

int ctl_call(Carillon__V1__Envelope *env)
{
    return call(env);
}

int ctl_expect(int want)
{
    return expect(want);
}

int ctl_request(Carillon__V1__Envelope *env, int want)
{
    int rc = call(env);
    return rc ? rc : expect(want);
}

Carillon__V1__Envelope *ctl_reply(void)
{
    return net.reply;
}

void ctl_drop_reply(void)
{
    drop_reply();
}

Carillon__V1__Envelope *ctl_take_reply(void)
{
    Carillon__V1__Envelope *r = net.reply;
    net.reply = NULL;
    return r;
}

const char *ctl_code_name(int code)
{
    return code_name(code);
}

void ctl_quiet_errors(bool quiet)
{
    quiet_errors = quiet;
}

int ctl_report(int exit_code, const char *code, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return report(exit_code, code, field, "%s", msg);
}

void ctl_json_error(const char *code, const char *field, const char *msg)
{
    json_error(code, field, msg);
}

void ctl_set_timeout_ms(unsigned ms)
{
    opt.timeout_ms = ms;
}

int ctl_print_ok(const char *text)
{
    if (opt.json)
        printf("{\"ok\":true}\n");
    else
        printf("%s\n", text);
    return 0;
}

bool ctl_utc(void)
{
    return opt.utc;
}

bool ctl_json(void)
{
    return opt.json;
}

void ctl_print_padded(const char *s, int width)
{
    ctl_pad(stdout, s, width);
}

/* A time by the rule (ctlutil.h): the viewer's zone, labelled, or UTC with --utc. */
void ctl_format_time(int64_t t, char *buf, size_t len)
{
    if (ctl_time_human(t, ctl_utc(), buf, len) != 0)
        snprintf(buf, len, "%lld", (long long)t);
}

/* The same time for JSON: an RFC 3339 string, or null when it cannot be written. */
void ctl_json_time(int64_t t)
{
    char b[CTL_TIME_MAX];
    if (t && ctl_time_rfc3339(t, ctl_utc(), b, sizeof b) == 0)
        printf("\"%s\"", b);
    else
        printf("null");
}
