-- Automatic qualification (seed 002, "sur appel établi"): in a campaign whose
-- qualification_mode is automatic, a call outcome listed in campaign_auto_qualifications (014)
-- gets that qualification when the call ends. An answered call is qualified as an agent's
-- AgentQualify would (carillon_attempt_qualify); any other outcome records the code on the
-- attempt and the contact (last_qualification) and the retry follows the outcome's rule, except
-- that a final code ends the contact done. Outcomes without an entry behave as before.
-- 012's carillon_attempt_close and carillon_call_event are replaced with the same bodies plus
-- that step.

-- The code outcome p_outcome of campaign p_campaign gets, or NULL (manual mode, no entry).
CREATE FUNCTION carillon_auto_code(p_campaign bigint, p_outcome text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT aq.code FROM campaign_auto_qualifications aq
      JOIN campaigns c ON c.id = aq.campaign_id
     WHERE aq.campaign_id = p_campaign AND aq.outcome = p_outcome
       AND c.qualification_mode = 'automatic'
$$;

-- After carillon_contact_after wrote p_state for closed attempt a: the automatic code of its
-- outcome, if any, on the attempt and the contact; a final code makes the contact done.
-- Returns the contact's state.
CREATE FUNCTION carillon_auto_after(a attempts, p_now timestamptz, p_state text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_code text;
    q qualifications%ROWTYPE;
BEGIN
    v_code := carillon_auto_code(a.campaign_id, a.outcome);
    IF v_code IS NULL THEN
        RETURN p_state;
    END IF;
    SELECT * INTO q FROM qualifications WHERE campaign_id = a.campaign_id AND code = v_code;
    IF NOT FOUND THEN
        RETURN p_state;
    END IF;
    UPDATE attempts SET qualification = v_code, qualified_at = p_now, refusal = q.refusal
     WHERE id = a.id;
    IF q.final THEN
        UPDATE contacts SET state = 'done', last_qualification = v_code, callback = false,
               interview = 'finished', interview_at = p_now, updated_at = p_now
         WHERE id = a.contact_id;
        RETURN 'done';
    END IF;
    UPDATE contacts SET last_qualification = v_code, updated_at = p_now WHERE id = a.contact_id;
    RETURN p_state;
END
$$;

CREATE OR REPLACE FUNCTION carillon_attempt_close(p_attempt bigint, p_now timestamptz,
                                                  p_outcome text, p_counted boolean,
                                                  p_detail text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
BEGIN
    UPDATE attempts SET outcome = p_outcome, counted = p_counted, closed_at = p_now,
           ended_at = coalesce(ended_at, p_now),
           detail = CASE WHEN p_detail = '' THEN detail ELSE p_detail END
     WHERE id = p_attempt AND closed_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RETURN '';
    END IF;
    RETURN carillon_auto_after(a, p_now, carillon_contact_after(a, p_now));
END
$$;

-- As 012's, plus: an answered, bridged call of a campaign with an automatic code for
-- 'answered' is qualified at once (carillon_attempt_qualify, by nobody) and returns the
-- contact's state instead of 'talked'; a code the qualification refuses without a callback
-- time leaves the call talked (the apply refuses such a table, this is a last guard).
CREATE OR REPLACE FUNCTION carillon_call_event(p_boot bigint, p_seq bigint, p_node text,
                                               p_attempt bigint, p_state text, p_outcome text,
                                               p_now timestamptz, p_call_id text,
                                               p_sip_status integer, p_hung_up_by text,
                                               p_sent_at timestamptz, p_ringing_at timestamptz,
                                               p_answered_at timestamptz,
                                               p_ended_at timestamptz, p_ring_ms integer,
                                               p_talk_ms integer, p_detail text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
    v_code text;
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
           counted = CASE WHEN p_state = 'ended' AND p_outcome IN ('lost', 'expired', 'cancelled',
                                                                   'refused') THEN false
                          ELSE counted OR coalesce(p_sent_at, sent_at) IS NOT NULL END,
           outcome = CASE WHEN p_state = 'ended' THEN nullif(p_outcome, '') ELSE outcome END,
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
