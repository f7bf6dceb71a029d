-- 0016: forward secrecy (issue 16; docs/forward-secrecy.md, pista.Forwarder).
--
-- A desk key generation records the public half of its signing key the
-- first time a member posts intake keys.
ALTER TABLE desk_keys ADD COLUMN sign_key BLOB CHECK (sign_key IS NULL OR length(sign_key) <= 64);

-- One intake key per desk key generation and day: its public half, signed
-- by the generation's signing key, and its secret sealed to the
-- generation's key. sealed is NULL once destroyed (then the key is never
-- listed again); the row stays, so that the day is never made again.
CREATE TABLE intake_keys (
	id          INTEGER PRIMARY KEY,
	desk_id     INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	desk_key_id INTEGER NOT NULL REFERENCES desk_keys (id) ON DELETE CASCADE,
	day         INTEGER NOT NULL,
	recipient   TEXT    NOT NULL CHECK (length(recipient) <= 8192),
	signature   BLOB    NOT NULL CHECK (length(signature) <= 256),
	sealed      BLOB    CHECK (sealed IS NULL OR length(sealed) <= 65536),
	created     INTEGER NOT NULL,
	UNIQUE (desk_key_id, day)
);
-- The live keys of a desk, by day (IntakeKeysFor, DestroyIntakeKeys).
CREATE INDEX intake_keys_live ON intake_keys (desk_id, day) WHERE sealed IS NOT NULL;
CREATE INDEX intake_keys_live_day ON intake_keys (day) WHERE sealed IS NOT NULL;

-- Which key opens an item's objects now, how it arrived, and the intake
-- key it waits under. Every item from before is 'desk' and 'legacy':
-- sorters leave it as it is. New rows get their values from the stores
-- ("" is 'desk' and 'fs'), never from these defaults.
ALTER TABLE items ADD COLUMN sealing TEXT NOT NULL DEFAULT 'desk';
ALTER TABLE items ADD COLUMN received TEXT NOT NULL DEFAULT 'legacy';
ALTER TABLE items ADD COLUMN intake_key INTEGER REFERENCES intake_keys (id);
-- What sorters still have to rewrap, in ID order (Unsorted): sorted and
-- legacy items, nearly all of them in time, are not in it.
CREATE INDEX items_unsorted ON items (id) WHERE sealing <> 'conv' AND received <> 'legacy';
-- The items still waiting under an intake key (DestroyIntakeKeys).
CREATE INDEX items_intake ON items (intake_key) WHERE intake_key IS NOT NULL;

-- A conversation's own key, made by the first sorter that meets it: its
-- public key, and its secret sealed to the desk's and the archive's keys,
-- and the desk signing key's signature of it (forward.ConversationStatement).
-- And the intake key its preview is still encrypted to.
ALTER TABLE conversations ADD COLUMN key_recipient TEXT NOT NULL DEFAULT '' CHECK (length(key_recipient) <= 8192);
ALTER TABLE conversations ADD COLUMN key BLOB CHECK (key IS NULL OR length(key) <= 65536);
ALTER TABLE conversations ADD COLUMN key_signature BLOB CHECK (key_signature IS NULL OR length(key_signature) = 64);
ALTER TABLE conversations ADD COLUMN preview_intake INTEGER REFERENCES intake_keys (id);
CREATE INDEX conversations_preview_intake ON conversations (preview_intake) WHERE preview_intake IS NOT NULL;
CREATE INDEX conversations_unsorted_preview ON conversations (id) WHERE preview_intake IS NOT NULL;
