/* One request of a logged-in person, from dispatch to its answer, and the server's one policy
 * point: the route table (listener.c) names the right each request needs, require_right decides. */
#ifndef CARILLON_REQUEST_H
#define CARILLON_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "api/server.h"
#include "store/campaign_store.h"

/* What a route needs. Campaign rights (VIEW, EDIT, EXPORT, CREATE) are on the campaign the
 * request names; admins pass every check; agents hold none of the staff or campaign rights,
 * whatever the grants table says. */
enum right {
    RIGHT_USER,          /* any logged-in user, about themselves (whoami, their saved filters) */
    RIGHT_SELF_OR_ADMIN, /* the request's target login is the caller's own, or the caller is admin
                          */
    RIGHT_STAFF,         /* supervisors and admins; no campaign (what they see is filtered) */
    RIGHT_ADMIN,
    RIGHT_VIEW,   /* the campaign's view right */
    RIGHT_EDIT,   /* the campaign's edit right */
    RIGHT_EXPORT, /* the campaign's export right */
    RIGHT_CREATE, /* edit on an existing campaign; any supervisor may create a new one */
};

const char *right_name(enum right r);

/* Without the export right, a contact listing returns at most this many rows per request and
 * stops at this many contacts of a campaign (README, "Rights"). */
#define REQUEST_VIEW_PAGE_MAX 100
#define REQUEST_VIEW_ROWS_MAX 1000

/* Owns the envelope and a reference to the client until request_free. Allocated by
 * request_new at dispatch; freed by the handler with request_free, or by request_fail. */
struct request {
    struct client *c;
    uint64_t id; /* the request_id, echoed in the answer */
    Carillon__V1__Envelope *env;
    const char *campaign;          /* the campaign the route names ("" when none); in env */
    bool campaign_exists;          /* set by require_right for campaign rights */
    struct campaign_access access; /* the caller's rights on campaign (admin: all) */
    enum right right;              /* the right being checked */
    void (*allowed)(struct request *req);
};

/* NULL when out of memory (answered, env freed). */
struct request *request_new(struct client *c, Carillon__V1__Envelope *env);
void request_free(struct request *req);
/* Takes the envelope out of the request (for state that outlives it: an import). */
Carillon__V1__Envelope *request_take_env(struct request *req);
/* Sends the answer; the request stays the caller's to free. */
void request_reply(struct request *req, Carillon__V1__Envelope *out);
void request_ok(struct request *req);
/* Answers with an error and frees the request. */
void request_fail(struct request *req, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The one policy point. Runs allowed(req) when the caller holds right on campaign (NULL or "":
 * none); otherwise answers PERMISSION_DENIED (NOT_FOUND for a campaign that does not exist,
 * except for RIGHT_CREATE) and frees req. target: the login RIGHT_SELF_OR_ADMIN is about. */
void require_right(struct request *req, const char *campaign, const char *target, enum right right,
                   void (*allowed)(struct request *req));

/* Whether the caller holds right on the request's campaign, as require_right found it (for what
 * a route permits beyond its own right: an unpaged listing needs export). */
bool request_holds(const struct request *req, enum right right);

#endif
