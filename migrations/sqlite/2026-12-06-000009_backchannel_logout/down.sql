DROP TABLE logout_token_uses;
DROP TABLE provider_sessions;
