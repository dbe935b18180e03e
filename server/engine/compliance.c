/* Compliance profiles' rules (see compliance.h): calendar arithmetic on civil dates, the
 * profiles' windows and holidays, and the search for the next allowed local time. */
#include "engine/compliance.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "carillon/phone.h"

#define YEAR_MIN 1583 /* the first full Gregorian year: Easter's formula holds from there */
#define YEAR_MAX 9999
/* How far ahead the next window is looked for. FR's longest gap is a weekend next to two
 * holidays (Alsace-Moselle: Thursday 25 and Friday 26 December), about five days. */
#define SEARCH_DAYS 31

static const char *const profile_names[] = {"none", "FR", "US", "UK"};

int compliance_parse(const char *name, enum compliance_profile *out)
{
    for (size_t i = 0; name && i < sizeof profile_names / sizeof profile_names[0]; i++) {
        if (strcasecmp(name, profile_names[i]) == 0) {
            *out = (enum compliance_profile)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *compliance_name(enum compliance_profile p)
{
    return (unsigned)p < sizeof profile_names / sizeof profile_names[0] ? profile_names[p]
                                                                        : "unknown";
}

/* --- civil calendar (proleptic Gregorian; H. Hinnant's days_from_civil) --- */

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = y / 400; /* y >= YEAR_MIN - 1 > 0 */
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = z / 146097; /* z > 0 for every year we accept */
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* ISO weekday, 1 Monday .. 7 Sunday; 1970-01-01 was a Thursday. */
static int iso_weekday(long days)
{
    return (int)(((days % 7) + 7 + 3) % 7) + 1;
}

int compliance_easter(int year, int *month, int *day)
{
    if (year < YEAR_MIN || year > YEAR_MAX)
        return -EINVAL;
    /* Anonymous Gregorian algorithm (Meeus, Astronomical Algorithms; Jones 1876; Butcher). */
    int a = year % 19, b = year / 100, c = year % 100;
    int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    *month = (h + l - 7 * m + 114) / 31;
    *day = (h + l - 7 * m + 114) % 31 + 1;
    return 0;
}

/* --- windows --- */

/* D223-9: Monday to Friday, 10:00-13:00 and 14:00-20:00 in the consumer's time zone. */
static const struct compliance_window fr_windows[] = {
    {1, 600, 780},  {1, 840, 1200}, {2, 600, 780},  {2, 840, 1200}, {3, 600, 780},
    {3, 840, 1200}, {4, 600, 780},  {4, 840, 1200}, {5, 600, 780},  {5, 840, 1200},
};
/* 47 CFR 64.1200(c)(1) and 16 CFR 310.4(c): not before 8 a.m. nor after 9 p.m. at the called
 * person's location, every day. */
static const struct compliance_window us_windows[] = {
    {1, 480, 1260}, {2, 480, 1260}, {3, 480, 1260}, {4, 480, 1260},
    {5, 480, 1260}, {6, 480, 1260}, {7, 480, 1260},
};

const struct compliance_window *compliance_windows(enum compliance_profile p, size_t *n)
{
    switch (p) {
    case COMPLIANCE_FR:
        *n = sizeof fr_windows / sizeof fr_windows[0];
        return fr_windows;
    case COMPLIANCE_US:
        *n = sizeof us_windows / sizeof us_windows[0];
        return us_windows;
    default:
        *n = 0;
        return NULL;
    }
}

/* --- holidays --- */

static const char *const fr_regions[] = {"57", "67", "68", "971", "972", "973", "974", "976"};

/* Abolition of slavery days, loi n° 83-550 of 30 June 1983 and décret n° 83-1003 (Mayotte
 * added in 2011). */
static const struct {
    const char *region;
    int month, day;
} abolition[] = {
    {"971", 5, 27}, {"972", 5, 22}, {"973", 6, 10}, {"974", 12, 20}, {"976", 4, 27},
};

const char *const *compliance_regions(enum compliance_profile p, size_t *n)
{
    if (p == COMPLIANCE_FR) {
        *n = sizeof fr_regions / sizeof fr_regions[0];
        return fr_regions;
    }
    *n = 0;
    return NULL;
}

/* The static spelling of region among fr_regions, or NULL when it has no days of its own. */
static const char *fr_region(const char *region)
{
    for (size_t i = 0; region && i < sizeof fr_regions / sizeof fr_regions[0]; i++)
        if (strcmp(region, fr_regions[i]) == 0)
            return fr_regions[i];
    return NULL;
}

struct holiday_list {
    struct compliance_holiday *out;
    size_t max, n;
    bool full;
};

static void add_day(struct holiday_list *l, long days, const char *name, const char *region)
{
    if (l->n == l->max) {
        l->full = true;
        return;
    }
    struct compliance_holiday *h = &l->out[l->n++];
    civil_from_days(days, &h->year, &h->month, &h->day);
    h->name = name;
    h->region = region;
}

int compliance_holidays(enum compliance_profile p, int year, const char *region,
                        struct compliance_holiday *out, size_t max)
{
    int em, ed;
    if (compliance_easter(year, &em, &ed) != 0)
        return -EINVAL;
    if (p != COMPLIANCE_FR)
        return 0;
    struct holiday_list l = {out, max, 0, false};
    long easter = days_from_civil(year, em, ed);
    /* Code du travail L3133-1, the days D223-9 names. */
    add_day(&l, days_from_civil(year, 1, 1), "New Year's Day", "");
    add_day(&l, easter + 1, "Easter Monday", "");
    add_day(&l, days_from_civil(year, 5, 1), "Labour Day", "");
    add_day(&l, days_from_civil(year, 5, 8), "Victory in Europe Day", "");
    add_day(&l, easter + 39, "Ascension Day", "");
    /* Still a public holiday where it is worked as the journée de solidarité (L3133-7). */
    add_day(&l, easter + 50, "Whit Monday", "");
    add_day(&l, days_from_civil(year, 7, 14), "Bastille Day", "");
    add_day(&l, days_from_civil(year, 8, 15), "Assumption Day", "");
    add_day(&l, days_from_civil(year, 11, 1), "All Saints' Day", "");
    add_day(&l, days_from_civil(year, 11, 11), "Armistice Day", "");
    add_day(&l, days_from_civil(year, 12, 25), "Christmas Day", "");
    /* The département's own days: D223-9 cites L3133-1 only, but a contact on a local public
     * holiday is not called either (the reading, the prudent one). */
    const char *r = fr_region(region);
    if (r && (strcmp(r, "57") == 0 || strcmp(r, "67") == 0 || strcmp(r, "68") == 0)) {
        /* Alsace-Moselle's local law, Code du travail L3134-13. */
        add_day(&l, easter - 2, "Good Friday", r);
        add_day(&l, days_from_civil(year, 12, 26), "St Stephen's Day", r);
    }
    for (size_t i = 0; r && i < sizeof abolition / sizeof abolition[0]; i++)
        if (strcmp(r, abolition[i].region) == 0)
            add_day(&l, days_from_civil(year, abolition[i].month, abolition[i].day),
                    "Abolition of Slavery Day", r);
    if (l.full)
        return -ENOBUFS;
    /* Insertion sort by date, stable: Ascension can fall on 1 or 8 May (both are kept). */
    for (size_t i = 1; i < l.n; i++) {
        struct compliance_holiday h = out[i];
        size_t j = i;
        while (j > 0 && (out[j - 1].month > h.month ||
                         (out[j - 1].month == h.month && out[j - 1].day > h.day))) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = h;
    }
    return (int)l.n;
}

/* --- regions --- */

/* libcommon's phone tables map each overseas numbering range to its time zone; the zone names
 * the département (Saint-Barthélemy and Saint-Martin share Guadeloupe's ranges and zone). */
static const struct {
    const char *time_zone;
    const char *region;
} zone_regions[] = {
    {"Europe/Paris", ""},       {"America/Guadeloupe", "971"}, {"America/Martinique", "972"},
    {"America/Cayenne", "973"}, {"Indian/Reunion", "974"},     {"America/Miquelon", "975"},
    {"Indian/Mayotte", "976"},
};

int compliance_region_from_phone(const char *e164, char out[COMPLIANCE_REGION_MAX])
{
    struct cr_phone ph;
    const char *why;
    out[0] = '\0';
    if (!e164 || cr_phone_normalize(e164, "FR", &ph, &why) != 0)
        return -EINVAL;
    for (size_t i = 0; ph.time_zone && i < sizeof zone_regions / sizeof zone_regions[0]; i++) {
        if (strcmp(ph.time_zone, zone_regions[i].time_zone) == 0) {
            snprintf(out, COMPLIANCE_REGION_MAX, "%s", zone_regions[i].region);
            return 0;
        }
    }
    return -ENOENT;
}

int compliance_region_from_postcode(const char *postcode, char out[COMPLIANCE_REGION_MAX])
{
    out[0] = '\0';
    if (!postcode || strlen(postcode) != 5)
        return -EINVAL;
    for (int i = 0; i < 5; i++)
        if (postcode[i] < '0' || postcode[i] > '9')
            return -EINVAL;
    if (strncmp(postcode, "00", 2) == 0)
        return -EINVAL;
    if (strncmp(postcode, "98", 2) == 0)
        return -ENOENT; /* Monaco 980, Wallis-et-Futuna 986, Polynesia 987, New Caledonia 988 */
    if (strcmp(postcode, "97133") == 0)
        snprintf(out, COMPLIANCE_REGION_MAX, "977");
    else if (strcmp(postcode, "97150") == 0)
        snprintf(out, COMPLIANCE_REGION_MAX, "978");
    else if (strncmp(postcode, "97", 2) == 0)
        snprintf(out, COMPLIANCE_REGION_MAX, "%.3s", postcode);
    else if (strncmp(postcode, "20", 2) == 0)
        snprintf(out, COMPLIANCE_REGION_MAX, "%s", postcode[2] < '2' ? "2A" : "2B");
    else
        snprintf(out, COMPLIANCE_REGION_MAX, "%.2s", postcode);
    return 0;
}

/* --- next allowed time --- */

static bool valid_time(const struct compliance_time *t)
{
    return t->year >= YEAR_MIN && t->year < YEAR_MAX && t->month >= 1 && t->month <= 12 &&
           t->day >= 1 && t->day <= days_in_month(t->year, t->month) && t->hour >= 0 &&
           t->hour <= 23 && t->minute >= 0 && t->minute <= 59 && t->second >= 0 && t->second <= 59;
}

static struct compliance_time time_at(long days, int minutes)
{
    struct compliance_time t = {0};
    days += minutes / 1440;
    minutes %= 1440;
    civil_from_days(days, &t.year, &t.month, &t.day);
    t.hour = minutes / 60;
    t.minute = minutes % 60;
    return t;
}

/* One year's holidays, recomputed when the search crosses into the next year. */
struct holiday_cache {
    int year, n;
    struct compliance_holiday days[COMPLIANCE_HOLIDAYS_MAX];
};

static int is_holiday(enum compliance_profile p, const char *region, struct holiday_cache *c,
                      long days, bool *yes)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (c->year != y) {
        int n = compliance_holidays(p, y, region, c->days, COMPLIANCE_HOLIDAYS_MAX);
        if (n < 0)
            return n;
        c->year = y;
        c->n = n;
    }
    *yes = false;
    for (int i = 0; i < c->n; i++)
        if (c->days[i].month == m && c->days[i].day == d)
            *yes = true;
    return 0;
}

int compliance_next_allowed(enum compliance_profile p, const struct compliance_time *now,
                            const char *region, struct compliance_verdict *out)
{
    memset(out, 0, sizeof *out);
    if (!valid_time(now))
        return -EINVAL;
    size_t nw;
    const struct compliance_window *w = compliance_windows(p, &nw);
    if (nw == 0) {
        out->allowed = true;
        return 0;
    }
    long today = days_from_civil(now->year, now->month, now->day);
    int sec = now->hour * 3600 + now->minute * 60 + now->second;
    struct holiday_cache cache = {.year = 0};
    for (long day = today; day <= today + SEARCH_DAYS; day++) {
        bool holiday;
        int rc = is_holiday(p, region, &cache, day, &holiday);
        if (rc)
            return rc;
        if (holiday)
            continue;
        int wd = iso_weekday(day);
        for (size_t i = 0; i < nw; i++) {
            if (w[i].weekday != wd || (day == today && sec >= w[i].end_min * 60))
                continue;
            out->bounded = true;
            out->end = time_at(day, w[i].end_min);
            out->allowed = day == today && sec >= w[i].start_min * 60;
            out->start = out->allowed ? *now : time_at(day, w[i].start_min);
            return 0;
        }
    }
    return -ERANGE; /* a profile with windows but none within a month: not one of ours */
}
