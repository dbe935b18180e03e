/* Reading the first sheet of an XLSX contact file (libzip + libxml2's streaming reader), row by
 * row as the CSV reader does, so the import treats both alike. Shared strings are held in
 * memory; the sheet itself streams. Every read has a maximum (the limits below). A number cell
 * reads as the spreadsheet shows it: a date format (styles.xml) gives an ISO 8601 date, a plain
 * number its shortest form (12, not 12.0 nor a serial). */
#include "xlsxin.h"

#include <errno.h>
#include <libxml/xmlreader.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* A zip bomb (kilobytes that inflate to gigabytes) must not exhaust memory or time, so the
 * bytes inflated are counted as libxml2 pulls them, whatever the entry's header claims (a header
 * that claims more is refused before reading). 256 MiB of sheet XML is some two million rows of
 * ten cells; the workbook total covers the shared strings and the sheet together. They bound
 * memory too: libxml2's reader buffers input it cannot free yet (a long run of comments) and
 * can grow to about twice the entry's size before the limit stops it (measured on libxml2 2.9). */
#define XLSX_ENTRY_MAX (256u << 20)
#define XLSX_TOTAL_MAX (384u << 20)
/* Shared strings are held in memory for the whole read: at most this many, and this many bytes
 * of text (a million contacts' names and addresses fit in both). */
#define MAX_SHARED       4000000
#define MAX_SHARED_BYTES (64u << 20)
/* A cell holds at most what a CSV field may (the import treats both alike), so a row of shared
 * strings cannot multiply one long text by MAX_COLUMNS either. */
#define MAX_CELL    CR_CSV_DEFAULT_MAX_FIELD
#define MAX_COLUMNS 1000
#define MAX_ROWS    1048576 /* Excel's own: row numbers past it are not a spreadsheet's */

/* Cell formats (styles.xml's cellXfs, which a cell's s attribute indexes) and custom number
 * formats (numFmts): Excel's own limits are 64,000 and some 250. */
#define MAX_STYLES  65536
#define MAX_NUMFMTS 4096

#define MIB(n) ((n) >> 20)

/* One open archive: where errors go and the bytes inflated so far, over every entry. */
struct workbook {
    zip_t *z;
    const char *path; /* for messages: the file name (or what the caller calls the bytes) */
    zip_uint64_t inflated;
    char *err;
    size_t errlen;
};

/* One entry being parsed. The reader's I/O callback counts its bytes. */
struct entry {
    struct workbook *wb;
    const char *name; /* in the archive */
    zip_file_t *zf;
    xmlTextReaderPtr r;
    zip_uint64_t inflated;
    const char *over;  /* the limit passed ("per entry", "per workbook") when reading stopped */
    char zip_err[128]; /* libzip's reason when reading failed (bad CRC, bad deflate data) */
    char xml_err[192]; /* libxml2's first error, with its line */
};

static int entry_read(void *ctx, char *buf, int len)
{
    struct entry *e = ctx;
    zip_int64_t got = zip_fread(e->zf, buf, (zip_uint64_t)len);
    if (got < 0) {
        snprintf(e->zip_err, sizeof e->zip_err, "%s", zip_file_strerror(e->zf));
        return -1;
    }
    e->inflated += (zip_uint64_t)got;
    e->wb->inflated += (zip_uint64_t)got;
    if (e->inflated > XLSX_ENTRY_MAX)
        e->over = "per entry";
    else if (e->wb->inflated > XLSX_TOTAL_MAX)
        e->over = "per workbook";
    return e->over ? -1 : (int)got;
}

static int entry_close_cb(void *ctx)
{
    (void)ctx;
    return 0;
}

#if LIBXML_VERSION >= 21200
static void on_xml_error(void *arg, const xmlError *error)
#else
static void on_xml_error(void *arg, xmlErrorPtr error)
#endif
{
    struct entry *e = arg;
    if (e->xml_err[0] || !error || !error->message)
        return;
    snprintf(e->xml_err, sizeof e->xml_err, "line %d: %s", error->line, error->message);
    size_t n = strlen(e->xml_err);
    while (n && (e->xml_err[n - 1] == '\n' || e->xml_err[n - 1] == ' '))
        e->xml_err[--n] = '\0';
}

static int limit_error(struct workbook *wb, const char *name, const char *which)
{
    bool entry = !strcmp(which, "per entry");
    snprintf(wb->err, wb->errlen, "%s: %s inflates past the %u MiB limit %s", wb->path, name,
             entry ? MIB(XLSX_ENTRY_MAX) : MIB(XLSX_TOTAL_MAX), which);
    return -EFBIG;
}

/* Opens name for streaming into e. Returns 0 (e->r NULL when the archive has no such entry) or
 * a negative errno with the workbook's err set. */
static int entry_open(struct workbook *wb, const char *name, struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->wb = wb;
    e->name = name;
    zip_int64_t idx = zip_name_locate(wb->z, name, 0);
    if (idx < 0)
        return 0;
    zip_stat_t st;
    if (zip_stat_index(wb->z, (zip_uint64_t)idx, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE)) {
        if (st.size > XLSX_ENTRY_MAX)
            return limit_error(wb, name, "per entry");
        if (st.size > XLSX_TOTAL_MAX - wb->inflated)
            return limit_error(wb, name, "per workbook");
    }
    e->zf = zip_fopen_index(wb->z, (zip_uint64_t)idx, 0);
    if (!e->zf) {
        snprintf(wb->err, wb->errlen, "%s: cannot read %s: %s", wb->path, name,
                 zip_strerror(wb->z));
        return -EINVAL;
    }
    /* No XML_PARSE_HUGE: libxml2's default limits (10 MB per text node, bounded nesting) stand. */
    e->r = xmlReaderForIO(entry_read, entry_close_cb, e, name, "UTF-8", XML_PARSE_NONET);
    if (!e->r) {
        zip_fclose(e->zf);
        e->zf = NULL;
        return -ENOMEM;
    }
    xmlTextReaderSetStructuredErrorHandler(e->r, on_xml_error, e);
    return 0;
}

/* The error for a read that returned -1: a limit, libzip's reason or libxml2's. */
static int entry_failed(struct entry *e)
{
    struct workbook *wb = e->wb;
    if (e->over)
        return limit_error(wb, e->name, e->over);
    if (e->zip_err[0]) {
        snprintf(wb->err, wb->errlen, "%s: %s is damaged: %s", wb->path, e->name, e->zip_err);
        return -EINVAL;
    }
    snprintf(wb->err, wb->errlen, "%s: %s is not valid XML%s%s", wb->path, e->name,
             e->xml_err[0] ? ": " : "", e->xml_err);
    return -EINVAL;
}

static void entry_close(struct entry *e)
{
    if (e->r)
        xmlFreeTextReader(e->r);
    if (e->zf)
        zip_fclose(e->zf);
    e->r = NULL;
    e->zf = NULL;
}

/* Text of the element the reader is on, with its descendants' text (rich text runs). */
static char *element_text(xmlTextReaderPtr r)
{
    xmlChar *t = xmlTextReaderReadString(r);
    char *out = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return out;
}

struct shared {
    char **s;
    size_t n, cap;
    size_t bytes; /* of text, NULs included */
};

static int load_shared(struct workbook *wb, struct shared *sh)
{
    struct entry e;
    int rc = entry_open(wb, "xl/sharedStrings.xml", &e);
    if (rc || !e.r)
        return rc; /* a sheet of numbers only has no shared strings */
    int ret;
    while ((ret = xmlTextReaderRead(e.r)) == 1) {
        if (xmlTextReaderNodeType(e.r) != XML_READER_TYPE_ELEMENT ||
            strcmp((const char *)xmlTextReaderConstLocalName(e.r), "si"))
            continue;
        if (sh->n == sh->cap) {
            if (sh->cap >= MAX_SHARED) {
                snprintf(wb->err, wb->errlen, "%s: more than %d distinct texts in the workbook",
                         wb->path, MAX_SHARED);
                rc = -EFBIG;
                break;
            }
            size_t cap = sh->cap ? sh->cap * 2 : 1024;
            char **ns = realloc(sh->s, cap * sizeof *ns);
            if (!ns) {
                rc = -ENOMEM;
                break;
            }
            sh->s = ns;
            sh->cap = cap;
        }
        char *text = element_text(e.r);
        if (!text) {
            rc = -ENOMEM;
            break;
        }
        sh->bytes += strlen(text) + 1;
        sh->s[sh->n++] = text;
        if (sh->bytes > MAX_SHARED_BYTES) {
            snprintf(wb->err, wb->errlen,
                     "%s: the shared strings (xl/sharedStrings.xml) pass the %u MiB limit of text",
                     wb->path, MIB(MAX_SHARED_BYTES));
            rc = -EFBIG;
            break;
        }
    }
    if (ret < 0 && !rc)
        rc = entry_failed(&e);
    if (rc == -ENOMEM)
        snprintf(wb->err, wb->errlen, "%s: out of memory reading the shared strings", wb->path);
    entry_close(&e);
    return rc;
}

/* What a number cell shows, from its cell format's number format: a plain number, or a date
 * (a serial day count, its fraction the time of day). */
enum cell_kind { CELL_NUMBER, CELL_DATE, CELL_DATETIME, CELL_TIME };

/* The workbook's date system and each cell format's kind (index: the cell's s attribute). */
struct styles {
    bool date1904;       /* workbook.xml's workbookPr date1904: day 0 is 1904-01-01 */
    unsigned char *kind; /* enum cell_kind per cellXfs entry */
    size_t n;
};

/* Built-in number formats (ECMA-376 part 1, 18.8.30) that show dates or times. */
static enum cell_kind builtin_kind(long id)
{
    if (id >= 14 && id <= 17)
        return CELL_DATE;
    if (id == 22)
        return CELL_DATETIME;
    if ((id >= 18 && id <= 21) || (id >= 45 && id <= 47))
        return CELL_TIME;
    return CELL_NUMBER;
}

/* A custom format code's kind: d, m, y, h or s outside quoted text, [brackets] (colours,
 * locales, conditions) and escaped characters (\x, _x, *x) make it a date or time; an m with
 * an h or s is minutes. */
static enum cell_kind code_kind(const char *code)
{
    bool date = false, time = false, month = false;
    for (const char *p = code; *p; p++) {
        char ch = *p;
        if (ch == '"' || ch == '[') {
            const char *end = strchr(p + 1, ch == '"' ? '"' : ']');
            if (!end)
                break;
            p = end;
            continue;
        }
        if (ch == '\\' || ch == '_' || ch == '*') {
            if (!p[1])
                break;
            p++;
            continue;
        }
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        date = date || ch == 'd' || ch == 'y';
        time = time || ch == 'h' || ch == 's';
        month = month || ch == 'm';
    }
    date = date || (month && !time);
    return date && time ? CELL_DATETIME : date ? CELL_DATE : time ? CELL_TIME : CELL_NUMBER;
}

/* xl/workbook.xml: only its date system (an absent or damaged-free workbook.xml: 1900). */
static int load_date_system(struct workbook *wb, struct styles *st)
{
    struct entry e;
    int rc = entry_open(wb, "xl/workbook.xml", &e);
    if (rc || !e.r)
        return rc;
    int ret;
    while ((ret = xmlTextReaderRead(e.r)) == 1) {
        if (xmlTextReaderNodeType(e.r) != XML_READER_TYPE_ELEMENT)
            continue;
        const char *name = (const char *)xmlTextReaderConstLocalName(e.r);
        if (!strcmp(name, "workbookPr")) {
            xmlChar *v = xmlTextReaderGetAttribute(e.r, (const xmlChar *)"date1904");
            st->date1904 = v && (!strcmp((const char *)v, "1") || !strcmp((const char *)v, "true"));
            xmlFree(v);
            break;
        }
        if (!strcmp(name, "sheets"))
            break; /* workbookPr comes before the sheets, or not at all */
    }
    if (ret < 0)
        rc = entry_failed(&e);
    entry_close(&e);
    return rc;
}

struct numfmt {
    long id;
    enum cell_kind kind;
};

static int cmp_numfmt(const void *a, const void *b)
{
    long x = ((const struct numfmt *)a)->id, y = ((const struct numfmt *)b)->id;
    return x < y ? -1 : x > y;
}

/* A numFmtId attribute: 0 to 1,000,000 (-1 when absent or not a number). */
static long attr_id(xmlTextReaderPtr r, const char *name)
{
    xmlChar *v = xmlTextReaderGetAttribute(r, (const xmlChar *)name);
    char *end = NULL;
    long id = v ? strtol((const char *)v, &end, 10) : -1;
    if (!v || end == (char *)v || *end || id < 0 || id > 1000000)
        id = -1;
    xmlFree(v);
    return id;
}

/* xl/styles.xml: the custom number formats (numFmts), then each cell format (cellXfs) resolved
 * to a kind. No styles.xml: every number is a plain number. */
static int load_styles(struct workbook *wb, struct styles *st)
{
    struct entry e;
    int rc = entry_open(wb, "xl/styles.xml", &e);
    if (rc || !e.r)
        return rc;
    struct numfmt *fmts = NULL;
    long *xf = NULL; /* numFmtId per cellXfs entry */
    size_t nfmts = 0, nxf = 0;
    bool in_numfmts = false, in_cellxfs = false;
    int ret;
    while (!rc && (ret = xmlTextReaderRead(e.r)) == 1) {
        int nt = xmlTextReaderNodeType(e.r);
        const char *name = (const char *)xmlTextReaderConstLocalName(e.r);
        if (nt == XML_READER_TYPE_END_ELEMENT) {
            if (!strcmp(name, "numFmts"))
                in_numfmts = false;
            else if (!strcmp(name, "cellXfs"))
                in_cellxfs = false;
            continue;
        }
        if (nt != XML_READER_TYPE_ELEMENT)
            continue;
        bool empty = xmlTextReaderIsEmptyElement(e.r);
        if (!strcmp(name, "numFmts")) {
            in_numfmts = !empty;
        } else if (!strcmp(name, "cellXfs")) {
            in_cellxfs = !empty;
        } else if (in_numfmts && !strcmp(name, "numFmt")) {
            if (nfmts == MAX_NUMFMTS) {
                snprintf(wb->err, wb->errlen, "%s: more than %d number formats (xl/styles.xml)",
                         wb->path, MAX_NUMFMTS);
                rc = -EFBIG;
                break;
            }
            if (!fmts && !(fmts = calloc(MAX_NUMFMTS, sizeof *fmts))) {
                rc = -ENOMEM;
                break;
            }
            xmlChar *code = xmlTextReaderGetAttribute(e.r, (const xmlChar *)"formatCode");
            fmts[nfmts].id = attr_id(e.r, "numFmtId");
            fmts[nfmts].kind = code ? code_kind((const char *)code) : CELL_NUMBER;
            xmlFree(code);
            if (fmts[nfmts].id >= 0) /* one without an id is no format a cell can name */
                nfmts++;
        } else if (in_cellxfs && !strcmp(name, "xf")) {
            if (nxf == MAX_STYLES) {
                snprintf(wb->err, wb->errlen, "%s: more than %d cell formats (xl/styles.xml)",
                         wb->path, MAX_STYLES);
                rc = -EFBIG;
                break;
            }
            if (!xf && !(xf = calloc(MAX_STYLES, sizeof *xf))) {
                rc = -ENOMEM;
                break;
            }
            xf[nxf++] = attr_id(e.r, "numFmtId");
        }
    }
    if (!rc && ret < 0)
        rc = entry_failed(&e);
    entry_close(&e);
    if (!rc && nxf && !(st->kind = calloc(nxf, 1)))
        rc = -ENOMEM;
    if (!rc) {
        /* A custom format may redefine a built-in id: the workbook's own wins. */
        if (nfmts)
            qsort(fmts, nfmts, sizeof *fmts, cmp_numfmt);
        for (size_t i = 0; i < nxf; i++) {
            struct numfmt key = {.id = xf[i]};
            const struct numfmt *f =
                nfmts ? bsearch(&key, fmts, nfmts, sizeof *fmts, cmp_numfmt) : NULL;
            st->kind[i] = (unsigned char)(f ? f->kind : builtin_kind(xf[i]));
        }
        st->n = nxf;
    }
    if (rc == -ENOMEM)
        snprintf(wb->err, wb->errlen, "%s: out of memory reading the styles", wb->path);
    free(fmts);
    free(xf);
    return rc;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

/* A number as people write it: an integer without ".0", otherwise the 15 significant digits a
 * spreadsheet shows (0.1 + 0.2 is 0.3, not 0.30000000000000004). carillonctl runs in the C
 * locale: the decimal separator is '.'. */
static void format_number(double d, char *out, size_t n)
{
    /* 2^53: past it a double holds no fractions; the test keeps the cast defined. */
    if (d == 0)
        snprintf(out, n, "0");
    else if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d)
        snprintf(out, n, "%.0f", d);
    else
        snprintf(out, n, "%.15g", d);
}

/* Excel's last day, 9999-12-31, as a 1900-system serial. */
#define SERIAL_MAX 2958465.0

/* A number cell's text as people read it: ISO 8601 for a date format (YYYY-MM-DD; with
 * THH:MM:SS when the format shows a time; HH:MM:SS alone for a time of day), else the number.
 * The 1900 system counts a 1900-02-29 that never was (Lotus's bug): serials from 61 on are
 * days since 1899-12-30, below 60 since 1899-12-31, and 60 itself stays a number; a serial
 * outside 1900..9999 stays a number too. Text that is no number is left as it is. */
static void cell_number(const char *v, enum cell_kind kind, bool date1904, char *out, size_t n)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d)) {
        snprintf(out, n, "%s", v);
        return;
    }
    double first = date1904 ? 0.0 : 1.0, last = date1904 ? SERIAL_MAX - 1462 : SERIAL_MAX;
    /* (carillonctl links no libm: rounding is by hand, on values known to be in range) */
    if (kind == CELL_TIME && d >= 0 && d < 1) {
        long long secs = (long long)(d * 86400.0 + 0.5);
        if (secs < 86400) {
            snprintf(out, n, "%02lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
            return;
        }
    }
    if (kind == CELL_NUMBER || d < first || d >= last + 1 || (!date1904 && d >= 60 && d < 61)) {
        format_number(d, out, n);
        return;
    }
    long long total = (long long)(d * 86400.0 + 0.5), days = total / 86400, secs = total % 86400;
    if ((double)days > last) { /* 9999-12-31 23:59:59.5 and later */
        format_number(d, out, n);
        return;
    }
    /* Days since 1899-12-30, then since 1970-01-01 (25569 days later). */
    long long since = date1904 ? days + 1462 : days < 60 ? days + 1 : days;
    long long y;
    unsigned m, dd;
    civil_from_days(since - 25569, &y, &m, &dd);
    if (kind == CELL_DATE)
        snprintf(out, n, "%04lld-%02u-%02u", y, m, dd);
    else
        snprintf(out, n, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", y, m, dd, secs / 3600,
                 secs / 60 % 60, secs % 60);
}

/* "BC12" -> column index 54 (0-based); -1 when the reference has no column letters, MAX_COLUMNS
 * when it is past the last column allowed (checked letter by letter: no overflow). */
static long column_of(const char *ref)
{
    long c = 0;
    for (; *ref >= 'A' && *ref <= 'Z'; ref++) {
        c = c * 26 + (*ref - 'A' + 1);
        if (c > MAX_COLUMNS)
            return MAX_COLUMNS;
    }
    return c - 1;
}

/* Column letters of index col, for messages. */
static const char *column_name(long col, char buf[8])
{
    char tmp[8];
    int n = 0;
    for (long c = col + 1; c > 0 && n < 7; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* The sheet, streamed: cells gathered into row (MAX_COLUMNS slots), each row sent to cb. */
static int read_sheet(struct workbook *wb, const struct shared *sh, const struct styles *st,
                      cr_csv_row_cb cb, void *arg)
{
    const char *sheet = "xl/worksheets/sheet1.xml";
    struct entry e;
    int rc = entry_open(wb, sheet, &e);
    if (rc)
        return rc;
    if (!e.r) {
        snprintf(wb->err, wb->errlen, "%s: no first sheet (%s)", wb->path, sheet);
        return -EINVAL;
    }
    char **row = calloc(MAX_COLUMNS, sizeof *row);
    if (!row) {
        entry_close(&e);
        return -ENOMEM;
    }
    size_t width = 0, header_width = 0;
    long rownum = 0;
    char type[16] = "";
    enum cell_kind kind = CELL_NUMBER; /* the cell's, from its s attribute */
    long col = -1;                     /* the cell being read; -1 outside any <c> */
    bool in_row = false; /* between <row> and </row>: row[0..width) are this row's cells */
    char colname[8];
    int ret = 0;
    bool stopped = false; /* by cb: its value is returned as it is */
    while (!rc && (ret = xmlTextReaderRead(e.r)) == 1) {
        int nt = xmlTextReaderNodeType(e.r);
        const char *name = (const char *)xmlTextReaderConstLocalName(e.r);
        if (nt == XML_READER_TYPE_ELEMENT && !strcmp(name, "row")) {
            if (in_row) {
                /* Its cells would be mixed with (or, once width is reset, lost from) ours. */
                snprintf(wb->err, wb->errlen, "%s: row %ld: a <row> inside another", wb->path,
                         rownum);
                rc = -EINVAL;
                break;
            }
            in_row = !xmlTextReaderIsEmptyElement(e.r);
            xmlChar *rr = xmlTextReaderGetAttribute(e.r, (const xmlChar *)"r");
            if (rr) {
                char *end;
                long n = strtol((const char *)rr, &end, 10);
                if (*end || n < 1 || n > MAX_ROWS) {
                    snprintf(wb->err, wb->errlen, "%s: row number '%.20s' is not 1 to %d", wb->path,
                             (const char *)rr, MAX_ROWS);
                    rc = -EINVAL;
                }
                rownum = n;
            } else {
                rownum++;
            }
            xmlFree(rr);
            width = 0;
            col = -1;
        } else if (nt == XML_READER_TYPE_ELEMENT && !strcmp(name, "c")) {
            xmlChar *ref = xmlTextReaderGetAttribute(e.r, (const xmlChar *)"r");
            xmlChar *t = xmlTextReaderGetAttribute(e.r, (const xmlChar *)"t");
            col = ref ? column_of((const char *)ref) : (long)width;
            snprintf(type, sizeof type, "%s", t ? (const char *)t : "");
            long style = attr_id(e.r, "s");
            kind =
                style >= 0 && (size_t)style < st->n ? (enum cell_kind)st->kind[style] : CELL_NUMBER;
            if (!in_row) {
                /* No row to hold it: the next <row> would lose it. */
                snprintf(wb->err, wb->errlen, "%s: after row %ld: a cell <c> outside any <row>",
                         wb->path, rownum);
                rc = -EINVAL;
            } else if (col < 0) {
                snprintf(wb->err, wb->errlen, "%s: row %ld: cell reference '%.20s' has no column",
                         wb->path, rownum, (const char *)ref);
                rc = -EINVAL;
            } else if (col >= MAX_COLUMNS) {
                snprintf(wb->err, wb->errlen, "%s: row %ld: more than %d columns", wb->path, rownum,
                         MAX_COLUMNS);
                rc = -EINVAL;
            }
            xmlFree(ref);
            xmlFree(t);
            if (xmlTextReaderIsEmptyElement(e.r))
                col = -1;
        } else if (nt == XML_READER_TYPE_END_ELEMENT && !strcmp(name, "c")) {
            col = -1;
        } else if (nt == XML_READER_TYPE_ELEMENT && (!strcmp(name, "v") || !strcmp(name, "is"))) {
            if (col < 0) {
                /* A value must belong to a cell: there is no column to put it in. */
                snprintf(wb->err, wb->errlen, "%s: row %ld: a <%s> value outside any cell <c>",
                         wb->path, rownum, name);
                rc = -EINVAL;
                break;
            }
            char *v = element_text(e.r);
            if (v && !strcmp(type, "s")) {
                char *end;
                long i = strtol(v, &end, 10);
                if (end == v || *end)
                    i = -1; /* not an index: an empty cell, as an index past the table */
                free(v);
                v = strdup(i >= 0 && (size_t)i < sh->n ? sh->s[i] : "");
            } else if (v && (!type[0] || !strcmp(type, "n")) && !strcmp(name, "v")) {
                /* A number: as the spreadsheet shows it (a date, or the number itself). */
                char text[64];
                cell_number(v, kind, st->date1904, text, sizeof text);
                free(v);
                v = strdup(text);
            }
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            if (strlen(v) > MAX_CELL) {
                snprintf(wb->err, wb->errlen, "%s: row %ld, column %s: cell longer than %u bytes",
                         wb->path, rownum, column_name(col, colname), MAX_CELL);
                free(v);
                rc = -EFBIG;
                break;
            }
            while (width <= (size_t)col)
                row[width++] = NULL;
            free(row[col]);
            row[col] = v;
        } else if (nt == XML_READER_TYPE_END_ELEMENT && !strcmp(name, "row")) {
            in_row = false;
            /* Spreadsheets leave out trailing empty cells: rows are as wide as the first. */
            if (!header_width)
                header_width = width;
            while (width && width < header_width)
                row[width++] = NULL;
            for (size_t k = 0; k < width && !rc; k++)
                if (!row[k] && !(row[k] = strdup("")))
                    rc = -ENOMEM;
            int stop = width && !rc ? cb(arg, (size_t)rownum, row, width) : 0;
            for (size_t k = 0; k < width; k++) {
                free(row[k]);
                row[k] = NULL;
            }
            width = 0;
            if (stop) {
                rc = stop;
                stopped = true;
            }
        }
    }
    /* A read error ends the sheet with an error, never as if the rows read so far were all. */
    if (!rc && ret < 0)
        rc = entry_failed(&e);
    if (rc == -ENOMEM && !stopped)
        snprintf(wb->err, wb->errlen, "%s: out of memory at row %ld", wb->path, rownum);
    for (size_t k = 0; k < MAX_COLUMNS; k++)
        free(row[k]);
    free(row);
    entry_close(&e);
    return rc;
}

/* Reads an opened archive and closes it. */
static int read_workbook(zip_t *z, const char *path, cr_csv_row_cb cb, void *arg, char *err,
                         size_t errlen)
{
    struct workbook wb = {.z = z, .path = path, .err = err, .errlen = errlen};
    struct shared sh = {0};
    struct styles st = {0};
    int rc = load_date_system(&wb, &st);
    if (!rc)
        rc = load_styles(&wb, &st);
    if (!rc)
        rc = load_shared(&wb, &sh);
    if (!rc)
        rc = read_sheet(&wb, &sh, &st, cb, arg);
    free(st.kind);
    for (size_t i = 0; i < sh.n; i++)
        free(sh.s[i]);
    free(sh.s);
    zip_discard(z);
    return rc;
}

int xlsx_read(const char *path, cr_csv_row_cb cb, void *arg, char *err, size_t errlen)
{
    err[0] = '\0';
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!z) {
        snprintf(err, errlen, "%s: not a readable XLSX file (zip error %d)", path, zerr);
        return -EINVAL;
    }
    return read_workbook(z, path, cb, arg, err, errlen);
}

int xlsx_read_buffer(const void *data, size_t len, const char *name, cr_csv_row_cb cb, void *arg,
                     char *err, size_t errlen)
{
    err[0] = '\0';
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!z) {
        snprintf(err, errlen, "%s: not a readable XLSX file (%s)", name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        if (src)
            zip_source_free(src);
        return -EINVAL;
    }
    zip_error_fini(&ze);
    return read_workbook(z, name, cb, arg, err, errlen);
}
