//! What can be wrong with a config, and what `--check` tells the operator besides errors.
//!
//! Every error carries the file and line it is about and, when it concerns one key, the key:
//! an operator with a 200-line config must be able to jump straight to the mistake.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::params::ParamError;

/// One mistake in a config file, located.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the mistake is in (an included file or a `file://` list when it is there).
    pub file: PathBuf,
    /// 1-based line; `None` when the error concerns the whole file (it cannot be read).
    pub line: Option<u32>,
    /// The key (lower-cased, as configparser stores it) when the error concerns one key.
    pub key: Option<String>,
    pub kind: ErrorKind,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, line: u32, key: Option<&str>, kind: ErrorKind) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            key: key.map(str::to_owned),
            kind,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line, self.key.as_deref())?;
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::StrategyParam { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

fn write_location(
    f: &mut fmt::Formatter<'_>,
    file: &Path,
    line: Option<u32>,
    key: Option<&str>,
) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if let Some(line) = line {
        write!(f, ":{line}")?;
    }
    f.write_str(": ")?;
    if let Some(key) = key {
        write!(f, "key {key}: ")?;
    }
    Ok(())
}

/// What is wrong, without the location.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read {}: {detail}", path.display())]
    Read { path: PathBuf, detail: String },
    #[error("expected a [section] header, `key = value` or a # comment, got {line:?}")]
    Syntax { line: String },
    #[error("a key before the first [section] header")]
    KeyBeforeSection,
    #[error("a line with `=` but no key name before it")]
    EmptyKey,
    #[error("duplicate section [{name}] (first at line {first_line})")]
    DuplicateSection { name: String, first_line: u32 },
    #[error("key given twice in section [{section}] (first at line {first_line})")]
    DuplicateKey { section: String, first_line: u32 },
    #[error("{detail}")]
    Interpolation { detail: String },
    #[error("expected {expected}, got {got:?}")]
    InvalidValue { expected: String, got: String },
    #[error("unknown key in namespace `{namespace}.`{}", suggestion_text(.suggestion))]
    UnknownKey {
        namespace: String,
        suggestion: Option<String>,
    },
    #[error(
        "strategy use_config needs a config_file key (the file to resolve the channel against)"
    )]
    MissingConfigFile,
    #[error("use_config include loop: {chain}")]
    IncludeCycle { chain: String },
    #[error("{min_key} ({min}) is above {max_key} ({max}): the guard would allow no value")]
    InvertedGuardRange {
        min_key: &'static str,
        min: i64,
        max_key: &'static str,
        max: i64,
    },
    #[error("with the daemon's guard limits: {detail}")]
    Guard { detail: String },
    #[error(
        "a node-wide setting, about all channels together: set it once in [DEFAULT] of the main \
         config file, not in {place}"
    )]
    NodeWideKey { place: &'static str },
    #[error("strategy = experiment needs {missing} (see docs/config.md, A/B experiments)")]
    MissingExperimentKey { missing: String },
    #[error(
        "experiment `{name}` already runs other arm strategies in section {first}: a channel \
         moving between the sections would keep its arm under another strategy; give this \
         experiment its own name, or the same experiment.a and experiment.b"
    )]
    ExperimentArmsDiffer {
        name: String,
        /// The section that runs it first, with its file and line: `[big] (file:5)`.
        first: String,
    },
    #[error(
        "experiment `{name}` already splits its channels {first_split} (the share in arm A) in \
         section {first}, not {split}: its arms would then differ by which section their \
         channels match, not by chance alone; use one experiment.split for every section of \
         an experiment, or give this one its own name"
    )]
    ExperimentSplitDiffers {
        name: String,
        first: String,
        split: f64,
        first_split: f64,
    },
    #[error(
        "unknown strategy `{name}`: not a built-in ({builtins}) and no {name}.wasm in the strategies folder"
    )]
    UnknownStrategy { name: String, builtins: String },
    #[error("strategy `{strategy}`: {source}")]
    StrategyParam {
        strategy: String,
        source: Box<ParamError>,
    },
}

impl ErrorKind {
    pub(crate) fn invalid(expected: &str, got: &str) -> Self {
        ErrorKind::InvalidValue {
            expected: expected.to_owned(),
            got: got.to_owned(),
        }
    }
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// All the errors of one load, in the order they were found; never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn first(&self) -> &ConfigError {
        &self.0[0]
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something `--check` reports that does not stop the config from loading: where lnpolicy
/// deliberately decides differently from charge-lnd, or a section that cannot do what it
/// looks like it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub key: Option<String>,
    pub kind: NoteKind,
}

impl Note {
    pub(crate) fn new(file: &Path, line: u32, key: Option<&str>, kind: NoteKind) -> Self {
        Note {
            file: file.to_path_buf(),
            line: Some(line),
            key: key.map(str::to_owned),
            kind,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line, self.key.as_deref())?;
        write!(f, "{}", self.kind)
    }
}

/// Why a [`Note`] was raised.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoteKind {
    #[error(
        "charge-lnd fails evaluating chan.disabled and skips the channel; lnpolicy compares it \
         with the peer's disabled flag"
    )]
    ChanDisabledEvaluated,
    #[error(
        "charge-lnd reads any non-empty {key} as true, so {value:?} meant true there; lnpolicy \
         reads it as false"
    )]
    BooleanParsed { key: String, value: String },
    #[error(
        "charge-lnd's code applies this key the other way round (true keeps the age check); \
         lnpolicy follows its documentation: true lets channels younger than the period match"
    )]
    IgnoreChannelAgeMeaning,
    #[error(
        "relative path resolved against this config file's folder ({}); charge-lnd resolves it \
         against its working directory",
        resolved.display()
    )]
    RelativePath { resolved: PathBuf },
    #[error(
        "entries separated by a line break without a comma: charge-lnd reads them as one \
         invalid entry that never matches; lnpolicy reads them as separate entries"
    )]
    LineBreakSeparator,
    #[error(
        "upper-case hex in a pubkey: charge-lnd compares pubkeys as written, so this entry never \
         matched there; lnpolicy compares them case-insensitively"
    )]
    PubkeyCase,
    #[error(
        "an empty entry (a comma with nothing after it): charge-lnd fails on it and leaves \
         every channel that reaches this section unchanged; lnpolicy ignores the empty entry"
    )]
    EmptyChannelIdEntry,
    #[error(
        "{}:{list_line}: {entries} entr{} after a `#` and a comma: charge-lnd takes the \
         comment off each comma-separated entry on its own, so it matched {}; lnpolicy \
         reads the rest of the line as the comment",
        list.display(),
        if *entries == 1 { "y" } else { "ies" },
        if *entries == 1 { "it" } else { "them" }
    )]
    CommentHidesEntries {
        list: PathBuf,
        list_line: u32,
        entries: usize,
    },
    #[error("unknown namespace `{namespace}.`: this section never matches any channel")]
    UnknownNamespace { namespace: String },
    #[error("has no effect without chan.activity_period (charge-lnd ignores it too)")]
    ActivityWithoutPeriod,
    #[error("{min_key} is above {max_key}: this section never matches any channel")]
    EmptyRange { min_key: String, max_key: String },
    #[error("[default] is applied without evaluating its conditions: this key has no effect")]
    DefaultConditionIgnored,
    #[error(
        "section [{name}] is never reached: [{by}] (line {by_line}) matches every channel first"
    )]
    Unreachable {
        name: String,
        by: String,
        by_line: u32,
    },
    #[error("inherited parameter not used by strategy `{strategy}`; ignored")]
    InheritedParamIgnored { strategy: String },
    #[error(
        "not a property, and no strategy of this config takes a parameter of this name: it has \
         no effect (a typo?)"
    )]
    KeyWithoutEffect,
    #[error(
        "{value} is above guard.{limit_key} ({limit}): the guard sends {limit} instead; set \
         guard.{limit_key} in this section to allow it"
    )]
    AboveGuardCeiling {
        value: u64,
        limit_key: &'static str,
        limit: u32,
    },
    #[error(
        "{value} is below guard.{limit_key} ({limit}): the guard sends {limit} instead; set \
         guard.{limit_key} in this section to allow it"
    )]
    BelowGuardFloor {
        value: i64,
        limit_key: &'static str,
        limit: i64,
    },
    #[error(
        "{value} is a positive inbound fee: the guard sends 0 instead, since LND refuses \
         positive inbound fees unless it runs with accept-positive-inbound-fees; if yours does, \
         set guard.allow_positive_inbound = true in [DEFAULT]"
    )]
    PositiveInboundRefused { value: i64 },
    #[error(
        "match_peer copies the peer's inbound fees and takes no inbound level, as in charge-lnd: \
         this key has no effect here (inbound_fee_ppm overrides the copied rate)"
    )]
    InboundLevelIgnored,
    #[error("{meaning}")]
    LnflowKey { meaning: &'static str },
}

impl NoteKind {
    /// Whether this note marks a decision that differs from what charge-lnd v0.3.1 does with
    /// the same config (a charge-lnd bug or undocumented behaviour we do not copy).
    pub fn is_charge_lnd_deviation(&self) -> bool {
        matches!(
            self,
            NoteKind::ChanDisabledEvaluated
                | NoteKind::BooleanParsed { .. }
                | NoteKind::IgnoreChannelAgeMeaning
                | NoteKind::RelativePath { .. }
                | NoteKind::LineBreakSeparator
                | NoteKind::PubkeyCase
                | NoteKind::CommentHidesEntries { .. }
                | NoteKind::EmptyChannelIdEntry
        )
    }
}

/// A [`MatchInput`](super::MatchInput) that lacks a fact the config needs, or a selection that
/// cannot be completed. These are caller bugs or facts missing at run time, never silently
/// turned into "no match", because that would apply the wrong policy without a trace.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchError {
    #[error(
        "no activity counts for a period of {period_secs} s, needed by {} (ask Config::activity_periods)",
        at.display()
    )]
    MissingActivity { period_secs: u64, at: Location },
    #[error(
        "the node gave no on-chain fee estimate for {conf_target} blocks, needed by {}",
        at.display()
    )]
    MissingFeeEstimate { conf_target: u32, at: Location },
    #[error("{}: strategy use_config but no config_file is set for this channel", at.display())]
    UseConfigWithoutFile { at: Location },
    #[error("{}: included file {} was not loaded", at.display(), path.display())]
    IncludeNotLoaded { path: PathBuf, at: Location },
}

/// A place in a config file, for run-time messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub key: Option<String>,
}

impl Location {
    fn display(&self) -> String {
        match &self.key {
            Some(key) => format!("{}:{}: key {key}", self.file.display(), self.line),
            None => format!("{}:{}", self.file.display(), self.line),
        }
    }
}
