-- Announce every change to a stored session (its state, its expiry, its end) on the channel
-- gatehouse_sessions, with the row id as payload (the SHA-256 of the session key, never the key
-- itself). Each instance LISTENs and drops that session from its in-memory copy of the store.
-- New rows need no announcement: nobody holds a copy of a session that did not exist.
CREATE FUNCTION gatehouse_session_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_sessions', OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_session_changed();

-- TRUNCATE has no rows: announce "everything" (an empty payload).
CREATE FUNCTION gatehouse_sessions_truncated() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_sessions', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_truncated();
