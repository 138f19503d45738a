-- 0008: the PostgreSQL twin of migrations/sqlite/0008_organisations.sql.
CREATE TABLE organisations (
    id                  TEXT PRIMARY KEY,
    org_type            TEXT NOT NULL,
    tax_code            TEXT UNIQUE,
    name                TEXT NOT NULL,
    address             TEXT,
    status              TEXT NOT NULL DEFAULT 'active',
    assurance_level     BIGINT NOT NULL DEFAULT 0,
    assurance_source    TEXT NOT NULL DEFAULT 'self_asserted',
    assurance_time      BIGINT,
    assurance_evidence  TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE representations (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    scope        TEXT NOT NULL DEFAULT '[]',
    valid_from   BIGINT NOT NULL,
    valid_until  BIGINT,
    granted_by   TEXT REFERENCES people(id) ON DELETE SET NULL,
    source       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE INDEX representations_by_person ON representations (person_id);
CREATE INDEX representations_by_org ON representations (org_id);
-- One live upstream representation per person, organisation and role: concurrent
-- upstream sign-ins converge on it.
CREATE UNIQUE INDEX representations_one_live_upstream ON representations (person_id, org_id, role)
    WHERE source = 'upstream' AND status <> 'revoked';
