/* Fuzz target: arbitrary bytes as a contact file through the CSV reader (encoding and
 * delimiter detection, libcsv, the field limits), with the default limits and with tiny ones.
 * Every field handed out must be valid UTF-8 within the field limit. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carillon/csvin.h"
#include "memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80             ? 0
                : (*s & 0xe0) == 0xc0 ? 1
                : (*s & 0xf0) == 0xe0 ? 2
                : (*s & 0xf8) == 0xf0 ? 3
                                      : -1;
        if (n < 0)
            return false;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xc0) != 0x80)
                return false;
    }
    return true;
}

static int check_row(void *arg, size_t line, char **fields, size_t n)
{
    const struct cr_csv_opts *o = arg;
    if (line < 1 || n < 1 || n > o->max_fields)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!fields[i] || strlen(fields[i]) > 4 * o->max_field ||
            !valid_utf8((const unsigned char *)fields[i]))
            abort();
    return 0;
}

static void read_with(const char *path, struct cr_csv_opts opts)
{
    struct cr_csv_reader *r;
    char err[512];
    if (cr_csv_open(path, &opts, &r, err, sizeof err) != 0)
        return;
    struct cr_csv_opts limits = opts;
    if (!limits.max_field)
        limits.max_field = CR_CSV_DEFAULT_MAX_FIELD;
    if (!limits.max_fields)
        limits.max_fields = CR_CSV_DEFAULT_MAX_FIELDS;
    int rc = cr_csv_read(r, check_row, &limits, err, sizeof err);
    if (rc < 0 && !err[0])
        abort(); /* a refused file always says why */
    cr_csv_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[32];
    int fd = fuzz_memfile(data, size, path);
    read_with(path, (struct cr_csv_opts){0});
    read_with(path, (struct cr_csv_opts){.max_field = 16, .max_fields = 4});
    close(fd);
    return 0;
}
