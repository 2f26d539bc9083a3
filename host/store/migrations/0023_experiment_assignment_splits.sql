-- 0023: the split each channel drew its experiment arm at.
--
-- A channel keeps the arm it drew, so a split changed under the same experiment name gives
-- the channels that join afterwards another chance of arm A than those before: arm membership
-- then follows when a channel joined. The report says so. NULL: assigned before this column.
ALTER TABLE experiment_assignments ADD COLUMN split REAL;
