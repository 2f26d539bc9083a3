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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_details_connect_real_lnd_and_cln_clients() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args([
            "sim",
            "serve",
            "--scenario",
            "balanced",
            "--duration",
            "60",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("market:"))
        .collect();
    let lnd = LndClient::connect(&LndConfig::new(
        value(&lines, "LND gRPC:"),
        value(&lines, "tls cert:"),
        value(&lines, "macaroon:"),
    ))
    .await
    .unwrap();
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
