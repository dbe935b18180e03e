/* Answering-machine detection (see amd.h): app_amd's state machine (Asterisk), whose parameters
 * are the reference, with an adaptive noise floor in front of it; and a beep detector.
 *
 * What DSP is ours and why: the beep detector uses spandsp's Goertzel filters (libspandsp). The
 * voice activity decision is a few lines of our own (the mean absolute amplitude of a 20 ms frame
 * against a fixed threshold and the quietest frame of the last second): Debian 12 packages no
 * voice activity detector library (no libfvad; spandsp has tone and power meters, not speech
 * detection), and app_amd's rules are stated in that energy's terms, which keeps our parameters
 * and the benchmark's Asterisk reference comparable with amd.conf. */
#include "amd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void amd_params_asterisk(struct amd_params *p)
{
    *p = (struct amd_params){
        .initial_silence_ms = 2500,
        .greeting_ms = 1500,
        .after_greeting_silence_ms = 800,
        .total_ms = 5000,
        .min_word_ms = 100,
        .between_words_silence_ms = 50,
        .max_words = 2,
        .silence_threshold = 256,
        .floor_ratio_pct = 0,
    };
}

void amd_params_default(struct amd_params *p)
{
    amd_params_asterisk(p);
    /* tuned on tests/bench/amd's tuning half (its --tune): Asterisk's 1500 ms and 2 words call
     * "Oui, bonjour, c'est Claire Martin" a machine; 800 ms after the greeting kept */
    p->greeting_ms = 2200;
    p->max_words = 5;
    p->between_words_silence_ms = 100;
    p->after_greeting_silence_ms = 800;
    p->silence_threshold = 128;
    p->floor_ratio_pct = 300;
}

int amd_params_check(const struct amd_params *p, char *err, size_t errlen)
{
    const struct {
        const char *name;
        unsigned v, lo, hi;
    } k[] = {
        {"initial_silence", p->initial_silence_ms, 100, 30000},
        {"greeting", p->greeting_ms, 100, 30000},
        {"after_greeting_silence", p->after_greeting_silence_ms, 20, 10000},
        {"total_analysis_time", p->total_ms, 500, 30000},
        {"min_word_length", p->min_word_ms, 20, 5000},
        {"between_words_silence", p->between_words_silence_ms, 20, 5000},
        {"maximum_number_of_words", p->max_words, 1, 100},
        {"silence_threshold", p->silence_threshold, 1, 32767},
        {"noise_floor_ratio", p->floor_ratio_pct, 0, 10000},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (k[i].v < k[i].lo || k[i].v > k[i].hi) {
            snprintf(err, errlen, "amd %s: %u is out of %u..%u", k[i].name, k[i].v, k[i].lo,
                     k[i].hi);
            return -EINVAL;
        }
    return 0;
}

void amd_init(struct amd *a, const struct amd_params *p)
{
    memset(a, 0, sizeof *a);
    a->p = *p;
    /* Until a second of audio is in, the floor window starts at the fixed threshold: speech
     * from the first frame ("Allô ?" at the answer) is not taken for the floor. */
    for (size_t i = 0; i < AMD_FLOOR_WIN; i++)
        a->floor_win[i] = p->silence_threshold;
}

bool amd_vad(struct amd *a, const int16_t *pcm, unsigned *energy)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < AMD_FRAME; i++)
        sum += (unsigned long)abs(pcm[i]);
    unsigned e = (unsigned)(sum / AMD_FRAME);
    if (energy)
        *energy = e;
    unsigned thr = a->p.silence_threshold;
    if (a->p.floor_ratio_pct) {
        a->floor_win[a->floor_i] = e;
        a->floor_i = (a->floor_i + 1) % AMD_FLOOR_WIN;
        unsigned floor = a->floor_win[0];
        for (size_t i = 1; i < AMD_FLOOR_WIN; i++)
            if (a->floor_win[i] < floor)
                floor = a->floor_win[i];
        unsigned long adaptive = (unsigned long)floor * a->p.floor_ratio_pct / 100;
        if (adaptive > thr)
            thr = adaptive > 32767 ? 32767 : (unsigned)adaptive;
    }
    return e >= thr;
}

static enum amd_verdict decide(struct amd *a, enum amd_verdict v, const char *why)
{
    a->verdict = v;
    a->verdict_ms = a->now_ms;
    snprintf(a->reason, sizeof a->reason, "%s", why);
    return v;
}

enum amd_verdict amd_frame(struct amd *a, const int16_t pcm[AMD_FRAME])
{
    if (a->verdict != AMD_UNDECIDED)
        return a->verdict;
    bool speech = amd_vad(a, pcm, NULL);
    a->now_ms += AMD_FRAME_MS;
    if (!speech) {
        a->silence_ms += AMD_FRAME_MS;
        a->word_ms = 0;
        if (a->in_word && a->silence_ms >= a->p.between_words_silence_ms)
            a->in_word = false;
        if (!a->heard_voice && a->silence_ms >= a->p.initial_silence_ms)
            return decide(a, AMD_MACHINE, "initial_silence");
        if (a->heard_voice && a->silence_ms >= a->p.after_greeting_silence_ms)
            return decide(a, AMD_HUMAN, "after_greeting_silence");
    } else {
        a->silence_ms = 0;
        a->word_ms += AMD_FRAME_MS;
        if (a->heard_voice)
            a->voice_ms += AMD_FRAME_MS;
        if (!a->in_word && a->word_ms >= a->p.min_word_ms) {
            a->in_word = true;
            if (!a->heard_voice) /* the word's first frames count too */
                a->voice_ms += a->word_ms;
            a->heard_voice = true;
            if (++a->words >= a->p.max_words) {
                a->greeting_end_ms = a->now_ms;
                return decide(a, AMD_MACHINE, "words");
            }
        }
        if (a->in_word)
            a->greeting_end_ms = a->now_ms;
        if (a->voice_ms >= a->p.greeting_ms)
            return decide(a, AMD_MACHINE, "greeting");
    }
    if (a->now_ms >= a->p.total_ms)
        return decide(a, AMD_NOT_SURE, "max_time");
    return AMD_UNDECIDED;
}

enum amd_verdict amd_feed(struct amd *a, const int16_t *pcm, size_t n)
{
    while (n > 0 && a->verdict == AMD_UNDECIDED) {
        size_t take = AMD_FRAME - a->npending < n ? AMD_FRAME - a->npending : n;
        memcpy(a->pending + a->npending, pcm, take * sizeof *pcm);
        a->npending += take;
        pcm += take;
        n -= take;
        if (a->npending == AMD_FRAME) {
            a->npending = 0;
            amd_frame(a, a->pending);
        }
    }
    return a->verdict;
}

void amd_give_up(struct amd *a, const char *why)
{
    if (a->verdict == AMD_UNDECIDED)
        decide(a, AMD_NOT_SURE, why);
}

/* --- beep ---------------------------------------------------------------------------------- */

#define BEEP_FIRST_HZ 400
#define BEEP_STEP_HZ  25
#define BEEP_PURITY   0.55 /* share of the frame's energy in one bin: a tone, not speech */
#define BEEP_MIN_MS   120  /* a tone this long is a beep */
#define BEEP_MAX_MS   3000 /* a tone still on after this is not waited out */

void amd_beep_init(struct amd_beep *b, const struct amd_params *p, unsigned end_silence_ms)
{
    memset(b, 0, sizeof *b);
    amd_init(&b->vad, p);
    b->end_silence_ms = end_silence_ms;
    b->tone_bin = -1;
    /* spandsp's Goertzel, one filter per 25 Hz bin over a 20 ms block: a bin spacing under the
     * 50 Hz resolution of 160 samples keeps an off-bin tone within 1 dB of its peak. */
    for (int i = 0; i < AMD_BEEP_TONES; i++)
        make_goertzel_descriptor(&b->bins[i], (float)(BEEP_FIRST_HZ + BEEP_STEP_HZ * i), AMD_FRAME);
}

enum amd_beep_result amd_beep_frame(struct amd_beep *b, const int16_t pcm[AMD_FRAME])
{
    b->now_ms += AMD_FRAME_MS;
    bool speech = amd_vad(&b->vad, pcm, NULL);
    double energy = 0;
    for (size_t i = 0; i < AMD_FRAME; i++)
        energy += (double)pcm[i] * pcm[i];
    int best = -1;
    double best_share = 0;
    if (speech && energy > 0) {
        for (int i = 0; i < AMD_BEEP_TONES; i++) {
            goertzel_state_t s;
            goertzel_init(&s, &b->bins[i]);
            goertzel_update(&s, (int16_t *)pcm, AMD_FRAME);
            /* a pure on-bin tone gives energy x N */
            double share = (double)goertzel_result(&s) / (energy * AMD_FRAME);
            if (share > best_share) {
                best_share = share;
                best = i;
            }
        }
    }
    bool tone = best >= 0 && best_share >= BEEP_PURITY;
    if (tone && b->tone_bin >= 0 && abs(best - b->tone_bin) <= 1) {
        b->tone_ms += AMD_FRAME_MS;
    } else if (tone) {
        b->tone_bin = best;
        b->tone_ms = AMD_FRAME_MS;
    } else {
        b->tone_ms = 0;
        b->tone_bin = -1;
    }
    if (b->tone_ms >= BEEP_MIN_MS) {
        b->tone_seen = true;
        b->tone_hz = (unsigned)(BEEP_FIRST_HZ + BEEP_STEP_HZ * b->tone_bin);
    }
    if (b->tone_seen && (!tone || b->tone_ms >= BEEP_MAX_MS))
        return AMD_BEEP_HEARD; /* the beep is over (or will not end): speak now */
    if (speech) {
        b->spoke = true;
        b->silence_ms = 0;
    } else {
        b->silence_ms += AMD_FRAME_MS;
        if (b->spoke && b->silence_ms >= b->end_silence_ms)
            return AMD_BEEP_SILENCE;
    }
    return AMD_BEEP_WAIT;
}

/* --- G.711 decoding (ITU-T G.711 tables, as media.c's) -------------------------------------- */

int16_t amd_g711_linear(uint8_t v, int law)
{
    if (law == 8) {
        v ^= 0x55;
        int t = (v & 0x0F) << 4;
        int seg = (v & 0x70) >> 4;
        if (seg == 0)
            t += 8;
        else
            t = (t + 0x108) << (seg - 1);
        return (int16_t)((v & 0x80) ? t : -t);
    }
    v = (uint8_t)~v;
    int t = (((v & 0x0F) << 3) + 0x84) << ((v & 0x70) >> 4);
    return (int16_t)((v & 0x80) ? (0x84 - t) : (t - 0x84));
}
