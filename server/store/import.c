/* SQL of contact file imports: the staging table and its COPY text, the transaction's settings,
 * the list, and the one set-based merge (see import_store.h; the flow is in api/import.c). */
#include "store/import_store.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const store_import_text_columns[STORE_IMPORT_NTEXT] = {
    "last_name", "first_name", "civility", "company", "address",
    "zip",       "city",       "country",  "email",   "customer_id"};

/* The staging table: store_import_row_add writes its columns in this order. */
#define STAGE_TABLE                                                                                \
    "CREATE TEMP TABLE stage (seq bigint, line integer, phones text, types text, pcols text, "     \
    "tz text, "                                                                                    \
    "last_name text, first_name text, civility text, company text, address text, "                 \
    "zip text, city text, country text, email text, customer_id text, fields jsonb, "              \
    "consent boolean, dkey text) ON COMMIT DROP"

/* One pending call: the caller's callback and its argument. */
struct call {
    union {
        store_import_done_cb done;
        store_import_fields_cb fields;
        store_import_list_cb list;
        store_import_merged_cb merged;
    } cb;
    void *arg;
};

static struct call *call_new(void *arg)
{
    struct call *c = calloc(1, sizeof *c);
    if (c)
        c->arg = arg;
    return c;
}

static const char *message_of(const struct cr_pg_result *r)
{
    return r->message ? r->message : "database connection lost";
}

static void on_done(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    c.cb.done(c.arg, r->status, r->status ? message_of(r) : NULL);
}

/* Like on_done but only failures are reported (the preparatory statements). */
static void on_step(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status)
        c.cb.done(c.arg, r->status, message_of(r));
}

static int query(struct cr_pg *pg, const char *sql, int n, const char *const *p, cr_pg_cb pcb,
                 store_import_done_cb cb, void *arg)
{
    struct call *c = call_new(arg);
    if (!c)
        return -ENOMEM;
    c->cb.done = cb;
    int rc = cr_pg_query(pg, sql, n, p, pcb, c);
    if (rc)
        free(c);
    return rc;
}

/* --- the campaign's fields ---------------------------------------------------------------- */

static void on_fields(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status) {
        c.cb.fields(c.arg, r->status, NULL);
        return;
    }
    const PGresult *f = r->res[0], *z = r->nres > 1 ? r->res[1] : NULL;
    size_t nf = (size_t)PQntuples(f), nz = z ? (size_t)PQntuples(z) : 0;
    const char **v = calloc(2 * nf + nz + 1, sizeof *v);
    if (!v) {
        c.cb.fields(c.arg, -ENOMEM, NULL);
        return;
    }
    struct store_import_fields out = {
        .nfields = nf, .names = v, .types = v + nf, .nzones = nz, .zones = v + 2 * nf};
    for (size_t i = 0; i < nf; i++) {
        out.names[i] = PQgetvalue(f, (int)i, 0);
        out.types[i] = PQgetvalue(f, (int)i, 1);
    }
    for (size_t i = 0; i < nz; i++)
        out.zones[i] = PQgetvalue(z, (int)i, 0);
    c.cb.fields(c.arg, 0, &out);
    free(v);
}

int store_import_fields(struct cr_pg *pg, const char *campaign, bool with_zones,
                        store_import_fields_cb cb, void *arg)
{
    const char *p[] = {campaign};
    struct call *c = call_new(arg);
    struct cr_pg_batch *b = c ? cr_pg_batch_new(pg) : NULL;
    if (!b) {
        free(c);
        return -ENOMEM;
    }
    c->cb.fields = cb;
    int rc = cr_pg_batch_add(b,
                             "SELECT f.name, f.type FROM campaign_fields f JOIN campaigns c "
                             "ON c.id = f.campaign_id WHERE c.name = $1 ORDER BY f.position",
                             1, p);
    if (!rc && with_zones)
        rc = cr_pg_batch_add(b, "SELECT name FROM pg_timezone_names", 0, NULL);
    if (rc) {
        cr_pg_batch_discard(b);
        free(c);
        return rc;
    }
    rc = cr_pg_batch_send(b, on_fields, c);
    if (rc)
        free(c);
    return rc;
}

/* --- the transaction ---------------------------------------------------------------------- */

static void on_list(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status) {
        c.cb.list(c.arg, r->status, message_of(r), NULL);
        return;
    }
    if (PQntuples(r->res[0]) != 1) {
        c.cb.list(c.arg, -ENOENT, "the campaign is gone", NULL);
        return;
    }
    struct store_import_list l = {
        .list_id = strtoll(PQgetvalue(r->res[0], 0, 0), NULL, 10),
        .campaign_id = strtoll(PQgetvalue(r->res[0], 0, 1), NULL, 10),
        .campaign_tz = PQgetvalue(r->res[0], 0, 2),
    };
    c.cb.list(c.arg, 0, NULL, &l);
}

int store_import_begin(struct cr_pg *pg, const struct store_import_start *s,
                       store_import_done_cb step_cb, store_import_list_cb cb, void *arg)
{
    char uid[24], mem[32];
    snprintf(uid, sizeof uid, "%lld", (long long)s->user_id);
    snprintf(mem, sizeof mem, "%lldkB", (long long)s->work_mem_kb);
    const char *mp[] = {mem};
    /* The list exists from the start (an import into an existing list adds to it); the
     * staging table lives until the commit. */
    int rc = query(pg, "BEGIN", 0, NULL, on_step, step_cb, arg);
    /* The merge is costed high (the staging table has no statistics): JIT would compile it
     * for longer than it saves. */
    if (!rc)
        rc = query(pg, "SET LOCAL jit = off", 0, NULL, on_step, step_cb, arg);
    /* One backend for the import's length: room to sort and hash the file in memory instead of
     * spilling it to disk, and to keep the staging table in local buffers; the server's config
     * sizes it (SET takes no parameters, set_config does the same with one). */
    if (!rc)
        rc = query(pg, "SELECT set_config('work_mem', $1, true)", 1, mp, on_step, step_cb, arg);
    if (!rc)
        rc = query(pg, "SELECT set_config('temp_buffers', $1, true)", 1, mp, on_step, step_cb, arg);
    if (!rc)
        rc = query(pg, STAGE_TABLE, 0, NULL, on_step, step_cb, arg);
    if (rc)
        return rc;
    const char *lp[] = {s->campaign, s->list, uid, s->country, s->caller_id};
    struct call *c = call_new(arg);
    if (!c)
        return -ENOMEM;
    c->cb.list = cb;
    rc =
        cr_pg_query(pg,
                    "WITH camp AS (SELECT id, time_zone FROM campaigns WHERE name = $1), "
                    "l AS (INSERT INTO lists AS l (campaign_id, name, created_by, default_country, "
                    "caller_id) SELECT camp.id, $2, $3::bigint, $4, $5 FROM camp ON CONFLICT "
                    "(campaign_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING l.id, "
                    "l.campaign_id) SELECT l.id, l.campaign_id, camp.time_zone FROM l, camp",
                    5, lp, on_list, c);
    if (rc)
        free(c);
    return rc;
}

/* --- staged rows -------------------------------------------------------------------------- */

/* Appends s as one field of a COPY text-format row (NULL: \N), then a tab or the row's end. */
static void copy_field(struct cr_strbuf *b, const char *s, bool last)
{
    if (!s) {
        cr_strbuf_add(b, "\\N", 2);
    } else {
        const char *run = s;
        for (const char *p = s;; p++) {
            char e = *p == '\\' ? '\\' : *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : 0;
            if (!e && *p)
                continue;
            cr_strbuf_add(b, run, (size_t)(p - run));
            if (!*p)
                break;
            char esc[2] = {'\\', e};
            cr_strbuf_add(b, esc, 2);
            run = p + 1;
        }
    }
    cr_strbuf_add(b, last ? "\n" : "\t", 1);
}

int store_import_row_add(struct cr_strbuf *chunk, const struct store_import_row *row)
{
    char seq[24], ln[16];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)row->seq);
    snprintf(ln, sizeof ln, "%u", row->line);
    copy_field(chunk, seq, false);
    copy_field(chunk, ln, false);
    copy_field(chunk, row->phones ? row->phones : "", false);
    copy_field(chunk, row->types ? row->types : "", false);
    copy_field(chunk, row->pcols ? row->pcols : "", false);
    copy_field(chunk, row->time_zone ? row->time_zone : "", false);
    for (int t = 0; t < STORE_IMPORT_NTEXT; t++)
        copy_field(chunk, row->texts[t] ? row->texts[t] : "", false);
    copy_field(chunk, row->fields_json ? row->fields_json : "{}", false);
    copy_field(chunk, row->consent ? "t" : "f", false);
    copy_field(chunk, row->dkey, true);
    return chunk->err;
}

int store_import_stage(struct cr_pg *pg, const char *chunk, size_t len, store_import_done_cb cb,
                       void *arg)
{
    struct call *c = call_new(arg);
    if (!c)
        return -ENOMEM;
    c->cb.done = cb;
    int rc = cr_pg_copy(pg, "COPY stage FROM STDIN", chunk, len, on_done, c);
    if (rc)
        free(c);
    return rc;
}

/* --- merge and commit --------------------------------------------------------------------- */

static void on_merged(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status) {
        c.cb.merged(c.arg, r->status, message_of(r), 0, 0, NULL, 0);
        return;
    }
    /* One row per held row (the totals repeated), or one row of totals with NULLs. */
    const PGresult *res = r->res[0];
    int n = PQntuples(res);
    if (n < 1) {
        c.cb.merged(c.arg, -EIO, "the merge returned no totals", 0, 0, NULL, 0);
        return;
    }
    struct store_import_held *held = calloc((size_t)n, sizeof *held);
    if (!held) {
        c.cb.merged(c.arg, -ENOMEM, "out of memory", 0, 0, NULL, 0);
        return;
    }
    size_t nheld = 0;
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 2))
            continue;
        struct store_import_held *h = &held[nheld++];
        h->line = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
        h->number = PQgetvalue(res, i, 3);
        h->column = (int)strtol(PQgetvalue(res, i, 4), NULL, 10);
        h->contact = PQgetisnull(res, i, 5) ? 0 : strtoll(PQgetvalue(res, i, 5), NULL, 10);
        h->holder_line =
            PQgetisnull(res, i, 6) ? 0 : (uint32_t)strtoul(PQgetvalue(res, i, 6), NULL, 10);
    }
    c.cb.merged(c.arg, 0, NULL, strtoull(PQgetvalue(res, 0, 0), NULL, 10),
                strtoull(PQgetvalue(res, 0, 1), NULL, 10), held, nheld);
    free(held);
}

/* The statement that merges the staged rows: $1 list, $2 campaign, $3 the campaign's time zone,
 * $4 the declared field of STORE_DEDUP_FIELD.
 * - k: the rows the key rule keeps (the first of each key in the file, by seq; keys a
 *   not-deleted contact of the campaign has dropped).
 * - held: of those, the rows one of whose numbers is already held, by a not-deleted contact of
 *   the campaign or by an earlier row of k (the number rule; empty with
 *   allow_duplicate_numbers). An earlier row counts even when the number rule drops it too, so
 *   a chain A-B-C sharing numbers pairwise keeps only A: stricter than needed, never a second
 *   contact with one number, and set-based (no row-by-row loop).
 * - fresh: k without held, inserted into contacts and addresses (a blacklisted number goes in
 *   blocked).
 * Under the campaign's STORE_LOCK_NUMBERS lock (store.h), held to the COMMIT.
 * It returns the imported and blocked counts, with each held row (the first
 * STORE_IMPORT_MAX_HELD): line, number, file column, holding contact or earlier line. */
int store_import_merge(struct cr_pg *pg, const struct store_import_list *l,
                       enum store_import_dedup dedup, const char *key, bool allow_duplicate_numbers,
                       store_import_merged_cb cb, void *arg)
{
    char where[400];
    if (dedup == STORE_DEDUP_NONE) {
        snprintf(where, sizeof where, "true");
    } else if (dedup == STORE_DEDUP_COLUMN) {
        int known = -1;
        for (int t = 0; t < STORE_IMPORT_NTEXT && known < 0; t++)
            if (!strcmp(store_import_text_columns[t], key))
                known = t;
        if (known < 0)
            return -EINVAL;
        snprintf(where, sizeof where,
                 "d.rn = 1 AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.campaign_id = "
                 "$2::bigint AND c.state <> 'deleted' AND c.%s = d.dkey)",
                 store_import_text_columns[known]);
    } else if (dedup == STORE_DEDUP_FIELD) {
        snprintf(where, sizeof where,
                 "d.rn = 1 AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.campaign_id = "
                 "$2::bigint AND c.state <> 'deleted' AND c.fields->>$4::text = d.dkey)");
    } else {
        snprintf(where, sizeof where,
                 "d.rn = 1 AND NOT EXISTS (SELECT 1 FROM addresses a JOIN contacts c ON c.id = "
                 "a.contact_id WHERE c.campaign_id = $2::bigint AND c.state <> 'deleted' AND "
                 "a.number = d.dkey)");
    }
    struct cr_strbuf sql;
    cr_strbuf_init(&sql, 16384);
    cr_strbuf_printf(
        &sql,
        "WITH d AS (SELECT s.*, CASE WHEN s.dkey IS NULL THEN 1 ELSE row_number() OVER "
        "(PARTITION BY s.dkey ORDER BY s.seq) END AS rn FROM stage s), "
        "k AS MATERIALIZED (SELECT d.* FROM d WHERE %s), "
        "nums AS MATERIALIZED (SELECT k.seq, k.line, t.n, t.col, t.ord, min(k.seq) OVER w AS "
        "first_seq, first_value(k.line) OVER (w ORDER BY k.seq) AS first_line FROM k, "
        "unnest(string_to_array(k.phones, E'\\x1f'), string_to_array(k.pcols, E'\\x1f')) WITH "
        "ORDINALITY AS t(n, col, ord) WHERE %s WINDOW w AS (PARTITION BY t.n)), "
        "held AS MATERIALIZED (SELECT DISTINCT ON (x.seq) x.seq, x.line, x.n, x.col, x.contact, "
        "x.holder_line FROM (SELECT u.seq, u.line, u.n, u.col, u.ord, c.id AS contact, "
        "NULL::integer AS holder_line FROM nums u JOIN addresses a ON a.number = u.n JOIN "
        "contacts c ON c.id = a.contact_id WHERE c.campaign_id = $2::bigint AND c.state <> "
        "'deleted' UNION ALL SELECT u.seq, u.line, u.n, u.col, u.ord, NULL, u.first_line FROM "
        "nums u WHERE u.first_seq < u.seq) x ORDER BY x.seq, x.ord, x.contact NULLS LAST), "
        "fresh AS MATERIALIZED (SELECT nextval('contacts_id_seq') AS id, k.* FROM k WHERE NOT "
        "EXISTS (SELECT 1 FROM held h WHERE h.seq = k.seq)), "
        "ins AS (INSERT INTO contacts (id, campaign_id, list_id, time_zone, last_name, "
        "first_name, civility, company, address, zip, city, country, email, customer_id, "
        "fields, consent) SELECT f.id, $2::bigint, $1::bigint, coalesce(nullif(f.tz, ''), $3), "
        "f.last_name, f.first_name, f.civility, f.company, f.address, f.zip, f.city, "
        "f.country, f.email, f.customer_id, f.fields, f.consent FROM fresh f), "
        "adr AS (INSERT INTO addresses (contact_id, position, number, type, state) SELECT "
        "f.id, t.ord, t.n, t.ty, CASE WHEN EXISTS (SELECT 1 FROM blacklist b WHERE b.number = "
        "t.n AND (b.campaign_id IS NULL OR b.campaign_id = $2::bigint)) THEN 'blocked' WHEN "
        "t.ord = 1 THEN 'scheduled' ELSE 'waiting' END FROM fresh f, "
        "unnest(string_to_array(f.phones, E'\\x1f'), string_to_array(f.types, E'\\x1f')) "
        "WITH ORDINALITY AS t(n, ty, ord) RETURNING contact_id, state), "
        "tot AS (SELECT (SELECT count(*) FROM fresh) AS imported, (SELECT count(DISTINCT "
        "contact_id) FROM adr WHERE state = 'blocked') AS blocked) "
        "SELECT tot.imported, tot.blocked, h.line, h.n, h.col, h.contact, h.holder_line FROM tot "
        "LEFT JOIN (SELECT * FROM held ORDER BY seq LIMIT %d) h ON true ORDER BY h.seq",
        where, allow_duplicate_numbers ? "false" : "true", STORE_IMPORT_MAX_HELD);
    if (sql.err) {
        int err = sql.err;
        cr_strbuf_free(&sql);
        return err;
    }
    char list_id[24], campaign_id[24];
    snprintf(list_id, sizeof list_id, "%lld", (long long)l->list_id);
    snprintf(campaign_id, sizeof campaign_id, "%lld", (long long)l->campaign_id);
    const char *p[] = {list_id, campaign_id, l->campaign_tz, key ? key : ""};
    struct call *c = call_new(arg);
    int rc = -ENOMEM;
    if (c) {
        c->cb.merged = cb;
        /* the campaign's numbers lock, held to the COMMIT: a contact add or another import's
         * merge waits, and the merge's snapshot, taken after it, sees what they committed (a
         * failure aborts the transaction, so the merge fails too) */
        rc = cr_pg_query(pg,
                         "SELECT pg_advisory_xact_lock(" STORE_LOCK_NUMBERS
                         ", ($1::bigint % 2147483648)::int)",
                         1, p + 1, NULL, NULL);
        if (!rc)
            rc = cr_pg_query(pg, cr_strbuf_text(&sql), dedup == STORE_DEDUP_FIELD ? 4 : 3, p,
                             on_merged, c);
        if (rc)
            free(c);
    }
    cr_strbuf_free(&sql);
    return rc;
}

static void on_committed(void *arg, const struct cr_pg_result *r)
{
    struct call c = *(struct call *)arg;
    free(arg);
    if (r->status) {
        c.cb.done(c.arg, r->status, message_of(r));
        return;
    }
    /* COMMIT of a transaction a statement aborted answers ROLLBACK, without an error. */
    if (strcmp(PQcmdStatus(r->res[0]), "COMMIT") != 0) {
        c.cb.done(c.arg, -ECONNABORTED, "the transaction failed");
        return;
    }
    c.cb.done(c.arg, 0, NULL);
}

int store_import_commit(struct cr_pg *pg, store_import_done_cb cb, void *arg)
{
    return query(pg, "COMMIT", 0, NULL, on_committed, cb, arg);
}

int store_import_rollback(struct cr_pg *pg, store_import_done_cb cb, void *arg)
{
    return query(pg, "ROLLBACK", 0, NULL, on_done, cb, arg);
}
