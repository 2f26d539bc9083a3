//! Which macaroon permission each LND method in our proto subset requires.
//!
//! One table serves three readers: the client (to say exactly what a
//! refused macaroon lacks), the simulator (to refuse as LND does), and the
//! documentation's `lncli bakemacaroon` line (the `uri:` form of
//! [`CLIENT_METHODS`]).

use std::fmt;

/// A macaroon operation: `entity:action` as `lncli` writes it
/// (`offchain:read`), or `uri:/lnrpc.Lightning/GetInfo` for a single method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub entity: String,
    pub action: String,
}

impl Permission {
    pub fn new(entity: impl Into<String>, action: impl Into<String>) -> Self {
        Permission {
            entity: entity.into(),
            action: action.into(),
        }
    }

    /// The permission that grants exactly one method, LND's `uri:` entity.
    pub fn uri(method: &str) -> Self {
        Permission::new("uri", format!("/{method}"))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entity, self.action)
    }
}

/// One gRPC method and the permission LND checks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodPermission {
    /// Full method name without the leading slash, as the simulator records
    /// calls: `lnrpc.Lightning/GetInfo`.
    pub method: &'static str,
    pub entity: &'static str,
    pub action: &'static str,
}

impl MethodPermission {
    pub fn permission(&self) -> Permission {
        Permission::new(self.entity, self.action)
    }

    /// Whether a macaroon granting `granted` may call this method: either
    /// the entity-wide permission or the method's own `uri:` permission.
    pub fn allowed_by(&self, granted: &[Permission]) -> bool {
        let uri = Permission::uri(self.method);
        granted
            .iter()
            .any(|p| (p.entity == self.entity && p.action == self.action) || *p == uri)
    }
}

pub const GET_INFO: &str = "lnrpc.Lightning/GetInfo";
pub const LIST_CHANNELS: &str = "lnrpc.Lightning/ListChannels";
pub const DESCRIBE_GRAPH: &str = "lnrpc.Lightning/DescribeGraph";
pub const GET_CHAN_INFO: &str = "lnrpc.Lightning/GetChanInfo";
pub const GET_NODE_INFO: &str = "lnrpc.Lightning/GetNodeInfo";
pub const FEE_REPORT: &str = "lnrpc.Lightning/FeeReport";
pub const UPDATE_CHANNEL_POLICY: &str = "lnrpc.Lightning/UpdateChannelPolicy";
pub const FORWARDING_HISTORY: &str = "lnrpc.Lightning/ForwardingHistory";
pub const SUBSCRIBE_HTLC_EVENTS: &str = "routerrpc.Router/SubscribeHtlcEvents";
pub const UPDATE_CHAN_STATUS: &str = "routerrpc.Router/UpdateChanStatus";
pub const GET_TRANSACTIONS: &str = "lnrpc.Lightning/GetTransactions";
pub const ESTIMATE_FEE: &str = "walletrpc.WalletKit/EstimateFee";
pub const LIST_PAYMENTS: &str = "lnrpc.Lightning/ListPayments";

/// Every method of our proto subset with LND's required permission.
pub const METHODS: [MethodPermission; 13] = [
    MethodPermission {
        method: GET_INFO,
        entity: "info",
        action: "read",
    },
    MethodPermission {
        method: LIST_CHANNELS,
        entity: "offchain",
        action: "read",
    },
    MethodPermission {
        method: DESCRIBE_GRAPH,
        entity: "info",
        action: "read",
    },
    MethodPermission {
        method: GET_CHAN_INFO,
        entity: "info",
        action: "read",
    },
    MethodPermission {
        method: GET_NODE_INFO,
        entity: "info",
        action: "read",
    },
    MethodPermission {
        method: FEE_REPORT,
        entity: "offchain",
        action: "read",
    },
    MethodPermission {
        method: UPDATE_CHANNEL_POLICY,
        entity: "offchain",
        action: "write",
    },
    MethodPermission {
        method: UPDATE_CHAN_STATUS,
        entity: "offchain",
        action: "write",
    },
    MethodPermission {
        method: FORWARDING_HISTORY,
        entity: "offchain",
        action: "read",
    },
    MethodPermission {
        method: SUBSCRIBE_HTLC_EVENTS,
        entity: "offchain",
        action: "read",
    },
    MethodPermission {
        method: LIST_PAYMENTS,
        entity: "offchain",
        action: "read",
    },
    MethodPermission {
        method: GET_TRANSACTIONS,
        entity: "onchain",
        action: "read",
    },
    MethodPermission {
        method: ESTIMATE_FEE,
        entity: "onchain",
        action: "read",
    },
];

/// The methods `LndClient` calls: the whitelist, and what an operator
/// grants with `lncli bakemacaroon uri:/...`. DescribeGraph is not among
/// them (see `peer_info`).
pub const CLIENT_METHODS: [&str; 12] = [
    GET_INFO,
    LIST_CHANNELS,
    FEE_REPORT,
    GET_CHAN_INFO,
    GET_NODE_INFO,
    FORWARDING_HISTORY,
    LIST_PAYMENTS,
    GET_TRANSACTIONS,
    ESTIMATE_FEE,
    UPDATE_CHANNEL_POLICY,
    UPDATE_CHAN_STATUS,
    SUBSCRIBE_HTLC_EVENTS,
];

/// The permission LND requires for `method` (`lnrpc.Lightning/GetInfo`).
pub fn required(method: &str) -> Option<&'static MethodPermission> {
    METHODS.iter().find(|m| m.method == method)
}

/// The `lncli bakemacaroon` line granting exactly [`CLIENT_METHODS`].
pub fn bakemacaroon_command(save_to: &str) -> String {
    let uris: Vec<String> = CLIENT_METHODS
        .iter()
        .map(|m| Permission::uri(m).to_string())
        .collect();
    format!("lncli bakemacaroon --save_to {save_to} {}", uris.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_method_has_a_permission() {
        for method in CLIENT_METHODS {
            assert!(required(method).is_some(), "{method}");
        }
    }

    #[test]
    fn uri_permission_grants_only_its_method() {
        let granted = [Permission::uri(GET_INFO)];
        assert!(required(GET_INFO).unwrap().allowed_by(&granted));
        assert!(!required(DESCRIBE_GRAPH).unwrap().allowed_by(&granted));
    }

    #[test]
    fn entity_permission_grants_all_its_methods() {
        let granted = [Permission::new("offchain", "read")];
        assert!(required(FORWARDING_HISTORY).unwrap().allowed_by(&granted));
        assert!(
            !required(UPDATE_CHANNEL_POLICY)
                .unwrap()
                .allowed_by(&granted)
        );
    }

    #[test]
    fn bakemacaroon_line_lists_uris() {
        let line = bakemacaroon_command("lnpolicy.macaroon");
        assert!(line.starts_with(
            "lncli bakemacaroon --save_to lnpolicy.macaroon uri:/lnrpc.Lightning/GetInfo "
        ));
        assert!(line.ends_with(" uri:/routerrpc.Router/SubscribeHtlcEvents"));
        assert!(line.contains(" uri:/lnrpc.Lightning/GetTransactions "));
        assert!(line.contains(" uri:/walletrpc.WalletKit/EstimateFee "));
        assert!(!line.contains("DescribeGraph"));
    }

    #[test]
    fn the_lnd_page_shows_this_line() {
        let page = include_str!("../../../../docs/lnd.md");
        let line = bakemacaroon_command("~/.lnd/data/chain/bitcoin/mainnet/lnpolicy.macaroon");
        assert!(page.contains(&line), "docs/lnd.md must show:\n{line}");
    }

    #[test]
    fn on_chain_reads_need_onchain_read_only() {
        let granted = [Permission::new("onchain", "read")];
        for method in [GET_TRANSACTIONS, ESTIMATE_FEE] {
            assert!(required(method).unwrap().allowed_by(&granted), "{method}");
            assert!(
                !required(method)
                    .unwrap()
                    .allowed_by(&[Permission::new("offchain", "read")]),
                "{method}"
            );
        }
    }
}
