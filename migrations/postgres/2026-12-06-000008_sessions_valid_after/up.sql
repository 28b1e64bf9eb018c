-- "Sign out everywhere", back-channel logout and the like move this forward: a session signed
-- in before it is refused on every session store, the encrypted-cookie store included (which
-- has nothing server-side to delete). NULL: no session of this user was ever ended that way.
ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMP;
