/* SQL of contact exports: each column's expression (as text, timestamps in the contact's time
 * zone), and the cursor an export reads in batches (see export_store.h). */
#include "store/export_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/strbuf.h"
#include "store/contacts_store.h"

const char *const store_export_columns[] = {
    "id",          "list",     "state",    "last_name",
    "first_name",  "civility", "company",  "address",
    "zip",         "city",     "country",  "email",
    "customer_id", "phone",    "attempts", "last_qualification",
    "next_try",    "priority", "consent",  "last_update"};
const size_t store_export_ncolumns = sizeof store_export_columns / sizeof store_export_columns[0];

static const char *const phone_names[STORE_EXPORT_MAX_PHONES][3] = {
    {"phone1", "phone1_type", "phone1_state"}, {"phone2", "phone2_type", "phone2_state"},
    {"phone3", "phone3_type", "phone3_state"}, {"phone4", "phone4_type", "phone4_state"},
    {"phone5", "phone5_type", "phone5_state"}, {"phone6", "phone6_type", "phone6_state"},
    {"phone7", "phone7_type", "phone7_state"}, {"phone8", "phone8_type", "phone8_state"},
};

bool store_export_phone_column(const char *name, unsigned *slot, enum store_export_phone_part *part)
{
    for (unsigned i = 0; i < STORE_EXPORT_MAX_PHONES; i++)
        for (unsigned k = 0; k < 3; k++)
            if (!strcmp(name, phone_names[i][k])) {
                *slot = i;
                *part = (enum store_export_phone_part)k;
                return true;
            }
    return false;
}

const char *store_export_phone_name(unsigned slot, enum store_export_phone_part part)
{
    return phone_names[slot][part];
}

/* A contact's numbers in position order, one array per part: phoneN is n[N] (SQL arrays count
 * from 1), empty past the last. */
static const char PHONES_SQL[] =
    " LEFT JOIN LATERAL (SELECT array_agg(a.number ORDER BY a.position) AS n, "
    "array_agg(a.type ORDER BY a.position) AS t, array_agg(a.state ORDER BY a.position) AS s "
    "FROM addresses a WHERE a.contact_id = c.id) ph ON true";

/* The statement's text: columns of at most this many bytes each. */
#define COLUMN_SQL_MAX 600

/* Answers of each contact's last finished interview (contacts.interview = 'finished'), one
 * jsonb object {export_name: text}: the answers given on its attempts (or, without an attempt,
 * saved) since the interview before it finished or was cancelled (interview_events; the last
 * 'finished' event is this interview's own end); the latest answer per question (and matrix
 * row) wins, by answers.id. Several values are joined with " | "; a matrix gives "row: value"
 * pairs in the question's row order, joined with " | " (a row's several values with ", "). */
static const char ANSWERS_SQL[] =
    " LEFT JOIN LATERAL (SELECT jsonb_object_agg(v.export_name, v.val) AS a FROM ("
    "SELECT l.export_name, CASE WHEN bool_or(l.matrix_row IS NOT NULL) THEN "
    "string_agg(coalesce(l.matrix_row, '') || ': ' || array_to_string(l.vals, ', '), ' | ' "
    "ORDER BY l.rpos NULLS LAST, l.matrix_row) ELSE string_agg(array_to_string(l.vals, ' | '), "
    "' | ') END AS val FROM (SELECT DISTINCT ON (an.export_name, coalesce(an.matrix_row, '')) "
    "an.export_name, an.matrix_row, an.\"values\" AS vals, "
    "array_position(b.matrix_rows, an.matrix_row) AS rpos FROM answers an "
    "LEFT JOIN attempts t ON t.id = an.attempt_id "
    "LEFT JOIN script_blocks b ON b.campaign_id = c.campaign_id "
    "AND b.export_name = an.export_name "
    "WHERE c.interview = 'finished' AND an.contact_id = c.id "
    "AND coalesce(t.created_at, an.answered_at) > coalesce((SELECT z.at FROM (SELECT e.at, "
    "e.event, row_number() OVER (ORDER BY e.at DESC, e.id DESC) AS rn FROM interview_events e "
    "WHERE e.contact_id = c.id AND e.event IN ('finished', 'cancelled')) z "
    "WHERE NOT (z.rn = 1 AND z.event = 'finished') ORDER BY z.rn LIMIT 1), '-infinity') "
    "ORDER BY an.export_name, coalesce(an.matrix_row, ''), an.id DESC) l "
    "GROUP BY l.export_name) v) ans ON true";

/* A question's export name as it may be quoted in SQL: letters, digits and _ (campaign
 * validation), at most 64 bytes. */
static bool question_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

struct call {
    union {
        store_export_done_cb done;
        store_export_rows_cb rows;
        store_export_questions_cb questions;
        store_export_begun_cb begun;
    } cb;
    void *arg;
};

static void on_opened(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    c.cb.done(c.arg, r->status,
              r->status ? (r->message ? r->message : "database connection lost") : NULL);
}

static void on_begun(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status || r->nres < 3 || PQntuples(r->res[2]) != 1) {
        c.cb.begun(c.arg, r->status ? r->status : -EIO,
                   r->message ? r->message : "database connection lost", 0);
        return;
    }
    long n = strtol(PQgetvalue(r->res[2], 0, 0), NULL, 10);
    c.cb.begun(c.arg, 0, NULL, n < 0 ? 0 : n > 1000 ? 1000 : (unsigned)n);
}

int store_export_begin(struct cr_pg *pg, const char *campaign, store_export_begun_cb cb, void *arg)
{
    const char *p[] = {campaign};
    struct call *c = calloc(1, sizeof *c);
    struct cr_pg_batch *b = c ? cr_pg_batch_new(pg) : NULL;
    int rc = b ? 0 : -ENOMEM;
    /* One snapshot for the whole export, however long the client takes to read it: the count
     * of numbers (the header's number columns) and the rows agree. The batch is one pipeline
     * segment; the transaction stays open after it for the cursor and its FETCHes. */
    if (!rc)
        rc = cr_pg_batch_add(b, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!rc)
        rc = cr_pg_batch_add(b, "SET LOCAL jit = off", 0, NULL);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT coalesce(max(x.n), 0) FROM (SELECT count(*) AS n FROM "
                             "addresses a JOIN contacts c ON c.id = a.contact_id WHERE "
                             "c.campaign_id = (SELECT id FROM campaigns WHERE name = $1) "
                             "GROUP BY a.contact_id) x",
                             1, p);
    if (!rc) {
        c->cb.begun = cb;
        c->arg = arg;
        rc = cr_pg_batch_send(b, on_begun, c);
        b = NULL;
    }
    if (b)
        cr_pg_batch_discard(b);
    if (rc)
        free(c);
    return rc;
}

int store_export_open(struct cr_pg *pg, const struct store_export_query *q, const char **unknown,
                      store_export_done_cb cb, void *arg)
{
    if (q->ncolumns == 0 || q->ncolumns > STORE_EXPORT_MAX_COLUMNS)
        return -EINVAL;
    struct cr_strbuf sql;
    cr_strbuf_init(&sql, (STORE_EXPORT_MAX_COLUMNS + 2) * COLUMN_SQL_MAX + CR_FILTER_MAX_TEXT * 8);
    /* NO SCROLL, not WITH HOLD: the rows are read forward once, inside the transaction. */
    cr_strbuf_str(&sql, "DECLARE export NO SCROLL CURSOR FOR SELECT ");
    bool answers = false, phones = false;
    for (size_t i = 0; i < q->ncolumns; i++) {
        if (i)
            cr_strbuf_str(&sql, ", ");
        unsigned slot;
        enum store_export_phone_part part;
        if (!(q->question && q->question[i]) &&
            store_export_phone_column(q->columns[i], &slot, &part)) {
            cr_strbuf_printf(&sql, "coalesce(ph.%s[%u], '')",
                             part == STORE_PHONE_NUMBER ? "n"
                             : part == STORE_PHONE_TYPE ? "t"
                                                        : "s",
                             slot + 1);
            phones = true;
            continue;
        }
        if (q->question && q->question[i]) {
            if (!question_name_ok(q->columns[i])) {
                *unknown = q->columns[i];
                cr_strbuf_free(&sql);
                return -ENOENT;
            }
            cr_strbuf_printf(&sql, "coalesce(ans.a ->> '%s', '')", q->columns[i]);
            answers = true;
            continue;
        }
        if (!store_contact_column_sql(&sql, q->columns[i], q->custom, q->ncustom)) {
            *unknown = q->columns[i];
            cr_strbuf_free(&sql);
            return -ENOENT;
        }
    }
    cr_strbuf_printf(&sql,
                     " FROM contacts c%s%s WHERE c.campaign_id = (SELECT id FROM campaigns "
                     "WHERE name = $1) AND %s ORDER BY c.id",
                     phones ? PHONES_SQL : "", answers ? ANSWERS_SQL : "",
                     q->filter && q->filter->where ? q->filter->where : "true");
    if (sql.err) {
        int err = sql.err;
        cr_strbuf_free(&sql);
        return err;
    }
    const char *params[CR_FILTER_MAX_PARAMS + 1];
    int n = 1;
    params[0] = q->campaign;
    for (int i = 0; q->filter && i < q->filter->nparams; i++)
        params[n++] = q->filter->params[i];
    struct call *c = calloc(1, sizeof *c);
    int rc = c ? 0 : -ENOMEM;
    /* Inside store_export_begin's transaction (still open on this connection). */
    if (!rc) {
        c->cb.done = cb;
        c->arg = arg;
        rc = cr_pg_query(pg, cr_strbuf_text(&sql), n, params, on_opened, c);
    }
    if (rc)
        free(c);
    cr_strbuf_free(&sql);
    return rc;
}

static void on_questions(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    store_export_questions_cb cb = c.cb.questions;
    if (r->status) {
        cb(c.arg, r->status, NULL, 0);
        return;
    }
    size_t n = (size_t)PQntuples(r->res[0]);
    const char **names = n ? calloc(n, sizeof *names) : NULL;
    if (n && !names) {
        cb(c.arg, -ENOMEM, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = PQgetvalue(r->res[0], (int)i, 0);
    cb(c.arg, 0, names, n);
    free(names);
}

int store_export_questions(struct cr_pg *pg, const char *campaign, store_export_questions_cb cb,
                           void *arg)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb.questions = cb;
    c->arg = arg;
    const char *p[] = {campaign};
    int rc = cr_pg_query(pg,
                         "SELECT b.export_name FROM script_blocks b JOIN campaigns k ON k.id = "
                         "b.campaign_id WHERE k.name = $1 AND b.export_name IS NOT NULL "
                         "ORDER BY b.screen_position, b.position",
                         1, p, on_questions, c);
    if (rc)
        free(c);
    return rc;
}

static void on_fetched(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status) {
        c.cb.rows(c.arg, r->status, r->message ? r->message : "database connection lost", NULL);
        return;
    }
    struct store_export_rows rows = {
        .nrows = (size_t)PQntuples(r->res[0]),
        .ncolumns = (size_t)PQnfields(r->res[0]),
        .res = r->res[0],
    };
    c.cb.rows(c.arg, 0, NULL, &rows);
}

int store_export_fetch(struct cr_pg *pg, unsigned max_rows, store_export_rows_cb cb, void *arg)
{
    char sql[48];
    snprintf(sql, sizeof sql, "FETCH FORWARD %u FROM export", max_rows ? max_rows : 1);
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb.rows = cb;
    c->arg = arg;
    int rc = cr_pg_query(pg, sql, 0, NULL, on_fetched, c);
    if (rc)
        free(c);
    return rc;
}
