/* The contact filter language (see filter.h): a lexer, a recursive-descent parser building a
 * tree, and a compiler from the tree to SQL text with $N placeholders. Field names are looked
 * up, never copied from the input into SQL; every value becomes a parameter.
 * It stays here rather than in server/store/ (habit 7) because it is a language, not a
 * statement: it turns a user's text into a parameterised condition and knows only the field
 * names; the statements that embed that condition (listing pages, bulk operations, exports) are
 * in store/, which alone decides the tables and columns around it. */
#include "contacts/filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct cr_filter_field cr_filter_standard_fields[] = {
    {"id", CR_FT_NUMBER, "c.id"},
    {"list", CR_FT_TEXT, "(SELECT l.name FROM lists l WHERE l.id = c.list_id)"},
    {"state", CR_FT_TEXT, "c.state"},
    {"next_try", CR_FT_TIMESTAMP, "c.next_try"},
    {"priority", CR_FT_NUMBER, "c.priority"},
    {"top_priority", CR_FT_BOOL, "c.top_priority"},
    {"agent", CR_FT_TEXT, "(SELECT u.login FROM users u WHERE u.id = c.agent_id)"},
    {"time_zone", CR_FT_TEXT, "c.time_zone"},
    {"attempts", CR_FT_NUMBER, "c.attempts"},
    {"manual_reschedules", CR_FT_NUMBER, "c.manual_reschedules"},
    {"last_qualification", CR_FT_TEXT, "c.last_qualification"},
    {"consent", CR_FT_BOOL, "c.consent"},
    {"last_update", CR_FT_TIMESTAMP, "c.updated_at"},
    {"imported_at", CR_FT_TIMESTAMP, "c.created_at"},
    {"last_name", CR_FT_TEXT, "c.last_name"},
    {"first_name", CR_FT_TEXT, "c.first_name"},
    {"civility", CR_FT_TEXT, "c.civility"},
    {"company", CR_FT_TEXT, "c.company"},
    {"address", CR_FT_TEXT, "c.address"},
    {"zip", CR_FT_TEXT, "c.zip"},
    {"city", CR_FT_TEXT, "c.city"},
    {"country", CR_FT_TEXT, "c.country"},
    {"email", CR_FT_TEXT, "c.email"},
    {"customer_id", CR_FT_TEXT, "c.customer_id"},
    {"callback", CR_FT_BOOL, "c.callback"},
    /* Address fields: true when any of the contact's numbers matches (see address_column). */
    {"phone", CR_FT_TEXT, NULL},
    {"phone_type", CR_FT_TEXT, NULL},  /* mobile, home, work, other */
    {"phone_state", CR_FT_TEXT, NULL}, /* scheduled, rescheduled, waiting, blocked, failed */
};
const size_t cr_filter_standard_nfields =
    sizeof cr_filter_standard_fields / sizeof cr_filter_standard_fields[0];

/* --- lexer ---------------------------------------------------------------------------------- */

enum tok {
    T_END,
    T_IDENT,
    T_STRING,
    T_NUMBER,
    T_DURATION, /* number + unit: 90s 15m 2h 3d 1w */
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_PLUS,
    T_MINUS,
    T_OP, /* = != <> < <= > >= */
};

struct lexer {
    const char *src;
    size_t pos;
    enum tok tok;
    size_t tok_pos; /* column of the token, 0-based */
    char text[CR_FILTER_MAX_TEXT + 1];
    long long seconds; /* T_DURATION */
    char *err;
    size_t errlen;
    bool failed;
};

static void lex_fail(struct lexer *l, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_fail(struct lexer *l, size_t pos, const char *fmt, ...)
{
    if (l->failed)
        return;
    l->failed = true;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(l->err, l->errlen, "%s at column %zu", msg, pos + 1);
}

static void next(struct lexer *l)
{
    const char *s = l->src;
    while (isspace((unsigned char)s[l->pos]))
        l->pos++;
    l->tok_pos = l->pos;
    l->text[0] = '\0';
    char c = s[l->pos];
    if (!c) {
        l->tok = T_END;
        return;
    }
    if (c == '(' || c == ')' || c == ',' || c == '+' || c == '-') {
        l->tok = c == '('   ? T_LPAREN
                 : c == ')' ? T_RPAREN
                 : c == ',' ? T_COMMA
                 : c == '+' ? T_PLUS
                            : T_MINUS;
        l->pos++;
        return;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
        size_t n = 1;
        if ((c == '!' || c == '<' || c == '>') && s[l->pos + 1] == '=')
            n = 2;
        else if (c == '<' && s[l->pos + 1] == '>')
            n = 2;
        else if (c == '!') {
            lex_fail(l, l->pos, "'!' must be followed by '='");
            l->tok = T_END;
            return;
        }
        memcpy(l->text, s + l->pos, n);
        l->text[n] = '\0';
        if (!strcmp(l->text, "<>"))
            strcpy(l->text, "!=");
        l->pos += n;
        l->tok = T_OP;
        return;
    }
    if (c == '\'' || c == '"') {
        size_t o = 0;
        l->pos++;
        for (;;) {
            char d = s[l->pos];
            if (!d) {
                lex_fail(l, l->tok_pos, "unterminated string");
                l->tok = T_END;
                return;
            }
            if (d == c) {
                if (s[l->pos + 1] == c) { /* '' inside '...' is a quote */
                    l->text[o++] = c;
                    l->pos += 2;
                    continue;
                }
                l->pos++;
                break;
            }
            l->text[o++] = d;
            l->pos++;
        }
        l->text[o] = '\0';
        l->tok = T_STRING;
        return;
    }
    if (isdigit((unsigned char)c)) {
        size_t o = 0;
        while (isdigit((unsigned char)s[l->pos]) || s[l->pos] == '.')
            l->text[o++] = s[l->pos++];
        l->text[o] = '\0';
        char u = s[l->pos];
        if (strchr("smhdw", u) && u && !isalnum((unsigned char)s[l->pos + 1]) &&
            !strchr(l->text, '.')) {
            static const long long mult[] = {1, 60, 3600, 86400, 604800};
            long long m = mult[strchr("smhdw", u) - "smhdw"];
            /* At most about a century either way: larger is a mistake, and would overflow. */
            if (o > 12 || atoll(l->text) > CR_FILTER_MAX_DURATION_S / m) {
                lex_fail(l, l->tok_pos, "duration '%s%c' is too long (at most 100 years)", l->text,
                         u);
                l->tok = T_END;
                return;
            }
            l->seconds = atoll(l->text) * m;
            l->pos++;
            l->tok = T_DURATION;
            return;
        }
        if (isalpha((unsigned char)u)) {
            lex_fail(l, l->tok_pos, "'%s%c' is neither a number nor a duration (s, m, h, d, w)",
                     l->text, u);
            l->tok = T_END;
            return;
        }
        l->tok = T_NUMBER;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t o = 0;
        while (isalnum((unsigned char)s[l->pos]) || s[l->pos] == '_')
            l->text[o++] = (char)tolower((unsigned char)s[l->pos++]);
        l->text[o] = '\0';
        l->tok = T_IDENT;
        return;
    }
    lex_fail(l, l->pos, "unexpected character '%c'", c);
    l->tok = T_END;
}

static bool is_word(const struct lexer *l, const char *w)
{
    return l->tok == T_IDENT && strcmp(l->text, w) == 0;
}

/* --- tree ----------------------------------------------------------------------------------- */

enum node_kind { N_AND, N_OR, N_NOT, N_CMP, N_IN, N_LIKE, N_NULL };
enum value_kind { V_TEXT, V_NUMBER, V_BOOL, V_NOW };

struct value {
    enum value_kind kind;
    char *text;        /* V_TEXT, V_NUMBER */
    bool b;            /* V_BOOL */
    long long seconds; /* V_NOW offset */
    size_t pos;
};

struct node {
    enum node_kind kind;
    struct node *a, *b;                  /* AND, OR (a, b); NOT (a) */
    const struct cr_filter_field *field; /* CMP, IN, LIKE, NULL */
    char custom_name[64];                /* custom field name when field->sql is NULL */
    char op[3];
    bool negated;
    struct value *values;
    size_t nvalues;
    size_t pos;
};

static void node_free(struct node *n)
{
    if (!n)
        return;
    node_free(n->a);
    node_free(n->b);
    for (size_t i = 0; i < n->nvalues; i++)
        free(n->values[i].text);
    free(n->values);
    free(n);
}

struct parser {
    struct lexer lx;
    const struct cr_filter_field *custom;
    size_t ncustom;
    int depth;
};

static struct node *parse_or(struct parser *p);

static struct node *new_node(enum node_kind k, size_t pos)
{
    struct node *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = k;
        n->pos = pos;
    }
    return n;
}

static const struct cr_filter_field *find_field(struct parser *p, const char *name)
{
    for (size_t i = 0; i < cr_filter_standard_nfields; i++)
        if (!strcmp(cr_filter_standard_fields[i].name, name))
            return &cr_filter_standard_fields[i];
    for (size_t i = 0; i < p->ncustom; i++)
        if (!strcasecmp(p->custom[i].name, name))
            return &p->custom[i];
    return NULL;
}

static bool parse_value(struct parser *p, struct value *v)
{
    struct lexer *l = &p->lx;
    v->pos = l->tok_pos;
    bool neg = false;
    if (l->tok == T_MINUS) { /* a negative number */
        neg = true;
        next(l);
    }
    if (l->tok == T_STRING && !neg) {
        v->kind = V_TEXT;
        v->text = strdup(l->text);
    } else if (l->tok == T_NUMBER) {
        v->kind = V_NUMBER;
        size_t n = strlen(l->text) + 2;
        v->text = malloc(n);
        if (v->text)
            snprintf(v->text, n, "%s%s", neg ? "-" : "", l->text);
    } else if ((is_word(l, "true") || is_word(l, "false")) && !neg) {
        v->kind = V_BOOL;
        v->b = is_word(l, "true");
        next(l);
        return true;
    } else if (is_word(l, "now") && !neg) {
        v->kind = V_NOW;
        next(l);
        if (l->tok == T_PLUS || l->tok == T_MINUS) {
            bool minus = l->tok == T_MINUS;
            next(l);
            if (l->tok != T_DURATION) {
                lex_fail(l, l->tok_pos, "expected a duration such as 2h or 3d after 'now %c'",
                         minus ? '-' : '+');
                return false;
            }
            v->seconds = minus ? -l->seconds : l->seconds;
            next(l);
        }
        return true;
    } else {
        lex_fail(l, l->tok_pos, "expected a value (a 'string', a number, true, false or now)");
        return false;
    }
    if (!v->text) {
        lex_fail(l, l->tok_pos, "out of memory");
        return false;
    }
    next(l);
    return true;
}

static struct node *parse_predicate(struct parser *p)
{
    struct lexer *l = &p->lx;
    if (l->tok != T_IDENT) {
        lex_fail(l, l->tok_pos, "expected a field name");
        return NULL;
    }
    size_t fpos = l->tok_pos;
    const struct cr_filter_field *f = find_field(p, l->text);
    if (!f) {
        lex_fail(l, fpos, "unknown field '%s'", l->text);
        return NULL;
    }
    next(l);
    struct node *n = new_node(N_CMP, fpos);
    if (!n)
        return NULL;
    n->field = f;
    bool neg = false;
    if (is_word(l, "not")) {
        neg = true;
        next(l);
    }
    if (is_word(l, "in")) {
        n->kind = N_IN;
        n->negated = neg;
        next(l);
        if (l->tok != T_LPAREN) {
            lex_fail(l, l->tok_pos, "expected '(' after 'in'");
            goto fail;
        }
        next(l);
        for (;;) {
            if (n->nvalues >= 100) {
                lex_fail(l, l->tok_pos, "more than 100 values in 'in (...)'");
                goto fail;
            }
            struct value *nv = realloc(n->values, (n->nvalues + 1) * sizeof *nv);
            if (!nv)
                goto fail;
            n->values = nv;
            memset(&n->values[n->nvalues], 0, sizeof *nv);
            if (!parse_value(p, &n->values[n->nvalues]))
                goto fail;
            n->nvalues++;
            if (l->tok == T_COMMA) {
                next(l);
                continue;
            }
            if (l->tok == T_RPAREN) {
                next(l);
                break;
            }
            lex_fail(l, l->tok_pos, "expected ',' or ')' in the list of values");
            goto fail;
        }
        return n;
    }
    if (is_word(l, "like")) {
        n->kind = N_LIKE;
        n->negated = neg;
        next(l);
        n->values = calloc(1, sizeof *n->values);
        if (!n->values || !parse_value(p, &n->values[0])) {
            n->nvalues = n->values ? 1 : 0;
            goto fail;
        }
        n->nvalues = 1;
        return n;
    }
    if (neg) {
        lex_fail(l, l->tok_pos, "expected 'in' or 'like' after 'not'");
        goto fail;
    }
    if (is_word(l, "is")) {
        n->kind = N_NULL;
        next(l);
        if (is_word(l, "not")) {
            n->negated = true;
            next(l);
        }
        if (!is_word(l, "null")) {
            lex_fail(l, l->tok_pos, "expected 'null' after 'is'");
            goto fail;
        }
        next(l);
        return n;
    }
    if (l->tok != T_OP) {
        lex_fail(l, l->tok_pos, "expected an operator (= != < <= > >= in like is) after '%s'",
                 f->name);
        goto fail;
    }
    snprintf(n->op, sizeof n->op, "%.2s", l->text);
    next(l);
    n->values = calloc(1, sizeof *n->values);
    if (!n->values)
        goto fail;
    n->nvalues = 1;
    if (!parse_value(p, &n->values[0]))
        goto fail;
    return n;
fail:
    node_free(n);
    return NULL;
}

static struct node *parse_unary(struct parser *p)
{
    struct lexer *l = &p->lx;
    if (++p->depth > CR_FILTER_MAX_DEPTH) {
        lex_fail(l, l->tok_pos, "expression nested deeper than %d", CR_FILTER_MAX_DEPTH);
        return NULL;
    }
    struct node *n = NULL;
    if (is_word(l, "not")) {
        size_t pos = l->tok_pos;
        next(l);
        struct node *a = parse_unary(p);
        if (a && (n = new_node(N_NOT, pos)))
            n->a = a;
        else
            node_free(a);
    } else if (l->tok == T_LPAREN) {
        next(l);
        n = parse_or(p);
        if (n && l->tok != T_RPAREN) {
            lex_fail(l, l->tok_pos, "expected ')'");
            node_free(n);
            n = NULL;
        } else if (n) {
            next(l);
        }
    } else {
        n = parse_predicate(p);
    }
    p->depth--;
    return n;
}

static struct node *parse_binary(struct parser *p, const char *word, enum node_kind kind,
                                 struct node *(*sub)(struct parser *))
{
    struct node *left = sub(p);
    while (left && is_word(&p->lx, word)) {
        size_t pos = p->lx.tok_pos;
        next(&p->lx);
        struct node *right = sub(p);
        struct node *n = right ? new_node(kind, pos) : NULL;
        if (!n) {
            node_free(left);
            node_free(right);
            return NULL;
        }
        n->a = left;
        n->b = right;
        left = n;
    }
    return left;
}

static struct node *parse_and(struct parser *p)
{
    return parse_binary(p, "and", N_AND, parse_unary);
}

static struct node *parse_or(struct parser *p)
{
    return parse_binary(p, "or", N_OR, parse_and);
}

/* --- compiler ------------------------------------------------------------------------------- */

struct out {
    char *sql;
    size_t len, cap;
    struct cr_filter_sql *res;
    int first;
    char *err;
    size_t errlen;
    bool failed;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (o->len + (size_t)n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *ns = realloc(o->sql, cap);
        if (!ns) {
            o->failed = true;
            return;
        }
        o->sql = ns;
        o->cap = cap;
    }
    memcpy(o->sql + o->len, buf, (size_t)n + 1);
    o->len += (size_t)n;
}

static void cfail(struct out *o, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cfail(struct out *o, size_t pos, const char *fmt, ...)
{
    if (o->failed)
        return;
    o->failed = true;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(o->err, o->errlen, "%s at column %zu", msg, pos + 1);
}

/* Adds a parameter; returns its number. */
static int param(struct out *o, const char *value)
{
    struct cr_filter_sql *r = o->res;
    if (r->nparams >= CR_FILTER_MAX_PARAMS) {
        o->failed = true;
        snprintf(o->err, o->errlen, "more than %d values", CR_FILTER_MAX_PARAMS);
        return 0;
    }
    char **np = realloc(r->params, (size_t)(r->nparams + 1) * sizeof *np);
    if (!np || !(np[r->nparams] = strdup(value))) {
        if (np)
            r->params = np;
        o->failed = true;
        return 0;
    }
    r->params = np;
    return o->first + r->nparams++;
}

static const char *type_name(enum cr_filter_type t)
{
    return t == CR_FT_NUMBER      ? "a number"
           : t == CR_FT_TIMESTAMP ? "a date"
           : t == CR_FT_BOOL      ? "true or false"
                                  : "text";
}

static const char *cast(enum cr_filter_type t)
{
    return t == CR_FT_NUMBER      ? "::numeric"
           : t == CR_FT_TIMESTAMP ? "::timestamptz"
           : t == CR_FT_BOOL      ? "::boolean"
                                  : "::text";
}

/* The SQL for a field: standard column, custom field from the contact's jsonb, or phone. */
static void emit_field(struct out *o, const struct cr_filter_field *f)
{
    if (f->sql)
        emit(o, "%s", f->sql);
    else /* custom: the name was checked against the campaign's declared fields */
        emit(o, "(c.fields->>'%s')%s", f->name, cast(f->type));
}

static void emit_value(struct out *o, const struct cr_filter_field *f, const struct value *v)
{
    char buf[64];
    switch (v->kind) {
    case V_TEXT:
        if (f->type == CR_FT_NUMBER || f->type == CR_FT_BOOL) {
            cfail(o, v->pos, "field '%s' is %s, not text", f->name, type_name(f->type));
            return;
        }
        emit(o, "$%d%s", param(o, v->text), cast(f->type));
        return;
    case V_NUMBER:
        if (f->type != CR_FT_NUMBER && f->type != CR_FT_TEXT) {
            cfail(o, v->pos, "field '%s' is %s, not a number", f->name, type_name(f->type));
            return;
        }
        emit(o, "$%d%s", param(o, v->text), cast(f->type));
        return;
    case V_BOOL:
        if (f->type != CR_FT_BOOL) {
            cfail(o, v->pos, "field '%s' is %s, not true or false", f->name, type_name(f->type));
            return;
        }
        emit(o, "$%d::boolean", param(o, v->b ? "true" : "false"));
        return;
    case V_NOW:
        if (f->type != CR_FT_TIMESTAMP) {
            cfail(o, v->pos, "field '%s' is %s: 'now' compares with dates", f->name,
                  type_name(f->type));
            return;
        }
        snprintf(buf, sizeof buf, "%lld seconds", v->seconds);
        emit(o, "(now() + $%d::interval)", param(o, buf));
        return;
    }
}

/* The addresses column an address field stands for, or NULL when f is not one. Only the
 * standard table's own entries qualify: a declared field cannot borrow the name. */
static const char *address_column(const struct cr_filter_field *f)
{
    static const char *const names[][2] = {
        {"phone", "a.number"}, {"phone_type", "a.type"}, {"phone_state", "a.state"}};
    if (f < cr_filter_standard_fields ||
        f >= cr_filter_standard_fields + cr_filter_standard_nfields || f->sql)
        return NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(f->name, names[i][0]))
            return names[i][1];
    return NULL;
}

static void compile(struct out *o, const struct node *n)
{
    if (o->failed)
        return;
    switch (n->kind) {
    case N_AND:
    case N_OR:
        emit(o, "(");
        compile(o, n->a);
        emit(o, n->kind == N_AND ? " AND " : " OR ");
        compile(o, n->b);
        emit(o, ")");
        return;
    case N_NOT:
        emit(o, "(NOT ");
        compile(o, n->a);
        emit(o, ")");
        return;
    default:
        break;
    }
    const struct cr_filter_field *f = n->field;
    /* phone, phone_type, phone_state: true when any of the contact's numbers matches */
    const char *col = address_column(f);
    bool phone = col != NULL;
    if (phone)
        emit(o, "EXISTS (SELECT 1 FROM addresses a WHERE a.contact_id = c.id AND ");
    emit(o, "(");
    if (col)
        emit(o, "%s", col);
    else
        emit_field(o, f);
    switch (n->kind) {
    case N_CMP:
        emit(o, " %s ", n->op);
        emit_value(o, f, &n->values[0]);
        break;
    case N_IN:
        emit(o, n->negated ? " NOT IN (" : " IN (");
        for (size_t i = 0; i < n->nvalues; i++) {
            if (i)
                emit(o, ", ");
            emit_value(o, f, &n->values[i]);
        }
        emit(o, ")");
        break;
    case N_LIKE:
        if (f->type != CR_FT_TEXT) {
            cfail(o, n->pos, "'like' needs a text field; '%s' is %s", f->name, type_name(f->type));
            return;
        }
        if (n->values[0].kind != V_TEXT) {
            cfail(o, n->values[0].pos, "'like' needs a 'pattern' in quotes");
            return;
        }
        emit(o, n->negated ? " NOT ILIKE $%d" : " ILIKE $%d", param(o, n->values[0].text));
        break;
    case N_NULL:
        emit(o, n->negated ? " IS NOT NULL" : " IS NULL");
        break;
    default:
        break;
    }
    emit(o, ")");
    if (phone)
        emit(o, ")");
}

int cr_filter_compile(const char *text, const struct cr_filter_field *custom, size_t ncustom,
                      int first_param, struct cr_filter_sql *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    if (!text || strlen(text) > CR_FILTER_MAX_TEXT) {
        snprintf(err, errlen, "the filter is longer than %d bytes", CR_FILTER_MAX_TEXT);
        return -EINVAL;
    }
    for (size_t i = 0; i < ncustom; i++) {
        const char *s = custom[i].name;
        bool ok = s[0] && strlen(s) < 64;
        for (; ok && *s; s++)
            ok = islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_';
        if (!ok) {
            snprintf(err, errlen, "declared field '%s' has an invalid name", custom[i].name);
            return -EINVAL;
        }
    }
    struct parser p = {.lx = {.src = text, .err = err, .errlen = errlen}};
    p.custom = custom;
    p.ncustom = ncustom;
    next(&p.lx);
    if (p.lx.tok == T_END && !p.lx.failed) {
        snprintf(err, errlen, "the filter is empty");
        return -EINVAL;
    }
    struct node *root = p.lx.failed ? NULL : parse_or(&p);
    if (root && (p.lx.failed || p.lx.tok != T_END)) {
        /* A lexer error ends the token stream: it is still an error. */
        lex_fail(&p.lx, p.lx.tok_pos, "unexpected '%.*s'", 20, text + p.lx.tok_pos);
        node_free(root);
        root = NULL;
    }
    if (!root) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return -EINVAL;
    }
    struct out o = {.res = out, .first = first_param, .err = err, .errlen = errlen};
    compile(&o, root);
    node_free(root);
    if (o.failed) {
        free(o.sql);
        cr_filter_sql_free(out);
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return -EINVAL;
    }
    out->where = o.sql;
    return 0;
}

void cr_filter_sql_free(struct cr_filter_sql *s)
{
    free(s->where);
    for (int i = 0; i < s->nparams; i++)
        free(s->params[i]);
    free(s->params);
    memset(s, 0, sizeof *s);
}

/* --- sort ----------------------------------------------------------------------------------- */

/* The sortable columns: every standard field with a column of its own, then the declared fields.
 * Writes "id, list, ..." to buf for error messages. */
static void sortable_list(const struct cr_filter_field *custom, size_t ncustom, char *buf,
                          size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cr_filter_standard_nfields + ncustom && o < len; i++) {
        const struct cr_filter_field *f = i < cr_filter_standard_nfields
                                              ? &cr_filter_standard_fields[i]
                                              : &custom[i - cr_filter_standard_nfields];
        if (i < cr_filter_standard_nfields && !f->sql)
            continue;
        int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", f->name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static const struct cr_filter_field *
sort_field(const char *name, const struct cr_filter_field *custom, size_t ncustom)
{
    for (size_t i = 0; i < cr_filter_standard_nfields; i++)
        if (!strcmp(cr_filter_standard_fields[i].name, name))
            return cr_filter_standard_fields[i].sql ? &cr_filter_standard_fields[i] : NULL;
    for (size_t i = 0; i < ncustom; i++)
        if (!strcmp(custom[i].name, name))
            return &custom[i];
    return NULL;
}

int cr_filter_sort_compile(const char *text, const struct cr_filter_field *custom, size_t ncustom,
                           char **order_by, char *err, size_t errlen)
{
    *order_by = NULL;
    err[0] = '\0';
    if (!text || strlen(text) > CR_FILTER_SORT_MAX_TEXT) {
        snprintf(err, errlen, "the sort is longer than %d bytes", CR_FILTER_SORT_MAX_TEXT);
        return -EINVAL;
    }
    for (size_t i = 0; i < ncustom; i++) { /* their names go into SQL: as in cr_filter_compile */
        const char *s = custom[i].name;
        bool ok = s[0] && strlen(s) < 64;
        for (; ok && *s; s++)
            ok = islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_';
        if (!ok) {
            snprintf(err, errlen, "declared field '%s' has an invalid name", custom[i].name);
            return -EINVAL;
        }
    }
    struct out o = {.err = err, .errlen = errlen};
    const struct cr_filter_field *seen[CR_FILTER_SORT_MAX_KEYS];
    size_t nseen = 0;
    const char *p = text;
    bool by_id = false;
    while (*text) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char key[72];
        while (n && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        bool desc = n && *p == '-';
        if (desc) {
            p++;
            n--;
        }
        if (!n) {
            snprintf(err, errlen, "the sort has an empty column (write e.g. next_try,-priority)");
            goto fail;
        }
        if (n >= sizeof key) {
            snprintf(err, errlen, "unknown sort column '%.*s...'", 32, p);
            goto fail;
        }
        memcpy(key, p, n);
        key[n] = '\0';
        const struct cr_filter_field *f = sort_field(key, custom, ncustom);
        if (!f) {
            char list[2048];
            sortable_list(custom, ncustom, list, sizeof list);
            snprintf(err, errlen, "unknown sort column '%s'; sortable columns: %s", key, list);
            goto fail;
        }
        for (size_t i = 0; i < nseen; i++)
            if (seen[i] == f) {
                snprintf(err, errlen, "sort column '%s' is given twice", key);
                goto fail;
            }
        if (nseen == CR_FILTER_SORT_MAX_KEYS) {
            snprintf(err, errlen, "at most %d sort columns", CR_FILTER_SORT_MAX_KEYS);
            goto fail;
        }
        seen[nseen++] = f;
        if (nseen > 1)
            emit(&o, ", ");
        if (f->sql)
            emit(&o, "%s", f->sql);
        else if (f->type == CR_FT_NUMBER) /* a declared number: a value that is not sorts last */
            emit(&o,
                 "(CASE WHEN c.fields->>'%s' ~ '^ *[-+]?[0-9]+([.][0-9]+)? *$' THEN "
                 "(c.fields->>'%s')::numeric END)",
                 f->name, f->name);
        else /* text, and dates written YYYY-MM-DD, sort as text */
            emit(&o, "(c.fields->>'%s')", f->name);
        emit(&o, desc ? " DESC NULLS LAST" : " ASC NULLS LAST");
        by_id = by_id || (f->sql && !strcmp(f->sql, "c.id"));
        if (!end)
            break;
        p = end + 1;
    }
    /* Pages stay stable: equal keys are ordered by id. */
    if (!by_id)
        emit(&o, "%sc.id", nseen ? ", " : "");
    if (o.failed) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *order_by = o.sql;
    return 0;
fail:
    free(o.sql);
    return -EINVAL;
}
