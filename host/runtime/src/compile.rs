//! Compiling a component, the one step of loading it that wasmtime does not bound.
//!
//! What compiling costs is not proportional to the file. One function of nested blocks is the
//! worst shape measured here: a 13.8 MB component of two such functions took 10 s and 3.9 GB
//! of memory to compile with the release build (the process would have been killed on a
//! small machine, or the kernel would have picked the node itself), and the test profile is
//! quadratic in it (300 KB in 15 s, 600 KB in 57 s). The binary therefore compiles strategy
//! files in a child process of their own ([`Compiler::Child`]), killed past a time limit and
//! refused data memory past another, and loads the compiled artifact it returns. Built-ins,
//! tests and benchmarks may compile in-process.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::LoadError;

/// Where components are compiled.
#[derive(Debug, Clone, Default)]
pub enum Compiler {
    /// In this process, unbounded: for trusted components, tests and benchmarks.
    #[default]
    InProcess,
    /// In a child process, under limits.
    Child(ChildCompiler),
}

/// A program that runs [`serve_compile`], and the limits its run is held to.
#[derive(Debug, Clone)]
pub struct ChildCompiler {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Past this the child is killed and the component refused.
    pub timeout: Duration,
    /// The child's data memory limit (`RLIMIT_DATA`): heap and private writable mappings.
    pub max_memory_bytes: u64,
}

impl ChildCompiler {
    /// The data memory the child gets: `max_memory_bytes`, or the hard limit this process is
    /// under when lower (systemd's `LimitDATA=`), which is then the limit a refusal names.
    pub fn memory_limit(&self) -> u64 {
        hard_data_limit().map_or(self.max_memory_bytes, |hard| {
            hard.min(self.max_memory_bytes)
        })
    }

    /// This very executable with `args` (the subcommand that runs [`serve_compile`]). On Linux
    /// it is started as `/proc/self/exe`, which stays this build even after an upgrade replaced
    /// the file: a newer build's artifacts would not load into this engine.
    pub fn this_executable(
        args: Vec<OsString>,
        timeout: Duration,
        max_memory_bytes: u64,
    ) -> std::io::Result<ChildCompiler> {
        let program = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        Ok(ChildCompiler {
            program,
            args,
            timeout,
            max_memory_bytes,
        })
    }
}

/// A compiled component, with its serialized form when it was at hand anyway (the child's
/// output) so the cache need not serialize it again.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) serialized: Option<Vec<u8>>,
}

/// Compiles `bytes` for `engine` where `compiler` says.
pub(crate) fn compile(
    engine: &Engine,
    compiler: &Compiler,
    bytes: &[u8],
) -> Result<Compiled, LoadError> {
    match compiler {
        Compiler::InProcess => Component::new(engine, bytes)
            .map(|component| Compiled {
                component,
                serialized: None,
            })
            .map_err(|err| not_loaded(&err)),
        Compiler::Child(child) => {
            let serialized = compile_in_child(child, bytes)?;
            // SAFETY: the bytes are what `Engine::precompile_component` returned in a child
            // running this executable (see `ChildCompiler::this_executable`), with the same
            // engine settings; `deserialize` checks the header against this engine as well.
            let component = unsafe { Component::deserialize(engine, &serialized) }
                .map_err(|err| not_loaded(&err))?;
            Ok(Compiled {
                component,
                serialized: Some(serialized),
            })
        }
    }
}

/// Why a component did not compile in this process, or the child's artifact did not load.
/// Either is where the instance pool checks a component against its per-component limits
/// (memories, tables, instances): a verdict on the component, like an invalid one. The other
/// failures are the operating system's (an mmap refused), this process's trouble, which must
/// not be remembered against the component; wasmtime gives no type to tell them apart, only
/// its messages.
fn not_loaded(err: &wasmtime::Error) -> LoadError {
    let chain = crate::error_chain(err);
    if chain.contains("os error") {
        LoadError::Compiler(format!("the compiled component did not load: {chain}"))
    } else {
        LoadError::Compile(chain)
    }
}

/// How often a running child is checked on.
const POLL: Duration = Duration::from_millis(5);
/// The child's error message is cut to this many bytes.
const MAX_STDERR_BYTES: u64 = 8 << 10;

fn compile_in_child(child: &ChildCompiler, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
    let mut command = Command::new(&child.program);
    command
        .args(&child.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A backtrace printed under the memory limit can itself fail to allocate, and hang.
        .env("RUST_BACKTRACE", "0");
    let max_memory_bytes = child.memory_limit();
    isolate(&mut command, max_memory_bytes);
    let started = Instant::now();
    let mut process = command.spawn().map_err(|err| {
        LoadError::Compiler(format!("starting {}: {err}", child.program.display()))
    })?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        unreachable!("all three streams were piped");
    };
    let input = bytes.to_vec();
    // A child that stops reading (it failed, or was killed) closes the pipe: the write error
    // says nothing the exit status does not.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = read_in_background(stdout, child.max_memory_bytes);
    let errors = read_in_background(stderr, MAX_STDERR_BYTES);
    let status = loop {
        match process.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < child.timeout => std::thread::sleep(POLL),
            Ok(None) => {
                let _ = process.kill();
                let _ = process.wait();
                let _ = writer.join();
                return Err(LoadError::CompileTimeout {
                    limit: child.timeout,
                });
            }
            Err(err) => {
                let _ = process.kill();
                let _ = process.wait();
                return Err(LoadError::Compiler(format!(
                    "waiting for the compiler: {err}"
                )));
            }
        }
    };
    let _ = writer.join();
    let output = output.join().unwrap_or_default();
    let message = String::from_utf8_lossy(&errors.join().unwrap_or_default())
        .trim()
        .to_owned();
    verdict(status, output, message, max_memory_bytes)
}

/// What the child's end says about the component.
fn verdict(
    status: ExitStatus,
    output: Vec<u8>,
    message: String,
    max_memory_bytes: u64,
) -> Result<Vec<u8>, LoadError> {
    // Rust aborts on a failed allocation, saying so, and Cranelift panics on one of its own;
    // an mmap wasmtime makes fails with ENOMEM, and a thread whose stack the limit refuses
    // with EAGAIN (the compiler's thread pool).
    let out_of_memory = [
        "memory allocation of",
        "out of memory",
        "Cannot allocate memory",
        "Resource temporarily unavailable",
    ]
    .iter()
    .any(|sign| message.contains(sign));
    match status.code() {
        Some(0) => Ok(output),
        _ if out_of_memory => Err(LoadError::CompileMemory {
            limit: max_memory_bytes,
        }),
        Some(COMPILE_FAILED) => Err(LoadError::Compile(message)),
        _ => Err(LoadError::Compiler(format!(
            "the compiler ended with {status}{}",
            if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            }
        ))),
    }
}

/// The child's exit code when the component did not compile (its reason on stderr).
const COMPILE_FAILED: i32 = 3;

/// Reads `stream` to its end on a thread of its own, keeping the first `max` bytes: a child
/// blocked on a full pipe would otherwise run into its time limit.
fn read_in_background(
    mut stream: impl Read + Send + 'static,
    max: u64,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = (&mut stream).take(max).read_to_end(&mut bytes);
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
        bytes
    })
}

/// Caps the child's data memory at `max_bytes`, ends it with this process (it would finish a
/// compile of any length otherwise: only this process holds it to its time), and starts it in
/// a process group of its own, so that a Ctrl-C meant for lnpolicy does not kill a compile
/// and make it look like the component's failure.
#[cfg(unix)]
fn isolate(command: &mut Command, max_bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: max_bytes,
        rlim_max: hard_data_limit().unwrap_or(max_bytes),
    };
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    command.process_group(0);
    // SAFETY: runs in the forked child before exec, and only calls setrlimit, prctl and
    // getppid, which are async-signal-safe and touch no memory of the parent's.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                // The signal comes when the thread that started the child ends; that thread
                // waits for the child, so it ends with the child or with the whole process.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::other(
                        "lnpolicy ended as the compiler started",
                    ));
                }
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn isolate(_command: &mut Command, _max_bytes: u64) {}

/// The hard limit on data memory this process is under, if any: the child cannot be given
/// more (an unprivileged process cannot raise it, and asking fails every start).
#[cfg(unix)]
fn hard_data_limit() -> Option<u64> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut current) } == 0;
    (read && current.rlim_max != libc::RLIM_INFINITY).then_some(current.rlim_max)
}

#[cfg(not(unix))]
fn hard_data_limit() -> Option<u64> {
    None
}

/// Why [`serve_compile`] produced no artifact.
#[derive(Debug, thiserror::Error)]
pub enum ServeCompileError {
    #[error("reading the component: {0}")]
    Input(std::io::Error),
    #[error("{0}")]
    Compile(String),
    #[error("writing the compiled component: {0}")]
    Output(std::io::Error),
    #[error("configuring the WebAssembly engine: {0}")]
    Engine(String),
}

impl ServeCompileError {
    /// The exit code the parent reads this error by.
    pub fn exit_code(&self) -> i32 {
        match self {
            ServeCompileError::Compile(_) => COMPILE_FAILED,
            _ => 1,
        }
    }
}

/// The child's side of [`Compiler::Child`]: compiles the component read from `input` with the
/// runtime's engine settings and writes the artifact to `output`. The binary runs this in a
/// hidden subcommand, printing the error (if any) alone on stderr and exiting with
/// [`ServeCompileError::exit_code`].
pub fn serve_compile(
    max_component_bytes: usize,
    input: impl Read,
    mut output: impl Write,
) -> Result<(), ServeCompileError> {
    let mut bytes = Vec::new();
    input
        .take(max_component_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ServeCompileError::Input)?;
    if bytes.len() > max_component_bytes {
        return Err(ServeCompileError::Compile(format!(
            "component over the {max_component_bytes}-byte limit"
        )));
    }
    let engine = Engine::new(&crate::engine_config())
        .map_err(|err| ServeCompileError::Engine(crate::error_chain(&err)))?;
    let artifact = engine
        .precompile_component(&bytes)
        .map_err(|err| ServeCompileError::Compile(crate::error_chain(&err)))?;
    output
        .write_all(&artifact)
        .and_then(|()| output.flush())
        .map_err(ServeCompileError::Output)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A child that runs `script` in a shell, with a generous time limit.
    fn shell(script: &str) -> Compiler {
        Compiler::Child(ChildCompiler {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            timeout: Duration::from_secs(30),
            max_memory_bytes: 1 << 30,
        })
    }

    fn outcome(compiler: &Compiler) -> LoadError {
        let engine = Engine::default();
        match compile(&engine, compiler, b"\0asm\x0d\0\x01\0") {
            Ok(_) => panic!("compiled"),
            Err(err) => err,
        }
    }

    /// The child's exit says whose fault it was: the component's (its reason kept), the
    /// memory limit's, or the compiler process's own (never held against the component).
    #[test]
    fn the_childs_end_is_read_as_a_verdict() {
        let invalid = outcome(&shell("echo 'unknown section 99' >&2; exit 3"));
        assert!(
            matches!(&invalid, LoadError::Compile(reason) if reason == "unknown section 99"),
            "{invalid}"
        );
        let oom = outcome(&shell(
            "echo 'memory allocation of 4096 bytes failed' >&2; kill -ABRT $$",
        ));
        assert!(
            matches!(oom, LoadError::CompileMemory { limit } if limit == 1 << 30),
            "{oom}"
        );
        assert!(oom.to_string().contains("1024 MiB"), "{oom}");
        let cranelift_oom = outcome(&shell(
            "echo 'panicked at map.rs:402:55: unhandled out-of-memory error: out of memory' >&2; kill -ABRT $$",
        ));
        assert!(
            matches!(cranelift_oom, LoadError::CompileMemory { .. }),
            "{cranelift_oom}"
        );
        let crashed = outcome(&shell("kill -SEGV $$"));
        assert!(matches!(crashed, LoadError::Compiler(_)), "{crashed}");
        let garbage = outcome(&shell("cat >/dev/null; echo not-an-artifact"));
        assert!(
            matches!(&garbage, LoadError::Compile(m) if m.contains("precompiled artifact")),
            "{garbage}"
        );
        let talkative = outcome(&shell("head -c 300000 /dev/zero | tr '\\0' x >&2; exit 3"));
        assert!(
            matches!(&talkative, LoadError::Compile(m) if m.len() == 8 << 10),
            "a long message is read to its end and cut, the child not left blocked: {talkative:.80}"
        );
        let missing = outcome(&Compiler::Child(ChildCompiler {
            program: "/nonexistent/lnpolicy".into(),
            args: Vec::new(),
            timeout: Duration::from_secs(1),
            max_memory_bytes: 1 << 30,
        }));
        assert!(
            matches!(&missing, LoadError::Compiler(m) if m.contains("/nonexistent/lnpolicy")),
            "{missing}"
        );
    }

    /// The child gets the component on stdin and its data memory limit.
    #[test]
    fn the_child_reads_the_component_under_its_memory_limit() {
        let echo = outcome(&shell(
            "printf '%s %s' \"$(wc -c)\" \"$(ulimit -d)\" >&2; exit 3",
        ));
        assert!(
            matches!(&echo, LoadError::Compile(m) if m == &format!("8 {}", (1u64 << 30) / 1024)),
            "{echo}"
        );
    }

    /// A child past its time is killed, and the component refused with the limit.
    #[test]
    fn a_child_past_its_time_is_stopped() {
        let stuck = Compiler::Child(ChildCompiler {
            program: "sh".into(),
            args: vec!["-c".into(), "exec sleep 30".into()],
            timeout: Duration::from_millis(100),
            max_memory_bytes: 1 << 30,
        });
        let err = outcome(&stuck);
        assert!(
            matches!(err, LoadError::CompileTimeout { limit } if limit == Duration::from_millis(100)),
            "{err}"
        );
        assert!(err.to_string().contains("longer than 0.1s"), "{err}");
    }
}
