-- 0005: what each peer charges on its other public channels.
--
-- Guests ask for a peer's fee levels every cycle; the graph changes slowly,
-- so the engine refreshes a peer at most once a day and answers from here.
-- A refresh that found no other public channels keeps its time with NULL
-- percentiles, so it is not retried before the day is over.
CREATE TABLE peer_fees (
    peer_pubkey  TEXT    PRIMARY KEY,
    refreshed_at INTEGER NOT NULL,
    channels     INTEGER CHECK (channels >= 0),
    p25_ppm      INTEGER CHECK (p25_ppm >= 0),
    p50_ppm      INTEGER CHECK (p50_ppm >= 0),
    p75_ppm      INTEGER CHECK (p75_ppm >= 0),
    p90_ppm      INTEGER CHECK (p90_ppm >= 0)
) STRICT;
