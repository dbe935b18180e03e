/* Phone normalisation: French formats, the lost leading zero, overseas departments and their
 * time zones, international forms, other default countries (libphonenumber's verdicts, the
 * cases issue 14 found wrong), time zones by country and area code, every refusal, and the
 * time 100,000 normalisations take (printed, not asserted). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "carillon/phone.h"

static void ok(const char *raw, const char *country, const char *e164, enum cr_phone_type type,
               const char *tz, bool repaired)
{
    struct cr_phone p;
    const char *why = NULL;
    int rc = cr_phone_normalize(raw, country, &p, &why);
    if (rc != 0)
        fail_msg("'%s' (%s) refused: %s", raw, country, why);
    if (strcmp(p.e164, e164) != 0)
        fail_msg("'%s' -> %s, expected %s", raw, p.e164, e164);
    assert_int_equal(p.type, type);
    if (tz)
        assert_string_equal(p.time_zone, tz);
    else
        assert_null(p.time_zone);
    assert_int_equal(p.repaired, repaired);
}

static void refused(const char *raw, const char *country, const char *reason)
{
    struct cr_phone p;
    const char *why = NULL;
    if (cr_phone_normalize(raw, country, &p, &why) != -EINVAL)
        fail_msg("'%s' accepted as %s", raw, p.e164);
    if (!why || !strstr(why, reason))
        fail_msg("'%s': reason '%s', expected '%s'", raw, why ? why : "(none)", reason);
}

static void test_french(void **state)
{
    (void)state;
    ok("06 12 34 56 78", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", false);
    ok("06.12.34.56.78", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", false);
    ok("01-45-67-89-10", "FR", "+33145678910", CR_PHONE_FIXED, "Europe/Paris", false);
    ok("+33 6 12 34 56 78", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", false);
    ok("+33 (0)1 45 67 89 10", "FR", "+33145678910", CR_PHONE_FIXED, "Europe/Paris", false);
    ok("0033745678910", "FR", "+33745678910", CR_PHONE_MOBILE, "Europe/Paris", false);
    /* 09: VoIP for libphonenumber, home lines of internet boxes for a French list */
    ok("0970 12 34 56", "FR", "+33970123456", CR_PHONE_FIXED, "Europe/Paris", false);
    ok("0800 12 34 56", "FR", "+33800123456", CR_PHONE_TOLL_FREE, "Europe/Paris", false);
    ok("0891 12 34 56", "FR", "+33891123456", CR_PHONE_PREMIUM_RATE, "Europe/Paris", false);
    ok("06\xc2\xa0"
       "12\xc2\xa0"
       "34 56 78",
       "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris",
       false); /* no-break spaces from a spreadsheet */
    ok("'0612345678", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", false);
    ok("'+33612345678", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", false);
    /* The spreadsheet dropped the 0. */
    ok("612345678", "FR", "+33612345678", CR_PHONE_MOBILE, "Europe/Paris", true);
    ok("145678910", "FR", "+33145678910", CR_PHONE_FIXED, "Europe/Paris", true);
}

static void test_overseas(void **state)
{
    (void)state;
    ok("0690 12 34 56", "FR", "+590690123456", CR_PHONE_MOBILE, "America/Guadeloupe", false);
    ok("0590 12 34 56", "FR", "+590590123456", CR_PHONE_FIXED, "America/Guadeloupe", false);
    ok("0696 12 34 56", "FR", "+596696123456", CR_PHONE_MOBILE, "America/Martinique", false);
    /* ARCEP's newer mobile ranges: 0691 Guadeloupe, 0697 Martinique */
    ok("0691 12 34 56", "FR", "+590691123456", CR_PHONE_MOBILE, "America/Guadeloupe", false);
    ok("0697 12 34 56", "FR", "+596697123456", CR_PHONE_MOBILE, "America/Martinique", false);
    ok("+596 697 12 34 56", "FR", "+596697123456", CR_PHONE_MOBILE, "America/Martinique", false);
    ok("0594 12 34 56", "FR", "+594594123456", CR_PHONE_FIXED, "America/Cayenne", false);
    ok("0692 12 34 56", "FR", "+262692123456", CR_PHONE_MOBILE, "Indian/Reunion", false);
    ok("0262 12 34 56", "FR", "+262262123456", CR_PHONE_FIXED, "Indian/Reunion", false);
    ok("0639 12 34 56", "FR", "+262639123456", CR_PHONE_MOBILE, "Indian/Mayotte", false);
    ok("0508 41 23 45", "FR", "+508508412345", CR_PHONE_FIXED, "America/Miquelon", false);
    ok("692123456", "FR", "+262692123456", CR_PHONE_MOBILE, "Indian/Reunion", true);
    ok("+262 692 12 34 56", "FR", "+262692123456", CR_PHONE_MOBILE, "Indian/Reunion", false);
    ok("+590 690 12 34 56", "FR", "+590690123456", CR_PHONE_MOBILE, "America/Guadeloupe", false);
}

static void test_international_and_other_countries(void **state)
{
    (void)state;
    ok("+32 470 12 34 56", "FR", "+32470123456", CR_PHONE_MOBILE, "Europe/Brussels", false);
    ok("+1 (415) 555-0134", "FR", "+14155550134", CR_PHONE_FIXED_OR_MOBILE, "America/Los_Angeles",
       false);
    ok("0470 12 34 56", "BE", "+32470123456", CR_PHONE_MOBILE, "Europe/Brussels", false);
    ok("02 512 34 56", "BE", "+3225123456", CR_PHONE_FIXED, "Europe/Brussels", false);
    /* libphonenumber takes a Belgian national number without its trunk 0 */
    ok("470 12 34 56", "BE", "+32470123456", CR_PHONE_MOBILE, "Europe/Brussels", false);
    ok("079 123 45 67", "CH", "+41791234567", CR_PHONE_MOBILE, "Europe/Zurich", false);
    ok("07400 123456", "GB", "+447400123456", CR_PHONE_MOBILE, "Europe/London", false);
    ok("612 345 678", "ES", "+34612345678", CR_PHONE_MOBILE, "Europe/Madrid", false);
    ok("030 12345678", "DE", "+493012345678", CR_PHONE_FIXED, "Europe/Berlin", false);
    ok("(415) 555-0134", "US", "+14155550134", CR_PHONE_FIXED_OR_MOBILE, "America/Los_Angeles",
       false);
    ok("03-1234-5678", "jp", "+81312345678", CR_PHONE_FIXED, "Asia/Tokyo", false);
    assert_true(cr_phone_country_known("fr"));
    assert_true(cr_phone_country_known("JP"));
    assert_true(cr_phone_country_known("br"));
    assert_false(cr_phone_country_known("XX"));
    assert_false(cr_phone_country_known("ZZ"));
    assert_false(cr_phone_country_known("FRA"));
    assert_false(cr_phone_country_known(""));
    assert_false(cr_phone_country_known(NULL));
    struct cr_phone p;
    const char *why;
    assert_int_equal(cr_phone_normalize("+44 7400 123456", "FR", &p, &why), 0);
    assert_string_equal(p.region, "GB");
    assert_int_equal(cr_phone_normalize("0690 12 34 56", "FR", &p, &why), 0);
    assert_string_equal(p.region, "GP");
    assert_string_equal(cr_phone_type_name(CR_PHONE_TOLL_FREE), "toll_free");
    assert_string_equal(cr_phone_type_name(CR_PHONE_FIXED_OR_MOBILE), "fixed_or_mobile");
    assert_string_equal(cr_phone_type_name(CR_PHONE_MOBILE), "mobile");
    assert_string_equal(cr_phone_type_name((enum cr_phone_type)99), "unknown");
}

/* What the hand-written rules got wrong against libphonenumber (issue 14). */
static void test_issue_cases(void **state)
{
    (void)state;
    refused("+1 212 555 01", "FR", "too short");
    refused("+1 212 555 01", "US", "too short");
    refused("+999 123 456 789", "FR", "unknown country code");
    refused("+999 123 456 789", "US", "unknown country code");
    /* a US list's international prefix is 011: 00 is not one there */
    refused("0033 1 45 67 89 10", "US", "its country");
    ok("011 33 1 45 67 89 10", "US", "+33145678910", CR_PHONE_FIXED, "Europe/Paris", false);
    refused("0999999999", "BE", "not a valid number of its country");
    refused("0999999999", "CH", "not a valid number of its country");
    /* German 0800 numbers: valid, toll free */
    ok("0800 123 4567", "DE", "+498001234567", CR_PHONE_TOLL_FREE, "Europe/Berlin", false);
    ok("0800 1234567", "DE", "+498001234567", CR_PHONE_TOLL_FREE, "Europe/Berlin", false);
    ok("+49 800 1234567", "FR", "+498001234567", CR_PHONE_TOLL_FREE, "Europe/Berlin", false);
    /* a type outside France */
    ok("07400 123456", "GB", "+447400123456", CR_PHONE_MOBILE, "Europe/London", false);
    ok("020 7946 0018", "GB", "+442079460018", CR_PHONE_FIXED, "Europe/London", false);
    ok("0151 12345678", "DE", "+4915112345678", CR_PHONE_MOBILE, "Europe/Berlin", false);
}

/* A number's zone is its own country's, by area code where the country has several. */
static void test_time_zones(void **state)
{
    (void)state;
    ok("+44 7400 123456", "FR", "+447400123456", CR_PHONE_MOBILE, "Europe/London", false);
    ok("0044 20 7946 0018", "FR", "+442079460018", CR_PHONE_FIXED, "Europe/London", false);
    ok("+1 212 736 5000", "FR", "+12127365000", CR_PHONE_FIXED_OR_MOBILE, "America/New_York",
       false);
    ok("(213) 621-0002", "US", "+12136210002", CR_PHONE_FIXED_OR_MOBILE, "America/Los_Angeles",
       false);
    ok("312 744 5000", "US", "+13127445000", CR_PHONE_FIXED_OR_MOBILE, "America/Chicago", false);
    ok("+1 303 555 0100", "FR", "+13035550100", CR_PHONE_FIXED_OR_MOBILE, "America/Denver", false);
    ok("+1 602 262 6011", "FR", "+16022626011", CR_PHONE_FIXED_OR_MOBILE, "America/Phoenix", false);
    ok("+1 808 586 0034", "FR", "+18085860034", CR_PHONE_FIXED_OR_MOBILE, "Pacific/Honolulu",
       false);
    ok("+1 416 392 2489", "FR", "+14163922489", CR_PHONE_FIXED_OR_MOBILE, "America/Toronto", false);
    ok("+1 514 872 1111", "FR", "+15148721111", CR_PHONE_FIXED_OR_MOBILE, "America/Toronto", false);
    ok("+1 604 873 7000", "FR", "+16048737000", CR_PHONE_FIXED_OR_MOBILE, "America/Vancouver",
       false);
    ok("+1 306 777 7000", "FR", "+13067777000", CR_PHONE_FIXED_OR_MOBILE, "America/Regina", false);
    /* other countries with several zones: by prefix, or none when the number does not say */
    ok("+61 2 9374 4000", "FR", "+61293744000", CR_PHONE_FIXED, "Australia/Sydney", false);
    ok("+61 7 3403 8888", "FR", "+61734038888", CR_PHONE_FIXED, "Australia/Brisbane", false);
    ok("+61 412 345 678", "FR", "+61412345678", CR_PHONE_MOBILE, NULL, false);
    ok("+34 928 123 456", "FR", "+34928123456", CR_PHONE_FIXED, "Atlantic/Canary", false);
    ok("+34 912 345 678", "FR", "+34912345678", CR_PHONE_FIXED, "Europe/Madrid", false);
    ok("+7 495 123 45 67", "FR", "+74951234567", CR_PHONE_FIXED, "Europe/Moscow", false);
    ok("+55 11 2345 6789", "FR", "+551123456789", CR_PHONE_FIXED, "America/Sao_Paulo", false);
    ok("+55 92 2345 6789", "FR", "+559223456789", CR_PHONE_FIXED, "America/Manaus", false);
    ok("+52 664 123 4567", "FR", "+526641234567", CR_PHONE_FIXED_OR_MOBILE, "America/Tijuana",
       false);
    ok("+81 3 1234 5678", "FR", "+81312345678", CR_PHONE_FIXED, "Asia/Tokyo", false);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "FR", "empty");
    refused("  - . ", "FR", "empty");
    refused("06 12 34 56 7", "FR", "French number");
    refused("06 12 34 56 789", "FR", "too long for a French number");
    refused("0612abc678", "FR", "not digits");
    refused("06 12 34 56 78 poste 12", "FR", "not digits");
    refused("+33 6 12 34 56", "FR", "too short for a French number");
    refused("0012345", "FR", "too short");
    refused("+1234567890123456", "FR", "longer than 15 digits");
    refused("+0612345678", "FR", "no country code starts with 0");
    refused("0033 6 12 34 56", "FR", "too short for a French number");
    refused("0400 12 34 56", "FR", "not a valid French number");
    refused("612345678", "XX", "unknown default country");
    refused("612345678", "FRA", "unknown default country");
    refused("+44 12", "FR", "too short");
    refused("0470 12 34 56 78 90", "BE", "too long");
    char big[100];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused(big, "FR", "longer than 64");
    /* a refusal leaves no half-filled result */
    struct cr_phone p;
    const char *why;
    assert_int_equal(cr_phone_normalize("0400 12 34 56", "FR", &p, &why), -EINVAL);
    assert_string_equal(p.e164, "");
    assert_false(p.repaired);
}

/* Imports normalise every number: the time they take, printed for the record, not asserted.
 * 2,000 by default: under ASan, libphonenumber's ICU regular expressions allocate on every match
 * and cost ten to forty times what they cost at -O2; CARILLON_PHONE_TIMING_N=100000 for
 * the figure the README gives, in a release build. */
static void test_timing(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *country;
    } in[] = {
        {"06 12 34 56 78", "FR"}, {"01 45 67 89 10", "FR"},    {"612345678", "FR"},
        {"0690 12 34 56", "FR"},  {"+44 7400 123456", "FR"},   {"(212) 555-0134", "US"},
        {"0470 12 34 56", "BE"},  {"+33 6 12 34 56 78", "FR"},
    };
    struct timespec a, b;
    int accepted = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    const char *env = getenv("CARILLON_PHONE_TIMING_N");
    int N = env && atoi(env) > 0 && atoi(env) <= 10000000 ? atoi(env) : 2000;
    for (int i = 0; i < N; i++) {
        struct cr_phone p;
        const char *why;
        accepted += cr_phone_normalize(in[i % 8].raw, in[i % 8].country, &p, &why) == 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("phone: %d normalisations in %.3f s (%.2f us each, %.1f s per 100,000), %d accepted\n",
           N, s, s * 1e6 / N, s * 100000 / N, accepted);
    assert_int_equal(accepted, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_french),
        cmocka_unit_test(test_overseas),
        cmocka_unit_test(test_international_and_other_countries),
        cmocka_unit_test(test_issue_cases),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
