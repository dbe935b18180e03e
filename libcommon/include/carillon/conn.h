/* A framed TLS connection on a libuv TCP stream: handshake, incremental frame decoding,
 * Envelope (un)packing, a bounded write queue, clean close; and a reconnecting client. */
#ifndef CARILLON_CONN_H
#define CARILLON_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "carillon/frame.h"
#include "carillon/tls.h"

/* The first connection makes the process ignore SIGPIPE: a vanished peer is an error code. */
struct cr_conn; /* allocated by accept/connect; freed by conn.c right after on_close returns */

struct cr_conn_opts {
    size_t max_frame;       /* largest frame accepted and sent; 0 = CR_FRAME_DEFAULT_MAX */
    size_t max_write_queue; /* bytes queued towards the peer before it counts as too slow and
                               is disconnected; 0 = 8 MiB */
    unsigned handshake_ms;  /* TLS handshake deadline; 0 = 10000 */
};

struct cr_conn_cbs {
    /* The TLS handshake finished; the peer identity is known. May be NULL. */
    void (*on_open)(struct cr_conn *c);
    /* One decoded Envelope. The callee owns env and frees it with
     * carillon__v1__envelope__free_unpacked(env, NULL). An oversized frame or a payload that
     * is not an Envelope never gets here: conn.c sends an Error (RESOURCE_EXHAUSTED or
     * INVALID_ARGUMENT), logs it and closes the connection. */
    void (*on_message)(struct cr_conn *c, Carillon__V1__Envelope *env);
    /* The connection is closed (every handle closed); c is freed right after this returns.
     * err: 0 for an orderly close by either side, else a negative errno (-ETIMEDOUT,
     * -ECONNREFUSED, -ENOBUFS for a slow peer, -EPROTO for a TLS or framing failure, ...). */
    void (*on_close)(struct cr_conn *c, int err);
};

/* Accepts one pending connection from a listening uv_tcp_t and starts the server handshake. */
int cr_conn_accept(uv_stream_t *listener, struct cr_tls_ctx *tls, const struct cr_conn_opts *opts,
                   const struct cr_conn_cbs *cbs, void *data, struct cr_conn **out)
    __attribute__((warn_unused_result));

/* Resolves host (uv_getaddrinfo), connects and starts the client handshake, verifying the
 * server certificate against host (a DNS name or an IP address). On failure after this returns
 * 0, on_close reports the error. */
int cr_conn_connect(uv_loop_t *loop, const char *host, int port, struct cr_tls_ctx *tls,
                    const struct cr_conn_opts *opts, const struct cr_conn_cbs *cbs, void *data,
                    struct cr_conn **out) __attribute__((warn_unused_result));

/* Queues one Envelope. Returns 0, -EMSGSIZE (bigger than max_frame; nothing sent, connection
 * kept), -ENOBUFS (write queue over its bound: the connection is being closed), -EPIPE
 * (closing or closed). Before on_open, frames wait for the handshake. */
int cr_conn_send(struct cr_conn *c, const Carillon__V1__Envelope *env)
    __attribute__((warn_unused_result));
/* Queues arbitrary bytes inside the TLS stream (tests use it to send malformed frames). */
int cr_conn_send_raw(struct cr_conn *c, const void *bytes, size_t len)
    __attribute__((warn_unused_result));
/* Sends an Ok envelope echoing request_id (cr_conn_send's return). */
int cr_conn_send_ok(struct cr_conn *c, uint64_t request_id) __attribute__((warn_unused_result));
/* Sends an Error envelope (code: CARILLON__V1__CODE__*) echoing request_id. */
int cr_conn_send_error(struct cr_conn *c, uint64_t request_id, int code, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Stops reading, flushes what is queued, sends TLS close_notify, closes the socket, then calls
 * on_close. Safe from inside any callback of c; idempotent. */
void cr_conn_close(struct cr_conn *c);
/* Like close, without flushing (fast shutdown). */
void cr_conn_abort(struct cr_conn *c);

/* Back-pressure: pause stops reading the socket and delivering frames (one already being
 * delivered finishes; the peer's further bytes wait in the kernel, then in its own buffers);
 * resume starts again from the loop, never inside the caller's stack. Both are safe from any
 * callback of c and idempotent; a paused connection still sends and closes normally. */
void cr_conn_pause(struct cr_conn *c);
void cr_conn_resume(struct cr_conn *c);
bool cr_conn_paused(const struct cr_conn *c);

void *cr_conn_data(const struct cr_conn *c);
void cr_conn_set_data(struct cr_conn *c, void *data);
uv_loop_t *cr_conn_loop(const struct cr_conn *c);
/* "ip:port" of the peer and the bare "ip", valid for the connection's life. */
const char *cr_conn_peer(const struct cr_conn *c);
const char *cr_conn_peer_ip(const struct cr_conn *c);
/* True when the peer presented a certificate that verified against our CA. */
bool cr_conn_peer_verified(const struct cr_conn *c);
/* OU and CN of the verified peer certificate, or NULL when it sent none. */
const char *cr_conn_peer_role(const struct cr_conn *c);
const char *cr_conn_peer_cn(const struct cr_conn *c);
size_t cr_conn_queued_bytes(const struct cr_conn *c);
size_t cr_conn_max_frame(const struct cr_conn *c);

/* Splits "host:port" or "[v6]:port" (port 1..65535) into host and port; 0 or -EINVAL. */
int cr_hostport_parse(const char *s, char *host, size_t hostlen, int *port)
    __attribute__((warn_unused_result));

/* --- reconnecting client ------------------------------------------------------------------
 * Keeps one connection to host:port up: after every close it waits (exponential backoff from
 * backoff_min_ms to backoff_max_ms with jitter, reset once a handshake succeeds) and reconnects.
 * cbs are called for each underlying connection. */
struct cr_client;

struct cr_client_opts {
    const char *host;
    int port;
    struct cr_tls_ctx *tls;
    struct cr_conn_opts conn;
    unsigned backoff_min_ms; /* 0 = 100 */
    unsigned backoff_max_ms; /* 0 = 30000 */
};

int cr_client_start(uv_loop_t *loop, const struct cr_client_opts *opts,
                    const struct cr_conn_cbs *cbs, void *data, struct cr_client **out)
    __attribute__((warn_unused_result));
/* The live connection (handshake done), or NULL. */
struct cr_conn *cr_client_conn(const struct cr_client *cl);
void *cr_client_data(const struct cr_client *cl);
/* Closes the connection, stops reconnecting, frees cl, then calls done (may be NULL). */
void cr_client_stop(struct cr_client *cl, void (*done)(void *arg), void *arg);

#endif
