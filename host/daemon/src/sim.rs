//! `--sim`: a simulated node in the daemon's own process, reached the way a real one is (the
//! real LND client over gRPC, TLS and a macaroon on loopback), so that a demo or a soak test
//! runs every line of the daemon that production runs.

use std::time::Duration;

use lnpolicy_node::lnd::LndClient;
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use tempfile::TempDir;

use crate::DaemonError;

const NS: u64 = 1_000_000_000;

pub(crate) struct SimNode {
    live: LiveSimulation,
    /// Virtual seconds per wall second.
    speed: u64,
    /// Virtual milliseconds owed to the market, so that speeds below one step's worth of a
    /// second still advance it.
    owed_ms: u128,
    // Dropped after the simulation's users: the server, then its certificate and macaroons.
    _server: LndServerHandle,
    _dir: TempDir,
}

impl SimNode {
    /// Starts the market and its LND server and connects the daemon's client to it with the
    /// least-privilege macaroon, the one an operator is told to bake.
    pub(crate) async fn start(
        scenario: Scenario,
        speed: u64,
    ) -> Result<(SimNode, LndClient), DaemonError> {
        let simulation = Simulation::try_new(scenario)?;
        let live = LiveSimulation::new(simulation);
        let dir = tempfile::Builder::new()
            .prefix("lnpolicy-sim-")
            .tempdir()
            .map_err(|source| DaemonError::CreateDir {
                path: std::env::temp_dir(),
                source,
            })?;
        let server =
            LndServer::start(live.shared(), LndServerConfig::new(dir.path().join("lnd"))).await?;
        let client =
            LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path())).await?;
        tracing::info!(
            grpc = %server.addr(),
            tlscert = %server.cert_path().display(),
            macaroon = %server.lnpolicy_macaroon_path().display(),
            channels = live.simulation().state().channels.len(),
            speed,
            "simulated LND node serving"
        );
        Ok((
            SimNode {
                live,
                speed,
                owed_ms: 0,
                _server: server,
                _dir: dir,
            },
            client,
        ))
    }

    /// Virtual unix seconds.
    pub(crate) fn now(&self) -> u64 {
        self.live.simulation().now_ns() / NS
    }

    /// Advances the market by what `wall` is worth at the configured speed, but not past
    /// `limit`: the daemon's next run is due there and must see that moment's state.
    pub(crate) fn advance_by_tick(&mut self, wall: Duration, limit: u64) {
        self.owed_ms += u128::from(self.speed) * wall.as_millis();
        let owed = u64::try_from(self.owed_ms / 1000).unwrap_or(u64::MAX);
        let seconds = owed.min(limit.saturating_sub(self.now()));
        self.owed_ms -= u128::from(seconds) * 1000;
        if seconds > 0 {
            self.live.advance(seconds);
        }
    }
}
