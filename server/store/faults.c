/* SQLSTATEs sorted by whose fault they are: the request's, or the database's (store.h). */
#include <string.h>

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
