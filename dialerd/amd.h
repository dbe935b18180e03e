/* Answering-machine detection: a pure state machine fed 20 ms frames of 8 kHz 16-bit linear
 * audio from the answer on (no I/O, no clock: time is the count of frames), and a beep detector. */
#ifndef DIALERD_AMD_H
#define DIALERD_AMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spandsp.h>

#define AMD_FRAME      160 /* samples in one 20 ms frame at 8 kHz */
#define AMD_FRAME_MS   20
#define AMD_FLOOR_WIN  50 /* frames the noise floor is the minimum over (1 s) */
#define AMD_BEEP_TONES 65 /* Goertzel bins from 400 to 2000 Hz, 25 Hz apart */
#define AMD_REASON_MAX 32

/* The values of carillon.v1.AmdVerdict. */
enum amd_verdict { AMD_UNDECIDED = 0, AMD_HUMAN = 1, AMD_MACHINE = 2, AMD_NOT_SURE = 3 };

/* The detector's parameters, in ms unless said; each bounded by amd_params_check. */
struct amd_params {
    unsigned initial_silence_ms;        /* silence from the answer beyond this: machine */
    unsigned greeting_ms;               /* speech in total beyond this: machine */
    unsigned after_greeting_silence_ms; /* silence after speech beyond this: human */
    unsigned total_ms;                  /* no verdict by then: not sure */
    unsigned min_word_ms;               /* speech shorter than this is not a word */
    unsigned between_words_silence_ms;  /* silence that ends a word */
    unsigned max_words;                 /* this many words: machine */
    unsigned silence_threshold;         /* mean absolute amplitude under which a frame is silence */
    /* Adaptive noise floor: a frame is speech above max(silence_threshold, floor x
     * floor_ratio_pct / 100), the floor being the quietest frame of the last second. 0: off
     * (the fixed threshold alone, as Asterisk's app_amd). */
    unsigned floor_ratio_pct;
};

/* Asterisk's amd.conf.sample values, fixed threshold: the benchmark's reference. */
void amd_params_asterisk(struct amd_params *p);
/* dialerd's defaults (tuned on the benchmark's tuning half). */
void amd_params_default(struct amd_params *p);
/* 0, or -EINVAL with err naming the parameter out of bounds. */
int amd_params_check(const struct amd_params *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One detection; plain data, the owner allocates it (no resource to free). */
struct amd {
    struct amd_params p;
    unsigned now_ms; /* audio analysed so far */
    int16_t pending[AMD_FRAME];
    size_t npending;
    unsigned floor_win[AMD_FLOOR_WIN];
    size_t floor_n, floor_i;
    bool heard_voice, in_word;
    unsigned silence_ms, voice_ms, word_ms, words;
    unsigned greeting_end_ms; /* end of the last speech (0: none heard) */
    enum amd_verdict verdict;
    char reason[AMD_REASON_MAX];
    unsigned verdict_ms;
};

void amd_init(struct amd *a, const struct amd_params *p);
/* Mean absolute amplitude of a frame and whether the detector's VAD calls it speech (updates
 * the noise floor). */
bool amd_vad(struct amd *a, const int16_t *pcm, unsigned *energy);
/* One 20 ms frame; returns the verdict once it is reached (then the same on every call). */
enum amd_verdict amd_frame(struct amd *a, const int16_t pcm[AMD_FRAME]);
/* Any number of samples: whole frames are analysed as they fill. */
enum amd_verdict amd_feed(struct amd *a, const int16_t *pcm, size_t n);
/* No audio for the rest of the analysis (the call went quiet, RTP stopped): decides now with
 * reason `why` if undecided. */
void amd_give_up(struct amd *a, const char *why);

/* LEAVE_MESSAGE: after a machine verdict, waits for the greeting's beep (a steady tone in
 * 400-2000 Hz) or, without one, for a silence after the speech that ends the greeting. */
struct amd_beep {
    struct amd vad; /* its voice activity detector only */
    goertzel_descriptor_t bins[AMD_BEEP_TONES];
    unsigned now_ms, tone_ms, silence_ms, end_silence_ms;
    int tone_bin;
    bool spoke, tone_seen;
    unsigned tone_hz; /* the beep heard, for logs */
};

enum amd_beep_result { AMD_BEEP_WAIT = 0, AMD_BEEP_HEARD = 1, AMD_BEEP_SILENCE = 2 };

/* end_silence_ms: a silence this long after speech ends the greeting without a beep. */
void amd_beep_init(struct amd_beep *b, const struct amd_params *p, unsigned end_silence_ms);
enum amd_beep_result amd_beep_frame(struct amd_beep *b, const int16_t pcm[AMD_FRAME]);

/* G.711 to linear (law 8: A-law, else mu-law). */
int16_t amd_g711_linear(uint8_t v, int law);

#endif
