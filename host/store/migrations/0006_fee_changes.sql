-- 0006: each channel's outbound policy changes, as the snapshots saw them.
--
-- Guests read a channel's fee history every cycle. Finding the changes among
-- the snapshots means decoding every snapshot's JSON, which grows with each
-- collection; this table keeps only the snapshots whose (fee_ppm,
-- base_fee_msat, inbound_fee_ppm) differ from the channel's previous one (the
-- first snapshot counts), written together with the snapshot.
CREATE TABLE channel_fee_changes (
    channel_id      INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    fee_ppm         INTEGER NOT NULL CHECK (fee_ppm >= 0),
    base_fee_msat   INTEGER NOT NULL CHECK (base_fee_msat >= 0),
    inbound_fee_ppm INTEGER NOT NULL,
    PRIMARY KEY (channel_id, at)
) STRICT, WITHOUT ROWID;

-- The changes among the snapshots already taken.
INSERT INTO channel_fee_changes (channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm)
SELECT channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm FROM (
    SELECT channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm,
           LAG(fee_ppm) OVER w AS prev_fee,
           LAG(base_fee_msat) OVER w AS prev_base,
           LAG(inbound_fee_ppm) OVER w AS prev_inbound,
           ROW_NUMBER() OVER w AS n
    FROM (SELECT channel_id, at,
                 json_extract(channel_json, '$.local_policy.fee_ppm') AS fee_ppm,
                 json_extract(channel_json, '$.local_policy.base_fee_msat') AS base_fee_msat,
                 json_extract(channel_json, '$.local_policy.inbound_fee_ppm') AS inbound_fee_ppm
          FROM channel_snapshots)
    WINDOW w AS (PARTITION BY channel_id ORDER BY at))
WHERE n = 1 OR fee_ppm IS NOT prev_fee OR base_fee_msat IS NOT prev_base
      OR inbound_fee_ppm IS NOT prev_inbound;
