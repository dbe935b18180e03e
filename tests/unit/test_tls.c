/* TLS connections, client and server in one process on one loop: handshake and round trip,
 * peer identity from certificates, refused certificates, frames split into single bytes,
 * oversized and malformed frames, the slow-peer bound, flushing close, and the reconnecting
 * client. Certificates come from deploy/pki.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "testutil.h"

static char *dir;
static char path_buf[16][512];

static const char *pki(const char *name)
{
    static int next;
    char *p = path_buf[next++ % 16];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    cr_log_init("test_tls", CR_LOG_ERROR, false);
    dir = tu_mkdtemp();
    const char *src = tu_source_dir();
    return tu_sh(NULL, 0,
                 "set -e; p='%s/deploy/pki.sh'; $p ca '%s/a' >/dev/null; "
                 "$p node '%s/a' server srv >/dev/null; $p node '%s/a' dialer dial1 >/dev/null; "
                 "$p ca '%s/b' >/dev/null; $p node '%s/b' dialer rogue >/dev/null",
                 src, dir, dir, dir, dir, dir);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    free(dir);
    return 0;
}

/* --- a small server and client ---------------------------------------------------------- */

struct side {
    struct cr_conn *conn;
    bool open, closed;
    int close_err;
    int messages;
    uint64_t last_rid;
    int last_body;
    int last_error_code;
    char role[64], cn[64];
    bool verified;
    size_t bytes_in; /* total node_name bytes received */
};

struct world {
    uv_loop_t loop;
    uv_tcp_t listener;
    int port;
    struct cr_tls_ctx *server_tls;
    struct cr_conn_opts server_opts;
    struct side server, client;
    bool server_reads; /* false: the test plays a client that stops reading */
};

static struct world w;

static void s_open(struct cr_conn *c)
{
    w.server.open = true;
    w.server.verified = cr_conn_peer_verified(c);
    snprintf(w.server.role, sizeof w.server.role, "%s",
             cr_conn_peer_role(c) ? cr_conn_peer_role(c) : "");
    snprintf(w.server.cn, sizeof w.server.cn, "%s", cr_conn_peer_cn(c) ? cr_conn_peer_cn(c) : "");
}

static void record_msg(struct side *s, Carillon__V1__Envelope *env)
{
    s->messages++;
    s->last_rid = env->request_id;
    s->last_body = env->body_case;
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
        s->last_error_code = env->error->code;
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_HELLO)
        s->bytes_in += strlen(env->hello->node_name);
}

/* The server answers each Ping with a Pong of the same request id. */
static void s_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    record_msg(&w.server, env);
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_PING) {
        Carillon__V1__Pong pong = CARILLON__V1__PONG__INIT;
        Carillon__V1__Envelope r = CARILLON__V1__ENVELOPE__INIT;
        r.request_id = env->request_id;
        r.body_case = CARILLON__V1__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        assert_int_equal(cr_conn_send(c, &r), 0);
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void s_close(struct cr_conn *c, int err)
{
    (void)c;
    w.server.closed = true;
    w.server.close_err = err;
    w.server.conn = NULL;
}

static const struct cr_conn_cbs server_cbs = {s_open, s_message, s_close};

static void c_open(struct cr_conn *c)
{
    (void)c;
    w.client.open = true;
}

static void c_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    (void)c;
    record_msg(&w.client, env);
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void c_close(struct cr_conn *c, int err)
{
    (void)c;
    w.client.closed = true;
    w.client.close_err = err;
    w.client.conn = NULL;
}

static const struct cr_conn_cbs client_cbs = {c_open, c_message, c_close};

static void on_accept(uv_stream_t *l, int status)
{
    assert_int_equal(status, 0);
    assert_int_equal(
        cr_conn_accept(l, w.server_tls, &w.server_opts, &server_cbs, NULL, &w.server.conn), 0);
}

static void listen_on(int port)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(&w.loop, &w.listener);
    assert_int_equal(uv_tcp_bind(&w.listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&w.listener, 16, on_accept), 0);
}

static void world_start(size_t max_write_queue)
{
    memset(&w, 0, sizeof w);
    uv_loop_init(&w.loop);
    struct cr_tls_config sc = {pki("a/ca.pem"), pki("a/srv.pem"), pki("a/srv.key")};
    char err[256];
    assert_int_equal(cr_tls_ctx_new_server(&sc, &w.server_tls, err, sizeof err), 0);
    w.server_opts.max_frame = 4096;
    w.server_opts.max_write_queue = max_write_queue;
    w.port = tu_free_port();
    listen_on(w.port);
}

static struct cr_tls_ctx *client_ctx(const char *ca, const char *cert, const char *key)
{
    struct cr_tls_config cc = {ca, cert, key};
    struct cr_tls_ctx *t = NULL;
    char err[256];
    assert_int_equal(cr_tls_ctx_new_client(&cc, &t, err, sizeof err), 0);
    return t;
}

static void world_stop(struct cr_tls_ctx *ctls)
{
    if (w.client.conn)
        cr_conn_abort(w.client.conn);
    if (w.server.conn)
        cr_conn_abort(w.server.conn);
    assert_int_equal(cr_loop_close_all(&w.loop), 0);
    cr_tls_ctx_free(w.server_tls);
    cr_tls_ctx_free(ctls);
}

static void connect_client(struct cr_tls_ctx *ctls)
{
    assert_int_equal(cr_conn_connect(&w.loop, "127.0.0.1", w.port, ctls, NULL, &client_cbs, NULL,
                                     &w.client.conn),
                     0);
}

static void send_ping(struct cr_conn *c, uint64_t rid)
{
    Carillon__V1__Ping p = CARILLON__V1__PING__INIT;
    Carillon__V1__Envelope e = CARILLON__V1__ENVELOPE__INIT;
    e.request_id = rid;
    e.body_case = CARILLON__V1__ENVELOPE__BODY_PING;
    e.ping = &p;
    assert_int_equal(cr_conn_send(c, &e), 0);
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_round_trip_and_identity(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), pki("a/dial1.pem"), pki("a/dial1.key"));
    connect_client(ct);
    send_ping(w.client.conn, 41); /* queued before the handshake: sent after it */
    assert_true(tu_run_until(&w.loop, (bool *)&w.client.messages, 10000));
    assert_true(w.client.open);
    assert_int_equal(w.client.last_rid, 41);
    assert_int_equal(w.client.last_body, CARILLON__V1__ENVELOPE__BODY_PONG);
    assert_true(w.server.verified);
    assert_string_equal(w.server.role, "dialer");
    assert_string_equal(w.server.cn, "dial1");
    world_stop(ct);
}

static void test_no_client_cert_means_no_role(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    send_ping(w.client.conn, 1);
    assert_true(tu_run_until(&w.loop, (bool *)&w.client.messages, 10000));
    assert_false(w.server.verified);
    assert_string_equal(w.server.role, "");
    world_stop(ct);
}

static void test_rogue_cert_and_wrong_ca_refused(void **state)
{
    (void)state;
    /* A client certificate from another CA: the server fails the handshake. */
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), pki("b/rogue.pem"), pki("b/rogue.key"));
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_false(w.server.open);
    assert_int_equal(w.server.messages, 0);
    world_stop(ct);

    /* The client does not trust the server's CA: it never opens. */
    world_start(0);
    ct = client_ctx(pki("b/ca.pem"), NULL, NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_false(w.client.open);
    assert_int_equal(w.client.close_err, -EPROTO);
    world_stop(ct);
}

static void test_split_frames(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    /* Three frames sent one byte per TLS record. */
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.node_name = "Hélène-node";
    Carillon__V1__Envelope e = CARILLON__V1__ENVELOPE__INIT;
    e.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    e.hello = &h;
    for (int i = 0; i < 3; i++) {
        uint8_t *buf;
        size_t len;
        e.request_id = (uint64_t)i + 1;
        assert_int_equal(cr_frame_pack(&e, 0, &buf, &len), 0);
        for (size_t j = 0; j < len; j++)
            assert_int_equal(cr_conn_send_raw(w.client.conn, buf + j, 1), 0);
        free(buf);
    }
    while (w.server.messages < 3 && tu_run_until(&w.loop, &w.server.closed, 50) == false)
        ;
    assert_int_equal(w.server.messages, 3);
    assert_int_equal(w.server.last_rid, 3);
    assert_int_equal(w.server.bytes_in, 3 * strlen("Hélène-node"));
    world_stop(ct);
}

static void test_oversized_and_malformed(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    uint8_t hdr[4] = {0, 0, 0x10, 0x01}; /* 4097 > max 4096 */
    assert_int_equal(cr_conn_send_raw(w.client.conn, hdr, 4), 0);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_int_equal(w.client.last_error_code, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED);
    assert_int_equal(w.server.messages, 0);
    world_stop(ct);

    world_start(0);
    ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    static const uint8_t garbage[] = {0, 0, 0, 3, 0x08, 0xff, 0xff};
    assert_int_equal(cr_conn_send_raw(w.client.conn, garbage, sizeof garbage), 0);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_int_equal(w.client.last_error_code, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT);
    world_stop(ct);
}

/* TCP handles on the loop, to find the client's socket. */
struct walk {
    int n;
    uv_tcp_t *tcp[8];
};

static void collect(uv_handle_t *h, void *arg)
{
    struct walk *wk = arg;
    if (h->type == UV_TCP && wk->n < 8 && !uv_is_closing(h))
        wk->tcp[wk->n++] = (uv_tcp_t *)h;
}

/* The server keeps sending to a client whose socket nobody reads: past max_write_queue it drops
 * the client instead of buffering without limit. */
static void test_slow_peer_disconnected(void **state)
{
    (void)state;
    world_start(64 * 1024);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    send_ping(w.client.conn, 1);
    assert_true(tu_run_until(&w.loop, (bool *)&w.client.messages, 10000));
    /* Stop the client's reads: from now on only the kernel buffers hold what the server sends. */
    int fd = -1;
    struct walk wk = {0};
    uv_walk(&w.loop, collect, &wk);
    /* The client's socket is the TCP handle whose local port is not the server's. */
    for (int i = 0; i < wk.n; i++) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getsockname(wk.tcp[i], (struct sockaddr *)&ss, &len) == 0 &&
            ntohs(((struct sockaddr_in *)&ss)->sin_port) != w.port) {
            uv_read_stop((uv_stream_t *)wk.tcp[i]);
            uv_fileno((uv_handle_t *)wk.tcp[i], &fd);
        }
    }
    assert_true(fd >= 0);
    /* ~2 KiB frames until the kernel's socket buffers are full and the queue passes 64 KiB. */
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    char name[2000];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    h.node_name = name;
    Carillon__V1__Envelope e = CARILLON__V1__ENVELOPE__INIT;
    e.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    e.hello = &h;
    int sent = 0;
    while (!w.server.closed && sent < 100000) {
        if (!w.server.conn || cr_conn_send(w.server.conn, &e) != 0)
            break;
        sent++;
        uv_run(&w.loop, UV_RUN_NOWAIT);
    }
    assert_true(tu_run_until(&w.loop, &w.server.closed, 10000));
    assert_int_equal(w.server.close_err, -ENOBUFS);
    world_stop(ct);
}

/* A close right after many sends still delivers them all, then the peer sees the close. */
static void test_close_flushes(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    for (uint64_t i = 1; i <= 200; i++)
        send_ping(w.client.conn, i);
    cr_conn_close(w.client.conn);
    assert_true(tu_run_until(&w.loop, &w.server.closed, 10000));
    assert_int_equal(w.server.messages, 200);
    assert_int_equal(w.server.last_rid, 200);
    assert_int_equal(w.server.close_err, 0);
    world_stop(ct);
}

/* --- reconnecting client ------------------------------------------------------------------ */

static int opens;
static void rc_open(struct cr_conn *c)
{
    (void)c;
    opens++;
}
static void rc_close(struct cr_conn *c, int err)
{
    (void)c;
    (void)err;
}
static void rc_msg(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    (void)c;
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_listener_closed(uv_handle_t *h)
{
    *(bool *)h->data = true;
}

static void test_client_reconnects(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    struct cr_client_opts o = {.host = "127.0.0.1",
                               .port = w.port,
                               .tls = ct,
                               .backoff_min_ms = 20,
                               .backoff_max_ms = 200};
    static const struct cr_conn_cbs cbs = {rc_open, rc_msg, rc_close};
    struct cr_client *cl;
    opens = 0;
    assert_int_equal(cr_client_start(&w.loop, &o, &cbs, NULL, &cl), 0);
    bool first = false;
    while (opens < 1 && tu_run_until(&w.loop, &first, 50) == false)
        ;
    assert_int_equal(opens, 1);
    assert_non_null(cr_client_conn(cl));

    /* The server goes away: listener closed and the live connection dropped. */
    bool closed = false;
    w.listener.data = &closed;
    uv_close((uv_handle_t *)&w.listener, on_listener_closed);
    assert_true(tu_run_until(&w.loop, &closed, 5000));
    assert_true(tu_run_until(&w.loop, (bool *)&w.server.open, 10));
    cr_conn_abort(w.server.conn);
    bool gone = false;
    while (cr_client_conn(cl) && tu_run_until(&w.loop, &gone, 50) == false)
        ;
    assert_null(cr_client_conn(cl));
    /* Let a few attempts fail, then the server comes back on the same port. */
    bool wait = false;
    tu_run_until(&w.loop, &wait, 300);
    listen_on(w.port);
    while (opens < 2 && tu_run_until(&w.loop, &gone, 50) == false)
        ;
    assert_int_equal(opens, 2);
    cr_client_stop(cl, NULL, NULL);
    world_stop(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_identity),
        cmocka_unit_test(test_no_client_cert_means_no_role),
        cmocka_unit_test(test_rogue_cert_and_wrong_ca_refused),
        cmocka_unit_test(test_split_frames),
        cmocka_unit_test(test_oversized_and_malformed),
        cmocka_unit_test(test_slow_peer_disconnected),
        cmocka_unit_test(test_close_flushes),
        cmocka_unit_test(test_client_reconnects),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
