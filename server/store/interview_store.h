/* SQL of the interview window (seed 003; engine/agents.c calls it): what the agent's window
 * shows when a call connects or is offered (the contact's interview state, the script with the
 * contact's values in its [Field] placeholders, the answers of the interview in progress, the
 * history, the numbers), answers saved per attempt after their check against their questions,
 * cancel and suspend, and the qualification with its mandatory questions and callback agent. */
#ifndef CARILLON_INTERVIEW_STORE_H
#define CARILLON_INTERVIEW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/pg.h"
#include "carillon/v1/agent.pb-c.h"
#include "store/agents_store.h"
#include "store/store.h"

#define INTERVIEW_ANSWERS_MAX   200  /* answers in one AgentSaveAnswers */
#define INTERVIEW_VALUES_MAX    100  /* values in one answer */
#define INTERVIEW_INPUT_MAX     1000 /* characters of an open answer */
#define INTERVIEW_PARAGRAPH_MAX 4000 /* characters of a paragraph */
#define INTERVIEW_HISTORY_MAX   500  /* history entries sent, the most recent */
#define INTERVIEW_REASON_MAX    256  /* bytes of a cancel or suspend reason */

/* --- pure parts (unit-tested) ------------------------------------------------------------- */

/* A question of the campaign's script, as script_blocks stores it: kind input, select or
 * predefined; select_type yes_no, dropdown, single, multiple, matrix; predefined_type date,
 * time, email, age, rating, paragraph; choices and matrix rows joined by \x1f. */
struct interview_question {
    const char *export_name, *kind, *text, *select_type, *predefined_type;
    const char *choices_us, *rows_us;
};

/* Checks one answer against the questions: 0, or -EINVAL with msg (naming the question's text)
 * saying why. Unknown export names, choices not offered, wrong counts of values, a matrix row
 * that is not one, malformed dates (YYYY-MM-DD), times (HH:MM), e-mails, ages (0-130), ratings
 * (0-10), texts too long (input 1000, paragraph 4000 characters), invalid UTF-8 and control
 * characters are refused. */
int interview_check_answer(const struct interview_question *qs, int nq,
                           const Carillon__V1__AgentAnswer *a, char *msg, size_t len);

/* What a [Field] placeholder becomes: the value of the field named (standard fields by name or
 * French label, the campaign's fields by name or label, phone1..phone4, Agent, Campagne,
 * Date), or NULL when none. */
struct interview_values {
    const char *const *names, *const *labels, *const *values; /* labels may hold "" */
    int n;
};
const char *interview_placeholder(const struct interview_values *v, const char *name, size_t len);
/* text with its placeholders replaced (unknown ones left as they are); malloc'd, NULL when out
 * of memory. */
char *interview_substitute(const struct interview_values *v, const char *text);

/* --- the window --------------------------------------------------------------------------- */

struct store_interview_req {
    int64_t contact_id, campaign_id, attempt_id, agent_id;
    int64_t now_ms;
    bool start;             /* a call connects: the interview starts (event started) */
    const char *popup_us;   /* the campaign's pop-up fields (store_contact_popup) */
    const char *campaign;   /* [Campagne] */
    const char *agent_name; /* [Agent] */
};
/* p (the pop-up) and iv live during the callback only. */
typedef void (*store_interview_cb)(void *arg, int err, const struct store_popup *p,
                                   const Carillon__V1__Interview *iv);
/* One batch, one round trip: the start (when asked), the pop-up and everything the window
 * shows. */
int store_interview_load(struct cr_pg *pg, const struct store_interview_req *q,
                         store_interview_cb cb, void *arg) __attribute__((warn_unused_result));

/* The campaign's questions (rows live during the callback). */
typedef void (*store_questions_cb)(void *arg, int err, const struct interview_question *qs, int n);
int store_interview_questions(struct cr_pg *pg, int64_t campaign_id, store_questions_cb cb,
                              void *arg) __attribute__((warn_unused_result));

/* Saves answers already checked, for an attempt still open, with an 'answers' event, in one
 * transaction; cb gets the mandatory questions still without an answer (export names).
 * -ENOENT: the attempt is closed. */
typedef void (*store_saved_cb)(void *arg, int err, unsigned saved, const char *const *missing,
                               int nmissing);
int store_interview_save(struct cr_pg *pg, int64_t campaign_id, int64_t contact_id,
                         int64_t attempt_id, int64_t agent_id, int64_t now_ms,
                         Carillon__V1__AgentAnswer *const *answers, size_t n, store_saved_cb cb,
                         void *arg) __attribute__((warn_unused_result));

/* cancel or suspend the contact's interview (state and time, an event with the reason). */
int store_interview_action(struct cr_pg *pg, int64_t campaign_id, int64_t contact_id,
                           int64_t attempt_id, int64_t agent_id, int64_t now_ms, const char *action,
                           const char *reason, store_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* The qualification from the interview window (carillon_interview_qualify). err: 0; -EINVAL
 * (field and msg say why: an argument refused); -EAGAIN (a precondition: field names the
 * mandatory question to answer first); else the database's. */
typedef void (*store_qualified_cb)(void *arg, int err, const char *state, const char *field,
                                   const char *msg);
int store_interview_qualify(struct cr_pg *pg, int64_t attempt_id, int64_t now_ms, const char *code,
                            int64_t by, int64_t callback_at_ms, bool personal,
                            const char *callback_login, store_qualified_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
