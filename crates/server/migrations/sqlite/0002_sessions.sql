-- Agent sessions: one row per logged-in browser. Only the SHA-256 of the cookie token is
-- stored, so a copy of the database cannot be replayed as a session.
CREATE TABLE IF NOT EXISTS agent_sessions (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user        TEXT NOT NULL,
    user_level  INTEGER NOT NULL,
    campaign_id TEXT,
    created_at  INTEGER NOT NULL,  -- unix seconds
    expires_at  INTEGER NOT NULL   -- unix seconds
);
CREATE INDEX IF NOT EXISTS agent_sessions_user ON agent_sessions(user);

-- Server-enforced wrap-up: an agent whose call ended stays here until a disposition for that
-- call is accepted; while a row exists the server refuses a new dial.
CREATE TABLE IF NOT EXISTS agent_wrapup (
    user        TEXT PRIMARY KEY NOT NULL,
    lead_id     INTEGER NOT NULL,
    call_id     TEXT NOT NULL,     -- VICIdial uniqueid / callerid of the call, or our dial id
    campaign_id TEXT,
    ended_at    INTEGER NOT NULL   -- unix seconds
);
