-- 0020: peers' fee levels are now what the peer's other counterparties charge toward it.
--
-- They had been what the peer charges onward, which a payment pays whichever way it reached
-- the peer, so they told a strategy nothing about the routes competing with our channel to
-- it. Levels stored that way are dropped: each peer's is read again at its next cycle.
DELETE FROM peer_fees;
