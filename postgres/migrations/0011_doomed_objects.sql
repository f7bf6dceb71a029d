-- 0011: objects whose rows are gone, until the object store has deleted
-- them (pista.TipStore.DoomedObjects; SQLite's 0017).
--
-- A request deletes an item's objects after the transaction that removed
-- or replaced its row: a process killed in between (kill -9, a power cut)
-- left the objects for good, and a sorted item's old object, or a deleted
-- conversation's item under the desk key, stayed readable with the desk
-- key. These triggers record the keys in the same transaction as the
-- row's change; the server deletes what is recorded at start and every
-- hour, whatever became of the request.
CREATE TABLE doomed_objects (
	key text PRIMARY KEY CHECK (octet_length(key) <= 256)
);

CREATE FUNCTION doom_objects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'index_segments' THEN
		INSERT INTO doomed_objects (key) SELECT OLD.object WHERE OLD.object <> '' ON CONFLICT DO NOTHING;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO doomed_objects (key) SELECT k FROM unnest(ARRAY[OLD.object, OLD.meta]) AS k
			WHERE k <> '' ON CONFLICT DO NOTHING;
	ELSE
		INSERT INTO doomed_objects (key) SELECT k FROM unnest(ARRAY[
				CASE WHEN OLD.object <> NEW.object THEN OLD.object ELSE '' END,
				CASE WHEN OLD.meta <> NEW.meta THEN OLD.meta ELSE '' END]) AS k
			WHERE k <> '' ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER items_doomed AFTER DELETE OR UPDATE OF object, meta ON items
	FOR EACH ROW EXECUTE FUNCTION doom_objects();
CREATE TRIGGER index_segments_doomed AFTER DELETE ON index_segments
	FOR EACH ROW EXECUTE FUNCTION doom_objects();
