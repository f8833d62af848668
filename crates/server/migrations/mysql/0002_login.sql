-- The agent's VICIdial password for reopening VICIdial's screen after a reload, sealed with a
-- key derived from the session cookie (ChaCha20-Poly1305, HKDF-SHA256): the store keeps only
-- the cookie's SHA-256, so the database alone cannot open it. NULL for admin sessions.
ALTER TABLE agent_sessions ADD COLUMN screen_secret VARCHAR(512) NULL;

-- Failed logins per VICIdial user (lower-cased, known or not), shared by every instance, for
-- dialdeck's own throttle that stays below VICIdial's lockout. A row is written before the
-- password is checked (so parallel attempts see each other) and removed again when the
-- attempt turns out not to be a failure.
CREATE TABLE IF NOT EXISTS login_failures (
    attempt   CHAR(32) NOT NULL PRIMARY KEY,
    user_key  VARCHAR(64) NOT NULL,
    failed_at BIGINT NOT NULL,
    KEY login_failures_user (user_key, failed_at),
    KEY login_failures_at (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
