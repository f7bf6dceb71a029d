-- 0008: the inbox filtered by a tag is a keyset walk, whether the tag is
-- on a few conversations or on most (PostgreSQL's 0002).
--
-- A tag row carries its conversation's desk and last_item (the store
-- keeps last_item in step, in the transactions that move the
-- conversation's), so that one desk's conversations with a tag can be
-- read newest first from any position in one index, as the unfiltered
-- inbox reads conversations_desk_last. Walking the desk's conversations
-- and testing each for the tag costs the whole desk when the tag is rare;
-- starting from the tag and sorting costs every tagged conversation when
-- it is common.
--
-- SQLite cannot make an added column NOT NULL without a default, so the
-- table is rebuilt: create, copy, drop, rename, index. No table has a
-- foreign key to conversation_tags and none has a trigger or view on it,
-- so nothing else needs rebuilding. A tag of a conversation that is gone
-- (impossible with foreign keys on) is not copied.
CREATE TABLE conversation_tags_new (
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	tag             TEXT    NOT NULL,
	desk_id         INTEGER NOT NULL, -- the conversation's
	last_item       INTEGER NOT NULL, -- the conversation's
	PRIMARY KEY (conversation_id, tag)
) WITHOUT ROWID;
INSERT INTO conversation_tags_new (conversation_id, tag, desk_id, last_item)
	SELECT t.conversation_id, t.tag, c.desk_id, c.last_item
	FROM conversation_tags t JOIN conversations c ON c.id = t.conversation_id;
DROP TABLE conversation_tags;
ALTER TABLE conversation_tags_new RENAME TO conversation_tags;
-- The primary key's columns are in every index of a WITHOUT ROWID table:
-- a walk of this one reads conversation_id without leaving it.
CREATE INDEX conversation_tags_tag_desk_last ON conversation_tags (tag, desk_id, last_item);
