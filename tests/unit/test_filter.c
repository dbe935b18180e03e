/* The contact filter language: grammar, precedence, every error with its column, type checks,
 * relative dates, custom fields, and injection attempts that can only ever be values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contacts/filter.h"

static const struct cr_filter_field custom[] = {
    {"age", CR_FT_NUMBER, NULL},
    {"offre_actuelle", CR_FT_TEXT, NULL},
    {"date_contrat", CR_FT_TIMESTAMP, NULL},
};

static void compiles(const char *text, const char *where, int nparams, const char *p0)
{
    struct cr_filter_sql s;
    char err[256];
    int rc = cr_filter_compile(text, custom, 3, 1, &s, err, sizeof err);
    if (rc)
        fail_msg("'%s' refused: %s", text, err);
    if (strcmp(s.where, where) != 0)
        fail_msg("'%s'\n  gave     %s\n  expected %s", text, s.where, where);
    assert_int_equal(s.nparams, nparams);
    if (p0)
        assert_string_equal(s.params[0], p0);
    cr_filter_sql_free(&s);
}

static void refused(const char *text, const char *msg)
{
    struct cr_filter_sql s;
    char err[256];
    if (cr_filter_compile(text, custom, 3, 1, &s, err, sizeof err) != -EINVAL)
        fail_msg("'%s' accepted as %s", text, s.where);
    if (!strstr(err, msg))
        fail_msg("'%s': error '%s', expected '%s'", text, err, msg);
    assert_null(s.where);
}

static void test_grammar(void **state)
{
    (void)state;
    compiles("state = 'waiting'", "(c.state = $1::text)", 1, "waiting");
    compiles("STATE='waiting'", "(c.state = $1::text)", 1, "waiting");
    compiles("attempts >= 3 and priority < 10",
             "((c.attempts >= $1::numeric) AND (c.priority < $2::numeric))", 2, "3");
    /* and binds tighter than or; not tighter than and */
    compiles("city = 'Lyon' or city = 'Paris' and not consent = true",
             "((c.city = $1::text) OR ((c.city = $2::text) AND (NOT (c.consent = "
             "$3::boolean))))",
             3, "Lyon");
    compiles("(city = 'Lyon' or city = 'Paris') and top_priority = false",
             "(((c.city = $1::text) OR (c.city = $2::text)) AND (c.top_priority = $3::boolean))", 3,
             NULL);
    compiles("state in ('waiting', 'failed')", "(c.state IN ($1::text, $2::text))", 2, NULL);
    compiles("last_qualification not in ('OK')", "(c.last_qualification NOT IN ($1::text))", 1,
             "OK");
    compiles("last_name like 'Dup%'", "(c.last_name ILIKE $1)", 1, "Dup%");
    compiles("city not like '%sur-Mer'", "(c.city NOT ILIKE $1)", 1, "%sur-Mer");
    compiles("agent is null", "((SELECT u.login FROM users u WHERE u.id = c.agent_id) IS NULL)", 0,
             NULL);
    compiles("email is not null", "(c.email IS NOT NULL)", 0, NULL);
    compiles("state <> 'done'", "(c.state != $1::text)", 1, "done");
    compiles("priority > -5", "(c.priority > $1::numeric)", 1, "-5");
    compiles("last_name = 'L''Oréal'", "(c.last_name = $1::text)", 1, "L'Oréal");
    compiles("city = \"Saint-Étienne\"", "(c.city = $1::text)", 1, "Saint-Étienne");
}

static void test_dates_custom_phone(void **state)
{
    (void)state;
    compiles("next_try < now + 2h", "(c.next_try < (now() + $1::interval))", 1, "7200 seconds");
    compiles("last_update >= now - 3d", "(c.updated_at >= (now() + $1::interval))", 1,
             "-259200 seconds");
    compiles("next_try < now", "(c.next_try < (now() + $1::interval))", 1, "0 seconds");
    compiles("imported_at > '2026-11-01'", "(c.created_at > $1::timestamptz)", 1, "2026-11-01");
    compiles("age >= 60", "((c.fields->>'age')::numeric >= $1::numeric)", 1, "60");
    compiles("offre_actuelle = 'Box'", "((c.fields->>'offre_actuelle')::text = $1::text)", 1,
             "Box");
    compiles("date_contrat < now - 1w",
             "((c.fields->>'date_contrat')::timestamptz < (now() + $1::interval))", 1,
             "-604800 seconds");
    compiles("phone = '+33612345678'",
             "EXISTS (SELECT 1 FROM addresses a WHERE a.contact_id = c.id AND (a.number = "
             "$1::text))",
             1, "+33612345678");
}

static void test_errors(void **state)
{
    (void)state;
    refused("", "the filter is empty");
    refused("ville = 'Lyon'", "unknown field 'ville' at column 1");
    refused("state = 'a' and ville = 'Lyon'", "unknown field 'ville' at column 17");
    refused("state = ", "expected a value");
    refused("state 'waiting'", "expected an operator");
    refused("state = 'waiting", "unterminated string at column 9");
    refused("(state = 'a'", "expected ')'");
    refused("state = 'a')", "unexpected ')' at column 12");
    refused("state = 'a' or", "expected a field name");
    refused("attempts = 'three'", "field 'attempts' is a number, not text");
    refused("consent = 1", "field 'consent' is true or false, not a number");
    refused("city = now", "'now' compares with dates");
    refused("next_try < now + 2", "expected a duration such as 2h");
    refused("next_try < now + 2x", "neither a number nor a duration");
    refused("next_try < now + 99999999999999999999d",
            "duration '99999999999999999999d' is too long");
    refused("next_try > now - 40000d", "is too long (at most 100 years)");
    refused("next_try > now - 9223372036854775807s", "is too long");
    refused("next_try < now + 99999999999999999999w", "is too long");
    refused("next_try < now - 5300w", "is too long (at most 100 years)");
    refused("attempts like '1%'", "'like' needs a text field");
    refused("state not = 'a'", "expected 'in' or 'like' after 'not'");
    refused("agent is 'x'", "expected 'null' after 'is'");
    refused("state in 'a'", "expected '(' after 'in'");
    refused("state in ('a' 'b')", "expected ',' or ')'");
    refused("state ! 'a'", "'!' must be followed by '='");
    refused("state = 'a' ; drop", "unexpected character ';'");
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "state = 'a'");
    refused(deep, "nested deeper than 32");
    char big[5000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused(big, "longer than 4096 bytes");
}

/* Whatever the text, values stay parameters: the SQL only ever holds fixed text and $N. */
static void test_injection(void **state)
{
    (void)state;
    compiles("last_name = '''; DROP TABLE contacts; --'", "(c.last_name = $1::text)", 1,
             "'; DROP TABLE contacts; --");
    compiles("city in ('x'')) OR 1=1 --', 'y')", "(c.city IN ($1::text, $2::text))", 2,
             "x')) OR 1=1 --");
    refused("state = 'a' or 1=1", "expected a field name");
    refused("state = 'a'; drop table contacts", "unexpected character ';'");
    refused("\"state\" = 'a'", "expected a field name");
    struct cr_filter_field evil = {"x'); drop table t; --", CR_FT_TEXT, NULL};
    struct cr_filter_sql s;
    char err[256];
    assert_int_equal(cr_filter_compile("state = 'a'", &evil, 1, 1, &s, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "invalid name"));
}

/* Address state and type: any of the contact's numbers; a declared field cannot pose as one. */
static void test_address_fields(void **state)
{
    (void)state;
    compiles("phone_state = 'blocked'",
             "EXISTS (SELECT 1 FROM addresses a WHERE a.contact_id = c.id AND (a.state = "
             "$1::text))",
             1, "blocked");
    compiles("phone_type in ('mobile', 'work') and callback = true",
             "(EXISTS (SELECT 1 FROM addresses a WHERE a.contact_id = c.id AND (a.type IN "
             "($1::text, $2::text))) AND (c.callback = $3::boolean))",
             3, "mobile");
    struct cr_filter_field pose = {"phone_kind", CR_FT_TEXT, NULL};
    struct cr_filter_sql s;
    char err[256];
    assert_int_equal(cr_filter_compile("phone_kind = 'x'", &pose, 1, 1, &s, err, sizeof err), 0);
    assert_string_equal(s.where, "((c.fields->>'phone_kind')::text = $1::text)");
    cr_filter_sql_free(&s);
}

static void sorts(const char *text, const char *order_by)
{
    char *o = NULL, err[2048];
    if (cr_filter_sort_compile(text, custom, 3, &o, err, sizeof err))
        fail_msg("sort '%s' refused: %s", text, err);
    if (strcmp(o, order_by))
        fail_msg("sort '%s'\n  gave     %s\n  expected %s", text, o, order_by);
    free(o);
}

static void sort_refused(const char *text, const char *msg)
{
    char *o = NULL, err[2048];
    if (cr_filter_sort_compile(text, custom, 3, &o, err, sizeof err) != -EINVAL)
        fail_msg("sort '%s' accepted as %s", text, o);
    if (!strstr(err, msg))
        fail_msg("sort '%s': error '%s', expected '%s'", text, err, msg);
    assert_null(o);
}

static void test_sort(void **state)
{
    (void)state;
    sorts("", "c.id");
    sorts("next_try", "c.next_try ASC NULLS LAST, c.id");
    sorts("next_try,-priority", "c.next_try ASC NULLS LAST, c.priority DESC NULLS LAST, c.id");
    sorts(" -id ", "c.id DESC NULLS LAST");
    sorts("list", "(SELECT l.name FROM lists l WHERE l.id = c.list_id) ASC NULLS LAST, c.id");
    sorts("-age,offre_actuelle",
          "(CASE WHEN c.fields->>'age' ~ '^ *[-+]?[0-9]+([.][0-9]+)? *$' THEN "
          "(c.fields->>'age')::numeric END) DESC NULLS LAST, (c.fields->>'offre_actuelle') ASC "
          "NULLS LAST, c.id");
    sort_refused("ville", "unknown sort column 'ville'; sortable columns: id, list, state, "
                          "next_try");
    sort_refused("ville", "callback, age, offre_actuelle, date_contrat");
    sort_refused("phone", "unknown sort column 'phone'");
    sort_refused("next_try,", "empty column");
    sort_refused("-", "empty column");
    sort_refused("priority,-priority", "'priority' is given twice");
    sort_refused("c.id; drop table contacts", "unknown sort column 'c.id; drop table contacts'");
    sort_refused("Next_Try", "unknown sort column 'Next_Try'");
    char many[400] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",id" : "id");
    sort_refused(many, "given twice");
    struct cr_filter_field evil = {"x'); drop table t; --", CR_FT_TEXT, NULL};
    char *o = NULL, err[256];
    assert_int_equal(cr_filter_sort_compile("id", &evil, 1, &o, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "invalid name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar),        cmocka_unit_test(test_dates_custom_phone),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_injection),
        cmocka_unit_test(test_address_fields), cmocka_unit_test(test_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
