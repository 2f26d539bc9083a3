//! charge-lnd compatible configuration: an operator's existing charge-lnd config must load
//! unchanged and select the same policy for every channel. The format and every key are
//! described for operators in `docs/config.md`.
//!
//! The pipeline, one module each:
//! - `ini`: the text, read as Python's configparser reads it;
//! - `interpolate`: `[DEFAULT]` merged into each section, `${section:key}` references expanded;
//! - `sections`, `matchers`, `properties`: each key checked and sorted into conditions
//!   ([`Condition`]) and settings ([`Settings`]);
//! - `select`: the policy for one channel, from a [`MatchInput`].
//!
//! Loading reports every error it can find, each with file, line and key, so that
//! `lnpolicy --check` lists all mistakes at once; [`check`] is that entry point.

mod errors;
mod ini;
mod input;
mod interpolate;
mod matchers;
mod properties;
mod sections;
mod select;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::guard::{GuardConfig, GuardConfigError};
use crate::overlay::{FEE_KEEPING_STRATEGIES, LEVEL_FREE_STRATEGIES, PROPERTY_FREE_STRATEGIES};
use lnpolicy_core::NodeKind;

pub use errors::{ConfigError, ConfigErrors, ErrorKind, Location, MatchError, Note, NoteKind};
pub use input::{
    ActivityCounts, ChainFacts, ChannelFacts, MatchInput, PeerFacts, PendingHtlc, SharedChannel,
};
pub use matchers::{
    ACTIVITY_LEVEL_PERIOD_SECS, ActivityLevel, ActivityMeasure, ActivityWindow, Condition,
    DEFAULT_CONF_TARGET, Fact, Flag, SECONDS_PER_BLOCK, Test,
};
use properties::NodeWide;
pub use properties::{
    DEFAULT_SPLIT, EXPERIMENT_KEYS, ExperimentKeys, GUARD_KEYS, GuardOverrides,
    MAX_UPDATES_PER_HOUR, Origin, PROPERTY_KEYS, Properties, ROLLBACK_KEYS, RollbackKeys, Settings,
};
pub use sections::{EXPERIMENT, FALLBACK_SECTION, Mismatch, Section, USE_CONFIG};
pub use select::{ResolvedParams, SectionRef, Selection};
/// charge-lnd's period syntax, also used for the daemon's intervals.
pub use values::parse_duration;

use sections::Ctx;

/// A loaded config file, with every file it includes through `use_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    path: Arc<Path>,
    sections: Vec<Section>,
    fallback: Option<Section>,
    /// By resolved `config_file` path.
    includes: BTreeMap<PathBuf, Arc<Config>>,
    /// The `file://` lists this file's matchers read (not those of its includes).
    list_files: BTreeSet<PathBuf>,
    notes: Vec<Note>,
    /// From `[DEFAULT]`; always unset in an included file.
    node_wide: NodeWide,
}

/// What `lnpolicy --check` reports: every error found (not just the first, so one run shows
/// everything to fix) and the notes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    pub errors: Vec<ConfigError>,
    pub notes: Vec<Note>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Loads `path` and everything it refers to and reports all errors and notes.
pub fn check(path: impl AsRef<Path>) -> CheckReport {
    let mut loader = Loader::default();
    loader.load_path(path.as_ref());
    CheckReport {
        errors: loader.errors,
        notes: loader.notes,
    }
}

impl Config {
    /// Reads and checks `path`, its `file://` lists and its `use_config` files.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let mut loader = Loader::default();
        let config = loader.load_path(path.as_ref());
        loader.finish(config)
    }

    /// Like [`Config::load`] with the text given; `path` names the file in messages and is
    /// what relative `file://` lists and `config_file` paths are resolved against.
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let mut loader = Loader::default();
        loader.stack.push(canonical(path));
        let config = loader.load_text(path, text);
        loader.finish(Some(config))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sections other than `[default]`, in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// `[default]`, if the file has one.
    pub fn fallback(&self) -> Option<&Section> {
        self.fallback.as_ref()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .chain(&self.fallback)
            .find(|s| s.name == name)
    }

    /// The files `use_config` sections of this file refer to, loaded.
    pub fn includes(&self) -> impl Iterator<Item = (&Path, &Config)> {
        self.includes.iter().map(|(p, c)| (p.as_path(), c.as_ref()))
    }

    /// The `file://` lists (`chan.id`, `node.id`) this file's matchers read when it was
    /// loaded; a reload reads them again.
    pub fn list_files(&self) -> impl Iterator<Item = &Path> {
        self.list_files.iter().map(PathBuf::as_path)
    }

    /// Every section of this file, then of each file it includes, recursively.
    fn all_sections(&self) -> Vec<&Section> {
        let mut all: Vec<&Section> = self.sections.iter().chain(&self.fallback).collect();
        for included in self.includes.values() {
            all.extend(included.all_sections());
        }
        all
    }

    /// The node-wide cap on policy updates sent per hour, if the operator set one.
    pub fn max_updates_per_hour(&self) -> Option<NonZeroU32> {
        self.node_wide.max_updates_per_hour
    }

    /// `base` with what `[DEFAULT]` says of the node as a whole: whether it accepts positive
    /// inbound fees. Allowed there, they are capped like outbound fees (`base`'s ceilings)
    /// where `base` left no room above 0, unless a section's `guard.max_inbound_*` says less.
    pub fn node_guard(&self, base: &GuardConfig) -> GuardConfig {
        let mut guard = base.clone();
        if let Some(allow) = self.node_wide.allow_positive_inbound {
            guard.allow_positive_inbound = allow;
            if allow && guard.max_inbound_fee_ppm == 0 {
                guard.max_inbound_fee_ppm = i32::try_from(guard.max_fee_ppm).unwrap_or(i32::MAX);
            }
            if allow && guard.max_inbound_base_fee_msat == 0 {
                guard.max_inbound_base_fee_msat =
                    i32::try_from(guard.max_base_fee_msat).unwrap_or(i32::MAX);
            }
        }
        guard
    }

    /// What the operator says opening a channel costs where the node does not know.
    pub fn estimated_open_cost_sat(&self) -> Option<u64> {
        self.node_wide.estimated_open_cost_sat
    }

    /// How many days decisions are kept whole, if the operator said.
    pub fn keep_decisions_days(&self) -> Option<u32> {
        self.node_wide.keep_decisions_days
    }

    /// The notes of this file and the files it includes.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The periods, in seconds, [`MatchInput::activity`] must have counts for.
    pub fn activity_periods(&self) -> BTreeSet<u64> {
        self.collect(&|c: &Condition| c.activity_period())
    }

    /// The confirmation targets [`ChainFacts::fee_rate_sat_vb`] must have estimates for.
    pub fn conf_targets(&self) -> BTreeSet<u32> {
        self.collect(&|c: &Condition| c.conf_target())
    }

    /// Whether any condition needs [`MatchInput::peer`] (one node call per peer).
    pub fn needs_peer_graph(&self) -> bool {
        !self
            .collect(&|c: &Condition| c.needs_peer_graph().then_some(()))
            .is_empty()
    }

    /// Whether any condition reads `onchain.synced_to_chain`.
    pub fn reads_chain_sync(&self) -> bool {
        !self
            .collect(&|c: &Condition| c.reads_chain_sync().then_some(()))
            .is_empty()
    }

    fn collect<T: Ord>(&self, pick: &dyn Fn(&Condition) -> Option<T>) -> BTreeSet<T> {
        let own = self
            .sections
            .iter()
            .flat_map(|s| &s.conditions)
            .filter_map(pick);
        let included = self.includes.values().flat_map(|c| c.collect(pick));
        own.chain(included).collect()
    }

    /// Checks each section's `guard.*` keys against the daemon-wide limits `base`: a section
    /// may combine with them into a range that allows nothing. Combinations of several
    /// sections' keys are only known per channel; validate the merged result there too.
    ///
    /// The notes name fees a section asks for above every guard ceiling that can apply to
    /// its channels: the guard would send the ceiling instead, which charge-lnd never does.
    pub fn validate_guard(&self, base: &GuardConfig) -> (Vec<ConfigError>, Vec<Note>) {
        let base = &self.node_guard(base);
        let mut errors = Vec::new();
        let mut notes: Vec<Note> = Vec::new();
        let sections: Vec<&Section> = self.sections.iter().chain(&self.fallback).collect();
        for (position, section) in sections.iter().enumerate() {
            let ceilings = ceilings(&sections, position, self.sections.len(), base);
            let limits = section.settings.guard.apply(base);
            for note in fees_above_ceiling(section, &ceilings)
                .into_iter()
                .chain(properties_the_guard_changes(section, &limits))
            {
                // A key from [DEFAULT] is in every section, written once.
                if !notes
                    .iter()
                    .any(|n| (&n.file, n.line, &n.key) == (&note.file, note.line, &note.key))
                {
                    notes.push(note);
                }
            }
            let overrides = &section.settings.guard;
            if overrides.is_empty() {
                continue;
            }
            if let Err(error) = overrides.apply(base).validate() {
                let (GuardConfigError::InvertedRange {
                    min_key, max_key, ..
                }
                | GuardConfigError::InboundRangeExcludesZero {
                    min_key, max_key, ..
                }) = &error;
                let key = [min_key, max_key]
                    .into_iter()
                    .map(|k| format!("guard.{k}"))
                    .find(|k| section.settings.origins.contains_key(k));
                let at = section.location(key.as_deref());
                errors.push(ConfigError::new(
                    &at.file,
                    at.line,
                    at.key.as_deref(),
                    ErrorKind::Guard {
                        detail: error.to_string(),
                    },
                ));
            }
        }
        for included in self.includes.values() {
            let (more_errors, more_notes) = included.validate_guard(base);
            errors.extend(more_errors);
            notes.extend(more_notes);
        }
        (errors, notes)
    }
}

/// The highest fee ceilings the guard can apply to a fee written in `sections[position]`.
struct Ceilings {
    max_fee_ppm: u32,
    max_base_fee_msat: u32,
}

/// A final section's own guard key wins, being merged last; without one, a non-final section
/// above it may set the key for some of its channels, and the rest keep `base`. The fees of a
/// non-final section reach the sections after it, so any key of the file may apply to them.
/// `[default]`, final, comes after the `regular` sections when the file has one.
fn ceilings(
    sections: &[&Section],
    position: usize,
    regular: usize,
    base: &GuardConfig,
) -> Ceilings {
    let section = sections[position];
    let is_final = section.settings.strategy.is_some() || position >= regular;
    let highest = |limit: fn(&GuardOverrides) -> Option<u32>, base: u32| {
        if is_final && let Some(own) = limit(&section.settings.guard) {
            return own;
        }
        sections
            .iter()
            .enumerate()
            .filter(|(i, s)| !is_final || (*i < position && s.settings.strategy.is_none()))
            .filter_map(|(_, s)| limit(&s.settings.guard))
            .fold(base, u32::max)
    };
    Ceilings {
        max_fee_ppm: highest(|g| g.max_fee_ppm, base.max_fee_ppm),
        max_base_fee_msat: highest(|g| g.max_base_fee_msat, base.max_base_fee_msat),
    }
}

/// Notes for a section's outbound fees above the highest ceiling the guard could apply:
/// parameters named `fee_ppm`, `min_fee_ppm` or `max_fee_ppm` (an arm's too) and the
/// `base_fee_msat` property.
fn fees_above_ceiling(section: &Section, ceilings: &Ceilings) -> Vec<Note> {
    let Ceilings {
        max_fee_ppm,
        max_base_fee_msat,
    } = *ceilings;
    let ppm_params = section.settings.params.iter().filter_map(|(key, value)| {
        let name = key.rsplit('.').next().unwrap_or(key);
        let fee = matches!(name, "fee_ppm" | "min_fee_ppm" | "max_fee_ppm")
            .then(|| values::parse_int(value).and_then(|v| u64::try_from(v).ok()))
            .flatten()?;
        (fee > u64::from(max_fee_ppm)).then_some((key.as_str(), fee, "max_fee_ppm", max_fee_ppm))
    });
    let base = section
        .settings
        .properties
        .base_fee_msat
        .filter(|&fee| fee > max_base_fee_msat)
        .map(|fee| {
            (
                "base_fee_msat",
                u64::from(fee),
                "max_base_fee_msat",
                max_base_fee_msat,
            )
        });
    ppm_params
        .chain(base)
        .map(|(key, value, limit_key, limit)| {
            let at = section.location(Some(key));
            Note::new(
                &at.file,
                at.line,
                Some(key),
                NoteKind::AboveGuardCeiling {
                    value,
                    limit_key,
                    limit,
                },
            )
        })
        .collect()
}

/// Notes for a section's properties that the guard will send otherwise under `limits` (the
/// daemon's with the section's own `guard.*` keys): a time lock delta outside its range, an
/// inbound fee below its floor or, unless allowed, above 0. charge-lnd sends them as written.
fn properties_the_guard_changes(section: &Section, limits: &GuardConfig) -> Vec<Note> {
    // `ignore`, `disable` and `ignore_fees` send none of them (the latter its time lock delta,
    // checked like any other).
    let strategy = section.settings.strategy.as_deref().unwrap_or_default();
    if PROPERTY_FREE_STRATEGIES.contains(&strategy) {
        return Vec::new();
    }
    let fees_sent = !FEE_KEEPING_STRATEGIES.contains(&strategy);
    let properties = &section.settings.properties;
    let mut found: Vec<(&'static str, NoteKind)> = Vec::new();
    let own_key = |key: &str| {
        section
            .settings
            .origins
            .get(key)
            .is_some_and(|o| o.section == section.name && o.file == section.file)
    };
    if LEVEL_FREE_STRATEGIES.contains(&strategy) && own_key("inbound_level_ppm") {
        found.push(("inbound_level_ppm", NoteKind::InboundLevelIgnored));
    }
    if let Some(delta) = properties.time_lock_delta.map(u32::from) {
        if delta < limits.min_time_lock_delta {
            found.push((
                "time_lock_delta",
                NoteKind::BelowGuardFloor {
                    value: delta.into(),
                    limit_key: "min_time_lock_delta",
                    limit: limits.min_time_lock_delta.into(),
                },
            ));
        } else if delta > limits.max_time_lock_delta {
            found.push((
                "time_lock_delta",
                NoteKind::AboveGuardCeiling {
                    value: delta.into(),
                    limit_key: "max_time_lock_delta",
                    limit: limits.max_time_lock_delta,
                },
            ));
        }
    }
    let inbound = [
        (
            "inbound_fee_ppm",
            properties.inbound_fee_ppm,
            ("min_inbound_fee_ppm", limits.min_inbound_fee_ppm),
            ("max_inbound_fee_ppm", limits.max_inbound_fee_ppm),
        ),
        (
            "inbound_base_fee_msat",
            properties.inbound_base_fee_msat,
            (
                "min_inbound_base_fee_msat",
                limits.min_inbound_base_fee_msat,
            ),
            (
                "max_inbound_base_fee_msat",
                limits.max_inbound_base_fee_msat,
            ),
        ),
    ];
    // Core Lightning has no inbound fees: the guard drops them there whatever their value.
    let inbound = inbound
        .into_iter()
        .filter(|_| fees_sent && limits.node == NodeKind::Lnd);
    for (key, value, (min_key, min), (max_key, max)) in inbound {
        let Some(value) = value else { continue };
        if value > 0 && !limits.allow_positive_inbound {
            found.push((
                key,
                NoteKind::PositiveInboundRefused {
                    value: value.into(),
                },
            ));
        } else if value < min {
            found.push((
                key,
                NoteKind::BelowGuardFloor {
                    value: value.into(),
                    limit_key: min_key,
                    limit: min.into(),
                },
            ));
        } else if value > max {
            found.push((
                key,
                NoteKind::AboveGuardCeiling {
                    value: value.unsigned_abs().into(),
                    limit_key: max_key,
                    limit: max.unsigned_abs(),
                },
            ));
        }
    }
    found
        .into_iter()
        .map(|(key, kind)| {
            let at = section.location(Some(key));
            Note::new(&at.file, at.line, Some(key), kind)
        })
        .collect()
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[derive(Default)]
struct Loader {
    errors: Vec<ConfigError>,
    notes: Vec<Note>,
    /// Canonical paths of the files being loaded, outermost first, to refuse include loops.
    stack: Vec<PathBuf>,
}

impl Loader {
    fn finish(self, config: Option<Config>) -> Result<Config, ConfigErrors> {
        match config {
            Some(config) if self.errors.is_empty() => Ok(config),
            _ => Err(ConfigErrors(self.errors)),
        }
    }

    fn load_path(&mut self, path: &Path) -> Option<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.stack.push(canonical(path));
                let config = self.load_text(path, &text);
                self.stack.pop();
                Some(config)
            }
            Err(error) => {
                self.errors.push(ConfigError {
                    file: path.to_path_buf(),
                    line: None,
                    key: None,
                    kind: ErrorKind::Read {
                        path: path.to_path_buf(),
                        detail: error.to_string(),
                    },
                });
                None
            }
        }
    }

    fn load_text(&mut self, path: &Path, text: &str) -> Config {
        let first_note = self.notes.len();
        let file: Arc<Path> = Arc::from(path);
        let raw = ini::read(path, text, &mut self.errors);
        let mut sections = Vec::new();
        let mut fallback = None;
        let mut list_files = BTreeSet::new();
        let mut ctx = Ctx {
            file: &file,
            errors: &mut self.errors,
            notes: &mut self.notes,
            list_files: &mut list_files,
        };
        // Before the sections, so that a bad value is reported in [DEFAULT]'s own terms.
        let mut node_wide = NodeWide::default();
        let mut keys: Vec<String> = Vec::new();
        for entry in &raw.defaults {
            if properties::is_node_wide(&entry.key) && !keys.contains(&entry.key) {
                keys.push(entry.key.clone());
            }
        }
        for key in keys {
            let Some(entry) = interpolate::default_entry(&raw, &key, path, ctx.errors) else {
                continue;
            };
            let parsed = if self.stack.len() > 1 {
                Err(properties::misplaced_node_wide(
                    &key,
                    "a file included by use_config",
                ))
            } else {
                properties::parse_node_wide(&key, &entry.value, &mut node_wide)
            };
            if let Err(kind) = parsed {
                ctx.error(entry.line, Some(&key), kind);
            }
        }
        for (index, raw_section) in raw.sections.iter().enumerate() {
            let entries = interpolate::section_entries(&raw, index, path, ctx.errors);
            let section = sections::build(&raw_section.name, raw_section.line, &entries, &mut ctx);
            if section.name == FALLBACK_SECTION {
                fallback = Some(section);
            } else {
                sections.push(section);
            }
        }
        sections::check_file(&sections, fallback.as_ref(), &mut ctx);
        let includes = self.load_includes(&sections, fallback.as_ref());
        let config = Config {
            path: file,
            sections,
            fallback,
            includes,
            list_files,
            notes: self.notes[first_note..].to_vec(),
            node_wide,
        };
        if self.stack.len() == 1 {
            sections::check_experiment_names(config.all_sections(), &mut self.errors);
        }
        config
    }

    fn load_includes(
        &mut self,
        sections: &[Section],
        fallback: Option<&Section>,
    ) -> BTreeMap<PathBuf, Arc<Config>> {
        let mut includes = BTreeMap::new();
        for section in sections.iter().chain(fallback) {
            let Some(path) = &section.settings.config_file else {
                continue;
            };
            if includes.contains_key(path) {
                continue;
            }
            let at = section.location(Some("config_file"));
            let mut error = |kind| {
                let error = ConfigError::new(&at.file, at.line, Some("config_file"), kind);
                if !self.errors.contains(&error) {
                    self.errors.push(error);
                }
            };
            let canonical_path = canonical(path);
            if self.stack.contains(&canonical_path) {
                let chain = self
                    .stack
                    .iter()
                    .chain([&canonical_path])
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ");
                error(ErrorKind::IncludeCycle { chain });
                continue;
            }
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    error(ErrorKind::Read {
                        path: path.clone(),
                        detail: e.to_string(),
                    });
                    continue;
                }
            };
            self.stack.push(canonical_path);
            let config = self.load_text(path, &text);
            self.stack.pop();
            includes.insert(path.clone(), Arc::new(config));
        }
        includes
    }
}
