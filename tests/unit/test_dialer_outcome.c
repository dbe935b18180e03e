/* The dialer's outcome mapping: every final SIP status the issue names, timeouts and transport
 * errors made by our own stack, ring timeout, cancel orders (also crossing a 200 OK), shutdown,
 * order deadlines, and the outcome words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "carillon/pbtext.h"
#include "outcome.h"

#define O(x) CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_##x

static int remote(int status)
{
    struct dl_end_facts f = {.final_status = status,
                             .remote_responded = true,
                             .answered = status >= 200 && status < 300};
    return (int)dl_outcome_map(&f);
}

static void test_remote_final_statuses(void **state)
{
    (void)state;
    static const struct {
        int status;
        int outcome;
    } table[] = {
        {200, O(ANSWERED)},       {486, O(BUSY)},           {600, O(BUSY)},
        {408, O(NO_ANSWER)},      {480, O(NO_ANSWER)},      {487, O(NO_ANSWER)},
        {404, O(INVALID_NUMBER)}, {484, O(INVALID_NUMBER)}, {604, O(INVALID_NUMBER)},
        {410, O(INVALID_NUMBER)}, {485, O(INVALID_NUMBER)}, {403, O(REJECTED)},
        {603, O(REJECTED)},       {606, O(REJECTED)},       {500, O(TRUNK_FAILURE)},
        {502, O(TRUNK_FAILURE)},  {503, O(TRUNK_FAILURE)},  {504, O(TRUNK_FAILURE)},
        {401, O(TRUNK_FAILURE)},  {407, O(TRUNK_FAILURE)},  {488, O(TRUNK_FAILURE)},
        {400, O(TRUNK_FAILURE)},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int got = remote(table[i].status);
        if (got != table[i].outcome)
            fail_msg("status %d -> %s, expected %s", table[i].status,
                     dl_outcome_name((Carillon__V1__CallOutcome)got),
                     dl_outcome_name((Carillon__V1__CallOutcome)table[i].outcome));
        assert_int_equal(dl_outcome_for_status(table[i].status), table[i].outcome);
    }
}

static void test_local_failures_are_trunk_failures(void **state)
{
    (void)state;
    /* timer B expired without any response: our own 408 is not the customer's no answer */
    struct dl_end_facts f = {.final_status = 408, .final_local = true};
    assert_int_equal(dl_outcome_map(&f), O(TRUNK_FAILURE));
    /* a 100 Trying came, then our own 408 */
    f.remote_responded = true;
    assert_int_equal(dl_outcome_map(&f), O(TRUNK_FAILURE));
    /* transport error (ICMP unreachable, TCP refused) */
    struct dl_end_facts t = {.final_status = 503, .final_local = true};
    assert_int_equal(dl_outcome_map(&t), O(TRUNK_FAILURE));
    /* the same 408 sent by the trunk is a no answer */
    struct dl_end_facts r = {.final_status = 408, .remote_responded = true};
    assert_int_equal(dl_outcome_map(&r), O(NO_ANSWER));
}

static void test_ring_timeout(void **state)
{
    (void)state;
    struct dl_end_facts f = {
        .final_status = 487, .remote_responded = true, .stop = DL_STOP_RING_TIMEOUT};
    assert_int_equal(dl_outcome_map(&f), O(NO_ANSWER));
    /* nothing at all came back within the ring timeout: the trunk is not there */
    struct dl_end_facts g = {
        .final_status = 408, .final_local = true, .stop = DL_STOP_RING_TIMEOUT};
    assert_int_equal(dl_outcome_map(&g), O(TRUNK_FAILURE));
    /* a 200 that crossed the CANCEL is still a no answer (we hung it up) */
    struct dl_end_facts h = {.final_status = 200,
                             .remote_responded = true,
                             .answered = true,
                             .stop = DL_STOP_RING_TIMEOUT};
    assert_int_equal(dl_outcome_map(&h), O(NO_ANSWER));
}

static void test_orders_and_shutdown(void **state)
{
    (void)state;
    struct dl_end_facts f = {
        .final_status = 487, .remote_responded = true, .stop = DL_STOP_ORDER_CANCEL};
    assert_int_equal(dl_outcome_map(&f), O(CANCELLED));
    f.final_status = 0; /* cancelled before any response */
    f.remote_responded = false;
    assert_int_equal(dl_outcome_map(&f), O(CANCELLED));
    /* the 200 crossed the CANCEL: cancelled (answered_at tells the pick-up) */
    struct dl_end_facts x = {.final_status = 200,
                             .remote_responded = true,
                             .answered = true,
                             .stop = DL_STOP_ORDER_CANCEL};
    assert_int_equal(dl_outcome_map(&x), O(CANCELLED));
    /* hang-up order: before the answer a cancel, after it an answered call */
    struct dl_end_facts h = {
        .final_status = 487, .remote_responded = true, .stop = DL_STOP_ORDER_HANGUP};
    assert_int_equal(dl_outcome_map(&h), O(CANCELLED));
    h.final_status = 200;
    h.answered = true;
    assert_int_equal(dl_outcome_map(&h), O(ANSWERED));
    /* shutdown: an answered call stays answered, an unanswered one is lost */
    struct dl_end_facts s = {
        .final_status = 200, .answered = true, .remote_responded = true, .stop = DL_STOP_SHUTDOWN};
    assert_int_equal(dl_outcome_map(&s), O(ANSWERED));
    s.answered = false;
    s.final_status = 487;
    assert_int_equal(dl_outcome_map(&s), O(LOST));
    /* abandon: answered, no agent, hung up by the dialer after its message */
    struct dl_end_facts a = {
        .final_status = 200, .answered = true, .remote_responded = true, .stop = DL_STOP_ABANDON};
    assert_int_equal(dl_outcome_map(&a), O(ABANDONED));
    /* a handle that ended without any final response */
    struct dl_end_facts n = {0};
    assert_int_equal(dl_outcome_map(&n), O(LOST));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dl_outcome_name(O(ANSWERED)), "answered");
    assert_string_equal(dl_outcome_name(O(NO_ANSWER)), "no_answer");
    assert_string_equal(dl_outcome_name(O(INVALID_NUMBER)), "invalid_number");
    assert_string_equal(dl_outcome_name(O(TRUNK_FAILURE)), "trunk_failure");
    assert_string_equal(dl_outcome_name(O(REFUSED)), "refused");
    assert_string_equal(dl_outcome_name(O(ABANDONED)), "abandoned");
    assert_string_equal(dl_outcome_name(O(EXPIRED)), "expired");
    assert_string_equal(dl_outcome_name((Carillon__V1__CallOutcome)99), "?");
    /* every value of the proto enum has the word cr_pb_enum_word gives it (a new outcome added
     * to dialer.proto and not to dl_outcome_name fails here) */
    const ProtobufCEnumDescriptor *d = &carillon__v1__call_outcome__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        char w[32];
        if (d->values[i].value == 0)
            continue;
        cr_pb_enum_word(d, d->values[i].value, w, sizeof w);
        assert_string_equal(dl_outcome_name((Carillon__V1__CallOutcome)d->values[i].value), w);
    }
}

static void test_deadline(void **state)
{
    (void)state;
    char detail[96] = "";
    /* no deadline */
    assert_false(dl_deadline_passed(0, 1700000000000ULL, detail, sizeof detail));
    /* ahead, and exactly at it: still allowed */
    assert_false(dl_deadline_passed(1700000000000ULL, 1699999999000ULL, detail, sizeof detail));
    assert_false(dl_deadline_passed(1700000000000ULL, 1700000000000ULL, detail, sizeof detail));
    assert_string_equal(detail, "");
    /* one millisecond late, then 90 s late: the detail says by how much */
    assert_true(dl_deadline_passed(1700000000000ULL, 1700000000001ULL, detail, sizeof detail));
    assert_string_equal(detail, "deadline passed 1 ms before dialling");
    assert_true(dl_deadline_passed(1700000000000ULL, 1700000090000ULL, detail, sizeof detail));
    assert_string_equal(detail, "deadline passed 90000 ms before dialling");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_final_statuses),
        cmocka_unit_test(test_local_failures_are_trunk_failures),
        cmocka_unit_test(test_ring_timeout),
        cmocka_unit_test(test_orders_and_shutdown),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
