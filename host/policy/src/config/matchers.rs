//! The conditions a section puts on a channel: charge-lnd's `chan.*`, `node.*` and `onchain.*`
//! keys and lnpolicy's `activity.level`, `flow.<period>.min/max`, `peer.fee_ratio.min/max` and
//! `chan.min_age_days/max_age_days`. Parsing turns each key into a [`Condition`]; evaluation is
//! a pure function of a [`MatchInput`].
//!
//! Rules shared by every numeric condition: bounds are inclusive; a quantity that cannot be
//! computed for this channel (a ratio with a zero denominator, a peer policy or graph entry
//! the node does not know, no pending HTLC for an expiry) makes the condition fail, because a
//! policy meant for channels with some property must not be applied to one we know nothing of.

use std::collections::BTreeSet;
use std::path::Path;

use lnpolicy_core::ChannelId;

use super::errors::{ErrorKind, Location, MatchError, NoteKind};
use super::input::MatchInput;
use super::sections::Ctx;
use super::values;

/// Seconds in the window `activity.level` looks at.
pub const ACTIVITY_LEVEL_PERIOD_SECS: u64 = 7 * 86_400;

/// charge-lnd's default confirmation target for `onchain.*` fee estimates.
pub const DEFAULT_CONF_TARGET: u32 = 6;

/// charge-lnd's estimate of the time between blocks, used to compare a channel's age in
/// blocks with an activity period in seconds, and for `chan.*_age_days`.
pub const SECONDS_PER_BLOCK: u64 = 600;

/// One condition of a section, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The key, lower-cased (`chan.min_ratio`).
    pub key: String,
    /// The line it is written on (in `[DEFAULT]` when inherited).
    pub line: u32,
    pub test: Test,
}

/// What a condition checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `chan.id`: the channel is one of these.
    ChannelIn(BTreeSet<ChannelId>),
    /// `node.id`: the peer is one of these (lower-case hex).
    PeerIn(BTreeSet<String>),
    Flag {
        flag: Flag,
        expected: bool,
    },
    /// `min_*`: the fact is at least the bound.
    AtLeast {
        fact: Fact,
        bound: f64,
    },
    /// `max_*`: the fact is at most the bound.
    AtMost {
        fact: Fact,
        bound: f64,
    },
    /// `activity.level`: the channel's level over the last 7 days is one of these.
    ActivityLevelIn(BTreeSet<ActivityLevel>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `chan.initiator`: we opened the channel.
    Initiator,
    /// `chan.private`.
    Private,
    /// `chan.disabled`: the peer's policy toward us is disabled.
    PeerDisabled,
    /// `onchain.synced_to_chain`.
    SyncedToChain,
}

/// A quantity a `min_*`/`max_*` condition bounds. All of them fit in an `f64` exactly (sats,
/// msat fees, counts and blocks stay far below 2^53), so bounds compare without rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fact {
    CapacitySat,
    /// local / (local + remote), see [`ChannelFacts::local_total_sat`](super::ChannelFacts::local_total_sat).
    Ratio,
    LocalBalanceSat,
    RemoteBalanceSat,
    PeerBaseFeeMsat,
    PeerFeePpm,
    AgeBlocks,
    AgeDays,
    CountPendingHtlcs,
    /// Blocks from the current height to the earliest pending HTLC expiry.
    NextPendingHtlcExpiry,
    /// A `chan.*` activity measure over the section's `chan.activity_period`.
    Activity {
        period_secs: u64,
        measure: ActivityMeasure,
    },
    NodeChannels,
    NodeCapacitySat,
    SharedChannelsActive,
    SharedChannelsInactive,
    SharedCapacityActiveSat,
    SharedCapacityInactiveSat,
    SharedRatio,
    SharedRatioActive,
    SharedRatioInactive,
    OnchainFeeRate {
        conf_target: u32,
    },
    /// `flow.<period>`: sats in plus sats out over the period.
    FlowSat {
        period_secs: u64,
    },
    /// `peer.fee_ratio`: our outbound fee rate / the peer's fee rate toward us.
    PeerFeeRatio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityMeasure {
    HtlcsIn,
    HtlcsOut,
    SatsIn,
    SatsOut,
    /// in / (in + out) by count.
    HtlcsRatio,
    /// in / (in + out) by amount.
    SatsRatio,
}

/// A channel's forwarding level over 7 days, by turnover = (sats in + sats out) / capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActivityLevel {
    /// Nothing forwarded.
    Inactive,
    /// Turnover above 0 and at most 1%.
    Low,
    /// Turnover above 1% and at most 10%.
    Medium,
    /// Turnover above 10%.
    High,
}

impl ActivityLevel {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_lowercase().as_str() {
            "inactive" => Some(ActivityLevel::Inactive),
            "low" => Some(ActivityLevel::Low),
            "medium" => Some(ActivityLevel::Medium),
            "high" => Some(ActivityLevel::High),
            _ => None,
        }
    }

    /// The level of a channel of `capacity_sat` that forwarded `sats` in 7 days; `None` for a
    /// zero capacity, which has no turnover.
    pub fn of(sats: u64, capacity_sat: u64) -> Option<Self> {
        if capacity_sat == 0 {
            return None;
        }
        let turnover = sats as f64 / capacity_sat as f64;
        Some(if sats == 0 {
            ActivityLevel::Inactive
        } else if turnover <= 0.01 {
            ActivityLevel::Low
        } else if turnover <= 0.1 {
            ActivityLevel::Medium
        } else {
            ActivityLevel::High
        })
    }
}

/// `chan.activity_period` and what goes with it: activity conditions only apply when it is
/// set, and then (unless `chan.activity_period_ignore_channel_age` is true) a channel younger
/// than the period does not match, since it had no chance to reach the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityWindow {
    pub period_secs: u64,
    pub ignore_channel_age: bool,
    /// The line of `chan.activity_period`.
    pub line: u32,
}

/// How a numeric key's value is read and what the operator is told when it cannot be.
#[derive(Debug, Clone, Copy)]
enum Num {
    /// A whole number >= 0.
    Count(&'static str),
    /// Any whole number.
    Signed(&'static str),
    /// A number from 0 to 1.
    Ratio,
    /// A number >= 0.
    NonNegative(&'static str),
}

impl Num {
    fn parse(self, text: &str) -> Result<f64, ErrorKind> {
        let value = match self {
            Num::Count(_) => values::parse_int(text)
                .filter(|v| *v >= 0)
                .map(|v| v as f64),
            Num::Signed(_) => values::parse_int(text).map(|v| v as f64),
            Num::Ratio => values::parse_float(text).filter(|v| (0.0..=1.0).contains(v)),
            Num::NonNegative(_) => values::parse_float(text).filter(|v| *v >= 0.0),
        };
        value.ok_or_else(|| ErrorKind::invalid(&self.expected(), text))
    }

    fn expected(self) -> String {
        let unit = |u: &str| {
            if u.is_empty() {
                String::new()
            } else {
                format!(" of {u}")
            }
        };
        match self {
            Num::Count(u) => format!("a whole number{} (0 or more)", unit(u)),
            Num::Signed(u) => format!("a whole number{}", unit(u)),
            Num::Ratio => "a number between 0 and 1".to_owned(),
            Num::NonNegative(u) => format!("a number{} (0 or more)", unit(u)),
        }
    }
}

/// Which quantity a key bounds, before the section's period and conf target are known.
#[derive(Debug, Clone, Copy)]
enum FactKey {
    Plain(Fact),
    Activity(ActivityMeasure),
    OnchainFeeRate,
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Bound {
        fact: FactKey,
        min: bool,
        num: Num,
    },
    Flag(Flag),
    ChannelList,
    PubkeyList,
    LevelList,
    /// Read by the section itself: `chan.activity_period`, `..._ignore_channel_age`,
    /// `onchain.conf_target`.
    SectionParam,
}

macro_rules! bounds {
    ($min:literal, $max:literal, $fact:expr, $num:expr) => {
        [
            (
                $min,
                KeyKind::Bound {
                    fact: $fact,
                    min: true,
                    num: $num,
                },
            ),
            (
                $max,
                KeyKind::Bound {
                    fact: $fact,
                    min: false,
                    num: $num,
                },
            ),
        ]
    };
}

use ActivityMeasure as M;
use FactKey::{Activity as A, Plain as P};

/// Every fixed condition key. `flow.<period>.min/max` is the one family with a variable part.
const KEYS: &[[(&str, KeyKind); 2]] = &[
    [
        ("chan.id", KeyKind::ChannelList),
        ("node.id", KeyKind::PubkeyList),
    ],
    [
        ("chan.initiator", KeyKind::Flag(Flag::Initiator)),
        ("chan.private", KeyKind::Flag(Flag::Private)),
    ],
    [
        ("chan.disabled", KeyKind::Flag(Flag::PeerDisabled)),
        (
            "onchain.synced_to_chain",
            KeyKind::Flag(Flag::SyncedToChain),
        ),
    ],
    [
        ("chan.activity_period", KeyKind::SectionParam),
        (
            "chan.activity_period_ignore_channel_age",
            KeyKind::SectionParam,
        ),
    ],
    [
        ("onchain.conf_target", KeyKind::SectionParam),
        ("activity.level", KeyKind::LevelList),
    ],
    bounds!(
        "chan.min_capacity",
        "chan.max_capacity",
        P(Fact::CapacitySat),
        Num::Count("sats")
    ),
    bounds!(
        "chan.min_ratio",
        "chan.max_ratio",
        P(Fact::Ratio),
        Num::Ratio
    ),
    bounds!(
        "chan.min_local_balance",
        "chan.max_local_balance",
        P(Fact::LocalBalanceSat),
        Num::Count("sats")
    ),
    bounds!(
        "chan.min_remote_balance",
        "chan.max_remote_balance",
        P(Fact::RemoteBalanceSat),
        Num::Count("sats")
    ),
    bounds!(
        "chan.min_base_fee_msat",
        "chan.max_base_fee_msat",
        P(Fact::PeerBaseFeeMsat),
        Num::Count("msat")
    ),
    bounds!(
        "chan.min_fee_ppm",
        "chan.max_fee_ppm",
        P(Fact::PeerFeePpm),
        Num::Count("ppm")
    ),
    bounds!(
        "chan.min_age",
        "chan.max_age",
        P(Fact::AgeBlocks),
        Num::Count("blocks")
    ),
    bounds!(
        "chan.min_age_days",
        "chan.max_age_days",
        P(Fact::AgeDays),
        Num::NonNegative("days")
    ),
    bounds!(
        "chan.min_htlcs_in",
        "chan.max_htlcs_in",
        A(M::HtlcsIn),
        Num::Count("HTLCs")
    ),
    bounds!(
        "chan.min_htlcs_out",
        "chan.max_htlcs_out",
        A(M::HtlcsOut),
        Num::Count("HTLCs")
    ),
    bounds!(
        "chan.min_sats_in",
        "chan.max_sats_in",
        A(M::SatsIn),
        Num::Count("sats")
    ),
    bounds!(
        "chan.min_sats_out",
        "chan.max_sats_out",
        A(M::SatsOut),
        Num::Count("sats")
    ),
    bounds!(
        "chan.min_htlcs_ratio",
        "chan.max_htlcs_ratio",
        A(M::HtlcsRatio),
        Num::Ratio
    ),
    bounds!(
        "chan.min_sats_ratio",
        "chan.max_sats_ratio",
        A(M::SatsRatio),
        Num::Ratio
    ),
    bounds!(
        "chan.min_count_pending_htlcs",
        "chan.max_count_pending_htlcs",
        P(Fact::CountPendingHtlcs),
        Num::Count("HTLCs")
    ),
    bounds!(
        "chan.min_next_pending_htlc_expiry",
        "chan.max_next_pending_htlc_expiry",
        P(Fact::NextPendingHtlcExpiry),
        Num::Signed("blocks")
    ),
    bounds!(
        "node.min_channels",
        "node.max_channels",
        P(Fact::NodeChannels),
        Num::Count("channels")
    ),
    bounds!(
        "node.min_capacity",
        "node.max_capacity",
        P(Fact::NodeCapacitySat),
        Num::Count("sats")
    ),
    bounds!(
        "node.min_shared_channels_active",
        "node.max_shared_channels_active",
        P(Fact::SharedChannelsActive),
        Num::Count("channels")
    ),
    bounds!(
        "node.min_shared_channels_inactive",
        "node.max_shared_channels_inactive",
        P(Fact::SharedChannelsInactive),
        Num::Count("channels")
    ),
    bounds!(
        "node.min_shared_capacity_active",
        "node.max_shared_capacity_active",
        P(Fact::SharedCapacityActiveSat),
        Num::Count("sats")
    ),
    bounds!(
        "node.min_shared_capacity_inactive",
        "node.max_shared_capacity_inactive",
        P(Fact::SharedCapacityInactiveSat),
        Num::Count("sats")
    ),
    bounds!(
        "node.min_shared_ratio",
        "node.max_shared_ratio",
        P(Fact::SharedRatio),
        Num::Ratio
    ),
    bounds!(
        "node.min_shared_ratio_active",
        "node.max_shared_ratio_active",
        P(Fact::SharedRatioActive),
        Num::Ratio
    ),
    bounds!(
        "node.min_shared_ratio_inactive",
        "node.max_shared_ratio_inactive",
        P(Fact::SharedRatioInactive),
        Num::Ratio
    ),
    bounds!(
        "onchain.min_fee_rate",
        "onchain.max_fee_rate",
        FactKey::OnchainFeeRate,
        Num::NonNegative("sat/vB")
    ),
    bounds!(
        "peer.fee_ratio.min",
        "peer.fee_ratio.max",
        P(Fact::PeerFeeRatio),
        Num::NonNegative("")
    ),
];

/// The namespaces whose keys are conditions; an unknown key in one of them is an error.
pub(crate) const CONDITION_NAMESPACES: &[&str] =
    &["chan", "node", "onchain", "activity", "flow", "peer"];

fn kind_of(key: &str) -> Option<KeyKind> {
    if let Some(kind) = KEYS
        .iter()
        .flatten()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
    {
        return Some(kind);
    }
    let (period, side) = key.strip_prefix("flow.")?.rsplit_once('.')?;
    let period_secs = values::parse_duration(period)?;
    Some(KeyKind::Bound {
        fact: P(Fact::FlowSat { period_secs }),
        min: match side {
            "min" => true,
            "max" => false,
            _ => return None,
        },
        num: Num::Count("sats"),
    })
}

/// Reads the section-level condition parameters from the section's keys.
pub(crate) fn section_params(
    entries: &[(&str, &str, u32)],
    ctx: &mut Ctx<'_>,
) -> (Option<ActivityWindow>, u32) {
    let find = |name: &str| entries.iter().find(|(k, _, _)| *k == name).copied();
    let ignore_channel_age =
        find("chan.activity_period_ignore_channel_age").and_then(|(key, value, line)| {
            ctx.note(line, Some(key), NoteKind::IgnoreChannelAgeMeaning);
            values::parse_bool(value).or_else(|| {
                ctx.error(line, Some(key), ErrorKind::invalid("true or false", value));
                None
            })
        });
    let window = find("chan.activity_period").and_then(|(key, value, line)| {
        match values::parse_duration(value) {
            Some(period_secs) => Some(ActivityWindow {
                period_secs,
                ignore_channel_age: ignore_channel_age.unwrap_or(false),
                line,
            }),
            None => {
                ctx.error(line, Some(key), ErrorKind::invalid(values::DURATION, value));
                None
            }
        }
    });
    let conf_target = match find("onchain.conf_target") {
        None => DEFAULT_CONF_TARGET,
        Some((key, value, line)) => match values::parse_int(value)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v >= 1)
        {
            // The node's wallet refuses targets below 2; charge-lnd asks for 2 then too.
            Some(target) => target.max(2),
            None => {
                ctx.error(
                    line,
                    Some(key),
                    ErrorKind::invalid("a whole number of blocks (1 or more)", value),
                );
                DEFAULT_CONF_TARGET
            }
        },
    };
    (window, conf_target)
}

/// Parses one key of a known condition namespace. `Ok(None)` for keys that are not conditions
/// of their own (section parameters) or that are ignored (activity keys without a period).
pub(crate) fn parse_condition(
    key: &str,
    value: &str,
    line: u32,
    window: Option<&ActivityWindow>,
    conf_target: u32,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Condition>, ErrorKind> {
    let Some(kind) = kind_of(key) else {
        let namespace = key.split('.').next().unwrap_or_default().to_owned();
        return Err(ErrorKind::UnknownKey {
            namespace,
            suggestion: suggest(key),
        });
    };
    let test = match kind {
        KeyKind::SectionParam => return Ok(None),
        KeyKind::Flag(flag) => {
            if flag == Flag::PeerDisabled {
                ctx.note(line, Some(key), NoteKind::ChanDisabledEvaluated);
            }
            let expected = values::parse_bool(value)
                .ok_or_else(|| ErrorKind::invalid("true or false", value))?;
            Test::Flag { flag, expected }
        }
        KeyKind::ChannelList => Test::ChannelIn(read_list(key, value, line, ctx, |item| {
            values::parse_channel_id(item).ok_or(values::CHANNEL_ID)
        })?),
        KeyKind::PubkeyList => Test::PeerIn(read_list(key, value, line, ctx, |item| {
            values::parse_pubkey(item).ok_or(values::PUBKEY)
        })?),
        KeyKind::LevelList => {
            let (items, _) = values::split_list(value);
            let levels = items
                .iter()
                .map(|item| ActivityLevel::parse(item))
                .collect::<Option<BTreeSet<_>>>()
                .filter(|levels| !levels.is_empty())
                .ok_or_else(|| {
                    ErrorKind::invalid(
                        "a list of activity levels (inactive, low, medium, high)",
                        value,
                    )
                })?;
            Test::ActivityLevelIn(levels)
        }
        KeyKind::Bound { fact, min, num } => {
            let bound = num.parse(value)?;
            let fact = match fact {
                FactKey::Plain(fact) => fact,
                FactKey::OnchainFeeRate => Fact::OnchainFeeRate { conf_target },
                FactKey::Activity(measure) => match window {
                    Some(window) => Fact::Activity {
                        period_secs: window.period_secs,
                        measure,
                    },
                    None => {
                        ctx.note(line, Some(key), NoteKind::ActivityWithoutPeriod);
                        return Ok(None);
                    }
                },
            };
            if min {
                Test::AtLeast { fact, bound }
            } else {
                Test::AtMost { fact, bound }
            }
        }
    };
    Ok(Some(Condition {
        key: key.to_owned(),
        line,
        test,
    }))
}

/// A list of ids inline and/or in `file://` lists (one or more per line, comma separated, `#`
/// comments; a relative path is relative to the config file). An invalid entry is an error,
/// where charge-lnd drops it with a warning: a typo in a friends list must not silently give
/// a friend the stranger's fee.
fn read_list<T: Ord>(
    key: &str,
    value: &str,
    line: u32,
    ctx: &mut Ctx<'_>,
    parse: impl Fn(&str) -> Result<T, &'static str>,
) -> Result<BTreeSet<T>, ErrorKind> {
    let (items, line_break_separator) = values::split_list(value);
    if line_break_separator {
        ctx.note(line, Some(key), NoteKind::LineBreakSeparator);
    }
    // charge-lnd parses every comma-separated part of a chan.id as an id, an empty one too.
    if key == "chan.id" && !items.is_empty() && value.split(',').any(|part| part.trim().is_empty())
    {
        ctx.note(line, Some(key), NoteKind::EmptyChannelIdEntry);
    }
    let mut set = BTreeSet::new();
    let mut first_error = None;
    for item in &items {
        if let Some(path) = item.strip_prefix("file://") {
            let path = ctx.resolve_path(Path::new(path), line, key);
            read_list_file(key, &path, line, ctx, &parse, &mut set);
            ctx.list_files.insert(path);
            continue;
        }
        if key == "node.id" && item.bytes().any(|b| b.is_ascii_uppercase()) {
            ctx.note(line, Some(key), NoteKind::PubkeyCase);
        }
        match parse(item) {
            Ok(id) => {
                set.insert(id);
            }
            Err(expected) => {
                first_error.get_or_insert_with(|| ErrorKind::invalid(expected, item));
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    if items.is_empty() {
        let expected = if key == "node.id" {
            values::PUBKEY
        } else {
            values::CHANNEL_ID
        };
        return Err(ErrorKind::invalid(
            &format!("at least one entry: {expected}"),
            value,
        ));
    }
    Ok(set)
}

fn read_list_file<T: Ord>(
    key: &str,
    path: &Path,
    line: u32,
    ctx: &mut Ctx<'_>,
    parse: &impl Fn(&str) -> Result<T, &'static str>,
    set: &mut BTreeSet<T>,
) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            ctx.error(
                line,
                Some(key),
                ErrorKind::Read {
                    path: path.to_path_buf(),
                    detail: error.to_string(),
                },
            );
            return;
        }
    };
    for (index, list_line) in text.lines().enumerate() {
        let list_line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let (content, comment) = list_line.split_once('#').unwrap_or((list_line, ""));
        // charge-lnd splits at commas before it takes comments off, so an id after a comma
        // in a comment (`# retired, 02ab…`) counted there.
        let hidden = comment
            .split(',')
            .skip(1)
            .filter_map(|entry| entry.split('#').next())
            .filter(|entry| parse(entry.trim()).is_ok())
            .count();
        if hidden > 0 {
            ctx.note(
                line,
                Some(key),
                NoteKind::CommentHidesEntries {
                    list: path.to_path_buf(),
                    list_line: list_line_no,
                    entries: hidden,
                },
            );
        }
        for item in content.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match parse(item) {
                Ok(id) => {
                    set.insert(id);
                }
                Err(expected) => ctx.error_in(
                    path,
                    list_line_no,
                    Some(key),
                    ErrorKind::invalid(expected, item),
                ),
            }
        }
    }
}

/// The closest known key of the same namespace, for "did you mean".
fn suggest(key: &str) -> Option<String> {
    let namespace = key.split('.').next()?;
    closest(
        key,
        KEYS.iter()
            .flatten()
            .map(|(k, _)| *k)
            .filter(|k| k.split('.').next() == Some(namespace)),
    )
}

/// The candidate within a few typos of `key`, if any.
pub(crate) fn closest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Notes for `min_*`/`max_*` pairs that no value can satisfy and for activity keys.
pub(crate) fn empty_ranges(conditions: &[Condition]) -> Vec<(u32, String, String)> {
    let mut found = Vec::new();
    for low in conditions {
        let Test::AtLeast { fact, bound: min } = low.test else {
            continue;
        };
        for high in conditions {
            if let Test::AtMost {
                fact: f,
                bound: max,
            } = high.test
                && f == fact
                && min > max
            {
                found.push((low.line, low.key.clone(), high.key.clone()));
            }
        }
    }
    found
}

pub(crate) fn is_condition_namespace(namespace: &str) -> bool {
    CONDITION_NAMESPACES.contains(&namespace)
}

/// A value for `fact`, `Ok(None)` when it cannot be computed for this channel.
fn fact_value(
    fact: Fact,
    input: &MatchInput,
    at: &dyn Fn() -> Location,
) -> Result<Option<f64>, MatchError> {
    let channel = &input.channel;
    let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    let count = |n: u64| Some(n as f64);
    let shared = |active: bool| {
        input
            .shared_channels
            .iter()
            .filter(move |c| c.active == active)
    };
    let shared_total = |active: bool| {
        shared(active)
            .map(|c| c.local_sat + c.remote_sat)
            .sum::<u64>()
    };
    let shared_local = |active: bool| shared(active).map(|c| c.local_sat).sum::<u64>();
    Ok(match fact {
        Fact::CapacitySat => count(channel.capacity_sat),
        Fact::Ratio => {
            let local = channel.local_total_sat();
            ratio(local, local + channel.remote_total_sat())
        }
        Fact::LocalBalanceSat => count(channel.local_total_sat()),
        Fact::RemoteBalanceSat => count(channel.remote_total_sat()),
        Fact::PeerBaseFeeMsat => channel.peer_policy.map(|p| f64::from(p.base_fee_msat)),
        Fact::PeerFeePpm => channel.peer_policy.map(|p| f64::from(p.fee_ppm)),
        Fact::AgeBlocks => Some(f64::from(age_blocks(input))),
        Fact::AgeDays => Some(f64::from(age_blocks(input)) * SECONDS_PER_BLOCK as f64 / 86_400.0),
        Fact::CountPendingHtlcs => count(channel.pending_htlcs.len() as u64),
        Fact::NextPendingHtlcExpiry => channel
            .pending_htlcs
            .iter()
            .map(|h| h.expiry_height)
            .min()
            .map(|expiry| f64::from(expiry) - f64::from(input.chain.block_height)),
        Fact::Activity {
            period_secs,
            measure,
        } => {
            let counts = activity(input, period_secs, at)?;
            match measure {
                ActivityMeasure::HtlcsIn => count(counts.htlcs_in),
                ActivityMeasure::HtlcsOut => count(counts.htlcs_out),
                ActivityMeasure::SatsIn => count(counts.sats_in),
                ActivityMeasure::SatsOut => count(counts.sats_out),
                ActivityMeasure::HtlcsRatio => {
                    ratio(counts.htlcs_in, counts.htlcs_in + counts.htlcs_out)
                }
                ActivityMeasure::SatsRatio => {
                    ratio(counts.sats_in, counts.sats_in + counts.sats_out)
                }
            }
        }
        Fact::NodeChannels => input.peer.public_channels.map(f64::from),
        Fact::NodeCapacitySat => input.peer.public_capacity_sat.and_then(count),
        Fact::SharedChannelsActive => count(shared(true).count() as u64),
        Fact::SharedChannelsInactive => count(shared(false).count() as u64),
        Fact::SharedCapacityActiveSat => count(shared_total(true)),
        Fact::SharedCapacityInactiveSat => count(shared_total(false)),
        Fact::SharedRatio => ratio(
            shared_local(true) + shared_local(false),
            shared_total(true) + shared_total(false),
        ),
        Fact::SharedRatioActive => ratio(shared_local(true), shared_total(true)),
        Fact::SharedRatioInactive => ratio(shared_local(false), shared_total(false)),
        Fact::OnchainFeeRate { conf_target } => Some(
            *input
                .chain
                .fee_rate_sat_vb
                .get(&conf_target)
                .ok_or_else(|| MatchError::MissingFeeEstimate {
                    conf_target,
                    at: at(),
                })?,
        ),
        Fact::FlowSat { period_secs } => {
            let counts = activity(input, period_secs, at)?;
            count(counts.sats_in + counts.sats_out)
        }
        Fact::PeerFeeRatio => channel
            .peer_policy
            .filter(|p| p.fee_ppm > 0)
            .map(|p| f64::from(channel.local_fee_ppm) / f64::from(p.fee_ppm)),
    })
}

fn activity<'a>(
    input: &'a MatchInput,
    period_secs: u64,
    at: &dyn Fn() -> Location,
) -> Result<&'a super::input::ActivityCounts, MatchError> {
    input
        .activity
        .get(&period_secs)
        .ok_or_else(|| MatchError::MissingActivity {
            period_secs,
            at: at(),
        })
}

/// Blocks since the funding transaction confirmed, from the block height in the short
/// channel id (as charge-lnd computes it).
pub(crate) fn age_blocks(input: &MatchInput) -> u32 {
    let funding_block = u32::try_from(input.channel.id >> 40).unwrap_or(u32::MAX);
    input.chain.block_height.saturating_sub(funding_block)
}

impl Condition {
    /// Whether the condition holds for `input`; `file` only locates errors.
    pub fn holds(&self, input: &MatchInput, file: &Path) -> Result<bool, MatchError> {
        let at = || Location {
            file: file.to_path_buf(),
            line: self.line,
            key: Some(self.key.clone()),
        };
        Ok(match &self.test {
            Test::ChannelIn(ids) => ids.contains(&input.channel.id),
            Test::PeerIn(keys) => keys.contains(&input.channel.peer_pubkey.to_ascii_lowercase()),
            Test::Flag { flag, expected } => {
                let actual = match flag {
                    Flag::Initiator => Some(input.channel.initiator),
                    Flag::Private => Some(input.channel.private),
                    Flag::PeerDisabled => input.channel.peer_policy.map(|p| p.disabled),
                    Flag::SyncedToChain => Some(input.chain.synced_to_chain),
                };
                actual == Some(*expected)
            }
            Test::AtLeast { fact, bound } => {
                fact_value(*fact, input, &at)?.is_some_and(|v| v >= *bound)
            }
            Test::AtMost { fact, bound } => {
                fact_value(*fact, input, &at)?.is_some_and(|v| v <= *bound)
            }
            Test::ActivityLevelIn(levels) => {
                let counts = activity(input, ACTIVITY_LEVEL_PERIOD_SECS, &at)?;
                ActivityLevel::of(counts.sats_in + counts.sats_out, input.channel.capacity_sat)
                    .is_some_and(|level| levels.contains(&level))
            }
        })
    }

    /// The activity period this condition needs counts for, if any.
    pub fn activity_period(&self) -> Option<u64> {
        match self.test {
            Test::AtLeast { fact, .. } | Test::AtMost { fact, .. } => match fact {
                Fact::Activity { period_secs, .. } | Fact::FlowSat { period_secs } => {
                    Some(period_secs)
                }
                _ => None,
            },
            Test::ActivityLevelIn(_) => Some(ACTIVITY_LEVEL_PERIOD_SECS),
            _ => None,
        }
    }

    /// Whether the condition needs the peer's public graph totals (`node.*_channels`,
    /// `node.*_capacity`), which cost one node call per peer to fetch.
    pub fn needs_peer_graph(&self) -> bool {
        matches!(
            self.test,
            Test::AtLeast {
                fact: Fact::NodeChannels | Fact::NodeCapacitySat,
                ..
            } | Test::AtMost {
                fact: Fact::NodeChannels | Fact::NodeCapacitySat,
                ..
            }
        )
    }

    /// Whether the condition reads `onchain.synced_to_chain`.
    pub fn reads_chain_sync(&self) -> bool {
        matches!(
            self.test,
            Test::Flag {
                flag: Flag::SyncedToChain,
                ..
            }
        )
    }

    /// The confirmation target this condition needs a fee estimate for, if any.
    pub fn conf_target(&self) -> Option<u32> {
        match self.test {
            Test::AtLeast {
                fact: Fact::OnchainFeeRate { conf_target },
                ..
            }
            | Test::AtMost {
                fact: Fact::OnchainFeeRate { conf_target },
                ..
            } => Some(conf_target),
            _ => None,
        }
    }

    /// Whether this is a charge-lnd activity condition, which only counts for channels at
    /// least as old as the period (see [`ActivityWindow`]).
    pub fn is_activity(&self) -> bool {
        matches!(
            self.test,
            Test::AtLeast {
                fact: Fact::Activity { .. },
                ..
            } | Test::AtMost {
                fact: Fact::Activity { .. },
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(
            suggest("chan.min_ration").as_deref(),
            Some("chan.min_ratio")
        );
        assert_eq!(
            suggest("node.max_chanels").as_deref(),
            Some("node.max_channels")
        );
        assert_eq!(suggest("chan.colour"), None);
    }

    #[test]
    fn flow_keys_take_any_period() {
        assert!(matches!(
            kind_of("flow.7d.min"),
            Some(KeyKind::Bound {
                fact: P(Fact::FlowSat {
                    period_secs: 604_800
                }),
                min: true,
                ..
            })
        ));
        assert!(kind_of("flow.24h.max").is_some());
        assert!(kind_of("flow.7d.avg").is_none());
        assert!(kind_of("flow.week.min").is_none());
    }

    #[test]
    fn activity_levels_by_turnover() {
        assert_eq!(
            ActivityLevel::of(0, 1_000_000),
            Some(ActivityLevel::Inactive)
        );
        assert_eq!(
            ActivityLevel::of(10_000, 1_000_000),
            Some(ActivityLevel::Low)
        );
        assert_eq!(
            ActivityLevel::of(10_001, 1_000_000),
            Some(ActivityLevel::Medium)
        );
        assert_eq!(
            ActivityLevel::of(100_000, 1_000_000),
            Some(ActivityLevel::Medium)
        );
        assert_eq!(
            ActivityLevel::of(100_001, 1_000_000),
            Some(ActivityLevel::High)
        );
        assert_eq!(ActivityLevel::of(5, 0), None);
    }
}
