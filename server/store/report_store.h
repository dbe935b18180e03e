/* SQL of the campaign reports (carillonctl campaign report, seed 003's PDF export): the targets
 * that answered, a page at a time by contact id, with what one PDF per target shows. Read only. */
#ifndef CARILLON_REPORT_STORE_H
#define CARILLON_REPORT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "carillon/pg.h"

#define STORE_REPORT_LIMIT_DEFAULT 50  /* targets per page when the request names none */
#define STORE_REPORT_LIMIT_MAX     200 /* targets per page at most */
#define STORE_REPORT_HISTORY_MAX   500 /* history entries per target: the newest ones */

struct store_report_query {
    const char *campaign;
    bool include_unfinished;  /* also started, suspended, cancelled interviews that have answers
                                 or an answered call */
    int64_t after_contact_id; /* the page starts after this contact id (0: the first page) */
    unsigned limit;           /* 1..STORE_REPORT_LIMIT_MAX */
};

/* Columns of the results below. */
enum {
    STORE_REPORT_T_ID,
    STORE_REPORT_T_INTERVIEW,
    STORE_REPORT_T_INTERVIEW_AT_MS,
    STORE_REPORT_T_LAST_QUALIFICATION,
};
enum {
    STORE_REPORT_D_CONTACT,
    STORE_REPORT_D_NAME,
    STORE_REPORT_D_LABEL,
    STORE_REPORT_D_VALUE,
};
enum {
    STORE_REPORT_A_CONTACT,
    STORE_REPORT_A_ID,
    STORE_REPORT_A_EXPORT_NAME,
    STORE_REPORT_A_QUESTION,
    STORE_REPORT_A_MATRIX_ROW,
    STORE_REPORT_A_VALUE,
};
enum {
    STORE_REPORT_H_CONTACT,
    STORE_REPORT_H_AT_MS,
    STORE_REPORT_H_EVENT,
    STORE_REPORT_H_ATTEMPT,
    STORE_REPORT_H_OUTCOME,
    STORE_REPORT_H_QUALIFICATION,
    STORE_REPORT_H_AGENT,
    STORE_REPORT_H_DETAIL,
};
enum {
    STORE_REPORT_N_CONTACT,
    STORE_REPORT_N_NUMBER,
    STORE_REPORT_N_TYPE,
    STORE_REPORT_N_STATE,
};

/* One page of the campaign's report, one batch of six statements (one transaction), every one
 * ordered by contact id, for the first limit + 1 targets after after_contact_id (the extra one
 * tells the caller there is a next page; its rows are to be ignored):
 *   res[0] the campaign's id: no row when no campaign is named so;
 *   res[1] targets (STORE_REPORT_T_*): id, interview state, its time in unix ms (0: none), last
 *          qualification ("" when none);
 *   res[2] details (STORE_REPORT_D_*): the standard fields with a value (French labels), then
 *          the campaign's fields with a value, by their label, in the campaign's order;
 *   res[3] the last interview's answers (STORE_REPORT_A_*), the latest per question and matrix
 *          row, in script order, one row per value (value NULL: an answer without values), with
 *          the question's text (its export name when the question is gone from the script);
 *   res[4] history (STORE_REPORT_H_*), oldest first: calls (attempts, event "call") and the
 *          interview's events; at most STORE_REPORT_HISTORY_MAX per target, the newest;
 *   res[5] numbers (STORE_REPORT_N_*) in the contact's order.
 * The last interview: the answers saved after the contact's previous interview ended (finished
 * or cancelled).
 * Returns -EINVAL for a limit outside 1..STORE_REPORT_LIMIT_MAX or a negative after id (cb not
 * run). */
int store_campaign_report(struct cr_pg *pg, const struct store_report_query *q, cr_pg_cb cb,
                          void *arg) __attribute__((warn_unused_result));

#endif
