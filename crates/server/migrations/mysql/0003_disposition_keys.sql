-- Dispositions keyed by agent (see migrations/sqlite/0007_disposition_keys.sql): the client's
-- idempotency key is unique per agent only; `id` is dialdeck's own key; one disposition per
-- agent, lead and call (`call_key` NULL: no call named, not constrained).
ALTER TABLE dispositions
    ADD COLUMN client_id VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN call_key VARCHAR(160) NULL;
UPDATE dispositions SET client_id = id WHERE client_id = '';
ALTER TABLE dispositions
    ADD UNIQUE KEY dispositions_client_key (agent_user, client_id),
    ADD UNIQUE KEY dispositions_one_per_call (agent_user, lead_id, call_key);
