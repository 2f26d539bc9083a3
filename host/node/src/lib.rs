//! Clients for the nodes lnpolicy manages. Each implements
//! `lnpolicy_core::NodeClient` and nothing else: the trait is the method
//! whitelist.

pub mod cln;
pub mod lnd;

/// LND's `lnrpc` package: the subset in `proto/lightning.proto`, client and
/// server (the simulator serves the same types the client decodes).
pub mod lnrpc {
    tonic::include_proto!("lnrpc");
}

/// LND's `routerrpc` package: the HTLC event stream (`proto/router.proto`).
pub mod routerrpc {
    tonic::include_proto!("routerrpc");
}

/// LND's `walletrpc` package: the wallet's fee estimate (`proto/walletkit.proto`).
pub mod walletrpc {
    tonic::include_proto!("walletrpc");
}
