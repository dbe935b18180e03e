/* Reading the first sheet of an XLSX contact file (libzip + libxml2's streaming reader), row by
 * row as the CSV reader does, so the import treats both alike. Shared strings are held in
 * memory (bounded); the sheet itself streams. */
#include "xlsxin.h"

#include <errno.h>
#include <libxml/xmlreader.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define MAX_SHARED  4000000
#define MAX_COLUMNS 1000

struct shared {
    char **s;
    size_t n, cap;
};

static int zip_read(void *ctx, char *buf, int len)
{
    zip_int64_t got = zip_fread((zip_file_t *)ctx, buf, (zip_uint64_t)len);
    return got < 0 ? -1 : (int)got;
}

static int zip_close_cb(void *ctx)
{
    (void)ctx;
    return 0;
}

static xmlTextReaderPtr open_entry(zip_t *z, const char *name, zip_file_t **zf)
{
    *zf = zip_fopen(z, name, 0);
    if (!*zf)
        return NULL;
    return xmlReaderForIO(zip_read, zip_close_cb, *zf, name, "UTF-8",
                          XML_PARSE_NONET | XML_PARSE_HUGE);
}

/* Text of the element the reader is on, with its descendants' text (rich text runs). */
static char *element_text(xmlTextReaderPtr r)
{
    xmlChar *t = xmlTextReaderReadString(r);
    char *out = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return out;
}

static int load_shared(zip_t *z, struct shared *sh, char *err, size_t errlen)
{
    zip_file_t *zf;
    xmlTextReaderPtr r = open_entry(z, "xl/sharedStrings.xml", &zf);
    if (!r)
        return 0; /* a sheet of numbers only has no shared strings */
    int rc = 0, ret;
    while ((ret = xmlTextReaderRead(r)) == 1) {
        if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT ||
            strcmp((const char *)xmlTextReaderConstLocalName(r), "si"))
            continue;
        if (sh->n == sh->cap) {
            if (sh->cap >= MAX_SHARED) {
                snprintf(err, errlen, "more than %d distinct texts in the workbook", MAX_SHARED);
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
        sh->s[sh->n++] = element_text(r);
    }
    if (ret < 0 && !rc) {
        snprintf(err, errlen, "xl/sharedStrings.xml is not valid XML");
        rc = -EINVAL;
    }
    xmlFreeTextReader(r);
    zip_fclose(zf);
    return rc;
}

/* "BC12" -> column index 54 (0-based). */
static long column_of(const char *ref)
{
    long c = 0;
    for (; *ref >= 'A' && *ref <= 'Z'; ref++)
        c = c * 26 + (*ref - 'A' + 1);
    return c - 1;
}

int xlsx_read(const char *path, cr_csv_row_cb cb, void *arg, char *err, size_t errlen)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!z) {
        snprintf(err, errlen, "%s: not a readable XLSX file (zip error %d)", path, zerr);
        return -EINVAL;
    }
    struct shared sh = {0};
    int rc = load_shared(z, &sh, err, errlen);
    zip_file_t *zf = NULL;
    xmlTextReaderPtr r = rc ? NULL : open_entry(z, "xl/worksheets/sheet1.xml", &zf);
    if (!rc && !r) {
        snprintf(err, errlen, "%s: no first sheet (xl/worksheets/sheet1.xml)", path);
        rc = -EINVAL;
    }
    char **row = calloc(MAX_COLUMNS, sizeof *row);
    size_t width = 0, header_width = 0;
    long rownum = 0;
    char type[16] = "";
    long col = -1;
    while (!rc && row && xmlTextReaderRead(r) == 1) {
        int nt = xmlTextReaderNodeType(r);
        const char *name = (const char *)xmlTextReaderConstLocalName(r);
        if (nt == XML_READER_TYPE_ELEMENT && !strcmp(name, "row")) {
            xmlChar *rr = xmlTextReaderGetAttribute(r, (const xmlChar *)"r");
            rownum = rr ? atol((const char *)rr) : rownum + 1;
            xmlFree(rr);
            width = 0;
        } else if (nt == XML_READER_TYPE_ELEMENT && !strcmp(name, "c")) {
            xmlChar *ref = xmlTextReaderGetAttribute(r, (const xmlChar *)"r");
            xmlChar *t = xmlTextReaderGetAttribute(r, (const xmlChar *)"t");
            col = ref ? column_of((const char *)ref) : (long)width;
            snprintf(type, sizeof type, "%s", t ? (const char *)t : "");
            xmlFree(ref);
            xmlFree(t);
            if (col < 0 || col >= MAX_COLUMNS) {
                snprintf(err, errlen, "row %ld: more than %d columns", rownum, MAX_COLUMNS);
                rc = -EINVAL;
            }
        } else if (nt == XML_READER_TYPE_ELEMENT && (!strcmp(name, "v") || !strcmp(name, "is"))) {
            char *v = element_text(r);
            if (!strcmp(type, "s")) {
                long i = atol(v);
                free(v);
                v = strdup(i >= 0 && (size_t)i < sh.n ? sh.s[i] : "");
            }
            while (width <= (size_t)col)
                row[width++] = NULL;
            free(row[col]);
            row[col] = v;
        } else if (nt == XML_READER_TYPE_END_ELEMENT && !strcmp(name, "row")) {
            /* Spreadsheets leave out trailing empty cells: rows are as wide as the first. */
            if (!header_width)
                header_width = width;
            while (width && width < header_width)
                row[width++] = NULL;
            for (size_t k = 0; k < width; k++)
                if (!row[k])
                    row[k] = strdup("");
            int stop = width ? cb(arg, (size_t)rownum, row, width) : 0;
            for (size_t k = 0; k < width; k++) {
                free(row[k]);
                row[k] = NULL;
            }
            width = 0;
            if (stop) {
                rc = stop;
                break;
            }
        }
    }
    if (row) {
        for (size_t k = 0; k < MAX_COLUMNS; k++)
            free(row[k]);
        free(row);
    }
    if (r)
        xmlFreeTextReader(r);
    if (zf)
        zip_fclose(zf);
    for (size_t i = 0; i < sh.n; i++)
        free(sh.s[i]);
    free(sh.s);
    zip_close(z);
    return rc;
}
