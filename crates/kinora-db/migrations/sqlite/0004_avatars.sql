-- Profile pictures: the object key of the processed JPEG in the account's home region.
ALTER TABLE accounts ADD COLUMN avatar_key TEXT;
