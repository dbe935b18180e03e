/* Fuzz target: arbitrary bytes as an XLSX contact file through carillonctl's reader (libzip
 * from memory, libxml2's streaming reader, shared strings, cell references). Rows handed out
 * must be within the column limit; a refused workbook must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlsxin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_row(void *arg, size_t line, char **fields, size_t n)
{
    (void)arg;
    if (line < 1 || n < 1 || n > 1000)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!fields[i] || strlen(fields[i]) > CR_CSV_DEFAULT_MAX_FIELD)
            abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    int rc = xlsx_read_buffer(data, size, "fuzz.xlsx", check_row, NULL, err, sizeof err);
    if (rc < 0 && !err[0])
        abort();
    return 0;
}
