-- Contact lists, contacts with their numbers (addresses), and blacklists (seed 004's fields and
-- states). The import pipeline and the engine work on these tables.
CREATE TABLE lists (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active','stopped','suspended')),
    caller_id       text NOT NULL DEFAULT '',
    default_country text NOT NULL DEFAULT 'FR',
    created_by      bigint REFERENCES users(id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, name)
);

CREATE TABLE contacts (
    id                 bigserial PRIMARY KEY,
    campaign_id        bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    list_id            bigint NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    state              text NOT NULL DEFAULT 'waiting'
                       CHECK (state IN ('done','waiting','running','failed','deleted','paused',
                                        'list_stopped','list_suspended','shelved')),
    next_try           timestamptz,
    priority           smallint NOT NULL DEFAULT 0,
    top_priority       boolean NOT NULL DEFAULT false,
    agent_id           bigint REFERENCES users(id),
    time_zone          text NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    manual_reschedules integer NOT NULL DEFAULT 0,
    last_qualification text,
    consent            boolean NOT NULL DEFAULT true,
    last_name          text NOT NULL DEFAULT '',
    first_name         text NOT NULL DEFAULT '',
    civility           text NOT NULL DEFAULT '',
    company            text NOT NULL DEFAULT '',
    address            text NOT NULL DEFAULT '',
    zip                text NOT NULL DEFAULT '',
    city               text NOT NULL DEFAULT '',
    country            text NOT NULL DEFAULT '',
    email              text NOT NULL DEFAULT '',
    customer_id        text NOT NULL DEFAULT '',
    fields             jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_campaign_state ON contacts (campaign_id, state, next_try);
CREATE INDEX contacts_list ON contacts (list_id);

CREATE TABLE addresses (
    id         bigserial PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position   smallint NOT NULL,
    number     text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    type       text NOT NULL DEFAULT 'home' CHECK (type IN ('mobile','home','work','other')),
    state      text NOT NULL DEFAULT 'scheduled'
               CHECK (state IN ('scheduled','rescheduled','waiting','blocked','failed')),
    UNIQUE (contact_id, position)
);
CREATE INDEX addresses_number ON addresses (number);

-- Numbers never to call: global (campaign_id NULL) or for one campaign.
CREATE TABLE blacklist (
    id          bigserial PRIMARY KEY,
    campaign_id bigint REFERENCES campaigns(id) ON DELETE CASCADE,
    number      text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    reason      text NOT NULL DEFAULT '',
    added_by    bigint REFERENCES users(id),
    added_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (campaign_id, number)
);
