-- 0012: the inbox filtered by stars or by assignee is a keyset walk
-- (PostgreSQL's 0006), as 0008 made the tag filter one.
--
-- A star row carries its conversation's desk and last_item, kept in step
-- by the store in the transactions that move the conversation's (as tag
-- rows are), so one desk's starred conversations are read newest first
-- from any position in one index. Walking the desk and testing each
-- conversation for a star costs the whole desk when stars are few.
CREATE TABLE stars_new (
	journalist_id   INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	desk_id         INTEGER NOT NULL, -- the conversation's
	last_item       INTEGER NOT NULL, -- the conversation's
	PRIMARY KEY (journalist_id, conversation_id)
) WITHOUT ROWID;
INSERT INTO stars_new (journalist_id, conversation_id, desk_id, last_item)
	SELECT s.journalist_id, s.conversation_id, c.desk_id, c.last_item
	FROM stars s JOIN conversations c ON c.id = s.conversation_id;
DROP TABLE stars;
ALTER TABLE stars_new RENAME TO stars;
CREATE INDEX stars_conversation ON stars (conversation_id);
CREATE INDEX stars_journalist_desk_last ON stars (journalist_id, desk_id, last_item);

-- A journalist's assigned conversations of one desk, newest first.
CREATE INDEX conversations_assignee_desk_last ON conversations (assignee_id, desk_id, last_item);
