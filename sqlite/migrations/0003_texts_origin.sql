-- 0003: texts per language, and who encrypted each item.

-- A desk's title and description in one language; the desks row keeps the
-- default-language ones.
CREATE TABLE desk_texts (
	desk_id     INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	lang        TEXT    NOT NULL,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (desk_id, lang)
) WITHOUT ROWID;

-- The newsroom's own texts in one language: its name and a paragraph for
-- the landing page.
CREATE TABLE newsroom_texts (
	lang  TEXT PRIMARY KEY NOT NULL,
	name  TEXT NOT NULL DEFAULT '',
	intro TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Where an item was encrypted: 'server' on arrival, 'browser' before it was
-- sent (the source page's script), 'app' by an API client.
ALTER TABLE items ADD COLUMN encrypted_by TEXT NOT NULL DEFAULT 'server'
	CHECK (encrypted_by IN ('server', 'browser', 'app'));
