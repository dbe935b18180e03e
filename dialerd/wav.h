/* The abandon message: a WAV file of G.711 (A-law or mu-law, 8 kHz, mono, 8 bits), read once at
 * start so that playing it never touches the disk. */
#ifndef DIALERD_WAV_H
#define DIALERD_WAV_H

#include <stddef.h>
#include <stdint.h>

#define DL_WAV_MAX_BYTES (1u << 20) /* about two minutes of G.711 */

/* Reads path into *samples (malloc'd, n bytes) and *law (8 A-law, 0 mu-law). 0, or -EINVAL /
 * -EFBIG / -errno with err naming the file and what is wrong. */
int dl_wav_load(const char *path, uint8_t **samples, size_t *n, int *law, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
