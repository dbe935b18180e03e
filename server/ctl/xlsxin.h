/* The first sheet of an XLSX file as rows of UTF-8 text, for carillonctl list import. */
#ifndef CARILLON_XLSXIN_H
#define CARILLON_XLSXIN_H

#include <stddef.h>

#include "carillon/csvin.h"

/* Streams the rows (line = the sheet's row number) to cb; 0, cb's non-zero value, or a
 * negative errno with err naming what is wrong. A workbook past one of the reader's limits
 * (bytes inflated per entry and per workbook, shared strings, cell size, columns) is an error
 * (-EFBIG or -EINVAL) whose message names the limit. */
int xlsx_read(const char *path, cr_csv_row_cb cb, void *arg, char *err, size_t errlen);

/* The same from a workbook in memory (len bytes at data, the caller's); name stands for the
 * file in messages. */
int xlsx_read_buffer(const void *data, size_t len, const char *name, cr_csv_row_cb cb, void *arg,
                     char *err, size_t errlen);

#endif
