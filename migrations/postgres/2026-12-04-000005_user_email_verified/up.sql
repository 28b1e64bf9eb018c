-- Whether users.email was verified by a provider trusted to verify emails. Existing accounts
-- start unverified: which provider set their email is unknown; the next sign-in through a
-- trusted provider verifies it again.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
