-- 0009: previews of first messages, and journalists' internal notes
-- (SQLite's 0015).
--
-- A conversation keeps a short preview of its first message, an age file
-- encrypted to the desk (pista.Conversation.Preview): the inbox shows it
-- without fetching the message. NULL for conversations from before.
ALTER TABLE conversations ADD COLUMN preview bytea
	CHECK (preview IS NULL OR octet_length(preview) <= 8192);

-- Items gain the kind 'note'. The kind is checked by the stores
-- (pista.ItemKind.Valid) and no longer by the database, so that a new
-- kind needs no migration of the constraint again.
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_kind_check;
ALTER TABLE items ADD CONSTRAINT items_kind_check CHECK (kind <> '');
