-- Campaign configuration: the campaign and its dialing parameters, rules per outcome, weekly
-- schedule and exception dates, qualifications and the agents assigned to it.
CREATE TABLE campaigns (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    objective            text NOT NULL DEFAULT '',
    description          text NOT NULL DEFAULT '',
    guide_url            text NOT NULL DEFAULT '',
    start_date           date,
    end_date             date,
    year                 integer NOT NULL DEFAULT 0,
    contract_types       text[] NOT NULL DEFAULT '{}',
    brands               text[] NOT NULL DEFAULT '{}',
    referent_id          bigint REFERENCES users(id),
    agent_profiles       text[] NOT NULL DEFAULT '{}',
    queue                text NOT NULL DEFAULT '',
    state                text NOT NULL DEFAULT 'draft'
                         CHECK (state IN ('draft','ready','running','paused','stopped','finished')),
    time_zone            text NOT NULL DEFAULT 'Europe/Paris',
    -- dialing parameters
    dialing_mode         text NOT NULL DEFAULT 'progressive'
                         CHECK (dialing_mode IN ('preview','progressive','power','predictive')),
    power_ratio          double precision NOT NULL DEFAULT 1,
    abandon_target_pct   double precision NOT NULL DEFAULT 3,
    call_order           text NOT NULL DEFAULT 'customer_first'
                         CHECK (call_order IN ('agent_first','customer_first')),
    number_for_agents    text NOT NULL DEFAULT '',
    number_for_customers text NOT NULL DEFAULT '',
    newest_first         boolean NOT NULL DEFAULT false,
    exclusive_assignment boolean NOT NULL DEFAULT false,
    max_simultaneous_calls integer NOT NULL DEFAULT 0 CHECK (max_simultaneous_calls >= 0),
    ring_timeout_s       integer NOT NULL DEFAULT 30,
    preview_timeout_s    integer NOT NULL DEFAULT 0,
    -- behaviour per outcome: {"busy": {"retry_delay_s":..,"max_attempts":..,"after_last":..}, ...}
    outcome_rules        jsonb NOT NULL DEFAULT '{}',
    amd_enabled          boolean NOT NULL DEFAULT false,
    amd_action           text NOT NULL DEFAULT 'hang_up' CHECK (amd_action IN ('hang_up','connect_agent')),
    -- stop conditions
    stop_at_end_date     boolean NOT NULL DEFAULT true,
    stop_when_all_done   boolean NOT NULL DEFAULT false,
    positive_target      integer NOT NULL DEFAULT 0,
    qualification_mode   text NOT NULL DEFAULT 'manual' CHECK (qualification_mode IN ('automatic','manual')),
    qualification_group  text NOT NULL DEFAULT '',
    popup_fields         text[] NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);

CREATE TABLE campaign_schedule_slots (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position    integer NOT NULL,
    day         smallint NOT NULL CHECK (day BETWEEN 1 AND 7), -- ISO: 1 = Monday
    start_time  time NOT NULL,
    end_time    time NOT NULL CHECK (end_time > start_time),
    PRIMARY KEY (campaign_id, position)
);

CREATE TABLE campaign_schedule_dates (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position    integer NOT NULL,
    day         date NOT NULL,
    open        boolean NOT NULL,
    start_time  time,
    end_time    time,
    note        text NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, position),
    CHECK (NOT open OR (start_time IS NOT NULL AND end_time > start_time))
);

CREATE TABLE qualifications (
    id                bigserial PRIMARY KEY,
    campaign_id       bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position          integer NOT NULL,
    code              text NOT NULL,
    name              text NOT NULL,
    type              text NOT NULL CHECK (type IN ('positive','negative','misc')),
    argued            boolean NOT NULL DEFAULT false,
    final             boolean NOT NULL DEFAULT false,
    description       text NOT NULL DEFAULT '',
    color             text NOT NULL DEFAULT '',
    callback          text NOT NULL DEFAULT 'none'
                      CHECK (callback IN ('none','manual','mandatory','personal')),
    callback_min_days integer NOT NULL DEFAULT 0,
    callback_max_days integer NOT NULL DEFAULT 0,
    groups            text[] NOT NULL DEFAULT '{}',
    UNIQUE (campaign_id, code)
);

CREATE TABLE campaign_users (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    can_view    boolean NOT NULL DEFAULT true,
    can_edit    boolean NOT NULL DEFAULT false,
    can_export  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, user_id)
);
