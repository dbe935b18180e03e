/* Bulk transfers (file imports and exports) hold a database backend each for their length: the
 * [bulk] limits on how many run at once, server-wide and per user, and the janitor that ends
 * those left idle (PgBouncer's client_idle_timeout, enforced the same way). */
#include <errno.h>
#include <stdio.h>

#include "api/server.h"

/* How often the janitor looks: idle transfers end within this much of their timeout. */
#define BULK_JANITOR_MS 250
/* The smallest work_mem a transfer's backend gets, whatever bulk.memory says. */
#define BULK_WORK_MEM_MIN_KB (4 * 1024)

static int transfers_of(const struct client *c)
{
    return (c->import != NULL) + (c->export != NULL);
}

int bulk_admit(const struct client *c, char *why, size_t len)
{
    const struct server *srv = c->srv;
    int64_t all = 0, mine = 0;
    for (const struct client *o = srv->clients; o; o = o->next) {
        int n = transfers_of(o);
        all += n;
        if (o->state == CLIENT_USER && o->user.id == c->user.id)
            mine += n;
    }
    if (mine >= srv->cfg.bulk_max_per_user) {
        snprintf(why, len,
                 "you already run %lld imports or exports, the most one user may "
                 "(bulk.max_per_user = %lld); wait for one to finish",
                 (long long)mine, (long long)srv->cfg.bulk_max_per_user);
        return -EBUSY;
    }
    if (all >= srv->cfg.bulk_max_concurrent) {
        snprintf(why, len,
                 "the server already runs %lld imports or exports, its most "
                 "(bulk.max_concurrent = %lld); try again later",
                 (long long)all, (long long)srv->cfg.bulk_max_concurrent);
        return -EBUSY;
    }
    return 0;
}

int64_t bulk_work_mem_kb(const struct server *srv)
{
    int64_t kb = srv->cfg.bulk_memory / 1024 /
                 (srv->cfg.bulk_max_concurrent > 0 ? srv->cfg.bulk_max_concurrent : 1);
    return kb < BULK_WORK_MEM_MIN_KB ? BULK_WORK_MEM_MIN_KB : kb;
}

static void on_janitor(uv_timer_t *t)
{
    struct server *srv = t->data;
    uint64_t now = uv_now(srv->loop), idle = (uint64_t)srv->cfg.bulk_idle_timeout_ms;
    /* Ending a transfer may drop the client's last reference: hold one while looking. */
    for (struct client *c = srv->clients, *next; c; c = next) {
        client_ref(c);
        import_check_idle(c, now, idle);
        export_check_idle(c, now, idle);
        next = c->next;
        client_unref(c);
    }
}

void bulk_janitor_start(struct server *srv)
{
    uv_timer_init(srv->loop, &srv->janitor);
    srv->janitor.data = srv;
    uv_timer_start(&srv->janitor, on_janitor, BULK_JANITOR_MS, BULK_JANITOR_MS);
    uv_unref((uv_handle_t *)&srv->janitor);
    srv->janitor_running = true;
}

void bulk_janitor_stop(struct server *srv)
{
    if (srv->janitor_running && !uv_is_closing((uv_handle_t *)&srv->janitor))
        uv_close((uv_handle_t *)&srv->janitor, NULL);
    srv->janitor_running = false;
}
