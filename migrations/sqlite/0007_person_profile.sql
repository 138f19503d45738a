-- 0007: what a person is beyond a login: birth date, gender, nationality, and the
-- identity assurance reached (level 0-2, its source, time and evidence as JSON).
ALTER TABLE people ADD COLUMN birthdate TEXT;
ALTER TABLE people ADD COLUMN gender TEXT;
ALTER TABLE people ADD COLUMN nationality TEXT;
ALTER TABLE people ADD COLUMN assurance_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN assurance_source TEXT NOT NULL DEFAULT 'self_asserted';
ALTER TABLE people ADD COLUMN assurance_time INTEGER;
ALTER TABLE people ADD COLUMN assurance_evidence TEXT;
