/* CSV contact files through libcsv (see csvin.h). The first 64 KiB decide the encoding and the
 * delimiter; then the file streams in 64 KiB blocks, fields are converted to UTF-8 as they
 * complete, and a row is handed over when its end is seen. */
#include "carillon/csvin.h"

#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 65536

struct cr_csv_reader {
    FILE *f;
    struct csv_parser p;
    struct cr_csv_opts opts;
    enum cr_csv_encoding enc;
    char delim;
    size_t offset; /* bytes consumed */
    size_t line;   /* current line (1-based), counting newlines seen by the parser */
    size_t row_line;
    char **fields; /* current row, opts.max_fields slots */
    size_t n;
    bool row_has_data;
    int failed;
    char *err;
    size_t errlen;
    cr_csv_row_cb cb;
    void *arg;
    int stop;
    unsigned char head[BLOCK];
    size_t head_len;
};

/* Windows-1252 0x80..0x9F as Unicode; 0 = undefined in the code page. */
static const unsigned short cp1252[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

/* Length of the valid UTF-8 sequence at s (max n bytes), 0 if invalid, -1 if cut short. */
static int utf8_seq(const unsigned char *s, size_t n)
{
    int len = s[0] < 0x80             ? 1
              : (s[0] & 0xe0) == 0xc0 ? 2
              : (s[0] & 0xf0) == 0xe0 ? 3
              : (s[0] & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || (len == 2 && s[0] < 0xc2))
        return 0;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -1;
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    return len;
}

static bool valid_utf8(const unsigned char *s, size_t n, bool allow_cut)
{
    for (size_t i = 0; i < n;) {
        int l = utf8_seq(s + i, n - i);
        if (l == -1)
            return allow_cut;
        if (l == 0)
            return false;
        i += (size_t)l;
    }
    return true;
}

/* Guesses the delimiter from the first line: the most frequent of , ; tab outside quotes. */
static char guess_delimiter(const unsigned char *s, size_t n)
{
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && (s[i] == '\n' || s[i] == '\r'))
            break;
        else if (!quoted && s[i] == ',')
            comma++;
        else if (!quoted && s[i] == ';')
            semi++;
        else if (!quoted && s[i] == '\t')
            tab++;
    }
    if (semi >= comma && semi >= tab && semi > 0)
        return ';';
    if (tab > comma)
        return '\t';
    return ',';
}

static void fail(struct cr_csv_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct cr_csv_reader *r, int code, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

/* libcsv's buffer may not grow past the field maximum: a huge field is an error, not a
 * gigabyte of memory. */
static size_t realloc_cap;
static void *capped_realloc(void *p, size_t size)
{
    if (size > realloc_cap)
        return NULL;
    return realloc(p, size);
}

static char *to_utf8(struct cr_csv_reader *r, const unsigned char *s, size_t len)
{
    if (r->enc != CR_CSV_WINDOWS_1252) {
        if (!valid_utf8(s, len, false)) {
            fail(r, -EINVAL,
                 "line %zu, column %zu: not valid UTF-8 (save the file as UTF-8, or as "
                 "Windows-1252 throughout)",
                 r->row_line, r->n + 1);
            return NULL;
        }
        char *out = malloc(len + 1);
        if (out) {
            memcpy(out, s, len);
            out[len] = '\0';
        }
        return out;
    }
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned c = s[i];
        if (c >= 0x80 && c < 0xa0)
            c = cp1252[c - 0x80] ? cp1252[c - 0x80] : 0xfffd;
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xc0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3f));
        } else {
            *o++ = (char)(0xe0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = '\0';
    return out;
}

static void end_field(void *s, size_t len, void *arg)
{
    struct cr_csv_reader *r = arg;
    if (r->failed || r->stop)
        return;
    if (r->n == 0)
        r->row_line = r->line;
    if (r->n >= r->opts.max_fields) {
        fail(r, -EINVAL, "line %zu: more than %zu columns", r->row_line, r->opts.max_fields);
        return;
    }
    if (len > r->opts.max_field) {
        fail(r, -EFBIG, "line %zu, column %zu: field longer than %zu bytes", r->row_line, r->n + 1,
             r->opts.max_field);
        return;
    }
    char *v = to_utf8(r, s ? s : (void *)"", s ? len : 0);
    if (!v) {
        if (!r->failed)
            fail(r, -ENOMEM, "out of memory");
        return;
    }
    r->fields[r->n++] = v;
    if (len)
        r->row_has_data = true;
}

static void clear_row(struct cr_csv_reader *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->fields[i]);
    r->n = 0;
    r->row_has_data = false;
}

static void end_row(int c, void *arg)
{
    (void)c;
    struct cr_csv_reader *r = arg;
    if (!r->failed && !r->stop && r->n > 0 && (r->row_has_data || r->n > 1))
        r->stop = r->cb(r->arg, r->row_line, r->fields, r->n);
    clear_row(r);
}

int cr_csv_open(const char *path, const struct cr_csv_opts *opts, struct cr_csv_reader **out,
                char *err, size_t errlen)
{
    struct cr_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    if (opts)
        r->opts = *opts;
    if (!r->opts.max_field)
        r->opts.max_field = CR_CSV_DEFAULT_MAX_FIELD;
    if (!r->opts.max_fields)
        r->opts.max_fields = CR_CSV_DEFAULT_MAX_FIELDS;
    r->f = fopen(path, "rb");
    if (!r->f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        free(r);
        return -e;
    }
    r->fields = calloc(r->opts.max_fields, sizeof *r->fields);
    if (!r->fields) {
        fclose(r->f);
        free(r);
        return -ENOMEM;
    }
    r->head_len = fread(r->head, 1, sizeof r->head, r->f);
    size_t skip = 0;
    if (r->head_len >= 3 && !memcmp(r->head, "\xef\xbb\xbf", 3)) {
        r->enc = CR_CSV_UTF8_BOM;
        skip = 3;
    } else {
        r->enc = valid_utf8(r->head, r->head_len, r->head_len == sizeof r->head)
                     ? CR_CSV_UTF8
                     : CR_CSV_WINDOWS_1252;
    }
    memmove(r->head, r->head + skip, r->head_len - skip);
    r->head_len -= skip;
    r->offset = skip;
    r->delim = r->opts.delimiter ? r->opts.delimiter : guess_delimiter(r->head, r->head_len);
    if (csv_init(&r->p, CSV_APPEND_NULL) != 0) {
        cr_csv_close(r);
        return -ENOMEM;
    }
    csv_set_delim(&r->p, (unsigned char)r->delim);
    csv_set_realloc_func(&r->p, capped_realloc);
    r->line = 1;
    *out = r;
    return 0;
}

enum cr_csv_encoding cr_csv_encoding(const struct cr_csv_reader *r)
{
    return r->enc;
}

const char *cr_csv_encoding_name(enum cr_csv_encoding e)
{
    return e == CR_CSV_UTF8_BOM ? "UTF-8 (BOM)" : e == CR_CSV_UTF8 ? "UTF-8" : "Windows-1252";
}

char cr_csv_delimiter(const struct cr_csv_reader *r)
{
    return r->delim;
}

size_t cr_csv_offset(const struct cr_csv_reader *r)
{
    return r->offset;
}

int cr_csv_check_text(const struct cr_csv_reader *r, char *why, size_t len)
{
    const unsigned char *h = r->head;
    size_t n = r->head_len < 1024 ? r->head_len : 1024;
    if (n >= 4 && !memcmp(h, "PK\x03\x04", 4)) {
        snprintf(why, len, "a ZIP archive (an XLSX workbook must be named .xlsx)");
        return -EINVAL;
    }
    if (n >= 2 && (!memcmp(h, "\xff\xfe", 2) || !memcmp(h, "\xfe\xff", 2))) {
        snprintf(why, len, "UTF-16 text (save it as CSV UTF-8)");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned c = h[i];
        if (c == 0) {
            snprintf(why, len, "it holds NUL bytes (byte %zu)", i + 1 + r->offset);
            return -EINVAL;
        }
        /* Text files hold tab, newline, carriage return and form feed, no other control. */
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f) {
            snprintf(why, len, "it holds control characters (byte %zu is 0x%02x)",
                     i + 1 + r->offset, c);
            return -EINVAL;
        }
        if (r->enc == CR_CSV_WINDOWS_1252 && c >= 0x80 && c < 0xa0 && !cp1252[c - 0x80]) {
            snprintf(why, len, "byte %zu (0x%02x) is neither UTF-8 nor Windows-1252",
                     i + 1 + r->offset, c);
            return -EINVAL;
        }
    }
    return 0;
}

/* Feeds one block, counting lines between fields so rows know where they start. */
static int feed(struct cr_csv_reader *r, const unsigned char *s, size_t n)
{
    /* Parse line by line so r->line is right when a field ends on that line. */
    size_t i = 0;
    while (i < n && !r->failed && !r->stop) {
        const unsigned char *nl = memchr(s + i, '\n', n - i);
        size_t chunk = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
        realloc_cap = r->opts.max_field + 1024;
        if (csv_parse(&r->p, s + i, chunk, end_field, end_row, r) != chunk) {
            if (csv_error(&r->p) == CSV_ENOMEM)
                fail(r, -EFBIG, "line %zu: field longer than %zu bytes", r->line,
                     r->opts.max_field);
            else
                fail(r, -EINVAL, "line %zu: %s", r->line, csv_strerror(csv_error(&r->p)));
        }
        if (nl)
            r->line++;
        i += chunk;
        r->offset += chunk;
    }
    return r->failed ? r->failed : r->stop;
}

int cr_csv_read(struct cr_csv_reader *r, cr_csv_row_cb cb, void *arg, char *err, size_t errlen)
{
    r->cb = cb;
    r->arg = arg;
    r->err = err;
    r->errlen = errlen;
    err[0] = '\0';
    int rc = feed(r, r->head, r->head_len);
    unsigned char *block = malloc(BLOCK);
    if (!block)
        return -ENOMEM;
    while (!rc) {
        size_t got = fread(block, 1, BLOCK, r->f);
        if (got == 0) {
            if (ferror(r->f)) {
                snprintf(err, errlen, "read error at byte %zu", r->offset);
                rc = -EIO;
            }
            break;
        }
        rc = feed(r, block, got);
    }
    free(block);
    if (!rc) {
        realloc_cap = r->opts.max_field + 1024;
        csv_fini(&r->p, end_field, end_row, r);
        rc = r->failed ? r->failed : r->stop;
    }
    clear_row(r);
    return rc;
}

void cr_csv_close(struct cr_csv_reader *r)
{
    if (!r)
        return;
    clear_row(r);
    csv_free(&r->p);
    if (r->f)
        fclose(r->f);
    free(r->fields);
    free(r);
}
