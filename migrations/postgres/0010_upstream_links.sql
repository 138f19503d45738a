-- 0010: the PostgreSQL twin of migrations/sqlite/0010_upstream_links.sql.
CREATE TABLE upstream_links (
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    person_id       TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_login_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_links_person ON upstream_links (person_id);
