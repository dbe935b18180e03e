/* Framed TLS connections on libuv TCP streams (see conn.h). Ciphertext moves between the socket
 * and OpenSSL through two memory BIOs; plaintext frames go through the frame decoder. A conn owns
 * two handles (tcp, timer) and is freed once both are closed, right after on_close. */
#include "carillon/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"
#include "tls_internal.h"

#define READ_CHUNK        (64 * 1024)
#define READ_POOL_MAX     16 /* idle read buffers kept for reuse, per thread */
#define DEFAULT_WRITE_MAX (8u << 20)
#define DEFAULT_HANDSHAKE 10000
#define CLOSE_FLUSH_MS    5000

enum conn_state {
    CONN_RESOLVING,
    CONN_CONNECTING,
    CONN_HANDSHAKE,
    CONN_OPEN,
    CONN_CLOSING, /* flushing, then shutdown */
    CONN_CLOSED,  /* handles closing */
};

struct cr_conn {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t *gai; /* heap: a lookup in the thread pool may outlive the conn */
    struct addrinfo *ai;   /* resolved addresses, kept until one connects */
    struct addrinfo *ai_next;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int handles_open; /* tcp + timer, freed at 0 */
    enum conn_state state;
    bool server;
    bool reading;
    bool close_reported;
    bool close_when_open; /* closed before the handshake with frames queued: send them first */
    int close_err;
    struct cr_tls_ctx *tls;
    SSL *ssl;
    BIO *rbio, *wbio;
    struct cr_frame_decoder dec;
    struct cr_conn_opts opts;
    struct cr_conn_cbs cbs;
    void *data;
    struct cr_client *client; /* set when a cr_client owns this connection */
    uint8_t *pending;         /* plaintext sent before the handshake finished */
    size_t pending_len;
    char host[256];
    int port;
    char peer[80];
    char peer_ip[64];
    bool peer_verified;
    char peer_role[CR_TLS_MAX_NAME];
    char peer_cn[CR_TLS_MAX_NAME];
    /* Back-pressure (cr_conn_pause): no socket reads and no frames delivered while paused;
     * plaintext already decrypted but not yet decoded waits in held (malloc'd, freed once fed). */
    bool paused;
    bool resume_scheduled;
    uint8_t *held;
    size_t held_len;
};

/* Read buffers are not part of a connection (an idle one would hold 64 KiB for nothing): one
 * is taken from this pool when the socket is readable and given back as soon as its bytes are
 * in OpenSSL's memory BIO, like PgBouncer's sbuf. Per thread: a loop and its conns live on one. */
struct readbuf {
    struct readbuf *next;
};
static _Thread_local struct readbuf *read_pool;
static _Thread_local unsigned read_pool_len;

static char *readbuf_take(void)
{
    struct readbuf *b = read_pool;
    if (!b)
        return malloc(READ_CHUNK);
    read_pool = b->next;
    read_pool_len--;
    return (char *)b;
}

static void readbuf_give(char *p)
{
    if (!p)
        return;
    if (read_pool_len >= READ_POOL_MAX) {
        free(p);
        return;
    }
    struct readbuf *b = (struct readbuf *)p;
    b->next = read_pool;
    read_pool = b;
    read_pool_len++;
}

struct wreq {
    uv_write_t req;
    struct cr_conn *c;
    size_t len;
    char data[];
};

static void conn_fail(struct cr_conn *c, int err, bool flush);
static void conn_pump(struct cr_conn *c);
static bool conn_feed(struct cr_conn *c, const uint8_t *buf, size_t n);
static bool conn_feed_held(struct cr_conn *c);

#define CONN_FRAME_PAUSED 1 /* on_frame's return when the callback paused the connection */

static const char *ssl_reason(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return "connection closed during the handshake";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

/* --- handles and teardown --------------------------------------------------------------- */

static void conn_free(struct cr_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl); /* frees both BIOs */
    cr_frame_decoder_free(&c->dec);
    free(c->held);
    if (c->ai)
        uv_freeaddrinfo(c->ai);
    free(c->pending);
    free(c);
}

static void client_conn_closed(struct cr_conn *c, int err);
void cr_client_on_open_internal(struct cr_conn *c);

static void on_handle_closed(uv_handle_t *h)
{
    struct cr_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    if (!c->close_reported) {
        c->close_reported = true;
        if (c->client)
            client_conn_closed(c, c->close_err);
        else if (c->cbs.on_close)
            c->cbs.on_close(c, c->close_err);
    }
    conn_free(c);
}

static void conn_close_handles(struct cr_conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_CLOSED;
    if (c->gai) {
        /* A lookup already running cannot be cancelled: detach it, on_resolved frees it. */
        c->gai->data = NULL;
        uv_cancel((uv_req_t *)c->gai);
        c->gai = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close_handles(req->data);
}

static void on_close_timeout(uv_timer_t *t)
{
    struct cr_conn *c = t->data;
    conn_close_handles(c);
}

/* Stops reading; when flush, lets queued writes finish (bounded by CLOSE_FLUSH_MS). */
static void conn_fail(struct cr_conn *c, int err, bool flush)
{
    if (c->state >= CONN_CLOSING) {
        if (!flush && c->state == CONN_CLOSING)
            conn_close_handles(c);
        return;
    }
    bool connected = c->state == CONN_HANDSHAKE || c->state == CONN_OPEN;
    if (!c->close_err)
        c->close_err = err;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (!flush || !connected) {
        conn_close_handles(c);
        return;
    }
    c->state = CONN_CLOSING;
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_close_timeout, CLOSE_FLUSH_MS, 0);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close_handles(c);
}

void cr_conn_close(struct cr_conn *c)
{
    if (!c || c->state >= CONN_CLOSING)
        return;
    if (c->state < CONN_OPEN && c->pending_len) {
        c->close_when_open = true; /* the handshake timer still bounds the wait */
        return;
    }
    if (c->state == CONN_OPEN && c->ssl) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* queues close_notify */
        conn_pump(c);
    }
    conn_fail(c, 0, true);
}

void cr_conn_abort(struct cr_conn *c)
{
    if (!c)
        return;
    conn_fail(c, 0, false);
}

/* --- writing ---------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct cr_conn *c = w->c;
    free(w);
    if (status < 0 && status != UV_ECANCELED && c->state < CONN_CLOSING) {
        cr_log_debug("conn_write_failed", "peer=%s error=%s", c->peer, uv_strerror(status));
        conn_fail(c, status, false);
    }
}

/* What the peer has not taken yet: ciphertext libuv could not hand to the kernel, plus plaintext
 * waiting for the handshake. Bytes the kernel accepted do not count, so a burst towards a peer
 * that keeps up is not mistaken for a slow peer. */
static size_t conn_backlog(const struct cr_conn *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->pending_len;
}

static void conn_slow_peer(struct cr_conn *c, size_t backlog)
{
    cr_log_warn("slow_peer", "peer=%s queued=%zu max=%zu action=disconnect", c->peer, backlog,
                c->opts.max_write_queue);
    conn_fail(c, -ENOBUFS, false);
}

/* Moves whatever OpenSSL wrote into the memory BIO onto the socket. */
static void conn_pump(struct cr_conn *c)
{
    if (c->state == CONN_CLOSED || !c->wbio)
        return;
    size_t n;
    while ((n = BIO_ctrl_pending(c->wbio)) > 0) {
        struct wreq *w = malloc(sizeof *w + n);
        if (!w) {
            conn_fail(c, -ENOMEM, false);
            return;
        }
        int got = BIO_read(c->wbio, w->data, (int)n);
        if (got <= 0) {
            free(w);
            return;
        }
        w->c = c;
        w->len = (size_t)got;
        uv_buf_t b = uv_buf_init(w->data, (unsigned)got);
        int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
        if (rc) {
            free(w);
            conn_fail(c, rc, false);
            return;
        }
    }
    if (c->state < CONN_CLOSING && conn_backlog(c) > c->opts.max_write_queue)
        conn_slow_peer(c, conn_backlog(c));
}

static int conn_write_plain(struct cr_conn *c, const void *bytes, size_t len)
{
    if (c->state >= CONN_CLOSING)
        return -EPIPE;
    /* One write into an empty queue always goes, so a frame bigger than the bound still can. */
    size_t backlog = conn_backlog(c);
    if (backlog > 0 && backlog + len > c->opts.max_write_queue) {
        conn_slow_peer(c, backlog + len);
        return -ENOBUFS;
    }
    if (c->state != CONN_OPEN) {
        uint8_t *p = realloc(c->pending, c->pending_len + len);
        if (!p)
            return -ENOMEM;
        memcpy(p + c->pending_len, bytes, len);
        c->pending = p;
        c->pending_len += len;
        return 0;
    }
    size_t off = 0;
    ERR_clear_error();
    while (off < len) {
        int w = SSL_write(c->ssl, (const char *)bytes + off, (int)(len - off));
        if (w <= 0) {
            cr_log_warn("tls_write_failed", "peer=%s reason=%s", c->peer, cr_log_q(ssl_reason()));
            conn_fail(c, -EPROTO, false);
            return -EPIPE;
        }
        off += (size_t)w;
    }
    conn_pump(c);
    if (c->state >= CONN_CLOSING)
        return c->close_err == -ENOBUFS ? -ENOBUFS : -EPIPE;
    return 0;
}

int cr_conn_send_raw(struct cr_conn *c, const void *bytes, size_t len)
{
    return conn_write_plain(c, bytes, len);
}

int cr_conn_send(struct cr_conn *c, const Carillon__V1__Envelope *env)
{
    if (c->state >= CONN_CLOSING)
        return -EPIPE;
    uint8_t *buf;
    size_t len;
    int rc = cr_frame_pack(env, c->opts.max_frame, &buf, &len);
    if (rc)
        return rc;
    rc = conn_write_plain(c, buf, len);
    free(buf);
    return rc;
}

int cr_conn_send_ok(struct cr_conn *c, uint64_t request_id)
{
    Carillon__V1__Ok ok = CARILLON__V1__OK__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = request_id;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_OK;
    env.ok = &ok;
    return cr_conn_send(c, &env);
}

int cr_conn_send_error(struct cr_conn *c, uint64_t request_id, int code, const char *field,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Carillon__V1__Error err = CARILLON__V1__ERROR__INIT;
    err.code = code;
    err.message = msg;
    err.field = (char *)(field ? field : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = request_id;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_ERROR;
    env.error = &err;
    return cr_conn_send(c, &env);
}

/* --- reading ---------------------------------------------------------------------------- */

static void read_peer_identity(struct cr_conn *c)
{
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    if (!cert)
        return;
    c->peer_verified = SSL_get_verify_result(c->ssl) == X509_V_OK;
    if (!c->peer_verified)
        return;
    X509_NAME *subj = X509_get_subject_name(cert);
    if (X509_NAME_get_text_by_NID(subj, NID_organizationalUnitName, c->peer_role,
                                  sizeof c->peer_role) < 0)
        c->peer_role[0] = '\0';
    if (X509_NAME_get_text_by_NID(subj, NID_commonName, c->peer_cn, sizeof c->peer_cn) < 0)
        c->peer_cn[0] = '\0';
}

static int on_frame(void *arg, const uint8_t *payload, size_t len)
{
    struct cr_conn *c = arg;
    Carillon__V1__Envelope *env = cr_frame_unpack(payload, len);
    if (!env) {
        cr_log_warn("protocol_error", "peer=%s reason=malformed_frame bytes=%zu", c->peer, len);
        (void)cr_conn_send_error(c, 0, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, NULL,
                                 "malformed frame: %zu bytes that are not a carillon.v1.Envelope",
                                 len);
        cr_conn_close(c);
        return -EPROTO;
    }
    if (c->cbs.on_message)
        c->cbs.on_message(c, env);
    else
        carillon__v1__envelope__free_unpacked(env, NULL);
    /* The callback may have closed us: stop delivering frames then; or paused us. */
    if (c->state != CONN_OPEN)
        return -ECANCELED;
    return c->paused ? CONN_FRAME_PAUSED : 0;
}

/* The decoder only says "too large"; the Error names the announced size, found by walking the
 * frame headers of this chunk from where the decoder stood before it (hdr: its first buffered
 * bytes, had: how many it had buffered). Runs only on that error path. */
static uint32_t oversized_length(const uint8_t hdr[CR_FRAME_HEADER], size_t had, const uint8_t *in,
                                 size_t n, size_t max)
{
    uint8_t h[CR_FRAME_HEADER];
    size_t hl = had < CR_FRAME_HEADER ? had : CR_FRAME_HEADER;
    memcpy(h, hdr, hl);
    size_t pos = 0;
    for (;;) {
        while (hl < CR_FRAME_HEADER && pos < n)
            h[hl++] = in[pos++];
        if (hl < CR_FRAME_HEADER)
            return 0;
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (len > max)
            return len;
        size_t rest = CR_FRAME_HEADER + (size_t)len - (had > CR_FRAME_HEADER ? had : hl);
        had = 0;
        hl = 0;
        if (rest > n - pos)
            return 0;
        pos += rest;
    }
}

static void conn_handshake_done(struct cr_conn *c)
{
    c->state = CONN_OPEN;
    uv_timer_stop(&c->timer);
    read_peer_identity(c);
    cr_log_debug("tls_established", "peer=%s cipher=%s role=%s", c->peer,
                 SSL_get_cipher_name(c->ssl), c->peer_role[0] ? c->peer_role : "-");
    if (c->pending_len) {
        uint8_t *p = c->pending;
        size_t n = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        (void)conn_write_plain(c, p, n);
        free(p);
    }
    if (c->state != CONN_OPEN)
        return;
    if (c->close_when_open) {
        cr_conn_close(c);
        return;
    }
    if (c->client) {
        cr_client_on_open_internal(c);
    } else if (c->cbs.on_open) {
        c->cbs.on_open(c);
    }
}

static void conn_drive_tls(struct cr_conn *c)
{
    if (c->state == CONN_HANDSHAKE) {
        ERR_clear_error(); /* SSL_get_error reads the thread's queue: only ours may be there */
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            int e = SSL_get_error(c->ssl, rc);
            conn_pump(c); /* the alert, if any */
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            long vr = SSL_get_verify_result(c->ssl);
            cr_log_warn("tls_handshake_failed", "peer=%s reason=%s%s%s", c->peer,
                        cr_log_q(ssl_reason()), vr != X509_V_OK ? " verify=" : "",
                        vr != X509_V_OK ? cr_log_q(X509_verify_cert_error_string(vr)) : "");
            conn_fail(c, -EPROTO, true);
            return;
        }
        conn_pump(c);
        conn_handshake_done(c);
        if (c->state != CONN_OPEN)
            return;
    }
    if (c->held && !conn_feed_held(c))
        return;
    uint8_t buf[16384];
    while (c->state == CONN_OPEN && !c->paused) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            conn_pump(c);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify from the peer */
                conn_fail(c, 0, true);
                return;
            }
            cr_log_warn("tls_read_failed", "peer=%s reason=%s", c->peer, cr_log_q(ssl_reason()));
            conn_fail(c, -EPROTO, false);
            return;
        }
        if (!conn_feed(c, buf, (size_t)n))
            return;
    }
}

/* Decodes plaintext; false when decoding must stop (closed, failed or paused: then the bytes
 * not yet decoded are kept in held). */
static bool conn_feed(struct cr_conn *c, const uint8_t *buf, size_t n)
{
    uint8_t hdr[CR_FRAME_HEADER] = {0};
    size_t had = c->dec.len;
    if (had)
        memcpy(hdr, c->dec.buf, had < CR_FRAME_HEADER ? had : CR_FRAME_HEADER);
    size_t used = 0;
    int rc = cr_frame_decoder_feed_part(&c->dec, buf, n, on_frame, c, &used);
    if (rc == CONN_FRAME_PAUSED) {
        if (used < n) {
            uint8_t *h = malloc(n - used);
            if (!h) {
                conn_fail(c, -ENOMEM, false);
                return false;
            }
            memcpy(h, buf + used, n - used);
            free(c->held);
            c->held = h;
            c->held_len = n - used;
        }
        return false;
    }
    cr_frame_decoder_release(&c->dec);
    if (rc == -EMSGSIZE) {
        uint32_t size = oversized_length(hdr, had, buf, (size_t)n, c->dec.max_frame);
        cr_log_warn("protocol_error", "peer=%s reason=frame_too_large size=%u max=%zu", c->peer,
                    size, c->dec.max_frame);
        (void)cr_conn_send_error(c, 0, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                                 "frame of %u bytes is larger than the maximum of %zu bytes", size,
                                 c->dec.max_frame);
        cr_conn_close(c);
        return false;
    }
    if (rc)
        return false;
    return true;
}

/* Feeds what a pause left undecoded; false when decoding must stop again. */
static bool conn_feed_held(struct cr_conn *c)
{
    uint8_t *h = c->held;
    size_t n = c->held_len;
    c->held = NULL;
    c->held_len = 0;
    bool go_on = conn_feed(c, h, n);
    free(h);
    return go_on;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    (void)h;
    char *p = readbuf_take();
    *buf = uv_buf_init(p, p ? READ_CHUNK : 0); /* 0: libuv reports UV_ENOBUFS to on_read */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct cr_conn *c = s->data;
    if (n <= 0)
        readbuf_give(buf->base);
    if (n == 0)
        return;
    if (n < 0) {
        if (c->state == CONN_HANDSHAKE)
            cr_log_warn("tls_handshake_failed", "peer=%s reason=%s", c->peer,
                        n == UV_EOF ? "\"peer closed before the handshake finished\""
                                    : cr_log_q(uv_strerror((int)n)));
        conn_fail(c, n == UV_EOF ? (c->state == CONN_HANDSHAKE ? -EPROTO : 0) : (int)n, false);
        return;
    }
    int w = BIO_write(c->rbio, buf->base, (int)n);
    readbuf_give(buf->base);
    if (w != (int)n) {
        conn_fail(c, -ENOMEM, false);
        return;
    }
    conn_drive_tls(c);
}

/* --- back-pressure ---------------------------------------------------------------------- */

void cr_conn_pause(struct cr_conn *c)
{
    if (!c || c->paused || c->state >= CONN_CLOSING)
        return;
    c->paused = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

bool cr_conn_paused(const struct cr_conn *c)
{
    return c->paused;
}

/* Runs from the loop, never inside a callback of c: decodes what waited, then reads again. */
static void on_resume(uv_timer_t *t)
{
    struct cr_conn *c = t->data;
    c->resume_scheduled = false;
    if (c->paused || c->state != CONN_OPEN)
        return;
    conn_drive_tls(c);
    if (c->paused || c->state != CONN_OPEN || c->reading)
        return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        conn_fail(c, rc, false);
        return;
    }
    c->reading = true;
}

void cr_conn_resume(struct cr_conn *c)
{
    if (!c || !c->paused)
        return;
    c->paused = false;
    /* The timer is idle once the connection is open (it bounds the handshake and the close). */
    if (c->state == CONN_OPEN && !c->resume_scheduled) {
        c->resume_scheduled = true;
        uv_timer_start(&c->timer, on_resume, 0, 0);
    }
}

static void on_handshake_timeout(uv_timer_t *t)
{
    struct cr_conn *c = t->data;
    cr_log_warn("tls_handshake_failed", "peer=%s reason=timeout", c->peer);
    conn_fail(c, -ETIMEDOUT, false);
}

/* --- set-up ----------------------------------------------------------------------------- */

static struct cr_conn *conn_new(uv_loop_t *loop, struct cr_tls_ctx *tls,
                                const struct cr_conn_opts *opts, const struct cr_conn_cbs *cbs,
                                void *data)
{
    /* A peer that goes away mid-write must cost an EPIPE, not the process (SIGPIPE). Every
     * Carillon process talks through conn.c, so it is set here once for all of them. */
    static bool sigpipe_ignored;
    if (!sigpipe_ignored) {
        signal(SIGPIPE, SIG_IGN);
        sigpipe_ignored = true;
    }
    struct cr_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->tls = tls;
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_frame)
        c->opts.max_frame = CR_FRAME_DEFAULT_MAX;
    if (!c->opts.max_write_queue)
        c->opts.max_write_queue = DEFAULT_WRITE_MAX;
    if (!c->opts.handshake_ms)
        c->opts.handshake_ms = DEFAULT_HANDSHAKE;
    if (cbs)
        c->cbs = *cbs;
    c->data = data;
    cr_frame_decoder_init(&c->dec, c->opts.max_frame);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    snprintf(c->peer, sizeof c->peer, "-");
    return c;
}

static int conn_start_tls(struct cr_conn *c)
{
    c->ssl = SSL_new(c->tls->ssl);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        return -ENOMEM;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    /* OpenSSL's own record buffers (about 34 KiB) are freed while a connection is idle. */
    SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
    if (c->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        unsigned char ip[16];
        if (inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
        } else {
            SSL_set_tlsext_host_name(c->ssl, c->host);
            SSL_set1_host(c->ssl, c->host);
        }
    }
    c->state = CONN_HANDSHAKE;
    uv_timer_start(&c->timer, on_handshake_timeout, c->opts.handshake_ms, 0);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc)
        return rc;
    c->reading = true;
    if (!c->server) {
        ERR_clear_error();
        (void)SSL_do_handshake(c->ssl); /* the ClientHello; failures surface in conn_drive_tls */
        conn_pump(c);
    }
    return 0;
}

static void format_peer(struct cr_conn *c, const struct sockaddr *sa)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
    }
    snprintf(c->peer_ip, sizeof c->peer_ip, "%s", ip);
}

int cr_conn_accept(uv_stream_t *listener, struct cr_tls_ctx *tls, const struct cr_conn_opts *opts,
                   const struct cr_conn_cbs *cbs, void *data, struct cr_conn **out)
{
    struct cr_conn *c = conn_new(listener->loop, tls, opts, cbs, data);
    if (!c)
        return -ENOMEM;
    c->server = true;
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (!rc) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
            format_peer(c, (struct sockaddr *)&ss);
        uv_tcp_nodelay(&c->tcp, 1);
        rc = conn_start_tls(c);
    }
    if (rc) {
        /* The caller never hears of this connection: no on_close. */
        c->close_reported = true;
        conn_close_handles(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void conn_connect_next(struct cr_conn *c);

/* A socket whose connect failed cannot connect again: after its close, a fresh handle tries the
 * next address. If the conn was closed meanwhile, this is the tcp handle's final close. */
static void on_tcp_recycled(uv_handle_t *h)
{
    struct cr_conn *c = h->data;
    if (c->state != CONN_CONNECTING) {
        on_handle_closed(h);
        return;
    }
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    conn_connect_next(c);
}

static void conn_connect_failed(struct cr_conn *c, int status)
{
    cr_log_debug("connect_failed", "server=%s:%d peer=%s error=%s", c->host, c->port, c->peer,
                 uv_strerror(status));
    if (c->ai_next) {
        uv_close((uv_handle_t *)&c->tcp, on_tcp_recycled);
        return;
    }
    conn_fail(c, status, false);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct cr_conn *c = req->data;
    if (c->state != CONN_CONNECTING)
        return;
    if (status < 0) {
        conn_connect_failed(c, status);
        return;
    }
    uv_freeaddrinfo(c->ai);
    c->ai = c->ai_next = NULL;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = conn_start_tls(c);
    if (rc)
        conn_fail(c, rc, false);
}

/* Tries the resolved addresses in order ("localhost" may give ::1 first to an IPv4 listener). */
static void conn_connect_next(struct cr_conn *c)
{
    struct addrinfo *ai = c->ai_next;
    c->ai_next = ai->ai_next;
    format_peer(c, ai->ai_addr);
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, ai->ai_addr, on_connected);
    if (rc)
        conn_connect_failed(c, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct cr_conn *c = req->data;
    free(req);
    if (!c || c->state != CONN_RESOLVING) {
        uv_freeaddrinfo(res);
        return;
    }
    c->gai = NULL;
    if (status < 0 || !res) {
        cr_log_debug("resolve_failed", "host=%s error=%s", c->host,
                     status < 0 ? uv_strerror(status) : "no address");
        uv_freeaddrinfo(res);
        conn_fail(c, status < 0 ? status : -EHOSTUNREACH, false);
        return;
    }
    c->ai = c->ai_next = res;
    c->state = CONN_CONNECTING;
    conn_connect_next(c);
}

int cr_conn_connect(uv_loop_t *loop, const char *host, int port, struct cr_tls_ctx *tls,
                    const struct cr_conn_opts *opts, const struct cr_conn_cbs *cbs, void *data,
                    struct cr_conn **out)
{
    if (!host || strlen(host) >= sizeof((struct cr_conn *)0)->host || port < 1 || port > 65535)
        return -EINVAL;
    struct cr_conn *c = conn_new(loop, tls, opts, cbs, data);
    if (!c)
        return -ENOMEM;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    c->state = CONN_RESOLVING;
    c->gai = malloc(sizeof *c->gai);
    if (!c->gai) {
        c->close_reported = true;
        conn_close_handles(c);
        return -ENOMEM;
    }
    c->gai->data = c;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, c->gai, on_resolved, host, service, &hints);
    if (rc) {
        free(c->gai);
        c->gai = NULL;
        c->close_reported = true;
        conn_close_handles(c);
        return rc;
    }
    /* The timer bounds resolution + connection + handshake. */
    uv_timer_start(&c->timer, on_handshake_timeout, c->opts.handshake_ms, 0);
    *out = c;
    return 0;
}

void *cr_conn_data(const struct cr_conn *c)
{
    return c->data;
}

void cr_conn_set_data(struct cr_conn *c, void *data)
{
    c->data = data;
}

uv_loop_t *cr_conn_loop(const struct cr_conn *c)
{
    return c->loop;
}

const char *cr_conn_peer(const struct cr_conn *c)
{
    return c->peer;
}

const char *cr_conn_peer_ip(const struct cr_conn *c)
{
    return c->peer_ip;
}

bool cr_conn_peer_verified(const struct cr_conn *c)
{
    return c->peer_verified;
}

const char *cr_conn_peer_role(const struct cr_conn *c)
{
    return c->peer_verified && c->peer_role[0] ? c->peer_role : NULL;
}

const char *cr_conn_peer_cn(const struct cr_conn *c)
{
    return c->peer_verified && c->peer_cn[0] ? c->peer_cn : NULL;
}

size_t cr_conn_queued_bytes(const struct cr_conn *c)
{
    return conn_backlog(c);
}

size_t cr_conn_max_frame(const struct cr_conn *c)
{
    return c->opts.max_frame;
}

int cr_hostport_parse(const char *s, char *host, size_t hostlen, int *port)
{
    if (!s || !*s)
        return -EINVAL;
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 1 || p > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

/* --- reconnecting client ---------------------------------------------------------------- */

struct cr_client {
    uv_loop_t *loop;
    struct cr_client_opts opts;
    char host[256];
    struct cr_conn_cbs cbs;
    void *data;
    struct cr_conn *conn; /* current connection (any state) or NULL */
    bool open;
    bool stopping;
    unsigned backoff_ms;
    uv_timer_t timer;
    void (*done)(void *arg);
    void *done_arg;
};

static void client_connect(struct cr_client *cl);

static void on_client_timer_closed(uv_handle_t *h)
{
    struct cr_client *cl = h->data;
    void (*done)(void *) = cl->done;
    void *arg = cl->done_arg;
    free(cl);
    if (done)
        done(arg);
}

static void on_retry(uv_timer_t *t)
{
    client_connect(t->data);
}

static void client_schedule(struct cr_client *cl)
{
    unsigned min = cl->opts.backoff_min_ms, max = cl->opts.backoff_max_ms;
    unsigned delay = cl->backoff_ms ? cl->backoff_ms : min;
    /* Jitter: up to a quarter of the delay, so many daemons do not reconnect in step. */
    unsigned r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) /* rand() would be in step everywhere */
        r = (unsigned)uv_hrtime();
    unsigned jitter = delay / 4 ? r % (delay / 4) : 0;
    cl->backoff_ms = delay * 2 > max ? max : delay * 2;
    uv_timer_start(&cl->timer, on_retry, delay + jitter, 0);
}

void cr_client_on_open_internal(struct cr_conn *c)
{
    struct cr_client *cl = c->client;
    cl->open = true;
    cl->backoff_ms = 0;
    cr_log_info("connected", "server=%s:%d", cl->host, cl->opts.port);
    if (cl->cbs.on_open)
        cl->cbs.on_open(c);
}

static void client_conn_closed(struct cr_conn *c, int err)
{
    struct cr_client *cl = c->client;
    bool was_open = cl->open;
    cl->conn = NULL;
    cl->open = false;
    if (was_open || !cl->stopping)
        cr_log_info("disconnected", "server=%s:%d error=%s", cl->host, cl->opts.port,
                    err ? cr_log_q(strerror(err < 0 && err > -4096 ? -err : EIO)) : "none");
    if (cl->cbs.on_close)
        cl->cbs.on_close(c, err);
    if (cl->stopping) {
        /* on_close may itself have called cr_client_stop, which closed the timer already. */
        if (!uv_is_closing((uv_handle_t *)&cl->timer))
            uv_close((uv_handle_t *)&cl->timer, on_client_timer_closed);
        return;
    }
    client_schedule(cl);
}

static void client_connect(struct cr_client *cl)
{
    struct cr_conn *c = NULL;
    int rc = cr_conn_connect(cl->loop, cl->host, cl->opts.port, cl->opts.tls, &cl->opts.conn,
                             &cl->cbs, cl->data, &c);
    if (rc) {
        client_schedule(cl);
        return;
    }
    c->client = cl;
    cl->conn = c;
}

int cr_client_start(uv_loop_t *loop, const struct cr_client_opts *opts,
                    const struct cr_conn_cbs *cbs, void *data, struct cr_client **out)
{
    if (!opts->host || strlen(opts->host) >= 256 || !opts->tls)
        return -EINVAL;
    struct cr_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -ENOMEM;
    cl->loop = loop;
    cl->opts = *opts;
    snprintf(cl->host, sizeof cl->host, "%s", opts->host);
    cl->opts.host = cl->host;
    if (!cl->opts.backoff_min_ms)
        cl->opts.backoff_min_ms = 100;
    if (!cl->opts.backoff_max_ms)
        cl->opts.backoff_max_ms = 30000;
    cl->cbs = *cbs;
    cl->data = data;
    uv_timer_init(loop, &cl->timer);
    cl->timer.data = cl;
    client_connect(cl);
    *out = cl;
    return 0;
}

struct cr_conn *cr_client_conn(const struct cr_client *cl)
{
    return cl->open ? cl->conn : NULL;
}

void *cr_client_data(const struct cr_client *cl)
{
    return cl->data;
}

void cr_client_stop(struct cr_client *cl, void (*done)(void *arg), void *arg)
{
    if (cl->stopping)
        return;
    cl->stopping = true;
    cl->done = done;
    cl->done_arg = arg;
    uv_timer_stop(&cl->timer);
    if (cl->conn)
        cr_conn_close(cl->conn); /* client_conn_closed finishes the stop */
    else
        uv_close((uv_handle_t *)&cl->timer, on_client_timer_closed);
}
