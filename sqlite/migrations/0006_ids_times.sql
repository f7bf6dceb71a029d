-- 0006: identifiers that reveal nothing, and times no finer than the hour.
--
-- Item and audit IDs are shown sealed with this key (sqlite/ids.go): the
-- numbers of the rows, one sequence across all desks, never leave the
-- store. Items from before this migration get sealed IDs too: a pulled
-- folder of before it cannot be pulled into again (pull says so).
INSERT OR IGNORE INTO settings (name, value) VALUES ('id-key', randomblob(32));

-- Invitations need no order: random IDs in [2^52, 2^53), like sealed IDs
-- in size and below JavaScript's 2^53.
UPDATE invitations SET id = 4503599627370496 + (abs(random()) % 4503599627370496);

-- An invitation's expiry, at the hour (pista.TimeGranularity), rounded
-- down: none lasts longer than it was given.
UPDATE invitations SET expires = (expires / 3600) * 3600 WHERE expires % 3600 <> 0;
