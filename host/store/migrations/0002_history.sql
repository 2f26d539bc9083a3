-- 0002: the daemon's own copy of the node's history.
--
-- Nodes can purge their logs (LND since 0.21), so lnpolicy keeps what it
-- collected. Each stream has a cursor (the node's next index) that is written
-- in the same transaction as the rows it covers: a crash between pages
-- resumes at the right place, and a page seen twice adds nothing.

-- Settled forwards; node_index is the node's own position of the event
-- (LND offset index, CLN created_index).
CREATE TABLE forwards (
    node_index   INTEGER PRIMARY KEY,
    at_ns        INTEGER NOT NULL,
    chan_in      INTEGER NOT NULL,
    chan_out     INTEGER NOT NULL,
    amt_in_msat  INTEGER NOT NULL CHECK (amt_in_msat >= 0),
    amt_out_msat INTEGER NOT NULL CHECK (amt_out_msat >= 0),
    fee_msat     INTEGER NOT NULL CHECK (fee_msat >= 0)
) STRICT;
CREATE INDEX forwards_by_chan_out ON forwards (chan_out, at_ns);
CREATE INDEX forwards_by_chan_in ON forwards (chan_in, at_ns);

-- Forwards that failed at our node, where the node reports them.
CREATE TABLE failed_forwards (
    node_index  INTEGER PRIMARY KEY,
    at_ns       INTEGER NOT NULL,
    chan_in     INTEGER NOT NULL,
    chan_out    INTEGER,
    amt_in_msat INTEGER NOT NULL CHECK (amt_in_msat >= 0),
    reason      TEXT    NOT NULL
) STRICT;
CREATE INDEX failed_forwards_by_chan_out ON failed_forwards (chan_out, at_ns);

-- Where each stream resumes.
CREATE TABLE collector_cursors (
    stream     TEXT    PRIMARY KEY CHECK (stream IN ('forwards', 'failed_forwards')),
    next_index INTEGER NOT NULL CHECK (next_index >= 0)
) STRICT;

-- What each channel looked like at each collection: balances for flow
-- analysis, policies for fee history.
CREATE TABLE channel_snapshots (
    at                 INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    channel_json       TEXT    NOT NULL,
    PRIMARY KEY (at, channel_id)
) STRICT;
CREATE INDEX channel_snapshots_by_channel ON channel_snapshots (channel_id, at);
