/* Logging: one line per event on stderr, in key=value text or JSON lines (see log.h). */
#include "carillon/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define Q_RING       8
#define Q_SIZE       512

static char log_component[32] = "carillon";
static enum cr_log_level log_level = CR_LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void cr_log_init(const char *component, enum cr_log_level level, bool json)
{
    snprintf(log_component, sizeof log_component, "%s", component ? component : "carillon");
    log_level = level;
    log_json = json;
}

void cr_log_set_level(enum cr_log_level level)
{
    log_level = level;
}

void cr_log_set_json(bool json)
{
    log_json = json;
}

bool cr_log_enabled(enum cr_log_level level)
{
    return level >= log_level;
}

int cr_log_level_parse(const char *s, enum cr_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (s && strcasecmp(s, names[i]) == 0) {
            *out = (enum cr_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *cr_log_q(const char *s)
{
    static _Thread_local char ring[Q_RING][Q_SIZE];
    static _Thread_local unsigned next;
    char *out = ring[next++ % Q_RING];
    size_t o = 0;
    if (!s)
        s = "";
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (o + 8 >= Q_SIZE) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, Q_SIZE - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* Appends s to buf as JSON string content; returns the new length (bounded by cap). */
static size_t json_append(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    for (size_t i = 0; i < n && len + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            buf[len++] = '\\';
            buf[len++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

/* Converts "k=v k2=\"quoted v\"" into JSON members appended to buf. Values produced by
 * cr_log_q are unescaped first so that JSON carries the original text. */
static size_t kv_to_json(char *buf, size_t len, size_t cap, const char *kv)
{
    const char *p = kv;
    char val[LOG_LINE_MAX];
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - k);
        size_t vlen = 0;
        if (*p == '=') {
            p++;
            if (*p == '"') {
                p++;
                while (*p && *p != '"' && vlen + 1 < sizeof val) {
                    if (*p == '\\' && p[1]) {
                        p++;
                        if (*p == 'n') {
                            val[vlen++] = '\n';
                            p++;
                            continue;
                        }
                        if (*p == 'x' && isxdigit((unsigned char)p[1]) &&
                            isxdigit((unsigned char)p[2])) {
                            char hex[3] = {p[1], p[2], 0};
                            val[vlen++] = (char)strtol(hex, NULL, 16);
                            p += 3;
                            continue;
                        }
                    }
                    val[vlen++] = *p++;
                }
                if (*p == '"')
                    p++;
            } else {
                while (*p && *p != ' ' && vlen + 1 < sizeof val)
                    val[vlen++] = *p++;
            }
        }
        if (len + klen + 16 >= cap)
            break;
        buf[len++] = ',';
        buf[len++] = '"';
        len = json_append(buf, len, cap, k, klen);
        buf[len++] = '"';
        buf[len++] = ':';
        buf[len++] = '"';
        len = json_append(buf, len, cap, val, vlen);
        if (len + 2 < cap)
            buf[len++] = '"';
    }
    return len;
}

void cr_log_write(enum cr_log_level level, const char *event, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char kv[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kv, sizeof kv, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", (long)(tv.tv_usec / 1000));

    char line[LOG_LINE_MAX + 256];
    size_t len;
    const char *lv = level_names[level <= CR_LOG_ERROR ? level : CR_LOG_ERROR];
    if (log_json) {
        len = (size_t)snprintf(line, sizeof line,
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"event\":\"",
                               ts, lv, log_component);
        len = json_append(line, len, sizeof line, event, strlen(event));
        line[len++] = '"';
        len = kv_to_json(line, len, sizeof line - 4, kv);
        line[len++] = '}';
    } else {
        len = (size_t)snprintf(line, sizeof line, "%s %s %s %s%s%s", ts, lv, log_component, event,
                               kv[0] ? " " : "", kv);
        if (len > sizeof line - 2)
            len = sizeof line - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
