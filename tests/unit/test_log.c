/* Log lines: one per event with key=value pairs, quoting of awkward values, levels, and the JSON
 * lines mode carrying the same fields (UTF-8 kept as is). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/log.h"

/* Runs fn with stderr redirected into a pipe; returns what was written. */
static char captured[16384];

static const char *capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof captured - 1);
    close(fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

static void emit_text(void)
{
    cr_log_init("server", CR_LOG_INFO, false);
    cr_log_info("login", "peer=%s user=%s", "127.0.0.1:5000", cr_log_q("Hélène \"H\" Dupré"));
    cr_log_debug("hidden", "x=%d", 1);
    cr_log_warn("slow_peer", "peer=%s queued=%d", "10.0.0.1:1", 42);
}

static void test_text_lines(void **state)
{
    (void)state;
    const char *out = capture(emit_text);
    /* Two lines, in order, each with time, level, component, event and pairs. */
    const char *l1 = strstr(out, " INFO server login peer=127.0.0.1:5000 user=\"Hélène \\\"H\\\" "
                                 "Dupré\"\n");
    const char *l2 = strstr(out, " WARN server slow_peer peer=10.0.0.1:1 queued=42\n");
    assert_non_null(l1);
    assert_non_null(l2);
    assert_true(l1 < l2);
    assert_null(strstr(out, "hidden"));
    assert_true(out[4] == '-' && out[10] == 'T'); /* 2026-11-22T... */
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
}

static void emit_json(void)
{
    cr_log_init("dialerd", CR_LOG_DEBUG, true);
    cr_log_debug("call_ended", "attempt=%d call_id=%s reason=%s", 17, "abc@host",
                 cr_log_q("line\nbreak \"quoted\" Zoé"));
}

static void test_json_lines(void **state)
{
    (void)state;
    const char *out = capture(emit_json);
    assert_non_null(strstr(out, "\"level\":\"DEBUG\""));
    assert_non_null(strstr(out, "\"component\":\"dialerd\""));
    assert_non_null(strstr(out, "\"event\":\"call_ended\""));
    assert_non_null(strstr(out, "\"attempt\":\"17\""));
    assert_non_null(strstr(out, "\"call_id\":\"abc@host\""));
    assert_non_null(strstr(out, "\"reason\":\"line\\nbreak \\\"quoted\\\" Zoé\""));
    assert_true(out[0] == '{');
    assert_non_null(strstr(out, "}\n"));
    assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
}

static void test_quote_bounds_and_levels(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *q = cr_log_q(big);
    assert_true(strlen(q) < 512);
    assert_non_null(strstr(q, "...\""));
    assert_string_equal(cr_log_q("\x01"), "\"\\x01\"");
    enum cr_log_level lv;
    assert_int_equal(cr_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, CR_LOG_WARN);
    assert_int_not_equal(cr_log_level_parse("loud", &lv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_quote_bounds_and_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
