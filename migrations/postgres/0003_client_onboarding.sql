-- 0003: client onboarding. The PostgreSQL twin of migrations/sqlite/0003_client_onboarding.sql:
-- initial access tokens (stored as digests, with a policy and optional use limit) and, per
-- client, the RFC 7592 registration access token digest, the registration policy it stays
-- bound to, and the time of its last change. `policy` holds JSON as TEXT, as in SQLite.
CREATE TABLE initial_access_tokens (
    id            TEXT PRIMARY KEY,
    token_digest  TEXT NOT NULL UNIQUE,
    policy        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    max_uses      BIGINT,
    uses          BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT
);

ALTER TABLE clients ADD COLUMN registration_token_digest TEXT;
ALTER TABLE clients ADD COLUMN registration_policy TEXT;
ALTER TABLE clients ADD COLUMN updated_at BIGINT;
