/* SQL for the compliance profiles (compliance_store.h): the public holidays, computed by the
 * engine's pure module and inserted as three parallel text arrays in one statement. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/compliance_store.h"
#include "store/contacts_store.h"

/* The rows of one fill, in parallel arrays; days[i] points into day_text. */
struct holiday_rows {
    char **regions, **days, **names;
    char (*day_text)[11]; /* "YYYY-MM-DD" */
    size_t n, max;
};

static void rows_free(struct holiday_rows *r)
{
    free(r->regions);
    free(r->days);
    free(r->names);
    free(r->day_text);
}

/* Adds year's days of region (NULL: the country's) that belong to that region itself. */
static int rows_add_year(struct holiday_rows *r, enum compliance_profile p, int year,
                         const char *region)
{
    struct compliance_holiday h[COMPLIANCE_HOLIDAYS_MAX];
    int n = compliance_holidays(p, year, region, h, COMPLIANCE_HOLIDAYS_MAX);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        if (strcmp(h[i].region, region ? region : "") != 0)
            continue; /* a national day, already added with region '' */
        if (r->n == r->max)
            return -ENOBUFS; /* cannot happen: max counts every region's full list */
        snprintf(r->day_text[r->n], sizeof r->day_text[r->n], "%04d-%02d-%02d", h[i].year,
                 h[i].month, h[i].day);
        /* The arrays only feed store_text_array, which reads them. */
        r->regions[r->n] = (char *)h[i].region;
        r->days[r->n] = r->day_text[r->n];
        r->names[r->n] = (char *)h[i].name;
        r->n++;
    }
    return 0;
}

int store_holidays_fill(struct cr_pg *pg, enum compliance_profile profile, int from_year,
                        int to_year, cr_pg_cb cb, void *arg)
{
    int m, d;
    if (from_year > to_year || to_year - from_year >= STORE_HOLIDAY_YEARS_MAX ||
        compliance_easter(from_year, &m, &d) != 0 || compliance_easter(to_year, &m, &d) != 0)
        return -EINVAL;
    size_t nregions;
    const char *const *regions = compliance_regions(profile, &nregions);
    struct holiday_rows r = {0};
    r.max = (size_t)(to_year - from_year + 1) * (nregions + 1) * COMPLIANCE_HOLIDAYS_MAX;
    r.regions = calloc(r.max, sizeof *r.regions);
    r.days = calloc(r.max, sizeof *r.days);
    r.names = calloc(r.max, sizeof *r.names);
    r.day_text = calloc(r.max, sizeof *r.day_text);
    int rc = r.regions && r.days && r.names && r.day_text ? 0 : -ENOMEM;
    for (int y = from_year; !rc && y <= to_year; y++) {
        rc = rows_add_year(&r, profile, y, NULL);
        for (size_t i = 0; !rc && i < nregions; i++)
            rc = rows_add_year(&r, profile, y, regions[i]);
    }
    char *region_arr = NULL, *day_arr = NULL, *name_arr = NULL;
    if (!rc) {
        region_arr = store_text_array(r.regions, r.n);
        day_arr = store_text_array(r.days, r.n);
        name_arr = store_text_array(r.names, r.n);
        if (!region_arr || !day_arr || !name_arr)
            rc = -ENOMEM;
    }
    if (!rc) {
        const char *p[] = {compliance_name(profile), region_arr, day_arr, name_arr};
        /* ON CONFLICT DO NOTHING also drops a second holiday on the same day (Ascension on
         * 1 May): the table holds one name per day. */
        rc = cr_pg_query(pg,
                         "INSERT INTO public_holidays (profile, region, day, name) "
                         "SELECT $1, t.region, t.day::date, t.name FROM unnest($2::text[], "
                         "$3::text[], $4::text[]) AS t(region, day, name) ON CONFLICT DO NOTHING",
                         4, p, cb, arg);
    }
    free(region_arr);
    free(day_arr);
    free(name_arr);
    rows_free(&r);
    return rc;
}
