/* User administration requests: add, list, change a password, disable or enable. Admins manage
 * everyone; supervisors may list; anyone may change their own password (the routes say so). */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "api/server.h"
#include "auth/password.h"
#include "carillon/log.h"

/* A request waiting on the database or the thread pool; holds a client reference. */
struct user_req {
    struct client *c;
    uint64_t rid;
    char login[STORE_LOGIN_MAX + 1];
    char display_name[STORE_NAME_MAX * 4 + 1];
    enum store_role role;
    char password[CR_PASSWORD_MAX + 1];
    char old_password[CR_PASSWORD_MAX + 1];
    bool self;
    bool disable;
};

static struct user_req *req_new(struct client *c, uint64_t rid)
{
    struct user_req *r = calloc(1, sizeof *r);
    if (!r) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return NULL;
    }
    r->c = c;
    r->rid = rid;
    client_ref(c);
    return r;
}

static void req_free(struct user_req *r)
{
    OPENSSL_cleanse(r->password, sizeof r->password);
    OPENSSL_cleanse(r->old_password, sizeof r->old_password);
    client_unref(r->c);
    free(r);
}

static void req_db_error(struct user_req *r, int err)
{
    if (err == -ENOENT)
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_NOT_FOUND, "login",
                     "no user with login '%s'", r->login);
    else if (err == -EEXIST)
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_ALREADY_EXISTS, "login",
                     "login '%s' is already taken", r->login);
    else
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "the database is unavailable, try again");
}

static bool is_admin(const struct client *c)
{
    return c->user.role == STORE_ROLE_ADMIN;
}

/* Logins: 1..64 of [A-Za-z0-9._@-], starting with a letter or digit (as the users table). */
static const char *login_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "login is empty";
    if (n > STORE_LOGIN_MAX)
        return "login is longer than 64 characters";
    if (!isalnum((unsigned char)s[0]))
        return "login must start with a letter or a digit";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '@' && ch != '-')
            return "login may only hold letters, digits and . _ @ -";
    }
    return NULL;
}

/* Counts UTF-8 characters; -1 when s is not valid UTF-8 or holds control characters. */
static long utf8_chars(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80             ? 0
                    : (*p & 0xe0) == 0xc0 ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0 || (*p < 0x20) || *p == 0x7f)
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return -1;
        n++;
    }
    return n;
}

/* --- add ------------------------------------------------------------------------------ */

static void on_user_added(void *arg, int err, const struct store_user *u)
{
    struct user_req *r = arg;
    if (err) {
        req_db_error(r, err);
        req_free(r);
        return;
    }
    cr_log_info("user_added", "by=%s user=%s role=%s", cr_log_q(r->c->user.login),
                cr_log_q(u->login), store_role_name(u->role));
    Carillon__V1__UserInfo info;
    struct user_info_buf ib;
    user_to_info(u, &info, &ib);
    Carillon__V1__UserAddReply rep = CARILLON__V1__USER_ADD_REPLY__INIT;
    rep.user = &info;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_ADD_REPLY;
    env.user_add_reply = &rep;
    client_reply(r->c, r->rid, &env);
    req_free(r);
}

static void on_add_hashed(void *arg, int err, bool ok, const char *hash)
{
    (void)ok;
    struct user_req *r = arg;
    int rc = err;
    if (!rc)
        rc = store_user_insert(r->c->srv->pg, r->login, r->display_name, r->role, hash,
                               r->c->user.id, on_user_added, r);
    if (rc) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "could not store the user, try again");
        req_free(r);
    }
}

void users_handle_add(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    Carillon__V1__UserAdd *in = env->user_add;
    uint64_t rid = env->request_id;
    const char *problem = NULL, *field = NULL;
    long name_chars = utf8_chars(in->display_name);
    if ((problem = login_problem(in->login)))
        field = "login";
    else if (name_chars < 0)
        problem = "display name must be UTF-8 text without control characters",
        field = "display_name";
    else if (name_chars > STORE_NAME_MAX)
        problem = "display name is longer than 128 characters", field = "display_name";
    else if (in->role < CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN ||
             in->role > CARILLON__V1__USER_ROLE__USER_ROLE_AGENT)
        problem = "role must be admin, supervisor or agent", field = "role";
    else if ((problem = cr_password_weakness(in->password)))
        field = "password";
    if (problem) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, field, "%s", problem);
        goto out;
    }
    struct user_req *r = req_new(c, rid);
    if (!r)
        goto out;
    snprintf(r->login, sizeof r->login, "%s", in->login);
    snprintf(r->display_name, sizeof r->display_name, "%s",
             in->display_name[0] ? in->display_name : in->login);
    r->role = (enum store_role)in->role;
    if (password_hash_async(c->srv->loop, in->password, (unsigned)c->srv->cfg.scrypt_log_n,
                            on_add_hashed, r) != 0) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INTERNAL, NULL, "could not hash");
        req_free(r);
    }
out:
    request_free(req);
}

/* --- list ----------------------------------------------------------------------------- */

static void on_users(void *arg, int err, const struct store_user *users, int n)
{
    struct user_req *r = arg;
    if (err) {
        req_db_error(r, err);
        req_free(r);
        return;
    }
    Carillon__V1__UserInfo *infos = calloc(n ? (size_t)n : 1, sizeof *infos);
    Carillon__V1__UserInfo **ptrs = calloc(n ? (size_t)n : 1, sizeof *ptrs);
    struct user_info_buf *bufs = calloc(n ? (size_t)n : 1, sizeof *bufs);
    if (!infos || !ptrs || !bufs) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                     "out of memory");
    } else {
        for (int i = 0; i < n; i++) {
            user_to_info(&users[i], &infos[i], &bufs[i]);
            ptrs[i] = &infos[i];
        }
        Carillon__V1__UserListReply rep = CARILLON__V1__USER_LIST_REPLY__INIT;
        rep.n_users = (size_t)n;
        rep.users = ptrs;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_LIST_REPLY;
        env.user_list_reply = &rep;
        client_reply(r->c, r->rid, &env);
    }
    free(infos);
    free(ptrs);
    free(bufs);
    req_free(r);
}

void users_handle_list(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    uint64_t rid = env->request_id;
    bool all = env->user_list->include_disabled;
    struct user_req *r = req_new(c, rid);
    if (r && store_user_list(c->srv->pg, all, on_users, r) != 0) {
        req_db_error(r, -EIO);
        req_free(r);
    }
    request_free(req);
}

/* --- passwd --------------------------------------------------------------------------- */

static void on_password_set(void *arg, int err)
{
    struct user_req *r = arg;
    if (err) {
        req_db_error(r, err);
    } else {
        cr_log_info("password_changed", "by=%s user=%s", cr_log_q(r->c->user.login),
                    cr_log_q(r->login));
        client_ok(r->c, r->rid);
    }
    req_free(r);
}

static void on_new_hash(void *arg, int err, bool ok, const char *hash)
{
    (void)ok;
    struct user_req *r = arg;
    int rc = err;
    /* Changing one's own password keeps this session and revokes the others. */
    if (!rc)
        rc = store_user_set_password(r->c->srv->pg, r->login, hash,
                                     r->self ? r->c->token_sha256 : NULL, r->c->user.id,
                                     on_password_set, r);
    if (rc) {
        req_db_error(r, -EIO);
        req_free(r);
    }
}

static void on_old_checked(void *arg, int err, bool ok, const char *hash)
{
    (void)hash;
    struct user_req *r = arg;
    if (err || !ok) {
        cr_log_warn("password_change_refused", "peer=%s user=%s reason=old_password", r->c->peer,
                    cr_log_q(r->login));
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "old_password",
                     "the current password is wrong");
        req_free(r);
        return;
    }
    if (password_hash_async(r->c->srv->loop, r->password, (unsigned)r->c->srv->cfg.scrypt_log_n,
                            on_new_hash, r) != 0) {
        req_db_error(r, -EIO);
        req_free(r);
    }
}

static void on_self_loaded(void *arg, int err, const struct store_user *u)
{
    struct user_req *r = arg;
    if (err || password_verify_async(r->c->srv->loop, r->old_password, u->password_hash,
                                     on_old_checked, r) != 0) {
        req_db_error(r, err ? err : -EIO);
        req_free(r);
    }
}

void users_handle_passwd(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    Carillon__V1__UserPasswd *in = env->user_passwd;
    uint64_t rid = env->request_id;
    const char *target = in->login[0] ? in->login : c->user.login;
    bool self = strcmp(target, c->user.login) == 0;
    const char *problem;
    if ((problem = cr_password_weakness(in->new_password))) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "new_password", "%s",
                     problem);
        goto out;
    }
    if (strlen(in->old_password) > CR_PASSWORD_MAX) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "old_password",
                     "password is longer than 256 bytes");
        goto out;
    }
    if (self && !is_admin(c) && !in->old_password[0]) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "old_password",
                     "changing your own password needs the current one");
        goto out;
    }
    struct user_req *r = req_new(c, rid);
    if (!r)
        goto out;
    r->self = self;
    snprintf(r->login, sizeof r->login, "%s", target);
    snprintf(r->password, sizeof r->password, "%s", in->new_password);
    snprintf(r->old_password, sizeof r->old_password, "%s", in->old_password);
    int rc;
    if (self && in->old_password[0])
        rc = store_user_by_login(c->srv->pg, r->login, on_self_loaded, r);
    else
        rc = password_hash_async(c->srv->loop, r->password, (unsigned)c->srv->cfg.scrypt_log_n,
                                 on_new_hash, r);
    if (rc) {
        req_db_error(r, -EIO);
        req_free(r);
    }
out:
    OPENSSL_cleanse(in->new_password, strlen(in->new_password));
    OPENSSL_cleanse(in->old_password, strlen(in->old_password));
    request_free(req);
}

/* --- disable / enable ----------------------------------------------------------------- */

static void on_disabled(void *arg, int err)
{
    struct user_req *r = arg;
    if (err) {
        req_db_error(r, err);
        req_free(r);
        return;
    }
    bool disabled = r->disable;
    cr_log_info(disabled ? "user_disabled" : "user_enabled", "by=%s user=%s",
                cr_log_q(r->c->user.login), cr_log_q(r->login));
    /* A disabled user's live connections end now, not when their session would expire. */
    if (disabled) {
        for (struct client *o = r->c->srv->clients; o; o = o->next)
            if (o->conn && o->state == CLIENT_USER && strcmp(o->user.login, r->login) == 0) {
                o->state = CLIENT_ANON;
                client_error(o, 0, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, NULL,
                             "your account was disabled");
                cr_conn_close(o->conn);
            }
    }
    client_ok(r->c, r->rid);
    req_free(r);
}

void users_handle_disable(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    Carillon__V1__UserDisable *in = env->user_disable;
    uint64_t rid = env->request_id;
    if (!in->enable && strcmp(in->login, c->user.login) == 0) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "login",
                     "you cannot disable yourself");
        goto out;
    }
    struct user_req *r = req_new(c, rid);
    if (!r)
        goto out;
    snprintf(r->login, sizeof r->login, "%s", in->login);
    r->disable = !in->enable;
    if (store_user_set_disabled(c->srv->pg, r->login, !in->enable, c->user.id, on_disabled, r)) {
        req_db_error(r, -EIO);
        req_free(r);
    }
out:
    request_free(req);
}

/* --- profiles --------------------------------------------------------------------------- */

static void on_profiles_set(void *arg, int err)
{
    struct user_req *r = arg;
    if (err) {
        req_db_error(r, err);
    } else {
        cr_log_info("user_profiles", "by=%s user=%s", cr_log_q(r->c->user.login),
                    cr_log_q(r->login));
        client_ok(r->c, r->rid);
    }
    req_free(r);
}

void users_handle_set_profiles(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    Carillon__V1__UserSetProfiles *in = env->user_set_profiles;
    uint64_t rid = env->request_id;
    char *array = NULL;
    if (in->n_profiles > 32) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "profiles",
                     "at most 32 profiles per user");
        goto out;
    }
    /* A text[] literal: {"p1","p2"}; profile names are checked like logins. */
    size_t len = 3;
    for (size_t i = 0; i < in->n_profiles; i++) {
        const char *why = login_problem(in->profiles[i]);
        if (why) {
            char field[32];
            snprintf(field, sizeof field, "profiles[%zu]", i);
            client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, field,
                         "profile '%s': %s", in->profiles[i],
                         strncmp(why, "login ", 6) == 0 ? why + 6 : why);
            goto out;
        }
        len += strlen(in->profiles[i]) + 3;
    }
    array = malloc(len);
    if (!array)
        goto out;
    size_t o = 0;
    array[o++] = '{';
    for (size_t i = 0; i < in->n_profiles; i++)
        o += (size_t)snprintf(array + o, len - o, "%s\"%s\"", i ? "," : "", in->profiles[i]);
    snprintf(array + o, len - o, "}");
    struct user_req *r = req_new(c, rid);
    if (!r)
        goto out;
    snprintf(r->login, sizeof r->login, "%s", in->login);
    if (store_user_set_profiles(c->srv->pg, in->login, array, c->user.id, on_profiles_set, r)) {
        req_db_error(r, -EIO);
        req_free(r);
    }
out:
    free(array);
    request_free(req);
}
