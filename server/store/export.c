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

/* The statement's text: columns of at most this many bytes each. */
#define COLUMN_SQL_MAX 600

struct call {
    union {
        store_export_done_cb done;
        store_export_rows_cb rows;
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

int store_export_open(struct cr_pg *pg, const struct store_export_query *q, const char **unknown,
                      store_export_done_cb cb, void *arg)
{
    if (q->ncolumns == 0 || q->ncolumns > STORE_EXPORT_MAX_COLUMNS)
        return -EINVAL;
    struct cr_strbuf sql;
    cr_strbuf_init(&sql, (STORE_EXPORT_MAX_COLUMNS + 2) * COLUMN_SQL_MAX + CR_FILTER_MAX_TEXT * 8);
    /* NO SCROLL, not WITH HOLD: the rows are read forward once, inside the transaction. */
    cr_strbuf_str(&sql, "DECLARE export NO SCROLL CURSOR FOR SELECT ");
    for (size_t i = 0; i < q->ncolumns; i++) {
        if (i)
            cr_strbuf_str(&sql, ", ");
        if (!store_contact_column_sql(&sql, q->columns[i], q->custom, q->ncustom)) {
            *unknown = q->columns[i];
            cr_strbuf_free(&sql);
            return -ENOENT;
        }
    }
    cr_strbuf_printf(&sql,
                     " FROM contacts c WHERE c.campaign_id = (SELECT id FROM campaigns WHERE "
                     "name = $1) AND %s ORDER BY c.id",
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
    struct cr_pg_batch *b = c ? cr_pg_batch_new(pg) : NULL;
    int rc = b ? 0 : -ENOMEM;
    /* One snapshot for the whole export, however long the client takes to read it. The batch
     * is one pipeline segment; the transaction stays open after it for the FETCHes. */
    if (!rc)
        rc = cr_pg_batch_add(b, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!rc)
        rc = cr_pg_batch_add(b, "SET LOCAL jit = off", 0, NULL);
    if (!rc)
        rc = cr_pg_batch_add(b, cr_strbuf_text(&sql), n, params);
    if (!rc) {
        c->cb.done = cb;
        c->arg = arg;
        rc = cr_pg_batch_send(b, on_opened, c);
        b = NULL;
    }
    if (b)
        cr_pg_batch_discard(b);
    if (rc)
        free(c);
    cr_strbuf_free(&sql);
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
