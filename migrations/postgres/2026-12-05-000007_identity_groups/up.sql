-- The groups a provider says the person is in (a JSON array of strings), refreshed at every
-- sign-in through the identity: what access rules, /api/me and the gate's headers read.
ALTER TABLE identities ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
