/* SQLSTATEs sorted by whose fault they are: the request's, or the database's (store.h). */
#include <errno.h>
#include <string.h>

#include "carillon/log.h"
#include "store/store.h"

enum store_fault store_fault_of(const char *sqlstate)
{
    if (!sqlstate || strlen(sqlstate) != 5)
        return STORE_FAULT_UNAVAILABLE;
    if (!strncmp(sqlstate, "22", 2))
        return STORE_FAULT_INVALID;
    if (!strcmp(sqlstate, "23502") || !strcmp(sqlstate, "23503"))
        return STORE_FAULT_NOT_FOUND;
    if (!strcmp(sqlstate, "23505"))
        return STORE_FAULT_EXISTS;
    return STORE_FAULT_UNAVAILABLE;
}

int store_result_err(const struct cr_pg_result *r, const char *op)
{
    if (r->status == 0)
        return 0;
    if (r->status == -EIO && r->sqlstate && strcmp(r->sqlstate, "22023") == 0)
        return -EINVAL;
    if (r->status == -EIO && r->sqlstate && strcmp(r->sqlstate, "23505") == 0)
        return -EEXIST;
    if (r->status == -EIO)
        cr_log_error("store_error", "op=%s sqlstate=%s message=%s", op,
                     r->sqlstate ? r->sqlstate : "-", cr_log_q(r->message));
    return r->status;
}
