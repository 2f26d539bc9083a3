//! The keys of a section that are not conditions: `strategy`, charge-lnd's properties, the
//! strategy's parameters, `config_file` for `use_config`, and lnpolicy's `guard.*` limits.
//! They are what matching sections merge, key by key, into the policy of a channel.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::guard::GuardConfig;

use super::errors::ErrorKind;
use super::matchers;
use super::values;

/// Where a key was written: the file, the line and the section (`DEFAULT` when inherited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<Path>,
    pub line: u32,
    pub section: String,
}

/// charge-lnd's properties: applied by every strategy but `ignore`, whatever it computes.
/// `None` = not set (keep the channel's current value, or the strategy's default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Properties {
    pub base_fee_msat: Option<u32>,
    /// Raised to the channel's negotiated minimum when applied.
    pub min_htlc_msat: Option<u64>,
    /// Capped at the channel's max in flight when applied.
    pub max_htlc_msat: Option<u64>,
    /// Fraction of (capacity - remote reserve); combined with `max_htlc_msat` by taking the
    /// smaller.
    pub max_htlc_msat_ratio: Option<f64>,
    /// The wire field is 16 bits.
    pub time_lock_delta: Option<u16>,
    /// Skip the update when the outbound ppm moves less than this and nothing else changes.
    pub min_fee_ppm_delta: Option<u32>,
    /// Same for the inbound ppm; defaults to `min_fee_ppm_delta`.
    pub min_inbound_fee_ppm_delta: Option<u32>,
    pub inbound_fee_ppm: Option<i32>,
    pub inbound_base_fee_msat: Option<i32>,
    /// inbound ppm = min(0, level - effective outbound ppm).
    pub inbound_level_ppm: Option<u32>,
}

/// Automatic rollback: after a change, when the channel's revenue rate over the next
/// `rollback_window` falls by more than `rollback_threshold` against the same window before
/// the change, the previous policy is restored.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RollbackKeys {
    /// `enable_auto_rollback`.
    pub enabled: Option<bool>,
    /// `rollback_threshold`: the drop, as a fraction of the rate before (default 0.25).
    pub threshold: Option<f64>,
    /// `rollback_window` (default 24 h).
    pub window_secs: Option<u64>,
}

/// lnpolicy's rollback keys (not charge-lnd's).
pub const ROLLBACK_KEYS: &[&str] = &[
    "enable_auto_rollback",
    "rollback_threshold",
    "rollback_window",
];

/// Parses a rollback key; `Ok(false)` when `key` is not one.
pub(crate) fn parse_rollback(
    key: &str,
    text: &str,
    rollback: &mut RollbackKeys,
) -> Result<bool, ErrorKind> {
    match key {
        "enable_auto_rollback" => {
            rollback.enabled = Some(
                values::parse_bool(text)
                    .ok_or_else(|| ErrorKind::invalid("true or false", text))?,
            );
        }
        "rollback_threshold" => {
            rollback.threshold = Some(
                values::parse_float(text)
                    .filter(|v| *v > 0.0 && *v <= 1.0)
                    .ok_or_else(|| ErrorKind::invalid("a fraction above 0, at most 1", text))?,
            );
        }
        "rollback_window" => {
            // The store keeps 60 days of snapshots, which judging a change reads (whether its
            // channel was down) for up to two windows.
            rollback.window_secs = Some(
                values::parse_duration(text)
                    .filter(|secs| *secs <= MAX_ROLLBACK_WINDOW_SECS)
                    .ok_or_else(|| {
                        ErrorKind::invalid("a period of at most 30d, such as 7d or 12h", text)
                    })?,
            );
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The longest `rollback_window`.
pub const MAX_ROLLBACK_WINDOW_SECS: u64 = 30 * 86_400;

/// The share of channels in arm A when `experiment.split` is not set.
pub const DEFAULT_SPLIT: f64 = 0.5;

/// How a `strategy = experiment` section splits its channels between two strategies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentKeys {
    /// Names the experiment in the store and in reports; a channel's arm is drawn from it.
    pub name: Option<String>,
    /// Arm A's strategy.
    pub a: Option<String>,
    /// Arm B's strategy.
    pub b: Option<String>,
    /// Share of channels in arm A, 0 to 1 (default 0.5).
    pub split: Option<f64>,
}

/// The `experiment.*` keys other than the arms' parameters.
pub const EXPERIMENT_KEYS: &[&str] = &[
    "experiment.name",
    "experiment.a",
    "experiment.b",
    "experiment.split",
];

/// Parses `experiment.*` key `key`; `Ok(false)` when it is neither one of
/// [`EXPERIMENT_KEYS`] nor an arm's parameter (`experiment.a.NAME`, `experiment.b.NAME`).
pub(crate) fn parse_experiment(
    key: &str,
    text: &str,
    settings: &mut Settings,
) -> Result<bool, ErrorKind> {
    let word = |text: &str, what: &str| {
        let text = text.trim();
        if text.is_empty() || text.contains(char::is_whitespace) {
            Err(ErrorKind::invalid(what, text))
        } else {
            Ok(Some(text.to_owned()))
        }
    };
    let e = &mut settings.experiment;
    match key {
        "experiment.name" => e.name = word(text, "an experiment name (one word)")?,
        "experiment.a" => e.a = word(text, "a strategy name (one word)")?,
        "experiment.b" => e.b = word(text, "a strategy name (one word)")?,
        "experiment.split" => {
            e.split = Some(
                values::parse_float(text)
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| ErrorKind::invalid("a number between 0 and 1", text))?,
            );
        }
        _ => {
            let arm_param = ["experiment.a.", "experiment.b."]
                .iter()
                .any(|prefix| key.strip_prefix(prefix).is_some_and(|p| !p.is_empty()));
            if !arm_param {
                return Ok(false);
            }
            settings.params.insert(key.to_owned(), text.to_owned());
        }
    }
    Ok(true)
}

/// Per-section tightening (or loosening) of the daemon's guard limits, from `guard.*` keys.
/// Names mirror [`GuardConfig`]'s fields; `None` keeps the daemon-wide value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardOverrides {
    pub min_fee_ppm: Option<u32>,
    pub max_fee_ppm: Option<u32>,
    pub min_base_fee_msat: Option<u32>,
    pub max_base_fee_msat: Option<u32>,
    pub min_inbound_fee_ppm: Option<i32>,
    pub max_inbound_fee_ppm: Option<i32>,
    pub min_inbound_base_fee_msat: Option<i32>,
    pub max_inbound_base_fee_msat: Option<i32>,
    pub max_fee_step_ppm: Option<u32>,
    pub max_inbound_step_ppm: Option<u32>,
    pub min_update_interval_secs: Option<u64>,
    pub min_time_lock_delta: Option<u32>,
    pub max_time_lock_delta: Option<u32>,
}

impl GuardOverrides {
    /// `base` with every override set here replacing its value. Run
    /// [`GuardConfig::validate`] on the result: a section may combine with the daemon's
    /// limits into a range that allows nothing.
    pub fn apply(&self, base: &GuardConfig) -> GuardConfig {
        let mut config = base.clone();
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    config.$field = value;
                }
            )*};
        }
        set!(
            min_fee_ppm,
            max_fee_ppm,
            min_base_fee_msat,
            max_base_fee_msat,
            min_inbound_fee_ppm,
            max_inbound_fee_ppm,
            min_inbound_base_fee_msat,
            max_inbound_base_fee_msat,
            min_update_interval_secs,
            min_time_lock_delta,
            max_time_lock_delta
        );
        if self.max_fee_step_ppm.is_some() {
            config.max_fee_step_ppm = self.max_fee_step_ppm;
        }
        if self.max_inbound_step_ppm.is_some() {
            config.max_inbound_step_ppm = self.max_inbound_step_ppm;
        }
        config
    }

    pub fn is_empty(&self) -> bool {
        *self == GuardOverrides::default()
    }

    /// min/max pairs set in the same place, for the inverted-range check at load.
    pub(crate) fn pairs(&self) -> [(&'static str, Option<i64>, &'static str, Option<i64>); 5] {
        let wide = |v: Option<u32>| v.map(i64::from);
        let signed = |v: Option<i32>| v.map(i64::from);
        [
            (
                "guard.min_fee_ppm",
                wide(self.min_fee_ppm),
                "guard.max_fee_ppm",
                wide(self.max_fee_ppm),
            ),
            (
                "guard.min_base_fee_msat",
                wide(self.min_base_fee_msat),
                "guard.max_base_fee_msat",
                wide(self.max_base_fee_msat),
            ),
            (
                "guard.min_inbound_fee_ppm",
                signed(self.min_inbound_fee_ppm),
                "guard.max_inbound_fee_ppm",
                signed(self.max_inbound_fee_ppm),
            ),
            (
                "guard.min_inbound_base_fee_msat",
                signed(self.min_inbound_base_fee_msat),
                "guard.max_inbound_base_fee_msat",
                signed(self.max_inbound_base_fee_msat),
            ),
            (
                "guard.min_time_lock_delta",
                wide(self.min_time_lock_delta),
                "guard.max_time_lock_delta",
                wide(self.max_time_lock_delta),
            ),
        ]
    }
}

/// Everything a section sets besides its conditions. Sections merge these key by key: a key
/// set by a later section replaces the earlier value, a key it leaves out keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// The strategy's name as written. A section that sets one is final.
    pub strategy: Option<String>,
    /// `use_config`'s file, already resolved against the file the key is written in.
    pub config_file: Option<PathBuf>,
    pub properties: Properties,
    pub guard: GuardOverrides,
    pub experiment: ExperimentKeys,
    pub rollback: RollbackKeys,
    /// Every other key without a namespace, and the arms' `experiment.a.*`/`experiment.b.*`
    /// keys under their full names, as text (interpolated): the strategy's
    /// parameters, checked against its schema once the strategy is known
    /// ([`Selection::resolve_params`](super::Selection::resolve_params)).
    pub params: BTreeMap<String, String>,
    /// Where each key above was written, by key name.
    pub origins: BTreeMap<String, Origin>,
}

impl Settings {
    /// Lays `other` over `self`: each key `other` sets replaces this one's.
    pub fn merge(&mut self, other: &Settings) {
        macro_rules! overlay {
            ($target:expr, $source:expr; $($field:ident),*) => {$(
                if $source.$field.is_some() {
                    $target.$field = $source.$field;
                }
            )*};
        }
        if other.strategy.is_some() {
            self.strategy.clone_from(&other.strategy);
        }
        if other.config_file.is_some() {
            self.config_file.clone_from(&other.config_file);
        }
        overlay!(self.properties, other.properties;
            base_fee_msat, min_htlc_msat, max_htlc_msat, max_htlc_msat_ratio, time_lock_delta,
            min_fee_ppm_delta, min_inbound_fee_ppm_delta, inbound_fee_ppm, inbound_base_fee_msat,
            inbound_level_ppm);
        for (mine, theirs) in [
            (&mut self.experiment.name, &other.experiment.name),
            (&mut self.experiment.a, &other.experiment.a),
            (&mut self.experiment.b, &other.experiment.b),
        ] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
        overlay!(self.experiment, other.experiment; split);
        overlay!(self.rollback, other.rollback; enabled, threshold, window_secs);
        overlay!(self.guard, other.guard;
            min_fee_ppm, max_fee_ppm, min_base_fee_msat, max_base_fee_msat, min_inbound_fee_ppm,
            max_inbound_fee_ppm, min_inbound_base_fee_msat, max_inbound_base_fee_msat,
            max_fee_step_ppm, max_inbound_step_ppm, min_update_interval_secs,
            min_time_lock_delta, max_time_lock_delta);
        self.params
            .extend(other.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.origins
            .extend(other.origins.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// charge-lnd's property names.
pub const PROPERTY_KEYS: &[&str] = &[
    "base_fee_msat",
    "min_htlc_msat",
    "max_htlc_msat",
    "max_htlc_msat_ratio",
    "time_lock_delta",
    "min_fee_ppm_delta",
    "min_inbound_fee_ppm_delta",
    "inbound_fee_ppm",
    "inbound_base_fee_msat",
    "inbound_level_ppm",
];

/// lnpolicy's per-section guard keys.
pub const GUARD_KEYS: &[&str] = &[
    "guard.min_fee_ppm",
    "guard.max_fee_ppm",
    "guard.min_base_fee_msat",
    "guard.max_base_fee_msat",
    "guard.min_inbound_fee_ppm",
    "guard.max_inbound_fee_ppm",
    "guard.min_inbound_base_fee_msat",
    "guard.max_inbound_base_fee_msat",
    "guard.max_fee_step_ppm",
    "guard.max_inbound_step_ppm",
    "guard.min_update_interval",
    "guard.min_time_lock_delta",
    "guard.max_time_lock_delta",
    MAX_UPDATES_PER_HOUR,
    ALLOW_POSITIVE_INBOUND,
];

/// The node-wide cap on policy updates per hour: set once, in the main file's `[DEFAULT]`.
/// Sections merge their keys per channel, and a cap on all channels together has no channel.
pub const MAX_UPDATES_PER_HOUR: &str = "guard.max_updates_per_hour";

/// Whether positive inbound fees may be sent: LND refuses them unless it runs with
/// `accept-positive-inbound-fees`, a setting of the node, so it is set once too.
pub const ALLOW_POSITIVE_INBOUND: &str = "guard.allow_positive_inbound";

/// What opening a channel costs when the node has no figure for it: the analytics compute
/// every channel's profitability once per cycle, so it is node-wide too.
pub const ESTIMATED_OPEN_COST: &str = "analytics.estimated_open_cost_sat";

/// How many days each cycle's per-channel decisions are kept whole in the database: it is
/// one database, so node-wide too.
pub const KEEP_DECISIONS_DAYS: &str = "store.keep_decisions_days";

/// Keys about the node as a whole (the whole `analytics.` and `store.` namespaces, the
/// hourly cap and positive inbound fees).
pub const NODE_WIDE_KEYS: &[&str] = &[
    MAX_UPDATES_PER_HOUR,
    ALLOW_POSITIVE_INBOUND,
    ESTIMATED_OPEN_COST,
    KEEP_DECISIONS_DAYS,
];

/// The namespaces whose every key is node-wide.
const NODE_WIDE_NAMESPACES: &[&str] = &["analytics", "store"];

/// Whether `key` is read once from the main file's `[DEFAULT]` rather than per section.
pub(crate) fn is_node_wide(key: &str) -> bool {
    key == MAX_UPDATES_PER_HOUR
        || key == ALLOW_POSITIVE_INBOUND
        || key
            .split_once('.')
            .is_some_and(|(namespace, _)| NODE_WIDE_NAMESPACES.contains(&namespace))
}

/// The node-wide settings a config file gives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NodeWide {
    pub max_updates_per_hour: Option<NonZeroU32>,
    pub estimated_open_cost_sat: Option<u64>,
    pub keep_decisions_days: Option<u32>,
    pub allow_positive_inbound: Option<bool>,
}

/// Sets node-wide `key` from `text`.
pub(crate) fn parse_node_wide(
    key: &str,
    text: &str,
    settings: &mut NodeWide,
) -> Result<(), ErrorKind> {
    match key {
        MAX_UPDATES_PER_HOUR => {
            settings.max_updates_per_hour = Some(parse_max_updates_per_hour(text)?);
        }
        ESTIMATED_OPEN_COST => {
            settings.estimated_open_cost_sat =
                Some(int_in(text, 0, MAX_OPEN_COST_SAT, "sat")? as u64);
        }
        ALLOW_POSITIVE_INBOUND => {
            settings.allow_positive_inbound = Some(
                values::parse_bool(text)
                    .ok_or_else(|| ErrorKind::invalid("true or false", text))?,
            );
        }
        KEEP_DECISIONS_DAYS => {
            settings.keep_decisions_days =
                Some(int_in(text, 1, MAX_KEEP_DECISIONS_DAYS, "days")? as u32);
        }
        _ => return Err(unknown_node_wide(key)),
    }
    Ok(())
}

/// The error for node-wide `key` written in `place`, where it does not belong. An unknown key
/// is named as such: moving it to `[DEFAULT]` would not help.
pub(crate) fn misplaced_node_wide(key: &str, place: &'static str) -> ErrorKind {
    if NODE_WIDE_KEYS.contains(&key) {
        ErrorKind::NodeWideKey { place }
    } else {
        unknown_node_wide(key)
    }
}

fn unknown_node_wide(key: &str) -> ErrorKind {
    let namespace = key.split_once('.').map_or(key, |(namespace, _)| namespace);
    ErrorKind::UnknownKey {
        namespace: namespace.into(),
        suggestion: matchers::closest(key, NODE_WIDE_KEYS.iter().copied()),
    }
}

/// A century: keeping every decision whole is a choice, not a mistake.
const MAX_KEEP_DECISIONS_DAYS: i64 = 36_500;

/// 1 BTC: far above any channel's opening fee, low enough to catch a value given in msat.
const MAX_OPEN_COST_SAT: i64 = 100_000_000;

/// Parses [`MAX_UPDATES_PER_HOUR`]'s value. Zero is refused: a config that must send nothing
/// is a dry run (`--dry-run`), not a limit.
fn parse_max_updates_per_hour(text: &str) -> Result<NonZeroU32, ErrorKind> {
    int_in(text, 1, u32::MAX.into(), "updates")
        .ok()
        .and_then(|v| NonZeroU32::new(v as u32))
        .ok_or_else(|| {
            ErrorKind::invalid(
                "a whole number of updates from 1 up (to send nothing, use --dry-run)",
                text,
            )
        })
}

/// A whole number in `min..=max`, told in `unit`.
fn int_in(text: &str, min: i64, max: i64, unit: &str) -> Result<i64, ErrorKind> {
    values::parse_int(text)
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            let expected = if min == 0 && max == i64::MAX {
                format!("a whole number of {unit} (0 or more)")
            } else {
                format!("a whole number of {unit} from {min} to {max}")
            };
            ErrorKind::invalid(&expected, text)
        })
}

fn u32_of(text: &str, unit: &str) -> Result<u32, ErrorKind> {
    int_in(text, 0, u32::MAX.into(), unit).map(|v| v as u32)
}

/// Parses property `key`; `Ok(false)` when `key` is not a property.
pub(crate) fn parse_property(
    key: &str,
    text: &str,
    properties: &mut Properties,
) -> Result<bool, ErrorKind> {
    let p = properties;
    match key {
        "base_fee_msat" => p.base_fee_msat = Some(u32_of(text, "msat")?),
        "min_htlc_msat" => p.min_htlc_msat = Some(int_in(text, 0, i64::MAX, "msat")? as u64),
        "max_htlc_msat" => p.max_htlc_msat = Some(int_in(text, 0, i64::MAX, "msat")? as u64),
        "max_htlc_msat_ratio" => {
            p.max_htlc_msat_ratio = Some(
                values::parse_float(text)
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| ErrorKind::invalid("a number between 0 and 1", text))?,
            );
        }
        "time_lock_delta" => {
            p.time_lock_delta = Some(int_in(text, 0, u16::MAX.into(), "blocks")? as u16);
        }
        "min_fee_ppm_delta" => p.min_fee_ppm_delta = Some(u32_of(text, "ppm")?),
        "min_inbound_fee_ppm_delta" => p.min_inbound_fee_ppm_delta = Some(u32_of(text, "ppm")?),
        "inbound_fee_ppm" => {
            p.inbound_fee_ppm = Some(int_in(text, i32::MIN.into(), i32::MAX.into(), "ppm")? as i32);
        }
        "inbound_base_fee_msat" => {
            p.inbound_base_fee_msat =
                Some(int_in(text, i32::MIN.into(), i32::MAX.into(), "msat")? as i32);
        }
        "inbound_level_ppm" => p.inbound_level_ppm = Some(u32_of(text, "ppm")?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parses `guard.*` key `key`; `Ok(false)` when it is not one.
pub(crate) fn parse_guard(
    key: &str,
    text: &str,
    guard: &mut GuardOverrides,
) -> Result<bool, ErrorKind> {
    let g = guard;
    let discount = |unit| int_in(text, i32::MIN.into(), 0, unit).map(|v| v as i32);
    let surcharge = |unit| int_in(text, 0, i32::MAX.into(), unit).map(|v| v as i32);
    match key {
        "guard.min_fee_ppm" => g.min_fee_ppm = Some(u32_of(text, "ppm")?),
        "guard.max_fee_ppm" => g.max_fee_ppm = Some(u32_of(text, "ppm")?),
        "guard.min_base_fee_msat" => g.min_base_fee_msat = Some(u32_of(text, "msat")?),
        "guard.max_base_fee_msat" => g.max_base_fee_msat = Some(u32_of(text, "msat")?),
        "guard.min_inbound_fee_ppm" => g.min_inbound_fee_ppm = Some(discount("ppm")?),
        "guard.max_inbound_fee_ppm" => g.max_inbound_fee_ppm = Some(surcharge("ppm")?),
        "guard.min_inbound_base_fee_msat" => g.min_inbound_base_fee_msat = Some(discount("msat")?),
        "guard.max_inbound_base_fee_msat" => g.max_inbound_base_fee_msat = Some(surcharge("msat")?),
        "guard.max_fee_step_ppm" => g.max_fee_step_ppm = Some(u32_of(text, "ppm")?),
        "guard.max_inbound_step_ppm" => g.max_inbound_step_ppm = Some(u32_of(text, "ppm")?),
        "guard.min_update_interval" => {
            g.min_update_interval_secs = Some(
                values::parse_duration(text)
                    .ok_or_else(|| ErrorKind::invalid(values::DURATION, text))?,
            );
        }
        "guard.min_time_lock_delta" => g.min_time_lock_delta = Some(u32_of(text, "blocks")?),
        "guard.max_time_lock_delta" => g.max_time_lock_delta = Some(u32_of(text, "blocks")?),
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lnpolicy_core::NodeKind;

    #[test]
    fn properties_parse_with_their_ranges() {
        let mut p = Properties::default();
        assert_eq!(parse_property("base_fee_msat", "1_000", &mut p), Ok(true));
        assert_eq!(p.base_fee_msat, Some(1000));
        assert_eq!(parse_property("inbound_fee_ppm", "-25", &mut p), Ok(true));
        assert_eq!(p.inbound_fee_ppm, Some(-25));
        assert_eq!(parse_property("fee_ppm", "5", &mut p), Ok(false));
        let err = parse_property("time_lock_delta", "70000", &mut p).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"expected a whole number of blocks from 0 to 65535, got "70000""#
        );
        let err = parse_property("base_fee_msat", "-1", &mut p).unwrap_err();
        assert!(err.to_string().contains("from 0 to 4294967295"), "{err}");
        let err = parse_property("max_htlc_msat_ratio", "1.5", &mut p).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }

    #[test]
    fn guard_keys_override_only_what_they_set() {
        let mut g = GuardOverrides::default();
        assert_eq!(parse_guard("guard.max_fee_ppm", "900", &mut g), Ok(true));
        assert_eq!(
            parse_guard("guard.max_fee_step_ppm", "50", &mut g),
            Ok(true)
        );
        assert_eq!(
            parse_guard("guard.min_update_interval", "6h", &mut g),
            Ok(true)
        );
        assert!(parse_guard("guard.min_inbound_fee_ppm", "5", &mut g).is_err());
        assert!(parse_guard("guard.max_inbound_fee_ppm", "-5", &mut g).is_err());
        assert_eq!(parse_guard("guard.colour", "5", &mut g), Ok(false));
        let base = GuardConfig::new(NodeKind::Lnd);
        let applied = g.apply(&base);
        assert_eq!(applied.max_fee_ppm, 900);
        assert_eq!(applied.max_fee_step_ppm, Some(50));
        assert_eq!(applied.min_update_interval_secs, 6 * 3600);
        assert_eq!(applied.min_fee_ppm, base.min_fee_ppm);
        assert_eq!(applied.max_base_fee_msat, base.max_base_fee_msat);
    }

    #[test]
    fn merge_overlays_key_by_key() {
        let origin = |line| Origin {
            file: Arc::from(Path::new("c.ini")),
            line,
            section: "s".into(),
        };
        let mut base = Settings::default();
        base.properties.base_fee_msat = Some(1000);
        base.properties.min_fee_ppm_delta = Some(5);
        base.params.insert("fee_ppm".into(), "10".into());
        base.origins.insert("base_fee_msat".into(), origin(1));
        let mut over = Settings {
            strategy: Some("static".into()),
            ..Settings::default()
        };
        over.properties.base_fee_msat = Some(0);
        over.params.insert("fee_ppm".into(), "20".into());
        over.origins.insert("base_fee_msat".into(), origin(9));
        base.merge(&over);
        assert_eq!(base.strategy.as_deref(), Some("static"));
        assert_eq!(base.properties.base_fee_msat, Some(0));
        assert_eq!(base.properties.min_fee_ppm_delta, Some(5));
        assert_eq!(base.params["fee_ppm"], "20");
        assert_eq!(base.origins["base_fee_msat"].line, 9);
    }
}
