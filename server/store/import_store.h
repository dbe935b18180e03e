/* SQL of contact file imports (STYLE.md habit 7): the campaign's fields, the import's
 * transaction on a connection of its own (settings, staging table, list), the staged rows'
 * COPY, the set-based merge into contacts and addresses, and the commit. */
#ifndef CARILLON_IMPORT_STORE_H
#define CARILLON_IMPORT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/pg.h"
#include "carillon/strbuf.h"

/* Every callback below gets err: 0; -EIO with the database's message; -ECONNRESET (the
 * connection was lost); -ECANCELED when the connection is being closed (cr_pg_close), in
 * which case the caller's state may be going away and must not be touched. A call that fails
 * to queue returns a negative errno and never runs its callback. */
typedef void (*store_import_done_cb)(void *arg, int err, const char *message);

/* The campaign's declared fields (name and type, in position order) and the time zone names
 * the database knows (unsorted). Pointers are valid during the callback only. */
struct store_import_fields {
    size_t nfields;
    const char **names;
    const char **types;
    size_t nzones;
    const char **zones;
};
typedef void (*store_import_fields_cb)(void *arg, int err, const struct store_import_fields *f);
/* On the server's shared connection; the zones only when with_zones (nzones 0 otherwise). */
int store_import_fields(struct cr_pg *pg, const char *campaign, bool with_zones,
                        store_import_fields_cb cb, void *arg) __attribute__((warn_unused_result));

/* What an import's transaction starts with. */
struct store_import_start {
    const char *campaign;
    const char *list; /* created, or reused when the campaign has it */
    int64_t user_id;
    const char *country; /* the list's default country */
    const char *caller_id;
    int64_t work_mem_kb; /* the backend's work_mem and temp_buffers for this import */
};
/* The list the rows go to; err -ENOENT when the campaign is gone. */
struct store_import_list {
    int64_t list_id;
    int64_t campaign_id;
    const char *campaign_tz; /* valid during the callback only */
};
typedef void (*store_import_list_cb)(void *arg, int err, const char *message,
                                     const struct store_import_list *l);
/* On the import's own connection: opens the transaction (every later call runs inside it until
 * store_import_commit), sizes the backend's memory, creates the staging table and the list.
 * step_cb is told of a failing preparatory statement (it may run before cb, which then fails
 * too: the transaction is aborted). */
int store_import_begin(struct cr_pg *pg, const struct store_import_start *s,
                       store_import_done_cb step_cb, store_import_list_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* One good row of the file, normalised. Strings may be NULL (stored as empty; dkey NULL never
 * matches another row). phones, types and pcols are \x1f-joined, in slot order; pcols holds the
 * 0-based file column each number came from. seq numbers the file's rows (1, 2, ...: unique,
 * in file order), line is where the row starts in the file (for people). */
#define STORE_IMPORT_SEP   "\x1f"
#define STORE_IMPORT_NTEXT 10
/* The standard text columns an import fills, in struct store_import_row.texts order. */
extern const char *const store_import_text_columns[STORE_IMPORT_NTEXT];
struct store_import_row {
    uint64_t seq;
    uint32_t line;
    const char *phones;
    const char *types;
    const char *pcols;
    const char *time_zone; /* "" or NULL: from the number, else the campaign's */
    const char *texts[STORE_IMPORT_NTEXT];
    const char *fields_json; /* the declared fields, a JSON object */
    bool consent;
    const char *dkey; /* the de-duplication key */
};
/* Appends row to chunk, the text of a staging COPY (bounded by chunk's own maximum). Returns
 * chunk's sticky error, so a caller may add many rows and check chunk->err once. */
int store_import_row_add(struct cr_strbuf *chunk, const struct store_import_row *row);
/* COPYs a chunk built by store_import_row_add into the staging table. */
int store_import_stage(struct cr_pg *pg, const char *chunk, size_t len, store_import_done_cb cb,
                       void *arg) __attribute__((warn_unused_result));

/* How the merge drops duplicates: none; the first number (against the file and the campaign);
 * a standard text column (key: its name in store_import_text_columns) or a declared field
 * (key: its name). */
enum store_import_dedup {
    STORE_DEDUP_NONE,
    STORE_DEDUP_PHONE,
    STORE_DEDUP_COLUMN,
    STORE_DEDUP_FIELD,
};
/* A row not imported because one of its numbers is already held: by a contact of the campaign
 * (contact != 0) or by an earlier row of the file (holder_line). */
struct store_import_held {
    uint32_t line;
    const char *number; /* E.164 */
    int column;         /* 0-based file column of that number */
    int64_t contact;
    uint32_t holder_line;
};
#define STORE_IMPORT_MAX_HELD 10000
/* held: at most STORE_IMPORT_MAX_HELD rows, in file order; valid during the callback only. */
typedef void (*store_import_merged_cb)(void *arg, int err, const char *message, uint64_t imported,
                                       uint64_t blocked, const struct store_import_held *held,
                                       size_t nheld);
/* Merges the staged rows into contacts and addresses. The key rule (dedup): the first row of
 * each key in the file, keys a not-deleted contact of the campaign already has dropped. The
 * number rule, unless allow_duplicate_numbers: a row one of whose numbers a not-deleted contact
 * of the campaign holds, or an earlier row of the file that passed the key rule holds, is
 * dropped too (reported in held). Blacklisted numbers are blocked. -EINVAL (nothing queued)
 * for an unknown column. */
int store_import_merge(struct cr_pg *pg, const struct store_import_list *l,
                       enum store_import_dedup dedup, const char *key, bool allow_duplicate_numbers,
                       store_import_merged_cb cb, void *arg) __attribute__((warn_unused_result));

/* Rolls the transaction back (nothing was imported: no empty list is left behind). */
int store_import_rollback(struct cr_pg *pg, store_import_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Commits; err -ECONNABORTED when the transaction had failed before (PostgreSQL then answers
 * COMMIT with ROLLBACK): nothing of the import is stored. */
int store_import_commit(struct cr_pg *pg, store_import_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
