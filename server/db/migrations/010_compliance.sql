-- Public holidays of the compliance profiles, as server/engine/compliance.c computes them
-- (store_holidays_fill inserts them, idempotently). The claim query skips a contact whose local
-- date is one of its profile's days for the whole country (region '') or for its own region:
--   NOT EXISTS (SELECT 1 FROM public_holidays h WHERE h.profile = <campaign's profile>
--               AND h.region IN ('', <contact's region>)
--               AND h.day = (now() AT TIME ZONE c.time_zone)::date)
CREATE TABLE public_holidays (
    profile text NOT NULL CHECK (profile IN ('FR', 'US', 'UK')),
    -- '' everywhere the profile applies; else a French département ('57', '974')
    region  text NOT NULL CHECK (region ~ '^([0-9]{2,3}|2[AB])?$'),
    day     date NOT NULL,
    name    text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    PRIMARY KEY (profile, region, day)
);
