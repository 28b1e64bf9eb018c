DROP TABLE provider_tokens;
