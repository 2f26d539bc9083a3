//! Which policy applies to a channel, exactly as charge-lnd picks it:
//! - sections other than `[default]` are tried top to bottom;
//! - a matching section without `strategy` merges its keys in and the search goes on;
//! - the first matching section with `strategy` merges its keys in and ends the search;
//! - when none did, `[default]`'s keys are merged on top, its conditions ignored;
//! - `use_config` hands the channel to another file, whose selection then applies as a whole
//!   (only `min_fee_ppm_delta` carries over from this file when the other file leaves it out).

use std::path::Path;
use std::sync::Arc;

use lnpolicy_core::{Param, ParamSpec};

use crate::params::{self, ParamError};

use super::Config;
use super::errors::{ConfigError, ErrorKind, MatchError, Note, NoteKind};
use super::input::MatchInput;
use super::properties::Settings;
use super::sections::{Section, USE_CONFIG};

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
    /// `onchain_fee`, 0 otherwise.
    pub fn min_fee_ppm_delta(&self) -> u32 {
        self.settings.properties.min_fee_ppm_delta.unwrap_or(
            if DELTA_TEN_STRATEGIES.contains(&self.strategy()) {
                10
            } else {
                0
            },
        )
    }

    /// `min_inbound_fee_ppm_delta`, defaulting to [`Selection::min_fee_ppm_delta`].
    pub fn min_inbound_fee_ppm_delta(&self) -> u32 {
        self.settings
            .properties
            .min_inbound_fee_ppm_delta
            .unwrap_or_else(|| self.min_fee_ppm_delta())
    }

    /// The strategy's parameters checked against its declared schema, defaults filled in.
    ///
    /// Keys written in the final section itself must all be parameters of the strategy; keys
    /// inherited (from `[DEFAULT]`, earlier non-final sections, or the sections `[default]`
    /// was merged over) that it does not take are left out with a note, as charge-lnd ignores
    /// them: `[DEFAULT] fee_ppm = 100` must not break a `proportional` section.
    pub fn resolve_params(&self, specs: &[ParamSpec]) -> Result<ResolvedParams, ConfigError> {
        let mut given = Vec::new();
        let mut notes = Vec::new();
        for (name, text) in &self.settings.params {
            let origin = self.settings.origins.get(name);
            let own = origin
                .is_none_or(|o| o.section == self.section.name && o.file == self.section.file);
            if !own && !specs.iter().any(|spec| &spec.name == name) {
                let (file, line) = origin.map_or((&self.section.file, self.section.line), |o| {
                    (&o.file, o.line)
                });
                notes.push(Note::new(
                    file,
                    line,
                    Some(name),
                    NoteKind::InheritedParamIgnored {
                        strategy: self.strategy().to_owned(),
                    },
                ));
                continue;
            }
            given.push((name.clone(), text.clone()));
        }
        let params = params::resolve(specs, &given).map_err(|source| self.locate(source))?;
        Ok(ResolvedParams { params, notes })
    }

    fn locate(&self, source: ParamError) -> ConfigError {
        let name = match &source {
            ParamError::Unknown { name, .. }
            | ParamError::Type { name, .. }
            | ParamError::Range { name, .. }
            | ParamError::Missing { name }
            | ParamError::Duplicate { name } => name.clone(),
        };
        let (file, line) = match (&source, self.settings.origins.get(&name)) {
            (ParamError::Missing { .. }, _) | (_, None) => (&self.section.file, self.section.line),
            (_, Some(origin)) => (&origin.file, origin.line),
        };
        ConfigError::new(
            file,
            line,
            Some(&name),
            ErrorKind::StrategyParam {
                strategy: self.strategy().to_owned(),
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
        Ok(Some(inner))
    }
}
