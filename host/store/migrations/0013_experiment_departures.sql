-- 0013: when a channel left an experiment.
--
-- A channel is in an experiment while the config puts it in the experiment's
-- section. When a cycle decides it under another section (or under no
-- section), its time in the experiment ends there: what it earns afterwards is
-- another strategy's doing and must not count for its arm. The first departure
-- is final; a channel that comes back is not counted again, since its fees
-- while away were not its arm's.
ALTER TABLE experiment_assignments ADD COLUMN left_at INTEGER;
