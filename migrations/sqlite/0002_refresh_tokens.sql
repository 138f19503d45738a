-- 0002: refresh-token families (one per grant) and their rotation chain.
CREATE TABLE refresh_families (
    family_id   TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    claims      TEXT NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    sid         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX refresh_families_person ON refresh_families (person_id);

CREATE TABLE refresh_tokens (
    token_digest     TEXT PRIMARY KEY,
    family_id        TEXT NOT NULL REFERENCES refresh_families(family_id) ON DELETE CASCADE,
    issued_at        INTEGER NOT NULL,
    idle_expires_at  INTEGER NOT NULL,
    used_at          INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
