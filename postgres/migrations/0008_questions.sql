-- 0008: questionnaires per desk (SQLite's 0014).
--
-- A desk's questions are its configuration, published on the landing
-- page: kept as the JSON of pista.Questionnaire, in plaintext. Sources'
-- answers are items of the new kind 'answers', encrypted like a message.
CREATE TABLE desk_questions (
	desk_id bigint PRIMARY KEY REFERENCES desks (id) ON DELETE CASCADE,
	body    text   NOT NULL CHECK (octet_length(body) <= 262144)
);

ALTER TABLE items DROP CONSTRAINT items_kind_check;
ALTER TABLE items ADD CONSTRAINT items_kind_check
	CHECK (kind IN ('message', 'file', 'contact', 'reply', 'email', 'answers'));
