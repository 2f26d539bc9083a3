//! `lnpolicy daemon` as an operator runs it: the real binary as a child process, the real LND
//! protocol to a simulated node served from this test process (so the node outlives every
//! daemon the tests start and kill), real SQLite, metrics over a real socket, real signals.
//! Nothing is timed: every wait polls for an observable state with a generous limit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lnpolicy_core::FeePolicy;
use lnpolicy_node::lnd::permissions::{
    FORWARDING_HISTORY, GET_NODE_INFO, GET_TRANSACTIONS, LIST_CHANNELS, SUBSCRIBE_HTLC_EVENTS,
    UPDATE_CHANNEL_POLICY,
};
use lnpolicy_sim::cln_server::{FaultConfig, MethodFaults};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_sim::rng::Rng;
use lnpolicy_sim::state::NodeState;
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::{IntentStatus, Store};
use serde_json::Value;

/// Long enough for a loaded 2-core machine compiling the guests on a daemon's first start.
const PATIENCE: Duration = Duration::from_secs(180);

/// Moves every channel's fee every cycle (the per-channel climber with no minimum interval;
/// the pooled default moves once a day), so that each cycle sends updates and a kill can
/// land in the middle of them.
const CLIMBER: &str =
    "[default]\nstrategy = hill_climber\nmin_hours_between_moves = 0\npool_channels = false\n";

/// Polls `check` until it gives a value; panics naming `what` after `PATIENCE`.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "gave up after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The balanced scenario's node behind the real LND gRPC server, served by this process's
/// own runtime; the database and config live in its folder.
struct Node {
    // Fields drop in order: the server stops before its runtime goes.
    server: LndServerHandle,
    live: LiveSimulation,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Node {
    fn start(faults: FaultConfig) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
        live.advance(3600);
        let dir = tempfile::tempdir().unwrap();
        let mut config = LndServerConfig::new(dir.path().join("lnd"));
        config.faults = faults;
        let server = runtime
            .block_on(LndServer::start(live.shared(), config))
            .unwrap();
        Node {
            server,
            live,
            dir,
            _runtime: runtime,
        }
    }

    fn state<T>(&self, f: impl FnOnce(&mut NodeState) -> T) -> T {
        let shared = self.live.shared();
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Policy updates the node has received so far.
    fn update_calls(&self) -> usize {
        self.state(|s| {
            s.calls
                .iter()
                .filter(|c| c.as_str() == UPDATE_CHANNEL_POLICY)
                .count()
        })
    }

    fn policies(&self) -> Vec<(u64, FeePolicy)> {
        self.state(|s| s.channels.iter().map(|c| (c.id, c.local_policy)).collect())
    }

    fn all_fees_are(&self, ppm: u32) -> bool {
        self.policies().iter().all(|(_, p)| p.fee_ppm == ppm)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("lnpolicy.db")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("charge.config")
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// `lnpolicy daemon` against this node with JSON logs, plus `extra`.
    fn daemon(&self, extra: &[&str]) -> Daemon {
        self.daemon_on(&self.config_path(), extra)
    }

    /// [`Node::daemon`] with the config at `config`.
    fn daemon_on(&self, config: &Path, extra: &[&str]) -> Daemon {
        let mut args: Vec<String> = vec![
            "daemon".into(),
            "-c".into(),
            config.display().to_string(),
            "--grpc".into(),
            self.server.addr().to_string(),
            "--tlscert".into(),
            self.server.cert_path().display().to_string(),
            "--macaroon".into(),
            self.server.lnpolicy_macaroon_path().display().to_string(),
            "--db".into(),
            self.db().display().to_string(),
            "--strategies".into(),
            self.dir.path().join("strategies").display().to_string(),
            "--log-format".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Daemon::spawn(&args)
    }

    fn store(&self) -> Store {
        Store::open(&self.db()).unwrap()
    }
}

/// Slows every policy update down, so that a signal can arrive in the middle of a cycle.
fn slow_updates(latency: Duration) -> FaultConfig {
    slow(UPDATE_CHANNEL_POLICY, latency)
}

/// Every call of `method` answers `latency` late.
fn slow(method: &str, latency: Duration) -> FaultConfig {
    let mut faults = FaultConfig::default();
    faults.per_method.insert(
        method.to_owned(),
        MethodFaults {
            latency,
            ..MethodFaults::default()
        },
    );
    faults
}

/// A running `lnpolicy` whose stderr (JSON log lines) is kept for the test to read.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    fn spawn(args: &[String]) -> Daemon {
        Daemon::spawn_with(args, &[])
    }

    fn spawn_with(args: &[String], env: &[(&str, &Path)]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
            .args(args)
            .envs(env.iter().copied())
            .env_remove("CONFIG_LOCATION")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        Daemon {
            child,
            lines,
            reader: Some(reader),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The JSON log lines `matches` accepts so far.
    fn logged(&self, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| matches(line))
            .collect()
    }

    fn messages(&self, message: &str) -> Vec<Value> {
        self.logged(|line| line["fields"]["message"] == message)
    }

    /// Waits until `check` holds, failing at once (with the log) if the daemon exits first.
    fn wait_until<T>(&mut self, what: &str, mut check: impl FnMut(&Daemon) -> Option<T>) -> T {
        eventually(what, || {
            if let Some(value) = check(self) {
                return Some(value);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain();
                panic!(
                    "the daemon exited ({status}) before {what}:\n{}",
                    self.log()
                );
            }
            None
        })
    }

    /// The first log line with this message, waiting for it.
    fn wait_for(&mut self, message: &str) -> Value {
        self.wait_until(message, |d| d.messages(message).into_iter().next())
    }

    /// Where `--metrics 127.0.0.1:0` ended up.
    fn metrics_addr(&mut self) -> SocketAddr {
        let line = self.wait_for("serving metrics");
        line["fields"]["metrics"].as_str().unwrap().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {}", self.pid());
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let status = eventually("the daemon to exit", || self.child.try_wait().unwrap());
        self.drain();
        status
    }

    /// SIGKILL: the crash no code can react to.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.drain();
    }

    /// Until the reader has seen the end of stderr, so that `log` is complete.
    fn drain(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// SIGTERM, then exit status 0.
    fn stop(&mut self) {
        self.signal("TERM");
        let status = self.wait_exit();
        assert!(status.success(), "{status}\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` over a plain TCP connection: the status line and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn scrape(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// One sample of a scrape, by name and labels as exposed (`x_total{status="ok"}`).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

const CYCLES_OK: &str = "lnpolicy_cycles_total{status=\"ok\"}";

/// The fees that decide whether an update landed (what reconciliation compares).
fn fees(p: &FeePolicy) -> (u32, u32, i32, i32) {
    (
        p.base_fee_msat,
        p.fee_ppm,
        p.inbound_base_fee_msat,
        p.inbound_fee_ppm,
    )
}

#[test]
fn metrics_endpoint_counts_cycles_decisions_and_updates() {
    let node = Node::start(FaultConfig::default());
    node.write_config(CLIMBER);
    let mut daemon = node.daemon(&[
        "--collect-every",
        "1s",
        "--decide-every",
        "2s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = daemon.metrics_addr();
    let first = daemon.wait_until("a finished cycle", |_| {
        let text = scrape(addr);
        (sample(&text, CYCLES_OK) >= 1.0).then_some(text)
    });
    let later = daemon.wait_until("two more cycles", |_| {
        let text = scrape(addr);
        (sample(&text, CYCLES_OK) >= sample(&first, CYCLES_OK) + 2.0).then_some(text)
    });
    for series in [
        "lnpolicy_decisions_total",
        "lnpolicy_updates_total{result=\"applied\"}",
    ] {
        assert!(
            sample(&later, series) > sample(&first, series),
            "{series} did not increase:\n{first}\n{later}"
        );
    }
    for series in [
        "lnpolicy_cycles_total{status=\"failed\"}",
        "lnpolicy_collections_total{status=\"ok\"}",
        "lnpolicy_clamps_total",
        "lnpolicy_guest_failures_total",
        "lnpolicy_quarantines_total",
        "lnpolicy_updates_total{result=\"failed\"}",
        "lnpolicy_updates_total{result=\"below_delta\"}",
        "lnpolicy_updates_total{result=\"unchanged\"}",
        "lnpolicy_config_reloads_total{result=\"ok\"}",
        "lnpolicy_config_reloads_total{result=\"rejected\"}",
        "lnpolicy_strategy_reloads_total",
        "lnpolicy_revenue_msat{window=\"1d\"}",
        "lnpolicy_revenue_msat{window=\"7d\"}",
    ] {
        assert!(sample(&later, series) >= 0.0);
    }
    assert_eq!(sample(&later, "lnpolicy_channels"), 14.0);
    assert_eq!(sample(&later, "lnpolicy_strategy_reloads_total"), 0.0);
    assert_eq!(sample(&later, "lnpolicy_channels_failed_total"), 0.0);

    // A strategy dropped into the folder while running is loaded and counted.
    let bytes = lnpolicy_builtins::get("static").unwrap();
    std::fs::write(node.dir.path().join("strategies/my_static.wasm"), bytes).unwrap();
    daemon.wait_until("the new strategy to be loaded", |_| {
        (sample(&scrape(addr), "lnpolicy_strategy_reloads_total") >= 1.0).then_some(())
    });
    assert_eq!(
        sample(&later, "lnpolicy_cycles_total{status=\"failed\"}"),
        0.0
    );
    assert!(
        later.contains("# TYPE lnpolicy_revenue_msat gauge"),
        "{later}"
    );
    assert_eq!(http_get(addr, "/").0, "HTTP/1.1 404 Not Found");
    daemon.stop();
}

fn assert_reloaded_for_a_file_change(daemon: &Daemon) {
    let reloaded = daemon.messages("config reloaded");
    assert!(
        reloaded
            .iter()
            .any(|line| line["fields"]["cause"] == "file changed"),
        "{}",
        daemon.log()
    );
}

/// A daemon deciding every second with its metrics served, once its config has set every
/// fee to 111 ppm; and the metrics' address.
fn every_second_at_111_ppm(node: &Node) -> (Daemon, SocketAddr) {
    let mut daemon = node.daemon(&[
        "--collect-every",
        "1s",
        "--decide-every",
        "1s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = daemon.metrics_addr();
    daemon.wait_until("every fee at 111 ppm", |_| {
        node.all_fees_are(111).then_some(())
    });
    (daemon, addr)
}

#[test]
fn sighup_with_a_bad_config_keeps_the_running_one_and_a_good_file_change_replaces_it() {
    let node = Node::start(FaultConfig::default());
    node.write_config("[default]\nstrategy = static\nfee_ppm = 111\n");
    let (mut daemon, addr) = every_second_at_111_ppm(&node);
    // Each update is logged with what it replaced and the rows it is recorded in.
    let applied = daemon.messages("policy applied");
    let first = &applied.first().expect("updates logged")["fields"];
    assert_eq!(first["fee_ppm"], 111, "{first}");
    assert!(
        first["was_fee_ppm"].as_u64().is_some_and(|was| was != 111),
        "{first}"
    );
    assert!(first["decision"].as_i64().is_some(), "{first}");
    assert!(first["intent"].as_i64().is_some(), "{first}");
    assert_eq!(first["disabled"], false, "{first}");

    node.write_config("[default]\nstrategy = static\nfee_ppm = abc\n");
    daemon.signal("HUP");
    let rejected = daemon.wait_until("the SIGHUP reload to be rejected", |d| {
        d.messages("config rejected; the running config stays in effect")
            .into_iter()
            .find(|line| line["fields"]["cause"] == "SIGHUP")
    });
    let fields = &rejected["fields"];
    assert_eq!(fields["line"], 3, "{rejected}");
    assert_eq!(fields["key"], "fee_ppm", "{rejected}");
    assert!(
        fields["file"].as_str().unwrap().ends_with("charge.config"),
        "{rejected}"
    );
    assert!(
        fields["error"]
            .as_str()
            .unwrap()
            .contains("charge.config:3:"),
        "{rejected}"
    );
    let text = scrape(addr);
    assert!(sample(&text, "lnpolicy_config_reloads_total{result=\"rejected\"}") >= 1.0);
    assert_eq!(
        sample(&text, "lnpolicy_config_reloads_total{result=\"ok\"}"),
        0.0
    );

    // Someone changes the fees behind the daemon's back: the next cycles put the old
    // config's fee back, because the old config is still the one in effect.
    node.state(|s| {
        for channel in &mut s.channels {
            channel.local_policy.fee_ppm = 500;
        }
    });
    daemon.wait_until("the old config's 111 ppm back on every channel", |_| {
        node.all_fees_are(111).then_some(())
    });

    // A good config written over the file is picked up without a signal.
    node.write_config("[default]\nstrategy = static\nfee_ppm = 222\n");
    daemon.wait_until("every fee at 222 ppm", |_| {
        node.all_fees_are(222).then_some(())
    });
    assert_reloaded_for_a_file_change(&daemon);
    assert!(
        sample(
            &scrape(addr),
            "lnpolicy_config_reloads_total{result=\"ok\"}"
        ) >= 1.0
    );
    daemon.stop();
}

/// A script that rewrites a `file://` list (a Pool export, a friends list) is followed as a
/// cron-run charge-lnd would read it on its next run: without a signal.
#[test]
fn a_changed_list_file_is_read_again_without_a_signal() {
    let node = Node::start(FaultConfig::default());
    let list = node.dir.path().join("friends.list");
    std::fs::write(&list, "# none yet\n").unwrap();
    node.write_config(
        "[friends]\nchan.id = file://friends.list\nstrategy = static\nfee_ppm = 333\n\
         [default]\nstrategy = static\nfee_ppm = 111\n",
    );
    let mut daemon = node.daemon(&["--collect-every", "1s", "--decide-every", "1s"]);
    daemon.wait_until("every fee at 111 ppm", |_| {
        node.all_fees_are(111).then_some(())
    });
    let friend = node.policies()[0].0;
    std::fs::write(&list, format!("{friend}\n")).unwrap();
    daemon.wait_until("the listed channel at 333 ppm", |_| {
        node.policies()
            .iter()
            .all(|(id, p)| p.fee_ppm == if *id == friend { 333 } else { 111 })
            .then_some(())
    });
    assert_reloaded_for_a_file_change(&daemon);
    daemon.stop();
}

/// The node cannot be read from the start (every ListChannels fails), and the database holds
/// an hour-old forward from an earlier run: the revenue gauge is still computed from the
/// store for the window ending now, not left unset until a run succeeds.
#[test]
fn the_revenue_gauge_is_kept_while_the_node_cannot_be_read() {
    let node = Node::start(FaultConfig {
        seed: 1,
        default: MethodFaults::default(),
        per_method: [(
            LIST_CHANNELS.to_owned(),
            MethodFaults {
                error_rate: 1.0,
                ..MethodFaults::default()
            },
        )]
        .into(),
    });
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3_600;
    node.store()
        .add_forwards(
            &[lnpolicy_core::Forward {
                index: 1,
                at_ns: an_hour_ago * 1_000_000_000,
                chan_in: 1,
                chan_out: 2,
                amt_in_msat: 1_005_000,
                amt_out_msat: 1_000_000,
                fee_msat: 5_000,
            }],
            1,
        )
        .unwrap();
    node.write_config("[default]\nstrategy = static\nfee_ppm = 111\n");
    let mut daemon = node.daemon(&[
        "--collect-every",
        "1s",
        "--decide-every",
        "1h",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = daemon.metrics_addr();
    let text = daemon.wait_until("a failed run", |_| {
        let text = scrape(addr);
        (sample(&text, "lnpolicy_cycles_total{status=\"failed\"}") >= 1.0).then_some(text)
    });
    assert_eq!(
        sample(&text, "lnpolicy_revenue_msat{window=\"1d\"}"),
        5_000.0
    );
    daemon.stop();
}

/// A config at 111 ppm in the folder `folder(v1)` of `node`, reached through the link `link`
/// (relative to the node's folder) that points at it; the daemon runs on `config`, then the
/// link is swapped at once for one to `folder(v2)` at 222 ppm, as a deploy does with a rename:
/// the daemon reads the new config without a signal.
fn assert_follows_a_swapped_link(
    node: &Node,
    folder: impl Fn(&str) -> String,
    link: &str,
    config: &Path,
) {
    let dir = node.dir.path();
    let release = |version: &str, fee_ppm: u32| {
        let at = dir.join(folder(version));
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(
            at.join("charge.config"),
            format!("[default]\nstrategy = static\nfee_ppm = {fee_ppm}\n"),
        )
        .unwrap();
    };
    release("v1", 111);
    std::os::unix::fs::symlink(folder("v1"), dir.join(link)).unwrap();
    let mut daemon = node.daemon_on(config, &["--collect-every", "1s", "--decide-every", "1s"]);
    daemon.wait_until("every fee at 111 ppm", |_| {
        node.all_fees_are(111).then_some(())
    });
    release("v2", 222);
    let swapping = dir.join(format!("{link}.tmp"));
    std::os::unix::fs::symlink(folder("v2"), &swapping).unwrap();
    std::fs::rename(&swapping, dir.join(link)).unwrap();
    daemon.wait_until("every fee at 222 ppm", |_| {
        node.all_fees_are(222).then_some(())
    });
    assert_reloaded_for_a_file_change(&daemon);
    daemon.stop();
}

/// A Kubernetes ConfigMap: `charge.config -> ..data/charge.config`, and an update swaps
/// `..data` beside it. No event names the config file.
#[test]
fn a_config_behind_a_swapped_link_is_read_again() {
    let node = Node::start(FaultConfig::default());
    std::os::unix::fs::symlink("..data/charge.config", node.config_path()).unwrap();
    assert_follows_a_swapped_link(
        &node,
        |version| format!("..{version}"),
        "..data",
        &node.config_path(),
    );
}

/// A deploy that swaps `current -> releases/v1` for `releases/v2` (`ln -sfn`), the config
/// read as `current/charge.config`: the swap happens in the folder above, and is followed.
#[test]
fn a_config_in_a_swapped_linked_folder_is_read_again() {
    let node = Node::start(FaultConfig::default());
    let config = node.dir.path().join("current").join("charge.config");
    assert_follows_a_swapped_link(
        &node,
        |version| format!("releases/{version}"),
        "current",
        &config,
    );
}

#[test]
fn a_second_daemon_on_the_same_database_is_refused() {
    let node = Node::start(FaultConfig::default());
    node.write_config(CLIMBER);
    let mut first = node.daemon(&[]);
    first.wait_for("daemon started");

    let mut second = node.daemon(&[]);
    let status = second.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", second.log());
    let log = second.log();
    assert!(
        log.contains(&format!("(pid {})", first.pid()))
            && log.contains("one process at a time per database"),
        "{log}"
    );
    assert!(log.contains("lnpolicy.db.lock"), "{log}");
    first.stop();
}

#[test]
fn sigterm_lets_the_cycle_in_flight_finish_and_exits_0() {
    let node = Node::start(slow_updates(Duration::from_millis(150)));
    node.write_config(CLIMBER);
    let mut daemon = node.daemon(&["--decide-every", "1h"]);
    daemon.wait_until("the first updates of the cycle", |_| {
        (node.update_calls() >= 3).then_some(())
    });
    daemon.stop();

    assert!(
        !daemon
            .messages("shutting down: letting the run in flight finish")
            .is_empty()
    );
    assert_eq!(daemon.messages("cycle done").len(), 1, "{}", daemon.log());
    let store = node.store();
    assert_eq!(store.pending_intents().unwrap(), vec![]);
    let applied = intents(&node)
        .iter()
        .filter(|(_, status, _)| *status == IntentStatus::Applied)
        .count();
    assert_eq!(applied, node.update_calls());
    assert!(applied > 3, "the cycle stopped after {applied} updates");
}

#[test]
fn sigterm_past_the_grace_abandons_the_cycle_and_the_next_start_reconciles() {
    let node = Node::start(slow_updates(Duration::from_secs(2)));
    node.write_config(CLIMBER);
    let mut daemon = node.daemon(&["--decide-every", "1h", "--shutdown-grace", "0"]);
    daemon.wait_until("an update in flight", |_| {
        (node.update_calls() >= 1).then_some(())
    });
    daemon.stop();
    assert_eq!(daemon.messages("cycle abandoned on shutdown; an update it had in flight stays pending and is reconciled at the next start").len(), 1);
    let pending = node.store().pending_intents().unwrap();
    assert_eq!(pending.len(), 1, "{}", daemon.log());
    let left = daemon.messages(
        "update intents left pending by the abandoned run; the next start reconciles them against the node",
    );
    assert_eq!(left[0]["fields"]["pending"], 1);

    // The update was cut during its node call: the simulated node drops a request whose
    // client went away, so the channel still has its old fees and the next start says so.
    node.server.set_faults(FaultConfig::default());
    let mut next = node.daemon(&["--decide-every", "1h"]);
    let reconciled = next.wait_for("reconciled updates left pending by an earlier run");
    next.wait_for("cycle done");
    next.stop();
    assert_eq!(reconciled["fields"]["applied"], 0, "{reconciled}");
    assert_eq!(reconciled["fields"]["not_applied"], 1, "{reconciled}");
    let intent = node.store().intent(pending[0].id).unwrap().unwrap();
    assert_eq!(intent.status, IntentStatus::Failed);
    assert!(intent.error.unwrap().starts_with("not applied"));
    assert_eq!(node.store().pending_intents().unwrap(), vec![]);
}

/// A cycle that first catches up with a slow node's history decides, and records its updates,
/// at the time the catch-up ended rather than the time the cycle was due.
#[test]
fn a_cycle_decides_at_the_time_its_catch_up_ended() {
    let node = Node::start(slow(FORWARDING_HISTORY, Duration::from_secs(3)));
    node.write_config("[default]\nstrategy = static\nfee_ppm = 111\n");
    let mut daemon = node.daemon(&["--decide-every", "1h", "--collect-every", "1h"]);
    let done = daemon.wait_for("cycle done");
    let due = done["span"]["at"].as_u64().unwrap();
    let decided_at = done["fields"]["decided_at"].as_u64().unwrap();
    let cycle = node.store().recent_cycles(1).unwrap().remove(0);
    assert_eq!(cycle.started_at, decided_at);
    assert!(
        decided_at >= due + 3,
        "due at {due}, decided at {decided_at}: the catch-up's 3 s are missing"
    );
    daemon.stop();
}

#[test]
fn sim_mode_runs_the_config_in_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("charge.config");
    std::fs::write(&config, CLIMBER).unwrap();
    let args: Vec<String> = [
        "daemon",
        "-c",
        config.to_str().unwrap(),
        "--sim",
        "balanced",
        "--speed",
        "3600",
        "--collect-every",
        "10m",
        "--decide-every",
        "1h",
        "--strategies",
        dir.path().join("strategies").to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // LNPOLICY_DB names the real node's database: simulated history must not go there.
    let real_db = dir.path().join("real.db");
    let mut daemon = Daemon::spawn_with(&args, &[("LNPOLICY_DB", &real_db)]);
    let addr = daemon.metrics_addr();
    let text = daemon.wait_until("three cycles and some revenue", |_| {
        let text = scrape(addr);
        (sample(&text, CYCLES_OK) >= 3.0
            && sample(&text, "lnpolicy_revenue_msat{window=\"1d\"}") > 0.0)
            .then_some(text)
    });
    assert!(sample(&text, "lnpolicy_collections_total{status=\"ok\"}") >= 1.0);
    // Cycles are an hour apart on the virtual clock.
    let at: Vec<u64> = daemon
        .messages("cycle done")
        .iter()
        .map(|line| line["span"]["at"].as_u64().unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[1] - w[0] == 3600), "{at:?}");
    daemon.stop();
    assert!(
        !real_db.exists(),
        "the simulated node wrote into LNPOLICY_DB"
    );
}

/// Every intent row: id, status, error.
fn intents(node: &Node) -> Vec<(i64, IntentStatus, Option<String>)> {
    let conn = rusqlite::Connection::open(node.db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, status, error FROM update_intents ORDER BY id")
        .unwrap();
    stmt.query_map([], |row| {
        let status: String = row.get(1)?;
        let status = match status.as_str() {
            "pending" => IntentStatus::Pending,
            "applied" => IntentStatus::Applied,
            _ => IntentStatus::Failed,
        };
        Ok((row.get(0)?, status, row.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// SIGKILL at seeded pseudo-random points over many cycles, restarting each time against a
/// node that outlives the daemon; then the database and the node must agree exactly.
#[test]
fn kill_9_at_random_points_loses_and_duplicates_no_update() {
    const KILLS: usize = 15;
    let mut node = Node::start(FaultConfig::default());
    node.write_config(CLIMBER);
    let initial = node.policies();
    let mut rng = Rng::new(0x6c6e_706f_6c69_6379);
    let mut reconciled = (0, 0);
    let mut kinds = [0; 3];
    for _ in 0..KILLS {
        let before = node.update_calls();
        let mut daemon = node.daemon(&["--collect-every", "1s", "--decide-every", "1s"]);
        let kind = rng.below(3) as usize;
        kinds[kind] += 1;
        match kind {
            // Right after the k-th update of this run reached the node: mid-apply.
            0 => {
                let k = rng.range_inclusive(1, 40) as usize;
                let started = Instant::now();
                while node.update_calls() < before + k {
                    assert!(started.elapsed() < PATIENCE, "{}", daemon.log());
                    assert!(
                        daemon.child.try_wait().unwrap().is_none(),
                        "{}",
                        daemon.log()
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            // Anywhere: start-up, reconciliation, collection, deciding, idle.
            1 => std::thread::sleep(Duration::from_millis(rng.below(3000))),
            // Some time after a whole cycle.
            _ => {
                daemon.wait_for("cycle done");
                std::thread::sleep(Duration::from_millis(rng.below(1000)));
            }
        }
        daemon.kill9();
        for line in daemon.messages("reconciled updates left pending by an earlier run") {
            reconciled.0 += line["fields"]["applied"].as_u64().unwrap();
            reconciled.1 += line["fields"]["not_applied"].as_u64().unwrap();
        }
        // A request the node received just before the kill is finished by now (the node
        // answers without delay); only then may the market move on.
        std::thread::sleep(Duration::from_millis(50));
        node.live.advance(600);
    }

    // A last, clean run: reconcile, some whole cycles, SIGTERM.
    let mut daemon = node.daemon(&[
        "--collect-every",
        "1s",
        "--decide-every",
        "1s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = daemon.metrics_addr();
    daemon.wait_until("two whole cycles", |_| {
        (sample(&scrape(addr), CYCLES_OK) >= 2.0).then_some(())
    });
    for line in daemon.messages("reconciled updates left pending by an earlier run") {
        reconciled.0 += line["fields"]["applied"].as_u64().unwrap();
        reconciled.1 += line["fields"]["not_applied"].as_u64().unwrap();
    }
    daemon.stop();

    let store = node.store();
    store.integrity_check().unwrap();
    assert_eq!(store.pending_intents().unwrap(), vec![]);
    let rows = intents(&node);
    let calls = node.update_calls();
    let applied = rows
        .iter()
        .filter(|(_, status, _)| *status == IntentStatus::Applied)
        .count();
    eprintln!(
        "{KILLS} kills (mid-apply {}, anywhere {}, after a cycle {}): {calls} updates sent, \
         {} intents ({applied} applied), reconciled after a kill: {} applied, {} not applied",
        kinds[0],
        kinds[1],
        kinds[2],
        rows.len(),
        reconciled.0,
        reconciled.1
    );
    // Every update the node received is one intent resolved applied, and no more.
    assert_eq!(applied, calls);
    // Without faults, a failed intent can only be one a kill cut before its call.
    for (id, status, error) in &rows {
        if *status == IntentStatus::Failed {
            let error = error.as_deref().unwrap_or_default();
            assert!(error.starts_with("not applied"), "intent {id}: {error}");
        }
    }
    // One intent per decision at most.
    let conn = rusqlite::Connection::open(node.db()).unwrap();
    let duplicated: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT decision_id FROM update_intents
             WHERE decision_id IS NOT NULL GROUP BY decision_id HAVING COUNT(*) > 1)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(duplicated, 0);

    // Replay the intents per channel: each was recorded against the policy the previous
    // applied one left (so nothing reached the node unrecorded), and the last applied one
    // is what the node has now.
    let mut current: std::collections::BTreeMap<u64, FeePolicy> = initial.into_iter().collect();
    for (id, status, _) in &rows {
        let intent = store.intent(*id).unwrap().unwrap();
        let expected = current[&intent.channel_id];
        assert_eq!(
            fees(&intent.previous),
            fees(&expected),
            "intent {id} on {} was made against a policy no applied update left",
            intent.channel_id
        );
        if *status == IntentStatus::Applied {
            current.insert(intent.channel_id, intent.desired);
        }
    }
    for (channel, policy) in node.policies() {
        assert_eq!(fees(&policy), fees(&current[&channel]), "channel {channel}");
        // And the clean run's last guarded decision is what the node has.
        let last = store.decisions_for_channel(channel, 1).unwrap();
        if let Some(decided) = last.first().and_then(|d| d.guarded.policy) {
            assert_eq!(fees(&decided), fees(&policy), "channel {channel}");
        }
    }
}

/// `--dry-run` watches: each cycle decides and logs the updates it would send, and the node
/// and the database's decisions and intents are left as they were.
#[test]
fn dry_run_logs_what_it_would_send_and_sends_and_records_nothing() {
    let node = Node::start(FaultConfig::default());
    node.write_config("[default]\nstrategy = static\nfee_ppm = 777\n");
    let before = node.policies();
    let mut daemon = node.daemon(&["--dry-run", "--decide-every", "3s"]);
    let done = daemon.wait_for("cycle done");
    assert_eq!(done["fields"]["dry_run"], true, "{done}");
    let would = daemon.messages("dry run: would update");
    let mut channels: Vec<u64> = would
        .iter()
        .map(|line| line["fields"]["channel"].as_u64().unwrap())
        .collect();
    channels.sort_unstable();
    channels.dedup();
    assert_eq!(channels.len(), before.len(), "{}", daemon.log());
    assert!(
        would
            .iter()
            .all(|line| line["fields"]["new_fee_ppm"] == 777),
        "{would:?}"
    );
    // The node facts a cycle keeps (peers' fee levels, opening costs) are kept: the next
    // cycle looks none of them up again; its one GetNodeInfo is the collector's, as in every
    // cycle.
    daemon.wait_until("a second cycle", |d| {
        (d.messages("cycle done").len() >= 2).then_some(())
    });
    let calls: Vec<String> = node.state(|s| s.calls.clone());
    let cycles: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i] == "lnrpc.Lightning/ListChannels")
        .collect();
    let count = |slice: &[String], method: &str| slice.iter().filter(|c| *c == method).count();
    let (first, second) = (&calls[cycles[0]..cycles[1]], &calls[cycles[1]..]);
    assert_eq!(count(first, GET_TRANSACTIONS), 1, "{first:?}");
    assert!(count(first, GET_NODE_INFO) > 2, "{first:?}");
    assert_eq!(count(second, GET_TRANSACTIONS), 0, "{second:?}");
    assert_eq!(count(second, GET_NODE_INFO), 1, "{second:?}");
    daemon.stop();

    assert_eq!(node.update_calls(), 0, "nothing was sent");
    assert_eq!(node.policies(), before);
    let store = node.store();
    assert_eq!(
        store.activity_counts().unwrap(),
        vec![],
        "no decision reached the database"
    );
    assert!(intents(&node).is_empty());
    assert_eq!(
        store.channel_analyses().unwrap().len(),
        before.len(),
        "what the analytics made of each channel is a fact the reports show"
    );
}

/// systemd stops a unit by signalling each of its processes: a compile in flight at start-up
/// dies with the daemon's stop, which leaves the config naming a strategy that did not load.
/// That is a stop during start-up (status 0), not a config error.
#[cfg(target_os = "linux")]
#[test]
fn a_stop_that_ends_a_compile_at_start_up_exits_0() {
    let node = Node::start(FaultConfig::default());
    node.write_config("[default]\nstrategy = nested\n");
    let strategies = node.dir.path().join("strategies");
    std::fs::create_dir_all(&strategies).unwrap();
    std::fs::write(
        strategies.join("nested.wasm"),
        lnpolicy_tests::slow_to_compile_component(),
    )
    .unwrap();
    let mut daemon = node.daemon(&[]);
    let compiler = daemon.wait_until("the compiler child compiling", |d| {
        lnpolicy_tests::children_of(d.pid())
            .into_iter()
            .find(|&child| lnpolicy_tests::resident_above(child, 64 << 10))
    });
    // Both at once, as systemd does.
    let status = Command::new("kill")
        .args(["-TERM", &daemon.pid().to_string(), &compiler.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = daemon.wait_exit();
    assert!(status.success(), "{status}\n{}", daemon.log());
    assert_eq!(
        daemon.messages("stopped during start-up").len(),
        1,
        "{}",
        daemon.log()
    );
    assert_eq!(
        daemon.messages("config rejected at start-up").len(),
        1,
        "why the start failed is still told: {}",
        daemon.log()
    );
}

/// A reload signal sent while the daemon still connects to the node (here its HTLC event
/// subscription answers late) does not end it: SIGHUP's default action would, and systemd
/// does not restart a unit that ended on it.
#[test]
fn a_sighup_while_connecting_to_the_node_does_not_end_the_daemon() {
    let node = Node::start(slow(SUBSCRIBE_HTLC_EVENTS, Duration::from_secs(3)));
    node.write_config("[default]\nstrategy = static\nfee_ppm = 321\n");
    let mut daemon = node.daemon(&[]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        daemon.messages("daemon started").is_empty(),
        "still connecting"
    );
    daemon.signal("HUP");
    daemon.wait_for("daemon started");
    eventually("the config to be applied", || {
        node.all_fees_are(321).then_some(())
    });
    daemon.stop();
}

/// A strategy the running config names is removed from the folder: the config is checked
/// again and reported rejected (logged with its line, counted in the metrics), not left to
/// fail channel by channel in silence; once the file is back, it checks again.
#[test]
fn a_running_config_whose_strategy_goes_away_is_reported() {
    let node = Node::start(FaultConfig::default());
    let wasm = node.dir.path().join("strategies/mine.wasm");
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::write(&wasm, lnpolicy_builtins::get("static").unwrap()).unwrap();
    node.write_config("[default]\nstrategy = mine\nfee_ppm = 111\n");
    let (mut daemon, addr) = every_second_at_111_ppm(&node);
    std::fs::remove_file(&wasm).unwrap();
    let rejected = daemon.wait_until("the running config to be reported", |d| {
        d.messages("config rejected; the running config stays in effect")
            .into_iter()
            .find(|line| line["fields"]["cause"] == "strategy changed")
    });
    assert_eq!(rejected["fields"]["line"], 2, "{rejected}");
    daemon.wait_until("its channels to be counted as left unchanged", |_| {
        let text = scrape(addr);
        (sample(&text, "lnpolicy_channels_failed_total") >= 14.0
            && sample(&text, "lnpolicy_config_reloads_total{result=\"rejected\"}") >= 1.0)
            .then_some(())
    });
    std::fs::write(&wasm, lnpolicy_builtins::get("static").unwrap()).unwrap();
    daemon.wait_until("the config to check again", |d| {
        d.messages("config reloaded")
            .iter()
            .any(|line| line["fields"]["cause"] == "strategy changed")
            .then_some(())
    });
    daemon.stop();
}

/// A reload rejected for what had not appeared yet is tried again once it does: a strategy
/// file still loading when the config naming it was saved, and a `use_config` file created
/// after the config that includes it. Neither is a file of the running config.
#[test]
fn a_rejected_reload_is_tried_again_when_what_it_lacked_appears() {
    let node = Node::start(FaultConfig::default());
    node.write_config("[default]\nstrategy = static\nfee_ppm = 111\n");
    let mut daemon = node.daemon(&["--collect-every", "1s", "--decide-every", "1s"]);
    daemon.wait_until("every fee at 111 ppm", |_| {
        node.all_fees_are(111).then_some(())
    });
    let rejections = |d: &Daemon| {
        d.messages("config rejected; the running config stays in effect")
            .len()
    };

    node.write_config("[default]\nstrategy = late\nfee_ppm = 222\n");
    daemon.wait_until("the config naming a missing strategy to be rejected", |d| {
        (rejections(d) >= 1).then_some(())
    });
    // A hidden file appearing (an editor's swap file, the daemon's own database copies) is
    // not what the config lacked: no retry, where a retry is read within 300 ms.
    let before_hidden = rejections(&daemon);
    std::fs::write(node.config_path().with_file_name(".charge.config.swp"), "x").unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(rejections(&daemon), before_hidden, "{}", daemon.log());
    std::fs::write(
        node.dir.path().join("strategies/late.wasm"),
        lnpolicy_builtins::get("static").unwrap(),
    )
    .unwrap();
    daemon.wait_until("every fee at 222 ppm", |_| {
        node.all_fees_are(222).then_some(())
    });
    assert!(
        daemon
            .messages("config reloaded")
            .iter()
            .any(|line| line["fields"]["cause"] == "strategy changed"),
        "{}",
        daemon.log()
    );

    let before = rejections(&daemon);
    node.write_config("[default]\nstrategy = use_config\nconfig_file = extra.ini\n");
    daemon.wait_until("the config including a missing file to be rejected", |d| {
        (rejections(d) > before).then_some(())
    });
    std::fs::write(
        node.config_path().with_file_name("extra.ini"),
        "[default]\nstrategy = static\nfee_ppm = 333\n",
    )
    .unwrap();
    daemon.wait_until("every fee at 333 ppm", |_| {
        node.all_fees_are(333).then_some(())
    });
    daemon.stop();
}

/// A quarantined strategy shows in a gauge for as long as it lasts, and SIGHUP lifts it: a
/// built-in has no file to change, and a restart was the only other way.
#[test]
fn sighup_lifts_a_quarantine_the_gauge_showed() {
    let node = Node::start(FaultConfig::default());
    let strategies = node.dir.path().join("strategies");
    std::fs::create_dir_all(&strategies).unwrap();
    std::fs::copy(
        lnpolicy_tests::test_guest("hostile_panic"),
        strategies.join("panicky.wasm"),
    )
    .unwrap();
    node.write_config("[default]\nstrategy = panicky\n");
    let mut daemon = node.daemon(&[
        "--decide-every",
        "1s",
        "--collect-every",
        "1h",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = daemon.metrics_addr();
    let gauge = |addr| sample(&scrape(addr), "lnpolicy_quarantined_strategies");
    daemon.wait_until("the strategy to be quarantined", |_| {
        (gauge(addr) == 1.0).then_some(())
    });
    let failures = sample(&scrape(addr), "lnpolicy_guest_failures_total");
    assert_eq!(failures, 3.0);

    daemon.signal("HUP");
    let lifted = daemon.wait_for("quarantine lifted by SIGHUP");
    assert_eq!(lifted["fields"]["strategies"], "[\"panicky\"]", "{lifted}");
    daemon.wait_until("the strategy called, failing and quarantined again", |_| {
        (sample(&scrape(addr), "lnpolicy_guest_failures_total") == 6.0 && gauge(addr) == 1.0)
            .then_some(())
    });
    let store = node.store();
    let quarantined = store.quarantined_strategies().unwrap();
    assert_eq!(quarantined.len(), 1);
    daemon.stop();
}
