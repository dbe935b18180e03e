/* carillon-dialerd's RTP relay, on the libuv loop: one UDP socket per call leg (the even port
 * its SDP offered), audio relayed between a bridged customer leg and agent leg. */
#ifndef DIALERD_MEDIA_H
#define DIALERD_MEDIA_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sip.h"

struct dl_rtp; /* dl_rtp_new allocates; dl_rtp_close frees */
struct dl_leg; /* one call leg's RTP socket and stream state; owned by dl_rtp */

struct dl_leg_stats {
    uint64_t rx, tx, tx_silence /* idle frames: silence or the idle sound */, rx_dtmf, dropped;
};

int dl_rtp_new(uv_loop_t *loop, const char *bind_ip, struct dl_rtp **out)
    __attribute__((warn_unused_result));
/* What idle agent legs hear instead of silence: n G.711 samples (law 8: A-law, 0: mu-law),
 * looped. The samples must outlive rtp. */
void dl_rtp_set_idle(struct dl_rtp *rtp, const uint8_t *samples, size_t n, int law);
/* Closes every leg, then frees rtp once libuv has let go of the handles. */
void dl_rtp_close(struct dl_rtp *rtp);

/* Binds 127.0.0.1-style bind_ip:port for leg id (an attempt id, or agent_id | DL_AGENT_BIT).
 * silence: while not bridged, send 20 ms of G.711 silence (or of the idle sound) every 20 ms once
 * the far end's address is known (agent legs). NULL when the port cannot be bound or id is
 * already open. */
struct dl_leg *dl_leg_open(struct dl_rtp *rtp, uint64_t id, int port, bool silence);
struct dl_leg *dl_leg_find(struct dl_rtp *rtp, uint64_t id);
/* The far end's address and payload types (from its SDP). */
void dl_leg_remote(struct dl_leg *leg, const struct dl_media *m);
/* Relays a's packets to b and b's to a (each unbridged first). 0 or -EINVAL (same leg). */
int dl_leg_bridge(struct dl_leg *a, struct dl_leg *b);
void dl_leg_unbridge(struct dl_leg *leg);
bool dl_leg_bridged(const struct dl_leg *leg);
struct dl_leg_stats dl_leg_stats(const struct dl_leg *leg);
typedef void (*dl_leg_cb)(struct dl_leg *leg, void *arg);
uint64_t dl_leg_id(const struct dl_leg *leg);
/* A number the owner keeps with the leg (dialerd: the call's abandon delay in ms). */
void dl_leg_set_user(struct dl_leg *leg, unsigned v);
unsigned dl_leg_user(const struct dl_leg *leg);
/* Calls cb once after ms, unless a bridge or the close comes first. */
void dl_leg_after(struct dl_leg *leg, unsigned ms, dl_leg_cb cb, void *arg);
/* Sends n G.711 samples (law 8: A-law, 0: mu-law) to the far end in 20 ms packets of this leg's
 * stream (converted to the law it chose), then calls cb. A bridge or the close stops it first.
 * The samples must outlive the playback. */
void dl_leg_play(struct dl_leg *leg, const uint8_t *samples, size_t n, int law, dl_leg_cb cb,
                 void *arg);
/* A receive tap (AMD): cb gets each received G.711 audio packet's samples decoded to 16-bit
 * linear (any count), before any relay. The leg owns arg from here: free_arg(arg) runs when
 * another tap replaces it or the leg closes. cb may set another tap or play on the leg, never
 * close it. NULL cb: no tap. */
typedef void (*dl_leg_tap_cb)(struct dl_leg *leg, const int16_t *pcm, size_t n, void *arg);
void dl_leg_set_tap(struct dl_leg *leg, dl_leg_tap_cb cb, void *arg, void (*free_arg)(void *));
/* The tap's arg (kept after dl_leg_stop_tap), or NULL. */
void *dl_leg_tap_arg(const struct dl_leg *leg);
/* Stops calling the tap; its arg stays owned by the leg. */
void dl_leg_stop_tap(struct dl_leg *leg);
/* Unbridges, closes the socket, forgets the leg. */
void dl_leg_close(struct dl_leg *leg);

/* G.711 A-law <-> mu-law, one byte (exposed for the unit test). */
uint8_t dl_alaw_to_ulaw(uint8_t a);
uint8_t dl_ulaw_to_alaw(uint8_t u);

#endif
