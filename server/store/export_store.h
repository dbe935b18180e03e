/* SQL of contact exports: the columns an export may name, and one query in one read-only
 * transaction on a connection of its own, read through a cursor a bounded batch at a time. */
#ifndef CARILLON_EXPORT_STORE_H
#define CARILLON_EXPORT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "carillon/pg.h"
#include "contacts/filter.h"

/* Every column, for an export that names none: the contact's state and history (then the
 * campaign's declared fields). Its "phone" entry stands for the number columns, which an
 * export without named columns expands to phone1, phone1_type, phone1_state, phone2, ... up to
 * the most numbers a contact of the campaign has (store_export_begin). */
extern const char *const store_export_columns[];
extern const size_t store_export_ncolumns;
/* At most this many columns in one export. */
#define STORE_EXPORT_MAX_COLUMNS 250
/* Number columns: phone1..phone8 (a contact holds at most 8 numbers, api/contacts.c), each with
 * its _type (mobile, home, work, other) and _state (scheduled, waiting, blocked, ...). */
#define STORE_EXPORT_MAX_PHONES 8
enum store_export_phone_part { STORE_PHONE_NUMBER, STORE_PHONE_TYPE, STORE_PHONE_STATE };
/* true when name is a number column ("phone2_type": slot 1, STORE_PHONE_TYPE). */
bool store_export_phone_column(const char *name, unsigned *slot,
                               enum store_export_phone_part *part);
/* The name of a number column (a static string); slot < STORE_EXPORT_MAX_PHONES. */
const char *store_export_phone_name(unsigned slot, enum store_export_phone_part part);

/* Callbacks get err: 0; -EIO with the database's message; -ECONNRESET; -ECANCELED when the
 * connection is being closed (the caller's state may be going away: touch nothing). A call
 * that fails to queue returns a negative errno and never runs its callback. */
typedef void (*store_export_done_cb)(void *arg, int err, const char *message);

/* On the export's own connection: opens a read-only, repeatable-read transaction (the export's
 * one snapshot) and counts, in it, the most numbers a contact of the campaign holds (0 for a
 * campaign without contacts, or an unknown one); store_export_open follows on the same
 * connection. */
typedef void (*store_export_begun_cb)(void *arg, int err, const char *message, unsigned numbers);
int store_export_begin(struct cr_pg *pg, const char *campaign, store_export_begun_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* What an export reads: the campaign's contacts matching filter (compiled with its first
 * parameter at $2; where NULL: all), these columns, by id. custom: the declared fields.
 * question[i] (NULL: none) says columns[i] is a question's export name: its cell holds the
 * answer of the contact's last finished interview (store_export_questions). */
struct store_export_query {
    const char *campaign;
    const char *const *columns;
    const bool *question;
    size_t ncolumns;
    const struct cr_filter_field *custom;
    size_t ncustom;
    const struct cr_filter_sql *filter;
};
/* Inside the transaction store_export_begin opened: declares the cursor. -ENOENT (nothing queued)
 * with unknown naming the first unknown column. */
int store_export_open(struct cr_pg *pg, const struct store_export_query *q, const char **unknown,
                      store_export_done_cb cb, void *arg) __attribute__((warn_unused_result));

/* The campaign's questions (script blocks with an export name), in script order: names valid
 * during the callback only; n 0 for a campaign without a script (or none at all). */
typedef void (*store_export_questions_cb)(void *arg, int err, const char *const *names, size_t n);
int store_export_questions(struct cr_pg *pg, const char *campaign, store_export_questions_cb cb,
                           void *arg) __attribute__((warn_unused_result));

/* One batch of rows; values valid during the callback only. */
struct store_export_rows {
    size_t nrows, ncolumns;
    const PGresult *res;
};
static inline const char *store_export_value(const struct store_export_rows *r, size_t row,
                                             size_t col)
{
    return PQgetvalue(r->res, (int)row, (int)col);
}
static inline size_t store_export_length(const struct store_export_rows *r, size_t row, size_t col)
{
    return (size_t)PQgetlength(r->res, (int)row, (int)col);
}
typedef void (*store_export_rows_cb)(void *arg, int err, const char *message,
                                     const struct store_export_rows *rows);
/* The next at most max_rows rows of the cursor (none: the end). */
int store_export_fetch(struct cr_pg *pg, unsigned max_rows, store_export_rows_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
