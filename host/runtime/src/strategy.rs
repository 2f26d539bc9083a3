//! A validated, compiled strategy and the sandboxed call into it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lnpolicy_core::{Channel, Decision, Param, ParamKind, ParamSpec, ParamValue, StrategyInfo};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};

use crate::bindings::{FeeStrategyPre, wit};
use crate::cache::CacheOutcome;
use crate::limits::SandboxLimits;
use crate::sandbox::{
    BudgetExceeded, CallSetup, GuestLog, GuestState, HistorySource, NoHistory, one_line,
    one_line_within, truncate_utf8,
};
use crate::{CallError, EPOCH_TICK, LoadError};

/// A strategy component that passed validation, ready to be called.
/// Cheap to share: every call gets a fresh store and instance, so no state
/// leaks between cycles and a trap never poisons the next call.
pub struct Strategy {
    sha256: String,
    contract_version: String,
    info: StrategyInfo,
    cache: CacheOutcome,
    pre: FeeStrategyPre<GuestState>,
    engine: Engine,
    limits: Arc<SandboxLimits>,
    /// Failures and quarantine belong to this loaded version, so a cycle that pinned it
    /// sees its quarantine even after the folder's file was replaced.
    pub(crate) health: Mutex<Health>,
}

/// Failed cycles in a row, and whether the registry stopped calling the version; one lock,
/// so that they agree even when calls finish side by side. A cycle is the calls made at one
/// `DecideCall::now` (one per section that runs the strategy): it failed if any of them
/// failed, whatever their order, and counts once.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Health {
    pub(crate) quarantined: bool,
    /// Failed cycles in a row before the current one.
    streak: u32,
    /// The current cycle's time, and whether a call in it failed.
    cycle: Option<u64>,
    cycle_failed: bool,
}

impl Health {
    /// Counts one call of the cycle at `now`.
    pub(crate) fn record(&mut self, now: u64, failed: bool) {
        if self.cycle != Some(now) {
            self.streak = self.failures();
            self.cycle = Some(now);
            self.cycle_failed = false;
        }
        self.cycle_failed |= failed;
    }

    /// Failed cycles in a row, the current one included once a call in it failed; a cycle
    /// whose calls all succeeded so far ends the streak.
    pub(crate) fn failures(&self) -> u32 {
        if self.cycle_failed {
            self.streak.saturating_add(1)
        } else {
            0
        }
    }
}

/// One batched `decide` call.
pub struct DecideCall<'a> {
    /// Parameters, already checked against the schema and with defaults filled.
    pub params: &'a [Param],
    pub channels: &'a [Channel],
    /// Unix seconds (virtual in backtests); the guest's clocks show this.
    pub now: u64,
    pub history: Arc<dyn HistorySource>,
    /// This strategy's persistent state as stored before the call.
    pub state: BTreeMap<String, Vec<u8>>,
}

/// What a successful call produced.
#[derive(Debug)]
pub struct DecideOutput {
    /// One raw decision per channel, in the order of the batch.
    pub decisions: Vec<Decision>,
    /// State writes (`None` = delete) to persist now that the call succeeded.
    pub state_writes: Vec<(String, Option<Vec<u8>>)>,
    pub logs: Vec<GuestLog>,
    /// What the host cut from the output (long reasons, dropped log lines).
    pub truncations: Vec<String>,
    pub fuel_used: u64,
}

impl Strategy {
    pub(crate) fn validate(
        engine: &Engine,
        linker: &Linker<GuestState>,
        limits: Arc<SandboxLimits>,
        bytes: &[u8],
        load: impl FnOnce(&str) -> Result<(Component, CacheOutcome), LoadError>,
    ) -> Result<Strategy, LoadError> {
        if bytes.len() > limits.max_component_bytes {
            return Err(LoadError::TooLarge {
                size: bytes.len(),
                max: limits.max_component_bytes,
            });
        }
        match bytes.get(..8) {
            Some([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]) => {}
            Some([0x00, 0x61, 0x73, 0x6d, ..]) => return Err(LoadError::CoreModule),
            _ => {
                return Err(LoadError::NotWasm {
                    first_bytes: bytes.iter().take(8).map(|b| format!("{b:02x}")).collect(),
                });
            }
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, cache) = load(&sha256)?;
        let contract = crate::contract::check_component(engine, &component)?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|err| LoadError::Link(crate::error_chain(&err)))?;
        let pre = FeeStrategyPre::new(instance_pre)
            .map_err(|err| LoadError::Link(crate::error_chain(&err)))?;
        let mut strategy = Strategy {
            sha256,
            contract_version: contract.version,
            info: StrategyInfo {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                params: Vec::new(),
            },
            cache,
            pre,
            engine: engine.clone(),
            limits,
            health: Mutex::default(),
        };
        strategy.info = strategy.call_info().map_err(LoadError::Info)?;
        check_info(&strategy.info)?;
        escape_info(&mut strategy.info);
        Ok(strategy)
    }

    pub fn info(&self) -> &StrategyInfo {
        &self.info
    }

    /// Hex sha256 of the component bytes: what operators pin and share.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The contract version the component was built against.
    pub fn contract_version(&self) -> &str {
        &self.contract_version
    }

    /// Whether this load compiled the component or found it in the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache
    }

    fn store(&self, setup: CallSetup, fuel: u64, timeout: Duration) -> Store<GuestState> {
        let mut store = Store::new(&self.engine, GuestState::new(&self.limits, setup));
        store.limiter(|state| &mut state.limits);
        store.set_hostcall_fuel(self.limits.max_transfer_bytes);
        store
            .set_fuel(fuel)
            .expect("fuel is enabled on every engine the runtime builds");
        let ticks = timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store
    }

    fn call_info(&self) -> Result<StrategyInfo, CallError> {
        outside_tokio(|| self.call_info_here())
    }

    fn call_info_here(&self) -> Result<StrategyInfo, CallError> {
        let setup = CallSetup {
            now: 0,
            history: Arc::new(NoHistory),
            state: BTreeMap::new(),
            channels: BTreeSet::new(),
            seed: [0; 32],
        };
        let mut store = self.store(setup, self.limits.info_fuel, self.limits.timeout_base);
        let instance = self.pre.instantiate(&mut store).map_err(|err| {
            classify(err, &store, self.limits.info_fuel, self.limits.timeout_base)
        })?;
        instance
            .lnpolicy_strategy_strategy()
            .call_info(&mut store)
            .map(Into::into)
            .map_err(|err| classify(err, &store, self.limits.info_fuel, self.limits.timeout_base))
    }

    /// Runs the guest on one batch. Any failure leaves every channel of the
    /// batch without a decision; the caller keeps their fees unchanged.
    pub fn decide(&self, call: DecideCall<'_>) -> Result<DecideOutput, CallError> {
        outside_tokio(|| self.decide_here(call))
    }

    fn decide_here(&self, call: DecideCall<'_>) -> Result<DecideOutput, CallError> {
        let fuel = self.limits.fuel_for(call.channels.len());
        let timeout = self.limits.timeout_for(call.channels.len());
        let setup = CallSetup {
            now: call.now,
            history: call.history,
            state: call.state,
            channels: call.channels.iter().map(|channel| channel.id).collect(),
            seed: seed_for(&self.sha256, call.now, call.channels),
        };
        let mut store = self.store(setup, fuel, timeout);
        let params: Vec<wit::Param> = call.params.iter().map(Into::into).collect();
        let views: Vec<wit::ChannelView> = call.channels.iter().map(Into::into).collect();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|err| classify(err, &store, fuel, timeout))?;
        let result = instance
            .lnpolicy_strategy_strategy()
            .call_decide(&mut store, &params, &views);
        let raw = match result {
            Err(err) => return Err(classify(err, &store, fuel, timeout)),
            Ok(Err(message)) => {
                return Err(CallError::GuestError(one_line_within(
                    &message,
                    self.limits.max_error_bytes,
                )));
            }
            Ok(Ok(decisions)) => decisions,
        };
        let fuel_used = fuel - store.get_fuel().unwrap_or(0);
        let state = store.into_data();
        let mut truncations = Vec::new();
        let decisions = order_decisions(
            call.channels,
            raw,
            self.limits.max_reason_bytes,
            &mut truncations,
        )?;
        if state.effects.dropped_log_lines > 0 {
            truncations.push(format!(
                "{} log lines dropped over the {}-line limit",
                state.effects.dropped_log_lines, self.limits.max_log_lines
            ));
        }
        Ok(DecideOutput {
            decisions,
            state_writes: state.effects.state_writes.into_iter().collect(),
            logs: state.effects.logs,
            truncations,
            fuel_used,
        })
    }
}

/// Checks the batch shape (exactly one decision per channel) and returns the
/// decisions in batch order. A guest that gets the shape wrong is not trusted
/// for any channel of the batch.
fn order_decisions(
    channels: &[Channel],
    raw: Vec<wit::Decision>,
    max_reason_bytes: usize,
    truncations: &mut Vec<String>,
) -> Result<Vec<Decision>, CallError> {
    if raw.len() != channels.len() {
        return Err(CallError::Malformed(format!(
            "returned {} decisions for {} channels",
            raw.len(),
            channels.len()
        )));
    }
    let index: HashMap<u64, usize> = channels
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, i))
        .collect();
    let mut slots: Vec<Option<Decision>> = vec![None; channels.len()];
    // One line for all cut reasons, however many channels: the audit trail gets an event
    // for every cycle of a guest that always writes too much.
    let (mut cut, mut longest, mut first_cut) = (0usize, 0usize, None);
    for decision in raw {
        let id = decision.channel_id;
        let Some(&slot) = index.get(&id) else {
            return Err(CallError::Malformed(format!(
                "decision for channel {id}, which is not in the batch"
            )));
        };
        if slots[slot].is_some() {
            return Err(CallError::Malformed(format!("channel {id} decided twice")));
        }
        let mut decision: Decision = decision.into();
        let written = decision.reason.len();
        decision.reason = truncate_utf8(decision.reason, max_reason_bytes);
        if decision.reason.chars().any(char::is_control) {
            decision.reason = one_line(&decision.reason);
        }
        if written > max_reason_bytes || decision.reason.len() > max_reason_bytes {
            cut += 1;
            longest = longest.max(written.max(decision.reason.len()));
            first_cut.get_or_insert(id);
            decision.reason = truncate_utf8(decision.reason, max_reason_bytes);
        }
        slots[slot] = Some(decision);
    }
    if let Some(first) = first_cut {
        truncations.push(format!(
            "reasons of {cut} channel(s) (the first {first}) cut to {max_reason_bytes} bytes, \
             the longest from {longest}"
        ));
    }
    Ok(slots.into_iter().flatten().collect())
}

fn classify(
    err: wasmtime::Error,
    store: &Store<GuestState>,
    fuel: u64,
    timeout: Duration,
) -> CallError {
    if let Some(budget) = err.downcast_ref::<BudgetExceeded>() {
        return CallError::BudgetExceeded(budget.0.clone());
    }
    if err
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return CallError::Host(crate::error_chain(&err));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { fuel },
        Some(Trap::Interrupt) => CallError::Timeout { after: timeout },
        _ => CallError::Trap {
            message: trap_message(&err, store.data().max_error_bytes()),
            stderr: store.data().stderr(),
        },
    }
}

/// The trap's cause first, then what led to it (the wasm backtrace, whose function names the
/// guest chose and which can be of any length), cut to `max` bytes: the cause always shows.
/// Each part is formatted into at most `max` bytes, so a name section of megabytes costs no
/// more than that, and control characters are escaped: the message goes to logs and terminals.
fn trap_message(err: &wasmtime::Error, max: usize) -> String {
    use std::fmt::Write;
    let mut parts: Vec<String> = err
        .chain()
        .map(|cause| {
            let mut part = Capped::new(max);
            // A full buffer ends the formatting early, which is the point: the error is ignored.
            let _ = write!(part, "{cause}");
            one_line(&part.0)
        })
        .collect();
    parts.reverse();
    truncate_utf8(parts.join(": "), max)
}

/// A `fmt::Write` that keeps at most its capacity and then refuses more.
struct Capped(String, usize);

impl Capped {
    fn new(capacity: usize) -> Capped {
        Capped(String::new(), capacity)
    }
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.1 - self.0.len();
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&s[..end]);
        Err(std::fmt::Error)
    }
}

/// The free texts of a checked `info()` with their control characters escaped: `strategy
/// inspect`, config errors and load events print them.
fn escape_info(info: &mut StrategyInfo) {
    info.version = one_line(&info.version);
    info.description = one_line_within(&info.description, MAX_DESCRIPTION_BYTES);
    for param in &mut info.params {
        param.description = one_line_within(&param.description, MAX_DESCRIPTION_BYTES);
    }
}

fn check_info(info: &StrategyInfo) -> Result<(), LoadError> {
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if !valid_name(&info.name) {
        return Err(LoadError::BadInfo(format!(
            "name {:?} must be 1-64 characters of a-z, 0-9, _ or -",
            shown(&info.name)
        )));
    }
    if info.version.is_empty() || info.version.len() > 64 {
        return Err(LoadError::BadInfo(format!(
            "version {:?} must be 1-64 characters",
            truncate_utf8(info.version.clone(), 80)
        )));
    }
    if info.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(LoadError::BadInfo(format!(
            "description is {} bytes, over the {MAX_DESCRIPTION_BYTES}-byte limit",
            info.description.len()
        )));
    }
    if info.params.len() > MAX_PARAMS {
        return Err(LoadError::BadInfo(format!(
            "{} parameters declared, over the limit of {MAX_PARAMS}",
            info.params.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for param in &info.params {
        if !valid_name(&param.name) {
            return Err(LoadError::BadInfo(format!(
                "parameter name {:?} must be 1-64 characters of a-z, 0-9, _ or -",
                shown(&param.name)
            )));
        }
        if !seen.insert(param.name.as_str()) {
            return Err(LoadError::BadInfo(format!(
                "parameter {} declared twice",
                param.name
            )));
        }
        check_param_spec(param).map_err(|problem| {
            LoadError::BadInfo(format!("parameter {}: {problem}", param.name))
        })?;
    }
    Ok(())
}

/// A guest's text as a load error quotes it: its first 80 bytes, so a name of megabytes
/// makes a short message (the caller's `{:?}` escapes it).
fn shown(text: &str) -> String {
    truncate_utf8(text.to_owned(), 80)
}

/// Longest strategy description accepted, bytes.
const MAX_DESCRIPTION_BYTES: usize = 4096;
/// Longest default of a text parameter, bytes.
const MAX_TEXT_DEFAULT_BYTES: usize = 1024;
/// Most parameters a strategy may declare.
const MAX_PARAMS: usize = 128;

/// A parameter's declaration must be one the config reader can honour: bounds that are
/// numbers (±∞ is no bound), in order, on a numeric kind, and a default of its own kind
/// within them. A default the strategy cannot read would fail every call instead of the load.
fn check_param_spec(param: &ParamSpec) -> Result<(), String> {
    if param.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "description over the {MAX_DESCRIPTION_BYTES}-byte limit"
        ));
    }
    let numeric = matches!(
        param.kind,
        ParamKind::Integer | ParamKind::Float | ParamKind::ConfTarget
    );
    for (which, bound) in [("min", param.min), ("max", param.max)] {
        match bound {
            Some(_) if !numeric => return Err(format!("a {which} on a non-numeric kind")),
            Some(value) if value.is_nan() => return Err(format!("{which} is not a number")),
            _ => {}
        }
    }
    if let (Some(min), Some(max)) = (param.min, param.max)
        && min > max
    {
        return Err(format!("min {min} is above max {max}"));
    }
    let Some(default) = param.default.value() else {
        return Ok(());
    };
    let number = match (param.kind, default) {
        (ParamKind::ConfTarget, ParamValue::Integer(blocks)) if u32::try_from(*blocks).is_err() => {
            return Err(format!("default {blocks} is not a number of blocks"));
        }
        (ParamKind::Integer | ParamKind::ConfTarget, ParamValue::Integer(i)) => Some(*i as f64),
        (ParamKind::Float, ParamValue::Integer(i)) => Some(*i as f64),
        (ParamKind::Float, ParamValue::Float(f)) if f.is_finite() => Some(*f),
        (ParamKind::Text, ParamValue::Text(text)) if text.len() > MAX_TEXT_DEFAULT_BYTES => {
            return Err(format!(
                "default is {} bytes, over the {MAX_TEXT_DEFAULT_BYTES}-byte limit",
                text.len()
            ));
        }
        // Shown by `strategy inspect` and `--check`, and written into configs: one line of
        // text, as a config value is.
        (ParamKind::Text, ParamValue::Text(text)) if text.chars().any(char::is_control) => {
            return Err(format!(
                "default {:?} holds a control character",
                shown(text)
            ));
        }
        (ParamKind::Boolean, ParamValue::Boolean(_)) | (ParamKind::Text, ParamValue::Text(_)) => {
            None
        }
        (kind, ParamValue::Text(text)) => {
            return Err(format!(
                "default {:?} is not a valid {kind:?} value",
                shown(text)
            ));
        }
        (kind, value) => {
            return Err(format!("default {value:?} is not a valid {kind:?} value"));
        }
    };
    if let Some(number) = number
        && (param.min.is_some_and(|min| number < min) || param.max.is_some_and(|max| number > max))
    {
        return Err(format!("default {number} is outside its own bounds"));
    }
    Ok(())
}

/// Runs a guest call where wasmtime-wasi's synchronous host functions can work. They block
/// on a future (a guest writing to stderr does, and a Rust guest's panic message is such a
/// write): on a thread inside a tokio runtime that panics the whole host, so a call made from
/// one (the daemon, `lnpolicy -c`, backtests) runs on a thread of its own.
fn outside_tokio<T: Send>(
    call: impl FnOnce() -> Result<T, CallError> + Send,
) -> Result<T, CallError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return call();
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("lnpolicy-guest".into())
            .spawn_scoped(scope, call)
            .map_err(|err| CallError::Host(format!("starting a thread for the call: {err}")))?;
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The seed of a call's randomness: reproducible runs, without two strategies, two batches
/// of one strategy in a cycle (two sections, two arms) or two seeded markets of a backtest
/// (whose channel ids differ) sharing a stream.
fn seed_for(sha256: &str, now: u64, channels: &[Channel]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(sha256.as_bytes());
    hasher.update(now.to_le_bytes());
    for channel in channels {
        hasher.update(channel.id.to_le_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{ParamDefault, ParamKind, ParamSpec, ParamValue, StrategyInfo};

    use super::{Health, check_info};

    fn info_with(param: ParamSpec) -> StrategyInfo {
        StrategyInfo {
            name: "s".into(),
            version: "1".into(),
            description: String::new(),
            params: vec![param],
        }
    }

    fn spec(
        kind: ParamKind,
        default: ParamDefault,
        min: Option<f64>,
        max: Option<f64>,
    ) -> ParamSpec {
        ParamSpec {
            name: "p".into(),
            kind,
            description: String::new(),
            default,
            min,
            max,
        }
    }

    /// A part of megabytes (a guest's function names in a backtrace) is formatted into the
    /// limit, not copied whole, and a guest's newlines and escapes stay on one line.
    #[test]
    fn trap_messages_are_cut_while_formatting_and_escaped() {
        let huge = "n".repeat(8 << 20);
        let err = wasmtime::Error::msg("wasm trap: unreachable\nforged")
            .context(format!("backtrace: {huge}\u{1b}[2J"));
        let message = super::trap_message(&err, 1024);
        assert!(message.len() <= 1024, "{} bytes", message.len());
        assert!(message.starts_with("wasm trap: unreachable\\nforged: backtrace: nnn"));
        assert!(!message.chars().any(char::is_control), "{message}");
        let mut part = super::Capped::new(5);
        assert!(std::fmt::Write::write_str(&mut part, "abcdéf").is_err());
        assert_eq!(part.0, "abcd", "cut on a character boundary");
    }

    /// Each declaration the config reader could not honour is refused at load, naming the
    /// parameter; a sound one passes.
    #[test]
    fn parameter_declarations_are_checked_at_load() {
        let integer = |v: i64| ParamDefault::Value(ParamValue::Integer(v));
        let refused = [
            spec(
                ParamKind::Integer,
                ParamDefault::Value(ParamValue::Text("high".into())),
                None,
                None,
            ),
            spec(ParamKind::Integer, integer(5), Some(f64::NAN), None),
            spec(ParamKind::Integer, integer(5), Some(10.0), Some(1.0)),
            spec(ParamKind::Integer, integer(50), Some(0.0), Some(10.0)),
            spec(ParamKind::Boolean, ParamDefault::Optional, Some(0.0), None),
            spec(
                ParamKind::Float,
                ParamDefault::Value(ParamValue::Float(f64::INFINITY)),
                None,
                None,
            ),
            spec(ParamKind::ConfTarget, integer(-1), None, None),
            spec(
                ParamKind::Text,
                ParamDefault::Value(ParamValue::Text("x".repeat(2048))),
                None,
                None,
            ),
            spec(
                ParamKind::Text,
                ParamDefault::Value(ParamValue::Text("a\u{1b}[2Jb".into())),
                None,
                None,
            ),
        ];
        for param in refused {
            let error = check_info(&info_with(param.clone())).expect_err(&format!("{param:?}"));
            assert!(error.to_string().contains("parameter p: "), "{error}");
        }
        let sound = spec(ParamKind::Float, integer(5), Some(0.0), Some(10.0));
        assert!(check_info(&info_with(sound)).is_ok());
        let text = ParamDefault::Value(ParamValue::Text("weekly".into()));
        assert!(check_info(&info_with(spec(ParamKind::Text, text, None, None))).is_ok());
        let no_upper_bound = spec(ParamKind::Float, integer(5), Some(0.0), Some(f64::INFINITY));
        assert!(check_info(&info_with(no_upper_bound)).is_ok());
        let mut many = info_with(spec(ParamKind::Text, ParamDefault::Optional, None, None));
        many.params = (0..200)
            .map(|i| ParamSpec {
                name: format!("p{i}"),
                ..many.params[0].clone()
            })
            .collect();
        assert!(
            check_info(&many)
                .unwrap_err()
                .to_string()
                .contains("200 parameters")
        );
    }

    /// A guest's name of megabytes is quoted by its first 80 bytes, so one bad `info()` does
    /// not make a message (logged, stored as an event) of megabytes.
    #[test]
    fn a_huge_name_makes_a_short_error() {
        let mut info = info_with(spec(ParamKind::Text, ParamDefault::Optional, None, None));
        info.name = "N".repeat(1 << 20);
        let error = check_info(&info).unwrap_err().to_string();
        assert!(error.len() < 300, "{} bytes", error.len());
        let mut info = info_with(spec(ParamKind::Text, ParamDefault::Optional, None, None));
        info.params[0].name = "\n".repeat(1 << 20);
        let error = check_info(&info).unwrap_err().to_string();
        assert!(error.len() < 300, "{} bytes", error.len());
        let mut info = info_with(spec(
            ParamKind::Integer,
            ParamDefault::Value(ParamValue::Text("9".repeat(1 << 20))),
            None,
            None,
        ));
        info.params[0].name = "p".into();
        let error = check_info(&info).unwrap_err().to_string();
        assert!(error.len() < 300, "{} bytes", error.len());
    }

    /// A cycle fails if any of its calls fails, whatever their order, and counts once.
    #[test]
    fn failures_count_cycles_whatever_the_order_of_their_calls() {
        let mut health = Health::default();
        for now in 1..=3 {
            health.record(now, false);
            health.record(now, true);
            health.record(now, true);
            assert_eq!(health.failures(), u32::try_from(now).unwrap());
        }
        health.record(4, false);
        assert_eq!(
            health.failures(),
            0,
            "a cycle without a failure ends the streak"
        );
        health.record(5, true);
        assert_eq!(health.failures(), 1);
    }
}
