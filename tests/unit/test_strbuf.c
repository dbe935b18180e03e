/* The bounded string builder: growth, the maximum as an error (never an overflow), sticky
 * errors, and taking the text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carillon/strbuf.h"

static void grows_past_its_first_block(void **state)
{
    (void)state;
    struct cr_strbuf b;
    cr_strbuf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cr_strbuf_printf(&b, "%s$%d", i ? ", " : "", i), 0);
    assert_true(b.len > 4096);
    assert_memory_equal(cr_strbuf_text(&b), "$0, $1, $2", 10);
    assert_int_equal(strlen(cr_strbuf_text(&b)), b.len);
    cr_strbuf_free(&b);
}

static void the_maximum_is_an_error(void **state)
{
    (void)state;
    struct cr_strbuf b;
    cr_strbuf_init(&b, 10);
    assert_int_equal(cr_strbuf_str(&b, "0123456789"), 0); /* exactly the maximum */
    assert_int_equal(cr_strbuf_str(&b, "x"), -E2BIG);
    assert_string_equal(cr_strbuf_text(&b), "0123456789"); /* nothing half-written */
    /* sticky: a later small append fails too */
    assert_int_equal(cr_strbuf_str(&b, ""), -E2BIG);
    assert_null(cr_strbuf_take(&b));
    cr_strbuf_free(&b);

    cr_strbuf_init(&b, 8);
    assert_int_equal(cr_strbuf_printf(&b, "%s", "abcdefghij"), -E2BIG);
    assert_int_equal(b.len, 0);
    cr_strbuf_free(&b);
}

static void a_huge_append_does_not_wrap(void **state)
{
    (void)state;
    struct cr_strbuf b;
    cr_strbuf_init(&b, 64);
    assert_int_equal(cr_strbuf_str(&b, "abc"), 0);
    assert_int_equal(cr_strbuf_add(&b, "x", SIZE_MAX - 1), -E2BIG);
    cr_strbuf_free(&b);
}

static void take_hands_over_the_text(void **state)
{
    (void)state;
    struct cr_strbuf b;
    cr_strbuf_init(&b, 100);
    char *empty = cr_strbuf_take(&b);
    assert_string_equal(empty, "");
    free(empty);
    assert_int_equal(cr_strbuf_printf(&b, "Hélène %d", 42), 0);
    char *s = cr_strbuf_take(&b);
    assert_string_equal(s, "Hélène 42");
    assert_int_equal(b.len, 0);
    free(s);
    cr_strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_past_its_first_block),
        cmocka_unit_test(the_maximum_is_an_error),
        cmocka_unit_test(a_huge_append_does_not_wrap),
        cmocka_unit_test(take_hands_over_the_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
