/* Framing: 4-byte big-endian length + packed Envelope, decoded incrementally (see frame.h). */
#include "carillon/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cr_frame_decoder_init(struct cr_frame_decoder *d, size_t max_frame)
{
    memset(d, 0, sizeof *d);
    d->max_frame = max_frame ? max_frame : CR_FRAME_DEFAULT_MAX;
    if (d->max_frame > CR_FRAME_LIMIT_MAX)
        d->max_frame = CR_FRAME_LIMIT_MAX;
}

void cr_frame_decoder_free(struct cr_frame_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Makes room for need bytes in the buffer; the buffer never exceeds header + max_frame. */
static int reserve(struct cr_frame_decoder *d, size_t need)
{
    if (need <= d->cap)
        return 0;
    size_t cap = d->cap ? d->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > d->max_frame + CR_FRAME_HEADER)
        cap = d->max_frame + CR_FRAME_HEADER;
    uint8_t *nb = realloc(d->buf, cap);
    if (!nb)
        return -ENOMEM;
    d->buf = nb;
    d->cap = cap;
    return 0;
}

int cr_frame_decoder_feed(struct cr_frame_decoder *d, const uint8_t *data, size_t len,
                          cr_frame_cb cb, void *arg)
{
    size_t used;
    return cr_frame_decoder_feed_part(d, data, len, cb, arg, &used);
}

int cr_frame_decoder_feed_part(struct cr_frame_decoder *d, const uint8_t *data, size_t len,
                               cr_frame_cb cb, void *arg, size_t *used)
{
    const uint8_t *start = data;
    *used = 0;
    if (d->failed)
        return d->failed;
    while (len > 0 || d->len >= CR_FRAME_HEADER) {
        /* Whole frames straight from the input when nothing is buffered: no copy. */
        if (d->len == 0 && len >= CR_FRAME_HEADER) {
            uint32_t n = be32(data);
            if (n > d->max_frame)
                return d->failed = -EMSGSIZE;
            if (len >= CR_FRAME_HEADER + (size_t)n) {
                const uint8_t *payload = data + CR_FRAME_HEADER;
                data += CR_FRAME_HEADER + n;
                len -= CR_FRAME_HEADER + n;
                *used = (size_t)(data - start);
                int rc = cb(arg, payload, n);
                if (rc)
                    return rc;
                continue;
            }
        }
        /* Otherwise accumulate: first the header, then exactly the announced payload. */
        size_t want = CR_FRAME_HEADER;
        if (d->len >= CR_FRAME_HEADER) {
            uint32_t n = be32(d->buf);
            if (n > d->max_frame)
                return d->failed = -EMSGSIZE;
            want = CR_FRAME_HEADER + (size_t)n;
        }
        if (d->len < want) {
            if (len == 0)
                return 0;
            size_t take = want - d->len < len ? want - d->len : len;
            int rc = reserve(d, d->len + take);
            if (rc)
                return rc;
            memcpy(d->buf + d->len, data, take);
            d->len += take;
            data += take;
            len -= take;
            *used = (size_t)(data - start);
            if (d->len == CR_FRAME_HEADER && be32(d->buf) > d->max_frame)
                return d->failed = -EMSGSIZE;
            continue;
        }
        /* d->len == want: one whole frame buffered. */
        d->len = 0;
        int rc = cb(arg, d->buf + CR_FRAME_HEADER, want - CR_FRAME_HEADER);
        if (rc)
            return rc;
    }
    return 0;
}

void cr_frame_decoder_release(struct cr_frame_decoder *d)
{
    if (d->len == 0 && d->buf) {
        free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
}

int cr_frame_pack(const Carillon__V1__Envelope *env, size_t max_frame, uint8_t **out,
                  size_t *out_len)
{
    if (!max_frame)
        max_frame = CR_FRAME_DEFAULT_MAX;
    size_t n = carillon__v1__envelope__get_packed_size(env);
    if (n > max_frame)
        return -EMSGSIZE;
    uint8_t *buf = malloc(CR_FRAME_HEADER + n);
    if (!buf)
        return -ENOMEM;
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    carillon__v1__envelope__pack(env, buf + CR_FRAME_HEADER);
    *out = buf;
    *out_len = CR_FRAME_HEADER + n;
    return 0;
}

Carillon__V1__Envelope *cr_frame_unpack(const uint8_t *payload, size_t len)
{
    return carillon__v1__envelope__unpack(NULL, len, payload);
}
