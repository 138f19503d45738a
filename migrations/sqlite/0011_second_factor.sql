-- 0011: officials' second factor: one TOTP credential per person (secret sealed under
-- the KEK, the last accepted time step for single use), and single-use recovery codes
-- kept as digests.
CREATE TABLE totp_credentials (
    person_id      TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    secret_sealed  BLOB NOT NULL,
    last_used_step INTEGER,
    confirmed_at   INTEGER,
    created_at     INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (person_id, code_digest)
);
