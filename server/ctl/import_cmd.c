/* carillonctl list import: reads a CSV contact file (encoding and delimiter detected) or an
 * XLSX workbook, shows the header beside a proposed mapping (after checking the file holds text
 * and rows, and that the campaign exists), or streams the mapped rows to the server in chunks
 * and prints the report (imported / duplicates / rejected / blocked; every bad cell named by its
 * header and field), rejects optionally to CSV. Nothing imported is an exit code of 1 when the
 * file had no rows or every row was rejected. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "carillon/csvin.h"
#include "carillon/daemon.h"
#include "carillon/strbuf.h"
#include "ctl.h"
#include "ctlutil.h"
#include "xlsxin.h"

#define CHUNK_ROWS  5000
#define CHUNK_BYTES (512u << 10)
#define MAX_COLS    250

/* Header words people use, and the field they usually mean. */
static const char *const guesses[][2] = {
    {"nom", "last_name"},
    {"last_name", "last_name"},
    {"name", "last_name"},
    {"prénom", "first_name"},
    {"prenom", "first_name"},
    {"first_name", "first_name"},
    {"civilité", "civility"},
    {"civilite", "civility"},
    {"société", "company"},
    {"societe", "company"},
    {"company", "company"},
    {"adresse", "address"},
    {"address", "address"},
    {"code postal", "zip"},
    {"cp", "zip"},
    {"zip", "zip"},
    {"ville", "city"},
    {"city", "city"},
    {"pays", "country"},
    {"country", "country"},
    {"email", "email"},
    {"e-mail", "email"},
    {"mail", "email"},
    {"tel1", "phone1"},
    {"tél1", "phone1"},
    {"téléphone", "phone1"},
    {"telephone", "phone1"},
    {"phone", "phone1"},
    {"phone1", "phone1"},
    {"tel2", "phone2"},
    {"tél2", "phone2"},
    {"phone2", "phone2"},
    {"mobile", "phone2:mobile"},
    {"portable", "phone2:mobile"},
    {"n° client", "customer_id"},
    {"customer_id", "customer_id"},
};

struct importer {
    char **header;
    size_t ncols;
    char **mapping;
    bool header_done;
    bool propose;  /* stop once the header and the first row are seen */
    bool has_rows; /* a row after the header was seen (propose mode) */
    Carillon__V1__ImportRows chunk;
    Carillon__V1__ContactRow rowv[CHUNK_ROWS], *rowp[CHUNK_ROWS];
    uint32_t lines[CHUNK_ROWS];
    char **values[CHUNK_ROWS];
    size_t bytes;
    unsigned long long sent;
    int rc;
    struct cr_csv_reader *reader;
    double started;
    bool progress;
    long long file_size; /* bytes, for the progress bar; 0 when unknown */
};

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void free_chunk(struct importer *im)
{
    for (size_t i = 0; i < im->chunk.n_rows; i++) {
        for (size_t k = 0; k < im->rowv[i].n_values; k++)
            free(im->values[i][k]);
        free(im->values[i]);
    }
    im->chunk.n_rows = 0;
    im->chunk.n_lines = 0;
    im->bytes = 0;
}

static int flush_chunk(struct importer *im)
{
    if (im->chunk.n_rows == 0)
        return 0;
    im->chunk.rows = im->rowp;
    im->chunk.lines = im->lines;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_IMPORT_ROWS;
    env.import_rows = &im->chunk;
    /* Each chunk is acknowledged once the server has merged it. Two in flight keep the
     * database busy while the next is read and sent; more would only hold memory. */
    int rc = ctl_in_flight() >= 2 ? ctl_collect(CARILLON__V1__ENVELOPE__BODY_OK) : 0;
    if (!rc) {
        ctl_drop_reply();
        rc = ctl_send(&env);
    }
    im->sent += im->chunk.n_rows;
    free_chunk(im);
    if (im->progress) {
        /* A bar when the file's size is known (CSV: the reader's byte offset), else a count. */
        double dt = now_s() - im->started;
        double rate = dt > 0 ? (double)im->sent / dt : 0.0;
        if (im->reader && im->file_size > 0) {
            double f = (double)cr_csv_offset(im->reader) / (double)im->file_size;
            f = f > 1 ? 1 : f;
            char bar[31];
            int full = (int)(f * 30);
            for (int i = 0; i < 30; i++)
                bar[i] = i < full ? '#' : '.';
            bar[30] = '\0';
            fprintf(stderr, "\r[%s] %3.0f%% %llu rows, %.0f rows/s   ", bar, f * 100, im->sent,
                    rate);
        } else {
            fprintf(stderr, "\r%llu rows sent (%.0f rows/s)   ", im->sent, rate);
        }
    }
    return rc;
}

static int on_row(void *arg, size_t line, char **fields, size_t n)
{
    struct importer *im = arg;
    if (!im->header_done) {
        im->header_done = true;
        im->ncols = n < MAX_COLS ? n : MAX_COLS;
        im->header = calloc(im->ncols, sizeof *im->header);
        for (size_t k = 0; k < im->ncols; k++)
            im->header[k] = strdup(fields[k]);
        return 0;
    }
    if (im->propose) {
        im->has_rows = true;
        return 1; /* the header and whether a row follows are all a proposal needs */
    }
    size_t i = im->chunk.n_rows;
    im->values[i] = calloc(n ? n : 1, sizeof(char *));
    carillon__v1__contact_row__init(&im->rowv[i]);
    for (size_t k = 0; k < n; k++) {
        im->values[i][k] = strdup(fields[k]);
        im->bytes += strlen(fields[k]) + 2;
    }
    im->rowv[i].values = im->values[i];
    im->rowv[i].n_values = n;
    im->rowp[i] = &im->rowv[i];
    im->lines[i] = (uint32_t)line;
    im->chunk.n_rows++;
    im->chunk.n_lines++;
    /* The failure's exit code (1 refused, 3 connection) is kept: the reader only stops. */
    if ((im->chunk.n_rows == CHUNK_ROWS || im->bytes >= CHUNK_BYTES) &&
        (im->rc = flush_chunk(im)) != 0)
        return 2;
    return 0;
}

static const char *guess(const char *header)
{
    /* An export's own headers (contact export): phone1..phone8 and phone1_type..phone8_type
     * map to themselves, so an export re-imports with the proposed mapping. */
    static const char *const own[] = {"phone1",      "phone2",      "phone3",      "phone4",
                                      "phone5",      "phone6",      "phone7",      "phone8",
                                      "phone1_type", "phone2_type", "phone3_type", "phone4_type",
                                      "phone5_type", "phone6_type", "phone7_type", "phone8_type"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(own[i], header))
            return own[i];
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        if (!strcasecmp(guesses[i][0], header))
            return guesses[i][1];
    return "";
}

static void free_header(struct importer *im)
{
    for (size_t k = 0; k < im->ncols; k++)
        free(im->header[k]);
    free(im->header);
    im->header = NULL;
    im->ncols = 0;
}

/* Appends s quoted for a POSIX shell ('...', a quote inside as '\''), so a printed command
 * can be pasted back whatever the names hold. */
static void sh_quote(struct cr_strbuf *b, const char *s)
{
    cr_strbuf_add(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            cr_strbuf_str(b, "'\\''");
        else
            cr_strbuf_add(b, p, 1);
    }
    cr_strbuf_add(b, "'", 1);
}

/* Limits of what the preview builds: the --map text and the command that uses it. */
#define PROPOSAL_MAX (256u << 10)

/* Step 2 of the seed's wizard: the header beside the proposed fields, and the command to
 * import with. Refused (exit 1) for a file without rows, or a campaign that does not exist or
 * that the user may not see: nothing is proposed that could not be imported. */
static int preview(struct importer *im, const char *file, bool xlsx, const char *campaign,
                   const char *name)
{
    char err[512];
    int rc = xlsx ? xlsx_read(file, on_row, im, err, sizeof err)
                  : cr_csv_read(im->reader, on_row, im, err, sizeof err);
    if (rc < 0)
        return ctl_report(1, "INVALID_ARGUMENT", NULL, "%s", err);
    if (!im->header_done)
        return ctl_report(1, "INVALID_ARGUMENT", "file", "%s: empty file: nothing to import", file);
    if (!im->has_rows)
        return ctl_report(1, "INVALID_ARGUMENT", "file",
                          "%s: no rows (a header and nothing else): nothing to import", file);
    /* The campaign first: a mapping for a campaign that is not there helps nobody. */
    rc = ctl_request_campaign(campaign);
    if (rc)
        return rc;
    ctl_drop_reply();
    struct cr_strbuf map, cmd;
    cr_strbuf_init(&map, PROPOSAL_MAX);
    cr_strbuf_init(&cmd, 2 * PROPOSAL_MAX);
    for (size_t k = 0; k < im->ncols; k++) {
        const char *g = guess(im->header[k]);
        if (g[0])
            cr_strbuf_printf(&map, "%s%s=%s", map.len ? "," : "", im->header[k], g);
    }
    cr_strbuf_str(&cmd, "carillonctl list import ");
    sh_quote(&cmd, file);
    cr_strbuf_str(&cmd, " --campaign ");
    sh_quote(&cmd, campaign);
    cr_strbuf_str(&cmd, " --name ");
    sh_quote(&cmd, name ? name : "LIST");
    cr_strbuf_str(&cmd, " --map ");
    sh_quote(&cmd, cr_strbuf_text(&map));
    if (map.err || cmd.err) {
        cr_strbuf_free(&map);
        cr_strbuf_free(&cmd);
        return ctl_report(1, "INVALID_ARGUMENT", "file",
                          "%s: the header is too long to propose a mapping (over %u KiB)", file,
                          PROPOSAL_MAX >> 10);
    }
    const char *enc = xlsx ? NULL : cr_csv_encoding_name(cr_csv_encoding(im->reader));
    char d = xlsx ? 0 : cr_csv_delimiter(im->reader);
    const char *delim = d == '\t' ? "tab" : d == ';' ? ";" : ",";
    if (ctl_json()) {
        printf("{\"file\":");
        pbjson_string(stdout, file);
        printf(",\"format\":\"%s\",\"encoding\":", xlsx ? "xlsx" : "csv");
        if (enc)
            pbjson_string(stdout, enc);
        else
            printf("null");
        printf(",\"delimiter\":");
        if (xlsx)
            printf("null");
        else
            pbjson_string(stdout, delim);
        printf(",\"campaign\":");
        pbjson_string(stdout, campaign);
        printf(",\"headers\":[");
        for (size_t k = 0; k < im->ncols; k++) {
            if (k)
                putchar(',');
            pbjson_string(stdout, im->header[k]);
        }
        printf("],\"mapping\":[");
        for (size_t k = 0; k < im->ncols; k++) {
            const char *g = guess(im->header[k]);
            printf("%s{\"column\":", k ? "," : "");
            pbjson_string(stdout, im->header[k]);
            printf(",\"field\":");
            if (g[0])
                pbjson_string(stdout, g);
            else
                printf("null");
            printf("}");
        }
        printf("],\"map\":");
        pbjson_string(stdout, cr_strbuf_text(&map));
        printf(",\"command\":");
        pbjson_string(stdout, cr_strbuf_text(&cmd));
        printf("}\n");
    } else {
        if (xlsx)
            printf("file: %s (XLSX, first sheet)\n", file);
        else
            printf("file: %s (%s, delimiter '%s')\n", file, enc, delim);
        printf("%-28s %s\n", "FILE COLUMN", "PROPOSED FIELD");
        for (size_t k = 0; k < im->ncols; k++) {
            const char *g = guess(im->header[k]);
            ctl_print_padded(im->header[k], 29);
            printf("%s\n", g[0] ? g : "(ignored)");
        }
        if (!map.len)
            printf("\nno column was recognised: write the mapping yourself, "
                   "--map 'FileColumn=field,...' (one column at least to phone1)\n");
        else
            printf("\nimport with: %s\n", cr_strbuf_text(&cmd));
    }
    cr_strbuf_free(&map);
    cr_strbuf_free(&cmd);
    return 0;
}

/* One cell of the --report CSV file: quoted, quotes doubled. */
static void csv_cell(FILE *f, const char *s, const char *after)
{
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
    fputs(after, f);
}

/* "Tel1 (phone1)", the header or the field alone when only one is known, or "". */
static void where_text(const Carillon__V1__ImportReject *r, char *buf, size_t len)
{
    if (r->column[0] && r->field[0] && strcmp(r->column, r->field))
        snprintf(buf, len, "%s (%s)", r->column, r->field);
    else
        snprintf(buf, len, "%s", r->column[0] ? r->column : r->field);
}

static void print_entries(Carillon__V1__ImportReject *const *v, size_t n, const char *report)
{
    for (size_t i = 0; i < n && i < 10; i++) {
        char where[600];
        where_text(v[i], where, sizeof where);
        if (where[0])
            printf("  line %u, %s: '%s': %s%s\n", v[i]->line, where, v[i]->value, v[i]->reason,
                   v[i]->row_imported ? " (number dropped; the row was imported with its others)"
                                      : "");
        else
            printf("  line %u: %s\n", v[i]->line, v[i]->reason);
    }
    if (n > 10)
        printf("  ... %zu more%s\n", n - 10,
               report ? " in the report file" : " (use --report FILE.csv)");
}

static int write_report(const char *path, const Carillon__V1__ImportReport *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "line;column;field;value;reason\r\n");
    for (int pass = 0; pass < 2; pass++) {
        Carillon__V1__ImportReject *const *v = pass ? r->duplicate_numbers : r->rejects;
        size_t n = pass ? r->n_duplicate_numbers : r->n_rejects;
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%u;", v[i]->line);
            csv_cell(f, v[i]->column, ";");
            csv_cell(f, v[i]->field, ";");
            csv_cell(f, v[i]->value, ";");
            char why[600];
            snprintf(why, sizeof why, "%s%s", v[i]->reason,
                     v[i]->row_imported ? " (number dropped; the row was imported)" : "");
            csv_cell(f, why, "\r\n");
        }
    }
    if (fclose(f) != 0)
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The report, as text or JSON; nothing imported from a file without rows, or whose every row
 * was rejected, is a failure (exit 1) that still shows the counts and the rejects. */
static int print_report(const Carillon__V1__ImportReport *r, double dt, const char *report)
{
    char failure[160] = "";
    if (r->rows == 0)
        snprintf(failure, sizeof failure, "no rows: nothing imported");
    else if (r->imported == 0 && r->rejected == r->rows && r->rows == 1)
        snprintf(failure, sizeof failure, "the only row was rejected: nothing imported");
    else if (r->imported == 0 && r->rejected == r->rows)
        snprintf(failure, sizeof failure, "all %llu rows rejected: nothing imported",
                 (unsigned long long)r->rows);
    if (ctl_json()) {
        if (failure[0]) {
            printf("{\"error\":{\"code\":\"FAILED_PRECONDITION\",\"message\":");
            pbjson_string(stdout, failure);
            printf("},\"report\":");
            pbjson_inline(stdout, &r->base);
            printf("}\n");
        } else {
            pbjson_write(stdout, &r->base);
        }
    } else {
        char rows[32], dups[40];
        ctl_count(rows, sizeof rows, r->rows, "row", "rows");
        ctl_count(dups, sizeof dups, r->duplicates, "duplicate", "duplicates");
        printf("%s: %llu imported, %s, %llu rejected, %llu blocked (%.1f s, %.0f rows/s)\n", rows,
               (unsigned long long)r->imported, dups, (unsigned long long)r->rejected,
               (unsigned long long)r->blocked, dt, dt > 0 ? (double)r->rows / dt : 0.0);
        print_entries(r->rejects, r->n_rejects, report);
        print_entries(r->duplicate_numbers, r->n_duplicate_numbers, report);
        if (r->rolled_back && !failure[0])
            printf("nothing imported: nothing was written\n");
    }
    int rc = report ? write_report(report, r) : 0;
    if (failure[0]) {
        if (!ctl_json())
            fprintf(stderr, "carillonctl: %s\n", failure);
        return 1;
    }
    return rc;
}

int ctl_list_import(int argc, char **argv)
{
    const char *file = NULL, *campaign = NULL, *name = NULL, *map = NULL, *report = NULL;
    const char *consent_column = NULL;
    Carillon__V1__ImportBegin ib = CARILLON__V1__IMPORT_BEGIN__INIT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            campaign = argv[++i];
        else if (!strcmp(a, "--name") && v)
            name = argv[++i];
        else if (!strcmp(a, "--map") && v)
            map = argv[++i];
        else if (!strcmp(a, "--country") && v)
            ib.country = argv[++i];
        else if (!strcmp(a, "--dedup") && v)
            ib.dedup = argv[++i];
        else if (!strcmp(a, "--caller-id") && v)
            ib.caller_id = argv[++i];
        else if (!strcmp(a, "--include-no-consent"))
            ib.include_no_consent = 1;
        else if (!strcmp(a, "--consent-column") && v)
            consent_column = argv[++i];
        else if (!strcmp(a, "--allow-duplicate-numbers"))
            ib.allow_duplicate_numbers = 1;
        else if (!strcmp(a, "--report") && v)
            report = argv[++i];
        else if (a[0] != '-' && !file)
            file = a;
        else
            return ctl_usage("list import: unexpected argument '%s'", a);
    }
    if (!file || !campaign)
        return ctl_usage("list import FILE --campaign C --name N [--map 'Col=field,...'] "
                         "[--country FR] [--dedup phone|field:NAME|none] "
                         "[--allow-duplicate-numbers] [--caller-id N] [--include-no-consent] "
                         "[--consent-column COLUMN] [--report R.csv]");
    if (ib.dedup[0] && strcmp(ib.dedup, "phone") && strcmp(ib.dedup, "none") &&
        strncmp(ib.dedup, "field:", 6))
        return ctl_usage("list import: --dedup takes phone, field:NAME or none, not '%s'",
                         ib.dedup);
    char err[512];
    struct importer *im = calloc(1, sizeof *im);
    if (!im)
        return ctl_report(1, "INTERNAL", NULL, "out of memory");
    im->propose = !map;
    carillon__v1__import_rows__init(&im->chunk);
    size_t flen = strlen(file);
    bool xlsx = flen > 5 && !strcasecmp(file + flen - 5, ".xlsx");
    int rc = xlsx ? 0 : cr_csv_open(file, NULL, &im->reader, err, sizeof err);
    if (rc) {
        free(im);
        return ctl_report(2, "INVALID_ARGUMENT", NULL, "%s", err);
    }
    char why[160];
    if (!xlsx && cr_csv_check_text(im->reader, why, sizeof why) != 0) {
        cr_csv_close(im->reader);
        free(im);
        return ctl_report(1, "INVALID_ARGUMENT", "file", "%s: not a text file: %s", file, why);
    }
    if (!map) {
        rc = preview(im, file, xlsx, campaign, name);
        free_header(im);
        cr_csv_close(im->reader);
        free(im);
        return rc;
    }
    if (!name) {
        cr_csv_close(im->reader);
        free(im);
        return ctl_usage("list import needs --name LIST");
    }
    /* Read the header first, to turn "Col=field" pairs into one entry per column. */
    struct importer probe = {.propose = true};
    struct cr_csv_reader *hr = NULL;
    if (xlsx) {
        int hrc = xlsx_read(file, on_row, &probe, err, sizeof err);
        if (hrc < 0) {
            free_header(&probe);
            free(im);
            return ctl_report(1, "INVALID_ARGUMENT", NULL, "%s", err);
        }
    } else if (cr_csv_open(file, NULL, &hr, err, sizeof err) == 0) {
        int hrc = cr_csv_read(hr, on_row, &probe, err, sizeof err);
        (void)hrc; /* stops after the first row on purpose; a later error is the import's */
        cr_csv_close(hr);
    }
    if (!probe.ncols) {
        cr_csv_close(im->reader);
        free(im);
        return ctl_report(1, "INVALID_ARGUMENT", "file", "%s: the file is empty", file);
    }
    char **mapping = calloc(probe.ncols, sizeof *mapping);
    for (size_t k = 0; k < probe.ncols; k++)
        mapping[k] = "";
    char *mcopy = strdup(map), *save = NULL;
    rc = 0;
    for (char *pair = strtok_r(mcopy, ",", &save); pair && !rc; pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq) {
            rc = ctl_usage("--map takes 'FileColumn=field' pairs, not '%s'", pair);
            break;
        }
        *eq = '\0';
        size_t k = 0;
        while (k < probe.ncols && strcasecmp(probe.header[k], pair))
            k++;
        if (k == probe.ncols)
            rc = ctl_report(1, "INVALID_ARGUMENT", "mapping",
                            "--map names '%s', which is not a column of %s", pair, file);
        else
            mapping[k] = eq + 1;
    }
    /* --consent-column COL is COL=consent in the mapping. */
    if (!rc && consent_column) {
        size_t k = 0;
        while (k < probe.ncols && strcasecmp(probe.header[k], consent_column))
            k++;
        if (k == probe.ncols)
            rc = ctl_report(1, "INVALID_ARGUMENT", "consent_column",
                            "--consent-column names '%s', which is not a column of %s",
                            consent_column, file);
        else if (mapping[k][0] && strcmp(mapping[k], "consent"))
            rc = ctl_report(1, "INVALID_ARGUMENT", "consent_column",
                            "--consent-column '%s': --map already maps it to '%s'", consent_column,
                            mapping[k]);
        else
            mapping[k] = "consent";
        ib.consent_column = (char *)consent_column;
    }
    ib.campaign = (char *)campaign;
    ib.list = (char *)name;
    ib.mapping = mapping;
    ib.n_mapping = probe.ncols;
    ib.headers = probe.header;
    ib.n_headers = probe.ncols;
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_IMPORT_BEGIN;
        env.import_begin = &ib;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK);
        if (!rc)
            ctl_drop_reply();
    }
    if (!rc) {
        im->started = now_s();
        im->progress = (isatty(STDERR_FILENO) || getenv("CARILLON_PROGRESS")) && !ctl_json();
        struct stat st;
        if (!xlsx && stat(file, &st) == 0)
            im->file_size = (long long)st.st_size;
        int r = xlsx ? xlsx_read(file, on_row, im, err, sizeof err)
                     : cr_csv_read(im->reader, on_row, im, err, sizeof err);
        if (r == 2 || (r == 0 && (r = flush_chunk(im)) != 0)) {
            /* the server's refusal (1) or the connection failure (3), already reported */
            rc = r == 2 ? (im->rc ? im->rc : 1) : r;
        } else if (r) {
            free_chunk(im);
            rc = ctl_report(1, "INVALID_ARGUMENT", NULL,
                            "%s: %s (nothing was imported: the connection is closed, which "
                            "rolls the import back)",
                            file, err);
        }
        if (im->progress)
            fprintf(stderr, "\n");
    }
    while (!rc && ctl_in_flight() > 0)
        if ((rc = ctl_collect(CARILLON__V1__ENVELOPE__BODY_OK)) == 0)
            ctl_drop_reply();
    if (!rc) {
        /* The server first stores what is still queued, then merges: give it time. */
        ctl_set_timeout_ms(30 * 60 * 1000);
        Carillon__V1__ImportEnd ie = CARILLON__V1__IMPORT_END__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_IMPORT_END;
        env.import_end = &ie;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_IMPORT_REPORT);
    }
    if (!rc) {
        rc = print_report(ctl_reply()->import_report, now_s() - im->started, report);
        ctl_drop_reply();
    }
    free_header(&probe);
    free(mapping);
    free(mcopy);
    free_header(im);
    cr_csv_close(im->reader);
    free(im);
    return rc;
}
