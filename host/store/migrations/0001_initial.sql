-- 0001: the initial schema.
--
-- Times are Unix seconds. Channel ids are LND short channel ids (u64) stored
-- bit-cast to INTEGER, so ids with the top bit set read back negative here.
-- Tables are STRICT so a bug that binds the wrong type fails loudly instead of
-- storing text where a number belongs.

-- The audit trail operators read when asking "why did my fee not change?".
CREATE TABLE strategy_events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    strategy TEXT    NOT NULL,
    sha256   TEXT    NOT NULL,
    -- No CHECK: kinds grow with lnpolicy-core, and that must not need a migration.
    kind     TEXT    NOT NULL,
    detail   TEXT    NOT NULL
) STRICT;
CREATE INDEX strategy_events_by_strategy ON strategy_events (strategy, id);

-- One run of one strategy over the node's channels.
CREATE TABLE cycles (
    id          INTEGER PRIMARY KEY,
    strategy    TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    channels    INTEGER NOT NULL CHECK (channels >= 0),
    status      TEXT    CHECK (status IN ('ok', 'failed', 'quarantined')),
    error       TEXT,
    -- A cycle is either still running (neither set) or finished (both set).
    CHECK ((finished_at IS NULL) = (status IS NULL))
) STRICT;

-- What a strategy asked for on one channel and what the guard made of it.
CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    cycle_id        INTEGER NOT NULL REFERENCES cycles (id),
    at              INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    strategy        TEXT    NOT NULL,
    strategy_sha256 TEXT    NOT NULL,
    -- NULL when the guest produced nothing for this channel (trap, timeout).
    raw_json        TEXT,
    guarded_json    TEXT    NOT NULL,
    -- Denormalised from guarded_json so "which decisions were clamped" is a query.
    clamps          INTEGER NOT NULL CHECK (clamps >= 0),
    reason          TEXT    NOT NULL
) STRICT;
CREATE INDEX decisions_by_cycle ON decisions (cycle_id, id);
CREATE INDEX decisions_by_channel ON decisions (channel_id, id);

-- Written and committed before a policy update is sent to the node, so that a
-- crash between the two leaves a pending row to reconcile at the next start.
CREATE TABLE update_intents (
    id            INTEGER PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    decision_id   INTEGER REFERENCES decisions (id),
    policy_json   TEXT    NOT NULL,
    previous_json TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'applied', 'failed')),
    resolved_at   INTEGER,
    error         TEXT,
    CHECK ((status = 'pending') = (resolved_at IS NULL)),
    CHECK ((status = 'failed') = (error IS NOT NULL))
) STRICT;
-- Startup recovery reads only the pending rows; keep that cheap as history grows.
CREATE INDEX update_intents_pending ON update_intents (id) WHERE status = 'pending';

-- Key/value state a strategy keeps between cycles.
CREATE TABLE strategy_state (
    strategy   TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (strategy, key)
) STRICT, WITHOUT ROWID;
