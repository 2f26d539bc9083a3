-- 0016: what each experiment arm ran.
--
-- An arm is a strategy with its parameters. Changing either under the same experiment name
-- keeps every channel's arm, so the arm's revenue then mixes two policies; the report names
-- each definition with the first cycle that ran it.
CREATE TABLE experiment_arm_definitions (
    experiment TEXT    NOT NULL,
    arm        TEXT    NOT NULL CHECK (arm IN ('a', 'b')),
    definition TEXT    NOT NULL,
    first_at   INTEGER NOT NULL,
    PRIMARY KEY (experiment, arm, definition)
) STRICT;
