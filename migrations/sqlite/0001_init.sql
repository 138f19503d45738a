-- 0001: clients, people with local credentials, remembered consents, instance secrets.
CREATE TABLE clients (
    client_id      TEXT PRIMARY KEY,
    secret_digest  TEXT,
    metadata       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'active',
    created_at     INTEGER NOT NULL
);

CREATE TABLE people (
    id               TEXT PRIMARY KEY,
    username         TEXT UNIQUE,
    password_hash    TEXT,
    name             TEXT,
    email            TEXT,
    email_verified   INTEGER NOT NULL DEFAULT 0,
    phone            TEXT,
    phone_verified   INTEGER NOT NULL DEFAULT 0,
    address          TEXT,
    personal_number  TEXT UNIQUE,
    status           TEXT NOT NULL DEFAULT 'active',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE consents (
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (person_id, client_id)
);

CREATE TABLE instance_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
