/* Contact requests: manual creation (numbers normalised to E.164, time zone from the number,
 * blacklisted numbers blocked), listing with the filter language, and blacklists. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "api/server.h"
#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "carillon/phone.h"
#include "carillon/strbuf.h"
#include "contacts/filter.h"
#include "store/campaign_store.h"

#define MAX_PHONES 8
#define MAX_VALUES 200

/* Standard text columns a contact may be given directly. */
static const char *const text_columns[] = {"last_name", "first_name", "civility", "company",
                                           "address",   "zip",        "city",     "country",
                                           "email",     "customer_id"};
#define NTEXT (sizeof text_columns / sizeof text_columns[0])

/* A contact request's working state; owns req (and through it the envelope). */
struct kreq {
    struct request *req;
    struct client *c;            /* req's */
    uint64_t rid;                /* req's */
    Carillon__V1__Envelope *env; /* req's */
    void (*next)(struct kreq *r);
    /* create */
    struct cr_phone phones[MAX_PHONES];
    char phone_types[MAX_PHONES][8];
    int nphones;
    /* the campaign's declared fields */
    struct cr_filter_field custom[200];
    size_t ncustom;
    /* blacklist */
    char **numbers;
    size_t nnumbers;
    char **invalid;
    size_t ninvalid;
    /* a saved filter named in the request */
    char saved_name[72];
    char *saved_expr;
    void (*after_saved)(struct kreq *r);
    /* list */
    struct cr_filter_sql filter;
    char **columns;
    size_t ncolumns;
};

static struct kreq *kreq_new(struct request *req)
{
    struct kreq *r = calloc(1, sizeof *r);
    if (!r) {
        request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return NULL;
    }
    r->req = req;
    r->c = req->c;
    r->rid = req->id;
    r->env = req->env;
    return r;
}

static void kreq_free(struct kreq *r)
{
    for (size_t i = 0; i < r->ncustom; i++)
        free((char *)r->custom[i].name);
    cr_filter_sql_free(&r->filter);
    free(r->saved_expr);
    for (size_t i = 0; i < r->nnumbers; i++)
        free(r->numbers[i]);
    free(r->numbers);
    for (size_t i = 0; i < r->ninvalid; i++)
        free(r->invalid[i]);
    free(r->invalid);
    for (size_t i = 0; i < r->ncolumns; i++)
        free(r->columns[i]);
    free(r->columns);
    request_free(r->req);
    free(r);
}

static void kfail(struct kreq *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void kfail(struct kreq *r, int code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    client_error(r->c, r->rid, code, field, "%s", msg);
    kreq_free(r);
}

static void db_failed(struct kreq *r, const struct cr_pg_result *res)
{
    if (res && res->status == -EIO)
        cr_log_error("store_error", "op=contacts sqlstate=%s message=%s",
                     res->sqlstate ? res->sqlstate : "-", cr_log_q(res->message));
    kfail(r, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
          "the database is unavailable or refused the change, try again");
}

/* --- the campaign's fields --------------------------------------------------- */

static void on_fields(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *pr = res->res[0];
    for (int i = 0; i < PQntuples(pr) && r->ncustom < 200; i++) {
        const char *t = PQgetvalue(pr, i, 1);
        struct cr_filter_field *f = &r->custom[r->ncustom++];
        f->name = strdup(PQgetvalue(pr, i, 0));
        f->type = !strcmp(t, "number") ? CR_FT_NUMBER
                  : !strcmp(t, "date") ? CR_FT_TIMESTAMP
                                       : CR_FT_TEXT;
        f->sql = NULL;
    }
    r->next(r);
}

static void load_fields(struct kreq *r)
{
    const char *campaign =
        r->env->body_case == CARILLON__V1__ENVELOPE__BODY_CONTACT_CREATE
            ? r->env->contact_create->campaign
        : r->env->body_case == CARILLON__V1__ENVELOPE__BODY_CONTACT_UPDATE
            ? r->env->contact_update->campaign
        : r->env->body_case == CARILLON__V1__ENVELOPE__BODY_LIST_SET  ? r->env->list_set->campaign
        : r->env->body_case == CARILLON__V1__ENVELOPE__BODY_LISTS_GET ? r->env->lists_get->campaign
        : r->env->body_case == CARILLON__V1__ENVELOPE__BODY_CONTACT_MODIFY
            ? r->env->contact_modify->campaign
            : r->env->contact_list->campaign;
    const char *p[] = {campaign};
    if (cr_pg_query(r->c->srv->pg,
                    "SELECT f.name, f.type FROM campaign_fields f JOIN campaigns c ON c.id = "
                    "f.campaign_id WHERE c.name = $1 ORDER BY f.position",
                    1, p, on_fields, r) != 0)
        db_failed(r, NULL);
}

/* The campaign's declared fields, then next (rights were checked at the route). */
static void with_fields(struct kreq *r, void (*next)(struct kreq *))
{
    r->next = next;
    load_fields(r);
}

/* A declared field's value holds what its type says, so filters can compare them. Sets *known
 * when name is a declared field; true when refused (answered, r freed). */
static bool custom_field_refused(struct kreq *r, const char *name, const char *v, bool *known)
{
    for (size_t k = 0; k < r->ncustom; k++) {
        if (strcmp(name, r->custom[k].name))
            continue;
        *known = true;
        char *end = NULL;
        int y, mo, d;
        char extra;
        if (r->custom[k].type == CR_FT_NUMBER && v[0] && (strtod(v, &end), *end)) {
            kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                  "'%s' is a number field: '%s' is not a number", name, v);
            return true;
        }
        if (r->custom[k].type == CR_FT_TIMESTAMP && v[0] &&
            (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) != 3)) {
            kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                  "'%s' is a date field: '%s' is not YYYY-MM-DD", name, v);
            return true;
        }
        return false;
    }
    return false;
}

/* The first field name given twice in values, or NULL. */
static const char *duplicate_name(Carillon__V1__FieldValue *const *values, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(values[i]->name, values[k]->name))
                return values[i]->name;
    return NULL;
}

/* --- create ----------------------------------------------------------------------------- */

static char *array_of(char *const *items, size_t n)
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

static void on_created(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status) {
        if (res->sqlstate && !strcmp(res->sqlstate, "22007"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "next_try",
                         "next_try must look like 'YYYY-MM-DD HH:MM'");
        return db_failed(r, res);
    }
    const PGresult *pr = res->res[0];
    int n = PQntuples(pr);
    if (n == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "campaign", "no such campaign");
    Carillon__V1__ContactCreated out = CARILLON__V1__CONTACT_CREATED__INIT;
    Carillon__V1__AddressInfo infos[MAX_PHONES], *ptrs[MAX_PHONES];
    out.id = strtoll(PQgetvalue(pr, 0, 0), NULL, 10);
    out.time_zone = PQgetvalue(pr, 0, 1);
    for (int i = 0; i < n && i < MAX_PHONES; i++) {
        carillon__v1__address_info__init(&infos[i]);
        infos[i].number = PQgetvalue(pr, i, 2);
        infos[i].type = PQgetvalue(pr, i, 3);
        infos[i].state = PQgetvalue(pr, i, 4);
        ptrs[i] = &infos[i];
    }
    out.n_addresses = (size_t)(n < MAX_PHONES ? n : MAX_PHONES);
    out.addresses = ptrs;
    cr_log_info("contact_created", "by=%s contact=%lld campaign=%s", cr_log_q(r->c->user.login),
                (long long)out.id, cr_log_q(r->env->contact_create->campaign));
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_CREATED;
    env.contact_created = &out;
    client_reply(r->c, r->rid, &env);
    kreq_free(r);
}

static void create_allowed(struct kreq *r)
{
    const Carillon__V1__ContactCreate *in = r->env->contact_create;
    for (size_t i = 0; i < in->n_values; i++) {
        const char *name = in->values[i]->name;
        bool known = false;
        for (size_t k = 0; k < NTEXT && !known; k++)
            known = !strcmp(name, text_columns[k]);
        if (!known && custom_field_refused(r, name, in->values[i]->value, &known))
            return;
        if (!known)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                         "'%s' is not a field of this campaign (standard fields, or those the "
                         "campaign declares)",
                         name);
    }
    const char *cols[NTEXT] = {0};
    char *keys[MAX_VALUES], *vals[MAX_VALUES];
    size_t nk = 0;
    for (size_t i = 0; i < in->n_values; i++) {
        const char *name = in->values[i]->name;
        bool std = false;
        for (size_t k = 0; k < NTEXT; k++)
            if (!strcmp(name, text_columns[k])) {
                cols[k] = in->values[i]->value;
                std = true;
            }
        if (!std && nk < MAX_VALUES) {
            keys[nk] = in->values[i]->name;
            vals[nk++] = in->values[i]->value;
        }
    }
    char *numbers[MAX_PHONES], *types[MAX_PHONES];
    for (int i = 0; i < r->nphones; i++) {
        numbers[i] = r->phones[i].e164;
        types[i] = r->phone_types[i];
    }
    char prio[16];
    snprintf(prio, sizeof prio, "%d", in->priority);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->c->user.id);
    char *a_numbers = array_of(numbers, (size_t)r->nphones);
    char *a_types = array_of(types, (size_t)r->nphones);
    char *a_keys = array_of(keys, nk);
    char *a_vals = array_of(vals, nk);
    const char *tz = NULL;
    for (int i = 0; i < r->nphones && !tz; i++)
        tz = r->phones[i].time_zone;
    const char *p[] = {in->campaign,
                       in->list[0] ? in->list : "default",
                       uid,
                       prio,
                       in->top_priority ? "t" : "f",
                       in->agent,
                       tz ? tz : "",
                       in->next_try,
                       in->no_consent ? "f" : "t",
                       a_keys,
                       a_vals,
                       a_numbers,
                       a_types,
                       in->country[0] ? in->country : "FR",
                       cols[0] ? cols[0] : "",
                       cols[1] ? cols[1] : "",
                       cols[2] ? cols[2] : "",
                       cols[3] ? cols[3] : "",
                       cols[4] ? cols[4] : "",
                       cols[5] ? cols[5] : "",
                       cols[6] ? cols[6] : "",
                       cols[7] ? cols[7] : "",
                       cols[8] ? cols[8] : "",
                       cols[9] ? cols[9] : ""};
    int rc = -ENOMEM;
    if (a_numbers && a_types && a_keys && a_vals)
        rc = cr_pg_query(
            r->c->srv->pg,
            "WITH camp AS (SELECT id, time_zone FROM campaigns WHERE name = $1), "
            "l AS (INSERT INTO lists AS l (campaign_id, name, created_by, default_country) "
            "SELECT camp.id, $2, $3::bigint, $14 FROM camp ON CONFLICT (campaign_id, name) DO "
            "UPDATE SET name = EXCLUDED.name RETURNING l.id, l.campaign_id), "
            "ct AS (INSERT INTO contacts (campaign_id, list_id, priority, top_priority, "
            "agent_id, time_zone, next_try, consent, fields, last_name, first_name, civility, "
            "company, address, zip, city, country, email, customer_id) SELECT l.campaign_id, "
            "l.id, $4::smallint, $5::bool, (SELECT id FROM users WHERE login = nullif($6, '')), "
            "coalesce(nullif($7, ''), camp.time_zone), CASE WHEN $8 = '' THEN NULL ELSE "
            "($8::timestamp AT TIME ZONE coalesce(nullif($7, ''), camp.time_zone)) END, "
            "$9::bool, jsonb_object($10::text[], $11::text[]), $15, $16, $17, $18, $19, $20, "
            "$21, $22, $23, $24 FROM l, camp RETURNING id, time_zone, campaign_id) "
            "INSERT INTO addresses (contact_id, position, number, type, state) SELECT ct.id, "
            "t.ord, t.n, t.ty, CASE WHEN EXISTS (SELECT 1 FROM blacklist b WHERE b.number = "
            "t.n AND (b.campaign_id IS NULL OR b.campaign_id = ct.campaign_id)) THEN 'blocked' "
            "WHEN t.ord = 1 THEN 'scheduled' ELSE 'waiting' END FROM ct, unnest($12::text[], "
            "$13::text[]) WITH ORDINALITY AS t(n, ty, ord) RETURNING contact_id, "
            "(SELECT time_zone FROM ct), number, type, state",
            24, p, on_created, r);
    free(a_numbers);
    free(a_types);
    free(a_keys);
    free(a_vals);
    if (rc)
        db_failed(r, NULL);
}

void contacts_handle_create(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__ContactCreate *in = env->contact_create;
    if (!in->campaign[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "campaign",
                     "campaign is required");
    if (in->n_phones == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "phones",
                     "a contact needs at least one phone number");
    if (in->n_phones > MAX_PHONES || in->n_values > MAX_VALUES)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "phones",
                     "at most %d numbers and %d fields", MAX_PHONES, MAX_VALUES);
    if (in->country[0] && !cr_phone_country_known(in->country))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "country",
                     "unknown country '%s'", in->country);
    if (in->priority < -32768 || in->priority > 32767)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "priority",
                     "priority is between -32768 and 32767");
    for (size_t i = 0; i < in->n_phones; i++) {
        const char *why;
        char f[32];
        snprintf(f, sizeof f, "phones[%zu]", i);
        if (cr_phone_normalize(in->phones[i]->number, in->country[0] ? in->country : "FR",
                               &r->phones[r->nphones], &why) != 0)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, f, "'%s': %s",
                         in->phones[i]->number, why);
        const char *t = in->phones[i]->type;
        if (t[0] && strcmp(t, "mobile") && strcmp(t, "home") && strcmp(t, "work") &&
            strcmp(t, "other"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, f,
                         "type '%s' is not mobile, home, work or other", t);
        snprintf(r->phone_types[r->nphones], sizeof r->phone_types[0], "%s",
                 t[0]                                            ? t
                 : r->phones[r->nphones].type == CR_PHONE_MOBILE ? "mobile"
                 : r->phones[r->nphones].type == CR_PHONE_FIXED  ? "home"
                                                                 : "other");
        bool dup = false;
        for (int k = 0; k < r->nphones; k++)
            dup = dup || !strcmp(r->phones[k].e164, r->phones[r->nphones].e164);
        if (!dup)
            r->nphones++;
    }
    /* Field names: standard columns or the campaign's declared fields (checked in SQL by the
     * declared list would need a round trip; the declared names come with the campaign). */
    for (size_t i = 0; i < in->n_values; i++) {
        const char *v = in->values[i]->value;
        if (strlen(v) > 4096)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, in->values[i]->name,
                         "value longer than 4096 bytes");
    }
    with_fields(r, create_allowed);
}

/* --- list ------------------------------------------------------------------------------- */

static const char *const default_columns[] = {"id",         "state", "last_name",
                                              "first_name", "phone", "next_try"};

static void on_listed(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *rows = res->res[0], *count = res->res[1];
    int n = PQntuples(rows);
    Carillon__V1__ContactListReply out = CARILLON__V1__CONTACT_LIST_REPLY__INIT;
    out.columns = r->columns;
    out.n_columns = r->ncolumns;
    out.total = strtoull(PQgetvalue(count, 0, 0), NULL, 10);
    Carillon__V1__ContactRow *rowv = calloc(n ? (size_t)n : 1, sizeof *rowv);
    Carillon__V1__ContactRow **rowp = calloc(n ? (size_t)n : 1, sizeof *rowp);
    char **vals = calloc((size_t)(n ? n : 1) * r->ncolumns + 1, sizeof *vals);
    if (!rowv || !rowp || !vals) {
        free(rowv);
        free(rowp);
        free(vals);
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__contact_row__init(&rowv[i]);
        rowv[i].values = vals + (size_t)i * r->ncolumns;
        rowv[i].n_values = r->ncolumns;
        for (size_t k = 0; k < r->ncolumns; k++)
            rowv[i].values[k] = PQgetvalue(rows, i, (int)k);
        rowp[i] = &rowv[i];
    }
    out.rows = rowp;
    out.n_rows = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST_REPLY;
    env.contact_list_reply = &out;
    client_reply(r->c, r->rid, &env);
    free(rowv);
    free(rowp);
    free(vals);
    kreq_free(r);
}

/* Appends the SQL of one column (as text) to sql. */
static bool column_sql(struct kreq *r, const char *name, char *sql, size_t len)
{
    if (!strcmp(name, "phone")) {
        snprintf(sql, len,
                 "coalesce((SELECT string_agg(a.number || CASE WHEN a.state = "
                 "'blocked' THEN ' (blocked)' ELSE '' END, ' ' ORDER BY a.position) "
                 "FROM addresses a WHERE a.contact_id = c.id), '')");
        return true;
    }
    for (size_t i = 0; i < cr_filter_standard_nfields; i++) {
        const struct cr_filter_field *f = &cr_filter_standard_fields[i];
        if (f->sql && !strcmp(f->name, name)) {
            if (f->type == CR_FT_TIMESTAMP)
                snprintf(sql, len,
                         "coalesce(to_char(%s AT TIME ZONE c.time_zone, 'YYYY-MM-DD HH24:MI'), "
                         "'')",
                         f->sql);
            else
                snprintf(sql, len, "coalesce((%s)::text, '')", f->sql);
            return true;
        }
    }
    for (size_t i = 0; i < r->ncustom; i++) {
        if (!strcmp(r->custom[i].name, name)) {
            snprintf(sql, len, "coalesce(c.fields->>'%s', '')", r->custom[i].name);
            return true;
        }
    }
    return false;
}

/* Every column, for exports: the contact's state and history, then its fields. */
static const char *const export_columns[] = {
    "id",          "list",     "state",    "last_name",
    "first_name",  "civility", "company",  "address",
    "zip",         "city",     "country",  "email",
    "customer_id", "phone",    "attempts", "last_qualification",
    "next_try",    "priority", "consent",  "last_update"};
#define NEXPORT (sizeof export_columns / sizeof export_columns[0])

/* "@name" in a filter field means the user's saved filter of that name. */
static void on_saved(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    if (PQntuples(res->res[0]) == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "filter",
                     "you have no saved filter named '%s'", r->saved_name);
    free(r->saved_expr);
    r->saved_expr = strdup(PQgetvalue(res->res[0], 0, 0));
    r->after_saved(r);
}

/* Runs next once r->saved_expr holds the expression to compile (NULL: the request's own). */
static void with_saved_filter(struct kreq *r, const char *filter, void (*next)(struct kreq *))
{
    if (filter[0] != '@') {
        next(r);
        return;
    }
    snprintf(r->saved_name, sizeof r->saved_name, "%s", filter + 1);
    r->after_saved = next;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->c->user.id);
    const char *p[] = {uid, r->saved_name};
    if (cr_pg_query(r->c->srv->pg,
                    "SELECT expression FROM saved_filters WHERE user_id = $1::bigint AND name = $2",
                    2, p, on_saved, r) != 0)
        db_failed(r, NULL);
}

static void list_compiled(struct kreq *r);

static void list_allowed(struct kreq *r)
{
    with_saved_filter(r, r->env->contact_list->filter, list_compiled);
}

static void list_compiled(struct kreq *r)
{
    const Carillon__V1__ContactList *in = r->env->contact_list;
    bool all = in->export && !in->n_columns;
    size_t n = in->n_columns ? in->n_columns
               : all         ? NEXPORT + r->ncustom
                             : sizeof default_columns / sizeof default_columns[0];
    if (n > 250)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                     "at most 250 columns");
    r->columns = calloc(n, sizeof *r->columns);
    if (!r->columns)
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    char *select = calloc(1, 250 * 600);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = in->n_columns ? in->columns[i]
                           : all ? (i < NEXPORT ? export_columns[i] : r->custom[i - NEXPORT].name)
                                 : default_columns[i];
        char col[560];
        if (!column_sql(r, name, col, sizeof col)) {
            free(select);
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                         "unknown column '%s'", name);
        }
        r->columns[r->ncolumns++] = strdup(name);
        o += (size_t)snprintf(select + o, 250 * 600 - o, "%s%s", i ? ", " : "", col);
    }
    char err[300];
    const char *expr = r->saved_expr ? r->saved_expr : in->filter;
    if (expr[0] && cr_filter_compile(expr, r->custom, r->ncustom, 2, &r->filter, err, sizeof err)) {
        free(select);
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter", "%s", err);
    }
    unsigned limit = in->limit ? in->limit : 100;
    if (limit > 1000)
        limit = 1000;
    /* Without the export right a listing is a look, not an export: one page of at most
     * REQUEST_VIEW_PAGE_MAX rows, inside the campaign's first REQUEST_VIEW_ROWS_MAX contacts
     * (by id, filters apply within them), so paging or filtering cannot read the whole file. */
    bool exporter = request_holds(r->req, RIGHT_EXPORT);
    const char *window = "true";
    if (!exporter) {
        if (in->offset >= REQUEST_VIEW_ROWS_MAX)
            return kfail(r, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "offset",
                         "without the export right a listing stops at the campaign's first %d "
                         "contacts",
                         REQUEST_VIEW_ROWS_MAX);
        if (limit > REQUEST_VIEW_PAGE_MAX)
            limit = REQUEST_VIEW_PAGE_MAX;
        if (in->offset + limit > REQUEST_VIEW_ROWS_MAX)
            limit = REQUEST_VIEW_ROWS_MAX - in->offset;
        window = "c.id IN (SELECT w.id FROM contacts w WHERE w.campaign_id = c.campaign_id "
                 "ORDER BY w.id LIMIT " CR_STR(REQUEST_VIEW_ROWS_MAX) ")";
    }
    char *sql = NULL, *count = NULL;
    const char *where = r->filter.where ? r->filter.where : "true";
    int rc = -ENOMEM;
    if (asprintf(&sql,
                 "SELECT %s FROM contacts c WHERE c.campaign_id = (SELECT id FROM campaigns "
                 "WHERE name = $1) AND %s AND %s ORDER BY c.id LIMIT %u OFFSET %u",
                 select, window, where, limit, in->offset) > 0 &&
        asprintf(&count,
                 "SELECT count(*) FROM contacts c WHERE c.campaign_id = (SELECT id FROM "
                 "campaigns WHERE name = $1) AND %s AND %s",
                 window, where) > 0) {
        const char *params[CR_FILTER_MAX_PARAMS + 1];
        params[0] = in->campaign;
        for (int i = 0; i < r->filter.nparams; i++)
            params[i + 1] = r->filter.params[i];
        struct cr_pg_batch *b = cr_pg_batch_new(r->c->srv->pg);
        rc = b ? cr_pg_batch_add(b, sql, 1 + r->filter.nparams, params) : -ENOMEM;
        if (!rc)
            rc = cr_pg_batch_add(b, count, 1 + r->filter.nparams, params);
        if (!rc)
            rc = cr_pg_batch_send(b, on_listed, r);
        else if (b)
            cr_pg_batch_discard(b);
    }
    free(sql);
    free(count);
    free(select);
    if (rc)
        db_failed(r, NULL);
}

void contacts_handle_list(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    if (!env->contact_list->campaign[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "campaign",
                     "campaign is required");
    with_fields(r, list_allowed);
}

/* --- blacklist -------------------------------------------------------------------------- */

static void on_blacklisted(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    Carillon__V1__BlacklistReply out = CARILLON__V1__BLACKLIST_REPLY__INIT;
    if (r->env->blacklist_add->remove) {
        out.removed = (uint32_t)atoi(PQcmdTuples(res->res[0]));
        out.addresses_unblocked = (uint32_t)atoi(PQcmdTuples(res->res[2]));
    } else {
        out.added = (uint32_t)atoi(PQcmdTuples(res->res[0]));
        out.addresses_blocked = (uint32_t)atoi(PQcmdTuples(res->res[1]));
        out.already = (uint32_t)(r->nnumbers - out.added);
    }
    out.invalid = r->invalid;
    out.n_invalid = r->ninvalid;
    const Carillon__V1__BlacklistAdd *in = r->env->blacklist_add;
    cr_log_info(in->remove ? "blacklist_remove" : "blacklist_add",
                "by=%s campaign=%s added=%u blocked=%u", cr_log_q(r->c->user.login),
                in->campaign[0] ? cr_log_q(in->campaign) : "global", out.added,
                out.addresses_blocked);
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_BLACKLIST_REPLY;
    env.blacklist_reply = &out;
    client_reply(r->c, r->rid, &env);
    kreq_free(r);
}

static void blacklist_allowed(struct kreq *r)
{
    const Carillon__V1__BlacklistAdd *in = r->env->blacklist_add;
    char *arr = array_of(r->numbers, r->nnumbers);
    const char *p[] = {in->campaign, arr ? arr : "{}", in->reason, (char[24]){0}};
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->c->user.id);
    p[3] = uid;
    struct cr_pg_batch *b = arr ? cr_pg_batch_new(r->c->srv->pg) : NULL;
    int rc = b ? 0 : -ENOMEM;
    if (!rc && in->remove) {
        /* Removal: each number leaves an audit row with who, when and why; numbers no list
         * blocks any more are dialable again (waiting; the engine schedules them). */
        rc = cr_pg_batch_add(b,
                             "DELETE FROM blacklist WHERE number = ANY($2::text[]) AND "
                             "campaign_id IS NOT DISTINCT FROM (SELECT id FROM campaigns WHERE "
                             "name = nullif($1, ''))",
                             2, p);
        if (!rc)
            rc = cr_pg_batch_add(b,
                                 "INSERT INTO audit_log (actor_id, action, subject, detail) "
                                 "SELECT $4::bigint, 'blacklist.remove', x, jsonb_build_object("
                                 "'campaign', nullif($1::text, ''), 'reason', $3::text) FROM "
                                 "unnest($2::text[]) x",
                                 4, p);
        if (!rc)
            rc = cr_pg_batch_add(b,
                                 "UPDATE addresses a SET state = 'waiting' FROM contacts c "
                                 "WHERE c.id = a.contact_id AND a.state = 'blocked' AND a.number "
                                 "= ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM blacklist b "
                                 "WHERE b.number = a.number AND (b.campaign_id IS NULL OR "
                                 "b.campaign_id = c.campaign_id))",
                                 1, p + 1);
        if (!rc)
            rc = cr_pg_batch_send(b, on_blacklisted, r);
        else
            cr_pg_batch_discard(b);
        free(arr);
        if (rc)
            db_failed(r, NULL);
        return;
    }
    /* Campaign blacklists name their campaign; the global one has none. */
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO blacklist (campaign_id, number, reason, added_by) "
                             "SELECT (SELECT id FROM campaigns WHERE name = nullif($1, '')), x, "
                             "$3, $4::bigint FROM unnest($2::text[]) x ON CONFLICT DO NOTHING",
                             4, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "UPDATE addresses a SET state = 'blocked' FROM contacts c WHERE "
                             "c.id = a.contact_id AND a.number = ANY($2::text[]) AND a.state <> "
                             "'blocked' AND ($1 = '' OR c.campaign_id = (SELECT id FROM "
                             "campaigns WHERE name = $1)) AND $3 = $3 AND $4 = $4",
                             4, p);
    if (!rc)
        rc = cr_pg_batch_send(b, on_blacklisted, r);
    else if (b)
        cr_pg_batch_discard(b);
    free(arr);
    if (rc)
        db_failed(r, NULL);
}

void contacts_handle_blacklist_add(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__BlacklistAdd *in = env->blacklist_add;
    if (in->n_numbers == 0 || in->n_numbers > 100000)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "numbers",
                     "give 1 to 100000 numbers");
    if (in->country[0] && !cr_phone_country_known(in->country))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "country",
                     "unknown country '%s'", in->country);
    r->numbers = calloc(in->n_numbers, sizeof *r->numbers);
    r->invalid = calloc(in->n_numbers, sizeof *r->invalid);
    if (!r->numbers || !r->invalid)
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    for (size_t i = 0; i < in->n_numbers; i++) {
        struct cr_phone ph;
        const char *why;
        if (cr_phone_normalize(in->numbers[i], in->country[0] ? in->country : "FR", &ph, &why)) {
            if (asprintf(&r->invalid[r->ninvalid], "%.64s: %s", in->numbers[i], why) > 0)
                r->ninvalid++;
            continue;
        }
        r->numbers[r->nnumbers++] = strdup(ph.e164);
    }
    blacklist_allowed(r);
}

/* --- operations ------------------------------------------------------------------------- */

static void on_updated(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status) {
        return db_failed(r, res);
    }
    Carillon__V1__ContactUpdateReply out = CARILLON__V1__CONTACT_UPDATE_REPLY__INIT;
    const PGresult *pr = res->res[res->nres - 1];
    out.affected = strtoull(PQgetvalue(pr, 0, 0), NULL, 10);
    out.skipped_running = strtoull(PQgetvalue(pr, 0, 1), NULL, 10);
    char w[32];
    cr_log_info("contacts_updated", "by=%s campaign=%s action=%s affected=%llu",
                cr_log_q(r->c->user.login), cr_log_q(r->env->contact_update->campaign),
                cr_pb_enum_word(&carillon__v1__contact_action__descriptor,
                                r->env->contact_update->action, w, sizeof w),
                (unsigned long long)out.affected);
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_UPDATE_REPLY;
    env.contact_update_reply = &out;
    client_reply(r->c, r->rid, &env);
    kreq_free(r);
}

static void update_compiled(struct kreq *r);

static void update_allowed(struct kreq *r)
{
    with_saved_filter(r, r->env->contact_update->filter, update_compiled);
}

static void update_compiled(struct kreq *r)
{
    const Carillon__V1__ContactUpdate *in = r->env->contact_update;
    char err[300];
    const char *expr = r->saved_expr ? r->saved_expr : in->filter;
    /* $1 campaign, $2 ids, $3 list, $4 agent, filter from $5. */
    if (expr[0] && cr_filter_compile(expr, r->custom, r->ncustom, 5, &r->filter, err, sizeof err))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter", "%s", err);
    char *ids = malloc(in->n_ids * 21 + 3), *o = ids;
    if (!ids)
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    *o++ = '{';
    for (size_t i = 0; i < in->n_ids; i++)
        o += sprintf(o, "%s%lld", i ? "," : "", (long long)in->ids[i]);
    strcpy(o, "}");
    const char *action;
    switch (in->action) {
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_RESET:
        action = "UPDATE contacts c SET state = 'waiting', next_try = NULL, attempts = 0, "
                 "manual_reschedules = 0, updated_at = now() FROM target t WHERE c.id = t.id";
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_RELOAD:
        action = "UPDATE contacts c SET state = 'waiting', next_try = NULL, updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_SHELVE:
        action = "UPDATE contacts c SET state = 'shelved', updated_at = now() FROM target t "
                 "WHERE c.id = t.id";
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_MOVE:
        action = "UPDATE contacts c SET list_id = (SELECT id FROM lst), updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_ASSIGN:
        action = "UPDATE contacts c SET agent_id = (SELECT id FROM agt), updated_at = now() "
                 "FROM target t WHERE c.id = t.id";
        break;
    default: /* delete */
        action = "DELETE FROM contacts c USING target t WHERE c.id = t.id";
    }
    char *sql = NULL;
    const char *where = r->filter.where ? r->filter.where : "true";
    int rc = -ENOMEM;
    /* One statement: the selection, the list a move needs, the agent an assignment needs (an
     * unknown agent raises P0002), the change, and the counts. */
    if (asprintf(&sql,
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
                 where, action) > 0) {
        const char *params[CR_FILTER_MAX_PARAMS + 4];
        params[0] = in->campaign;
        params[1] = ids;
        params[2] = in->list;
        params[3] = in->agent;
        for (int i = 0; i < r->filter.nparams; i++)
            params[4 + i] = r->filter.params[i];
        rc = cr_pg_query(r->c->srv->pg, sql, 4 + r->filter.nparams, params, on_updated, r);
    }
    free(sql);
    free(ids);
    if (rc)
        db_failed(r, NULL);
}

/* An assignment names an agent that exists: an unknown login is an error, not an unassign. */
static void on_agent(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    if (PQntuples(res->res[0]) == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "agent", "no agent with login '%s'",
                     r->env->contact_update->agent);
    update_allowed(r);
}

static void update_checked(struct kreq *r)
{
    const Carillon__V1__ContactUpdate *in = r->env->contact_update;
    if (in->action != CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_ASSIGN || !in->agent[0])
        return update_allowed(r);
    const char *p[] = {in->agent};
    if (cr_pg_query(r->c->srv->pg, "SELECT id FROM users WHERE login = $1 AND role = 'agent'", 1, p,
                    on_agent, r) != 0)
        db_failed(r, NULL);
}

void contacts_handle_update(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__ContactUpdate *in = env->contact_update;
    if (!in->campaign[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "campaign",
                     "campaign is required");
    if (in->action == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "action",
                     "action is required: reset, reload, shelve, move, assign or delete");
    if (!in->n_ids && !in->filter[0] && !in->all)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter",
                     "say which contacts: ids, a filter, or all");
    if (in->n_ids > 100000)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "ids", "at most 100000 ids");
    if (in->action == CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_MOVE && !in->list[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "list",
                     "move needs the target list");
    if (in->action == CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_DELETE && !in->confirm)
        return kfail(r, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "confirm",
                     "deleting contacts is irreversible: confirm it (--yes)");
    with_fields(r, update_checked);
}

/* --- lists ------------------------------------------------------------------------------ */

static void on_list_set(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    if (PQgetvalue(res->res[0], 0, 0)[0] != 't')
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "list", "no list '%s' in campaign",
                     r->env->list_set->list);
    cr_log_info("list_set", "by=%s campaign=%s list=%s state=%s", cr_log_q(r->c->user.login),
                cr_log_q(r->env->list_set->campaign), cr_log_q(r->env->list_set->list),
                r->env->list_set->state[0] ? r->env->list_set->state : "-");
    client_ok(r->c, r->rid);
    kreq_free(r);
}

static void list_set_allowed(struct kreq *r)
{
    const Carillon__V1__ListSet *in = r->env->list_set;
    const char *p[] = {in->campaign, in->list, in->state,
                       r->nphones ? r->phones[0].e164 : in->caller_id};
    struct cr_pg_batch *b = cr_pg_batch_new(r->c->srv->pg);
    int rc = b ? 0 : -ENOMEM;
    /* $1 campaign, $2 list, $3 state or '', $4 caller id or '' ('-' clears) */
#define LIST_ID                                                                                    \
    "(SELECT l.id FROM lists l JOIN campaigns c ON c.id = l.campaign_id WHERE c.name = $1 AND "    \
    "l.name = $2)"
    if (!rc)
        rc = cr_pg_batch_add(b, "SELECT EXISTS " LIST_ID " AND $3 = $3 AND $4 = $4", 4, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "UPDATE lists SET state = CASE WHEN $3 = '' THEN state ELSE $3 END, "
                             "caller_id = CASE WHEN $4 = '' THEN caller_id WHEN $4 = '-' THEN '' "
                             "ELSE $4 END WHERE id = " LIST_ID,
                             4, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "UPDATE contacts SET state = CASE $3 WHEN 'stopped' THEN "
                             "'list_stopped' WHEN 'suspended' THEN 'list_suspended' ELSE "
                             "'waiting' END, updated_at = now() WHERE list_id = " LIST_ID
                             " AND $3 <> '' AND $4 = $4 AND ((state = 'waiting' AND $3 <> "
                             "'active') OR (state IN ('list_stopped', 'list_suspended') AND "
                             "state <> CASE $3 WHEN 'stopped' THEN 'list_stopped' WHEN "
                             "'suspended' THEN 'list_suspended' ELSE '' END))",
                             4, p);
#undef LIST_ID
    if (!rc)
        rc = cr_pg_batch_send(b, on_list_set, r);
    else if (b)
        cr_pg_batch_discard(b);
    if (rc)
        db_failed(r, NULL);
}

void contacts_handle_list_set(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__ListSet *in = env->list_set;
    if (!in->campaign[0] || !in->list[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "list",
                     "campaign and list are required");
    if (in->state[0] && strcmp(in->state, "active") && strcmp(in->state, "stopped") &&
        strcmp(in->state, "suspended"))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "state",
                     "state must be active, stopped or suspended, not '%s'", in->state);
    if (in->caller_id[0] && strcmp(in->caller_id, "-")) {
        struct cr_phone ph;
        const char *why;
        if (cr_phone_normalize(in->caller_id, "FR", &ph, &why) != 0)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "caller_id",
                         "caller ID '%s': %s", in->caller_id, why);
        r->phones[0] = ph; /* stored in E.164 */
        r->nphones = 1;
    }
    if (!in->state[0] && !in->caller_id[0])
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "state",
                     "give --state and/or --caller-id");
    list_set_allowed(r);
}

static void on_lists(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *pr = res->res[0];
    int n = PQntuples(pr);
    Carillon__V1__ListInfo *v = calloc(n ? (size_t)n : 1, sizeof *v);
    Carillon__V1__ListInfo **pv = calloc(n ? (size_t)n : 1, sizeof *pv);
    if (!v || !pv) {
        free(v);
        free(pv);
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__list_info__init(&v[i]);
        v[i].name = PQgetvalue(pr, i, 0);
        v[i].state = PQgetvalue(pr, i, 1);
        v[i].caller_id = PQgetvalue(pr, i, 2);
        v[i].contacts = strtoull(PQgetvalue(pr, i, 3), NULL, 10);
        v[i].waiting = strtoull(PQgetvalue(pr, i, 4), NULL, 10);
        v[i].done = strtoull(PQgetvalue(pr, i, 5), NULL, 10);
        v[i].created_at = PQgetvalue(pr, i, 6);
        pv[i] = &v[i];
    }
    Carillon__V1__ListsReply out = CARILLON__V1__LISTS_REPLY__INIT;
    out.lists = pv;
    out.n_lists = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LISTS_REPLY;
    env.lists_reply = &out;
    client_reply(r->c, r->rid, &env);
    free(v);
    free(pv);
    kreq_free(r);
}

static void lists_allowed(struct kreq *r)
{
    const char *p[] = {r->env->lists_get->campaign};
    if (cr_pg_query(r->c->srv->pg,
                    "SELECT l.name, l.state, l.caller_id, count(c.id), count(c.id) FILTER (WHERE "
                    "c.state = 'waiting'), count(c.id) FILTER (WHERE c.state = 'done'), "
                    "to_char(l.created_at, 'YYYY-MM-DD HH24:MI') FROM lists l JOIN campaigns k "
                    "ON k.id = l.campaign_id LEFT JOIN contacts c ON c.list_id = l.id WHERE "
                    "k.name = $1 GROUP BY l.id ORDER BY l.created_at, l.name",
                    1, p, on_lists, r) != 0)
        db_failed(r, NULL);
}

void contacts_handle_lists_get(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    lists_allowed(r);
}

/* --- saved filters ---------------------------------------------------------------------- */

static void on_filter_saved(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status) {
        if (res->sqlstate && !strcmp(res->sqlstate, "23514"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "name",
                         "a filter name is 1-64 letters, digits, _ or -");
        return db_failed(r, res);
    }
    if (!r->env->filter_save->expression[0] && atoi(PQcmdTuples(res->res[0])) == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "name", "no saved filter '%s'",
                     r->env->filter_save->name);
    client_ok(r->c, r->rid);
    kreq_free(r);
}

void contacts_handle_filter_save(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    struct client *c = r->c;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__FilterSave *in = env->filter_save;
    if (in->expression[0]) {
        /* Checked now against the standard fields; declared fields are checked at use. */
        struct cr_filter_sql tmp;
        char err[300];
        if (strlen(in->expression) > CR_FILTER_MAX_TEXT ||
            (cr_filter_compile(in->expression, NULL, 0, 1, &tmp, err, sizeof err) != 0 &&
             !strstr(err, "unknown field")))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "expression", "%s", err);
        cr_filter_sql_free(&tmp);
    }
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)c->user.id);
    const char *p[] = {uid, in->name, in->expression};
    int rc = in->expression[0]
                 ? cr_pg_query(c->srv->pg,
                               "INSERT INTO saved_filters (user_id, name, expression) VALUES "
                               "($1::bigint, $2, $3) ON CONFLICT (user_id, name) DO UPDATE SET "
                               "expression = EXCLUDED.expression, created_at = now()",
                               3, p, on_filter_saved, r)
                 : cr_pg_query(c->srv->pg,
                               "DELETE FROM saved_filters WHERE user_id = $1::bigint AND name = $2",
                               2, p, on_filter_saved, r);
    if (rc)
        db_failed(r, NULL);
}

static void on_filters(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *pr = res->res[0];
    int n = PQntuples(pr);
    Carillon__V1__SavedFilter *v = calloc(n ? (size_t)n : 1, sizeof *v);
    Carillon__V1__SavedFilter **pv = calloc(n ? (size_t)n : 1, sizeof *pv);
    if (!v || !pv) {
        free(v);
        free(pv);
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__saved_filter__init(&v[i]);
        v[i].name = PQgetvalue(pr, i, 0);
        v[i].expression = PQgetvalue(pr, i, 1);
        pv[i] = &v[i];
    }
    Carillon__V1__FiltersReply out = CARILLON__V1__FILTERS_REPLY__INIT;
    out.filters = pv;
    out.n_filters = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_FILTERS_REPLY;
    env.filters_reply = &out;
    client_reply(r->c, r->rid, &env);
    free(v);
    free(pv);
    kreq_free(r);
}

void contacts_handle_filters_get(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    struct client *c = r->c;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)c->user.id);
    const char *p[] = {uid};
    if (cr_pg_query(c->srv->pg,
                    "SELECT name, expression FROM saved_filters WHERE user_id = $1::bigint "
                    "ORDER BY name",
                    1, p, on_filters, r) != 0)
        db_failed(r, NULL);
}

/* --- modify ----------------------------------------------------------------------------- */

static void on_modified(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status) {
        if (res->sqlstate && (!strcmp(res->sqlstate, "22007") || !strcmp(res->sqlstate, "22008")))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "next_try",
                         "next_try must look like 'YYYY-MM-DD HH:MM'");
        if (res->sqlstate && !strcmp(res->sqlstate, "22023"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "time_zone",
                         "unknown time zone");
        return db_failed(r, res);
    }
    const PGresult *pr = res->res[0];
    if (PQntuples(pr) == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "id",
                     "no contact %lld in this campaign", (long long)r->env->contact_modify->id);
    if (PQgetvalue(pr, 0, 0)[0] != 't')
        return kfail(r, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "id",
                     "contact %lld is in a live call: change it when the call has ended",
                     (long long)r->env->contact_modify->id);
    if (PQgetvalue(pr, 0, 1)[0] != 't')
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "agent", "no such agent");
    cr_log_info("contact_modified", "by=%s contact=%lld", cr_log_q(r->c->user.login),
                (long long)r->env->contact_modify->id);
    client_ok(r->c, r->rid);
    kreq_free(r);
}

/* The longest SET clause modify may build: every standard column and the fields array, each
 * once (names are unique in a request), with room to spare. */
#define MODIFY_SET_MAX 8192

static void modify_allowed(struct kreq *r)
{
    const Carillon__V1__ContactModify *in = r->env->contact_modify;
    /* SET clauses from a fixed list; every value is a parameter ($3 onwards). Names are unique
     * (checked before), so there are at most n_values + 2 arrays + the agent + 2 parameters. */
    struct cr_strbuf set;
    cr_strbuf_init(&set, MODIFY_SET_MAX);
    cr_strbuf_str(&set, "updated_at = now()");
    const char **params = calloc(in->n_values + 5, sizeof *params);
    char **keys = calloc(in->n_values + 1, sizeof *keys);
    char **vals = calloc(in->n_values + 1, sizeof *vals);
    char *ak = NULL, *av = NULL, *sql = NULL;
    int rc = -ENOMEM;
    if (!params || !keys || !vals)
        goto out;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)in->id);
    params[0] = in->campaign;
    params[1] = id;
    int np = 2;
    size_t nk = 0;
    const char *agent = NULL;
    for (size_t i = 0; i < in->n_values; i++) {
        const char *name = in->values[i]->name, *v = in->values[i]->value;
        int pn = np + 1;
        bool std = false;
        for (size_t k = 0; k < NTEXT && !std; k++)
            if (!strcmp(name, text_columns[k])) {
                cr_strbuf_printf(&set, ", %s = $%d", text_columns[k], pn);
                std = true;
            }
        if (std) {
            params[np++] = v;
            continue;
        }
        if (!strcmp(name, "priority")) {
            char *end;
            long pr = strtol(v, &end, 10);
            if (!v[0] || *end || pr < -32768 || pr > 32767) {
                kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "priority",
                      "priority is a whole number between -32768 and 32767");
                goto refused;
            }
            cr_strbuf_printf(&set, ", priority = $%d::smallint", pn);
        } else if (!strcmp(name, "top_priority") || !strcmp(name, "consent")) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name, "%s is true or false",
                      name);
                goto refused;
            }
            cr_strbuf_printf(&set, ", %s = $%d::boolean", name, pn);
        } else if (!strcmp(name, "next_try")) {
            cr_strbuf_printf(&set,
                             ", next_try = CASE WHEN $%d = '' THEN NULL ELSE ($%d::timestamp "
                             "AT TIME ZONE c.time_zone) END",
                             pn, pn);
        } else if (!strcmp(name, "time_zone")) {
            cr_strbuf_printf(&set,
                             ", time_zone = (SELECT CASE WHEN now() AT TIME ZONE $%d IS NOT "
                             "NULL THEN $%d END)",
                             pn, pn);
        } else if (!strcmp(name, "agent")) {
            agent = v;
            cr_strbuf_printf(&set,
                             ", agent_id = (SELECT id FROM users WHERE login = nullif($%d, "
                             "'') AND role = 'agent')",
                             pn);
        } else {
            bool known = false;
            if (custom_field_refused(r, name, v, &known))
                goto refused;
            if (!known) {
                kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                      "'%s' is not a field of this campaign", name);
                goto refused;
            }
            keys[nk] = (char *)name;
            vals[nk++] = (char *)v;
            continue;
        }
        params[np++] = v;
    }
    if (nk) {
        ak = array_of(keys, nk);
        av = array_of(vals, nk);
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
    if (set.err == -E2BIG) {
        kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "values",
              "the change is too large (over %d bytes of SQL): change fewer fields at once",
              MODIFY_SET_MAX);
        goto refused;
    }
    if (!set.err &&
        asprintf(&sql,
                 "WITH target AS (SELECT c.id, c.state FROM contacts c JOIN campaigns k ON k.id = "
                 "c.campaign_id WHERE k.name = $1 AND c.id = $2::bigint), "
                 "agent_ok AS (SELECT %s = '' OR EXISTS (SELECT 1 FROM users WHERE login = %s AND "
                 "role = 'agent') AS ok), "
                 "upd AS (UPDATE contacts c SET %s FROM target t, agent_ok g WHERE c.id = t.id "
                 "AND t.state <> 'running' AND g.ok RETURNING c.id) "
                 "SELECT t.state <> 'running', (SELECT ok FROM agent_ok) FROM target t",
                 agent_param, agent_param, cr_strbuf_text(&set)) > 0)
        rc = cr_pg_query(r->c->srv->pg, sql, np, params, on_modified, r);
out:
    if (rc)
        db_failed(r, NULL);
refused:
    cr_strbuf_free(&set);
    free(sql);
    free(ak);
    free(av);
    free(params);
    free(keys);
    free(vals);
}

void contacts_handle_modify(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    Carillon__V1__Envelope *env = r->env;
    const Carillon__V1__ContactModify *in = env->contact_modify;
    if (!in->campaign[0] || in->id <= 0)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "id",
                     "campaign and contact id are required");
    if (in->n_values == 0 || in->n_values > MAX_VALUES)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "values",
                     "give 1 to %d fields to change", MAX_VALUES);
    for (size_t i = 0; i < in->n_values; i++)
        if (strlen(in->values[i]->value) > 4096)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, in->values[i]->name,
                         "value longer than 4096 bytes");
    const char *twice = duplicate_name(in->values, in->n_values);
    if (twice)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, twice,
                     "field '%s' is given twice: give each field once", twice);
    with_fields(r, modify_allowed);
}
