/* The server's SQL, all of it (STYLE.md habit 7): the API and the engine call these functions.
 * Every call is asynchronous on the server's cr_pg; a call that fails to queue returns a
 * negative errno and never runs its callback. */
#ifndef CARILLON_STORE_H
#define CARILLON_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "carillon/pg.h"

#define STORE_LOGIN_MAX 64
#define STORE_NAME_MAX  128

enum store_role {
    STORE_ROLE_ADMIN = 1, /* values match carillon.v1.UserRole */
    STORE_ROLE_SUPERVISOR = 2,
    STORE_ROLE_AGENT = 3,
};

struct store_user {
    int64_t id;
    char login[STORE_LOGIN_MAX + 1];
    char display_name[STORE_NAME_MAX * 4 + 1]; /* 128 characters of UTF-8 */
    enum store_role role;
    bool disabled;
    int64_t created_at; /* unix seconds */
    char password_hash[200];
    char profiles[1024]; /* joined by \x1f */
};

const char *store_role_name(enum store_role r);
/* "admin" -> STORE_ROLE_ADMIN; returns 0 when unknown. */
enum store_role store_role_parse(const char *s);

/* Results: err is 0, -ENOENT (no such row), -EEXIST (unique violation), -EIO (database error,
 * logged), -ECONNRESET (connection lost mid-query). */
typedef void (*store_done_cb)(void *arg, int err);
typedef void (*store_user_cb)(void *arg, int err, const struct store_user *u);
typedef void (*store_users_cb)(void *arg, int err, const struct store_user *users, int n);
typedef void (*store_session_cb)(void *arg, int err, const struct store_user *u,
                                 int64_t expires_at);

/* Transaction-level advisory locks (the first key; the second is the campaign's id, mod 2^31).
 * STORE_LOCK_NUMBERS: taken by what gives numbers to a campaign's contacts (contact add, an
 * import's merge) before its duplicate-number check, so that two of them running together see
 * each other's committed rows and never both give one number to two contacts. 7001 is the
 * migrations' lock (migrate.c). */
#define STORE_LOCK_NUMBERS "7002"

/* --- migrations (migrate.c) --- */
/* Applies dir/NNN_*.sql not yet in schema_migrations, in order, one transaction each. */
int store_migrate(struct cr_pg *pg, const char *dir, store_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* --- users and sessions (users.c) --- */
int store_user_by_login(struct cr_pg *pg, const char *login, store_user_cb cb, void *arg)
    __attribute__((warn_unused_result));
int store_user_insert(struct cr_pg *pg, const char *login, const char *display_name,
                      enum store_role role, const char *password_hash, int64_t actor_id,
                      store_user_cb cb, void *arg) __attribute__((warn_unused_result));
/* Creates the admin, or resets its password, role and enabled flag (carillon-server --init-admin).
 */
int store_user_upsert_admin(struct cr_pg *pg, const char *login, const char *password_hash,
                            store_user_cb cb, void *arg) __attribute__((warn_unused_result));
int store_user_list(struct cr_pg *pg, bool include_disabled, store_users_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Sets the password and revokes the user's other sessions (all but keep_token_sha256). */
int store_user_set_password(struct cr_pg *pg, const char *login, const char *password_hash,
                            const char *keep_token_sha256, int64_t actor_id, store_done_cb cb,
                            void *arg) __attribute__((warn_unused_result));
/* Disabling also revokes every session of the user. */
int store_user_set_disabled(struct cr_pg *pg, const char *login, bool disabled, int64_t actor_id,
                            store_done_cb cb, void *arg) __attribute__((warn_unused_result));

/* Replaces the user's profiles; profiles_array is a PostgreSQL text[] literal. */
int store_user_set_profiles(struct cr_pg *pg, const char *login, const char *profiles_array,
                            int64_t actor_id, store_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

int store_session_create(struct cr_pg *pg, int64_t user_id, const char *token_sha256,
                         const char *peer, int64_t ttl_s, store_session_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Finds a live session (not expired, user enabled) and touches last_seen_at. */
int store_session_lookup(struct cr_pg *pg, const char *token_sha256, store_session_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Deletes expired sessions. */
int store_session_expire(struct cr_pg *pg, store_done_cb cb, void *arg)
    __attribute__((warn_unused_result));
int store_session_delete(struct cr_pg *pg, const char *token_sha256, store_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* --- faults (faults.c) --- */
/* How a failed statement reads to the person who sent the request: a value PostgreSQL refused
 * (SQLSTATE class 22, data exception: invalid text, out of range, a bad LIKE escape) is their
 * mistake; a missing referenced row (23502, 23503) is NOT_FOUND; a duplicate (23505)
 * ALREADY_EXISTS; anything else, and no SQLSTATE at all (the connection), is the database being
 * unavailable. */
enum store_fault {
    STORE_FAULT_UNAVAILABLE,
    STORE_FAULT_INVALID,
    STORE_FAULT_NOT_FOUND,
    STORE_FAULT_EXISTS,
};
enum store_fault store_fault_of(const char *sqlstate);
/* A query's outcome as an errno: 0; -EINVAL for a refusal the SQL raised with SQLSTATE 22023
 * (its message is the sentence for the user); -EEXIST for a duplicate; -EIO for any other
 * failed statement (logged with op); or the connection's error. */
int store_result_err(const struct cr_pg_result *r, const char *op);

#endif
