/* carillonctl campaign report C -o FILE.zip [--include-unfinished] [--page-size N]: every page of
 * the campaign's report, one PDF per target (cairo, DejaVu Sans), zipped (libzip) (seed 003). */
#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "ctl.h"
#include "ctlutil.h"

#define REPORT_PAGE_LIMIT 200   /* targets asked for per request: the server's maximum */
#define REPORT_NAME_MAX   64    /* bytes of the last name in a PDF's file name */
#define REPORT_TEXT_MAX   65536 /* bytes of one text shown (a longer one is cut, marked "…") */
#define REPORT_PATH_MAX   4096
#define REPORT_WAIT_MS    30000 /* one page of up to 200 targets may take the server a while */

/* A4 in points, its margins, and the font. */
#define PAGE_W      595.276
#define PAGE_H      841.890
#define MARGIN      56.0
#define FOOTER_Y    (PAGE_H - 28.0)
#define FONT_FAMILY "DejaVu Sans"

/* --- text for cairo ----------------------------------------------------------------------- */

/* Copies s into out (at most len - 1 bytes, cut at a character boundary and marked "…" when
 * longer) as valid UTF-8 without control characters: cairo's toy API refuses invalid UTF-8
 * (the whole drawing would fail) and draws nothing sensible for controls. */
static void clean_text(const char *s, char *out, size_t len)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n = ctl_utf8_decode(p, &cp);
        const char *put = (const char *)p;
        size_t plen = (size_t)n;
        if (n < 0) {
            put = "?";
            plen = 1;
            n = 1;
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            put = " ";
            plen = 1;
        }
        if (o + plen + 4 > len) { /* room for "…" (3 bytes) and the NUL */
            memcpy(out + o, "\xe2\x80\xa6", 3);
            o += 3;
            break;
        }
        memcpy(out + o, put, plen);
        o += plen;
        p += n;
    }
    out[o] = '\0';
}

/* --- one PDF ------------------------------------------------------------------------------ */

/* A PDF being drawn: cairo's surface and context, where the next line goes, its page count.
 * Owned by render_target, which destroys both before it returns. */
struct pdf {
    cairo_surface_t *surface;
    cairo_t *cr;
    double y;
    int page;
    int64_t contact_id;
};

static void pdf_footer(struct pdf *p)
{
    char text[96];
    snprintf(text, sizeof text, "Contact n° %" PRId64 " — page %d", p->contact_id, p->page);
    cairo_select_font_face(p->cr, FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(p->cr, 8);
    cairo_set_source_rgb(p->cr, 0.4, 0.4, 0.4);
    cairo_move_to(p->cr, MARGIN, FOOTER_Y);
    cairo_show_text(p->cr, text);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
}

/* Room for h more points on this page, or a new page. */
static void pdf_need(struct pdf *p, double h)
{
    if (p->y + h <= FOOTER_Y - 20)
        return;
    pdf_footer(p);
    cairo_show_page(p->cr);
    p->page++;
    p->y = MARGIN;
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Draws text (clean UTF-8) from x, wrapped at the right margin: at spaces, or inside a word
 * too long for a line; pages are added as needed. */
static void pdf_wrapped(struct pdf *p, const char *text, double x, double size, bool bold)
{
    cairo_t *cr = p->cr;
    cairo_select_font_face(cr, FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    double width = PAGE_W - MARGIN - x, lh = size * 1.4;
    size_t len = strlen(text);
    char *line = malloc(len + 1);
    if (!line)
        return;
    const char *s = text;
    do {
        /* The longest prefix of s that fits: whole words when possible. The toy API does not
         * kern, so a line is as wide as the sum of its characters' advances. */
        size_t best = 0, last_space = 0, i = 0;
        double w = 0;
        while (s[i]) {
            size_t next = i + 1;
            while (s[next] && ((unsigned char)s[next] & 0xc0) == 0x80)
                next++;
            char one[8];
            if (next - i >= sizeof one) /* clean_text's UTF-8 has at most 4 bytes a character */
                next = i + 1;
            memcpy(one, s + i, next - i);
            one[next - i] = '\0';
            w += text_width(cr, one);
            if (w > width)
                break;
            if (s[i] == ' ')
                last_space = i;
            best = next;
            i = next;
        }
        size_t take = best, skip = best;
        if (s[best] && last_space > 0) { /* cut at the last space, which is dropped */
            take = last_space;
            skip = last_space + 1;
        } else if (best == 0 && s[0]) { /* not even one character fits: take one anyway */
            take = 1;
            while (s[take] && ((unsigned char)s[take] & 0xc0) == 0x80)
                take++;
            skip = take;
        }
        memcpy(line, s, take);
        line[take] = '\0';
        pdf_need(p, lh);
        p->y += lh;
        cairo_move_to(cr, x, p->y);
        cairo_show_text(cr, line);
        s += skip;
    } while (*s);
    free(line);
}

/* A text from the server: cleaned, one paragraph per line of it. */
static void pdf_text(struct pdf *p, const char *raw, double x, double size, bool bold)
{
    char *clean = malloc(REPORT_TEXT_MAX);
    if (!clean)
        return;
    /* Split at newlines first: clean_text turns them into spaces. */
    const char *s = raw;
    do {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char *part = strndup(s, n);
        if (!part)
            break;
        clean_text(part, clean, REPORT_TEXT_MAX);
        free(part);
        pdf_wrapped(p, clean, x, size, bold);
        s = nl ? nl + 1 : NULL;
    } while (s);
    free(clean);
}

static void pdf_heading(struct pdf *p, const char *title)
{
    pdf_need(p, 40);
    p->y += 10;
    pdf_text(p, title, MARGIN, 13, true);
    cairo_set_line_width(p->cr, 0.6);
    cairo_move_to(p->cr, MARGIN, p->y + 4);
    cairo_line_to(p->cr, PAGE_W - MARGIN, p->y + 4);
    cairo_stroke(p->cr);
    p->y += 6;
}

/* A time by carillonctl's rule (ctlutil.h): the viewer's zone, written after it ("2027-03-02
 * 10:30 CET"), or UTC with --utc; "" for 0. */
static const char *when(int64_t unix_ms, char *buf, size_t len)
{
    buf[0] = '\0';
    if (unix_ms <= 0)
        return buf;
    ctl_format_time(unix_ms / 1000, buf, len);
    return buf;
}

/* French words for the states and events the report shows; the raw word otherwise. */
static const char *say(const char *word)
{
    static const char *const words[][2] = {
        {"to_call", "à appeler"},
        {"to_call_back", "à rappeler"},
        {"started", "commencé"},
        {"finished", "terminé"},
        {"cancelled", "annulé"},
        {"suspended", "suspendu"},
        {"answered", "décroché"},
        {"busy", "occupé"},
        {"no_answer", "pas de réponse"},
        {"invalid_number", "numéro invalide"},
        {"rejected", "rejeté"},
        {"trunk_failure", "échec réseau"},
        {"lost", "perdu"},
        {"refused", "refusé"},
        {"abandoned", "abandonné"},
        {"expired", "expiré"},
        {"machine", "répondeur"},
        {"skipped", "passé"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(word, words[i][0]))
            return words[i][1];
    return word;
}

static const char *event_title(const char *event)
{
    static const char *const events[][2] = {
        {"call", "Appel"},
        {"started", "Entretien commencé"},
        {"answers", "Réponses enregistrées"},
        {"suspended", "Entretien suspendu"},
        {"cancelled", "Entretien annulé"},
        {"callback", "Rappel demandé"},
        {"finished", "Entretien terminé"},
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (!strcmp(event, events[i][0]))
            return events[i][1];
    return event;
}

/* One history line: "2027-03-02 10:30  Appel n° 7 : décroché, qualification OK, agent helene". */
static void history_line(const Carillon__V1__AgentHistoryEntry *e, char *out, size_t len)
{
    char at[32];
    int n = snprintf(out, len, "%s  %s", when(e->at_unix_ms, at, sizeof at), event_title(e->event));
    if (!strcmp(e->event, "call")) {
        n += snprintf(out + n, len - (size_t)n, " n° %" PRIu64 " : %s", e->attempt_id,
                      e->outcome[0] ? say(e->outcome) : "en cours");
        if (e->qualification[0] && (size_t)n < len)
            n += snprintf(out + n, len - (size_t)n, ", qualification %s", e->qualification);
    }
    if (e->agent[0] && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, ", agent %s", e->agent);
    if (e->detail[0] && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, " — %s", e->detail);
}

static const char *detail_value(const Carillon__V1__ReportTarget *t, const char *name)
{
    for (size_t i = 0; i < t->n_details; i++)
        if (!strcmp(t->details[i]->name, name))
            return t->details[i]->value;
    return "";
}

static void draw_target(struct pdf *p, const char *campaign, const Carillon__V1__ReportTarget *t)
{
    char buf[REPORT_TEXT_MAX], at[32];
    const char *first = detail_value(t, "first_name"), *last = detail_value(t, "last_name");
    snprintf(buf, sizeof buf, "%s%s%s", first, first[0] && last[0] ? " " : "", last);
    pdf_text(p, "Compte-rendu d'entretien", MARGIN, 18, true);
    pdf_text(p, campaign, MARGIN, 12, false);
    p->y += 4;
    pdf_text(p, buf[0] ? buf : "(sans nom)", MARGIN, 14, true);
    snprintf(buf, sizeof buf, "Contact n° %" PRId64 " — entretien %s%s%s", t->contact_id,
             say(t->interview_state), t->interview_at_unix_ms ? " le " : "",
             when(t->interview_at_unix_ms, at, sizeof at));
    pdf_text(p, buf, MARGIN, 10, false);
    if (t->last_qualification[0]) {
        snprintf(buf, sizeof buf, "Dernière qualification : %s", t->last_qualification);
        pdf_text(p, buf, MARGIN, 10, false);
    }

    pdf_heading(p, "Informations");
    for (size_t i = 0; i < t->n_details; i++) {
        snprintf(buf, sizeof buf, "%s : %s", t->details[i]->label, t->details[i]->value);
        pdf_text(p, buf, MARGIN, 10, false);
    }
    for (size_t i = 0; i < t->n_numbers; i++) {
        const Carillon__V1__AgentNumber *num = t->numbers[i];
        snprintf(buf, sizeof buf, "Téléphone %zu : %s (%s, %s)", i + 1, num->number, num->type,
                 num->state);
        pdf_text(p, buf, MARGIN, 10, false);
    }

    pdf_heading(p, "Questionnaire");
    if (t->n_answers == 0)
        pdf_text(p, "(aucune réponse)", MARGIN, 10, false);
    const char *prev_question = NULL;
    for (size_t i = 0; i < t->n_answers; i++) {
        const Carillon__V1__ReportAnswer *a = t->answers[i];
        /* A matrix's rows follow one another under their question, said once. */
        if (!prev_question || strcmp(prev_question, a->export_name) != 0) {
            p->y += 3;
            pdf_text(p, a->question, MARGIN, 10, true);
        }
        prev_question = a->export_name;
        size_t n = 0;
        buf[0] = '\0';
        if (a->matrix_row[0])
            n = (size_t)snprintf(buf, sizeof buf, "%s : ", a->matrix_row);
        for (size_t k = 0; k < a->n_values && n < sizeof buf; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", k ? ", " : "", a->values[k]);
        if (a->n_values == 0 && n < sizeof buf)
            snprintf(buf + n, sizeof buf - n, "(sans réponse)");
        pdf_text(p, buf, MARGIN + 14, 10, false);
    }

    pdf_heading(p, "Historique");
    if (t->n_history == 0)
        pdf_text(p, "(aucun événement)", MARGIN, 10, false);
    for (size_t i = 0; i < t->n_history; i++) {
        history_line(t->history[i], buf, sizeof buf);
        pdf_text(p, buf, MARGIN, 9, false);
    }
}

/* Writes target t's PDF to path; 0 or an exit code (reported). */
static int render_target(const char *path, const char *campaign,
                         const Carillon__V1__ReportTarget *t)
{
    struct pdf p = {.y = MARGIN, .page = 1, .contact_id = t->contact_id};
    p.surface = cairo_pdf_surface_create(path, PAGE_W, PAGE_H);
    char title[256];
    snprintf(title, sizeof title, "Compte-rendu — contact %" PRId64, t->contact_id);
    cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_CREATOR, "carillonctl");
    p.cr = cairo_create(p.surface);
    cairo_set_source_rgb(p.cr, 0, 0, 0);
    draw_target(&p, campaign, t);
    pdf_footer(&p);
    cairo_show_page(p.cr);
    cairo_status_t st = cairo_status(p.cr);
    cairo_destroy(p.cr);
    cairo_surface_finish(p.surface);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(p.surface);
    cairo_surface_destroy(p.surface);
    if (st != CAIRO_STATUS_SUCCESS)
        return ctl_report(1, "INTERNAL", NULL, "cannot draw the PDF of contact %" PRId64 ": %s",
                          t->contact_id, cairo_status_to_string(st));
    return 0;
}

/* --- file names and the archive ----------------------------------------------------------- */

/* ASCII for the Latin-1 letters (U+00C0..U+00FF), "" for those without one. */
static const char *latin1_ascii(uint32_t cp)
{
    static const char *const map[64] = {
        "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
        "D", "N", "O", "O", "O", "O", "O",  "",  "O", "U", "U", "U", "U", "Y", "",  "ss",
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
        "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "",  "y",
    };
    if (cp >= 0xc0 && cp <= 0xff)
        return map[cp - 0xc0];
    if (cp == 0x152)
        return "OE";
    if (cp == 0x153)
        return "oe";
    return "";
}

/* "<contact_id>-<last name>.pdf": the name in ASCII letters, digits, '-' and '_' only (accents
 * dropped, anything else '_'), at most REPORT_NAME_MAX bytes of it; "<contact_id>.pdf" without
 * a last name. Safe in any archive tool and file system: no '/', no "..", no controls. */
static void pdf_name(int64_t id, const char *last_name, char *out, size_t len)
{
    char name[REPORT_NAME_MAX + 1];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)last_name;
    while (*p && n < REPORT_NAME_MAX) {
        uint32_t cp;
        int k = ctl_utf8_decode(p, &cp);
        if (k < 0) {
            k = 1;
            cp = '_';
        }
        p += k;
        const char *put = "_";
        char one[2] = {(char)cp, '\0'};
        if (cp < 0x80 && ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                          (cp >= '0' && cp <= '9') || cp == '-' || cp == '_'))
            put = one;
        else if (cp >= 0x80 && latin1_ascii(cp)[0])
            put = latin1_ascii(cp);
        size_t plen = strlen(put);
        if (n + plen > REPORT_NAME_MAX)
            break;
        if (!(plen == 1 && put[0] == '_' && n > 0 && name[n - 1] == '_')) { /* one '_' for a run */
            memcpy(name + n, put, plen);
            n += plen;
        }
    }
    while (n > 0 && name[n - 1] == '_')
        n--;
    name[n] = '\0';
    if (n)
        snprintf(out, len, "%" PRId64 "-%s.pdf", id, name);
    else
        snprintf(out, len, "%" PRId64 ".pdf", id);
}

/* Where the report is built: a directory beside the target (same file system, so the finished
 * archive is renamed into place, never left half written) holding the PDFs and the archive. */
struct report_out {
    const char *path;
    char dir[REPORT_PATH_MAX];
    char zip_path[REPORT_PATH_MAX + 16];
    zip_t *za;
    char **files; /* the PDFs written in dir, to remove at the end */
    size_t nfiles, cap;
};

static int out_open(struct report_out *o)
{
    const char *slash = strrchr(o->path, '/');
    int n = slash ? snprintf(o->dir, sizeof o->dir, "%.*s/.%s.XXXXXX", (int)(slash - o->path),
                             o->path, slash + 1)
                  : snprintf(o->dir, sizeof o->dir, ".%s.XXXXXX", o->path);
    if (n < 0 || (size_t)n >= sizeof o->dir - 64)
        return ctl_usage("the output path is longer than %zu bytes", sizeof o->dir - 80);
    if (!mkdtemp(o->dir)) {
        o->dir[0] = '\0';
        return ctl_report(1, "INTERNAL", NULL, "cannot write beside %s: %s", o->path,
                          strerror(errno));
    }
    snprintf(o->zip_path, sizeof o->zip_path, "%s/report.zip", o->dir);
    int err = 0;
    o->za = zip_open(o->zip_path, ZIP_CREATE | ZIP_EXCL, &err);
    if (!o->za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        int rc = ctl_report(1, "INTERNAL", NULL, "cannot create %s: %s", o->path,
                            zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    return 0;
}

/* Removes the work directory and what is in it (after success or failure). */
static void out_cleanup(struct report_out *o)
{
    if (o->za)
        zip_discard(o->za);
    o->za = NULL;
    for (size_t i = 0; i < o->nfiles; i++) {
        unlink(o->files[i]);
        free(o->files[i]);
    }
    free(o->files);
    o->files = NULL;
    o->nfiles = 0;
    if (o->dir[0]) {
        unlink(o->zip_path);
        rmdir(o->dir);
    }
    o->dir[0] = '\0';
}

/* Draws t's PDF into the work directory and adds it to the archive (read at zip_close). */
static int out_add(struct report_out *o, const char *campaign, const Carillon__V1__ReportTarget *t)
{
    char name[128], path[REPORT_PATH_MAX + 128];
    pdf_name(t->contact_id, detail_value(t, "last_name"), name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    if (o->nfiles == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        char **f = realloc(o->files, cap * sizeof *f);
        if (!f)
            return ctl_report(1, "INTERNAL", NULL, "out of memory");
        o->files = f;
        o->cap = cap;
    }
    if (!(o->files[o->nfiles] = strdup(path)))
        return ctl_report(1, "INTERNAL", NULL, "out of memory");
    o->nfiles++;
    int rc = render_target(path, campaign, t);
    if (rc)
        return rc;
    zip_source_t *src = zip_source_file(o->za, path, 0, 0);
    if (!src || zip_file_add(o->za, name, src, ZIP_FL_ENC_UTF_8) < 0) {
        if (src)
            zip_source_free(src);
        return ctl_report(1, "INTERNAL", NULL, "cannot add %s to %s: %s", name, o->path,
                          zip_strerror(o->za));
    }
    return 0;
}

/* Writes the archive and puts it in place. */
static int out_finish(struct report_out *o)
{
    if (zip_close(o->za) != 0)
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, zip_strerror(o->za));
    o->za = NULL;
    /* libzip makes it 0600 like any temporary file: give it what a plain create would. */
    mode_t um = umask(0);
    umask(um);
    if (chmod(o->zip_path, 0666 & ~um) != 0 || rename(o->zip_path, o->path) != 0)
        return ctl_report(1, "INTERNAL", NULL, "cannot write %s: %s", o->path, strerror(errno));
    return 0;
}

/* --- the command -------------------------------------------------------------------------- */

int ctl_campaign_report(int argc, char **argv)
{
    Carillon__V1__CampaignReport q = CARILLON__V1__CAMPAIGN_REPORT__INIT;
    struct report_out o = {0};
    unsigned page = REPORT_PAGE_LIMIT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc)
            o.path = argv[++i];
        else if (!strcmp(a, "--page-size") && i + 1 < argc) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || argv[i][0] < '1' || argv[i][0] > '9' || n > REPORT_PAGE_LIMIT)
                return ctl_usage("--page-size is 1 to %d targets per request, not '%s'",
                                 REPORT_PAGE_LIMIT, argv[i]);
            page = (unsigned)n;
        } else if (!strcmp(a, "--include-unfinished"))
            q.include_unfinished = true;
        else if (a[0] != '-' && !q.campaign[0])
            q.campaign = (char *)a;
        else
            return ctl_usage("campaign report: unexpected argument '%s'", a);
    }
    if (!q.campaign[0] || !o.path || !o.path[0])
        return ctl_usage(
            "campaign report CAMPAIGN -o FILE.zip [--include-unfinished] [--page-size N]");
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    ctl_set_timeout_ms(REPORT_WAIT_MS);
    q.limit = page;
    unsigned long long pdfs = 0;
    for (;;) {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPORT;
        env.campaign_report = &q;
        if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPORT_REPLY)))
            break;
        const Carillon__V1__CampaignReportReply *r = ctl_reply()->campaign_report_reply;
        /* The archive is only started once there is something to put in it. */
        if (r->n_targets && !o.za && (rc = out_open(&o))) {
            ctl_drop_reply();
            break;
        }
        for (size_t i = 0; i < r->n_targets && !rc; i++) {
            if (r->targets[i]->contact_id <= q.after_contact_id) {
                rc = ctl_report(3, "INTERNAL", NULL,
                                "the server sent contact %" PRId64 " out of order",
                                r->targets[i]->contact_id);
                break;
            }
            if (!(rc = out_add(&o, q.campaign, r->targets[i])))
                pdfs++;
        }
        int64_t next = r->next_after;
        if (!rc && next && (next <= q.after_contact_id || r->n_targets == 0))
            rc = ctl_report(3, "INTERNAL", NULL,
                            "the server's report pages do not move on (%" PRId64 " after %" PRId64
                            ")",
                            next, q.after_contact_id);
        ctl_drop_reply();
        if (rc || !next)
            break;
        q.after_contact_id = next;
    }
    if (!rc && pdfs == 0)
        rc = ctl_report(1, "NOT_FOUND", NULL,
                        "no target of campaign '%s' has %s: nothing written to %s", q.campaign,
                        q.include_unfinished ? "answered"
                                             : "finished its interview (see --include-unfinished)",
                        o.path);
    if (!rc)
        rc = out_finish(&o);
    out_cleanup(&o);
    /* The toy font API's caches in cairo and fontconfig live for the process: free them so that
     * leak checkers see only real leaks. */
    cairo_debug_reset_static_data();
    FcFini();
    if (rc)
        return rc;
    if (ctl_json()) {
        printf("{\"ok\":true,\"pdfs\":%llu,\"file\":", pdfs);
        ctl_json_string(stdout, o.path);
        printf("}\n");
    } else {
        printf("%llu PDF%s written to %s\n", pdfs, pdfs == 1 ? "" : "s", o.path);
    }
    return 0;
}
