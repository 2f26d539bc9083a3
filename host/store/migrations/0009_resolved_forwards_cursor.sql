-- 0009: a third collector stream, for forwards resolved after they were listed.
--
-- Core Lightning lists a forward under the created_index it got when the HTLC
-- arrived, as `offered` until it settles or fails. The created-order streams
-- used to wait at the first one in flight, so a held HTLC stopped collection
-- for as long as it was held. They now pass over it, and its outcome is read
-- from `listforwards index=updated`, whose cursor lives here. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt with its rows.
CREATE TABLE collector_cursors_0009 (
    stream     TEXT    PRIMARY KEY
               CHECK (stream IN ('forwards', 'failed_forwards', 'resolved_forwards')),
    next_index INTEGER NOT NULL CHECK (next_index >= 0)
) STRICT;
INSERT INTO collector_cursors_0009 (stream, next_index)
    SELECT stream, next_index FROM collector_cursors;
DROP TABLE collector_cursors;
ALTER TABLE collector_cursors_0009 RENAME TO collector_cursors;
