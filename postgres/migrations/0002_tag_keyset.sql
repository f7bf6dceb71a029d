-- 0002: the inbox filtered by a tag is a keyset walk, whether the tag is
-- on a few conversations or on most.
--
-- A tag row carries its conversation's desk and last_item (the stores
-- keep last_item in step, in the transactions that move the
-- conversation's), so that one desk's conversations with a tag can be
-- read newest first from any position in one index, as the unfiltered
-- inbox reads conversations_desk_last. Walking the desk's conversations
-- and testing each for the tag costs the whole desk when the tag is rare;
-- starting from the tag and sorting costs every tagged conversation when
-- it is common.
ALTER TABLE conversation_tags ADD COLUMN desk_id bigint;
ALTER TABLE conversation_tags ADD COLUMN last_item bigint;
UPDATE conversation_tags t SET desk_id = c.desk_id, last_item = c.last_item
	FROM conversations c WHERE c.id = t.conversation_id;
ALTER TABLE conversation_tags ALTER COLUMN desk_id SET NOT NULL;
ALTER TABLE conversation_tags ALTER COLUMN last_item SET NOT NULL;
DROP INDEX conversation_tags_tag;
CREATE INDEX conversation_tags_tag_desk_last ON conversation_tags (tag, desk_id, last_item);
