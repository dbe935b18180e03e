/* carillon-dialerd's outbox: every call event, numbered, kept until the server acknowledges it,
 * so that events raised while the server link is down are replayed once it is back. */
#ifndef DIALERD_OUTBOX_H
#define DIALERD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "sip.h"

struct dl_outbox; /* dl_outbox_new allocates, dl_outbox_free frees */

/* cap: events kept at most (1..1,000,000). */
int dl_outbox_new(size_t cap, struct dl_outbox **out) __attribute__((warn_unused_result));
void dl_outbox_free(struct dl_outbox *ob);
/* Numbers ev (1, 2, 3 ...) and keeps a copy. When full, the oldest event is dropped first:
 * *dropped (if not NULL) says whether one was. Returns ev's number. */
uint64_t dl_outbox_push(struct dl_outbox *ob, const struct dl_event *ev, int *dropped);
/* The server has every event up to seq: they are freed. */
void dl_outbox_ack(struct dl_outbox *ob, uint64_t seq);
/* Kept events, oldest first: i in [0, dl_outbox_len). */
size_t dl_outbox_len(const struct dl_outbox *ob);
const struct dl_event *dl_outbox_at(const struct dl_outbox *ob, size_t i, uint64_t *seq);
/* Events dropped for lack of room since the start. */
uint64_t dl_outbox_dropped(const struct dl_outbox *ob);

#endif
