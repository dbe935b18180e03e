/* Asynchronous libpq on a libuv loop (see pg.h). One connection in pipeline mode: queued items
 * are sent back to back, each ending at a sync point, and their results are matched in FIFO
 * order. A multi-statement script or a COPY leaves pipeline mode for the time it runs (libpq
 * allows neither in a pipeline). */
#include "carillon/pg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carillon/log.h"

enum item_kind { ITEM_QUERY, ITEM_BATCH, ITEM_SCRIPT, ITEM_COPY };

struct stmt {
    char *sql;
    int nparams;
    char **params; /* points into the same allocation as the struct */
};

/* One query, batch or script; owned by the pg queue until its callback has run. */
struct item {
    enum item_kind kind;
    struct stmt *stmts;
    int nstmts;
    int cur; /* results received so far */
    PGresult **res;
    int status;
    char sqlstate[6];
    char *message;
    cr_pg_cb cb;
    void *arg;
    char *copy_data; /* ITEM_COPY: the rows, in the format the COPY statement names */
    size_t copy_len;
    bool copy_sent;
    uint64_t queued_ms; /* uv_now when queued: bounds its wait while the connection is down */
    struct item *next;
};

struct cr_pg_batch {
    struct cr_pg *pg;
    struct item *item;
};

/* A poll handle for one socket; freed in its close callback (the socket may change between
 * connection attempts, and a handle must be closed before its socket is). */
struct pollh {
    uv_poll_t h;
    struct cr_pg *pg;
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_UP, PG_CLOSING };

struct cr_pg {
    uv_loop_t *loop;
    char *conninfo;
    struct cr_pg_opts opts;
    PGconn *conn;
    struct pollh *poll;
    int poll_fd;
    ino_t poll_ino; /* with poll_fd: libpq may reuse an fd number for a new socket */
    int poll_events;
    enum pg_state state;
    bool in_script; /* a script or a COPY is running: pipeline mode is off */
    bool pumping;   /* pg_pump is on the stack: nested calls only ask it to go round again */
    bool again;
    unsigned connect_timeout_ms;
    struct item *send_head, *send_tail;
    struct item *flight_head, *flight_tail;
    size_t count;
    uv_timer_t timer;
    uv_timer_t down_timer; /* fails queries that waited down_wait_ms for a connection */
    unsigned backoff_ms;
    int handles;        /* timer + poll handles not yet closed, + a pending name lookup */
    char *resolve_host; /* a host name libpq would look up with a blocking call, or NULL */
    uv_getaddrinfo_t gai;
    bool resolving;
    void (*state_cb)(void *, bool);
    void *state_arg;
    void (*notify_cb)(void *, const char *, const char *);
    void *notify_arg;
    void (*done)(void *);
    void *done_arg;
};

static void pg_connect(struct cr_pg *pg);
static void pg_lost(struct cr_pg *pg, const char *why);
static void pg_pump(struct cr_pg *pg, bool readable);

/* --- items ------------------------------------------------------------------------------ */

static struct stmt make_stmt(const char *sql, int nparams, const char *const *params, int *err)
{
    size_t size = strlen(sql) + 1 + (size_t)nparams * sizeof(char *);
    for (int i = 0; i < nparams; i++)
        if (params[i])
            size += strlen(params[i]) + 1;
    struct stmt s = {0};
    char *block = malloc(size);
    if (!block) {
        *err = -ENOMEM;
        return s;
    }
    s.params = (char **)block;
    char *p = block + (size_t)nparams * sizeof(char *);
    for (int i = 0; i < nparams; i++) {
        if (!params[i]) {
            s.params[i] = NULL;
            continue;
        }
        size_t n = strlen(params[i]) + 1;
        memcpy(p, params[i], n);
        s.params[i] = p;
        p += n;
    }
    memcpy(p, sql, strlen(sql) + 1);
    s.sql = p;
    s.nparams = nparams;
    if (nparams == 0)
        s.params = (char **)block; /* keep the block pointer for free() */
    return s;
}

static void item_free(struct item *it)
{
    for (int i = 0; i < it->nstmts; i++) {
        free(it->stmts[i].params);
        if (it->res && it->res[i])
            PQclear(it->res[i]);
    }
    free(it->stmts);
    free(it->res);
    free(it->message);
    free(it->copy_data);
    free(it);
}

static int item_add(struct item *it, const char *sql, int nparams, const char *const *params)
{
    if (nparams < 0 || nparams > 65535 || !sql)
        return -EINVAL;
    struct stmt *ns = realloc(it->stmts, (size_t)(it->nstmts + 1) * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    it->stmts = ns;
    int err = 0;
    ns[it->nstmts] = make_stmt(sql, nparams, params, &err);
    if (err)
        return err;
    it->nstmts++;
    return 0;
}

/* Runs the callback of a finished item, then frees it. */
static void item_finish(struct cr_pg *pg, struct item *it)
{
    pg->count--;
    if (it->cb) {
        struct cr_pg_result r = {
            .status = it->status,
            .sqlstate = it->sqlstate[0] ? it->sqlstate : NULL,
            .message = it->message,
            .nres = it->kind == ITEM_SCRIPT || it->kind == ITEM_COPY
                        ? (it->res && it->res[0] ? 1 : 0)
                        : it->nstmts,
            .res = it->res,
        };
        it->cb(it->arg, &r);
    }
    item_free(it);
}

static void fail_list(struct cr_pg *pg, struct item **head, struct item **tail, int status)
{
    struct item *it = *head;
    *head = *tail = NULL;
    while (it) {
        struct item *next = it->next;
        it->status = status;
        item_finish(pg, it);
        it = next;
    }
}

/* While the connection is down, the oldest queued item is failed once it has waited
 * down_wait_ms: a caller hears "unavailable" at once instead of waiting for the database. */
static void on_down_timer(uv_timer_t *t);

static void arm_down_timer(struct cr_pg *pg)
{
    if (!pg->opts.down_wait_ms || pg->state == PG_UP || pg->state == PG_CLOSING || !pg->send_head ||
        uv_is_active((uv_handle_t *)&pg->down_timer))
        return;
    uint64_t now = uv_now(pg->loop);
    uint64_t due = pg->send_head->queued_ms + pg->opts.down_wait_ms;
    uv_timer_start(&pg->down_timer, on_down_timer, due > now ? due - now : 0, 0);
}

static void on_down_timer(uv_timer_t *t)
{
    struct cr_pg *pg = t->data;
    uint64_t now = uv_now(pg->loop);
    size_t failed = 0;
    while (pg->state != PG_UP && pg->state != PG_CLOSING && pg->send_head &&
           pg->send_head->queued_ms + pg->opts.down_wait_ms <= now) {
        struct item *it = pg->send_head;
        pg->send_head = it->next;
        if (!pg->send_head)
            pg->send_tail = NULL;
        it->next = NULL;
        it->status = -ENOTCONN;
        failed++;
        item_finish(pg, it);
    }
    if (failed)
        cr_log_warn("pg_queries_failed", "reason=\"database unreachable\" count=%zu waited_ms=%u",
                    failed, pg->opts.down_wait_ms);
    arm_down_timer(pg);
}

static int enqueue(struct cr_pg *pg, struct item *it)
{
    if (pg->state == PG_CLOSING)
        return -ECANCELED;
    if (pg->count >= pg->opts.max_queue)
        return -ENOBUFS;
    it->res = calloc(it->nstmts ? (size_t)it->nstmts : 1, sizeof *it->res);
    if (!it->res)
        return -ENOMEM;
    pg->count++;
    it->queued_ms = uv_now(pg->loop);
    if (pg->send_tail)
        pg->send_tail->next = it;
    else
        pg->send_head = it;
    pg->send_tail = it;
    if (pg->state == PG_UP)
        pg_pump(pg, false);
    else
        arm_down_timer(pg);
    return 0;
}

/* --- polling ---------------------------------------------------------------------------- */

/* One handle or request of pg is finished; the last one frees pg and calls done. */
static void release(struct cr_pg *pg)
{
    if (--pg->handles == 0) {
        void (*done)(void *) = pg->done;
        void *arg = pg->done_arg;
        free(pg->conninfo);
        free(pg->resolve_host);
        free(pg);
        if (done)
            done(arg);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_poll_closed(uv_handle_t *h)
{
    struct pollh *ph = (struct pollh *)h;
    struct cr_pg *pg = ph->pg;
    free(ph);
    release(pg);
}

static void poll_drop(struct cr_pg *pg)
{
    if (!pg->poll)
        return;
    uv_poll_stop(&pg->poll->h);
    uv_close((uv_handle_t *)&pg->poll->h, on_poll_closed);
    pg->poll = NULL;
    pg->poll_fd = -1;
    pg->poll_ino = 0;
    pg->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches the connection's current socket for events. */
static int poll_watch(struct cr_pg *pg, int events)
{
    int fd = PQsocket(pg->conn);
    if (fd < 0)
        return -EBADF;
    /* While connecting, libpq may close its socket and open another (next address, SSL
     * fallback), possibly under the same number: compare the inode too. Once up, it is fixed. */
    ino_t ino = pg->poll_ino;
    if (!pg->poll || pg->state == PG_CONNECTING) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            return -errno;
        ino = st.st_ino;
    }
    if (pg->poll && (pg->poll_fd != fd || pg->poll_ino != ino))
        poll_drop(pg);
    if (!pg->poll) {
        struct pollh *ph = calloc(1, sizeof *ph);
        if (!ph)
            return -ENOMEM;
        ph->pg = pg;
        int rc = uv_poll_init(pg->loop, &ph->h, fd);
        if (rc) {
            free(ph);
            return rc;
        }
        pg->handles++;
        pg->poll = ph;
        pg->poll_fd = fd;
        pg->poll_ino = ino;
        pg->poll_events = 0;
    }
    if (events != pg->poll_events) {
        pg->poll_events = events;
        return uv_poll_start(&pg->poll->h, events, on_poll);
    }
    return 0;
}

static void on_notice(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    cr_log_warn("pg_notice", "severity=%s sqlstate=%s message=%s", sev ? sev : "NOTICE",
                state ? state : "-", cr_log_q(msg ? msg : PQresultErrorMessage(res)));
}

/* --- connecting ------------------------------------------------------------------------- */

static void on_reconnect(uv_timer_t *t)
{
    pg_connect(t->data);
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct cr_pg *pg = t->data;
    if (pg->state == PG_CONNECTING)
        pg_lost(pg, "connection attempt timed out");
}

static void schedule_reconnect(struct cr_pg *pg)
{
    unsigned delay = pg->backoff_ms ? pg->backoff_ms : pg->opts.reconnect_min_ms;
    pg->backoff_ms = delay * 2 > pg->opts.reconnect_max_ms ? pg->opts.reconnect_max_ms : delay * 2;
    uv_timer_start(&pg->timer, on_reconnect, delay, 0);
}

static void connect_step(struct cr_pg *pg)
{
    PostgresPollingStatusType st = PQconnectPoll(pg->conn);
    if (st == PGRES_POLLING_FAILED) {
        pg_lost(pg, PQerrorMessage(pg->conn));
        return;
    }
    if (st == PGRES_POLLING_OK) {
        uv_timer_stop(&pg->timer);
        if (PQsetnonblocking(pg->conn, 1) != 0 || PQenterPipelineMode(pg->conn) != 1) {
            pg_lost(pg, "cannot enter pipeline mode");
            return;
        }
        PQsetNoticeReceiver(pg->conn, on_notice, pg);
        pg->state = PG_UP;
        pg->backoff_ms = 0;
        cr_log_info("pg_connected", "server=%s:%s db=%s user=%s", PQhost(pg->conn),
                    PQport(pg->conn), PQdb(pg->conn), PQuser(pg->conn));
        if (poll_watch(pg, UV_READABLE) != 0) {
            pg_lost(pg, "cannot watch the socket");
            return;
        }
        if (pg->state_cb)
            pg->state_cb(pg->state_arg, true);
        if (pg->state == PG_UP)
            pg_pump(pg, false);
        return;
    }
    if (poll_watch(pg, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE) != 0)
        pg_lost(pg, "cannot watch the socket");
}

/* Starts libpq's connection; hostaddr (a comma list matching host, or NULL) spares libpq its
 * own, blocking, name lookup. */
static void connect_start(struct cr_pg *pg, const char *host, const char *hostaddr)
{
    if (hostaddr) {
        /* A conninfo given as dbname is expanded (expand_dbname), and the entries after it
         * override its host and hostaddr. */
        const char *const keys[] = {"dbname", "host", "hostaddr", NULL};
        const char *const vals[] = {pg->conninfo, host, hostaddr, NULL};
        pg->conn = PQconnectStartParams(keys, vals, 1);
    } else {
        pg->conn = PQconnectStart(pg->conninfo);
    }
    if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
        pg_lost(pg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        return;
    }
    pg->state = PG_CONNECTING;
    /* PQconnectPoll has no timeout of its own (connect_timeout only works for blocking
     * connects): the timer, idle while connecting, bounds the attempt. */
    uv_timer_start(&pg->timer, on_connect_timeout, pg->connect_timeout_ms, 0);
    connect_step(pg);
}

static void release(struct cr_pg *pg);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct cr_pg *pg = req->data;
    pg->resolving = false;
    if (pg->state == PG_CLOSING) {
        uv_freeaddrinfo(res);
        release(pg);
        return;
    }
    pg->handles--;
    if (status < 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", pg->resolve_host, uv_strerror(status));
        pg_lost(pg, why);
        return;
    }
    /* Every address, as libpq would try them, each paired with the host name (kept for TLS
     * verification and .pgpass). */
    enum { MAX_ADDRS = 8 };
    size_t hlen = strlen(pg->resolve_host) + 1;
    char *hosts = malloc(hlen * MAX_ADDRS);
    char *addrs = malloc((INET6_ADDRSTRLEN + 1) * MAX_ADDRS);
    int n = 0;
    if (hosts && addrs) {
        hosts[0] = addrs[0] = '\0';
        for (struct addrinfo *a = res; a && n < MAX_ADDRS; a = a->ai_next) {
            char ip[INET6_ADDRSTRLEN];
            const void *src = a->ai_family == AF_INET
                                  ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                              : a->ai_family == AF_INET6
                                  ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                  : NULL;
            if (!src || !inet_ntop(a->ai_family, src, ip, sizeof ip))
                continue;
            if (n) {
                strcat(hosts, ",");
                strcat(addrs, ",");
            }
            strcat(hosts, pg->resolve_host);
            strcat(addrs, ip);
            n++;
        }
    }
    uv_freeaddrinfo(res);
    if (n)
        connect_start(pg, hosts, addrs);
    else
        pg_lost(pg, hosts && addrs ? "no usable address for the host" : "out of memory");
    free(hosts);
    free(addrs);
}

static void pg_connect(struct cr_pg *pg)
{
    if (pg->state == PG_CLOSING)
        return;
    if (!pg->resolve_host) {
        connect_start(pg, NULL, NULL);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    pg->gai.data = pg;
    int rc = uv_getaddrinfo(pg->loop, &pg->gai, on_resolved, pg->resolve_host, NULL, &hints);
    if (rc < 0) {
        pg_lost(pg, uv_strerror(rc));
        return;
    }
    pg->resolving = true;
    pg->handles++;
}

/* The connection failed or dropped: in-flight items fail, queued ones wait for the next one. */
static void pg_lost(struct cr_pg *pg, const char *reason)
{
    /* reason may be PQerrorMessage(), which PQfinish frees: copy it first. */
    char why[512];
    snprintf(why, sizeof why, "%s", reason && *reason ? reason : "connection lost");
    why[strcspn(why, "\n")] = '\0';
    bool was_up = pg->state == PG_UP;
    poll_drop(pg);
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->in_script = false;
    if (pg->state == PG_CLOSING)
        return;
    pg->state = PG_DOWN;
    uv_timer_stop(&pg->timer);
    if (was_up)
        cr_log_warn("pg_disconnected", "reason=%s in_flight=%s queued=%s", cr_log_q(why),
                    pg->flight_head ? "yes" : "no", pg->send_head ? "yes" : "no");
    else
        cr_log_warn("pg_connect_failed", "reason=%s retry_ms=%u", cr_log_q(why),
                    pg->backoff_ms ? pg->backoff_ms : pg->opts.reconnect_min_ms);
    fail_list(pg, &pg->flight_head, &pg->flight_tail, -ECONNRESET);
    if (pg->state == PG_CLOSING)
        return;
    arm_down_timer(pg);
    if (was_up && pg->state_cb)
        pg->state_cb(pg->state_arg, false);
    if (pg->state == PG_CLOSING)
        return;
    schedule_reconnect(pg);
}

/* --- sending and receiving -------------------------------------------------------------- */

/* Hands queued items to libpq (its output buffer grows as needed in non-blocking mode).
 * Returns whether anything was sent; false with the state changed when the connection broke. */
static bool send_queued(struct cr_pg *pg)
{
    bool sent = false;
    while (pg->send_head && !pg->in_script) {
        struct item *it = pg->send_head;
        if (it->kind == ITEM_SCRIPT || it->kind == ITEM_COPY) {
            if (pg->flight_head)
                break; /* scripts and COPY run alone, outside pipeline mode */
            if (PQexitPipelineMode(pg->conn) != 1 || !PQsendQuery(pg->conn, it->stmts[0].sql)) {
                pg_lost(pg, PQerrorMessage(pg->conn));
                return false;
            }
            pg->in_script = true;
        } else {
            for (int i = 0; i < it->nstmts; i++) {
                struct stmt *s = &it->stmts[i];
                if (!PQsendQueryParams(pg->conn, s->sql, s->nparams, NULL,
                                       (const char *const *)s->params, NULL, NULL, 0)) {
                    pg_lost(pg, PQerrorMessage(pg->conn));
                    return false;
                }
            }
            /* One sync per item: the statements of a batch share one implicit transaction. */
            if (!PQpipelineSync(pg->conn)) {
                pg_lost(pg, PQerrorMessage(pg->conn));
                return false;
            }
        }
        pg->send_head = it->next;
        if (!pg->send_head)
            pg->send_tail = NULL;
        it->next = NULL;
        if (pg->flight_tail)
            pg->flight_tail->next = it;
        else
            pg->flight_head = it;
        pg->flight_tail = it;
        sent = true;
    }
    return sent;
}

/* Writes what libpq holds; watches for writability only while some is left. */
static bool pg_flush(struct cr_pg *pg)
{
    int rc = PQflush(pg->conn);
    if (rc < 0) {
        pg_lost(pg, PQerrorMessage(pg->conn));
        return false;
    }
    if (poll_watch(pg, rc == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) != 0) {
        pg_lost(pg, "cannot watch the socket");
        return false;
    }
    return true;
}

static void record_error(struct item *it, const PGresult *r)
{
    if (it->status)
        return; /* keep the first error */
    it->status = -EIO;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(it->sqlstate, sizeof it->sqlstate, "%s", state ? state : "");
    it->message = strdup(msg ? msg : PQresultErrorMessage(r));
}

static struct item *flight_pop(struct cr_pg *pg)
{
    struct item *it = pg->flight_head;
    pg->flight_head = it->next;
    if (!pg->flight_head)
        pg->flight_tail = NULL;
    return it;
}

/* Takes every complete result libpq has parsed and finishes the items they end. Returns how
 * many results were taken, or -1 when a callback closed pg or the connection broke. */
static int drain(struct cr_pg *pg)
{
    int taken = 0;
    int nulls = 0;
    while (pg->flight_head && !PQisBusy(pg->conn)) {
        struct item *it = pg->flight_head;
        PGresult *r = PQgetResult(pg->conn);
        if (!r) {
            if (it->kind != ITEM_SCRIPT && it->kind != ITEM_COPY) {
                /* In pipeline mode a NULL ends one statement's results; two in a row: none
                 * left for now. */
                if (++nulls > 1)
                    break;
                continue;
            }
            /* The script's last result: back to pipeline mode for the items behind it. */
            flight_pop(pg);
            pg->in_script = false;
            taken++;
            bool ok = PQenterPipelineMode(pg->conn) == 1;
            item_finish(pg, it);
            if (pg->state != PG_UP)
                return -1;
            if (!ok) {
                pg_lost(pg, "cannot re-enter pipeline mode");
                return -1;
            }
            continue;
        }
        nulls = 0;
        taken++;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN && it->kind == ITEM_COPY && !it->copy_sent) {
            /* The server waits for the rows: hand them all to libpq (its buffer grows in
             * non-blocking mode; pg_pump flushes it), then end the COPY. */
            PQclear(r);
            it->copy_sent = true;
            if (PQputCopyData(pg->conn, it->copy_data, (int)it->copy_len) != 1 ||
                PQputCopyEnd(pg->conn, NULL) != 1) {
                pg_lost(pg, PQerrorMessage(pg->conn));
                return -1;
            }
            free(it->copy_data);
            it->copy_data = NULL;
            if (!pg_flush(pg))
                return -1;
            continue;
        }
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            /* A COPY where none was announced: the stream can't be followed any further. */
            PQclear(r);
            pg_lost(pg, "unexpected COPY from the server");
            return -1;
        }
        if (it->kind == ITEM_SCRIPT || it->kind == ITEM_COPY) {
            if (st == PGRES_FATAL_ERROR)
                record_error(it, r);
            if (it->res[0])
                PQclear(it->res[0]);
            it->res[0] = r;
            continue;
        }
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            flight_pop(pg);
            item_finish(pg, it);
            if (pg->state != PG_UP)
                return -1;
            continue;
        }
        if (st == PGRES_FATAL_ERROR)
            record_error(it, r);
        if (it->cur < it->nstmts && st != PGRES_PIPELINE_ABORTED && st != PGRES_FATAL_ERROR) {
            it->res[it->cur++] = r;
        } else {
            if (it->cur < it->nstmts)
                it->cur++;
            PQclear(r);
        }
    }
    return taken;
}

/* Delivers NOTIFY messages libpq has received. Returns how many, or -1 as drain() does. */
static int notifies(struct cr_pg *pg)
{
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(pg->conn))) {
        n++;
        if (pg->notify_cb)
            pg->notify_cb(pg->notify_arg, note->relname, note->extra);
        PQfreemem(note);
        if (pg->state != PG_UP)
            return -1;
    }
    return n;
}

/* Does everything that can be done now: read (when the socket is readable), finish items whose
 * results are complete, deliver notifications, send queued items, flush. It goes round until
 * nothing moves, because PQflush may itself read input into libpq's buffer (to avoid a
 * deadlock with a server blocked on writing), and input already buffered raises no further
 * readable event. Callbacks may enqueue (a nested call only asks for another round) or close. */
static void pg_pump(struct cr_pg *pg, bool readable)
{
    if (pg->pumping) {
        pg->again = true;
        return;
    }
    pg->pumping = true;
    bool moved;
    do {
        pg->again = false;
        moved = false;
        if (pg->state != PG_UP)
            break;
        if (readable) {
            readable = false;
            if (!PQconsumeInput(pg->conn)) {
                pg_lost(pg, PQerrorMessage(pg->conn));
                break;
            }
        }
        int n = drain(pg);
        if (n < 0)
            break;
        int m = notifies(pg);
        if (m < 0)
            break;
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            pg_lost(pg, PQerrorMessage(pg->conn));
            break;
        }
        bool sent = send_queued(pg);
        if (pg->state != PG_UP || !pg_flush(pg))
            break;
        moved = n > 0 || m > 0 || sent;
    } while (moved || pg->again);
    pg->pumping = false;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct cr_pg *pg = ((struct pollh *)h)->pg;
    if (!pg->conn)
        return;
    if (pg->state == PG_CONNECTING) {
        connect_step(pg);
        return;
    }
    if (pg->state != PG_UP)
        return;
    if (status < 0) {
        pg_lost(pg, uv_strerror(status));
        return;
    }
    pg_pump(pg, (events & (UV_READABLE | UV_DISCONNECT)) != 0);
}

/* --- public ----------------------------------------------------------------------------- */

int cr_pg_new(uv_loop_t *loop, const struct cr_pg_opts *opts, struct cr_pg **out)
{
    if (!opts || !opts->conninfo)
        return -EINVAL;
    /* A malformed conninfo is the caller's error now, not a reconnect loop later. */
    char *perr = NULL;
    PQconninfoOption *ci = PQconninfoParse(opts->conninfo, &perr);
    if (!ci) {
        char why[256];
        snprintf(why, sizeof why, "%s", perr ? perr : "out of memory");
        why[strcspn(why, "\n")] = '\0';
        cr_log_error("pg_conninfo_invalid", "reason=%s", cr_log_q(why));
        PQfreemem(perr);
        return perr ? -EINVAL : -ENOMEM;
    }
    unsigned timeout_ms = 10000;
    const char *host = getenv("PGHOST"), *hostaddr = getenv("PGHOSTADDR");
    for (PQconninfoOption *o = ci; o->keyword; o++) {
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && atoi(o->val) > 0)
            timeout_ms = (unsigned)atoi(o->val) * 1000u;
        else if (strcmp(o->keyword, "host") == 0 && o->val)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0 && o->val)
            hostaddr = o->val;
    }
    /* libpq looks host names up with a blocking getaddrinfo(): for one host name (not a
     * socket directory, not a numeric address, no hostaddr) the lookup is done on the thread
     * pool instead. Lists of hosts are left to libpq. */
    char *resolve = NULL;
    unsigned char buf[sizeof(struct in6_addr)];
    if (host && *host && host[0] != '/' && host[0] != '@' && !strchr(host, ',') &&
        !(hostaddr && *hostaddr) && inet_pton(AF_INET, host, buf) != 1 &&
        inet_pton(AF_INET6, host, buf) != 1) {
        resolve = strdup(host);
        if (!resolve) {
            PQconninfoFree(ci);
            return -ENOMEM;
        }
    }
    PQconninfoFree(ci);
    struct cr_pg *pg = calloc(1, sizeof *pg);
    if (!pg) {
        free(resolve);
        return -ENOMEM;
    }
    pg->connect_timeout_ms = timeout_ms;
    pg->resolve_host = resolve;
    pg->conninfo = strdup(opts->conninfo);
    if (!pg->conninfo) {
        free(pg->resolve_host);
        free(pg);
        return -ENOMEM;
    }
    pg->loop = loop;
    pg->opts = *opts;
    pg->opts.conninfo = pg->conninfo;
    if (!pg->opts.reconnect_min_ms)
        pg->opts.reconnect_min_ms = 100;
    if (!pg->opts.reconnect_max_ms)
        pg->opts.reconnect_max_ms = 5000;
    if (pg->opts.reconnect_max_ms < pg->opts.reconnect_min_ms)
        pg->opts.reconnect_max_ms = pg->opts.reconnect_min_ms;
    if (!pg->opts.max_queue)
        pg->opts.max_queue = 10000;
    pg->poll_fd = -1;
    uv_timer_init(loop, &pg->timer);
    pg->timer.data = pg;
    uv_timer_init(loop, &pg->down_timer);
    pg->down_timer.data = pg;
    pg->handles = 2;
    pg->state = PG_DOWN;
    /* Connect from the loop, so callbacks set right after this call see the first state. */
    uv_timer_start(&pg->timer, on_reconnect, 0, 0);
    *out = pg;
    return 0;
}

void cr_pg_on_state(struct cr_pg *pg, void (*cb)(void *arg, bool up), void *arg)
{
    pg->state_cb = cb;
    pg->state_arg = arg;
}

void cr_pg_on_notify(struct cr_pg *pg,
                     void (*cb)(void *arg, const char *channel, const char *payload), void *arg)
{
    pg->notify_cb = cb;
    pg->notify_arg = arg;
}

bool cr_pg_is_up(const struct cr_pg *pg)
{
    return pg->state == PG_UP;
}

int cr_pg_query(struct cr_pg *pg, const char *sql, int nparams, const char *const *params,
                cr_pg_cb cb, void *arg)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    it->kind = ITEM_QUERY;
    it->cb = cb;
    it->arg = arg;
    int rc = item_add(it, sql, nparams, params);
    if (!rc)
        rc = enqueue(pg, it);
    if (rc)
        item_free(it);
    return rc;
}

struct cr_pg_batch *cr_pg_batch_new(struct cr_pg *pg)
{
    struct cr_pg_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->item = calloc(1, sizeof *b->item);
    if (!b->item) {
        free(b);
        return NULL;
    }
    b->item->kind = ITEM_BATCH;
    b->pg = pg;
    return b;
}

int cr_pg_batch_add(struct cr_pg_batch *b, const char *sql, int nparams, const char *const *params)
{
    return item_add(b->item, sql, nparams, params);
}

void cr_pg_batch_discard(struct cr_pg_batch *b)
{
    if (!b)
        return;
    item_free(b->item);
    free(b);
}

int cr_pg_batch_send(struct cr_pg_batch *b, cr_pg_cb cb, void *arg)
{
    struct item *it = b->item;
    struct cr_pg *pg = b->pg;
    free(b);
    if (it->nstmts == 0) {
        item_free(it);
        return -EINVAL;
    }
    it->cb = cb;
    it->arg = arg;
    int rc = enqueue(pg, it);
    if (rc)
        item_free(it);
    return rc;
}

int cr_pg_copy(struct cr_pg *pg, const char *sql, const char *data, size_t len, cr_pg_cb cb,
               void *arg)
{
    if (len > INT_MAX || (len && !data))
        return -EINVAL;
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    it->kind = ITEM_COPY;
    it->cb = cb;
    it->arg = arg;
    it->copy_len = len;
    int rc = (it->copy_data = malloc(len ? len : 1)) ? item_add(it, sql, 0, NULL) : -ENOMEM;
    if (!rc) {
        if (len)
            memcpy(it->copy_data, data, len);
        rc = enqueue(pg, it);
    }
    if (rc)
        item_free(it);
    return rc;
}

int cr_pg_exec_script(struct cr_pg *pg, const char *sql, cr_pg_cb cb, void *arg)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    it->kind = ITEM_SCRIPT;
    it->cb = cb;
    it->arg = arg;
    int rc = item_add(it, sql, 0, NULL);
    if (!rc)
        rc = enqueue(pg, it);
    if (rc)
        item_free(it);
    return rc;
}

void cr_pg_close(struct cr_pg *pg, void (*done)(void *arg), void *arg)
{
    if (pg->state == PG_CLOSING)
        return;
    pg->state = PG_CLOSING;
    pg->done = done;
    pg->done_arg = arg;
    poll_drop(pg);
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    fail_list(pg, &pg->flight_head, &pg->flight_tail, -ECANCELED);
    fail_list(pg, &pg->send_head, &pg->send_tail, -ECANCELED);
    if (pg->resolving)
        uv_cancel((uv_req_t *)&pg->gai); /* on_resolved still runs, with UV_ECANCELED */
    uv_timer_stop(&pg->timer);
    uv_close((uv_handle_t *)&pg->timer, on_timer_closed);
    uv_close((uv_handle_t *)&pg->down_timer, on_timer_closed);
}
