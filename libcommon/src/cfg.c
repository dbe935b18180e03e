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

/* State of one parse: which keys were seen (and on which line), and the first error. */
struct parse {
    const struct cr_cfg_key *keys;
    size_t nkeys;
    const char *path;
    void *out;
    int *seen_line; /* per key: the line it was set on, 0 = not in the file */
    FILE *file;
    int line;
    char *err;
    size_t errlen;
    int failed;
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

static size_t struct_size(const struct cr_cfg_key *keys, size_t nkeys)
{
    size_t max = 0;
    for (size_t i = 0; i < nkeys; i++) {
        size_t end = keys[i].offset + field_size(keys[i].type);
        if (end > max)
            max = end;
    }
    return max;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "64K", "8 MiB", "512" -> bytes. */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -EINVAL;
    while (*end == ' ')
        end++;
    int64_t mult = 1;
    if (*end) {
        char u = (char)toupper((unsigned char)*end);
        const char *rest = end + 1;
        if (u == 'K')
            mult = 1024;
        else if (u == 'M')
            mult = 1024 * 1024;
        else if (u == 'G')
            mult = 1024LL * 1024 * 1024;
        else if (u == 'B' && !*rest)
            rest = end + 1;
        else
            return -EINVAL;
        if (u != 'B' && *rest && strcasecmp(rest, "iB") != 0 && strcasecmp(rest, "B") != 0)
            return -EINVAL;
    }
    if (v > INT64_MAX / mult)
        return -ERANGE;
    *out = v * mult;
    return 0;
}

/* "250ms", "5s", "2m", "1h", "3d", bare number = ms. */
static int parse_duration(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -EINVAL;
    while (*end == ' ')
        end++;
    int64_t mult;
    if (!*end || strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else if (strcmp(end, "d") == 0)
        mult = 86400000;
    else
        return -EINVAL;
    if (v > INT64_MAX / mult)
        return -ERANGE;
    *out = v * mult;
    return 0;
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

/* Parses value into the field of key k in out; on error writes the reason (without location). */
static int set_value(const struct cr_cfg_key *k, const char *value, void *out, char *why,
                     size_t whylen)
{
    char *field = (char *)out + k->offset;
    int rc = 0;
    int64_t v = 0;
    switch (k->type) {
    case CR_CFG_STRING: {
        if (strlen(value) > CFG_STRING_MAX) {
            snprintf(why, whylen, "value longer than %d bytes", CFG_STRING_MAX);
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
        rc = parse_bool(value, (bool *)field);
        if (rc)
            snprintf(why, whylen, "expected true or false (yes/no, on/off, 1/0), got '%s'", value);
        return rc;
    case CR_CFG_ENUM: {
        for (int i = 0; k->enum_values && k->enum_values[i]; i++) {
            if (strcasecmp(value, k->enum_values[i]) == 0) {
                *(int *)field = i;
                goto validate;
            }
        }
        size_t o = (size_t)snprintf(why, whylen, "expected one of: ");
        for (int i = 0; k->enum_values && k->enum_values[i] && o < whylen; i++)
            o += (size_t)snprintf(why + o, whylen - o, "%s%s", i ? ", " : "", k->enum_values[i]);
        if (o < whylen)
            snprintf(why + o, whylen - o, "; got '%s'", value);
        return -EINVAL;
    }
    case CR_CFG_INT:
        rc = parse_int(value, &v);
        if (rc) {
            snprintf(why, whylen, "expected an integer, got '%s'", value);
            return rc;
        }
        goto bounds;
    case CR_CFG_SIZE:
        rc = parse_size(value, &v);
        if (rc) {
            snprintf(why, whylen, "expected a size like 512, 64K, 8M or 1G, got '%s'", value);
            return -EINVAL;
        }
        goto bounds;
    case CR_CFG_DURATION:
        rc = parse_duration(value, &v);
        if (rc) {
            snprintf(why, whylen, "expected a duration like 250ms, 5s, 2m or 1h, got '%s'", value);
            return -EINVAL;
        }
        goto bounds;
    }
    goto validate;
bounds:
    if ((k->min || k->max) && (v < k->min || v > k->max)) {
        snprintf(why, whylen, "expected a value between %lld and %lld, got '%s'", (long long)k->min,
                 (long long)k->max, value);
        return -ERANGE;
    }
    *(int64_t *)field = v;
validate:
    if (k->validate) {
        char verr[512] = "";
        if (k->validate(field, verr, sizeof verr) != 0) {
            snprintf(why, whylen, "%s", verr[0] ? verr : "invalid value");
            return -EINVAL;
        }
    }
    return 0;
}

/* Strips one pair of surrounding double quotes. */
static const char *unquote(const char *value, char *buf, size_t len)
{
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"' && n - 2 < len) {
        memcpy(buf, value + 1, n - 2);
        buf[n - 2] = '\0';
        return buf;
    }
    return value;
}

/* libinih as Debian builds it does not pass line numbers, so the reader counts lines, and
 * refuses a line longer than the library's buffer instead of letting it be split. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char *s = fgets(str, num, p->file);
    if (!s)
        return NULL;
    p->line++;
    size_t n = strlen(s);
    if (n == (size_t)num - 1 && s[n - 1] != '\n' && !feof(p->file) && !p->failed) {
        snprintf(p->err, p->errlen, "%s:%d: line longer than %d bytes", p->path, p->line, num - 2);
        p->failed = -EINVAL;
        return NULL;
    }
    return s;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    int lineno = p->line;
    if (p->failed)
        return 1; /* inih stops on 0; errors are kept in p */
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct cr_cfg_key *k = &p->keys[i];
        if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
            continue;
        if (p->seen_line[i]) {
            snprintf(p->err, p->errlen, "%s:%d: [%s] %s: set twice (first on line %d)", p->path,
                     lineno, section, name, p->seen_line[i]);
            p->failed = -EINVAL;
            return 1; /* inih stops on 0; errors are kept in p */
        }
        p->seen_line[i] = lineno;
        char buf[CFG_STRING_MAX + 3];
        char why[768];
        int rc = set_value(k, unquote(value, buf, sizeof buf), p->out, why, sizeof why);
        if (rc) {
            snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->path, lineno, section, name, why);
            p->failed = rc == -ENOMEM ? -ENOMEM : -EINVAL;
        }
        return 1; /* inih stops on 0; errors are kept in p */
    }
    bool known_section = false;
    for (size_t i = 0; i < p->nkeys; i++)
        if (strcmp(p->keys[i].section, section) == 0)
            known_section = true;
    if (known_section)
        snprintf(p->err, p->errlen, "%s:%d: [%s] %s: unknown key", p->path, lineno, section, name);
    else
        snprintf(p->err, p->errlen, "%s:%d: [%s] %s: unknown section [%s]", p->path, lineno,
                 section, name, section);
    p->failed = -EINVAL;
    return 1; /* inih stops on 0; errors are kept in p */
}

/* Defaults, then the file, into out (zeroed by the caller). */
static int load_into(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *out,
                     char *err, size_t errlen)
{
    char why[768];
    for (size_t i = 0; i < nkeys; i++) {
        if (!keys[i].default_value)
            continue;
        if (set_value(&keys[i], keys[i].default_value, out, why, sizeof why) != 0) {
            snprintf(err, errlen, "built-in default of [%s] %s: %s", keys[i].section, keys[i].name,
                     why);
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
    if (fstat(fileno(f), &st) == 0 && st.st_size > CFG_FILE_MAX) {
        fclose(f);
        snprintf(err, errlen, "%s: file larger than %d bytes", path, CFG_FILE_MAX);
        return -EFBIG;
    }
    struct parse p = {.keys = keys,
                      .nkeys = nkeys,
                      .path = path,
                      .out = out,
                      .seen_line = calloc(nkeys ? nkeys : 1, sizeof(int)),
                      .file = f,
                      .err = err,
                      .errlen = errlen};
    if (!p.seen_line) {
        fclose(f);
        return -ENOMEM;
    }
    int line = ini_parse_stream(read_line, &p, on_ini, &p);
    fclose(f);
    if (!p.failed && line != 0) {
        if (line > 0)
            snprintf(err, errlen, "%s:%d: syntax error (expected 'key = value' or '[section]')",
                     path, line);
        else
            snprintf(err, errlen, "%s: cannot read", path);
        p.failed = -EINVAL;
    }
    for (size_t i = 0; !p.failed && i < nkeys; i++) {
        if (!keys[i].default_value && !p.seen_line[i]) {
            snprintf(err, errlen, "%s: [%s] %s: required key missing", path, keys[i].section,
                     keys[i].name);
            p.failed = -EINVAL;
        }
    }
    free(p.seen_line);
    return p.failed;
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
    if (!fresh)
        return -ENOMEM;
    int rc = load_into(keys, nkeys, path, fresh, err, errlen);
    if (rc) {
        free_string_fields(keys, nkeys, fresh);
        free(fresh);
        return rc;
    }
    size_t wo = 0;
    for (size_t i = 0; i < nkeys; i++) {
        const struct cr_cfg_key *k = &keys[i];
        char *lf = (char *)live + k->offset, *ff = (char *)fresh + k->offset;
        if (field_equal(k, live, fresh))
            continue;
        if (!k->reloadable) {
            if (wo < warnlen)
                wo += (size_t)snprintf(warn + wo, warnlen - wo, "%s[%s] %s", wo ? ", " : "",
                                       k->section, k->name);
            continue;
        }
        if (k->type == CR_CFG_STRING) {
            char *tmp = *(char **)lf;
            *(char **)lf = *(char **)ff;
            *(char **)ff = tmp;
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

static void dprintf_all(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dprintf_all(int fd, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
}

void cr_cfg_write_example(const struct cr_cfg_key *keys, size_t nkeys, int fd)
{
    const char *section = NULL;
    for (size_t i = 0; i < nkeys; i++) {
        const struct cr_cfg_key *k = &keys[i];
        if (!section || strcmp(section, k->section) != 0) {
            section = k->section;
            dprintf_all(fd, "%s[%s]\n", i ? "\n" : "", section);
        }
        dprintf_all(fd, "; %s%s\n", k->help ? k->help : "", k->reloadable ? " (reloadable)" : "");
        if (k->default_value)
            dprintf_all(fd, "%s%s = %s\n", k->default_value[0] ? "" : ";", k->name,
                        k->default_value);
        else
            dprintf_all(fd, "%s =    ; required\n", k->name);
    }
}
