/* carillon-dialerd's outbox (see outbox.h): a ring of numbered event copies, oldest first, freed
 * by the server's acknowledgements and bounded by the configured event_buffer. */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>

struct dl_outbox {
    struct dl_event *ring;
    size_t cap, head, len;
    uint64_t first_seq; /* number of ring[head] */
    uint64_t next_seq;
    uint64_t dropped;
};

int dl_outbox_new(size_t cap, struct dl_outbox **out)
{
    if (cap == 0 || cap > 1000000)
        return -EINVAL;
    struct dl_outbox *ob = calloc(1, sizeof *ob);
    if (!ob || !(ob->ring = calloc(cap, sizeof *ob->ring))) {
        free(ob);
        return -ENOMEM;
    }
    ob->cap = cap;
    ob->first_seq = ob->next_seq = 1;
    *out = ob;
    return 0;
}

void dl_outbox_free(struct dl_outbox *ob)
{
    if (!ob)
        return;
    free(ob->ring);
    free(ob);
}

static void drop_oldest(struct dl_outbox *ob)
{
    ob->head = (ob->head + 1) % ob->cap;
    ob->len--;
    ob->first_seq++;
}

uint64_t dl_outbox_push(struct dl_outbox *ob, const struct dl_event *ev, int *dropped)
{
    int d = 0;
    if (ob->len == ob->cap) {
        drop_oldest(ob);
        ob->dropped++;
        d = 1;
    }
    if (ob->len == 0)
        ob->first_seq = ob->next_seq;
    ob->ring[(ob->head + ob->len) % ob->cap] = *ev;
    ob->len++;
    if (dropped)
        *dropped = d;
    return ob->next_seq++;
}

void dl_outbox_ack(struct dl_outbox *ob, uint64_t seq)
{
    while (ob->len > 0 && ob->first_seq <= seq)
        drop_oldest(ob);
}

size_t dl_outbox_len(const struct dl_outbox *ob)
{
    return ob->len;
}

const struct dl_event *dl_outbox_at(const struct dl_outbox *ob, size_t i, uint64_t *seq)
{
    if (i >= ob->len)
        return NULL;
    if (seq)
        *seq = ob->first_seq + i;
    return &ob->ring[(ob->head + i) % ob->cap];
}

uint64_t dl_outbox_dropped(const struct dl_outbox *ob)
{
    return ob->dropped;
}
