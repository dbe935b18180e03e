/* Asynchronous PostgreSQL on the libuv loop: non-blocking connect, uv_poll on PQsocket, a FIFO
 * of queries sent in pipeline mode, batches that commit or fail as one, reconnection after the
 * server restarts, LISTEN/NOTIFY, and server notices to the log. No blocking libpq call. */
#ifndef CARILLON_PG_H
#define CARILLON_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct cr_pg; /* created by cr_pg_new, freed by cr_pg_close's completion */

struct cr_pg_opts {
    const char *conninfo;      /* libpq connection string, copied */
    unsigned reconnect_min_ms; /* 0 = 100 */
    unsigned reconnect_max_ms; /* 0 = 5000 */
    size_t max_queue;          /* queued + in-flight queries; 0 = 10000; beyond: -ENOBUFS */
    unsigned down_wait_ms;     /* while the connection is down, a query waits this long for
                                  it, then fails with -ENOTCONN; 0 = until it is back */
};

/* The outcome of one query or batch, valid during the callback only (PGresults are cleared
 * after it returns).
 *   status 0: every statement succeeded; res[i] is statement i's PGresult.
 *   status -EIO: a statement failed; sqlstate and message say why; nothing of the batch was
 *       committed (res entries after the failure are NULL).
 *   status -ECONNRESET: the connection was lost while the query was in flight; whether it
 *       committed is unknown. Queries not yet sent are kept and sent after reconnecting.
 *   status -ECANCELED: cr_pg_close was called before the query ran.
 *   status -ENOTCONN: the connection was down for down_wait_ms; nothing was sent. */
struct cr_pg_result {
    int status;
    const char *sqlstate; /* five-character SQLSTATE or NULL */
    const char *message;  /* primary error message or NULL */
    int nres;
    PGresult *const *res;
};
typedef void (*cr_pg_cb)(void *arg, const struct cr_pg_result *r);

int cr_pg_new(uv_loop_t *loop, const struct cr_pg_opts *opts, struct cr_pg **out)
    __attribute__((warn_unused_result));
/* Told each time the connection comes up (true) or goes down (false). */
void cr_pg_on_state(struct cr_pg *pg, void (*cb)(void *arg, bool up), void *arg);
/* Told of every NOTIFY on channels this connection LISTENs to (re-LISTENed after reconnect
 * by the caller from its on_state callback). */
void cr_pg_on_notify(struct cr_pg *pg,
                     void (*cb)(void *arg, const char *channel, const char *payload), void *arg);
bool cr_pg_is_up(const struct cr_pg *pg);

/* One parameterised statement (extended protocol; params as text, NULL = SQL NULL; copied).
 * It runs in its own implicit transaction. cb may be NULL. */
int cr_pg_query(struct cr_pg *pg, const char *sql, int nparams, const char *const *params,
                cr_pg_cb cb, void *arg) __attribute__((warn_unused_result));

/* A batch: statements sent back to back in one pipeline sync segment, so they commit together
 * or not at all; cb gets one PGresult per statement. */
struct cr_pg_batch;
struct cr_pg_batch *cr_pg_batch_new(struct cr_pg *pg);
int cr_pg_batch_add(struct cr_pg_batch *b, const char *sql, int nparams, const char *const *params)
    __attribute__((warn_unused_result));
/* Frees a batch that will not be sent (e.g. after a failed cr_pg_batch_add). */
void cr_pg_batch_discard(struct cr_pg_batch *b);
/* Queues the batch and gives up ownership of b (freed by pg.c, also on error). */
int cr_pg_batch_send(struct cr_pg_batch *b, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Several SQL statements in one string (simple protocol, e.g. a migration file). The string
 * runs as one implicit transaction unless it holds its own BEGIN/COMMIT. res holds the last
 * statement's result. */
int cr_pg_exec_script(struct cr_pg *pg, const char *sql, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* COPY ... FROM STDIN with its rows: sql is one COPY statement; data (len bytes, copied, below
 * 2 GiB) is sent as the COPY's input once the statement runs. Like a script it runs alone,
 * outside pipeline mode, and in the current transaction (the caller's BEGIN, if any). res[0] is
 * the COPY's result (PQcmdTuples says how many rows); a row the server refuses fails it with
 * -EIO, and nothing of that COPY is stored. */
int cr_pg_copy(struct cr_pg *pg, const char *sql, const char *data, size_t len, cr_pg_cb cb,
               void *arg) __attribute__((warn_unused_result));

/* Fails every queued query with -ECANCELED, closes the connection and the poll handle, frees
 * pg, then calls done (may be NULL). */
void cr_pg_close(struct cr_pg *pg, void (*done)(void *arg), void *arg);

#endif
