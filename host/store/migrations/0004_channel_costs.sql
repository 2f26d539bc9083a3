-- 0004: What each channel cost us, for profitability and cost-based fees.
--
-- The on-chain fee of a channel's opening transaction never changes once
-- known, so it is fetched from the node once and kept (the node may forget
-- it; wallets prune). `source` says whether the node reported it or the
-- operator's configured estimate stood in for it.
CREATE TABLE channel_open_costs (
    channel_id  INTEGER NOT NULL PRIMARY KEY,
    fee_sat     INTEGER NOT NULL CHECK (fee_sat >= 0),
    source      TEXT    NOT NULL CHECK (source IN ('node', 'estimate')),
    recorded_at INTEGER NOT NULL
) STRICT;
