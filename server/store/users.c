/* SQL for users and their sessions. Rows are read by column position in the order of
 * USER_COLS; every statement is parameterised. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"

#define USER_COLS                                                                                  \
    "u.id, u.login, u.display_name, u.role, u.disabled, "                                          \
    "extract(epoch from u.created_at)::bigint, u.password_hash, "                                  \
    "coalesce((SELECT string_agg(up.profile, E'\\x1f' ORDER BY up.profile) "                       \
    "FROM user_profiles up WHERE up.user_id = u.id), '')"

static const char *const role_names[] = {NULL, "admin", "supervisor", "agent"};

const char *store_role_name(enum store_role r)
{
    return r >= STORE_ROLE_ADMIN && r <= STORE_ROLE_AGENT ? role_names[r] : "unknown";
}

enum store_role store_role_parse(const char *s)
{
    for (int i = STORE_ROLE_ADMIN; i <= STORE_ROLE_AGENT; i++)
        if (s && strcmp(s, role_names[i]) == 0)
            return (enum store_role)i;
    return 0;
}

static void row_to_user(const PGresult *res, int row, int col0, struct store_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = strtoll(PQgetvalue(res, row, col0 + 0), NULL, 10);
    snprintf(u->login, sizeof u->login, "%s", PQgetvalue(res, row, col0 + 1));
    snprintf(u->display_name, sizeof u->display_name, "%s", PQgetvalue(res, row, col0 + 2));
    u->role = store_role_parse(PQgetvalue(res, row, col0 + 3));
    u->disabled = PQgetvalue(res, row, col0 + 4)[0] == 't';
    u->created_at = strtoll(PQgetvalue(res, row, col0 + 5), NULL, 10);
    snprintf(u->password_hash, sizeof u->password_hash, "%s", PQgetvalue(res, row, col0 + 6));
    snprintf(u->profiles, sizeof u->profiles, "%s", PQgetvalue(res, row, col0 + 7));
}

/* Maps a pg result status to the store's error codes, logging database errors. */
static int result_err(const struct cr_pg_result *r, const char *what)
{
    if (r->status == 0)
        return 0;
    if (r->status == -EIO && r->sqlstate && strcmp(r->sqlstate, "23505") == 0)
        return -EEXIST;
    if (r->status == -EIO) {
        cr_log_error("store_error", "op=%s sqlstate=%s message=%s", what,
                     r->sqlstate ? r->sqlstate : "-", cr_log_q(r->message));
        return -EIO;
    }
    return r->status;
}

/* One pending store call: the user's callback and its argument. */
struct call {
    union {
        store_done_cb done;
        store_user_cb user;
        store_users_cb users;
        store_session_cb session;
    } cb;
    void *arg;
    int res_index; /* which statement of a batch carries the rows */
};

static struct call *call_new(void *cb, void *arg, int res_index)
{
    struct call *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->cb.done = (store_done_cb)cb;
    c->arg = arg;
    c->res_index = res_index;
    return c;
}

static int queue(struct cr_pg *pg, const char *sql, int n, const char *const *p, cr_pg_cb on,
                 struct call *c)
{
    if (!c)
        return -ENOMEM;
    int rc = cr_pg_query(pg, sql, n, p, on, c);
    if (rc)
        free(c);
    return rc;
}

static int queue_batch(struct cr_pg_batch *b, cr_pg_cb on, struct call *c)
{
    if (!c) {
        cr_pg_batch_discard(b);
        return -ENOMEM;
    }
    int rc = cr_pg_batch_send(b, on, c);
    if (rc)
        free(c);
    return rc;
}

static void on_one_user(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    int err = result_err(r, "user");
    const PGresult *res = err ? NULL : r->res[c->res_index];
    if (!err && PQntuples(res) == 0)
        err = -ENOENT;
    if (err) {
        c->cb.user(c->arg, err, NULL);
    } else {
        struct store_user u;
        row_to_user(res, 0, 0, &u);
        c->cb.user(c->arg, 0, &u);
    }
    free(c);
}

static void on_done(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    int err = result_err(r, "update");
    if (!err && c->res_index >= 0 && atoi(PQcmdTuples(r->res[c->res_index])) == 0)
        err = -ENOENT;
    c->cb.done(c->arg, err);
    free(c);
}

int store_user_by_login(struct cr_pg *pg, const char *login, store_user_cb cb, void *arg)
{
    const char *p[] = {login};
    return queue(pg, "SELECT " USER_COLS " FROM users u WHERE u.login = $1", 1, p, on_one_user,
                 call_new((void *)cb, arg, 0));
}

static void audit(struct cr_pg_batch *b, int64_t actor_id, const char *action, const char *subject,
                  int *rc)
{
    char actor[24];
    snprintf(actor, sizeof actor, "%lld", (long long)actor_id);
    const char *p[] = {actor_id > 0 ? actor : NULL, action, subject};
    if (!*rc)
        *rc = cr_pg_batch_add(b,
                              "INSERT INTO audit_log (actor_id, action, subject) "
                              "VALUES ($1, $2, $3)",
                              3, p);
}

int store_user_insert(struct cr_pg *pg, const char *login, const char *display_name,
                      enum store_role role, const char *password_hash, int64_t actor_id,
                      store_user_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p[] = {login, display_name, store_role_name(role), password_hash};
    int rc = cr_pg_batch_add(b,
                             "INSERT INTO users AS u (login, display_name, role, password_hash) "
                             "VALUES ($1, $2, $3, $4) RETURNING " USER_COLS,
                             4, p);
    audit(b, actor_id, "user.add", login, &rc);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return queue_batch(b, on_one_user, call_new((void *)cb, arg, 0));
}

int store_user_upsert_admin(struct cr_pg *pg, const char *login, const char *password_hash,
                            store_user_cb cb, void *arg)
{
    const char *p[] = {login, password_hash};
    return queue(pg,
                 "INSERT INTO users AS u (login, display_name, role, password_hash) "
                 "VALUES ($1, $1, 'admin', $2) ON CONFLICT (login) DO UPDATE SET "
                 "password_hash = EXCLUDED.password_hash, role = 'admin', disabled = false, "
                 "updated_at = now() RETURNING " USER_COLS,
                 2, p, on_one_user, call_new((void *)cb, arg, 0));
}

static void on_users(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    int err = result_err(r, "user_list");
    if (err) {
        c->cb.users(c->arg, err, NULL, 0);
        free(c);
        return;
    }
    const PGresult *res = r->res[0];
    int n = PQntuples(res);
    struct store_user *users = calloc(n ? (size_t)n : 1, sizeof *users);
    if (!users) {
        c->cb.users(c->arg, -ENOMEM, NULL, 0);
        free(c);
        return;
    }
    for (int i = 0; i < n; i++) {
        row_to_user(res, i, 0, &users[i]);
        users[i].password_hash[0] = '\0';
    }
    c->cb.users(c->arg, 0, users, n);
    free(users);
    free(c);
}

int store_user_list(struct cr_pg *pg, bool include_disabled, store_users_cb cb, void *arg)
{
    const char *p[] = {include_disabled ? "t" : "f"};
    return queue(pg,
                 "SELECT " USER_COLS " FROM users u WHERE $1::boolean OR NOT u.disabled "
                 "ORDER BY u.login",
                 1, p, on_users, call_new((void *)cb, arg, 0));
}

int store_user_set_password(struct cr_pg *pg, const char *login, const char *password_hash,
                            const char *keep_token_sha256, int64_t actor_id, store_done_cb cb,
                            void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p1[] = {login, password_hash};
    const char *p2[] = {login, keep_token_sha256 ? keep_token_sha256 : ""};
    int rc = cr_pg_batch_add(b,
                             "UPDATE users SET password_hash = $2, updated_at = now() "
                             "WHERE login = $1",
                             2, p1);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "DELETE FROM sessions s USING users u WHERE s.user_id = u.id "
                             "AND u.login = $1 AND s.token_sha256 <> $2",
                             2, p2);
    audit(b, actor_id, "user.passwd", login, &rc);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return queue_batch(b, on_done, call_new((void *)cb, arg, 0));
}

int store_user_set_disabled(struct cr_pg *pg, const char *login, bool disabled, int64_t actor_id,
                            store_done_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p1[] = {login, disabled ? "t" : "f"};
    const char *p2[] = {login};
    int rc = cr_pg_batch_add(b,
                             "UPDATE users SET disabled = $2::boolean, updated_at = now() "
                             "WHERE login = $1",
                             2, p1);
    if (!rc && disabled)
        rc = cr_pg_batch_add(b,
                             "DELETE FROM sessions s USING users u WHERE s.user_id = u.id "
                             "AND u.login = $1",
                             1, p2);
    audit(b, actor_id, disabled ? "user.disable" : "user.enable", login, &rc);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return queue_batch(b, on_done, call_new((void *)cb, arg, 0));
}

static void on_session(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    int err = result_err(r, "session");
    const PGresult *res = err ? NULL : r->res[c->res_index];
    if (!err && PQntuples(res) == 0)
        err = -ENOENT;
    if (err) {
        c->cb.session(c->arg, err, NULL, 0);
    } else {
        struct store_user u;
        row_to_user(res, 0, 1, &u);
        u.password_hash[0] = '\0';
        c->cb.session(c->arg, 0, &u, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    }
    free(c);
}

int store_session_create(struct cr_pg *pg, int64_t user_id, const char *token_sha256,
                         const char *peer, int64_t ttl_s, store_session_cb cb, void *arg)
{
    char uid[24], ttl[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_s);
    const char *p[] = {token_sha256, uid, peer, ttl};
    return queue(pg,
                 "WITH s AS (INSERT INTO sessions (token_sha256, user_id, peer, expires_at) "
                 "VALUES ($1, $2, $3, now() + make_interval(secs => $4::bigint)) "
                 "RETURNING user_id, expires_at) "
                 "SELECT extract(epoch from s.expires_at)::bigint, " USER_COLS
                 " FROM s JOIN users u ON u.id = s.user_id",
                 4, p, on_session, call_new((void *)cb, arg, 0));
}

int store_session_lookup(struct cr_pg *pg, const char *token_sha256, store_session_cb cb, void *arg)
{
    const char *p[] = {token_sha256};
    return queue(pg,
                 "UPDATE sessions s SET last_seen_at = now() FROM users u "
                 "WHERE s.token_sha256 = $1 AND s.expires_at > now() AND u.id = s.user_id "
                 "AND NOT u.disabled "
                 "RETURNING extract(epoch from s.expires_at)::bigint, " USER_COLS,
                 1, p, on_session, call_new((void *)cb, arg, 0));
}

int store_session_delete(struct cr_pg *pg, const char *token_sha256, store_done_cb cb, void *arg)
{
    const char *p[] = {token_sha256};
    return queue(pg, "DELETE FROM sessions WHERE token_sha256 = $1", 1, p, on_done,
                 call_new((void *)cb, arg, -1));
}

int store_user_set_profiles(struct cr_pg *pg, const char *login, const char *profiles_array,
                            int64_t actor_id, store_done_cb cb, void *arg)
{
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p1[] = {login};
    const char *p2[] = {login, profiles_array};
    /* The UPDATE tells an unknown login apart (0 rows -> -ENOENT). */
    int rc = cr_pg_batch_add(b, "UPDATE users SET updated_at = now() WHERE login = $1", 1, p1);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "DELETE FROM user_profiles up USING users u WHERE up.user_id = u.id "
                             "AND u.login = $1",
                             1, p1);
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO user_profiles (user_id, profile) SELECT u.id, x FROM "
                             "users u, unnest($2::text[]) x WHERE u.login = $1 "
                             "ON CONFLICT DO NOTHING",
                             2, p2);
    audit(b, actor_id, "user.profiles", login, &rc);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return queue_batch(b, on_done, call_new((void *)cb, arg, 0));
}

int store_session_expire(struct cr_pg *pg, store_done_cb cb, void *arg)
{
    return queue(pg, "DELETE FROM sessions WHERE expires_at < now()", 0, NULL, on_done,
                 call_new((void *)cb, arg, -1));
}
