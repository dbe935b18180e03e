/* The legal calling rules of a campaign's compliance profile (none, FR, US, UK): weekly windows
 * in the contact's local time, public holidays, the contact's region, and the caps and quiet
 * periods with their legal source. Pure: no I/O and no clock; the caller passes the contact's
 * local date-time (PostgreSQL's now() AT TIME ZONE contact.time_zone, or the engine's own). */
#ifndef CARILLON_COMPLIANCE_H
#define CARILLON_COMPLIANCE_H

#include <stdbool.h>
#include <stddef.h>

enum compliance_profile {
    COMPLIANCE_NONE = 0, /* the default: a test or a demo at night still dials */
    COMPLIANCE_FR,
    COMPLIANCE_US,
    COMPLIANCE_UK,
};

/* --- Caps and quiet periods (the claim query and the outcome transaction enforce them) --- */

/* FR: Code de la consommation art. D223-9 (décret n° 2022-1313 of 13 October 2022, in force
 * since 1 March 2023): one professional may call (or try to call) the same consumer at most 4
 * times per 30 calendar days, and not at all for 60 calendar days after the consumer refused
 * during a call. Carillon counts attempts per number across all campaigns of the platform. */
#define COMPLIANCE_FR_MAX_ATTEMPTS         4
#define COMPLIANCE_FR_ATTEMPTS_PERIOD_DAYS 30
#define COMPLIANCE_FR_REFUSAL_QUIET_DAYS   60
/* US: Telemarketing Sales Rule, 16 CFR 310.4(b)(4) (safe harbour for abandoned calls), and
 * TCPA rules, 47 CFR 64.1200(a)(6)-(7): at most 3 % of the calls answered by a person abandoned,
 * measured per campaign over 30 days; let the phone ring at least 15 seconds (or four rings)
 * before disconnecting an unanswered call; play the recorded message within 2 seconds after
 * the called person's completed greeting when no agent is free. */
#define COMPLIANCE_US_ABANDON_MAX_PERCENT 3
#define COMPLIANCE_US_ABANDON_PERIOD_DAYS 30
#define COMPLIANCE_US_RING_MIN_S          15
#define COMPLIANCE_US_MESSAGE_MAX_S       2
/* UK: Ofcom, "Revised statement of policy on the persistent misuse of an electronic
 * communications network or service" (2016, under the Communications Act 2003 s.128-131): at
 * most 3 % of live calls abandoned per campaign over 24 hours; after an abandoned call, no new
 * call to that number within 72 hours unless an agent is reserved for it (agent-first). */
#define COMPLIANCE_UK_ABANDON_MAX_PERCENT 3
#define COMPLIANCE_UK_ABANDON_PERIOD_DAYS 1
#define COMPLIANCE_UK_ABANDON_QUIET_HOURS 72

/* "none", "FR", "US", "UK" (any case) -> *out. Returns 0 or -EINVAL. */
int compliance_parse(const char *name, enum compliance_profile *out)
    __attribute__((warn_unused_result));
/* "none", "FR", "US", "UK"; "unknown" for a value outside the enum. */
const char *compliance_name(enum compliance_profile p);

/* --- Weekly windows in the contact's local time --- */

/* Calling is allowed from start_min (included) to end_min (excluded), minutes after local
 * midnight, on weekday (ISO: 1 Monday .. 7 Sunday), unless the day is a public holiday. */
struct compliance_window {
    int weekday;
    int start_min, end_min;
};
/* The profile's windows, by weekday then start; *n = 0 for a profile whose law limits no hours
 * (none, UK: Ofcom's policy limits abandoned calls, not hours). Static storage. */
const struct compliance_window *compliance_windows(enum compliance_profile p, size_t *n);

/* --- Public holidays --- */

/* Regions are French départements ("57", "974", "2A") or "" when only the country is known. */
#define COMPLIANCE_REGION_MAX   4  /* "974" */
#define COMPLIANCE_HOLIDAYS_MAX 16 /* one year of one region, with room to spare */

struct compliance_holiday {
    int year, month, day;
    const char *name;   /* English, static */
    const char *region; /* "" where the profile applies everywhere, else the one département */
};

/* Gregorian Easter Sunday of year (Meeus/Jones/Butcher), 1583..9999. Returns 0 or -EINVAL. */
int compliance_easter(int year, int *month, int *day) __attribute__((warn_unused_result));

/* The public holidays of year on which the profile forbids calls to a contact of region
 * (NULL or "": the country's own only), sorted by date, into out[0..max-1]. Returns how many,
 * -EINVAL for a year outside 1583..9999, or -ENOBUFS when max is too small.
 *   FR: the eleven days of Code du travail L3133-1 (with Easter Monday, Ascension and Whit
 *       Monday from Easter), plus Good Friday and 26 December in Alsace-Moselle (57, 67, 68,
 *       Code du travail L3134-13) and the abolition of slavery day overseas (loi n° 83-550 and
 *       décret n° 83-1003): 971 Guadeloupe 27 May, 972 Martinique 22 May, 973 Guyane 10 June,
 *       974 La Réunion 20 December, 976 Mayotte 27 April. Saint-Barthélemy and Saint-Martin
 *       (977, 978) are left out: their dates are not known here reliably.
 *   US, UK, none: no holiday. The TSR/TCPA and Ofcom's policy limit hours and abandoned calls,
 *       not calls on public holidays. */
int compliance_holidays(enum compliance_profile p, int year, const char *region,
                        struct compliance_holiday *out, size_t max)
    __attribute__((warn_unused_result));
/* The regions that have holidays of their own under profile p (FR: 57, 67, 68, 971, 972, 973,
 * 974, 976), so a table of every region's days can be filled. Static storage. */
const char *const *compliance_regions(enum compliance_profile p, size_t *n);

/* --- A contact's region --- */

/* From an E.164 number (through libcommon's phone tables): "971" Guadeloupe (+590, also
 * Saint-Barthélemy and Saint-Martin, which share its numbers), "972", "973", "974", "976"
 * (+262 269 / +262 639), "975" Saint-Pierre-et-Miquelon, or "" for a metropolitan number:
 * geographic prefixes 01-05 cover five large zones, not départements, and numbers are portable,
 * so +33 3 88 (Strasbourg) does not reliably mean 67. Returns 0, -ENOENT for a number that is
 * not French, or -EINVAL for one that is not a phone number. */
int compliance_region_from_phone(const char *e164, char out[COMPLIANCE_REGION_MAX])
    __attribute__((warn_unused_result));
/* From a French postcode: the first two digits (20xxx: 2A below 20200, 2B from it), three for
 * 97xxx, with 97133 Saint-Barthélemy -> "977" and 97150 Saint-Martin -> "978". A few border
 * communes have a neighbouring département's postcode. Returns 0, -ENOENT for Monaco and the
 * Pacific (98xxx), or -EINVAL for anything that is not five digits. */
int compliance_region_from_postcode(const char *postcode, char out[COMPLIANCE_REGION_MAX])
    __attribute__((warn_unused_result));

/* --- Now, or when next --- */

/* A civil date-time in the contact's zone, no offset attached. */
struct compliance_time {
    int year, month, day;
    int hour, minute, second;
};

struct compliance_verdict {
    bool allowed; /* calling is allowed at the time given */
    /* false: the profile sets no window (none, UK): calls are always allowed, start and end
     * are unset. */
    bool bounded;
    /* allowed: the time given; else the start of the next window (a weekday that is not a
     * holiday), i.e. when to schedule the next try. */
    struct compliance_time start;
    /* The end of that window (excluded): a dial order's not_after. The windows avoid 02:00-03:00,
     * so the local times exist whatever the daylight saving rules. */
    struct compliance_time end;
};

/* Evaluates the profile at local time now for a contact of region (NULL or "": national
 * holidays only). Returns 0, or -EINVAL for a date-time that does not exist (30 February,
 * 24:00) or a year outside 1583..9998 (-ERANGE, no window within 31 days, cannot happen with
 * the profiles above). */
int compliance_next_allowed(enum compliance_profile p, const struct compliance_time *now,
                            const char *region, struct compliance_verdict *out)
    __attribute__((warn_unused_result));

#endif
