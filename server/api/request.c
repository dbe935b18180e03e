/* The request object every handler works on, and require_right, the one place where the server
 * decides who may do what (Redis's processCommand checks ACLs the same way, at dispatch). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "carillon/log.h"

const char *right_name(enum right r)
{
    switch (r) {
    case RIGHT_USER:
        return "user";
    case RIGHT_SELF_OR_ADMIN:
        return "self-or-admin";
    case RIGHT_STAFF:
        return "supervisor";
    case RIGHT_ADMIN:
        return "admin";
    case RIGHT_VIEW:
        return "view";
    case RIGHT_EDIT:
        return "edit";
    case RIGHT_EXPORT:
        return "export";
    case RIGHT_CREATE:
        return "edit";
    }
    return "?";
}

struct request *request_new(struct client *c, Carillon__V1__Envelope *env)
{
    struct request *req = calloc(1, sizeof *req);
    if (!req) {
        client_error(c, env->request_id, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                     "out of memory");
        carillon__v1__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    req->c = c;
    req->id = env->request_id;
    req->env = env;
    req->campaign = "";
    client_ref(c);
    return req;
}

void request_free(struct request *req)
{
    if (!req)
        return;
    if (req->env)
        carillon__v1__envelope__free_unpacked(req->env, NULL);
    client_unref(req->c);
    free(req);
}

Carillon__V1__Envelope *request_take_env(struct request *req)
{
    Carillon__V1__Envelope *env = req->env;
    req->env = NULL;
    return env;
}

void request_reply(struct request *req, Carillon__V1__Envelope *out)
{
    client_reply(req->c, req->id, out);
}

void request_ok(struct request *req)
{
    client_ok(req->c, req->id);
}

void request_fail(struct request *req, int code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    client_error(req->c, req->id, code, field, "%s", msg);
    request_free(req);
}

static bool is_staff(const struct client *c)
{
    return c->user.role == STORE_ROLE_ADMIN || c->user.role == STORE_ROLE_SUPERVISOR;
}

bool request_holds(const struct request *req, enum right right)
{
    const struct client *c = req->c;
    if (c->user.role == STORE_ROLE_ADMIN)
        return true;
    switch (right) {
    case RIGHT_USER:
        return true;
    case RIGHT_SELF_OR_ADMIN:
        return false; /* decided by require_right with its target */
    case RIGHT_STAFF:
        return is_staff(c);
    case RIGHT_ADMIN:
        return false;
    case RIGHT_VIEW:
        return is_staff(c) && req->access.view;
    case RIGHT_EDIT:
    case RIGHT_CREATE:
        return is_staff(c) && req->access.edit;
    case RIGHT_EXPORT:
        return is_staff(c) && req->access.export_;
    }
    return false;
}

static void deny(struct request *req, enum right right, const char *why)
{
    cr_log_warn("permission_denied", "peer=%s user=%s role=%s campaign=%s right=%s", req->c->peer,
                cr_log_q(req->c->user.login), store_role_name(req->c->user.role),
                req->campaign[0] ? cr_log_q(req->campaign) : "-", right_name(right));
    request_fail(req, CARILLON__V1__CODE__CODE_PERMISSION_DENIED,
                 req->campaign[0] ? "campaign" : NULL, "%s", why);
}

static bool campaign_right(enum right r)
{
    return r == RIGHT_VIEW || r == RIGHT_EDIT || r == RIGHT_EXPORT || r == RIGHT_CREATE;
}

static void on_access(void *arg, int err, const struct campaign_access *a)
{
    struct request *req = arg;
    enum right right = req->right;
    if (!req->c->conn) { /* the client left while we looked: nobody to answer */
        request_free(req);
        return;
    }
    if (err)
        return request_fail(req, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                            "the database is unavailable, try again");
    req->campaign_exists = a->exists;
    if (req->c->user.role == STORE_ROLE_ADMIN) {
        req->access.view = req->access.edit = req->access.export_ = 1;
        req->access.exists = a->exists;
    } else {
        req->access = *a;
    }
    if (!a->exists) {
        if (right == RIGHT_CREATE) /* a new campaign: any supervisor may create one */
            return req->allowed(req);
        return request_fail(req, CARILLON__V1__CODE__CODE_NOT_FOUND, "campaign",
                            "no campaign named '%s'", req->campaign);
    }
    if (!request_holds(req, right)) {
        char why[160];
        snprintf(why, sizeof why, "you do not have the %s right on campaign '%.80s'",
                 right_name(right), req->campaign);
        return deny(req, right, why);
    }
    req->allowed(req);
}

void require_right(struct request *req, const char *campaign, const char *target, enum right right,
                   void (*allowed)(struct request *req))
{
    struct client *c = req->c;
    req->campaign = campaign ? campaign : "";
    req->allowed = allowed;
    req->right = right;
    bool admin = c->user.role == STORE_ROLE_ADMIN;
    char why[160];
    switch (right) {
    case RIGHT_USER:
        return allowed(req);
    case RIGHT_SELF_OR_ADMIN:
        if (admin || !target || !target[0] || !strcmp(target, c->user.login))
            return allowed(req);
        return deny(req, right, "this needs the admin role when it is about another user");
    case RIGHT_STAFF:
        if (is_staff(c))
            return allowed(req);
        snprintf(why, sizeof why, "this needs the supervisor or admin role; you are %s",
                 store_role_name(c->user.role));
        return deny(req, right, why);
    case RIGHT_ADMIN:
        if (admin)
            return allowed(req);
        snprintf(why, sizeof why, "this needs the admin role; you are %s",
                 store_role_name(c->user.role));
        return deny(req, right, why);
    default:
        break;
    }
    if (!campaign_right(right))
        return deny(req, right, "unknown right");
    if (!is_staff(c)) {
        snprintf(why, sizeof why,
                 "campaign configuration and contacts need the supervisor or admin role; you "
                 "are %s",
                 store_role_name(c->user.role));
        return deny(req, right, why);
    }
    if (!req->campaign[0]) {
        /* No campaign: the global scope (the global blacklist), which only admins hold. */
        if (admin) {
            req->access.view = req->access.edit = req->access.export_ = 1;
            return allowed(req);
        }
        return deny(req, right,
                    "without a campaign this acts on every campaign: it needs the "
                    "admin role");
    }
    if (store_campaign_access(c->srv->pg, req->campaign, c->user.id, on_access, req) != 0)
        request_fail(req, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "the database is unavailable, try again");
}
