/* Fuzz target: arbitrary bytes through the frame decoder (in random split points) and every
 * decoded payload through the Envelope parser, as a server would receive them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *arg, const uint8_t *payload, size_t len)
{
    size_t *frames = arg;
    (*frames)++;
    Carillon__V1__Envelope *env = cr_frame_unpack(payload, len);
    if (env) {
        /* Re-pack what was understood. protobuf-c keeps unknown fields, including a tag of
         * field number 0 it should have refused, and re-packing those can give bytes it will
         * not parse again; Carillon never re-sends a received Envelope, so only memory safety
         * is checked here, not that round trip. */
        uint8_t *out = NULL;
        size_t out_len = 0;
        if (cr_frame_pack(env, CR_FRAME_LIMIT_MAX, &out, &out_len) == 0) {
            Carillon__V1__Envelope *again =
                cr_frame_unpack(out + CR_FRAME_HEADER, out_len - CR_FRAME_HEADER);
            if (again)
                carillon__v1__envelope__free_unpacked(again, NULL);
            free(out);
        }
        carillon__v1__envelope__free_unpacked(env, NULL);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the read size, so splits are explored too. */
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, 64 * 1024);
    size_t frames = 0;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (cr_frame_decoder_feed(&d, data + off, n, on_frame, &frames) != 0)
            break;
    }
    cr_frame_decoder_free(&d);
    return 0;
}
