/* Framing: a 4-byte big-endian length, then one packed carillon.v1.Envelope. The decoder takes
 * bytes as they arrive (any split) and yields whole frames; every frame has a maximum size. */
#ifndef CARILLON_FRAME_H
#define CARILLON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "carillon/v1/envelope.pb-c.h"

#define CR_FRAME_HEADER      4
#define CR_FRAME_DEFAULT_MAX (1u << 20)  /* 1 MiB */
#define CR_FRAME_LIMIT_MAX   (64u << 20) /* no configuration may go above 64 MiB */
#define CR_PROTOCOL_VERSION  1

/* Owned by whoever embeds it; cr_frame_decoder_free() releases its buffer. */
struct cr_frame_decoder {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max_frame;
    int failed; /* sticky: once a frame is oversized, every later feed fails */
};

/* Called for each complete frame; payload is valid during the call only. A non-zero return
 * stops decoding and is returned by cr_frame_decoder_feed(). */
typedef int (*cr_frame_cb)(void *arg, const uint8_t *payload, size_t len);

void cr_frame_decoder_init(struct cr_frame_decoder *d, size_t max_frame);
void cr_frame_decoder_free(struct cr_frame_decoder *d);
/* Returns 0, -EMSGSIZE when a frame header announces more than max_frame (nothing of that frame
 * is buffered), -ENOMEM, or the callback's non-zero return. */
int cr_frame_decoder_feed(struct cr_frame_decoder *d, const uint8_t *data, size_t len,
                          cr_frame_cb cb, void *arg) __attribute__((warn_unused_result));
/* Like cr_frame_decoder_feed, and *used says how many bytes of data were consumed (buffered or
 * delivered) when it returns: after a callback's non-zero return, data + *used is where the next
 * frame starts, so a caller that pauses keeps the rest for later. */
int cr_frame_decoder_feed_part(struct cr_frame_decoder *d, const uint8_t *data, size_t len,
                               cr_frame_cb cb, void *arg, size_t *used)
    __attribute__((warn_unused_result));
/* Frees the buffer when no partial frame is held, so an idle peer costs no buffer. */
void cr_frame_decoder_release(struct cr_frame_decoder *d);

/* Packs env behind its length header into a malloc'd buffer (*out, *out_len). Returns 0,
 * -EMSGSIZE when the packed envelope exceeds max_frame, or -ENOMEM. */
int cr_frame_pack(const Carillon__V1__Envelope *env, size_t max_frame, uint8_t **out,
                  size_t *out_len) __attribute__((warn_unused_result));

/* Unpacks one frame payload. Returns NULL when it is not a valid Envelope. Free with
 * carillon__v1__envelope__free_unpacked(env, NULL). */
Carillon__V1__Envelope *cr_frame_unpack(const uint8_t *payload, size_t len);

#endif
