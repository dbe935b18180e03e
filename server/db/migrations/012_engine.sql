-- The campaign engine's tables: attempts (one per call placed or order given), the dialers'
-- events (stored once by (boot_id, seq)), agent sessions with every state change, callbacks,
-- and the abandon ledger. The claim and the outcome are functions here so that each is one
-- statement, one transaction; server/store/attempts.c is their only caller (and
-- tests/bench/claim runs the same statements bare under pgbench).

ALTER TABLE contacts
    -- a callback is due at next_try: such contacts come before other due ones (seed 003)
    ADD COLUMN callback boolean NOT NULL DEFAULT false,
    -- seed 003's interview state, with the time it was reached
    ADD COLUMN interview text NOT NULL DEFAULT 'to_call'
        CHECK (interview IN ('to_call', 'to_call_back', 'started', 'finished', 'cancelled',
                             'suspended')),
    ADD COLUMN interview_at timestamptz;

-- The claim's order: top priority, due callbacks, priority, next try (never tried first), import
-- order (the id), oldest or newest first.
CREATE INDEX contacts_claim ON contacts
    (campaign_id, top_priority DESC, callback DESC, priority DESC, next_try NULLS FIRST, id)
    WHERE state = 'waiting';
CREATE INDEX contacts_claim_newest ON contacts
    (campaign_id, top_priority DESC, callback DESC, priority DESC, next_try NULLS FIRST, id DESC)
    WHERE state = 'waiting';

CREATE TABLE attempts (
    id            bigserial PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id    bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    address_id    bigint REFERENCES addresses(id) ON DELETE SET NULL,
    number        text NOT NULL,
    -- the agent reserved for the call (agent-first, preview, an assigned contact) or bridged to it
    agent_id      bigint REFERENCES users(id),
    dialer_node   text NOT NULL DEFAULT '',
    dialer_boot   bigint,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz,
    ringing_at    timestamptz,
    answered_at   timestamptz,
    bridged_at    timestamptz,
    ended_at      timestamptz,
    outcome       text CHECK (outcome IN ('answered', 'busy', 'no_answer', 'invalid_number',
                                          'rejected', 'trunk_failure', 'cancelled', 'lost',
                                          'refused', 'abandoned', 'expired', 'machine',
                                          'skipped')),
    -- a SIP request went out: the try counts against the contact's caps and the FR 4-in-30-days
    counted       boolean NOT NULL DEFAULT false,
    sip_status    integer,
    sip_call_id   text NOT NULL DEFAULT '',
    hung_up_by    text,
    ring_ms       integer,
    talk_ms       integer,
    detail        text NOT NULL DEFAULT '',
    qualification text,
    qualified_at  timestamptz,
    qualified_by  bigint REFERENCES users(id),
    refusal       boolean NOT NULL DEFAULT false,
    -- the contact's next state is written: nothing more happens to this attempt
    closed_at     timestamptz
);
-- One live call per contact, as an invariant of the database.
CREATE UNIQUE INDEX attempts_one_live ON attempts (contact_id) WHERE closed_at IS NULL;
CREATE INDEX attempts_number ON attempts (number, created_at);
CREATE INDEX attempts_campaign ON attempts (campaign_id, created_at);
CREATE INDEX attempts_contact ON attempts (contact_id);

-- Every event a dialer pushed, once: (boot_id, seq) is its identity across reconnects.
CREATE TABLE dialer_events (
    boot_id     bigint NOT NULL,
    seq         bigint NOT NULL,
    node        text NOT NULL,
    attempt_id  bigint,
    agent_id    bigint,
    state       text NOT NULL,
    outcome     text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (boot_id, seq)
);

CREATE TABLE agent_sessions (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users(id),
    token_sha256  text NOT NULL UNIQUE,
    softphone     text NOT NULL,
    campaigns     bigint[] NOT NULL,
    address       text NOT NULL DEFAULT '',
    agentd_node   text NOT NULL DEFAULT '',
    dialer_node   text NOT NULL DEFAULT '',
    state         text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    state_since   timestamptz NOT NULL,
    logged_in_at  timestamptz NOT NULL,
    logged_out_at timestamptz,
    logout_reason text
);
CREATE UNIQUE INDEX agent_sessions_live ON agent_sessions (user_id) WHERE logged_out_at IS NULL;

CREATE TABLE agent_states (
    session_id bigint NOT NULL REFERENCES agent_sessions(id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    state      text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    attempt_id bigint
);
CREATE INDEX agent_states_session ON agent_states (session_id, at);

-- A callback: one row per request (the contact's next_try and agent follow it).
CREATE TABLE callbacks (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    due_at      timestamptz NOT NULL,
    agent_id    bigint REFERENCES users(id), -- personal: only this agent; NULL: anyone
    created_by  bigint REFERENCES users(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempt_id  bigint REFERENCES attempts(id) ON DELETE SET NULL,
    done_at     timestamptz
);
CREATE UNIQUE INDEX callbacks_open ON callbacks (contact_id) WHERE done_at IS NULL;

-- Calls answered by a person and those abandoned, per campaign and day (the campaign's zone):
-- the abandon rates of the compliance profiles and of `carillonctl compliance report`.
CREATE TABLE abandon_ledger (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    day         date NOT NULL,
    answered    integer NOT NULL DEFAULT 0,
    abandoned   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, day)
);

-- A French contact's département for the holidays of its own region, as
-- compliance_region_from_postcode / _from_phone (server/engine/compliance.c) say: the postcode
-- first, else the number's overseas prefix, else '' (national days only).
CREATE FUNCTION carillon_region(zip text, number text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN zip ~ '^97133$' THEN '977'
        WHEN zip ~ '^97150$' THEN '978'
        WHEN zip ~ '^97[0-9]{3}$' THEN left(zip, 3)
        WHEN zip ~ '^20[0-9]{3}$' THEN CASE WHEN zip < '20200' THEN '2A' ELSE '2B' END
        WHEN zip ~ '^[0-8][0-9]{4}$' OR zip ~ '^9[0-5][0-9]{3}$' THEN left(zip, 2)
        WHEN number ~ '^\+590' THEN '971'
        WHEN number ~ '^\+596' THEN '972'
        WHEN number ~ '^\+594' THEN '973'
        WHEN number ~ '^\+262(269|639)' THEN '976'
        WHEN number ~ '^\+262' THEN '974'
        WHEN number ~ '^\+508' THEN '975'
        ELSE '' END
$$;

-- The number a waiting contact may be called on now, with the end of its legal window (NULL:
-- none), or no row: outside the profile's windows in the contact's own zone, on a public
-- holiday of its region, every number blacklisted, capped or in a quiet period. Arguments as
-- carillon_claim's. One SQL statement, so the planner inlines it into the claim.
CREATE FUNCTION carillon_callable(p_contact bigint, p_tz text, p_zip text, p_campaign bigint,
                                  p_now timestamptz, p_win_day integer[], p_win_start integer[],
                                  p_win_end integer[], p_profile text, p_agent_first boolean)
RETURNS TABLE (address_id bigint, number text, not_after timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT ad.id, ad.number, w.ends
      FROM (SELECT (p_now AT TIME ZONE p_tz) AS t) lt
      CROSS JOIN LATERAL (
          SELECT min((lt.t::date + make_interval(mins => e)) AT TIME ZONE p_tz) AS ends,
                 count(*) AS n
            FROM unnest(p_win_day, p_win_start, p_win_end) AS win(d, s, e)
           WHERE d = extract(isodow FROM lt.t)
             AND extract(hour FROM lt.t) * 60 + extract(minute FROM lt.t) >= s
             AND extract(hour FROM lt.t) * 60 + extract(minute FROM lt.t) < e) w
      CROSS JOIN LATERAL (
          SELECT a.id, a.number FROM addresses a
           WHERE a.contact_id = p_contact AND a.state IN ('scheduled', 'rescheduled', 'waiting')
             AND NOT EXISTS (SELECT 1 FROM blacklist b WHERE b.number = a.number
                               AND (b.campaign_id IS NULL OR b.campaign_id = p_campaign))
             -- an attempt still open counts (claimed for another contact with this number, not
             -- sent yet): its close says whether it was tried
             AND (p_profile <> 'FR' OR (
                  (SELECT count(*) FROM attempts x WHERE x.number = a.number
                      AND (x.counted OR x.closed_at IS NULL)
                      AND x.created_at > p_now - interval '30 days') < 4
              AND NOT EXISTS (SELECT 1 FROM attempts x WHERE x.number = a.number
                      AND x.refusal AND x.qualified_at > p_now - interval '60 days')))
             AND (p_profile <> 'UK' OR p_agent_first OR NOT EXISTS (SELECT 1 FROM attempts x
                   WHERE x.number = a.number AND x.outcome = 'abandoned'
                     AND x.ended_at > p_now - interval '72 hours'))
           ORDER BY a.state = 'scheduled' DESC, a.position LIMIT 1) ad
     WHERE (cardinality(p_win_day) = 0 OR w.n > 0)
       AND (p_profile = '' OR NOT EXISTS (SELECT 1 FROM public_holidays h
              WHERE h.profile = p_profile AND h.region IN ('', carillon_region(p_zip, ad.number))
                AND h.day = lt.t::date))
$$;

-- A contact picked by carillon_claim.
CREATE TYPE carillon_pick AS (id bigint, agent_id bigint, callback boolean, address_id bigint,
                              number text, not_after timestamptz);

-- Claims up to p_n contacts of a campaign for dialing, in one transaction: each picked with
-- FOR UPDATE SKIP LOCKED (two servers never claim the same contact), marked running, and given
-- an attempt row on its next dialable number. Only contacts waiting on an active list, due,
-- with a number carillon_callable allows, under the assignment rules.
--   p_now      the engine's clock (tests move it)
--   p_win_*    the profile's weekly windows (ISO weekday, minutes after local midnight, end
--              excluded), from server/engine/compliance.c; empty: no hours limit
--   p_profile  'FR', 'US', 'UK' or '' (holidays, caps and quiet periods)
--   p_ready    agents ready for this campaign: an assigned contact is only claimed when its agent
--              is among them (exclusive assignment, personal callbacks)
--   p_for_agent preview: the agent the contact is shown to (assigned contacts of others skipped)
--   p_agent_first the call will have an agent reserved (UK: allowed within 72 h of an abandon)
--   p_slot_end the end of the campaign's schedule slot: with the legal window's end, not_after
-- The statements are static (PL/pgSQL keeps their plans); the two differ only by the import
-- order (oldest or newest first), each walking its own index.
CREATE FUNCTION carillon_claim(p_campaign bigint, p_n integer, p_now timestamptz,
                               p_win_day integer[], p_win_start integer[], p_win_end integer[],
                               p_profile text, p_ready bigint[], p_for_agent bigint,
                               p_agent_first boolean, p_slot_end timestamptz, p_node text)
RETURNS TABLE (attempt_id bigint, contact_id bigint, number text, agent_id bigint,
               not_after timestamptz, callback boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_newest boolean;
    v_exclusive boolean;
    v_picked carillon_pick[];
BEGIN
    SELECT c.newest_first, c.exclusive_assignment INTO v_newest, v_exclusive
      FROM campaigns c WHERE c.id = p_campaign;
    IF v_newest THEN
        SELECT array_agg(k) INTO v_picked FROM (
        SELECT c.id, c.agent_id, c.callback, e.address_id, e.number, e.not_after
          FROM contacts c
          JOIN lists l ON l.id = c.list_id AND l.state = 'active'
          CROSS JOIN LATERAL carillon_callable(c.id, c.time_zone, c.zip, p_campaign, p_now,
              p_win_day, p_win_start, p_win_end, p_profile, p_agent_first) e
         WHERE c.campaign_id = p_campaign AND c.state = 'waiting'
           AND (c.next_try IS NULL OR c.next_try <= p_now)
           AND (c.agent_id IS NULL OR c.agent_id = p_for_agent OR (p_for_agent IS NULL
                AND (c.agent_id = ANY(p_ready) OR (NOT v_exclusive AND NOT c.callback))))
           AND NOT EXISTS (SELECT 1 FROM attempts x WHERE x.contact_id = c.id
                             AND x.closed_at IS NULL)
         ORDER BY c.top_priority DESC, c.callback DESC, c.priority DESC, c.next_try NULLS FIRST,
                  c.id DESC
         LIMIT p_n
         FOR UPDATE OF c SKIP LOCKED) k;
    ELSE
        SELECT array_agg(k) INTO v_picked FROM (
        SELECT c.id, c.agent_id, c.callback, e.address_id, e.number, e.not_after
          FROM contacts c
          JOIN lists l ON l.id = c.list_id AND l.state = 'active'
          CROSS JOIN LATERAL carillon_callable(c.id, c.time_zone, c.zip, p_campaign, p_now,
              p_win_day, p_win_start, p_win_end, p_profile, p_agent_first) e
         WHERE c.campaign_id = p_campaign AND c.state = 'waiting'
           AND (c.next_try IS NULL OR c.next_try <= p_now)
           AND (c.agent_id IS NULL OR c.agent_id = p_for_agent OR (p_for_agent IS NULL
                AND (c.agent_id = ANY(p_ready) OR (NOT v_exclusive AND NOT c.callback))))
           AND NOT EXISTS (SELECT 1 FROM attempts x WHERE x.contact_id = c.id
                             AND x.closed_at IS NULL)
         ORDER BY c.top_priority DESC, c.callback DESC, c.priority DESC, c.next_try NULLS FIRST,
                  c.id
         LIMIT p_n
         FOR UPDATE OF c SKIP LOCKED) k;
    END IF;
    IF v_picked IS NULL THEN
        RETURN;
    END IF;
    UPDATE contacts c SET state = 'running', updated_at = p_now
      FROM unnest(v_picked) p WHERE c.id = p.id;
    RETURN QUERY
    WITH ins AS (
        INSERT INTO attempts AS at (campaign_id, contact_id, address_id, number, agent_id,
                                    dialer_node, created_at)
        SELECT p_campaign, p.id, p.address_id, p.number, coalesce(p_for_agent, p.agent_id),
               p_node, p_now
          FROM unnest(v_picked) p
        RETURNING at.id, at.contact_id, at.number, at.agent_id)
    SELECT ins.id, ins.contact_id, ins.number, ins.agent_id, least(p.not_after, p_slot_end),
           p.callback
      FROM ins JOIN unnest(v_picked) p ON p.id = ins.contact_id;
END
$$;
-- One more call answered by a person (abandoned or not) in the campaign's abandon ledger, on the
-- campaign's day of p_now.
CREATE FUNCTION carillon_ledger_count(p_campaign bigint, p_now timestamptz, p_abandoned boolean)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO abandon_ledger AS l (campaign_id, day, answered, abandoned)
    SELECT p_campaign, (p_now AT TIME ZONE c.time_zone)::date, 1,
           CASE WHEN p_abandoned THEN 1 ELSE 0 END
      FROM campaigns c WHERE c.id = p_campaign
    ON CONFLICT (campaign_id, day) DO UPDATE
       SET answered = l.answered + 1, abandoned = l.abandoned + EXCLUDED.abandoned
$$;

-- The rule of a campaign for an outcome: the JSON of campaigns.outcome_rules (store/campaigns.c
-- writes every key): outcomes without a rule of their own (lost, expired, cancelled, refused,
-- skipped) are retried after trunk_failure's delay without counting a try.
CREATE FUNCTION carillon_rule_key(p_outcome text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_outcome
        WHEN 'busy' THEN 'busy'
        WHEN 'no_answer' THEN 'no_answer'
        WHEN 'rejected' THEN 'no_answer'     -- 403/603: the person declined
        WHEN 'answered' THEN 'no_answer'     -- talked but never qualified (wrap-up maximum)
        WHEN 'abandoned' THEN 'abandoned'
        WHEN 'machine' THEN 'answering_machine'
        ELSE 'trunk_failure' END
$$;

-- The contact's next state once attempt a (already updated: outcome, counted, closed_at) is
-- closed without a qualification, in the caller's transaction: the rule of its outcome (delay,
-- maximum, after_last), the next number (rotation after a counted try, a number marked failed
-- after invalid_number), the contact's counters, its due callback, and the abandon ledger.
-- Returns the contact's new state.
CREATE FUNCTION carillon_contact_after(a attempts, p_now timestamptz)
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
    -- the next number: after a counted try (or a failed number), the one after this by position
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
           -- an interview started on a call that did not end in a qualification is to do again
           interview = CASE WHEN v_state <> 'waiting' THEN 'finished'
                            WHEN interview = 'started' THEN 'to_call' ELSE interview END,
           interview_at = CASE WHEN v_state = 'waiting' AND interview <> 'started'
                               THEN interview_at ELSE p_now END,
           updated_at = p_now
     WHERE id = a.contact_id
    RETURNING callback INTO v_callback;
    -- a counted try on a due callback is that callback done
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

-- Closes an attempt whose call ended without a qualification and writes the contact's next
-- state (carillon_contact_after), in one transaction. p_counted: a SIP request went out.
-- Returns the contact's new state ('' when the attempt was already closed).
CREATE FUNCTION carillon_attempt_close(p_attempt bigint, p_now timestamptz, p_outcome text,
                                       p_counted boolean, p_detail text)
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
    RETURN carillon_contact_after(a, p_now);
END
$$;

-- A qualification given by an agent (or the automatic table) closes the attempt: a final one
-- ends the contact (done), a callback sets its next try (and keeps the agent when personal), any
-- other sends it back to the campaign after no_answer's delay. Raises 22023 with a sentence for
-- a code the campaign does not have or a callback outside the qualification's bounds.
CREATE FUNCTION carillon_attempt_qualify(p_attempt bigint, p_now timestamptz, p_code text,
                                         p_by bigint, p_callback_at timestamptz,
                                         p_personal boolean)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
    q qualifications%ROWTYPE;
    v_state text;
    v_next timestamptz;
    v_delay integer;
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
    UPDATE attempts SET qualification = p_code, qualified_at = p_now, qualified_by = p_by,
           refusal = q.refusal, closed_at = p_now, ended_at = coalesce(ended_at, p_now),
           outcome = coalesce(outcome, 'answered'), counted = true
     WHERE id = p_attempt;
    -- a call a person answered and talked on (a preview qualified without a call was not
    -- answered): the ledger's answered calls, as carillon_attempt_close counts the unqualified
    IF a.answered_at IS NOT NULL AND coalesce(a.outcome, 'answered') = 'answered' THEN
        PERFORM carillon_ledger_count(a.campaign_id, p_now, false);
    END IF;
    IF q.final THEN
        v_state := 'done';
        UPDATE contacts SET state = 'done', last_qualification = p_code, callback = false,
               interview = 'finished', interview_at = p_now, updated_at = p_now,
               attempts = attempts + 1
         WHERE id = a.contact_id;
    ELSIF p_callback_at IS NOT NULL THEN
        v_state := 'waiting';
        UPDATE callbacks SET done_at = p_now WHERE contact_id = a.contact_id AND done_at IS NULL;
        INSERT INTO callbacks (campaign_id, contact_id, due_at, agent_id, created_by, attempt_id)
        VALUES (a.campaign_id, a.contact_id, p_callback_at,
                CASE WHEN p_personal OR q.callback = 'personal' THEN p_by END, p_by, p_attempt);
        UPDATE contacts SET state = 'waiting', next_try = p_callback_at, callback = true,
               agent_id = CASE WHEN p_personal OR q.callback = 'personal' THEN p_by
                               ELSE agent_id END,
               last_qualification = p_code, interview = 'to_call_back', interview_at = p_now,
               updated_at = p_now,
               attempts = attempts + 1
         WHERE id = a.contact_id;
    ELSE
        v_state := 'waiting';
        SELECT coalesce((outcome_rules -> 'no_answer' ->> 'retry_delay_s')::int, 0) INTO v_delay
          FROM campaigns WHERE id = a.campaign_id;
        v_next := p_now + make_interval(secs => v_delay);
        UPDATE contacts SET state = 'waiting', next_try = v_next, callback = false,
               last_qualification = p_code, updated_at = p_now,
               attempts = attempts + 1
         WHERE id = a.contact_id;
    END IF;
    RETURN v_state;
END
$$;

-- One event of a dialer, stored once: (boot_id, seq) already seen returns 'duplicate' and
-- changes nothing. Otherwise the attempt's progress is written; an ENDED call that was not
-- answered with an agent bridged closes at once (carillon_attempt_close) and returns the
-- contact's new state; an answered, bridged call stays open for the agent's qualification and
-- returns 'talked'; anything else returns 'progress' ('unknown' for an attempt not found).
CREATE FUNCTION carillon_call_event(p_boot bigint, p_seq bigint, p_node text, p_attempt bigint,
                                    p_state text, p_outcome text, p_now timestamptz,
                                    p_call_id text, p_sip_status integer, p_hung_up_by text,
                                    p_sent_at timestamptz, p_ringing_at timestamptz,
                                    p_answered_at timestamptz, p_ended_at timestamptz,
                                    p_ring_ms integer, p_talk_ms integer, p_detail text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a attempts%ROWTYPE;
BEGIN
    IF p_seq > 0 THEN
        INSERT INTO dialer_events (boot_id, seq, node, attempt_id, state, outcome)
        VALUES (p_boot, p_seq, p_node, p_attempt, p_state, nullif(p_outcome, ''))
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN 'duplicate';
        END IF;
    END IF;
    -- One UPDATE writes the event's fields and, for a call that ended without an agent talking
    -- to the customer, closes the attempt; a talked call waits for its qualification.
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
        RETURN 'talked';
    END IF;
    RETURN carillon_contact_after(a, p_now);
END
$$;
