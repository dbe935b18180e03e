-- Argument scripts and questionnaires: screens of blocks (text, questions, quick-qualification
-- buttons), and the answers agents give, which freeze the questions and choices they use.
CREATE TABLE script_screens (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    initial     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, position),
    UNIQUE (campaign_id, name)
);

CREATE TABLE script_blocks (
    campaign_id     bigint NOT NULL,
    screen_position integer NOT NULL,
    position        integer NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('text','input','select','predefined','quick_qualification')),
    text            text NOT NULL DEFAULT '',
    export_name     text,
    mandatory       boolean NOT NULL DEFAULT false,
    select_type     text NOT NULL DEFAULT '',
    predefined_type text NOT NULL DEFAULT '',
    choices         text[] NOT NULL DEFAULT '{}',
    matrix_rows     text[] NOT NULL DEFAULT '{}',
    qualifications  text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (campaign_id, screen_position, position),
    FOREIGN KEY (campaign_id, screen_position)
        REFERENCES script_screens (campaign_id, position) ON DELETE CASCADE
);
CREATE UNIQUE INDEX script_blocks_export_name ON script_blocks (campaign_id, export_name)
    WHERE export_name IS NOT NULL;

-- An answer to a question, by export name (screens and blocks may be reordered freely).
-- Selected choices are values; an open answer is one value.
CREATE TABLE answers (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    export_name text NOT NULL,
    contact_id  bigint,
    attempt_id  bigint,
    matrix_row  text,
    "values"    text[] NOT NULL,
    answered_by bigint REFERENCES users(id),
    answered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX answers_question ON answers (campaign_id, export_name);
