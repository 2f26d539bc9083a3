-- 0010: each channel's last fee change, found in an index.
--
-- Every cycle asks for each channel's last applied update that changed a fee
-- (rollback weighs it, the revenue rate starts there). Telling a fee change
-- from a change of only the disabled flag or HTLC limits compared the two
-- JSON policies of every applied update ever made, on every cycle, so a
-- cycle's cost grew with the node's whole history. The comparison is now a
-- generated column, computed when the row is written, and bounds an index.
ALTER TABLE update_intents ADD COLUMN fees_changed INTEGER
    GENERATED ALWAYS AS (
           json_extract(previous_json, '$.fee_ppm')
               IS NOT json_extract(policy_json, '$.fee_ppm')
        OR json_extract(previous_json, '$.base_fee_msat')
               IS NOT json_extract(policy_json, '$.base_fee_msat')
        OR json_extract(previous_json, '$.inbound_fee_ppm')
               IS NOT json_extract(policy_json, '$.inbound_fee_ppm')
        OR json_extract(previous_json, '$.inbound_base_fee_msat')
               IS NOT json_extract(policy_json, '$.inbound_base_fee_msat')
    ) VIRTUAL;
CREATE INDEX update_intents_fee_changes_by_channel
    ON update_intents (channel_id, resolved_at)
    WHERE status = 'applied' AND fees_changed = 1;
