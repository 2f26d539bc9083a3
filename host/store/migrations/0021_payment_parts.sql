-- 0021: parts of our own payments, for what rebalancing cost each channel.
--
-- A circular rebalance (made by any tool: bos, rebalance-lnd, LNDg, a CLN plugin) is a
-- payment to ourselves: it leaves by one channel, paying the route's fee, and arrives by
-- another, whose outbound liquidity it bought. LND lists such a payment whole (its
-- payment_index, one row per channel it used); CLN's listchannelmoves lists each side
-- apart (its created_index), perhaps pages apart, so the two sides are paired here, by
-- payment hash, when costs are read. A part whose channel the node no longer knows keeps
-- its fee with a NULL channel.
CREATE TABLE payment_parts (
    node_index   INTEGER NOT NULL,
    part         INTEGER NOT NULL CHECK (part >= 0),
    at           INTEGER NOT NULL,
    channel_id   INTEGER,
    payment_hash TEXT    NOT NULL,
    sent         INTEGER NOT NULL CHECK (sent IN (0, 1)),
    amount_msat  INTEGER NOT NULL CHECK (amount_msat >= 0),
    fee_msat     INTEGER NOT NULL CHECK (fee_msat >= 0),
    PRIMARY KEY (node_index, part)
) STRICT;
CREATE INDEX payment_parts_by_hash ON payment_parts (payment_hash);

-- Payments the stream passed over while they were in flight (LND numbers a payment when it
-- starts), read again until they resolve; `started` is when the payment began.
CREATE TABLE unresolved_payments (
    node_index INTEGER PRIMARY KEY,
    started    INTEGER NOT NULL
) STRICT;

-- A fourth collector stream; SQLite cannot change a CHECK constraint in place.
CREATE TABLE collector_cursors_0021 (
    stream     TEXT    PRIMARY KEY
               CHECK (stream IN ('forwards', 'failed_forwards', 'resolved_forwards',
                                 'payment_parts')),
    next_index INTEGER NOT NULL CHECK (next_index >= 0)
) STRICT;
INSERT INTO collector_cursors_0021 (stream, next_index)
    SELECT stream, next_index FROM collector_cursors;
DROP TABLE collector_cursors;
ALTER TABLE collector_cursors_0021 RENAME TO collector_cursors;
