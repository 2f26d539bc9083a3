//! Shared set-up for the end-to-end tests: paths of the built test guests and
//! a registry wired to a real SQLite store in a temporary folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lnpolicy_node::lnd::LndClient;
use lnpolicy_runtime::{RegistryConfig, Runtime, RuntimeConfig, SandboxLimits, StrategyRegistry};
use lnpolicy_sim::LiveSimulation;
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_store::Store;

/// A component that takes seconds to compile and does nothing else: one function of a
/// million nested blocks (3 MB). The release build compiles it in about 3 s and 1 GB; the test
/// profile, quadratic in the depth, takes minutes (200,000 took 57 s). Made here rather than
/// built as a guest, since no source language writes it.
pub fn slow_to_compile_component() -> Vec<u8> {
    const DEPTH: u32 = 1_000_000;
    use wasm_encoder::{
        BlockType, CodeSection, Function, FunctionSection, Instruction, Module, ModuleSection,
        TypeSection,
    };
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([]);
    for _ in 0..DEPTH {
        body.instruction(&Instruction::Block(BlockType::Empty));
    }
    for _ in 0..=DEPTH {
        body.instruction(&Instruction::End);
    }
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    let mut component = wasm_encoder::Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// A component of `count` core modules, each with a linear memory, every module instantiated
/// once: over the sandbox's memories per component for a count above its limit.
pub fn component_of_memories(count: u32) -> Vec<u8> {
    use wasm_encoder::{
        InstanceSection, MemorySection, MemoryType, Module, ModuleArg, ModuleSection,
    };
    let mut component = wasm_encoder::Component::new();
    for _ in 0..count {
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut module = Module::new();
        module.section(&memories);
        component.section(&ModuleSection(&module));
    }
    let mut instances = InstanceSection::new();
    for index in 0..count {
        instances.instantiate(index, Vec::<(&str, ModuleArg)>::new());
    }
    component.section(&instances);
    component.finish()
}

/// The processes `pid` started that are still running, read from `/proc`.
#[cfg(target_os = "linux")]
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&candidate| {
            // After the command name, which is in parentheses: the state, then the parent.
            let stat = std::fs::read_to_string(format!("/proc/{candidate}/stat")).ok();
            stat.as_deref()
                .and_then(|stat| stat.rsplit_once(')'))
                .is_some_and(|(_, rest)| {
                    let mut fields = rest.split_whitespace();
                    let state = fields.next();
                    state != Some("Z") && fields.next().and_then(|p| p.parse().ok()) == Some(pid)
                })
        })
        .collect()
}

/// Whether process `pid` is running and holds more than `kib` KiB resident: a compiler child
/// this large has read its input and is compiling.
#[cfg(target_os = "linux")]
pub fn resident_above(pid: u32, kib: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .is_some_and(|resident| resident > kib)
    })
}

/// The `.wasm` of a guest from `tests/hostile-guests` (package name with `_`).
pub fn test_guest(name: &str) -> PathBuf {
    let path = Path::new(env!("LNPOLICY_TEST_GUESTS")).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "test guest {} was not built",
        path.display()
    );
    path
}

/// A registry as a fresh daemon builds it (default runtime, no event sink), holding each
/// `(name, wasm)` of `strategies` as a built-in.
pub fn registry_of(strategies: &[(&str, &[u8])]) -> StrategyRegistry {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let registry = StrategyRegistry::new(
        runtime,
        Arc::new(lnpolicy_core::NullEventSink),
        RegistryConfig::default(),
    );
    for (name, wasm) in strategies {
        registry.add_builtin(name, wasm).unwrap();
    }
    registry
}

/// The simulated LND serving `live` from the lnddir `dir`, and the client an operator would
/// run against it: the least-privilege macaroon of the `bakemacaroon` line.
pub async fn lnd_serving(live: &LiveSimulation, dir: &Path) -> (LndServerHandle, LndClient) {
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir))
        .await
        .unwrap();
    let client = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    (server, client)
}

/// The simulated Core Lightning serving `state` on a socket in `dir`, and the client an
/// operator would run against it.
pub async fn cln_serving(
    state: Arc<std::sync::Mutex<lnpolicy_sim::state::NodeState>>,
    dir: &Path,
) -> (
    lnpolicy_sim::cln_server::ClnServerHandle,
    lnpolicy_node::cln::ClnClient,
) {
    let socket = dir.join("lightning-rpc");
    let server = lnpolicy_sim::cln_server::ClnServer::start(
        state,
        &socket,
        lnpolicy_sim::cln_server::ClnServerConfig::default(),
    )
    .await
    .unwrap();
    let client =
        lnpolicy_node::cln::ClnClient::connect(lnpolicy_node::cln::ClnConfig::new(&socket))
            .await
            .unwrap();
    (server, client)
}

/// The limits the daemon ships with: the hostile guests must be stopped by
/// exactly what protects operators.
pub fn test_limits() -> SandboxLimits {
    SandboxLimits::default()
}

/// A registry over a temporary strategies folder, recording into a real
/// SQLite file beside it.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub registry: Arc<StrategyRegistry>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_limits(test_limits())
    }

    pub fn with_limits(limits: SandboxLimits) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("strategies")).expect("strategies dir");
        let store = Arc::new(Store::open(&dir.path().join("lnpolicy.db")).expect("open store"));
        let runtime = Arc::new(
            Runtime::new(RuntimeConfig {
                limits,
                cache_dir: Some(dir.path().join("cache")),
                ..RuntimeConfig::default()
            })
            .expect("runtime"),
        );
        let registry = Arc::new(StrategyRegistry::new(
            runtime,
            store.clone(),
            RegistryConfig::default(),
        ));
        Harness {
            dir,
            store,
            registry,
        }
    }

    pub fn strategies_dir(&self) -> PathBuf {
        self.dir.path().join("strategies")
    }

    /// Puts `source` into the strategies folder as `name.wasm` the way
    /// authors should: write a temporary file, then rename it into place.
    pub fn install(&self, source: &Path, name: &str) -> PathBuf {
        let target = self.strategies_dir().join(format!("{name}.wasm"));
        let tmp = self.dir.path().join(format!("{name}.wasm.partial"));
        std::fs::copy(source, &tmp).expect("copy guest");
        std::fs::rename(&tmp, &target).expect("rename guest into place");
        target
    }

    /// Same as [`Harness::install`] with raw bytes.
    pub fn install_bytes(&self, bytes: &[u8], name: &str) -> PathBuf {
        let target = self.strategies_dir().join(format!("{name}.wasm"));
        let tmp = self.dir.path().join(format!("{name}.wasm.partial"));
        std::fs::write(&tmp, bytes).expect("write guest");
        std::fs::rename(&tmp, &target).expect("rename guest into place");
        target
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
