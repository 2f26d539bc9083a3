-- 0017: the smallest HTLC a node set instead of the one asked for.
--
-- Core Lightning raises a requested smallest HTLC below the peer's minimum to that minimum,
-- with a warning, and lists the peer's minimum nowhere. Without remembering it, an update
-- asking for less was sent again at every interval (the policy never matched what was asked),
-- and the charge-lnd overlay, which floored a smallest HTLC at the current one to avoid that,
-- kept an operator from lowering it. Learned from the node's answer, it bounds what later
-- updates ask for.
CREATE TABLE learned_htlc_floors (
    channel_id     INTEGER PRIMARY KEY,
    min_floor_msat INTEGER NOT NULL CHECK (min_floor_msat >= 0),
    learned_at     INTEGER NOT NULL
) STRICT;
