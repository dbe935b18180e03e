-- Answering-machine detection (issue 13; seed 002, DESIGN.md §7): the campaign's third action on
-- a machine, leave_message, with the name of the message (one of the dialers' [messages]); the
-- verdict on each attempt; carillon_call_event stores it from the dialer's DETECTED event (state
-- word 'detected') and again from ENDED. 'machine' is already an attempt outcome (012) and
-- carillon_rule_key maps it to the campaign's answering_machine rule; it is not an abandon and
-- the abandon ledger does not count it (only 'answered' and 'abandoned' are counted there).

ALTER TABLE campaigns DROP CONSTRAINT campaigns_amd_action_check;
ALTER TABLE campaigns
    ADD CONSTRAINT campaigns_amd_action_check
        CHECK (amd_action IN ('hang_up', 'connect_agent', 'leave_message')),
    -- AMD_ACTION_LEAVE_MESSAGE: the message's name (server/api/campaigns.c bounds its
    -- characters and length); '' otherwise
    ADD COLUMN amd_message text NOT NULL DEFAULT '',
    ADD CONSTRAINT campaigns_amd_message_check
        CHECK (amd_action <> 'leave_message' OR amd_message <> '');

ALTER TABLE attempts
    -- NULL: no detection ran (AMD off, agent-first, or the call ended before a verdict)
    ADD COLUMN amd_verdict text CHECK (amd_verdict IN ('human', 'machine', 'not_sure')),
    ADD COLUMN amd_reason text NOT NULL DEFAULT '', -- one word: greeting, words, beep, ...
    ADD COLUMN amd_ms integer,              -- the verdict, from the answer
    ADD COLUMN amd_greeting_end_ms integer; -- the end of the greeting, from the answer (0: none)

-- 016's carillon_call_event with four more arguments, the AMD verdict of the event ('' and NULLs
-- when it carries none): they default so that a caller of the old 17 arguments
-- (tests/bench/claim_*.sql) still reads the same. A verdict once written is kept: ENDED repeats
-- it, an event without one leaves it. An abandoned call whose verdict was machine is stored as
-- outcome machine.
DROP FUNCTION carillon_call_event(bigint, bigint, text, bigint, text, text, timestamptz, text,
                                  integer, text, timestamptz, timestamptz, timestamptz,
                                  timestamptz, integer, integer, text);
CREATE FUNCTION carillon_call_event(p_boot bigint, p_seq bigint, p_node text, p_attempt bigint,
                                    p_state text, p_outcome text, p_now timestamptz,
                                    p_call_id text, p_sip_status integer, p_hung_up_by text,
                                    p_sent_at timestamptz, p_ringing_at timestamptz,
                                    p_answered_at timestamptz, p_ended_at timestamptz,
                                    p_ring_ms integer, p_talk_ms integer, p_detail text,
                                    p_amd_verdict text DEFAULT '', p_amd_reason text DEFAULT '',
                                    p_amd_ms integer DEFAULT NULL,
                                    p_amd_greeting_end_ms integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
    v_code text;
    v_amd boolean := p_amd_verdict IN ('human', 'machine', 'not_sure');
BEGIN
    IF p_seq > 0 THEN
        INSERT INTO dialer_events (boot_id, seq, node, attempt_id, state, outcome)
        VALUES (p_boot, p_seq, p_node, p_attempt, p_state, nullif(p_outcome, ''))
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN 'duplicate';
        END IF;
    END IF;
    UPDATE attempts SET dialer_boot = p_boot,
           sip_call_id = CASE WHEN p_call_id = '' THEN sip_call_id ELSE p_call_id END,
           sip_status = CASE WHEN p_sip_status = 0 THEN sip_status ELSE p_sip_status END,
           sent_at = coalesce(p_sent_at, sent_at), ringing_at = coalesce(p_ringing_at, ringing_at),
           answered_at = coalesce(p_answered_at, answered_at),
           ended_at = coalesce(p_ended_at, ended_at),
           ring_ms = coalesce(p_ring_ms, ring_ms), talk_ms = coalesce(p_talk_ms, talk_ms),
           hung_up_by = coalesce(nullif(p_hung_up_by, ''), hung_up_by),
           detail = CASE WHEN p_detail = '' THEN detail ELSE p_detail END,
           amd_verdict = CASE WHEN v_amd THEN p_amd_verdict ELSE amd_verdict END,
           amd_reason = CASE WHEN v_amd THEN left(p_amd_reason, 64) ELSE amd_reason END,
           amd_ms = CASE WHEN v_amd THEN p_amd_ms ELSE amd_ms END,
           amd_greeting_end_ms = CASE WHEN v_amd THEN p_amd_greeting_end_ms
                                      ELSE amd_greeting_end_ms END,
           counted = CASE WHEN p_state = 'ended' AND p_outcome IN ('lost', 'expired', 'cancelled',
                                                                   'refused') THEN false
                          ELSE counted OR coalesce(p_sent_at, sent_at) IS NOT NULL END,
           -- a machine is not a person: one the dialer "abandoned" (connect_agent, no agent in
           -- time) is a machine, out of the abandon ledger and under answering_machine's rule
           outcome = CASE WHEN p_state <> 'ended' THEN outcome
                          WHEN p_outcome = 'abandoned' AND (CASE WHEN v_amd THEN p_amd_verdict
                                   ELSE amd_verdict END) = 'machine' THEN 'machine'
                          ELSE nullif(p_outcome, '') END,
           closed_at = CASE WHEN p_state = 'ended' AND NOT (p_outcome = 'answered'
                                AND coalesce(p_answered_at, answered_at) IS NOT NULL
                                AND bridged_at IS NOT NULL) THEN p_now END
     WHERE id = p_attempt AND closed_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF p_state <> 'ended' THEN
        RETURN 'progress';
    END IF;
    IF a.closed_at IS NULL THEN
        v_code := carillon_auto_code(a.campaign_id, 'answered');
        IF v_code IS NOT NULL THEN
            BEGIN
                RETURN carillon_attempt_qualify(p_attempt, p_now, v_code, NULL, NULL, false);
            EXCEPTION WHEN invalid_parameter_value THEN
                RETURN 'talked';
            END;
        END IF;
        RETURN 'talked';
    END IF;
    RETURN carillon_auto_after(a, p_now, carillon_contact_after(a, p_now));
END
$$;
