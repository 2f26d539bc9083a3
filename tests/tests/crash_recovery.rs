//! A crash between recording an intent and resolving it leaves it pending.
//! On restart the node's actual policy decides how it is resolved, and
//! reconciliation itself sends nothing.

use lnpolicy_core::{FeePolicy, NodeClient};
use lnpolicy_node::lnd::LndClient;
use lnpolicy_policy::apply::{ReconcileReport, reconcile_pending};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::{IntentStatus, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_intents_are_resolved_from_the_node_without_resending() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path()))
        .await
        .unwrap();
    let client = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    let db = dir.path().join("lnpolicy.db");
    let channels = client.list_channels().await.unwrap();
    let (landed, lost) = (&channels[0], &channels[1]);
    let raise = |p: &FeePolicy| FeePolicy {
        fee_ppm: p.fee_ppm + 137,
        ..*p
    };

    let (landed_intent, lost_intent) = {
        let store = Store::open(&db).unwrap();
        // Crash after the node call: the update landed, the intent stayed pending.
        let landed_intent = store
            .record_intent(
                landed.id,
                None,
                &landed.local_policy,
                &raise(&landed.local_policy),
                10,
            )
            .unwrap();
        client
            .update_policy(landed, &raise(&landed.local_policy))
            .await
            .unwrap();
        // Crash before the node call: nothing was sent.
        let lost_intent = store
            .record_intent(
                lost.id,
                None,
                &lost.local_policy,
                &raise(&lost.local_policy),
                10,
            )
            .unwrap();
        (landed_intent, lost_intent)
    };

    let store = Store::open(&db).unwrap();
    assert_eq!(store.pending_intents().unwrap().len(), 2);
    let writes_before = writes(&live);
    let report = reconcile_pending(&client, &store, 20).await.unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            applied: vec![landed.id],
            not_applied: vec![lost.id]
        }
    );
    assert_eq!(
        writes(&live),
        writes_before,
        "reconciliation sends no update"
    );
    assert!(store.pending_intents().unwrap().is_empty());
    assert_eq!(
        store.intent(landed_intent).unwrap().unwrap().status,
        IntentStatus::Applied
    );
    assert_eq!(
        store.intent(lost_intent).unwrap().unwrap().status,
        IntentStatus::Failed
    );
    let again = reconcile_pending(&client, &store, 30).await.unwrap();
    assert_eq!(
        again,
        ReconcileReport::default(),
        "nothing left to reconcile"
    );
    store.integrity_check().unwrap();
}

fn writes(live: &LiveSimulation) -> usize {
    let state = live.shared();
    let state = state.lock().unwrap();
    state
        .calls
        .iter()
        .filter(|m| m.ends_with("UpdateChannelPolicy"))
        .count()
}
