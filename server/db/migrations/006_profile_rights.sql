-- Rights on a campaign given to a profile: every user with that profile has them.
CREATE TABLE campaign_profile_rights (
    campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    profile     text NOT NULL,
    can_view    boolean NOT NULL DEFAULT true,
    can_edit    boolean NOT NULL DEFAULT false,
    can_export  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, profile)
);

-- A user's rights on a campaign: their own, and those of their profiles.
CREATE VIEW campaign_user_rights AS
    SELECT campaign_id, user_id, bool_or(can_view) AS can_view, bool_or(can_edit) AS can_edit,
           bool_or(can_export) AS can_export
      FROM (SELECT campaign_id, user_id, can_view, can_edit, can_export FROM campaign_users
            UNION ALL
            SELECT pr.campaign_id, up.user_id, pr.can_view, pr.can_edit, pr.can_export
              FROM campaign_profile_rights pr JOIN user_profiles up ON up.profile = pr.profile) r
     GROUP BY campaign_id, user_id;
