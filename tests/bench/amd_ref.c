/* tests/bench/amd's helper, built by the script against dialerd/amd.c: the offline pass of a
 * corpus file's frames through the detector (the reference: Asterisk's fixed defaults; or
 * dialerd's defaults with overrides, for tuning on the tuning half), G.711 loss, and where a
 * clean greeting ends.
 *   amd_ref detect asterisk|default [key=N ...] FILE.al...
 *       one line per file: "FILE VERDICT REASON MS GREETING_END_MS" (raw A-law, 8 kHz);
 *       keys: initial_silence greeting after_greeting_silence total min_word between_words
 *       max_words threshold floor_ratio
 *   amd_ref lose IN.al OUT.al PERCENT SEED   20 ms packets lost (replaced by A-law silence)
 *   amd_ref gend IN.al   ms where the greeting ends: the last sound louder than -40 dBFS
 *                        before the first 1.5 s of silence */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amd.h"

#define MAX_BYTES (8000 * 120) /* two minutes of A-law */

static uint8_t audio[MAX_BYTES];

static size_t load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "amd_ref: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t n = fread(audio, 1, sizeof audio, f);
    fclose(f);
    return n;
}

static int set_key(struct amd_params *p, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return -1;
    unsigned v = (unsigned)strtoul(eq + 1, NULL, 10);
    size_t k = (size_t)(eq - kv);
    static const char *const names[] = {"initial_silence", "greeting",  "after_greeting_silence",
                                        "total",           "min_word",  "between_words",
                                        "max_words",       "threshold", "floor_ratio"};
    unsigned *fields[] = {
        &p->initial_silence_ms, &p->greeting_ms,       &p->after_greeting_silence_ms,
        &p->total_ms,           &p->min_word_ms,       &p->between_words_silence_ms,
        &p->max_words,          &p->silence_threshold, &p->floor_ratio_pct};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == k && !strncmp(kv, names[i], k)) {
            *fields[i] = v;
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    static const char *const verdicts[] = {"none", "human", "machine", "not_sure"};
    if (argc >= 4 && !strcmp(argv[1], "detect")) {
        struct amd_params p;
        if (!strcmp(argv[2], "asterisk"))
            amd_params_asterisk(&p);
        else
            amd_params_default(&p);
        int i = 3;
        for (; i < argc && strchr(argv[i], '='); i++)
            if (set_key(&p, argv[i])) {
                fprintf(stderr, "amd_ref: unknown key %s\n", argv[i]);
                return 2;
            }
        char err[128];
        if (amd_params_check(&p, err, sizeof err)) {
            fprintf(stderr, "amd_ref: %s\n", err);
            return 2;
        }
        for (; i < argc; i++) {
            size_t n = load(argv[i]);
            struct amd a;
            amd_init(&a, &p);
            int16_t pcm[AMD_FRAME];
            for (size_t off = 0; off + AMD_FRAME <= n && a.verdict == AMD_UNDECIDED;
                 off += AMD_FRAME) {
                for (size_t j = 0; j < AMD_FRAME; j++)
                    pcm[j] = amd_g711_linear(audio[off + j], 8);
                amd_frame(&a, pcm);
            }
            amd_give_up(&a, "no_audio"); /* the file ended first */
            printf("%s %s %s %u %u\n", argv[i], verdicts[a.verdict], a.reason, a.verdict_ms,
                   a.greeting_end_ms);
        }
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "lose")) {
        size_t n = load(argv[2]);
        unsigned pct = (unsigned)atoi(argv[4]);
        srand((unsigned)atoi(argv[5]));
        for (size_t off = 0; off < n; off += AMD_FRAME)
            if ((unsigned)(rand() % 100) < pct)
                memset(audio + off, 0xD5, n - off < AMD_FRAME ? n - off : AMD_FRAME);
        FILE *f = fopen(argv[3], "wb");
        if (!f || fwrite(audio, 1, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "amd_ref: %s: cannot write\n", argv[3]);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "gend")) {
        /* the greeting: from the first sound to the first silence of 1.5 s after it */
        size_t n = load(argv[2]);
        unsigned end = 0, quiet = 0;
        for (size_t off = 0; off + AMD_FRAME <= n; off += AMD_FRAME) {
            unsigned long sum = 0;
            for (size_t j = 0; j < AMD_FRAME; j++)
                sum += (unsigned long)abs(amd_g711_linear(audio[off + j], 8));
            if (sum / AMD_FRAME > 330) { /* about -40 dBFS */
                end = (unsigned)((off + AMD_FRAME) / 8);
                quiet = 0;
            } else if (end && (quiet += 20) >= 1500) {
                break;
            }
        }
        printf("%u\n", end);
        return 0;
    }
    fprintf(stderr, "usage: amd_ref detect asterisk|default [key=N...] FILE... | lose IN OUT PCT "
                    "SEED | gend IN\n");
    return 2;
}
