//! The resource limits one guest call runs under.

use std::time::Duration;

/// Bounds on what a guest may consume. CPU is bounded twice: fuel is
/// deterministic (the same guest and input always stop at the same point)
/// and the epoch deadline is the wall-clock backstop for time spent in host
/// imports, which fuel does not count.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Linear memory a guest may grow to, bytes.
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    pub max_instances: usize,
    /// Fuel for a call, plus `fuel_per_channel` for every channel in the batch.
    pub fuel_base: u64,
    pub fuel_per_channel: u64,
    /// Fuel for `info()`.
    pub info_fuel: u64,
    /// Wall-clock limit for a call, plus `timeout_per_channel` per channel.
    pub timeout_base: Duration,
    pub timeout_per_channel: Duration,
    /// Log calls after which the guest is stopped.
    pub max_log_calls: u32,
    /// Log lines kept per call; more are counted and dropped.
    pub max_log_lines: usize,
    pub max_log_line_bytes: usize,
    /// A decision's reason is cut to this many bytes.
    pub max_reason_bytes: usize,
    /// A guest error message is cut to this many bytes.
    pub max_error_bytes: usize,
    pub max_state_key_bytes: usize,
    /// Total size of one strategy's persistent state (keys + values).
    pub max_state_bytes: usize,
    /// History/state queries allowed per call: base + per channel.
    pub max_query_calls_base: u32,
    pub max_query_calls_per_channel: u32,
    /// stderr bytes kept (a panic message lands there).
    pub max_stderr_bytes: usize,
    /// Largest `.wasm` file accepted.
    pub max_component_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            max_memory_bytes: 64 << 20,
            max_table_elements: 100_000,
            max_instances: 16,
            fuel_base: 100_000_000,
            fuel_per_channel: 1_000_000,
            info_fuel: 10_000_000,
            timeout_base: Duration::from_secs(2),
            timeout_per_channel: Duration::from_micros(100),
            max_log_calls: 10_000,
            max_log_lines: 200,
            max_log_line_bytes: 512,
            max_reason_bytes: 512,
            max_error_bytes: 1024,
            max_state_key_bytes: 256,
            max_state_bytes: 1 << 20,
            max_query_calls_base: 1_000,
            max_query_calls_per_channel: 16,
            max_stderr_bytes: 4096,
            max_component_bytes: 16 << 20,
        }
    }
}

impl SandboxLimits {
    pub(crate) fn fuel_for(&self, channels: usize) -> u64 {
        self.fuel_base
            .saturating_add(self.fuel_per_channel.saturating_mul(channels as u64))
    }

    pub(crate) fn timeout_for(&self, channels: usize) -> Duration {
        self.timeout_base + self.timeout_per_channel * u32::try_from(channels).unwrap_or(u32::MAX)
    }
}
