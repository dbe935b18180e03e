/* SQL of the interview window (interview_store.h): the window's load in one batch, answers
 * checked then saved per attempt, cancel and suspend, the qualification through
 * carillon_interview_qualify (migration 015). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "carillon/v1/campaign.pb-c.h"
#include "store/attempts_store.h"
#include "store/interview_store.h"

/* --- checks -------------------------------------------------------------------------------- */

/* Characters in s (UTF-8), or -1 when s is not valid UTF-8 or holds a control character other
 * than tab and newlines (multiline: \n, \r allowed). */
static long utf8_chars(const char *s, bool multiline)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int more;
        unsigned cp;
        if (c < 0x80) {
            if ((c < 0x20 && !(c == '\t' || (multiline && (c == '\n' || c == '\r')))) || c == 0x7f)
                return -1;
            more = 0, cp = c;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        n++;
    }
    return n;
}

/* Is word (of the \x1f-separated list) one of its items? */
static bool in_list(const char *list_us, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list_us; p && *p;) {
        size_t l = strcspn(p, "\x1f");
        if (l == wl && strncmp(p, word, l) == 0)
            return true;
        p += l;
        if (*p)
            p++;
    }
    return false;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    int max = days[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d <= max;
}

static bool time_ok(const char *s)
{
    return strlen(s) == 5 && s[2] == ':' && all_digits(s, 2) && all_digits(s + 3, 2) &&
           atoi(s) <= 23 && atoi(s + 3) <= 59;
}

/* local@domain.tld: one @, no spaces, a dot in the domain, at most 254 bytes. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == ',' || *p == ';' || *p == '<' || *p == '>')
            return false;
    const char *dot = strrchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1] != '\0';
}

static bool int_in(const char *s, int min, int max)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || !all_digits(s, n))
        return false;
    int v = atoi(s);
    return v >= min && v <= max;
}

int interview_check_answer(const struct interview_question *qs, int nq,
                           const Carillon__V1__AgentAnswer *a, char *msg, size_t len)
{
    const char *name = a->export_name ? a->export_name : "";
    const struct interview_question *q = NULL;
    for (int i = 0; i < nq && !q; i++)
        if (strcmp(qs[i].export_name, name) == 0)
            q = &qs[i];
    if (!q) {
        snprintf(msg, len, "no question of this campaign has the export name '%.64s'", name);
        return -EINVAL;
    }
    /* the question's text, cut on a character boundary for the message */
    char qt[124];
    size_t ql = strlen(q->text);
    if (ql > 120) {
        ql = 120;
        while (ql && ((unsigned char)q->text[ql] & 0xc0) == 0x80)
            ql--;
    }
    snprintf(qt, sizeof qt, "%.*s%s", (int)ql, q->text, ql < strlen(q->text) ? "…" : "");
#define REFUSE(...)                                                                                \
    do {                                                                                           \
        char why_[256];                                                                            \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                                  \
        snprintf(msg, len, "question \"%s\" (%s): %s", qt, q->export_name, why_);                  \
        return -EINVAL;                                                                            \
    } while (0)
    const char *row = a->matrix_row ? a->matrix_row : "";
    bool matrix = strcmp(q->kind, "select") == 0 && strcmp(q->select_type, "matrix") == 0;
    if (!matrix && row[0])
        REFUSE("it is not a matrix: no matrix_row");
    if (a->n_values > INTERVIEW_VALUES_MAX)
        REFUSE("at most %d values", INTERVIEW_VALUES_MAX);
    for (size_t i = 0; i < a->n_values; i++)
        if (utf8_chars(a->values[i], true) < 0)
            REFUSE("a value is not valid UTF-8 or holds control characters");
    const char *v = a->n_values ? a->values[0] : "";
    if (strcmp(q->kind, "input") == 0) {
        if (a->n_values != 1)
            REFUSE("an open answer is one value, got %zu", a->n_values);
        if (utf8_chars(v, true) > INTERVIEW_INPUT_MAX)
            REFUSE("an open answer is at most %d characters", INTERVIEW_INPUT_MAX);
        return 0;
    }
    if (strcmp(q->kind, "select") == 0) {
        const char *st = q->select_type;
        if (strcmp(st, "multiple") == 0) {
            if (a->n_values < 1)
                REFUSE("choose at least one answer");
            for (size_t i = 0; i < a->n_values; i++) {
                if (!in_list(q->choices_us, a->values[i]))
                    REFUSE("'%.64s' is not one of its choices", a->values[i]);
                for (size_t k = 0; k < i; k++)
                    if (strcmp(a->values[k], a->values[i]) == 0)
                        REFUSE("'%.64s' is chosen twice", a->values[i]);
            }
            return 0;
        }
        if (a->n_values != 1)
            REFUSE("choose exactly one answer, got %zu", a->n_values);
        if (strcmp(st, "yes_no") == 0) {
            if (strcmp(v, "yes") && strcmp(v, "no"))
                REFUSE("the answer is yes or no, got '%.64s'", v);
            return 0;
        }
        if (matrix) {
            if (!row[0] || !in_list(q->rows_us, row))
                REFUSE("matrix_row '%.64s' is not one of its rows", row);
        }
        if (!in_list(q->choices_us, v))
            REFUSE("'%.64s' is not one of its choices", v);
        return 0;
    }
    if (strcmp(q->kind, "predefined") == 0) {
        const char *pt = q->predefined_type;
        if (a->n_values != 1)
            REFUSE("the answer is one value, got %zu", a->n_values);
        if (strcmp(pt, "date") == 0 && !date_ok(v))
            REFUSE("'%.64s' is not a date (YYYY-MM-DD)", v);
        if (strcmp(pt, "time") == 0 && !time_ok(v))
            REFUSE("'%.64s' is not a time (HH:MM)", v);
        if (strcmp(pt, "email") == 0 && !email_ok(v))
            REFUSE("'%.64s' is not an e-mail address", v);
        if (strcmp(pt, "age") == 0 && !int_in(v, 0, 130))
            REFUSE("'%.64s' is not an age (a whole number from 0 to 130)", v);
        if (strcmp(pt, "rating") == 0 && !int_in(v, 0, 10))
            REFUSE("'%.64s' is not a rating (a whole number from 0 to 10)", v);
        if (strcmp(pt, "paragraph") == 0 && utf8_chars(v, true) > INTERVIEW_PARAGRAPH_MAX)
            REFUSE("a paragraph is at most %d characters", INTERVIEW_PARAGRAPH_MAX);
        return 0;
    }
    REFUSE("it takes no answer");
#undef REFUSE
}

/* --- placeholders -------------------------------------------------------------------------- */

/* The standard fields by name and French label (as api/campaigns.c accepts them in scripts). */
static const char *const standard_fields[][2] = {
    {"last_name", "Nom"},   {"first_name", "Prénom"},     {"civility", "Civilité"},
    {"company", "Société"}, {"address", "Adresse"},       {"zip", "Code postal"},
    {"city", "Ville"},      {"country", "Pays"},          {"email", "Email"},
    {"phone1", "Tél1"},     {"phone2", "Tél2"},           {"phone3", "Tél3"},
    {"phone4", "Tél4"},     {"customer_id", "N° client"},
};

static bool eq_n(const char *s, const char *name, size_t len)
{
    return strlen(s) == len && strncmp(s, name, len) == 0;
}

const char *interview_placeholder(const struct interview_values *v, const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof standard_fields / sizeof standard_fields[0]; i++)
        if (eq_n(standard_fields[i][1], name, len)) {
            name = standard_fields[i][0];
            len = strlen(name);
            break;
        }
    for (int i = 0; i < v->n; i++)
        if (eq_n(v->names[i], name, len))
            return v->values[i];
    for (int i = 0; i < v->n; i++)
        if (v->labels[i][0] && eq_n(v->labels[i], name, len))
            return v->values[i];
    /* a standard phone the contact does not have */
    for (size_t i = 0; i < sizeof standard_fields / sizeof standard_fields[0]; i++)
        if (eq_n(standard_fields[i][0], name, len))
            return "";
    return NULL;
}

char *interview_substitute(const struct interview_values *v, const char *text)
{
    size_t cap = strlen(text) + 1, at = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *s = text; *s;) {
        const char *end = *s == '[' ? strchr(s + 1, ']') : NULL;
        const char *val = NULL;
        size_t take = 1;
        if (end && !memchr(s + 1, '[', (size_t)(end - s - 1))) {
            val = interview_placeholder(v, s + 1, (size_t)(end - s - 1));
            if (val)
                take = (size_t)(end - s + 1);
        }
        const char *piece = val ? val : s;
        size_t plen = val ? strlen(val) : 1;
        if (at + plen + 1 > cap) {
            size_t ncap = (at + plen + 1) * 2;
            char *n = realloc(out, ncap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
            cap = ncap;
        }
        memcpy(out + at, piece, plen);
        at += plen;
        s += take;
    }
    out[at] = '\0';
    return out;
}

/* --- a small arena for the window's message ------------------------------------------------- */

struct arena {
    void **ptrs;
    size_t n, cap;
    bool failed;
};

static void *arena_keep(struct arena *m, void *p)
{
    if (!p) {
        m->failed = true;
        return NULL;
    }
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        void **np = realloc(m->ptrs, ncap * sizeof *np);
        if (!np) {
            free(p);
            m->failed = true;
            return NULL;
        }
        m->ptrs = np;
        m->cap = ncap;
    }
    m->ptrs[m->n++] = p;
    return p;
}

static void *arena_alloc(struct arena *m, size_t size)
{
    return arena_keep(m, calloc(1, size ? size : 1));
}

static void arena_free(struct arena *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->ptrs[i]);
    free(m->ptrs);
}

/* Splits a \x1f-separated string (modified in place) into an arena array. */
static char **split_us(struct arena *m, char *s, size_t *n)
{
    *n = 0;
    if (!s || !*s)
        return NULL;
    size_t cnt = 1;
    for (char *p = s; *p; p++)
        cnt += *p == '\x1f';
    char **out = arena_alloc(m, cnt * sizeof *out);
    if (!out)
        return NULL;
    for (char *tok; (tok = strsep(&s, "\x1f")) != NULL;)
        out[(*n)++] = tok;
    return out;
}

static char *dup_in(struct arena *m, const char *s)
{
    return arena_keep(m, strdup(s ? s : ""));
}

static int enum_of(const ProtobufCEnumDescriptor *d, const char *word)
{
    int v = 0;
    return cr_pb_enum_parse(d, word, &v) == 0 ? v : 0;
}

#define STR(x)  #x
#define XSTR(x) STR(x)

/* --- the window's load --------------------------------------------------------------------- */

struct call {
    void *cb;
    void *arg;
    bool start;
    char campaign[130];
    char agent_name[513];
};

static const char *S_START =
    "WITH u AS (UPDATE contacts SET interview = 'started', interview_at = $3 WHERE id = $1 AND "
    "interview <> 'cancelled' RETURNING id, campaign_id) INSERT INTO interview_events "
    "(campaign_id, contact_id, attempt_id, at, event, agent_id) SELECT campaign_id, id, "
    "$2::bigint, $3, 'started', $4::bigint FROM u";

static const char *S_HEAD =
    "SELECT c.interview, coalesce((extract(epoch FROM c.interview_at) * 1000)::bigint, 0), "
    "to_char($2::timestamptz AT TIME ZONE c.time_zone, 'DD/MM/YYYY') FROM contacts c WHERE "
    "c.id = $1";

/* the campaign's fields first: they win over a builtin column of the same name */
static const char *S_VALUES =
    "SELECT cf.name, cf.label, coalesce(c.fields ->> cf.name, '') FROM contacts c JOIN "
    "campaign_fields cf ON cf.campaign_id = c.campaign_id WHERE c.id = $1 UNION ALL SELECT "
    "k.key, '', k.value FROM contacts c CROSS JOIN jsonb_each_text(to_jsonb(c) - 'fields') k "
    "WHERE c.id = $1 AND k.key IN ('last_name', 'first_name', 'civility', 'company', 'address', "
    "'zip', 'city', 'country', 'email', 'customer_id') UNION ALL SELECT 'phone' || a.position, "
    "'', a.number FROM addresses a WHERE a.contact_id = $1";

static const char *S_SCREENS = "SELECT position, name, initial, next FROM script_screens WHERE "
                               "campaign_id = $1 ORDER BY position";

static const char *S_BLOCKS =
    "SELECT screen_position, kind, text, coalesce(export_name, ''), mandatory, select_type, "
    "predefined_type, array_to_string(choices, E'\\x1f'), array_to_string(matrix_rows, "
    "E'\\x1f'), array_to_string(qualifications, E'\\x1f'), array_to_string(branches, E'\\x1f') "
    "FROM script_blocks WHERE campaign_id = $1 ORDER BY screen_position, position";

/* the latest answer to each question (and matrix row) of the interview in progress */
static const char *S_ANSWERS =
    "SELECT DISTINCT ON (export_name, coalesce(matrix_row, '')) export_name, "
    "coalesce(matrix_row, ''), array_to_string(\"values\", E'\\x1f') FROM answers WHERE "
    "contact_id = $1 AND answered_at > coalesce(carillon_interview_since($1), '-infinity') "
    "ORDER BY export_name, coalesce(matrix_row, ''), id DESC";

/* calls (closed attempts) and the interview's events, the most recent INTERVIEW_HISTORY_MAX,
 * oldest first; an answers event carries what was saved: name \x1e row \x1e values (\x1f),
 * answers joined by \x1d */
static const char *S_HISTORY =
    "SELECT ms, event, attempt_id, outcome, qualification, agent, detail, saved FROM (SELECT "
    "(extract(epoch FROM a.created_at) * 1000)::bigint AS ms, 'call' AS event, a.id AS "
    "attempt_id, coalesce(a.outcome, '') AS outcome, coalesce(a.qualification, '') AS "
    "qualification, coalesce(u.login, '') AS agent, a.detail AS detail, '' AS saved, "
    "a.created_at AS at, 0 AS ord, a.id AS id FROM attempts a LEFT JOIN users u ON u.id = "
    "coalesce(a.qualified_by, a.agent_id) WHERE a.contact_id = $1 AND a.closed_at IS NOT NULL "
    "UNION ALL SELECT (extract(epoch FROM e.at) * 1000)::bigint, e.event, coalesce(e.attempt_id, "
    "0), '', '', coalesce(u.login, ''), e.detail, coalesce((SELECT string_agg(x.export_name || "
    "E'\\x1e' || coalesce(x.matrix_row, '') || E'\\x1e' || array_to_string(x.\"values\", "
    "E'\\x1f'), E'\\x1d' ORDER BY x.id) FROM answers x WHERE e.event = 'answers' AND "
    "x.contact_id = e.contact_id AND x.attempt_id = e.attempt_id AND x.answered_at = e.at), ''), "
    "e.at, 1, e.id FROM interview_events e LEFT JOIN users u ON u.id = e.agent_id WHERE "
    "e.contact_id = $1 ORDER BY at DESC, ord DESC, id DESC LIMIT " XSTR(
        INTERVIEW_HISTORY_MAX) ") h ORDER BY at, ord, id";

static const char *S_NUMBERS =
    "SELECT a.number, a.type, a.state, a.number = coalesce((SELECT number FROM attempts WHERE id "
    "= $2), '') FROM addresses a WHERE a.contact_id = $1 ORDER BY a.position";

enum { R_POPUP, R_HEAD, R_VALUES, R_SCREENS, R_BLOCKS, R_ANSWERS, R_HISTORY, R_NUMBERS, R_N };

static Carillon__V1__AgentAnswer *answer_of(struct arena *m, const char *name, const char *row,
                                            const char *values_us)
{
    Carillon__V1__AgentAnswer *an = arena_alloc(m, sizeof *an);
    if (!an)
        return NULL;
    carillon__v1__agent_answer__init(an);
    an->export_name = dup_in(m, name);
    an->matrix_row = dup_in(m, row);
    char *vs = dup_in(m, values_us);
    if (!an->export_name || !an->matrix_row || !vs)
        return NULL;
    /* an empty string is one empty value (an open answer cleared), not none */
    if (!vs[0]) {
        an->values = arena_alloc(m, sizeof *an->values);
        if (!an->values)
            return NULL;
        an->values[0] = vs;
        an->n_values = 1;
        return an;
    }
    an->values = split_us(m, vs, &an->n_values);
    return an;
}

/* Builds the window from the batch's results (res[0..R_N-1] from the pop-up on). */
static int build(struct arena *m, PGresult *const *res, const struct call *c,
                 Carillon__V1__Interview *iv)
{
    carillon__v1__interview__init(iv);
    if (PQntuples(res[R_HEAD]) != 1)
        return -ENOENT;
    iv->state = PQgetvalue(res[R_HEAD], 0, 0);
    iv->state_at_unix_ms = strtoll(PQgetvalue(res[R_HEAD], 0, 1), NULL, 10);

    /* the placeholders' values: the contact's, then Agent, Campagne, Date */
    const PGresult *vr = res[R_VALUES];
    int nv = PQntuples(vr);
    const char **names = arena_alloc(m, (size_t)(nv + 3) * sizeof *names);
    const char **labels = arena_alloc(m, (size_t)(nv + 3) * sizeof *labels);
    const char **values = arena_alloc(m, (size_t)(nv + 3) * sizeof *values);
    if (!names || !labels || !values)
        return -ENOMEM;
    for (int i = 0; i < nv; i++) {
        names[i] = PQgetvalue(vr, i, 0);
        labels[i] = PQgetvalue(vr, i, 1);
        values[i] = PQgetvalue(vr, i, 2);
    }
    names[nv] = "Agent", labels[nv] = "", values[nv] = c->agent_name;
    names[nv + 1] = "Campagne", labels[nv + 1] = "", values[nv + 1] = c->campaign;
    names[nv + 2] = "Date", labels[nv + 2] = "", values[nv + 2] = PQgetvalue(res[R_HEAD], 0, 2);
    struct interview_values vals = {names, labels, values, nv + 3};

    const PGresult *sr = res[R_SCREENS];
    size_t ns = (size_t)PQntuples(sr);
    iv->script = arena_alloc(m, ns * sizeof *iv->script);
    if (ns && !iv->script)
        return -ENOMEM;
    int *positions = arena_alloc(m, ns * sizeof *positions);
    if (ns && !positions)
        return -ENOMEM;
    for (size_t i = 0; i < ns; i++) {
        Carillon__V1__Screen *sc = arena_alloc(m, sizeof *sc);
        if (!sc)
            return -ENOMEM;
        carillon__v1__screen__init(sc);
        positions[i] = atoi(PQgetvalue(sr, (int)i, 0));
        sc->name = PQgetvalue(sr, (int)i, 1);
        sc->initial = PQgetvalue(sr, (int)i, 2)[0] == 't';
        sc->next = PQgetvalue(sr, (int)i, 3);
        iv->script[i] = sc;
    }
    iv->n_script = ns;
    const PGresult *br = res[R_BLOCKS];
    int nb = PQntuples(br);
    /* two passes: count each screen's blocks, then fill */
    size_t *count = arena_alloc(m, (ns + 1) * sizeof *count);
    if (!count)
        return -ENOMEM;
    for (int pass = 0; pass < 2; pass++) {
        for (int row = 0; row < nb; row++) {
            int sp = atoi(PQgetvalue(br, row, 0));
            size_t si = ns;
            for (size_t i = 0; i < ns && si == ns; i++)
                if (positions[i] == sp)
                    si = i;
            if (si == ns)
                continue;
            Carillon__V1__Screen *sc = iv->script[si];
            if (pass == 0) {
                count[si]++;
                continue;
            }
            Carillon__V1__Block *bl = arena_alloc(m, sizeof *bl);
            if (!bl)
                return -ENOMEM;
            carillon__v1__block__init(bl);
            bl->kind = enum_of(&carillon__v1__block_kind__descriptor, PQgetvalue(br, row, 1));
            bl->text = arena_keep(m, interview_substitute(&vals, PQgetvalue(br, row, 2)));
            if (!bl->text)
                return -ENOMEM;
            bl->export_name = PQgetvalue(br, row, 3);
            bl->mandatory = PQgetvalue(br, row, 4)[0] == 't';
            bl->select_type =
                enum_of(&carillon__v1__select_type__descriptor, PQgetvalue(br, row, 5));
            bl->predefined_type =
                enum_of(&carillon__v1__predefined_type__descriptor, PQgetvalue(br, row, 6));
            bl->choices = split_us(m, dup_in(m, PQgetvalue(br, row, 7)), &bl->n_choices);
            bl->matrix_rows = split_us(m, dup_in(m, PQgetvalue(br, row, 8)), &bl->n_matrix_rows);
            bl->qualifications =
                split_us(m, dup_in(m, PQgetvalue(br, row, 9)), &bl->n_qualifications);
            size_t npairs = 0;
            char **pairs = split_us(m, dup_in(m, PQgetvalue(br, row, 10)), &npairs);
            bl->branches = npairs >= 2 ? arena_alloc(m, npairs / 2 * sizeof *bl->branches) : NULL;
            for (size_t k = 0; bl->branches && k + 1 < npairs; k += 2) {
                Carillon__V1__Branch *b = arena_alloc(m, sizeof *b);
                if (!b)
                    return -ENOMEM;
                carillon__v1__branch__init(b);
                b->answer = pairs[k];
                b->screen = pairs[k + 1];
                bl->branches[bl->n_branches++] = b;
            }
            sc->blocks[sc->n_blocks++] = bl;
        }
        if (pass == 0)
            for (size_t i = 0; i < ns; i++) {
                iv->script[i]->blocks = arena_alloc(m, count[i] * sizeof(void *));
                if (count[i] && !iv->script[i]->blocks)
                    return -ENOMEM;
            }
    }

    const PGresult *ar = res[R_ANSWERS];
    size_t na = (size_t)PQntuples(ar);
    iv->answers = arena_alloc(m, na * sizeof *iv->answers);
    for (size_t i = 0; i < na && iv->answers; i++) {
        iv->answers[i] = answer_of(m, PQgetvalue(ar, (int)i, 0), PQgetvalue(ar, (int)i, 1),
                                   PQgetvalue(ar, (int)i, 2));
        if (!iv->answers[i])
            return -ENOMEM;
        iv->n_answers++;
    }

    const PGresult *hr = res[R_HISTORY];
    size_t nh = (size_t)PQntuples(hr);
    iv->history = arena_alloc(m, nh * sizeof *iv->history);
    for (size_t i = 0; i < nh && iv->history; i++) {
        Carillon__V1__AgentHistoryEntry *h = arena_alloc(m, sizeof *h);
        if (!h)
            return -ENOMEM;
        carillon__v1__agent_history_entry__init(h);
        int r = (int)i;
        h->at_unix_ms = strtoll(PQgetvalue(hr, r, 0), NULL, 10);
        h->event = PQgetvalue(hr, r, 1);
        h->attempt_id = strtoull(PQgetvalue(hr, r, 2), NULL, 10);
        h->outcome = PQgetvalue(hr, r, 3);
        h->qualification = PQgetvalue(hr, r, 4);
        h->agent = PQgetvalue(hr, r, 5);
        h->detail = PQgetvalue(hr, r, 6);
        char *saved = dup_in(m, PQgetvalue(hr, r, 7));
        if (!saved)
            return -ENOMEM;
        size_t cnt = saved[0] ? 1 : 0;
        for (char *p = saved; *p; p++)
            cnt += *p == '\x1d';
        h->answers = cnt ? arena_alloc(m, cnt * sizeof *h->answers) : NULL;
        for (char *s = saved, *one; cnt && h->answers && (one = strsep(&s, "\x1d")) != NULL;) {
            char *nm = strsep(&one, "\x1e");
            char *row = one ? strsep(&one, "\x1e") : NULL;
            Carillon__V1__AgentAnswer *an = answer_of(m, nm, row ? row : "", one ? one : "");
            if (!an)
                return -ENOMEM;
            h->answers[h->n_answers++] = an;
        }
        iv->history[iv->n_history++] = h;
    }

    const PGresult *nr = res[R_NUMBERS];
    size_t nn = (size_t)PQntuples(nr);
    iv->numbers = arena_alloc(m, nn * sizeof *iv->numbers);
    for (size_t i = 0; i < nn && iv->numbers; i++) {
        Carillon__V1__AgentNumber *n = arena_alloc(m, sizeof *n);
        if (!n)
            return -ENOMEM;
        carillon__v1__agent_number__init(n);
        n->number = PQgetvalue(nr, (int)i, 0);
        n->type = PQgetvalue(nr, (int)i, 1);
        n->state = PQgetvalue(nr, (int)i, 2);
        n->current = PQgetvalue(nr, (int)i, 3)[0] == 't';
        iv->numbers[iv->n_numbers++] = n;
    }
    return m->failed ? -ENOMEM : 0;
}

static void on_loaded(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_interview_cb cb = (store_interview_cb)c->cb;
    int err = store_result_err(r, "interview_load");
    int base = c->start ? 1 : 0;
    if (!err && r->nres != base + R_N)
        err = -EIO;
    struct store_popup p = {0};
    struct store_popup_field *f = NULL;
    struct arena m = {0};
    Carillon__V1__Interview iv;
    if (!err)
        err = store_popup_parse(r->res[base + R_POPUP], &p, &f);
    if (!err)
        err = build(&m, r->res + base, c, &iv);
    cb(c->arg, err, err ? NULL : &p, err ? NULL : &iv);
    arena_free(&m);
    free(f);
    free(c);
}

int store_interview_load(struct cr_pg *pg, const struct store_interview_req *q,
                         store_interview_cb cb, void *arg)
{
    char contact[24], campaign[24], attempt[24], agent[24], now[40];
    snprintf(contact, sizeof contact, "%" PRId64, q->contact_id);
    snprintf(campaign, sizeof campaign, "%" PRId64, q->campaign_id);
    snprintf(attempt, sizeof attempt, "%" PRId64, q->attempt_id);
    snprintf(agent, sizeof agent, "%" PRId64, q->agent_id);
    store_ts(q->now_ms, now, sizeof now);
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    const char *p_start[] = {contact, attempt, now, q->agent_id ? agent : NULL};
    const char *p_head[] = {contact, now};
    const char *p_c[] = {contact};
    const char *p_camp[] = {campaign};
    const char *p_num[] = {contact, attempt};
    int rc = 0;
    if (q->start)
        rc = cr_pg_batch_add(b, S_START, 4, p_start);
    if (!rc)
        rc = store_contact_popup_add(b, contact, q->popup_us);
    if (!rc)
        rc = cr_pg_batch_add(b, S_HEAD, 2, p_head);
    if (!rc)
        rc = cr_pg_batch_add(b, S_VALUES, 1, p_c);
    if (!rc)
        rc = cr_pg_batch_add(b, S_SCREENS, 1, p_camp);
    if (!rc)
        rc = cr_pg_batch_add(b, S_BLOCKS, 1, p_camp);
    if (!rc)
        rc = cr_pg_batch_add(b, S_ANSWERS, 1, p_c);
    if (!rc)
        rc = cr_pg_batch_add(b, S_HISTORY, 1, p_c);
    if (!rc)
        rc = cr_pg_batch_add(b, S_NUMBERS, 2, p_num);
    struct call *c = rc ? NULL : calloc(1, sizeof *c);
    if (!c) {
        cr_pg_batch_discard(b);
        return rc ? rc : -ENOMEM;
    }
    c->cb = (void *)cb;
    c->arg = arg;
    c->start = q->start;
    snprintf(c->campaign, sizeof c->campaign, "%s", q->campaign ? q->campaign : "");
    snprintf(c->agent_name, sizeof c->agent_name, "%s", q->agent_name ? q->agent_name : "");
    rc = cr_pg_batch_send(b, on_loaded, c);
    if (rc)
        free(c);
    return rc;
}

/* --- questions, answers -------------------------------------------------------------------- */

static void on_questions(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_questions_cb cb = (store_questions_cb)c->cb;
    int err = store_result_err(r, "interview_questions");
    int n = err ? 0 : PQntuples(r->res[0]);
    struct interview_question *qs = n ? calloc((size_t)n, sizeof *qs) : NULL;
    if (n && !qs)
        err = -ENOMEM;
    for (int i = 0; qs && i < n; i++) {
        const PGresult *res = r->res[0];
        qs[i].export_name = PQgetvalue(res, i, 0);
        qs[i].kind = PQgetvalue(res, i, 1);
        qs[i].text = PQgetvalue(res, i, 2);
        qs[i].select_type = PQgetvalue(res, i, 3);
        qs[i].predefined_type = PQgetvalue(res, i, 4);
        qs[i].choices_us = PQgetvalue(res, i, 5);
        qs[i].rows_us = PQgetvalue(res, i, 6);
    }
    cb(c->arg, err, qs, err ? 0 : n);
    free(qs);
    free(c);
}

int store_interview_questions(struct cr_pg *pg, int64_t campaign_id, store_questions_cb cb,
                              void *arg)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, campaign_id);
    const char *p[] = {id};
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb = (void *)cb;
    c->arg = arg;
    int rc = cr_pg_query(pg,
                         "SELECT export_name, kind, text, select_type, predefined_type, "
                         "array_to_string(choices, E'\\x1f'), array_to_string(matrix_rows, "
                         "E'\\x1f') FROM script_blocks WHERE campaign_id = $1 AND export_name IS "
                         "NOT NULL AND kind IN ('input', 'select', 'predefined') ORDER BY "
                         "screen_position, position",
                         1, p, on_questions, c);
    if (rc)
        free(c);
    return rc;
}

static void on_saved(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_saved_cb cb = (store_saved_cb)c->cb;
    int err = store_result_err(r, "interview_save");
    if (!err && r->nres != 3)
        err = -EIO;
    unsigned saved = err ? 0 : (unsigned)atoi(PQcmdTuples(r->res[0]));
    if (!err && saved == 0)
        err = -ENOENT; /* the attempt closed meanwhile: nothing saved */
    int n = err ? 0 : PQntuples(r->res[2]);
    const char **missing = n ? calloc((size_t)n, sizeof *missing) : NULL;
    if (n && !missing)
        err = -ENOMEM;
    for (int i = 0; missing && i < n; i++)
        missing[i] = PQgetvalue(r->res[2], i, 0);
    cb(c->arg, err, saved, missing, err ? 0 : n);
    free(missing);
    free(c);
}

/* the mandatory questions of the campaign without an answer in the contact's interview
 * (carillon_interview_answered, migration 015: the same rule as the qualification's) */
static const char *S_MISSING =
    "SELECT b.export_name FROM script_blocks b WHERE b.campaign_id = $1 AND b.mandatory AND "
    "b.export_name IS NOT NULL AND b.kind IN ('input', 'select', 'predefined') AND NOT "
    "carillon_interview_answered($2, b.export_name) ORDER BY b.screen_position, b.position";

int store_interview_save(struct cr_pg *pg, int64_t campaign_id, int64_t contact_id,
                         int64_t attempt_id, int64_t agent_id, int64_t now_ms,
                         Carillon__V1__AgentAnswer *const *answers, size_t n, store_saved_cb cb,
                         void *arg)
{
    if (n == 0 || n > INTERVIEW_ANSWERS_MAX)
        return -EINVAL;
    char camp[24], contact[24], attempt[24], agent[24], now[40];
    snprintf(camp, sizeof camp, "%" PRId64, campaign_id);
    snprintf(contact, sizeof contact, "%" PRId64, contact_id);
    snprintf(attempt, sizeof attempt, "%" PRId64, attempt_id);
    snprintf(agent, sizeof agent, "%" PRId64, agent_id);
    store_ts(now_ms, now, sizeof now);
    /* the answers as one string: name \x1e row \x1e values joined by \x1f, answers by \x1d (the
     * checks refused control characters in every part) */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        cap += strlen(answers[i]->export_name) + strlen(answers[i]->matrix_row) + 3;
        for (size_t k = 0; k < answers[i]->n_values; k++)
            cap += strlen(answers[i]->values[k]) + 1;
    }
    char *all = malloc(cap), *names = malloc(cap);
    if (!all || !names) {
        free(all);
        free(names);
        return -ENOMEM;
    }
    size_t at = 0, nat = 0;
    for (size_t i = 0; i < n; i++) {
        const Carillon__V1__AgentAnswer *a = answers[i];
        at += (size_t)snprintf(all + at, cap - at, "%s%s\x1e%s\x1e", i ? "\x1d" : "",
                               a->export_name, a->matrix_row);
        for (size_t k = 0; k < a->n_values; k++)
            at += (size_t)snprintf(all + at, cap - at, "%s%s", k ? "\x1f" : "", a->values[k]);
        nat += (size_t)snprintf(names + nat, cap - nat, "%s%s", i ? ", " : "", a->export_name);
    }
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b) {
        free(all);
        free(names);
        return -ENOMEM;
    }
    const char *p_ins[] = {camp, contact, attempt, agent, now, all};
    /* every answer checked has a value: an empty third part is one empty value */
    int rc = cr_pg_batch_add(
        b,
        "INSERT INTO answers (campaign_id, export_name, contact_id, attempt_id, matrix_row, "
        "\"values\", answered_by, answered_at) SELECT $1, split_part(r, E'\\x1e', 1), $2, $3, "
        "nullif(split_part(r, E'\\x1e', 2), ''), CASE WHEN split_part(r, E'\\x1e', 3) = '' THEN "
        "ARRAY[''] ELSE string_to_array(split_part(r, E'\\x1e', 3), E'\\x1f') END, $4, $5 FROM "
        "unnest(string_to_array($6, E'\\x1d')) r WHERE EXISTS (SELECT 1 FROM attempts WHERE id = "
        "$3 AND closed_at IS NULL)",
        6, p_ins);
    const char *p_ev[] = {camp, contact, attempt, agent, now, names};
    if (!rc)
        rc = cr_pg_batch_add(b,
                             "INSERT INTO interview_events (campaign_id, contact_id, attempt_id, "
                             "at, event, agent_id, detail) SELECT $1, $2, $3, $5, 'answers', $4, "
                             "left($6, 1000) WHERE EXISTS (SELECT 1 FROM attempts WHERE id = $3 "
                             "AND closed_at IS NULL)",
                             6, p_ev);
    const char *p_miss[] = {camp, contact};
    if (!rc)
        rc = cr_pg_batch_add(b, S_MISSING, 2, p_miss);
    free(all);
    free(names);
    struct call *c = rc ? NULL : calloc(1, sizeof *c);
    if (!c) {
        cr_pg_batch_discard(b);
        return rc ? rc : -ENOMEM;
    }
    c->cb = (void *)cb;
    c->arg = arg;
    rc = cr_pg_batch_send(b, on_saved, c);
    if (rc)
        free(c);
    return rc;
}

/* --- cancel, suspend ------------------------------------------------------------------------ */

static void on_action(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_done_cb cb = (store_done_cb)c->cb;
    int err = store_result_err(r, "interview_action");
    if (!err && (r->nres < 1 || atoi(PQcmdTuples(r->res[r->nres - 1])) == 0))
        err = -ENOENT;
    cb(c->arg, err);
    free(c);
}

int store_interview_action(struct cr_pg *pg, int64_t campaign_id, int64_t contact_id,
                           int64_t attempt_id, int64_t agent_id, int64_t now_ms, const char *action,
                           const char *reason, store_done_cb cb, void *arg)
{
    const char *state = strcmp(action, "cancel") == 0    ? "cancelled"
                        : strcmp(action, "suspend") == 0 ? "suspended"
                                                         : NULL;
    if (!state)
        return -EINVAL;
    char camp[24], contact[24], attempt[24], agent[24], now[40];
    snprintf(camp, sizeof camp, "%" PRId64, campaign_id);
    snprintf(contact, sizeof contact, "%" PRId64, contact_id);
    snprintf(attempt, sizeof attempt, "%" PRId64, attempt_id);
    snprintf(agent, sizeof agent, "%" PRId64, agent_id);
    store_ts(now_ms, now, sizeof now);
    const char *p[] = {camp, contact, attempt, agent, now, state, reason ? reason : ""};
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb = (void *)cb;
    c->arg = arg;
    /* only for an attempt still open (the agent's call); one statement, one transaction */
    int rc = cr_pg_query(
        pg,
        "WITH u AS (UPDATE contacts SET interview = $6, interview_at = $5 WHERE id = $2 AND "
        "EXISTS (SELECT 1 FROM attempts WHERE id = $3 AND contact_id = $2 AND closed_at IS NULL) "
        "RETURNING id) INSERT INTO interview_events (campaign_id, contact_id, attempt_id, at, "
        "event, agent_id, detail) SELECT $1, id, $3, $5, $6, $4, $7 FROM u",
        7, p, on_action, c);
    if (rc)
        free(c);
    return rc;
}

/* --- the qualification --------------------------------------------------------------------- */

static void on_iqualified(void *arg, const struct cr_pg_result *r)
{
    struct call *c = arg;
    store_qualified_cb cb = (store_qualified_cb)c->cb;
    const char *sqlstate = r->status ? r->sqlstate : NULL;
    if (sqlstate && (strcmp(sqlstate, "CI001") == 0 || strcmp(sqlstate, "CI002") == 0)) {
        /* "<field>\x1e<sentence>" */
        char field[128] = "";
        const char *m = r->message ? r->message : "";
        const char *sep = strchr(m, '\x1e');
        if (sep) {
            snprintf(field, sizeof field, "%.*s", (int)(sep - m), m);
            m = sep + 1;
        }
        cb(c->arg, sqlstate[4] == '1' ? -EAGAIN : -EINVAL, NULL, field, m);
    } else {
        int err = store_result_err(r, "interview_qualify");
        const char *state = "";
        if (!err && r->nres >= 1 && PQntuples(r->res[0]) == 1)
            state = PQgetvalue(r->res[0], 0, 0);
        cb(c->arg, err, state, err == -EINVAL ? "code" : "",
           err == -EINVAL && r->message ? r->message : "");
    }
    free(c);
}

int store_interview_qualify(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *code,
                            int64_t by, int64_t callback_at_ms, bool personal,
                            const char *callback_login, store_qualified_cb cb, void *arg)
{
    char id[24], now[40], bys[24], cbat[40];
    snprintf(id, sizeof id, "%" PRId64, attempt_id);
    store_ts(now_ms, now, sizeof now);
    snprintf(bys, sizeof bys, "%" PRId64, by);
    if (callback_at_ms)
        store_ts(callback_at_ms, cbat, sizeof cbat);
    const char *p[] = {id,
                       now,
                       code,
                       by ? bys : NULL,
                       callback_at_ms ? cbat : NULL,
                       personal ? "t" : "f",
                       callback_login ? callback_login : ""};
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb = (void *)cb;
    c->arg = arg;
    int rc = cr_pg_query(pg, "SELECT carillon_interview_qualify($1, $2, $3, $4, $5, $6, $7)", 7, p,
                         on_iqualified, c);
    if (rc)
        free(c);
    return rc;
}
