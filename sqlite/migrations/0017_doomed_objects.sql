-- 0017: objects whose rows are gone, until the object store has deleted
-- them (pista.TipStore.DoomedObjects).
--
-- A request deletes an item's objects after the transaction that removed
-- or replaced its row: a process killed in between (kill -9, a power cut)
-- left the objects for good, and a sorted item's old object, or a deleted
-- conversation's item under the desk key, stayed readable with the desk
-- key. These triggers record the keys in the same transaction as the
-- row's change; the server deletes what is recorded at start and every
-- hour, whatever became of the request.
CREATE TABLE doomed_objects (
	key TEXT PRIMARY KEY CHECK (length(key) <= 256)
) WITHOUT ROWID;

CREATE TRIGGER items_doomed_on_delete AFTER DELETE ON items BEGIN
	INSERT OR IGNORE INTO doomed_objects (key) SELECT OLD.object WHERE OLD.object <> '';
	INSERT OR IGNORE INTO doomed_objects (key) SELECT OLD.meta WHERE OLD.meta <> '';
END;

CREATE TRIGGER items_doomed_on_replace AFTER UPDATE OF object, meta ON items BEGIN
	INSERT OR IGNORE INTO doomed_objects (key) SELECT OLD.object WHERE OLD.object <> '' AND OLD.object <> NEW.object;
	INSERT OR IGNORE INTO doomed_objects (key) SELECT OLD.meta WHERE OLD.meta <> '' AND OLD.meta <> NEW.meta;
END;

CREATE TRIGGER index_segments_doomed_on_delete AFTER DELETE ON index_segments BEGIN
	INSERT OR IGNORE INTO doomed_objects (key) SELECT OLD.object WHERE OLD.object <> '';
END;
