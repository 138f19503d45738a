-- 0009: the PostgreSQL twin of migrations/sqlite/0009_verification.sql.
CREATE TABLE officers (
    person_id   TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('verifier', 'supervisor')),
    province    BIGINT NOT NULL,
    commune     TEXT,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE verification_cases (
    id               TEXT PRIMARY KEY,
    subject_kind     TEXT NOT NULL CHECK (subject_kind IN ('person', 'organisation', 'representation')),
    subject_id       TEXT NOT NULL,
    requested_level  BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('submitted', 'in_review', 'approved', 'rejected', 'withdrawn')),
    province         BIGINT NOT NULL,
    commune          TEXT,
    opened_by        TEXT NOT NULL,
    evidence         TEXT NOT NULL,
    decisions        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    closed_at        BIGINT,
    version          BIGINT NOT NULL
);
CREATE INDEX verification_cases_queue ON verification_cases (state, province, id);
CREATE INDEX verification_cases_subject ON verification_cases (subject_kind, subject_id);
