-- Which agents have a tab open, as seen by any server instance: a heartbeat every poll while
-- an agent's event stream is connected. Written only when instances share a store
-- (MariaDB); a single instance knows its own tabs.
CREATE TABLE IF NOT EXISTS agent_presence (
    user    TEXT PRIMARY KEY NOT NULL,
    seen_at INTEGER NOT NULL   -- unix seconds
);
