/* dialerd's G.711 transcoding between a PCMA leg and a PCMU leg: silence stays silence, signs
 * and magnitudes survive, and a round trip through the other law changes a sample by at most one
 * quantisation step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "media.h"

static void test_silence_and_extremes(void **state)
{
    (void)state;
    assert_int_equal(dl_alaw_to_ulaw(0xD5), 0xFE); /* A-law silence (+8) -> mu-law's +8 */
    assert_int_equal(dl_ulaw_to_alaw(0xFF), 0xD5);
    assert_int_equal(dl_alaw_to_ulaw(0xAA), 0x80); /* A-law's loudest positive -> mu-law's */
    assert_int_equal(dl_alaw_to_ulaw(0x2A), 0x00); /* and the loudest negative */
    assert_int_equal(dl_ulaw_to_alaw(0x80), 0xAA);
    assert_int_equal(dl_ulaw_to_alaw(0x00), 0x2A);
}

static void test_round_trips(void **state)
{
    (void)state;
    for (int v = 0; v < 256; v++) {
        uint8_t u = (uint8_t)v;
        uint8_t back = dl_alaw_to_ulaw(dl_ulaw_to_alaw(u));
        /* same sign bit (but for mu-law's -0, which comes back +0), and the code moves by at
         * most a step or two near zero */
        if ((u & 0x7F) != 0x7F)
            assert_int_equal(back & 0x80, u & 0x80);
        assert_true(abs((int)(back & 0x7F) - (int)(u & 0x7F)) <= 2);
        uint8_t a = (uint8_t)v;
        uint8_t aback = dl_ulaw_to_alaw(dl_alaw_to_ulaw(a));
        assert_int_equal(aback & 0x80, a & 0x80);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silence_and_extremes),
        cmocka_unit_test(test_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
