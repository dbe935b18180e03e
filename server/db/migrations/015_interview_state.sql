-- The interview's state across calls (seed 003): an interview the agent cancelled or suspended
-- keeps that state whatever the call's qualification or close says afterwards (a suspended one
-- starts again, with its answers, on the next call; a cancelled one stays cancelled); a callback
-- may be given to another agent of the campaign; the interview's events (finished, callback)
-- are written by the same transaction as the qualification. 012's functions are replaced here,
-- never edited.

-- When the contact's interview in progress began: answers saved after the last time it was
-- finished or cancelled are its answers (NULL: since ever).
CREATE FUNCTION carillon_interview_since(p_contact bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT max(at) FROM interview_events
     WHERE contact_id = p_contact AND event IN ('finished', 'cancelled')
$$;

-- Has the question an answer in the contact's interview in progress? Its latest answer (per
-- matrix row) holds a value that is not empty: an open answer cleared afterwards is none.
CREATE FUNCTION carillon_interview_answered(p_contact bigint, p_export_name text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM (
        SELECT DISTINCT ON (coalesce(x.matrix_row, '')) x."values" AS v FROM answers x
         WHERE x.contact_id = p_contact AND x.export_name = p_export_name
           AND x.answered_at > coalesce(carillon_interview_since(p_contact), '-infinity')
         ORDER BY coalesce(x.matrix_row, ''), x.id DESC) l
     WHERE cardinality(l.v) > 0 AND l.v[1] <> '')
$$;

-- A cancelled interview is never started again by a later call (whoever writes the start:
-- store_attempt_bridged or the interview's own load): only a reset of the contact (to_call)
-- reopens it.
CREATE FUNCTION carillon_interview_keep_cancelled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.interview = 'cancelled' AND NEW.interview = 'started' THEN
        NEW.interview := OLD.interview;
        NEW.interview_at := OLD.interview_at;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER contacts_interview_keep_cancelled
    BEFORE UPDATE OF interview ON contacts
    FOR EACH ROW WHEN (OLD.interview = 'cancelled')
    EXECUTE FUNCTION carillon_interview_keep_cancelled();

-- As 012's, but a cancelled or suspended interview keeps its state (and time) when the call
-- closes without a qualification.
CREATE OR REPLACE FUNCTION carillon_contact_after(a attempts, p_now timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_rule jsonb;
    v_key text;
    v_n integer;
    v_max integer;
    v_state text := 'waiting';
    v_next timestamptz;
    v_other bigint;
    v_callback boolean;
BEGIN
    v_key := carillon_rule_key(a.outcome);
    SELECT coalesce(outcome_rules -> v_key, '{}') INTO v_rule FROM campaigns
     WHERE id = a.campaign_id;
    v_next := p_now + make_interval(secs => coalesce((v_rule ->> 'retry_delay_s')::int, 0));

    IF a.outcome = 'invalid_number' THEN
        UPDATE addresses SET state = 'failed' WHERE id = a.address_id;
        v_next := p_now;
    ELSIF a.counted THEN
        SELECT count(*) INTO v_n FROM attempts
         WHERE contact_id = a.contact_id AND counted AND carillon_rule_key(outcome) = v_key;
        v_max := greatest(coalesce((v_rule ->> 'max_attempts')::int, 0), 1);
        IF v_n >= v_max THEN
            v_state := coalesce(v_rule ->> 'after_last', 'failed');
            IF v_state NOT IN ('failed', 'done', 'shelved') THEN
                v_state := 'failed';
            END IF;
        END IF;
    END IF;
    IF a.counted OR a.outcome = 'invalid_number' THEN
        SELECT id INTO v_other FROM addresses
         WHERE contact_id = a.contact_id AND id <> coalesce(a.address_id, 0)
           AND state IN ('scheduled', 'rescheduled', 'waiting')
         ORDER BY position <= coalesce((SELECT position FROM addresses WHERE id = a.address_id), 0),
                  position
         LIMIT 1;
        IF v_other IS NOT NULL THEN
            UPDATE addresses SET state = 'waiting'
             WHERE contact_id = a.contact_id AND state = 'scheduled' AND id <> v_other;
            UPDATE addresses SET state = 'scheduled' WHERE id = v_other;
        ELSIF a.outcome = 'invalid_number' THEN
            v_state := 'failed';
        END IF;
    END IF;
    UPDATE contacts SET state = v_state, callback = callback AND NOT a.counted,
           next_try = CASE WHEN v_state = 'waiting' THEN v_next ELSE next_try END,
           attempts = attempts + CASE WHEN a.counted THEN 1 ELSE 0 END,
           -- the agent's cancel or suspend stands; an interview started on a call that did not
           -- end in a qualification is to do again
           interview = CASE WHEN interview IN ('cancelled', 'suspended') THEN interview
                            WHEN v_state <> 'waiting' THEN 'finished'
                            WHEN interview = 'started' THEN 'to_call' ELSE interview END,
           interview_at = CASE WHEN interview IN ('cancelled', 'suspended') THEN interview_at
                               WHEN v_state = 'waiting' AND interview <> 'started'
                               THEN interview_at ELSE p_now END,
           updated_at = p_now
     WHERE id = a.contact_id
    RETURNING callback INTO v_callback;
    IF a.counted THEN
        UPDATE callbacks SET done_at = p_now
         WHERE contact_id = a.contact_id AND done_at IS NULL AND due_at <= a.created_at;
    END IF;
    IF a.outcome IN ('answered', 'abandoned') AND a.answered_at IS NOT NULL THEN
        PERFORM carillon_ledger_count(a.campaign_id, p_now, a.outcome = 'abandoned');
    END IF;
    RETURN v_state;
END
$$;

-- 012's qualification with the interview's states and events, and p_callback_agent: the agent
-- a callback goes to, personal to them (NULL: p_personal or the qualification's personal mode
-- decide between p_by and anyone).
--   final: the contact is done, its interview finished (event finished)
--   a callback: the interview is to_call_back (event callback, "at <RFC 3339> for <login|anyone>")
--   positive, not final: the interview is finished (event finished), the contact comes back
--   other: an interview started is to_call again (its answers stay for the next call)
-- An interview the agent cancelled or suspended on this call keeps that state: the
-- qualification says what happens to the contact, the agent's action what happened to the
-- interview. The events are written in any case.
CREATE FUNCTION carillon_attempt_qualify_for(p_attempt bigint, p_now timestamptz, p_code text,
                                             p_by bigint, p_callback_at timestamptz,
                                             p_personal boolean, p_callback_agent bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
    q qualifications%ROWTYPE;
    v_state text;
    v_next timestamptz;
    v_delay integer;
    v_kept boolean;
    v_cb_agent bigint;
BEGIN
    SELECT * INTO a FROM attempts WHERE id = p_attempt FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'attempt % does not exist', p_attempt USING ERRCODE = '22023';
    END IF;
    IF a.closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'attempt % is already qualified or closed', p_attempt
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO q FROM qualifications WHERE campaign_id = a.campaign_id AND code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'qualification "%" is not one of this campaign''s', p_code
            USING ERRCODE = '22023';
    END IF;
    IF p_callback_at IS NULL AND q.callback = 'mandatory' THEN
        RAISE EXCEPTION 'qualification "%" needs a callback time', p_code USING ERRCODE = '22023';
    END IF;
    IF p_callback_at IS NOT NULL THEN
        IF q.callback = 'none' THEN
            RAISE EXCEPTION 'qualification "%" takes no callback', p_code USING ERRCODE = '22023';
        END IF;
        IF p_callback_at < p_now + make_interval(days => q.callback_min_days)
           OR (q.callback_max_days > 0
               AND p_callback_at > p_now + make_interval(days => q.callback_max_days)) THEN
            RAISE EXCEPTION 'the callback of "%" must be between % and % days from now', p_code,
                q.callback_min_days, q.callback_max_days USING ERRCODE = '22023';
        END IF;
    END IF;
    v_cb_agent := CASE WHEN p_callback_agent IS NOT NULL THEN p_callback_agent
                       WHEN p_personal OR q.callback = 'personal' THEN p_by END;
    SELECT interview IN ('cancelled', 'suspended') INTO v_kept FROM contacts
     WHERE id = a.contact_id FOR UPDATE;
    UPDATE attempts SET qualification = p_code, qualified_at = p_now, qualified_by = p_by,
           refusal = q.refusal, closed_at = p_now, ended_at = coalesce(ended_at, p_now),
           outcome = coalesce(outcome, 'answered'), counted = true
     WHERE id = p_attempt;
    IF a.answered_at IS NOT NULL AND coalesce(a.outcome, 'answered') = 'answered' THEN
        PERFORM carillon_ledger_count(a.campaign_id, p_now, false);
    END IF;
    IF q.final THEN
        v_state := 'done';
        UPDATE contacts SET state = 'done', last_qualification = p_code, callback = false,
               interview = CASE WHEN v_kept THEN interview ELSE 'finished' END,
               interview_at = CASE WHEN v_kept THEN interview_at ELSE p_now END,
               updated_at = p_now, attempts = attempts + 1
         WHERE id = a.contact_id;
    ELSIF p_callback_at IS NOT NULL THEN
        v_state := 'waiting';
        UPDATE callbacks SET done_at = p_now WHERE contact_id = a.contact_id AND done_at IS NULL;
        INSERT INTO callbacks (campaign_id, contact_id, due_at, agent_id, created_by, attempt_id)
        VALUES (a.campaign_id, a.contact_id, p_callback_at, v_cb_agent, p_by, p_attempt);
        UPDATE contacts SET state = 'waiting', next_try = p_callback_at, callback = true,
               agent_id = coalesce(v_cb_agent, agent_id),
               last_qualification = p_code,
               interview = CASE WHEN v_kept THEN interview ELSE 'to_call_back' END,
               interview_at = CASE WHEN v_kept THEN interview_at ELSE p_now END,
               updated_at = p_now, attempts = attempts + 1
         WHERE id = a.contact_id;
        INSERT INTO interview_events (campaign_id, contact_id, attempt_id, at, event, agent_id,
                                      detail)
        SELECT a.campaign_id, a.contact_id, p_attempt, p_now, 'callback', p_by,
               'at ' || to_char(p_callback_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
               || ' for ' || coalesce((SELECT login FROM users WHERE id = v_cb_agent), 'anyone');
    ELSE
        v_state := 'waiting';
        SELECT coalesce((outcome_rules -> 'no_answer' ->> 'retry_delay_s')::int, 0) INTO v_delay
          FROM campaigns WHERE id = a.campaign_id;
        v_next := p_now + make_interval(secs => v_delay);
        UPDATE contacts SET state = 'waiting', next_try = v_next, callback = false,
               last_qualification = p_code,
               interview = CASE WHEN v_kept THEN interview
                                WHEN q.type = 'positive' THEN 'finished'
                                WHEN interview = 'started' THEN 'to_call' ELSE interview END,
               interview_at = CASE WHEN v_kept THEN interview_at
                                   WHEN q.type = 'positive' OR interview = 'started' THEN p_now
                                   ELSE interview_at END,
               updated_at = p_now, attempts = attempts + 1
         WHERE id = a.contact_id;
    END IF;
    IF (q.final OR q.type = 'positive') AND NOT v_kept THEN
        INSERT INTO interview_events (campaign_id, contact_id, attempt_id, at, event, agent_id,
                                      detail)
        VALUES (a.campaign_id, a.contact_id, p_attempt, p_now, 'finished', p_by, p_code);
    END IF;
    RETURN v_state;
END
$$;

-- 012's signature, kept for its callers (store_attempt_qualify, the automatic qualification).
CREATE OR REPLACE FUNCTION carillon_attempt_qualify(p_attempt bigint, p_now timestamptz,
                                                    p_code text, p_by bigint,
                                                    p_callback_at timestamptz,
                                                    p_personal boolean)
RETURNS text
LANGUAGE sql AS $$
    SELECT carillon_attempt_qualify_for(p_attempt, p_now, p_code, p_by, p_callback_at,
                                        p_personal, NULL)
$$;

-- An agent's qualification through the interview window (store/interview.c), one transaction:
--   p_callback_login: the callback goes to that agent, who must be assigned to the campaign
--   mandatory questions: a positive or argued qualification needs every mandatory question of
--   the interview in progress answered. Other qualifications (a refusal, no answer, a wrong
--   number, a callback) end or postpone a conversation that may not have reached the
--   questions, so they are allowed without them.
-- Refusals raise SQLSTATE CI001 (a precondition: the question to answer) or CI002 (an
-- argument) with the message "<field>\x1e<sentence>"; 012's refusals keep 22023.
CREATE FUNCTION carillon_interview_qualify(p_attempt bigint, p_now timestamptz, p_code text,
                                           p_by bigint, p_callback_at timestamptz,
                                           p_personal boolean, p_callback_login text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
    q qualifications%ROWTYPE;
    v_agent bigint;
    v_export text;
    v_text text;
BEGIN
    SELECT * INTO a FROM attempts WHERE id = p_attempt;
    IF FOUND THEN
        SELECT * INTO q FROM qualifications WHERE campaign_id = a.campaign_id AND code = p_code;
    END IF;
    IF p_callback_login <> '' THEN
        SELECT ca.user_id INTO v_agent FROM campaign_agents ca JOIN users u ON u.id = ca.user_id
         WHERE ca.campaign_id = a.campaign_id AND u.login = p_callback_login;
        IF v_agent IS NULL THEN
            RAISE EXCEPTION '%', 'callback_agent' || chr(30) || format(
                'agent "%s" is not assigned to this campaign: the callback cannot go to them',
                p_callback_login) USING ERRCODE = 'CI002';
        END IF;
        IF p_callback_at IS NULL THEN
            RAISE EXCEPTION '%', 'callback_unix_ms' || chr(30) || format(
                'a callback for agent "%s" needs its time', p_callback_login)
                USING ERRCODE = 'CI002';
        END IF;
    END IF;
    IF q.id IS NOT NULL AND (q.type = 'positive' OR q.argued) THEN
        SELECT b.export_name, b.text INTO v_export, v_text FROM script_blocks b
         WHERE b.campaign_id = a.campaign_id AND b.mandatory AND b.export_name IS NOT NULL
           AND b.kind IN ('input', 'select', 'predefined')
           AND NOT carillon_interview_answered(a.contact_id, b.export_name)
         ORDER BY b.screen_position, b.position LIMIT 1;
        IF v_export IS NOT NULL THEN
            RAISE EXCEPTION '%', v_export || chr(30) || format(
                'question "%s" is mandatory: answer it before qualifying with "%s"',
                left(v_text, 120), p_code) USING ERRCODE = 'CI001';
        END IF;
    END IF;
    RETURN carillon_attempt_qualify_for(p_attempt, p_now, p_code, p_by, p_callback_at, p_personal,
                                        v_agent);
END
$$;
