//! The `lnpolicy` command line: the only place that turns typed errors into
//! `anyhow` reports and exit codes.

mod backtest_cmd;
mod charge_cmd;
mod compiling;
mod daemon_cmd;
mod demo_cmd;
mod generate_config;
mod report_cmd;
mod sim_cmd;
mod strategy_cmd;

use std::error::Error;
use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Without a subcommand, lnpolicy runs like charge-lnd: `lnpolicy -c FILE [--dry-run]
/// [--check]` applies the config once to the node and exits (0 on success, 1 on failure).
#[derive(Parser)]
#[command(
    name = "lnpolicy",
    version,
    about = "Lightning channel fees set by sandboxed WebAssembly strategies"
)]
struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// charge-lnd style policy config.
    #[arg(short = 'c', long = "config", env = "CONFIG_LOCATION")]
    config: Option<PathBuf>,
    /// Decide and print the table, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only validate the config (every key and value, strategies and their parameters).
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    node: charge_cmd::NodeArgs,
    #[command(flatten)]
    compile: compiling::CompileArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect, validate and try strategy components.
    #[command(subcommand)]
    Strategy(strategy_cmd::StrategyCommand),
    /// Run the built-in simulator.
    #[command(subcommand)]
    Sim(sim_cmd::SimCommand),
    /// Explain one channel: which sections matched and why, the strategy's raw output and
    /// the guard's result (a dry run; nothing is sent).
    TestChannel {
        /// Channel id: a number, BLOCKxTXxOUT or BLOCK:TX:OUT.
        chan_id: String,
        #[arg(short = 'c', long = "config", env = "CONFIG_LOCATION")]
        config: PathBuf,
        #[command(flatten)]
        node: charge_cmd::NodeArgs,
    },
    /// Run one or more policies on the simulator in virtual time and compare each with the
    /// hindsight-best static fee per channel.
    Backtest(backtest_cmd::BacktestArgs),
    /// Run the config on a schedule until stopped: collect and decide on their own
    /// intervals, reload strategies and config while running, serve metrics.
    Daemon(daemon_cmd::DaemonArgs),
    /// List the changes whose revenue fell past their section's rollback_threshold;
    /// --execute restores the previous policies.
    Rollback {
        #[arg(short = 'c', long = "config", env = "CONFIG_LOCATION")]
        config: PathBuf,
        /// Restore them (otherwise only list).
        #[arg(long)]
        execute: bool,
        #[command(flatten)]
        node: charge_cmd::NodeArgs,
    },
    /// Compare an A/B experiment's arms (--experiment NAME), or show what each strategy did
    /// to each channel and what the channels earned; read-only.
    Report(report_cmd::ReportArgs),
    /// Each strategy's latest cycle, pending updates, quarantined strategies, experiments.
    Status(report_cmd::StatusArgs),
    /// The daemon on a simulated node in accelerated time, with an A/B experiment, ending
    /// with the experiment report (no node, no set-up; under a minute).
    Demo(demo_cmd::DemoArgs),
    /// Write a commented example config covering every feature.
    GenerateConfig {
        /// Where to write it (refuses to overwrite).
        file: PathBuf,
    },
    /// Compiles the component on stdin for the process that started it (internal).
    #[command(name = compiling::WORKER, hide = true)]
    CompileWorker,
}

/// `lnpolicy -c`'s own arguments typed before a subcommand are a mistake to report, not to
/// ignore; `-v` and the compile limits, which every subcommand takes, may go before it (clap's own rule would refuse
/// `lnpolicy -vv daemon`, as a unit file may write it).
fn refuse_run_args_with_a_subcommand(matches: &clap::ArgMatches) {
    let Some((subcommand, _)) = matches.subcommand() else {
        return;
    };
    let typed = matches.ids().map(clap::Id::as_str).find(|id| {
        ![
            "verbose",
            "compile_timeout",
            "compile_memory",
            "CompileArgs",
        ]
        .contains(id)
            && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    });
    if let Some(id) = typed {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--{flag} before `{subcommand}` is `lnpolicy -c`'s; if `{subcommand}` takes \
                     it, put it after: `lnpolicy {subcommand} --{flag} …`",
                    flag = id.replace('_', "-")
                ),
            )
            .exit();
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    refuse_run_args_with_a_subcommand(&matches);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if matches!(cli.command, Some(Command::CompileWorker)) {
        return compiling::serve();
    }
    if let Err(err) = compiling::init(&cli.compile) {
        eprintln!("error: {err:#}");
        return ExitCode::FAILURE;
    }
    // Whether `daemon --db` was typed, rather than taken from LNPOLICY_DB or the default.
    let daemon_db_typed = matches
        .subcommand_matches("daemon")
        .and_then(|daemon| daemon.value_source("db"))
        == Some(clap::parser::ValueSource::CommandLine);
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // The daemon sets up its own logging (info by default, --log-format).
    if !matches!(cli.command, Some(Command::Daemon(_))) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let result = match (cli.command, cli.config) {
        (Some(Command::Strategy(command)), _) => strategy_cmd::run(command),
        (Some(Command::Sim(command)), _) => sim_cmd::run(command),
        (
            Some(Command::TestChannel {
                chan_id,
                config,
                node,
            }),
            _,
        ) => charge_cmd::test_channel(&config, &node, &chan_id, cli.verbose),
        (Some(Command::Daemon(args)), _) => daemon_cmd::run(args, daemon_db_typed, cli.verbose),
        (Some(Command::GenerateConfig { file }), _) => generate_config::write(&file),
        (
            Some(Command::Rollback {
                config,
                execute,
                node,
            }),
            _,
        ) => charge_cmd::rollback(&config, &node, execute),
        (Some(Command::Backtest(args)), _) => backtest_cmd::run(args),
        (Some(Command::Demo(args)), _) => demo_cmd::run(args),
        (Some(Command::Report(args)), _) => report_cmd::report(args),
        (Some(Command::Status(args)), _) => report_cmd::status(args),
        (Some(Command::CompileWorker), _) => unreachable!("served before logging is set up"),
        (None, Some(config)) if cli.check => charge_cmd::check(&config, &cli.node),
        (None, Some(config)) => charge_cmd::run(&config, &cli.node, cli.dry_run, cli.verbose),
        (None, None) => Err(anyhow::anyhow!(
            "no config: give -c FILE (or CONFIG_LOCATION), or a subcommand (see --help)"
        )),
    };
    match result {
        Ok(code) => code,
        // The reader left (`lnpolicy ... | head`): it has all it wanted.
        Err(err) if closed_stdout(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Standard output for `write!` and `writeln!`, the commands' only way to print: unlike
/// `println!`, which panics when the reader has gone (`lnpolicy ... | head`), it returns the
/// error for `?`.
struct Stdout;

impl Stdout {
    fn write_fmt(&self, args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
        std::io::stdout().write_fmt(args).map_err(StdoutError)
    }
}

/// A failed write to standard output, kept apart from the node's and the database's I/O
/// errors: only a closed standard output ends a command quietly.
#[derive(Debug)]
struct StdoutError(std::io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("writing to standard output")
    }
}

impl Error for StdoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

fn closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<StdoutError>()
            .is_some_and(|e| e.0.kind() == ErrorKind::BrokenPipe)
    })
}
