-- dialdeck's own store on MariaDB/MySQL, shared by several server instances
-- (DIALDECK_STORE_URL). The same tables as the SQLite store (migrations/sqlite), in one step.
-- Binary collation: keys compare exactly as they do in SQLite. Integers are BIGINT (unix
-- seconds or milliseconds, ids, counters). Text the server reads back is VARCHAR (sqlx's
-- runtime-generic driver reads TEXT columns as bytes); the disposition payload, which can be
-- long, is MEDIUMTEXT and read with `store::text`.

-- Agent sessions: only the SHA-256 of the cookie token is stored.
CREATE TABLE IF NOT EXISTS agent_sessions (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    user        VARCHAR(64) NOT NULL,
    user_level  BIGINT NOT NULL,
    campaign_id VARCHAR(64),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    KEY agent_sessions_user (user)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Which agents have a tab open on any instance: a heartbeat per poll while its event stream
-- is connected (unix seconds).
CREATE TABLE IF NOT EXISTS agent_presence (
    user    VARCHAR(64) NOT NULL PRIMARY KEY,
    seen_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Server-enforced wrap-up: one row per agent whose call ended without a disposition yet.
CREATE TABLE IF NOT EXISTS agent_wrapup (
    user        VARCHAR(64) NOT NULL PRIMARY KEY,
    lead_id     BIGINT NOT NULL,
    call_id     VARCHAR(128) NOT NULL,
    campaign_id VARCHAR(64),
    ended_at    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The disposition outbox.
CREATE TABLE IF NOT EXISTS dispositions (
    id           VARCHAR(64) NOT NULL PRIMARY KEY,
    agent_user   VARCHAR(64) NOT NULL,
    lead_id      BIGINT NOT NULL,
    request_hash CHAR(64) NOT NULL,
    payload      MEDIUMTEXT NOT NULL,
    accepted_at  BIGINT NOT NULL,
    KEY dispositions_agent (agent_user, accepted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS outbox_jobs (
    id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    disposition_id   VARCHAR(64) NOT NULL,
    target           VARCHAR(32) NOT NULL,
    state            VARCHAR(16) NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      VARCHAR(128),
    lease_expires_at BIGINT,
    last_error       VARCHAR(2000),
    receipt          MEDIUMTEXT,
    updated_at       BIGINT NOT NULL,
    UNIQUE KEY outbox_jobs_target (disposition_id, target),
    KEY outbox_jobs_due (state, next_attempt_at),
    KEY outbox_jobs_lease (state, lease_expires_at),
    KEY outbox_jobs_updated (updated_at),
    CONSTRAINT outbox_jobs_disposition FOREIGN KEY (disposition_id) REFERENCES dispositions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- GoHighLevel sync state.
CREATE TABLE IF NOT EXISTS ghl_oauth (
    location_id   VARCHAR(64) NOT NULL PRIMARY KEY,
    refresh_token VARCHAR(4000) NOT NULL,
    updated_at    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS ghl_contacts (
    location_id VARCHAR(64) NOT NULL,
    lookup_key  VARCHAR(330) NOT NULL,
    contact_id  VARCHAR(64) NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (location_id, lookup_key),
    KEY ghl_contacts_contact (contact_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS ghl_objects (
    disposition_id VARCHAR(64) NOT NULL,
    kind           VARCHAR(128) NOT NULL,
    ghl_id         VARCHAR(128),
    state          VARCHAR(16) NOT NULL CHECK (state IN ('pending', 'done')),
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (disposition_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS ghl_conflicts (
    disposition_id   VARCHAR(64) NOT NULL PRIMARY KEY,
    agent_user       VARCHAR(64) NOT NULL,
    lead_id          BIGINT NOT NULL,
    phone_e164       VARCHAR(32) NOT NULL,
    email            VARCHAR(320) NOT NULL,
    phone_contact_id VARCHAR(64) NOT NULL,
    email_contact_id VARCHAR(64) NOT NULL,
    created_at       BIGINT NOT NULL,
    KEY ghl_conflicts_agent (agent_user)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Wrap-ups that passed their campaign's deadline with the agent's tab gone.
CREATE TABLE IF NOT EXISTS wrapup_expired (
    disposition_id VARCHAR(64) NOT NULL PRIMARY KEY,
    user           VARCHAR(64) NOT NULL,
    lead_id        BIGINT NOT NULL,
    campaign_id    VARCHAR(64) NOT NULL,
    status         VARCHAR(16) NOT NULL,
    deadline_secs  BIGINT NOT NULL,
    ended_at       BIGINT NOT NULL,
    expired_at     BIGINT NOT NULL,
    KEY wrapup_expired_at (expired_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
