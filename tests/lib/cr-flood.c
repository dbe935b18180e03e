/* cr-flood: holds many connections to carillon-server for the limits tests and the server_flood
 * benchmark: idle logged-in TLS sessions, idle raw TCP sockets, a slowloris peer (TLS done, Hello
 * never finished) and a client pipelining requests without waiting for replies.
 *
 *   cr-flood --server HOST:PORT --ca CA --user U --password P
 *            [--tls N] [--tcp N] [--slowloris] [--pipeline N]
 * Prints one line per milestone: "tls_ready n=N ms=T", "tcp_ready n=N", "slowloris_closed
 * after_ms=T", "pipeline_sent n=N", "pipeline_replies n=K ms=T" (every 1000 and at the end),
 * and runs until killed. The caller raises RLIMIT_NOFILE. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/log.h"

#define TLS_WINDOW 16  /* handshakes + logins at once: below the server's max_pending */
#define TCP_WINDOW 256 /* connects at once */

static uv_loop_t loop;
static struct cr_tls_ctx *tls;
static char host[256];
static int port;
static const char *user, *password;
static char token[128];
static int tls_want, tls_started, tls_ready, tls_busy;
static int tcp_want, tcp_started, tcp_done;
static int pipeline_n;
static uint64_t t0_ms, slow_t0_ms, pipe_t0_ms;
static long pipe_replies;

enum kind { K_IDLE, K_SLOW, K_PIPE };
struct peer {
    enum kind kind;
    bool logged_in;
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void send_hello(struct cr_conn *c)
{
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_SUPERVISOR;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = "cr-flood";
    h.software = "cr-flood";
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = 1;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (cr_conn_send(c, &env) != 0)
        out("send_failed\n");
    Carillon__V1__Login l = CARILLON__V1__LOGIN__INIT;
    l.login = (char *)user;
    if (token[0]) {
        l.secret_case = CARILLON__V1__LOGIN__SECRET_TOKEN;
        l.token = token;
    } else {
        l.secret_case = CARILLON__V1__LOGIN__SECRET_PASSWORD;
        l.password = (char *)password;
    }
    Carillon__V1__Envelope le = CARILLON__V1__ENVELOPE__INIT;
    le.request_id = 2;
    le.body_case = CARILLON__V1__ENVELOPE__BODY_LOGIN;
    le.login = &l;
    if (cr_conn_send(c, &le) != 0)
        out("send_failed\n");
}

static void start_pipeline(struct cr_conn *c)
{
    Carillon__V1__UserList ul = CARILLON__V1__USER_LIST__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_LIST;
    env.user_list = &ul;
    pipe_t0_ms = uv_now(&loop);
    for (int i = 0; i < pipeline_n; i++) {
        env.request_id = 100 + (uint64_t)i;
        if (cr_conn_send(c, &env) != 0) {
            out("pipeline_send_failed at=%d\n", i);
            return;
        }
    }
    out("pipeline_sent n=%d\n", pipeline_n);
}

static void open_more(void);

static void on_open(struct cr_conn *c)
{
    struct peer *p = cr_conn_data(c);
    if (p->kind == K_SLOW) {
        /* A frame header announcing 200 bytes, then only 10 of them: Hello never completes. */
        static const uint8_t part[] = {0,    0,   0,   200, 0x08, 1,   0x12,
                                       0x30, 'c', 'r', '-', 'f',  'l', 'o'};
        slow_t0_ms = uv_now(&loop);
        if (cr_conn_send_raw(c, part, sizeof part) != 0)
            out("send_failed\n");
        out("slowloris_started\n");
        return;
    }
    send_hello(c);
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct peer *p = cr_conn_data(c);
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_LOGIN_OK && !p->logged_in) {
        p->logged_in = true;
        if (!token[0])
            snprintf(token, sizeof token, "%s", env->login_ok->token);
        if (p->kind == K_PIPE) {
            start_pipeline(c);
        } else {
            tls_ready++;
            tls_busy--;
            if (tls_ready == tls_want)
                out("tls_ready n=%d ms=%llu\n", tls_ready,
                    (unsigned long long)(uv_now(&loop) - t0_ms));
            open_more();
        }
    } else if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && env->request_id == 2) {
        out("login_error message=%s\n", env->error->message);
    } else if (p->kind == K_PIPE && env->request_id >= 100) {
        pipe_replies++;
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && pipe_replies < 5)
            out("pipeline_error message=%s\n", env->error->message);
        if (pipe_replies % 1000 == 0 || pipe_replies == pipeline_n)
            out("pipeline_replies n=%ld ms=%llu\n", pipe_replies,
                (unsigned long long)(uv_now(&loop) - pipe_t0_ms));
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *c, int err)
{
    struct peer *p = cr_conn_data(c);
    if (p->kind == K_SLOW)
        out("slowloris_closed after_ms=%llu error=%s\n",
            (unsigned long long)(uv_now(&loop) - slow_t0_ms), err ? strerror(-err) : "none");
    else if (p->kind == K_PIPE)
        out("pipeline_closed error=%s\n", err ? strerror(-err) : "none");
    else if (!p->logged_in) {
        out("tls_failed error=%s\n", err ? strerror(-err) : "none");
        tls_busy--;
    } else {
        tls_ready--;
        out("tls_closed error=%s\n", err ? strerror(-err) : "none");
    }
    free(p);
}

static const struct cr_conn_cbs cbs = {on_open, on_message, on_close};

static void connect_kind(enum kind k)
{
    struct peer *p = calloc(1, sizeof *p);
    struct cr_conn *c;
    p->kind = k;
    if (cr_conn_connect(&loop, host, port, tls, NULL, &cbs, p, &c) != 0) {
        out("connect_failed\n");
        free(p);
    }
}

static void on_tcp_closed(uv_handle_t *h)
{
    free(h);
}

static void on_tcp_connected(uv_connect_t *req, int status)
{
    uv_tcp_t *t = (uv_tcp_t *)req->handle;
    free(req);
    tcp_done++;
    if (status < 0)
        uv_close((uv_handle_t *)t, on_tcp_closed);
    if (tcp_done == tcp_want)
        out("tcp_ready n=%d ms=%llu\n", tcp_want, (unsigned long long)(uv_now(&loop) - t0_ms));
    open_more();
}

static void open_more(void)
{
    /* One password login first, then the others resume its session with the token. */
    while (tls_started < tls_want && tls_busy < (token[0] ? TLS_WINDOW : 1)) {
        tls_started++;
        tls_busy++;
        connect_kind(K_IDLE);
    }
    if (tls_ready < tls_want)
        return;
    while (tcp_started < tcp_want && tcp_started - tcp_done < TCP_WINDOW) {
        struct sockaddr_in a;
        uv_ip4_addr(host, port, &a);
        uv_tcp_t *t = malloc(sizeof *t);
        uv_connect_t *req = malloc(sizeof *req);
        uv_tcp_init(&loop, t);
        tcp_started++;
        if (uv_tcp_connect(req, t, (struct sockaddr *)&a, on_tcp_connected) != 0) {
            free(req);
            uv_close((uv_handle_t *)t, on_tcp_closed);
            tcp_done++;
        }
    }
}

int main(int argc, char **argv)
{
    const char *server = NULL, *ca = NULL;
    bool slow = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--server"))
            server = v, i++;
        else if (!strcmp(argv[i], "--ca"))
            ca = v, i++;
        else if (!strcmp(argv[i], "--user"))
            user = v, i++;
        else if (!strcmp(argv[i], "--password"))
            password = v, i++;
        else if (!strcmp(argv[i], "--tls"))
            tls_want = atoi(v), i++;
        else if (!strcmp(argv[i], "--tcp"))
            tcp_want = atoi(v), i++;
        else if (!strcmp(argv[i], "--pipeline"))
            pipeline_n = atoi(v), i++;
        else if (!strcmp(argv[i], "--slowloris"))
            slow = true;
        else {
            fprintf(stderr, "cr-flood: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!server || !ca || !user || !password ||
        cr_hostport_parse(server, host, sizeof host, &port) != 0) {
        fprintf(stderr, "usage: cr-flood --server HOST:PORT --ca CA --user U --password P "
                        "[--tls N] [--tcp N] [--slowloris] [--pipeline N]\n");
        return 2;
    }
    cr_log_init("cr-flood", CR_LOG_ERROR, false);
    struct cr_tls_config tc = {.ca_file = ca};
    char err[512];
    if (cr_tls_ctx_new_client(&tc, &tls, err, sizeof err) != 0) {
        fprintf(stderr, "cr-flood: %s\n", err);
        return 3;
    }
    uv_loop_init(&loop);
    t0_ms = uv_now(&loop);
    if (slow)
        connect_kind(K_SLOW);
    if (pipeline_n)
        connect_kind(K_PIPE);
    open_more();
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}
