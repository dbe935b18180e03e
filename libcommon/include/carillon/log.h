/* Logging: one line per event on stderr, "TIME LEVEL component event key=value ...", or one
 * JSON object per line. Values with spaces or quotes must be passed through cr_log_q(). */
#ifndef CARILLON_LOG_H
#define CARILLON_LOG_H

#include <stdbool.h>

enum cr_log_level {
    CR_LOG_DEBUG = 0,
    CR_LOG_INFO = 1,
    CR_LOG_WARN = 2,
    CR_LOG_ERROR = 3,
};

/* component: short process name ("server", "dialerd"), copied. */
void cr_log_init(const char *component, enum cr_log_level level, bool json);
void cr_log_set_level(enum cr_log_level level);
void cr_log_set_json(bool json);
/* Parses "debug", "info", "warn", "error"; returns 0 or -EINVAL. */
int cr_log_level_parse(const char *s, enum cr_log_level *out) __attribute__((warn_unused_result));
bool cr_log_enabled(enum cr_log_level level);

/* event: a stable snake_case name ("listening", "login_failed"); fmt: space-separated key=value
 * pairs, printf-style. Thread-safe: each line is written with a single write(2). */
void cr_log_write(enum cr_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes a value for a key=value line ("a b" -> "\"a b\""), escaping quotes, backslashes and
 * control characters. Returns one of a small ring of thread-local buffers (8 of 512 bytes), so
 * up to 8 calls may appear in one cr_log_write; longer values are cut with "...". */
const char *cr_log_q(const char *s);

#define cr_log_debug(event, ...)                                                                   \
    do {                                                                                           \
        if (cr_log_enabled(CR_LOG_DEBUG))                                                          \
            cr_log_write(CR_LOG_DEBUG, event, __VA_ARGS__);                                        \
    } while (0)
#define cr_log_info(event, ...)  cr_log_write(CR_LOG_INFO, event, __VA_ARGS__)
#define cr_log_warn(event, ...)  cr_log_write(CR_LOG_WARN, event, __VA_ARGS__)
#define cr_log_error(event, ...) cr_log_write(CR_LOG_ERROR, event, __VA_ARGS__)

#endif
