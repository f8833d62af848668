-- Dispositions keyed by agent: the client's idempotency key is unique per agent only, so one
-- agent's key can never collide with (or squat) another's. `id` becomes dialdeck's own key,
-- derived from the agent and the client's key for new rows (old rows keep theirs, which were
-- unique already). One call gets one disposition: `call_key` names the call the server took the
-- disposition for (NULL when VICIdial named none, and for rows from before this migration).
ALTER TABLE dispositions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dispositions ADD COLUMN call_key TEXT;
UPDATE dispositions SET client_id = id WHERE client_id = '';
CREATE UNIQUE INDEX IF NOT EXISTS dispositions_client_key ON dispositions(agent_user, client_id);
CREATE UNIQUE INDEX IF NOT EXISTS dispositions_one_per_call ON dispositions(agent_user, lead_id, call_key);
