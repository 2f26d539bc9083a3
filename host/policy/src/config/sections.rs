//! A section as lnpolicy uses it: its keys sorted into conditions (what channels it is for)
//! and settings (what it sets), with every value checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::errors::{ConfigError, ErrorKind, Location, MatchError, Note, NoteKind};
use super::ini::DEFAULT_SECTION;
use super::input::MatchInput;
use super::interpolate::Entry;
use super::matchers::{self, ActivityWindow, Condition, SECONDS_PER_BLOCK};
use super::properties::{self, DEFAULT_SPLIT, Origin, Settings};
use super::values;

/// The name of the fallback section. Unlike `[DEFAULT]`, whose keys every section inherits,
/// `[default]` applies when no final section matched.
pub const FALLBACK_SECTION: &str = "default";

/// The strategy that resolves a channel against another config file.
pub const USE_CONFIG: &str = "use_config";

/// The strategy that splits a section's channels between two strategies (`experiment.*` keys).
pub const EXPERIMENT: &str = "experiment";

/// charge-lnd strategy parameters it reads with Python's `bool()`, which is true for any
/// non-empty text: `false` there means true.
const CHARGE_LND_BOOL_PARAMS: &[&str] = &["sum_peer_chans"];

/// lnflow's rule keys, which an operator's lnflow config carries over: what each means there
/// and what does the job here. They stay strategy parameters (a strategy may take one).
const LNFLOW_RULE_KEYS: &[(&str, &str)] = &[
    (
        "priority",
        "lnflow sorts its rules by `priority`; lnpolicy, like charge-lnd, tries sections in \
         file order: move this section to where it should be tried",
    ),
    (
        "final",
        "lnflow's `final`: here, as in charge-lnd, a section that sets a strategy is final and \
         one without a strategy is not",
    ),
    (
        "enabled",
        "lnflow's switch for a rule: here, comment the section out to disable it",
    ),
    (
        "learning_enabled",
        "lnflow reads `learning_enabled` but nothing of it uses the value; here it is only a \
         strategy parameter",
    ),
];

/// Collects errors and notes for one file while its sections are built.
pub(crate) struct Ctx<'a> {
    pub file: &'a Arc<Path>,
    pub errors: &'a mut Vec<ConfigError>,
    pub notes: &'a mut Vec<Note>,
    /// The `file://` lists the file's matchers read, for a reload to follow.
    pub list_files: &'a mut BTreeSet<PathBuf>,
}

impl Ctx<'_> {
    pub fn error(&mut self, line: u32, key: Option<&str>, kind: ErrorKind) {
        let file = Arc::clone(self.file);
        self.error_in(&file, line, key, kind);
    }

    pub fn error_in(&mut self, file: &Path, line: u32, key: Option<&str>, kind: ErrorKind) {
        let error = ConfigError::new(file, line, key, kind);
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    pub fn note(&mut self, line: u32, key: Option<&str>, kind: NoteKind) {
        let note = Note::new(self.file, line, key, kind);
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// `path` as written in this file: relative paths are relative to this file's folder
    /// (charge-lnd uses its working directory, which breaks under cron and systemd).
    pub fn resolve_path(&mut self, path: &Path, line: u32, key: &str) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        let resolved = self.file.parent().unwrap_or(Path::new("")).join(path);
        self.note(
            line,
            Some(key),
            NoteKind::RelativePath {
                resolved: resolved.clone(),
            },
        );
        resolved
    }
}

/// One section of a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    pub file: Arc<Path>,
    /// The line of the `[name]` header.
    pub line: u32,
    /// All must hold (AND). Ignored for `[default]`.
    pub conditions: Vec<Condition>,
    pub activity: Option<ActivityWindow>,
    /// Namespaces charge-lnd does not know (`network.`): the section never matches.
    pub unknown_namespaces: Vec<String>,
    pub settings: Settings,
}

/// Why a section does not match a channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    UnknownNamespace(String),
    /// The channel is younger than `chan.activity_period`.
    YoungChannel {
        period_secs: u64,
        age_secs: u64,
    },
    /// This condition does not hold.
    Condition {
        key: String,
        line: u32,
    },
}

impl Section {
    /// A section with a strategy ends the search for a channel's policy.
    pub fn is_final(&self) -> bool {
        self.settings.strategy.is_some()
    }

    /// Whether it matches every channel (it has nothing that can fail).
    pub fn matches_everything(&self) -> bool {
        self.conditions.is_empty() && self.unknown_namespaces.is_empty() && self.activity.is_none()
    }

    pub fn matches(&self, input: &MatchInput) -> Result<bool, MatchError> {
        Ok(self.mismatch(input)?.is_none())
    }

    /// The first reason this section does not match `input`, or `None` when it matches.
    pub fn mismatch(&self, input: &MatchInput) -> Result<Option<Mismatch>, MatchError> {
        if let Some(namespace) = self.unknown_namespaces.first() {
            return Ok(Some(Mismatch::UnknownNamespace(namespace.clone())));
        }
        for condition in self.conditions.iter().filter(|c| !c.is_activity()) {
            if !condition.holds(input, &self.file)? {
                return Ok(Some(failed(condition)));
            }
        }
        if let Some(window) = &self.activity {
            let age_secs = u64::from(matchers::age_blocks(input)) * SECONDS_PER_BLOCK;
            if !window.ignore_channel_age && age_secs < window.period_secs {
                return Ok(Some(Mismatch::YoungChannel {
                    period_secs: window.period_secs,
                    age_secs,
                }));
            }
            for condition in self.conditions.iter().filter(|c| c.is_activity()) {
                if !condition.holds(input, &self.file)? {
                    return Ok(Some(failed(condition)));
                }
            }
        }
        Ok(None)
    }

    pub(crate) fn location(&self, key: Option<&str>) -> Location {
        let line = key
            .and_then(|k| self.settings.origins.get(k))
            .map_or(self.line, |o| o.line);
        Location {
            file: self.file.to_path_buf(),
            line,
            key: key.map(str::to_owned),
        }
    }
}

fn failed(condition: &Condition) -> Mismatch {
    Mismatch::Condition {
        key: condition.key.clone(),
        line: condition.line,
    }
}

/// Builds section `name` (header on `line`) from its interpolated keys.
pub(crate) fn build(name: &str, line: u32, entries: &[Entry], ctx: &mut Ctx<'_>) -> Section {
    let is_fallback = name == FALLBACK_SECTION;
    let params: Vec<(&str, &str, u32)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
        .collect();
    let (activity, conf_target) = matchers::section_params(&params, ctx);
    let mut section = Section {
        name: name.to_owned(),
        file: Arc::clone(ctx.file),
        line,
        conditions: Vec::new(),
        activity,
        unknown_namespaces: Vec::new(),
        settings: Settings::default(),
    };

    for entry in entries {
        let key = entry.key.as_str();
        let value = entry.value.as_str();
        let origin = Origin {
            file: Arc::clone(ctx.file),
            line: entry.line,
            section: if entry.inherited {
                DEFAULT_SECTION.to_owned()
            } else {
                name.to_owned()
            },
        };
        let result = match key.split_once('.') {
            // Read once for the whole file (`Config::max_updates_per_hour` and the like);
            // every section inherits them from [DEFAULT], where they belong.
            Some(_) if properties::is_node_wide(key) && entry.inherited => continue,
            Some(_) if properties::is_node_wide(key) => {
                Err(properties::misplaced_node_wide(key, "a section"))
            }
            Some(("guard", _)) => guard_key(key, value, &mut section.settings),
            Some(("experiment", _)) => experiment_key(key, value, &mut section.settings),
            Some((namespace, _)) => {
                if is_fallback && !entry.inherited {
                    ctx.note(entry.line, Some(key), NoteKind::DefaultConditionIgnored);
                }
                if matchers::is_condition_namespace(namespace) {
                    matchers::parse_condition(
                        key,
                        value,
                        entry.line,
                        activity.as_ref(),
                        conf_target,
                        ctx,
                    )
                    .map(|condition| section.conditions.extend(condition))
                } else {
                    if !is_fallback {
                        ctx.note(
                            entry.line,
                            Some(key),
                            NoteKind::UnknownNamespace {
                                namespace: namespace.to_owned(),
                            },
                        );
                    }
                    if !section.unknown_namespaces.iter().any(|n| n == namespace) {
                        section.unknown_namespaces.push(namespace.to_owned());
                    }
                    Ok(())
                }
            }
            None => plain_key(key, value, entry.line, &mut section.settings, ctx),
        };
        match result {
            Ok(()) => {
                if !key.contains('.') || key.starts_with("guard.") || key.starts_with("experiment.")
                {
                    section.settings.origins.insert(key.to_owned(), origin);
                }
            }
            Err(kind) => ctx.error(entry.line, Some(key), kind),
        }
    }

    for (line, min_key, max_key) in matchers::empty_ranges(&section.conditions) {
        ctx.note(
            line,
            Some(&min_key),
            NoteKind::EmptyRange {
                min_key: min_key.clone(),
                max_key,
            },
        );
    }
    for (min_key, min, max_key, max) in section.settings.guard.pairs() {
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            let line = section
                .settings
                .origins
                .get(min_key)
                .map_or(line, |o| o.line);
            ctx.error(
                line,
                Some(min_key),
                ErrorKind::InvertedGuardRange {
                    min_key,
                    min,
                    max_key,
                    max,
                },
            );
        }
    }
    section
}

fn guard_key(key: &str, value: &str, settings: &mut Settings) -> Result<(), ErrorKind> {
    if properties::parse_guard(key, value, &mut settings.guard)? {
        return Ok(());
    }
    Err(ErrorKind::UnknownKey {
        namespace: "guard".into(),
        suggestion: matchers::closest(key, properties::GUARD_KEYS.iter().copied()),
    })
}

fn experiment_key(key: &str, value: &str, settings: &mut Settings) -> Result<(), ErrorKind> {
    if properties::parse_experiment(key, value, settings)? {
        return Ok(());
    }
    Err(ErrorKind::UnknownKey {
        namespace: "experiment".into(),
        suggestion: matchers::closest(key, properties::EXPERIMENT_KEYS.iter().copied()),
    })
}

fn plain_key(
    key: &str,
    value: &str,
    line: u32,
    settings: &mut Settings,
    ctx: &mut Ctx<'_>,
) -> Result<(), ErrorKind> {
    match key {
        "strategy" => {
            let name = value.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ErrorKind::invalid("a strategy name (one word)", value));
            }
            settings.strategy = Some(name.to_owned());
        }
        "config_file" => {
            let path = value.trim();
            let path = path.strip_prefix("file://").unwrap_or(path);
            if path.is_empty() {
                return Err(ErrorKind::invalid("the path of a config file", value));
            }
            settings.config_file = Some(ctx.resolve_path(Path::new(path), line, key));
        }
        _ if properties::parse_rollback(key, value, &mut settings.rollback)? => {}
        _ => {
            if !properties::parse_property(key, value, &mut settings.properties)? {
                if CHARGE_LND_BOOL_PARAMS.contains(&key) && values::parse_bool(value) == Some(false)
                {
                    ctx.note(
                        line,
                        Some(key),
                        NoteKind::BooleanParsed {
                            key: key.to_owned(),
                            value: value.to_owned(),
                        },
                    );
                }
                if let Some((_, meaning)) = LNFLOW_RULE_KEYS.iter().find(|(k, _)| *k == key) {
                    ctx.note(line, Some(key), NoteKind::LnflowKey { meaning });
                }
                settings.params.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    Ok(())
}

/// Notes and errors that need the whole file: unreachable sections, `use_config` without any
/// `config_file`.
pub(crate) fn check_file(sections: &[Section], fallback: Option<&Section>, ctx: &mut Ctx<'_>) {
    if let Some(index) = sections
        .iter()
        .position(|s| s.is_final() && s.matches_everything())
    {
        let catch_all = &sections[index];
        for section in sections[index + 1..].iter().chain(fallback) {
            ctx.note(
                section.line,
                None,
                NoteKind::Unreachable {
                    name: section.name.clone(),
                    by: catch_all.name.clone(),
                    by_line: catch_all.line,
                },
            );
        }
    }
    let any_config_file = sections
        .iter()
        .chain(fallback)
        .any(|s| s.settings.config_file.is_some());
    for section in sections.iter().chain(fallback) {
        let keys = &section.settings.experiment;
        if section.settings.strategy.as_deref() == Some(EXPERIMENT) {
            let missing: Vec<&str> = [
                ("experiment.name", keys.name.is_none()),
                ("experiment.a", keys.a.is_none()),
                ("experiment.b", keys.b.is_none()),
            ]
            .into_iter()
            .filter_map(|(key, absent)| absent.then_some(key))
            .collect();
            if !missing.is_empty() {
                let location = section.location(Some("strategy"));
                ctx.error(
                    location.line,
                    Some("strategy"),
                    ErrorKind::MissingExperimentKey {
                        missing: missing.join(", "),
                    },
                );
            }
        }
        if section.settings.strategy.as_deref() == Some(USE_CONFIG)
            && section.settings.config_file.is_none()
            && !any_config_file
        {
            let location = section.location(Some("strategy"));
            ctx.error(
                location.line,
                Some("strategy"),
                ErrorKind::MissingConfigFile,
            );
        }
    }
}

/// Refuses an `experiment.name` that `sections` (those of a config and of every file it
/// includes, in reading order) run with two different pairs of arm strategies (a channel
/// moving between such sections would keep its arm under another strategy) or with two
/// different splits (arm membership would follow the sections' matchers).
pub(crate) fn check_experiment_names<'a>(
    sections: impl IntoIterator<Item = &'a Section>,
    errors: &mut Vec<ConfigError>,
) {
    let mut experiments: BTreeMap<&str, &Section> = BTreeMap::new();
    for section in sections {
        let keys = &section.settings.experiment;
        if section.settings.strategy.as_deref() != Some(EXPERIMENT) {
            continue;
        }
        let Some(name) = keys.name.as_deref() else {
            continue;
        };
        let first = *experiments.entry(name).or_insert(section);
        let arms = |s: &Section| {
            (
                s.settings.experiment.a.clone(),
                s.settings.experiment.b.clone(),
            )
        };
        let split = |s: &Section| s.settings.experiment.split.unwrap_or(DEFAULT_SPLIT);
        let first_named = || {
            let at = first.location(Some("experiment.name"));
            format!("[{}] ({}:{})", first.name, at.file.display(), at.line)
        };
        let (key, kind) = if arms(first) != arms(section) {
            (
                "experiment.name",
                ErrorKind::ExperimentArmsDiffer {
                    name: name.to_owned(),
                    first: first_named(),
                },
            )
        } else if split(first) != split(section) {
            (
                "experiment.split",
                ErrorKind::ExperimentSplitDiffers {
                    name: name.to_owned(),
                    first: first_named(),
                    split: split(section),
                    first_split: split(first),
                },
            )
        } else {
            continue;
        };
        let at = section.location(Some(key));
        let error = ConfigError::new(&at.file, at.line, Some(key), kind);
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
}
