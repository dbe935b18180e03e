/* Contact file imports: the client streams mapped rows; the server normalises them (numbers to
 * E.164, time zones, typed fields; a spreadsheet's leading apostrophe stripped) and, on a
 * connection of its own inside one transaction, COPYs each chunk's good rows into a temporary
 * staging table; after the last chunk one set-based statement merges them all (de-duplication
 * on the key within the file and against the campaign, the number rule, blacklist) and the
 * transaction commits, or rolls back when nothing was imported (no empty list). A refused file
 * or a dropped client rolls everything back: only the report remains. The report has one entry
 * per bad cell, named by the file's header and its field. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/request.h"
#include "api/server.h"
#include "carillon/log.h"
#include "carillon/phone.h"
#include "carillon/strbuf.h"
#include "store/import_store.h"

/* Numbers per row: phone1..phone8, as many as contact add takes and an export writes. */
#define IMPORT_PHONES 8
#define MAX_COLS      250
#define MAX_REJECTS   10000
#define SEP           STORE_IMPORT_SEP
/* A chunk's COPY text: a frame (at most 64 MiB, config.c) re-encoded with escapes. */
#define MAX_CHUNK_COPY (256u << 20)

#define text_columns store_import_text_columns
#define NTEXT        STORE_IMPORT_NTEXT

enum col_kind { COL_IGNORE, COL_TEXT, COL_CUSTOM, COL_PHONE, COL_PHONE_TYPE, COL_TZ, COL_CONSENT };

struct col {
    enum col_kind kind;
    int index;     /* COL_TEXT: text_columns index; COL_PHONE(_TYPE): slot 0..3 */
    char name[72]; /* COL_CUSTOM: field name */
    char type[8];  /* COL_CUSTOM: text/number/date/...; COL_PHONE: mobile/home/work or "" */
};

struct import {
    struct client *c;
    struct cr_pg *pg;
    Carillon__V1__Envelope *begin; /* kept: campaign, list, options */
    uint64_t begin_rid, end_rid;
    struct col cols[MAX_COLS];
    size_t ncols;
    char custom_names[200][72];
    char custom_types[200][8];
    size_t ncustom;
    uint64_t rows, rejected;
    Carillon__V1__ImportReject *rejects; /* MAX_REJECTS slots once the first is added */
    size_t nrejects;
    Carillon__V1__ImportReject *held; /* rows dropped by the number rule (from the merge) */
    size_t nheld;
    bool rolled_back; /* nothing imported: the transaction was rolled back */
    bool failed;
    char fail_msg[512];
    bool ended;
    bool begun;                             /* the Ok for ImportBegin was sent */
    uint64_t imported, duplicates, blocked; /* from the merge, reported after the commit */
    uint64_t staged;                        /* rows stored in the staging table */
    int dedup_col; /* file column holding the de-duplication key (field:NAME), or -1 */
    enum store_import_dedup dedup;
    char dedup_key[72];            /* STORE_DEDUP_COLUMN/FIELD: the column or field */
    struct store_import_list list; /* from the list's creation; campaign_tz points at: */
    char campaign_tz[64];          /* the campaign's time zone */
    char **zones; /* known time zone names, sorted, when a column maps to time_zone */
    size_t nzones;
    uint64_t last_heard_ms; /* uv_now when the client last sent a message for it (the janitor) */
    bool fields_pending;    /* store_import_fields (on the server's connection) will call back */
    bool abandoned;         /* the client left meanwhile: on_fields frees the import */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void reject_free(Carillon__V1__ImportReject *r)
{
    free(r->column);
    free(r->value);
    free(r->reason);
    free(r->field);
}

static void import_free(struct import *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->nrejects; i++)
        reject_free(&im->rejects[i]);
    free(im->rejects);
    for (size_t i = 0; i < im->nheld; i++)
        reject_free(&im->held[i]);
    free(im->held);
    for (size_t i = 0; i < im->nzones; i++)
        free(im->zones[i]);
    free(im->zones);
    if (im->pg) {
        struct cr_pg *pg = im->pg;
        im->pg = NULL;
        cr_pg_close(pg, NULL, NULL); /* an open transaction rolls back */
    }
    if (im->begin)
        carillon__v1__envelope__free_unpacked(im->begin, NULL);
    if (im->c->import == im)
        im->c->import = NULL;
    client_unref(im->c);
    free(im);
}

void import_client_closed(struct client *c)
{
    struct import *im = c->import;
    if (!im)
        return;
    cr_log_warn("import_abandoned", "peer=%s user=%s", c->peer, cr_log_q(c->user.login));
    if (im->fields_pending) { /* its callback cannot be cancelled: it frees im */
        im->abandoned = true;
        c->import = NULL;
        return;
    }
    import_free(im);
}

static void import_fail(struct import *im, uint64_t rid, int code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void import_check_idle(struct client *c, uint64_t now_ms, uint64_t idle_ms)
{
    struct import *im = c->import;
    /* Waiting for the client; not while the server itself works (the list, the merge). */
    if (!im || !im->begun || im->ended || now_ms - im->last_heard_ms < idle_ms)
        return;
    cr_log_warn("import_idle", "peer=%s user=%s campaign=%s idle_ms=%llu", c->peer,
                cr_log_q(c->user.login), cr_log_q(im->begin->import_begin->campaign),
                (unsigned long long)(now_ms - im->last_heard_ms));
    /* request_id 0: carillonctl takes it as the answer to whatever it awaits (its ImportBegin
     * was answered long ago); a later ImportRows is told again. */
    snprintf(c->import_ended, sizeof c->import_ended,
             "the import received nothing for %llu s (bulk.idle_timeout) and was rolled back",
             (unsigned long long)(idle_ms / 1000));
    import_fail(im, 0, CARILLON__V1__CODE__CODE_DEADLINE_EXCEEDED, NULL, "%s", c->import_ended);
}

static void import_fail(struct import *im, uint64_t rid, int code, const char *field,
                        const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    client_error(im->c, rid, code, field, "%s", msg);
    cr_log_warn("import_failed", "peer=%s user=%s reason=%s", im->c->peer,
                cr_log_q(im->c->user.login), cr_log_q(msg));
    import_free(im);
}

/* The file's header of column k (0-based) as the client sent it, or "" (an older client). */
static const char *header_of(const struct import *im, int k)
{
    const Carillon__V1__ImportBegin *in = im->begin->import_begin;
    return k >= 0 && (size_t)k < in->n_headers ? in->headers[k] : "";
}

/* Fills a report entry: column k's header and field (the mapping without its ":type"; field
 * given instead for k < 0, a row-level entry), the value cut to 160 bytes on a character
 * boundary. false when out of memory. */
static bool reject_fill(const struct import *im, Carillon__V1__ImportReject *r, uint32_t line,
                        int k, const char *field, const char *value, const char *reason)
{
    carillon__v1__import_reject__init(r);
    r->line = line;
    char f[96];
    if (k >= 0) {
        snprintf(f, sizeof f, "%s", im->begin->import_begin->mapping[k]);
        f[strcspn(f, ":")] = '\0';
        field = f;
    }
    size_t cut = strlen(value);
    if (cut > 160) {
        cut = 160;
        while (cut > 0 && ((unsigned char)value[cut] & 0xc0) == 0x80)
            cut--; /* not inside a UTF-8 sequence */
    }
    r->column = strdup(header_of(im, k));
    r->field = strdup(field ? field : "");
    r->value = strndup(value, cut);
    r->reason = strdup(reason);
    r->column_number = k >= 0 ? (uint32_t)k + 1 : 0;
    if (r->column && r->field && r->value && r->reason)
        return true;
    reject_free(r);
    carillon__v1__import_reject__init(r);
    return false;
}

/* One entry of the reject report: a bad cell (k its column) or a row-level problem (k -1,
 * field names what is missing). The caller counts the row once in rejected. */
static void reject_entry(struct import *im, uint32_t line, int k, const char *field,
                         const char *value, const char *reason)
{
    if (im->nrejects >= MAX_REJECTS)
        return;
    if (!im->rejects && !(im->rejects = calloc(MAX_REJECTS, sizeof *im->rejects)))
        return;
    if (reject_fill(im, &im->rejects[im->nrejects], line, k, field, value, reason))
        im->nrejects++;
}

/* Spreadsheets keep a cell as text with a leading apostrophe ('0612345678, '=SUM(1)), and
 * Carillon's CSV exports neutralise formulas the same way. The rule: one leading ' is dropped
 * when what follows starts with = + - @, a digit, a tab or a CR, the characters that would
 * make a spreadsheet read the cell as a formula or a number. Any other apostrophe is data
 * (O'Brien, 'Jo', a lone ' and ''=1 stay as written). */
static const char *strip_text_guard(const char *v)
{
    char c = v[0] == '\'' ? v[1] : '\0';
    if (c && (strchr("=+-@\t\r", c) || (c >= '0' && c <= '9')))
        return v + 1;
    return v;
}

/* --- begin ------------------------------------------------------------------------------ */

static void on_step_failed(void *arg, int err, const char *message)
{
    struct import *im = arg;
    if (err == -ECANCELED)
        return; /* import_free is closing the connection: im is going away */
    if (err && !im->failed) {
        im->failed = true;
        snprintf(im->fail_msg, sizeof im->fail_msg, "%s", message);
    }
}

/* A chunk is acknowledged once stored: the client keeps at most two in flight, so neither
 * side holds more than that whatever the file's size. */
struct ack {
    struct import *im;
    struct client *c; /* referenced: every chunk gets its answer, even once im is gone */
    uint64_t rid;
    size_t good; /* rows staged */
};

static void on_staged(void *arg, int err, const char *message)
{
    struct ack *a = arg;
    struct import *im = a->im;
    struct client *c = a->c;
    uint64_t rid = a->rid;
    size_t good = a->good;
    free(a);
    if (err == -ECANCELED) {
        /* import_free is closing the import's connection (it failed, or was abandoned): the
         * chunk still gets an answer, so the client's requests in flight drain. */
        client_error(c, rid, CARILLON__V1__CODE__CODE_ABORTED, NULL, "the import was rolled back");
        client_unref(c);
        return;
    }
    client_unref(c);
    if (err || im->failed) {
        if (!im->failed) {
            im->failed = true;
            snprintf(im->fail_msg, sizeof im->fail_msg, "%s", message);
        }
        client_error(im->c, rid, CARILLON__V1__CODE__CODE_ABORTED, NULL,
                     "the import failed and was rolled back: %s", im->fail_msg);
        return;
    }
    im->staged += good;
    client_ok(im->c, rid);
}

/* The list is ready: the client may send rows. */
static void on_list(void *arg, int err, const char *message, const struct store_import_list *l)
{
    struct import *im = arg;
    if (err == -ECANCELED)
        return; /* import_free is closing the connection */
    if (err)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot create the list: %s", message);
    im->list = *l;
    snprintf(im->campaign_tz, sizeof im->campaign_tz, "%s", l->campaign_tz);
    im->list.campaign_tz = im->campaign_tz;
    im->begun = true;
    im->last_heard_ms = uv_now(im->c->srv->loop);
    client_ok(im->c, im->begin_rid);
}

static void on_fields(void *arg, int err, const struct store_import_fields *f)
{
    struct import *im = arg;
    const Carillon__V1__ImportBegin *in = im->begin->import_begin;
    im->fields_pending = false;
    if (im->abandoned)
        return import_free(im);
    if (err)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "the database is unavailable, try again");
    for (size_t i = 0; i < f->nfields && im->ncustom < 200; i++) {
        snprintf(im->custom_names[im->ncustom], 72, "%s", f->names[i]);
        snprintf(im->custom_types[im->ncustom], 8, "%s", f->types[i]);
        im->ncustom++;
    }
    /* The mapping: each file column fills one field, or nothing. */
    if (in->n_mapping == 0 || in->n_mapping > MAX_COLS)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "mapping",
                           "the mapping needs 1 to %d columns", MAX_COLS);
    bool phone = false, slot_mapped[IMPORT_PHONES] = {false}, slot_typed[IMPORT_PHONES] = {false};
    for (size_t k = 0; k < in->n_mapping; k++) {
        struct col *col = &im->cols[im->ncols++];
        char m[96];
        snprintf(m, sizeof m, "%s", in->mapping[k]);
        char *colon = strchr(m, ':');
        if (colon)
            *colon++ = '\0';
        if (!m[0])
            continue;
        if (!strncmp(m, "phone", 5) && m[5] >= '1' && m[5] < '1' + IMPORT_PHONES && !m[6]) {
            col->kind = COL_PHONE;
            col->index = m[5] - '1';
            snprintf(col->type, sizeof col->type, "%s", colon ? colon : "");
            if (colon && strcmp(colon, "mobile") && strcmp(colon, "home") &&
                strcmp(colon, "work") && strcmp(colon, "other"))
                return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                                   "mapping", "phone type '%s' is not mobile, home, work or other",
                                   colon);
            phone = true;
            slot_mapped[col->index] = true;
            continue;
        }
        /* "phone2_type": the column holds phone2's type (mobile, home, work or other). */
        if (!strncmp(m, "phone", 5) && m[5] >= '1' && m[5] < '1' + IMPORT_PHONES &&
            !strcmp(m + 6, "_type")) {
            col->kind = COL_PHONE_TYPE;
            col->index = m[5] - '1';
            if (colon)
                return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                                   "mapping",
                                   "column %zu: %s takes no ':%s' (its cells hold the "
                                   "type)",
                                   k + 1, m, colon);
            if (slot_typed[col->index])
                return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                                   "mapping", "two columns are mapped to %s", m);
            slot_typed[col->index] = true;
            continue;
        }
        if (!strcmp(m, "time_zone")) {
            col->kind = COL_TZ;
            continue;
        }
        if (!strcmp(m, "consent")) {
            col->kind = COL_CONSENT;
            continue;
        }
        for (int t = 0; t < NTEXT; t++)
            if (!strcmp(m, text_columns[t])) {
                col->kind = COL_TEXT;
                col->index = t;
            }
        for (size_t t = 0; t < im->ncustom && col->kind == COL_IGNORE; t++)
            if (!strcmp(m, im->custom_names[t])) {
                col->kind = COL_CUSTOM;
                snprintf(col->name, sizeof col->name, "%.71s", m);
                snprintf(col->type, sizeof col->type, "%s", im->custom_types[t]);
            }
        if (col->kind == COL_IGNORE)
            return import_fail(
                im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "mapping",
                "column %zu maps to '%s', which is not a field of this campaign", k + 1, m);
    }
    if (!phone)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "mapping",
                           "no column is mapped to a phone number (phone1..phone8)");
    for (int s = 0; s < IMPORT_PHONES; s++)
        if (slot_typed[s] && !slot_mapped[s])
            return import_fail(
                im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "mapping",
                "phone%d_type is mapped but no column is mapped to phone%d", s + 1, s + 1);
    im->dedup_col = -1;
    if (!strncmp(in->dedup, "field:", 6)) {
        const char *want = in->dedup + 6;
        for (size_t k = 0; k < im->ncols && im->dedup_col < 0; k++) {
            const struct col *col = &im->cols[k];
            if (col->kind == COL_TEXT && !strcmp(text_columns[col->index], want)) {
                im->dedup_col = (int)k;
                im->dedup = STORE_DEDUP_COLUMN;
                snprintf(im->dedup_key, sizeof im->dedup_key, "%s", text_columns[col->index]);
            } else if (col->kind == COL_CUSTOM && !strcmp(col->name, want)) {
                im->dedup_col = (int)k;
                im->dedup = STORE_DEDUP_FIELD;
                snprintf(im->dedup_key, sizeof im->dedup_key, "%s", col->name);
            }
        }
        if (im->dedup_col < 0) {
            /* A field the campaign does not have is a typo; a real one must be mapped. */
            bool known = false;
            for (int t = 0; t < NTEXT && !known; t++)
                known = !strcmp(want, text_columns[t]);
            for (size_t t = 0; t < im->ncustom && !known; t++)
                known = !strcmp(want, im->custom_names[t]);
            if (!known)
                return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                                   "dedup",
                                   "--dedup field:%s: '%s' is not a field of this campaign "
                                   "(a standard field such as customer_id or email, or one the "
                                   "campaign declares)",
                                   want, want);
            return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                               "dedup", "--dedup field:%s: no column is mapped to '%s'", want,
                               want);
        }
    }
    for (size_t k = 0; k < im->ncols; k++)
        if (im->cols[k].kind == COL_TZ && !im->zones) {
            /* Zones come from the same source the database uses for AT TIME ZONE. */
            im->nzones = f->nzones;
            im->zones = calloc(im->nzones ? im->nzones : 1, sizeof *im->zones);
            for (size_t i = 0; im->zones && i < im->nzones; i++)
                im->zones[i] = strdup(f->zones[i]);
            if (im->zones)
                qsort(im->zones, im->nzones, sizeof *im->zones, cmp_str);
        }
    if (!strcmp(in->dedup, "none"))
        im->dedup = STORE_DEDUP_NONE;
    else if (im->dedup_col < 0)
        im->dedup = STORE_DEDUP_PHONE;
    struct cr_pg_opts o = {.conninfo = im->c->srv->cfg.db_conninfo, .max_queue = 100000};
    if (cr_pg_new(im->c->srv->loop, &o, &im->pg) != 0)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot open a database connection for the import");
    const struct store_import_start start = {
        .campaign = in->campaign,
        .list = in->list,
        .user_id = im->c->user.id,
        .country = in->country[0] ? in->country : "FR",
        .caller_id = in->caller_id,
        .work_mem_kb = bulk_work_mem_kb(im->c->srv),
    };
    if (store_import_begin(im->pg, &start, on_step_failed, on_list, im) != 0)
        return import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                           "cannot start the import");
}

/* Rights were checked at the route (edit on the campaign); the campaign's fields and the known
 * time zones come next. */
static void import_load_fields(struct import *im)
{
    im->fields_pending = true;
    if (store_import_fields(im->c->srv->pg, im->begin->import_begin->campaign, true, on_fields,
                            im) == 0)
        return;
    im->fields_pending = false;
    import_fail(im, im->begin_rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                "the database is unavailable");
}

void import_handle_begin(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = request_take_env(req);
    request_free(req); /* the import holds its own client reference from here */
    uint64_t rid = env->request_id;
    const Carillon__V1__ImportBegin *in = env->import_begin;
    if (c->import) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                     "an import is already running on this connection");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    if (in->n_headers && in->n_headers != in->n_mapping) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "headers",
                     "the header has %zu columns and the mapping %zu", in->n_headers,
                     in->n_mapping);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    if (!in->campaign[0] || !in->list[0] || strlen(in->list) > 128 ||
        (in->country[0] && !cr_phone_country_known(in->country)) ||
        (in->dedup[0] && strcmp(in->dedup, "phone") && strcmp(in->dedup, "none") &&
         strncmp(in->dedup, "field:", 6))) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, NULL,
                     "an import needs a campaign, a list name (128 bytes at most), a known "
                     "country, and dedup phone, field:NAME or none");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    char why[256];
    if (bulk_admit(c, why, sizeof why) != 0) {
        cr_log_warn("import_refused", "peer=%s user=%s campaign=%s reason=%s", c->peer,
                    cr_log_q(c->user.login), cr_log_q(in->campaign), cr_log_q(why));
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "%s", why);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    c->import_ended[0] = '\0';
    struct import *im = calloc(1, sizeof *im);
    if (!im) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    im->c = c;
    client_ref(c);
    im->begin = env;
    im->begin_rid = rid;
    c->import = im;
    import_load_fields(im);
}

/* --- rows ------------------------------------------------------------------------------- */

struct strbuf {
    char *s;
    size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            abort(); /* bounded by the frame size */
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Appends s as JSON string content. */
static void sb_json(struct strbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_add(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_str(b, esc);
        } else {
            sb_add(b, (const char *)p, 1);
        }
    }
}

void import_handle_rows(struct request *req)
{
    struct client *c = req->c; /* the connection's, alive: routes without a campaign run at once */
    Carillon__V1__Envelope *env = request_take_env(req);
    request_free(req);
    struct import *im = c->import;
    const Carillon__V1__ImportRows *in = env->import_rows;
    if (!im || !im->begun || im->ended) {
        client_error(c, env->request_id, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                     "no import is running on this connection%s%s", c->import_ended[0] ? ": " : "",
                     c->import_ended);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    im->last_heard_ms = uv_now(c->srv->loop);
    const char *country =
        im->begin->import_begin->country[0] ? im->begin->import_begin->country : "FR";
    /* The chunk's good rows, as the staging table's COPY text. */
    struct cr_strbuf copy;
    cr_strbuf_init(&copy, MAX_CHUNK_COPY);
    size_t good = 0;
    for (size_t i = 0; i < in->n_rows; i++) {
        const Carillon__V1__ContactRow *row = in->rows[i];
        uint32_t line = i < in->n_lines ? in->lines[i] : 0;
        im->rows++;
        if (row->n_values != im->ncols) {
            char why[96];
            snprintf(why, sizeof why, "has %zu columns, the header has %zu", row->n_values,
                     im->ncols);
            reject_entry(im, line, -1, "", "", why);
            im->rejected++;
            continue;
        }
        /* Every bad cell of the row gets its entry; the row is counted once. Entries from
         * first_entry on are this row's. */
        size_t first_entry = im->nrejects;
        const char *texts[NTEXT] = {0};
        char phones[IMPORT_PHONES][CR_PHONE_MAX + 1] = {{0}}, types[IMPORT_PHONES][8] = {{0}};
        const char *typed[IMPORT_PHONES] = {0}; /* phoneN_type columns' values, checked */
        int pcol[IMPORT_PHONES] = {0};
        const char *tz = NULL, *col_tz = NULL;
        int consent_col = -1;
        bool consent = true, bad = false, bad_number = false;
        struct strbuf fields = {0};
        sb_str(&fields, "{");
        bool first_field = true;
        for (size_t k = 0; k < im->ncols; k++) {
            const struct col *col = &im->cols[k];
            const char *v = strip_text_guard(row->values[k]);
            if (col->kind == COL_IGNORE)
                continue;
            if (strlen(v) > 4096) {
                bad = true;
                reject_entry(im, line, (int)k, NULL, v, "longer than 4096 bytes");
                continue;
            }
            if (col->kind == COL_TZ && v[0]) {
                if (!im->zones || !bsearch(&v, im->zones, im->nzones, sizeof *im->zones, cmp_str)) {
                    bad = true;
                    reject_entry(im, line, (int)k, NULL, v,
                                 "unknown time zone (an IANA name such as Europe/Paris)");
                    continue;
                }
                col_tz = v;
            } else if (col->kind == COL_CONSENT) {
                consent_col = (int)k;
                if (!strcasecmp(v, "no") || !strcasecmp(v, "non") || !strcasecmp(v, "n") ||
                    !strcasecmp(v, "false") || !strcmp(v, "0"))
                    consent = false;
                else if (v[0] && strcasecmp(v, "yes") && strcasecmp(v, "oui") &&
                         strcasecmp(v, "o") && strcasecmp(v, "y") && strcasecmp(v, "true") &&
                         strcmp(v, "1")) {
                    bad = true;
                    reject_entry(im, line, (int)k, NULL, v, "consent is yes or no (oui/non, 1/0)");
                }
            } else if (col->kind == COL_TEXT) {
                texts[col->index] = v;
            } else if (col->kind == COL_CUSTOM && v[0]) {
                char *end;
                int y, mo, d;
                char x;
                if (!strcmp(col->type, "number") && (strtod(v, &end), *end)) {
                    bad = true;
                    reject_entry(im, line, (int)k, NULL, v, "not a number");
                } else if (!strcmp(col->type, "date") &&
                           (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%c", &y, &mo, &d, &x) != 3)) {
                    bad = true;
                    reject_entry(im, line, (int)k, NULL, v, "not a date YYYY-MM-DD");
                } else {
                    sb_str(&fields, first_field ? "\"" : ",\"");
                    sb_str(&fields, col->name);
                    sb_str(&fields, "\":\"");
                    sb_json(&fields, v);
                    sb_str(&fields, "\"");
                    first_field = false;
                }
            } else if (col->kind == COL_PHONE_TYPE && v[0]) {
                static const char *const known[] = {"mobile", "home", "work", "other"};
                for (size_t t = 0; t < 4 && !typed[col->index]; t++)
                    if (!strcasecmp(v, known[t]))
                        typed[col->index] = known[t];
                if (!typed[col->index]) {
                    char why[128];
                    snprintf(why, sizeof why,
                             "unknown phone type '%.40s' (mobile, home, work or other)", v);
                    bad = true;
                    reject_entry(im, line, (int)k, NULL, v, why);
                }
            } else if (col->kind == COL_PHONE && v[0]) {
                struct cr_phone ph;
                const char *why;
                if (cr_phone_normalize(v, country, &ph, &why) != 0) {
                    /* Not yet a reason to refuse the row: its other numbers may do. */
                    bad_number = true;
                    reject_entry(im, line, (int)k, NULL, v, why);
                    continue;
                }
                snprintf(phones[col->index], sizeof phones[0], "%s", ph.e164);
                snprintf(types[col->index], sizeof types[0], "%s",
                         col->type[0]                 ? col->type
                         : ph.type == CR_PHONE_MOBILE ? "mobile"
                         : ph.type == CR_PHONE_FIXED  ? "home"
                                                      : "other");
                pcol[col->index] = (int)k;
                if (!tz)
                    tz = ph.time_zone;
            }
        }
        sb_str(&fields, "}");
        /* A type column wins over the mapping's ":type" and the number's own. */
        for (int s = 0; s < IMPORT_PHONES; s++)
            if (typed[s] && phones[s][0])
                snprintf(types[s], sizeof types[0], "%s", typed[s]);
        /* The numbers in slot order, without repeats, with the file column of each. */
        struct strbuf pl = {0}, tl = {0}, cl = {0};
        sb_str(&pl, "");
        sb_str(&tl, "");
        sb_str(&cl, "");
        int n = 0;
        for (int s = 0; s < IMPORT_PHONES; s++) {
            if (!phones[s][0])
                continue;
            bool dup = false;
            for (int t = 0; t < s; t++)
                dup = dup || !strcmp(phones[t], phones[s]);
            if (dup)
                continue;
            if (n++) {
                sb_str(&pl, SEP);
                sb_str(&tl, SEP);
                sb_str(&cl, SEP);
            }
            char cn[16];
            snprintf(cn, sizeof cn, "%d", pcol[s]);
            sb_str(&pl, phones[s]);
            sb_str(&tl, types[s]);
            sb_str(&cl, cn);
        }
        if (!bad && n > 0 && !consent && !im->begin->import_begin->include_no_consent) {
            bad = true;
            reject_entry(im, line, consent_col, "consent", row->values[consent_col],
                         "no call consent (import with --include-no-consent to keep it)");
        }
        if (n == 0 && !bad_number) {
            bad = true;
            reject_entry(im, line, -1, "phone", "", "no phone number");
        }
        if (bad || n == 0) {
            im->rejected++;
            free(fields.s);
            free(pl.s);
            free(tl.s);
            free(cl.s);
            continue;
        }
        /* The row goes in with its good numbers: its bad ones are reported as dropped. */
        for (size_t e = first_entry; e < im->nrejects; e++)
            im->rejects[e].row_imported = true;
        struct store_import_row srow = {
            .seq = im->rows,
            .line = line,
            .phones = pl.s,
            .types = tl.s,
            .pcols = cl.s,
            .time_zone = col_tz ? col_tz
                         : tz   ? tz
                                : "",
            .fields_json = fields.s,
            .consent = consent,
        };
        for (int t = 0; t < NTEXT; t++)
            srow.texts[t] = texts[t];
        /* The de-duplication key: the first number, or the chosen field (an empty one, NULL,
         * never matches). */
        char own[40];
        const char *dk;
        if (im->dedup_col >= 0) {
            const char *kv = strip_text_guard(row->values[im->dedup_col]);
            dk = kv[0] ? kv : NULL;
        } else {
            size_t cut = strcspn(pl.s, SEP);
            snprintf(own, sizeof own, "%.*s", (int)(cut < 39 ? cut : 39), pl.s);
            dk = own;
        }
        srow.dkey = dk;
        store_import_row_add(&copy, &srow); /* its error is sticky: checked below */
        good++;
        free(fields.s);
        free(pl.s);
        free(tl.s);
        free(cl.s);
    }
    int rc = 0;
    uint64_t rid = env->request_id;
    carillon__v1__envelope__free_unpacked(env, NULL);
    if (!good) {
        cr_strbuf_free(&copy);
        client_ok(c, rid);
        return;
    }
    if (copy.err) {
        cr_strbuf_free(&copy);
        if (!im->failed) {
            im->failed = true;
            snprintf(im->fail_msg, sizeof im->fail_msg,
                     "a chunk's rows exceed %u MiB once escaped for COPY", MAX_CHUNK_COPY >> 20);
        }
        client_error(c, rid, CARILLON__V1__CODE__CODE_ABORTED, NULL, "%s", im->fail_msg);
        return;
    }
    struct ack *a = malloc(sizeof *a);
    if (a) {
        a->im = im;
        a->c = c;
        a->rid = rid;
        a->good = good;
        client_ref(c);
    }
    rc = !a ? -ENOMEM : store_import_stage(im->pg, copy.s, copy.len, on_staged, a);
    if (!rc)
        a = NULL;
    if (a)
        client_unref(c);
    free(a);
    cr_strbuf_free(&copy);
    if (rc) {
        if (!im->failed) {
            im->failed = true;
            snprintf(im->fail_msg, sizeof im->fail_msg, "the import queue is full");
        }
        client_error(c, rid, CARILLON__V1__CODE__CODE_ABORTED, NULL, "%s", im->fail_msg);
    }
}

/* --- end -------------------------------------------------------------------------------- */

static void send_report(struct import *im, uint64_t imported, uint64_t duplicates, uint64_t blocked)
{
    Carillon__V1__ImportReport rep = CARILLON__V1__IMPORT_REPORT__INIT;
    rep.rows = im->rows;
    rep.imported = imported;
    rep.duplicates = duplicates;
    rep.rejected = im->rejected;
    rep.blocked = blocked;
    rep.rolled_back = im->rolled_back;
    Carillon__V1__ImportReject **ptrs =
        calloc(im->nrejects + im->nheld ? im->nrejects + im->nheld : 1, sizeof *ptrs);
    for (size_t i = 0; ptrs && i < im->nrejects; i++)
        ptrs[i] = &im->rejects[i];
    for (size_t i = 0; ptrs && i < im->nheld; i++)
        ptrs[im->nrejects + i] = &im->held[i];
    rep.rejects = ptrs;
    rep.n_rejects = ptrs ? im->nrejects : 0;
    rep.duplicate_numbers = ptrs ? ptrs + im->nrejects : NULL;
    rep.n_duplicate_numbers = ptrs ? im->nheld : 0;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_IMPORT_REPORT;
    env.import_report = &rep;
    client_reply(im->c, im->end_rid, &env);
    free(ptrs);
}

static void on_committed(void *arg, int err, const char *message);

/* The number rule's rows, as report entries naming the number and who holds it. */
static void keep_held(struct import *im, const struct store_import_held *held, size_t nheld)
{
    im->held = nheld ? calloc(nheld, sizeof *im->held) : NULL;
    for (size_t i = 0; im->held && i < nheld; i++) {
        const struct store_import_held *h = &held[i];
        char why[256];
        if (h->contact)
            snprintf(why, sizeof why,
                     "duplicate: %s is already held by contact %lld of the campaign "
                     "(--allow-duplicate-numbers imports it anyway)",
                     h->number, (long long)h->contact);
        else
            snprintf(why, sizeof why,
                     "duplicate: %s is already on line %u of this file "
                     "(--allow-duplicate-numbers imports it anyway)",
                     h->number, h->holder_line);
        int k = h->column >= 0 && (size_t)h->column < im->ncols ? h->column : -1;
        if (reject_fill(im, &im->held[im->nheld], h->line, k, "phone", h->number, why))
            im->nheld++;
    }
}

static void on_merged(void *arg, int err, const char *message, uint64_t imported, uint64_t blocked,
                      const struct store_import_held *held, size_t nheld)
{
    struct import *im = arg;
    if (err == -ECANCELED)
        return; /* import_free is closing the connection */
    if (err || im->failed)
        return import_fail(im, im->end_rid, CARILLON__V1__CODE__CODE_ABORTED, NULL,
                           "the import was rolled back: %s", im->failed ? im->fail_msg : message);
    im->imported = imported;
    im->duplicates = im->staged - im->imported;
    im->blocked = blocked;
    keep_held(im, held, nheld);
    /* Nothing to keep (no rows, all rejected, all duplicates): roll back, so that no empty
     * list is left behind; the report says so. */
    im->rolled_back = imported == 0;
    int rc = im->rolled_back ? store_import_rollback(im->pg, on_committed, im)
                             : store_import_commit(im->pg, on_committed, im);
    /* The report goes once the commit is known. */
    if (rc != 0)
        import_fail(im, im->end_rid, CARILLON__V1__CODE__CODE_ABORTED, NULL,
                    "the import could not be committed");
}

static void on_committed(void *arg, int err, const char *message)
{
    struct import *im = arg;
    if (err == -ECANCELED)
        return; /* import_free is closing the connection */
    if (err && err != -ECONNABORTED)
        return import_fail(im, im->end_rid, CARILLON__V1__CODE__CODE_ABORTED, NULL,
                           "the import could not be committed: %s", message);
    /* COMMIT of a transaction a chunk aborted answers ROLLBACK, without an error. */
    if (im->failed || err == -ECONNABORTED)
        return import_fail(im, im->end_rid, CARILLON__V1__CODE__CODE_ABORTED, NULL,
                           "the import was rolled back: %s",
                           im->failed ? im->fail_msg : "the transaction failed");
    cr_log_info("import_done",
                "user=%s campaign=%s list=%s rows=%llu imported=%llu "
                "duplicates=%llu rejected=%llu blocked=%llu rolled_back=%s",
                cr_log_q(im->c->user.login), cr_log_q(im->begin->import_begin->campaign),
                cr_log_q(im->begin->import_begin->list), (unsigned long long)im->rows,
                (unsigned long long)im->imported, (unsigned long long)im->duplicates,
                (unsigned long long)im->rejected, (unsigned long long)im->blocked,
                im->rolled_back ? "yes" : "no");
    send_report(im, im->imported, im->duplicates, im->blocked);
    import_free(im);
}

void import_handle_end(struct request *req)
{
    struct client *c = req->c; /* the connection's, alive: routes without a campaign run at once */
    Carillon__V1__Envelope *env = request_take_env(req);
    request_free(req);
    struct import *im = c->import;
    uint64_t rid = env->request_id;
    carillon__v1__envelope__free_unpacked(env, NULL);
    if (!im || !im->begun || im->ended) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, NULL,
                     "no import is running on this connection%s%s", c->import_ended[0] ? ": " : "",
                     c->import_ended);
        return;
    }
    im->ended = true;
    im->end_rid = rid;
    /* Every chunk is queued before the merge; a failed one has aborted the transaction. */
    if (store_import_merge(im->pg, &im->list, im->dedup, im->dedup_key,
                           im->begin->import_begin->allow_duplicate_numbers, on_merged, im) != 0)
        import_fail(im, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                    "the import could not be finished");
}
