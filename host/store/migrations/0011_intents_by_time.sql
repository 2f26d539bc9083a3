-- 0011: the updates sent in the last hour, found in an index.
--
-- The node-wide cap on updates per hour (`guard.max_updates_per_hour`) counts,
-- before each apply run, the updates recorded since an hour ago. Without an
-- index that count reads every intent ever recorded.
CREATE INDEX update_intents_by_created_at ON update_intents (created_at);
