-- 0022: old decisions that changed nothing are folded into daily counts.
--
-- Each cycle records one decision per channel, changed or not: 200 channels decided hourly
-- add about 1.3 GB a year, nearly all "left as is". Past the operator's detail period
-- (`store.keep_decisions_days`), a decision that no update intent refers to, that is no
-- rollback, that did not start a strategy's run on its channel and that was not made on a
-- day its channel joined or left an experiment is counted here and deleted, so reports count
-- what they counted before.
CREATE TABLE decision_tallies (
    channel_id INTEGER NOT NULL,
    strategy   TEXT    NOT NULL,
    -- Days since 1970-01-01 (UTC) of the decisions counted.
    day        INTEGER NOT NULL CHECK (day >= 0),
    decisions  INTEGER NOT NULL CHECK (decisions > 0),
    -- As reports count them: a policy to send, a value the guard changed.
    proposed   INTEGER NOT NULL CHECK (proposed BETWEEN 0 AND decisions),
    clamped    INTEGER NOT NULL CHECK (clamped BETWEEN 0 AND decisions),
    PRIMARY KEY (channel_id, strategy, day)
) STRICT, WITHOUT ROWID;

-- Decisions up to this id have been looked at: what is kept then stays kept, so each
-- decision is looked at once.
CREATE TABLE decision_fold_cursor (
    through_id INTEGER NOT NULL CHECK (through_id >= 0)
) STRICT;
INSERT INTO decision_fold_cursor (through_id) VALUES (0);

-- Whether an update intent refers to a decision, which decision of its channel came before
-- it in time, and whether its channel joined or left an experiment that day, asked of each
-- decision folded.
CREATE INDEX update_intents_by_decision ON update_intents (decision_id);
CREATE INDEX decisions_by_channel_time ON decisions (channel_id, at, id);
CREATE INDEX experiment_assignments_by_channel ON experiment_assignments (channel_id);
