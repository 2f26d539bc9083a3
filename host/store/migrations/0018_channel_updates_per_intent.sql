-- 0018: how many channel updates each recorded update broadcast.
--
-- The hourly cap (guard.max_updates_per_hour) bounds the channel updates the node gossips.
-- LND sets the disabled flag by a call of its own (UpdateChanStatus), after the policy, so an
-- update that changes the flag and anything else is two channel updates; counting each intent
-- as one let such updates spend half of what they cost. Read from the policy recorded as
-- applied, the count holds for every node: Core Lightning cannot change the flag, and the
-- policy it reports setting keeps it, as does LND's when the status call failed.
ALTER TABLE update_intents ADD COLUMN channel_updates INTEGER
    GENERATED ALWAYS AS (
        CASE WHEN json_extract(previous_json, '$.disabled')
                      IS NOT json_extract(policy_json, '$.disabled')
                  AND (fees_changed
                       OR json_extract(previous_json, '$.min_htlc_msat')
                              IS NOT json_extract(policy_json, '$.min_htlc_msat')
                       OR json_extract(previous_json, '$.max_htlc_msat')
                              IS NOT json_extract(policy_json, '$.max_htlc_msat')
                       OR json_extract(previous_json, '$.time_lock_delta')
                              IS NOT json_extract(policy_json, '$.time_lock_delta'))
             THEN 2 ELSE 1 END
    ) VIRTUAL;
