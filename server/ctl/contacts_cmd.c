/* carillonctl's contact commands: contact add, contact list (with the filter language), and
 * blacklist add (numbers on the command line or one per line in a file). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "ctl.h"
#include "ctlutil.h"

#define MAX_ARGS 256
/* Columns an export may name (the server's STORE_EXPORT_MAX_COLUMNS). */
#define STORE_COLUMNS_MAX 250

static int cmd_contact_add(int argc, char **argv)
{
    Carillon__V1__ContactCreate cc = CARILLON__V1__CONTACT_CREATE__INIT;
    Carillon__V1__FieldValue fv[MAX_ARGS], *fvp[MAX_ARGS];
    Carillon__V1__PhoneInput ph[MAX_ARGS], *php[MAX_ARGS];
    char *copies[MAX_ARGS];
    size_t ncopies = 0;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            cc.campaign = argv[++i];
        else if (!strcmp(a, "--list") && v)
            cc.list = argv[++i];
        else if (!strcmp(a, "--country") && v)
            cc.country = argv[++i];
        else if (!strcmp(a, "--agent") && v)
            cc.agent = argv[++i];
        else if (!strcmp(a, "--next-try") && v)
            cc.next_try = argv[++i];
        else if (!strcmp(a, "--priority") && v)
            cc.priority = atoi(argv[++i]);
        else if (!strcmp(a, "--top"))
            cc.top_priority = 1;
        else if (!strcmp(a, "--no-consent"))
            cc.no_consent = 1;
        else if (!strcmp(a, "--allow-duplicate-numbers"))
            cc.allow_duplicate_numbers = 1;
        else if (!strcmp(a, "--phone") && v && cc.n_phones < MAX_ARGS) {
            /* NUMBER or NUMBER:type */
            char *copy = strdup(argv[++i]);
            copies[ncopies++] = copy;
            char *colon = strrchr(copy, ':');
            carillon__v1__phone_input__init(&ph[cc.n_phones]);
            if (colon && !strchr(colon, ' ') && colon[1] && (colon[1] < '0' || colon[1] > '9')) {
                *colon = '\0';
                ph[cc.n_phones].type = colon + 1;
            }
            ph[cc.n_phones].number = copy;
            php[cc.n_phones] = &ph[cc.n_phones];
            cc.n_phones++;
        } else if (!strcmp(a, "--field") && v && cc.n_values < MAX_ARGS) {
            char *copy = strdup(argv[++i]);
            copies[ncopies++] = copy;
            char *eq = strchr(copy, '=');
            if (!eq) {
                rc = ctl_usage("--field takes NAME=VALUE, not '%s'", copy);
                break;
            }
            *eq = '\0';
            carillon__v1__field_value__init(&fv[cc.n_values]);
            fv[cc.n_values].name = copy;
            fv[cc.n_values].value = eq + 1;
            fvp[cc.n_values] = &fv[cc.n_values];
            cc.n_values++;
        } else {
            rc = ctl_usage("contact add: unexpected argument '%s'", a);
        }
    }
    if (!rc && (!cc.campaign[0] || !cc.n_phones))
        rc = ctl_usage("contact add --campaign C --phone NUMBER[:type] [--field name=value]... "
                       "[--list L] [--priority N] [--top] [--agent LOGIN] [--next-try "
                       "'YYYY-MM-DD HH:MM'] [--country FR] [--no-consent] "
                       "[--allow-duplicate-numbers]");
    cc.phones = php;
    cc.values = fvp;
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_CREATE;
        env.contact_create = &cc;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CONTACT_CREATED);
    }
    if (!rc) {
        const Carillon__V1__ContactCreated *r = ctl_reply()->contact_created;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else {
            printf("contact %lld created (time zone %s)\n", (long long)r->id, r->time_zone);
            for (size_t i = 0; i < r->n_addresses; i++)
                printf("  %-16s %-7s %s\n", r->addresses[i]->number, r->addresses[i]->type,
                       r->addresses[i]->state);
        }
        ctl_drop_reply();
    }
    for (size_t i = 0; i < ncopies; i++)
        free(copies[i]);
    return rc;
}

/* A page size or offset: decimal digits only, at most max. 0 or an exit code (reported). */
static int parse_count(const char *opt, const char *v, unsigned long max, uint32_t *out)
{
    char *end = NULL;
    unsigned long n = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
    if (!end || *end || n > max)
        return ctl_usage("%s takes a whole number from 0 to %lu, not '%s'", opt, max, v);
    *out = (uint32_t)n;
    return 0;
}

/* Whether v is a JSON number as written: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *v)
{
    const char *p = v + (*v == '-');
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        if (*++p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* One listing cell as JSON, by its column's type (ContactListReply.column_types). */
static void json_cell(const char *type, const char *v, const Carillon__V1__ContactNumbers *nums)
{
    if (!strcmp(type, "numbers")) {
        putchar('[');
        for (size_t i = 0; nums && i < nums->n_addresses; i++) {
            const Carillon__V1__AddressInfo *a = nums->addresses[i];
            printf("%s{\"number\":", i ? "," : "");
            ctl_json_string(stdout, a->number);
            printf(",\"type\":");
            ctl_json_string(stdout, a->type);
            printf(",\"state\":");
            ctl_json_string(stdout, a->state);
            putchar('}');
        }
        putchar(']');
    } else if ((!strcmp(type, "integer") || !strcmp(type, "number")) && v[0]) {
        /* A declared number field may hold what an import let through: then it stays text. */
        if (json_number(v))
            fputs(v, stdout);
        else
            ctl_json_string(stdout, v);
    } else if (!strcmp(type, "boolean") && v[0]) {
        fputs(!strcmp(v, "true") || !strcmp(v, "t") ? "true" : "false", stdout);
    } else if (!strcmp(type, "time") || !strcmp(type, "integer") || !strcmp(type, "number") ||
               !strcmp(type, "boolean")) {
        int64_t t;
        char buf[CTL_TIME_MAX];
        if (v[0] && !ctl_time_parse(v, &t) && !ctl_time_rfc3339(t, ctl_utc(), buf, sizeof buf))
            ctl_json_string(stdout, buf);
        else
            fputs("null", stdout);
    } else {
        ctl_json_string(stdout, v);
    }
}

/* One listing cell for people: times in the viewer's zone with the zone written. */
static const char *human_cell(const char *type, const char *v, char *buf, size_t len)
{
    int64_t t;
    if (!strcmp(type, "time") && v[0] && !ctl_time_parse(v, &t) &&
        !ctl_time_human(t, ctl_utc(), buf, len))
        return buf;
    return v;
}

static int cmd_contact_list(int argc, char **argv)
{
    Carillon__V1__ContactList cl = CARILLON__V1__CONTACT_LIST__INIT;
    char *cols[64], *colbuf = NULL;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            cl.campaign = argv[++i];
        else if (!strcmp(a, "--filter") && v)
            cl.filter = argv[++i];
        else if (!strcmp(a, "--sort") && v)
            cl.sort = argv[++i];
        else if (!strcmp(a, "--limit") && v)
            rc = parse_count("--limit", argv[++i], 1000, &cl.limit);
        else if (!strcmp(a, "--offset") && v)
            rc = parse_count("--offset", argv[++i], 2147483647UL, &cl.offset);
        else if (!strcmp(a, "--columns") && v) {
            free(colbuf);
            colbuf = strdup(argv[++i]);
            cl.n_columns = 0;
            char *save = NULL;
            for (char *t = strtok_r(colbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (cl.n_columns == 64) {
                    rc = ctl_usage("--columns: at most 64 columns");
                    break;
                }
                cols[cl.n_columns++] = t;
            }
            cl.columns = cols;
        } else {
            rc = ctl_usage("contact list: unexpected argument '%s' (contact list --campaign C "
                           "[--filter EXPR] [--columns a,b,c] [--sort col,-col] [--limit N] "
                           "[--offset N])",
                           a);
        }
    }
    if (!rc && !cl.campaign[0])
        rc = ctl_usage("contact list: --campaign is missing (contact list --campaign C [--filter "
                       "EXPR] [--columns a,b,c] [--sort col,-col] [--limit N] [--offset N])");
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST;
        env.contact_list = &cl;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CONTACT_LIST_REPLY);
    }
    free(colbuf);
    if (rc)
        return rc;
    const Carillon__V1__ContactListReply *r = ctl_reply()->contact_list_reply;
    size_t nc = r->n_columns < 64 ? r->n_columns : 64;
    const char *types[64];
    for (size_t k = 0; k < nc; k++) /* an older server sends no types: all text */
        types[k] = k < r->n_column_types ? r->column_types[k] : "text";
    if (ctl_json()) {
        printf("{\"columns\":[");
        for (size_t k = 0; k < nc; k++) {
            printf("%s{\"name\":", k ? "," : "");
            ctl_json_string(stdout, r->columns[k]);
            printf(",\"type\":");
            ctl_json_string(stdout, types[k]);
            putchar('}');
        }
        printf("],\"contacts\":[");
        for (size_t i = 0; i < r->n_rows; i++) {
            putchar(i ? ',' : '{');
            if (i)
                putchar('{');
            for (size_t k = 0; k < nc && k < r->rows[i]->n_values; k++) {
                if (k)
                    putchar(',');
                ctl_json_string(stdout, r->columns[k]);
                putchar(':');
                json_cell(types[k], r->rows[i]->values[k], i < r->n_numbers ? r->numbers[i] : NULL);
            }
            putchar('}');
        }
        printf("],\"total\":%llu,\"offset\":%u,\"limit\":%u}\n", (unsigned long long)r->total,
               r->offset, r->limit);
        ctl_drop_reply();
        return 0;
    }
    int width[64];
    char buf[CTL_TIME_MAX];
    for (size_t k = 0; k < nc; k++) {
        width[k] = ctl_display_width(r->columns[k]);
        for (size_t i = 0; i < r->n_rows; i++) {
            if (k >= r->rows[i]->n_values)
                continue;
            int w = ctl_display_width(human_cell(types[k], r->rows[i]->values[k], buf, sizeof buf));
            if (w > width[k])
                width[k] = w;
        }
    }
    for (size_t k = 0; k < nc; k++) {
        char up[64];
        size_t j = 0;
        for (; r->columns[k][j] && j < 63; j++)
            up[j] =
                (char)(r->columns[k][j] >= 'a' && r->columns[k][j] <= 'z' ? r->columns[k][j] - 32
                                                                          : r->columns[k][j]);
        up[j] = '\0';
        ctl_print_padded(up, width[k] + 2);
    }
    printf("\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        for (size_t k = 0; k < nc && k < r->rows[i]->n_values; k++)
            ctl_print_padded(human_cell(types[k], r->rows[i]->values[k], buf, sizeof buf),
                             width[k] + 2);
        printf("\n");
    }
    char total[64];
    printf("(%zu of %s)\n", r->n_rows,
           ctl_count(total, sizeof total, r->total, "contact", "contacts"));
    ctl_drop_reply();
    return 0;
}

/* --- contact columns ---------------------------------------------------------------------- */

/* What a listing can show, filter on and sort by: the server's field tables
 * (server/contacts/filter.c, server/store/contacts.c), said for people. A test lists every
 * column named here through the server, so the two cannot drift. */
static const struct {
    const char *name, *type;
    bool column, filter, sort;
    const char *meaning;
} contact_columns[] = {
    {"id", "integer", true, true, true, "the contact's number in Carillon"},
    {"list", "text", true, true, true, "the list (file) the contact belongs to"},
    {"state", "text", true, true, true,
     "waiting, running, done, failed, deleted, paused, list_stopped, list_suspended, shelved"},
    {"next_try", "time", true, true, true,
     "when the contact is next due (callbacks included); shown in your zone, set with contact "
     "add/modify --next-try in the contact's own zone"},
    {"callback", "boolean", true, true, true, "next_try is a scheduled callback"},
    {"priority", "integer", true, true, true, "higher is called first"},
    {"top_priority", "boolean", true, true, true, "called before every other contact"},
    {"agent", "text", true, true, true, "the agent the contact is reserved for (login)"},
    {"time_zone", "text", true, true, true, "the contact's own zone (IANA name)"},
    {"attempts", "integer", true, true, true, "calls made to the contact"},
    {"manual_reschedules", "integer", true, true, true, "times an agent set next_try by hand"},
    {"last_qualification", "text", true, true, true, "the code of the last call's qualification"},
    {"consent", "boolean", true, true, true, "the contact agreed to be called"},
    {"last_update", "time", true, true, true, "the contact's last change"},
    {"imported_at", "time", true, true, true, "when the contact was created or imported"},
    {"last_name", "text", true, true, true, "last name"},
    {"first_name", "text", true, true, true, "first name"},
    {"civility", "text", true, true, true, "civility (M., Mme ...)"},
    {"company", "text", true, true, true, "company"},
    {"address", "text", true, true, true, "postal address"},
    {"zip", "text", true, true, true, "postal code"},
    {"city", "text", true, true, true, "city"},
    {"country", "text", true, true, true, "country of the postal address"},
    {"email", "text", true, true, true, "e-mail address"},
    {"customer_id", "text", true, true, true, "the customer's reference"},
    {"phone", "numbers", true, true, false,
     "the contact's numbers (E.164, '(blocked)' after a blocked one); in a filter: any of them "
     "(phone = '+33612345678'); in JSON an array of {number, type, state}"},
    {"numbers", "numbers", true, false, false,
     "the contact's numbers with each one's type and state; in JSON an array of {number, type, "
     "state}"},
    {"phone_type", "text", false, true, false,
     "filter only: any of the contact's numbers has this type (mobile, home, work, other): "
     "phone_type = 'mobile'"},
    {"phone_state", "text", false, true, false,
     "filter only: any of the contact's numbers is in this state (scheduled, rescheduled, "
     "waiting, blocked, failed): phone_state = 'blocked'"},
    {"phone_types", "text", true, false, false, "each number's type, comma-separated in order"},
    {"phone_states", "text", true, false, false, "each number's state, comma-separated in order"},
};

static const char *field_type_name(int t)
{
    return t == CARILLON__V1__FIELD_TYPE__FIELD_TYPE_NUMBER ? "number"
           : t == CARILLON__V1__FIELD_TYPE__FIELD_TYPE_DATE ? "date"
                                                            : "text";
}

static void columns_row(const char *name, const char *type, bool column, bool filter, bool sort,
                        const char *meaning, bool first)
{
    if (ctl_json()) {
        printf("%s{\"name\":", first ? "" : ",");
        ctl_json_string(stdout, name);
        printf(",\"type\":");
        ctl_json_string(stdout, type);
        printf(",\"column\":%s,\"filter\":%s,\"sort\":%s,\"meaning\":", column ? "true" : "false",
               filter ? "true" : "false", sort ? "true" : "false");
        ctl_json_string(stdout, meaning);
        putchar('}');
        return;
    }
    char uses[32];
    snprintf(uses, sizeof uses, "%s%s%s", column ? "C" : "-", filter ? "F" : "-", sort ? "S" : "-");
    ctl_print_padded(name, 20);
    ctl_print_padded(type, 9);
    ctl_print_padded(uses, 6);
    printf("%s\n", meaning);
}

/* contact columns [--campaign C]: every column with its type and meaning, and the campaign's
 * declared fields (from the campaign itself). */
static int cmd_contact_columns(int argc, char **argv)
{
    const char *campaign = "";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--campaign") && i + 1 < argc)
            campaign = argv[++i];
        else
            return ctl_usage("contact columns: unexpected argument '%s' (contact columns "
                             "[--campaign C])",
                             argv[i]);
    }
    Carillon__V1__Campaign *c = NULL;
    int rc = 0;
    if (campaign[0]) {
        Carillon__V1__CampaignGet g = CARILLON__V1__CAMPAIGN_GET__INIT;
        g.name = (char *)campaign;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_GET;
        env.campaign_get = &g;
        if ((rc = ctl_connect_and_auth()) ||
            (rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY)))
            return rc;
        c = ctl_reply()->campaign_reply->campaign;
    }
    if (ctl_json())
        printf("{\"columns\":[");
    else
        printf("NAME                TYPE     USE   MEANING (USE: C column, F filter, S sort)\n");
    size_t n = sizeof contact_columns / sizeof contact_columns[0];
    for (size_t i = 0; i < n; i++)
        columns_row(contact_columns[i].name, contact_columns[i].type, contact_columns[i].column,
                    contact_columns[i].filter, contact_columns[i].sort, contact_columns[i].meaning,
                    i == 0);
    for (size_t i = 0; c && i < c->n_fields; i++) {
        char meaning[600];
        snprintf(meaning, sizeof meaning, "declared by the campaign: %s%s",
                 c->fields[i]->label[0] ? c->fields[i]->label : c->fields[i]->name,
                 c->fields[i]->type == CARILLON__V1__FIELD_TYPE__FIELD_TYPE_DATE ? " (YYYY-MM-DD)"
                                                                                 : "");
        columns_row(c->fields[i]->name, field_type_name(c->fields[i]->type), true, true, true,
                    meaning, false);
    }
    if (ctl_json()) {
        printf("]}\n");
    } else {
        printf("\nTypes: text; integer; number and date (declared fields); boolean (true/false); "
               "time (shown in your zone with the zone written, --utc for UTC; JSON RFC 3339); "
               "numbers (JSON: [{number, type, state}]).\n");
        if (!campaign[0])
            printf("The campaign's declared fields: contact columns --campaign C.\n");
    }
    if (c)
        ctl_drop_reply();
    return 0;
}

/* A CSV cell that a spreadsheet would take for a formula (= + - @, or a leading tab/CR) gets a
 * leading apostrophe: formula injection through contact data is neutralised. Not in XLSX,
 * where a string cell is never a formula. */
static bool needs_neutral(const char *v)
{
    return v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r';
}

/* An E.164 number as the database holds them (addresses.number's CHECK): a spreadsheet reads
 * it as a number, never as a formula, so a number column keeps it as it is. */
static bool is_e164(const char *v)
{
    if (v[0] != '+' || v[1] < '1' || v[1] > '9')
        return false;
    size_t n = 1;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    return !v[n] && n >= 8 && n <= 16;
}

/* A header naming a number column: phone1, phone2, ... (not phone1_type, nor "phone", which
 * lists several numbers in one cell). */
static bool is_number_column(const char *name)
{
    if (strncmp(name, "phone", 5) != 0 || name[5] < '1' || name[5] > '9')
        return false;
    const char *p = name + 6;
    while (*p >= '0' && *p <= '9')
        p++;
    return !*p;
}

/* One CSV cell (';'-separated, quoted when needed). number: the cell is in a number column,
 * where an E.164 number stays unprefixed; anything else starting like a formula there is
 * neutralised all the same. */
static void csv_cell(FILE *f, const char *v, bool first, bool number)
{
    if (!first)
        fputc(';', f);
    bool neutral = needs_neutral(v) && !(number && is_e164(v));
    bool quote = strpbrk(v, ";\"\n\r") != NULL || neutral;
    if (quote)
        fputc('"', f);
    if (neutral)
        fputc('\'', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    if (quote)
        fputc('"', f);
}

/* Where an export is written until it is complete: a temporary file beside the target, renamed
 * over it at the end, so a refused or broken export leaves no file (nor a truncated one). */
struct export_out {
    const char *path;
    char tmp[4096];
    bool xlsx;
    FILE *f;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *bold;
    unsigned long long rows;
    bool number[STORE_COLUMNS_MAX]; /* per column: a number column (is_number_column) */
};

/* Excel's limits: a sheet's rows, a cell's characters (libxlsxwriter refuses more). */
#define XLSX_MAX_ROWS 1048576ULL

static int export_open(struct export_out *o)
{
    const char *slash = strrchr(o->path, '/');
    int n = slash ? snprintf(o->tmp, sizeof o->tmp, "%.*s/.%s.XXXXXX", (int)(slash - o->path),
                             o->path, slash + 1)
                  : snprintf(o->tmp, sizeof o->tmp, ".%s.XXXXXX", o->path);
    if (n < 0 || (size_t)n >= sizeof o->tmp)
        return ctl_usage("the output path is longer than %zu bytes", sizeof o->tmp - 20);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        o->tmp[0] = '\0';
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    }
    /* mkstemp makes it 0600: give it what a plain create would (0666 less the umask). */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0) {
        close(fd);
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    }
    if (o->xlsx) {
        close(fd); /* libxlsxwriter writes the whole file at workbook_close */
        lxw_workbook_options wo = {.constant_memory = LXW_TRUE};
        o->wb = workbook_new_opt(o->tmp, &wo);
        o->ws = o->wb ? workbook_add_worksheet(o->wb, "Contacts") : NULL;
        if (o->ws) {
            o->bold = workbook_add_format(o->wb);
            format_set_bold(o->bold);
        }
    } else {
        o->f = fdopen(fd, "wb");
        if (!o->f)
            close(fd);
        else
            /* UTF-8 with a BOM, ';' between cells, CRLF: Excel (which reads a CSV without a
             * BOM in the machine's ANSI code page, mangling accents) and LibreOffice both read
             * it as UTF-8; carillonctl's importer skips the BOM. */
            fputs("\xef\xbb\xbf", o->f);
    }
    if (!o->f && !o->ws)
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s", o->path);
    return 0;
}

/* Drops the temporary file (after a failure). */
static void export_discard(struct export_out *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->wb)
        workbook_close(o->wb); /* writes the temporary file, unlinked below */
    o->wb = NULL;
    if (o->tmp[0])
        unlink(o->tmp);
    o->tmp[0] = '\0';
}

/* Writes one cell; 0 or an exit code. */
static int export_cell(struct export_out *o, lxw_row_t row, size_t k, const char *v, bool header)
{
    if (k >= STORE_COLUMNS_MAX)
        return ctl_report(3, "INTERNAL", NULL, "the server sent more than %d columns",
                          STORE_COLUMNS_MAX);
    if (header)
        o->number[k] = is_number_column(v);
    if (!o->xlsx) {
        csv_cell(o->f, v, k == 0, !header && o->number[k]);
        return 0;
    }
    if (row >= XLSX_MAX_ROWS)
        return ctl_report(1, "RESOURCE_EXHAUSTED", NULL,
                          "an XLSX sheet holds at most %llu rows: export to .csv", XLSX_MAX_ROWS);
    /* A string cell, never a formula: written as it is, with no apostrophe to strip. */
    lxw_error e = worksheet_write_string(o->ws, row, (lxw_col_t)k, v, header ? o->bold : NULL);
    if (e != LXW_NO_ERROR)
        return ctl_report(1, "RESOURCE_EXHAUSTED", NULL, "row %u, column %zu: %s (export to .csv)",
                          (unsigned)row, k + 1, lxw_strerror(e));
    return 0;
}

static int export_chunk(struct export_out *o, const Carillon__V1__ExportChunk *ch)
{
    int rc = 0;
    for (size_t k = 0; k < ch->n_columns && !rc; k++)
        rc = export_cell(o, 0, k, ch->columns[k], true);
    if (ch->n_columns && !o->xlsx)
        fputs("\r\n", o->f);
    for (size_t i = 0; i < ch->n_rows && !rc; i++) {
        o->rows++;
        for (size_t k = 0; k < ch->rows[i]->n_values && !rc; k++)
            rc = export_cell(o, (lxw_row_t)o->rows, k, ch->rows[i]->values[k], false);
        if (!o->xlsx)
            fputs("\r\n", o->f);
    }
    if (!rc && o->f && ferror(o->f))
        rc = ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    return rc;
}

/* Closes the temporary file and puts it in place. */
static int export_finish(struct export_out *o)
{
    int rc = 0;
    if (o->xlsx) {
        lxw_error e = workbook_close(o->wb);
        o->wb = NULL;
        if (e != LXW_NO_ERROR)
            rc = ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, lxw_strerror(e));
    } else {
        int e = fclose(o->f);
        o->f = NULL;
        if (e != 0)
            rc = ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    }
    if (!rc && rename(o->tmp, o->path) != 0)
        rc = ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    if (rc)
        export_discard(o);
    o->tmp[0] = '\0';
    return rc;
}

/* contact export --campaign C [--filter F] [--columns a,b] [--format csv|xlsx] -o FILE: every
 * matching contact, streamed from one query (needs the export right). */
static int cmd_contact_export(int argc, char **argv)
{
    Carillon__V1__ExportBegin eb = CARILLON__V1__EXPORT_BEGIN__INIT;
    struct export_out o = {0};
    const char *format = NULL;
    char *cols[STORE_COLUMNS_MAX], *colbuf = NULL;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            eb.campaign = argv[++i];
        else if (!strcmp(a, "--filter") && v)
            eb.filter = argv[++i];
        else if (!strcmp(a, "--format") && v)
            format = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v)
            o.path = argv[++i];
        else if (!strcmp(a, "--columns") && v) {
            free(colbuf);
            colbuf = strdup(argv[++i]);
            eb.n_columns = 0;
            char *save = NULL;
            for (char *t = colbuf ? strtok_r(colbuf, ",", &save) : NULL; t;
                 t = strtok_r(NULL, ",", &save)) {
                if (eb.n_columns == STORE_COLUMNS_MAX) {
                    rc = ctl_usage("--columns: at most %d", STORE_COLUMNS_MAX);
                    break;
                }
                cols[eb.n_columns++] = t;
            }
            eb.columns = cols;
        } else
            rc = ctl_usage("contact export: unexpected argument '%s'", a);
    }
    if (!rc && (!eb.campaign[0] || !o.path || !o.path[0]))
        rc = ctl_usage("contact export --campaign C [--filter EXPR] [--columns a,b,c] "
                       "[--format csv|xlsx] -o FILE");
    if (!rc && !format) {
        size_t n = strlen(o.path);
        format = n > 5 && !strcmp(o.path + n - 5, ".xlsx") ? "xlsx" : "csv";
    }
    if (!rc) {
        o.xlsx = !strcmp(format, "xlsx");
        if (!o.xlsx && strcmp(format, "csv"))
            rc = ctl_usage("--format is csv or xlsx, not '%s'", format);
    }
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc)
        rc = export_open(&o);
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_EXPORT_BEGIN;
        env.export_begin = &eb;
        rc = ctl_stream_begin(&env);
    }
    /* Chunks until ExportEnd; each one taken is acknowledged so the server sends on. */
    unsigned long long announced = 0;
    bool ended = false;
    while (!rc && !ended) {
        if ((rc = ctl_stream_recv()))
            break;
        const Carillon__V1__Envelope *r = ctl_reply();
        if (r->body_case == CARILLON__V1__ENVELOPE__BODY_EXPORT_END) {
            announced = r->export_end->count;
            ended = true;
        } else if (r->body_case == CARILLON__V1__ENVELOPE__BODY_EXPORT_CHUNK) {
            rc = export_chunk(&o, r->export_chunk);
            if (!rc) {
                Carillon__V1__ExportNext next = CARILLON__V1__EXPORT_NEXT__INIT;
                Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
                env.body_case = CARILLON__V1__ENVELOPE__BODY_EXPORT_NEXT;
                env.export_next = &next;
                rc = ctl_send_only(&env);
            }
        } else {
            rc = ctl_report(3, "INTERNAL", NULL, "unexpected message %d during an export",
                            (int)r->body_case);
        }
        ctl_drop_reply();
    }
    ctl_stream_end();
    free(colbuf);
    if (!rc && announced != o.rows)
        rc = ctl_report(3, "INTERNAL", NULL, "the server announced %llu rows and sent %llu",
                        announced, o.rows);
    if (!rc)
        rc = export_finish(&o);
    else
        export_discard(&o);
    if (!rc) {
        char text[600];
        char n[48];
        snprintf(text, sizeof text, "%s exported to %s",
                 ctl_count(n, sizeof n, o.rows, "contact", "contacts"), o.path);
        rc = ctl_print_ok(text);
    }
    return rc;
}

/* contact reset|reload|shelve|move|assign|delete --campaign C (--id N... | --filter F | --all)
 *   [--list L] [--agent LOGIN] [--yes] */
static int cmd_contact_update(const char *verb, int argc, char **argv)
{
    static const char *const verbs[] = {NULL,   "reset",  "reload", "shelve",
                                        "move", "assign", "delete"};
    Carillon__V1__ContactUpdate cu = CARILLON__V1__CONTACT_UPDATE__INIT;
    for (int k = 1; k <= 6; k++)
        if (!strcmp(verb, verbs[k]))
            cu.action = k;
    int64_t ids[1024];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            cu.campaign = argv[++i];
        else if (!strcmp(a, "--filter") && v)
            cu.filter = argv[++i];
        else if (!strcmp(a, "--list") && v)
            cu.list = argv[++i];
        else if (!strcmp(a, "--agent") && v)
            cu.agent = argv[++i];
        else if (!strcmp(a, "--id") && v && cu.n_ids < 1024)
            ids[cu.n_ids++] = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(a, "--all"))
            cu.all = 1;
        else if (!strcmp(a, "--yes"))
            cu.confirm = 1;
        else
            return ctl_usage("contact %s: unexpected argument '%s'", verb, a);
    }
    cu.ids = ids;
    if (!cu.campaign[0])
        return ctl_usage("contact %s --campaign C (--id N... | --filter EXPR | --all) ...", verb);
    int rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_UPDATE;
        env.contact_update = &cu;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CONTACT_UPDATE_REPLY);
    }
    if (rc)
        return rc;
    const Carillon__V1__ContactUpdateReply *r = ctl_reply()->contact_update_reply;
    if (ctl_json())
        pbjson_write(stdout, &r->base);
    else {
        char n[48];
        printf("%s: %s%s\n", verb, ctl_count(n, sizeof n, r->affected, "contact", "contacts"),
               r->skipped_running ? " (some in a live call were left alone)" : "");
    }
    if (!ctl_json() && r->skipped_running)
        printf("skipped (in a live call): %llu\n", (unsigned long long)r->skipped_running);
    ctl_drop_reply();
    return 0;
}

/* contact modify --campaign C --id N --field name=value... (fields, priority, top_priority,
 * next_try, consent, time_zone, agent) */
static int cmd_contact_modify(int argc, char **argv)
{
    Carillon__V1__ContactModify cm = CARILLON__V1__CONTACT_MODIFY__INIT;
    Carillon__V1__FieldValue fv[MAX_ARGS], *fvp[MAX_ARGS];
    char *copies[MAX_ARGS];
    size_t ncopies = 0;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v) {
            cm.campaign = argv[++i];
        } else if (!strcmp(a, "--id") && v) {
            cm.id = strtoll(argv[++i], NULL, 10);
        } else if ((!strcmp(a, "--field") || !strcmp(a, "--set")) && v && cm.n_values < MAX_ARGS) {
            char *copy = strdup(argv[++i]);
            copies[ncopies++] = copy;
            char *eq = strchr(copy, '=');
            if (!eq) {
                rc = ctl_usage("--field takes NAME=VALUE, not '%s'", copy);
                break;
            }
            *eq = '\0';
            carillon__v1__field_value__init(&fv[cm.n_values]);
            fv[cm.n_values].name = copy;
            fv[cm.n_values].value = eq + 1;
            fvp[cm.n_values] = &fv[cm.n_values];
            cm.n_values++;
        } else {
            rc = ctl_usage("contact modify: unexpected argument '%s'", a);
        }
    }
    cm.values = fvp;
    if (!rc && (!cm.campaign[0] || cm.id <= 0 || !cm.n_values))
        rc = ctl_usage("contact modify --campaign C --id N --field name=value...");
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CONTACT_MODIFY;
        env.contact_modify = &cm;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK);
        if (!rc) {
            ctl_drop_reply();
            rc = ctl_print_ok("contact modified");
        }
    }
    for (size_t i = 0; i < ncopies; i++)
        free(copies[i]);
    return rc;
}

int ctl_contact(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "modify"))
        return cmd_contact_modify(argc - 1, argv + 1);
    static const char *const verbs[] = {"reset", "reload", "shelve", "move", "assign", "delete"};
    for (size_t k = 0; argc >= 1 && k < 6; k++)
        if (!strcmp(argv[0], verbs[k]))
            return cmd_contact_update(argv[0], argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "add"))
        return cmd_contact_add(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "list"))
        return cmd_contact_list(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "columns"))
        return cmd_contact_columns(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "export"))
        return cmd_contact_export(argc - 1, argv + 1);
    return ctl_usage(
        "contact add|list|columns|export|modify|reset|reload|shelve|move|assign|delete ...");
}

/* blacklist list [--campaign C] [--number N] [--country CC] [--limit N] [--offset N] */
static int blacklist_list(int argc, char **argv)
{
    Carillon__V1__BlacklistList bl = CARILLON__V1__BLACKLIST_LIST__INIT;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            bl.campaign = argv[++i];
        else if (!strcmp(a, "--number") && v)
            bl.number = argv[++i];
        else if (!strcmp(a, "--country") && v)
            bl.country = argv[++i];
        else if (!strcmp(a, "--limit") && v)
            rc = parse_count("--limit", argv[++i], 1000, &bl.limit);
        else if (!strcmp(a, "--offset") && v)
            rc = parse_count("--offset", argv[++i], 2147483647UL, &bl.offset);
        else
            rc = ctl_usage("blacklist list: unexpected argument '%s' (blacklist list [--campaign "
                           "C] [--number N] [--country CC] [--limit N] [--offset N])",
                           a);
    }
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_BLACKLIST_LIST;
        env.blacklist_list = &bl;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_BLACKLIST_LIST_REPLY);
    }
    if (rc)
        return rc;
    const Carillon__V1__BlacklistListReply *r = ctl_reply()->blacklist_list_reply;
    char when[CTL_TIME_MAX], count[64];
    if (ctl_json()) {
        printf("{\"campaign\":");
        if (bl.campaign[0])
            ctl_json_string(stdout, bl.campaign);
        else
            printf("null");
        printf(",\"entries\":[");
        for (size_t i = 0; i < r->n_entries; i++) {
            const Carillon__V1__BlacklistEntry *e = r->entries[i];
            int64_t t;
            printf("%s{\"number\":", i ? "," : "");
            ctl_json_string(stdout, e->number);
            printf(",\"reason\":");
            ctl_json_string(stdout, e->reason);
            printf(",\"added_by\":");
            if (e->added_by[0])
                ctl_json_string(stdout, e->added_by);
            else
                printf("null");
            printf(",\"added_at\":");
            if (!ctl_time_parse(e->added_at, &t) &&
                !ctl_time_rfc3339(t, ctl_utc(), when, sizeof when))
                ctl_json_string(stdout, when);
            else
                printf("null");
            putchar('}');
        }
        printf("],\"total\":%llu,\"offset\":%u,\"limit\":%u}\n", (unsigned long long)r->total,
               r->offset, r->limit);
        ctl_drop_reply();
        return 0;
    }
    int wr = 6, wb = 8;
    for (size_t i = 0; i < r->n_entries; i++) {
        int w = ctl_display_width(r->entries[i]->reason);
        wr = w > wr ? (w > 60 ? 60 : w) : wr;
        w = ctl_display_width(r->entries[i]->added_by);
        wb = w > wb ? w : wb;
    }
    ctl_print_padded("NUMBER", 18);
    ctl_print_padded("REASON", wr + 2);
    ctl_print_padded("ADDED BY", wb + 2);
    printf("ADDED AT\n");
    for (size_t i = 0; i < r->n_entries; i++) {
        const Carillon__V1__BlacklistEntry *e = r->entries[i];
        int64_t t;
        ctl_print_padded(e->number, 18);
        ctl_print_padded(e->reason, wr + 2);
        ctl_print_padded(e->added_by[0] ? e->added_by : "-", wb + 2);
        if (ctl_time_parse(e->added_at, &t) || ctl_time_human(t, ctl_utc(), when, sizeof when))
            snprintf(when, sizeof when, "-");
        printf("%s\n", when);
    }
    printf("(%zu of %s on the %s blacklist", r->n_entries,
           ctl_count(count, sizeof count, r->total, "number", "numbers"),
           bl.campaign[0] ? "campaign's" : "global");
    if ((uint64_t)r->offset + r->n_entries < r->total)
        printf("; --offset %llu for the next page", (unsigned long long)r->offset + r->n_entries);
    printf(")\n");
    ctl_drop_reply();
    return 0;
}

int ctl_blacklist(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "list"))
        return blacklist_list(argc - 1, argv + 1);
    if (argc < 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "remove")))
        return ctl_usage("blacklist add|remove [--campaign C] [--reason R] [--file F] "
                         "[NUMBER...] | blacklist list [--campaign C] [--number N] [--limit N] "
                         "[--offset N]");
    Carillon__V1__BlacklistAdd ba = CARILLON__V1__BLACKLIST_ADD__INIT;
    ba.remove = !strcmp(argv[0], "remove");
    size_t cap = 1024;
    char **nums = calloc(cap, sizeof *nums);
    size_t n = 0, owned_from = 0;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v) {
            ba.campaign = argv[++i];
        } else if (!strcmp(a, "--reason") && v) {
            ba.reason = argv[++i];
        } else if (!strcmp(a, "--country") && v) {
            ba.country = argv[++i];
        } else if (!strcmp(a, "--file") && v) {
            /* One number per line (a Bloctel extract); blank lines and # comments skipped. */
            FILE *f = fopen(argv[++i], "r");
            if (!f) {
                rc = ctl_report(2, "INVALID_ARGUMENT", NULL, "%s: %s", argv[i], strerror(errno));
                break;
            }
            char line[256];
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n;,")] = '\0';
                if (!line[0] || line[0] == '#')
                    continue;
                if (n == cap) {
                    if (cap >= 100000) {
                        rc = ctl_usage("at most 100000 numbers per call");
                        break;
                    }
                    cap *= 2;
                    nums = realloc(nums, cap * sizeof *nums);
                }
                if (!owned_from && n == 0)
                    owned_from = 0;
                nums[n++] = strdup(line);
            }
            fclose(f);
        } else if (a[0] != '-') {
            if (n == cap) {
                cap *= 2;
                nums = realloc(nums, cap * sizeof *nums);
            }
            nums[n++] = strdup(a);
        } else {
            rc = ctl_usage("blacklist add: unexpected argument '%s'", a);
        }
    }
    if (!rc && n == 0)
        rc = ctl_usage("blacklist add: no number given");
    ba.numbers = nums;
    ba.n_numbers = n;
    if (!rc)
        rc = ctl_connect_and_auth();
    if (!rc) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_BLACKLIST_ADD;
        env.blacklist_add = &ba;
        rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_BLACKLIST_REPLY);
    }
    if (!rc) {
        const Carillon__V1__BlacklistReply *r = ctl_reply()->blacklist_reply;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else if (ba.remove) {
            char cn[64];
            printf("blacklist %s: %u removed, %s dialable again\n",
                   ba.campaign[0] ? ba.campaign : "(global)", r->removed,
                   ctl_count(cn, sizeof cn, r->addresses_unblocked, "contact number",
                             "contact numbers"));
        } else {
            char cn[64];
            printf("blacklist %s: %u added, %u already there, %u invalid, %s now blocked\n",
                   ba.campaign[0] ? ba.campaign : "(global)", r->added, r->already,
                   (unsigned)r->n_invalid,
                   ctl_count(cn, sizeof cn, r->addresses_blocked, "contact number",
                             "contact numbers"));
            for (size_t i = 0; i < r->n_invalid; i++)
                printf("  invalid: %s\n", r->invalid[i]);
        }
        ctl_drop_reply();
    }
    for (size_t i = 0; i < n; i++)
        free(nums[i]);
    free(nums);
    return rc;
}

/* list import FILE ... | list show --campaign C | list set --campaign C LIST [--state S]
 * [--caller-id N] */
int ctl_list(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "import"))
        return ctl_list_import(argc - 1, argv + 1);
    const char *campaign = "", *list = "", *state = "", *caller = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--campaign") && v)
            campaign = argv[++i];
        else if (!strcmp(a, "--state") && v)
            state = argv[++i];
        else if (!strcmp(a, "--caller-id") && v)
            caller = argv[++i];
        else if (a[0] != '-' && !list[0])
            list = a;
        else
            return ctl_usage("list: unexpected argument '%s'", a);
    }
    bool show = argc >= 1 && !strcmp(argv[0], "show");
    if ((!show && (argc < 1 || strcmp(argv[0], "set") || !list[0])) || !campaign[0])
        return ctl_usage("list import FILE ... | list show --campaign C | list set --campaign C "
                         "LIST [--state active|stopped|suspended] [--caller-id N|-]");
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    if (show) {
        Carillon__V1__ListsGet g = CARILLON__V1__LISTS_GET__INIT;
        g.campaign = (char *)campaign;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_LISTS_GET;
        env.lists_get = &g;
        if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_LISTS_REPLY)))
            return rc;
        const Carillon__V1__ListsReply *r = ctl_reply()->lists_reply;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else {
            printf("%-24s %-10s %-14s %9s %9s %9s  %s\n", "LIST", "STATE", "CALLER ID", "CONTACTS",
                   "WAITING", "DONE", "CREATED");
            for (size_t i = 0; i < r->n_lists; i++) {
                const Carillon__V1__ListInfo *l = r->lists[i];
                char when[CTL_TIME_MAX];
                int64_t t;
                if (ctl_time_parse(l->created_at, &t) == 0)
                    ctl_format_time(t, when, sizeof when);
                else
                    snprintf(when, sizeof when, "%s", l->created_at);
                ctl_print_padded(l->name, 25);
                printf("%-10s %-14s %9llu %9llu %9llu  %s\n", l->state,
                       l->caller_id[0] ? l->caller_id : "-", (unsigned long long)l->contacts,
                       (unsigned long long)l->waiting, (unsigned long long)l->done, when);
            }
        }
        ctl_drop_reply();
        return 0;
    }
    Carillon__V1__ListSet ls = CARILLON__V1__LIST_SET__INIT;
    ls.campaign = (char *)campaign;
    ls.list = (char *)list;
    ls.state = (char *)state;
    ls.caller_id = (char *)caller;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LIST_SET;
    env.list_set = &ls;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    ctl_drop_reply();
    return ctl_print_ok("list updated");
}

/* filter save NAME EXPRESSION | filter list | filter delete NAME: the user's saved filters,
 * used as --filter @NAME. */
int ctl_filter(int argc, char **argv)
{
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    Carillon__V1__FilterSave fs = CARILLON__V1__FILTER_SAVE__INIT;
    Carillon__V1__FiltersGet fg = CARILLON__V1__FILTERS_GET__INIT;
    bool list = argc == 1 && !strcmp(argv[0], "list");
    if (list) {
        env.body_case = CARILLON__V1__ENVELOPE__BODY_FILTERS_GET;
        env.filters_get = &fg;
    } else if (argc == 3 && !strcmp(argv[0], "save")) {
        fs.name = argv[1];
        fs.expression = argv[2];
    } else if (argc == 2 && !strcmp(argv[0], "delete")) {
        fs.name = argv[1];
    } else {
        return ctl_usage("filter save NAME 'EXPRESSION' | filter list | filter delete NAME");
    }
    if (!list) {
        if (!fs.expression[0] && !strcmp(argv[0], "save"))
            return ctl_usage("filter save needs an expression");
        env.body_case = CARILLON__V1__ENVELOPE__BODY_FILTER_SAVE;
        env.filter_save = &fs;
    }
    int rc = ctl_connect_and_auth();
    if (!rc)
        rc = ctl_request(&env, list ? CARILLON__V1__ENVELOPE__BODY_FILTERS_REPLY
                                    : CARILLON__V1__ENVELOPE__BODY_OK);
    if (rc)
        return rc;
    if (list) {
        const Carillon__V1__FiltersReply *r = ctl_reply()->filters_reply;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else {
            for (size_t i = 0; i < r->n_filters; i++) {
                ctl_print_padded(r->filters[i]->name, 24);
                printf(" %s\n", r->filters[i]->expression);
            }
        }
        ctl_drop_reply();
        return 0;
    }
    ctl_drop_reply();
    char done[300];
    if (fs.expression[0])
        snprintf(done, sizeof done, "filter %s saved (use it as --filter @%s)", fs.name, fs.name);
    else
        snprintf(done, sizeof done, "filter %s deleted", fs.name);
    return ctl_print_ok(done);
}
