-- Last-known discovery document and JWKS of each OpenID Connect provider, used when the issuer
-- cannot be reached.
CREATE TABLE provider_metadata (
    provider    TEXT PRIMARY KEY,
    issuer      TEXT NOT NULL,
    discovery   TEXT NOT NULL,
    jwks        TEXT NOT NULL,
    fetched_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
