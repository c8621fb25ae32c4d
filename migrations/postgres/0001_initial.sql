-- dtaas-services state database, PostgreSQL flavour.
-- Timestamps are Unix epoch milliseconds (BIGINT), the same representation as the
-- SQLite flavour (INTEGER), so both backends share every runtime query.

-- Admin passwords and tokens (password_store): encrypted with XChaCha20-Poly1305.
CREATE TABLE secrets (
    name        TEXT    PRIMARY KEY NOT NULL,
    ciphertext  BYTEA   NOT NULL,
    nonce       BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Operations journal: what, when, per-service outcome. Never a secret value.
CREATE TABLE journal (
    id       BIGSERIAL PRIMARY KEY,
    at       BIGINT  NOT NULL,
    command  TEXT    NOT NULL,
    service  TEXT,
    outcome  TEXT    NOT NULL,
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX journal_at ON journal (at);

-- Provisioned accounts: a keyed fingerprint of the password, never the password.
CREATE TABLE accounts (
    service      TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (service, username)
);

-- Scheduler: one row per execution attempt.
CREATE TABLE executions (
    id             BIGSERIAL PRIMARY KEY,
    job            TEXT    NOT NULL,
    trigger_name   TEXT    NOT NULL,
    scheduled_for  BIGINT  NOT NULL,
    started_at     BIGINT  NOT NULL,
    ended_at       BIGINT,
    attempt        BIGINT  NOT NULL,
    outcome        TEXT,
    error          TEXT
);
CREATE INDEX executions_job ON executions (job, id);

-- Scheduler: last scheduled occurrence per (job, trigger), for missed-run policies.
CREATE TABLE trigger_state (
    job             TEXT    NOT NULL,
    trigger_name    TEXT    NOT NULL,
    last_scheduled  BIGINT  NOT NULL,
    PRIMARY KEY (job, trigger_name)
);

-- Scheduler: leases so two runners never run the same job at once.
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY NOT NULL,
    holder      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);

-- Markers such as one-time imports done, and the password store key check value.
CREATE TABLE meta (
    key         TEXT    PRIMARY KEY NOT NULL,
    value       TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);
