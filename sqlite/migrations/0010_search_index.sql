-- 0010: the desks' search indexes (PostgreSQL's 0004). Each row is one
-- segment: an age file that a journalist's browser encrypted to the desk's
-- keys, in the object store under object. The server cannot read it; the
-- row holds only the desk, the size, who uploaded it and the hour. id is
-- random (what the browser names segments by); seq only orders them.
CREATE TABLE index_segments (
	seq       INTEGER PRIMARY KEY,
	id        TEXT    NOT NULL UNIQUE,
	desk_id   INTEGER NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	object    TEXT    NOT NULL,
	size      INTEGER NOT NULL,
	author_id INTEGER REFERENCES journalists (id) ON DELETE SET NULL,
	created   INTEGER NOT NULL
);
CREATE INDEX index_segments_desk ON index_segments (desk_id, seq);
