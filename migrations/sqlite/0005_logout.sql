-- 0005: back-channel logout deliveries, recorded for operators.
CREATE TABLE logout_deliveries (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    sid           TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX logout_deliveries_client ON logout_deliveries (client_id, created_at);
