-- 0013: the organisation context a refresh-token family was granted in (the
-- representation the person acted through; NULL when they acted for themselves).
ALTER TABLE refresh_families ADD COLUMN acting_for TEXT;
