/* The session conversation: Hello/Welcome (with the daemon role checked against the peer
 * certificate), Login by password or token with failed-login limits, Logout, Ping, WhoAmI. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/server.h"
#include "auth/password.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define TOKEN_BYTES 32

void user_to_info(const struct store_user *u, Carillon__V1__UserInfo *info,
                  struct user_info_buf *buf)
{
    carillon__v1__user_info__init(info);
    snprintf(buf->copy, sizeof buf->copy, "%s", u->profiles);
    char *save = NULL;
    for (char *t = strtok_r(buf->copy, "\x1f", &save); t && info->n_profiles < 64;
         t = strtok_r(NULL, "\x1f", &save))
        buf->ptrs[info->n_profiles++] = t;
    info->profiles = buf->ptrs;
    info->id = u->id;
    info->login = (char *)u->login;
    info->display_name = (char *)u->display_name;
    info->role = (Carillon__V1__UserRole)u->role;
    info->disabled = u->disabled;
    info->created_at = u->created_at;
}

/* --- password work on the thread pool --------------------------------------------------- */

struct password_work {
    uv_work_t req;
    char password[CR_PASSWORD_MAX + 1];
    char hash[CR_PASSWORD_HASH_MAX];
    unsigned log_n;
    bool verify;
    bool ok;
    int err;
    password_done_cb cb;
    void *arg;
};

static void password_work(uv_work_t *req)
{
    struct password_work *w = req->data;
    if (w->verify)
        w->ok = cr_password_verify(w->password, w->hash);
    else
        w->err = cr_password_hash(w->password, w->log_n, w->hash);
}

static void password_after(uv_work_t *req, int status)
{
    struct password_work *w = req->data;
    OPENSSL_cleanse(w->password, sizeof w->password);
    w->cb(w->arg, status ? status : w->err, w->ok, w->hash);
    free(w);
}

static int password_queue(uv_loop_t *loop, const char *password, const char *hash, unsigned log_n,
                          bool verify, password_done_cb cb, void *arg)
{
    if (strlen(password) > CR_PASSWORD_MAX || (hash && strlen(hash) >= CR_PASSWORD_HASH_MAX))
        return -EINVAL;
    struct password_work *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    snprintf(w->password, sizeof w->password, "%s", password);
    if (hash)
        snprintf(w->hash, sizeof w->hash, "%s", hash);
    w->log_n = log_n;
    w->verify = verify;
    w->cb = cb;
    w->arg = arg;
    w->req.data = w;
    int rc = uv_queue_work(loop, &w->req, password_work, password_after);
    if (rc) {
        free(w);
        return rc;
    }
    return 0;
}

int password_verify_async(uv_loop_t *loop, const char *password, const char *hash,
                          password_done_cb cb, void *arg)
{
    return password_queue(loop, password, hash, 0, true, cb, arg);
}

int password_hash_async(uv_loop_t *loop, const char *password, unsigned log_n, password_done_cb cb,
                        void *arg)
{
    return password_queue(loop, password, NULL, log_n, false, cb, arg);
}

/* --- Hello ---------------------------------------------------------------------------- */

static const char *role_cert_name(int role)
{
    switch (role) {
    case CARILLON__V1__ROLE__ROLE_DIALER:
        return "dialer";
    case CARILLON__V1__ROLE__ROLE_AGENTD:
        return "agentd";
    default:
        return NULL;
    }
}

void session_handle_hello(struct client *c, Carillon__V1__Envelope *env)
{
    Carillon__V1__Hello *h = env->hello;
    uint64_t rid = env->request_id;
    struct server *srv = c->srv;
    snprintf(c->node_name, sizeof c->node_name, "%s", h->node_name);

    if (h->protocol_version != CR_PROTOCOL_VERSION) {
        cr_log_warn("hello_refused", "peer=%s reason=version version=%u", c->peer,
                    h->protocol_version);
        client_error(c, rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "protocol_version",
                     "unsupported protocol version %u: this server speaks version %d",
                     h->protocol_version, CR_PROTOCOL_VERSION);
        cr_conn_close(c->conn);
        goto out;
    }
    const char *need = role_cert_name(h->role);
    if (need) {
        const char *have = cr_conn_peer_role(c->conn);
        if (!cr_conn_peer_verified(c->conn) || !have || strcmp(have, need) != 0) {
            cr_log_warn("hello_refused", "peer=%s reason=certificate role=%s cert_role=%s", c->peer,
                        need, have ? have : "none");
            client_error(c, rid, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "role",
                         "role %s needs a client certificate issued for it (OU=%s); %s", need, need,
                         have ? "this certificate is for another role" : "none was sent");
            cr_conn_close(c->conn);
            goto out;
        }
        c->state = CLIENT_DAEMON;
        cr_log_info("daemon_connected", "peer=%s role=%s node=%s cn=%s", c->peer, need,
                    cr_log_q(c->node_name), cr_log_q(cr_conn_peer_cn(c->conn)));
    } else if (h->role == CARILLON__V1__ROLE__ROLE_SUPERVISOR ||
               h->role == CARILLON__V1__ROLE__ROLE_AGENT) {
        c->state = CLIENT_ANON;
    } else {
        client_error(c, rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "role",
                     "Hello needs a role: supervisor, agent, agentd or dialer");
        cr_conn_close(c->conn);
        goto out;
    }
    c->role = h->role;

    Carillon__V1__Welcome w = CARILLON__V1__WELCOME__INIT;
    w.protocol_version = CR_PROTOCOL_VERSION;
    w.node_name = srv->cfg.node_name;
    w.software = "carillon-server " CARILLON_VERSION;
    w.max_frame = (uint32_t)srv->cfg.max_frame;
    Carillon__V1__Envelope reply = CARILLON__V1__ENVELOPE__INIT;
    reply.body_case = CARILLON__V1__ENVELOPE__BODY_WELCOME;
    reply.welcome = &w;
    client_reply(c, rid, &reply);
out:
    carillon__v1__envelope__free_unpacked(env, NULL);
}

/* --- Login ---------------------------------------------------------------------------- */

/* One login in progress; holds a reference on the client until it answers. */
struct login {
    struct client *c;
    uint64_t rid;
    char login[STORE_LOGIN_MAX + 1];
    char password[CR_PASSWORD_MAX + 1];
    char token[2 * TOKEN_BYTES + 1];
    char token_sha256[65];
    struct store_user user;
    bool user_found;
    bool counted; /* in srv->logins_in_progress (password logins) */
    /* an agent's login on an agentd link (session_password_check): no client of its own */
    struct server *srv;
    char ip[48], peer[64];
    password_check_cb cb;
    void *arg;
};

static uint64_t now_ms(void)
{
    return (uint64_t)(cr_now_us() / 1000);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The per-address limiter counts password failures per login and address together, so 20
 * wrong passwords typed behind an office's NAT lock that login from there, never the office:
 * its other users, and anyone with a session token, still log in (README, "Security"). */
static void addr_key(char *out, size_t n, const char *ip, const char *login)
{
    snprintf(out, n, "%s\x1f%s", ip, login);
}

static void login_free(struct login *l)
{
    if (l->counted)
        l->srv->logins_in_progress--;
    if (l->c) {
        l->c->login_pending = false;
        client_unref(l->c);
    }
    OPENSSL_cleanse(l->password, sizeof l->password);
    OPENSSL_cleanse(l->token, sizeof l->token);
    free(l);
}

static void login_refuse(struct login *l, int code, const char *fmt, const char *arg)
{
    if (l->cb) {
        char msg[256];
        snprintf(msg, sizeof msg, fmt, arg);
        l->cb(l->arg, code, msg, NULL);
    } else {
        client_error(l->c, l->rid, code, NULL, fmt, arg);
    }
    login_free(l);
}

/* Counts a failed login against the login and the address and answers. */
static void login_failed(struct login *l, const char *reason)
{
    struct server *srv = l->srv;
    uint64_t t = now_ms();
    /* A token is 256 random bits: guessing one is hopeless, so a stale token counts against
     * nothing (it must not lock out the people sharing an address). */
    bool by_password = strcmp(reason, "token") != 0;
    char ak[RATELIMIT_KEY_MAX];
    addr_key(ak, sizeof ak, l->ip, l->login);
    uint64_t lock_login = by_password ? ratelimit_fail(&srv->login_limit, l->login, t) : 0;
    uint64_t lock_addr = by_password ? ratelimit_fail(&srv->addr_limit, ak, t) : 0;
    cr_log_warn("login_failed", "peer=%s login=%s reason=%s", l->peer, cr_log_q(l->login), reason);
    if (lock_login)
        cr_log_warn("login_locked", "login=%s for_ms=%llu", cr_log_q(l->login),
                    (unsigned long long)lock_login);
    if (lock_addr)
        cr_log_warn("address_locked", "peer=%s login=%s for_ms=%llu", l->peer, cr_log_q(l->login),
                    (unsigned long long)lock_addr);
    /* A token that no longer opens a session (logged out, expired, password changed, user
     * disabled) says so; a password failure does not tell which of login or password is wrong. */
    login_refuse(l, CARILLON__V1__CODE__CODE_UNAUTHENTICATED, "%s",
                 strcmp(reason, "token") ? "wrong login or password"
                                         : "session expired or unknown: log in again");
}

static void on_session_created(void *arg, int err, const struct store_user *u, int64_t expires_at)
{
    struct login *l = arg;
    struct client *c = l->c;
    if (err) {
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s",
                     "could not open a session: the database is unavailable, try again");
        return;
    }
    if (c->state == CLIENT_CLOSED) {
        login_free(l);
        return;
    }
    c->user = *u;
    c->user.password_hash[0] = '\0';
    c->state = CLIENT_USER;
    c->session_expires_at = expires_at;
    memcpy(c->token_sha256, l->token_sha256, sizeof c->token_sha256);
    ratelimit_reset(&c->srv->login_limit, l->login);
    cr_log_info("login", "peer=%s user=%s role=%s method=%s", c->peer, cr_log_q(u->login),
                store_role_name(u->role), l->token[0] && !l->password[0] ? "token" : "password");

    Carillon__V1__UserInfo info;
    struct user_info_buf ib;
    user_to_info(&c->user, &info, &ib);
    Carillon__V1__LoginOk ok = CARILLON__V1__LOGIN_OK__INIT;
    ok.user = &info;
    ok.token = l->token;
    ok.expires_at = expires_at;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGIN_OK;
    env.login_ok = &ok;
    client_reply(c, l->rid, &env);
    login_free(l);
}

static void on_password_checked(void *arg, int err, bool ok, const char *hash)
{
    (void)hash;
    struct login *l = arg;
    struct server *srv = l->srv;
    if (err) {
        login_refuse(l, CARILLON__V1__CODE__CODE_INTERNAL, "%s", "password check failed");
        return;
    }
    if (!ok || !l->user_found) {
        login_failed(l, l->user_found ? "password" : "unknown_login");
        return;
    }
    if (l->user.disabled) {
        cr_log_warn("login_refused", "peer=%s login=%s reason=disabled", l->peer,
                    cr_log_q(l->login));
        login_refuse(l, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "user '%s' is disabled",
                     l->login);
        return;
    }
    if (l->cb) {
        ratelimit_reset(&srv->login_limit, l->login);
        l->cb(l->arg, 0, NULL, &l->user);
        login_free(l);
        return;
    }
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        login_refuse(l, CARILLON__V1__CODE__CODE_INTERNAL, "%s", "no randomness for a token");
        return;
    }
    for (int i = 0; i < TOKEN_BYTES; i++)
        snprintf(l->token + 2 * i, 3, "%02x", raw[i]);
    sha256_hex(l->token, l->token_sha256);
    int rc = store_session_create(srv->pg, l->user.id, l->token_sha256, l->c->peer,
                                  srv->cfg.session_ttl_ms / 1000, on_session_created, l);
    if (rc)
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s", "database unavailable");
}

/* An unknown login costs what a known one does: the password is hashed once with the
 * current cost, on the thread pool like every scrypt (never on the loop), and thrown away. */
static void on_dummy_hashed(void *arg, int err, bool ok, const char *hash)
{
    (void)ok;
    (void)hash;
    on_password_checked(arg, err, false, NULL);
}

static void on_user_loaded(void *arg, int err, const struct store_user *u)
{
    struct login *l = arg;
    struct server *srv = l->srv;
    if (err && err != -ENOENT) {
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s",
                     "the database is unavailable, try again");
        return;
    }
    l->user_found = err == 0;
    if (u)
        l->user = *u;
    int rc = l->user_found
                 ? password_verify_async(srv->loop, l->password, l->user.password_hash,
                                         on_password_checked, l)
                 : password_hash_async(srv->loop, l->password, (unsigned)srv->cfg.scrypt_log_n,
                                       on_dummy_hashed, l);
    if (rc)
        login_refuse(l, CARILLON__V1__CODE__CODE_INTERNAL, "%s", "password check failed");
}

static void on_token_checked(void *arg, int err, const struct store_user *u, int64_t expires_at)
{
    struct login *l = arg;
    if (err == -ENOENT || (!err && strcmp(u->login, l->login) != 0 && l->login[0])) {
        login_failed(l, "token");
        return;
    }
    if (err) {
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s",
                     "the database is unavailable, try again");
        return;
    }
    /* The token stays the caller's: LoginOk echoes it. */
    on_session_created(l, 0, u, expires_at);
}

void session_handle_login(struct client *c, Carillon__V1__Envelope *env)
{
    struct server *srv = c->srv;
    Carillon__V1__Login *in = env->login;
    uint64_t rid = env->request_id;
    const char *field = NULL;
    const char *why = NULL;

    if (c->state == CLIENT_USER)
        why = "already logged in on this connection", field = "login";
    else if (c->login_pending)
        why = "a login is already in progress on this connection", field = "login";
    else if (in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD && !in->login[0])
        why = "login is empty", field = "login";
    else if (strlen(in->login) > STORE_LOGIN_MAX)
        why = "login is longer than 64 bytes", field = "login";
    else if (in->secret_case == CARILLON__V1__LOGIN__SECRET__NOT_SET)
        why = "Login needs a password or a token", field = "password";
    else if (in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD &&
             strlen(in->password) > CR_PASSWORD_MAX)
        why = "password is longer than 256 bytes", field = "password";
    else if (in->secret_case == CARILLON__V1__LOGIN__SECRET_TOKEN &&
             strlen(in->token) != 2 * TOKEN_BYTES)
        why = "token is malformed", field = "token";
    if (why) {
        client_error(c, rid,
                     c->state == CLIENT_USER || c->login_pending
                         ? CARILLON__V1__CODE__CODE_FAILED_PRECONDITION
                         : CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                     field, "%s", why);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }

    bool by_password = in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD;
    uint64_t t = now_ms();
    char ak[RATELIMIT_KEY_MAX];
    addr_key(ak, sizeof ak, c->ip, in->login);
    uint64_t wait_login =
        by_password && in->login[0] ? ratelimit_check(&srv->login_limit, in->login, t) : 0;
    uint64_t wait_addr = by_password ? ratelimit_check(&srv->addr_limit, ak, t) : 0;
    if (wait_login || wait_addr) {
        uint64_t wait = wait_login > wait_addr ? wait_login : wait_addr;
        cr_log_warn("login_refused", "peer=%s login=%s reason=rate_limited retry_ms=%llu", c->peer,
                    cr_log_q(in->login), (unsigned long long)wait);
        if (wait_login)
            client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, "login",
                         "too many failed logins for '%s'; try again in %llu s", in->login,
                         (unsigned long long)((wait + 999) / 1000));
        else
            client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, "login",
                         "too many failed logins for '%s' from %s; try again in %llu s", in->login,
                         c->ip, (unsigned long long)((wait + 999) / 1000));
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }

    /* Each password login holds an scrypt (about 32 MiB, tens of ms) on the thread pool: the
     * queue of them is bounded, so a login flood answers at once instead of piling up. */
    if (by_password && srv->logins_in_progress >= srv->cfg.max_logins_in_progress) {
        cr_log_warn("login_refused", "peer=%s login=%s reason=too_many_logins in_progress=%d",
                    c->peer, cr_log_q(in->login), srv->logins_in_progress);
        client_error(c, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "too many logins in progress (max_logins_in_progress = %lld): try again",
                     (long long)srv->cfg.max_logins_in_progress);
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    struct login *l = calloc(1, sizeof *l);
    if (!l) {
        client_error(c, rid, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    l->c = c;
    l->srv = srv;
    snprintf(l->ip, sizeof l->ip, "%s", c->ip);
    snprintf(l->peer, sizeof l->peer, "%s", c->peer);
    l->rid = rid;
    l->counted = by_password;
    if (by_password)
        srv->logins_in_progress++;
    client_ref(c);
    c->login_pending = true;
    snprintf(l->login, sizeof l->login, "%s", in->login);
    int rc;
    if (in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD) {
        snprintf(l->password, sizeof l->password, "%s", in->password);
        rc = store_user_by_login(srv->pg, l->login, on_user_loaded, l);
    } else {
        snprintf(l->token, sizeof l->token, "%s", in->token);
        sha256_hex(l->token, l->token_sha256);
        rc = store_session_lookup(srv->pg, l->token_sha256, on_token_checked, l);
    }
    OPENSSL_cleanse(
        in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD ? in->password : in->token,
        strlen(in->secret_case == CARILLON__V1__LOGIN__SECRET_PASSWORD ? in->password : in->token));
    carillon__v1__envelope__free_unpacked(env, NULL);
    if (rc)
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s",
                     "the database is unavailable, try again");
}

void session_password_check(struct server *srv, const char *login, const char *password,
                            const char *ip, const char *peer, password_check_cb cb, void *arg)
{
    uint64_t t = now_ms();
    char ak[RATELIMIT_KEY_MAX];
    addr_key(ak, sizeof ak, ip, login);
    uint64_t wait_login = ratelimit_check(&srv->login_limit, login, t);
    uint64_t wait_addr = ratelimit_check(&srv->addr_limit, ak, t);
    char msg[256];
    if (wait_login || wait_addr) {
        uint64_t wait = wait_login > wait_addr ? wait_login : wait_addr;
        cr_log_warn("login_refused", "peer=%s login=%s reason=rate_limited retry_ms=%llu", peer,
                    cr_log_q(login), (unsigned long long)wait);
        snprintf(msg, sizeof msg, "too many failed logins for '%s'%s%s; try again in %llu s", login,
                 wait_login ? "" : " from ", wait_login ? "" : ip,
                 (unsigned long long)((wait + 999) / 1000));
        cb(arg, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, msg, NULL);
        return;
    }
    if (srv->logins_in_progress >= srv->cfg.max_logins_in_progress) {
        cr_log_warn("login_refused", "peer=%s login=%s reason=too_many_logins in_progress=%d", peer,
                    cr_log_q(login), srv->logins_in_progress);
        snprintf(msg, sizeof msg,
                 "too many logins in progress (max_logins_in_progress = %lld): try again",
                 (long long)srv->cfg.max_logins_in_progress);
        cb(arg, CARILLON__V1__CODE__CODE_UNAVAILABLE, msg, NULL);
        return;
    }
    struct login *l = calloc(1, sizeof *l);
    if (!l) {
        cb(arg, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return;
    }
    l->srv = srv;
    l->cb = cb;
    l->arg = arg;
    l->counted = true;
    srv->logins_in_progress++;
    snprintf(l->ip, sizeof l->ip, "%s", ip);
    snprintf(l->peer, sizeof l->peer, "%s", peer);
    snprintf(l->login, sizeof l->login, "%s", login);
    snprintf(l->password, sizeof l->password, "%s", password);
    if (store_user_by_login(srv->pg, l->login, on_user_loaded, l) != 0)
        login_refuse(l, CARILLON__V1__CODE__CODE_UNAVAILABLE, "%s",
                     "the database is unavailable, try again");
}

/* --- Logout, Ping, WhoAmI ------------------------------------------------------------- */

struct pending {
    struct client *c;
    uint64_t rid;
};

static struct pending *pending_new(struct client *c, uint64_t rid)
{
    struct pending *p = malloc(sizeof *p);
    if (p) {
        p->c = c;
        p->rid = rid;
        client_ref(c);
    }
    return p;
}

static void pending_done(struct pending *p)
{
    client_unref(p->c);
    free(p);
}

static void on_logged_out(void *arg, int err)
{
    struct pending *p = arg;
    if (err && err != -ENOENT)
        client_error(p->c, p->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "could not revoke the session: the database is unavailable");
    else
        client_ok(p->c, p->rid);
    pending_done(p);
}

void session_handle_logout(struct client *c, Carillon__V1__Envelope *env)
{
    uint64_t rid = env->request_id;
    carillon__v1__envelope__free_unpacked(env, NULL);
    if (c->state != CLIENT_USER) {
        client_ok(c, rid);
        return;
    }
    cr_log_info("logout", "peer=%s user=%s", c->peer, cr_log_q(c->user.login));
    c->state = CLIENT_ANON;
    struct pending *p = pending_new(c, rid);
    if (!p || store_session_delete(c->srv->pg, c->token_sha256, on_logged_out, p) != 0) {
        if (p)
            pending_done(p);
        client_error(c, rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "could not revoke the session: the database is unavailable");
    }
}

void session_handle_ping(struct client *c, Carillon__V1__Envelope *env)
{
    Carillon__V1__Pong pong = CARILLON__V1__PONG__INIT;
    pong.sent_at_us = env->ping->sent_at_us;
    pong.server_time_us = cr_now_us();
    pong.server_version = "carillon-server " CARILLON_VERSION;
    Carillon__V1__Envelope reply = CARILLON__V1__ENVELOPE__INIT;
    reply.body_case = CARILLON__V1__ENVELOPE__BODY_PONG;
    reply.pong = &pong;
    client_reply(c, env->request_id, &reply);
    carillon__v1__envelope__free_unpacked(env, NULL);
}

void session_handle_whoami(struct client *c, Carillon__V1__Envelope *env)
{
    Carillon__V1__UserInfo info;
    struct user_info_buf ib;
    user_to_info(&c->user, &info, &ib);
    Carillon__V1__WhoAmIReply r = CARILLON__V1__WHO_AM_IREPLY__INIT;
    r.user = &info;
    r.session_expires_at = c->session_expires_at;
    Carillon__V1__Envelope reply = CARILLON__V1__ENVELOPE__INIT;
    reply.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY;
    reply.whoami_reply = &r;
    client_reply(c, env->request_id, &reply);
    carillon__v1__envelope__free_unpacked(env, NULL);
}
