/* carillonctl's pure helpers: JSON strings, display width, bounded line reads, the session
 * file's text and the user commands' arguments. No globals and no I/O but the FILE given. */
#include "ctlutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <termios.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carillon/v1/session.pb-c.h"

/* --- UTF-8 -------------------------------------------------------------------------------- */

int ctl_utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return -1;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return -1;
    *cp = v;
    return len;
}

size_t ctl_utf8_chars(const char *s)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int l = ctl_utf8_decode(p, &cp);
        p += l > 0 ? l : 1;
        n++;
    }
    return n;
}

struct range {
    uint32_t lo, hi;
};

static bool in_ranges(uint32_t cp, const struct range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return true;
    return false;
}

/* A short table rather than wcwidth(3): carillonctl runs in whatever locale the shell has
 * (often C), where wcwidth knows nothing past ASCII. These ranges cover the scripts names are
 * written in; anything else counts one column. */
static const struct range zero_width[] = {
    {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd},   {0x0610, 0x061a}, {0x064b, 0x065f},
    {0x0e31, 0x0e31}, {0x0e34, 0x0e3a}, {0x0e47, 0x0e4e},   {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff},
    {0x200b, 0x200f}, {0x202a, 0x202e}, {0x2060, 0x2064},   {0x20d0, 0x20ff}, {0xfe00, 0xfe0f},
    {0xfe20, 0xfe2f}, {0xfeff, 0xfeff}, {0xe0100, 0xe01ef},
};
static const struct range wide[] = {
    {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
    {0x2614, 0x2615},   {0x2e80, 0x303e},   {0x3041, 0x33ff},   {0x3400, 0x4dbf},
    {0x4e00, 0x9fff},   {0xa000, 0xa4cf},   {0xa960, 0xa97f},   {0xac00, 0xd7a3},
    {0xf900, 0xfaff},   {0xfe10, 0xfe19},   {0xfe30, 0xfe6f},   {0xff00, 0xff60},
    {0xffe0, 0xffe6},   {0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f900, 0x1f9ff},
    {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
};

static int cp_width(uint32_t cp)
{
    if (in_ranges(cp, zero_width, sizeof zero_width / sizeof zero_width[0]))
        return 0;
    if (in_ranges(cp, wide, sizeof wide / sizeof wide[0]))
        return 2;
    return 1;
}

int ctl_display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        int l = ctl_utf8_decode(p, &cp);
        if (l < 0) {
            w++;
            p++;
            continue;
        }
        w += cp_width(cp);
        p += l;
    }
    return w;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

void ctl_pad(FILE *f, const char *s, int width)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        int l = ctl_utf8_decode(p, &cp);
        if (l < 0 || is_control(cp)) {
            fputc('?', f);
            p += l < 0 ? 1 : l;
        } else {
            fwrite(p, 1, (size_t)l, f);
            p += l;
        }
    }
    for (int i = ctl_display_width(s); i < width; i++)
        fputc(' ', f);
}

void ctl_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        int l = ctl_utf8_decode(p, &cp);
        if (l < 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        switch (cp) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\b':
            fputs("\\b", f);
            break;
        case '\f':
            fputs("\\f", f);
            break;
        default:
            if (cp < 0x20 || cp == 0x7f)
                fprintf(f, "\\u%04x", (unsigned)cp);
            else
                fwrite(p, 1, (size_t)l, f);
        }
        p += l;
    }
    fputc('"', f);
}

/* --- input -------------------------------------------------------------------------------- */

int ctl_read_line(FILE *f, char *buf, size_t len)
{
    if (len < 2)
        return -EMSGSIZE;
    if (!fgets(buf, (int)len, f))
        return -ENODATA;
    size_t n = strcspn(buf, "\n");
    if (buf[n] != '\n' && !feof(f)) {
        /* No newline in the full buffer: unless it comes next, the line goes on. Eat the rest
         * so the next read starts on the next line. */
        int c = fgetc(f);
        if (c != '\n' && c != EOF) {
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            buf[0] = '\0';
            return -EMSGSIZE;
        }
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

int ctl_parse_timeout(const char *s, unsigned *ms)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double t = strtod(s, &end);
    if (errno || *end || end == s || !(t > 0) || t > 3600)
        return -EINVAL;
    unsigned v = (unsigned)(t * 1000.0 + 0.5);
    *ms = v ? v : 1;
    return 0;
}

int ctl_role_parse(const char *s)
{
    if (!s)
        return 0;
    if (strcmp(s, "admin") == 0)
        return CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN;
    if (strcmp(s, "supervisor") == 0)
        return CARILLON__V1__USER_ROLE__USER_ROLE_SUPERVISOR;
    if (strcmp(s, "agent") == 0)
        return CARILLON__V1__USER_ROLE__USER_ROLE_AGENT;
    return 0;
}

const char *ctl_role_name(int role)
{
    switch (role) {
    case CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN:
        return "admin";
    case CARILLON__V1__USER_ROLE__USER_ROLE_SUPERVISOR:
        return "supervisor";
    case CARILLON__V1__USER_ROLE__USER_ROLE_AGENT:
        return "agent";
    default:
        return "unknown";
    }
}

int ctl_check_login(const char *login, char *err, size_t errlen)
{
    if (!login || !*login) {
        snprintf(err, errlen, "the login is empty");
        return -EINVAL;
    }
    if (strlen(login) > CTL_LOGIN_MAX) {
        snprintf(err, errlen, "the login is longer than %d bytes", CTL_LOGIN_MAX);
        return -EINVAL;
    }
    return 0;
}

int ctl_check_display_name(const char *name, char *err, size_t errlen)
{
    if (strlen(name) > CTL_NAME_MAX_BYTES || ctl_utf8_chars(name) > CTL_NAME_MAX_CHARS) {
        snprintf(err, errlen, "the display name is longer than %d characters", CTL_NAME_MAX_CHARS);
        return -EINVAL;
    }
    return 0;
}

int ctl_check_password(const char *password, char *err, size_t errlen)
{
    if (!password || !*password) {
        snprintf(err, errlen, "the password is empty");
        return -EINVAL;
    }
    if (strlen(password) > CTL_PASSWORD_MAX) {
        snprintf(err, errlen, "the password is longer than %d bytes", CTL_PASSWORD_MAX);
        return -EINVAL;
    }
    return 0;
}

/* --- the session file --------------------------------------------------------------------- */

int ctl_session_dir(const char *config_dir, const char *xdg, const char *home, char *out,
                    size_t len)
{
    const char *base, *suffix;
    if (config_dir && *config_dir)
        base = config_dir, suffix = "";
    else if (xdg && *xdg)
        base = xdg, suffix = "/carillon";
    else if (home && *home)
        base = home, suffix = "/.config/carillon";
    else
        return -ENOENT;
    /* Lengths checked first: a cut path would name another directory. */
    size_t b = strlen(base), x = strlen(suffix);
    if (b + x >= len)
        return -ENAMETOOLONG;
    memcpy(out, base, b);
    memcpy(out + b, suffix, x + 1);
    return 0;
}

static bool one_line(const char *v)
{
    return v[0] && !strchr(v, '\n') && !strchr(v, '\r');
}

int ctl_session_format(const struct ctl_session *s, char *buf, size_t len)
{
    if (!one_line(s->server) || !one_line(s->login) || !one_line(s->token))
        return -EINVAL;
    int n = snprintf(buf, len, "server=%s\nlogin=%s\ntoken=%s\n", s->server, s->login, s->token);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

static int set_value(char *dst, size_t dstlen, const char *v, size_t vlen)
{
    if (vlen == 0 || vlen >= dstlen)
        return -EINVAL;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return 0;
}

int ctl_session_parse(const char *text, struct ctl_session *s)
{
    memset(s, 0, sizeof *s);
    const char *p = text;
    while (*p) {
        size_t linelen = strcspn(p, "\n");
        const char *eq = memchr(p, '=', linelen);
        if (linelen > 0 && !eq)
            return -EINVAL;
        if (eq) {
            size_t klen = (size_t)(eq - p), vlen = linelen - klen - 1;
            int rc = 0;
            if (klen == 6 && memcmp(p, "server", 6) == 0)
                rc = set_value(s->server, sizeof s->server, eq + 1, vlen);
            else if (klen == 5 && memcmp(p, "login", 5) == 0)
                rc = set_value(s->login, sizeof s->login, eq + 1, vlen);
            else if (klen == 5 && memcmp(p, "token", 5) == 0)
                rc = set_value(s->token, sizeof s->token, eq + 1, vlen);
            if (rc)
                return rc;
        }
        p += linelen;
        if (*p == '\n')
            p++;
    }
    return s->server[0] && s->login[0] && s->token[0] ? 0 : -EINVAL;
}

/* --- arguments ---------------------------------------------------------------------------- */

static int arg_error(char *err, size_t errlen, const char *fmt, const char *a)
{
    snprintf(err, errlen, fmt, a);
    return -EINVAL;
}

int ctl_parse_user_add(int argc, char **argv, struct ctl_user_add_args *out, char *err,
                       size_t errlen)
{
    const char *role = NULL;
    memset(out, 0, sizeof *out);
    out->name = "";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--role") == 0 || strcmp(a, "--name") == 0) {
            if (i + 1 >= argc)
                return arg_error(err, errlen, "user add: %s needs a value", a);
            if (a[2] == 'r')
                role = argv[++i];
            else
                out->name = argv[++i];
        } else if (strncmp(a, "--role=", 7) == 0) {
            role = a + 7;
        } else if (strncmp(a, "--name=", 7) == 0) {
            out->name = a + 7;
        } else if (strcmp(a, "--password-stdin") == 0) {
            out->password_stdin = true;
        } else if (a[0] == '-' && a[1]) {
            return arg_error(err, errlen, "user add: unknown option '%s'", a);
        } else if (!out->login) {
            out->login = a;
        } else {
            return arg_error(err, errlen, "user add: unexpected argument '%s'", a);
        }
    }
    if (!out->login)
        return arg_error(err, errlen, "user add needs a LOGIN%s", "");
    if (!role)
        return arg_error(err, errlen, "user add needs --role admin|supervisor|agent%s", "");
    out->role = ctl_role_parse(role);
    if (!out->role)
        return arg_error(err, errlen, "--role must be admin, supervisor or agent, not '%s'", role);
    if (ctl_check_login(out->login, err, errlen) || ctl_check_display_name(out->name, err, errlen))
        return -EINVAL;
    return 0;
}

int ctl_parse_user_passwd(int argc, char **argv, struct ctl_user_passwd_args *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->login = "";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--password-stdin") == 0)
            out->password_stdin = true;
        else if (a[0] == '-' && a[1])
            return arg_error(err, errlen, "user passwd: unknown option '%s'", a);
        else if (!out->login[0])
            out->login = a;
        else
            return arg_error(err, errlen, "user passwd: unexpected argument '%s'", a);
    }
    if (out->login[0] && ctl_check_login(out->login, err, errlen))
        return -EINVAL;
    return 0;
}

int ctl_parse_user_list(int argc, char **argv, bool *all, char *err, size_t errlen)
{
    *all = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            *all = true;
        else
            return arg_error(err, errlen, "user list: unexpected argument '%s'", argv[i]);
    }
    return 0;
}

int ctl_parse_user_login(const char *what, int argc, char **argv, const char **login, char *err,
                         size_t errlen)
{
    if (argc != 1 || (argv[0][0] == '-' && argv[0][1])) {
        snprintf(err, errlen, "user %s needs exactly one LOGIN", what);
        return -EINVAL;
    }
    *login = argv[0];
    return ctl_check_login(*login, err, errlen);
}

int ctl_reply_match(uint64_t want_rid, uint64_t got_rid, bool is_error)
{
    if (got_rid == want_rid)
        return 1;
    if (got_rid == 0)
        return is_error ? 1 : 0;
    return -EPROTO;
}

/* The terminal's settings while echo is off, restored if a signal ends the prompt. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_saved_fd = -1;

static void restore_tty_and_die(int sig)
{
    if (tty_saved_fd >= 0)
        tcsetattr(tty_saved_fd, TCSAFLUSH, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Asks on the terminal (/dev/tty, so stdout stays clean for --json), without echo when
 * secret. 0, -ENXIO (no terminal), -ENODATA (end of input), -EMSGSIZE (answer too long). */
int ctl_prompt_tty(const char *prompt, bool secret, char *buf, size_t len)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -ENXIO;
    int fd = fileno(tty);
    bool quiet = false;
    struct sigaction sa = {.sa_handler = restore_tty_and_die}, old_int, old_term;
    /* Echo goes off before the prompt shows (as getpass does): an answer typed as soon as the
     * prompt appears must not be caught by the flush nor echoed. */
    if (secret && tcgetattr(fd, &tty_saved) == 0) {
        struct termios t = tty_saved;
        t.c_lflag &= ~(tcflag_t)ECHO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        tty_saved_fd = fd;
        quiet = tcsetattr(fd, TCSAFLUSH, &t) == 0;
    }
    fprintf(tty, "%s", prompt);
    fflush(tty);
    int rc = ctl_read_line(tty, buf, len);
    if (secret && tty_saved_fd >= 0) {
        if (quiet)
            tcsetattr(fd, TCSANOW, &tty_saved); /* keeps what was typed ahead */
        tty_saved_fd = -1;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        fprintf(tty, "\n");
    }
    fclose(tty);
    return rc;
}

/* --- times and words ---------------------------------------------------------------------- */

/* Years 1..9999: what RFC 3339 can write. */
#define CTL_TIME_MIN (-62135596800LL)
#define CTL_TIME_LIM (253402300800LL)

static int broken_down(int64_t t, bool utc, struct tm *tm)
{
    if (t < CTL_TIME_MIN || t >= CTL_TIME_LIM)
        return -EINVAL;
    time_t tt = (time_t)t;
    if (!(utc ? gmtime_r(&tt, tm) : localtime_r(&tt, tm)))
        return -EINVAL;
    return 0;
}

int ctl_time_human(int64_t t, bool utc, char *buf, size_t len)
{
    struct tm tm;
    if (broken_down(t, utc, &tm))
        return -EINVAL;
    if (strftime(buf, len, utc ? "%Y-%m-%d %H:%M UTC" : "%Y-%m-%d %H:%M %Z", &tm) == 0)
        return -EINVAL;
    return 0;
}

int ctl_time_rfc3339(int64_t t, bool utc, char *buf, size_t len)
{
    struct tm tm;
    if (broken_down(t, utc, &tm))
        return -EINVAL;
    char date[32];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -EINVAL;
    long off = utc ? 0 : tm.tm_gmtoff;
    int n;
    if (off == 0 && utc)
        n = snprintf(buf, len, "%sZ", date);
    else
        n = snprintf(buf, len, "%s%c%02ld:%02ld", date, off < 0 ? '-' : '+', labs(off) / 3600,
                     labs(off) % 3600 / 60);
    return n > 0 && (size_t)n < len ? 0 : -EINVAL;
}

static const char *digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NULL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return s + n;
}

int ctl_time_parse(const char *s, int64_t *t)
{
    int y, mo, d, h, mi, sec = 0;
    const char *p = s;
    if (!(p = digits(p, 4, &y)) || *p++ != '-' || !(p = digits(p, 2, &mo)) || *p++ != '-' ||
        !(p = digits(p, 2, &d)) || (*p != 'T' && *p != ' ') || !(p = digits(p + 1, 2, &h)) ||
        *p++ != ':' || !(p = digits(p, 2, &mi)))
        return -EINVAL;
    if (*p == ':' && !(p = digits(p + 1, 2, &sec)))
        return -EINVAL;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!(p = digits(p, 2, &oh)))
            return -EINVAL;
        if (*p == ':')
            p++;
        if (*p && !(p = digits(p, 2, &om)))
            return -EINVAL;
        if (oh > 23 || om > 59)
            return -EINVAL;
        off = sign * (oh * 3600L + om * 60L);
    } else {
        return -EINVAL; /* no offset: ambiguous */
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t u = timegm(&tm);
    if (tm.tm_mday != d) /* 31 February */
        return -EINVAL;
    *t = (int64_t)u - off;
    return 0;
}

const char *ctl_count(char *buf, size_t len, uint64_t n, const char *one, const char *many)
{
    snprintf(buf, len, "%llu %s", (unsigned long long)n, n == 1 ? one : many);
    return buf;
}
