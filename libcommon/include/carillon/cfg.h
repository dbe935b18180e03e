/* Configuration: INI files read with libinih against one table of keys per daemon. Every key
 * has a type, a default, bounds or a validator, and says whether SIGHUP may change it. Unknown
 * keys and bad values are errors naming the file, the line and the key. Reload is all or
 * nothing. */
#ifndef CARILLON_CFG_H
#define CARILLON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cr_cfg_type {
    CR_CFG_STRING, /* char * (malloc'd, freed by cr_cfg_free) */
    CR_CFG_INT,    /* int64_t, within [min, max] */
    CR_CFG_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
    CR_CFG_SIZE,   /* int64_t bytes; accepts 512, 64K, 8M, 1G (powers of 1024), within [min, max] */
    CR_CFG_DURATION, /* int64_t milliseconds; accepts 250ms, 5s, 2m, 1h (bare number = ms) */
    CR_CFG_ENUM,     /* int: index into enum_values */
};

struct cr_cfg_key {
    const char *section; /* "" for keys before any [section] */
    const char *name;
    enum cr_cfg_type type;
    const char *default_value;      /* text as in the file; NULL = required key */
    bool reloadable;                /* may SIGHUP change it? */
    size_t offset;                  /* offsetof(the daemon's config struct, field) */
    int64_t min, max;               /* INT/SIZE/DURATION bounds; min == max == 0 means none */
    const char *const *enum_values; /* NULL-terminated, for CR_CFG_ENUM */
    /* Extra check on the parsed value (a pointer to the field). Returns 0 or writes a reason
     * into err and returns -EINVAL. May be NULL. */
    int (*validate)(const void *value, char *err, size_t errlen);
    const char *help; /* one line, for the example file and --help-config */
};
/* A CR_CFG_STRING key named "*" makes its section free: every "NAME = value" in it is accepted
 * and appended to the field as "NAME=value\n" (default ""), for the daemon to check. */

/* Loads path into out (a zeroed config struct): defaults first, then the file. On error
 * returns -EINVAL (or -errno when the file cannot be read) with err holding
 * "FILE:LINE: [section] key: reason" and out left without allocations. */
int cr_cfg_load(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *out, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/* Reloads path into live (already loaded) all or nothing: the file is parsed into a fresh
 * struct; on any error live is untouched and -EINVAL is returned with err. On success the
 * reloadable keys take their new values; a changed non-reloadable key keeps its old value and
 * is named in warn (", "-separated, "" when none) so the caller can log "restart needed". */
int cr_cfg_reload(const struct cr_cfg_key *keys, size_t nkeys, const char *path, void *live,
                  char *err, size_t errlen, char *warn, size_t warnlen)
    __attribute__((warn_unused_result));

/* Frees the strings of a loaded struct. */
void cr_cfg_free(const struct cr_cfg_key *keys, size_t nkeys, void *cfg);

/* Writes an example INI file documenting every key (help, default, reloadable) to fd. */
void cr_cfg_write_example(const struct cr_cfg_key *keys, size_t nkeys, int fd);

#endif
