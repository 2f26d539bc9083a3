-- 0008: indexes for what every cycle reads, so a cycle's cost follows the
-- window it asks for, not the whole history.
--
-- The flow windows (last day, week, 30 days) and failure counts filtered the
-- forwards by time with no time index, so each cycle walked every forward and
-- failure ever stored. Rollback and the revenue rate read each channel's last
-- applied update by scanning and sorting every intent. The per-channel fee
-- reads (revenue since the last change, fee history) now find the fee in the
-- index without a row lookup.
CREATE INDEX forwards_by_time ON forwards (at_ns);
CREATE INDEX failed_forwards_by_time ON failed_forwards (at_ns);
CREATE INDEX update_intents_applied_by_channel
    ON update_intents (channel_id, resolved_at) WHERE status = 'applied';
DROP INDEX forwards_by_chan_out;
CREATE INDEX forwards_by_chan_out ON forwards (chan_out, at_ns, fee_msat);
