/* SQL for the compliance profiles: the public_holidays table the claim query joins on, filled
 * from the pure rules of engine/compliance.h so the days are computed in one place only. */
#ifndef CARILLON_COMPLIANCE_STORE_H
#define CARILLON_COMPLIANCE_STORE_H

#include "carillon/pg.h"
#include "engine/compliance.h"

#define STORE_HOLIDAY_YEARS_MAX 100 /* years one fill may cover */

/* Inserts profile's public holidays of from_year..to_year (included): the country's own days
 * with region '' and each region's own days (compliance_regions) with that region. Rows that
 * are there already are left alone, so calling it again (each start, each new year) is safe.
 * One statement: res[0]'s PQcmdTuples says how many rows were new. Returns 0, or -EINVAL for a
 * span that is empty, longer than STORE_HOLIDAY_YEARS_MAX or outside compliance_holidays'
 * years (cb is then not run), -ENOMEM, or cr_pg_query's error. */
int store_holidays_fill(struct cr_pg *pg, enum compliance_profile profile, int from_year,
                        int to_year, cr_pg_cb cb, void *arg) __attribute__((warn_unused_result));

#endif
