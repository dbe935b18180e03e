/* Reading contact files (CSV) with libcsv: the encoding is detected (UTF-8 with or without BOM,
 * else Windows-1252, Excel's French default, converted to UTF-8), the delimiter guessed from
 * the header line (',' ';' or tab), quoted fields may hold newlines, and every field has a
 * maximum size. Rows stream to a callback; memory does not grow with the file. */
#ifndef CARILLON_CSVIN_H
#define CARILLON_CSVIN_H

#include <stddef.h>

#define CR_CSV_DEFAULT_MAX_FIELD  (64u << 10)
#define CR_CSV_DEFAULT_MAX_FIELDS 1000

enum cr_csv_encoding {
    CR_CSV_UTF8,
    CR_CSV_UTF8_BOM,
    CR_CSV_WINDOWS_1252,
};

struct cr_csv_reader; /* cr_csv_open allocates, cr_csv_close frees */

struct cr_csv_opts {
    size_t max_field;  /* bytes; 0 = CR_CSV_DEFAULT_MAX_FIELD */
    size_t max_fields; /* per row; 0 = CR_CSV_DEFAULT_MAX_FIELDS */
    char delimiter;    /* 0 = detect */
};

/* One row: its line number in the file (where it starts; the header is row 1 of line 1),
 * its fields as NUL-terminated UTF-8. Return non-zero to stop reading (returned by read). */
typedef int (*cr_csv_row_cb)(void *arg, size_t line, char **fields, size_t n);

int cr_csv_open(const char *path, const struct cr_csv_opts *opts, struct cr_csv_reader **out,
                char *err, size_t errlen) __attribute__((warn_unused_result));
enum cr_csv_encoding cr_csv_encoding(const struct cr_csv_reader *r);
const char *cr_csv_encoding_name(enum cr_csv_encoding e);
char cr_csv_delimiter(const struct cr_csv_reader *r);
/* Whether the file is text at all, from its first KiB (after a BOM): 0, or -EINVAL with why
 * saying what it is instead ("holds NUL bytes", "a ZIP archive (...)", "UTF-16 text (...)",
 * control characters, or bytes that are neither UTF-8 nor Windows-1252). Bytes that are not
 * UTF-8 are not by themselves a reason: they are read as Windows-1252. An empty file passes. */
int cr_csv_check_text(const struct cr_csv_reader *r, char *why, size_t len)
    __attribute__((warn_unused_result));
/* Reads the whole file. Returns 0, the callback's non-zero value, or -EINVAL / -EIO / -EFBIG
 * with err naming the line (and column) at fault. */
int cr_csv_read(struct cr_csv_reader *r, cr_csv_row_cb cb, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Bytes of the file consumed so far (for progress). */
size_t cr_csv_offset(const struct cr_csv_reader *r);
void cr_csv_close(struct cr_csv_reader *r);

#endif
