//! Per-call guest state: the WASI context a guest gets (no files, network or
//! environment; a virtual clock; seeded randomness), the host imports, and
//! the budgets that bound host-side work, which fuel does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use lnpolicy_core::{ChannelId, FeeChange, FeePercentiles};
use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView};

use crate::bindings::{lnpolicy::strategy::host, wit};
use crate::limits::{GuestLimits, SandboxLimits};

/// Read-only history the host imports answer from: a snapshot taken for the
/// cycle, never a node client, so a guest cannot reach the node.
pub trait HistorySource: Send + Sync {
    /// Outbound policy changes of `channel` since `since` (unix seconds), oldest first.
    fn fee_history(&self, channel: ChannelId, since: u64) -> Vec<FeeChange>;
    /// What the peer's other counterparties charge toward it.
    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles>;
    /// The node's on-chain fee estimate (sat/vB) for `conf_target` blocks, fetched before
    /// the cycle for the targets its strategies' `conf-target` parameters name.
    fn chain_fee_rate(&self, conf_target: u32) -> Option<f64> {
        let _ = conf_target;
        None
    }
    /// What rebalancing has cost `channel` since `since` (unix seconds), msat.
    fn rebalance_cost_msat(&self, channel: ChannelId, since: u64) -> u64 {
        let _ = (channel, since);
        0
    }
}

/// A history with nothing in it (inspection, fixtures).
pub struct NoHistory;

impl HistorySource for NoHistory {
    fn fee_history(&self, _channel: ChannelId, _since: u64) -> Vec<FeeChange> {
        Vec::new()
    }
    fn competitor_fees(&self, _peer_pubkey: &str) -> Option<FeePercentiles> {
        None
    }
}

/// Severity of a guest's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestLogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a guest logged (already cut to the line limit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestLog {
    pub level: GuestLogLevel,
    pub message: String,
}

/// Raised from a host import to stop a guest that exceeded a budget.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BudgetExceeded(pub String);

/// What a guest did through the host imports during one call.
#[derive(Debug, Default)]
pub(crate) struct CallEffects {
    pub logs: Vec<GuestLog>,
    pub dropped_log_lines: u32,
    pub state_writes: BTreeMap<String, Option<Vec<u8>>>,
}

pub(crate) struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: GuestLimits,
    sandbox: SandboxLimits,
    now: u64,
    history: Arc<dyn HistorySource>,
    channels: BTreeSet<ChannelId>,
    state: BTreeMap<String, Vec<u8>>,
    state_bytes: usize,
    log_calls: u32,
    query_calls: u32,
    query_budget: u32,
    pub(crate) effects: CallEffects,
    stderr: TruncatingPipe,
}

/// Inputs for a fresh guest state.
pub(crate) struct CallSetup {
    pub now: u64,
    pub history: Arc<dyn HistorySource>,
    pub state: BTreeMap<String, Vec<u8>>,
    /// The call's channels: `rebalance-cost` answers for these only.
    pub channels: BTreeSet<ChannelId>,
    /// Seed for the guest's `wasi:random`, so runs are reproducible.
    pub seed: [u8; 32],
}

impl GuestState {
    pub(crate) fn new(sandbox: &SandboxLimits, setup: CallSetup) -> Self {
        let stderr = TruncatingPipe::new(sandbox.max_stderr_bytes);
        let clock = FixedClock(setup.now);
        let wasi = WasiCtxBuilder::new()
            .stdout(std::io::empty())
            .stderr(stderr.clone())
            .wall_clock(clock)
            .monotonic_clock(clock)
            .secure_random(SeededStream::new(&setup.seed, b"secure"))
            .insecure_random(SeededStream::new(&setup.seed, b"insecure"))
            .insecure_random_seed(u128::from_le_bytes(
                SeededStream::new(&setup.seed, b"insecure-seed").block()[..16]
                    .try_into()
                    .expect("16 bytes"),
            ))
            // wasmtime-wasi's default is 64 MiB per call, filled on the host outside the
            // guest's memory limit and outside its fuel.
            .max_random_size(MAX_RANDOM_BYTES)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = GuestLimits::new(sandbox);
        let state_bytes = setup.state.iter().map(|(k, v)| k.len() + v.len()).sum();
        let query_budget = sandbox
            .max_query_calls_per_channel
            .saturating_mul(u32::try_from(setup.channels.len()).unwrap_or(u32::MAX))
            .saturating_add(sandbox.max_query_calls_base);
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limits,
            sandbox: sandbox.clone(),
            now: setup.now,
            history: setup.history,
            channels: setup.channels,
            state: setup.state,
            state_bytes,
            log_calls: 0,
            query_calls: 0,
            query_budget,
            effects: CallEffects::default(),
            stderr,
        }
    }

    /// What the guest wrote to stderr (a panic message, usually), cut to the limit.
    pub(crate) fn stderr(&self) -> String {
        let contents = self.stderr.contents();
        one_line_within(contents.trim_end(), self.sandbox.max_stderr_bytes)
    }

    /// How much of a guest's error or trap message is kept.
    pub(crate) fn max_error_bytes(&self) -> usize {
        self.sandbox.max_error_bytes
    }

    fn count_query(&mut self) -> wasmtime::Result<()> {
        self.query_calls += 1;
        if self.query_calls > self.query_budget {
            return Err(BudgetExceeded(format!(
                "history query budget exceeded ({} calls)",
                self.query_budget
            ))
            .into());
        }
        Ok(())
    }

    fn state_value(&self, key: &str) -> Option<&Vec<u8>> {
        match self.effects.state_writes.get(key) {
            Some(written) => written.as_ref(),
            None => self.state.get(key),
        }
    }

    fn check_key(&self, key: &str) -> wasmtime::Result<()> {
        if key.len() > self.sandbox.max_state_key_bytes {
            return Err(BudgetExceeded(format!(
                "state key of {} bytes exceeds the {}-byte limit",
                key.len(),
                self.sandbox.max_state_key_bytes
            ))
            .into());
        }
        Ok(())
    }
}

impl wasmtime_wasi::WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for GuestState {}

impl host::Host for GuestState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.now)
    }

    fn log(&mut self, level: wit::LogLevel, message: String) -> wasmtime::Result<()> {
        self.log_calls += 1;
        if self.log_calls > self.sandbox.max_log_calls {
            return Err(BudgetExceeded(format!(
                "log budget exceeded ({} calls)",
                self.sandbox.max_log_calls
            ))
            .into());
        }
        if self.effects.logs.len() >= self.sandbox.max_log_lines {
            self.effects.dropped_log_lines += 1;
            return Ok(());
        }
        let level = match level {
            wit::LogLevel::Debug => GuestLogLevel::Debug,
            wit::LogLevel::Info => GuestLogLevel::Info,
            wit::LogLevel::Warn => GuestLogLevel::Warn,
            wit::LogLevel::Error => GuestLogLevel::Error,
        };
        self.effects.logs.push(GuestLog {
            level,
            message: one_line_within(&message, self.sandbox.max_log_line_bytes),
        });
        Ok(())
    }

    fn state_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.count_query()?;
        Ok(self.state_value(&key).cloned())
    }

    fn state_set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        self.count_query()?;
        self.check_key(&key)?;
        let old = self.state_value(&key).map_or(0, |v| key.len() + v.len());
        let new_total = self.state_bytes - old + key.len() + value.len();
        if new_total > self.sandbox.max_state_bytes {
            return Err(BudgetExceeded(format!(
                "state budget exceeded: {new_total} bytes over the {}-byte limit",
                self.sandbox.max_state_bytes
            ))
            .into());
        }
        self.state_bytes = new_total;
        self.effects.state_writes.insert(key, Some(value));
        Ok(())
    }

    fn state_delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.count_query()?;
        self.check_key(&key)?;
        if let Some(old) = self.state_value(&key) {
            self.state_bytes -= key.len() + old.len();
        }
        self.effects.state_writes.insert(key, None);
        Ok(())
    }

    fn fee_history(
        &mut self,
        channel_id: u64,
        since: u64,
    ) -> wasmtime::Result<Vec<wit::FeeChange>> {
        self.count_query()?;
        Ok(self
            .history
            .fee_history(channel_id, since)
            .iter()
            .map(Into::into)
            .collect())
    }

    fn competitor_fees(
        &mut self,
        peer_pubkey: String,
    ) -> wasmtime::Result<Option<wit::FeePercentiles>> {
        self.count_query()?;
        Ok(self.history.competitor_fees(&peer_pubkey).map(Into::into))
    }

    fn chain_fee_rate(&mut self, conf_target: u32) -> wasmtime::Result<Option<f64>> {
        self.count_query()?;
        Ok(self.history.chain_fee_rate(conf_target))
    }

    fn rebalance_cost(&mut self, channel_id: u64, since: u64) -> wasmtime::Result<Option<u64>> {
        self.count_query()?;
        Ok(self
            .channels
            .contains(&channel_id)
            .then(|| self.history.rebalance_cost_msat(channel_id, since)))
    }
}

/// The guest's random bytes: SHA-256 of the call's seed, a stream name and a block counter, so
/// a run is reproducible, the streams differ, and no stream repeats (wasmtime-wasi's
/// `Deterministic` cycles through the bytes it is given: a 32-byte seed repeated every 32).
struct SeededStream {
    key: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededStream {
    fn new(seed: &[u8; 32], stream: &[u8]) -> SeededStream {
        let mut hasher = Sha256::new();
        hasher.update(seed);
        hasher.update(stream);
        SeededStream {
            key: hasher.finalize().into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The next 32 bytes of the stream.
    fn block(&mut self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update(self.counter.to_le_bytes());
        self.counter += 1;
        hasher.finalize().into()
    }
}

impl rand_core::TryRng for SeededStream {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            if self.used == self.block.len() {
                self.block = self.block();
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

/// Random bytes a guest may ask for in one call.
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// A guest's text with its control characters escaped (`\n`, `\u{1b}`): written raw, a
/// newline would let a guest print lines that look like the daemon's own, and an escape
/// sequence would reach the operator's terminal. Every string a guest chooses passes here
/// before it reaches a log, the database or the terminal.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`one_line`] of `text`, at most `max` bytes: a text is cut before it is escaped (a guest's
/// megabytes are not copied) and again after (escaping lengthens it).
pub(crate) fn one_line_within(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    truncate_utf8(one_line(&text[..end]), max)
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_utf8(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.shrink_to_fit();
    }
    s
}

/// The guest's clocks show the cycle's (possibly virtual) time and stand still
/// during the call, so decisions are reproducible.
#[derive(Clone, Copy)]
struct FixedClock(u64);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        self.0.saturating_mul(1_000_000_000)
    }
}

/// An output stream that keeps the first bytes and silently drops the rest;
/// wasmtime's memory pipe traps the guest when full instead.
#[derive(Clone)]
struct TruncatingPipe {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl TruncatingPipe {
    fn new(capacity: usize) -> Self {
        TruncatingPipe {
            capacity,
            buffer: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn keep(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl IsTerminal for TruncatingPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TruncatingPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for TruncatingPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for TruncatingPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for TruncatingPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::{SeededStream, one_line, one_line_within};

    #[test]
    fn guest_log_lines_cannot_break_into_new_lines() {
        let forged = "ok\n2026-11-24T00:00:00Z  INFO lnpolicy: policy applied\r\u{1b}[2K";
        let line = one_line(forged);
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(
            line,
            "ok\\n2026-11-24T00:00:00Z  INFO lnpolicy: policy applied\\r\\u{1b}[2K"
        );
        assert_eq!(one_line("plain, ünïcode"), "plain, ünïcode");
    }

    /// Escaping lengthens a text six-fold at most; the limit holds after it, and a long text
    /// is cut before it is escaped.
    #[test]
    fn escaped_texts_keep_their_limit() {
        let control = "\u{1}".repeat(1 << 20);
        let cut = one_line_within(&control, 100);
        assert!(cut.len() <= 100 && cut.starts_with("\\u{1}"), "{cut}");
        assert!(!cut.chars().any(char::is_control));
        assert_eq!(one_line_within("ünï", 3), "ün", "on a character boundary");
    }

    /// Reproducible from the seed, different per stream and per seed, and not a cycle of the
    /// seed's 32 bytes as wasmtime-wasi's `Deterministic` would be.
    #[test]
    fn seeded_streams_do_not_repeat() {
        use rand_core::Rng;
        let draw = |seed: [u8; 32], stream: &[u8]| {
            let mut bytes = [0u8; 96];
            SeededStream::new(&seed, stream).fill_bytes(&mut bytes);
            bytes
        };
        let first = draw([7; 32], b"secure");
        assert_eq!(first, draw([7; 32], b"secure"));
        assert_ne!(first[..32], first[32..64]);
        assert_ne!(first[32..64], first[64..]);
        assert_ne!(first, draw([7; 32], b"insecure"));
        assert_ne!(first, draw([8; 32], b"secure"));
        let mut words = SeededStream::new(&[7; 32], b"secure");
        let w: Vec<u64> = (0..12).map(|_| words.next_u64()).collect();
        assert_eq!(w[0], u64::from_le_bytes(first[..8].try_into().unwrap()));
        assert_ne!(
            w[0], w[4],
            "every fourth word would repeat with a 32-byte cycle"
        );
    }
}
