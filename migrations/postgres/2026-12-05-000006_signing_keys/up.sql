-- The key gatehouse signs its identity assertions (X-Auth-Request-Assertion) with, shared by
-- every instance. The private key is sealed (AES-256-GCM) with a key derived from SESSION_KEY;
-- the public half is what /.well-known/jwks.json publishes.
CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,
    sealed_private_key  TEXT NOT NULL,
    public_jwk          TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL
);
