/* The interview window's pure parts (store/interview.c): each answer checked against its
 * question (unknown names, choices, counts, matrix rows, dates, times, e-mails, ages, ratings,
 * lengths, UTF-8 and control characters), and [Field] placeholders replaced by the contact's
 * values (standard fields by name or French label, the campaign's fields, phones). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/interview_store.h"

static const struct interview_question questions[] = {
    {"remarque", "input", "Une remarque ?", "", "", "", ""},
    {"satisfait", "select", "Êtes-vous satisfait ?", "yes_no", "", "", ""},
    {"debit", "select", "Quel débit ?", "dropdown", "",
     "ADSL\x1f"
     "Fibre",
     ""},
    {"offre", "select", "Quelle offre ?", "single", "", "Duo\x1fTrio", ""},
    {"usages", "select", "Quels usages ?", "multiple", "", "Jeux\x1fTélétravail\x1fStreaming", ""},
    {"notes", "select", "Notez nos services", "matrix", "",
     "1\x1f"
     "2\x1f"
     "3",
     "Accueil\x1fTechnique"},
    {"date_inst", "predefined", "Date d'installation", "", "date", "", ""},
    {"heure", "predefined", "Heure de rappel", "", "time", "", ""},
    {"mail", "predefined", "Votre e-mail", "", "email", "", ""},
    {"age", "predefined", "Votre âge", "", "age", "", ""},
    {"note", "predefined", "Quelle note ?", "", "rating", "", ""},
    {"avis", "predefined", "Votre avis", "", "paragraph", "", ""},
};
#define NQ ((int)(sizeof questions / sizeof questions[0]))

/* check(name, row, "v1", "v2", ..., NULL): the check's result, its message in msg */
static char msg[512];
static int check(const char *name, const char *row, ...)
{
    char *vals[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, row);
    for (const char *v; n < 8 && (v = va_arg(ap, const char *)) != NULL;)
        vals[n++] = (char *)v;
    va_end(ap);
    Carillon__V1__AgentAnswer a = CARILLON__V1__AGENT_ANSWER__INIT;
    a.export_name = (char *)name;
    a.matrix_row = (char *)(row ? row : "");
    a.values = vals;
    a.n_values = n;
    msg[0] = '\0';
    return interview_check_answer(questions, NQ, &a, msg, sizeof msg);
}

static void test_unknown_and_counts(void **state)
{
    (void)state;
    assert_int_equal(check("inconnue", NULL, "x", NULL), -EINVAL);
    assert_non_null(strstr(msg, "no question of this campaign has the export name 'inconnue'"));
    assert_int_equal(check("remarque", NULL, "Très bien", NULL), 0);
    assert_int_equal(check("remarque", NULL, "", NULL), 0); /* cleared */
    assert_int_equal(check("remarque", NULL, NULL), -EINVAL);
    assert_non_null(strstr(msg, "question \"Une remarque ?\" (remarque): an open answer is one"));
    assert_int_equal(check("remarque", NULL, "a", "b", NULL), -EINVAL);
    assert_int_equal(check("remarque", "Accueil", "a", NULL), -EINVAL);
    assert_non_null(strstr(msg, "not a matrix"));
}

static void test_choices(void **state)
{
    (void)state;
    assert_int_equal(check("satisfait", NULL, "yes", NULL), 0);
    assert_int_equal(check("satisfait", NULL, "no", NULL), 0);
    assert_int_equal(check("satisfait", NULL, "oui", NULL), -EINVAL);
    assert_non_null(strstr(msg, "Êtes-vous satisfait ?"));
    assert_int_equal(check("satisfait", NULL, "yes", "no", NULL), -EINVAL);
    assert_int_equal(check("debit", NULL, "Fibre", NULL), 0);
    assert_int_equal(check("debit", NULL, "fibre", NULL), -EINVAL);
    assert_int_equal(check("debit", NULL, "ADSL", "Fibre", NULL), -EINVAL);
    assert_int_equal(check("offre", NULL, "Trio", NULL), 0);
    assert_int_equal(check("offre", NULL, NULL), -EINVAL);
    assert_int_equal(check("usages", NULL, "Jeux", "Télétravail", NULL), 0);
    assert_int_equal(check("usages", NULL, "Streaming", NULL), 0);
    assert_int_equal(check("usages", NULL, NULL), -EINVAL);
    assert_non_null(strstr(msg, "at least one"));
    assert_int_equal(check("usages", NULL, "Jeux", "Jeux", NULL), -EINVAL);
    assert_int_equal(check("usages", NULL, "Jeu", NULL), -EINVAL);
    assert_non_null(strstr(msg, "'Jeu' is not one of its choices"));
}

static void test_matrix(void **state)
{
    (void)state;
    assert_int_equal(check("notes", "Accueil", "3", NULL), 0);
    assert_int_equal(check("notes", "Technique", "1", NULL), 0);
    assert_int_equal(check("notes", "Facturation", "1", NULL), -EINVAL);
    assert_non_null(strstr(msg, "matrix_row 'Facturation' is not one of its rows"));
    assert_int_equal(check("notes", NULL, "1", NULL), -EINVAL);
    assert_int_equal(check("notes", "Accueil", "4", NULL), -EINVAL);
    assert_int_equal(check("notes", "Accueil", "1", "2", NULL), -EINVAL);
}

static void test_predefined(void **state)
{
    (void)state;
    assert_int_equal(check("date_inst", NULL, "2027-02-28", NULL), 0);
    assert_int_equal(check("date_inst", NULL, "2028-02-29", NULL), 0);
    assert_int_equal(check("date_inst", NULL, "2027-02-29", NULL), -EINVAL);
    assert_non_null(strstr(msg, "'2027-02-29' is not a date (YYYY-MM-DD)"));
    assert_int_equal(check("date_inst", NULL, "1900-02-29", NULL), -EINVAL);
    assert_int_equal(check("date_inst", NULL, "2000-02-29", NULL), 0);
    assert_int_equal(check("date_inst", NULL, "2027-13-01", NULL), -EINVAL);
    assert_int_equal(check("date_inst", NULL, "27-01-01", NULL), -EINVAL);
    assert_int_equal(check("date_inst", NULL, "2027/01/01", NULL), -EINVAL);
    assert_int_equal(check("heure", NULL, "09:30", NULL), 0);
    assert_int_equal(check("heure", NULL, "23:59", NULL), 0);
    assert_int_equal(check("heure", NULL, "24:00", NULL), -EINVAL);
    assert_int_equal(check("heure", NULL, "9:30", NULL), -EINVAL);
    assert_int_equal(check("mail", NULL, "helene.martin@example.fr", NULL), 0);
    assert_int_equal(check("mail", NULL, "helene@localhost", NULL), -EINVAL);
    assert_int_equal(check("mail", NULL, "@example.fr", NULL), -EINVAL);
    assert_int_equal(check("mail", NULL, "a b@example.fr", NULL), -EINVAL);
    assert_int_equal(check("mail", NULL, "a@b@example.fr", NULL), -EINVAL);
    assert_int_equal(check("age", NULL, "0", NULL), 0);
    assert_int_equal(check("age", NULL, "130", NULL), 0);
    assert_int_equal(check("age", NULL, "131", NULL), -EINVAL);
    assert_int_equal(check("age", NULL, "-1", NULL), -EINVAL);
    assert_int_equal(check("age", NULL, "4.5", NULL), -EINVAL);
    assert_int_equal(check("age", NULL, "", NULL), -EINVAL);
    assert_int_equal(check("note", NULL, "10", NULL), 0);
    assert_int_equal(check("note", NULL, "11", NULL), -EINVAL);
    assert_non_null(strstr(msg, "question \"Quelle note ?\" (note): '11' is not a rating"));
    assert_int_equal(check("note", NULL, "5", "6", NULL), -EINVAL);
}

static void test_lengths_and_bytes(void **state)
{
    (void)state;
    /* 1000 characters of 2 bytes each pass an input, 1001 do not */
    char *s = malloc(2 * 4001 + 1);
    assert_non_null(s);
    for (int i = 0; i < 1000; i++)
        memcpy(s + 2 * i, "é", 2);
    s[2000] = '\0';
    assert_int_equal(check("remarque", NULL, s, NULL), 0);
    memcpy(s + 2000, "é", 3);
    assert_int_equal(check("remarque", NULL, s, NULL), -EINVAL);
    assert_non_null(strstr(msg, "at most 1000 characters"));
    for (int i = 0; i < 4000; i++)
        s[i] = 'a';
    s[4000] = '\0';
    assert_int_equal(check("avis", NULL, s, NULL), 0);
    s[4000] = 'b';
    s[4001] = '\0';
    assert_int_equal(check("avis", NULL, s, NULL), -EINVAL);
    free(s);
    assert_int_equal(check("avis", NULL, "deux\nlignes", NULL), 0);
    assert_int_equal(check("remarque", NULL, "bip\x1f", NULL), -EINVAL);
    assert_non_null(strstr(msg, "not valid UTF-8 or holds control characters"));
    assert_int_equal(check("remarque", NULL, "\xc3\x28", NULL), -EINVAL);
    assert_int_equal(check("remarque", NULL, "\xc0\xaf", NULL), -EINVAL);     /* overlong */
    assert_int_equal(check("remarque", NULL, "\xed\xa0\x80", NULL), -EINVAL); /* surrogate */
}

static const char *const names[] = {"anciennete", "last_name", "first_name", "city", "phone1"};
static const char *const labels[] = {"Ancienneté", "", "", "", ""};
static const char *const values[] = {"12", "Martin", "Hélène", "Besançon", "+33612345670"};
static const struct interview_values vals = {names, labels, values, 5};

static void subst_is(const char *text, const char *want)
{
    char *got = interview_substitute(&vals, text);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_placeholders(void **state)
{
    (void)state;
    subst_is("Bonjour [Prénom] [Nom] de [Ville]", "Bonjour Hélène Martin de Besançon");
    subst_is("[first_name] [last_name], [city]", "Hélène Martin, Besançon");
    subst_is("client depuis [Ancienneté] ans ([anciennete])", "client depuis 12 ans (12)");
    subst_is("au [Tél1] ou [Tél2]", "au +33612345670 ou ");
    subst_is("[Inconnu] et [Nom", "[Inconnu] et [Nom");
    subst_is("[[Nom]]", "[Martin]");
    subst_is("", "");
    assert_null(interview_placeholder(&vals, "Agent", 5));
    assert_string_equal(interview_placeholder(&vals, "Nom", 3), "Martin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_and_counts),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_predefined),
        cmocka_unit_test(test_lengths_and_bytes),
        cmocka_unit_test(test_placeholders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
