/* The contact filter language: a supervisor's expression such as
 *   state = 'waiting' and (city like 'Ly%' or age >= 60) and next_try < now + 2h
 * is parsed into a tree and compiled to a parameterised SQL condition over the contacts table
 * (alias c): field names are checked against the known columns and the campaign's declared
 * fields, values only ever travel as parameters. */
#ifndef CARILLON_FILTER_H
#define CARILLON_FILTER_H

#include <stddef.h>

#define CR_FILTER_MAX_TEXT       4096 /* bytes of expression */
#define CR_FILTER_MAX_PARAMS     256
#define CR_FILTER_MAX_DEPTH      32
#define CR_FILTER_MAX_DURATION_S (100LL * 366 * 86400) /* now ± this at most */

enum cr_filter_type {
    CR_FT_TEXT,
    CR_FT_NUMBER,
    CR_FT_TIMESTAMP, /* compared with 'YYYY-MM-DD[ HH:MM]' or now +/- a duration */
    CR_FT_BOOL,
};

/* A field the filter may name: its name, type and the SQL expression it stands for. */
struct cr_filter_field {
    const char *name;
    enum cr_filter_type type;
    const char *sql; /* e.g. "c.next_try"; NULL for a custom field: (c.fields->>'name') */
};

struct cr_filter_sql {
    char *where;   /* a condition, "(...)", with $first_param.. placeholders */
    char **params; /* text values, owned */
    int nparams;
};

/* Compiles text. custom: the campaign's declared fields (type and name; sql NULL), may be NULL.
 * first_param: the number of the first placeholder ($3 when the caller already uses $1, $2).
 * On error returns -EINVAL with err like "unknown field 'ville' at column 12". */
int cr_filter_compile(const char *text, const struct cr_filter_field *custom, size_t ncustom,
                      int first_param, struct cr_filter_sql *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void cr_filter_sql_free(struct cr_filter_sql *s);

/* A sort: "next_try,-priority" (a comma list of columns, '-' before one for descending) into an
 * ORDER BY list over contacts c ("c.next_try ASC NULLS LAST, c.priority DESC NULLS LAST, c.id"):
 * empty values last either way, ties by id. Columns: the standard fields with a column of their
 * own (not phone, phone_type, phone_state) and the declared fields (custom, as for
 * cr_filter_compile); the SQL comes from those tables, never from text. Empty text: "c.id".
 * *order_by is malloc'd (the caller frees it). -EINVAL with err naming the column and listing
 * the sortable ones. */
#define CR_FILTER_SORT_MAX_TEXT 1024
#define CR_FILTER_SORT_MAX_KEYS 64
int cr_filter_sort_compile(const char *text, const struct cr_filter_field *custom, size_t ncustom,
                           char **order_by, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The standard contact fields (for help texts and column lists). */
extern const struct cr_filter_field cr_filter_standard_fields[];
extern const size_t cr_filter_standard_nfields;

#endif
