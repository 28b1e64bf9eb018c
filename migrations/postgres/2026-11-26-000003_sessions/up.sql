-- Server-side sessions (SESSION_STORE=database). The id is the SHA-256 of the cookie's session
-- key, so a copy of this table does not hand out live sessions.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state         TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
