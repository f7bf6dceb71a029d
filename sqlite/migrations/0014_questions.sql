-- 0014: questionnaires per desk (PostgreSQL's 0008).
--
-- A desk's questions are its configuration, published on the landing
-- page: kept as the JSON of pista.Questionnaire, in plaintext. Sources'
-- answers are items of the new kind 'answers', encrypted like a message.
CREATE TABLE desk_questions (
	desk_id INTEGER PRIMARY KEY NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	body    TEXT    NOT NULL CHECK (length(body) <= 262144)
);

-- Items gain the kind 'answers'. SQLite cannot alter a CHECK constraint,
-- so the table is rebuilt as in 0002: create, copy, drop, rename, index.
-- No table has a foreign key to items and no trigger or view is on it.
CREATE TABLE items_new (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	kind            TEXT    NOT NULL CHECK (kind IN ('message', 'file', 'contact', 'reply', 'email', 'answers')),
	object          TEXT    NOT NULL,
	meta            TEXT    NOT NULL DEFAULT '',
	size            INTEGER NOT NULL,
	meta_size       INTEGER NOT NULL DEFAULT 0,
	author_id       INTEGER REFERENCES journalists (id) ON DELETE SET NULL, -- NULL: the source
	created         INTEGER NOT NULL,
	encrypted_by    TEXT    NOT NULL DEFAULT 'server'
		CHECK (encrypted_by IN ('server', 'browser', 'app'))
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
