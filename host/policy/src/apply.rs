//! The applier: sends guarded policies to the node. Each update is recorded
//! as an intent (committed) before the node call and resolved after it, so a
//! crash in between leaves a pending intent that startup reconciles against
//! the node: no update is lost or sent twice unnoticed.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::num::NonZeroU32;

use lnpolicy_core::{ChannelId, FeePolicy, NodeChannel, NodeClient, NodeError, NodeKind};
use lnpolicy_store::{IntentOutcome, Store, StoreError};

/// The window `guard.max_updates_per_hour` counts over: the updates sent in the last 59
/// minutes. Runs an hour apart each get the whole budget even when one reads its clock a few
/// seconds later than the last (cron's start, the daemon's catch-up before deciding).
pub const CAP_WINDOW_SECS: u64 = 3600 - 60;

/// One policy to send: the channel as the node last reported it and the
/// complete policy the guard produced for it.
#[derive(Debug, Clone)]
pub struct PlannedUpdate {
    pub channel: NodeChannel,
    pub desired: FeePolicy,
    /// The decision row it comes from, for the audit trail.
    pub decision_id: Option<i64>,
    /// charge-lnd's `min_fee_ppm_delta` and `min_inbound_fee_ppm_delta`: a ppm move smaller
    /// than these is not worth a gossip update unless something else changes too.
    pub min_fee_ppm_delta: u32,
    pub min_inbound_fee_ppm_delta: u32,
}

impl PlannedUpdate {
    /// Whether the update is worth sending: something other than the ppm rates changes, or
    /// a rate moves by at least its delta (charge-lnd's rule, field by field).
    pub fn is_worth_sending(&self) -> bool {
        let current = &self.channel.local_policy;
        let desired = &self.desired;
        let moved =
            |from: i64, to: i64, delta: u32| from != to && from.abs_diff(to) >= u64::from(delta);
        let others = (
            current.base_fee_msat,
            current.inbound_base_fee_msat,
            current.min_htlc_msat,
            current.max_htlc_msat,
            current.time_lock_delta,
            current.disabled,
        ) != (
            desired.base_fee_msat,
            desired.inbound_base_fee_msat,
            desired.min_htlc_msat,
            desired.max_htlc_msat,
            desired.time_lock_delta,
            desired.disabled,
        );
        others
            || moved(
                current.fee_ppm.into(),
                desired.fee_ppm.into(),
                self.min_fee_ppm_delta,
            )
            || moved(
                current.inbound_fee_ppm.into(),
                desired.inbound_fee_ppm.into(),
                self.min_inbound_fee_ppm_delta,
            )
    }
}

/// What an apply run did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: Vec<ChannelId>,
    /// Of `applied`, those the node set only in part, with the policy it set.
    pub applied_in_part: Vec<(ChannelId, FeePolicy)>,
    pub failed: Vec<(ChannelId, NodeError)>,
    /// Updates whose policy equals the current one: no call made.
    pub unchanged: usize,
    /// Updates whose only change is a ppm move below its delta: no call made.
    pub below_delta: usize,
    /// Updates worth sending that the node-wide hourly cap held back: no call made. The next
    /// run decides them again.
    pub held: Vec<ChannelId>,
    pub node_calls: u32,
}

/// Sends each update that changes something, one full-policy call per
/// channel. A node error fails that channel only: its intent is resolved as
/// failed, or left pending for reconciliation when the error (a timeout, a
/// lost connection, an unreadable answer) leaves open whether the node applied it. A store error
/// stops the run (the intent of the update in flight stays pending too).
///
/// With `max_updates_per_hour`, the updates [`held_by_cap`] names are not sent.
pub async fn apply_updates(
    node: &dyn NodeClient,
    store: &Store,
    updates: &[PlannedUpdate],
    now: u64,
    max_updates_per_hour: Option<NonZeroU32>,
) -> Result<ApplyReport, StoreError> {
    let held = held_by_cap(store, node.kind(), updates, now, max_updates_per_hour)?;
    let mut report = ApplyReport::default();
    let mut sendable = Vec::new();
    for update in updates {
        if update.desired == update.channel.local_policy {
            report.unchanged += 1;
        } else if !update.is_worth_sending() {
            report.below_delta += 1;
        } else if held.contains(&update.channel.id) {
            report.held.push(update.channel.id);
        } else {
            sendable.push(update);
        }
    }
    for update in sendable {
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
            Ok(applied) => {
                if applied != update.desired {
                    // What is recorded as applied is what the node has: the minimum interval,
                    // rollback and the reports read it.
                    store.amend_intent_policy(intent, &applied)?;
                    // A smallest HTLC it raised above the one sent (Core Lightning: the peer's
                    // minimum) bounds later requests, or the same update would go out again
                    // every interval. Only one that was sent: the answer also shows limits
                    // someone else set meanwhile.
                    let (asked, set) = (&update.desired, &applied);
                    if asked.min_htlc_msat != update.channel.local_policy.min_htlc_msat
                        && set.min_htlc_msat > asked.min_htlc_msat
                    {
                        store.record_htlc_floor(id, set.min_htlc_msat, now)?;
                    }
                    report.applied_in_part.push((id, applied));
                    tracing::warn!(
                        channel = id,
                        asked = ?update.desired,
                        applied = ?applied,
                        "the node set part of the policy asked for"
                    );
                }
                store.resolve_intent(intent, IntentOutcome::Applied, now)?;
                let was = &update.channel.local_policy;
                tracing::info!(
                    channel = id,
                    decision = update.decision_id,
                    intent,
                    was_fee_ppm = was.fee_ppm,
                    fee_ppm = applied.fee_ppm,
                    was_base_fee_msat = was.base_fee_msat,
                    base_fee_msat = applied.base_fee_msat,
                    was_inbound_fee_ppm = was.inbound_fee_ppm,
                    inbound_fee_ppm = applied.inbound_fee_ppm,
                    was_inbound_base_fee_msat = was.inbound_base_fee_msat,
                    inbound_base_fee_msat = applied.inbound_base_fee_msat,
                    disabled = applied.disabled,
                    "policy applied"
                );
                report.applied.push(id);
            }
            Err(error) if error.outcome_unknown() => {
                // A timeout, a dropped connection or an unreadable answer does not say whether
                // the node applied the update: the intent stays pending and the next run's
                // reconciliation reads the answer from the node.
                tracing::warn!(channel = id, intent, %error, "policy update unanswered; left pending for reconciliation");
                report.failed.push((id, error));
            }
            Err(error) => {
                store.resolve_intent(intent, IntentOutcome::Failed(error.to_string()), now)?;
                tracing::warn!(channel = id, decision = update.decision_id, intent, %error, "policy update failed");
                report.failed.push((id, error));
            }
        }
    }
    Ok(report)
}

/// The channels of `updates` the node-wide hourly cap holds back this run: the channel updates
/// broadcast in the last [`CAP_WINDOW_SECS`] (any lnpolicy run's, rollbacks included) spend the
/// budget first; the updates worth sending then go in order of urgency (see `urgency`), each
/// spending the channel updates it broadcasts on a node of `kind`, until the next would not
/// fit: it and all after it are held, so nothing goes ahead of a more urgent update. An update
/// that alone costs more than the cap goes by itself when the window is empty. Callers
/// that record something per update (rollback's decisions) ask before recording, so a held
/// update leaves no trace to be read as done.
pub fn held_by_cap(
    store: &Store,
    kind: NodeKind,
    updates: &[PlannedUpdate],
    now: u64,
    max_updates_per_hour: Option<NonZeroU32>,
) -> Result<BTreeSet<ChannelId>, StoreError> {
    let Some(cap) = max_updates_per_hour else {
        return Ok(BTreeSet::new());
    };
    let mut sendable: Vec<&PlannedUpdate> = updates
        .iter()
        .filter(|u| u.desired != u.channel.local_policy && u.is_worth_sending())
        .collect();
    let spent = store.updates_sent_since(now.saturating_sub(CAP_WINDOW_SECS - 1))?;
    let mut left = cap.get().saturating_sub(spent);
    sendable.sort_by_key(|update| Reverse(urgency(update)));
    let fitting = sendable
        .iter()
        .take_while(|update| {
            let cost = kind.channel_updates(&update.channel.local_policy, &update.desired);
            // One that costs more than the whole cap (LND's flag with a fee, under a cap of
            // 1) goes alone in an hour nothing else was sent in, or it would never go and
            // hold every update behind it.
            let fits = cost <= left || left == cap.get();
            left = left.saturating_sub(cost);
            fits
        })
        .count();
    let held: BTreeSet<ChannelId> = sendable[fitting..].iter().map(|u| u.channel.id).collect();
    if !held.is_empty() {
        tracing::warn!(
            cap = cap.get(),
            spent,
            held = held.len(),
            channels = ?held,
            "guard.max_updates_per_hour reached: updates held until the next run"
        );
    }
    Ok(held)
}

/// Which updates go first when the hourly cap cannot take them all: a change of the
/// disabled flag (routing stops or resumes), then the largest move of the fee rates relative
/// to the outbound rate now (parts per million of it; 100 -> 300 ppm outranks 1000 -> 1100),
/// then the channel id, so the choice is the same on every run.
fn urgency(update: &PlannedUpdate) -> (bool, u64, Reverse<ChannelId>) {
    let current = &update.channel.local_policy;
    let desired = &update.desired;
    let moved = u64::from(current.fee_ppm.abs_diff(desired.fee_ppm))
        + u64::from(current.inbound_fee_ppm.abs_diff(desired.inbound_fee_ppm));
    let relative = moved * 1_000_000 / u64::from(current.fee_ppm.max(1));
    (
        current.disabled != desired.disabled,
        relative,
        Reverse(update.channel.id),
    )
}

/// What startup reconciliation found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Pending intents the node shows as applied.
    pub applied: Vec<ChannelId>,
    /// Pending intents the node shows as not applied (or whose channel is gone).
    pub not_applied: Vec<ChannelId>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves the intents a crash left pending, by reading what the node has
/// now. It never sends an update: whether to change the fee again is the
/// next cycle's decision, made with the truth in hand, so nothing is sent
/// twice and nothing is assumed.
pub async fn reconcile_pending(
    node: &dyn NodeClient,
    store: &Store,
    now: u64,
) -> Result<ReconcileReport, ReconcileError> {
    let pending = store.pending_intents()?;
    let mut report = ReconcileReport::default();
    if pending.is_empty() {
        return Ok(report);
    }
    let channels = node.list_channels().await?;
    for intent in pending {
        let current = channels.iter().find(|c| c.id == intent.channel_id);
        // One that landed did so when it was sent, not now: the revenue since the change and
        // rollback's windows start there.
        let mut resolved_at = now;
        let outcome = match current {
            Some(channel) if landed(&channel.local_policy, &intent.previous, &intent.desired) => {
                report.applied.push(intent.channel_id);
                resolved_at = intent.created_at;
                // What is recorded as applied is what the node has (part of an update can be
                // beyond it: LND's disabled flag without the permission, CLN's cltv delta).
                if channel.local_policy != intent.desired {
                    store.amend_intent_policy(intent.id, &channel.local_policy)?;
                }
                IntentOutcome::Applied
            }
            Some(_) => {
                report.not_applied.push(intent.channel_id);
                IntentOutcome::Failed(
                    "not applied: after a restart the node still had another policy".into(),
                )
            }
            None => {
                report.not_applied.push(intent.channel_id);
                IntentOutcome::Failed("not applied: the channel is no longer open".into())
            }
        };
        tracing::info!(
            channel = intent.channel_id,
            intent = intent.id,
            ?outcome,
            "reconciled a pending update"
        );
        store.resolve_intent(intent.id, outcome, resolved_at)?;
    }
    Ok(report)
}

/// Whether the node shows an update as landed. Its fees decide when it changed them: LND
/// sends a change of the disabled flag after the fees (a crash between leaves the fees set
/// alone), and may flip the flag by itself since (a peer that left). Else its HTLC limits and cltv delta, when it changed them: each no
/// longer at its previous value (CLN raises an `htlcmin` below the peer's floor to that
/// floor). An update of the flag alone is decided by the flag.
fn landed(node: &FeePolicy, previous: &FeePolicy, desired: &FeePolicy) -> bool {
    if !previous.same_fees(desired) {
        return node.same_fees(desired);
    }
    let limits = |p: &FeePolicy| {
        [
            p.min_htlc_msat,
            p.max_htlc_msat,
            u64::from(p.time_lock_delta),
        ]
    };
    let (before, wanted, now) = (limits(previous), limits(desired), limits(node));
    if before != wanted {
        return (before.iter().zip(wanted).zip(now))
            .all(|((was, to), is)| *was == to || is != *was);
    }
    node.disabled == desired.disabled
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::FeePolicy;

    use super::landed;

    fn policy(fee_ppm: u32, max_htlc_msat: u64, disabled: bool) -> FeePolicy {
        FeePolicy {
            fee_ppm,
            max_htlc_msat,
            disabled,
            time_lock_delta: 80,
            ..FeePolicy::default()
        }
    }

    #[test]
    fn an_update_of_htlc_limits_alone_landed_only_if_the_node_has_them() {
        let previous = policy(100, 500_000, false);
        let desired = policy(100, 200_000, false);
        assert!(
            !landed(&previous, &previous, &desired),
            "the node kept the old limit"
        );
        assert!(landed(&desired, &previous, &desired));
        let clamped = policy(100, 250_000, false);
        assert!(
            landed(&clamped, &previous, &desired),
            "the node adjusted it"
        );
    }

    #[test]
    fn fees_that_landed_count_though_the_node_flipped_the_flag_since() {
        let previous = policy(100, 500_000, true);
        let desired = policy(300, 500_000, false);
        let disabled_again = policy(300, 500_000, true);
        assert!(landed(&disabled_again, &previous, &desired));
        assert!(!landed(&previous, &previous, &desired));
    }

    #[test]
    fn a_flag_alone_is_decided_by_the_flag() {
        let previous = policy(100, 500_000, false);
        let desired = policy(100, 500_000, true);
        assert!(landed(&desired, &previous, &desired));
        assert!(!landed(&previous, &previous, &desired));
    }
}
