/* Phone normalisation: French formats, the lost leading zero, overseas departments and their
 * time zones, international forms, other default countries, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    ok("0970 12 34 56", "FR", "+33970123456", CR_PHONE_FIXED, "Europe/Paris", false);
    ok("0800 12 34 56", "FR", "+33800123456", CR_PHONE_SPECIAL, "Europe/Paris", false);
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
    ok("+32 470 12 34 56", "FR", "+32470123456", CR_PHONE_UNKNOWN, NULL, false);
    ok("+1 (415) 555-0134", "FR", "+14155550134", CR_PHONE_UNKNOWN, NULL, false);
    ok("0470 12 34 56", "BE", "+32470123456", CR_PHONE_UNKNOWN, NULL, false);
    ok("079 123 45 67", "CH", "+41791234567", CR_PHONE_UNKNOWN, NULL, false);
    ok("07700 900123", "GB", "+447700900123", CR_PHONE_UNKNOWN, NULL, false);
    ok("612 345 678", "ES", "+34612345678", CR_PHONE_UNKNOWN, NULL, false);
    ok("(415) 555-0134", "US", "+14155550134", CR_PHONE_UNKNOWN, NULL, false);
    assert_true(cr_phone_country_known("fr"));
    assert_false(cr_phone_country_known("XX"));
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "FR", "empty");
    refused("  - . ", "FR", "empty");
    refused("06 12 34 56 7", "FR", "too short for a French number");
    refused("06 12 34 56 789", "FR", "too long for a French number");
    refused("0612abc678", "FR", "not digits");
    refused("06 12 34 56 78 poste 12", "FR", "not digits");
    refused("+33 6 12 34 56", "FR", "+33 is followed by 9 digits");
    refused("0012345", "FR", "too short for an international number");
    refused("+1234567890123456", "FR", "longer than 15 digits");
    refused("+0612345678", "FR", "no country code starts with 0");
    refused("0033 6 12 34 56", "FR", "+33 is followed by 9 digits");
    refused("612345678", "XX", "unknown default country");
    refused("470 12 34 56", "BE", "starts with 0");
    char big[100];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused(big, "FR", "longer than 64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_french),
        cmocka_unit_test(test_overseas),
        cmocka_unit_test(test_international_and_other_countries),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
