DROP TRIGGER sessions_truncated ON sessions;
DROP FUNCTION gatehouse_sessions_truncated();
DROP TRIGGER sessions_changed ON sessions;
DROP FUNCTION gatehouse_session_changed();
