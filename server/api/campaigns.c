/* Campaign configuration requests: apply (create or replace a whole campaign), get, list,
 * state changes with their rules, delete and duplicate. Validation happens here, before any
 * SQL, and every refusal names the field (schedule[2].end, qualifications[0].code, ...). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/request.h"
#include "api/server.h"
#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "carillon/strbuf.h"
#include "engine/compliance.h"
#include "engine/pacing.h"
#include "store/campaign_store.h"

#define TEXT_MAX 4096
#define LIST_MAX 1000

/* A campaign request's working state; owns req (and through it the envelope). */
struct creq {
    struct request *req;
    struct client *c;            /* req's */
    uint64_t rid;                /* req's */
    Carillon__V1__Envelope *env; /* req's */
    char name[256];
    char target_state[32];
    bool created;
};

/* "draft", "running"... for a CampaignState. */
static const char *state_word(int state, char *buf, size_t len)
{
    return cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, state, buf, len);
}

/* The campaign the route checked the rights on. NULL when out of memory (answered). */
static struct creq *creq_new(struct request *req)
{
    struct creq *r = calloc(1, sizeof *r);
    if (!r) {
        request_fail(req, CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "out of memory");
        return NULL;
    }
    r->req = req;
    r->c = req->c;
    r->rid = req->id;
    r->env = req->env;
    snprintf(r->name, sizeof r->name, "%s", req->campaign);
    return r;
}

static void creq_free(struct creq *r)
{
    request_free(r->req);
    free(r);
}

static void db_error(struct creq *r, int err)
{
    if (err == -ENOENT)
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_NOT_FOUND, "name",
                     "no campaign named '%s'", r->name);
    else if (err == -EEXIST)
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_ALREADY_EXISTS, "new_name",
                     "a campaign with that name already exists");
    else
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_UNAVAILABLE, NULL,
                     "the database is unavailable, try again");
}

/* --- validation ------------------------------------------------------------------------- */

struct problem {
    char field[192];
    char message[384];
};

static bool bad(struct problem *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bad(struct problem *p, const char *field, const char *fmt, ...)
{
    snprintf(p->field, sizeof p->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return false;
}

/* UTF-8 text without control characters, at most max bytes. */
static bool text_ok(struct problem *p, const char *field, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return bad(p, field, "%s is longer than %zu bytes", field, max);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return bad(p, field, "%s holds a control character", field);
        int extra = u[i] < 0x80             ? 0
                    : (u[i] & 0xe0) == 0xc0 ? 1
                    : (u[i] & 0xf0) == 0xe0 ? 2
                    : (u[i] & 0xf8) == 0xf0 ? 3
                                            : -1;
        if (extra < 0 || i + (size_t)extra >= n + (extra ? 0 : 1))
            return bad(p, field, "%s is not valid UTF-8", field);
        for (int k = 1; k <= extra; k++)
            if ((u[i + (size_t)k] & 0xc0) != 0x80)
                return bad(p, field, "%s is not valid UTF-8", field);
        i += (size_t)extra;
    }
    return true;
}

static bool list_ok(struct problem *p, const char *field, char **items, size_t n)
{
    if (n > LIST_MAX)
        return bad(p, field, "%s has more than %d entries", field, LIST_MAX);
    char f[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!items[i][0])
            return bad(p, f, "%s is empty", f);
        if (!text_ok(p, f, items[i], 256))
            return false;
    }
    return true;
}

/* "YYYY-MM-DD" naming a real date; "" allowed when optional. */
static bool date_ok(struct problem *p, const char *field, const char *s, bool optional)
{
    if (!s[0] && optional)
        return true;
    int y, m, d;
    char extra;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || strlen(s) != 10)
        return bad(p, field, "%s must be a date YYYY-MM-DD, got '%s'", field, s);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_year != y - 1900 || back.tm_mon != m - 1 || back.tm_mday != d)
        return bad(p, field, "%s is not a real date: '%s'", field, s);
    return true;
}

/* "HH:MM" -> minutes since midnight; "24:00" allowed as an end. */
static int minutes(const char *s)
{
    int h, m;
    char extra;
    if (strlen(s) != 5 || sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || m < 0 || m > 59 || h < 0 ||
        h > 24 || (h == 24 && m != 0))
        return -1;
    return h * 60 + m;
}

static bool slot_times_ok(struct problem *p, const char *field, const char *start, const char *end,
                          int *s_out, int *e_out)
{
    char f[160];
    int s = minutes(start), e = minutes(end);
    snprintf(f, sizeof f, "%s.start", field);
    if (s < 0 || s >= 24 * 60)
        return bad(p, f, "%s must be a time HH:MM, got '%s'", f, start);
    snprintf(f, sizeof f, "%s.end", field);
    if (e < 0)
        return bad(p, f, "%s must be a time HH:MM, got '%s'", f, end);
    if (e <= s)
        return bad(p, f, "%s: the slot %s-%s is empty (end must be after start)", field, start,
                   end);
    *s_out = s;
    *e_out = e;
    return true;
}

/* The standard contact fields, by name and French label, and the placeholders scripts may use
 * besides fields. */
static const char *const standard_fields[][2] = {
    {"last_name", "Nom"},   {"first_name", "Prénom"},     {"civility", "Civilité"},
    {"company", "Société"}, {"address", "Adresse"},       {"zip", "Code postal"},
    {"city", "Ville"},      {"country", "Pays"},          {"email", "Email"},
    {"phone1", "Tél1"},     {"phone2", "Tél2"},           {"phone3", "Tél3"},
    {"phone4", "Tél4"},     {"customer_id", "N° client"},
};
static const char *const script_words[] = {"Agent", "Campagne", "Date"};

/* Is name (of len bytes) a field of campaign c: standard or declared, by name or label? */
static bool known_field(const Carillon__V1__Campaign *c, const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof standard_fields / sizeof standard_fields[0]; i++)
        for (int k = 0; k < 2; k++)
            if (strlen(standard_fields[i][k]) == len &&
                strncmp(standard_fields[i][k], name, len) == 0)
                return true;
    for (size_t i = 0; i < c->n_fields; i++)
        if ((strlen(c->fields[i]->name) == len && strncmp(c->fields[i]->name, name, len) == 0) ||
            (strlen(c->fields[i]->label) == len && strncmp(c->fields[i]->label, name, len) == 0))
            return true;
    return false;
}

/* [Field] placeholders must be closed and name a field of the campaign: [Nom], [Prénom],
 * [city], a declared field, or [Agent], [Campagne], [Date]. */
static bool placeholders_ok(const Carillon__V1__Campaign *c, struct problem *p, const char *field,
                            const char *text)
{
    const char *s = text;
    while ((s = strchr(s, '['))) {
        const char *end = strchr(s, ']');
        const char *next = strchr(s + 1, '[');
        if (!end || (next && next < end))
            return bad(p, field, "%s: a [ is not closed by ]", field);
        size_t len = (size_t)(end - s - 1);
        bool word = false;
        for (size_t i = 0; i < sizeof script_words / sizeof script_words[0]; i++)
            word =
                word || (strlen(script_words[i]) == len && !strncmp(script_words[i], s + 1, len));
        if (!word && !known_field(c, s + 1, len))
            return bad(p, field,
                       "%s: [%.*s] is not a field of this campaign (standard fields, the "
                       "campaign's fields, or [Agent], [Campagne], [Date])",
                       field, (int)len, s + 1);
        s = end + 1;
    }
    return true;
}

static bool fields_ok(const Carillon__V1__Campaign *c, struct problem *p)
{
    if (c->n_fields > 200)
        return bad(p, "fields", "a campaign declares at most 200 fields");
    for (size_t i = 0; i < c->n_fields; i++) {
        const Carillon__V1__ContactField *f = c->fields[i];
        char fp[64], fp2[96];
        snprintf(fp, sizeof fp, "fields[%zu]", i);
        snprintf(fp2, sizeof fp2, "%s.name", fp);
        bool ok = f->name[0] && strlen(f->name) <= 64 && islower((unsigned char)f->name[0]);
        for (const char *x = f->name; ok && *x; x++)
            ok = islower((unsigned char)*x) || isdigit((unsigned char)*x) || *x == '_';
        if (!ok)
            return bad(p, fp2, "%s must be 1-64 of a-z, 0-9, _ starting with a letter, got '%s'",
                       fp2, f->name);
        for (size_t k = 0; k < sizeof standard_fields / sizeof standard_fields[0]; k++)
            if (strcmp(standard_fields[k][0], f->name) == 0)
                return bad(p, fp2, "%s: '%s' is a standard field already", fp2, f->name);
        snprintf(fp2, sizeof fp2, "%s.label", fp);
        if (!f->label[0])
            return bad(p, fp2, "%s is required", fp2);
        if (!text_ok(p, fp2, f->label, 64))
            return false;
        snprintf(fp2, sizeof fp2, "%s.type", fp);
        if (!f->type)
            return bad(p, fp2, "%s is required: text, number, date, phone or email", fp2);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(c->fields[k]->name, f->name) == 0) {
                snprintf(fp2, sizeof fp2, "%s.name", fp);
                return bad(p, fp2, "%s: '%s' is declared twice", fp2, f->name);
            }
            if (strcmp(c->fields[k]->label, f->label) == 0) {
                snprintf(fp2, sizeof fp2, "%s.label", fp);
                return bad(p, fp2, "%s: '%s' is the label of fields[%zu] too", fp2, f->label, k);
            }
        }
    }
    for (size_t i = 0; i < c->n_popup_fields; i++) {
        if (!known_field(c, c->popup_fields[i], strlen(c->popup_fields[i]))) {
            char fp[64];
            snprintf(fp, sizeof fp, "popup_fields[%zu]", i);
            return bad(p, fp, "%s: '%s' is not a field of this campaign", fp, c->popup_fields[i]);
        }
    }
    return true;
}

static bool export_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

static bool script_ok(const Carillon__V1__Campaign *c, struct problem *p)
{
    if (c->n_script > 200)
        return bad(p, "script", "a script has at most 200 screens");
    int initials = 0;
    for (size_t i = 0; i < c->n_script; i++) {
        const Carillon__V1__Screen *sc = c->script[i];
        char f[64], f2[160];
        snprintf(f, sizeof f, "script[%zu]", i);
        snprintf(f2, sizeof f2, "%s.name", f);
        if (!sc->name[0])
            return bad(p, f2, "%s is required", f2);
        if (!text_ok(p, f2, sc->name, 128))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->script[j]->name, sc->name) == 0)
                return bad(p, f2, "%s: screen '%s' already exists (script[%zu])", f2, sc->name, j);
        initials += sc->initial ? 1 : 0;
        if (sc->n_blocks > 500)
            return bad(p, f, "%s has more than 500 blocks", f);
        for (size_t k = 0; k < sc->n_blocks; k++) {
            const Carillon__V1__Block *b = sc->blocks[k];
            char bf[96];
            snprintf(bf, sizeof bf, "%s.blocks[%zu]", f, k);
            bool question = b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_INPUT ||
                            b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT ||
                            b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_PREDEFINED;
            snprintf(f2, sizeof f2, "%s.kind", bf);
            if (b->kind == 0)
                return bad(p, f2,
                           "%s is required: text, input, select, predefined or "
                           "quick_qualification",
                           f2);
            snprintf(f2, sizeof f2, "%s.text", bf);
            if (b->kind != CARILLON__V1__BLOCK_KIND__BLOCK_KIND_QUICK_QUALIFICATION && !b->text[0])
                return bad(p, f2, "%s is required", f2);
            if (!text_ok(p, f2, b->text, 8192) || !placeholders_ok(c, p, f2, b->text))
                return false;
            snprintf(f2, sizeof f2, "%s.export_name", bf);
            if (question && !export_name_ok(b->export_name))
                return bad(p, f2,
                           "%s must be 1-64 letters, digits or _, starting with a letter, "
                           "got '%s'",
                           f2, b->export_name);
            if (!question && b->export_name[0])
                return bad(p, f2, "%s: only questions have an export name", f2);
            if (question) {
                /* Unique across the whole script. */
                for (size_t i2 = 0; i2 <= i; i2++) {
                    const Carillon__V1__Screen *o = c->script[i2];
                    for (size_t k2 = 0; k2 < (i2 == i ? k : o->n_blocks); k2++)
                        if (strcmp(o->blocks[k2]->export_name, b->export_name) == 0)
                            return bad(p, f2,
                                       "%s: '%s' is already the export name of "
                                       "script[%zu].blocks[%zu]",
                                       f2, b->export_name, i2, k2);
                }
            }
            char lf[128];
            snprintf(lf, sizeof lf, "%s.choices", bf);
            if (!list_ok(p, lf, b->choices, b->n_choices))
                return false;
            snprintf(lf, sizeof lf, "%s.matrix_rows", bf);
            if (!list_ok(p, lf, b->matrix_rows, b->n_matrix_rows))
                return false;
            snprintf(f2, sizeof f2, "%s.select_type", bf);
            if (b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT) {
                if (b->select_type == 0)
                    return bad(p, f2,
                               "%s is required: yes_no, dropdown, single, multiple or "
                               "matrix",
                               f2);
                snprintf(lf, sizeof lf, "%s.choices", bf);
                if (b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO && b->n_choices)
                    return bad(p, lf, "%s: a yes/no question takes no choices", lf);
                if (b->select_type != CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO &&
                    b->n_choices < 2)
                    return bad(p, lf, "%s: a %s question needs at least 2 choices", lf,
                               b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_MATRIX
                                   ? "matrix"
                                   : "choice");
                for (size_t x = 0; x < b->n_choices; x++)
                    for (size_t y = 0; y < x; y++)
                        if (strcmp(b->choices[x], b->choices[y]) == 0)
                            return bad(p, lf, "%s: '%s' is listed twice", lf, b->choices[x]);
                snprintf(lf, sizeof lf, "%s.matrix_rows", bf);
                if ((b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_MATRIX) !=
                    (b->n_matrix_rows > 0))
                    return bad(p, lf, "%s: matrix questions, and only they, have rows", lf);
            } else if (b->select_type || b->n_choices || b->n_matrix_rows) {
                return bad(p, f2, "%s: only select questions have a select type and choices", bf);
            }
            snprintf(f2, sizeof f2, "%s.predefined_type", bf);
            if ((b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_PREDEFINED) !=
                (b->predefined_type != 0))
                return bad(p, f2,
                           "%s: predefined questions, and only they, have a predefined "
                           "type (date, time, email, age, rating, paragraph)",
                           f2);
            snprintf(f2, sizeof f2, "%s.qualifications", bf);
            if (b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_QUICK_QUALIFICATION) {
                if (!b->n_qualifications)
                    return bad(p, f2, "%s: a quick-qualification block needs qualification codes",
                               f2);
                for (size_t x = 0; x < b->n_qualifications; x++) {
                    bool found = false;
                    for (size_t q = 0; q < c->n_qualifications; q++)
                        if (strcmp(c->qualifications[q]->code, b->qualifications[x]) == 0)
                            found = true;
                    if (!found)
                        return bad(p, f2, "%s: no qualification with code '%s' in this campaign",
                                   f2, b->qualifications[x]);
                }
            } else if (b->n_qualifications) {
                return bad(p, f2, "%s: only quick-qualification blocks link qualifications", f2);
            }
            if (!question && b->mandatory) {
                snprintf(f2, sizeof f2, "%s.mandatory", bf);
                return bad(p, f2, "%s: only questions can be mandatory", f2);
            }
        }
    }
    if (c->n_script && initials != 1)
        return bad(p, "script", "exactly one screen must be initial (found %d)", initials);
    return true;
}

static bool screen_exists(const Carillon__V1__Campaign *c, const char *name)
{
    for (size_t i = 0; i < c->n_script; i++)
        if (strcmp(c->script[i]->name, name) == 0)
            return true;
    return false;
}

/* Script navigation: a screen's next and a select question's branches name screens of this
 * script; a branch's answer is one of the question's choices (yes/no: "yes" or "no"). */
static bool navigation_ok(const Carillon__V1__Campaign *c, struct problem *p)
{
    for (size_t i = 0; i < c->n_script; i++) {
        const Carillon__V1__Screen *sc = c->script[i];
        char f[160];
        snprintf(f, sizeof f, "script[%zu].next", i);
        if (!text_ok(p, f, sc->next, 128))
            return false;
        if (sc->next[0] && !screen_exists(c, sc->next))
            return bad(p, f, "%s: no screen named '%s' in this script", f, sc->next);
        if (sc->next[0] && strcmp(sc->next, sc->name) == 0)
            return bad(p, f, "%s: screen '%s' cannot lead to itself", f, sc->name);
        for (size_t k = 0; k < sc->n_blocks; k++) {
            const Carillon__V1__Block *b = sc->blocks[k];
            if (!b->n_branches)
                continue;
            char bf[96], f2[192];
            snprintf(bf, sizeof bf, "script[%zu].blocks[%zu]", i, k);
            snprintf(f2, sizeof f2, "%s.branches", bf);
            if (b->kind != CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT)
                return bad(p, f2, "%s: only select questions have branches", f2);
            if (b->n_branches > LIST_MAX)
                return bad(p, f2, "%s has more than %d entries", f2, LIST_MAX);
            bool yes_no = b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO;
            for (size_t x = 0; x < b->n_branches; x++) {
                const Carillon__V1__Branch *br = b->branches[x];
                snprintf(f2, sizeof f2, "%s.branches[%zu].answer", bf, x);
                if (!br->answer[0])
                    return bad(p, f2, "%s is required", f2);
                if (!text_ok(p, f2, br->answer, 256))
                    return false;
                bool known =
                    yes_no && (strcmp(br->answer, "yes") == 0 || strcmp(br->answer, "no") == 0);
                for (size_t y = 0; !yes_no && y < b->n_choices; y++)
                    known = known || strcmp(b->choices[y], br->answer) == 0;
                if (!known)
                    return bad(p, f2, "%s: '%s' is not %s of question '%s'", f2, br->answer,
                               yes_no ? "an answer (yes or no)" : "one of the choices",
                               b->export_name);
                for (size_t y = 0; y < x; y++)
                    if (strcmp(b->branches[y]->answer, br->answer) == 0)
                        return bad(p, f2, "%s: answer '%s' already has a branch (branches[%zu])",
                                   f2, br->answer, y);
                snprintf(f2, sizeof f2, "%s.branches[%zu].screen", bf, x);
                if (!br->screen[0])
                    return bad(p, f2, "%s is required", f2);
                if (!text_ok(p, f2, br->screen, 128))
                    return false;
                if (!screen_exists(c, br->screen))
                    return bad(p, f2, "%s: no screen named '%s' in this script", f2, br->screen);
            }
        }
    }
    return true;
}

/* AMD_ACTION_LEAVE_MESSAGE names one of the dialers' [messages]: the name goes into every
 * PlaceCall and is a key of dialerd's INI file, so it is a plain word (letters, digits, '_',
 * '-', '.', starting with a letter or digit) of at most CAMPAIGN_AMD_MESSAGE_MAX bytes. Another
 * action takes no message: a name there would be silently unused. */
#define CAMPAIGN_AMD_MESSAGE_MAX 32 /* dialerd's own limit on [messages] names */

static bool amd_message_ok(const Carillon__V1__OutcomeRules *o, struct problem *p)
{
    const char *m = o->amd_message ? o->amd_message : "";
    const char *f = "outcomes.amd_message";
    if (o->amd_action != CARILLON__V1__AMD_ACTION__AMD_ACTION_LEAVE_MESSAGE) {
        if (m[0])
            return bad(p, f,
                       "%s is only used with outcomes.amd_action leave_message (remove it, or "
                       "set amd_action: leave_message)",
                       f);
        return true;
    }
    if (!m[0])
        return bad(p, f,
                   "%s is required with outcomes.amd_action leave_message: the name of a "
                   "message in the dialers' [messages]",
                   f);
    size_t n = strlen(m);
    if (n > CAMPAIGN_AMD_MESSAGE_MAX)
        return bad(p, f, "%s is longer than %d bytes (%zu)", f, CAMPAIGN_AMD_MESSAGE_MAX, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)m[i];
        bool ok = (ch < 0x80 && isalnum(ch)) || (i > 0 && (ch == '_' || ch == '-' || ch == '.'));
        if (!ok)
            return bad(p, f,
                       "%s is not a message name: letters, digits, '_', '-' and '.' only, "
                       "starting with a letter or digit (byte %zu, 0x%02x, is not)",
                       f, i + 1, ch);
    }
    return true;
}

/* The outcomes campaign.proto lists for AutoQualification.outcome. */
static const char *const auto_outcomes[] = {"answered",       "busy",     "no_answer",
                                            "invalid_number", "rejected", "trunk_failure",
                                            "abandoned",      "machine"};

static bool auto_qualifications_ok(const Carillon__V1__Campaign *c, struct problem *p)
{
    size_t nout = sizeof auto_outcomes / sizeof auto_outcomes[0];
    if (c->n_auto_qualifications > nout)
        return bad(p, "auto_qualifications",
                   "auto_qualifications has at most %zu entries (one per "
                   "outcome)",
                   nout);
    for (size_t i = 0; i < c->n_auto_qualifications; i++) {
        const Carillon__V1__AutoQualification *a = c->auto_qualifications[i];
        char f[64];
        snprintf(f, sizeof f, "auto_qualifications[%zu].outcome", i);
        bool known = false;
        for (size_t k = 0; k < nout; k++)
            known = known || strcmp(a->outcome, auto_outcomes[k]) == 0;
        if (!known)
            return bad(p, f,
                       "%s: '%.64s' is not an outcome (answered, busy, no_answer, "
                       "invalid_number, rejected, trunk_failure, abandoned, machine)",
                       f, a->outcome);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->auto_qualifications[k]->outcome, a->outcome) == 0)
                return bad(p, f, "%s: outcome '%s' is already listed (auto_qualifications[%zu])", f,
                           a->outcome, k);
        snprintf(f, sizeof f, "auto_qualifications[%zu].code", i);
        if (!a->code[0])
            return bad(p, f, "%s is required", f);
        const Carillon__V1__Qualification *found = NULL;
        for (size_t q = 0; !found && q < c->n_qualifications; q++)
            if (strcmp(c->qualifications[q]->code, a->code) == 0)
                found = c->qualifications[q];
        if (!found)
            return bad(p, f, "%s: no qualification with code '%.128s' in this campaign", f,
                       a->code);
        if (found->callback == CARILLON__V1__CALLBACK_MODE__CALLBACK_MODE_MANDATORY)
            return bad(p, f,
                       "%s: qualification '%s' needs a callback time, which an automatic "
                       "qualification cannot give",
                       f, a->code);
    }
    return true;
}

static bool campaign_ok(const Carillon__V1__Campaign *c, struct problem *p)
{
    if (!c)
        return bad(p, "campaign", "the request holds no campaign");
    if (!c->name[0])
        return bad(p, "name", "name is required");
    if (!text_ok(p, "name", c->name, 128))
        return false;
    if (!text_ok(p, "objective", c->objective, TEXT_MAX) ||
        !text_ok(p, "description", c->description, TEXT_MAX) ||
        !text_ok(p, "guide_url", c->guide_url, 2048) || !text_ok(p, "queue", c->queue, 256) ||
        !text_ok(p, "qualification_group", c->qualification_group, 256) ||
        !text_ok(p, "time_zone", c->time_zone, 64))
        return false;
    if (!c->time_zone[0])
        return bad(p, "time_zone", "time_zone is required (e.g. Europe/Paris)");
    if (!date_ok(p, "start_date", c->start_date, true) ||
        !date_ok(p, "end_date", c->end_date, true))
        return false;
    if (c->start_date[0] && c->end_date[0] && strcmp(c->end_date, c->start_date) < 0)
        return bad(p, "end_date", "end_date %s is before start_date %s", c->end_date,
                   c->start_date);
    if (c->year && (c->year < 2000 || c->year > 2100))
        return bad(p, "year", "year must be between 2000 and 2100, got %u", c->year);
    if (!list_ok(p, "contract_types", c->contract_types, c->n_contract_types) ||
        !list_ok(p, "brands", c->brands, c->n_brands) ||
        !list_ok(p, "agent_profiles", c->agent_profiles, c->n_agent_profiles) ||
        !list_ok(p, "popup_fields", c->popup_fields, c->n_popup_fields) ||
        !list_ok(p, "agents", c->agents, c->n_agents) ||
        !list_ok(p, "pause_reasons", c->pause_reasons, c->n_pause_reasons))
        return false;
    for (size_t i = 0; i < c->n_pause_reasons; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->pause_reasons[i], c->pause_reasons[j]) == 0) {
                char f[64];
                snprintf(f, sizeof f, "pause_reasons[%zu]", i);
                return bad(p, f, "%s: '%s' is listed twice", f, c->pause_reasons[i]);
            }
    /* state is checked against the stored one in on_facts (apply never changes it).
     * Settings: ranges whatever the mode (a stored value is used when the mode changes), and
     * the compliance profile's legal bounds (engine/compliance.h). Absent ones take their
     * defaults (store/campaign_store.h), which pass every profile. */
    const char *profile =
        c->compliance == CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_US   ? "US"
        : c->compliance == CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_UK ? "UK"
                                                                                   : NULL;
    bool us = c->compliance == CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_US;
    if (c->wrapup_max_s_set_case && c->wrapup_max_s > 3600)
        return bad(p, "wrapup_max_s", "wrapup_max_s is at most 3600 seconds (0: unlimited), got %u",
                   c->wrapup_max_s);
    static const Carillon__V1__DialingParams no_dialing = CARILLON__V1__DIALING_PARAMS__INIT;
    const Carillon__V1__DialingParams *d = c->dialing ? c->dialing : &no_dialing;
    if (d->power_ratio_set_case &&
        !(d->power_ratio >= PACING_POWER_RATIO_MIN && d->power_ratio <= PACING_POWER_RATIO_MAX))
        return bad(p, "dialing.power_ratio",
                   "dialing.power_ratio must be between %g and %g calls per ready agent, "
                   "got %g",
                   PACING_POWER_RATIO_MIN, PACING_POWER_RATIO_MAX, d->power_ratio);
    if (d->abandon_target_pct_set_case &&
        !(d->abandon_target_pct >= 0.1 && d->abandon_target_pct <= 10))
        return bad(p, "dialing.abandon_target_pct",
                   "dialing.abandon_target_pct must be between 0.1 and 10 percent, got %g",
                   d->abandon_target_pct);
    int abandon_cap = us ? COMPLIANCE_US_ABANDON_MAX_PERCENT : COMPLIANCE_UK_ABANDON_MAX_PERCENT;
    if (profile && d->abandon_target_pct_set_case && d->abandon_target_pct > abandon_cap)
        return bad(p, "dialing.abandon_target_pct",
                   "dialing.abandon_target_pct is at most %d with the %s compliance profile "
                   "(the law caps abandoned calls at %d %%), got %g",
                   abandon_cap, profile, abandon_cap, d->abandon_target_pct);
    if (d->ring_timeout_s && (d->ring_timeout_s < 5 || d->ring_timeout_s > 300))
        return bad(p, "dialing.ring_timeout_s",
                   "dialing.ring_timeout_s must be between 5 and 300 seconds, got %u",
                   d->ring_timeout_s);
    uint32_t ring = d->ring_timeout_s ? d->ring_timeout_s : CAMPAIGN_DEFAULT_RING_TIMEOUT_S;
    if (us && ring < COMPLIANCE_US_RING_MIN_S)
        return bad(p, "dialing.ring_timeout_s",
                   "dialing.ring_timeout_s must be at least %d seconds with the US compliance "
                   "profile (47 CFR 64.1200(a)(6)), got %u",
                   COMPLIANCE_US_RING_MIN_S, ring);
    if (d->abandon_after_ms_set_case && (d->abandon_after_ms < 500 || d->abandon_after_ms > 10000))
        return bad(p, "dialing.abandon_after_ms",
                   "dialing.abandon_after_ms must be between 500 and 10000 milliseconds, "
                   "got %u",
                   d->abandon_after_ms);
    if (us && d->abandon_after_ms_set_case &&
        d->abandon_after_ms > COMPLIANCE_US_MESSAGE_MAX_S * 1000)
        return bad(p, "dialing.abandon_after_ms",
                   "dialing.abandon_after_ms is at most %d with the US compliance profile "
                   "(the abandon message within 2 seconds, 47 CFR 64.1200(a)(7)), got %u",
                   COMPLIANCE_US_MESSAGE_MAX_S * 1000, d->abandon_after_ms);
    if (d->max_simultaneous_calls > 10000)
        return bad(p, "dialing.max_simultaneous_calls",
                   "dialing.max_simultaneous_calls is at most 10000, got %u",
                   d->max_simultaneous_calls);
    if (d->preview_timeout_s > 3600)
        return bad(p, "dialing.preview_timeout_s",
                   "dialing.preview_timeout_s is at most 3600 seconds");
    if (!text_ok(p, "dialing.number_for_agents", d->number_for_agents, 32) ||
        !text_ok(p, "dialing.number_for_customers", d->number_for_customers, 32))
        return false;
    const Carillon__V1__OutcomeRules *o = c->outcomes;
    if (o) {
        const Carillon__V1__OutcomeRule *rules[] = {o->busy, o->no_answer, o->trunk_failure,
                                                    o->abandoned, o->answering_machine};
        const char *names[] = {"busy", "no_answer", "trunk_failure", "abandoned",
                               "answering_machine"};
        for (int i = 0; i < 5; i++) {
            if (!rules[i])
                continue;
            char f[96];
            snprintf(f, sizeof f, "outcomes.%s.max_attempts", names[i]);
            if (rules[i]->max_attempts > 100)
                return bad(p, f, "%s is at most 100, got %u", f, rules[i]->max_attempts);
            snprintf(f, sizeof f, "outcomes.%s.retry_delay_s", names[i]);
            if (rules[i]->retry_delay_s > 30 * 86400)
                return bad(p, f, "%s is at most 30 days", f);
        }
        if (!amd_message_ok(o, p))
            return false;
    }

    /* Weekly slots: real times, not empty, no overlap on the same day. */
    int starts[LIST_MAX], ends[LIST_MAX];
    if (c->n_schedule > LIST_MAX)
        return bad(p, "schedule", "schedule has more than %d slots", LIST_MAX);
    for (size_t i = 0; i < c->n_schedule; i++) {
        const Carillon__V1__ScheduleSlot *s = c->schedule[i];
        char f[64];
        snprintf(f, sizeof f, "schedule[%zu]", i);
        if (s->day < 1 || s->day > 7) {
            char f2[80];
            snprintf(f2, sizeof f2, "%s.day", f);
            return bad(p, f2, "%s.day must be monday..sunday", f);
        }
        if (!slot_times_ok(p, f, s->start, s->end, &starts[i], &ends[i]))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (c->schedule[j]->day == s->day && starts[i] < ends[j] && starts[j] < ends[i]) {
                char w[16];
                return bad(p, f, "%s (%s %s-%s) overlaps schedule[%zu] (%s-%s)", f,
                           cr_pb_enum_word(&carillon__v1__weekday__descriptor, s->day, w, sizeof w),
                           s->start, s->end, j, c->schedule[j]->start, c->schedule[j]->end);
            }
        }
    }
    if (c->n_schedule_dates > LIST_MAX)
        return bad(p, "schedule_dates", "schedule_dates has more than %d dates", LIST_MAX);
    for (size_t i = 0; i < c->n_schedule_dates; i++) {
        const Carillon__V1__ScheduleDate *s = c->schedule_dates[i];
        char f[64], f2[80];
        snprintf(f, sizeof f, "schedule_dates[%zu]", i);
        snprintf(f2, sizeof f2, "%s.date", f);
        if (!date_ok(p, f2, s->date, false))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->schedule_dates[j]->date, s->date) == 0)
                return bad(p, f2, "%s: %s is already listed at schedule_dates[%zu]", f2, s->date,
                           j);
        snprintf(f2, sizeof f2, "%s.note", f);
        if (!text_ok(p, f2, s->note, 256))
            return false;
        int a, b;
        if (s->open && !slot_times_ok(p, f, s->start, s->end, &a, &b))
            return false;
        if (!s->open && (s->start[0] || s->end[0])) {
            snprintf(f2, sizeof f2, "%s.start", f);
            return bad(p, f2, "%s is a closed date: it takes no start or end", f);
        }
    }

    /* Qualifications. */
    if (c->n_qualifications > LIST_MAX)
        return bad(p, "qualifications", "more than %d qualifications", LIST_MAX);
    bool group_used = false;
    for (size_t i = 0; i < c->n_qualifications; i++) {
        const Carillon__V1__Qualification *q = c->qualifications[i];
        char f[64], f2[96];
        snprintf(f, sizeof f, "qualifications[%zu]", i);
        snprintf(f2, sizeof f2, "%s.code", f);
        if (!q->code[0])
            return bad(p, f2, "%s is required", f2);
        if (!text_ok(p, f2, q->code, 32))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->qualifications[j]->code, q->code) == 0)
                return bad(p, f2, "%s: code '%s' is already used by qualifications[%zu]", f2,
                           q->code, j);
        snprintf(f2, sizeof f2, "%s.name", f);
        if (!q->name[0])
            return bad(p, f2, "%s is required", f2);
        if (!text_ok(p, f2, q->name, 128))
            return false;
        snprintf(f2, sizeof f2, "%s.type", f);
        if (q->type == 0)
            return bad(p, f2, "%s is required: positive, negative or misc", f2);
        snprintf(f2, sizeof f2, "%s.description", f);
        if (!text_ok(p, f2, q->description, TEXT_MAX))
            return false;
        snprintf(f2, sizeof f2, "%s.color", f);
        if (q->color[0]) {
            bool hex = strlen(q->color) == 7 && q->color[0] == '#';
            for (int k = 1; hex && k < 7; k++)
                hex = isxdigit((unsigned char)q->color[k]);
            if (!hex)
                return bad(p, f2, "%s must look like #RRGGBB, got '%s'", f2, q->color);
        }
        snprintf(f2, sizeof f2, "%s.callback_max_days", f);
        if (q->callback_min_days < 0 || q->callback_max_days < 0 || q->callback_min_days > 365 ||
            q->callback_max_days > 365)
            return bad(p, f2, "%s: callback bounds are 0..365 days", f);
        if (q->callback_max_days && q->callback_max_days < q->callback_min_days)
            return bad(p, f2, "%s (J+%d) is before callback_min_days (J+%d)", f2,
                       q->callback_max_days, q->callback_min_days);
        snprintf(f2, sizeof f2, "%s.refusal", f);
        if (q->refusal && !q->final)
            return bad(p, f2,
                       "%s: only a final qualification records a refusal (the contact is not "
                       "called again)",
                       f2);
        snprintf(f2, sizeof f2, "%s.groups", f);
        if (!list_ok(p, f2, q->groups, q->n_groups))
            return false;
        for (size_t k = 0; k < q->n_groups; k++)
            if (strcmp(q->groups[k], c->qualification_group) == 0)
                group_used = true;
    }
    if (!fields_ok(c, p) || !script_ok(c, p) || !navigation_ok(c, p) ||
        !auto_qualifications_ok(c, p))
        return false;
    if (c->qualification_mode == CARILLON__V1__QUALIFICATION_MODE__QUALIFICATION_MODE_MANUAL) {
        if (!c->qualification_group[0])
            return bad(p, "qualification_group",
                       "manual qualification needs a qualification_group");
        if (!group_used)
            return bad(p, "qualification_group",
                       "no qualification belongs to qualification_group '%s'",
                       c->qualification_group);
    }
    return true;
}

/* A campaign narrows the server's pause reasons ([agents] pause_reasons), never adds one. */
static bool pause_reasons_ok(const Carillon__V1__Campaign *c, const char *server_reasons,
                             struct problem *p)
{
    for (size_t i = 0; i < c->n_pause_reasons; i++) {
        if (pause_reason_allowed(server_reasons, c->pause_reasons[i]))
            continue;
        char f[64];
        snprintf(f, sizeof f, "pause_reasons[%zu]", i);
        return bad(p, f,
                   "%s: '%s' is not one of the server's pause reasons ([agents] pause_reasons: "
                   "%s)",
                   f, c->pause_reasons[i], server_reasons ? server_reasons : "");
    }
    return true;
}

/* --- apply ------------------------------------------------------------------------------ */

static void send_campaign(struct creq *r, const Carillon__V1__Campaign *c, bool created)
{
    Carillon__V1__CampaignReply rep = CARILLON__V1__CAMPAIGN_REPLY__INIT;
    rep.campaign = (Carillon__V1__Campaign *)c;
    rep.created = created;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY;
    env.campaign_reply = &rep;
    request_reply(r->req, &env);
}

static void on_reread(void *arg, int err, const Carillon__V1__Campaign *c)
{
    struct creq *r = arg;
    if (err)
        db_error(r, err);
    else
        send_campaign(r, c, r->created);
    creq_free(r);
}

static void on_applied(void *arg, int err, int created)
{
    struct creq *r = arg;
    if (err) {
        db_error(r, err);
        creq_free(r);
        return;
    }
    cr_log_info(created ? "campaign_created" : "campaign_updated", "by=%s campaign=%s",
                cr_log_q(r->c->user.login), cr_log_q(r->name));
    r->created = created;
    if (store_campaign_get(r->c->srv->pg, r->name, on_reread, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

/* A question with answers keeps its wording and types, and every choice answered stays. */
static const Carillon__V1__Block *find_question(const Carillon__V1__Campaign *c, const char *name,
                                                char *where, size_t len)
{
    for (size_t i = 0; i < c->n_script; i++)
        for (size_t k = 0; k < c->script[i]->n_blocks; k++)
            if (strcmp(c->script[i]->blocks[k]->export_name, name) == 0) {
                snprintf(where, len, "script[%zu].blocks[%zu]", i, k);
                return c->script[i]->blocks[k];
            }
    return NULL;
}

static bool used_questions_ok(const Carillon__V1__Campaign *c, const PGresult *used,
                              struct problem *p)
{
    for (int row = 0; used && row < PQntuples(used); row++) {
        const char *name = PQgetvalue(used, row, 0);
        char where[64], f[128], w[32];
        const Carillon__V1__Block *b = find_question(c, name, where, sizeof where);
        if (!b)
            return bad(p, "script", "question '%s' has answers: it cannot be deleted", name);
        /* The question's matrix rows, joined as the store joins them (bounded: LIST_MAX rows
         * of TEXT_MAX bytes at most, checked before). */
        struct cr_strbuf rows;
        cr_strbuf_init(&rows, (size_t)LIST_MAX * (TEXT_MAX + 1));
        for (size_t i = 0; i < b->n_matrix_rows; i++)
            cr_strbuf_printf(&rows, "%s%s", i ? "\x1f" : "", b->matrix_rows[i]);
        if (rows.err) {
            cr_strbuf_free(&rows);
            return bad(p, where, "question '%s': too many matrix rows", name);
        }
        bool same =
            strcmp(cr_pb_enum_word(&carillon__v1__block_kind__descriptor, b->kind, w, sizeof w),
                   PQgetvalue(used, row, 1)) == 0 &&
            strcmp(b->text, PQgetvalue(used, row, 2)) == 0 &&
            strcmp(cr_pb_enum_word(&carillon__v1__select_type__descriptor, b->select_type, w,
                                   sizeof w),
                   PQgetvalue(used, row, 3)) == 0 &&
            strcmp(cr_pb_enum_word(&carillon__v1__predefined_type__descriptor, b->predefined_type,
                                   w, sizeof w),
                   PQgetvalue(used, row, 4)) == 0 &&
            strcmp(cr_strbuf_text(&rows), PQgetvalue(used, row, 5)) == 0;
        cr_strbuf_free(&rows);
        if (!same) {
            snprintf(f, sizeof f, "%s", where);
            return bad(p, f, "question '%s' has answers: it cannot be edited", name);
        }
        if (b->kind != CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT ||
            b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO)
            continue;
        /* Every choice an answer used must still be offered. */
        /* Every choice used, whole (a fixed buffer here once cut the list short). */
        char *values = strdup(PQgetvalue(used, row, 6));
        if (!values)
            return bad(p, where, "out of memory");
        char *save = NULL;
        for (char *v = strtok_r(values, "\x1f", &save); v; v = strtok_r(NULL, "\x1f", &save)) {
            bool kept = false;
            for (size_t i = 0; i < b->n_choices; i++)
                kept = kept || strcmp(b->choices[i], v) == 0;
            if (!kept) {
                snprintf(f, sizeof f, "%s.choices", where);
                bad(p, f,
                    "choice '%s' of question '%s' has answers: it cannot be edited or deleted", v,
                    name);
                free(values);
                return false;
            }
        }
        free(values);
    }
    return true;
}

static void on_facts(void *arg, int err, const struct campaign_facts *f)
{
    struct problem up;
    memset(&up, 0, sizeof up);
    struct creq *r = arg;
    const Carillon__V1__Campaign *c = r->env->campaign_apply->campaign;
    char sw[32];
    if (err) {
        db_error(r, err);
    } else if (f->unknown_logins) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT,
                     c->referent[0] && strcmp(c->referent, f->first_unknown_login) == 0 ? "referent"
                                                                                        : "agents",
                     "no user with login '%s'", f->first_unknown_login);
    } else if (!f->tz_known) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "time_zone",
                     "unknown time zone '%s' (use an IANA name such as Europe/Paris)",
                     c->time_zone);
    } else if (c->state &&
               strcmp(state_word(c->state, sw, sizeof sw), f->exists ? f->state : "draft") != 0) {
        /* A state: key is never ignored: it must be the campaign's state (a file from 'get'),
         * a transition goes through campaign state and its checks. */
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "state",
                     "the file says state: %s, but campaign '%s' %s %s: apply does not change "
                     "states; run 'carillonctl campaign state' (its checks apply) or remove the "
                     "state line",
                     sw, c->name, f->exists ? "is" : "would be created",
                     f->exists ? f->state : "draft");
    } else if (f->exists && strcmp(f->state, "running") == 0 &&
               strcmp(f->qualification_group, c->qualification_group) != 0) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                     "qualification_group",
                     "campaign '%s' is running: pause it before changing its qualification "
                     "group",
                     c->name);
    } else if (!used_questions_ok(c, f->used, &up)) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, up.field, "%s",
                     up.message);
    } else if (store_campaign_apply(r->c->srv->pg, c, r->c->user.id, on_applied, r) == 0) {
        return;
    } else {
        db_error(r, -EIO);
    }
    creq_free(r);
}

static void apply_allowed(struct creq *r)
{
    if (store_campaign_facts(r->c->srv->pg, r->env->campaign_apply->campaign, on_facts, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

void campaigns_handle_apply(struct request *req)
{
    struct problem p;
    memset(&p, 0, sizeof p);
    const Carillon__V1__Campaign *camp = req->env->campaign_apply->campaign;
    if (!campaign_ok(camp, &p) || !pause_reasons_ok(camp, req->c->srv->cfg.pause_reasons, &p))
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, p.field, "%s",
                            p.message);
    struct creq *r = creq_new(req);
    if (r)
        apply_allowed(r);
}

/* --- get, list -------------------------------------------------------------------------- */

static void on_get(void *arg, int err, const Carillon__V1__Campaign *c)
{
    struct creq *r = arg;
    if (err)
        db_error(r, err);
    else
        send_campaign(r, c, false);
    creq_free(r);
}

static void get_allowed(struct creq *r)
{
    if (store_campaign_get(r->c->srv->pg, r->name, on_get, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

void campaigns_handle_get(struct request *req)
{
    struct creq *r = creq_new(req);
    if (r)
        get_allowed(r);
}

static void on_list(void *arg, int err, const Carillon__V1__CampaignListReply *rep)
{
    struct creq *r = arg;
    if (err) {
        db_error(r, err);
    } else {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST_REPLY;
        env.campaign_list_reply = (Carillon__V1__CampaignListReply *)rep;
        request_reply(r->req, &env);
    }
    creq_free(r);
}

void campaigns_handle_list(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    struct creq *r = creq_new(req);
    int64_t viewer = c->user.role == STORE_ROLE_ADMIN ? 0 : c->user.id;
    if (r && store_campaign_list(c->srv->pg, env->campaign_list, viewer, on_list, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

/* --- state ------------------------------------------------------------------------------ */

/* Allowed moves: draft <-> ready -> running <-> paused; running/paused -> stopped -> finished;
 * stopped -> ready (restart later). */
static bool move_allowed(const char *from, const char *to)
{
    static const char *const moves[][2] = {
        {"draft", "ready"},    {"ready", "draft"},      {"ready", "running"},
        {"running", "paused"}, {"paused", "running"},   {"running", "stopped"},
        {"paused", "stopped"}, {"ready", "stopped"},    {"stopped", "finished"},
        {"stopped", "ready"},  {"running", "finished"}, {"paused", "finished"},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
        if (strcmp(moves[i][0], from) == 0 && strcmp(moves[i][1], to) == 0)
            return true;
    return false;
}

static void on_state_set(void *arg, int err, int created)
{
    (void)created;
    struct creq *r = arg;
    if (err == -ENOENT) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_ABORTED, "state",
                     "campaign '%s' changed state meanwhile; try again", r->name);
    } else if (err) {
        db_error(r, err);
    } else {
        cr_log_info("campaign_state", "by=%s campaign=%s state=%s", cr_log_q(r->c->user.login),
                    cr_log_q(r->name), r->target_state);
        request_ok(r->req);
    }
    creq_free(r);
}

static void on_readiness(void *arg, int err, const struct campaign_readiness *rd)
{
    struct creq *r = arg;
    const char *to = r->target_state;
    if (err) {
        db_error(r, err);
    } else if (strcmp(rd->state, to) == 0) {
        request_ok(r->req);
    } else if (!move_allowed(rd->state, to)) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "state",
                     "campaign '%s' cannot go from %s to %s", r->name, rd->state, to);
    } else if (strcmp(to, "running") == 0 && rd->agents == 0) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "agents",
                     "campaign '%s' cannot run: no agent is assigned", r->name);
    } else if (strcmp(to, "running") == 0 && rd->slots == 0) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "schedule",
                     "campaign '%s' cannot run: its schedule has no time slot", r->name);
    } else if (strcmp(to, "running") == 0 && rd->qualifications == 0) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "qualifications",
                     "campaign '%s' cannot run: it has no qualification", r->name);
    } else if (strcmp(to, "running") == 0 && rd->lists_to_call == 0) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "lists",
                     "campaign '%s' cannot run: no active list has contacts to call", r->name);
    } else if (store_campaign_set_state(r->c->srv->pg, r->name, rd->state, to, r->c->user.id,
                                        on_state_set, r) == 0) {
        return;
    } else {
        db_error(r, -EIO);
    }
    creq_free(r);
}

static void state_allowed(struct creq *r)
{
    if (store_campaign_readiness(r->c->srv->pg, r->name, on_readiness, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

void campaigns_handle_set_state(struct request *req)
{
    struct client *c = req->c;
    Carillon__V1__Envelope *env = req->env;
    struct creq *r = creq_new(req);
    if (!r)
        return;
    cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, env->campaign_set_state->state,
                    r->target_state, sizeof r->target_state);
    if (!r->target_state[0]) {
        char words[256];
        client_error(
            c, r->rid, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "state",
            "state must be one of: %s",
            cr_pb_enum_words(&carillon__v1__campaign_state__descriptor, words, sizeof words));
        creq_free(r);
        return;
    }
    state_allowed(r);
}

/* --- delete, duplicate ------------------------------------------------------------------ */

static void on_deleted_state(void *arg, int err, const struct campaign_readiness *rd);

static void on_deleted(void *arg, int err, int created)
{
    (void)created;
    struct creq *r = arg;
    if (err == -ENOENT) {
        /* Either it does not exist or it is running: tell which. */
        if (store_campaign_readiness(r->c->srv->pg, r->name, on_deleted_state, r) == 0)
            return;
        db_error(r, -EIO);
    } else if (err) {
        db_error(r, err);
    } else {
        cr_log_info("campaign_deleted", "by=%s campaign=%s", cr_log_q(r->c->user.login),
                    cr_log_q(r->name));
        request_ok(r->req);
    }
    creq_free(r);
}

static void on_deleted_state(void *arg, int err, const struct campaign_readiness *rd)
{
    struct creq *r = arg;
    if (err)
        db_error(r, err);
    else
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "state",
                     "campaign '%s' is %s: stop it before deleting it", r->name, rd->state);
    creq_free(r);
}

static void delete_allowed(struct creq *r)
{
    if (store_campaign_delete(r->c->srv->pg, r->name, r->c->user.id, on_deleted, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

/* Without confirm, nothing is deleted: the refusal says what would go with the campaign. */
static void on_delete_counted(void *arg, int err, const struct campaign_readiness *rd)
{
    struct creq *r = arg;
    if (err == -ENOENT)
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_NOT_FOUND, "name", "no campaign '%s'",
                     r->name);
    else if (err)
        db_error(r, err);
    else
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION, "confirm",
                     "deleting campaign '%s' also deletes its %lld list%s and %lld contact%s, "
                     "irreversibly: confirm it (--yes)",
                     r->name, rd->lists, rd->lists == 1 ? "" : "s", rd->contacts,
                     rd->contacts == 1 ? "" : "s");
    creq_free(r);
}

void campaigns_handle_delete(struct request *req)
{
    struct creq *r = creq_new(req);
    if (!r)
        return;
    if (r->env->campaign_delete->confirm) {
        delete_allowed(r);
        return;
    }
    if (store_campaign_readiness(r->c->srv->pg, r->name, on_delete_counted, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

static void on_duplicated(void *arg, int err, int created)
{
    (void)created;
    struct creq *r = arg;
    if (err) {
        db_error(r, err);
    } else {
        cr_log_info("campaign_duplicated", "by=%s campaign=%s copy=%s", cr_log_q(r->c->user.login),
                    cr_log_q(r->name), cr_log_q(r->env->campaign_duplicate->new_name));
        request_ok(r->req);
    }
    creq_free(r);
}

static void duplicate_allowed(struct creq *r)
{
    if (store_campaign_duplicate(r->c->srv->pg, r->name, r->env->campaign_duplicate->new_name,
                                 r->c->user.id, on_duplicated, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

void campaigns_handle_duplicate(struct request *req)
{
    struct problem p;
    memset(&p, 0, sizeof p);
    const char *nn = req->env->campaign_duplicate->new_name;
    if (!nn[0] || !text_ok(&p, "new_name", nn, 128))
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "new_name", "%s",
                            p.message[0] ? p.message : "new_name is required");
    struct creq *r = creq_new(req);
    if (r)
        duplicate_allowed(r);
}

/* --- rights ----------------------------------------------------------------------------- */

static void on_granted(void *arg, int err, int created)
{
    (void)created;
    struct creq *r = arg;
    const Carillon__V1__CampaignGrant *g = r->env->campaign_grant;
    if (err == -ENOENT) {
        client_error(r->c, r->rid, CARILLON__V1__CODE__CODE_NOT_FOUND, NULL,
                     "no campaign '%s' or no user '%s'", g->campaign, g->login);
    } else if (err) {
        db_error(r, err);
    } else {
        cr_log_info("campaign_grant", "by=%s campaign=%s user=%s view=%d edit=%d export=%d",
                    cr_log_q(r->c->user.login), cr_log_q(g->campaign), cr_log_q(g->login), g->view,
                    g->edit, g->export);
        request_ok(r->req);
    }
    creq_free(r);
}

static void grant_allowed(struct creq *r)
{
    const Carillon__V1__CampaignGrant *g = r->env->campaign_grant;
    if (store_campaign_grant(r->c->srv->pg, g->campaign, g->login, g->view, g->edit, g->export,
                             r->c->user.id, on_granted, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

/* Whether the caller's profiles (\x1f-joined) include profile. */
static bool has_profile(const struct client *c, const char *profile)
{
    size_t n = strlen(profile);
    for (const char *p = c->user.profiles; *p;) {
        const char *end = strchr(p, '\x1f');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, profile, n))
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Nobody grants a right they do not hold, nor to themselves (their login or one of their
 * profiles): an editor cannot make themselves, or their whole team, exporters. */
void campaigns_handle_grant(struct request *req)
{
    const Carillon__V1__CampaignGrant *g = req->env->campaign_grant;
    struct client *c = req->c;
    if (!g->login[0])
        return request_fail(req, CARILLON__V1__CODE__CODE_INVALID_ARGUMENT, "login",
                            "grant needs a login or an @profile");
    bool self =
        g->login[0] == '@' ? has_profile(c, g->login + 1) : !strcmp(g->login, c->user.login);
    if (self)
        return request_fail(req, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, "login",
                            "you cannot change your own rights%s: ask another user who holds them",
                            g->login[0] == '@' ? " (you have that profile)" : "");
    const char *missing = g->export && !request_holds(req, RIGHT_EXPORT) ? "export"
                          : g->edit && !request_holds(req, RIGHT_EDIT)   ? "edit"
                          : g->view && !request_holds(req, RIGHT_VIEW)   ? "view"
                                                                         : NULL;
    if (missing) {
        cr_log_warn("permission_denied", "peer=%s user=%s campaign=%s action=grant right=%s",
                    c->peer, cr_log_q(c->user.login), cr_log_q(g->campaign), missing);
        return request_fail(req, CARILLON__V1__CODE__CODE_PERMISSION_DENIED, missing,
                            "you cannot grant the %s right: you do not hold it on campaign '%s'",
                            missing, g->campaign);
    }
    struct creq *r = creq_new(req);
    if (r)
        grant_allowed(r);
}

static void on_rights(void *arg, int err, const Carillon__V1__CampaignRights *rights)
{
    struct creq *r = arg;
    if (err) {
        db_error(r, err);
    } else {
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_RIGHTS;
        env.campaign_rights = (Carillon__V1__CampaignRights *)rights;
        request_reply(r->req, &env);
    }
    creq_free(r);
}

static void rights_allowed(struct creq *r)
{
    if (store_campaign_rights(r->c->srv->pg, r->name, on_rights, r) != 0) {
        db_error(r, -EIO);
        creq_free(r);
    }
}

void campaigns_handle_rights(struct request *req)
{
    struct creq *r = creq_new(req);
    if (r)
        rights_allowed(r);
}
