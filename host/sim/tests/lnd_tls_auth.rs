//! Certificate pinning and macaroon permissions, end to end.

mod lnd_support;

use std::sync::Arc;

use lnd_support::{Sim, fixture};
use lnpolicy_core::{NodeClient, NodeError};
use lnpolicy_node::lnd::permissions::{
    ESTIMATE_FEE, GET_INFO, GET_TRANSACTIONS, LIST_CHANNELS, Permission, SUBSCRIBE_HTLC_EVENTS,
    UPDATE_CHANNEL_POLICY,
};
use lnpolicy_node::lnd::tls::load_certificate;
use lnpolicy_node::lnd::{LndClient, LndError, SubscriptionStatus};
use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[tokio::test]
async fn a_different_certificate_is_refused_with_a_clear_error() {
    let sim = Sim::start(fixture()).await;
    let impostor = Sim::start(fixture()).await;
    let mut config = sim.admin_config();
    config.tls_cert_path = impostor.server.cert_path().to_path_buf();
    let err = LndClient::connect(&config).await.err().expect("must fail");
    let LndError::CertificateMismatch { mismatch, .. } = &err else {
        panic!("{err:?}")
    };
    assert_ne!(mismatch.pinned, mismatch.presented);
    assert!(
        err.to_string()
            .contains("does not match the pinned tls.cert"),
        "{err}"
    );
}

#[tokio::test]
async fn trusting_lnds_certificate_as_a_root_fails_as_documented() {
    // Why pinning: webpki refuses LND's CA-flagged cert as an end entity.
    let sim = Sim::start(fixture()).await;
    let mut roots = RootCertStore::empty();
    roots
        .add(load_certificate(sim.server.cert_path()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(sim.server.addr()).await.unwrap();
    let err = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect_err("webpki must refuse");
    assert!(format!("{err:?}").contains("CaUsedAsEndEntity"), "{err:?}");
}

#[tokio::test]
async fn missing_certificate_file_is_reported() {
    let sim = Sim::start(fixture()).await;
    let mut config = sim.admin_config();
    config.tls_cert_path = sim.dir.path().join("nope.cert");
    let err = LndClient::connect(&config).await.err().expect("must fail");
    assert!(matches!(err, LndError::Certificate(_)), "{err:?}");
    assert!(err.to_string().contains("nope.cert"), "{err}");
}

#[tokio::test]
async fn readonly_macaroon_cannot_update_policy() {
    let sim = Sim::start(fixture()).await;
    let config = sim
        .server
        .client_config(sim.server.readonly_macaroon_path());
    let client = LndClient::connect(&config).await.unwrap();
    let channels = client.list_channels().await.unwrap();
    let err = client
        .update_policy(&channels[0], &channels[0].local_policy)
        .await
        .unwrap_err();
    let NodeError::PermissionDenied { method, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*method, UPDATE_CHANNEL_POLICY);
    assert!(detail.contains("needs offchain:write"), "{detail}");
    assert!(
        detail.contains("grants onchain:read, offchain:read"),
        "{detail}"
    );
    assert!(
        err.to_string()
            .contains("lnrpc.Lightning/UpdateChannelPolicy"),
        "{err}"
    );
    assert_eq!(sim.state().channels, fixture().channels, "nothing changed");
}

#[tokio::test]
async fn info_only_macaroon_names_each_refused_method() {
    let sim = Sim::start(fixture()).await;
    let path = sim.dir.path().join("info.macaroon");
    sim.server
        .bake_macaroon(&[Permission::new("info", "read")], &path)
        .unwrap();
    let client = LndClient::connect(&sim.server.client_config(&path))
        .await
        .unwrap();
    assert!(client.get_info().await.is_ok());

    let err = client.list_channels().await.unwrap_err();
    assert!(
        matches!(err, NodeError::PermissionDenied { method, .. } if method == LIST_CHANNELS),
        "{err:?}"
    );
    assert!(!err.is_transient());

    // The HTLC subscription was refused at connect; reading failures says so.
    assert!(matches!(
        client.subscription_status(),
        SubscriptionStatus::Refused(_)
    ));
    let err = client.failed_forwards(0, 10).await.unwrap_err();
    assert!(
        matches!(err, NodeError::PermissionDenied { method, .. } if method == SUBSCRIBE_HTLC_EVENTS),
        "{err:?}"
    );
    // Refused calls are still calls the node saw.
    assert!(sim.state().calls.iter().any(|c| c == LIST_CHANNELS));
}

#[tokio::test]
async fn on_chain_reads_need_onchain_read() {
    let sim = Sim::start(fixture()).await;
    let path = sim.dir.path().join("offchain.macaroon");
    // What lnpolicy needed before it read the wallet.
    sim.server
        .bake_macaroon(
            &[
                Permission::new("info", "read"),
                Permission::new("offchain", "read"),
                Permission::new("offchain", "write"),
            ],
            &path,
        )
        .unwrap();
    let client = LndClient::connect(&sim.server.client_config(&path))
        .await
        .unwrap();
    assert!(client.list_channels().await.is_ok());
    let err = client.fee_rate(6).await.unwrap_err();
    let NodeError::PermissionDenied { method, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*method, ESTIMATE_FEE);
    assert!(detail.contains("needs onchain:read"), "{detail}");
    let ours = ["01".repeat(32), "03".repeat(32)];
    let err = client.funding_fees(&ours).await.unwrap_err();
    assert!(
        matches!(&err, NodeError::PermissionDenied { method, .. } if *method == GET_TRANSACTIONS),
        "{err:?}"
    );

    // With onchain:read added, both work.
    let path = sim.dir.path().join("onchain.macaroon");
    sim.server
        .bake_macaroon(
            &[
                Permission::new("info", "read"),
                Permission::new("offchain", "read"),
                Permission::new("onchain", "read"),
            ],
            &path,
        )
        .unwrap();
    let client = LndClient::connect(&sim.server.client_config(&path))
        .await
        .unwrap();
    assert_eq!(client.fee_rate(6).await.unwrap(), Some(12.0));
    assert_eq!(client.funding_fees(&ours).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_macaroon_from_another_node_is_unauthenticated() {
    let sim = Sim::start(fixture()).await;
    let other = Sim::start(fixture()).await;
    let config = sim.server.client_config(other.server.admin_macaroon_path());
    let client = LndClient::connect(&config).await.unwrap();
    let err = client.get_info().await.unwrap_err();
    let NodeError::PermissionDenied { method, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*method, GET_INFO);
    assert!(detail.contains("signature mismatch"), "{detail}");
    assert!(detail.contains("does not accept this macaroon"), "{detail}");
}

#[tokio::test]
async fn a_file_that_is_not_a_macaroon_is_refused_before_connecting() {
    let sim = Sim::start(fixture()).await;
    let path = sim.dir.path().join("garbage.macaroon");
    std::fs::write(&path, b"not a macaroon").unwrap();
    let err = LndClient::connect(&sim.server.client_config(&path))
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, LndError::Macaroon { .. }), "{err:?}");
}

/// LND regenerated its certificate (expiry, `tlsautorefresh`) and rewrote tls.cert: the new
/// certificate is refused until the pinned file holds it, then pinned, and the old one is
/// refused from then on.
#[tokio::test]
async fn a_regenerated_certificate_is_pinned_once_tls_cert_holds_it() {
    use lnpolicy_node::lnd::tls::{PinnedCertVerifier, crypto_provider};
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::UnixTime;
    let before = Sim::start(fixture()).await;
    let after = Sim::start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let pin = dir.path().join("tls.cert");
    std::fs::copy(before.server.cert_path(), &pin).unwrap();
    let old = load_certificate(&pin).unwrap();
    let new = load_certificate(after.server.cert_path()).unwrap();
    let verifier = PinnedCertVerifier::new(old.clone(), pin.clone(), &crypto_provider());
    let name = ServerName::try_from("localhost").unwrap();
    let verify = |cert: &rustls::pki_types::CertificateDer<'_>| {
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .is_ok()
    };
    assert!(verify(&old));
    assert!(!verify(&new), "tls.cert still holds the old certificate");
    assert!(verifier.last_mismatch().is_some());
    std::fs::copy(after.server.cert_path(), &pin).unwrap();
    assert!(verify(&new));
    assert!(verifier.last_mismatch().is_none());
    assert!(!verify(&old), "the old certificate is no longer the pin");
}
