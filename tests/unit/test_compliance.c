/* Compliance rules: Easter, the French holidays of a year by region, the FR and US windows at
 * their edges, the next allowed time across nights, weekends and holidays, and the contact's
 * region from its number or postcode. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/compliance.h"

static void test_profile_names(void **state)
{
    (void)state;
    enum compliance_profile p = COMPLIANCE_US;
    assert_int_equal(compliance_parse("none", &p), 0);
    assert_int_equal(p, COMPLIANCE_NONE);
    assert_int_equal(compliance_parse("fr", &p), 0);
    assert_int_equal(p, COMPLIANCE_FR);
    assert_int_equal(compliance_parse("US", &p), 0);
    assert_int_equal(p, COMPLIANCE_US);
    assert_int_equal(compliance_parse("Uk", &p), 0);
    assert_int_equal(p, COMPLIANCE_UK);
    assert_int_equal(compliance_parse("DE", &p), -EINVAL);
    assert_int_equal(compliance_parse("", &p), -EINVAL);
    assert_int_equal(compliance_parse(NULL, &p), -EINVAL);
    assert_string_equal(compliance_name(COMPLIANCE_NONE), "none");
    assert_string_equal(compliance_name(COMPLIANCE_FR), "FR");
    assert_string_equal(compliance_name(COMPLIANCE_UK), "UK");
    assert_string_equal(compliance_name((enum compliance_profile)42), "unknown");
}

static void easter_is(int year, int month, int day)
{
    int m = 0, d = 0;
    assert_int_equal(compliance_easter(year, &m, &d), 0);
    if (m != month || d != day)
        fail_msg("Easter %d: %02d-%02d, expected %02d-%02d", year, m, d, month, day);
}

static void test_easter(void **state)
{
    (void)state;
    easter_is(2024, 3, 31);
    easter_is(2025, 4, 20);
    easter_is(2026, 4, 5);
    easter_is(2027, 3, 28);
    easter_is(2038, 4, 25); /* the latest possible date */
    easter_is(2019, 4, 21);
    easter_is(2000, 4, 23);
    easter_is(1818, 3, 22); /* the earliest possible date */
    easter_is(2285, 3, 22);
    easter_is(1943, 4, 25);
    int m, d;
    assert_int_equal(compliance_easter(1582, &m, &d), -EINVAL);
    assert_int_equal(compliance_easter(10000, &m, &d), -EINVAL);
}

/* expected: "MM-DD name region" lines joined by ';'. */
static void holidays_are(enum compliance_profile p, int year, const char *region,
                         const char *expected)
{
    struct compliance_holiday h[COMPLIANCE_HOLIDAYS_MAX];
    int n = compliance_holidays(p, year, region, h, COMPLIANCE_HOLIDAYS_MAX);
    assert_true(n >= 0);
    char got[2048] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(h[i].year, year);
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%02d-%02d %s%s%s", i ? ";" : "",
                                h[i].month, h[i].day, h[i].name, h[i].region[0] ? " " : "",
                                h[i].region);
        assert_true(len < sizeof got);
    }
    if (strcmp(got, expected) != 0)
        fail_msg("%s %d %s:\n got      %s\n expected %s", compliance_name(p), year,
                 region ? region : "(none)", got, expected);
}

#define FR_2027_START                                                                              \
    "01-01 New Year's Day;03-29 Easter Monday;05-01 Labour Day;05-06 Ascension Day;"               \
    "05-08 Victory in Europe Day;05-17 Whit Monday;07-14 Bastille Day;08-15 Assumption Day;"       \
    "11-01 All Saints' Day;11-11 Armistice Day"

static void test_holidays_fr_2027(void **state)
{
    (void)state;
    holidays_are(COMPLIANCE_FR, 2027, NULL, FR_2027_START ";12-25 Christmas Day");
    holidays_are(COMPLIANCE_FR, 2027, "", FR_2027_START ";12-25 Christmas Day");
    holidays_are(COMPLIANCE_FR, 2027, "75", FR_2027_START ";12-25 Christmas Day");
    holidays_are(COMPLIANCE_FR, 2027, "57",
                 "01-01 New Year's Day;03-26 Good Friday 57;03-29 Easter Monday;05-01 Labour Day;"
                 "05-06 Ascension Day;05-08 Victory in Europe Day;05-17 Whit Monday;"
                 "07-14 Bastille Day;08-15 Assumption Day;11-01 All Saints' Day;"
                 "11-11 Armistice Day;12-25 Christmas Day;12-26 St Stephen's Day 57");
    holidays_are(COMPLIANCE_FR, 2027, "974",
                 FR_2027_START ";12-20 Abolition of Slavery Day 974;12-25 Christmas Day");
    holidays_are(COMPLIANCE_FR, 2027, "971",
                 "01-01 New Year's Day;03-29 Easter Monday;05-01 Labour Day;05-06 Ascension Day;"
                 "05-08 Victory in Europe Day;05-17 Whit Monday;05-27 Abolition of Slavery Day "
                 "971;07-14 Bastille Day;08-15 Assumption Day;11-01 All Saints' Day;"
                 "11-11 Armistice Day;12-25 Christmas Day");
}

static void test_holidays_edges(void **state)
{
    (void)state;
    /* 2008: Ascension fell on 1 May; both days are listed, in order. */
    struct compliance_holiday h[COMPLIANCE_HOLIDAYS_MAX];
    int n = compliance_holidays(COMPLIANCE_FR, 2008, "976", h, COMPLIANCE_HOLIDAYS_MAX);
    assert_int_equal(n, 12);
    assert_int_equal(h[1].month, 3); /* Easter Monday 24 March */
    assert_int_equal(h[1].day, 24);
    assert_int_equal(h[2].month, 4); /* Mayotte, 27 April */
    assert_int_equal(h[2].day, 27);
    assert_string_equal(h[3].name, "Labour Day");
    assert_string_equal(h[4].name, "Ascension Day");
    assert_int_equal(h[4].day, 1);
    /* US, UK and none: no holiday by law. */
    assert_int_equal(compliance_holidays(COMPLIANCE_US, 2027, NULL, h, COMPLIANCE_HOLIDAYS_MAX), 0);
    assert_int_equal(compliance_holidays(COMPLIANCE_UK, 2027, NULL, h, COMPLIANCE_HOLIDAYS_MAX), 0);
    assert_int_equal(compliance_holidays(COMPLIANCE_NONE, 2027, "57", h, 0), 0);
    /* A short array is an error, not a truncation. */
    assert_int_equal(compliance_holidays(COMPLIANCE_FR, 2027, NULL, h, 10), -ENOBUFS);
    assert_int_equal(compliance_holidays(COMPLIANCE_FR, 2027, "67", h, 12), -ENOBUFS);
    assert_int_equal(compliance_holidays(COMPLIANCE_FR, 1500, NULL, h, COMPLIANCE_HOLIDAYS_MAX),
                     -EINVAL);
    size_t nr;
    const char *const *r = compliance_regions(COMPLIANCE_FR, &nr);
    assert_int_equal(nr, 8);
    assert_string_equal(r[0], "57");
    assert_string_equal(r[7], "976");
    assert_null(compliance_regions(COMPLIANCE_US, &nr));
    assert_int_equal(nr, 0);
}

/* Evaluates p at y-m-d h:mi:s for region; expects allowed or not, and the window
 * [start, end) given as "YYYY-MM-DD HH:MM" (start is the time given when allowed). */
static void at(enum compliance_profile p, const char *region, const char *now, bool allowed,
               const char *start, const char *end)
{
    struct compliance_time t = {0};
    assert_int_equal(
        sscanf(now, "%d-%d-%d %d:%d:%d", &t.year, &t.month, &t.day, &t.hour, &t.minute, &t.second),
        6);
    struct compliance_verdict v;
    assert_int_equal(compliance_next_allowed(p, &t, region, &v), 0);
    char s[64], e[64];
    snprintf(s, sizeof s, "%04d-%02d-%02d %02d:%02d", v.start.year, v.start.month, v.start.day,
             v.start.hour, v.start.minute);
    snprintf(e, sizeof e, "%04d-%02d-%02d %02d:%02d", v.end.year, v.end.month, v.end.day,
             v.end.hour, v.end.minute);
    if (v.allowed != allowed || !v.bounded || strcmp(s, start) != 0 || strcmp(e, end) != 0)
        fail_msg("%s %s at %s: %s [%s, %s), expected %s [%s, %s)", compliance_name(p),
                 region ? region : "-", now, v.allowed ? "allowed" : "not allowed", s, e,
                 allowed ? "allowed" : "not allowed", start, end);
}

static void test_fr_windows(void **state)
{
    (void)state;
    enum compliance_profile fr = COMPLIANCE_FR;
    /* Friday 8 January 2027. */
    at(fr, NULL, "2027-01-08 09:59:59", false, "2027-01-08 10:00", "2027-01-08 13:00");
    at(fr, NULL, "2027-01-08 10:00:00", true, "2027-01-08 10:00", "2027-01-08 13:00");
    at(fr, NULL, "2027-01-08 12:59:59", true, "2027-01-08 12:59", "2027-01-08 13:00");
    at(fr, NULL, "2027-01-08 13:00:00", false, "2027-01-08 14:00", "2027-01-08 20:00");
    at(fr, NULL, "2027-01-08 13:59:59", false, "2027-01-08 14:00", "2027-01-08 20:00");
    at(fr, NULL, "2027-01-08 14:00:00", true, "2027-01-08 14:00", "2027-01-08 20:00");
    at(fr, NULL, "2027-01-08 19:59:00", true, "2027-01-08 19:59", "2027-01-08 20:00");
    at(fr, NULL, "2027-01-08 20:00:00", false, "2027-01-11 10:00", "2027-01-11 13:00");
    /* Saturday and Sunday. */
    at(fr, NULL, "2027-01-09 11:00:00", false, "2027-01-11 10:00", "2027-01-11 13:00");
    at(fr, "57", "2027-01-10 15:00:00", false, "2027-01-11 10:00", "2027-01-11 13:00");
    /* Wednesday 14 July. */
    at(fr, NULL, "2027-07-14 11:00:00", false, "2027-07-15 10:00", "2027-07-15 13:00");
    at(fr, NULL, "2027-07-13 20:30:00", false, "2027-07-15 10:00", "2027-07-15 13:00");
    /* Friday 26 March 2027 at 20:00: Monday is Easter Monday, so Tuesday. */
    at(fr, NULL, "2027-03-26 20:00:00", false, "2027-03-30 10:00", "2027-03-30 13:00");
    /* In Alsace-Moselle, that Friday is Good Friday. */
    at(fr, NULL, "2027-03-26 11:00:00", true, "2027-03-26 11:00", "2027-03-26 13:00");
    at(fr, "67", "2027-03-26 11:00:00", false, "2027-03-30 10:00", "2027-03-30 13:00");
    /* Monday 20 December 2027 is a holiday in La Réunion only. */
    at(fr, "974", "2027-12-20 15:00:00", false, "2027-12-21 10:00", "2027-12-21 13:00");
    at(fr, NULL, "2027-12-20 15:00:00", true, "2027-12-20 15:00", "2027-12-20 20:00");
    /* Across the year: Thursday 31 December 2026, then New Year's Day (a Friday), a weekend. */
    at(fr, NULL, "2026-12-31 20:00:00", false, "2027-01-04 10:00", "2027-01-04 13:00");
    at(fr, NULL, "2027-12-31 23:59:59", false, "2028-01-03 10:00", "2028-01-03 13:00");
}

static void test_us_windows(void **state)
{
    (void)state;
    enum compliance_profile us = COMPLIANCE_US;
    at(us, NULL, "2027-07-04 07:59:59", false, "2027-07-04 08:00", "2027-07-04 21:00");
    at(us, NULL, "2027-07-04 08:00:00", true, "2027-07-04 08:00", "2027-07-04 21:00");
    at(us, NULL, "2027-07-04 20:59:59", true, "2027-07-04 20:59", "2027-07-04 21:00");
    at(us, NULL, "2027-07-04 21:00:00", false, "2027-07-05 08:00", "2027-07-05 21:00");
    at(us, NULL, "2027-12-31 23:00:00", false, "2028-01-01 08:00", "2028-01-01 21:00");
    at(us, NULL, "2028-02-28 22:00:00", false, "2028-02-29 08:00", "2028-02-29 21:00");
}

static void test_unbounded_and_invalid(void **state)
{
    (void)state;
    struct compliance_time night = {2027, 1, 9, 3, 0, 0};
    struct compliance_verdict v;
    assert_int_equal(compliance_next_allowed(COMPLIANCE_NONE, &night, NULL, &v), 0);
    assert_true(v.allowed);
    assert_false(v.bounded);
    assert_int_equal(compliance_next_allowed(COMPLIANCE_UK, &night, NULL, &v), 0);
    assert_true(v.allowed);
    assert_false(v.bounded);
    size_t n = 1;
    assert_null(compliance_windows(COMPLIANCE_UK, &n));
    assert_int_equal(n, 0);
    assert_non_null(compliance_windows(COMPLIANCE_FR, &n));
    assert_int_equal(n, 10);

    const struct compliance_time bad[] = {
        {2027, 2, 29, 11, 0, 0}, {2027, 1, 8, 24, 0, 0}, {2027, 13, 1, 11, 0, 0},
        {2027, 1, 8, 11, 60, 0}, {2027, 1, 0, 11, 0, 0}, {1500, 1, 8, 11, 0, 0},
        {2027, 4, 31, 11, 0, 0}, {2027, 1, 8, -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(compliance_next_allowed(COMPLIANCE_FR, &bad[i], NULL, &v), -EINVAL);
    const struct compliance_time leap_day = {2028, 2, 29, 11, 0, 0}; /* a Tuesday */
    assert_int_equal(compliance_next_allowed(COMPLIANCE_FR, &leap_day, NULL, &v), 0);
    assert_true(v.allowed);
}

/* A region derived by from (from a number or a postcode) from input. */
typedef int (*region_fn)(const char *input, char out[COMPLIANCE_REGION_MAX]);

static void region_is(region_fn from, const char *input, int rc, const char *region)
{
    char r[COMPLIANCE_REGION_MAX] = "x";
    int got = from(input, r);
    if (got != rc || strcmp(r, region) != 0)
        fail_msg("%s: rc %d region '%s', expected rc %d region '%s'", input ? input : "(null)", got,
                 r, rc, region);
}

static void region_phone(const char *number, int rc, const char *region)
{
    region_is(compliance_region_from_phone, number, rc, region);
}

static void test_region_from_phone(void **state)
{
    (void)state;
    region_phone("+262692123456", 0, "974");
    region_phone("+262262123456", 0, "974");
    region_phone("+262269612345", 0, "976");
    region_phone("+262639123456", 0, "976");
    region_phone("+590690123456", 0, "971");
    region_phone("+596696123456", 0, "972");
    region_phone("+594694123456", 0, "973");
    region_phone("0692123456", 0, "974"); /* national format, as imported */
    /* Metropolitan numbers name no département, not even Strasbourg's 03 88. */
    region_phone("+33612345678", 0, "");
    region_phone("+33388123456", 0, "");
    /* Not French: +269 is the Comoros (Mayotte is +262 269 / +262 639), 7 digits after it. */
    region_phone("+14155550100", -ENOENT, "");
    region_phone("+2697712345", -ENOENT, "");
    region_phone("not a number", -EINVAL, "");
    region_phone(NULL, -EINVAL, "");
}

static void region_postcode(const char *postcode, int rc, const char *region)
{
    region_is(compliance_region_from_postcode, postcode, rc, region);
}

static void test_region_from_postcode(void **state)
{
    (void)state;
    region_postcode("57000", 0, "57"); /* Metz */
    region_postcode("67000", 0, "67");
    region_postcode("68100", 0, "68");
    region_postcode("75001", 0, "75");
    region_postcode("01000", 0, "01");
    region_postcode("97400", 0, "974");
    region_postcode("97600", 0, "976");
    region_postcode("97110", 0, "971");
    region_postcode("97133", 0, "977"); /* Saint-Barthélemy, not Guadeloupe */
    region_postcode("97150", 0, "978"); /* Saint-Martin */
    region_postcode("20000", 0, "2A");
    region_postcode("20200", 0, "2B");
    region_postcode("98000", -ENOENT, "");
    region_postcode("5700", -EINVAL, "");
    region_postcode("570000", -EINVAL, "");
    region_postcode("57O00", -EINVAL, "");
    region_postcode("00100", -EINVAL, "");
    region_postcode(NULL, -EINVAL, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_names),
        cmocka_unit_test(test_easter),
        cmocka_unit_test(test_holidays_fr_2027),
        cmocka_unit_test(test_holidays_edges),
        cmocka_unit_test(test_fr_windows),
        cmocka_unit_test(test_us_windows),
        cmocka_unit_test(test_unbounded_and_invalid),
        cmocka_unit_test(test_region_from_phone),
        cmocka_unit_test(test_region_from_postcode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
