/* The details of an agent leg's end (issue 13): each speaks of the agent or the softphone, never
 * of a customer or the trunk, and none is empty: an agent who hangs up, an unreachable softphone
 * (our own 503), one that does not answer (our own 408), a 488 and other refusals, ring timeout,
 * orders, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "outcome.h"

static const char *detail(struct dl_end_facts f, bool agent_hung_up, const char *reason)
{
    static char out[96];
    memset(out, 'x', sizeof out);
    dl_agent_leg_detail(&f, agent_hung_up, reason, out, sizeof out);
    assert_non_null(memchr(out, '\0', sizeof out));
    assert_true(out[0] != '\0');
    assert_null(strstr(out, "customer"));
    assert_null(strstr(out, "trunk"));
    return out;
}

static void test_named_cases(void **state)
{
    (void)state;
    struct dl_end_facts up = {.final_status = 200, .remote_responded = true, .answered = true};
    assert_string_equal(detail(up, true, "OK"), "the agent hung up (BYE from the softphone)");
    struct dl_end_facts unreachable = {.final_status = 503, .final_local = true};
    assert_string_equal(detail(unreachable, false, "Service Unavailable"),
                        "transport error towards the agent's softphone (unreachable?)");
    struct dl_end_facts na = {.final_status = 488, .remote_responded = true};
    assert_string_equal(detail(na, false, "Not Acceptable Here"),
                        "the agent's softphone refused the call: 488 Not Acceptable Here");
    assert_string_equal(detail(na, false, ""), "the agent's softphone refused the call: 488");
    assert_string_equal(detail(na, false, NULL), "the agent's softphone refused the call: 488");
}

static void test_every_end_has_a_detail(void **state)
{
    (void)state;
    static const int statuses[] = {0, 200, 401, 403, 404, 408, 480, 486, 488, 500, 503, 603};
    for (int stop = DL_STOP_NONE; stop <= DL_STOP_ABANDON; stop++)
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
            for (int bits = 0; bits < 16; bits++) {
                struct dl_end_facts f = {.final_status = statuses[i],
                                         .final_local = bits & 1,
                                         .remote_responded = bits & 2,
                                         .answered = bits & 4,
                                         .stop = (enum dl_stop)stop};
                (void)detail(f, bits & 8, "Reason");
            }
    struct dl_end_facts local408 = {.final_status = 408, .final_local = true};
    assert_string_equal(detail(local408, false, ""), "no response from the agent's softphone");
    struct dl_end_facts closed = {
        .final_status = 200, .answered = true, .stop = DL_STOP_ORDER_HANGUP};
    assert_string_equal(detail(closed, false, ""), "agent leg closed by order");
    /* a reason too long for the buffer is cut, never overflows */
    char longr[300];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    struct dl_end_facts refused = {.final_status = 606, .remote_responded = true};
    assert_int_equal(strlen(detail(refused, false, longr)), 95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_cases),
        cmocka_unit_test(test_every_end_has_a_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
