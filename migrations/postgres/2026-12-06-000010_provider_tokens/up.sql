-- The provider tokens of identities whose provider has STORE_TOKENS=true, sealed (AES-256-GCM
-- under a key derived from TOKEN_KEY, named by key_id; bound to the identity). refreshing_until
-- is the lease of the one instance refreshing the token now; unusable marks a refresh token the
-- provider refused (the person must authorize again).
CREATE TABLE provider_tokens (
    identity_id       BIGINT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    key_id            TEXT NOT NULL,
    access_token      TEXT NOT NULL,
    refresh_token     TEXT,
    expires_at        TIMESTAMP,
    unusable          BOOLEAN NOT NULL DEFAULT FALSE,
    refreshing_until  TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL
);
