-- 0014: the inbound base fee in each channel's fee changes.
--
-- A change of only the inbound base fee (a manual one, or another tool's) was
-- no change to `channel_fee_changes`: the minimum interval between updates did
-- not see it, and a forward's fee was split between its two channels as if
-- the incoming channel had no inbound base fee. The column is filled from the
-- first snapshot at or after each change (the one that saw it, or for a
-- change an update entered, the next one), else the last before it.
ALTER TABLE channel_fee_changes ADD COLUMN inbound_base_fee_msat INTEGER NOT NULL DEFAULT 0;
UPDATE channel_fee_changes SET inbound_base_fee_msat = COALESCE(
    (SELECT json_extract(s.channel_json, '$.local_policy.inbound_base_fee_msat')
     FROM channel_snapshots s
     WHERE s.channel_id = channel_fee_changes.channel_id AND s.at >= channel_fee_changes.at
     ORDER BY s.at LIMIT 1),
    (SELECT json_extract(s.channel_json, '$.local_policy.inbound_base_fee_msat')
     FROM channel_snapshots s
     WHERE s.channel_id = channel_fee_changes.channel_id AND s.at < channel_fee_changes.at
     ORDER BY s.at DESC LIMIT 1),
    0);
-- The changes of the inbound base fee alone, which were no change before,
-- found among the snapshots as 0006 found the others.
INSERT OR IGNORE INTO channel_fee_changes
    (channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat)
SELECT channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base FROM (
    SELECT channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base,
           LAG(inbound_base) OVER w AS prev_inbound_base,
           ROW_NUMBER() OVER w AS n
    FROM (SELECT channel_id, at,
                 json_extract(channel_json, '$.local_policy.fee_ppm') AS fee_ppm,
                 json_extract(channel_json, '$.local_policy.base_fee_msat') AS base_fee_msat,
                 json_extract(channel_json, '$.local_policy.inbound_fee_ppm') AS inbound_fee_ppm,
                 COALESCE(json_extract(channel_json, '$.local_policy.inbound_base_fee_msat'), 0)
                     AS inbound_base
          FROM channel_snapshots)
    WINDOW w AS (PARTITION BY channel_id ORDER BY at))
WHERE n > 1 AND inbound_base IS NOT prev_inbound_base;
-- Forwards in through a channel that ever had an inbound base fee are shared
-- again when the store is next opened.
UPDATE forwards SET out_fee_msat = NULL
WHERE chan_in IN (SELECT channel_id FROM channel_fee_changes WHERE inbound_base_fee_msat <> 0);
