-- Contact fields a campaign declares beyond the standard ones (imports map columns to them,
-- scripts and the agent pop-up show them).
CREATE TABLE campaign_fields (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    label       text NOT NULL,
    type        text NOT NULL CHECK (type IN ('text','number','date','phone','email')),
    PRIMARY KEY (campaign_id, position),
    UNIQUE (campaign_id, name)
);
