-- 0012: what of each forward's fee each of its channels earned.
--
-- On LND a forward's fee (amount in minus amount out) also holds the inbound
-- fee of the channel it came in by, a discount when negative. Crediting the
-- whole fee to the outgoing channel showed one channel's discount as a fall in
-- the revenue of the channels its traffic left by: their rollback, revenue rate
-- and experiment reports judged a fee by a discount set elsewhere, while the
-- channel that gave the discount never paid for it. `out_fee_msat` is the
-- outgoing channel's share (`Forward::outbound_share_msat`); the rest,
-- `fee_msat - out_fee_msat`, is the incoming channel's. It is written when a
-- forward is stored (and, for the rows already here, when the store is first
-- opened after this migration), from the policy levels the snapshots saw. The
-- per-channel revenue reads find both shares in the indexes, and read a row an
-- older lnpolicy still running stored without its share as before.
ALTER TABLE forwards ADD COLUMN out_fee_msat INTEGER CHECK (out_fee_msat >= 0);
CREATE INDEX forwards_without_share ON forwards (node_index) WHERE out_fee_msat IS NULL;
DROP INDEX forwards_by_chan_out;
CREATE INDEX forwards_by_chan_out ON forwards (chan_out, at_ns, out_fee_msat, fee_msat);
DROP INDEX forwards_by_chan_in;
CREATE INDEX forwards_by_chan_in ON forwards (chan_in, at_ns, fee_msat, out_fee_msat);
