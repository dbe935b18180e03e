/* Contact requests: manual creation (numbers normalised to E.164, time zone from the number,
 * blacklisted numbers blocked), listing with the filter language, and blacklists. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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
#include "store/contacts_store.h"

#define MAX_PHONES 8
#define MAX_VALUES 200

#define text_columns store_contact_text_columns
#define NTEXT        STORE_CONTACT_NTEXT

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
    char **column_types; /* not owned: store_contact_list_column_type's words */
    char *order_by;
    bool with_numbers;
    unsigned limit;
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
    free(r->column_types);
    free(r->order_by);
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

/* The field a request's user-given text is in, for errors PostgreSQL finds in it. */
static const char *user_field(const struct kreq *r)
{
    switch (r->env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST:
    case CARILLON__V1__ENVELOPE__BODY_CONTACT_UPDATE:
        return "filter";
    case CARILLON__V1__ENVELOPE__BODY_BLACKLIST_ADD:
        return "numbers";
    case CARILLON__V1__ENVELOPE__BODY_LIST_SET:
        return "list";
    case CARILLON__V1__ENVELOPE__BODY_FILTER_SAVE:
        return "expression";
    default:
        return "values";
    }
}

/* A statement failed (res NULL: it could not be sent). The user's mistakes PostgreSQL detects
 * are answered as such, naming the field; only the database's own trouble is UNAVAILABLE. */
static void db_failed(struct kreq *r, const struct cr_pg_result *res)
{
    enum store_fault f =
        res && res->status == -EIO ? store_fault_of(res->sqlstate) : STORE_FAULT_UNAVAILABLE;
    const char *msg = res && res->message ? res->message : "";
    switch (f) {
    case STORE_FAULT_INVALID:
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, user_field(r),
                     "a value was refused: %s", msg);
    case STORE_FAULT_NOT_FOUND:
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, user_field(r),
                     "something the request names does not exist: %s", msg);
    case STORE_FAULT_EXISTS:
        return kfail(r, CARILLON__V1__CODE__CODE_ALREADY_EXISTS, user_field(r), "%s", msg);
    case STORE_FAULT_UNAVAILABLE:
        break;
    }
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
    if (store_campaign_fields(r->c->srv->pg, r->req->campaign, on_fields, r) != 0)
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

static void on_created(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status) {
        if (res->sqlstate && !strcmp(res->sqlstate, "22007"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "next_try",
                         "next_try must look like 'YYYY-MM-DD HH:MM'");
        return db_failed(r, res);
    }
    const PGresult *pr = res->res[res->nres - 1]; /* after the lock's */
    int n = PQntuples(pr);
    if (n == 0)
        return kfail(r, CARILLON__V1__CODE__CODE_NOT_FOUND, "campaign", "no such campaign");
    if (!strcmp(PQgetvalue(pr, 0, 5), "t")) {
        cr_log_info("contact_refused", "by=%s campaign=%s number=%s held_by=%s reason=duplicate",
                    cr_log_q(r->c->user.login), cr_log_q(r->env->contact_create->campaign),
                    PQgetvalue(pr, 0, 2), PQgetvalue(pr, 0, 0));
        return kfail(r, CARILLON__V1__CODE__CODE_ALREADY_EXISTS, "phones",
                     "%s is already held by contact %s of this campaign: not added "
                     "(--allow-duplicate-numbers adds it anyway)",
                     PQgetvalue(pr, 0, 2), PQgetvalue(pr, 0, 0));
    }
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
    request_reply(r->req, &env);
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
    const char *tz = NULL;
    for (int i = 0; i < r->nphones && !tz; i++)
        tz = r->phones[i].time_zone;
    struct store_contact_new n = {
        .campaign = in->campaign,
        .list = in->list[0] ? in->list : "default",
        .agent = in->agent,
        .time_zone = tz ? tz : "",
        .next_try = in->next_try,
        .country = in->country[0] ? in->country : "FR",
        .created_by = r->c->user.id,
        .priority = in->priority,
        .top_priority = in->top_priority,
        .consent = !in->no_consent,
        .field_names = keys,
        .field_values = vals,
        .nfields = nk,
        .numbers = numbers,
        .types = types,
        .nnumbers = (size_t)r->nphones,
        .allow_duplicate_numbers = in->allow_duplicate_numbers,
    };
    for (size_t k = 0; k < NTEXT; k++)
        n.text[k] = cols[k];
    if (store_contact_create(r->c->srv->pg, &n, on_created, r) != 0)
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

/* Packed numbers ("NUMBER TYPE STATE,..." from store_contact_page) into addresses. At most
 * MAX_LISTED_NUMBERS per contact (more is not possible through creation or import). */
#define MAX_LISTED_NUMBERS 16
struct listed_numbers {
    Carillon__V1__ContactNumbers msg;
    Carillon__V1__AddressInfo info[MAX_LISTED_NUMBERS];
    Carillon__V1__AddressInfo *infop[MAX_LISTED_NUMBERS];
};

static void unpack_numbers(struct listed_numbers *ln, char *packed)
{
    carillon__v1__contact_numbers__init(&ln->msg);
    ln->msg.addresses = ln->infop;
    char *save = NULL;
    for (char *item = strtok_r(packed, ",", &save);
         item && ln->msg.n_addresses < MAX_LISTED_NUMBERS; item = strtok_r(NULL, ",", &save)) {
        char *type = strchr(item, ' ');
        char *state = type ? strchr(type + 1, ' ') : NULL;
        if (!state)
            continue;
        *type++ = '\0';
        *state++ = '\0';
        Carillon__V1__AddressInfo *a = &ln->info[ln->msg.n_addresses];
        carillon__v1__address_info__init(a);
        a->number = item;
        a->type = type;
        a->state = state;
        ln->infop[ln->msg.n_addresses++] = a;
    }
}

static void on_listed(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *rows = res->res[0], *count = res->res[1];
    int n = PQntuples(rows);
    size_t rn = n ? (size_t)n : 1;
    Carillon__V1__ContactListReply out = CARILLON__V1__CONTACT_LIST_REPLY__INIT;
    out.columns = r->columns;
    out.n_columns = r->ncolumns;
    out.column_types = r->column_types;
    out.n_column_types = r->ncolumns;
    out.total = strtoull(PQgetvalue(count, 0, 0), NULL, 10);
    out.offset = r->env->contact_list->offset;
    out.limit = r->limit;
    Carillon__V1__ContactRow *rowv = calloc(rn, sizeof *rowv);
    Carillon__V1__ContactRow **rowp = calloc(rn, sizeof *rowp);
    char **vals = calloc(rn * r->ncolumns + 1, sizeof *vals);
    struct listed_numbers *nums = r->with_numbers ? calloc(rn, sizeof *nums) : NULL;
    Carillon__V1__ContactNumbers **nump = r->with_numbers ? calloc(rn, sizeof *nump) : NULL;
    if (!rowv || !rowp || !vals || (r->with_numbers && (!nums || !nump))) {
        free(rowv);
        free(rowp);
        free(vals);
        free(nums);
        free(nump);
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__contact_row__init(&rowv[i]);
        rowv[i].values = vals + (size_t)i * r->ncolumns;
        rowv[i].n_values = r->ncolumns;
        for (size_t k = 0; k < r->ncolumns; k++)
            rowv[i].values[k] = PQgetvalue(rows, i, (int)k);
        rowp[i] = &rowv[i];
        if (r->with_numbers) { /* the packed column, after the asked ones; libpq's to cut */
            unpack_numbers(&nums[i], PQgetvalue(rows, i, (int)r->ncolumns));
            nump[i] = &nums[i].msg;
        }
    }
    out.rows = rowp;
    out.n_rows = (size_t)n;
    out.numbers = nump;
    out.n_numbers = r->with_numbers ? (size_t)n : 0;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST_REPLY;
    env.contact_list_reply = &out;
    request_reply(r->req, &env);
    free(rowv);
    free(rowp);
    free(vals);
    free(nums);
    free(nump);
    kreq_free(r);
}

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
    if (store_saved_filter_get(r->c->srv->pg, r->c->user.id, r->saved_name, on_saved, r) != 0)
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
    /* Exports stream from one cursor (export.c): a listing is pages. */
    if (in->export)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "export",
                     "exports are streamed: use ExportBegin (carillonctl contact export)");
    size_t n = in->n_columns ? in->n_columns : sizeof default_columns / sizeof default_columns[0];
    if (n > 250)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                     "at most 250 columns");
    r->columns = calloc(n, sizeof *r->columns);
    r->column_types = calloc(n, sizeof *r->column_types);
    if (!r->columns || !r->column_types)
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = in->n_columns ? in->columns[i] : default_columns[i];
        const char *type = store_contact_list_column_type(name, r->custom, r->ncustom);
        if (!type)
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "columns",
                         "unknown column '%s' (carillonctl contact columns --campaign C lists "
                         "them)",
                         name);
        if (!(r->columns[r->ncolumns] = strdup(name)))
            return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        r->column_types[r->ncolumns++] = (char *)type;
        r->with_numbers = r->with_numbers || !strcmp(type, "numbers");
    }
    char err[2048];
    const char *expr = r->saved_expr ? r->saved_expr : in->filter;
    if (expr[0] && cr_filter_compile(expr, r->custom, r->ncustom, 2, &r->filter, err, sizeof err))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "filter", "%s", err);
    if (cr_filter_sort_compile(in->sort, r->custom, r->ncustom, &r->order_by, err, sizeof err))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "sort", "%s", err);
    unsigned limit = in->limit ? in->limit : 100;
    if (limit > 1000)
        limit = 1000;
    /* Without the export right a listing is a look, not an export: one page of at most
     * REQUEST_VIEW_PAGE_MAX rows, inside the campaign's first REQUEST_VIEW_ROWS_MAX contacts
     * (by id, filters apply within them), so paging or filtering cannot read the whole file. */
    unsigned window = 0;
    if (!request_holds(r->req, RIGHT_EXPORT)) {
        if (in->offset >= REQUEST_VIEW_ROWS_MAX)
            return kfail(r, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "offset",
                         "without the export right a listing stops at the campaign's first %d "
                         "contacts",
                         REQUEST_VIEW_ROWS_MAX);
        if (limit > REQUEST_VIEW_PAGE_MAX)
            limit = REQUEST_VIEW_PAGE_MAX;
        if (in->offset + limit > REQUEST_VIEW_ROWS_MAX)
            limit = REQUEST_VIEW_ROWS_MAX - in->offset;
        window = REQUEST_VIEW_ROWS_MAX;
    }
    r->limit = limit;
    struct store_contact_page q = {
        .campaign = in->campaign,
        .columns = r->columns,
        .ncolumns = r->ncolumns,
        .custom = r->custom,
        .ncustom = r->ncustom,
        .filter = r->filter.where ? &r->filter : NULL,
        .order_by = r->order_by,
        .with_numbers = r->with_numbers,
        .window = window,
        .limit = limit,
        .offset = in->offset,
    };
    if (store_contact_page(r->c->srv->pg, &q, on_listed, r) != 0)
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
    request_reply(r->req, &env);
    kreq_free(r);
}

static void blacklist_allowed(struct kreq *r)
{
    const Carillon__V1__BlacklistAdd *in = r->env->blacklist_add;
    char *arr = store_text_array(r->numbers, r->nnumbers);
    int rc = -ENOMEM;
    if (arr && in->remove)
        rc = store_blacklist_remove(r->c->srv->pg, in->campaign, arr, in->reason, r->c->user.id,
                                    on_blacklisted, r);
    else if (arr)
        rc = store_blacklist_add(r->c->srv->pg, in->campaign, arr, in->reason, r->c->user.id,
                                 on_blacklisted, r);
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

/* --- blacklist list -------------------------------------------------------------------- */

#define BLACKLIST_PAGE_DEFAULT 100
#define BLACKLIST_PAGE_MAX     1000

static void on_blacklist_page(void *arg, const struct cr_pg_result *res)
{
    struct kreq *r = arg;
    if (res->status)
        return db_failed(r, res);
    const PGresult *rows = res->res[0];
    int n = PQntuples(rows);
    size_t rn = n ? (size_t)n : 1;
    Carillon__V1__BlacklistListReply out = CARILLON__V1__BLACKLIST_LIST_REPLY__INIT;
    out.total = strtoull(PQgetvalue(res->res[1], 0, 0), NULL, 10);
    out.offset = r->env->blacklist_list->offset;
    out.limit = r->limit;
    Carillon__V1__BlacklistEntry *ev = calloc(rn, sizeof *ev);
    Carillon__V1__BlacklistEntry **ep = calloc(rn, sizeof *ep);
    if (!ev || !ep) {
        free(ev);
        free(ep);
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        carillon__v1__blacklist_entry__init(&ev[i]);
        ev[i].number = PQgetvalue(rows, i, 0);
        ev[i].reason = PQgetvalue(rows, i, 1);
        ev[i].added_by = PQgetvalue(rows, i, 2);
        ev[i].added_at = PQgetvalue(rows, i, 3);
        ep[i] = &ev[i];
    }
    out.entries = ep;
    out.n_entries = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_BLACKLIST_LIST_REPLY;
    env.blacklist_list_reply = &out;
    request_reply(r->req, &env);
    free(ev);
    free(ep);
    kreq_free(r);
}

/* Rights were decided at the route: view on the campaign, admin for the global list. */
void contacts_handle_blacklist_list(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    const Carillon__V1__BlacklistList *in = r->env->blacklist_list;
    if (in->limit > BLACKLIST_PAGE_MAX)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "limit",
                     "a page holds at most %d numbers, not %u", BLACKLIST_PAGE_MAX, in->limit);
    if (in->offset > INT32_MAX)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "offset",
                     "offset %u is too large", in->offset);
    if (in->country[0] && !cr_phone_country_known(in->country))
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "country",
                     "unknown country '%s'", in->country);
    r->limit = in->limit ? in->limit : BLACKLIST_PAGE_DEFAULT;
    struct cr_phone ph = {0};
    if (in->number[0]) {
        const char *why;
        if (cr_phone_normalize(in->number, in->country[0] ? in->country : "FR", &ph, &why))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "number", "'%.64s': %s",
                         in->number, why);
    }
    if (store_blacklist_page(r->c->srv->pg, in->campaign, in->number[0] ? ph.e164 : "", r->limit,
                             in->offset, on_blacklist_page, r) != 0)
        db_failed(r, NULL);
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
    request_reply(r->req, &env);
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
    enum store_contact_action action;
    switch (in->action) {
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_RESET:
        action = STORE_CONTACT_RESET;
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_RELOAD:
        action = STORE_CONTACT_RELOAD;
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_SHELVE:
        action = STORE_CONTACT_SHELVE;
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_MOVE:
        action = STORE_CONTACT_MOVE;
        break;
    case CARILLON__V1__CONTACT_ACTION__CONTACT_ACTION_ASSIGN:
        action = STORE_CONTACT_ASSIGN;
        break;
    default:
        action = STORE_CONTACT_DELETE;
    }
    int rc =
        store_contacts_update(r->c->srv->pg, in->campaign, ids, r->filter.where ? &r->filter : NULL,
                              action, in->list, in->agent, on_updated, r);
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
    if (store_agent_by_login(r->c->srv->pg, in->agent, on_agent, r) != 0)
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
    request_ok(r->req);
    kreq_free(r);
}

static void list_set_allowed(struct kreq *r)
{
    const Carillon__V1__ListSet *in = r->env->list_set;
    if (store_list_set(r->c->srv->pg, in->campaign, in->list, in->state,
                       r->nphones ? r->phones[0].e164 : in->caller_id, on_list_set, r) != 0)
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
    request_reply(r->req, &env);
    free(v);
    free(pv);
    kreq_free(r);
}

static void lists_allowed(struct kreq *r)
{
    if (store_lists(r->c->srv->pg, r->env->lists_get->campaign, on_lists, r) != 0)
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
    request_ok(r->req);
    kreq_free(r);
}

void contacts_handle_filter_save(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    const Carillon__V1__FilterSave *in = r->env->filter_save;
    if (strlen(in->expression) > CR_FILTER_MAX_TEXT)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "expression",
                     "a filter is at most %d bytes", CR_FILTER_MAX_TEXT);
    if (in->expression[0]) {
        /* Checked now against the standard fields; declared fields are checked at use. */
        struct cr_filter_sql tmp;
        char err[300];
        if (cr_filter_compile(in->expression, NULL, 0, 1, &tmp, err, sizeof err) != 0 &&
            !strstr(err, "unknown field"))
            return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "expression", "%s", err);
        cr_filter_sql_free(&tmp);
    }
    if (store_saved_filter_set(r->c->srv->pg, r->c->user.id, in->name, in->expression,
                               on_filter_saved, r) != 0)
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
    request_reply(r->req, &env);
    free(v);
    free(pv);
    kreq_free(r);
}

void contacts_handle_filters_get(struct request *req)
{
    struct kreq *r = kreq_new(req);
    if (!r)
        return;
    if (store_saved_filters(r->c->srv->pg, r->c->user.id, on_filters, r) != 0)
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
    request_ok(r->req);
    kreq_free(r);
}

static void modify_allowed(struct kreq *r)
{
    const Carillon__V1__ContactModify *in = r->env->contact_modify;
    struct store_modify *changes = calloc(in->n_values, sizeof *changes);
    if (!changes)
        return kfail(r, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
    for (size_t i = 0; i < in->n_values; i++) {
        const char *name = in->values[i]->name, *v = in->values[i]->value;
        struct store_modify *m = &changes[i];
        m->name = name;
        m->value = v;
        m->kind = STORE_MODIFY_FIELD;
        for (size_t k = 0; k < NTEXT; k++)
            if (!strcmp(name, text_columns[k]))
                m->kind = STORE_MODIFY_TEXT;
        if (m->kind == STORE_MODIFY_TEXT)
            continue;
        if (!strcmp(name, "priority")) {
            char *end;
            long pr = strtol(v, &end, 10);
            m->kind = STORE_MODIFY_PRIORITY;
            if (!v[0] || *end || pr < -32768 || pr > 32767) {
                free(changes);
                return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "priority",
                             "priority is a whole number between -32768 and 32767");
            }
        } else if (!strcmp(name, "top_priority") || !strcmp(name, "consent")) {
            m->kind = STORE_MODIFY_BOOL;
            if (strcmp(v, "true") && strcmp(v, "false")) {
                free(changes);
                return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                             "%s is true or false", name);
            }
        } else if (!strcmp(name, "next_try")) {
            m->kind = STORE_MODIFY_NEXT_TRY;
        } else if (!strcmp(name, "time_zone")) {
            m->kind = STORE_MODIFY_TIME_ZONE;
        } else if (!strcmp(name, "agent")) {
            m->kind = STORE_MODIFY_AGENT;
        } else {
            bool known = false;
            if (custom_field_refused(r, name, v, &known)) {
                free(changes);
                return;
            }
            if (!known) {
                free(changes);
                return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, name,
                             "'%s' is not a field of this campaign", name);
            }
        }
    }
    int rc = store_contact_modify(r->c->srv->pg, in->campaign, in->id, changes, in->n_values,
                                  on_modified, r);
    free(changes);
    if (rc == -E2BIG)
        return kfail(r, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "values",
                     "the change is too large: change fewer fields at once");
    if (rc)
        db_failed(r, NULL);
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
