/* carillonctl's pure helpers (no connection, no globals): JSON strings, terminal display width,
 * bounded line reads, the session file's text, and the user commands' argument parsing. */
#ifndef CARILLON_CTLUTIL_H
#define CARILLON_CTLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Input bounds, the same as the server's (server/api/users.c). */
#define CTL_LOGIN_MAX        64  /* bytes */
#define CTL_NAME_MAX_CHARS   128 /* characters (code points) */
#define CTL_NAME_MAX_BYTES   (CTL_NAME_MAX_CHARS * 4)
#define CTL_PASSWORD_MAX     256 /* bytes */
#define CTL_TOKEN_MAX        128 /* bytes */
#define CTL_SERVER_MAX       255 /* bytes of "host:port" */
#define CTL_SESSION_FILE_MAX 1024

/* Decodes one UTF-8 sequence at s (strict: no overlongs, surrogates or values past U+10FFFF).
 * Returns its length (1..4) with *cp set, or -1 for an invalid byte (callers skip one byte). */
int ctl_utf8_decode(const unsigned char *s, uint32_t *cp);
/* Code points in s; each invalid byte counts as one. */
size_t ctl_utf8_chars(const char *s);
/* Columns s takes on a terminal: combining marks and zero-width characters 0, East Asian wide
 * and fullwidth characters (CJK, Hangul, emoji) 2, everything else 1. */
int ctl_display_width(const char *s);
/* Writes s for a terminal (control characters shown as '?', so a name cannot move the cursor)
 * then spaces up to width columns. */
void ctl_pad(FILE *f, const char *s, int width);
/* Writes s as a JSON string with its quotes: UTF-8 kept as is, quotes, backslashes and control
 * characters escaped, an invalid UTF-8 byte written as \ufffd so the output stays valid JSON. */
void ctl_json_string(FILE *f, const char *s);

/* Asks on the terminal (/dev/tty, so stdout stays clean), without echo when secret. 0, -ENXIO
 * (no terminal), -ENODATA (end of input), -EMSGSIZE (answer too long). */
int ctl_prompt_tty(const char *prompt, bool secret, char *buf, size_t len);

/* Reads one line from f into buf (the newline, and a \r before it, dropped). Returns 0,
 * -ENODATA at end of input, or -EMSGSIZE when the line is longer than len - 1 bytes (the rest
 * of that line is consumed, nothing is truncated silently). */
int ctl_read_line(FILE *f, char *buf, size_t len) __attribute__((warn_unused_result));

/* "--timeout" seconds: a decimal number above 0 and at most 3600; *ms gets milliseconds. */
int ctl_parse_timeout(const char *s, unsigned *ms) __attribute__((warn_unused_result));

/* "admin" | "supervisor" | "agent" <-> CARILLON__V1__USER_ROLE__*; 0 when unknown. */
int ctl_role_parse(const char *s);
const char *ctl_role_name(int role);

/* Bounds and shape checks done before anything is sent; 0 or -EINVAL with err filled. */
int ctl_check_login(const char *login, char *err, size_t errlen);
int ctl_check_display_name(const char *name, char *err, size_t errlen);
int ctl_check_password(const char *password, char *err, size_t errlen);

/* --- the session file ---------------------------------------------------------------------- */
struct ctl_session {
    char server[CTL_SERVER_MAX + 1];
    char login[CTL_LOGIN_MAX + 1];
    char token[CTL_TOKEN_MAX + 1];
};

/* The directory holding the session file: config_dir, else xdg/carillon, else
 * home/.config/carillon (each argument may be NULL or empty). 0, -ENOENT, -ENAMETOOLONG. */
int ctl_session_dir(const char *config_dir, const char *xdg, const char *home, char *out,
                    size_t len) __attribute__((warn_unused_result));
/* "server=...\nlogin=...\ntoken=...\n". Returns the length written, or -EINVAL (a value holds
 * a newline or is empty), -ENAMETOOLONG (buf too small). */
int ctl_session_format(const struct ctl_session *s, char *buf, size_t len)
    __attribute__((warn_unused_result));
/* Parses that text; unknown keys are ignored (later versions may add some). 0, or -EINVAL
 * when a key is missing, a value is too long or a line has no '='. */
int ctl_session_parse(const char *text, struct ctl_session *s) __attribute__((warn_unused_result));

/* --- arguments of the user commands (argv after "user add" etc.) ------------------------- */
struct ctl_user_add_args {
    const char *login;
    const char *name; /* "" when not given: the server uses the login */
    int role;         /* CARILLON__V1__USER_ROLE__* */
    bool password_stdin;
};
struct ctl_user_passwd_args {
    const char *login; /* "" = your own */
    bool password_stdin;
};

/* 0 or -EINVAL with err holding a one-line explanation. */
int ctl_parse_user_add(int argc, char **argv, struct ctl_user_add_args *out, char *err,
                       size_t errlen) __attribute__((warn_unused_result));
int ctl_parse_user_passwd(int argc, char **argv, struct ctl_user_passwd_args *out, char *err,
                          size_t errlen) __attribute__((warn_unused_result));
int ctl_parse_user_list(int argc, char **argv, bool *all, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int ctl_parse_user_login(const char *what, int argc, char **argv, const char **login, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* How an incoming Envelope relates to the request in flight (want_rid != 0): 1 it is the reply,
 * 0 not ours (a server push, request_id 0), -EPROTO a reply to another request. An Error with
 * request_id 0 counts as the reply: the server refuses the whole connection that way. */
int ctl_reply_match(uint64_t want_rid, uint64_t got_rid, bool is_error);

/* --- times and words shown to people --------------------------------------------------------
 * The one rule (README "Times"): a time is shown in the viewer's local zone (TZ, else
 * /etc/localtime), its zone always written beside it ("2026-12-05 14:07 CET"); --utc shows
 * UTC instead. JSON carries RFC 3339 with the same zone's offset ("2026-12-05T14:07:00+01:00",
 * "...Z" under --utc). A contact's own zone, when it matters, is a separate column. */
#define CTL_TIME_MAX 40
/* "YYYY-MM-DD HH:MM ZONE" for unix seconds t. 0, or -EINVAL (t out of range). */
int ctl_time_human(int64_t t, bool utc, char *buf, size_t len);
/* "YYYY-MM-DDTHH:MM:SS+HH:MM" (or Z under utc). 0 or -EINVAL. */
int ctl_time_rfc3339(int64_t t, bool utc, char *buf, size_t len);
/* Parses an RFC 3339 time with offset (or Z), seconds optional ("2026-12-05T14:07Z"), or a
 * PostgreSQL text timestamptz ("2026-12-05 13:07:00+00", fractions ignored). 0 or -EINVAL. */
int ctl_time_parse(const char *s, int64_t *t);
/* "1 contact", "2 contacts": writes n and the right form. */
const char *ctl_count(char *buf, size_t len, uint64_t n, const char *one, const char *many);

#endif
