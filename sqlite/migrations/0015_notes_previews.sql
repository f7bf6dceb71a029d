-- 0015: previews of first messages, and journalists' internal notes.
--
-- A conversation keeps a short preview of its first message, an age file
-- encrypted to the desk (pista.Conversation.Preview): the inbox shows it
-- without fetching the message. NULL for conversations from before.
ALTER TABLE conversations ADD COLUMN preview BLOB CHECK (preview IS NULL OR length(preview) <= 8192);

-- Items gain the kind 'note'. The kind is checked by the stores
-- (pista.ItemKind.Valid) and no longer by a CHECK constraint, so that a
-- new kind needs no rebuild of the table again. SQLite cannot drop a
-- CHECK constraint, so the table is rebuilt as in 0002: create, copy,
-- drop, rename, index. No table has a foreign key to items and none has a
-- trigger or view on it.
CREATE TABLE items_new (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	kind            TEXT    NOT NULL CHECK (kind <> ''),
	object          TEXT    NOT NULL,
	meta            TEXT    NOT NULL DEFAULT '',
	size            INTEGER NOT NULL,
	meta_size       INTEGER NOT NULL DEFAULT 0,
	author_id       INTEGER REFERENCES journalists (id) ON DELETE SET NULL, -- NULL: the source
	created         INTEGER NOT NULL,
	encrypted_by    TEXT    NOT NULL DEFAULT 'server' CHECK (encrypted_by IN ('server', 'browser', 'app'))
);
INSERT INTO items_new (id, conversation_id, kind, object, meta, size, meta_size, author_id, created, encrypted_by)
	SELECT id, conversation_id, kind, object, meta, size, meta_size, author_id, created, encrypted_by FROM items ORDER BY id;
-- Item IDs are never reused: the counter carries on from the old table's.
DELETE FROM sqlite_sequence WHERE name = 'items_new';
INSERT INTO sqlite_sequence (name, seq)
	SELECT 'items_new', max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0),
	                        coalesce((SELECT max(id) FROM items_new), 0));
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
CREATE INDEX items_conversation ON items (conversation_id, id);
