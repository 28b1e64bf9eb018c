DROP TABLE provider_metadata;
