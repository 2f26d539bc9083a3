//! The sandboxed WebAssembly runtime: compiles and validates strategy
//! components, calls them under CPU, memory and output limits, and keeps a
//! hot-reloaded registry of the strategies folder. Holds the project's only
//! `bindgen!` (in `bindings`).

mod bindings;
mod cache;
mod compile;
mod contract;
mod limits;
mod registry;
mod sandbox;
mod strategy;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine};

pub use cache::CacheOutcome;
pub use compile::{ChildCompiler, Compiler, ServeCompileError, serve_compile};
pub use contract::{CONTRACT_PACKAGE, CONTRACT_VERSION};
pub use limits::SandboxLimits;
pub use registry::{RegistryConfig, StrategyRegistry, StrategySource, StrategyStatus, Synced};
pub use sandbox::{GuestLog, GuestLogLevel, HistorySource, NoHistory};
pub use strategy::{DecideCall, DecideOutput, Strategy};
pub use watch::{FolderWatcher, is_content_change};

use sandbox::GuestState;

/// How often the epoch ticker advances; call deadlines are counted in ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a component was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("component is {size} bytes, over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("not a WebAssembly file (starts with {first_bytes})")]
    NotWasm { first_bytes: String },
    #[error(
        "a core WebAssembly module, not a component: build it with `--target wasm32-wasip2` against the lnpolicy WIT"
    )]
    CoreModule,
    #[error("compiling the component failed: {0}")]
    Compile(String),
    #[error("compiling the component took longer than {}s, the limit", limit.as_secs_f64())]
    CompileTimeout { limit: Duration },
    #[error("compiling the component needed more than {} MiB of memory, the limit", limit >> 20)]
    CompileMemory { limit: u64 },
    /// The compiler process could not do its work (not started, killed by someone else): the
    /// host's trouble, not a verdict on the component.
    #[error("the compiler process failed: {0}")]
    Compiler(String),
    #[error("{reason} (on an earlier load; remembered in {}, delete it to try again)", path.display())]
    RejectedEarlier { reason: String, path: PathBuf },
    #[error(
        "built against contract {item} ({found}), but this host implements {CONTRACT_PACKAGE}@{supported}; rebuild it with a compatible lnpolicy-sdk"
    )]
    IncompatibleContract {
        item: String,
        found: String,
        supported: String,
    },
    #[error(
        "imports {import}, which strategies may not use (allowed: wasi:cli, wasi:io, wasi:clocks, wasi:random and the lnpolicy host)"
    )]
    ForbiddenImport { import: String },
    #[error("this is a {found} component, not a fee strategy")]
    WrongWorld { found: String },
    #[error(
        "does not export lnpolicy:strategy/strategy; its exports are [{}]",
        found.join(", ")
    )]
    MissingExport { found: Vec<String> },
    #[error("cannot be linked against the host: {0}")]
    Link(String),
    #[error("info() failed: {0}")]
    Info(CallError),
    #[error("info() returned an invalid description: {0}")]
    BadInfo(String),
}

impl LoadError {
    /// Whether the host, not the component, is to blame: the compiler process failed, or
    /// no slot was free to run `info()`. The same bytes may load later.
    pub fn is_host_trouble(&self) -> bool {
        matches!(
            self,
            LoadError::Compiler(_) | LoadError::Info(CallError::Host(_))
        )
    }
}

/// A load failure with the file it concerns.
///
/// The message holds the cause; it is not also given as `source()`, which reports that print
/// the chain (`{:#}`) would show twice.
#[derive(Debug, thiserror::Error)]
pub enum FileLoadError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Invalid { path: PathBuf, error: LoadError },
}

/// Why a call produced no decisions. Whatever the variant, the channels of
/// the batch keep their current policy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("ran out of fuel ({fuel} units): too much computation")]
    OutOfFuel { fuel: u64 },
    #[error("timed out after {after:?}")]
    Timeout { after: Duration },
    #[error("trapped: {message}{}", if stderr.is_empty() { String::new() } else { format!(" (stderr: {})", stderr.trim_end()) })]
    Trap { message: String, stderr: String },
    #[error("stopped: {0}")]
    BudgetExceeded(String),
    #[error("returned an error: {0}")]
    GuestError(String),
    #[error("malformed output: {0}")]
    Malformed(String),
    #[error(
        "quarantined after {failures} failed cycles in a row; replace the file, or send the daemon SIGHUP, to retry"
    )]
    Quarantined { failures: u32 },
    #[error("no strategy named {0:?} is loaded")]
    Unknown(String),
    /// The host could not run the call (no thread, no instance slot): not the guest's doing,
    /// so it does not count toward quarantine.
    #[error("the host could not run it: {0}")]
    Host(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("configuring the WebAssembly engine: {0}")]
    Engine(String),
    #[error("watching {path}: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("reading strategies folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Settings of the runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub limits: SandboxLimits,
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    pub compiler: Compiler,
}

/// The engine, linker and compile cache shared by every strategy.
pub struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
    limits: Arc<SandboxLimits>,
    cache: cache::CompileCache,
    compiler: Compiler,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let mut wasm = engine_config();
        wasm.allocation_strategy(pooling(&config.limits));
        let engine = Engine::new(&wasm).map_err(|err| RuntimeError::Engine(error_chain(&err)))?;
        let linker =
            guest_linker(&engine).map_err(|err| RuntimeError::Engine(error_chain(&err)))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        let cache = cache::CompileCache::new(&engine, &config.limits, config.cache_dir);
        Ok(Runtime {
            engine,
            linker,
            limits: Arc::new(config.limits),
            cache,
            compiler: config.compiler,
            ticker_stop,
        })
    }

    /// The engine components are compiled for, to make artifacts a stand-in compiler serves.
    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Validates a component: its format, contract version and imports, that
    /// it links, and that `info()` succeeds and describes it properly.
    pub fn load_bytes(&self, bytes: &[u8]) -> Result<Strategy, LoadError> {
        self.load_with(&self.compiler, bytes)
    }

    /// [`Runtime::load_bytes`] for a component shipped inside the binary, compiled in this
    /// process whatever the configured compiler: its cost is known (about 0.1 s and 25 MB),
    /// and a limit it ran into on a busy host must not refuse it.
    pub fn load_builtin_bytes(&self, bytes: &[u8]) -> Result<Strategy, LoadError> {
        self.load_with(&Compiler::InProcess, bytes)
    }

    fn load_with(&self, compiler: &Compiler, bytes: &[u8]) -> Result<Strategy, LoadError> {
        Strategy::validate(
            &self.engine,
            &self.linker,
            self.limits.clone(),
            bytes,
            |sha256| self.cache.load(&self.engine, compiler, sha256, bytes),
        )
    }

    pub fn load_file(&self, path: &Path) -> Result<Strategy, FileLoadError> {
        let bytes = read_capped(path, self.limits.max_component_bytes).map_err(|error| {
            FileLoadError::Io {
                path: path.to_owned(),
                error,
            }
        })?;
        self.load_bytes(&bytes)
            .map_err(|error| FileLoadError::Invalid {
                path: path.to_owned(),
                error,
            })
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Reads a component file of at most `max` bytes. Anything but a regular file is refused: a
/// FIFO would block until a writer comes, and a device such as `/dev/zero` never ends. The
/// file is opened without blocking and checked once open, so a FIFO swapped in for the file
/// between a check and the open cannot hold the watcher. At most one byte past `max` is read,
/// so a file that grows after the check is still refused without reading all of it.
pub(crate) fn read_capped(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOCTTY,
    );
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a folder, FIFO, socket or device)",
        ));
    }
    if metadata.len() > max as u64 {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "the file is {} bytes, over the {max}-byte limit",
                metadata.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The engine settings that shape compiled code, shared with the compiler child (which has no
/// instance pool: the pool's address space reservations would count against its limits, and
/// they do not change the code).
fn engine_config() -> Config {
    let mut wasm = Config::new();
    wasm.consume_fuel(true)
        .epoch_interruption(true)
        .wasm_component_model(true)
        .max_wasm_stack(1 << 20);
    wasm
}

/// Every call gets a fresh instance; the pooling allocator recycles their
/// memory slots, and keeping the first pages resident (zeroed by memset
/// instead of returned to the kernel) spares each call thousands of page
/// faults when a large batch is copied in.
///
/// The pool holds `max_concurrent_calls` components each at the per-component limits, and refuses
/// a component over them when it is loaded. So however many memories, tables or core
/// instances one strategy declares, it cannot take the slots other strategies' calls need.
fn pooling(limits: &SandboxLimits) -> wasmtime::InstanceAllocationStrategy {
    let per_component = |limit: usize| u32::try_from(limit).unwrap_or(u32::MAX);
    let (instances, memories) = (
        per_component(limits.max_instances),
        per_component(limits.max_memories),
    );
    let calls = limits.max_concurrent_calls;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(calls)
        .max_core_instances_per_component(instances)
        .max_tables_per_component(instances)
        .max_memories_per_component(memories)
        .total_core_instances(calls.saturating_mul(instances))
        .total_tables(calls.saturating_mul(instances))
        .total_memories(calls.saturating_mul(memories))
        .total_stacks(calls)
        .table_elements(limits.max_table_elements)
        .max_memory_size(limits.max_memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES.min(limits.max_memory_bytes))
        .table_keep_resident(64 << 10);
    wasmtime::InstanceAllocationStrategy::Pooling(pool)
}

/// Memory kept resident per slot between calls.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;

/// Links only what guests may use: stdio, clocks, random and our host. A
/// component importing anything else fails to link even if the import
/// check were bypassed.
fn guest_linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    use wasmtime_wasi::WasiView;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::sync::{cli, clocks, io, random};
    use wasmtime_wasi::random::WasiRandom;

    let mut linker = Linker::new(engine);
    let l = &mut linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<GuestState, HasTable>(l, |s| {
        s.ctx().table
    })?;
    io::poll::add_to_linker::<GuestState, HasTable>(l, |s| s.ctx().table)?;
    io::streams::add_to_linker::<GuestState, HasTable>(l, |s| s.ctx().table)?;
    clocks::wall_clock::add_to_linker::<GuestState, WasiClocks>(l, GuestState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<GuestState, WasiClocks>(l, GuestState::clocks)?;
    random::random::add_to_linker::<GuestState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure::add_to_linker::<GuestState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<GuestState, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    cli::exit::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::environment::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stdin::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stdout::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stderr::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_input::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_output::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stdin::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stdout::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stderr::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    bindings::FeeStrategy::add_to_linker::<GuestState, HasSelf<GuestState>>(l, |s| s)?;
    wait_for_nothing(&mut linker)?;
    Ok(linker)
}

/// The guest's clock stands still at the cycle's time, so every deadline it can wait for has
/// already passed: its timers are ready at once. wasmtime-wasi's own wait in real time, where
/// fuel and the epoch deadline cannot reach, so `std::thread::sleep(Duration::MAX)` in a guest
/// would hold the host forever.
fn wait_for_nothing(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::clocks::WasiClocksView;
    use wasmtime_wasi::p2::bindings::sync::clocks::monotonic_clock::Host;

    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    for name in ["subscribe-duration", "subscribe-instant"] {
        clock.func_wrap(
            name,
            |mut store: wasmtime::StoreContextMut<'_, GuestState>, (_,): (u64,)| {
                Ok((store.data_mut().clocks().subscribe_duration(0)?,))
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// The monotonic clock interface as wasmtime-wasi links it: the timers above replace its own.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Advances the engine's epoch so that deadlines set in ticks expire.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("lnpolicy-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// Renders a wasmtime error with its causes on one line.
pub(crate) fn error_chain(err: &wasmtime::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
