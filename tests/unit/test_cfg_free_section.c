/* cr_cfg's free section (a CR_CFG_STRING key named "*", as dialerd's [messages]): every key of it
 * is accepted and kept as "NAME=value\n" lines, in file order; other sections keep refusing
 * unknown keys; the example file shows it as a commented NAME = value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/cfg.h"
#include "testutil.h"

struct conf {
    char *name;
    char *messages;
};

static const struct cr_cfg_key keys[] = {
    {"main", "name", CR_CFG_STRING, "x", false, offsetof(struct conf, name), 0, 0, NULL, NULL,
     "a name"},
    {"messages", "*", CR_CFG_STRING, "", false, offsetof(struct conf, messages), 0, 0, NULL, NULL,
     "NAME = file"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static char *write_file(const char *text)
{
    char *path = malloc(strlen(tu_group_dir) + 32);
    assert_non_null(path);
    static int n;
    sprintf(path, "%s/c%d.ini", tu_group_dir, n++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_free_section_kept_in_order(void **state)
{
    (void)state;
    char *path = write_file("[messages]\npromo = /a/promo.wav\nrelance = /b/r.wav\n[main]\n"
                            "name = y\n");
    struct conf c;
    memset(&c, 0, sizeof c);
    char err[256];
    assert_int_equal(cr_cfg_load(keys, NKEYS, path, &c, err, sizeof err), 0);
    assert_string_equal(c.messages, "promo=/a/promo.wav\nrelance=/b/r.wav\n");
    assert_string_equal(c.name, "y");
    cr_cfg_free(keys, NKEYS, &c);
    free(path);
}

static void test_free_section_default_empty(void **state)
{
    (void)state;
    char *path = write_file("[main]\nname = y\n");
    struct conf c;
    memset(&c, 0, sizeof c);
    char err[256];
    assert_int_equal(cr_cfg_load(keys, NKEYS, path, &c, err, sizeof err), 0);
    assert_string_equal(c.messages, "");
    cr_cfg_free(keys, NKEYS, &c);
    free(path);
}

static void test_other_sections_still_strict(void **state)
{
    (void)state;
    char *path = write_file("[main]\nnope = 1\n");
    struct conf c;
    memset(&c, 0, sizeof c);
    char err[256];
    assert_int_not_equal(cr_cfg_load(keys, NKEYS, path, &c, err, sizeof err), 0);
    assert_non_null(strstr(err, "[main] nope: unknown key"));
    free(path);
}

static void test_example_shows_name_value(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/example.ini", tu_group_dir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    cr_cfg_write_example(keys, NKEYS, fileno(f));
    fflush(f);
    rewind(f);
    char text[2048];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "[messages]\n; NAME = file\n"));
    assert_non_null(strstr(text, ";NAME = value\n"));
    assert_null(strstr(text, "* ="));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_section_kept_in_order),
        cmocka_unit_test(test_free_section_default_empty),
        cmocka_unit_test(test_other_sections_still_strict),
        cmocka_unit_test(test_example_shows_name_value),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}
