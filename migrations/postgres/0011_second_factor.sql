-- 0011: the PostgreSQL twin of migrations/sqlite/0011_second_factor.sql.
CREATE TABLE totp_credentials (
    person_id      TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    secret_sealed  BYTEA NOT NULL,
    last_used_step BIGINT,
    confirmed_at   BIGINT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (person_id, code_digest)
);
