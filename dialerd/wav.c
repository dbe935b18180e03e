/* The abandon message's WAV reader (see wav.h): RIFF chunks walked with explicit bounds; only
 * the formats a trunk carries as they are (G.711) are accepted, so nothing is resampled. */
#include "wav.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int dl_wav_load(const char *path, uint8_t **samples, size_t *n, int *law, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    size_t cap = DL_WAV_MAX_BYTES + 4096;
    uint8_t *buf = malloc(cap);
    size_t len = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    int rc = -EINVAL;
    const char *why = NULL;
    int fmt_law = -1;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    if (len == cap) {
        rc = -EFBIG;
        why = "larger than 1 MiB of audio";
    } else if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0) {
        why = "not a RIFF/WAVE file";
    } else {
        for (size_t off = 12; off + 8 <= len && !why;) {
            uint32_t size = le32(buf + off + 4);
            if (size > len - off - 8) {
                why = "a chunk runs past the end of the file";
                break;
            }
            const uint8_t *body = buf + off + 8;
            if (!memcmp(buf + off, "fmt ", 4)) {
                if (size < 16) {
                    why = "its fmt chunk is too short";
                    break;
                }
                uint16_t format = le16(body), channels = le16(body + 2), bits = le16(body + 14);
                uint32_t rate = le32(body + 4);
                if ((format != 6 && format != 7) || channels != 1 || rate != 8000 || bits != 8)
                    why = "not G.711 (A-law or mu-law), 8 kHz, mono, 8 bits";
                else
                    fmt_law = format == 6 ? 8 : 0;
            } else if (!memcmp(buf + off, "data", 4)) {
                data = body;
                data_len = size;
            }
            off += 8 + (size_t)size + (size & 1);
        }
        if (!why && fmt_law < 0)
            why = "no fmt chunk";
        else if (!why && (!data || data_len == 0))
            why = "no audio (empty data chunk)";
    }
    if (why) {
        snprintf(err, errlen, "%s: %s", path, why);
        free(buf);
        return rc;
    }
    memmove(buf, data, data_len);
    uint8_t *shrunk = realloc(buf, data_len);
    *samples = shrunk ? shrunk : buf;
    *n = data_len;
    *law = fmt_law;
    return 0;
}
