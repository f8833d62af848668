-- GoHighLevel sync state.

-- The current OAuth refresh token per location. GHL refresh tokens are single-use and rotate on
-- every refresh, so the newest one is written here (one statement, atomic) before it is used.
CREATE TABLE IF NOT EXISTS ghl_oauth (
    location_id   TEXT PRIMARY KEY NOT NULL,
    refresh_token TEXT NOT NULL,
    updated_at    INTEGER NOT NULL   -- unix seconds
);

-- Known contacts: a lead's E.164 number (or email when it has no number) to its GHL contact,
-- so a disposition for a known contact sends no search.
CREATE TABLE IF NOT EXISTS ghl_contacts (
    location_id TEXT NOT NULL,
    lookup_key  TEXT NOT NULL,       -- 'phone:+13125551212' or 'email:a@b.example'
    contact_id  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (location_id, lookup_key)
);
CREATE INDEX IF NOT EXISTS ghl_contacts_contact ON ghl_contacts(contact_id);

-- What each disposition did in GHL, step by step, so a retry never repeats a create:
-- 'pending' = sent, outcome unknown (search before creating again); 'done' = finished.
CREATE TABLE IF NOT EXISTS ghl_objects (
    disposition_id TEXT NOT NULL,
    kind           TEXT NOT NULL,    -- opportunity, task, note, tags, dnd, campaigns, workflow:<id>
    ghl_id         TEXT,             -- the created object's id, when it has one
    state          TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (disposition_id, kind)
);

-- Leads whose phone and email match two different GHL contacts: shown to the agent, never
-- guessed. Deleted when someone resolves it.
CREATE TABLE IF NOT EXISTS ghl_conflicts (
    disposition_id   TEXT PRIMARY KEY NOT NULL,
    agent_user       TEXT NOT NULL,
    lead_id          INTEGER NOT NULL,
    phone_e164       TEXT NOT NULL,
    email            TEXT NOT NULL,
    phone_contact_id TEXT NOT NULL,
    email_contact_id TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ghl_conflicts_agent ON ghl_conflicts(agent_user);
