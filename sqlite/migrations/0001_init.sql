-- 0001: the first schema of pista.
--
-- No column holds plaintext of a tip: bodies, files, filenames and contact
-- details are encrypted objects, and items only name them (object, meta).
-- Times are unix seconds truncated to pista.TimeGranularity.

CREATE TABLE journalists (
	id             INTEGER PRIMARY KEY,
	name           TEXT    NOT NULL UNIQUE,
	recipient      TEXT    NOT NULL,
	password_hash  TEXT    NOT NULL,
	totp_secret    TEXT    NOT NULL,
	totp_last_step INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL
);

CREATE TABLE desks (
	id          INTEGER PRIMARY KEY,
	slug        TEXT    NOT NULL UNIQUE,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	-- The current desk_keys row. NULL only inside the transaction that
	-- creates the desk, between inserting the desk and its first key.
	key_id      INTEGER REFERENCES desk_keys (id),
	created     INTEGER NOT NULL
);

CREATE TABLE desk_keys (
	id        INTEGER PRIMARY KEY,
	desk_id   INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	recipient TEXT    NOT NULL,
	created   INTEGER NOT NULL
);
CREATE INDEX desk_keys_desk ON desk_keys (desk_id);

-- A desk identity, age-encrypted to one journalist.
CREATE TABLE key_wraps (
	desk_key_id   INTEGER NOT NULL REFERENCES desk_keys (id) ON DELETE CASCADE,
	journalist_id INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	wrapped       BLOB    NOT NULL,
	PRIMARY KEY (desk_key_id, journalist_id)
) WITHOUT ROWID;
CREATE INDEX key_wraps_journalist ON key_wraps (journalist_id);

-- Every permission check joins this table: a journalist sees the
-- conversations of the desks they are a member of.
CREATE TABLE desk_members (
	desk_id       INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	journalist_id INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	PRIMARY KEY (journalist_id, desk_id)
) WITHOUT ROWID;
CREATE INDEX desk_members_desk ON desk_members (desk_id);

CREATE TABLE sources (
	id        INTEGER PRIMARY KEY,
	lookup    BLOB    NOT NULL UNIQUE,
	recipient TEXT    NOT NULL,
	created   INTEGER NOT NULL
);

-- A source is deleted with its last conversation, by DeleteConversation;
-- the foreign key (no cascade) refuses to delete a source that still has one.
CREATE TABLE conversations (
	id        TEXT    PRIMARY KEY NOT NULL,
	desk_id   INTEGER NOT NULL REFERENCES desks (id),
	source_id INTEGER NOT NULL REFERENCES sources (id),
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL,
	last_item INTEGER NOT NULL DEFAULT 0
);
-- The inbox: one desk's conversations, newest first, from any keyset position.
CREATE INDEX conversations_desk_last ON conversations (desk_id, last_item);
CREATE INDEX conversations_source ON conversations (source_id);

-- AUTOINCREMENT: an item ID is never reused, even after the newest item is
-- deleted, which is what lets `pista pull` ask for "everything after N".
CREATE TABLE items (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	kind            TEXT    NOT NULL CHECK (kind IN ('message', 'file', 'contact', 'reply')),
	object          TEXT    NOT NULL,
	meta            TEXT    NOT NULL DEFAULT '',
	size            INTEGER NOT NULL,
	meta_size       INTEGER NOT NULL DEFAULT 0,
	author_id       INTEGER REFERENCES journalists (id) ON DELETE SET NULL, -- NULL: the source
	created         INTEGER NOT NULL
);
CREATE INDEX items_conversation ON items (conversation_id, id);

-- How far each journalist has read each conversation; no row: unread.
CREATE TABLE reads (
	journalist_id   INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seen_item       INTEGER NOT NULL,
	PRIMARY KEY (journalist_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX reads_conversation ON reads (conversation_id);

CREATE TABLE stars (
	journalist_id   INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	PRIMARY KEY (journalist_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX stars_conversation ON stars (conversation_id);

CREATE TABLE settings (
	name  TEXT PRIMARY KEY NOT NULL,
	value BLOB NOT NULL
) WITHOUT ROWID;
