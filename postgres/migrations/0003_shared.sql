-- State that every instance must see alike (pista.Shared): sessions,
-- login allowances, one-time challenges, uploads in progress. Entries
-- expire; the sweep deletes them. Nothing of a source is kept here but
-- uploads' sizes and the keys of their ciphertext pieces.
CREATE TABLE shared (
    kind    text        NOT NULL,
    key     bytea       NOT NULL,
    value   bytea       NOT NULL DEFAULT '',
    n       bigint      NOT NULL DEFAULT 0,
    expires timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX shared_expires ON shared (expires);
