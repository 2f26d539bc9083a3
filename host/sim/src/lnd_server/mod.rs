//! The simulated node over LND's gRPC API, on loopback TCP with TLS, so the
//! daemon's real LND client is what end-to-end tests exercise.
//!
//! Like a real LND it writes, under its `lnddir`, a self-signed CA-flagged
//! `tls.cert` (and `tls.key`) and, in `data/chain/bitcoin/<network>/`,
//! `admin.macaroon`, `readonly.macaroon`, and `lnpolicy.macaroon` (exactly
//! the `uri:` permissions of the client's methods, what the documented
//! `lncli bakemacaroon` line produces). It serves `lnrpc.Lightning`,
//! `routerrpc.Router` and `walletrpc.WalletKit`. Every call, admitted or not, is
//! appended to `NodeState::calls` ("lnrpc.Lightning/GetInfo"); then the
//! configured faults apply (latency, an injected UNAVAILABLE, or a dropped
//! connection), then LND's macaroon check, then the method itself.

mod auth;
mod lightning;
mod router;
mod tls;
mod walletkit;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lnpolicy_node::lnd::LndConfig;
use lnpolicy_node::lnd::permissions::{CLIENT_METHODS, Permission};
use lnpolicy_node::lnrpc::lightning_server::LightningServer;
use lnpolicy_node::routerrpc::router_server::RouterServer;
use lnpolicy_node::walletrpc::wallet_kit_server::WalletKitServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::Service;
use tracing::{debug, info, warn};

use crate::cln_server::{FaultConfig, MethodFaults};
use crate::rng::Rng;
use crate::state::NodeState;
use lightning::LightningService;
use router::RouterService;
use walletkit::WalletKitService;

/// How the server presents itself and misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct LndServerConfig {
    /// The `lnddir` the certificate and macaroons are written to.
    pub lnddir: PathBuf,
    /// `GetInfo.chains[0].network`, and the macaroon directory's name.
    pub network: String,
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Keyed by the recorded method name ("lnrpc.Lightning/GetInfo").
    pub faults: FaultConfig,
    /// How often HTLC event streams look for new failures in the state.
    pub poll_interval: Duration,
}

impl LndServerConfig {
    pub fn new(lnddir: impl Into<PathBuf>) -> Self {
        LndServerConfig {
            lnddir: lnddir.into(),
            network: "regtest".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: FaultConfig::default(),
            poll_interval: Duration::from_millis(10),
        }
    }
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LndServerError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot make the TLS identity: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("no randomness for the macaroon root key: {0}")]
    Random(#[from] getrandom::Error),
}

/// The fault configuration and its seeded draw: which calls fail is a
/// function of the seed and the order of calls.
struct Faults {
    config: FaultConfig,
    rng: Rng,
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Answer,
    Error,
    Drop,
}

impl Faults {
    fn new(config: FaultConfig) -> Self {
        let rng = Rng::new(config.seed);
        Faults { config, rng }
    }

    /// Two draws per call whatever the rates (as the CLN server does), so
    /// changing one rate does not reshuffle which calls the other hits.
    fn fate(&mut self, method: &str) -> (MethodFaults, Fate) {
        let faults = self.config.for_method(method);
        let drop = self.rng.uniform();
        let error = self.rng.uniform();
        let fate = if drop < faults.drop_rate {
            Fate::Drop
        } else if error < faults.error_rate {
            Fate::Error
        } else {
            Fate::Answer
        };
        (faults, fate)
    }
}

/// Cancelling it closes the connection the request arrived on.
#[derive(Clone)]
struct ConnectionKill(CancellationToken);

/// What every service shares.
struct Shared {
    state: Arc<Mutex<NodeState>>,
    auth: auth::Auth,
    faults: Mutex<Faults>,
    network: String,
    poll_interval: Duration,
    shutdown: CancellationToken,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the call, applies faults, checks the macaroon.
    async fn admit<T>(
        &self,
        method: &'static str,
        request: &tonic::Request<T>,
    ) -> Result<(), tonic::Status> {
        self.state().calls.push(method.to_owned());
        let (faults, fate) = self
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fate(method);
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        match fate {
            Fate::Answer => {}
            Fate::Error => {
                debug!(method, "injecting UNAVAILABLE");
                return Err(tonic::Status::unavailable(format!(
                    "injected fault in {method}"
                )));
            }
            Fate::Drop => {
                debug!(method, "dropping the connection");
                if let Some(ConnectionKill(kill)) = request.extensions().get::<ConnectionKill>() {
                    kill.cancel();
                    // The connection task drops this handler with the
                    // connection; nothing is ever answered.
                    std::future::pending::<()>().await;
                }
                return Err(tonic::Status::unavailable("connection dropped"));
            }
        }
        self.auth.authorize(request.metadata(), method)
    }
}

/// Starts simulated LND gRPC servers over a shared `NodeState`.
pub struct LndServer;

/// Mode of LND's certificate: anyone may read it.
const PUBLIC: u32 = 0o644;
/// Mode of LND's key and macaroons: owner only.
const SECRET: u32 = 0o600;

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), LndServerError> {
    let write_error = |source| LndServerError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(write_error)?;
    file.write_all(contents).map_err(write_error)
}

impl LndServer {
    /// Writes the certificate and macaroons, listens, and serves until the
    /// handle is shut down or dropped.
    pub async fn start(
        state: Arc<Mutex<NodeState>>,
        config: LndServerConfig,
    ) -> Result<LndServerHandle, LndServerError> {
        let identity = tls::generate_identity()?;
        let tls_config = tls::server_config(&identity)?;
        let cert_path = config.lnddir.join("tls.cert");
        write_file(&cert_path, identity.cert_pem.as_bytes(), PUBLIC)?;
        write_file(
            &config.lnddir.join("tls.key"),
            identity.key_pem.as_bytes(),
            SECRET,
        )?;

        let auth = auth::Auth::new()?;
        let macaroon_dir = config
            .lnddir
            .join("data/chain/bitcoin")
            .join(&config.network);
        let admin_macaroon = macaroon_dir.join("admin.macaroon");
        let readonly_macaroon = macaroon_dir.join("readonly.macaroon");
        let lnpolicy_macaroon = macaroon_dir.join("lnpolicy.macaroon");
        let client_uris: Vec<Permission> =
            CLIENT_METHODS.iter().map(|m| Permission::uri(m)).collect();
        write_file(
            &admin_macaroon,
            &auth.bake(&auth::admin_permissions())?,
            SECRET,
        )?;
        write_file(
            &readonly_macaroon,
            &auth.bake(&auth::readonly_permissions())?,
            SECRET,
        )?;
        write_file(&lnpolicy_macaroon, &auth.bake(&client_uris)?, SECRET)?;

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| LndServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| LndServerError::Bind {
                addr: config.listen,
                source,
            })?;

        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            state,
            auth,
            faults: Mutex::new(Faults::new(config.faults.clone())),
            network: config.network.clone(),
            poll_interval: config.poll_interval,
            shutdown: shutdown.clone(),
        });
        let services = Services {
            lightning: LightningServer::new(LightningService {
                shared: shared.clone(),
            }),
            router: RouterServer::new(RouterService {
                shared: shared.clone(),
            }),
            wallet: WalletKitServer::new(WalletKitService {
                shared: shared.clone(),
            }),
        };
        let acceptor = TlsAcceptor::from(Arc::new(tls_config));
        let task = tokio::spawn(accept_loop(listener, acceptor, services, shutdown.clone()));
        info!(%addr, lnddir = %config.lnddir.display(), "simulated LND gRPC server listening");
        Ok(LndServerHandle {
            addr,
            cert_path,
            admin_macaroon,
            readonly_macaroon,
            lnpolicy_macaroon,
            shared,
            shutdown,
            task: Some(task),
        })
    }
}

#[derive(Clone)]
struct Services {
    lightning: LightningServer<LightningService>,
    router: RouterServer<RouterService>,
    wallet: WalletKitServer<WalletKitService>,
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    services: Services,
    shutdown: CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            tcp,
            peer,
            acceptor.clone(),
            services.clone(),
            shutdown.child_token(),
        ));
    }
}

/// TLS, then HTTP/2 with both services routed by path, until the client
/// leaves, the server stops, or a fault kills the connection.
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    services: Services,
    kill: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            debug!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let connection_kill = ConnectionKill(kill.clone());
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(connection_kill.clone());
        let mut services = services.clone();
        async move {
            let path = request.uri().path();
            if path.starts_with("/routerrpc.Router/") {
                services.router.call(request).await
            } else if path.starts_with("/walletrpc.WalletKit/") {
                services.wallet.call(request).await
            } else {
                services.lightning.call(request).await
            }
        }
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                debug!(%peer, "connection ended: {e}");
            }
        }
        _ = kill.cancelled() => debug!(%peer, "connection closed by the server"),
    }
}

/// A running server. Dropping it stops the server too, without waiting.
pub struct LndServerHandle {
    addr: SocketAddr,
    cert_path: PathBuf,
    admin_macaroon: PathBuf,
    readonly_macaroon: PathBuf,
    lnpolicy_macaroon: PathBuf,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl LndServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    pub fn admin_macaroon_path(&self) -> &Path {
        &self.admin_macaroon
    }

    pub fn readonly_macaroon_path(&self) -> &Path {
        &self.readonly_macaroon
    }

    /// The least-privilege macaroon: `uri:` permissions of the client's
    /// methods only.
    pub fn lnpolicy_macaroon_path(&self) -> &Path {
        &self.lnpolicy_macaroon
    }

    /// Client settings for this server with the given macaroon.
    pub fn client_config(&self, macaroon: &Path) -> LndConfig {
        LndConfig::new(self.addr.to_string(), &self.cert_path, macaroon)
    }

    /// Writes a macaroon granting exactly `permissions`, as `lncli
    /// bakemacaroon --save_to` would.
    pub fn bake_macaroon(
        &self,
        permissions: &[Permission],
        path: &Path,
    ) -> Result<(), LndServerError> {
        write_file(path, &self.shared.auth.bake(permissions)?, SECRET)
    }

    /// Replaces the fault configuration (and restarts its seeded draw).
    pub fn set_faults(&self, faults: FaultConfig) {
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Faults::new(faults);
    }

    /// Stops accepting and closes every connection and stream.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            warn!("LND server task ended badly: {e}");
        }
    }
}

impl Drop for LndServerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_follow_rates_and_seed() {
        let faults = |seed| {
            Faults::new(FaultConfig::uniform(
                seed,
                MethodFaults {
                    error_rate: 0.1,
                    drop_rate: 0.02,
                    latency: Duration::ZERO,
                },
            ))
        };
        let draw = |seed| {
            let mut f = faults(seed);
            (0..20_000)
                .map(|_| f.fate("lnrpc.Lightning/GetInfo").1)
                .collect::<Vec<_>>()
        };
        let a = draw(3);
        assert_eq!(a, draw(3));
        assert_ne!(a, draw(4));
        let share = |fate| a.iter().filter(|&&f| f == fate).count() as f64 / a.len() as f64;
        assert!((share(Fate::Drop) - 0.02).abs() < 0.005);
        assert!((share(Fate::Error) - 0.098).abs() < 0.01);
    }
}
