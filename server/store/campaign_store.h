/* SQL for campaign configuration. A Campaign protobuf goes in whole (apply: one transaction)
 * and comes out whole (get), so carillonctl's apply/get round trip is exact. */
#ifndef CARILLON_CAMPAIGN_STORE_H
#define CARILLON_CAMPAIGN_STORE_H

#include "carillon/pg.h"
#include "carillon/v1/campaign.pb-c.h"

/* Defaults of the campaign settings a file may leave out (campaign.proto says what each
 * means; the migrations' column defaults agree). */
#define CAMPAIGN_DEFAULT_POWER_RATIO        1.0
#define CAMPAIGN_DEFAULT_ABANDON_TARGET_PCT 3.0
#define CAMPAIGN_DEFAULT_RING_TIMEOUT_S     30
#define CAMPAIGN_DEFAULT_ABANDON_AFTER_MS   2000
#define CAMPAIGN_DEFAULT_WRAPUP_MAX_S       60

/* Allocations made while turning rows into a Campaign (arrays of pointers, sub-messages);
 * strings point into the PGresults, so the Campaign is valid during the callback only. */
struct campaign_mem {
    void **blocks;
    int n, cap;
};
void campaign_mem_free(struct campaign_mem *m);

/* Facts checked before an apply: logins that do not exist, whether the time zone is known,
 * and the campaign's current state and qualification group (empty when it does not exist). */
struct campaign_facts {
    int unknown_logins;
    const char *first_unknown_login;
    int tz_known;
    int exists;
    const char *state;
    const char *qualification_group;
    /* Answered questions: export_name, kind, text, select_type, predefined_type, matrix rows
     * and the choices used (both \x1f-joined), one row each. */
    const PGresult *used;
};
typedef void (*campaign_facts_cb)(void *arg, int err, const struct campaign_facts *f);
int store_campaign_facts(struct cr_pg *pg, const Carillon__V1__Campaign *c, campaign_facts_cb cb,
                         void *arg) __attribute__((warn_unused_result));

/* Creates or replaces the whole configuration of c (its state is left alone). cb's created
 * says whether the campaign is new. */
typedef void (*campaign_done_cb)(void *arg, int err, int created);
/* actor_id: a supervisor creating a campaign gets every right on it. */
int store_campaign_apply(struct cr_pg *pg, const Carillon__V1__Campaign *c, int64_t actor_id,
                         campaign_done_cb cb, void *arg) __attribute__((warn_unused_result));

/* Reads campaign name whole; err -ENOENT when there is none. */
typedef void (*campaign_get_cb)(void *arg, int err, const Carillon__V1__Campaign *c);
int store_campaign_get(struct cr_pg *pg, const char *name, campaign_get_cb cb, void *arg)
    __attribute__((warn_unused_result));

typedef void (*campaign_list_cb)(void *arg, int err, const Carillon__V1__CampaignListReply *r);
/* viewer_id 0: every campaign; else only those viewer_id may view. */
int store_campaign_list(struct cr_pg *pg, const Carillon__V1__CampaignList *filter,
                        int64_t viewer_id, campaign_list_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* The facts a state change is checked against. */
struct campaign_readiness {
    const char *state;
    int agents, slots, qualifications;
    int lists_to_call;  /* active lists with contacts waiting (or running) */
    long long lists;    /* all the campaign's lists */
    long long contacts; /* its contacts not deleted */
};
typedef void (*campaign_readiness_cb)(void *arg, int err, const struct campaign_readiness *r);
int store_campaign_readiness(struct cr_pg *pg, const char *name, campaign_readiness_cb cb,
                             void *arg) __attribute__((warn_unused_result));
int store_campaign_set_state(struct cr_pg *pg, const char *name, const char *from, const char *to,
                             int64_t actor_id, campaign_done_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Deletes name unless it is running (err -EBUSY). */
int store_campaign_delete(struct cr_pg *pg, const char *name, int64_t actor_id, campaign_done_cb cb,
                          void *arg) __attribute__((warn_unused_result));
/* Copies name's whole configuration to new_name, as a draft (err -EEXIST when taken). */
int store_campaign_duplicate(struct cr_pg *pg, const char *name, const char *new_name,
                             int64_t actor_id, campaign_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* A user's rights on a campaign (exists = 0 when there is no such campaign). */
struct campaign_access {
    int exists, view, edit, export_;
};
typedef void (*campaign_access_cb)(void *arg, int err, const struct campaign_access *a);
int store_campaign_access(struct cr_pg *pg, const char *name, int64_t user_id,
                          campaign_access_cb cb, void *arg) __attribute__((warn_unused_result));
/* Sets login's rights on campaign (all false: removes them). err -ENOENT: no such campaign
 * or user. */
int store_campaign_grant(struct cr_pg *pg, const char *campaign, const char *login, int view,
                         int edit, int export_, int64_t actor_id, campaign_done_cb cb, void *arg)
    __attribute__((warn_unused_result));
typedef void (*campaign_rights_cb)(void *arg, int err, const Carillon__V1__CampaignRights *r);
int store_campaign_rights(struct cr_pg *pg, const char *name, campaign_rights_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
