//! A/B experiment assignments: which arm each channel is in, written once and
//! never overwritten.

use std::collections::BTreeMap;

use lnpolicy_core::ChannelId;
use rusqlite::params;

use crate::{Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_to_sql};

/// One of an experiment's two strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arm {
    A,
    B,
}

impl Arm {
    /// The arm's spelling in the store and in operator-facing output.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::A => "a",
            Arm::B => "b",
        }
    }
}

impl Store {
    /// Every channel assigned so far in `experiment`, with its arm.
    pub fn experiment_arms(
        &self,
        experiment: &str,
    ) -> Result<BTreeMap<ChannelId, Arm>, StoreError> {
        let rows: Vec<(i64, String)> = self
            .lock()
            .prepare("SELECT channel_id, arm FROM experiment_assignments WHERE experiment = ?1")
            .and_then(|mut stmt| {
                stmt.query_map([experiment], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(self.sql("reading experiment assignments"))?;
        rows.into_iter()
            .map(|(channel, arm)| {
                let arm = match arm.as_str() {
                    "a" => Arm::A,
                    "b" => Arm::B,
                    _ => {
                        return Err(self.invalid(format!(
                            "experiment {experiment:?} has unknown arm {arm:?}"
                        )));
                    }
                };
                Ok((channel_id_from_sql(channel), arm))
            })
            .collect()
    }

    /// Records the arms of channels new to `experiment`, in one transaction.
    /// A channel already assigned keeps its arm: its entry here is ignored,
    /// which is what stops a channel switching arm mid-experiment. Returns how
    /// many assignments were new.
    pub fn record_assignments(
        &self,
        experiment: &str,
        split: f64,
        assignments: &[(ChannelId, Arm)],
        at: u64,
    ) -> Result<usize, StoreError> {
        self.write("recording experiment assignments", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO experiment_assignments
                     (experiment, channel_id, arm, assigned_at, split) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(self.sql("recording experiment assignments"))?;
            let mut added = 0;
            for &(channel, arm) in assignments {
                added += insert
                    .execute(params![
                        experiment,
                        channel_id_to_sql(channel),
                        arm.as_str(),
                        time_to_sql(at),
                        split
                    ])
                    .map_err(self.sql("recording experiment assignments"))?;
            }
            Ok(added)
        })
    }

    /// Records what each arm runs this cycle (`(experiment, arm, definition)`, a definition
    /// being a strategy with its parameters), keeping the time a definition was first run.
    pub fn record_arm_definitions(
        &self,
        definitions: &[(String, Arm, String)],
        at: u64,
    ) -> Result<(), StoreError> {
        if definitions.is_empty() {
            return Ok(());
        }
        self.write("recording what experiment arms run", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO experiment_arm_definitions
                     (experiment, arm, definition, first_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(self.sql("recording what experiment arms run"))?;
            for (experiment, arm, definition) in definitions {
                insert
                    .execute(params![
                        experiment,
                        arm.as_str(),
                        definition,
                        time_to_sql(at)
                    ])
                    .map_err(self.sql("recording what experiment arms run"))?;
            }
            Ok(())
        })
    }

    /// What `experiment`'s arms have run: `(arm, definition, first run)`, by arm and time.
    pub fn arm_definitions(&self, experiment: &str) -> Result<Vec<(Arm, String, u64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = self
            .lock()
            .prepare_cached(
                "SELECT arm, definition, first_at FROM experiment_arm_definitions
                 WHERE experiment = ?1 ORDER BY arm, first_at, definition",
            )
            .and_then(|mut stmt| {
                stmt.query_map([experiment], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
            })
            .map_err(self.sql("reading what experiment arms ran"))?;
        Ok(rows
            .into_iter()
            .map(|(arm, definition, at)| {
                let arm = if arm == "a" { Arm::A } else { Arm::B };
                (arm, definition, crate::time_from_sql(at))
            })
            .collect())
    }

    /// Ends the time in an experiment of each channel of `placed` that the cycle at `at`
    /// placed outside it: each entry is a channel with the experiment its section runs now
    /// (`None` for a section that is no experiment, or no section at all). Only channels whose
    /// place is known belong in `placed`. A channel keeps its arm; its first departure is final.
    /// Returns how many channels left.
    pub fn record_experiment_departures(
        &self,
        placed: &[(ChannelId, Option<&str>)],
        at: u64,
    ) -> Result<usize, StoreError> {
        let open: Vec<(String, i64)> = self
            .lock()
            .prepare_cached(
                "SELECT experiment, channel_id FROM experiment_assignments WHERE left_at IS NULL",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(self.sql("reading who is in an experiment"))?;
        let now_in: BTreeMap<i64, Option<&str>> = placed
            .iter()
            .map(|&(channel, experiment)| (channel_id_to_sql(channel), experiment))
            .collect();
        let left: Vec<(String, i64)> = open
            .into_iter()
            .filter(|(experiment, channel)| {
                now_in
                    .get(channel)
                    .is_some_and(|now| *now != Some(experiment.as_str()))
            })
            .collect();
        if left.is_empty() {
            return Ok(0);
        }
        self.write("recording experiment departures", |tx| {
            let mut update = tx
                .prepare_cached(
                    "UPDATE experiment_assignments SET left_at = ?3
                     WHERE experiment = ?1 AND channel_id = ?2 AND left_at IS NULL",
                )
                .map_err(self.sql("recording experiment departures"))?;
            let mut ended = 0;
            for (experiment, channel) in &left {
                ended += update
                    .execute(params![experiment, channel, time_to_sql(at)])
                    .map_err(self.sql("recording experiment departures"))?;
            }
            Ok(ended)
        })
    }
}
