-- 0009: officer verification cases (four-eyes decisions) and officers.
-- Officers: people who may decide cases within a province (and commune).
CREATE TABLE officers (
    person_id   TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('verifier', 'supervisor')),
    province    INTEGER NOT NULL,
    commune     TEXT,
    updated_at  INTEGER NOT NULL
);
-- A case, its evidence and its decisions as JSON arrays; `version` is bumped by every
-- change and checked by every write (optimistic concurrency). An approved case about an
-- organisation or a representation stays here as the approved outcome.
CREATE TABLE verification_cases (
    id               TEXT PRIMARY KEY,
    subject_kind     TEXT NOT NULL CHECK (subject_kind IN ('person', 'organisation', 'representation')),
    subject_id       TEXT NOT NULL,
    requested_level  INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('submitted', 'in_review', 'approved', 'rejected', 'withdrawn')),
    province         INTEGER NOT NULL,
    commune          TEXT,
    opened_by        TEXT NOT NULL,
    evidence         TEXT NOT NULL,
    decisions        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    closed_at        INTEGER,
    version          INTEGER NOT NULL
);
CREATE INDEX verification_cases_queue ON verification_cases (state, province, id);
CREATE INDEX verification_cases_subject ON verification_cases (subject_kind, subject_id);
