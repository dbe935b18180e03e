/* dialerd's outbox: events are numbered from 1, kept in order until acknowledged, and a full
 * buffer drops its oldest event (and counts it) rather than the newest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "outbox.h"

static struct dl_event ev(uint64_t attempt)
{
    struct dl_event e;
    memset(&e, 0, sizeof e);
    e.attempt_id = attempt;
    e.state = 3;
    snprintf(e.detail, sizeof e.detail, "attempt %llu", (unsigned long long)attempt);
    return e;
}

static void test_numbering_ack_and_order(void **state)
{
    (void)state;
    struct dl_outbox *ob;
    assert_int_equal(dl_outbox_new(8, &ob), 0);
    for (uint64_t i = 1; i <= 5; i++) {
        struct dl_event e = ev(100 + i);
        int dropped = -1;
        assert_int_equal(dl_outbox_push(ob, &e, &dropped), i);
        assert_int_equal(dropped, 0);
    }
    assert_int_equal(dl_outbox_len(ob), 5);
    dl_outbox_ack(ob, 3);
    assert_int_equal(dl_outbox_len(ob), 2);
    uint64_t seq = 0;
    const struct dl_event *e = dl_outbox_at(ob, 0, &seq);
    assert_int_equal(seq, 4);
    assert_int_equal(e->attempt_id, 104);
    assert_string_equal(e->detail, "attempt 104");
    assert_null(dl_outbox_at(ob, 2, &seq));
    /* an old or repeated acknowledgement changes nothing; one past the end empties it */
    dl_outbox_ack(ob, 2);
    assert_int_equal(dl_outbox_len(ob), 2);
    dl_outbox_ack(ob, 99);
    assert_int_equal(dl_outbox_len(ob), 0);
    /* numbering goes on after an empty buffer */
    struct dl_event e6 = ev(106);
    assert_int_equal(dl_outbox_push(ob, &e6, NULL), 6);
    assert_non_null(dl_outbox_at(ob, 0, &seq));
    assert_int_equal(seq, 6);
    dl_outbox_free(ob);
}

static void test_overflow_drops_oldest(void **state)
{
    (void)state;
    struct dl_outbox *ob;
    assert_int_equal(dl_outbox_new(3, &ob), 0);
    int drops = 0;
    for (uint64_t i = 1; i <= 10; i++) {
        struct dl_event e = ev(i);
        int d = 0;
        assert_int_equal(dl_outbox_push(ob, &e, &d), i);
        drops += d;
    }
    assert_int_equal(drops, 7);
    assert_int_equal(dl_outbox_dropped(ob), 7);
    assert_int_equal(dl_outbox_len(ob), 3);
    for (size_t k = 0; k < 3; k++) {
        uint64_t seq;
        const struct dl_event *e = dl_outbox_at(ob, k, &seq);
        assert_int_equal(seq, 8 + k);
        assert_int_equal(e->attempt_id, 8 + k);
    }
    dl_outbox_ack(ob, 8);
    assert_int_equal(dl_outbox_len(ob), 2);
    dl_outbox_free(ob);
    assert_int_equal(dl_outbox_new(0, &ob), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbering_ack_and_order),
        cmocka_unit_test(test_overflow_drops_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
