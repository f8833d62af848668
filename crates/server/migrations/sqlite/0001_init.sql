-- dialdeck's own store. VICIdial's data stays in VICIdial's MariaDB; this holds only what the
-- server itself owns (sessions, dispositions, the outbox).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
