-- User profiles (groups) and the agents a campaign has: listed by hand or through a profile.
CREATE TABLE user_profiles (
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    profile text NOT NULL CHECK (length(profile) BETWEEN 1 AND 64),
    PRIMARY KEY (user_id, profile)
);

-- Every enabled agent assigned to a campaign, and how.
CREATE VIEW campaign_agents AS
    SELECT cu.campaign_id, u.id AS user_id, 'manual' AS assigned_by
      FROM campaign_users cu JOIN users u ON u.id = cu.user_id
     WHERE u.role = 'agent' AND NOT u.disabled
    UNION
    SELECT c.id, u.id, 'profile'
      FROM campaigns c JOIN user_profiles up ON up.profile = ANY (c.agent_profiles)
      JOIN users u ON u.id = up.user_id
     WHERE u.role = 'agent' AND NOT u.disabled
       AND NOT EXISTS (SELECT 1 FROM campaign_users cu
                        WHERE cu.campaign_id = c.id AND cu.user_id = u.id);
