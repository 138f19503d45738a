-- 0007: the PostgreSQL twin of migrations/sqlite/0007_person_profile.sql.
ALTER TABLE people ADD COLUMN birthdate TEXT;
ALTER TABLE people ADD COLUMN gender TEXT;
ALTER TABLE people ADD COLUMN nationality TEXT;
ALTER TABLE people ADD COLUMN assurance_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN assurance_source TEXT NOT NULL DEFAULT 'self_asserted';
ALTER TABLE people ADD COLUMN assurance_time BIGINT;
ALTER TABLE people ADD COLUMN assurance_evidence TEXT;
