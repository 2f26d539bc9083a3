//! The simulated node over Core Lightning's JSON-RPC on a unix socket, so the
//! daemon's real CLN client is what end-to-end tests exercise.
//!
//! Protocol as lightningd speaks it: a stream of JSON-RPC 2.0 requests per
//! connection (compact or pretty-printed, several in a row), params by name
//! or position, each answer `{"jsonrpc":"2.0","id":…,"result"|"error":…}`
//! followed by `"\n\n"`. Served: `getinfo`, `listpeerchannels`,
//! `listforwards`, `listchannels`, `listfunds`, `feerates`,
//! `bkpr-listaccountevents`, `setchannel`; result shapes
//! follow CLN's JSON schemas (the conformance tests validate them). Every
//! request naming a method, served or not, is appended to `NodeState::calls`
//! so tests can prove which methods a client used.

mod fault;
mod framing;
mod ledger;
mod methods;
mod params;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use lnpolicy_core::FailureReason;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use fault::{FaultConfig, MethodFaults};

use crate::state::NodeState;
use fault::{Fate, FaultRng};
use framing::{FramingError, RequestReader};
use ledger::Ledger;
use params::{INVALID_REQUEST, LIGHTNINGD, METHOD_NOT_FOUND, Params, RpcError};

/// The reason the CLN client reads for a failure the market made: CLN's `failcode` is all it
/// has, and CLN answers a forward outside our htlcmin or htlcmax (the market's `Other`) with the
/// same `temporary_channel_failure` as a lack of balance.
pub fn reported_reason(reason: FailureReason) -> FailureReason {
    match reason {
        FailureReason::Other => FailureReason::InsufficientBalance,
        reason => reason,
    }
}

/// How the server presents itself and misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ClnServerConfig {
    /// `getinfo.network`.
    pub network: String,
    /// `getinfo.lightning-dir`; defaults to the socket's directory.
    pub lightning_dir: Option<PathBuf>,
    pub faults: FaultConfig,
    /// The bookkeeper plugin runs (CLN's default); `false` is `disable-plugin=bookkeeper`:
    /// its `bkpr-*` commands are unknown.
    pub bookkeeper: bool,
    /// `bkpr-listaccountevents` takes `payment_id` (CLN >= v24.08); `false` refuses it as
    /// an unknown parameter, as older releases do.
    pub bkpr_payment_id: bool,
    /// `listchannelmoves` exists (CLN >= v25.09); `false` answers it as an unknown command.
    pub channel_moves: bool,
}

impl Default for ClnServerConfig {
    fn default() -> Self {
        ClnServerConfig {
            network: "regtest".into(),
            lightning_dir: None,
            faults: FaultConfig::default(),
            bookkeeper: true,
            bkpr_payment_id: true,
            channel_moves: true,
        }
    }
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClnServerError {
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Starts CLN JSON-RPC servers over a shared `NodeState`.
pub struct ClnServer;

impl ClnServer {
    /// Listens on `socket_path` (a stale socket file there is replaced, as
    /// lightningd does) and serves until the handle is shut down or dropped.
    pub async fn start(
        state: Arc<Mutex<NodeState>>,
        socket_path: impl Into<PathBuf>,
        config: ClnServerConfig,
    ) -> Result<ClnServerHandle, ClnServerError> {
        let socket_path = socket_path.into();
        let bind_error = |source| ClnServerError::Bind {
            path: socket_path.clone(),
            source,
        };
        if std::fs::symlink_metadata(&socket_path).is_ok_and(|m| m.file_type().is_socket()) {
            std::fs::remove_file(&socket_path).map_err(bind_error)?;
        }
        let listener = UnixListener::bind(&socket_path).map_err(bind_error)?;
        let lightning_dir = config.lightning_dir.clone().unwrap_or_else(|| {
            socket_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        });
        let shared = Arc::new(Shared {
            state,
            ledger: Mutex::new(Ledger::default()),
            faults: Mutex::new((config.faults.clone(), FaultRng::new(config.faults.seed))),
            lightning_dir,
            config,
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        tracing::info!(path = %socket_path.display(), "CLN JSON-RPC server listening");
        Ok(ClnServerHandle {
            socket_path,
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running server. Dropping it stops the server too, without waiting.
pub struct ClnServerHandle {
    socket_path: PathBuf,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ClnServerHandle {
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// Replaces the fault configuration (and restarts its seeded draw).
    pub fn set_faults(&self, faults: FaultConfig) {
        let seed = faults.seed;
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (faults, FaultRng::new(seed));
    }

    /// Stops accepting, closes every connection, removes the socket file.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!("CLN server task ended badly: {e}");
        }
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

impl Drop for ClnServerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = std::fs::remove_file(&self.socket_path);
        }
    }
}

/// State shared by all connections of one server.
struct Shared {
    state: Arc<Mutex<NodeState>>,
    ledger: Mutex<Ledger>,
    /// The active faults and their seeded draw, replaceable while serving.
    faults: Mutex<(FaultConfig, FaultRng)>,
    lightning_dir: PathBuf,
    config: ClnServerConfig,
}

async fn accept_loop(
    listener: UnixListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(e) => tracing::warn!("CLN server accept failed: {e}"),
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// What to do with one request.
enum Reply {
    Send(Value),
    Drop,
}

async fn serve_connection(stream: UnixStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut requests = RequestReader::new(read);
    loop {
        let reply = match requests.next().await {
            Ok(Some(request)) => handle(&shared, request).await,
            Ok(None) => return,
            Err(FramingError::Io(e)) => {
                tracing::debug!("CLN connection read failed: {e}");
                return;
            }
            // lightningd answers unparseable input once, then hangs up.
            Err(e) => {
                let error = RpcError::new(INVALID_REQUEST, e.to_string());
                let _ = send(&mut write, &response(Value::Null, Err(error))).await;
                return;
            }
        };
        match reply {
            Reply::Send(answer) => {
                if let Err(e) = send(&mut write, &answer).await {
                    tracing::debug!("CLN connection write failed: {e}");
                    return;
                }
            }
            Reply::Drop => return,
        }
    }
}

async fn send(write: &mut (impl AsyncWriteExt + Unpin), answer: &Value) -> std::io::Result<()> {
    let mut bytes = answer.to_string().into_bytes();
    bytes.extend_from_slice(b"\n\n");
    write.write_all(&bytes).await?;
    write.flush().await
}

fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }),
    }
}

/// Validates the envelope, records the call, applies faults, dispatches.
async fn handle(shared: &Shared, request: Value) -> Reply {
    let Value::Object(request) = request else {
        return Reply::Send(response(
            Value::Null,
            Err(RpcError::new(
                INVALID_REQUEST,
                "Expected {} for json command",
            )),
        ));
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return Reply::Send(response(
            id,
            Err(RpcError::new(INVALID_REQUEST, "No method")),
        ));
    };
    shared
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .calls
        .push(method.to_owned());
    if !(id.is_string() || id.is_number()) {
        return Reply::Send(response(
            Value::Null,
            Err(RpcError::new(INVALID_REQUEST, "No id")),
        ));
    }
    if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Reply::Send(response(
            id,
            Err(RpcError::new(
                INVALID_REQUEST,
                "jsonrpc: \"2.0\" must be specified in the request",
            )),
        ));
    }

    let (faults, fate) = {
        let mut active = shared.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let faults = active.0.for_method(method);
        let fate = active.1.fate(&faults);
        (faults, fate)
    };
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    match fate {
        Fate::Drop => {
            tracing::debug!(method, "fault injection: dropping the connection");
            return Reply::Drop;
        }
        Fate::Error => {
            let error = RpcError::new(LIGHTNINGD, format!("simulated fault in {method}"));
            return Reply::Send(response(id, Err(error)));
        }
        Fate::Answer => {}
    }

    let result = dispatch(shared, method, request.get("params"));
    Reply::Send(response(id, result))
}

fn dispatch(shared: &Shared, method: &str, params: Option<&Value>) -> Result<Value, RpcError> {
    let config = &shared.config;
    let Some(spec) = methods::find(method)
        .filter(|_| config.bookkeeper || !method.starts_with("bkpr-"))
        .filter(|_| config.channel_moves || method != "listchannelmoves")
    else {
        return Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("Unknown command '{method}'"),
        ));
    };
    // `account` alone: the parameters before v24.08 added `payment_id`.
    let names = if method == "bkpr-listaccountevents" && !config.bkpr_payment_id {
        &spec.params[..1]
    } else {
        spec.params
    };
    let params = Params::parse(names, params)?;
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    let mut ledger = shared.ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let mut ctx = methods::Ctx {
        state: &mut state,
        ledger: &mut ledger,
        network: &shared.config.network,
        lightning_dir: &shared.lightning_dir,
    };
    (spec.handler)(&mut ctx, &params)
}
