-- Wrap-ups that passed their campaign's deadline with the agent's tab gone: the server applied
-- the campaign's fallback status and paused the agent. Kept for admins to see.
CREATE TABLE IF NOT EXISTS wrapup_expired (
    disposition_id TEXT PRIMARY KEY NOT NULL,
    user           TEXT NOT NULL,
    lead_id        INTEGER NOT NULL,
    campaign_id    TEXT NOT NULL,
    status         TEXT NOT NULL,   -- the fallback status applied
    deadline_secs  INTEGER NOT NULL,
    ended_at       INTEGER NOT NULL, -- unix seconds, when the call ended
    expired_at     INTEGER NOT NULL  -- unix seconds, when the fallback was applied
);
CREATE INDEX IF NOT EXISTS wrapup_expired_at ON wrapup_expired(expired_at);
