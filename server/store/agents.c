/* SQL of the agents' sessions (agents_store.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"
#include "store/store.h"
#include "store/agents_store.h"
#include "store/attempts_store.h"

struct call {
    void *cb;
    void *arg;
};

static int send_query(struct cr_pg *pg, const char *sql, int np, const char *const *p, cr_pg_cb on,
                      void *cb, void *arg)
{
    struct call *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb = cb;
    c->arg = arg;
    int rc = cr_pg_query(pg, sql, np, p, on, c);
    if (rc)
        free(c);
    return rc;
}

/* --- campaigns ----------------------------------------------------------------------------- */

static void on_campaigns(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_agent_campaigns_cb cb = (store_agent_campaigns_cb)c->cb;
    int err = store_result_err(r, "agent_campaigns");
    int n = err ? 0 : PQntuples(r->res[0]);
    struct store_agent_campaign *rows = n ? calloc((size_t)n, sizeof *rows) : NULL;
    if (n && !rows)
        err = -ENOMEM;
    for (int i = 0; rows && i < n; i++) {
        const PGresult *res = r->res[0];
        rows[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        rows[i].name = PQgetvalue(res, i, 1);
        rows[i].state = PQgetvalue(res, i, 2);
        rows[i].number_for_agents = PQgetvalue(res, i, 3);
        rows[i].wrapup_max_s = (unsigned)atoi(PQgetvalue(res, i, 4));
        rows[i].dialing_mode = PQgetvalue(res, i, 5);
        rows[i].pause_reasons = PQgetvalue(res, i, 6);
        rows[i].qualifications = PQgetvalue(res, i, 7);
    }
    cb(c->arg, err, rows, err ? 0 : n);
    free(rows);
    free(c);
}

int store_agent_campaigns(struct cr_pg *pg, int64_t user_id, store_agent_campaigns_cb cb, void *arg)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%" PRId64, user_id);
    const char *p[] = {uid};
    return send_query(
        pg,
        "SELECT c.id, c.name, c.state, c.number_for_agents, c.wrapup_max_s, c.dialing_mode, "
        "array_to_string(c.pause_reasons, ','), coalesce((SELECT string_agg(q.code || E'\\x1e' "
        "|| q.name || E'\\x1e' || CASE WHEN q.final THEN 't' ELSE 'f' END || E'\\x1e' || "
        "q.callback || E'\\x1e' || q.callback_min_days || E'\\x1e' || q.callback_max_days, "
        "E'\\x1f' ORDER BY q.position) FROM qualifications q WHERE q.campaign_id = c.id), '') "
        "FROM campaigns c WHERE c.state IN ('ready', 'running', 'paused') AND EXISTS (SELECT 1 "
        "FROM campaign_agents ca WHERE ca.campaign_id = c.id AND ca.user_id = $1) ORDER BY c.name",
        1, p, on_campaigns, (void *)cb, arg);
}

/* --- sessions ------------------------------------------------------------------------------ */

static void on_id(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_id_cb cb = (store_id_cb)c->cb;
    int err = store_result_err(r, "agent_session");
    int last = r->nres - 1;
    int64_t id = 0;
    if (!err && last >= 0 && PQntuples(r->res[last]) == 1)
        id = strtoll(PQgetvalue(r->res[last], 0, 0), NULL, 10);
    else if (!err)
        err = -EIO;
    cb(c->arg, err, id);
    free(c);
}

int store_agent_session_open(struct cr_pg *pg, int64_t user_id, const char *token_sha256,
                             const char *softphone, const int64_t *campaigns, int ncampaigns,
                             const char *address, const char *agentd_node, const char *state,
                             int64_t now_ms, store_id_cb cb, void *arg)
{
    char uid[24], now[40], arr[16 * 22 + 3];
    snprintf(uid, sizeof uid, "%" PRId64, user_id);
    store_ts(now_ms, now, sizeof now);
    size_t at = 0;
    arr[at++] = '{';
    for (int i = 0; i < ncampaigns && i < 16; i++)
        at += (size_t)snprintf(arr + at, sizeof arr - at, "%s%" PRId64, i ? "," : "", campaigns[i]);
    snprintf(arr + at, sizeof arr - at, "}");
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p1[] = {uid, now};
    int rc = cr_pg_batch_add(b,
                             "UPDATE agent_sessions SET logged_out_at = $2, state = 'logged_out', "
                             "logout_reason = 'replaced' WHERE user_id = $1 AND logged_out_at "
                             "IS NULL",
                             2, p1);
    const char *p2[] = {uid, token_sha256, softphone, arr, address, agentd_node, state, now};
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO agent_sessions (user_id, token_sha256, softphone, "
                             "campaigns, address, agentd_node, state, state_since, logged_in_at) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                             8, p2);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    struct call *c = malloc(sizeof *c);
    if (!c) {
        cr_pg_batch_discard(b);
        return -ENOMEM;
    }
    c->cb = (void *)cb;
    c->arg = arg;
    rc = cr_pg_batch_send(b, on_id, c);
    if (rc)
        free(c);
    return rc;
}

int store_agent_state(struct cr_pg *pg, int64_t session_id, const char *state, const char *reason,
                      int64_t attempt_id, const char *dialer_node, int64_t now_ms, cr_pg_cb cb,
                      void *arg)
{
    char sid[24], now[40], att[24];
    snprintf(sid, sizeof sid, "%" PRId64, session_id);
    store_ts(now_ms, now, sizeof now);
    snprintf(att, sizeof att, "%" PRId64, attempt_id);
    const char *p[] = {sid,
                       state,
                       reason ? reason : "",
                       now,
                       attempt_id ? att : NULL,
                       dialer_node ? dialer_node : ""};
    return cr_pg_query(pg,
                       "WITH s AS (UPDATE agent_sessions SET state = $2, reason = $3, "
                       "state_since = $4, dialer_node = CASE WHEN $6 = '' THEN dialer_node "
                       "ELSE $6 END WHERE id = $1 RETURNING id) INSERT INTO agent_states "
                       "(session_id, at, state, reason, attempt_id) SELECT id, $4, $2, $3, "
                       "$5::bigint FROM s",
                       6, p, cb, arg);
}

int store_agent_session_close(struct cr_pg *pg, int64_t session_id, const char *reason,
                              int64_t now_ms, cr_pg_cb cb, void *arg)
{
    char sid[24], now[40];
    snprintf(sid, sizeof sid, "%" PRId64, session_id);
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {sid, reason, now};
    return cr_pg_query(pg,
                       "WITH s AS (UPDATE agent_sessions SET state = 'logged_out', reason = '', "
                       "state_since = $3, logged_out_at = $3, logout_reason = $2 WHERE id = $1 "
                       "AND logged_out_at IS NULL RETURNING id) INSERT INTO agent_states "
                       "(session_id, at, state, reason) SELECT id, $3, 'logged_out', $2 FROM s",
                       3, p, cb, arg);
}

int store_agent_sessions_close_all(struct cr_pg *pg, const char *reason, int64_t now_ms,
                                   cr_pg_cb cb, void *arg)
{
    char now[40];
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {reason, now};
    /* one row per session closed: its id (its agent leg may still be up on a dialer) */
    return cr_pg_query(pg,
                       "WITH s AS (UPDATE agent_sessions SET state = 'logged_out', reason = '', "
                       "state_since = $2, logged_out_at = $2, logout_reason = $1 WHERE "
                       "logged_out_at IS NULL RETURNING id), i AS (INSERT INTO agent_states "
                       "(session_id, at, state, reason) SELECT id, $2, 'logged_out', $1 FROM s) "
                       "SELECT id FROM s",
                       2, p, cb, arg);
}

/* --- the contact shown to the agent ------------------------------------------------------- */

int store_popup_parse(const PGresult *res, struct store_popup *p, struct store_popup_field **fields)
{
    int n = PQntuples(res);
    *fields = NULL;
    if (n == 0)
        return -ENOENT;
    /* row 0 holds the contact itself (name NULL), then one row per field */
    struct store_popup_field *f = n > 1 ? calloc((size_t)n - 1, sizeof *f) : NULL;
    if (n > 1 && !f)
        return -ENOMEM;
    memset(p, 0, sizeof *p);
    p->contact_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    p->last_qualification = PQgetvalue(res, 0, 4);
    p->attempts = (unsigned)atoi(PQgetvalue(res, 0, 5));
    for (int i = 1; i < n; i++) {
        f[i - 1].name = PQgetvalue(res, i, 0);
        f[i - 1].label = PQgetvalue(res, i, 1);
        f[i - 1].value = PQgetvalue(res, i, 2);
    }
    p->fields = f;
    p->nfields = n - 1;
    *fields = f;
    return 0;
}

static void on_popup(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_popup_cb cb = (store_popup_cb)c->cb;
    int err = store_result_err(r, "contact_popup");
    struct store_popup p = {0};
    struct store_popup_field *f = NULL;
    if (!err)
        err = store_popup_parse(r->res[0], &p, &f);
    cb(c->arg, err, err ? NULL : &p);
    free(f);
    free(c);
}

/* Builtin columns read through to_jsonb(contact), the campaign's own from contacts.fields; a
 * label is the campaign field's label, else the column name. $1 the contact, $2 the fields. */
#define POPUP_SQL                                                                                  \
    "SELECT NULL, NULL, NULL, c.id, coalesce(c.last_qualification, ''), c.attempts, 0 "            \
    "FROM contacts c WHERE c.id = $1 UNION ALL SELECT f.name, coalesce(cf.label, f.name), "        \
    "coalesce(to_jsonb(c) ->> f.name, c.fields ->> f.name, ''), NULL, NULL, NULL, f.ord "          \
    "FROM contacts c CROSS JOIN unnest(string_to_array(nullif($2, ''), E'\\x1f')) WITH "           \
    "ORDINALITY f(name, ord) LEFT JOIN campaign_fields cf ON cf.campaign_id = c.campaign_id "      \
    "AND cf.name = f.name WHERE c.id = $1 AND f.name NOT IN ('fields', 'state', 'agent_id') "      \
    "ORDER BY 7"

int store_contact_popup_add(struct cr_pg_batch *b, const char *contact_id, const char *fields_us)
{
    const char *p[] = {contact_id, fields_us ? fields_us : ""};
    return cr_pg_batch_add(b, POPUP_SQL, 2, p);
}

int store_contact_popup(struct cr_pg *pg, int64_t contact_id, const char *fields_us,
                        store_popup_cb cb, void *arg)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, contact_id);
    const char *p[] = {id, fields_us ? fields_us : ""};
    return send_query(pg, POPUP_SQL, 2, p, on_popup, (void *)cb, arg);
}
