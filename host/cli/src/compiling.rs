//! Where the binary compiles strategy files: in a child process of itself (the hidden
//! `compile-worker` subcommand), killed past `--compile-timeout` and refused memory past
//! `--compile-memory`, so that no file can hold a start, a run or a reload for long, nor take
//! the memory the node needs (see `lnpolicy_runtime::Compiler`). Built-ins compile in-process.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use lnpolicy_runtime::{ChildCompiler, Compiler, RuntimeConfig, SandboxLimits, serve_compile};

/// The limits every command that loads strategy files compiles them under.
#[derive(clap::Args, Debug, Clone)]
pub struct CompileArgs {
    /// Seconds compiling one strategy component may take; past it the component is refused.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub compile_timeout: u64,
    /// MiB of memory compiling one strategy component may use; past it the component is
    /// refused.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 2048,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub compile_memory: u64,
}

/// The subcommand the child runs.
pub const WORKER: &str = "compile-worker";

static COMPILER: OnceLock<Compiler> = OnceLock::new();

/// Sets the compiler every later [`runtime_config`] uses; called once, from `main`.
pub fn init(args: &CompileArgs) -> Result<()> {
    let child = ChildCompiler::this_executable(
        vec![OsString::from(WORKER)],
        Duration::from_secs(args.compile_timeout),
        args.compile_memory.saturating_mul(1 << 20),
    )
    .context("locating this executable to compile strategies in")?;
    // `main` calls this once: a second value could only be the same flags.
    let _ = COMPILER.set(Compiler::Child(child));
    Ok(())
}

/// The runtime settings of every command that loads strategies: default sandbox limits,
/// files compiled by the child, cached in `cache_dir` when given.
pub fn runtime_config(cache_dir: Option<PathBuf>) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir,
        compiler: COMPILER.get().cloned().unwrap_or_default(),
        ..RuntimeConfig::default()
    }
}

/// The child's side: the component on stdin, the compiled artifact on stdout, and on failure
/// the reason alone on stderr with the exit code the parent reads it by.
pub fn serve() -> ExitCode {
    // Out of memory, a panic's usual unwinding and report can allocate, fail and hang: the
    // message goes out as it is, and the process ends at once.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "{info}");
        std::process::abort();
    }));
    let max_component_bytes = SandboxLimits::default().max_component_bytes;
    match serve_compile(
        max_component_bytes,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{error}");
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}
