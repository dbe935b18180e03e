/* Contact files as people send them: semicolons, BOM, Windows-1252, tabs, quoted newlines,
 * ragged rows, empty files, a header alone, a huge field, and UTF-8 gone bad mid-file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carillon/csvin.h"
#include "testutil.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static const char *write_bytes(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

/* Collected rows: up to 16, each joined with '|' for easy comparison. */
struct rows {
    int n;
    char text[16][512];
    size_t lines[16];
    size_t widths[16];
};

static int collect(void *arg, size_t line, char **fields, size_t n)
{
    struct rows *r = arg;
    if (r->n < 16) {
        size_t o = 0;
        for (size_t i = 0; i < n && o < 500; i++)
            o += (size_t)snprintf(r->text[r->n] + o, 512 - o, "%s%s", i ? "|" : "", fields[i]);
        r->lines[r->n] = line;
        r->widths[r->n] = n;
    }
    r->n++;
    return 0;
}

static int read_all(const char *path, struct rows *rows, struct cr_csv_reader **keep, char *err)
{
    struct cr_csv_reader *r;
    int rc = cr_csv_open(path, NULL, &r, err, 256);
    if (rc)
        return rc;
    memset(rows, 0, sizeof *rows);
    rc = cr_csv_read(r, collect, rows, err, 256);
    if (keep)
        *keep = r;
    else
        cr_csv_close(r);
    return rc;
}

static void test_semicolons_bom_quoted_newlines(void **state)
{
    (void)state;
    const char data[] = "\xef\xbb\xbfNom;Prénom;Tél1;Adresse\r\n"
                        "Dupré;Hélène;06 12 34 56 78;\"12 rue de la Paix\r\nBât. B\"\r\n"
                        "\"Lefèvre; Jr\";Marc;0145678910;\"il a dit \"\"oui\"\"\"\r\n";
    struct rows rows;
    char err[256];
    struct cr_csv_reader *r;
    assert_int_equal(read_all(write_bytes("a.csv", data, sizeof data - 1), &rows, &r, err), 0);
    assert_int_equal(cr_csv_encoding(r), CR_CSV_UTF8_BOM);
    assert_int_equal(cr_csv_delimiter(r), ';');
    cr_csv_close(r);
    assert_int_equal(rows.n, 3);
    assert_string_equal(rows.text[0], "Nom|Prénom|Tél1|Adresse");
    assert_string_equal(rows.text[1], "Dupré|Hélène|06 12 34 56 78|12 rue de la Paix\r\nBât. B");
    assert_string_equal(rows.text[2], "Lefèvre; Jr|Marc|0145678910|il a dit \"oui\"");
    assert_int_equal(rows.lines[1], 2);
    assert_int_equal(rows.lines[2], 4); /* after the two-line address */
}

static void test_windows_1252(void **state)
{
    (void)state;
    /* "Nom,Ville\nCh\xe2teau,Besan\xe7on \x80\x92s\n" in Windows-1252 */
    const char data[] = "Nom,Ville\nCh\xe2teau,Besan\xe7on \x80\x92s\n";
    struct rows rows;
    char err[256];
    struct cr_csv_reader *r;
    assert_int_equal(read_all(write_bytes("b.csv", data, sizeof data - 1), &rows, &r, err), 0);
    assert_int_equal(cr_csv_encoding(r), CR_CSV_WINDOWS_1252);
    assert_int_equal(cr_csv_delimiter(r), ',');
    cr_csv_close(r);
    assert_string_equal(rows.text[1], "Château|Besançon €’s");
}

static void test_tabs_ragged_and_empty(void **state)
{
    (void)state;
    const char data[] = "a\tb\tc\n1\t2\n1\t2\t3\t4\n\n\t\t\n";
    struct rows rows;
    char err[256];
    struct cr_csv_reader *r;
    assert_int_equal(read_all(write_bytes("c.csv", data, sizeof data - 1), &rows, &r, err), 0);
    assert_int_equal(cr_csv_delimiter(r), '\t');
    cr_csv_close(r);
    assert_int_equal(rows.n, 4); /* the blank line is not a row; the row of empties is */
    assert_int_equal(rows.widths[1], 2);
    assert_int_equal(rows.widths[2], 4);
    assert_int_equal(rows.widths[3], 3);
    assert_int_equal(rows.lines[3], 5);

    assert_int_equal(read_all(write_bytes("empty.csv", "", 0), &rows, NULL, err), 0);
    assert_int_equal(rows.n, 0);
    assert_int_equal(read_all(write_bytes("header.csv", "Nom;Tel\n", 8), &rows, NULL, err), 0);
    assert_int_equal(rows.n, 1);
}

static void test_huge_field_and_bad_utf8(void **state)
{
    (void)state;
    size_t big = CR_CSV_DEFAULT_MAX_FIELD + 10;
    char *data = malloc(big + 64);
    int o = sprintf(data, "Nom,Note\nx,\"");
    memset(data + o, 'z', big);
    memcpy(data + o + big, "\"\n", 2);
    struct rows rows;
    char err[256];
    assert_int_equal(read_all(write_bytes("d.csv", data, (size_t)o + big + 2), &rows, NULL, err),
                     -EFBIG);
    assert_non_null(strstr(err, "line 2"));
    assert_non_null(strstr(err, "longer than 65536 bytes"));
    free(data);

    /* 70 000 ASCII bytes decide UTF-8; a Latin-1 byte later is refused with its line. */
    size_t n = 0;
    data = malloc(80000);
    n += (size_t)sprintf(data, "Nom,Ville\n");
    size_t lines = 1;
    while (n < 70000) {
        n += (size_t)sprintf(data + n, "Martin,Paris\n");
        lines++;
    }
    n += (size_t)sprintf(data + n, "Ch\xe2teau,Lyon\n");
    assert_int_equal(read_all(write_bytes("e.csv", data, n), &rows, NULL, err), -EINVAL);
    char want[64];
    snprintf(want, sizeof want, "line %zu, column 1: not valid UTF-8", lines + 1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    free(data);

    assert_int_equal(
        cr_csv_open("/nonexistent/file.csv", NULL, &(struct cr_csv_reader *){0}, err, sizeof err),
        -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/file.csv"));
}

/* The preview's question "is this text at all?": binary, ZIP, UTF-16 and undefined code page
 * bytes are refused with what they are; text in either encoding, and an empty file, pass. */
static int check(const char *name, const void *data, size_t len, char *why, size_t whylen)
{
    struct cr_csv_reader *r = NULL;
    char err[256];
    assert_int_equal(cr_csv_open(write_bytes(name, data, len), NULL, &r, err, sizeof err), 0);
    why[0] = '\0';
    int rc = cr_csv_check_text(r, why, whylen);
    cr_csv_close(r);
    return rc;
}

static void test_check_text(void **state)
{
    (void)state;
    char why[160];
    assert_int_equal(check("t1.csv", "Nom;Tel\r\nDupr\xc3\xa9;06\f\t\n", 21, why, sizeof why), 0);
    assert_int_equal(check("t2.csv", "Nom;Ville\nCh\xe2teau;\x80\n", 20, why, sizeof why), 0);
    assert_int_equal(check("t3.csv", "", 0, why, sizeof why), 0);
    assert_int_equal(check("t4.csv", "\xef\xbb\xbfNom\n", 7, why, sizeof why), 0);
    assert_int_equal(check("b1.bin", "Nom;Tel\n\0\0\x01", 11, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "NUL bytes (byte 9)"));
    assert_int_equal(check("b2.bin", "abc\x1b[31m", 8, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "control characters (byte 4 is 0x1b)"));
    assert_int_equal(check("b3.xlsx", "PK\x03\x04\x14\0", 6, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "ZIP archive"));
    assert_int_equal(check("b4.csv", "\xff\xfeN\0o\0m\0", 8, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "UTF-16"));
    assert_int_equal(check("b5.csv", "Nom\x81;x\n", 7, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "neither UTF-8 nor Windows-1252"));
    /* Only the first KiB is looked at: a control byte after it is the reader's business. */
    char big[2048];
    memset(big, 'a', sizeof big);
    big[1500] = '\x01';
    assert_int_equal(check("t5.csv", big, sizeof big, why, sizeof why), 0);
    big[1000] = '\0';
    assert_int_equal(check("b6.csv", big, sizeof big, why, sizeof why), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semicolons_bom_quoted_newlines),
        cmocka_unit_test(test_windows_1252),
        cmocka_unit_test(test_tabs_ragged_and_empty),
        cmocka_unit_test(test_huge_field_and_bad_utf8),
        cmocka_unit_test(test_check_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
