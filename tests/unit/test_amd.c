/* dialerd's answering-machine detector and beep detector (dialerd/amd.c) on synthesised audio:
 * silence, line noise, "words" (bursts of a harmonic-rich voiced sound), and beeps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "amd.h"

#define RATE 8000

static uint32_t rng = 12345;

static double noise1(void) /* uniform in [-1, 1) */
{
    rng = rng * 1664525u + 1013904223u;
    return (double)(rng >> 8) / (double)(1u << 23) - 1.0;
}

/* ms of audio into out (from sample *pos on); kind: 's' silence, 'n' noise of amplitude amp,
 * 'v' a voiced sound (F0 130 Hz, 20 harmonics) of amplitude amp over noise of amplitude
 * noise_amp, 't' a tone of hz. */
static size_t gen(int16_t *out, size_t pos, char kind, unsigned ms, double amp, double hz,
                  double noise_amp)
{
    size_t n = (size_t)ms * RATE / 1000;
    for (size_t i = 0; i < n; i++) {
        double t = (double)(pos + i) / RATE, v = 0;
        if (kind == 'n')
            v = amp * noise1();
        else if (kind == 'v')
            for (int h = 1; h <= 20; h++)
                v += amp / 20 * sin(2 * M_PI * 130 * h * t + h);
        else if (kind == 't')
            v = amp * sin(2 * M_PI * hz * t);
        v += noise_amp * noise1();
        out[pos + i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
    return pos + n;
}

static int16_t buf[RATE * 30];

/* Runs the detector over n samples, frame by frame, until a verdict. */
static enum amd_verdict run(struct amd *a, size_t n)
{
    for (size_t off = 0; off + AMD_FRAME <= n; off += AMD_FRAME)
        if (amd_frame(a, buf + off) != AMD_UNDECIDED)
            break;
    return a->verdict;
}

static void test_silence_is_a_machine(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    struct amd a;
    amd_init(&a, &p);
    size_t n = gen(buf, 0, 's', 6000, 0, 0, 0);
    assert_int_equal(run(&a, n), AMD_MACHINE);
    assert_string_equal(a.reason, "initial_silence");
    assert_int_equal(a.verdict_ms, p.initial_silence_ms);
    assert_int_equal(a.greeting_end_ms, 0);
}

static void test_short_hello_is_a_human(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    struct amd a;
    amd_init(&a, &p);
    size_t n = gen(buf, 0, 's', 300, 0, 0, 0);
    n = gen(buf, n, 'v', 500, 6000, 0, 0); /* "Allô ?" */
    n = gen(buf, n, 's', 3000, 0, 0, 0);
    assert_int_equal(run(&a, n), AMD_HUMAN);
    assert_string_equal(a.reason, "after_greeting_silence");
    assert_int_equal(a.greeting_end_ms, 800);
    assert_int_equal(a.verdict_ms, 800 + p.after_greeting_silence_ms);
}

static void test_long_greeting_is_a_machine(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    struct amd a;
    amd_init(&a, &p);
    size_t n = 0;
    for (int w = 0; w < 20; w++) { /* words of 400 ms, 60 ms apart: an announcement */
        n = gen(buf, n, 'v', 400, 6000, 0, 0);
        n = gen(buf, n, 's', 60, 0, 0, 0);
    }
    assert_int_equal(run(&a, n), AMD_MACHINE);
    assert_string_equal(a.reason, "greeting");
    assert_true(a.verdict_ms <= 3500);
}

static void test_many_words_are_a_machine(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    struct amd a;
    amd_init(&a, &p);
    size_t n = 0;
    for (int w = 0; w < 10; w++) { /* short words 200 ms apart */
        n = gen(buf, n, 'v', 160, 6000, 0, 0);
        n = gen(buf, n, 's', 200, 0, 0, 0);
    }
    assert_int_equal(run(&a, n), AMD_MACHINE);
    assert_string_equal(a.reason, "words");
    assert_int_equal(a.words, p.max_words);
}

static void test_blips_are_not_words(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    struct amd a;
    amd_init(&a, &p);
    size_t n = 0;
    for (int w = 0; w < 30; w++) { /* clicks of 40 ms: under min_word_length */
        n = gen(buf, n, 'v', 40, 6000, 0, 0);
        n = gen(buf, n, 's', 160, 0, 0, 0);
    }
    assert_int_equal(run(&a, n), AMD_NOT_SURE); /* no word, and no long silence either */
    assert_string_equal(a.reason, "max_time");
    assert_int_equal(a.words, 0);
}

static void test_not_sure_at_max_time(void **state)
{
    (void)state;
    struct amd_params p;
    amd_params_default(&p);
    p.max_words = 100;
    p.greeting_ms = 30000;
    struct amd a;
    amd_init(&a, &p);
    size_t n = 0;
    for (int w = 0; w < 20; w++) { /* words with pauses shorter than after_greeting_silence */
        n = gen(buf, n, 'v', 200, 6000, 0, 0);
        n = gen(buf, n, 's', 500, 0, 0, 0);
    }
    assert_int_equal(run(&a, n), AMD_NOT_SURE);
    assert_string_equal(a.reason, "max_time");
    assert_int_equal(a.verdict_ms, p.total_ms);
    struct amd b;
    amd_init(&b, &p);
    amd_give_up(&b, "no_audio");
    assert_int_equal(b.verdict, AMD_NOT_SURE);
    assert_string_equal(b.reason, "no_audio");
}

/* Line noise over the fixed threshold: Asterisk's parameters hear one long greeting (a
 * machine); the adaptive floor hears "Allô ?" then silence (a human). */
static void test_noise_floor_adapts(void **state)
{
    (void)state;
    size_t n = gen(buf, 0, 'n', 1200, 700, 0, 0);
    n = gen(buf, n, 'v', 500, 16000, 0, 700);
    n = gen(buf, n, 'n', 3000, 700, 0, 0);
    struct amd_params p;
    struct amd a;
    amd_params_default(&p);
    amd_init(&a, &p);
    assert_int_equal(run(&a, n), AMD_HUMAN);
    assert_true(a.greeting_end_ms >= 1600 && a.greeting_end_ms <= 1800);
    amd_params_asterisk(&p);
    amd_init(&a, &p);
    assert_int_equal(run(&a, n), AMD_MACHINE);
}

static void test_feed_any_packet_size(void **state)
{
    (void)state;
    size_t n = gen(buf, 0, 'v', 500, 6000, 0, 0);
    n = gen(buf, n, 's', 2000, 0, 0, 0);
    struct amd_params p;
    amd_params_default(&p);
    struct amd a, b;
    amd_init(&a, &p);
    amd_init(&b, &p);
    run(&a, n);
    for (size_t off = 0; off < n && b.verdict == AMD_UNDECIDED; off += 77)
        amd_feed(&b, buf + off, n - off < 77 ? n - off : 77);
    assert_int_equal(a.verdict, b.verdict);
    assert_int_equal(a.verdict_ms, b.verdict_ms);
    assert_int_equal(a.greeting_end_ms, b.greeting_end_ms);
}

static void test_params_bounded(void **state)
{
    (void)state;
    struct amd_params p;
    char err[128];
    amd_params_asterisk(&p);
    assert_int_equal(amd_params_check(&p, err, sizeof err), 0);
    p.max_words = 0;
    assert_int_not_equal(amd_params_check(&p, err, sizeof err), 0);
    assert_non_null(strstr(err, "maximum_number_of_words"));
    amd_params_default(&p);
    p.total_ms = 100000;
    assert_int_not_equal(amd_params_check(&p, err, sizeof err), 0);
    assert_non_null(strstr(err, "total_analysis_time"));
}

/* beep: returns the result and the ms at which it came (0: none in n samples) */
static enum amd_beep_result beep_run(size_t n, unsigned *at, unsigned *hz)
{
    struct amd_params p;
    amd_params_default(&p);
    struct amd_beep b;
    amd_beep_init(&b, &p, 1500);
    *at = 0;
    for (size_t off = 0; off + AMD_FRAME <= n; off += AMD_FRAME) {
        enum amd_beep_result r = amd_beep_frame(&b, buf + off);
        if (r != AMD_BEEP_WAIT) {
            *at = b.now_ms;
            *hz = b.tone_hz;
            return r;
        }
    }
    return AMD_BEEP_WAIT;
}

static void test_beep_after_speech(void **state)
{
    (void)state;
    static const double tones[] = {425, 1000, 1012.5, 1400, 1987};
    for (size_t i = 0; i < sizeof tones / sizeof tones[0]; i++) {
        size_t n = 0;
        for (int w = 0; w < 6; w++) {
            n = gen(buf, n, 'v', 400, 6000, 0, 200);
            n = gen(buf, n, 's', 200, 0, 0, 0);
        }
        n = gen(buf, n, 't', 400, 8000, tones[i], 200); /* the beep, over line noise */
        n = gen(buf, n, 's', 3000, 0, 0, 0);
        unsigned at, hz;
        assert_int_equal(beep_run(n, &at, &hz), AMD_BEEP_HEARD);
        assert_true(at >= 4000 && at <= 4060); /* just after the beep's end at 4000 ms */
        assert_true(fabs((double)hz - tones[i]) <= 25);
    }
}

static void test_no_beep_then_silence(void **state)
{
    (void)state;
    size_t n = 0;
    for (int w = 0; w < 6; w++) { /* voiced speech, steady pitch: no beep */
        n = gen(buf, n, 'v', 600, 6000, 0, 0);
        n = gen(buf, n, 's', 300, 0, 0, 0);
    }
    n = gen(buf, n, 's', 3000, 0, 0, 0);
    unsigned at, hz;
    assert_int_equal(beep_run(n, &at, &hz), AMD_BEEP_SILENCE);
    assert_int_equal(at, 5400 - 300 + 1500); /* 1.5 s after the last word */
    /* a tone outside 400-2000 Hz is not a beep */
    n = gen(buf, 0, 'v', 600, 6000, 0, 0);
    n = gen(buf, n, 't', 500, 8000, 3000, 0);
    n = gen(buf, n, 's', 3000, 0, 0, 0);
    assert_int_equal(beep_run(n, &at, &hz), AMD_BEEP_SILENCE);
}

static void test_g711(void **state)
{
    (void)state;
    assert_int_equal(amd_g711_linear(0xD5, 8), 8);      /* A-law's quietest positive */
    assert_int_equal(amd_g711_linear(0xFF, 0), 0);      /* mu-law silence */
    assert_int_equal(amd_g711_linear(0x2A, 8), -32256); /* A-law, as in the message tests */
    assert_int_equal(amd_g711_linear(0x80, 0), 32124);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silence_is_a_machine),
        cmocka_unit_test(test_short_hello_is_a_human),
        cmocka_unit_test(test_long_greeting_is_a_machine),
        cmocka_unit_test(test_many_words_are_a_machine),
        cmocka_unit_test(test_blips_are_not_words),
        cmocka_unit_test(test_not_sure_at_max_time),
        cmocka_unit_test(test_noise_floor_adapts),
        cmocka_unit_test(test_feed_any_packet_size),
        cmocka_unit_test(test_params_bounded),
        cmocka_unit_test(test_beep_after_speech),
        cmocka_unit_test(test_no_beep_then_silence),
        cmocka_unit_test(test_g711),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
