/* TLS connections, client and server in one process on one loop: handshake and round trip,
 * peer identity from certificates, refused certificates and host names, TLS 1.2 and plaintext
 * clients refused, the handshake deadline, frames split into single bytes, oversized and
 * malformed frames, the slow-peer bound, closing from a callback, flushing close, and the
 * reconnecting client. Certificates come from deploy/pki.sh, which is tested here too. */
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
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "testutil.h"

static char *dir;
static char server_crl[512]; /* the test server's crl_file; "" = none */
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
                 "$p node '%s/a' server srv DNS:localhost,IP:127.0.0.1 >/dev/null; "
                 "$p node '%s/a' dialer dial1 >/dev/null; "
                 "$p node '%s/a' server elsewhere 'DNS:elsewhere.example,IP:10.9.9.9' >/dev/null; "
                 "$p ca '%s/b' >/dev/null; $p node '%s/b' dialer rogue >/dev/null; "
                 /* for the role and usage checks: right CA and names, wrong role or usage */
                 "$p listener '%s/a' lsn DNS:localhost,IP:127.0.0.1 >/dev/null; "
                 "$p node '%s/a' dialer dialsan DNS:localhost,IP:127.0.0.1 >/dev/null; "
                 "$p node '%s/a' dialer revoked >/dev/null; $p revoke '%s/a' revoked >/dev/null; "
                 "$p node '%s/a' server srvgone DNS:localhost,IP:127.0.0.1 >/dev/null; "
                 "$p revoke '%s/a' srvgone >/dev/null",
                 src, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
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
    char last_error_msg[256];
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
    bool server_reads;     /* false: the test plays a client that stops reading */
    uint64_t close_on_rid; /* the server closes from inside on_message after answering it */
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
    if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR) {
        s->last_error_code = env->error->code;
        snprintf(s->last_error_msg, sizeof s->last_error_msg, "%s", env->error->message);
    }
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
        if (w.close_on_rid && env->request_id == w.close_on_rid) {
            cr_conn_close(c);
            cr_conn_close(c); /* idempotent */
            assert_int_equal(cr_conn_send(c, &r), -EPIPE);
        }
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

/* A server presenting a/NAME.pem, with max_frame 4096. */
static void world_start_as(const char *name, size_t max_write_queue, unsigned handshake_ms)
{
    memset(&w, 0, sizeof w);
    uv_loop_init(&w.loop);
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "a/%s.pem", name);
    snprintf(key, sizeof key, "a/%s.key", name);
    struct cr_tls_config sc = {pki("a/ca.pem"), pki(cert), pki(key), server_crl, NULL};
    char err[256];
    assert_int_equal(cr_tls_ctx_new_server(&sc, &w.server_tls, err, sizeof err), 0);
    w.server_opts.max_frame = 4096;
    w.server_opts.max_write_queue = max_write_queue;
    w.server_opts.handshake_ms = handshake_ms;
    w.port = tu_free_port();
    listen_on(w.port);
}

static void world_start(size_t max_write_queue)
{
    world_start_as("srv", max_write_queue, 0);
}

/* Runs the loop until *v reaches n (or 10 s pass). */
static bool run_until_count(const int *v, int n)
{
    bool never = false;
    for (int i = 0; i < 200 && *v < n; i++)
        tu_run_until(&w.loop, &never, 50);
    return *v >= n;
}

/* Log lines (stderr) captured into a file while a refusal happens. */
static int saved_stderr = -1;

static void capture_start(void)
{
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    int fd = open(pki("log.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    cr_log_set_level(CR_LOG_WARN);
}

static const char *capture_stop(void)
{
    static char text[8192];
    cr_log_set_level(CR_LOG_ERROR);
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    FILE *f = fopen(pki("log.txt"), "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* A client context with every option (crl and role may be NULL). */
static struct cr_tls_ctx *client_ctx_full(const char *ca, const char *cert, const char *key,
                                          const char *crl, const char *role)
{
    struct cr_tls_config cc = {ca, cert, key, crl, role};
    struct cr_tls_ctx *t = NULL;
    char err[256];
    assert_int_equal(cr_tls_ctx_new_client(&cc, &t, err, sizeof err), 0);
    return t;
}

static struct cr_tls_ctx *client_ctx_role(const char *ca, const char *cert, const char *key,
                                          const char *role)
{
    return client_ctx_full(ca, cert, key, NULL, role);
}

static struct cr_tls_ctx *client_ctx(const char *ca, const char *cert, const char *key)
{
    return client_ctx_full(ca, cert, key, NULL, NULL);
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

/* A server presenting a/NAME.pem; the client (ct, freed here) must fail the handshake. */
static void assert_client_refuses(const char *name, struct cr_tls_ctx *ct)
{
    world_start_as(name, 0, 0);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_false(w.client.open);
    assert_int_equal(w.client.close_err, -EPROTO);
    world_stop(ct);
}

/* The server (a/srv.pem) must fail the handshake of the client ct (freed here). */
static void assert_server_refuses(struct cr_tls_ctx *ct)
{
    world_start(0);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_false(w.server.open);
    assert_int_equal(w.server.messages, 0);
    world_stop(ct);
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
    assert_string_equal(cr_conn_peer_ip(w.server.conn), "127.0.0.1");
    assert_int_equal(strncmp(cr_conn_peer(w.server.conn), "127.0.0.1:", 10), 0);
    /* The client verified the server: its identity is readable the same way. */
    assert_string_equal(cr_conn_peer_role(w.client.conn), "server");
    assert_string_equal(cr_conn_peer_cn(w.client.conn), "srv");

    /* The server pushes too (request id 0), and a frame above max_frame is refused at the
     * sender with the connection kept. */
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    char big[5000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    h.node_name = big;
    Carillon__V1__Envelope e = CARILLON__V1__ENVELOPE__INIT;
    e.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    e.hello = &h;
    assert_int_equal(cr_conn_send(w.server.conn, &e), -EMSGSIZE);
    h.node_name = "pushed";
    assert_int_equal(cr_conn_send(w.server.conn, &e), 0);
    assert_true(run_until_count(&w.client.messages, 2));
    assert_int_equal(w.client.last_body, CARILLON__V1__ENVELOPE__BODY_HELLO);
    assert_int_equal(w.client.last_rid, 0);
    assert_false(w.server.closed);
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
    assert_server_refuses(client_ctx(pki("a/ca.pem"), pki("b/rogue.pem"), pki("b/rogue.key")));
    /* The client does not trust the server's CA: it never opens. */
    assert_client_refuses("srv", client_ctx(pki("b/ca.pem"), NULL, NULL));
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
    assert_non_null(strstr(w.client.last_error_msg, "4097"));
    assert_non_null(strstr(w.client.last_error_msg, "4096"));
    assert_int_equal(w.server.messages, 0);
    assert_true(tu_run_until(&w.loop, &w.server.closed, 10000));
    world_stop(ct);

    /* The same after a good frame, with the oversized header cut across two records. */
    world_start(0);
    ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    send_ping(w.client.conn, 5);
    assert_true(tu_run_until(&w.loop, (bool *)&w.client.messages, 10000));
    static const uint8_t big_hdr[4] = {0, 0x01, 0, 0}; /* 65536 */
    /* Two TLS records: the server decodes the header in two feeds. */
    assert_int_equal(cr_conn_send_raw(w.client.conn, big_hdr, 2), 0);
    assert_int_equal(cr_conn_send_raw(w.client.conn, big_hdr + 2, 2), 0);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_int_equal(w.client.last_error_code, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(w.client.last_error_msg, "65536"));
    world_stop(ct);

    world_start(0);
    ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    static const uint8_t garbage[] = {0, 0, 0, 3, 0x08, 0xff, 0xff};
    assert_int_equal(cr_conn_send_raw(w.client.conn, garbage, sizeof garbage), 0);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_int_equal(w.client.last_error_code, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(w.client.last_error_msg, "malformed frame"));
    assert_int_equal(w.server.messages, 0);
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
    /* ~2 KiB frames until the kernel's socket buffers are full and our queue passes 64 KiB. */
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    char name[2000];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    h.node_name = name;
    Carillon__V1__Envelope e = CARILLON__V1__ENVELOPE__INIT;
    e.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    e.hello = &h;
    /* Both ends' sockets (the listener aside), with kernel buffers roomy enough for the burst
     * below whatever the system defaults are. */
    struct walk wk = {0};
    uv_walk(&w.loop, collect, &wk);
    uv_tcp_t *client_tcp = NULL;
    for (int i = 0; i < wk.n; i++) {
        if (wk.tcp[i] == &w.listener)
            continue;
        int size = 1 << 20;
        uv_send_buffer_size((uv_handle_t *)wk.tcp[i], &size);
        size = 1 << 20;
        uv_recv_buffer_size((uv_handle_t *)wk.tcp[i], &size);
        /* The client's socket is the one whose local port is not the server's. */
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getsockname(wk.tcp[i], (struct sockaddr *)&ss, &len) == 0 &&
            ntohs(((struct sockaddr_in *)&ss)->sin_port) != w.port)
            client_tcp = wk.tcp[i];
    }
    assert_non_null(client_tcp);
    /* First a burst the kernel takes at once while the client still reads: 80 KiB written in
     * one go is not a slow peer, only what waits in our own queue counts. */
    for (int i = 0; i < 40; i++)
        assert_int_equal(cr_conn_send(w.server.conn, &e), 0);
    assert_true(run_until_count(&w.client.messages, 41));
    assert_false(w.server.closed);
    /* Then the client stops reading: from now on only the kernel buffers hold what the server
     * sends, and then our queue. */
    uv_read_stop((uv_stream_t *)client_tcp);
    capture_start();
    int sent = 0, rc = 0;
    while (!w.server.closed && sent < 100000) {
        rc = cr_conn_send(w.server.conn, &e);
        if (rc)
            break;
        sent++;
        uv_run(&w.loop, UV_RUN_NOWAIT);
    }
    bool ok = tu_run_until(&w.loop, &w.server.closed, 10000);
    const char *log = capture_stop();
    assert_true(ok);
    assert_int_equal(rc, -ENOBUFS);
    assert_int_equal(w.server.close_err, -ENOBUFS);
    assert_non_null(strstr(log, "slow_peer peer=127.0.0.1:"));
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

/* The server closes from inside its own on_message: the reply still arrives, then both sides
 * see an orderly close, each exactly once. */
static void test_close_inside_callback(void **state)
{
    (void)state;
    world_start(0);
    w.close_on_rid = 7;
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    connect_client(ct);
    send_ping(w.client.conn, 7);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_true(tu_run_until(&w.loop, &w.server.closed, 10000));
    assert_int_equal(w.client.messages, 1);
    assert_int_equal(w.client.last_body, CARILLON__V1__ENVELOPE__BODY_PONG);
    assert_int_equal(w.client.close_err, 0);
    assert_int_equal(w.server.close_err, 0);
    world_stop(ct);
}

/* The client checks the name it dialled against the server certificate's SAN. */
static void test_server_name_checked(void **state)
{
    (void)state;
    /* a/elsewhere.pem is valid for elsewhere.example and 10.9.9.9, not for 127.0.0.1. */
    assert_client_refuses("elsewhere", client_ctx(pki("a/ca.pem"), NULL, NULL));

    /* By name: srv.pem holds DNS:localhost. */
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    assert_int_equal(
        cr_conn_connect(&w.loop, "localhost", w.port, ct, NULL, &client_cbs, NULL, &w.client.conn),
        0);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    world_stop(ct);
}

/* A client that only speaks TLS 1.2, in a thread with blocking OpenSSL calls while the loop
 * runs the server. */
struct tls12 {
    int port;
    int connect_rc;
};

static void tls12_client(void *arg)
{
    struct tls12 *t = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", t->port, &a);
    t->connect_rc = -100;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        t->connect_rc = SSL_connect(ssl);
        SSL_free(ssl);
    }
    ERR_clear_error();
    close(fd);
    SSL_CTX_free(ctx);
}

static void test_tls12_client_refused(void **state)
{
    (void)state;
    world_start(0);
    struct tls12 t = {.port = w.port};
    capture_start();
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, tls12_client, &t), 0);
    bool ok = tu_run_until(&w.loop, &w.server.closed, 10000);
    uv_thread_join(&th);
    const char *log = capture_stop();
    assert_true(ok);
    assert_true(t.connect_rc <= 0 && t.connect_rc != -100);
    assert_false(w.server.open);
    assert_int_equal(w.server.close_err, -EPROTO);
    assert_non_null(strstr(log, "tls_handshake_failed peer=127.0.0.1:"));
    assert_non_null(strstr(log, "unsupported protocol"));
    world_stop(NULL);
}

/* A raw TCP client on the loop (plaintext, or silent). */
static struct {
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_write_t wreq;
    const char *say; /* NULL: says nothing */
    bool ended;      /* the server hung up on it */
    char buf[4096];
} raw;

static void raw_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    (void)n;
    *b = uv_buf_init(raw.buf, sizeof raw.buf);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        raw.ended = true;
        uv_read_stop(s);
    }
}

static void raw_written(uv_write_t *r, int status)
{
    (void)r;
    (void)status;
}

static void raw_connected(uv_connect_t *r, int status)
{
    assert_int_equal(status, 0);
    uv_read_start(r->handle, raw_alloc, raw_read);
    if (raw.say) {
        uv_buf_t b = uv_buf_init((char *)raw.say, (unsigned)strlen(raw.say));
        assert_int_equal(uv_write(&raw.wreq, r->handle, &b, 1, raw_written), 0);
    }
}

static void raw_connect(const char *say)
{
    memset(&raw, 0, sizeof raw);
    raw.say = say;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", w.port, &a);
    uv_tcp_init(&w.loop, &raw.tcp);
    assert_int_equal(uv_tcp_connect(&raw.req, &raw.tcp, (struct sockaddr *)&a, raw_connected), 0);
}

static void test_plaintext_client_refused(void **state)
{
    (void)state;
    world_start(0);
    capture_start();
    raw_connect("GET / HTTP/1.0\r\nHost: carillon\r\n\r\n");
    bool ok = tu_run_until(&w.loop, &w.server.closed, 10000);
    const char *log = capture_stop();
    assert_true(ok);
    assert_true(tu_run_until(&w.loop, &raw.ended, 10000));
    assert_false(w.server.open);
    assert_int_equal(w.server.close_err, -EPROTO);
    assert_non_null(strstr(log, "tls_handshake_failed peer=127.0.0.1:"));
    assert_non_null(strstr(log, "http request")); /* OpenSSL's reason */
    world_stop(NULL);
}

/* A client that connects and never speaks is dropped at the handshake deadline. */
static void test_handshake_deadline(void **state)
{
    (void)state;
    world_start_as("srv", 0, 200);
    capture_start();
    raw_connect(NULL);
    bool ok = tu_run_until(&w.loop, &w.server.closed, 10000);
    const char *log = capture_stop();
    assert_true(ok);
    assert_int_equal(w.server.close_err, -ETIMEDOUT);
    assert_true(tu_run_until(&w.loop, &raw.ended, 10000));
    assert_non_null(strstr(log, "tls_handshake_failed peer=127.0.0.1:"));
    assert_non_null(strstr(log, "reason=timeout"));
    world_stop(NULL);
}

/* getaddrinfo as libuv's thread pool calls it: "slow.carillon.test" takes 300 ms (so a conn can
 * be closed and freed while its lookup runs), every other name goes to the real one. */
static volatile bool slow_lookup_started, slow_lookup_done;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, "slow.carillon.test") == 0) {
        slow_lookup_started = true;
        uv_sleep(300);
        slow_lookup_done = true;
        return EAI_NONAME;
    }
    return real(node, service, hints, res);
}

/* A conn closed while its lookup runs in the thread pool: on_close comes at once, and the
 * lookup's late completion touches nothing freed (ASan watches). */
static void test_close_during_slow_lookup(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    slow_lookup_started = slow_lookup_done = false;
    assert_int_equal(cr_conn_connect(&w.loop, "slow.carillon.test", 4, ct, NULL, &client_cbs, NULL,
                                     &w.client.conn),
                     0);
    while (!slow_lookup_started)
        uv_sleep(1);
    cr_conn_close(w.client.conn);
    assert_true(tu_run_until(&w.loop, &w.client.closed, 10000));
    assert_false(slow_lookup_done); /* the conn is gone, its lookup still runs */
    assert_int_equal(w.client.close_err, 0);
    for (int i = 0; i < 400 && w.loop.active_reqs.count > 0; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT), uv_sleep(5);
    assert_true(slow_lookup_done);
    assert_int_equal(w.loop.active_reqs.count, 0);
    world_stop(ct);
}

/* Connections aborted while their name is still being resolved report on_close once each. */
static int aborted_closes;
static int aborted_err;
static void ab_close(struct cr_conn *c, int err)
{
    (void)c;
    aborted_closes++;
    aborted_err = err;
}

static void test_abort_while_resolving(void **state)
{
    (void)state;
    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    static const struct cr_conn_cbs cbs = {NULL, NULL, ab_close};
    aborted_closes = 0;
    for (int i = 0; i < 20; i++) {
        struct cr_conn *c;
        assert_int_equal(cr_conn_connect(&w.loop, "localhost", w.port, ct, NULL, &cbs, NULL, &c),
                         0);
        if (i % 2)
            cr_conn_abort(c);
        else
            cr_conn_close(c);
        cr_conn_abort(c); /* a second call before the close completes is harmless */
    }
    assert_true(run_until_count(&aborted_closes, 20));
    /* Let any lookup still in the thread pool come back. */
    bool never = false;
    tu_run_until(&w.loop, &never, 200);
    assert_int_equal(aborted_closes, 20);
    assert_int_equal(aborted_err, 0);
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

static void stop_done(void *arg)
{
    *(bool *)arg = true;
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
    /* Stopping closes the live connection politely; done runs once everything is freed. */
    bool stopped = false;
    cr_client_stop(cl, stop_done, &stopped);
    assert_true(tu_run_until(&w.loop, &stopped, 10000));
    world_stop(ct);
}

/* A client that expects the server must not accept another daemon's certificate, even one
 * from our CA that names the right host: by key usage (clientAuth only) or by role. */
static void test_server_role_and_usage_checked(void **state)
{
    (void)state;
    /* a dialer's certificate and key, with the SANs a server would have: the key usage
     * (clientAuth only) fails the handshake */
    assert_client_refuses("dialsan", client_ctx(pki("a/ca.pem"), NULL, NULL));

    /* agentd's listener certificate (serverAuth, OU agentd): the role check refuses it, and
     * says why */
    capture_start();
    assert_client_refuses("lsn", client_ctx_role(pki("a/ca.pem"), NULL, NULL, CR_TLS_ROLE_SERVER));
    const char *log = capture_stop();
    assert_non_null(strstr(log, "tls_peer_role_refused role=\"agentd\" expected=\"server\""));

    /* ... which is what an agent desktop expects of it */
    world_start_as("lsn", 0, 0);
    struct cr_tls_ctx *ct = client_ctx_role(pki("a/ca.pem"), NULL, NULL, CR_TLS_ROLE_AGENTD);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    assert_string_equal(cr_conn_peer_role(w.client.conn), "agentd");
    world_stop(ct);

    /* the server refuses a server certificate (serverAuth only) offered as a client's */
    assert_server_refuses(
        client_ctx(pki("a/ca.pem"), pki("a/elsewhere.pem"), pki("a/elsewhere.key")));
}

/* A client certificate listed in the server's CRL fails the handshake; others still pass. */
static void test_revoked_client_refused(void **state)
{
    (void)state;
    snprintf(server_crl, sizeof server_crl, "%s/a/crl.pem", dir);
    assert_server_refuses(client_ctx(pki("a/ca.pem"), pki("a/revoked.pem"), pki("a/revoked.key")));

    world_start(0);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), pki("a/dial1.pem"), pki("a/dial1.key"));
    connect_client(ct);
    send_ping(w.client.conn, 7);
    assert_true(tu_run_until(&w.loop, (bool *)&w.client.messages, 10000));
    assert_string_equal(w.server.role, "dialer");
    world_stop(ct);

    /* the client side honours its CRL too (dialerd's [server] tls_crl): a revoked server
     * certificate is refused, the others pass */
    assert_client_refuses("srvgone",
                          client_ctx_full(pki("a/ca.pem"), NULL, NULL, pki("a/crl.pem"), NULL));
    world_start(0);
    ct = client_ctx_full(pki("a/ca.pem"), NULL, NULL, pki("a/crl.pem"), NULL);
    connect_client(ct);
    assert_true(tu_run_until(&w.loop, &w.client.open, 10000));
    world_stop(ct);

    /* a CRL file that is missing or holds no CRL is refused when the context is made */
    char err[256];
    struct cr_tls_ctx *t = NULL;
    struct cr_tls_config bad = {pki("a/ca.pem"), pki("a/srv.pem"), pki("a/srv.key"),
                                pki("a/none.pem"), NULL};
    assert_int_equal(cr_tls_ctx_new_server(&bad, &t, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "none.pem"));
    bad.crl_file = pki("a/ca.pem");
    assert_int_equal(cr_tls_ctx_new_server(&bad, &t, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "no CRL"));
    server_crl[0] = '\0';
}

/* --- deploy/pki.sh ------------------------------------------------------------------------ */

static void assert_mode_0600(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_pki_script(void **state)
{
    (void)state;
    const char *src = tu_source_dir();
    char out[4096], again[4096];
    assert_int_equal(tu_sh(out, sizeof out, "'%s/deploy/pki.sh' help", src), 0);
    assert_non_null(strstr(out, "usage:"));
    assert_int_equal(tu_sh(out, sizeof out, "'%s/deploy/pki.sh' frob 2>&1", src), 2);
    assert_non_null(strstr(out, "frob"));

    /* The CA is kept when it exists. */
    assert_int_equal(tu_sh(out, sizeof out, "cat '%s/a/ca.pem'", dir), 0);
    assert_int_equal(tu_sh(NULL, 0, "'%s/deploy/pki.sh' ca '%s/a' >/dev/null", src, dir), 0);
    assert_int_equal(tu_sh(again, sizeof again, "cat '%s/a/ca.pem'", dir), 0);
    assert_string_equal(out, again);
    assert_int_equal(tu_sh(out, sizeof out, "openssl x509 -in '%s/a/ca.pem' -noout -subject", dir),
                     0);
    assert_non_null(strstr(out, "CN = Carillon CA "));

    /* Roles are a closed list; the error names the bad one. */
    assert_int_equal(tu_sh(out, sizeof out, "'%s/deploy/pki.sh' node '%s/a' boss x 2>&1", src, dir),
                     2);
    assert_non_null(strstr(out, "'boss'"));
    assert_int_equal(tu_sh(NULL, 0, "test -e '%s/a/x.pem'", dir), 1);
    assert_int_equal(
        tu_sh(out, sizeof out, "'%s/deploy/pki.sh' node '%s/none' server x 2>&1", src, dir), 2);
    assert_non_null(strstr(out, "no CA"));

    /* A node certificate: subject, no SAN unless asked, clientAuth only for a dialer, P-256 +
     * SHA-256, 825 days, chains to its CA only, key readable by its owner only. */
    assert_int_equal(tu_sh(out, sizeof out,
                           "openssl x509 -in '%s/a/dial1.pem' -noout -text -subject "
                           "-ext subjectAltName,extendedKeyUsage",
                           dir),
                     0);
    assert_non_null(strstr(out, "subject=O = Carillon, OU = dialer, CN = dial1"));
    assert_null(strstr(out, "Alternative Name"));
    assert_null(strstr(out, "localhost"));
    assert_non_null(strstr(out, "TLS Web Client Authentication"));
    assert_null(strstr(out, "Server Authentication"));
    assert_non_null(strstr(out, "prime256v1"));
    assert_non_null(strstr(out, "ecdsa-with-SHA256"));
    assert_int_equal(tu_sh(out, sizeof out,
                           "openssl x509 -in '%s/a/elsewhere.pem' -noout -ext subjectAltName", dir),
                     0);
    assert_non_null(strstr(out, "DNS:elsewhere.example, IP Address:10.9.9.9"));
    /* a server's: serverAuth only; its SAN defaults to its name, never to localhost */
    assert_int_equal(tu_sh(out, sizeof out,
                           "'%s/deploy/pki.sh' node '%s/a' server plain.example >/dev/null && "
                           "openssl x509 -in '%s/a/plain.example.pem' -noout -subject "
                           "-ext subjectAltName,extendedKeyUsage",
                           src, dir, dir),
                     0);
    assert_non_null(strstr(out, "OU = server"));
    assert_non_null(strstr(out, "DNS:plain.example\n"));
    assert_null(strstr(out, "localhost"));
    assert_non_null(strstr(out, "TLS Web Server Authentication"));
    assert_null(strstr(out, "Client Authentication"));
    /* agentd's listener: OU agentd, serverAuth only, and it needs its SAN */
    assert_int_equal(tu_sh(out, sizeof out,
                           "openssl x509 -in '%s/a/lsn.pem' -noout -subject -ext extendedKeyUsage",
                           dir),
                     0);
    assert_non_null(strstr(out, "OU = agentd, CN = lsn"));
    assert_non_null(strstr(out, "TLS Web Server Authentication"));
    assert_null(strstr(out, "Client Authentication"));
    assert_int_equal(
        tu_sh(NULL, 0, "'%s/deploy/pki.sh' listener '%s/a' x >/dev/null 2>&1", src, dir), 2);
    /* revoke: the CRL lists the revoked certificate's serial, is signed by the CA, and a
     * certificate replaced under the same name is kept for revoking */
    assert_int_equal(
        tu_sh(NULL, 0,
              "s=$(openssl x509 -in '%s/a/revoked.pem' -noout -serial | cut -d= -f2) && "
              "openssl crl -in '%s/a/crl.pem' -noout -text | grep -q \"$s\" && "
              "openssl crl -in '%s/a/crl.pem' -CAfile '%s/a/ca.pem' -noout 2>&1 | "
              "grep -q 'verify OK' && "
              "! openssl crl -in '%s/a/crl.pem' -noout -text | "
              "grep -q \"$(openssl x509 -in '%s/a/dial1.pem' -noout -serial | cut -d= -f2)\"",
              dir, dir, dir, dir, dir, dir),
        0);
    assert_int_equal(tu_sh(out, sizeof out,
                           "'%s/deploy/pki.sh' node '%s/a' dialer again >/dev/null && "
                           "'%s/deploy/pki.sh' node '%s/a' dialer again && ls '%s/a/retired'",
                           src, dir, src, dir, dir),
                     0);
    assert_non_null(strstr(out, "previous certificate kept"));
    assert_non_null(strstr(out, "again-"));
    assert_int_equal(tu_sh(out, sizeof out,
                           "'%s/deploy/pki.sh' revoke '%s/a' '%s/b/rogue.pem' 2>&1", src, dir, dir),
                     2);
    assert_non_null(strstr(out, "not issued by the CA"));
    assert_int_equal(tu_sh(NULL, 0,
                           "openssl x509 -in '%s/a/dial1.pem' -noout -checkend %d >/dev/null && "
                           "! openssl x509 -in '%s/a/dial1.pem' -noout -checkend %d >/dev/null",
                           dir, 824 * 86400, dir, 826 * 86400),
                     0);
    assert_int_equal(tu_sh(NULL, 0,
                           "openssl verify -CAfile '%s/a/ca.pem' '%s/a/dial1.pem' >/dev/null 2>&1",
                           dir, dir),
                     0);
    assert_int_not_equal(
        tu_sh(NULL, 0, "openssl verify -CAfile '%s/b/ca.pem' '%s/a/dial1.pem' >/dev/null 2>&1", dir,
              dir),
        0);
    assert_mode_0600(pki("a/ca.key"));
    assert_mode_0600(pki("a/dial1.key"));
}

/* A client whose on_close stops it (nothing listens: every attempt is refused). */
static struct cr_client *stopping_client;
static int stop_closes;
static bool stop_done_flag;

static void stop_close(struct cr_conn *c, int err)
{
    (void)c;
    stop_closes++;
    assert_int_equal(err, -ECONNREFUSED);
    cr_client_stop(stopping_client, stop_done, &stop_done_flag);
    cr_client_stop(stopping_client, NULL, NULL); /* idempotent: the first stop's done runs */
}

static void test_client_stop_from_on_close(void **state)
{
    (void)state;
    world_start(0);
    int port = w.port;
    uv_close((uv_handle_t *)&w.listener, NULL);
    struct cr_tls_ctx *ct = client_ctx(pki("a/ca.pem"), NULL, NULL);
    struct cr_client_opts o = {.host = "127.0.0.1", .port = port, .tls = ct, .backoff_min_ms = 10};
    static const struct cr_conn_cbs cbs = {NULL, NULL, stop_close};
    stop_closes = 0;
    stop_done_flag = false;
    assert_int_equal(cr_client_start(&w.loop, &o, &cbs, NULL, &stopping_client), 0);
    /* done runs once the client is freed: no attempt can follow. */
    assert_true(tu_run_until(&w.loop, &stop_done_flag, 10000));
    assert_int_equal(stop_closes, 1);
    world_stop(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pki_script),
        cmocka_unit_test(test_round_trip_and_identity),
        cmocka_unit_test(test_no_client_cert_means_no_role),
        cmocka_unit_test(test_rogue_cert_and_wrong_ca_refused),
        cmocka_unit_test(test_split_frames),
        cmocka_unit_test(test_oversized_and_malformed),
        cmocka_unit_test(test_slow_peer_disconnected),
        cmocka_unit_test(test_close_flushes),
        cmocka_unit_test(test_close_inside_callback),
        cmocka_unit_test(test_server_name_checked),
        cmocka_unit_test(test_server_role_and_usage_checked),
        cmocka_unit_test(test_revoked_client_refused),
        cmocka_unit_test(test_tls12_client_refused),
        cmocka_unit_test(test_plaintext_client_refused),
        cmocka_unit_test(test_handshake_deadline),
        cmocka_unit_test(test_abort_while_resolving),
        cmocka_unit_test(test_close_during_slow_lookup),
        cmocka_unit_test(test_client_reconnects),
        cmocka_unit_test(test_client_stop_from_on_close),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
