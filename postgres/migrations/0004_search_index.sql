-- 0004: the desks' search indexes (SQLite's 0010). Each row is one
-- segment: an age file that a journalist's browser encrypted to the desk's
-- keys, in the object store under object. The server cannot read it; the
-- row holds only the desk, the size, who uploaded it and the hour. id is
-- random (what the browser names segments by); seq only orders them.
CREATE TABLE index_segments (
	seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id        text   COLLATE "C" NOT NULL UNIQUE,
	desk_id   bigint NOT NULL REFERENCES desks (id) ON DELETE CASCADE,
	object    text   NOT NULL,
	size      bigint NOT NULL,
	author_id bigint REFERENCES journalists (id) ON DELETE SET NULL,
	created   bigint NOT NULL
);
CREATE INDEX index_segments_desk ON index_segments (desk_id, seq);
