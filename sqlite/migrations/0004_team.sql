-- 0004: the newsroom in the browser. Journalists prove their passphrase
-- without sending it and keep their identity wrapped by a key only their
-- passphrase makes; desks have coordinators, invitations and pending
-- members, rotate keys, and keep an audit log; conversations have a
-- status, an assignee and tags.

-- The passphrase check (package keys: salt, Argon2id parameters, SHA-256
-- of the authentication key) and the wrapped identity. Accounts from before
-- this migration have an empty auth_hash and cannot log in until an admin
-- runs `pista journalist passphrase`; password_hash is no longer read.
ALTER TABLE journalists ADD COLUMN auth_salt        BLOB    NOT NULL DEFAULT x'';
ALTER TABLE journalists ADD COLUMN auth_kdf         TEXT    NOT NULL DEFAULT '';
ALTER TABLE journalists ADD COLUMN auth_hash        BLOB    NOT NULL DEFAULT x'';
ALTER TABLE journalists ADD COLUMN wrapped_identity BLOB    NOT NULL DEFAULT x'';
ALTER TABLE journalists ADD COLUMN admin            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journalists ADD COLUMN suspended        INTEGER NOT NULL DEFAULT 0;

-- Members made before this migration are journalists; desks need a
-- coordinator named with `pista desk add --coordinator` or by an admin.
ALTER TABLE desk_members ADD COLUMN role TEXT NOT NULL DEFAULT 'journalist'
	CHECK (role IN ('journalist', 'coordinator'));

-- Accepted invitations waiting for a coordinator to wrap the desk key to
-- the newcomer. Kept apart from desk_members so that no permission check
-- (all of which join desk_members) can mistake them for members.
CREATE TABLE pending_members (
	desk_id       INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	journalist_id INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	role          TEXT    NOT NULL CHECK (role IN ('journalist', 'coordinator')),
	created       INTEGER NOT NULL,
	PRIMARY KEY (desk_id, journalist_id)
) WITHOUT ROWID;
CREATE INDEX pending_members_journalist ON pending_members (journalist_id);

-- One-time links; only the SHA-256 of the link's token is kept.
CREATE TABLE invitations (
	id         INTEGER PRIMARY KEY,
	token_hash BLOB    NOT NULL UNIQUE,
	desk_id    INTEGER REFERENCES desks (id) ON DELETE CASCADE, -- NULL: an admin's account
	role       TEXT    NOT NULL CHECK (role IN ('journalist', 'coordinator')),
	admin      INTEGER NOT NULL DEFAULT 0,
	created_by INTEGER REFERENCES journalists (id) ON DELETE SET NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
);
CREATE INDEX invitations_desk ON invitations (desk_id);

-- Security keys and passkeys (go-webauthn credentials as JSON).
CREATE TABLE webauthn_credentials (
	id            BLOB    PRIMARY KEY NOT NULL,
	journalist_id INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	name          TEXT    NOT NULL,
	data          BLOB    NOT NULL,
	created       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webauthn_credentials_journalist ON webauthn_credentials (journalist_id);

-- What journalists did. No source data: names of journalists and desks,
-- random conversation IDs, actions.
CREATE TABLE audit (
	id              INTEGER PRIMARY KEY,
	created         INTEGER NOT NULL,
	actor_id        INTEGER REFERENCES journalists (id) ON DELETE SET NULL,
	actor_name      TEXT    NOT NULL,
	action          TEXT    NOT NULL,
	desk_id         INTEGER REFERENCES desks (id) ON DELETE SET NULL,
	conversation_id TEXT    NOT NULL DEFAULT '',
	subject         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_desk ON audit (desk_id, id);

-- Newsroom work on a conversation, shared by its desk.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'new'
	CHECK (status IN ('new', 'in_progress', 'closed'));
ALTER TABLE conversations ADD COLUMN assignee_id INTEGER REFERENCES journalists (id) ON DELETE SET NULL;
CREATE INDEX conversations_desk_status_last ON conversations (desk_id, status, last_item);
CREATE INDEX conversations_assignee ON conversations (assignee_id, last_item);

CREATE TABLE conversation_tags (
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	tag             TEXT NOT NULL,
	PRIMARY KEY (conversation_id, tag)
) WITHOUT ROWID;
CREATE INDEX conversation_tags_tag ON conversation_tags (tag, conversation_id);
