//! The resource limits one guest call runs under.

use std::time::Duration;

/// Bounds on what a guest may consume. CPU is bounded twice: fuel is
/// deterministic (the same guest and input always stop at the same point)
/// and the epoch deadline is the wall-clock backstop for time spent in host
/// imports, which fuel does not count.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Linear memory a guest may grow to, bytes, summed over all of its memories (a component
    /// may hold several core modules, each with its own).
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    /// Core instances and tables one component may hold (a component of several core modules
    /// has one instance of each, and each may define a table).
    pub max_instances: usize,
    /// Linear memories one component may hold: a guest's own and, for one built with the
    /// WASI preview-1 adapter, the adapter's.
    pub max_memories: usize,
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
    /// Bytes the host copies out of a guest for one result or one import call, strings and
    /// lists counted whole (wasmtime's "hostcall fuel"): many strings of a result may point
    /// at the same guest bytes, so without it a 64 MiB guest could make the host allocate
    /// terabytes, and abort.
    pub max_transfer_bytes: usize,
    /// Guest calls and validations in flight at once; one more fails without counting
    /// against its strategy. The pool reserves address space for each (a 4 GiB range per
    /// memory).
    pub max_concurrent_calls: u32,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            max_memory_bytes: 64 << 20,
            max_table_elements: 100_000,
            max_instances: 16,
            max_memories: 2,
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
            max_transfer_bytes: 32 << 20,
            max_concurrent_calls: 64,
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

/// What one guest call may allocate, enforced by wasmtime as memories and tables are created
/// and grown. Memory is counted over every linear memory of the call: wasmtime's own
/// `StoreLimits` bounds each memory alone, so a component of sixteen modules could hold
/// sixteen times the limit. Memories never shrink, so the sum of what was granted is what
/// is held. Refusals trap the call rather than return -1 to the guest, so the failure is
/// recorded with its cause.
pub(crate) struct GuestLimits {
    max_memory_bytes: usize,
    memory_bytes: usize,
    max_table_elements: usize,
    max_instances: usize,
    max_memories: usize,
}

impl GuestLimits {
    pub(crate) fn new(limits: &SandboxLimits) -> Self {
        GuestLimits {
            max_memory_bytes: limits.max_memory_bytes,
            memory_bytes: 0,
            max_table_elements: limits.max_table_elements,
            max_instances: limits.max_instances,
            max_memories: limits.max_memories,
        }
    }
}

impl wasmtime::ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|maximum| desired > maximum) {
            wasmtime::bail!("memory growth to {desired} bytes is past the memory's own maximum");
        }
        let total = self
            .memory_bytes
            .saturating_add(desired.saturating_sub(current));
        if total > self.max_memory_bytes {
            wasmtime::bail!(
                "guest memory limit: growing to {total} bytes over all memories, over the {}-byte limit",
                self.max_memory_bytes
            );
        }
        self.memory_bytes = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing guest memory failed"))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements || maximum.is_some_and(|maximum| desired > maximum) {
            wasmtime::bail!(
                "guest table limit: growing a table to {desired} elements, over the {}-element limit",
                self.max_table_elements
            );
        }
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing a guest table failed"))
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_instances
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::{Engine, Instance, Module, Store};

    use super::{GuestLimits, SandboxLimits};

    /// A core module whose only content is one memory of 480 pages (30 MiB), encoded by hand:
    /// header, then the memory section (id 5, 4 bytes: one memory, no maximum, 480 in LEB128).
    const THIRTY_MIB_MEMORY: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x04, 0x01, 0x00, 0xe0, 0x03,
    ];

    /// Three modules of 30 MiB each stay under a 64 MiB limit one by one, not together:
    /// the third is refused, and the refusal names the limit.
    #[test]
    fn memory_is_limited_over_all_memories_of_a_call() {
        let engine = Engine::default();
        let module = Module::new(&engine, THIRTY_MIB_MEMORY).unwrap();
        let limits = SandboxLimits {
            max_memories: 3,
            ..SandboxLimits::default()
        };
        assert_eq!(limits.max_memory_bytes, 64 << 20);
        let mut store = Store::new(&engine, GuestLimits::new(&limits));
        store.limiter(|limits| limits);
        Instance::new(&mut store, &module, &[]).unwrap();
        Instance::new(&mut store, &module, &[]).unwrap();
        let refused = Instance::new(&mut store, &module, &[]).unwrap_err();
        assert!(
            format!("{refused:?}").contains("over the 67108864-byte limit"),
            "{refused:?}"
        );
    }

    /// A component of one core module per entry, each with a table and/or a memory as the
    /// entry says, every module instantiated once.
    fn component_of(modules: &[(bool, bool)]) -> Vec<u8> {
        use wasm_encoder::{
            Component, InstanceSection, MemorySection, MemoryType, ModuleArg, ModuleSection,
            RefType, TableSection, TableType,
        };
        let mut component = Component::new();
        for &(table, memory) in modules {
            let mut module = wasm_encoder::Module::new();
            if table {
                let mut tables = TableSection::new();
                tables.table(TableType {
                    element_type: RefType::FUNCREF,
                    table64: false,
                    minimum: 1,
                    maximum: None,
                    shared: false,
                });
                module.section(&tables);
            }
            if memory {
                let mut memories = MemorySection::new();
                memories.memory(MemoryType {
                    minimum: 1,
                    maximum: None,
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                });
                module.section(&memories);
            }
            component.section(&ModuleSection(&module));
        }
        let mut instances = InstanceSection::new();
        for index in 0..modules.len() {
            instances.instantiate(index as u32, Vec::<(&str, ModuleArg)>::new());
        }
        component.section(&instances);
        component.finish()
    }

    /// A component that declares more memories or core instances than one call may hold is
    /// refused when loaded, with the limit it is over (a module defines at most one table, so
    /// tables are bounded with instances).
    #[test]
    fn a_component_over_the_per_component_limits_is_refused_at_load() {
        let runtime = crate::Runtime::new(crate::RuntimeConfig::default()).unwrap();
        let limits = SandboxLimits::default();
        let cases = [
            (
                vec![(false, true); limits.max_memories + 1],
                "linear memories",
            ),
            (
                vec![(false, false); limits.max_instances + 1],
                "core module instances",
            ),
        ];
        for (modules, named) in cases {
            let refused = runtime
                .load_bytes(&component_of(&modules))
                .err()
                .unwrap_or_else(|| panic!("{} modules ({named}) were accepted", modules.len()));
            let message = refused.to_string();
            assert!(message.contains(named), "{message}");
            assert!(
                message.contains("exceeds the configured maximum"),
                "{message}"
            );
        }
    }

    /// The pool has room for as many calls as it has instances, each of a component at every
    /// per-component limit: one strategy's many tables or memories cannot leave another
    /// strategy's call without a slot.
    #[test]
    fn the_pool_holds_every_instance_at_the_per_component_limits() {
        let limits = SandboxLimits::default();
        let mut modules = vec![(true, false); limits.max_instances];
        for module in modules.iter_mut().take(limits.max_memories) {
            module.1 = true;
        }
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .allocation_strategy(crate::pooling(&limits));
        let engine = Engine::new(&config).unwrap();
        let component =
            wasmtime::component::Component::new(&engine, component_of(&modules)).unwrap();
        let linker = wasmtime::component::Linker::<()>::new(&engine);
        let held: Vec<_> = (0..limits.max_concurrent_calls)
            .map(|call| {
                let mut store = Store::new(&engine, ());
                linker
                    .instantiate(&mut store, &component)
                    .unwrap_or_else(|err| panic!("call {call}: {err:?}"));
                store
            })
            .collect();
        assert_eq!(held.len(), limits.max_concurrent_calls as usize);
    }
}
