//! The applier: sends guarded policies to the node. Each update is recorded
//! as an intent (committed) before the node call and resolved after it, so a
//! crash in between leaves a pending intent that startup reconciles against
//! the node: no update is lost or sent twice unnoticed.

use lnpolicy_core::{ChannelId, FeePolicy, NodeChannel, NodeClient, NodeError};
use lnpolicy_store::{IntentOutcome, Store, StoreError};

/// One policy to send: the channel as the node last reported it and the
/// complete policy the guard produced for it.
#[derive(Debug, Clone)]
pub struct PlannedUpdate {
    pub channel: NodeChannel,
    pub desired: FeePolicy,
    /// The decision row it comes from, for the audit trail.
    pub decision_id: Option<i64>,
}

/// What an apply run did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: Vec<ChannelId>,
    pub failed: Vec<(ChannelId, NodeError)>,
    /// Updates whose policy equals the current one: no call made.
    pub unchanged: usize,
    pub node_calls: u32,
}

/// Sends each update that changes something, one full-policy call per
/// channel. A node error fails that channel only; a store error stops the
/// run (the intent of the update in flight stays pending for reconciliation).
pub async fn apply_updates(
    node: &dyn NodeClient,
    store: &Store,
    updates: &[PlannedUpdate],
    now: u64,
) -> Result<ApplyReport, StoreError> {
    let mut report = ApplyReport::default();
    for update in updates {
        if update.desired == update.channel.local_policy {
            report.unchanged += 1;
            continue;
        }
        let id = update.channel.id;
        let intent = store.record_intent(
            id,
            update.decision_id,
            &update.channel.local_policy,
            &update.desired,
            now,
        )?;
        report.node_calls += 1;
        match node.update_policy(&update.channel, &update.desired).await {
            Ok(()) => {
                store.resolve_intent(intent, IntentOutcome::Applied, now)?;
                tracing::info!(
                    channel = id,
                    fee_ppm = update.desired.fee_ppm,
                    inbound_fee_ppm = update.desired.inbound_fee_ppm,
                    "policy applied"
                );
                report.applied.push(id);
            }
            Err(error) => {
                store.resolve_intent(intent, IntentOutcome::Failed(error.to_string()), now)?;
                tracing::warn!(channel = id, %error, "policy update failed");
                report.failed.push((id, error));
            }
        }
    }
    Ok(report)
}
