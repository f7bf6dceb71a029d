-- 0007: sources' sessions without a table (issue 12).
--
-- A source's web session and API token are sealed into the cookie or token
-- itself (httpx.Sealed), so the server keeps no table anyone can fill.
-- Each carries the source's epoch at login, and each request compares it
-- with this one (one read by primary key): logging out bumps it, which
-- ends every session and token of the source at once, on every instance.
ALTER TABLE sources ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
