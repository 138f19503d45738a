-- 0012: consent receipts (Decree 356/2025/ND-CP): what a person approved, for which client
-- and purpose, which claims, at what authentication level, under which policy version.
-- Immutable but for `withdrawn_at`. The client id is kept as text, not a reference, so
-- a receipt outlives the client it names; it goes with the person.
CREATE TABLE consent_receipts (
    id              TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    client_name     TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    claims          TEXT NOT NULL,
    acr             TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    granted_at      BIGINT NOT NULL,
    withdrawn_at    BIGINT
);
CREATE INDEX consent_receipts_person ON consent_receipts (person_id, granted_at);
