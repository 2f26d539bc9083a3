//! How LND's answers become `NodeError`s, and what can go wrong before the
//! first call.
//!
//! LND itself returns most failures as plain Go errors, which gRPC carries
//! as `UNKNOWN` with a message: "permission denied", "expected 1 macaroon,
//! got 0", "verification failed: ...". So the code alone is not enough; the
//! few messages that mean "your macaroon is not good enough" are recognised
//! so they surface as `PermissionDenied`, not as a rejected request.

use std::error::Error as StdError;

use lnpolicy_core::NodeError;
use tonic::{Code, Status, TimeoutExpired};

use super::permissions::{self, Permission};
use super::tls::{CertificateFileError, PinMismatch};

/// Failures of `LndClient::connect`, before any whitelisted call.
#[derive(Debug, thiserror::Error)]
pub enum LndError {
    #[error("LND TLS certificate: {0}")]
    Certificate(#[from] CertificateFileError),
    #[error("LND macaroon {path}: {detail}")]
    Macaroon { path: String, detail: String },
    #[error("invalid LND address {address:?}: {detail}")]
    Address { address: String, detail: String },
    #[error("connecting to LND at {address}: {mismatch}")]
    CertificateMismatch {
        address: String,
        mismatch: PinMismatch,
    },
    #[error("cannot connect to LND at {address}: {detail}")]
    Connect { address: String, detail: String },
}

/// An error and all its sources, "outer: inner: innermost", without
/// repeating a source whose text its wrapper already shows.
pub fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("permission denied")
        || m.contains("macaroon")
        || m.contains("verification failed")
        || m.contains("caveat")
}

/// Transport trouble reported by hyper/h2 as an `UNKNOWN`/`INTERNAL` status.
fn is_transport_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "transport error",
        "connection",
        "broken pipe",
        "h2 protocol error",
        "stream closed",
        "operation was canceled",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// LND's answers while it starts, or while its wallet waits to be unlocked: its RPC
/// interceptor sends them as plain errors (gRPC `UNKNOWN`), but the node is not serving yet,
/// and a call made later may succeed.
fn is_starting_up(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "waiting to start, rpc services not available",
        "wallet locked, unlock it to enable full rpc access",
        "in the process of starting up, but not yet ready to accept calls",
        "is still in the process of starting",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// For a refused permission, names what `method` needs and what the
/// macaroon grants, so the operator knows what to add; for a macaroon the
/// node does not accept at all, says so.
fn auth_detail(method: &'static str, message: &str, granted: &[Permission]) -> String {
    let lower = message.to_ascii_lowercase();
    if !lower.contains("permission denied") {
        return format!(
            "{message}; the node does not accept this macaroon (baked by another node, \
             or its root key was rotated?)"
        );
    }
    let needs = match permissions::required(method) {
        Some(required) => format!(
            "{method} needs {} (or {})",
            required.permission(),
            Permission::uri(method)
        ),
        None => format!("{method} needs a permission the macaroon lacks"),
    };
    let grants = if granted.is_empty() {
        "no permissions we can read".to_owned()
    } else {
        granted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let explained = format!("{needs}; the macaroon grants {grants}");
    // The error already reads "permission denied"; keep only extra text.
    if lower.trim() == "permission denied" {
        explained
    } else {
        format!("{message}; {explained}")
    }
}

/// tonic's own deadline (from the grpc-timeout we set) firing before ours.
fn is_local_timeout(status: &Status) -> bool {
    let mut source = StdError::source(status);
    while let Some(cause) = source {
        if cause.is::<TimeoutExpired>() {
            return true;
        }
        source = cause.source();
    }
    status.message() == TimeoutExpired(()).to_string()
}

/// Maps a gRPC status from `method` to the daemon's error vocabulary.
pub fn map_status(method: &'static str, status: &Status, granted: &[Permission]) -> NodeError {
    if is_local_timeout(status) {
        return NodeError::Timeout { method };
    }
    let message = status.message();
    let detail = if message.is_empty() {
        format!("{:?}", status.code())
    } else {
        message.to_owned()
    };
    match status.code() {
        Code::Unavailable | Code::ResourceExhausted | Code::Aborted | Code::Cancelled => {
            NodeError::Unavailable { method, detail }
        }
        Code::DeadlineExceeded => NodeError::Timeout { method },
        Code::PermissionDenied | Code::Unauthenticated => NodeError::PermissionDenied {
            method,
            detail: auth_detail(method, &detail, granted),
        },
        Code::Unknown | Code::Internal if is_transport_failure(message) => {
            NodeError::Unavailable { method, detail }
        }
        Code::Unknown if is_starting_up(message) => NodeError::Unavailable { method, detail },
        Code::Unknown if is_auth_failure(message) => NodeError::PermissionDenied {
            method,
            detail: auth_detail(method, &detail, granted),
        },
        Code::Unimplemented | Code::Internal | Code::DataLoss => {
            NodeError::Protocol { method, detail }
        }
        Code::OutOfRange if message.contains("message length too large") => {
            NodeError::Protocol { method, detail }
        }
        Code::Ok
        | Code::Unknown
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::OutOfRange => NodeError::Rejected { method, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lnd::permissions::UPDATE_CHANNEL_POLICY;

    #[test]
    fn lnd_permission_denied_is_unknown_with_a_message() {
        let granted = [Permission::new("info", "read")];
        let err = map_status(
            UPDATE_CHANNEL_POLICY,
            &Status::unknown("permission denied"),
            &granted,
        );
        let NodeError::PermissionDenied { method, detail } = err else {
            panic!("{err:?}")
        };
        assert_eq!(method, UPDATE_CHANNEL_POLICY);
        assert!(detail.contains("needs offchain:write"), "{detail}");
        assert!(detail.contains("grants info:read"), "{detail}");
    }

    #[test]
    fn plain_lnd_errors_are_rejections() {
        let err = map_status(
            UPDATE_CHANNEL_POLICY,
            &Status::unknown("time lock delta of 10 is too small, minimum supported is 18"),
            &[],
        );
        assert!(matches!(err, NodeError::Rejected { .. }), "{err:?}");
    }

    #[test]
    fn transport_failures_are_transient() {
        for status in [
            Status::unavailable("injected"),
            Status::unknown("transport error"),
            Status::cancelled("h2 protocol error: stream reset"),
        ] {
            assert!(map_status("x", &status, &[]).is_transient(), "{status:?}");
        }
    }

    /// A node that is starting, or waiting for its wallet to be unlocked, is not serving yet:
    /// what it answers is no refusal of the call, and the message reaches the operator.
    #[test]
    fn a_starting_or_locked_lnd_is_unavailable_not_a_refusal() {
        for message in [
            "waiting to start, RPC services not available",
            "wallet locked, unlock it to enable full RPC access",
            "the RPC server is in the process of starting up, but not yet ready to accept calls",
            "server is still in the process of starting",
        ] {
            let err = map_status(UPDATE_CHANNEL_POLICY, &Status::unknown(message), &[]);
            let NodeError::Unavailable { detail, .. } = &err else {
                panic!("{message}: {err:?}")
            };
            assert_eq!(detail, message);
        }
    }
}
