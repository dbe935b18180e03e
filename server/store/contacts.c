/* SQL for contacts: creation, listing pages, bulk operations, modify, lists, blacklists and saved
 * filters. Every value is a parameter; SQL text is only built from fixed pieces, column names
 * from the fixed lists below, and the filter compiler's parameterised condition. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/strbuf.h"
#include "store/contacts_store.h"
#include "store/store.h"

const char *const store_contact_text_columns[STORE_CONTACT_NTEXT] = {
    "last_name", "first_name", "civility", "company", "address",
    "zip",       "city",       "country",  "email",   "customer_id"};

/* The largest statement built here: 250 columns of listing, or every change of a modify. */
#define STORE_CONTACTS_SQL_MAX (256 * 1024)

char *store_text_array(char *const *items, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(items[i]) + 3;
    char *s = malloc(len), *o = s;
    if (!s)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return s;
}

static char *id_text(char buf[24], int64_t id)
{
    snprintf(buf, 24, "%lld", (long long)id);
    return buf;
}

int store_campaign_fields(struct cr_pg *pg, const char *campaign, cr_pg_cb cb, void *arg)
{
    const char *p[] = {campaign};
    return cr_pg_query(pg,
                       "SELECT f.name, f.type FROM campaign_fields f JOIN campaigns c ON c.id = "
                       "f.campaign_id WHERE c.name = $1 ORDER BY f.position",
                       1, p, cb, arg);
}

int store_contact_create(struct cr_pg *pg, const struct store_contact_new *in, cr_pg_cb cb,
                         void *arg)
{
    char prio[16], uid[24];
    snprintf(prio, sizeof prio, "%d", in->priority);
    char *a_numbers = store_text_array(in->numbers, in->nnumbers);
    char *a_types = store_text_array(in->types, in->nnumbers);
    char *a_keys = store_text_array(in->field_names, in->nfields);
    char *a_vals = store_text_array(in->field_values, in->nfields);
    const char *p[25] = {in->campaign,
                         in->list,
                         id_text(uid, in->created_by),
                         prio,
                         in->top_priority ? "t" : "f",
                         in->agent,
                         in->time_zone,
                         in->next_try,
                         in->consent ? "t" : "f",
                         a_keys,
                         a_vals,
                         a_numbers,
                         a_types,
                         in->country};
    for (int k = 0; k < STORE_CONTACT_NTEXT; k++)
        p[14 + k] = in->text[k] ? in->text[k] : "";
    p[24] = in->allow_duplicate_numbers ? "t" : "f";
    int rc = -ENOMEM;
    /* One transaction: the campaign's numbers lock, then the check and the insert (a snapshot
     * taken after the lock sees a concurrent add's or import's committed numbers). */
    struct cr_pg_batch *b = a_numbers && a_types && a_keys && a_vals ? cr_pg_batch_new(pg) : NULL;
    if (b)
        rc = cr_pg_batch_add(b,
                             "SELECT pg_advisory_xact_lock(" STORE_LOCK_NUMBERS
                             ", (id % 2147483648)::int) FROM campaigns WHERE name = $1",
                             1, p);
    if (b && !rc)
        rc = cr_pg_batch_add(
            b,
            /* A number a not-deleted contact of the campaign holds stops everything (the
             * list is not created either) unless $25; the holder is returned instead. */
            "WITH camp AS (SELECT id, time_zone FROM campaigns WHERE name = $1), "
            "held AS (SELECT a.number, c.id FROM addresses a JOIN contacts c ON c.id = "
            "a.contact_id WHERE a.number = ANY($12::text[]) AND c.campaign_id = (SELECT id FROM "
            "camp) AND c.state <> 'deleted' AND NOT $25::bool ORDER BY "
            "array_position($12::text[], a.number), c.id LIMIT 1), "
            "l AS (INSERT INTO lists AS l (campaign_id, name, created_by, default_country) "
            "SELECT camp.id, $2, $3::bigint, $14 FROM camp WHERE NOT EXISTS (SELECT 1 FROM held) "
            "ON CONFLICT (campaign_id, name) DO "
            "UPDATE SET name = EXCLUDED.name RETURNING l.id, l.campaign_id), "
            "ct AS (INSERT INTO contacts (campaign_id, list_id, priority, top_priority, "
            "agent_id, time_zone, next_try, consent, fields, last_name, first_name, civility, "
            "company, address, zip, city, country, email, customer_id) SELECT l.campaign_id, "
            "l.id, $4::smallint, $5::bool, (SELECT id FROM users WHERE login = nullif($6, '')), "
            "coalesce(nullif($7, ''), camp.time_zone), CASE WHEN $8 = '' THEN NULL ELSE "
            "($8::timestamp AT TIME ZONE coalesce(nullif($7, ''), camp.time_zone)) END, "
            "$9::bool, jsonb_object($10::text[], $11::text[]), $15, $16, $17, $18, $19, $20, "
            "$21, $22, $23, $24 FROM l, camp RETURNING id, time_zone, campaign_id), "
            "ins AS (INSERT INTO addresses (contact_id, position, number, type, state) SELECT "
            "ct.id, t.ord, t.n, t.ty, CASE WHEN EXISTS (SELECT 1 FROM blacklist b WHERE "
            "b.number = t.n AND (b.campaign_id IS NULL OR b.campaign_id = ct.campaign_id)) THEN "
            "'blocked' WHEN t.ord = 1 THEN 'scheduled' ELSE 'waiting' END FROM ct, "
            "unnest($12::text[], $13::text[]) WITH ORDINALITY AS t(n, ty, ord) RETURNING "
            "contact_id, position, number, type, state) "
            "SELECT x.id, x.tz, x.number, x.type, x.state, x.held FROM (SELECT ins.contact_id "
            "AS id, (SELECT time_zone FROM ct) AS tz, ins.number, ins.type, ins.state, false AS "
            "held, ins.position FROM ins UNION ALL SELECT held.id, '', held.number, '', '', "
            "true, 0 FROM held) x ORDER BY x.position",
            25, p);
    if (b && !rc)
        rc = cr_pg_batch_send(b, cb, arg);
    else if (b)
        cr_pg_batch_discard(b);
    free(a_numbers);
    free(a_types);
    free(a_keys);
    free(a_vals);
    return rc;
}

int store_saved_filter_get(struct cr_pg *pg, int64_t user_id, const char *name, cr_pg_cb cb,
                           void *arg)
{
    char uid[24];
    const char *p[] = {id_text(uid, user_id), name};
    return cr_pg_query(
        pg, "SELECT expression FROM saved_filters WHERE user_id = $1::bigint AND name = $2", 2, p,
        cb, arg);
}

int store_saved_filter_set(struct cr_pg *pg, int64_t user_id, const char *name,
                           const char *expression, cr_pg_cb cb, void *arg)
{
    char uid[24];
    const char *p[] = {id_text(uid, user_id), name, expression};
    if (!expression[0])
        return cr_pg_query(pg, "DELETE FROM saved_filters WHERE user_id = $1::bigint AND name = $2",
                           2, p, cb, arg);
    return cr_pg_query(pg,
                       "INSERT INTO saved_filters (user_id, name, expression) VALUES "
                       "($1::bigint, $2, $3) ON CONFLICT (user_id, name) DO UPDATE SET "
                       "expression = EXCLUDED.expression, created_at = now()",
                       3, p, cb, arg);
}

int store_saved_filters(struct cr_pg *pg, int64_t user_id, cr_pg_cb cb, void *arg)
{
    char uid[24];
    const char *p[] = {id_text(uid, user_id)};
    return cr_pg_query(pg,
                       "SELECT name, expression FROM saved_filters WHERE user_id = $1::bigint "
                       "ORDER BY name",
                       1, p, cb, arg);
}

/* One statement of a batch: its text and the slice of the batch's parameters it takes. */
struct stmt {
    const char *sql;
    int first, n;
};

/* Sends the statements as one batch (one transaction) over params; cb gets their results. */
static int send_stmts(struct cr_pg *pg, const struct stmt *st, size_t nst,
                      const char *const *params, cr_pg_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    int rc = b ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < nst; i++)
        rc = cr_pg_batch_add(b, st[i].sql, st[i].n, params + st[i].first);
    if (!rc)
        return cr_pg_batch_send(b, cb, arg);
    if (b)
        cr_pg_batch_discard(b);
    return rc;
}

/* --- listing pages ------------------------------------------------------------------------ */

bool store_contact_column_sql(struct cr_strbuf *b, const char *name,
                              const struct cr_filter_field *custom, size_t ncustom)
{
    if (!strcmp(name, "phone")) {
        cr_strbuf_str(b, "coalesce((SELECT string_agg(a.number || CASE WHEN a.state = "
                         "'blocked' THEN ' (blocked)' ELSE '' END, ' ' ORDER BY a.position) "
                         "FROM addresses a WHERE a.contact_id = c.id), '')");
        return true;
    }
    for (size_t i = 0; i < cr_filter_standard_nfields; i++) {
        const struct cr_filter_field *f = &cr_filter_standard_fields[i];
        if (f->sql && !strcmp(f->name, name)) {
            if (f->type == CR_FT_TIMESTAMP)
                cr_strbuf_printf(b,
                                 "coalesce(to_char(%s AT TIME ZONE c.time_zone, "
                                 "'YYYY-MM-DD HH24:MI'), '')",
                                 f->sql);
            else
                cr_strbuf_printf(b, "coalesce((%s)::text, '')", f->sql);
            return true;
        }
    }
    /* A declared field's name is checked against the campaign's list: it is a known name, and
     * declared names are letters, digits and _ (campaign validation), so it quotes safely. */
    for (size_t i = 0; i < ncustom; i++) {
        if (!strcmp(custom[i].name, name) && !strchr(name, '\'')) {
            cr_strbuf_printf(b, "coalesce(c.fields->>'%s', '')", custom[i].name);
            return true;
        }
    }
    return false;
}

bool store_contact_column_known(const char *name, const struct cr_filter_field *custom,
                                size_t ncustom)
{
    struct cr_strbuf b;
    cr_strbuf_init(&b, 4096);
    bool ok = store_contact_column_sql(&b, name, custom, ncustom);
    cr_strbuf_free(&b);
    return ok;
}

/* A time as RFC 3339 in UTC: the client shows it in its viewer's zone (one rule for all). */
#define UTC_TIME(x)                                                                                \
    "coalesce(to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
/* The contact's numbers in position order, one expression per listing-only column. */
#define ADDRESSES_AGG(e, sep)                                                                      \
    "coalesce((SELECT string_agg(" e ", '" sep "' ORDER BY a.position) FROM addresses a WHERE "    \
    "a.contact_id = c.id), '')"
#define PACKED_NUMBERS ADDRESSES_AGG("a.number || ' ' || a.type || ' ' || a.state", ",")

static const struct {
    const char *name, *type, *sql;
} list_only_columns[] = {
    {"numbers", "numbers", ADDRESSES_AGG("a.number || ' ' || a.type || ' ' || a.state", ", ")},
    {"phone_types", "text", ADDRESSES_AGG("a.type", ",")},
    {"phone_states", "text", ADDRESSES_AGG("a.state", ",")},
};

const char *store_contact_list_column_type(const char *name, const struct cr_filter_field *custom,
                                           size_t ncustom)
{
    for (size_t i = 0; i < sizeof list_only_columns / sizeof list_only_columns[0]; i++)
        if (!strcmp(list_only_columns[i].name, name))
            return list_only_columns[i].type;
    if (!strcmp(name, "phone"))
        return "numbers";
    for (size_t i = 0; i < cr_filter_standard_nfields; i++) {
        const struct cr_filter_field *f = &cr_filter_standard_fields[i];
        if (f->sql && !strcmp(f->name, name))
            return f->type == CR_FT_NUMBER      ? "integer"
                   : f->type == CR_FT_TIMESTAMP ? "time"
                   : f->type == CR_FT_BOOL      ? "boolean"
                                                : "text";
    }
    for (size_t i = 0; i < ncustom; i++)
        if (!strcmp(custom[i].name, name) && !strchr(name, '\''))
            return custom[i].type == CR_FT_NUMBER      ? "number"
                   : custom[i].type == CR_FT_TIMESTAMP ? "date"
                                                       : "text";
    return NULL;
}

/* A listing column's SQL: the export's (store_contact_column_sql) except times, which are
 * RFC 3339 in UTC rather than the contact's local time, and the listing-only columns. */
static bool list_column_sql(struct cr_strbuf *b, const char *name,
                            const struct cr_filter_field *custom, size_t ncustom)
{
    for (size_t i = 0; i < sizeof list_only_columns / sizeof list_only_columns[0]; i++)
        if (!strcmp(list_only_columns[i].name, name)) {
            cr_strbuf_str(b, list_only_columns[i].sql);
            return true;
        }
    for (size_t i = 0; i < cr_filter_standard_nfields; i++) {
        const struct cr_filter_field *f = &cr_filter_standard_fields[i];
        if (f->sql && f->type == CR_FT_TIMESTAMP && !strcmp(f->name, name)) {
            cr_strbuf_printf(b, UTC_TIME("%s"), f->sql);
            return true;
        }
    }
    return store_contact_column_sql(b, name, custom, ncustom);
}

int store_contact_page(struct cr_pg *pg, const struct store_contact_page *q, cr_pg_cb cb, void *arg)
{
    struct cr_strbuf sel, where;
    cr_strbuf_init(&sel, STORE_CONTACTS_SQL_MAX);
    cr_strbuf_init(&where, STORE_CONTACTS_SQL_MAX);
    for (size_t i = 0; i < q->ncolumns; i++) {
        if (i)
            cr_strbuf_str(&sel, ", ");
        if (!list_column_sql(&sel, q->columns[i], q->custom, q->ncustom)) {
            cr_strbuf_free(&sel);
            cr_strbuf_free(&where);
            return -EINVAL;
        }
    }
    if (q->with_numbers)
        cr_strbuf_str(&sel, q->ncolumns ? ", " PACKED_NUMBERS : PACKED_NUMBERS);
    cr_strbuf_str(&where, "c.campaign_id = (SELECT id FROM campaigns WHERE name = $1)");
    if (q->window)
        cr_strbuf_printf(&where,
                         " AND c.id IN (SELECT w.id FROM contacts w WHERE w.campaign_id = "
                         "c.campaign_id ORDER BY w.id LIMIT %u)",
                         q->window);
    if (q->filter && q->filter->where)
        cr_strbuf_printf(&where, " AND %s", q->filter->where);
    struct cr_strbuf rows, count;
    cr_strbuf_init(&rows, STORE_CONTACTS_SQL_MAX);
    cr_strbuf_init(&count, STORE_CONTACTS_SQL_MAX);
    /* order_by comes from cr_filter_sort_compile: the field tables' SQL, never the user's text */
    cr_strbuf_printf(&rows, "SELECT %s FROM contacts c WHERE %s ORDER BY %s LIMIT %u OFFSET %u",
                     cr_strbuf_text(&sel), cr_strbuf_text(&where),
                     q->order_by ? q->order_by : "c.id", q->limit, q->offset);
    cr_strbuf_printf(&count, "SELECT count(*) FROM contacts c WHERE %s", cr_strbuf_text(&where));
    int rc = sel.err ? sel.err : where.err ? where.err : rows.err ? rows.err : count.err;
    if (!rc) {
        const char *params[CR_FILTER_MAX_PARAMS + 1];
        int np = 1;
        params[0] = q->campaign;
        for (int i = 0; q->filter && i < q->filter->nparams; i++)
            params[np++] = q->filter->params[i];
        const struct stmt st[] = {{cr_strbuf_text(&rows), 0, np}, {cr_strbuf_text(&count), 0, np}};
        rc = send_stmts(pg, st, 2, params, cb, arg);
    }
    cr_strbuf_free(&sel);
    cr_strbuf_free(&where);
    cr_strbuf_free(&rows);
    cr_strbuf_free(&count);
    return rc;
}

/* --- blacklists --------------------------------------------------------------------------- */

int store_blacklist_add(struct cr_pg *pg, const char *campaign, const char *numbers_array,
                        const char *reason, int64_t actor_id, cr_pg_cb cb, void *arg)
{
    char uid[24];
    const char *p[] = {campaign, numbers_array, reason, id_text(uid, actor_id)};
    /* Campaign blacklists name their campaign; the global one has none. */
    static const struct stmt st[] = {
        {"INSERT INTO blacklist (campaign_id, number, reason, added_by) SELECT (SELECT id FROM "
         "campaigns WHERE name = nullif($1, '')), x, $3, $4::bigint FROM unnest($2::text[]) x ON "
         "CONFLICT DO NOTHING",
         0, 4},
        {"UPDATE addresses a SET state = 'blocked' FROM contacts c WHERE c.id = a.contact_id AND "
         "a.number = ANY($2::text[]) AND a.state <> 'blocked' AND ($1 = '' OR c.campaign_id = "
         "(SELECT id FROM campaigns WHERE name = $1)) AND $3 = $3 AND $4 = $4",
         0, 4},
    };
    return send_stmts(pg, st, 2, p, cb, arg);
}

int store_blacklist_remove(struct cr_pg *pg, const char *campaign, const char *numbers_array,
                           const char *reason, int64_t actor_id, cr_pg_cb cb, void *arg)
{
    char uid[24];
    const char *p[] = {campaign, numbers_array, reason, id_text(uid, actor_id)};
    /* Each number leaves an audit row with who, when and why; numbers no list blocks any more
     * are dialable again (waiting; the engine schedules them). */
    static const struct stmt st[] = {
        {"DELETE FROM blacklist WHERE number = ANY($2::text[]) AND campaign_id IS NOT DISTINCT "
         "FROM (SELECT id FROM campaigns WHERE name = nullif($1, ''))",
         0, 2},
        {"INSERT INTO audit_log (actor_id, action, subject, detail) SELECT $4::bigint, "
         "'blacklist.remove', x, jsonb_build_object('campaign', nullif($1::text, ''), 'reason', "
         "$3::text) FROM unnest($2::text[]) x",
         0, 4},
        {"UPDATE addresses a SET state = 'waiting' FROM contacts c WHERE c.id = a.contact_id AND "
         "a.state = 'blocked' AND a.number = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM "
         "blacklist b WHERE b.number = a.number AND (b.campaign_id IS NULL OR b.campaign_id = "
         "c.campaign_id))",
         1, 1},
    };
    return send_stmts(pg, st, 3, p, cb, arg);
}

int store_blacklist_page(struct cr_pg *pg, const char *campaign, const char *number, unsigned limit,
                         unsigned offset, cr_pg_cb cb, void *arg)
{
    char lim[16], off[16];
    snprintf(lim, sizeof lim, "%u", limit);
    snprintf(off, sizeof off, "%u", offset);
    const char *p[] = {campaign, number, lim, off};
    /* $1 campaign ('' global), $2 number ('' all), $3 limit, $4 offset */
#define BLACKLIST_WHERE                                                                            \
    "b.campaign_id IS NOT DISTINCT FROM (SELECT id FROM campaigns WHERE name = nullif($1, '')) "   \
    "AND ($1 = '' OR EXISTS (SELECT 1 FROM campaigns WHERE name = $1)) AND ($2 = '' OR b.number "  \
    "= $2)"
    static const struct stmt st[] = {
        {"SELECT b.number, b.reason, coalesce(u.login, ''), " UTC_TIME(
             "b.added_at") " FROM blacklist b LEFT JOIN users u ON u.id = b.added_by "
                           "WHERE " BLACKLIST_WHERE
                           " ORDER BY b.number LIMIT $3::int OFFSET $4::int",
         0, 4},
        {"SELECT count(*) FROM blacklist b WHERE " BLACKLIST_WHERE, 0, 2},
    };
#undef BLACKLIST_WHERE
    return send_stmts(pg, st, 2, p, cb, arg);
}

/* --- bulk operations ---------------------------------------------------------------------- */

int store_contacts_update(struct cr_pg *pg, const char *campaign, const char *ids_array,
                          const struct cr_filter_sql *filter, enum store_contact_action action,
                          const char *list, const char *agent, cr_pg_cb cb, void *arg)
{
    const char *change;
    switch (action) {
    case STORE_CONTACT_RESET:
        change = "UPDATE contacts c SET state = 'waiting', next_try = NULL, attempts = 0, "
                 "manual_reschedules = 0, updated_at = now() FROM target t WHERE c.id = t.id";
        break;
    case STORE_CONTACT_RELOAD:
        change = "UPDATE contacts c SET state = 'waiting', next_try = NULL, updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    case STORE_CONTACT_SHELVE:
        change = "UPDATE contacts c SET state = 'shelved', updated_at = now() FROM target t "
                 "WHERE c.id = t.id";
        break;
    case STORE_CONTACT_MOVE:
        change = "UPDATE contacts c SET list_id = (SELECT id FROM lst), updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    case STORE_CONTACT_ASSIGN:
        change = "UPDATE contacts c SET agent_id = (SELECT id FROM agt), updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    default:
        change = "DELETE FROM contacts c USING target t WHERE c.id = t.id";
    }
    struct cr_strbuf sql;
    cr_strbuf_init(&sql, STORE_CONTACTS_SQL_MAX);
    /* One statement: the selection, the list a move needs, the agent an assignment needs, the
     * change, and the counts. */
    cr_strbuf_printf(&sql,
                     "WITH camp AS (SELECT id FROM campaigns WHERE name = $1), "
                     "sel AS (SELECT c.id, c.state FROM contacts c, camp WHERE c.campaign_id = "
                     "camp.id AND (cardinality($2::bigint[]) = 0 OR c.id = ANY($2::bigint[])) AND "
                     "%s), target AS (SELECT id FROM sel WHERE state <> 'running'), "
                     "lst AS (INSERT INTO lists AS l (campaign_id, name) SELECT camp.id, $3 FROM "
                     "camp WHERE $3 <> '' ON CONFLICT (campaign_id, name) DO UPDATE SET name = "
                     "EXCLUDED.name RETURNING l.id), "
                     "agt AS (SELECT u.id FROM users u WHERE u.login = $4 AND u.role = 'agent'), "
                     "done AS (%s RETURNING c.id) "
                     "SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM sel WHERE state = "
                     "'running')",
                     filter && filter->where ? filter->where : "true", change);
    int rc = sql.err;
    if (!rc) {
        const char *params[CR_FILTER_MAX_PARAMS + 4] = {campaign, ids_array, list, agent};
        int np = 4;
        for (int i = 0; filter && i < filter->nparams; i++)
            params[np++] = filter->params[i];
        rc = cr_pg_query(pg, cr_strbuf_text(&sql), np, params, cb, arg);
    }
    cr_strbuf_free(&sql);
    return rc;
}

int store_agent_by_login(struct cr_pg *pg, const char *login, cr_pg_cb cb, void *arg)
{
    const char *p[] = {login};
    return cr_pg_query(pg, "SELECT id FROM users WHERE login = $1 AND role = 'agent'", 1, p, cb,
                       arg);
}

/* --- lists -------------------------------------------------------------------------------- */

int store_list_set(struct cr_pg *pg, const char *campaign, const char *list, const char *state,
                   const char *caller_id, cr_pg_cb cb, void *arg)
{
    const char *p[] = {campaign, list, state, caller_id};
    /* $1 campaign, $2 list, $3 state or '', $4 caller id or '' ('-' clears) */
#define LIST_ID                                                                                    \
    "(SELECT l.id FROM lists l JOIN campaigns c ON c.id = l.campaign_id WHERE c.name = $1 AND "    \
    "l.name = $2)"
    static const struct stmt st[] = {
        {"SELECT EXISTS " LIST_ID " AND $3 = $3 AND $4 = $4", 0, 4},
        {"UPDATE lists SET state = CASE WHEN $3 = '' THEN state ELSE $3 END, caller_id = CASE "
         "WHEN $4 = '' THEN caller_id WHEN $4 = '-' THEN '' ELSE $4 END WHERE id = " LIST_ID,
         0, 4},
        {"UPDATE contacts SET state = CASE $3 WHEN 'stopped' THEN 'list_stopped' WHEN "
         "'suspended' THEN 'list_suspended' ELSE 'waiting' END, updated_at = now() WHERE "
         "list_id = " LIST_ID " AND $3 <> '' AND $4 = $4 AND ((state = 'waiting' AND $3 <> "
         "'active') OR (state IN ('list_stopped', 'list_suspended') AND state <> CASE $3 WHEN "
         "'stopped' THEN 'list_stopped' WHEN 'suspended' THEN 'list_suspended' ELSE '' END))",
         0, 4},
    };
#undef LIST_ID
    return send_stmts(pg, st, 3, p, cb, arg);
}

int store_lists(struct cr_pg *pg, const char *campaign, cr_pg_cb cb, void *arg)
{
    const char *p[] = {campaign};
    return cr_pg_query(pg,
                       "SELECT l.name, l.state, l.caller_id, count(c.id), count(c.id) FILTER "
                       "(WHERE c.state = 'waiting'), count(c.id) FILTER (WHERE c.state = 'done'), "
                       "to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                       "FROM lists l JOIN campaigns "
                       "k ON k.id = l.campaign_id LEFT JOIN contacts c ON c.list_id = l.id WHERE "
                       "k.name = $1 GROUP BY l.id ORDER BY l.created_at, l.name",
                       1, p, cb, arg);
}

/* --- modify ------------------------------------------------------------------------------- */

int store_contact_modify(struct cr_pg *pg, const char *campaign, int64_t id,
                         const struct store_modify *changes, size_t n, cr_pg_cb cb, void *arg)
{
    /* SET clauses from the fixed lists; every value is a parameter ($3 onwards). Names are
     * unique, so there are at most n values + 2 arrays + the agent + 2 parameters. */
    struct cr_strbuf set, sql;
    cr_strbuf_init(&set, STORE_CONTACTS_SQL_MAX);
    cr_strbuf_init(&sql, STORE_CONTACTS_SQL_MAX);
    cr_strbuf_str(&set, "updated_at = now()");
    const char **params = calloc(n + 5, sizeof *params);
    char **keys = calloc(n + 1, sizeof *keys);
    char **vals = calloc(n + 1, sizeof *vals);
    char *ak = NULL, *av = NULL;
    char idt[24];
    int rc = -ENOMEM;
    if (!params || !keys || !vals)
        goto out;
    params[0] = campaign;
    params[1] = id_text(idt, id);
    int np = 2;
    size_t nk = 0;
    const char *agent = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct store_modify *m = &changes[i];
        int pn = np + 1;
        switch (m->kind) {
        case STORE_MODIFY_TEXT:
            for (size_t k = 0; k < STORE_CONTACT_NTEXT; k++)
                if (!strcmp(m->name, store_contact_text_columns[k]))
                    cr_strbuf_printf(&set, ", %s = $%d", store_contact_text_columns[k], pn);
            break;
        case STORE_MODIFY_PRIORITY:
            cr_strbuf_printf(&set, ", priority = $%d::smallint", pn);
            break;
        case STORE_MODIFY_BOOL:
            cr_strbuf_printf(&set, ", %s = $%d::boolean",
                             !strcmp(m->name, "consent") ? "consent" : "top_priority", pn);
            break;
        case STORE_MODIFY_NEXT_TRY:
            cr_strbuf_printf(&set,
                             ", next_try = CASE WHEN $%d = '' THEN NULL ELSE ($%d::timestamp "
                             "AT TIME ZONE c.time_zone) END",
                             pn, pn);
            break;
        case STORE_MODIFY_TIME_ZONE:
            cr_strbuf_printf(&set,
                             ", time_zone = (SELECT CASE WHEN now() AT TIME ZONE $%d IS NOT "
                             "NULL THEN $%d END)",
                             pn, pn);
            break;
        case STORE_MODIFY_AGENT:
            agent = m->value;
            cr_strbuf_printf(&set,
                             ", agent_id = (SELECT id FROM users WHERE login = nullif($%d, "
                             "'') AND role = 'agent')",
                             pn);
            break;
        case STORE_MODIFY_FIELD:
            keys[nk] = (char *)m->name;
            vals[nk++] = (char *)m->value;
            continue;
        }
        params[np++] = m->value;
    }
    if (nk) {
        ak = store_text_array(keys, nk);
        av = store_text_array(vals, nk);
        if (!ak || !av)
            goto out;
        cr_strbuf_printf(&set, ", fields = c.fields || jsonb_object($%d::text[], $%d::text[])",
                         np + 1, np + 2);
        params[np++] = ak;
        params[np++] = av;
    }
    char agent_param[16] = "''";
    if (agent) {
        params[np++] = agent;
        snprintf(agent_param, sizeof agent_param, "$%d", np);
    }
    cr_strbuf_printf(&sql,
                     "WITH target AS (SELECT c.id, c.state FROM contacts c JOIN campaigns k ON "
                     "k.id = c.campaign_id WHERE k.name = $1 AND c.id = $2::bigint), "
                     "agent_ok AS (SELECT %s = '' OR EXISTS (SELECT 1 FROM users WHERE login = %s "
                     "AND role = 'agent') AS ok), "
                     "upd AS (UPDATE contacts c SET %s FROM target t, agent_ok g WHERE c.id = "
                     "t.id AND t.state <> 'running' AND g.ok RETURNING c.id) "
                     "SELECT t.state <> 'running', (SELECT ok FROM agent_ok) FROM target t",
                     agent_param, agent_param, cr_strbuf_text(&set));
    rc = set.err ? set.err : sql.err;
    if (!rc)
        rc = cr_pg_query(pg, cr_strbuf_text(&sql), np, params, cb, arg);
out:
    cr_strbuf_free(&set);
    cr_strbuf_free(&sql);
    free(ak);
    free(av);
    free(params);
    free(keys);
    free(vals);
    return rc;
}
