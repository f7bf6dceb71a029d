-- 0005: logins and suspension (issue 11).
--
-- The last TOTP step used told the login's time to 30 seconds; replays are
-- now refused from memory (newsroom.Auth), and the column goes. It is
-- zeroed first so that the exact values do not linger in the row.
UPDATE journalists SET totp_last_step = 0;
ALTER TABLE journalists DROP COLUMN totp_last_step;

-- The hour of the account's last login (unix seconds, truncated to the
-- hour like every stored time): after a restart, a TOTP code of the steps
-- around the restart is refused only to accounts that logged in that
-- hour, since only they can have used it before.
ALTER TABLE journalists ADD COLUMN last_login INTEGER NOT NULL DEFAULT 0;

-- Bumped whenever every session and API token of the account must end
-- (suspension): a session remembers the value it started under, and each
-- request compares it with this one, so `pista journalist suspend` ends
-- the sessions of a running server too.
ALTER TABLE journalists ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
