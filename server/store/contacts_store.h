/* SQL for contacts, their lists, blacklists and saved filters. Callers pass C values (and the
 * filter compiler's parameterised condition); results come back as rows in the column order each
 * function documents, valid during the callback only. */
#ifndef CARILLON_CONTACTS_STORE_H
#define CARILLON_CONTACTS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "carillon/pg.h"
#include "contacts/filter.h"

/* The standard text columns a contact may be given directly, in contacts' order. */
extern const char *const store_contact_text_columns[];
#define STORE_CONTACT_NTEXT 10

/* Rows: name, type, of campaign's declared fields, in their order. */
int store_campaign_fields(struct cr_pg *pg, const char *campaign, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

struct store_contact_new {
    const char *campaign, *list, *agent, *time_zone, *next_try, *country;
    int64_t created_by;
    int priority;
    bool top_priority, consent;
    const char *text[STORE_CONTACT_NTEXT]; /* NULL: empty */
    char *const *field_names;              /* declared fields */
    char *const *field_values;
    size_t nfields;
    char *const *numbers; /* E.164 */
    char *const *types;
    size_t nnumbers;
    bool allow_duplicate_numbers; /* else refused when a contact of the campaign holds one */
};
/* One transaction under the campaign's STORE_LOCK_NUMBERS lock; its last result holds the
 * rows, one per number: contact id, time zone, number, type, state, held ("f") (none: no such
 * campaign). Unless allow_duplicate_numbers, when a not-deleted contact of the campaign already
 * holds one of the numbers nothing is written and the one row is: that contact's id, "",
 * the number, "", "", held ("t"). SQLSTATE 22007 when next_try is not a time. */
int store_contact_create(struct cr_pg *pg, const struct store_contact_new *in, cr_pg_cb cb,
                         void *arg) __attribute__((warn_unused_result));

/* Row: the saved filter's expression (none: no such filter). */
int store_saved_filter_get(struct cr_pg *pg, int64_t user_id, const char *name, cr_pg_cb cb,
                           void *arg) __attribute__((warn_unused_result));
/* Saves (or, with an empty expression, deletes: check PQcmdTuples) a user's filter. */
int store_saved_filter_set(struct cr_pg *pg, int64_t user_id, const char *name,
                           const char *expression, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Rows: name, expression, sorted by name. */
int store_saved_filters(struct cr_pg *pg, int64_t user_id, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

struct cr_strbuf;
/* Appends the SQL of one column of contacts c (as text, times in the contact's zone): a standard
 * field, "phone" (every number), or a declared field of custom; false when name is none. */
bool store_contact_column_sql(struct cr_strbuf *b, const char *name,
                              const struct cr_filter_field *custom, size_t ncustom);
/* Whether name is a column a listing may show (standard, "phone", or one of custom). */
bool store_contact_column_known(const char *name, const struct cr_filter_field *custom,
                                size_t ncustom);
/* A listing column's type (ContactListReply.column_types): "text", "integer", "number" and
 * "date" (declared fields), "boolean", "time" or "numbers"; NULL when name is no listing column.
 * A listing shows every export column plus numbers (each number with its type and state),
 * phone_types and phone_states (comma lists in number order). */
const char *store_contact_list_column_type(const char *name, const struct cr_filter_field *custom,
                                           size_t ncustom);
struct store_contact_page {
    const char *campaign;
    char *const *columns; /* each known (store_contact_list_column_type) */
    size_t ncolumns;
    const struct cr_filter_field *custom;
    size_t ncustom;
    const struct cr_filter_sql *filter; /* compiled with first_param 2; NULL: every contact */
    const char *order_by;               /* from cr_filter_sort_compile; NULL: by id */
    bool with_numbers;                  /* add the packed numbers column (see below) */
    unsigned window;                    /* > 0: only the campaign's first window contacts by id */
    unsigned limit, offset;
};
/* Two results: the page's rows and the matching count. Rows hold the columns as text, in order
 * (times RFC 3339 in UTC, "" when none), then with_numbers the contact's numbers packed as
 * "NUMBER TYPE STATE" items joined by ',' in position order (E.164 numbers and the fixed type
 * and state words hold neither ' ' nor ','). */
int store_contact_page(struct cr_pg *pg, const struct store_contact_page *q, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Blacklists: campaign "" is the global one. Add: results [0] inserted rows, [1] addresses
 * blocked. Remove (audited with reason by actor): [0] removed, [2] addresses unblocked. */
int store_blacklist_add(struct cr_pg *pg, const char *campaign, const char *numbers_array,
                        const char *reason, int64_t actor_id, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));
int store_blacklist_remove(struct cr_pg *pg, const char *campaign, const char *numbers_array,
                           const char *reason, int64_t actor_id, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* One page of a blacklist (campaign "" the global one; number "" every number), by number.
 * Two results: rows number, reason, added_by login (or ""), added_at (RFC 3339 UTC); and
 * [1] the count (one row). A campaign that does not exist gives no rows and 0. */
int store_blacklist_page(struct cr_pg *pg, const char *campaign, const char *number, unsigned limit,
                         unsigned offset, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

enum store_contact_action {
    STORE_CONTACT_RESET,
    STORE_CONTACT_RELOAD,
    STORE_CONTACT_SHELVE,
    STORE_CONTACT_MOVE,
    STORE_CONTACT_ASSIGN,
    STORE_CONTACT_DELETE,
};
/* Applies action to the campaign's contacts in ids (empty array: all) matching filter (compiled
 * with first_param 5; NULL: all), leaving those in a live call. Row: affected, skipped running. */
int store_contacts_update(struct cr_pg *pg, const char *campaign, const char *ids_array,
                          const struct cr_filter_sql *filter, enum store_contact_action action,
                          const char *list, const char *agent, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Row: the agent's id (none: no agent with that login). */
int store_agent_by_login(struct cr_pg *pg, const char *login, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Sets a list's state and/or caller ID ("" leaves it, "-" clears the caller ID); contacts
 * follow the list's state. Result [0]: whether the list exists. */
int store_list_set(struct cr_pg *pg, const char *campaign, const char *list, const char *state,
                   const char *caller_id, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));
/* Rows: name, state, caller_id, contacts, waiting, done, created_at. */
int store_lists(struct cr_pg *pg, const char *campaign, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* One change of contact modify, validated by the caller. */
enum store_modify_kind {
    STORE_MODIFY_TEXT,     /* a standard text column (name) */
    STORE_MODIFY_PRIORITY, /* a whole number */
    STORE_MODIFY_BOOL,     /* top_priority or consent: true/false */
    STORE_MODIFY_NEXT_TRY, /* 'YYYY-MM-DD HH:MM' in the contact's zone, "" clears */
    STORE_MODIFY_TIME_ZONE,
    STORE_MODIFY_AGENT, /* an agent's login, "" unassigns */
    STORE_MODIFY_FIELD, /* a declared field */
};
struct store_modify {
    enum store_modify_kind kind;
    const char *name, *value; /* names are unique in one modify */
};
/* Row (none: no such contact): not in a live call (t/f), agent known (t/f). The change is made
 * only when both are true. -E2BIG when the change is too large. */
int store_contact_modify(struct cr_pg *pg, const char *campaign, int64_t id,
                         const struct store_modify *changes, size_t n, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* A Postgres text[] literal of items ({"a","b"}); malloc'd, NULL when out of memory. */
char *store_text_array(char *const *items, size_t n);

#endif
