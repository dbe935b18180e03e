/* Contact exports, streamed: one query in one read-only transaction on a database connection of
 * the export's own, read through a cursor in batches sized to fill ExportChunk frames of at most
 * EXPORT_CHUNK_MAX bytes, at most EXPORT_AHEAD of them ahead of the client's ExportNext. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "store/contacts_store.h"
#include "api/server.h"
#include "carillon/log.h"
#include "contacts/filter.h"
#include "store/export_store.h"
#include "store/import_store.h"

/* One ExportChunk frame at most (habit 4): a row alone bigger than this fails the export. */
#define EXPORT_CHUNK_MAX (256u << 10)
/* Chunks sent before the client's ExportNext for the oldest: the client reads one while the
 * next is on the way, the server's write queue holds at most this many. */
#define EXPORT_AHEAD 2
/* Rows per FETCH: the first guess, then sized from the rows seen to fill about one chunk. */
#define EXPORT_FETCH_FIRST 200
#define EXPORT_FETCH_MAX   5000
#define EXPORT_MAX_CUSTOM  200

/* Owned by the connection (c->export) from ExportBegin to its end, failure or the connection's
 * close; holds a reference to the client and its own database connection (closed: rolled back).
 */
struct export
{
    struct client *c;
    struct cr_pg *pg;
    Carillon__V1__Envelope *begin; /* campaign, filter, columns */
    uint64_t rid;                  /* ExportBegin's: every chunk and the end carry it */
    struct cr_filter_field custom[EXPORT_MAX_CUSTOM];
    size_t ncustom;
    const char **columns; /* names: into begin, or static/custom/question names */
    bool *question;       /* per column: a question's answer (store_export_query) */
    size_t ncolumns;
    char **qnames; /* the campaign's questions (export names), in script order */
    size_t nq;
    struct cr_filter_sql filter;
    int ahead;           /* chunks sent and not yet acknowledged by ExportNext */
    bool fetching;       /* a FETCH is in flight */
    unsigned fetch_rows; /* rows asked for by the next FETCH */
    uint64_t rows, seq;
    uint64_t last_heard_ms; /* uv_now of ExportBegin or the last ExportNext */
    bool fields_pending;    /* store_import_fields (on the server's connection) will call back */
    bool abandoned;         /* the client left meanwhile: on_fields frees the export */
};

static void export_free(struct export *ex)
{
    if (ex->pg) {
        struct cr_pg *pg = ex->pg;
        ex->pg = NULL;
        cr_pg_close(pg, NULL, NULL); /* the read-only transaction ends with the backend */
    }
    for (size_t i = 0; i < ex->ncustom; i++)
        free((char *)ex->custom[i].name);
    free(ex->columns);
    free(ex->question);
    for (size_t i = 0; i < ex->nq; i++)
        free(ex->qnames[i]);
    free(ex->qnames);
    cr_filter_sql_free(&ex->filter);
    if (ex->begin)
        carillon__v1__envelope__free_unpacked(ex->begin, NULL);
    if (ex->c->export == ex)
        ex->c->export = NULL;
    client_unref(ex->c);
    free(ex);
}

static void export_fail(struct export *ex, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void export_fail(struct export *ex, int code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    client_error(ex->c, ex->rid, code, field, "%s", msg);
    cr_log_warn("export_failed", "peer=%s user=%s campaign=%s rows=%llu reason=%s", ex->c->peer,
                cr_log_q(ex->c->user.login), cr_log_q(ex->begin->export_begin->campaign),
                (unsigned long long)ex->rows, cr_log_q(msg));
    export_free(ex);
}

void export_client_closed(struct client *c)
{
    struct export *ex = c->export;
    if (!ex)
        return;
    cr_log_warn("export_abandoned", "peer=%s user=%s rows=%llu", c->peer, cr_log_q(c->user.login),
                (unsigned long long)ex->rows);
    if (ex->fields_pending) { /* its callback cannot be cancelled: it frees ex */
        ex->abandoned = true;
        c->export = NULL;
        return;
    }
    export_free(ex);
}

void export_check_idle(struct client *c, uint64_t now_ms, uint64_t idle_ms)
{
    struct export *ex = c->export;
    /* Idle only while waiting for the client to take what was sent. */
    if (!ex || ex->ahead < EXPORT_AHEAD || now_ms - ex->last_heard_ms < idle_ms)
        return;
    export_fail(ex, CARILLON__V1__CODE__CODE_DEADLINE_EXCEEDED, NULL,
                "the export's client took nothing for %llu s (bulk.idle_timeout); the export "
                "was ended",
                (unsigned long long)(idle_ms / 1000));
}

static void fetch_more(struct export *ex);

/* Wire size of one value inside a ContactRow, and of a row inside an ExportChunk (tag and
 * length prefix: at most 1 + 5 bytes each). */
static size_t row_wire_size(const struct store_export_rows *r, size_t i)
{
    size_t n = 0;
    for (size_t k = 0; k < r->ncolumns; k++)
        n += store_export_length(r, i, k) + 6;
    return n + 6;
}

/* Sends rows [from, to) as one chunk. false when the export ended meanwhile (ex freed). */
static bool send_chunk(struct export *ex, const struct store_export_rows *r, size_t from, size_t to,
                       Carillon__V1__ContactRow *rowv, Carillon__V1__ContactRow **rowp, char **vals)
{
    size_t n = to - from;
    for (size_t i = 0; i < n; i++) {
        carillon__v1__contact_row__init(&rowv[i]);
        rowv[i].values = vals + i * r->ncolumns;
        rowv[i].n_values = r->ncolumns;
        for (size_t k = 0; k < r->ncolumns; k++)
            rowv[i].values[k] = (char *)store_export_value(r, from + i, k);
        rowp[i] = &rowv[i];
    }
    Carillon__V1__ExportChunk chunk = CARILLON__V1__EXPORT_CHUNK__INIT;
    chunk.seq = ++ex->seq;
    if (chunk.seq == 1) {
        chunk.columns = (char **)ex->columns;
        chunk.n_columns = ex->ncolumns;
    }
    chunk.rows = rowp;
    chunk.n_rows = n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_EXPORT_CHUNK;
    env.export_chunk = &chunk;
    struct client *c = ex->c;
    client_reply_part(c, ex->rid, &env); /* the stream's last answer is ExportEnd or an error */
    if (c->export != ex)
        return false; /* the connection closed under the write (export_client_closed) */
    ex->rows += n;
    ex->ahead++;
    return true;
}

static void on_fetched(void *arg, int err, const char *message, const struct store_export_rows *r)
{
    struct export *ex = arg;
    if (err == -ECANCELED)
        return; /* export_free is closing the connection */
    ex->fetching = false;
    if (err)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the export failed after %llu rows: %s", (unsigned long long)ex->rows,
                           message);
    if (r->nrows == 0) {
        Carillon__V1__ExportEnd end = CARILLON__V1__EXPORT_END__INIT;
        end.count = ex->rows;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_EXPORT_END;
        env.export_end = &end;
        cr_log_info("export_done", "user=%s campaign=%s rows=%llu chunks=%llu",
                    cr_log_q(ex->c->user.login), cr_log_q(ex->begin->export_begin->campaign),
                    (unsigned long long)ex->rows, (unsigned long long)ex->seq);
        client_reply(ex->c, ex->rid, &env);
        export_free(ex);
        return;
    }
    Carillon__V1__ContactRow *rowv = calloc(r->nrows, sizeof *rowv);
    Carillon__V1__ContactRow **rowp = calloc(r->nrows, sizeof *rowp);
    char **vals = calloc(r->nrows * r->ncolumns + 1, sizeof *vals);
    if (!rowv || !rowp || !vals) {
        free(rowv);
        free(rowp);
        free(vals);
        return export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    /* The header's names travel in the first chunk. */
    size_t header = 0;
    if (ex->seq == 0)
        for (size_t k = 0; k < ex->ncolumns; k++)
            header += strlen(ex->columns[k]) + 6;
    size_t from = 0, bytes = header + 64, total = 0;
    bool alive = true;
    for (size_t i = 0; i < r->nrows && alive; i++) {
        size_t w = row_wire_size(r, i);
        total += w;
        if (w + header + 64 > EXPORT_CHUNK_MAX) {
            free(rowv);
            free(rowp);
            free(vals);
            return export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                               "contact %s takes %zu bytes, more than an export chunk's %u KiB",
                               store_export_value(r, i, 0), w, EXPORT_CHUNK_MAX >> 10);
        }
        if (bytes + w > EXPORT_CHUNK_MAX) {
            alive = send_chunk(ex, r, from, i, rowv, rowp, vals);
            from = i;
            bytes = 64;
            header = 0;
        }
        bytes += w;
    }
    if (alive)
        alive = send_chunk(ex, r, from, r->nrows, rowv, rowp, vals);
    free(rowv);
    free(rowp);
    free(vals);
    if (!alive)
        return;
    /* The next batch about one chunk's worth, from the rows' mean size. */
    size_t mean = total / r->nrows + 1, want = EXPORT_CHUNK_MAX * 9 / 10 / mean;
    ex->fetch_rows = (unsigned)(want < 1 ? 1 : want > EXPORT_FETCH_MAX ? EXPORT_FETCH_MAX : want);
    if (ex->ahead < EXPORT_AHEAD)
        fetch_more(ex);
}

static void fetch_more(struct export *ex)
{
    if (ex->fetching)
        return;
    if (store_export_fetch(ex->pg, ex->fetch_rows, on_fetched, ex) != 0)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the export could not read on");
    ex->fetching = true;
}

static void on_opened(void *arg, int err, const char *message)
{
    struct export *ex = arg;
    if (err == -ECANCELED)
        return;
    if (err)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot start the export: %s", message);
    fetch_more(ex);
}

static int export_columns(struct export *ex, unsigned numbers);

/* The export's transaction is open: the columns, then the cursor. */
static void on_begun(void *arg, int err, const char *message, unsigned numbers)
{
    struct export *ex = arg;
    if (err == -ECANCELED)
        return;
    if (err)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot start the export: %s", message);
    if (export_columns(ex, numbers) != 0)
        return; /* failed: ex is gone */
    const Carillon__V1__ExportBegin *in = ex->begin->export_begin;
    const struct store_export_query q = {
        .campaign = in->campaign,
        .columns = ex->columns,
        .question = ex->question,
        .ncolumns = ex->ncolumns,
        .custom = ex->custom,
        .ncustom = ex->ncustom,
        .filter = &ex->filter,
    };
    const char *unknown = NULL;
    int rc = store_export_open(ex->pg, &q, &unknown, on_opened, ex);
    if (rc == -ENOENT)
        return export_fail(ex, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                           "unknown column '%s'", unknown);
    if (rc)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot start the export");
}

static void export_open(struct export *ex, const char *expr);
static void on_saved(void *arg, const struct cr_pg_result *res);
static void on_questions(void *arg, int err, const char *const *names, size_t n);

static void on_fields(void *arg, int err, const struct store_import_fields *f)
{
    struct export *ex = arg;
    const Carillon__V1__ExportBegin *in = ex->begin->export_begin;
    ex->fields_pending = false;
    if (ex->abandoned)
        return export_free(ex);
    if (err)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    for (size_t i = 0; i < f->nfields && ex->ncustom < EXPORT_MAX_CUSTOM; i++) {
        struct cr_filter_field *cf = &ex->custom[ex->ncustom];
        if (!(cf->name = strdup(f->names[i])))
            return export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                               "out of memory");
        cf->type = !strcmp(f->types[i], "number") ? CR_FT_NUMBER
                   : !strcmp(f->types[i], "date") ? CR_FT_TIMESTAMP
                                                  : CR_FT_TEXT;
        cf->sql = NULL;
        ex->ncustom++;
    }
    /* Then the campaign's questions: one column each (the answers of the last interview). */
    ex->fields_pending = true;
    if (store_export_questions(ex->c->srv->pg, in->campaign, on_questions, ex) != 0) {
        ex->fields_pending = false;
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    }
}

static void on_questions(void *arg, int err, const char *const *names, size_t nq)
{
    struct export *ex = arg;
    const Carillon__V1__ExportBegin *in = ex->begin->export_begin;
    ex->fields_pending = false;
    if (ex->abandoned)
        return export_free(ex);
    if (err)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    if (nq > STORE_EXPORT_MAX_COLUMNS)
        nq = STORE_EXPORT_MAX_COLUMNS + 1; /* too many whatever the rest: refused below */
    if (nq && !(ex->qnames = calloc(nq, sizeof *ex->qnames)))
        return export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    for (; ex->nq < nq; ex->nq++)
        if (!(ex->qnames[ex->nq] = strdup(names[ex->nq])))
            return export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                               "out of memory");
    if (in->n_columns > STORE_EXPORT_MAX_COLUMNS)
        return export_fail(ex, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                           "at most %d columns", STORE_EXPORT_MAX_COLUMNS);
    if (in->filter[0] != '@')
        return export_open(ex, in->filter);
    /* "@name": the user's saved filter of that name. */
    ex->fields_pending = true;
    if (store_saved_filter_get(ex->c->srv->pg, ex->c->user.id, in->filter + 1, on_saved, ex) != 0) {
        ex->fields_pending = false;
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    }
}

/* The export's columns: the ones named, or every one, the number columns for as many numbers as
 * a contact of the campaign holds (numbers, from the export's snapshot). 0, or the export failed
 * (ex freed). */
static int export_columns(struct export *ex, unsigned numbers)
{
    const Carillon__V1__ExportBegin *in = ex->begin->export_begin;
    if (!in->n_columns && numbers > STORE_EXPORT_MAX_PHONES) {
        export_fail(ex, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "columns",
                    "a contact holds %u numbers, more than the %d an export has columns for",
                    numbers, STORE_EXPORT_MAX_PHONES);
        return -1;
    }
    if (numbers == 0)
        numbers = 1; /* the header still shows where numbers go */
    /* "phone" stands for phone1, phone1_type, phone1_state, phone2, ... */
    size_t nstd = store_export_ncolumns - 1 + 3 * numbers + ex->ncustom;
    size_t n = in->n_columns ? in->n_columns : nstd + ex->nq;
    if (n > STORE_EXPORT_MAX_COLUMNS) {
        export_fail(ex, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                    in->n_columns ? "at most %d columns"
                                  : "at most %d columns: name the ones wanted (--columns)",
                    STORE_EXPORT_MAX_COLUMNS);
        return -1;
    }
    if (!(ex->columns = calloc(n, sizeof *ex->columns)) ||
        !(ex->question = calloc(n, sizeof *ex->question))) {
        export_fail(ex, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; !in->n_columns && i < store_export_ncolumns; i++) {
        if (strcmp(store_export_columns[i], "phone") != 0) {
            ex->columns[k++] = store_export_columns[i];
            continue;
        }
        for (unsigned s = 0; s < numbers; s++) {
            ex->columns[k++] = store_export_phone_name(s, STORE_PHONE_NUMBER);
            ex->columns[k++] = store_export_phone_name(s, STORE_PHONE_TYPE);
            ex->columns[k++] = store_export_phone_name(s, STORE_PHONE_STATE);
        }
    }
    for (size_t i = 0; !in->n_columns && i < ex->ncustom; i++)
        ex->columns[k++] = ex->custom[i].name;
    for (size_t i = 0; !in->n_columns && i < ex->nq; i++) {
        ex->question[k] = true;
        ex->columns[k++] = ex->qnames[i];
    }
    for (size_t i = 0; in->n_columns && i < n; i++) {
        ex->columns[i] = in->columns[i];
        /* A named column: a contact's column first, else a question of the campaign. */
        unsigned slot;
        enum store_export_phone_part part;
        for (size_t q = 0; q < ex->nq; q++)
            if (strcmp(in->columns[i], ex->qnames[q]) == 0 &&
                !store_contact_column_known(in->columns[i], ex->custom, ex->ncustom) &&
                !store_export_phone_column(in->columns[i], &slot, &part))
                ex->question[i] = true;
    }
    ex->ncolumns = n;
    return 0;
}

static void on_saved(void *arg, const struct cr_pg_result *res)
{
    struct export *ex = arg;
    ex->fields_pending = false;
    if (ex->abandoned)
        return export_free(ex);
    if (res->status)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    if (PQntuples(res->res[0]) == 0)
        return export_fail(ex, CARILLON__V1__CODE__CODE_NOT_FOUND, "filter",
                           "you have no saved filter named '%s'",
                           ex->begin->export_begin->filter + 1);
    export_open(ex, PQgetvalue(res->res[0], 0, 0));
}

/* Compiles the filter and opens the export's transaction on a connection of its own (then
 * on_begun: the columns and the cursor). */
static void export_open(struct export *ex, const char *expr)
{
    const Carillon__V1__ExportBegin *in = ex->begin->export_begin;
    char errmsg[300];
    if (expr[0] && cr_filter_compile(expr, ex->custom, ex->ncustom, 2, &ex->filter, errmsg,
                                     sizeof errmsg) != 0)
        return export_fail(ex, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter", "%s", errmsg);
    struct cr_pg_opts o = {.conninfo = ex->c->srv->cfg.db_conninfo, .max_queue = 16};
    if (cr_pg_new(ex->c->srv->loop, &o, &ex->pg) != 0)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot open a database connection for the export");
    if (store_export_begin(ex->pg, in->campaign, on_begun, ex) != 0)
        return export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot start the export");
}

/* Rights were checked at the route: export on the campaign. */
void export_handle_begin(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = request_take_env(req);
    request_free(req); /* the export holds its own client reference from here */
    uint64_t rid = env->request_id;
    const Carillon__V1__ExportBegin *in = env->export_begin;
    char why[256];
    if (c->export) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                     "an export is already running on this connection");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    if (strlen(in->filter) > CR_FILTER_MAX_TEXT) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter",
                     "a filter has at most %d bytes", CR_FILTER_MAX_TEXT);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    if (bulk_admit(c, why, sizeof why) != 0) {
        cr_log_warn("export_refused", "peer=%s user=%s campaign=%s reason=%s", c->peer,
                    cr_log_q(c->user.login), cr_log_q(in->campaign), cr_log_q(why));
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "%s", why);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    struct export *ex = calloc(1, sizeof *ex);
    if (!ex) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    ex->c = c;
    client_ref(c);
    ex->begin = env;
    ex->rid = rid;
    ex->fetch_rows = EXPORT_FETCH_FIRST;
    ex->last_heard_ms = uv_now(c->srv->loop);
    c->export = ex;
    cr_log_info("export_started", "peer=%s user=%s campaign=%s", c->peer, cr_log_q(c->user.login),
                cr_log_q(in->campaign));
    ex->fields_pending = true;
    if (store_import_fields(c->srv->pg, in->campaign, false, on_fields, ex) == 0)
        return;
    ex->fields_pending = false;
    export_fail(ex, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL, "the database is unavailable");
}

/* The client took a chunk: one more may go. No answer (the chunks are the answer). */
void export_handle_next(struct request *req)
{
    struct client *c = req->c;  /* the connection's, alive: routes without a campaign run at once */
    client_handled(c, req->id); /* flow control: never answered, so not left in flight */
    request_free(req);
    struct export *ex = c->export;
    /* Late ones (the export ended or failed while they were on the way) are dropped: an answer
     * would reach a client that no longer waits for one. */
    if (!ex || ex->ahead == 0)
        return;
    ex->ahead--;
    ex->last_heard_ms = uv_now(c->srv->loop);
    if (ex->ahead < EXPORT_AHEAD && ex->pg && ex->ncolumns)
        fetch_more(ex);
}
