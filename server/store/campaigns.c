/* SQL for campaign configuration (see campaign_store.h). Lists travel as PostgreSQL array
 * literals and come back joined by \x1f (the API refuses control characters in text, so the
 * separator cannot occur in data); enums are stored as their lowercase words. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "store/campaign_store.h"

#define SEP "\x1f"

/* --- helpers ---------------------------------------------------------------------------- */

void campaign_mem_free(struct campaign_mem *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->blocks[i]);
    free(m->blocks);
    m->blocks = NULL;
    m->n = m->cap = 0;
}

static void *mem_alloc(struct campaign_mem *m, size_t size)
{
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 32;
        void **nb = realloc(m->blocks, (size_t)cap * sizeof *nb);
        if (!nb)
            return NULL;
        m->blocks = nb;
        m->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p)
        m->blocks[m->n++] = p;
    return p;
}

/* Growable text buffer for parameters; owned by the caller, freed with free(). */
struct buf {
    char *s;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            abort(); /* parameters are small and bounded by the frame size */
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* A PostgreSQL array literal of text: {"a","b \"c\""}. */
static char *array_literal(char *const *items, size_t n)
{
    struct buf b = {0};
    buf_str(&b, "{");
    for (size_t i = 0; i < n; i++) {
        buf_str(&b, i ? ",\"" : "\"");
        for (const char *p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_add(&b, "\\", 1);
            buf_add(&b, p, 1);
        }
        buf_str(&b, "\"");
    }
    buf_str(&b, "}");
    return b.s;
}

/* A number as a malloc'd string (NULL when out of memory, as strdup), for text[] parameters. */
static char *dup_int(long long v)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", v);
    return strdup(s);
}

/* Joins items with \x1f into a malloc'd string. */
static char *join_sep(char *const *items, size_t n)
{
    struct buf b = {0};
    buf_str(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_str(&b, SEP);
        buf_str(&b, items[i]);
    }
    return b.s;
}

/* Parameter strings made for one statement; freed together after cr_pg_batch_add copied them. */
struct params {
    const char *v[40];
    char *owned[40];
    int n, nowned;
};

static void p_str(struct params *p, const char *s)
{
    p->v[p->n++] = s ? s : "";
}

static void p_own(struct params *p, char *s)
{
    p->owned[p->nowned++] = s;
    p->v[p->n++] = s;
}

static void p_fmt(struct params *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void p_fmt(struct params *p, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    p_own(p, s);
}

static void p_word(struct params *p, const ProtobufCEnumDescriptor *d, int value, const char *dflt)
{
    char w[64];
    cr_pb_enum_word(d, value, w, sizeof w);
    p_fmt(p, "%s", w[0] ? w : dflt);
}

static void p_free(struct params *p)
{
    for (int i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    p->n = p->nowned = 0;
}

static int add(struct cr_pg_batch *b, const char *sql, struct params *p)
{
    int rc = cr_pg_batch_add(b, sql, p->n, p->v);
    p_free(p);
    return rc;
}

static int result_err(const struct cr_pg_result *r, const char *op)
{
    if (r->status == 0)
        return 0;
    if (r->status == -EIO && r->sqlstate && strcmp(r->sqlstate, "23505") == 0)
        return -EEXIST;
    if (r->status == -EIO)
        cr_log_error("store_error", "op=%s sqlstate=%s message=%s", op,
                     r->sqlstate ? r->sqlstate : "-", cr_log_q(r->message));
    return r->status == -EIO ? -EIO : r->status;
}

/* One pending call. */
struct call {
    void *cb;
    void *arg;
};

static struct call *call_new(void *cb, void *arg)
{
    struct call *c = malloc(sizeof *c);
    if (c) {
        c->cb = cb;
        c->arg = arg;
    }
    return c;
}

static int send_batch(struct cr_pg_batch *b, int rc, cr_pg_cb on, void *cb, void *arg)
{
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    struct call *c = call_new(cb, arg);
    if (!c) {
        cr_pg_batch_discard(b);
        return -ENOMEM;
    }
    rc = cr_pg_batch_send(b, on, c);
    if (rc)
        free(c);
    return rc;
}

#define CAMPAIGN_ID "(SELECT id FROM campaigns WHERE name = $1)"

/* --- facts before apply ----------------------------------------------------------------- */

static void on_facts(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    campaign_facts_cb cb = (campaign_facts_cb)c->cb;
    int err = result_err(r, "campaign_facts");
    struct campaign_facts f = {0};
    if (!err) {
        f.unknown_logins = PQntuples(r->res[0]);
        f.first_unknown_login = f.unknown_logins ? PQgetvalue(r->res[0], 0, 0) : NULL;
        f.tz_known = PQgetvalue(r->res[1], 0, 0)[0] == 't';
        f.exists = PQntuples(r->res[2]) > 0;
        f.state = f.exists ? PQgetvalue(r->res[2], 0, 0) : "";
        f.qualification_group = f.exists ? PQgetvalue(r->res[2], 0, 1) : "";
        f.used = r->res[3];
    }
    cb(c->arg, err, err ? NULL : &f);
    free(c);
}

int store_campaign_facts(struct cr_pg *pg, const Carillon__V1__Campaign *c, campaign_facts_cb cb,
                         void *arg)
{
    /* Every login the campaign names: the referent and the agents. */
    char *logins[1 + 4096];
    size_t n = 0;
    if (c->referent && c->referent[0])
        logins[n++] = c->referent;
    for (size_t i = 0; i < c->n_agents && n < sizeof logins / sizeof logins[0]; i++)
        logins[n++] = c->agents[i];
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    struct params p = {0};
    p_own(&p, array_literal(logins, n));
    int rc = add(b,
                 "SELECT x FROM unnest($1::text[]) x "
                 "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.login = x)",
                 &p);
    p_str(&p, c->time_zone);
    if (!rc)
        rc = add(b, "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", &p);
    p_str(&p, c->name);
    if (!rc)
        rc = add(b, "SELECT state, qualification_group FROM campaigns WHERE name = $1", &p);
    /* Questions that have answers, as stored, with the choices those answers use. */
    p_str(&p, c->name);
    if (!rc)
        rc = add(b,
                 "SELECT b.export_name, b.kind, b.text, b.select_type, b.predefined_type, "
                 "array_to_string(b.matrix_rows, E'\\x1f'), (SELECT string_agg(DISTINCT v, "
                 "E'\\x1f') FROM answers a, unnest(a.values) v WHERE a.campaign_id = "
                 "b.campaign_id AND a.export_name = b.export_name) FROM script_blocks b "
                 "WHERE b.campaign_id = " CAMPAIGN_ID " AND b.export_name IS NOT NULL AND "
                 "EXISTS (SELECT 1 FROM answers a WHERE a.campaign_id = b.campaign_id AND "
                 "a.export_name = b.export_name)",
                 &p);
    p_free(&p);
    return send_batch(b, rc, on_facts, (void *)cb, arg);
}

/* --- apply ------------------------------------------------------------------------------ */

static void outcome_json(struct buf *j, const char *key, const Carillon__V1__OutcomeRule *o,
                         bool first)
{
    char w[32];
    char tmp[160];
    cr_pb_enum_word(&carillon__v1__after_last__descriptor, o ? o->after_last : 0, w, sizeof w);
    snprintf(tmp, sizeof tmp,
             "%s\"%s\":{\"retry_delay_s\":%u,\"max_attempts\":%u,"
             "\"after_last\":\"%s\"}",
             first ? "" : ",", key, o ? o->retry_delay_s : 0, o ? o->max_attempts : 0,
             w[0] ? w : "failed");
    buf_str(j, tmp);
}

static void on_applied(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    campaign_done_cb cb = (campaign_done_cb)c->cb;
    int err = result_err(r, "campaign_apply");
    int created = !err && PQgetvalue(r->res[0], 0, 0)[0] == 't';
    cb(c->arg, err, created);
    free(c);
}

int store_campaign_apply(struct cr_pg *pg, const Carillon__V1__Campaign *c, int64_t actor_id,
                         campaign_done_cb cb, void *arg)
{
    static const Carillon__V1__DialingParams no_dialing = CARILLON__V1__DIALING_PARAMS__INIT;
    static const Carillon__V1__OutcomeRules no_outcomes = CARILLON__V1__OUTCOME_RULES__INIT;
    static const Carillon__V1__StopConditions no_stop = CARILLON__V1__STOP_CONDITIONS__INIT;
    const Carillon__V1__DialingParams *d = c->dialing ? c->dialing : &no_dialing;
    const Carillon__V1__OutcomeRules *o = c->outcomes ? c->outcomes : &no_outcomes;
    const Carillon__V1__StopConditions *st = c->stop ? c->stop : &no_stop;

    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    struct params p = {0};
    p_str(&p, c->name);
    p_str(&p, c->objective);
    p_str(&p, c->description);
    p_str(&p, c->guide_url);
    p_str(&p, c->start_date);
    p_str(&p, c->end_date);
    p_fmt(&p, "%u", c->year);
    p_own(&p, array_literal(c->contract_types, c->n_contract_types));
    p_own(&p, array_literal(c->brands, c->n_brands));
    p_str(&p, c->referent);
    p_own(&p, array_literal(c->agent_profiles, c->n_agent_profiles));
    p_str(&p, c->queue);
    p_str(&p, c->time_zone);
    p_word(&p, &carillon__v1__dialing_mode__descriptor, d->mode, "progressive");
    /* Absent settings take their defaults (campaign_store.h); present ones were validated. */
    p_fmt(&p, "%.17g", d->power_ratio_set_case ? d->power_ratio : CAMPAIGN_DEFAULT_POWER_RATIO);
    p_fmt(&p, "%.17g",
          d->abandon_target_pct_set_case ? d->abandon_target_pct
                                         : CAMPAIGN_DEFAULT_ABANDON_TARGET_PCT);
    p_word(&p, &carillon__v1__call_order__descriptor, d->call_order, "customer_first");
    p_str(&p, d->number_for_agents);
    p_str(&p, d->number_for_customers);
    p_str(&p, d->newest_first ? "t" : "f");
    p_str(&p, d->exclusive_assignment ? "t" : "f");
    p_fmt(&p, "%u", d->max_simultaneous_calls);
    p_fmt(&p, "%u", d->ring_timeout_s ? d->ring_timeout_s : CAMPAIGN_DEFAULT_RING_TIMEOUT_S);
    p_fmt(&p, "%u", d->preview_timeout_s);
    struct buf json = {0};
    buf_str(&json, "{");
    outcome_json(&json, "busy", o->busy, true);
    outcome_json(&json, "no_answer", o->no_answer, false);
    outcome_json(&json, "trunk_failure", o->trunk_failure, false);
    outcome_json(&json, "abandoned", o->abandoned, false);
    outcome_json(&json, "answering_machine", o->answering_machine, false);
    buf_str(&json, "}");
    p_own(&p, json.s);
    p_str(&p, o->amd_enabled ? "t" : "f");
    p_word(&p, &carillon__v1__amd_action__descriptor, o->amd_action, "hang_up");
    p_str(&p, st->at_end_date ? "t" : "f");
    p_str(&p, st->when_all_done ? "t" : "f");
    p_fmt(&p, "%u", st->positive_target);
    p_word(&p, &carillon__v1__qualification_mode__descriptor, c->qualification_mode, "automatic");
    p_str(&p, c->qualification_group);
    p_own(&p, array_literal(c->popup_fields, c->n_popup_fields));
    p_word(&p, &carillon__v1__compliance_profile__descriptor, c->compliance, "none");
    p_word(&p, &carillon__v1__preview_timeout_action__descriptor, d->preview_timeout_action,
           "skip");
    p_fmt(&p, "%u",
          d->abandon_after_ms_set_case ? d->abandon_after_ms : CAMPAIGN_DEFAULT_ABANDON_AFTER_MS);
    p_fmt(&p, "%u", c->wrapup_max_s_set_case ? c->wrapup_max_s : CAMPAIGN_DEFAULT_WRAPUP_MAX_S);
    p_own(&p, array_literal(c->pause_reasons, c->n_pause_reasons));
    /* only with leave_message: another action keeps no message name (validated in api) */
    p_str(&p, o->amd_action == CARILLON__V1__AMD_ACTION__AMD_ACTION_LEAVE_MESSAGE ? o->amd_message
                                                                                  : "");
    int rc = add(
        b,
        "INSERT INTO campaigns AS c (name, objective, description, guide_url, start_date, "
        "end_date, year, contract_types, brands, referent_id, agent_profiles, queue, time_zone, "
        "dialing_mode, power_ratio, abandon_target_pct, call_order, number_for_agents, "
        "number_for_customers, newest_first, exclusive_assignment, max_simultaneous_calls, "
        "ring_timeout_s, preview_timeout_s, outcome_rules, amd_enabled, amd_action, "
        "stop_at_end_date, stop_when_all_done, positive_target, qualification_mode, "
        "qualification_group, popup_fields, compliance, preview_timeout_action, "
        "abandon_after_ms, wrapup_max_s, pause_reasons, amd_message) VALUES ($1, $2, $3, $4, "
        "nullif($5, '')::date, "
        "nullif($6, '')::date, $7::int, $8::text[], $9::text[], "
        "(SELECT id FROM users WHERE login = nullif($10, '')), $11::text[], $12, $13, $14, "
        "$15::float8, $16::float8, $17, $18, $19, $20::bool, $21::bool, $22::int, $23::int, "
        "$24::int, $25::jsonb, $26::bool, $27, $28::bool, $29::bool, $30::int, $31, $32, "
        "$33::text[], $34, $35, $36::int, $37::int, $38::text[], $39) "
        "ON CONFLICT (name) DO UPDATE SET objective = EXCLUDED.objective, "
        "description = EXCLUDED.description, guide_url = EXCLUDED.guide_url, "
        "start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, year = EXCLUDED.year, "
        "contract_types = EXCLUDED.contract_types, brands = EXCLUDED.brands, "
        "referent_id = EXCLUDED.referent_id, agent_profiles = EXCLUDED.agent_profiles, "
        "queue = EXCLUDED.queue, time_zone = EXCLUDED.time_zone, "
        "dialing_mode = EXCLUDED.dialing_mode, power_ratio = EXCLUDED.power_ratio, "
        "abandon_target_pct = EXCLUDED.abandon_target_pct, call_order = EXCLUDED.call_order, "
        "number_for_agents = EXCLUDED.number_for_agents, "
        "number_for_customers = EXCLUDED.number_for_customers, "
        "newest_first = EXCLUDED.newest_first, "
        "exclusive_assignment = EXCLUDED.exclusive_assignment, "
        "max_simultaneous_calls = EXCLUDED.max_simultaneous_calls, "
        "ring_timeout_s = EXCLUDED.ring_timeout_s, preview_timeout_s = "
        "EXCLUDED.preview_timeout_s, outcome_rules = EXCLUDED.outcome_rules, "
        "amd_enabled = EXCLUDED.amd_enabled, amd_action = EXCLUDED.amd_action, "
        "amd_message = EXCLUDED.amd_message, stop_at_end_date = EXCLUDED.stop_at_end_date, "
        "stop_when_all_done = EXCLUDED.stop_when_all_done, "
        "positive_target = EXCLUDED.positive_target, "
        "qualification_mode = EXCLUDED.qualification_mode, "
        "qualification_group = EXCLUDED.qualification_group, "
        "popup_fields = EXCLUDED.popup_fields, compliance = EXCLUDED.compliance, "
        "preview_timeout_action = EXCLUDED.preview_timeout_action, "
        "abandon_after_ms = EXCLUDED.abandon_after_ms, wrapup_max_s = EXCLUDED.wrapup_max_s, "
        "pause_reasons = EXCLUDED.pause_reasons, updated_at = now() "
        "RETURNING (xmax = 0)",
        &p);

    /* Weekly slots, replaced in order. */
    char **days = calloc(c->n_schedule + 1, sizeof *days);
    char **starts = calloc(c->n_schedule + 1, sizeof *starts);
    char **ends = calloc(c->n_schedule + 1, sizeof *ends);
    char daybuf[16][4] = {{0}};
    for (size_t i = 0; i < c->n_schedule; i++) {
        snprintf(daybuf[i % 16], 4, "%d", c->schedule[i]->day);
        days[i] = strdup(daybuf[i % 16]);
        starts[i] = c->schedule[i]->start;
        ends[i] = c->schedule[i]->end;
    }
    p_str(&p, c->name);
    if (!rc)
        rc = add(b, "DELETE FROM campaign_schedule_slots WHERE campaign_id = " CAMPAIGN_ID, &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(days, c->n_schedule));
    p_own(&p, array_literal(starts, c->n_schedule));
    p_own(&p, array_literal(ends, c->n_schedule));
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_schedule_slots (campaign_id, position, day, start_time, "
                 "end_time) SELECT " CAMPAIGN_ID ", t.ord, t.d::smallint, t.s::time, t.e::time "
                 "FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY "
                 "AS t(d, s, e, ord)",
                 &p);
    for (size_t i = 0; i < c->n_schedule; i++)
        free(days[i]);
    free(days);
    free(starts);
    free(ends);

    /* Exception dates. */
    size_t nd = c->n_schedule_dates;
    char **dd = calloc(nd + 1, sizeof *dd), **dopen = calloc(nd + 1, sizeof *dopen);
    char **ds = calloc(nd + 1, sizeof *ds), **de = calloc(nd + 1, sizeof *de);
    char **dn = calloc(nd + 1, sizeof *dn);
    for (size_t i = 0; i < nd; i++) {
        const Carillon__V1__ScheduleDate *x = c->schedule_dates[i];
        dd[i] = x->date;
        dopen[i] = x->open ? "t" : "f";
        ds[i] = x->start;
        de[i] = x->end;
        dn[i] = x->note;
    }
    p_str(&p, c->name);
    if (!rc)
        rc = add(b, "DELETE FROM campaign_schedule_dates WHERE campaign_id = " CAMPAIGN_ID, &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(dd, nd));
    p_own(&p, array_literal(dopen, nd));
    p_own(&p, array_literal(ds, nd));
    p_own(&p, array_literal(de, nd));
    p_own(&p, array_literal(dn, nd));
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_schedule_dates (campaign_id, position, day, open, "
                 "start_time, end_time, note) SELECT " CAMPAIGN_ID ", t.ord, t.d::date, "
                 "t.o::bool, nullif(t.s, '')::time, nullif(t.e, '')::time, t.n "
                 "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
                 "WITH ORDINALITY AS t(d, o, s, e, n, ord)",
                 &p);
    free(dd);
    free(dopen);
    free(ds);
    free(de);
    free(dn);

    /* Qualifications: kept by code (later issues attach calls to them), others removed. */
    size_t nq = c->n_qualifications;
    char **cols[12];
    for (int k = 0; k < 12; k++)
        cols[k] = calloc(nq + 1, sizeof(char *));
    for (size_t i = 0; i < nq; i++) {
        const Carillon__V1__Qualification *q = c->qualifications[i];
        char w[64];
        cols[0][i] = q->code;
        cols[1][i] = q->name;
        cols[2][i] = strdup(
            cr_pb_enum_word(&carillon__v1__qualification_type__descriptor, q->type, w, sizeof w));
        cols[3][i] = q->argued ? "t" : "f";
        cols[4][i] = q->final ? "t" : "f";
        cols[5][i] = q->description;
        cols[6][i] = q->color;
        cr_pb_enum_word(&carillon__v1__callback_mode__descriptor, q->callback, w, sizeof w);
        cols[7][i] = strdup(w[0] ? w : "none");
        cols[8][i] = dup_int(q->callback_min_days);
        cols[9][i] = dup_int(q->callback_max_days);
        struct buf g = {0};
        buf_str(&g, "");
        for (size_t k = 0; k < q->n_groups; k++) {
            if (k)
                buf_str(&g, SEP);
            buf_str(&g, q->groups[k]);
        }
        cols[10][i] = g.s;
        cols[11][i] = q->refusal ? "t" : "f";
    }
    p_str(&p, c->name);
    p_own(&p, array_literal(cols[0], nq));
    if (!rc)
        rc = add(b,
                 "DELETE FROM qualifications WHERE campaign_id = " CAMPAIGN_ID
                 " AND code <> ALL($2::text[])",
                 &p);
    p_str(&p, c->name);
    for (int k = 0; k < 12; k++)
        p_own(&p, array_literal(cols[k], nq));
    if (!rc)
        rc = add(b,
                 "INSERT INTO qualifications AS q (campaign_id, position, code, name, type, "
                 "argued, final, description, color, callback, callback_min_days, "
                 "callback_max_days, groups, refusal) SELECT " CAMPAIGN_ID
                 ", t.ord, t.code, t.name, "
                 "t.type, t.argued::bool, t.final::bool, t.descr, t.color, t.cb, t.mn::int, "
                 "t.mx::int, CASE WHEN t.g = '' THEN '{}'::text[] ELSE string_to_array(t.g, "
                 "E'\\x1f') END, t.refusal::bool FROM unnest($2::text[], $3::text[], "
                 "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
                 "$10::text[], $11::text[], $12::text[], $13::text[]) WITH ORDINALITY "
                 "AS t(code, name, type, argued, final, descr, color, cb, mn, mx, g, refusal, "
                 "ord) ON CONFLICT (campaign_id, code) DO UPDATE SET "
                 "position = EXCLUDED.position, name = EXCLUDED.name, type = EXCLUDED.type, "
                 "argued = EXCLUDED.argued, final = EXCLUDED.final, "
                 "description = EXCLUDED.description, color = EXCLUDED.color, "
                 "callback = EXCLUDED.callback, callback_min_days = EXCLUDED.callback_min_days, "
                 "callback_max_days = EXCLUDED.callback_max_days, groups = EXCLUDED.groups, "
                 "refusal = EXCLUDED.refusal",
                 &p);
    for (size_t i = 0; i < nq; i++) {
        free(cols[2][i]);
        free(cols[7][i]);
        free(cols[8][i]);
        free(cols[9][i]);
        free(cols[10][i]);
    }
    for (int k = 0; k < 12; k++)
        free(cols[k]);

    /* Assigned agents: exactly the list (other users' rights are left alone). */
    p_str(&p, c->name);
    p_own(&p, array_literal(c->agents, c->n_agents));
    if (!rc)
        rc = add(b,
                 "DELETE FROM campaign_users cu USING users u WHERE cu.user_id = u.id "
                 "AND u.role = 'agent' AND cu.campaign_id = " CAMPAIGN_ID
                 " AND u.login <> ALL($2::text[])",
                 &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(c->agents, c->n_agents));
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_users (campaign_id, user_id) SELECT " CAMPAIGN_ID
                 ", u.id FROM users u WHERE u.login = ANY($2::text[]) ON CONFLICT DO NOTHING",
                 &p);
    /* Script: screens and blocks replaced whole (answers refer to questions by export name). */
    size_t ns = c->n_script, nb = 0;
    for (size_t i = 0; i < ns; i++)
        nb += c->script[i]->n_blocks;
    char **sn = calloc(ns + 1, sizeof *sn), **si = calloc(ns + 1, sizeof *si);
    char **snx = calloc(ns + 1, sizeof *snx);
    for (size_t i = 0; i < ns; i++) {
        sn[i] = c->script[i]->name;
        si[i] = c->script[i]->initial ? "t" : "f";
        snx[i] = c->script[i]->next;
    }
    p_str(&p, c->name);
    if (!rc)
        rc = add(b, "DELETE FROM script_screens WHERE campaign_id = " CAMPAIGN_ID, &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(sn, ns));
    p_own(&p, array_literal(si, ns));
    p_own(&p, array_literal(snx, ns));
    if (!rc)
        rc = add(b,
                 "INSERT INTO script_screens (campaign_id, position, name, initial, next) "
                 "SELECT " CAMPAIGN_ID ", t.ord, t.n, t.i::bool, t.nx FROM unnest($2::text[], "
                 "$3::text[], $4::text[]) WITH ORDINALITY AS t(n, i, nx, ord)",
                 &p);
    free(sn);
    free(si);
    free(snx);
    char **bc[12];
    for (int k = 0; k < 12; k++)
        bc[k] = calloc(nb + 1, sizeof(char *));
    size_t bi = 0;
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < c->script[i]->n_blocks; j++, bi++) {
            const Carillon__V1__Block *bl = c->script[i]->blocks[j];
            char w[64];
            bc[0][bi] = dup_int((long long)i + 1);
            bc[1][bi] = dup_int((long long)j + 1);
            bc[2][bi] = strdup(
                cr_pb_enum_word(&carillon__v1__block_kind__descriptor, bl->kind, w, sizeof w));
            bc[3][bi] = strdup(bl->text);
            bc[4][bi] = strdup(bl->export_name);
            bc[5][bi] = strdup(bl->mandatory ? "t" : "f");
            bc[6][bi] = strdup(cr_pb_enum_word(&carillon__v1__select_type__descriptor,
                                               bl->select_type, w, sizeof w));
            bc[7][bi] = strdup(cr_pb_enum_word(&carillon__v1__predefined_type__descriptor,
                                               bl->predefined_type, w, sizeof w));
            bc[8][bi] = join_sep(bl->choices, bl->n_choices);
            bc[9][bi] = join_sep(bl->matrix_rows, bl->n_matrix_rows);
            bc[10][bi] = join_sep(bl->qualifications, bl->n_qualifications);
            /* Branches as pairs answer, screen (both checked non-empty by the API). */
            char **pairs = calloc(2 * bl->n_branches + 1, sizeof *pairs);
            for (size_t k = 0; pairs && k < bl->n_branches; k++) {
                pairs[2 * k] = bl->branches[k]->answer;
                pairs[2 * k + 1] = bl->branches[k]->screen;
            }
            bc[11][bi] = pairs ? join_sep(pairs, 2 * bl->n_branches) : strdup("");
            free(pairs);
        }
    }
    p_str(&p, c->name);
    for (int k = 0; k < 12; k++)
        p_own(&p, array_literal(bc[k], nb));
    if (!rc)
        rc = add(b,
                 "INSERT INTO script_blocks (campaign_id, screen_position, position, kind, text, "
                 "export_name, mandatory, select_type, predefined_type, choices, matrix_rows, "
                 "qualifications, branches) SELECT " CAMPAIGN_ID
                 ", t.sp::int, t.bp::int, t.k, t.tx, "
                 "nullif(t.en, ''), t.m::bool, t.st, t.pt, "
                 "CASE WHEN t.ch = '' THEN '{}'::text[] ELSE string_to_array(t.ch, E'\\x1f') END, "
                 "CASE WHEN t.mr = '' THEN '{}'::text[] ELSE string_to_array(t.mr, E'\\x1f') END, "
                 "CASE WHEN t.q = '' THEN '{}'::text[] ELSE string_to_array(t.q, E'\\x1f') END, "
                 "CASE WHEN t.br = '' THEN '{}'::text[] ELSE string_to_array(t.br, E'\\x1f') END "
                 "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
                 "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
                 "$13::text[]) AS t(sp, bp, k, tx, en, m, st, pt, ch, mr, q, br)",
                 &p);
    for (int k = 0; k < 12; k++) {
        for (size_t i = 0; i < nb; i++)
            free(bc[k][i]);
        free(bc[k]);
    }

    /* Automatic qualification: the table replaced whole (outcomes and codes checked by the
     * API: each outcome once, each code a qualification of the campaign). */
    size_t na = c->n_auto_qualifications;
    char **ao = calloc(na + 1, sizeof *ao), **ac = calloc(na + 1, sizeof *ac);
    for (size_t i = 0; i < na; i++) {
        ao[i] = c->auto_qualifications[i]->outcome;
        ac[i] = c->auto_qualifications[i]->code;
    }
    p_str(&p, c->name);
    if (!rc)
        rc =
            add(b, "DELETE FROM campaign_auto_qualifications WHERE campaign_id = " CAMPAIGN_ID, &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(ao, na));
    p_own(&p, array_literal(ac, na));
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_auto_qualifications (campaign_id, outcome, code) "
                 "SELECT " CAMPAIGN_ID ", t.o, t.c FROM unnest($2::text[], $3::text[]) "
                 "AS t(o, c)",
                 &p);
    free(ao);
    free(ac);

    /* Declared contact fields, replaced in order. */
    size_t nf = c->n_fields;
    char **fn = calloc(nf + 1, sizeof *fn), **fl = calloc(nf + 1, sizeof *fl);
    char **ft = calloc(nf + 1, sizeof *ft);
    for (size_t i = 0; i < nf; i++) {
        char w[32];
        fn[i] = c->fields[i]->name;
        fl[i] = c->fields[i]->label;
        ft[i] = strdup(cr_pb_enum_word(&carillon__v1__field_type__descriptor, c->fields[i]->type, w,
                                       sizeof w));
    }
    p_str(&p, c->name);
    if (!rc)
        rc = add(b, "DELETE FROM campaign_fields WHERE campaign_id = " CAMPAIGN_ID, &p);
    p_str(&p, c->name);
    p_own(&p, array_literal(fn, nf));
    p_own(&p, array_literal(fl, nf));
    p_own(&p, array_literal(ft, nf));
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_fields (campaign_id, position, name, label, type) "
                 "SELECT " CAMPAIGN_ID ", t.ord, t.n, t.l, t.t FROM unnest($2::text[], $3::text[], "
                 "$4::text[]) WITH ORDINALITY AS t(n, l, t, ord)",
                 &p);
    for (size_t i = 0; i < nf; i++)
        free(ft[i]);
    free(fn);
    free(fl);
    free(ft);

    /* The supervisor who creates a campaign may view, edit and export it. */
    p_str(&p, c->name);
    p_fmt(&p, "%lld", (long long)actor_id);
    if (!rc)
        rc = add(b,
                 "INSERT INTO campaign_users (campaign_id, user_id, can_view, can_edit, "
                 "can_export) SELECT " CAMPAIGN_ID ", u.id, true, true, true FROM users u "
                 "WHERE u.id = $2::bigint AND u.role = 'supervisor' ON CONFLICT DO NOTHING",
                 &p);
    p_free(&p);
    return send_batch(b, rc, on_applied, (void *)cb, arg);
}

/* --- get -------------------------------------------------------------------------------- */

/* Splits a \x1f-joined value into a NULL-free array of strings (in m). */
static char **split(struct campaign_mem *m, const char *s, size_t *n)
{
    *n = 0;
    if (!s || !*s)
        return NULL;
    char *copy = mem_alloc(m, strlen(s) + 1);
    strcpy(copy, s);
    size_t count = 1;
    for (const char *p = s; *p; p++)
        count += *p == '\x1f';
    char **arr = mem_alloc(m, count * sizeof *arr);
    char *save = NULL;
    for (char *tok = strtok_r(copy, SEP, &save); tok; tok = strtok_r(NULL, SEP, &save))
        arr[(*n)++] = tok;
    return arr;
}

static int enum_of(const ProtobufCEnumDescriptor *d, const char *word)
{
    int v = 0;
    return cr_pb_enum_parse(d, word, &v) == 0 ? v : 0;
}

static const char *G_CAMPAIGN =
    "SELECT c.name, c.objective, c.description, c.guide_url, coalesce(c.start_date::text, ''), "
    "coalesce(c.end_date::text, ''), c.year, array_to_string(c.contract_types, E'\\x1f'), "
    "array_to_string(c.brands, E'\\x1f'), coalesce(u.login, ''), "
    "array_to_string(c.agent_profiles, E'\\x1f'), c.queue, c.state, c.time_zone, "
    "c.dialing_mode, c.power_ratio, c.abandon_target_pct, c.call_order, c.number_for_agents, "
    "c.number_for_customers, c.newest_first, c.exclusive_assignment, c.max_simultaneous_calls, "
    "c.ring_timeout_s, c.preview_timeout_s, c.amd_enabled, c.amd_action, c.stop_at_end_date, "
    "c.stop_when_all_done, c.positive_target, c.qualification_mode, c.qualification_group, "
    "array_to_string(c.popup_fields, E'\\x1f'), "
    "o.k, (o.v->>'retry_delay_s'), (o.v->>'max_attempts'), (o.v->>'after_last'), "
    "c.compliance, c.preview_timeout_action, c.abandon_after_ms, c.wrapup_max_s, "
    "array_to_string(c.pause_reasons, E'\\x1f'), c.amd_message "
    "FROM campaigns c LEFT JOIN users u ON u.id = c.referent_id "
    "LEFT JOIN LATERAL jsonb_each(c.outcome_rules) o(k, v) ON true WHERE c.name = $1";

static void on_got(void *arg, const struct cr_pg_result *r)
{
    struct call *call = arg;
    campaign_get_cb cb = (campaign_get_cb)call->cb;
    int err = result_err(r, "campaign_get");
    if (!err && PQntuples(r->res[0]) == 0)
        err = -ENOENT;
    if (err) {
        cb(call->arg, err, NULL);
        free(call);
        return;
    }
    struct campaign_mem m = {0};
    const PGresult *cr = r->res[0];
#define V(col) PQgetvalue(cr, 0, col)
    Carillon__V1__Campaign c = CARILLON__V1__CAMPAIGN__INIT;
    Carillon__V1__DialingParams d = CARILLON__V1__DIALING_PARAMS__INIT;
    Carillon__V1__OutcomeRules o = CARILLON__V1__OUTCOME_RULES__INIT;
    Carillon__V1__StopConditions st = CARILLON__V1__STOP_CONDITIONS__INIT;
    c.name = V(0);
    c.objective = V(1);
    c.description = V(2);
    c.guide_url = V(3);
    c.start_date = V(4);
    c.end_date = V(5);
    c.year = (uint32_t)atoi(V(6));
    c.contract_types = split(&m, V(7), &c.n_contract_types);
    c.brands = split(&m, V(8), &c.n_brands);
    c.referent = V(9);
    c.agent_profiles = split(&m, V(10), &c.n_agent_profiles);
    c.queue = V(11);
    c.state = enum_of(&carillon__v1__campaign_state__descriptor, V(12));
    c.time_zone = V(13);
    d.mode = enum_of(&carillon__v1__dialing_mode__descriptor, V(14));
    d.power_ratio_set_case = CARILLON__V1__DIALING_PARAMS__POWER_RATIO_SET_POWER_RATIO;
    d.power_ratio = atof(V(15));
    d.abandon_target_pct_set_case =
        CARILLON__V1__DIALING_PARAMS__ABANDON_TARGET_PCT_SET_ABANDON_TARGET_PCT;
    d.abandon_target_pct = atof(V(16));
    d.call_order = enum_of(&carillon__v1__call_order__descriptor, V(17));
    d.number_for_agents = V(18);
    d.number_for_customers = V(19);
    d.newest_first = V(20)[0] == 't';
    d.exclusive_assignment = V(21)[0] == 't';
    d.max_simultaneous_calls = (uint32_t)atoi(V(22));
    d.ring_timeout_s = (uint32_t)atoi(V(23));
    d.preview_timeout_s = (uint32_t)atoi(V(24));
    o.amd_enabled = V(25)[0] == 't';
    o.amd_action = enum_of(&carillon__v1__amd_action__descriptor, V(26));
    st.at_end_date = V(27)[0] == 't';
    st.when_all_done = V(28)[0] == 't';
    st.positive_target = (uint32_t)atoi(V(29));
    c.qualification_mode = enum_of(&carillon__v1__qualification_mode__descriptor, V(30));
    c.qualification_group = V(31);
    c.popup_fields = split(&m, V(32), &c.n_popup_fields);
    c.compliance = enum_of(&carillon__v1__compliance_profile__descriptor, V(37));
    d.preview_timeout_action = enum_of(&carillon__v1__preview_timeout_action__descriptor, V(38));
    d.abandon_after_ms_set_case =
        CARILLON__V1__DIALING_PARAMS__ABANDON_AFTER_MS_SET_ABANDON_AFTER_MS;
    d.abandon_after_ms = (uint32_t)atoi(V(39));
    c.wrapup_max_s_set_case = CARILLON__V1__CAMPAIGN__WRAPUP_MAX_S_SET_WRAPUP_MAX_S;
    c.wrapup_max_s = (uint32_t)atoi(V(40));
    c.pause_reasons = split(&m, V(41), &c.n_pause_reasons);
    o.amd_message = V(42);
#undef V
    /* One row per outcome rule (the lateral join). */
    Carillon__V1__OutcomeRule rules[5];
    const char *keys[5] = {"busy", "no_answer", "trunk_failure", "abandoned", "answering_machine"};
    Carillon__V1__OutcomeRule **slots[5] = {&o.busy, &o.no_answer, &o.trunk_failure, &o.abandoned,
                                            &o.answering_machine};
    for (int k = 0; k < 5; k++) {
        carillon__v1__outcome_rule__init(&rules[k]);
        for (int row = 0; row < PQntuples(cr); row++) {
            if (PQgetisnull(cr, row, 33) || strcmp(PQgetvalue(cr, row, 33), keys[k]) != 0)
                continue;
            rules[k].retry_delay_s = (uint32_t)atoi(PQgetvalue(cr, row, 34));
            rules[k].max_attempts = (uint32_t)atoi(PQgetvalue(cr, row, 35));
            rules[k].after_last =
                enum_of(&carillon__v1__after_last__descriptor, PQgetvalue(cr, row, 36));
        }
        *slots[k] = &rules[k];
    }
    c.dialing = &d;
    c.outcomes = &o;
    c.stop = &st;

    const PGresult *sr = r->res[1];
    c.n_schedule = (size_t)PQntuples(sr);
    c.schedule = mem_alloc(&m, c.n_schedule * sizeof *c.schedule);
    for (size_t i = 0; i < c.n_schedule; i++) {
        Carillon__V1__ScheduleSlot *s = mem_alloc(&m, sizeof *s);
        carillon__v1__schedule_slot__init(s);
        s->day = atoi(PQgetvalue(sr, (int)i, 0));
        s->start = PQgetvalue(sr, (int)i, 1);
        s->end = PQgetvalue(sr, (int)i, 2);
        c.schedule[i] = s;
    }
    const PGresult *dr = r->res[2];
    c.n_schedule_dates = (size_t)PQntuples(dr);
    c.schedule_dates = mem_alloc(&m, c.n_schedule_dates * sizeof *c.schedule_dates);
    for (size_t i = 0; i < c.n_schedule_dates; i++) {
        Carillon__V1__ScheduleDate *s = mem_alloc(&m, sizeof *s);
        carillon__v1__schedule_date__init(s);
        s->date = PQgetvalue(dr, (int)i, 0);
        s->open = PQgetvalue(dr, (int)i, 1)[0] == 't';
        s->start = PQgetvalue(dr, (int)i, 2);
        s->end = PQgetvalue(dr, (int)i, 3);
        s->note = PQgetvalue(dr, (int)i, 4);
        c.schedule_dates[i] = s;
    }
    const PGresult *qr = r->res[3];
    c.n_qualifications = (size_t)PQntuples(qr);
    c.qualifications = mem_alloc(&m, c.n_qualifications * sizeof *c.qualifications);
    for (size_t i = 0; i < c.n_qualifications; i++) {
        int row = (int)i;
        Carillon__V1__Qualification *q = mem_alloc(&m, sizeof *q);
        carillon__v1__qualification__init(q);
        q->code = PQgetvalue(qr, row, 0);
        q->name = PQgetvalue(qr, row, 1);
        q->type = enum_of(&carillon__v1__qualification_type__descriptor, PQgetvalue(qr, row, 2));
        q->argued = PQgetvalue(qr, row, 3)[0] == 't';
        q->final = PQgetvalue(qr, row, 4)[0] == 't';
        q->description = PQgetvalue(qr, row, 5);
        q->color = PQgetvalue(qr, row, 6);
        q->callback = enum_of(&carillon__v1__callback_mode__descriptor, PQgetvalue(qr, row, 7));
        q->callback_min_days = atoi(PQgetvalue(qr, row, 8));
        q->callback_max_days = atoi(PQgetvalue(qr, row, 9));
        q->groups = split(&m, PQgetvalue(qr, row, 10), &q->n_groups);
        q->refusal = PQgetvalue(qr, row, 11)[0] == 't';
        c.qualifications[i] = q;
    }
    const PGresult *ar = r->res[4];
    c.n_agents = (size_t)PQntuples(ar);
    c.agents = mem_alloc(&m, c.n_agents * sizeof *c.agents);
    for (size_t i = 0; i < c.n_agents; i++)
        c.agents[i] = PQgetvalue(ar, (int)i, 0);

    const PGresult *scr = r->res[5], *blr = r->res[7];
    c.n_script = (size_t)PQntuples(scr);
    c.script = mem_alloc(&m, c.n_script * sizeof *c.script);
    for (size_t i = 0; i < c.n_script; i++) {
        Carillon__V1__Screen *sc = mem_alloc(&m, sizeof *sc);
        carillon__v1__screen__init(sc);
        sc->name = PQgetvalue(scr, (int)i, 0);
        sc->initial = PQgetvalue(scr, (int)i, 1)[0] == 't';
        sc->next = PQgetvalue(scr, (int)i, 2);
        c.script[i] = sc;
    }
    int nblocks = PQntuples(blr);
    for (int row = 0; row < nblocks; row++) {
        size_t sp = (size_t)atoi(PQgetvalue(blr, row, 0));
        if (sp < 1 || sp > c.n_script)
            continue;
        c.script[sp - 1]->n_blocks++;
    }
    for (size_t i = 0; i < c.n_script; i++) {
        c.script[i]->blocks = mem_alloc(&m, c.script[i]->n_blocks * sizeof(void *));
        c.script[i]->n_blocks = 0;
    }
    for (int row = 0; row < nblocks; row++) {
        size_t sp = (size_t)atoi(PQgetvalue(blr, row, 0));
        if (sp < 1 || sp > c.n_script)
            continue;
        Carillon__V1__Block *bl = mem_alloc(&m, sizeof *bl);
        carillon__v1__block__init(bl);
        bl->kind = enum_of(&carillon__v1__block_kind__descriptor, PQgetvalue(blr, row, 1));
        bl->text = PQgetvalue(blr, row, 2);
        bl->export_name = PQgetvalue(blr, row, 3);
        bl->mandatory = PQgetvalue(blr, row, 4)[0] == 't';
        bl->select_type = enum_of(&carillon__v1__select_type__descriptor, PQgetvalue(blr, row, 5));
        bl->predefined_type =
            enum_of(&carillon__v1__predefined_type__descriptor, PQgetvalue(blr, row, 6));
        bl->choices = split(&m, PQgetvalue(blr, row, 7), &bl->n_choices);
        bl->matrix_rows = split(&m, PQgetvalue(blr, row, 8), &bl->n_matrix_rows);
        bl->qualifications = split(&m, PQgetvalue(blr, row, 9), &bl->n_qualifications);
        size_t npairs = 0;
        char **pairs = split(&m, PQgetvalue(blr, row, 10), &npairs);
        bl->n_branches = npairs / 2;
        bl->branches = mem_alloc(&m, bl->n_branches * sizeof *bl->branches);
        for (size_t k = 0; k < bl->n_branches; k++) {
            Carillon__V1__Branch *br = mem_alloc(&m, sizeof *br);
            carillon__v1__branch__init(br);
            br->answer = pairs[2 * k];
            br->screen = pairs[2 * k + 1];
            bl->branches[k] = br;
        }
        Carillon__V1__Screen *sc = c.script[sp - 1];
        sc->blocks[sc->n_blocks++] = bl;
    }

    const PGresult *fr = r->res[6];
    c.n_fields = (size_t)PQntuples(fr);
    c.fields = mem_alloc(&m, c.n_fields * sizeof *c.fields);
    for (size_t i = 0; i < c.n_fields; i++) {
        Carillon__V1__ContactField *f = mem_alloc(&m, sizeof *f);
        carillon__v1__contact_field__init(f);
        f->name = PQgetvalue(fr, (int)i, 0);
        f->label = PQgetvalue(fr, (int)i, 1);
        f->type = enum_of(&carillon__v1__field_type__descriptor, PQgetvalue(fr, (int)i, 2));
        c.fields[i] = f;
    }

    const PGresult *aqr = r->res[8];
    c.n_auto_qualifications = (size_t)PQntuples(aqr);
    c.auto_qualifications = mem_alloc(&m, c.n_auto_qualifications * sizeof *c.auto_qualifications);
    for (size_t i = 0; i < c.n_auto_qualifications; i++) {
        Carillon__V1__AutoQualification *a = mem_alloc(&m, sizeof *a);
        carillon__v1__auto_qualification__init(a);
        a->outcome = PQgetvalue(aqr, (int)i, 0);
        a->code = PQgetvalue(aqr, (int)i, 1);
        c.auto_qualifications[i] = a;
    }

    cb(call->arg, 0, &c);
    campaign_mem_free(&m);
    free(call);
}

int store_campaign_get(struct cr_pg *pg, const char *name, campaign_get_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p[] = {name};
    int rc = cr_pg_batch_add(b, G_CAMPAIGN, 1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT day, to_char(start_time, 'HH24:MI'), "
                             "to_char(end_time, 'HH24:MI') FROM campaign_schedule_slots "
                             "WHERE campaign_id = " CAMPAIGN_ID " ORDER BY position",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT day::text, open, coalesce(to_char(start_time, 'HH24:MI'), "
                             "''), coalesce(to_char(end_time, 'HH24:MI'), ''), note "
                             "FROM campaign_schedule_dates WHERE campaign_id = " CAMPAIGN_ID
                             " ORDER BY position",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT code, name, type, argued, final, description, color, "
                             "callback, callback_min_days, callback_max_days, "
                             "array_to_string(groups, E'\\x1f'), refusal FROM qualifications "
                             "WHERE campaign_id = " CAMPAIGN_ID " ORDER BY position",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT u.login FROM campaign_users cu JOIN users u "
                             "ON u.id = cu.user_id WHERE cu.campaign_id = " CAMPAIGN_ID
                             " AND u.role = 'agent' ORDER BY u.login",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "SELECT name, initial, next FROM script_screens WHERE campaign_id = " CAMPAIGN_ID
            " ORDER BY position",
            1, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "SELECT name, label, type FROM campaign_fields WHERE campaign_id = " CAMPAIGN_ID
            " ORDER BY position",
            1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT screen_position, kind, text, coalesce(export_name, ''), "
                             "mandatory, select_type, predefined_type, "
                             "array_to_string(choices, E'\\x1f'), "
                             "array_to_string(matrix_rows, E'\\x1f'), "
                             "array_to_string(qualifications, E'\\x1f'), "
                             "array_to_string(branches, E'\\x1f') FROM script_blocks "
                             "WHERE campaign_id = " CAMPAIGN_ID
                             " ORDER BY screen_position, position",
                             1, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "SELECT outcome, code FROM campaign_auto_qualifications WHERE "
                             "campaign_id = " CAMPAIGN_ID " ORDER BY array_position(ARRAY["
                             "'answered', 'busy', 'no_answer', 'invalid_number', 'rejected', "
                             "'trunk_failure', 'abandoned', 'machine'], outcome)",
                             1, p);
    return send_batch(b, rc, on_got, (void *)cb, arg);
}

/* --- list, state, delete, duplicate ----------------------------------------------------- */

static void on_listed(void *arg, const struct cr_pg_result *r)
{
    struct call *call = arg;
    campaign_list_cb cb = (campaign_list_cb)call->cb;
    int err = result_err(r, "campaign_list");
    if (err) {
        cb(call->arg, err, NULL);
        free(call);
        return;
    }
    struct campaign_mem m = {0};
    const PGresult *res = r->res[0];
    Carillon__V1__CampaignListReply rep = CARILLON__V1__CAMPAIGN_LIST_REPLY__INIT;
    rep.n_campaigns = (size_t)PQntuples(res);
    rep.campaigns = mem_alloc(&m, rep.n_campaigns * sizeof *rep.campaigns);
    for (size_t i = 0; i < rep.n_campaigns; i++) {
        int row = (int)i;
        Carillon__V1__CampaignSummary *s = mem_alloc(&m, sizeof *s);
        carillon__v1__campaign_summary__init(s);
        s->name = PQgetvalue(res, row, 0);
        s->state = enum_of(&carillon__v1__campaign_state__descriptor, PQgetvalue(res, row, 1));
        s->year = (uint32_t)atoi(PQgetvalue(res, row, 2));
        s->contract_types = split(&m, PQgetvalue(res, row, 3), &s->n_contract_types);
        s->positive_target = (uint32_t)atoi(PQgetvalue(res, row, 4));
        s->agents = (uint32_t)atoi(PQgetvalue(res, row, 5));
        s->positive_count = (uint32_t)strtoul(PQgetvalue(res, row, 6), NULL, 10);
        s->to_call = strtoull(PQgetvalue(res, row, 7), NULL, 10);
        s->callbacks = strtoull(PQgetvalue(res, row, 8), NULL, 10);
        rep.campaigns[i] = s;
    }
    cb(call->arg, 0, &rep);
    campaign_mem_free(&m);
    free(call);
}

int store_campaign_list(struct cr_pg *pg, const Carillon__V1__CampaignList *f, int64_t viewer_id,
                        campaign_list_cb cb, void *arg)
{
    char state[32], year[16], viewer[24];
    snprintf(viewer, sizeof viewer, "%lld", (long long)viewer_id);
    cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, f->state, state, sizeof state);
    snprintf(year, sizeof year, "%u", f->year);
    const char *p[] = {state, year, f->contract_type, viewer};
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg,
                         "SELECT c.name, c.state, c.year, "
                         "array_to_string(c.contract_types, E'\\x1f'), c.positive_target, "
                         "(SELECT count(*) FROM campaign_agents ca WHERE ca.campaign_id = "
                         "c.id), "
                         /* positives reached: contacts with a call qualified positive */
                         "(SELECT count(DISTINCT a.contact_id) FROM attempts a JOIN "
                         "qualifications q ON q.campaign_id = a.campaign_id AND q.code = "
                         "a.qualification WHERE a.campaign_id = c.id AND q.type = 'positive'), "
                         /* to call: waiting with a number left to call, one neither
                          * blacklisted (blocked) nor failed (the engine's finish rule, in
                          * attempts.c); callbacks: those with a callback */
                         "k.to_call, k.callbacks "
                         "FROM campaigns c CROSS JOIN LATERAL (SELECT count(*) AS to_call, "
                         "count(*) FILTER (WHERE ct.callback) AS callbacks FROM contacts ct "
                         "WHERE ct.campaign_id = c.id AND ct.state = 'waiting' AND EXISTS "
                         "(SELECT 1 FROM addresses a WHERE a.contact_id = ct.id AND a.state IN "
                         "('scheduled', 'rescheduled', 'waiting'))) k "
                         "WHERE ($1 = '' OR c.state = $1) "
                         "AND ($2::int = 0 OR c.year = $2::int) "
                         "AND ($3 = '' OR $3 = ANY(c.contract_types)) "
                         "AND ($4::bigint = 0 OR EXISTS (SELECT 1 FROM campaign_user_rights cu "
                         "WHERE cu.campaign_id = c.id AND cu.user_id = $4::bigint "
                         "AND cu.can_view)) ORDER BY c.name",
                         4, p, on_listed, c);
    if (rc)
        free(c);
    return rc;
}

static void on_readiness(void *arg, const struct cr_pg_result *r)
{
    struct call *call = arg;
    campaign_readiness_cb cb = (campaign_readiness_cb)call->cb;
    int err = result_err(r, "campaign_readiness");
    if (!err && PQntuples(r->res[0]) == 0)
        err = -ENOENT;
    struct campaign_readiness rd = {0};
    if (!err) {
        rd.state = PQgetvalue(r->res[0], 0, 0);
        rd.agents = atoi(PQgetvalue(r->res[0], 0, 1));
        rd.slots = atoi(PQgetvalue(r->res[0], 0, 2));
        rd.qualifications = atoi(PQgetvalue(r->res[0], 0, 3));
        rd.lists_to_call = atoi(PQgetvalue(r->res[0], 0, 4));
        rd.lists = strtoll(PQgetvalue(r->res[0], 0, 5), NULL, 10);
        rd.contacts = strtoll(PQgetvalue(r->res[0], 0, 6), NULL, 10);
    }
    cb(call->arg, err, err ? NULL : &rd);
    free(call);
}

int store_campaign_readiness(struct cr_pg *pg, const char *name, campaign_readiness_cb cb,
                             void *arg)
{
    const char *p[] = {name};
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg,
                         "SELECT c.state, (SELECT count(*) FROM campaign_agents ca "
                         "WHERE ca.campaign_id = c.id), (SELECT count(*) FROM "
                         "campaign_schedule_slots s "
                         "WHERE s.campaign_id = c.id), (SELECT count(*) FROM qualifications q "
                         "WHERE q.campaign_id = c.id), (SELECT count(*) FROM lists l "
                         "WHERE l.campaign_id = c.id AND l.state = 'active' AND EXISTS (SELECT 1 "
                         "FROM contacts ct WHERE ct.list_id = l.id AND ct.state IN ('waiting', "
                         "'running'))), (SELECT count(*) FROM lists l WHERE l.campaign_id = c.id), "
                         "(SELECT count(*) FROM contacts ct WHERE ct.campaign_id = c.id AND "
                         "ct.state <> 'deleted') FROM campaigns c WHERE c.name = $1",
                         1, p, on_readiness, c);
    if (rc)
        free(c);
    return rc;
}

static void on_changed(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    campaign_done_cb cb = (campaign_done_cb)c->cb;
    int err = result_err(r, "campaign_change");
    if (!err && atoi(PQcmdTuples(r->res[0])) == 0)
        err = -ENOENT;
    cb(c->arg, err, 0);
    free(c);
}

static void audit_add(struct cr_pg_batch *b, int64_t actor, const char *action, const char *subject,
                      int *rc)
{
    char a[24];
    snprintf(a, sizeof a, "%lld", (long long)actor);
    const char *p[] = {actor > 0 ? a : NULL, action, subject};
    if (!*rc)
        *rc = cr_pg_batch_add(b,
                              "INSERT INTO audit_log (actor_id, action, subject) "
                              "VALUES ($1, $2, $3)",
                              3, p);
}

int store_campaign_set_state(struct cr_pg *pg, const char *name, const char *from, const char *to,
                             int64_t actor_id, campaign_done_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    /* Guarded by the state read before: a concurrent change makes this touch no row. */
    const char *p[] = {name, from, to};
    int rc = cr_pg_batch_add(b,
                             "UPDATE campaigns SET state = $3, updated_at = now() "
                             "WHERE name = $1 AND state = $2",
                             3, p);
    char action[64];
    snprintf(action, sizeof action, "campaign.state.%s", to);
    audit_add(b, actor_id, action, name, &rc);
    return send_batch(b, rc, on_changed, (void *)cb, arg);
}

int store_campaign_delete(struct cr_pg *pg, const char *name, int64_t actor_id, campaign_done_cb cb,
                          void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p[] = {name};
    int rc =
        cr_pg_batch_add(b, "DELETE FROM campaigns WHERE name = $1 AND state <> 'running'", 1, p);
    audit_add(b, actor_id, "campaign.delete", name, &rc);
    return send_batch(b, rc, on_changed, (void *)cb, arg);
}

int store_campaign_duplicate(struct cr_pg *pg, const char *name, const char *new_name,
                             int64_t actor_id, campaign_done_cb cb, void *arg)
{
    /* The columns a copy takes, written once (a copy is a draft under its new name). */
#define DUP_COLS                                                                                   \
    "objective, description, guide_url, start_date, end_date, year, contract_types, "              \
    "brands, referent_id, agent_profiles, queue, time_zone, dialing_mode, power_ratio, "           \
    "abandon_target_pct, call_order, number_for_agents, number_for_customers, newest_first, "      \
    "exclusive_assignment, max_simultaneous_calls, ring_timeout_s, preview_timeout_s, "            \
    "outcome_rules, amd_enabled, amd_action, amd_message, stop_at_end_date, stop_when_all_done, "  \
    "positive_target, qualification_mode, qualification_group, popup_fields, compliance, "         \
    "preview_timeout_action, abandon_after_ms, wrapup_max_s, pause_reasons"
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p[] = {name, new_name};
    int rc = cr_pg_batch_add(b,
                             "INSERT INTO campaigns (name, state, " DUP_COLS ") SELECT $2, "
                             "'draft', " DUP_COLS " FROM campaigns WHERE name = $1",
                             2, p);
#undef DUP_COLS
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_schedule_slots SELECT (SELECT id FROM "
                             "campaigns WHERE name = $2), position, day, start_time, end_time "
                             "FROM campaign_schedule_slots WHERE campaign_id = " CAMPAIGN_ID,
                             2, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "INSERT INTO campaign_schedule_dates SELECT (SELECT id FROM "
            "campaigns WHERE name = $2), position, day, open, start_time, "
            "end_time, note FROM campaign_schedule_dates WHERE campaign_id = " CAMPAIGN_ID,
            2, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "INSERT INTO qualifications (campaign_id, position, code, name, type, "
            "argued, final, description, color, callback, callback_min_days, "
            "callback_max_days, groups, refusal) SELECT (SELECT id FROM campaigns WHERE "
            "name = $2), position, code, name, type, argued, final, "
            "description, color, callback, callback_min_days, "
            "callback_max_days, groups, refusal FROM qualifications WHERE campaign_id "
            "= " CAMPAIGN_ID,
            2, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_users SELECT (SELECT id FROM campaigns WHERE "
                             "name = $2), user_id, can_view, can_edit, can_export "
                             "FROM campaign_users WHERE campaign_id = " CAMPAIGN_ID,
                             2, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_auto_qualifications SELECT (SELECT id FROM "
                             "campaigns WHERE name = $2), outcome, code "
                             "FROM campaign_auto_qualifications WHERE campaign_id = " CAMPAIGN_ID,
                             2, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_profile_rights (campaign_id, profile, "
                             "can_view, can_edit, can_export) SELECT (SELECT id FROM campaigns "
                             "WHERE name = $2), profile, can_view, can_edit, can_export "
                             "FROM campaign_profile_rights WHERE campaign_id = " CAMPAIGN_ID,
                             2, p);
    /* The declared contact fields and the whole script: a copy is the same campaign. */
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_fields (campaign_id, position, name, label, "
                             "type) SELECT (SELECT id FROM campaigns WHERE name = $2), position, "
                             "name, label, type FROM campaign_fields WHERE campaign_id "
                             "= " CAMPAIGN_ID,
                             2, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO script_screens (campaign_id, position, name, initial, "
                             "next) SELECT (SELECT id FROM campaigns WHERE name = $2), position, "
                             "name, initial, next FROM script_screens WHERE campaign_id "
                             "= " CAMPAIGN_ID,
                             2, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "INSERT INTO script_blocks (campaign_id, screen_position, position, kind, text, "
            "export_name, mandatory, select_type, predefined_type, choices, matrix_rows, "
            "qualifications, branches) SELECT (SELECT id FROM campaigns WHERE name = $2), "
            "screen_position, position, kind, text, export_name, mandatory, select_type, "
            "predefined_type, choices, matrix_rows, qualifications, branches FROM script_blocks "
            "WHERE campaign_id = " CAMPAIGN_ID,
            2, p);
    audit_add(b, actor_id, "campaign.duplicate", new_name, &rc);
    return send_batch(b, rc, on_changed, (void *)cb, arg);
}

/* --- rights ----------------------------------------------------------------------------- */

static void on_access(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    campaign_access_cb cb = (campaign_access_cb)c->cb;
    int err = result_err(r, "campaign_access");
    struct campaign_access a = {0};
    if (!err && PQntuples(r->res[0]) > 0) {
        const PGresult *res = r->res[0];
        a.exists = 1;
        a.view = PQgetvalue(res, 0, 0)[0] == 't';
        a.edit = PQgetvalue(res, 0, 1)[0] == 't';
        a.export_ = PQgetvalue(res, 0, 2)[0] == 't';
    }
    cb(c->arg, err, err ? NULL : &a);
    free(c);
}

int store_campaign_access(struct cr_pg *pg, const char *name, int64_t user_id,
                          campaign_access_cb cb, void *arg)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    const char *p[] = {name, uid};
    struct call *c = call_new((void *)cb, arg);
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg,
                         "SELECT coalesce(cu.can_view, false), coalesce(cu.can_edit, false), "
                         "coalesce(cu.can_export, false) FROM campaigns c LEFT JOIN "
                         "campaign_user_rights cu ON cu.campaign_id = c.id AND cu.user_id = "
                         "$2::bigint WHERE c.name = $1",
                         2, p, on_access, c);
    if (rc)
        free(c);
    return rc;
}

static void on_granted(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    campaign_done_cb cb = (campaign_done_cb)c->cb;
    int err = result_err(r, "campaign_grant");
    if (!err && PQgetvalue(r->res[0], 0, 0)[0] != 't')
        err = -ENOENT;
    cb(c->arg, err, 0);
    free(c);
}

int store_campaign_grant(struct cr_pg *pg, const char *campaign, const char *login, int view,
                         int edit, int export_, int64_t actor_id, campaign_done_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p0[] = {campaign, login};
    const char *p[] = {campaign, login, view ? "t" : "f", edit ? "t" : "f", export_ ? "t" : "f"};
    if (login[0] == '@') { /* a profile: every user who has it */
        const char *pp[] = {campaign, login + 1, p[2], p[3], p[4]};
        int rc =
            cr_pg_batch_add(b, "SELECT EXISTS (SELECT 1 FROM campaigns WHERE name = $1)", 1, pp);
        if (!rc)
            rc = cr_pg_batch_add(
                b,
                "DELETE FROM campaign_profile_rights WHERE campaign_id = " CAMPAIGN_ID
                " AND profile = $2 AND NOT ($3::bool OR $4::bool "
                "OR $5::bool)",
                5, pp);
        if (!rc)
            rc = cr_pg_batch_add(b,
                                 "INSERT INTO campaign_profile_rights (campaign_id, profile, "
                                 "can_view, can_edit, can_export) SELECT " CAMPAIGN_ID
                                 ", $2, $3::bool, $4::bool, $5::bool WHERE $3::bool OR $4::bool "
                                 "OR $5::bool ON CONFLICT (campaign_id, profile) DO UPDATE SET "
                                 "can_view = EXCLUDED.can_view, can_edit = EXCLUDED.can_edit, "
                                 "can_export = EXCLUDED.can_export",
                                 5, pp);
        char subject[400];
        snprintf(subject, sizeof subject, "%s/%s", campaign, login);
        audit_add(b, actor_id, "campaign.grant", subject, &rc);
        return send_batch(b, rc, on_granted, (void *)cb, arg);
    }
    int rc = cr_pg_batch_add(b,
                             "SELECT EXISTS (SELECT 1 FROM campaigns WHERE name = $1) AND "
                             "EXISTS (SELECT 1 FROM users WHERE login = $2)",
                             2, p0);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "DELETE FROM campaign_users cu USING users u WHERE cu.user_id = u.id "
                             "AND u.login = $2 AND cu.campaign_id = " CAMPAIGN_ID
                             " AND NOT ($3::bool OR $4::bool OR $5::bool)",
                             5, p);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO campaign_users (campaign_id, user_id, can_view, "
                             "can_edit, can_export) SELECT " CAMPAIGN_ID ", u.id, $3::bool, "
                             "$4::bool, $5::bool FROM users u WHERE u.login = $2 AND "
                             "($3::bool OR $4::bool OR $5::bool) ON CONFLICT (campaign_id, "
                             "user_id) DO UPDATE SET can_view = EXCLUDED.can_view, "
                             "can_edit = EXCLUDED.can_edit, can_export = EXCLUDED.can_export",
                             5, p);
    char subject[400];
    snprintf(subject, sizeof subject, "%s/%s", campaign, login);
    audit_add(b, actor_id, "campaign.grant", subject, &rc);
    return send_batch(b, rc, on_granted, (void *)cb, arg);
}

static void on_rights(void *arg, const struct cr_pg_result *r)
{
    struct call *call = arg;
    campaign_rights_cb cb = (campaign_rights_cb)call->cb;
    int err = result_err(r, "campaign_rights");
    if (!err && PQgetvalue(r->res[0], 0, 0)[0] != 't')
        err = -ENOENT;
    if (err) {
        cb(call->arg, err, NULL);
        free(call);
        return;
    }
    struct campaign_mem m = {0};
    const PGresult *res = r->res[1];
    Carillon__V1__CampaignRights rep = CARILLON__V1__CAMPAIGN_RIGHTS__INIT;
    rep.n_rights = (size_t)PQntuples(res);
    rep.rights = mem_alloc(&m, rep.n_rights * sizeof *rep.rights);
    for (size_t i = 0; i < rep.n_rights; i++) {
        int row = (int)i;
        Carillon__V1__CampaignRight *x = mem_alloc(&m, sizeof *x);
        carillon__v1__campaign_right__init(x);
        x->login = PQgetvalue(res, row, 0);
        x->role = PQgetvalue(res, row, 1);
        x->view = PQgetvalue(res, row, 2)[0] == 't';
        x->edit = PQgetvalue(res, row, 3)[0] == 't';
        x->export = PQgetvalue(res, row, 4)[0] == 't';
        x->assigned_by = PQgetvalue(res, row, 5);
        rep.rights[i] = x;
    }
    cb(call->arg, 0, &rep);
    campaign_mem_free(&m);
    free(call);
}

int store_campaign_rights(struct cr_pg *pg, const char *name, campaign_rights_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p[] = {name};
    int rc = cr_pg_batch_add(b, "SELECT EXISTS (SELECT 1 FROM campaigns WHERE name = $1)", 1, p);
    if (!rc)
        rc = cr_pg_batch_add(
            b,
            "SELECT u.login, u.role, coalesce(cu.can_view, false), coalesce(cu.can_edit, false), "
            "coalesce(cu.can_export, false), coalesce(ca.assigned_by, '') FROM users u "
            "LEFT JOIN campaign_users cu ON cu.user_id = u.id AND cu.campaign_id = " CAMPAIGN_ID
            " LEFT JOIN campaign_agents ca ON ca.user_id = u.id AND ca.campaign_id = " CAMPAIGN_ID
            " WHERE cu.user_id IS NOT NULL OR ca.user_id IS NOT NULL UNION ALL "
            "SELECT '@' || pr.profile, 'profile', pr.can_view, pr.can_edit, pr.can_export, '' "
            "FROM campaign_profile_rights pr WHERE pr.campaign_id = " CAMPAIGN_ID " ORDER BY 1",
            1, p);
    return send_batch(b, rc, on_rights, (void *)cb, arg);
}
