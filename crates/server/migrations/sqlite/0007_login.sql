-- The agent's VICIdial password for reopening VICIdial's screen after a reload, sealed with a
-- key derived from the session cookie (ChaCha20-Poly1305, HKDF-SHA256): the store keeps only
-- the cookie's SHA-256, so the database alone cannot open it. NULL for admin sessions.
ALTER TABLE agent_sessions ADD COLUMN screen_secret TEXT;

-- Failed logins per VICIdial user (lower-cased, known or not), for dialdeck's own throttle
-- that stays below VICIdial's lockout; rows older than VICIdial's 15-minute window go. A row is
-- written before the password is checked (so parallel attempts see each other) and removed
-- again when the attempt turns out not to be a failure.
CREATE TABLE IF NOT EXISTS login_failures (
    attempt   TEXT PRIMARY KEY NOT NULL,  -- random id of the attempt
    user_key  TEXT NOT NULL,
    failed_at INTEGER NOT NULL            -- unix seconds
);
CREATE INDEX IF NOT EXISTS login_failures_user ON login_failures(user_key, failed_at);
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures(failed_at);
