-- 0013: the inbox filtered to unread conversations is a keyset walk
-- (PostgreSQL's 0007). Unread is what is not read: walking a desk's
-- conversations and skipping those read costs the whole desk for a
-- journalist who has read everything, so the unread pairs are kept, one
-- row per journalist and conversation of their desks that they have not
-- read up to its last item, with the conversation's desk and last_item,
-- read newest first from one index.
--
-- Triggers keep the table in step with conversations, reads and
-- desk_members, whatever statement changes them (tips, replies, reads,
-- membership, deletion by a journalist or by retention). A migration
-- that rebuilds one of those tables must create its triggers again.
CREATE TABLE unread (
	journalist_id   INTEGER NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	desk_id         INTEGER NOT NULL, -- the conversation's
	last_item       INTEGER NOT NULL, -- the conversation's
	PRIMARY KEY (journalist_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX unread_journalist_desk_last ON unread (journalist_id, desk_id, last_item);
CREATE INDEX unread_conversation ON unread (conversation_id);

INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT m.journalist_id, c.id, c.desk_id, c.last_item
	FROM conversations c JOIN desk_members m ON m.desk_id = c.desk_id
	WHERE NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = m.journalist_id
		AND r.conversation_id = c.id AND r.seen_item >= c.last_item);

CREATE TRIGGER unread_member_added AFTER INSERT ON desk_members BEGIN
	INSERT OR IGNORE INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT NEW.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
	WHERE c.desk_id = NEW.desk_id AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = NEW.journalist_id
		AND r.conversation_id = c.id AND r.seen_item >= c.last_item);
END;

CREATE TRIGGER unread_member_removed AFTER DELETE ON desk_members BEGIN
	DELETE FROM unread WHERE journalist_id = OLD.journalist_id AND desk_id = OLD.desk_id;
END;

CREATE TRIGGER unread_conversation_added AFTER INSERT ON conversations BEGIN
	INSERT OR IGNORE INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT m.journalist_id, NEW.id, NEW.desk_id, NEW.last_item FROM desk_members m
	WHERE m.desk_id = NEW.desk_id AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = m.journalist_id
		AND r.conversation_id = NEW.id AND r.seen_item >= NEW.last_item);
END;

CREATE TRIGGER unread_conversation_moved AFTER UPDATE OF last_item, desk_id ON conversations BEGIN
	DELETE FROM unread WHERE conversation_id = NEW.id;
	INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT m.journalist_id, NEW.id, NEW.desk_id, NEW.last_item FROM desk_members m
	WHERE m.desk_id = NEW.desk_id AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = m.journalist_id
		AND r.conversation_id = NEW.id AND r.seen_item >= NEW.last_item);
END;

CREATE TRIGGER unread_read_added AFTER INSERT ON reads BEGIN
	DELETE FROM unread WHERE journalist_id = NEW.journalist_id AND conversation_id = NEW.conversation_id
		AND last_item <= NEW.seen_item;
END;

CREATE TRIGGER unread_read_changed AFTER UPDATE ON reads BEGIN
	DELETE FROM unread WHERE journalist_id = NEW.journalist_id AND conversation_id = NEW.conversation_id
		AND last_item <= NEW.seen_item;
	INSERT OR IGNORE INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT NEW.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = NEW.journalist_id
	WHERE c.id = NEW.conversation_id AND c.last_item > NEW.seen_item;
END;

CREATE TRIGGER unread_read_removed AFTER DELETE ON reads BEGIN
	INSERT OR IGNORE INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT OLD.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = OLD.journalist_id
	WHERE c.id = OLD.conversation_id;
END;
