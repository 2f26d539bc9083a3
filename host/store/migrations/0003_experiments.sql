-- 0003: A/B experiment assignments.
--
-- Which arm of an experiment each channel is in. A row is written the first
-- time a channel is seen in an experiment and never changed afterwards, so a
-- channel cannot switch arm mid-experiment even when the split or the
-- assignment rule changes. Starting a new experiment means a new name.
CREATE TABLE experiment_assignments (
    experiment  TEXT    NOT NULL,
    channel_id  INTEGER NOT NULL,
    arm         TEXT    NOT NULL CHECK (arm IN ('a', 'b')),
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (experiment, channel_id)
) STRICT;
