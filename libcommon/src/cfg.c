/* Configuration files: INI parsed by libinih against a daemon's key table (see cfg.h). Values
 * are parsed into a scratch struct first, so a bad file never leaves a half-loaded config. */
#include "carillon/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_FILE_MAX   (1 << 20)
#define CFG_STRING_MAX 4096
/* Room for a maximal quoted string, its key and a trailing comment. */
#define CFG_LINE_MAX (CFG_STRING_MAX + 1024)
/* What the line reader hands libinih in place of a value it parsed itself (see read_line). */
#define VALUE_MARK "\x01"

/* State of one parse: which keys were seen (and on which line), and the first error. */
struct parse {
    const struct cr_cfg_key *keys;
    size_t nkeys;
    const char *path;
    void *out;
    int *seen_line; /* per key: the line it was set on, 0 = not in the file */
    FILE *file;
    int line;
    size_t bytes; /* read so far, against CFG_FILE_MAX */
    char *err;
    size_t errlen;
    int failed;
    /* The value of the current line when read_line parsed it itself, or NULL; taken_err is
     * why it could not be parsed (reported by on_ini, which knows the section). Both point
     * into buf and live until the next line is read. */
    const char *taken;
    const char *taken_err;
    char buf[CFG_LINE_MAX + 2];
};

static size_t field_size(enum cr_cfg_type t)
{
    switch (t) {
    case CR_CFG_STRING:
        return sizeof(char *);
    case CR_CFG_BOOL:
        return sizeof(bool);
    case CR_CFG_ENUM:
        return sizeof(int);
    default:
        return sizeof(int64_t);
    }
}

/* The caller's struct is not known here: reload only needs room up to the last field. */
static size_t struct_size(const struct cr_cfg_key *keys, size_t nkeys)
{
    size_t max = 1;
    for (size_t i = 0; i < nkeys; i++) {
        size_t end = keys[i].offset + field_size(keys[i].type);
        if (end > max)
            max = end;
    }
    return max;
}

/* "[section] key", or "key" for keys before any section. */
static const char *key_label(const char *section, const char *name, char *buf, size_t len)
{
    if (section[0])
        snprintf(buf, len, "[%s] %s", section, name);
    else
        snprintf(buf, len, "%s", name);
    return buf;
}

/* A value as echoed in a message: cut, so a huge bad value does not drown the reason. */
static const char *echo(const char *value, char *buf, size_t len)
{
    if (strlen(value) > 80)
        snprintf(buf, len, "%.77s...", value);
    else
        snprintf(buf, len, "%s", value);
    return buf;
}

static const int64_t size_units[] = {1LL << 30, 1LL << 20, 1LL << 10};
static const char *const size_names[] = {"G", "M", "K"};
static const int64_t duration_units[] = {3600000, 60000, 1000};
static const char *const duration_names[] = {"h", "m", "s"};

/* 1048576 -> "1M", 90000 (ms) -> "90s": the largest unit that divides exactly. */
static const char *human(int64_t v, const int64_t *units, const char *const *names,
                         const char *base, char *buf, size_t len)
{
    for (int i = 0; i < 3; i++) {
        if (v != 0 && v % units[i] == 0) {
            snprintf(buf, len, "%lld%s", (long long)(v / units[i]), names[i]);
            return buf;
        }
    }
    snprintf(buf, len, "%lld%s", (long long)v, base);
    return buf;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    if (errno)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A non-negative number and a unit suffix from the table; -ERANGE on overflow. */
static int parse_scaled(const char *s, const char *const *suffixes, const int64_t *mults,
                        int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    while (*end == ' ')
        end++;
    for (int i = 0; suffixes[i]; i++) {
        if (strcasecmp(end, suffixes[i]) != 0)
            continue;
        if (v > INT64_MAX / mults[i])
            return -ERANGE;
        *out = v * mults[i];
        return 0;
    }
    return -EINVAL;
}

/* "512", "64K", "8M", "1G" (powers of 1024); "KiB", "KB" and a trailing "B" are accepted. */
static int parse_size(const char *s, int64_t *out)
{
    static const char *const sfx[] = {"",   "B",   "K", "KB", "KiB", "M",
                                      "MB", "MiB", "G", "GB", "GiB", NULL};
    static const int64_t mult[] = {1,       1,       1 << 10, 1 << 10, 1 << 10, 1 << 20,
                                   1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30};
    return parse_scaled(s, sfx, mult, out);
}

/* "250ms", "5s", "2m", "1h", "1d"; a bare number is milliseconds. */
static int parse_duration(const char *s, int64_t *out)
{
    static const char *const sfx[] = {"", "ms", "s", "m", "min", "h", "d", NULL};
    static const int64_t mult[] = {1, 1, 1000, 60000, 60000, 3600000, 86400000};
    /* strcasecmp would take "1M" as a minute: durations keep their case. */
    for (const char *c = s; *c; c++)
        if (isupper((unsigned char)*c))
            return -EINVAL;
    return parse_scaled(s, sfx, mult, out);
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static void free_string_fields(const struct cr_cfg_key *keys, size_t nkeys, void *cfg)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i].type != CR_CFG_STRING)
            continue;
        char **p = (char **)((char *)cfg + keys[i].offset);
        free(*p);
        *p = NULL;
    }
}

static bool has_bounds(const struct cr_cfg_key *k)
{
    return k->min != 0 || k->max != 0;
}

/* The reason a number is refused: what was expected (with the bounds), and what came. A
 * malformed size or duration shows what one looks like; one out of bounds, the bounds. */
static void number_reason(const struct cr_cfg_key *k, bool malformed, const char *value, char *why,
                          size_t len)
{
    char got[96], lo[32], hi[32], bounds[96] = "";
    echo(value, got, sizeof got);
    const int64_t *units = k->type == CR_CFG_DURATION ? duration_units : size_units;
    const char *const *names = k->type == CR_CFG_DURATION ? duration_names : size_names;
    const char *base = k->type == CR_CFG_DURATION ? "ms" : "";
    if (has_bounds(k) && k->type != CR_CFG_INT) {
        human(k->min, units, names, base, lo, sizeof lo);
        human(k->max, units, names, base, hi, sizeof hi);
        snprintf(bounds, sizeof bounds, " (%s to %s)", lo, hi);
    }
    const char *what = k->type == CR_CFG_SIZE ? "a size" : "a duration";
    const char *like = k->type == CR_CFG_SIZE ? "64K or 8M" : "250ms, 5s, 2m or 1h";
    if (k->type == CR_CFG_INT && has_bounds(k))
        snprintf(why, len, "expected an integer between %lld and %lld, got '%s'", (long long)k->min,
                 (long long)k->max, got);
    else if (k->type == CR_CFG_INT)
        snprintf(why, len, "expected an integer, got '%s'", got);
    else if (malformed || !has_bounds(k))
        snprintf(why, len, "expected %s like %s%s, got '%s'", what, like, bounds, got);
    else
        snprintf(why, len, "expected %s between %s and %s, got '%s'", what, lo, hi, got);
}

/* Parses value into the field of key k in out; on error writes the reason (without location). */
static int set_value(const struct cr_cfg_key *k, const char *value, void *out, char *why,
                     size_t whylen)
{
    char *field = (char *)out + k->offset;
    char got[96];
    int64_t v = 0;
    int rc = 0;
    switch (k->type) {
    case CR_CFG_STRING: {
        size_t n = strlen(value);
        if (n > CFG_STRING_MAX) {
            snprintf(why, whylen, "value longer than %d bytes (%zu)", CFG_STRING_MAX, n);
            return -EINVAL;
        }
        char *copy = strdup(value);
        if (!copy) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = copy;
        break;
    }
    case CR_CFG_BOOL:
        if (parse_bool(value, (bool *)field) != 0) {
            snprintf(why, whylen, "expected true or false (yes/no, on/off, 1/0), got '%s'",
                     echo(value, got, sizeof got));
            return -EINVAL;
        }
        break;
    case CR_CFG_ENUM: {
        int found = -1;
        for (int i = 0; k->enum_values && k->enum_values[i]; i++) {
            if (strcasecmp(value, k->enum_values[i]) == 0) {
                found = i;
                break;
            }
        }
        if (found < 0) {
            size_t o = (size_t)snprintf(why, whylen, "expected one of: ");
            for (int i = 0; k->enum_values && k->enum_values[i] && o < whylen; i++)
                o +=
                    (size_t)snprintf(why + o, whylen - o, "%s%s", i ? ", " : "", k->enum_values[i]);
            if (o < whylen)
                snprintf(why + o, whylen - o, "; got '%s'", echo(value, got, sizeof got));
            return -EINVAL;
        }
        *(int *)field = found;
        break;
    }
    case CR_CFG_INT:
    case CR_CFG_SIZE:
    case CR_CFG_DURATION:
        rc = k->type == CR_CFG_INT    ? parse_int(value, &v)
             : k->type == CR_CFG_SIZE ? parse_size(value, &v)
                                      : parse_duration(value, &v);
        if (rc == -ERANGE && !has_bounds(k)) {
            snprintf(why, whylen, "value too large, got '%s'", echo(value, got, sizeof got));
            return -EINVAL;
        }
        if (rc == 0 && has_bounds(k) && (v < k->min || v > k->max))
            rc = -ERANGE;
        if (rc) {
            number_reason(k, rc == -EINVAL, value, why, whylen);
            return -EINVAL;
        }
        *(int64_t *)field = v;
        break;
    }
    if (k->validate) {
        char verr[512] = "";
        if (k->validate(field, verr, sizeof verr) != 0) {
            snprintf(why, whylen, "%s", verr[0] ? verr : "invalid value");
            return -EINVAL;
        }
    }
    return 0;
}

static void fail(struct parse *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct parse *p, int rc, const char *fmt, ...)
{
    if (p->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    p->failed = rc;
}

/* Where a "key = value" line's delimiter is, found as libinih finds it ('=' or ':', unless an
 * inline comment comes first), or NULL. */
static char *find_delimiter(char *s)
{
    bool was_space = false;
    for (; *s; s++) {
        if (*s == '=' || *s == ':')
            return s;
        if (was_space && *s == ';')
            return NULL;
        was_space = isspace((unsigned char)*s);
    }
    return NULL;
}

/* Parses the value after a delimiter in place: a double-quoted value runs to the quote that
 * ends the line (only spaces or a ';' comment after it), so ';' and spaces inside the quotes
 * are kept; otherwise libinih's rules: cut at " ;", trimmed. Returns NULL with *why set when
 * a quote is not closed. */
static const char *take_value(char *v, const char **why)
{
    bool was_space = false;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '"') {
        for (char *q = strchr(v + 1, '"'); q; q = strchr(q + 1, '"')) {
            char *after = q + 1;
            while (isspace((unsigned char)*after))
                after++;
            if (*after == '\0' || *after == ';') {
                *q = '\0';
                return v + 1;
            }
        }
        *why = "unterminated double quote (a value in quotes must end with '\"')";
        return NULL;
    }
    char *e = v;
    for (; *e; e++) {
        if (was_space && *e == ';')
            break;
        was_space = isspace((unsigned char)*e);
    }
    while (e > v && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return v;
}

/* libinih as Debian builds it reads lines of at most 200 bytes and does not pass line numbers
 * to the handler. So the reader reads whole lines itself (up to CFG_LINE_MAX, and the file up
 * to CFG_FILE_MAX), counts them, and for a "key = value" line whose value is quoted or too long
 * for libinih, parses the value itself and hands libinih "key =" VALUE_MARK: libinih still
 * decides sections, keys, comments and syntax errors. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->failed)
        return NULL;
    size_t n = 0;
    int c = EOF;
    int lineno = p->line + 1;
    while ((c = getc(p->file)) != EOF) {
        if (++p->bytes > CFG_FILE_MAX) {
            fail(p, -EFBIG, "%s: file larger than %d bytes", p->path, CFG_FILE_MAX);
            return NULL;
        }
        if (c == '\0') {
            fail(p, -EINVAL, "%s:%d: NUL byte in the file", p->path, lineno);
            return NULL;
        }
        if (n == CFG_LINE_MAX) {
            fail(p, -EINVAL, "%s:%d: line longer than %d bytes", p->path, lineno, CFG_LINE_MAX);
            return NULL;
        }
        p->buf[n++] = (char)c;
        if (c == '\n')
            break;
    }
    if (c == EOF && ferror(p->file)) {
        int e = errno ? errno : EIO;
        fail(p, -e, "%s: cannot read: %s", p->path, strerror(e));
        return NULL;
    }
    if (n == 0)
        return NULL;
    p->buf[n] = '\0';
    p->line = lineno;
    p->taken = NULL;
    p->taken_err = NULL;

    bool fits = n < (size_t)num;
    const char *s = p->buf;
    while (isspace((unsigned char)*s))
        s++;
    bool comment = *s == ';' || *s == '#';
    char *delim = !comment && *s != '[' ? find_delimiter(p->buf) : NULL;
    if (delim) {
        char *v = delim + 1;
        while (isspace((unsigned char)*v))
            v++;
        if (*v == '"' || !fits) {
            size_t prefix = (size_t)(delim + 1 - p->buf);
            if (prefix + sizeof VALUE_MARK + 1 > (size_t)num) {
                fail(p, -EINVAL, "%s:%d: key name longer than %d bytes", p->path, lineno, num - 4);
                return NULL;
            }
            memcpy(str, p->buf, prefix);
            memcpy(str + prefix, VALUE_MARK "\n", sizeof VALUE_MARK + 1);
            p->taken = take_value(delim + 1, &p->taken_err);
            if (!p->taken)
                p->taken = "";
            return str;
        }
    }
    if (!fits && comment) {
        memcpy(str, ";\n", 3);
        return str;
    }
    if (!fits) {
        fail(p, -EINVAL, "%s:%d: line longer than %d bytes", p->path, lineno, num - 2);
        return NULL;
    }
    memcpy(str, p->buf, n + 1);
    return str;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    int lineno = p->line;
    char label[160];
    key_label(section, name, label, sizeof label);
    if (p->failed)
        return 1; /* libinih stops on 0 and would log nothing useful; errors are kept in p */
    const char *v = value;
    if (p->taken && strcmp(value, VALUE_MARK) == 0) {
        if (p->taken_err) {
            fail(p, -EINVAL, "%s:%d: %s: %s", p->path, lineno, label, p->taken_err);
            return 1;
        }
        v = p->taken;
    }
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct cr_cfg_key *k = &p->keys[i];
        if (k->type == CR_CFG_STRING && strcmp(k->name, "*") == 0 &&
            strcmp(k->section, section) == 0) { /* a free section: "name=value\n" appended */
            char **field = (char **)((char *)p->out + k->offset);
            size_t have = *field ? strlen(*field) : 0, add = strlen(name) + strlen(v) + 2;
            char *grown = realloc(*field, have + add + 1);
            if (!grown) {
                fail(p, -ENOMEM, "%s:%d: %s: out of memory", p->path, lineno, label);
                return 1;
            }
            snprintf(grown + have, add + 1, "%s=%s\n", name, v);
            *field = grown;
            return 1;
        }
        if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
            continue;
        if (p->seen_line[i]) {
            fail(p, -EINVAL, "%s:%d: %s: set twice (first on line %d)", p->path, lineno, label,
                 p->seen_line[i]);
            return 1;
        }
        p->seen_line[i] = lineno;
        char why[768];
        int rc = set_value(k, v, p->out, why, sizeof why);
        if (rc)
            fail(p, rc == -ENOMEM ? -ENOMEM : -EINVAL, "%s:%d: %s: %s", p->path, lineno, label,
                 why);
        return 1;
    }
    bool known_section = false;
    for (size_t i = 0; i < p->nkeys; i++)
        if (strcmp(p->keys[i].section, section) == 0)
            known_section = true;
    if (known_section)
        fail(p, -EINVAL, "%s:%d: %s: unknown key", p->path, lineno, label);
    else if (section[0])
        fail(p, -EINVAL, "%s:%d: %s: unknown key (there is no section [%s])", p->path, lineno,
             label, section);
    else
        fail(p, -EINVAL, "%s:%d: %s: unknown key (keys belong inside a [section])", p->path, lineno,
             label);
    return 1;
}

/* Defaults, then the file, into out (zeroed by the caller). */
static int load_into(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *out,
                     char *err, size_t errlen)
{
    char why[768], label[160];
    for (size_t i = 0; i < nkeys; i++) {
        if (!keys[i].default_value)
            continue;
        if (set_value(&keys[i], keys[i].default_value, out, why, sizeof why) != 0) {
            snprintf(err, errlen, "built-in default of %s: %s",
                     key_label(keys[i].section, keys[i].name, label, sizeof label), why);
            return -EINVAL;
        }
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            fclose(f);
            snprintf(err, errlen, "%s: is a directory, not a configuration file", path);
            return -EISDIR;
        }
        if (st.st_size > CFG_FILE_MAX) {
            fclose(f);
            snprintf(err, errlen, "%s: file larger than %d bytes", path, CFG_FILE_MAX);
            return -EFBIG;
        }
    }
    struct parse *p = calloc(1, sizeof *p);
    int *seen = calloc(nkeys ? nkeys : 1, sizeof(int));
    if (!p || !seen) {
        free(p);
        free(seen);
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    p->keys = keys;
    p->nkeys = nkeys;
    p->path = path;
    p->out = out;
    p->seen_line = seen;
    p->file = f;
    p->err = err;
    p->errlen = errlen;
    int line = ini_parse_stream(read_line, p, on_ini, p);
    fclose(f);
    if (!p->failed && line != 0) {
        if (line > 0)
            fail(p, -EINVAL, "%s:%d: syntax error (expected 'key = value' or '[section]')", path,
                 line);
        else
            fail(p, -ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; !p->failed && i < nkeys; i++) {
        if (!keys[i].default_value && !seen[i])
            fail(p, -EINVAL, "%s: %s: required key missing", path,
                 key_label(keys[i].section, keys[i].name, label, sizeof label));
    }
    int rc = p->failed;
    free(seen);
    free(p);
    return rc;
}

int cr_cfg_load(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *out, char *err,
                size_t errlen)
{
    err[0] = '\0';
    int rc = load_into(keys, nkeys, path, out, err, errlen);
    if (rc)
        free_string_fields(keys, nkeys, out);
    return rc;
}

static bool field_equal(const struct cr_cfg_key *k, const void *a, const void *b)
{
    const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
    if (k->type == CR_CFG_STRING) {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
        return (!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0);
    }
    return memcmp(fa, fb, field_size(k->type)) == 0;
}

int cr_cfg_reload(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *live,
                  char *err, size_t errlen, char *warn, size_t warnlen)
{
    warn[0] = '\0';
    err[0] = '\0';
    void *fresh = calloc(1, struct_size(keys, nkeys));
    if (!fresh) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    int rc = load_into(keys, nkeys, path, fresh, err, errlen);
    if (rc) {
        free_string_fields(keys, nkeys, fresh);
        free(fresh);
        return rc;
    }
    /* Nothing below can fail: live changes only once the whole file is known to be good. */
    size_t wo = 0;
    char label[160];
    for (size_t i = 0; i < nkeys; i++) {
        const struct cr_cfg_key *k = &keys[i];
        char *lf = (char *)live + k->offset, *ff = (char *)fresh + k->offset;
        if (field_equal(k, live, fresh))
            continue;
        if (!k->reloadable) {
            if (wo < warnlen)
                wo += (size_t)snprintf(warn + wo, warnlen - wo, "%s%s", wo ? ", " : "",
                                       key_label(k->section, k->name, label, sizeof label));
            continue;
        }
        if (k->type == CR_CFG_STRING) {
            char *tmp = *(char **)lf;
            *(char **)lf = *(char **)ff;
            *(char **)ff = tmp; /* the old string is freed with fresh */
        } else {
            memcpy(lf, ff, field_size(k->type));
        }
    }
    free_string_fields(keys, nkeys, fresh);
    free(fresh);
    return 0;
}

void cr_cfg_free(const struct cr_cfg_key *keys, size_t nkeys, void *cfg)
{
    free_string_fields(keys, nkeys, cfg);
}

/* What a key accepts, for the example file. */
static void describe_type(const struct cr_cfg_key *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    size_t o = 0;
    switch (k->type) {
    case CR_CFG_STRING:
        snprintf(buf, len, "text");
        return;
    case CR_CFG_BOOL:
        snprintf(buf, len, "true or false");
        return;
    case CR_CFG_ENUM:
        o = (size_t)snprintf(buf, len, "one of: ");
        for (int i = 0; k->enum_values && k->enum_values[i] && o < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", k->enum_values[i]);
        return;
    case CR_CFG_INT:
        if (has_bounds(k))
            snprintf(buf, len, "integer, %lld to %lld", (long long)k->min, (long long)k->max);
        else
            snprintf(buf, len, "integer");
        return;
    case CR_CFG_SIZE:
        if (has_bounds(k))
            snprintf(buf, len, "size like 64K or 8M, %s to %s",
                     human(k->min, size_units, size_names, "", lo, sizeof lo),
                     human(k->max, size_units, size_names, "", hi, sizeof hi));
        else
            snprintf(buf, len, "size like 64K or 8M");
        return;
    case CR_CFG_DURATION:
        if (has_bounds(k))
            snprintf(buf, len, "duration like 250ms, 5s, 2m or 1h, %s to %s",
                     human(k->min, duration_units, duration_names, "ms", lo, sizeof lo),
                     human(k->max, duration_units, duration_names, "ms", hi, sizeof hi));
        else
            snprintf(buf, len, "duration like 250ms, 5s, 2m or 1h");
        return;
    }
}

/* A default is written in quotes when libinih would otherwise trim or cut it. */
static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    return n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) || v[0] == '"' ||
                 strchr(v, ';'));
}

void cr_cfg_write_example(const struct cr_cfg_key *keys, size_t nkeys, int fd)
{
    dprintf(fd, "; Every key with what it accepts and its default. Required keys are commented "
                "out:\n; uncomment and set them. Keys marked \"reloads on SIGHUP\" change without "
                "a restart.\n");
    const char *section = NULL;
    char type[512];
    for (size_t i = 0; i < nkeys; i++) {
        const struct cr_cfg_key *k = &keys[i];
        if (!section || strcmp(section, k->section) != 0) {
            section = k->section;
            if (section[0])
                dprintf(fd, "\n[%s]\n", section);
        }
        describe_type(k, type, sizeof type);
        if (k->help && k->help[0])
            dprintf(fd, "; %s\n", k->help);
        dprintf(fd, "; (%s; %s; %s)\n", type, k->default_value ? "optional" : "required",
                k->reloadable ? "reloads on SIGHUP" : "restart needed to change");
        if (!strcmp(k->name, "*"))
            dprintf(fd, ";NAME = value\n");
        else if (!k->default_value)
            dprintf(fd, ";%s =\n", k->name);
        else if (needs_quotes(k->default_value))
            dprintf(fd, "%s = \"%s\"\n", k->name, k->default_value);
        else
            dprintf(fd, "%s =%s%s\n", k->name, k->default_value[0] ? " " : "", k->default_value);
    }
}
