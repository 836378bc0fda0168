-- Where a session or API token was made: the client's address (IPv4, or IPv6 /64)
-- and its device (the User-Agent, at most 200 characters). Gone with the token.
ALTER TABLE tokens ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN device TEXT NOT NULL DEFAULT '';
