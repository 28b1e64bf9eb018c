-- Announce every change to a user or their identities on the channel gatehouse_accounts, with the
-- user id as payload, whoever makes it (gatehouse, an admin at psql, another service). Each
-- instance LISTENs and drops that user from its in-memory account cache. Notifications are sent at
-- commit, and not at all on rollback.
CREATE FUNCTION gatehouse_account_changed() RETURNS trigger AS $$
DECLARE
    changed BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        changed := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE
        changed := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
        IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
            PERFORM pg_notify('gatehouse_accounts', OLD.user_id::text);
        END IF;
    END IF;
    PERFORM pg_notify('gatehouse_accounts', changed::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION gatehouse_account_changed();
CREATE TRIGGER identities_changed AFTER INSERT OR UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION gatehouse_account_changed();
-- TRUNCATE has no rows: announce "everything" (an empty payload).
CREATE FUNCTION gatehouse_accounts_truncated() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_accounts', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_accounts_truncated();
CREATE TRIGGER identities_truncated AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_accounts_truncated();
