//! `lnpolicy sim serve` prints connection details that real clients can use.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use lnpolicy_core::NodeClient;
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::{LndClient, LndConfig};

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn value(lines: &[String], label: &str) -> String {
    let line = lines
        .iter()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in {lines:#?}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Starts `lnpolicy sim serve` on the balanced scenario with `args` for a minute; returns the
/// server and the lines it printed before the market started.
fn serve(dir: &std::path::Path, args: &[&str]) -> (Server, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(["sim", "serve", "--scenario", "balanced", "--duration", "60"])
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("market:"))
        .collect();
    (server, lines)
}

async fn lnd_client(lines: &[String]) -> LndClient {
    LndClient::connect(&LndConfig::new(
        value(lines, "LND gRPC:"),
        value(lines, "tls cert:"),
        value(lines, "macaroon:"),
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_details_connect_real_lnd_and_cln_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, lines) = serve(dir.path(), &[]);
    let lnd = lnd_client(&lines).await;
    let channels = lnd.list_channels().await.unwrap();
    assert_eq!(channels.len(), 14, "the balanced scenario's channels");
    let cln = ClnClient::connect(ClnConfig::new(value(&lines, "CLN JSON-RPC:")))
        .await
        .unwrap();
    let info = cln.get_info().await.unwrap();
    assert_eq!(
        info.pubkey,
        lnd.get_info().await.unwrap().pubkey,
        "one node behind both protocols"
    );
}

/// `--wall-clock`: the served market's forwards carry the machine's time, a day of them
/// before the node was served, so `lnpolicy -c` and the daemon read them in their windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_market_stamps_its_forwards_with_the_machines_time() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, lines) = serve(dir.path(), &["--wall-clock", "--history-days", "1"]);
    let lnd = lnd_client(&lines).await;
    let page = lnd.forwards(0, 50_000).await.unwrap();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let (first, last) = (&page.forwards[0], page.forwards.last().unwrap());
    let day_ns = 86_400 * 1_000_000_000;
    assert!(page.forwards.len() > 20, "{} forwards", page.forwards.len());
    assert!(
        first.at_ns >= now_ns - day_ns - 60 * 1_000_000_000,
        "{first:?}"
    );
    assert!(last.at_ns <= now_ns, "{last:?}");
    assert!(
        last.at_ns > now_ns - day_ns / 4,
        "{last:?}: the last hours too"
    );
}

#[test]
fn wall_clock_and_speed_exclude_each_other() {
    let output = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args([
            "sim",
            "serve",
            "--scenario",
            "balanced",
            "--wall-clock",
            "--speed",
            "60",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--speed"), "{stderr}");
}
