-- 0001: clients, people with local credentials, remembered consents, instance secrets.
-- The PostgreSQL twin of migrations/sqlite/0001_init.sql: same tables, columns and
-- constraints. Times are unix seconds (BIGINT), flags are BOOLEAN.
CREATE TABLE clients (
    client_id      TEXT PRIMARY KEY,
    secret_digest  TEXT,
    metadata       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'active',
    created_at     BIGINT NOT NULL
);

CREATE TABLE people (
    id               TEXT PRIMARY KEY,
    username         TEXT UNIQUE,
    password_hash    TEXT,
    name             TEXT,
    email            TEXT,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    phone            TEXT,
    phone_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    address          TEXT,
    personal_number  TEXT UNIQUE,
    status           TEXT NOT NULL DEFAULT 'active',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE consents (
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (person_id, client_id)
);

CREATE TABLE instance_secrets (
    name   TEXT PRIMARY KEY,
    value  BYTEA NOT NULL
);
