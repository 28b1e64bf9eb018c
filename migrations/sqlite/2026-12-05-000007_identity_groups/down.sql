ALTER TABLE identities DROP COLUMN groups;
