/* Unit tests for carillonctl's pure helpers (server/ctl/ctlutil.c): argument parsing, JSON
 * escaping, display width and padding, bounded line reads, the session file's text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/ctl/ctlutil.c"

/* Runs fn(f, arg) on a memory stream and returns what it wrote (static buffer). */
static const char *capture_str(void (*fn)(FILE *, const char *), const char *arg)
{
    static char out[4096];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    assert_true(len < sizeof out);
    memcpy(out, buf, len + 1);
    free(buf);
    return out;
}

static void json_string_escapes_and_keeps_utf8(void **state)
{
    (void)state;
    assert_string_equal(capture_str(ctl_json_string, "plain"), "\"plain\"");
    assert_string_equal(capture_str(ctl_json_string, "Hélène Dupré"), "\"Hélène Dupré\"");
    assert_string_equal(capture_str(ctl_json_string, "李小龙"), "\"李小龙\"");
    assert_string_equal(capture_str(ctl_json_string, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(capture_str(ctl_json_string, "l1\nl2\tx\r\b\f"),
                        "\"l1\\nl2\\tx\\r\\b\\f\"");
    assert_string_equal(capture_str(ctl_json_string, "\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    assert_string_equal(capture_str(ctl_json_string, ""), "\"\"");
    assert_string_equal(capture_str(ctl_json_string, NULL), "\"\"");
    /* invalid UTF-8 never reaches the output: a lone continuation byte, a truncated sequence,
     * an overlong slash, a surrogate */
    assert_string_equal(capture_str(ctl_json_string, "a\x80z"), "\"a\\ufffdz\"");
    assert_string_equal(capture_str(ctl_json_string, "\xc3"), "\"\\ufffd\"");
    assert_string_equal(capture_str(ctl_json_string, "\xc0\xaf"), "\"\\ufffd\\ufffd\"");
    assert_string_equal(capture_str(ctl_json_string, "\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
    /* four-byte sequences pass */
    assert_string_equal(capture_str(ctl_json_string, "\xf0\x9f\x93\x9e"), "\"\xf0\x9f\x93\x9e\"");
}

static void display_width_counts_columns(void **state)
{
    (void)state;
    assert_int_equal(ctl_display_width(""), 0);
    assert_int_equal(ctl_display_width("admin"), 5);
    assert_int_equal(ctl_display_width("Hélène Dupré"), 12);
    /* e + combining acute accent is one column */
    assert_int_equal(ctl_display_width("He\xcc\x81le\xcc\x80ne"), 6);
    assert_int_equal(ctl_display_width("李小龙"), 6);
    assert_int_equal(ctl_display_width("김민준"), 6);
    assert_int_equal(ctl_display_width("ＡＢ"), 4);   /* fullwidth forms */
    assert_int_equal(ctl_display_width("a\xffz"), 3); /* an invalid byte is one column */
    assert_int_equal(ctl_utf8_chars("Hélène"), 6);
    assert_int_equal(ctl_utf8_chars("李小龙"), 3);
}

static const char *pad12(const char *s)
{
    static char out[256];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ctl_pad(f, s, 12);
    fputc('|', f);
    fclose(f);
    snprintf(out, sizeof out, "%s", buf);
    free(buf);
    return out;
}

static void pad_aligns_by_display_width(void **state)
{
    (void)state;
    assert_string_equal(pad12("admin"), "admin       |");
    assert_string_equal(pad12("Hélène"), "Hélène      |");
    assert_string_equal(pad12("Hélène Dupré"), "Hélène Dupré|");
    assert_string_equal(pad12("李小龙"), "李小龙      |");
    /* longer than the width: written whole, no padding */
    assert_string_equal(pad12("a-very-long-login"), "a-very-long-login|");
    /* terminal control characters are neutralised */
    assert_string_equal(pad12("x\x1b[2Jy"), "x?[2Jy      |");
    assert_string_equal(pad12("a\xc2\x9b"), "a?          |"); /* C1 CSI */
}

/* A FILE reading from a string. */
static FILE *str_in(const char *s)
{
    FILE *f = fmemopen((void *)s, strlen(s), "r");
    assert_non_null(f);
    return f;
}

static void read_line_is_bounded(void **state)
{
    (void)state;
    char buf[8];
    FILE *f = str_in("secret1\nabc\r\n1234567\n12345678\nnext\nlast");
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "secret1"); /* 7 bytes: exactly fits */
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "abc"); /* CRLF dropped */
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "1234567");
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), -EMSGSIZE); /* 8 bytes: too long */
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "next"); /* the long line was consumed whole */
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "last"); /* no final newline */
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), -ENODATA);
    fclose(f);

    f = str_in("1234567");
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), 0);
    assert_string_equal(buf, "1234567");
    fclose(f);
    f = str_in("");
    assert_int_equal(ctl_read_line(f, buf, sizeof buf), -ENODATA);
    fclose(f);
}

static void timeout_parsing(void **state)
{
    (void)state;
    unsigned ms = 0;
    assert_int_equal(ctl_parse_timeout("10", &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(ctl_parse_timeout("0.25", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(ctl_parse_timeout("3600", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_not_equal(ctl_parse_timeout("0", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("-1", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("3601", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("5s", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("nan", &ms), 0);
    assert_int_not_equal(ctl_parse_timeout("inf", &ms), 0);
}

static void user_add_arguments(void **state)
{
    (void)state;
    struct ctl_user_add_args a;
    char err[256];
    char *ok1[] = {"helene", "--role", "agent", "--name", "Hélène Dupré", "--password-stdin"};
    assert_int_equal(ctl_parse_user_add(6, ok1, &a, err, sizeof err), 0);
    assert_string_equal(a.login, "helene");
    assert_string_equal(a.name, "Hélène Dupré");
    assert_int_equal(a.role, CARILLON__V1__USER_ROLE__USER_ROLE_AGENT);
    assert_true(a.password_stdin);

    char *ok2[] = {"--role=supervisor", "marc"};
    assert_int_equal(ctl_parse_user_add(2, ok2, &a, err, sizeof err), 0);
    assert_string_equal(a.login, "marc");
    assert_string_equal(a.name, "");
    assert_int_equal(a.role, CARILLON__V1__USER_ROLE__USER_ROLE_SUPERVISOR);
    assert_false(a.password_stdin);

    char *no_role[] = {"marc"};
    assert_int_equal(ctl_parse_user_add(1, no_role, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "--role"));
    char *bad_role[] = {"marc", "--role", "boss"};
    assert_int_equal(ctl_parse_user_add(3, bad_role, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'boss'"));
    char *no_value[] = {"marc", "--role"};
    assert_int_equal(ctl_parse_user_add(2, no_value, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "needs a value"));
    char *two_logins[] = {"marc", "paul", "--role", "agent"};
    assert_int_equal(ctl_parse_user_add(4, two_logins, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'paul'"));
    char *unknown[] = {"marc", "--role", "agent", "--pasword-stdin"};
    assert_int_equal(ctl_parse_user_add(4, unknown, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "unknown option"));
    char *no_login[] = {"--role", "agent"};
    assert_int_equal(ctl_parse_user_add(2, no_login, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "LOGIN"));

    /* sizes: login 64 bytes, display name 128 characters (accents count once) */
    char login65[66], login64[65];
    memset(login65, 'a', 65), login65[65] = '\0';
    memset(login64, 'a', 64), login64[64] = '\0';
    char *long_login[] = {login65, "--role", "agent"};
    assert_int_equal(ctl_parse_user_add(3, long_login, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "64 bytes"));
    char *max_login[] = {login64, "--role", "agent"};
    assert_int_equal(ctl_parse_user_add(3, max_login, &a, err, sizeof err), 0);
    char name128[128 * 2 + 1] = "", name129[129 * 2 + 1] = "";
    for (int i = 0; i < 128; i++)
        strcat(name128, "é");
    snprintf(name129, sizeof name129, "%sé", name128);
    char *max_name[] = {"x", "--role", "agent", "--name", name128};
    assert_int_equal(ctl_parse_user_add(5, max_name, &a, err, sizeof err), 0);
    char *long_name[] = {"x", "--role", "agent", "--name", name129};
    assert_int_equal(ctl_parse_user_add(5, long_name, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "128 characters"));
}

static void other_user_arguments(void **state)
{
    (void)state;
    char err[256];
    struct ctl_user_passwd_args p;
    assert_int_equal(ctl_parse_user_passwd(0, NULL, &p, err, sizeof err), 0);
    assert_string_equal(p.login, "");
    assert_false(p.password_stdin);
    char *pw[] = {"--password-stdin", "helene"};
    assert_int_equal(ctl_parse_user_passwd(2, pw, &p, err, sizeof err), 0);
    assert_string_equal(p.login, "helene");
    assert_true(p.password_stdin);
    char *pw2[] = {"a", "b"};
    assert_int_equal(ctl_parse_user_passwd(2, pw2, &p, err, sizeof err), -EINVAL);
    char *pw3[] = {"--force"};
    assert_int_equal(ctl_parse_user_passwd(1, pw3, &p, err, sizeof err), -EINVAL);

    bool all;
    char *l1[] = {"--all"};
    assert_int_equal(ctl_parse_user_list(1, l1, &all, err, sizeof err), 0);
    assert_true(all);
    assert_int_equal(ctl_parse_user_list(0, NULL, &all, err, sizeof err), 0);
    assert_false(all);
    char *l2[] = {"--everything"};
    assert_int_equal(ctl_parse_user_list(1, l2, &all, err, sizeof err), -EINVAL);

    const char *login;
    char *d1[] = {"helene"};
    assert_int_equal(ctl_parse_user_login("disable", 1, d1, &login, err, sizeof err), 0);
    assert_string_equal(login, "helene");
    assert_int_equal(ctl_parse_user_login("disable", 0, NULL, &login, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "user disable needs exactly one LOGIN"));
    char *d2[] = {"a", "b"};
    assert_int_equal(ctl_parse_user_login("enable", 2, d2, &login, err, sizeof err), -EINVAL);

    assert_int_equal(ctl_role_parse("admin"), CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN);
    assert_int_equal(ctl_role_parse("Admin"), 0);
    assert_string_equal(ctl_role_name(CARILLON__V1__USER_ROLE__USER_ROLE_AGENT), "agent");
    assert_string_equal(ctl_role_name(99), "unknown");

    assert_int_equal(ctl_check_password("", err, sizeof err), -EINVAL);
    char pw256[257], pw257[258];
    memset(pw256, 'p', 256), pw256[256] = '\0';
    memset(pw257, 'p', 257), pw257[257] = '\0';
    assert_int_equal(ctl_check_password(pw256, err, sizeof err), 0);
    assert_int_equal(ctl_check_password(pw257, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "256 bytes"));
}

static void session_text_round_trip(void **state)
{
    (void)state;
    struct ctl_session s = {0}, back;
    snprintf(s.server, sizeof s.server, "[::1]:4433");
    snprintf(s.login, sizeof s.login, "helene");
    snprintf(s.token, sizeof s.token, "abc123");
    char buf[CTL_SESSION_FILE_MAX];
    int n = ctl_session_format(&s, buf, sizeof buf);
    assert_true(n > 0);
    assert_string_equal(buf, "server=[::1]:4433\nlogin=helene\ntoken=abc123\n");
    assert_int_equal(ctl_session_parse(buf, &back), 0);
    assert_string_equal(back.server, "[::1]:4433");
    assert_string_equal(back.login, "helene");
    assert_string_equal(back.token, "abc123");

    /* unknown keys ignored, a value may contain '=' */
    assert_int_equal(ctl_session_parse("v=2\nserver=h:1\nlogin=a\ntoken=t==\n", &back), 0);
    assert_string_equal(back.token, "t==");
    /* refused: a missing key, a line without '=', a token too long */
    assert_int_equal(ctl_session_parse("server=h:1\nlogin=a\n", &back), -EINVAL);
    assert_int_equal(ctl_session_parse("server=h:1\ngarbage\nlogin=a\ntoken=t\n", &back), -EINVAL);
    char big[512];
    snprintf(big, sizeof big, "server=h:1\nlogin=a\ntoken=%0200d\n", 0);
    assert_int_equal(ctl_session_parse(big, &back), -EINVAL);
    /* a newline in a value would forge another key: refused */
    snprintf(s.login, sizeof s.login, "x\ntoken=evil");
    assert_int_equal(ctl_session_format(&s, buf, sizeof buf), -EINVAL);
    snprintf(s.login, sizeof s.login, "helene");
    assert_int_equal(ctl_session_format(&s, buf, 10), -ENAMETOOLONG);
}

static void session_dir_order(void **state)
{
    (void)state;
    char d[64];
    assert_int_equal(ctl_session_dir("/c", "/x", "/h", d, sizeof d), 0);
    assert_string_equal(d, "/c");
    assert_int_equal(ctl_session_dir("", "/x", "/h", d, sizeof d), 0);
    assert_string_equal(d, "/x/carillon");
    assert_int_equal(ctl_session_dir(NULL, NULL, "/h", d, sizeof d), 0);
    assert_string_equal(d, "/h/.config/carillon");
    assert_int_equal(ctl_session_dir(NULL, "", "", d, sizeof d), -ENOENT);
    assert_int_equal(ctl_session_dir(NULL, NULL, "/a-rather-long-home-directory", d, 20),
                     -ENAMETOOLONG);
}

static void reply_matching(void **state)
{
    (void)state;
    assert_int_equal(ctl_reply_match(7, 7, false), 1);
    assert_int_equal(ctl_reply_match(7, 0, false), 0); /* a push */
    assert_int_equal(ctl_reply_match(7, 0, true), 1);  /* connection refused by an Error */
    assert_int_equal(ctl_reply_match(7, 6, false), -EPROTO);
    assert_int_equal(ctl_reply_match(7, 8, true), -EPROTO);
}

static void times_and_counts(void **state)
{
    (void)state;
    char b[CTL_TIME_MAX];
    int64_t t;
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    assert_int_equal(ctl_time_human(1764940020, false, b, sizeof b), 0); /* 2025-12-05 13:07Z */
    assert_string_equal(b, "2025-12-05 14:07 CET");
    assert_int_equal(ctl_time_human(1764940020, true, b, sizeof b), 0);
    assert_string_equal(b, "2025-12-05 13:07 UTC");
    assert_int_equal(ctl_time_rfc3339(1764940020, false, b, sizeof b), 0);
    assert_string_equal(b, "2025-12-05T14:07:00+01:00");
    assert_int_equal(ctl_time_rfc3339(1751713620, false, b, sizeof b), 0); /* summer */
    assert_string_equal(b, "2025-07-05T13:07:00+02:00");
    assert_int_equal(ctl_time_rfc3339(1764940020, true, b, sizeof b), 0);
    assert_string_equal(b, "2025-12-05T13:07:00Z");
    assert_int_equal(ctl_time_parse("2025-12-05T14:07:00+01:00", &t), 0);
    assert_int_equal(t, 1764940020);
    assert_int_equal(ctl_time_parse("2025-12-05 13:07:00.123+00", &t), 0);
    assert_int_equal(t, 1764940020);
    assert_int_equal(ctl_time_parse("2025-12-05T08:07-05:00", &t), 0);
    assert_int_equal(t, 1764940020);
    assert_int_equal(ctl_time_parse("2025-12-05T13:07Z", &t), 0);
    assert_int_equal(t, 1764940020);
    assert_int_equal(ctl_time_parse("2025-12-05 13:07", &t), -EINVAL); /* no zone */
    assert_int_equal(ctl_time_parse("2025-02-31T13:07Z", &t), -EINVAL);
    assert_int_equal(ctl_time_parse("", &t), -EINVAL);
    assert_int_equal(ctl_time_human(INT64_MAX, false, b, sizeof b), -EINVAL);
    assert_string_equal(ctl_count(b, sizeof b, 1, "duplicate", "duplicates"), "1 duplicate");
    assert_string_equal(ctl_count(b, sizeof b, 0, "contact", "contacts"), "0 contacts");
    assert_string_equal(ctl_count(b, sizeof b, 2, "contact", "contacts"), "2 contacts");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_string_escapes_and_keeps_utf8),
        cmocka_unit_test(display_width_counts_columns),
        cmocka_unit_test(pad_aligns_by_display_width),
        cmocka_unit_test(read_line_is_bounded),
        cmocka_unit_test(timeout_parsing),
        cmocka_unit_test(user_add_arguments),
        cmocka_unit_test(other_user_arguments),
        cmocka_unit_test(session_text_round_trip),
        cmocka_unit_test(session_dir_order),
        cmocka_unit_test(reply_matching),
        cmocka_unit_test(times_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
