-- The campaign settings the engine needs (proto/carillon/v1/campaign.proto has their meaning):
-- the compliance profile, the preview timeout's action, abandon_after_ms, the wrap-up maximum,
-- the pause reasons the campaign allows, and qualifications that record a refusal.
ALTER TABLE campaigns
    -- upper(compliance) is public_holidays.profile ('none' has no holidays)
    ADD COLUMN compliance text NOT NULL DEFAULT 'none'
        CHECK (compliance IN ('none', 'fr', 'us', 'uk')),
    ADD COLUMN preview_timeout_action text NOT NULL DEFAULT 'skip'
        CHECK (preview_timeout_action IN ('dial', 'skip')),
    ADD COLUMN abandon_after_ms integer NOT NULL DEFAULT 2000
        CHECK (abandon_after_ms BETWEEN 500 AND 10000),
    ADD COLUMN wrapup_max_s integer NOT NULL DEFAULT 60 CHECK (wrapup_max_s BETWEEN 0 AND 3600),
    -- empty: every reason of the server's [agents] pause_reasons
    ADD COLUMN pause_reasons text[] NOT NULL DEFAULT '{}';

ALTER TABLE qualifications
    ADD COLUMN refusal boolean NOT NULL DEFAULT false;
