-- 0011: retention (PostgreSQL's 0005). A desk keeps a conversation
-- retention_days after its last activity (conversations.updated, the hour
-- of its newest item); 0 keeps it until someone deletes it, which is what
-- every desk of before this migration does. A held conversation is kept
-- whatever its age, until released.
ALTER TABLE desks ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0
	CHECK (retention_days >= 0 AND retention_days <= 36500);
ALTER TABLE conversations ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
-- Expiry: one desk's conversations by last activity, oldest first.
CREATE INDEX conversations_desk_updated ON conversations (desk_id, updated);
-- Audit retention deletes the oldest entries: the primary key orders them
-- by creation, but created is what is compared.
CREATE INDEX audit_created ON audit (created);
