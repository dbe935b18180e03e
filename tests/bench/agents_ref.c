/* agents_ref: the same-run reference of tests/bench/agents. A minimal libuv + OpenSSL (TLS 1.3,
 * ECDSA P-256 certificate) server that accepts agent connections, answers Hello with Welcome and
 * holds them, nothing more: what N idle agent sessions cost at the least on this machine.
 * It uses libcommon's framed TLS connection (conn.c: OpenSSL memory BIOs on a libuv stream),
 * the layer carillon-agentd's listener stands on, so the difference is agentd's own.
 *   agents_ref --cert CERT --key KEY --ca CA [--max N]
 * stdout: "listening port=P" once bound on 127.0.0.1 (an ephemeral port), then
 * "sessions n=N" each time the count of sessions past Welcome reaches a multiple of 1000.
 * SIGTERM or SIGINT: closes everything and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define REF_MAX_SESSIONS 200000

/* One per connection, allocated at accept, freed in on_close. */
struct ref_sess {
    struct ref_sess *next, *prev;
    struct cr_conn *c;
    bool welcomed;
};

static struct {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    struct cr_tls_ctx *tls;
    struct ref_sess *all;
    unsigned open, welcomed, max;
    bool stopping;
} g;

static void on_ref_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct ref_sess *s = cr_conn_data(c);
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_HELLO && !s->welcomed &&
        env->hello->role == CARILLON__V1__ROLE__ROLE_AGENT) {
        Carillon__V1__Welcome w = CARILLON__V1__WELCOME__INIT;
        w.protocol_version = CR_PROTOCOL_VERSION;
        w.node_name = "agents-ref";
        w.software = "agents_ref";
        w.max_frame = CR_FRAME_DEFAULT_MAX;
        Carillon__V1__Envelope out = CARILLON__V1__ENVELOPE__INIT;
        out.request_id = env->request_id;
        out.body_case = CARILLON__V1__ENVELOPE__BODY_WELCOME;
        out.welcome = &w;
        if (cr_conn_send(c, &out) == 0) {
            s->welcomed = true;
            if (++g.welcomed % 1000 == 0) {
                printf("sessions n=%u\n", g.welcomed);
                fflush(stdout);
            }
        }
    } else {
        (void)cr_conn_send_error(c, env->request_id, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                                 "the reference server answers Hello only");
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_ref_close(struct cr_conn *c, int err)
{
    (void)err;
    struct ref_sess *s = cr_conn_data(c);
    if (s->welcomed)
        g.welcomed--;
    if (s->prev)
        s->prev->next = s->next;
    else
        g.all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    g.open--;
    free(s);
}

static const struct cr_conn_cbs ref_cbs = {NULL, on_ref_message, on_ref_close};

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0 || g.stopping)
        return;
    struct ref_sess *s = calloc(1, sizeof *s);
    if (!s || g.open >= g.max) {
        free(s);
        uv_tcp_t *drop = malloc(sizeof *drop); /* accepted and closed: the backlog drains */
        if (drop && uv_tcp_init(&g.loop, drop) == 0 && uv_accept(server, (uv_stream_t *)drop) == 0)
            uv_close((uv_handle_t *)drop, (uv_close_cb)free);
        else
            free(drop);
        return;
    }
    struct cr_conn_opts o = {.handshake_ms = 30000};
    if (cr_conn_accept(server, g.tls, &o, &ref_cbs, s, &s->c) != 0) {
        free(s);
        return;
    }
    s->next = g.all;
    if (g.all)
        g.all->prev = s;
    g.all = s;
    g.open++;
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (g.stopping)
        return;
    g.stopping = true;
    for (struct ref_sess *s = g.all; s; s = s->next)
        cr_conn_abort(s->c);
    uv_close((uv_handle_t *)&g.listener, NULL);
    uv_close((uv_handle_t *)&g.sigterm, NULL);
    uv_close((uv_handle_t *)&g.sigint, NULL);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *ca = NULL;
    g.max = REF_MAX_SESSIONS;
    static const struct option opts[] = {{"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"ca", required_argument, NULL, 'a'},
                                         {"max", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'm': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > REF_MAX_SESSIONS) {
                fprintf(stderr, "agents_ref: --max must be 1..%d\n", REF_MAX_SESSIONS);
                return 2;
            }
            g.max = (unsigned)v;
            break;
        }
        default:
            goto usage;
        }
    }
    if (!cert || !key || !ca || optind != argc)
        goto usage;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    cr_log_init("agents_ref", CR_LOG_WARN, false);
    char err[256];
    struct cr_tls_config tc = {.ca_file = ca, .cert_file = cert, .key_file = key};
    if (cr_tls_ctx_new_server(&tc, &g.tls, err, sizeof err) != 0) {
        fprintf(stderr, "agents_ref: TLS: %s\n", err);
        return 1;
    }
    uv_loop_init(&g.loop);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&g.loop, &g.listener);
    int rc = uv_tcp_bind(&g.listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&g.listener, 4096, on_connection);
    if (rc != 0) {
        fprintf(stderr, "agents_ref: listen on 127.0.0.1: %s\n", uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&g.listener, (struct sockaddr *)&ss, &len);
    printf("listening port=%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);
    uv_signal_init(&g.loop, &g.sigterm);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_init(&g.loop, &g.sigint);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&g.loop);
    cr_tls_ctx_free(g.tls);
    return 0;
usage:
    fprintf(stderr, "usage: agents_ref --cert CERT --key KEY --ca CA [--max N]\n");
    return 2;
}
