-- 0015: which node a database holds the history of.
--
-- Cursors into a node's logs mean nothing to another node. A database kept
-- while the node was rebuilt, or moved from LND to CLN, had cursors ahead of
-- the new node's logs: every collection read nothing and said it had caught
-- up, every channel looked idle, and strategies cut fees on it. The first
-- collection records the node; a collection from another node is refused.
CREATE TABLE node_identity (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    pubkey  TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    since   INTEGER NOT NULL
) STRICT;
