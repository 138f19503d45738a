-- 0010: which upstream identity (issuer, subject) is which person. A person may have
-- several links (several upstreams); a link names exactly one person.
CREATE TABLE upstream_links (
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    person_id       TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    last_login_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_links_person ON upstream_links (person_id);
