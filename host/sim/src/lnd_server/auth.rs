//! Macaroon authentication as LND does it: one root key (id "0"), macaroons
//! whose identifier lists the granted operations, a per-method permission
//! check, and LND's own error texts.

use lnpolicy_node::lnd::macaroon::{
    Macaroon, decode_lnd_identifier, encode_lnd_identifier, granted_permissions,
};
use lnpolicy_node::lnd::permissions::{self, Permission};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// LND's default root key id.
const ROOT_KEY_ID: &[u8] = b"0";
/// LND bakes its macaroons with this location.
const LOCATION: &str = "lnd";

const READ_ENTITIES: [&str; 9] = [
    "onchain", "offchain", "address", "message", "peers", "info", "invoices", "signer", "macaroon",
];

/// `readonly.macaroon`: read on every entity.
pub(super) fn readonly_permissions() -> Vec<Permission> {
    READ_ENTITIES
        .iter()
        .map(|e| Permission::new(*e, "read"))
        .collect()
}

/// `admin.macaroon`: LND's read and write permissions.
pub(super) fn admin_permissions() -> Vec<Permission> {
    let mut all = readonly_permissions();
    for entity in [
        "onchain", "offchain", "address", "message", "peers", "info", "invoices",
    ] {
        all.push(Permission::new(entity, "write"));
    }
    all.push(Permission::new("signer", "generate"));
    all.push(Permission::new("macaroon", "generate"));
    all.push(Permission::new("macaroon", "write"));
    all
}

/// The root key and the checks made with it.
pub(super) struct Auth {
    root_key: [u8; 32],
}

fn unauthenticated(message: impl Into<String>) -> Status {
    Status::unauthenticated(message)
}

impl Auth {
    pub(super) fn new() -> Result<Self, getrandom::Error> {
        let mut root_key = [0u8; 32];
        getrandom::fill(&mut root_key)?;
        Ok(Auth { root_key })
    }

    /// A macaroon granting exactly `permissions`, serialized as LND writes it.
    pub(super) fn bake(&self, permissions: &[Permission]) -> Result<Vec<u8>, getrandom::Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)?;
        let id = encode_lnd_identifier(&nonce, ROOT_KEY_ID, permissions);
        Ok(Macaroon::mint(&self.root_key, id, LOCATION).serialize())
    }

    /// LND's check: exactly one macaroon, valid for our root key, granting
    /// the method's permission (or its `uri:` permission).
    pub(super) fn authorize(&self, metadata: &MetadataMap, method: &str) -> Result<(), Status> {
        let values: Vec<_> = metadata.get_all("macaroon").iter().collect();
        let [value] = values.as_slice() else {
            return Err(unauthenticated(format!(
                "expected 1 macaroon, got {}",
                values.len()
            )));
        };
        let raw = value
            .to_str()
            .ok()
            .and_then(|text| hex::decode(text).ok())
            .ok_or_else(|| unauthenticated("unable to hex decode macaroon"))?;
        let macaroon = Macaroon::deserialize(&raw)
            .map_err(|e| unauthenticated(format!("unable to unmarshal macaroon: {e}")))?;
        let id = decode_lnd_identifier(macaroon.identifier())
            .map_err(|e| unauthenticated(format!("cannot get macaroon: {e}")))?;
        if id.storage_id != ROOT_KEY_ID {
            return Err(unauthenticated(format!(
                "cannot get macaroon: root key with id {} doesn't exist",
                String::from_utf8_lossy(&id.storage_id)
            )));
        }
        macaroon
            .verify_signature(&self.root_key)
            .map_err(|e| unauthenticated(e.to_string()))?;
        if let Some(condition) = macaroon.caveats().next() {
            return Err(unauthenticated(format!(
                "verification failed: caveat {condition:?} not satisfied"
            )));
        }
        let required = permissions::required(method)
            .ok_or_else(|| Status::unimplemented(format!("unknown method {method}")))?;
        if required.allowed_by(&granted_permissions(&id)) {
            Ok(())
        } else {
            // LND returns bakery's plain error, which gRPC carries as UNKNOWN.
            Err(Status::unknown("permission denied"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lnpolicy_node::lnd::permissions::{GET_INFO, UPDATE_CHANNEL_POLICY};
    use tonic::Code;

    fn metadata(raw: &[u8]) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("macaroon", hex::encode(raw).parse().unwrap());
        map
    }

    #[test]
    fn readonly_reads_but_cannot_write() {
        let auth = Auth::new().unwrap();
        let readonly = auth.bake(&readonly_permissions()).unwrap();
        auth.authorize(&metadata(&readonly), GET_INFO).unwrap();
        let denied = auth
            .authorize(&metadata(&readonly), UPDATE_CHANNEL_POLICY)
            .unwrap_err();
        assert_eq!(denied.code(), Code::Unknown);
        assert_eq!(denied.message(), "permission denied");
        let admin = auth.bake(&admin_permissions()).unwrap();
        auth.authorize(&metadata(&admin), UPDATE_CHANNEL_POLICY)
            .unwrap();
    }

    #[test]
    fn missing_foreign_and_restricted_macaroons_are_unauthenticated() {
        let auth = Auth::new().unwrap();
        let missing = auth.authorize(&MetadataMap::new(), GET_INFO).unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated);
        assert_eq!(missing.message(), "expected 1 macaroon, got 0");

        let other = Auth::new().unwrap().bake(&admin_permissions()).unwrap();
        let foreign = auth.authorize(&metadata(&other), GET_INFO).unwrap_err();
        assert_eq!(foreign.code(), Code::Unauthenticated);
        assert!(foreign.message().contains("signature mismatch"));

        let mut restricted =
            Macaroon::deserialize(&auth.bake(&admin_permissions()).unwrap()).unwrap();
        restricted.add_first_party_caveat("ipaddr 10.0.0.1");
        let refused = auth
            .authorize(&metadata(&restricted.serialize()), GET_INFO)
            .unwrap_err();
        assert!(refused.message().contains("not satisfied"), "{refused:?}");
    }
}
