//! A crash between recording an intent and resolving it leaves it pending.
//! On restart the node's actual policy decides how it is resolved, and
//! reconciliation itself sends nothing.

use lnpolicy_core::{FeePolicy, NodeClient, NodeError};
use lnpolicy_policy::apply::{PlannedUpdate, ReconcileReport, apply_updates, reconcile_pending};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::{IntentStatus, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_intents_are_resolved_from_the_node_without_resending() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
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
    let landed_row = store.intent(landed_intent).unwrap().unwrap();
    assert_eq!(
        (landed_row.status, landed_row.resolved_at),
        (IntentStatus::Applied, Some(10)),
        "it landed when it was sent, not when the restart found it"
    );
    let lost_row = store.intent(lost_intent).unwrap().unwrap();
    assert_eq!(
        (lost_row.status, lost_row.resolved_at),
        (IntentStatus::Failed, Some(20))
    );
    assert_eq!(
        store
            .last_applied_changes(&[landed.id])
            .unwrap()
            .first()
            .map(|change| change.at),
        Some(10)
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

/// The node applies an update but its answer never arrives (LND answers after the client's
/// timeout) or cannot be read: the error the client then reports.
struct LateAnswers(lnpolicy_sim::InProcessNode, fn() -> NodeError);

#[async_trait::async_trait]
impl NodeClient for LateAnswers {
    fn kind(&self) -> lnpolicy_core::NodeKind {
        self.0.kind()
    }
    async fn get_info(&self) -> Result<lnpolicy_core::NodeInfo, NodeError> {
        self.0.get_info().await
    }
    async fn list_channels(&self) -> Result<Vec<lnpolicy_core::NodeChannel>, NodeError> {
        self.0.list_channels().await
    }
    async fn forwards(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<lnpolicy_core::ForwardPage, NodeError> {
        self.0.forwards(from, limit).await
    }
    async fn failed_forwards(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<lnpolicy_core::FailedForwardPage, NodeError> {
        self.0.failed_forwards(from, limit).await
    }
    async fn peer_info(&self, peer: &str) -> Result<Option<lnpolicy_core::PeerInfo>, NodeError> {
        self.0.peer_info(peer).await
    }
    async fn fee_rate(&self, target: u32) -> Result<Option<f64>, NodeError> {
        self.0.fee_rate(target).await
    }
    async fn funding_fees(
        &self,
        txids: &[String],
    ) -> Result<Vec<lnpolicy_core::FundingFee>, NodeError> {
        self.0.funding_fees(txids).await
    }
    async fn update_policy(
        &self,
        channel: &lnpolicy_core::NodeChannel,
        policy: &FeePolicy,
    ) -> Result<FeePolicy, NodeError> {
        self.0.update_policy(channel, policy).await?;
        Err((self.1)())
    }
}

/// An unanswered (or unreadable) update is not recorded as failed, since the node may well
/// have applied it: the intent stays pending and the next run's reconciliation finds it
/// applied, so the change counts for the minimum interval and for rollback like any other.
#[tokio::test]
async fn an_update_whose_answer_timed_out_is_reconciled_not_failed() {
    let errors: [fn() -> NodeError; 2] = [
        || NodeError::Timeout {
            method: "update_policy",
        },
        || NodeError::Protocol {
            method: "update_policy",
            detail: "the answer could not be decoded".into(),
        },
    ];
    for error in errors {
        let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
        let node = LateAnswers(lnpolicy_sim::InProcessNode::new(live.shared()), error);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
        let channel = node.list_channels().await.unwrap().remove(0);
        let desired = FeePolicy {
            fee_ppm: channel.local_policy.fee_ppm + 137,
            ..channel.local_policy
        };
        let update = PlannedUpdate {
            channel: channel.clone(),
            desired,
            decision_id: None,
            min_fee_ppm_delta: 0,
            min_inbound_fee_ppm_delta: 0,
        };
        let report = apply_updates(&node, &store, &[update], 10, None)
            .await
            .unwrap();
        assert_eq!(report.failed.len(), 1, "the run reports it unanswered");
        let pending = store.pending_intents().unwrap();
        assert_eq!(pending.len(), 1, "{:?}: not resolved as failed", error());

        let reconciled = reconcile_pending(&node, &store, 20).await.unwrap();
        assert_eq!(reconciled.applied, vec![channel.id]);
        assert_eq!(
            store.intent(pending[0].id).unwrap().unwrap().status,
            IntentStatus::Applied
        );
    }
}

/// An update that only disables a channel leaves its fees as they were, so the fees alone
/// cannot tell whether it landed: the flag decides.
#[tokio::test]
async fn a_pending_status_change_is_reconciled_by_the_flag() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = lnpolicy_sim::InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let channels = node.list_channels().await.unwrap();
    let (landed, lost) = (&channels[0], &channels[1]);
    assert!(!landed.local_policy.disabled && !lost.local_policy.disabled);
    let disable = |p: &FeePolicy| FeePolicy {
        disabled: true,
        ..*p
    };
    for channel in [landed, lost] {
        store
            .record_intent(
                channel.id,
                None,
                &channel.local_policy,
                &disable(&channel.local_policy),
                10,
            )
            .unwrap();
    }
    node.update_policy(landed, &disable(&landed.local_policy))
        .await
        .unwrap();
    let report = reconcile_pending(&node, &store, 20).await.unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            applied: vec![landed.id],
            not_applied: vec![lost.id]
        }
    );
}

/// A crash after an update whose fees landed while the disabled flag did not (LND without the
/// permission for `UpdateChanStatus`): the intent is recorded as applied with the node's flag.
#[tokio::test]
async fn a_pending_update_that_landed_in_part_is_recorded_as_the_node_has_it() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = lnpolicy_sim::InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let channel = node.list_channels().await.unwrap().remove(0);
    let asked = FeePolicy {
        fee_ppm: channel.local_policy.fee_ppm + 50,
        disabled: !channel.local_policy.disabled,
        ..channel.local_policy
    };
    store
        .record_intent(channel.id, None, &channel.local_policy, &asked, 10)
        .unwrap();
    let fees_only = FeePolicy {
        disabled: channel.local_policy.disabled,
        ..asked
    };
    node.update_policy(&channel, &fees_only).await.unwrap();
    let report = reconcile_pending(&node, &store, 20).await.unwrap();
    assert_eq!(report.applied, [channel.id]);
    let recorded = store.last_applied_changes(&[channel.id]).unwrap().remove(0);
    assert_eq!(recorded.applied, fees_only);
}
