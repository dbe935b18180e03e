/* carillonctl's XLSX reader (server/ctl/xlsxin.c) on workbooks built here with libzip: a plain
 * one, then malformed and hostile ones (a value outside a cell, zip bombs, huge shared strings,
 * a truncated sheet, absurd references), each of which must end in an error naming the cause. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zip.h>

#include "testutil.h"
#include "xlsxin.h"

#define MIB (1u << 20)

/* An entry's bytes, generated as libzip compresses them (so a 300 MiB entry costs no memory):
 * head, then unit repeated units times, then tail. */
struct gen {
    const char *name;
    const char *head, *unit, *tail;
    size_t unit_len; /* 0: strlen(unit) */
    uint64_t units;
    uint64_t pos, size;
    zip_error_t error;
};

static zip_int64_t gen_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct gen *g = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        g->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        char *out = data;
        size_t hl = strlen(g->head), tl = strlen(g->tail);
        uint64_t body = g->units * g->unit_len;
        zip_uint64_t n = 0;
        while (n < len && g->pos < g->size) {
            const char *seg;
            uint64_t seglen, off;
            if (g->pos < hl) {
                seg = g->head, seglen = hl, off = g->pos;
            } else if (g->pos < hl + body) {
                seg = g->unit, seglen = g->unit_len, off = (g->pos - hl) % g->unit_len;
            } else {
                seg = g->tail, seglen = tl, off = g->pos - hl - body;
            }
            uint64_t take = seglen - off < len - n ? seglen - off : len - n;
            memcpy(out + n, seg + off, take);
            n += take;
            g->pos += take;
        }
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st); /* no size: libzip counts what it reads */
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&g->error, data, len);
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        zip_error_set(&g->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

/* Writes a workbook of n entries to dir/name; returns its path (static buffer). */
static const char *write_xlsx(const char *name, struct gen *entries, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_group_dir, name);
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        struct gen *g = &entries[i];
        if (!g->head)
            g->head = "";
        if (!g->tail)
            g->tail = "";
        if (!g->unit)
            g->unit = "", g->units = 0;
        if (!g->unit_len)
            g->unit_len = strlen(g->unit);
        g->size = strlen(g->head) + g->units * g->unit_len + strlen(g->tail);
        zip_error_init(&g->error);
        zip_source_t *src = zip_source_function(z, gen_cb, g);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(z, g->name, src, ZIP_FL_OVERWRITE);
        assert_true(idx >= 0);
        /* Fastest deflate: repeated text shrinks about a thousand times whatever the level. */
        assert_int_equal(zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 1), 0);
    }
    assert_int_equal(zip_close(z), 0);
    return path;
}

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
    return le16(p) | le16(p + 2) << 16;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Makes entry claim size uncompressed bytes, in its local header and the central directory:
 * what a zip bomb's author does so that a check of the header alone lets it through. */
static void lie_about_size(const char *path, const char *entry, uint32_t size)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    assert_true(len > 22);
    unsigned char *b = malloc((size_t)len);
    assert_non_null(b);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    const unsigned char *eocd = b + len - 22; /* no archive comment */
    assert_int_equal(le32(eocd), 0x06054b50);
    uint32_t entries = le16(eocd + 10), off = le32(eocd + 16);
    int patched = 0;
    for (uint32_t i = 0; i < entries; i++) {
        unsigned char *cd = b + off;
        assert_int_equal(le32(cd), 0x02014b50);
        uint32_t nlen = le16(cd + 28), xlen = le16(cd + 30), clen = le16(cd + 32);
        if (nlen == strlen(entry) && !memcmp(cd + 46, entry, nlen)) {
            unsigned char *lh = b + le32(cd + 42);
            assert_int_equal(le32(lh), 0x04034b50);
            put_le32(cd + 24, size);
            put_le32(lh + 22, size);
            patched++;
        }
        off += 46 + nlen + xlen + clen;
    }
    assert_int_equal(patched, 1);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    free(b);
}

/* Collected rows: up to 8, each joined with '|'. */
struct rows {
    int n;
    char text[8][256];
    size_t lines[8];
};

static int collect(void *arg, size_t line, char **fields, size_t n)
{
    struct rows *r = arg;
    if (r->n < 8) {
        size_t o = 0;
        for (size_t i = 0; i < n && o < 200; i++)
            o += (size_t)snprintf(r->text[r->n] + o, 256 - o, "%s%s", i ? "|" : "", fields[i]);
        r->lines[r->n] = line;
    }
    r->n++;
    return 0;
}

#define SHEET_HEAD                                                                                 \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>"
#define SHEET_TAIL "</sheetData></worksheet>"
#define SST_HEAD                                                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"

/* Reads path and checks it fails with rc and an error containing msg. */
static void assert_refused(const char *path, int rc, const char *msg)
{
    struct rows rows = {0};
    char err[512] = "";
    assert_int_equal(xlsx_read(path, collect, &rows, err, sizeof err), rc);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" does not say \"%s\"", err, msg);
}

/* The same for a workbook whose only entry is a sheet holding rows_xml. */
static void assert_sheet_refused(const char *rows_xml, int rc, const char *msg)
{
    struct gen e[] = {{.name = "xl/worksheets/sheet1.xml",
                       .head = SHEET_HEAD,
                       .unit = rows_xml,
                       .units = 1,
                       .tail = SHEET_TAIL}};
    assert_refused(write_xlsx("sheet.xlsx", e, 1), rc, msg);
}

static void reads_shared_inline_and_sparse_cells(void **state)
{
    (void)state;
    struct gen e[] = {
        {.name = "xl/sharedStrings.xml",
         .head = SST_HEAD "<si><t>Nom</t></si><si><t>Téléphone</t></si>"
                          "<si><r><t>Du</t></r><r><t>pont</t></r></si></sst>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head =
             SHEET_HEAD "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c>"
                        "<c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\"/></row>"
                        "<row r=\"3\"><c r=\"A3\" t=\"s\"><v>2</v></c>"
                        "<c r=\"B3\"><v>612345678</v></c></row>"
                        "<row r=\"4\"><c r=\"B4\" t=\"inlineStr\"><is><t>0478</t></is></c></row>"
                        "<row r=\"5\"/>" SHEET_TAIL},
    };
    struct rows rows = {0};
    char err[512];
    int rc = xlsx_read(write_xlsx("plain.xlsx", e, 2), collect, &rows, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(rows.n, 3);
    assert_string_equal(rows.text[0], "Nom|Téléphone");
    assert_string_equal(rows.text[1], "Dupont|612345678");
    assert_int_equal(rows.lines[1], 3);
    assert_string_equal(rows.text[2], "|0478");
}

/* Bytes in memory read as a file is. */
static void reads_a_workbook_from_memory(void **state)
{
    (void)state;
    struct gen e[] = {{.name = "xl/worksheets/sheet1.xml",
                       .head = SHEET_HEAD "<row><c><v>1</v></c><c><v>2</v></c></row>" SHEET_TAIL}};
    const char *path = write_xlsx("mem.xlsx", e, 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct rows rows = {0};
    char err[512];
    assert_int_equal(xlsx_read_buffer(buf, n, "upload", collect, &rows, err, sizeof err), 0);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.text[0], "1|2");
    assert_int_equal(xlsx_read_buffer("PK", 2, "upload", collect, &rows, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "upload: not a readable XLSX file"));
}

/* Was: col still -1, the row array written before its start. */
static void value_before_any_cell_is_an_error(void **state)
{
    (void)state;
    assert_sheet_refused("<row r=\"1\"><v>boom</v><c r=\"A1\"><v>1</v></c></row>", -EINVAL,
                         "row 1: a <v> value outside any cell");
    /* After a cell has ended too: the value is not the previous cell's. */
    assert_sheet_refused("<row r=\"2\"><c r=\"A2\"><v>1</v></c><is><t>x</t></is></row>", -EINVAL,
                         "row 2: a <is> value outside any cell");
}

/* Was: the letters summed in a long that overflowed (undefined behaviour). */
static void endless_column_reference_is_an_error(void **state)
{
    (void)state;
    assert_sheet_refused("<row r=\"1\"><c r=\"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ1\"><v>1</v></c></row>",
                         -EINVAL, "row 1: more than 1000 columns");
    assert_sheet_refused("<row r=\"1\"><c r=\"12\"><v>1</v></c></row>", -EINVAL,
                         "cell reference '12' has no column");
}

/* Was: a negative row number became a huge line number. */
static void bad_row_number_is_an_error(void **state)
{
    (void)state;
    assert_sheet_refused("<row r=\"-5\"><c><v>1</v></c></row>", -EINVAL,
                         "row number '-5' is not 1 to 1048576");
}

/* Was: the inner <row> reset the width, and the outer row's cells leaked (found by fuzz_xlsx,
 * whose input is kept as corpus/xlsx/leak-row-in-row); so did cells before any row. */
static void row_inside_row_or_cell_outside_is_an_error(void **state)
{
    (void)state;
    assert_sheet_refused("<row r=\"1\"><c r=\"B1\"><v>x</v></c><x><row r=\"2\"><c r=\"C2\"><v>y</v>"
                         "</c></row></x></row>",
                         -EINVAL, "row 1: a <row> inside another");
    assert_sheet_refused("<c r=\"A1\"><v>1</v></c><row r=\"1\"><c r=\"B1\"><v>2</v></c></row>",
                         -EINVAL, "after row 0: a cell <c> outside any <row>");
}

/* Was: a read error ended the loop like the end of the sheet: the rows so far, rc 0. */
static void truncated_sheet_is_an_error(void **state)
{
    (void)state;
    assert_sheet_refused("<row r=\"1\"><c><v>1</v></c></row>\n<row r=\"2\"><c><v>2", -EINVAL,
                         "xl/worksheets/sheet1.xml is not valid XML: line 3");
}

/* 1 MiB of elements the reader skips (with long attributes: few nodes, so it reads fast):
 * valid XML that only a byte count can stop. */
static const char *padding_mib(void)
{
    static char pad[1 << 20];
    if (!pad[0]) {
        for (size_t i = 0; i < sizeof pad; i++)
            pad[i] = (char)('a' + i % 26);
        for (size_t o = 0; o < sizeof pad; o += 4096) {
            memcpy(pad + o, "<pad v=\"", 8);
            memcpy(pad + o + 4093, "\"/>", 3);
        }
    }
    return pad;
}

/* A zip bomb whose headers lie: 300 MiB of XML declared as 1000 bytes. Was: inflated whole. */
static void sheet_bomb_stops_at_entry_limit(void **state)
{
    (void)state;
    struct gen e[] = {{.name = "xl/worksheets/sheet1.xml",
                       .head = SHEET_HEAD,
                       .unit = padding_mib(),
                       .unit_len = MIB,
                       .units = 300,
                       .tail = SHEET_TAIL}};
    const char *path = write_xlsx("bomb.xlsx", e, 1);
    lie_about_size(path, "xl/worksheets/sheet1.xml", 1000);
    assert_refused(path, -EFBIG,
                   "xl/worksheets/sheet1.xml inflates past the 256 MiB limit per entry");
}

/* Headers over the limits are refused before inflating the entry. */
static void declared_sizes_over_limits_are_refused(void **state)
{
    (void)state;
    struct gen e[] = {
        {.name = "xl/sharedStrings.xml",
         .head = SST_HEAD "<si><t>a</t></si>",
         .unit = padding_mib(),
         .unit_len = MIB,
         .units = 130,
         .tail = "</sst>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD "<row><c t=\"s\"><v>0</v></c></row>" SHEET_TAIL},
    };
    const char *path = write_xlsx("declared.xlsx", e, 2);
    lie_about_size(path, "xl/worksheets/sheet1.xml", 300 * MIB);
    assert_refused(path, -EFBIG,
                   "xl/worksheets/sheet1.xml inflates past the 256 MiB limit per entry");
    /* 130 MiB of shared strings read, 255 MiB of sheet to come: past the workbook's 384. */
    lie_about_size(path, "xl/worksheets/sheet1.xml", 255 * MIB);
    assert_refused(path, -EFBIG,
                   "xl/worksheets/sheet1.xml inflates past the 384 MiB limit per workbook");
}

/* 70 texts of 1 MiB: under the per-entry limit, over the shared strings' 64 MiB. Was: held. */
static void shared_strings_over_limit_are_refused(void **state)
{
    (void)state;
    static char si[(1 << 20) + 32];
    int o = snprintf(si, sizeof si, "<si><t>");
    for (int i = 0; i < 1 << 20; i++)
        si[o++] = (char)('a' + i % 26);
    o += snprintf(si + o, sizeof si - (size_t)o, "</t></si>");
    struct gen e[] = {
        {.name = "xl/sharedStrings.xml",
         .head = SST_HEAD,
         .unit = si,
         .units = 70,
         .tail = "</sst>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD "<row><c t=\"s\"><v>0</v></c></row>" SHEET_TAIL},
    };
    assert_refused(write_xlsx("sst.xlsx", e, 2), -EFBIG,
                   "shared strings (xl/sharedStrings.xml) pass the 64 MiB limit");
}

/* One text of 11 MB: libxml2 refuses it unless XML_PARSE_HUGE is set (it was). */
static void text_node_over_libxml2_limit_is_refused(void **state)
{
    (void)state;
    struct gen e[] = {
        {.name = "xl/sharedStrings.xml",
         .head = SST_HEAD "<si><t>",
         .unit = "0123456789",
         .units = 1100000,
         .tail = "</t></si></sst>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD "<row><c><v>1</v></c></row>" SHEET_TAIL},
    };
    assert_refused(
        write_xlsx("huge.xlsx", e, 2), -EINVAL,
        "xl/sharedStrings.xml is not valid XML: line 2: xmlSAX2Characters: huge text node");
}

/* A 100 KiB text used in a cell: over the CSV field maximum. Was: copied into every cell
 * that named it (1000 columns of a 64 MiB text would be 64 GB). */
static void cell_over_field_limit_is_refused(void **state)
{
    (void)state;
    struct gen e[] = {
        {.name = "xl/sharedStrings.xml",
         .head = SST_HEAD "<si><t>",
         .unit = "0123456789",
         .units = 10000,
         .tail = "</t></si></sst>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD "<row r=\"7\"><c r=\"A7\"><v>1</v></c><c r=\"AB7\" t=\"s\"><v>0</v></c>"
                            "</row>" SHEET_TAIL},
    };
    assert_refused(write_xlsx("cell.xlsx", e, 2), -EFBIG,
                   "row 7, column AB: cell longer than 65536 bytes");
}

#define STYLES_HEAD                                                                                \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"

/* Cell formats 0..8: General, 14 (m/d/yyyy), dd/mm/yyyy, a number with "m" quoted, 22 (date and
 * time), yyyy-mm-dd hh:mm, 20 (h:mm), [Red] (a colour, no date), \d escaped (no date). The
 * numFmt of a dxf (conditional formatting) is not a cell's. */
#define STYLES                                                                                     \
    STYLES_HEAD "<numFmts count=\"5\"><numFmt numFmtId=\"164\" formatCode=\"dd/mm/yyyy\"/>"        \
                "<numFmt numFmtId=\"165\" formatCode=\"0.00&quot; m&quot;\"/>"                     \
                "<numFmt numFmtId=\"166\" formatCode=\"[Red]0.00\"/>"                              \
                "<numFmt numFmtId=\"167\" formatCode=\"yyyy-mm-dd hh:mm\"/>"                       \
                "<numFmt numFmtId=\"168\" formatCode=\"0\\d\"/></numFmts>"                         \
                "<cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs>"                   \
                "<cellXfs count=\"9\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/>"                   \
                "<xf numFmtId=\"164\"/><xf numFmtId=\"165\"/><xf numFmtId=\"22\"/>"                \
                "<xf numFmtId=\"167\"/><xf numFmtId=\"20\"/><xf numFmtId=\"166\"/>"                \
                "<xf numFmtId=\"168\"/></cellXfs>"                                                 \
                "<dxfs count=\"1\"><dxf><numFmt numFmtId=\"169\" formatCode=\"yyyy\"/></dxf>"      \
                "</dxfs></styleSheet>"

/* Reads one sheet (rows_xml) with STYLES and the given workbook.xml (NULL: none) into rows. */
static void read_styled(const char *workbook, const char *rows_xml, struct rows *rows)
{
    struct gen e[] = {
        {.name = "xl/styles.xml", .head = STYLES},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD,
         .unit = rows_xml,
         .units = 1,
         .tail = SHEET_TAIL},
        {.name = "xl/workbook.xml", .head = workbook},
    };
    char err[512] = "";
    int rc =
        xlsx_read(write_xlsx("styled.xlsx", e, workbook ? 3 : 2), collect, rows, err, sizeof err);
    if (rc != 0)
        fail_msg("read failed: %d %s", rc, err);
}

/* Was: a date cell imported as its serial (46461), a number as 12.0 or 0.30000000000000004. */
static void dates_and_numbers_read_as_shown(void **state)
{
    (void)state;
    struct rows rows = {0};
    read_styled(NULL,
                "<row><c s=\"1\"><v>46461</v></c><c s=\"2\"><v>46461.5</v></c>"
                "<c s=\"3\"><v>12.0</v></c><c><v>0.30000000000000004</v></c>"
                "<c s=\"4\"><v>46461.75</v></c><c s=\"5\"><v>46461.0104166667</v></c>"
                "<c s=\"6\"><v>0.5</v></c><c s=\"7\"><v>-3.5</v></c>"
                "<c s=\"8\"><v>7</v></c></row>"
                /* the 1900 system's phantom 1900-02-29 (serial 60) and the days around it */
                "<row><c s=\"1\"><v>1</v></c><c s=\"1\"><v>59</v></c><c s=\"1\"><v>60</v></c>"
                "<c s=\"1\"><v>61</v></c><c s=\"1\"><v>0</v></c><c s=\"1\"><v>-1</v></c>"
                "<c s=\"1\"><v>2958465</v></c><c s=\"1\"><v>2958466</v></c>"
                "<c s=\"1\"><v>1e400</v></c></row>"
                /* styles that are no cell format, text typed cells, a formula's value */
                "<row><c s=\"9\"><v>46461</v></c><c s=\"x\"><v>46461</v></c>"
                "<c s=\"-1\"><v>2.50</v></c><c s=\"1\" t=\"str\"><v>46461</v></c>"
                "<c s=\"1\" t=\"inlineStr\"><is><t>46461</t></is></c>"
                "<c s=\"1\"><f>TODAY()</f><v>46462</v></c><c><v>not a number</v></c>"
                "<c><v>33612345678</v></c><c><v>1234567890123456789</v></c></row>",
                &rows);
    assert_int_equal(rows.n, 3);
    assert_string_equal(rows.text[0], "2027-03-15|2027-03-15|12|0.3|2027-03-15T18:00:00|"
                                      "2027-03-15T00:15:00|12:00:00|-3.5|7");
    assert_string_equal(rows.text[1], "1900-01-01|1900-02-28|60|1900-03-01|0|-1|9999-12-31|"
                                      "2958466|1e400");
    assert_string_equal(rows.text[2], "46461|46461|2.5|46461|46461|2027-03-16|not a number|"
                                      "33612345678|1.23456789012346e+18");
}

/* workbook.xml's date1904: day 0 is 1904-01-01 (a Mac workbook's dates, 1462 days later). */
static void date1904_system_is_honoured(void **state)
{
    (void)state;
    struct rows rows = {0};
    read_styled("<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/"
                "spreadsheetml/2006/main\"><workbookPr date1904=\"1\"/><sheets/></workbook>",
                "<row><c s=\"1\"><v>0</v></c><c s=\"1\"><v>45000</v></c><c s=\"1\"><v>60</v></c>"
                "<c s=\"1\"><v>-1</v></c></row>",
                &rows);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.text[0], "1904-01-01|2027-03-16|1904-03-01|-1");
    memset(&rows, 0, sizeof rows);
    read_styled("<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/"
                "spreadsheetml/2006/main\"><workbookPr date1904=\"false\"/></workbook>",
                "<row><c s=\"1\"><v>45000</v></c></row>", &rows);
    assert_string_equal(rows.text[0], "2023-03-15");
}

/* styles.xml is read with limits too: too many cell or number formats, or broken XML, is an
 * error naming it. */
static void hostile_styles_are_refused(void **state)
{
    (void)state;
    const char *sheet = SHEET_HEAD "<row><c><v>1</v></c></row>" SHEET_TAIL;
    struct gen many_xf[] = {
        {.name = "xl/styles.xml",
         .head = STYLES_HEAD "<cellXfs>",
         .unit = "<xf numFmtId=\"14\"/>",
         .units = 70000,
         .tail = "</cellXfs></styleSheet>"},
        {.name = "xl/worksheets/sheet1.xml", .head = sheet},
    };
    assert_refused(write_xlsx("xf.xlsx", many_xf, 2), -EFBIG, "more than 65536 cell formats");
    struct gen many_fmt[] = {
        {.name = "xl/styles.xml",
         .head = STYLES_HEAD "<numFmts>",
         .unit = "<numFmt numFmtId=\"164\" formatCode=\"yyyy\"/>",
         .units = 5000,
         .tail = "</numFmts></styleSheet>"},
        {.name = "xl/worksheets/sheet1.xml", .head = sheet},
    };
    assert_refused(write_xlsx("fmt.xlsx", many_fmt, 2), -EFBIG, "more than 4096 number formats");
    struct gen broken[] = {
        {.name = "xl/styles.xml", .head = STYLES_HEAD "<cellXfs><xf numFmtId=\"14\">"},
        {.name = "xl/worksheets/sheet1.xml", .head = sheet},
    };
    assert_refused(write_xlsx("broken.xlsx", broken, 2), -EINVAL, "xl/styles.xml is not valid XML");
    /* Odd but harmless: unterminated quotes and brackets, ids out of range, no formatCode. */
    struct gen odd[] = {
        {.name = "xl/styles.xml",
         .head = STYLES_HEAD "<numFmts><numFmt numFmtId=\"170\" formatCode=\"0&quot;yyyy\"/>"
                             "<numFmt numFmtId=\"171\" formatCode=\"[yyyy\"/>"
                             "<numFmt numFmtId=\"172\"/><numFmt formatCode=\"yyyy\"/>"
                             "<numFmt numFmtId=\"173\" formatCode=\"0\\\"/></numFmts><cellXfs>"
                             "<xf numFmtId=\"170\"/><xf numFmtId=\"171\"/><xf numFmtId=\"172\"/>"
                             "<xf numFmtId=\"99999999999999999999\"/><xf numFmtId=\"173\"/>"
                             "<xf/></cellXfs></styleSheet>"},
        {.name = "xl/worksheets/sheet1.xml",
         .head = SHEET_HEAD "<row><c s=\"0\"><v>5</v></c><c s=\"1\"><v>5</v></c>"
                            "<c s=\"2\"><v>5</v></c><c s=\"3\"><v>5</v></c><c s=\"4\"><v>5</v></c>"
                            "<c s=\"5\"><v>5</v></c></row>" SHEET_TAIL},
    };
    struct rows rows = {0};
    char err[512];
    assert_int_equal(xlsx_read(write_xlsx("odd.xlsx", odd, 2), collect, &rows, err, sizeof err), 0);
    assert_string_equal(rows.text[0], "5|5|5|5|5|5");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* one test by name (or glob) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_shared_inline_and_sparse_cells),
        cmocka_unit_test(reads_a_workbook_from_memory),
        cmocka_unit_test(value_before_any_cell_is_an_error),
        cmocka_unit_test(endless_column_reference_is_an_error),
        cmocka_unit_test(bad_row_number_is_an_error),
        cmocka_unit_test(row_inside_row_or_cell_outside_is_an_error),
        cmocka_unit_test(truncated_sheet_is_an_error),
        cmocka_unit_test(sheet_bomb_stops_at_entry_limit),
        cmocka_unit_test(declared_sizes_over_limits_are_refused),
        cmocka_unit_test(shared_strings_over_limit_are_refused),
        cmocka_unit_test(text_node_over_libxml2_limit_is_refused),
        cmocka_unit_test(cell_over_field_limit_is_refused),
        cmocka_unit_test(dates_and_numbers_read_as_shown),
        cmocka_unit_test(date1904_system_is_honoured),
        cmocka_unit_test(hostile_styles_are_refused),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}
