-- 0002: conversation channels, e-mail items, desk mail aliases and
-- journalist notifications.

-- How the source reached the newsroom. Conversations from before this
-- migration all came through the web pages.
ALTER TABLE conversations ADD COLUMN channel TEXT NOT NULL DEFAULT 'web'
	CHECK (channel IN ('web', 'email', 'api'));

-- Items gain the kind 'email'. SQLite cannot alter a CHECK constraint, so
-- the table is rebuilt: create, copy, drop, rename, index. No table has a
-- foreign key to items and none has a trigger or view on it, so nothing
-- else needs rebuilding, and DROP TABLE's implicit delete cascades nowhere.
CREATE TABLE items_new (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	kind            TEXT    NOT NULL CHECK (kind IN ('message', 'file', 'contact', 'reply', 'email')),
	object          TEXT    NOT NULL,
	meta            TEXT    NOT NULL DEFAULT '',
	size            INTEGER NOT NULL,
	meta_size       INTEGER NOT NULL DEFAULT 0,
	author_id       INTEGER REFERENCES journalists (id) ON DELETE SET NULL, -- NULL: the source
	created         INTEGER NOT NULL
);
INSERT INTO items_new (id, conversation_id, kind, object, meta, size, meta_size, author_id, created)
	SELECT id, conversation_id, kind, object, meta, size, meta_size, author_id, created FROM items ORDER BY id;
-- Item IDs are never reused: the new table's AUTOINCREMENT counter carries
-- on from the old one's, which may be above the highest remaining ID (the
-- newest items may have been deleted). The copy made a counter row for
-- items_new only if it copied a row.
DELETE FROM sqlite_sequence WHERE name = 'items_new';
INSERT INTO sqlite_sequence (name, seq)
	SELECT 'items_new', max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0),
	                        coalesce((SELECT max(id) FROM items_new), 0));
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
CREATE INDEX items_conversation ON items (conversation_id, id);

-- More addresses of a desk (the part of the address before the @), stored
-- lowercase. An alias is never another desk's slug; the stores check.
CREATE TABLE desk_aliases (
	alias   TEXT    PRIMARY KEY NOT NULL,
	desk_id INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX desk_aliases_desk ON desk_aliases (desk_id);

-- Where to tell a journalist of new tips, and the newest item told.
ALTER TABLE journalists ADD COLUMN notify_email   TEXT    NOT NULL DEFAULT '';
ALTER TABLE journalists ADD COLUMN notify_webhook TEXT    NOT NULL DEFAULT '';
ALTER TABLE journalists ADD COLUMN notified_item  INTEGER NOT NULL DEFAULT 0;
