-- 0007: the inbox filtered to unread conversations is a keyset walk
-- (SQLite's 0013, which says why): one row per journalist and
-- conversation of their desks not read up to its last item, kept in step
-- by triggers on conversations, reads and desk_members.
CREATE TABLE unread (
	journalist_id   bigint NOT NULL REFERENCES journalists (id) ON DELETE CASCADE,
	conversation_id text   COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	desk_id         bigint NOT NULL,
	last_item       bigint NOT NULL,
	PRIMARY KEY (journalist_id, conversation_id)
);
CREATE INDEX unread_journalist_desk_last ON unread (journalist_id, desk_id, last_item);
CREATE INDEX unread_conversation ON unread (conversation_id);

INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT m.journalist_id, c.id, c.desk_id, c.last_item
	FROM conversations c JOIN desk_members m ON m.desk_id = c.desk_id
	WHERE NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = m.journalist_id
		AND r.conversation_id = c.id AND r.seen_item >= c.last_item);

CREATE FUNCTION unread_member_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT NEW.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
	WHERE c.desk_id = NEW.desk_id AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = NEW.journalist_id
		AND r.conversation_id = c.id AND r.seen_item >= c.last_item)
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER unread_member_added AFTER INSERT ON desk_members FOR EACH ROW EXECUTE FUNCTION unread_member_added();

CREATE FUNCTION unread_member_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM unread WHERE journalist_id = OLD.journalist_id AND desk_id = OLD.desk_id;
	RETURN NULL;
END $$;
CREATE TRIGGER unread_member_removed AFTER DELETE ON desk_members FOR EACH ROW EXECUTE FUNCTION unread_member_removed();

CREATE FUNCTION unread_conversation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		DELETE FROM unread WHERE conversation_id = NEW.id;
	END IF;
	INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
	SELECT m.journalist_id, NEW.id, NEW.desk_id, NEW.last_item FROM desk_members m
	WHERE m.desk_id = NEW.desk_id AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = m.journalist_id
		AND r.conversation_id = NEW.id AND r.seen_item >= NEW.last_item)
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER unread_conversation_added AFTER INSERT ON conversations FOR EACH ROW EXECUTE FUNCTION unread_conversation_changed();
CREATE TRIGGER unread_conversation_moved AFTER UPDATE OF last_item, desk_id ON conversations FOR EACH ROW
	WHEN (OLD.last_item IS DISTINCT FROM NEW.last_item OR OLD.desk_id IS DISTINCT FROM NEW.desk_id)
	EXECUTE FUNCTION unread_conversation_changed();

CREATE FUNCTION unread_read_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
		SELECT OLD.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = OLD.journalist_id
		WHERE c.id = OLD.conversation_id
		ON CONFLICT DO NOTHING;
		RETURN NULL;
	END IF;
	DELETE FROM unread WHERE journalist_id = NEW.journalist_id AND conversation_id = NEW.conversation_id
		AND last_item <= NEW.seen_item;
	IF TG_OP = 'UPDATE' THEN
		INSERT INTO unread (journalist_id, conversation_id, desk_id, last_item)
		SELECT NEW.journalist_id, c.id, c.desk_id, c.last_item FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = NEW.journalist_id
		WHERE c.id = NEW.conversation_id AND c.last_item > NEW.seen_item
		ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER unread_read_changed AFTER INSERT OR UPDATE OR DELETE ON reads FOR EACH ROW EXECUTE FUNCTION unread_read_changed();
