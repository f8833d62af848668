-- The disposition outbox: every accepted disposition, and one job per target (VICIdial, GHL)
-- that workers claim under leases until it is done or parked.
CREATE TABLE IF NOT EXISTS dispositions (
    id           TEXT PRIMARY KEY NOT NULL,  -- the client's idempotency key
    agent_user   TEXT NOT NULL,
    lead_id      INTEGER NOT NULL,
    request_hash TEXT NOT NULL,              -- SHA-256 of the request, to refuse a reused key
    payload      TEXT NOT NULL,              -- JSON of the accepted `Disposition`
    accepted_at  INTEGER NOT NULL            -- unix milliseconds
);
CREATE INDEX IF NOT EXISTS dispositions_agent ON dispositions(agent_user, accepted_at);

CREATE TABLE IF NOT EXISTS outbox_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    disposition_id   TEXT NOT NULL REFERENCES dispositions(id),
    target           TEXT NOT NULL,
    state            TEXT NOT NULL,          -- pending | running | done | retrying | parked
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,       -- unix milliseconds
    lease_owner      TEXT,
    lease_expires_at INTEGER,                -- unix milliseconds
    last_error       TEXT,
    receipt          TEXT,                   -- JSON the target returned
    updated_at       INTEGER NOT NULL,
    UNIQUE (disposition_id, target)
);
CREATE INDEX IF NOT EXISTS outbox_jobs_due ON outbox_jobs(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_jobs_lease ON outbox_jobs(state, lease_expires_at);
