-- 0004: signing keys shared by every node. The PostgreSQL twin of
-- migrations/sqlite/0004_signing_keys.sql. Private keys are stored only sealed
-- (AES-256-GCM under the key-encryption key from configuration, the kid as associated
-- data); `kek_id` is the public fingerprint of the KEK that sealed them. A removed key's
-- sealed private key is erased (empty).
CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,
    alg                 TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired', 'removed')),
    private_key_sealed  BYTEA NOT NULL,
    kek_id              TEXT NOT NULL,
    public_jwk          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    activates_at        BIGINT NOT NULL,
    activated_at        BIGINT,
    retired_at          BIGINT,
    not_after           BIGINT
);
-- At most one signing and one waiting key per algorithm: concurrent nodes cannot both win.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';
