-- 0007: when each channel's open cost was last asked of the node.
--
-- A node may never find a funding transaction (CLN's bookkeeper enabled after
-- the open, a pruned LND wallet), so such a channel never gets a row in
-- channel_open_costs. Each lookup costs the node a bookkeeping query or its
-- whole wallet history; remembering when a channel was last asked lets a
-- cycle retry it daily instead of every cycle.
CREATE TABLE channel_open_cost_lookups (
    channel_id INTEGER NOT NULL PRIMARY KEY,
    asked_at   INTEGER NOT NULL
) STRICT;
