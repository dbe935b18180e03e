-- The interview window (seed 003): the interview's events (its history), answers per attempt,
-- script navigation, and the automatic qualification table (seed 002).

-- Script navigation: a screen's next screen, and per question the screen an answer leads to.
ALTER TABLE script_screens ADD COLUMN next text NOT NULL DEFAULT '';
-- branches: pairs {answer, screen, answer, screen, ...}
ALTER TABLE script_blocks ADD COLUMN branches text[] NOT NULL DEFAULT '{}';

-- Automatic qualification: the code each call outcome gets (qualification_mode automatic).
CREATE TABLE campaign_auto_qualifications (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    outcome     text NOT NULL CHECK (outcome IN ('answered', 'busy', 'no_answer',
                                                 'invalid_number', 'rejected', 'trunk_failure',
                                                 'abandoned', 'machine')),
    code        text NOT NULL,
    PRIMARY KEY (campaign_id, outcome)
);

-- An interview's events, oldest first: started (a call connected), answers (saved),
-- suspended, cancelled, callback (requested: detail has the time and for whom), finished
-- (qualified final or positive). Calls themselves are the attempts.
CREATE TABLE interview_events (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    attempt_id  bigint REFERENCES attempts(id) ON DELETE SET NULL,
    at          timestamptz NOT NULL,
    event       text NOT NULL CHECK (event IN ('started', 'answers', 'suspended', 'cancelled',
                                               'callback', 'finished')),
    agent_id    bigint REFERENCES users(id),
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX interview_events_contact ON interview_events (contact_id, at);

-- Answers per attempt: the latest answer to a question within an attempt replaces the earlier
-- one (answers.id orders them); an interview is the contact's attempts since it last finished
-- or was cancelled.
CREATE INDEX answers_contact ON answers (contact_id, attempt_id, export_name);
