/* Maps a customer call's SIP facts to the outcome reported to the server (the table of issue
 * 5): busy, no answer, invalid number, rejected, trunk failure, cancelled, lost; and whether
 * an order's deadline has passed (outcome expired). */
#include "outcome.h"

#include <stddef.h>
#include <stdio.h>

Carillon__V1__CallOutcome dl_outcome_for_status(int status)
{
    if (status >= 200 && status < 300)
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED;
    switch (status) {
    case 486:
    case 600:
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_BUSY;
    case 408:
    case 480:
    case 487: /* the trunk gave up ringing on its own: nobody picked up */
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER;
    case 404:
    case 410: /* Gone: the number no longer exists */
    case 484:
    case 485: /* Ambiguous: the number is incomplete */
    case 604:
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_INVALID_NUMBER;
    case 403:
    case 603:
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REJECTED;
    default:
        break;
    }
    if (status >= 600 && status < 700)
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REJECTED;
    /* 5xx, auth that keeps failing (401/407), 488 and every other 4xx say the trunk could not
     * place the call: a retry later is the right answer, not a verdict on the number. */
    return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_TRUNK_FAILURE;
}

Carillon__V1__CallOutcome dl_outcome_map(const struct dl_end_facts *f)
{
    if (f->answered) {
        /* A 200 that crossed our CANCEL: the call is what we meant it to be (the answered_at
         * timestamp still tells the server the customer picked up). */
        if (f->stop == DL_STOP_ORDER_CANCEL)
            return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED;
        if (f->stop == DL_STOP_RING_TIMEOUT)
            return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER;
        if (f->stop == DL_STOP_ABANDON)
            return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ABANDONED;
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED;
    }
    switch (f->stop) {
    case DL_STOP_ORDER_CANCEL:
    case DL_STOP_ORDER_HANGUP:
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED;
    case DL_STOP_RING_TIMEOUT:
        /* Not even a 100 Trying within the ring timeout: the trunk is not there. */
        return f->remote_responded ? CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER
                                   : CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_TRUNK_FAILURE;
    case DL_STOP_SHUTDOWN:
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_LOST;
    case DL_STOP_ABANDON: /* only ordered after the answer */
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED;
    case DL_STOP_NONE:
        break;
    }
    if (f->final_status == 0)
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_LOST;
    /* Our own 408 (timer B) or 503 (transport error): the trunk never answered the INVITE. */
    if (f->final_local)
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_TRUNK_FAILURE;
    if (f->final_status < 300) /* unreachable: answered is set with any 2xx */
        return CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED;
    return dl_outcome_for_status(f->final_status);
}

void dl_agent_leg_detail(const struct dl_end_facts *f, bool agent_hung_up, const char *reason,
                         char *out, size_t len)
{
    const char *d = NULL;
    switch (f->stop) {
    case DL_STOP_RING_TIMEOUT:
        d = f->answered           ? "the softphone answered as the ring timeout expired; BYE sent"
            : f->remote_responded ? "the agent's softphone did not answer in time"
                                  : "no response at all from the agent's softphone in time";
        break;
    case DL_STOP_ORDER_CANCEL:
    case DL_STOP_ORDER_HANGUP:
        d = f->answered ? "agent leg closed by order" : "agent leg cancelled by order";
        break;
    case DL_STOP_SHUTDOWN:
        d = "dialer shutting down";
        break;
    case DL_STOP_ABANDON: /* never ordered on an agent leg */
    case DL_STOP_NONE:
        break;
    }
    if (!d && f->answered)
        d = agent_hung_up ? "the agent hung up (BYE from the softphone)" : "agent leg ended";
    if (!d && f->final_local && f->final_status == 408)
        d = "no response from the agent's softphone";
    if (!d && f->final_local && f->final_status == 503)
        d = "transport error towards the agent's softphone (unreachable?)";
    if (!d && f->final_local)
        d = "local failure on the agent leg";
    if (d)
        snprintf(out, len, "%s", d);
    else if (f->final_status >= 300)
        snprintf(out, len, "the agent's softphone refused the call: %d%s%s", f->final_status,
                 reason && reason[0] ? " " : "", reason ? reason : "");
    else
        snprintf(out, len, "agent leg lost before any answer from the softphone");
}

bool dl_deadline_passed(uint64_t not_after_ms, uint64_t now_ms, char *detail, size_t len)
{
    /* not_after is the last moment allowed: a call started at that very millisecond is legal */
    if (not_after_ms == 0 || now_ms <= not_after_ms)
        return false;
    snprintf(detail, len, "deadline passed %llu ms before dialling",
             (unsigned long long)(now_ms - not_after_ms));
    return true;
}

const char *dl_outcome_name(Carillon__V1__CallOutcome o)
{
    static const char *const names[] = {
        "unspecified", "answered",      "busy",      "no_answer", "invalid_number",
        "rejected",    "trunk_failure", "cancelled", "lost",      "refused",
        "abandoned",   "expired",       "machine",
    };
    if ((int)o < 0 || (size_t)o >= sizeof names / sizeof names[0])
        return "?";
    return names[o];
}
