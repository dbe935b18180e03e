/* SQL of the supervisors' view: a campaign's figures (carillonctl campaign stats, top) and its
 * abandon ledger against its compliance profile (carillonctl compliance report). Read only. */
#ifndef CARILLON_STATS_STORE_H
#define CARILLON_STATS_STORE_H

#include <stdint.h>

#include "carillon/pg.h"

#define STORE_REPORT_DAYS_MAX 366 /* days one compliance report lists */

/* A campaign's figures at now_ms (the engine's clock), one batch of three statements:
 *   res[0] one row, none when no campaign is named so: id, state, dialing_mode, time_zone, now
 *          (RFC 3339 in the zone), abandon_target_pct, the six interview counts (to_call,
 *          to_call_back, started, finished, cancelled, suspended), contacts total (not deleted)
 *          and by state (waiting, running, done, failed, shelved, paused, list_stopped,
 *          list_suspended, deleted), callbacks due, open, the next one not due (RFC 3339 or
 *          ""), then today's and the 30 days' dialled, answered, ledger answered, ledger
 *          abandoned (8 columns);
 *   res[1] attempts by outcome ("in_progress" when none yet): key, count;
 *   res[2] attempts by qualification: key, count. */
#define STORE_STATS_COL_INTERVIEW 6
#define STORE_STATS_COL_CONTACTS  12
#define STORE_STATS_COL_CALLBACKS 22
#define STORE_STATS_COL_WINDOWS   25
int store_campaign_stats(struct cr_pg *pg, const char *campaign, int64_t now_ms, cr_pg_cb cb,
                         void *arg) __attribute__((warn_unused_result));

/* The caps a compliance report counts numbers against (engine/compliance.h's constants). */
struct store_compliance_caps {
    int fr_max_attempts, fr_attempts_period_days, fr_refusal_quiet_days, uk_abandon_quiet_hours;
};

/* A campaign's abandon ledger at now_ms, one batch of two statements:
 *   res[0] one row, none when no campaign is named so: compliance, time_zone, now (RFC 3339),
 *          abandon_target_pct, today, today's answered, abandoned, the 30 days' first day,
 *          answered, abandoned, FR numbers at the attempt cap, FR numbers in their refusal
 *          quiet period, UK numbers in their quiet period after an abandon (the last three 0
 *          for other profiles);
 *   res[1] the last `days` days, newest first, days without calls included: day, answered,
 *          abandoned.
 * Returns -EINVAL for days outside 1..STORE_REPORT_DAYS_MAX (cb not run). */
int store_compliance_report(struct cr_pg *pg, const char *campaign, int64_t now_ms, int days,
                            const struct store_compliance_caps *caps, cr_pg_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
