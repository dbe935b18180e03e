/* The outcome of a customer call from what happened to its INVITE: a pure function of SIP
 * facts, kept apart from sofia-sip so every mapping rule has a unit test. */
#ifndef DIALERD_OUTCOME_H
#define DIALERD_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/v1/dialer.pb-c.h"

/* Why the dialer itself ended the call, if it did. */
enum dl_stop {
    DL_STOP_NONE = 0,
    DL_STOP_RING_TIMEOUT, /* nobody answered within the ring timeout: CANCEL sent */
    DL_STOP_ORDER_CANCEL, /* CancelCall before the answer */
    DL_STOP_ORDER_HANGUP, /* HangupCall (BYE or CANCEL) */
    DL_STOP_SHUTDOWN,     /* the dialer is stopping */
    DL_STOP_ABANDON,      /* answered, no agent in time: abandon message, then BYE */
};

struct dl_end_facts {
    int final_status;      /* final status of the INVITE; 0 when none came */
    bool final_local;      /* that final response was made by our own stack (timeout,
                              transport error), not received from the trunk */
    bool remote_responded; /* the trunk sent at least one response (even 100 Trying) */
    bool answered;         /* a 2xx was received */
    enum dl_stop stop;
};

/* The outcome the server receives. */
Carillon__V1__CallOutcome dl_outcome_map(const struct dl_end_facts *f);
/* The detail of an agent leg that ended (its AgentLegEvent's and its log line's): it speaks of
 * the agent and the softphone, never of a customer or the trunk, and says something for every
 * end. agent_hung_up: the softphone sent the BYE; reason: the final response's phrase (or ""). */
void dl_agent_leg_detail(const struct dl_end_facts *f, bool agent_hung_up, const char *reason,
                         char *out, size_t len);
/* Outcome of a final status from the trunk alone (busy, invalid number, ...). */
Carillon__V1__CallOutcome dl_outcome_for_status(int status);
/* An order's deadline (PlaceCall.not_after_unix_ms; 0: none) at now_ms, both unix ms: true
 * when the call may no longer be started, with detail saying by how much it was missed. */
bool dl_deadline_passed(uint64_t not_after_ms, uint64_t now_ms, char *detail, size_t len);
/* "answered", "busy", "no_answer", ... ("unspecified" for 0, "?" out of range). */
const char *dl_outcome_name(Carillon__V1__CallOutcome o);

#endif
