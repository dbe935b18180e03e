/* carillonctl list import: reads a CSV contact file (encoding and delimiter detected), shows
 * the header beside a proposed mapping, or streams the mapped rows to the server in chunks and
 * prints the report (imported / duplicates / rejected / blocked), rejects optionally to CSV. */
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
#include "ctl.h"
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
    bool propose;
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
        return im->propose ? 1 : 0; /* the header is all a proposal needs */
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
    /* An export's own headers (contact export): phone1..phone4 and phone1_type..phone4_type
     * map to themselves, so an export re-imports with the proposed mapping. */
    static const char *const own[] = {"phone1",      "phone2",      "phone3",      "phone4",
                                      "phone1_type", "phone2_type", "phone3_type", "phone4_type"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(own[i], header))
            return own[i];
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        if (!strcasecmp(guesses[i][0], header))
            return guesses[i][1];
    return "";
}

int ctl_list_import(int argc, char **argv)
{
    const char *file = NULL, *campaign = NULL, *name = NULL, *map = NULL, *report = NULL;
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
        else if (!strcmp(a, "--report") && v)
            report = argv[++i];
        else if (a[0] != '-' && !file)
            file = a;
        else
            return ctl_usage("list import: unexpected argument '%s'", a);
    }
    if (!file || !campaign)
        return ctl_usage("list import FILE --campaign C --name N [--map 'Col=field,...'] "
                         "[--country FR] [--dedup phone|none] [--caller-id N] [--report R.csv]");
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
    if (!map) {
        /* Step 2 of the seed's wizard: the header beside the proposed fields. */
        rc = xlsx ? xlsx_read(file, on_row, im, err, sizeof err)
                  : cr_csv_read(im->reader, on_row, im, err, sizeof err);
        if (rc < 0) {
            cr_csv_close(im->reader);
            free(im);
            return ctl_report(1, "INVALID_ARGUMENT", NULL, "%s", err);
        }
        if (xlsx)
            printf("file: %s (XLSX, first sheet)\n", file);
        else
            printf("file: %s (%s, delimiter '%s')\n", file,
                   cr_csv_encoding_name(cr_csv_encoding(im->reader)),
                   cr_csv_delimiter(im->reader) == '\t'  ? "tab"
                   : cr_csv_delimiter(im->reader) == ';' ? ";"
                                                         : ",");
        printf("%-28s %s\n", "FILE COLUMN", "PROPOSED FIELD");
        char proposal[4096] = "";
        size_t o = 0;
        for (size_t k = 0; k < im->ncols; k++) {
            const char *g = guess(im->header[k]);
            ctl_print_padded(im->header[k], 29);
            printf("%s\n", g[0] ? g : "(ignored)");
            if (g[0] && o < sizeof proposal)
                o += (size_t)snprintf(proposal + o, sizeof proposal - o, "%s%s=%s", o ? "," : "",
                                      im->header[k], g);
        }
        printf("\nimport with: carillonctl list import '%s' --campaign '%s' --name '%s' "
               "--map '%s'\n",
               file, campaign, name ? name : "LIST", proposal);
        for (size_t k = 0; k < im->ncols; k++)
            free(im->header[k]);
        free(im->header);
        cr_csv_close(im->reader);
        free(im);
        return 0;
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
            free(im);
            return ctl_report(1, "INVALID_ARGUMENT", NULL, "%s", err);
        }
    } else if (cr_csv_open(file, NULL, &hr, err, sizeof err) == 0) {
        int hrc = cr_csv_read(hr, on_row, &probe, err, sizeof err);
        (void)hrc; /* stops after the header on purpose */
        cr_csv_close(hr);
    }
    if (!probe.ncols) {
        cr_csv_close(im->reader);
        free(im);
        return ctl_report(1, "INVALID_ARGUMENT", NULL, "%s: the file is empty", file);
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
    ib.campaign = (char *)campaign;
    ib.list = (char *)name;
    ib.mapping = mapping;
    ib.n_mapping = probe.ncols;
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
        const Carillon__V1__ImportReport *r = ctl_reply()->import_report;
        double dt = now_s() - im->started;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else {
            printf("%llu rows: %llu imported, %llu duplicates, %llu rejected, %llu blocked "
                   "(%.1f s, %.0f rows/s)\n",
                   (unsigned long long)r->rows, (unsigned long long)r->imported,
                   (unsigned long long)r->duplicates, (unsigned long long)r->rejected,
                   (unsigned long long)r->blocked, dt, dt > 0 ? (double)r->rows / dt : 0.0);
            for (size_t i = 0; i < r->n_rejects && i < 10; i++)
                printf("  line %u, %s: '%s': %s\n", r->rejects[i]->line, r->rejects[i]->column,
                       r->rejects[i]->value, r->rejects[i]->reason);
            if (r->n_rejects > 10)
                printf("  ... %zu more%s\n", r->n_rejects - 10,
                       report ? " in the report file" : " (use --report FILE.csv)");
        }
        if (report) {
            FILE *f = fopen(report, "w");
            if (!f) {
                rc = ctl_report(1, "INTERNAL", NULL, "cannot write %s", report);
            } else {
                fprintf(f, "line;column;value;reason\r\n");
                for (size_t i = 0; i < r->n_rejects; i++) {
                    fprintf(f, "%u;\"%s\";\"", r->rejects[i]->line, r->rejects[i]->column);
                    for (const char *p = r->rejects[i]->value; *p; p++)
                        fprintf(f, *p == '"' ? "\"\"" : "%c", *p);
                    fprintf(f, "\";\"%s\"\r\n", r->rejects[i]->reason);
                }
                fclose(f);
            }
        }
        ctl_drop_reply();
    }
    for (size_t k = 0; k < probe.ncols; k++)
        free(probe.header[k]);
    free(probe.header);
    free(mapping);
    free(mcopy);
    for (size_t k = 0; k < im->ncols; k++)
        free(im->header[k]);
    free(im->header);
    cr_csv_close(im->reader);
    free(im);
    return rc;
}
