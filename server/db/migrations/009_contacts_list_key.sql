-- Imports insert contacts by the hundred thousand, and every foreign key costs a trigger call
-- per row. One composite key (list_id, campaign_id) -> lists replaces the two single-column
-- keys to lists and campaigns, and says more: a contact's list belongs to its campaign.
-- Deleting a campaign still removes its contacts (campaign -> lists -> contacts cascade).
ALTER TABLE lists ADD CONSTRAINT lists_id_campaign_key UNIQUE (id, campaign_id);
ALTER TABLE contacts
    DROP CONSTRAINT contacts_campaign_id_fkey,
    DROP CONSTRAINT contacts_list_id_fkey,
    ADD CONSTRAINT contacts_list_campaign_fkey FOREIGN KEY (list_id, campaign_id)
        REFERENCES lists (id, campaign_id) ON DELETE CASCADE;
-- An import probes the blacklist by number for every number it inserts.
CREATE INDEX blacklist_number ON blacklist (number);
