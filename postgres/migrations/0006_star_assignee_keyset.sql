-- 0006: the inbox filtered by stars or by assignee is a keyset walk
-- (SQLite's 0012), as 0002 made the tag filter one: a star row carries
-- its conversation's desk and last_item, kept in step by the store.
ALTER TABLE stars ADD COLUMN desk_id bigint;
ALTER TABLE stars ADD COLUMN last_item bigint;
UPDATE stars s SET desk_id = c.desk_id, last_item = c.last_item
	FROM conversations c WHERE c.id = s.conversation_id;
ALTER TABLE stars ALTER COLUMN desk_id SET NOT NULL;
ALTER TABLE stars ALTER COLUMN last_item SET NOT NULL;
CREATE INDEX stars_journalist_desk_last ON stars (journalist_id, desk_id, last_item);
CREATE INDEX conversations_assignee_desk_last ON conversations (assignee_id, desk_id, last_item);
