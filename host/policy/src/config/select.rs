//! Which policy applies to a channel, exactly as charge-lnd picks it:
//! - sections other than `[default]` are tried top to bottom;
//! - a matching section without `strategy` merges its keys in and the search goes on;
//! - the first matching section with `strategy` merges its keys in and ends the search;
//! - when none did, `[default]`'s keys are merged on top, its conditions ignored;
//! - `use_config` hands the channel to another file, whose selection then applies as a whole
//!   (only `min_fee_ppm_delta` carries over from this file when the other file leaves it out,
//!   and `min_inbound_fee_ppm_delta` is always this file's).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use lnpolicy_core::{Param, ParamSpec};

use crate::params::{self, ParamError};

use super::Config;
use super::errors::{ConfigError, ErrorKind, MatchError, Note, NoteKind};
use super::input::MatchInput;
use super::properties::Settings;
use super::sections::{EXPERIMENT, Section, USE_CONFIG};
use crate::experiment::Arm;

/// A section a selection went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRef {
    pub name: String,
    pub file: Arc<Path>,
    pub line: u32,
}

impl From<&Section> for SectionRef {
    fn from(section: &Section) -> Self {
        SectionRef {
            name: section.name.clone(),
            file: Arc::clone(&section.file),
            line: section.line,
        }
    }
}

/// The policy for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The final section: the one whose strategy applies (`default` when no other final
    /// section matched).
    pub section: SectionRef,
    /// Every section whose keys were merged, in order; the last one is `section`.
    pub merged: Vec<SectionRef>,
    /// The `use_config` sections that handed the channel on to another file, outermost first.
    pub via: Vec<SectionRef>,
    /// The merged keys; `strategy` is always set and never `use_config`.
    pub settings: Settings,
}

/// A strategy's parameters for one channel, checked against its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedParams {
    pub params: Vec<Param>,
    /// Inherited keys the strategy does not take, left out.
    pub notes: Vec<Note>,
}

/// charge-lnd's strategies that skip updates of less than 10 ppm unless told otherwise.
const DELTA_TEN_STRATEGIES: &[&str] = &["proportional", "onchain_fee"];

impl Selection {
    pub fn strategy(&self) -> &str {
        self.settings.strategy.as_deref().unwrap_or_default()
    }

    /// `min_fee_ppm_delta` with charge-lnd's default: 10 for `proportional` and
    /// `onchain_fee`, 0 otherwise. In an experiment the default follows the strategy of the
    /// channel's `arm`, so each arm sends its updates as it would run on its own.
    pub fn min_fee_ppm_delta(&self, arm: Option<Arm>) -> u32 {
        let strategy = arm
            .and_then(|arm| self.arm_strategy(arm))
            .unwrap_or(self.strategy());
        self.settings.properties.min_fee_ppm_delta.unwrap_or(
            if DELTA_TEN_STRATEGIES.contains(&strategy) {
                10
            } else {
                0
            },
        )
    }

    /// `min_inbound_fee_ppm_delta`, defaulting to [`Selection::min_fee_ppm_delta`].
    pub fn min_inbound_fee_ppm_delta(&self, arm: Option<Arm>) -> u32 {
        self.settings
            .properties
            .min_inbound_fee_ppm_delta
            .unwrap_or_else(|| self.min_fee_ppm_delta(arm))
    }

    /// The strategy's parameters checked against its declared schema, defaults filled in.
    ///
    /// Keys written in the final section itself must all be parameters of the strategy; keys
    /// inherited (from `[DEFAULT]`, earlier non-final sections, or the sections `[default]`
    /// was merged over) that it does not take are left out with a note, as charge-lnd ignores
    /// them: `[DEFAULT] fee_ppm = 100` must not break a `proportional` section.
    pub fn resolve_params(&self, specs: &[ParamSpec]) -> Result<ResolvedParams, ConfigError> {
        self.resolve(self.strategy(), None, specs)
    }

    /// The parameters of one arm of a `strategy = experiment` section: the section's plain
    /// keys with the arm's `experiment.a.NAME` / `experiment.b.NAME` keys over them, checked
    /// against the arm strategy's schema like [`Selection::resolve_params`].
    pub fn resolve_arm_params(
        &self,
        arm: Arm,
        specs: &[ParamSpec],
    ) -> Result<ResolvedParams, ConfigError> {
        let keys = &self.settings.experiment;
        let strategy = match arm {
            Arm::A => keys.a.as_deref(),
            Arm::B => keys.b.as_deref(),
        };
        self.resolve(strategy.unwrap_or_default(), Some(arm), specs)
    }

    /// The strategy an experiment arm runs (`None` outside experiments).
    pub fn arm_strategy(&self, arm: Arm) -> Option<&str> {
        let keys = &self.settings.experiment;
        if self.strategy() != EXPERIMENT {
            return None;
        }
        match arm {
            Arm::A => keys.a.as_deref(),
            Arm::B => keys.b.as_deref(),
        }
    }

    fn resolve(
        &self,
        strategy: &str,
        arm: Option<Arm>,
        specs: &[ParamSpec],
    ) -> Result<ResolvedParams, ConfigError> {
        let arm_prefix = arm.map(|arm| format!("experiment.{}.", arm.as_str()));
        let mut given: Vec<(String, String)> = Vec::new();
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        let mut notes = Vec::new();
        for (key, text) in &self.settings.params {
            let name = match (&arm_prefix, key.strip_prefix("experiment.")) {
                (_, None) => key.as_str(),
                (Some(prefix), Some(_)) => match key.strip_prefix(prefix.as_str()) {
                    Some(name) => name,
                    None => continue,
                },
                (None, Some(_)) => continue,
            };
            // An arm's own key wins over the section's plain key of the same name.
            if key.starts_with("experiment.") {
                given.retain(|(n, _)| n != name);
            } else if given.iter().any(|(n, _)| n == name) {
                continue;
            }
            keys.insert(name.to_owned(), key.clone());
            let origin = self.settings.origins.get(key);
            let own = origin
                .is_none_or(|o| o.section == self.section.name && o.file == self.section.file);
            if !own && !specs.iter().any(|spec| spec.name == name) {
                let (file, line) = origin.map_or((&self.section.file, self.section.line), |o| {
                    (&o.file, o.line)
                });
                notes.push(Note::new(
                    file,
                    line,
                    Some(key),
                    NoteKind::InheritedParamIgnored {
                        strategy: strategy.to_owned(),
                    },
                ));
                continue;
            }
            given.push((name.to_owned(), text.clone()));
        }
        let params = params::resolve(specs, &given)
            .map_err(|source| self.locate(strategy, &keys, source))?;
        Ok(ResolvedParams { params, notes })
    }

    fn locate(
        &self,
        strategy: &str,
        keys: &BTreeMap<String, String>,
        source: ParamError,
    ) -> ConfigError {
        let name = match &source {
            ParamError::Unknown { name, .. }
            | ParamError::Type { name, .. }
            | ParamError::Range { name, .. }
            | ParamError::Missing { name }
            | ParamError::Duplicate { name } => name.clone(),
        };
        let key = keys.get(&name).unwrap_or(&name);
        let (file, line) = match (&source, self.settings.origins.get(key)) {
            (ParamError::Missing { .. }, _) | (_, None) => (&self.section.file, self.section.line),
            (_, Some(origin)) => (&origin.file, origin.line),
        };
        ConfigError::new(
            file,
            line,
            Some(key),
            ErrorKind::StrategyParam {
                strategy: strategy.to_owned(),
                source: Box::new(source),
            },
        )
    }
}

impl Config {
    /// The policy for the channel `input` describes, or `None` when no final section matched
    /// and `[default]` is missing or has no strategy (charge-lnd then leaves the channel
    /// alone).
    pub fn select(&self, input: &MatchInput) -> Result<Option<Selection>, MatchError> {
        let mut settings = Settings::default();
        let mut merged = Vec::new();
        let mut chosen = None;
        for section in &self.sections {
            if section.matches(input)? {
                settings.merge(&section.settings);
                merged.push(SectionRef::from(section));
                if section.is_final() {
                    chosen = Some(section);
                    break;
                }
            }
        }
        if chosen.is_none()
            && let Some(fallback) = &self.fallback
        {
            settings.merge(&fallback.settings);
            merged.push(SectionRef::from(fallback));
            chosen = fallback.is_final().then_some(fallback);
        }
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        if settings.strategy.as_deref() != Some(USE_CONFIG) {
            return Ok(Some(Selection {
                section: SectionRef::from(chosen),
                merged,
                via: Vec::new(),
                settings,
            }));
        }

        let Some(path) = &settings.config_file else {
            return Err(MatchError::UseConfigWithoutFile {
                at: chosen.location(Some("strategy")),
            });
        };
        let included = self
            .includes
            .get(path)
            .ok_or_else(|| MatchError::IncludeNotLoaded {
                path: path.clone(),
                at: chosen.location(Some("config_file")),
            })?;
        let Some(mut inner) = included.select(input)? else {
            return Ok(None);
        };
        inner.via.insert(0, SectionRef::from(chosen));
        let delta = "min_fee_ppm_delta";
        // charge-lnd runs the other file's strategy first, and `proportional`/`onchain_fee` then
        // set their default of 10 there, which wins over this file's value.
        if inner.settings.properties.min_fee_ppm_delta.is_none()
            && !DELTA_TEN_STRATEGIES.contains(&inner.strategy())
            && let Some(value) = settings.properties.min_fee_ppm_delta
        {
            inner.settings.properties.min_fee_ppm_delta = Some(value);
            if let Some(origin) = settings.origins.get(delta) {
                inner
                    .settings
                    .origins
                    .insert(delta.to_owned(), origin.clone());
            }
        }
        // charge-lnd reads the inbound delta from this file's section only; the other file's
        // is never read.
        let inbound = "min_inbound_fee_ppm_delta";
        inner.settings.properties.min_inbound_fee_ppm_delta =
            settings.properties.min_inbound_fee_ppm_delta;
        match settings.origins.get(inbound) {
            Some(origin) => inner
                .settings
                .origins
                .insert(inbound.to_owned(), origin.clone()),
            None => inner.settings.origins.remove(inbound),
        };
        Ok(Some(inner))
    }
}

/// `selection` with the parameters of `specs` it leaves out taken from `upstream` (the keys of
/// the non-final sections above it, with where they were written): those sections supply them
/// to every channel they match, and their values are checked like the section's own.
fn with_upstream(selection: &Selection, upstream: &Settings, specs: &[ParamSpec]) -> Selection {
    let mut supplied = selection.clone();
    let settings = &mut supplied.settings;
    for spec in specs {
        if settings.params.contains_key(&spec.name) {
            continue;
        }
        if let Some(value) = upstream.params.get(&spec.name) {
            settings.params.insert(spec.name.clone(), value.clone());
            if let Some(origin) = upstream.origins.get(&spec.name) {
                settings.origins.insert(spec.name.clone(), origin.clone());
            }
        }
    }
    supplied
}

impl Config {
    /// The parameter names the strategies of this file's final sections, and of the files
    /// it includes, take (an experiment's both arms).
    fn params_taken(
        &self,
        strategies: &dyn Fn(&str) -> Option<Vec<ParamSpec>>,
    ) -> BTreeSet<String> {
        let mut taken = BTreeSet::new();
        for section in self.sections.iter().chain(&self.fallback) {
            let keys = &section.settings.experiment;
            let names: Vec<&str> = match section.settings.strategy.as_deref() {
                None | Some(USE_CONFIG) => continue,
                Some(EXPERIMENT) => [&keys.a, &keys.b]
                    .into_iter()
                    .filter_map(|name| name.as_deref())
                    .collect(),
                Some(strategy) => vec![strategy],
            };
            for specs in names.into_iter().filter_map(strategies) {
                taken.extend(specs.into_iter().map(|spec| spec.name));
            }
        }
        for included in self.includes.values() {
            taken.extend(included.params_taken(strategies));
        }
        taken
    }

    /// Checks every final section's strategy against what is loaded: `strategies` gives the
    /// parameter schema of a strategy name, or `None` when no strategy has that name.
    /// Unknown strategies and parameters the strategy does not take (or mistypes) are errors
    /// with file and line; `use_config` sections are checked in their own file. A parameter a
    /// section leaves out is taken from the non-final sections above it (any, for `[default]`)
    /// and checked there: one that matches the channel supplies it, as in charge-lnd, and a
    /// channel no such section matches is reported when it is decided.
    pub fn check_strategies(
        &self,
        strategies: &dyn Fn(&str) -> Option<Vec<ParamSpec>>,
        known: &str,
    ) -> (Vec<ConfigError>, Vec<Note>) {
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        // The plain keys of the non-final sections so far, as merging them would leave them.
        let mut upstream = Settings::default();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut non_final: Vec<&Section> = Vec::new();
        for section in self.sections.iter().chain(&self.fallback) {
            let Some(strategy) = section.settings.strategy.as_deref() else {
                upstream.merge(&section.settings);
                non_final.push(section);
                continue;
            };
            if strategy == USE_CONFIG {
                continue;
            }
            let selection = Selection {
                section: SectionRef::from(section),
                merged: vec![SectionRef::from(section)],
                via: Vec::new(),
                settings: section.settings.clone(),
            };
            let arms: Vec<(Option<Arm>, &str, &str)> = if strategy == EXPERIMENT {
                let keys = &section.settings.experiment;
                [
                    (Arm::A, &keys.a, "experiment.a"),
                    (Arm::B, &keys.b, "experiment.b"),
                ]
                .into_iter()
                .filter_map(|(arm, name, key)| Some((Some(arm), name.as_deref()?, key)))
                .collect()
            } else {
                vec![(None, strategy, "strategy")]
            };
            for (arm, name, key) in arms {
                let Some(specs) = strategies(name) else {
                    let at = section.location(Some(key));
                    errors.push(ConfigError::new(
                        &at.file,
                        at.line,
                        Some(key),
                        ErrorKind::UnknownStrategy {
                            name: name.to_owned(),
                            builtins: known.to_owned(),
                        },
                    ));
                    continue;
                };
                taken.extend(specs.iter().map(|spec| spec.name.clone()));
                let selection = with_upstream(&selection, &upstream, &specs);
                let resolved = match arm {
                    Some(arm) => selection.resolve_arm_params(arm, &specs),
                    None => selection.resolve_params(&specs),
                };
                match resolved {
                    Ok(resolved) => notes.extend(resolved.notes),
                    Err(error) => errors.push(error),
                }
            }
        }
        // A key of a non-final section that no strategy here or in an included file takes has
        // no effect: a typo, most likely.
        for included in self.includes.values() {
            taken.extend(included.params_taken(strategies));
        }
        for section in non_final {
            for key in section.settings.params.keys() {
                let own = section
                    .settings
                    .origins
                    .get(key)
                    .is_none_or(|o| o.section == section.name && o.file == section.file);
                if own && !key.starts_with("experiment.") && !taken.contains(key) {
                    let at = section.location(Some(key));
                    notes.push(Note::new(
                        &at.file,
                        at.line,
                        Some(key),
                        NoteKind::KeyWithoutEffect,
                    ));
                }
            }
        }
        for included in self.includes.values() {
            let (more_errors, more_notes) = included.check_strategies(strategies, known);
            errors.extend(more_errors);
            notes.extend(more_notes);
        }
        // A `[DEFAULT]` key is every section's: its error, found once per section, is one.
        (first_of_each(errors), first_of_each(notes))
    }
}

/// `items` without repeats, in the order each first appears.
fn first_of_each<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}
