-- 0003: client onboarding. Initial access tokens (RFC 7591 §3: minted by an administrator
-- with a policy, stored as digests, optionally limited in uses) and, per client, the
-- RFC 7592 registration access token digest, the policy a dynamically registered client
-- stays bound to, and the time of its last change.
CREATE TABLE initial_access_tokens (
    id            TEXT PRIMARY KEY,
    token_digest  TEXT NOT NULL UNIQUE,
    policy        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    max_uses      INTEGER,
    uses          INTEGER NOT NULL DEFAULT 0,
    revoked_at    INTEGER
);

ALTER TABLE clients ADD COLUMN registration_token_digest TEXT;
ALTER TABLE clients ADD COLUMN registration_policy TEXT;
ALTER TABLE clients ADD COLUMN updated_at INTEGER;
