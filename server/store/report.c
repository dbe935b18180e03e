/* SQL of the campaign reports (report_store.h): one page of targets and everything their PDFs
 * show, one batch read in one transaction, keyed by the campaign's name and contact ids. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "store/report_store.h"

/* The page: $1 campaign name, $2 include_unfinished, $3 after this contact id, $4 limit + 1.
 * Only targets that answered (an answered call or answers saved): a contact closed failed or
 * shelved after busy or unanswered calls has its interview 'finished' too, but nothing to
 * report. Deleted contacts are never reported. */
#define REPORT_PAGE                                                                                \
    "WITH k AS (SELECT id FROM campaigns WHERE name = $1), "                                       \
    "p AS (SELECT c.* FROM contacts c JOIN k ON c.campaign_id = k.id WHERE c.id > $3::bigint "     \
    "AND c.state <> 'deleted' AND (c.interview = 'finished' OR ($2::boolean AND c.interview IN "   \
    "('started', 'suspended', 'cancelled'))) AND (EXISTS (SELECT 1 FROM answers an WHERE "         \
    "an.contact_id = c.id AND an.campaign_id = k.id) OR EXISTS (SELECT 1 FROM attempts a WHERE "   \
    "a.contact_id = c.id AND a.outcome = 'answered')) ORDER BY c.id LIMIT $4::int) "

#define UNIX_MS(x) "coalesce((extract(epoch FROM " x ") * 1000)::bigint, 0)"

static const char campaign_sql[] = "SELECT id FROM campaigns WHERE name = $1";

static const char targets_sql[] = REPORT_PAGE
    "SELECT p.id, p.interview, " UNIX_MS("p.interview_at") ", coalesce(p.last_qualification, '') "
                                                           "FROM p ORDER BY p.id";

/* The standard fields' French labels are those of the agent pop-up (api/campaigns.c). */
static const char details_sql[] = REPORT_PAGE
    "SELECT p.id, d.name, d.label, d.value, d.ord FROM p CROSS JOIN LATERAL (VALUES "
    "(1, 'civility', 'Civilité', p.civility), (2, 'last_name', 'Nom', p.last_name), "
    "(3, 'first_name', 'Prénom', p.first_name), (4, 'company', 'Société', p.company), "
    "(5, 'address', 'Adresse', p.address), (6, 'zip', 'Code postal', p.zip), "
    "(7, 'city', 'Ville', p.city), (8, 'country', 'Pays', p.country), "
    "(9, 'email', 'Email', p.email), (10, 'customer_id', 'N° client', p.customer_id)) "
    "AS d(ord, name, label, value) WHERE d.value <> '' "
    "UNION ALL SELECT p.id, f.name, f.label, p.fields ->> f.name, 100 + f.position FROM p "
    "JOIN campaign_fields f ON f.campaign_id = p.campaign_id "
    "WHERE coalesce(p.fields ->> f.name, '') <> '' ORDER BY 1, 5";

/* since: when the contact's previous interview ended (the one before the last end when the
 * contact's own interview is over), NULL when none did; answers saved after it are the last
 * interview's, as carillon_interview_since (migration 015) counts them for the interview in
 * progress. */
static const char answers_sql[] = REPORT_PAGE
    ", ib AS (SELECT p.id AS contact_id, (SELECT e.at FROM interview_events e WHERE "
    "e.contact_id = p.id AND e.event IN ('finished', 'cancelled') ORDER BY e.at DESC, e.id DESC "
    "OFFSET CASE WHEN p.interview IN ('finished', 'cancelled') THEN 1 ELSE 0 END LIMIT 1) AS "
    "since FROM p), "
    "la AS (SELECT DISTINCT ON (an.contact_id, an.export_name, coalesce(an.matrix_row, '')) "
    "an.* FROM ib JOIN answers an ON an.contact_id = ib.contact_id WHERE ib.since IS NULL OR "
    "an.answered_at > ib.since ORDER BY an.contact_id, an.export_name, coalesce(an.matrix_row, "
    "''), an.id DESC) "
    "SELECT la.contact_id, la.id, la.export_name, coalesce(nullif(b.text, ''), la.export_name), "
    "coalesce(la.matrix_row, ''), v.value FROM la LEFT JOIN script_blocks b ON b.campaign_id = "
    "la.campaign_id AND b.export_name = la.export_name LEFT JOIN LATERAL "
    "unnest(la.\"values\") WITH ORDINALITY AS v(value, ord) ON true "
    "ORDER BY la.contact_id, b.screen_position NULLS LAST, b.position, la.export_name, "
    "array_position(b.matrix_rows, la.matrix_row), la.matrix_row, la.id, v.ord";

static const char history_sql[] = REPORT_PAGE
    "SELECT p.id, h.at_ms, h.event, h.attempt_id, h.outcome, h.qualification, h.agent, h.detail "
    "FROM p CROSS JOIN LATERAL (SELECT * FROM ("
    "SELECT " UNIX_MS(
        "a.created_at") " AS at_ms, 'call' AS event, a.id AS attempt_id, "
                        "coalesce(a.outcome, '') AS outcome, coalesce(a.qualification, '') AS "
                        "qualification, "
                        "coalesce(u.login, '') AS agent, a.detail, 0 AS kind, a.id AS seq FROM "
                        "attempts a "
                        "LEFT JOIN users u ON u.id = a.agent_id WHERE a.contact_id = p.id "
                        "UNION ALL SELECT " UNIX_MS(
                            "e.at") ", e.event, coalesce(e.attempt_id, 0), '', '', "
                                    "coalesce(u.login, ''), e.detail, 1, e.id FROM "
                                    "interview_events e LEFT JOIN users u ON "
                                    "u.id = e.agent_id WHERE e.contact_id = p.id) x "
                                    "ORDER BY x.at_ms DESC, x.kind DESC, x.seq DESC LIMIT $5::int) "
                                    "h "
                                    "ORDER BY p.id, h.at_ms, h.kind, h.seq";

static const char numbers_sql[] = REPORT_PAGE
    "SELECT p.id, ad.number, ad.type, ad.state FROM p JOIN addresses ad ON ad.contact_id = p.id "
    "ORDER BY p.id, ad.position";

int store_campaign_report(struct cr_pg *pg, const struct store_report_query *q, cr_pg_cb cb,
                          void *arg)
{
    if (q->limit < 1 || q->limit > STORE_REPORT_LIMIT_MAX || q->after_contact_id < 0)
        return -EINVAL;
    char after[24], limit[16], hist[16];
    snprintf(after, sizeof after, "%" PRId64, q->after_contact_id);
    snprintf(limit, sizeof limit, "%u", q->limit + 1);
    snprintf(hist, sizeof hist, "%d", STORE_REPORT_HISTORY_MAX);
    const char *params[] = {q->campaign, q->include_unfinished ? "true" : "false", after, limit,
                            hist};
    static const char *const page_sql[] = {targets_sql, details_sql, answers_sql, history_sql,
                                           numbers_sql};
    struct cr_pg_batch *b = cr_pg_batch_new(pg);
    if (!b)
        return -ENOMEM;
    int rc = cr_pg_batch_add(b, campaign_sql, 1, params);
    for (size_t i = 0; !rc && i < sizeof page_sql / sizeof page_sql[0]; i++)
        rc = cr_pg_batch_add(b, page_sql[i], page_sql[i] == history_sql ? 5 : 4, params);
    if (rc) {
        cr_pg_batch_discard(b);
        return rc;
    }
    return cr_pg_batch_send(b, cb, arg);
}
