-- OpenID Connect Back-Channel Logout. Which user each provider session (its `sid`) signed in,
-- so a logout token that names only the sid finds them; kept as long as a session may live.
CREATE TABLE provider_sessions (
    provider    TEXT NOT NULL,
    sid         TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, sid, user_id)
);
CREATE INDEX provider_sessions_expires_at ON provider_sessions (expires_at);
-- Logout tokens already used (their `jti`), shared by every instance: a replayed token is
-- refused. Kept until the token could no longer be accepted anyway.
CREATE TABLE logout_token_uses (
    provider    TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, jti)
);
CREATE INDEX logout_token_uses_expires_at ON logout_token_uses (expires_at);
