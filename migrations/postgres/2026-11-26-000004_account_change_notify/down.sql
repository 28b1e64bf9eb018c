DROP TRIGGER identities_truncated ON identities;
DROP TRIGGER users_truncated ON users;
DROP FUNCTION gatehouse_accounts_truncated();
DROP TRIGGER identities_changed ON identities;
DROP TRIGGER users_changed ON users;
DROP FUNCTION gatehouse_account_changed();
