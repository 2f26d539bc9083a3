//! Properties of the guard over arbitrary channels, decisions and configs: whatever a strategy
//! returns, and whatever state the node reports, an emitted policy is safe to send.

use lnpolicy_core::{
    Channel, Decision, FeePolicy, FlowClass, GuardedDecision, NodeKind, PolicyChange,
    Profitability, Rule, SharedChannels,
};
use lnpolicy_policy::guard::{GuardConfig, guard};
use proptest::prelude::*;

/// Mostly values near realistic limits, so bounds, steps and the total-fee floor interact often,
/// plus the extremes a hostile guest would try.
fn ppm() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..12_000u32, 1 => any::<u32>(), 1 => Just(u32::MAX)]
}

fn signed() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -12_000..12_000i32,
        1 => any::<i32>(),
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
    ]
}

fn msat() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..3_000_000_000u64, 1 => any::<u64>(), 1 => Just(u64::MAX)]
}

fn seconds() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..200_000u64, 1 => any::<u64>()]
}

fn fee_policy() -> impl Strategy<Value = FeePolicy> {
    (
        ppm(),
        ppm(),
        signed(),
        signed(),
        msat(),
        msat(),
        ppm(),
        any::<bool>(),
    )
        .prop_map(
            |(base, rate, in_base, in_rate, min_htlc, max_htlc, cltv, disabled)| FeePolicy {
                base_fee_msat: base,
                fee_ppm: rate,
                inbound_base_fee_msat: in_base,
                inbound_fee_ppm: in_rate,
                min_htlc_msat: min_htlc,
                max_htlc_msat: max_htlc,
                time_lock_delta: cltv,
                disabled,
            },
        )
}

fn channel() -> impl Strategy<Value = Channel> {
    (
        0..4u64,
        prop_oneof![4 => 0..3_000_000u64, 1 => any::<u64>()],
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        fee_policy(),
        (
            proptest::option::of(seconds()),
            proptest::option::of(seconds()),
        ),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        (
            prop_oneof![Just(0u64), Just(1), msat()],
            prop_oneof![Just(0u64), msat()],
        ),
    )
        .prop_map(
            |(
                id,
                capacity_sat,
                (local, remote, local_reserve, remote_reserve),
                local_policy,
                (last_fee_change, last_policy_change),
                active,
                (min_htlc_floor_msat, max_htlc_ceiling_msat),
            )| {
                Channel {
                    node: NodeKind::Lnd,
                    id,
                    channel_point: format!("{id:064x}:0"),
                    peer_pubkey: "02".repeat(33),
                    capacity_sat,
                    local_balance_sat: local,
                    remote_balance_sat: remote,
                    local_reserve_sat: local_reserve,
                    remote_reserve_sat: remote_reserve,
                    pending_htlcs: 0,
                    pending_in_sat: 0,
                    pending_out_sat: 0,
                    commit_fee_sat: 0,
                    max_accepted_htlcs: 483,
                    max_in_flight_msat: capacity_sat.saturating_mul(990),
                    min_htlc_floor_msat,
                    max_htlc_ceiling_msat,
                    active,
                    private: false,
                    initiator: true,
                    age_blocks: 1000,
                    open_cost_sat: None,
                    rebalance_cost_msat: 0,
                    shared: SharedChannels::default(),
                    local_policy,
                    peer_policy: None,
                    flow: Vec::new(),
                    history_secs: 0,
                    flow_class: FlowClass::Unknown,
                    profitability: Profitability::Unknown,
                    revenue_rate_msat_per_hour: 0.0,
                    last_fee_change,
                    last_policy_change,
                }
            },
        )
}

fn change() -> impl Strategy<Value = PolicyChange> {
    use proptest::option::of;
    (
        of(ppm()),
        of(ppm()),
        of(signed()),
        of(signed()),
        of(msat()),
        of(msat()),
        of(ppm()),
        of(any::<bool>()),
    )
        .prop_map(
            |(
                fee_ppm,
                base_fee_msat,
                inbound_fee_ppm,
                inbound_base_fee_msat,
                min_htlc_msat,
                max_htlc_msat,
                time_lock_delta,
                disabled,
            )| {
                PolicyChange {
                    fee_ppm,
                    base_fee_msat,
                    inbound_fee_ppm,
                    inbound_base_fee_msat,
                    min_htlc_msat,
                    max_htlc_msat,
                    time_lock_delta,
                    disabled,
                }
            },
        )
}

fn node() -> impl Strategy<Value = NodeKind> {
    prop_oneof![Just(NodeKind::Lnd), Just(NodeKind::Cln)]
}

fn sorted<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Configs that pass `validate`, covering its edges (empty-width ranges, no step, step 0).
fn valid_config() -> impl Strategy<Value = GuardConfig> {
    let discount = || prop_oneof![3 => -12_000..=0i32, 1 => i32::MIN..=0, 1 => Just(0)];
    let surcharge = || prop_oneof![3 => 0..12_000i32, 1 => 0..=i32::MAX, 1 => Just(0)];
    let step = || proptest::option::of(prop_oneof![3 => 0..2_000u32, 1 => any::<u32>()]);
    (
        node(),
        (ppm(), ppm(), ppm(), ppm()),
        any::<bool>(),
        (discount(), surcharge(), discount(), surcharge()),
        (step(), step()),
        seconds(),
        (ppm(), ppm()),
    )
        .prop_map(
            |(
                node,
                (fee_a, fee_b, base_a, base_b),
                allow_positive_inbound,
                inbound,
                steps,
                interval,
                cltv,
            )| {
                let (min_fee_ppm, max_fee_ppm) = sorted(fee_a, fee_b);
                let (min_base_fee_msat, max_base_fee_msat) = sorted(base_a, base_b);
                let (min_time_lock_delta, max_time_lock_delta) = sorted(cltv.0, cltv.1);
                GuardConfig {
                    node,
                    min_fee_ppm,
                    max_fee_ppm,
                    min_base_fee_msat,
                    max_base_fee_msat,
                    allow_positive_inbound,
                    min_inbound_fee_ppm: inbound.0,
                    max_inbound_fee_ppm: inbound.1,
                    min_inbound_base_fee_msat: inbound.2,
                    max_inbound_base_fee_msat: inbound.3,
                    max_fee_step_ppm: steps.0,
                    max_inbound_step_ppm: steps.1,
                    min_update_interval_secs: interval,
                    min_time_lock_delta,
                    max_time_lock_delta,
                }
            },
        )
}

/// Any config at all, valid or not.
fn any_config() -> impl Strategy<Value = GuardConfig> {
    (
        node(),
        (ppm(), ppm(), ppm(), ppm()),
        any::<bool>(),
        (signed(), signed(), signed(), signed()),
        (ppm(), ppm()),
    )
        .prop_map(
            |(node, fees, allow_positive_inbound, inbound, cltv)| GuardConfig {
                node,
                min_fee_ppm: fees.0,
                max_fee_ppm: fees.1,
                min_base_fee_msat: fees.2,
                max_base_fee_msat: fees.3,
                allow_positive_inbound,
                min_inbound_fee_ppm: inbound.0,
                max_inbound_fee_ppm: inbound.1,
                min_inbound_base_fee_msat: inbound.2,
                max_inbound_base_fee_msat: inbound.3,
                max_fee_step_ppm: None,
                max_inbound_step_ppm: None,
                min_update_interval_secs: 0,
                min_time_lock_delta: cltv.0,
                max_time_lock_delta: cltv.1,
            },
        )
}

/// A decision for the channel most of the time, for another channel sometimes.
fn case() -> impl Strategy<Value = (GuardConfig, Channel, Decision, u64)> {
    (
        valid_config(),
        channel(),
        change(),
        proptest::bool::weighted(0.9),
        0..4u64,
        seconds(),
    )
        .prop_map(|(config, channel, change, same_channel, other_id, now)| {
            let channel_id = if same_channel { channel.id } else { other_id };
            let decision = Decision {
                channel_id,
                change,
                reason: String::new(),
            };
            (config, channel, decision, now)
        })
}

fn in_range<T: PartialOrd>(value: T, min: T, max: T) -> bool {
    min <= value && value <= max
}

fn check(
    config: &GuardConfig,
    channel: &Channel,
    decision: &Decision,
    level: Option<u32>,
    now: u64,
    out: &GuardedDecision,
) -> Result<(), TestCaseError> {
    let change = &decision.change;
    // An inbound rate is requested directly or through charge-lnd's `inbound_level_ppm`.
    let inbound_requested = change.inbound_fee_ppm.is_some() || level.is_some();
    let current = &channel.local_policy;
    prop_assert_eq!(out.channel_id, channel.id);
    for clamp in &out.clamps {
        if clamp.rule == Rule::NoGraphEdge {
            // Not a change but a refusal: an LND channel without a graph edge is left alone.
            prop_assert!(config.node == NodeKind::Lnd && current.time_lock_delta == 0);
            prop_assert!(out.policy.is_none() && out.clamps.len() == 1, "{:?}", out);
            continue;
        }
        // Clamps hold i64: u64 values above i64::MAX (msat beyond all bitcoin, seconds beyond any
        // clock) saturate and may then look equal.
        let saturated = clamp.applied == i64::MAX;
        prop_assert!(
            clamp.requested != clamp.applied || saturated,
            "a clamp that changed nothing: {:?}",
            clamp
        );
    }
    if decision.channel_id != channel.id {
        prop_assert!(out.policy.is_none() && out.clamps.is_empty());
    }
    let Some(policy) = out.policy else {
        return Ok(());
    };

    // (h) an update is only ever the strategy's (or the section's properties') doing, and never
    // a no-op.
    prop_assert!(!change.is_empty() || level.is_some());
    prop_assert_ne!(&policy, current);

    // (g) never inside the minimum interval: a fee change after the last fee change (lnpolicy's
    // or one made by hand); an update that leaves the fees alone, and any enabling, after
    // lnpolicy's last change of any kind.
    let due = |last: Option<u64>| {
        last.is_none_or(|last| now >= last.saturating_add(config.min_update_interval_secs))
    };
    if policy.same_fees(current) || (current.disabled && !policy.disabled) {
        prop_assert!(due(channel.last_policy_change));
    }
    if !policy.same_fees(current) {
        prop_assert!(due(channel.last_fee_change));
    }

    // (a) the total fee never turns negative, rate and base separately.
    prop_assert!(i64::from(policy.inbound_fee_ppm) >= -i64::from(policy.fee_ppm));
    prop_assert!(i64::from(policy.inbound_base_fee_msat) >= -i64::from(policy.base_fee_msat));

    // (b) Core Lightning has no inbound fees, and no per-channel cltv delta or disabled flag.
    if config.node == NodeKind::Cln {
        prop_assert_eq!(
            (policy.inbound_fee_ppm, policy.inbound_base_fee_msat),
            (0, 0)
        );
        prop_assert_eq!(
            (policy.time_lock_delta, policy.disabled),
            (current.time_lock_delta, current.disabled)
        );
    }
    // (b') LND is never asked to enable a channel whose peer is offline.
    if !channel.active && current.disabled {
        prop_assert!(policy.disabled);
    }

    // (c) positive inbound fees only when the operator enabled them.
    if !config.allow_positive_inbound {
        prop_assert!(policy.inbound_fee_ppm <= 0 && policy.inbound_base_fee_msat <= 0);
    }

    // (d) every requested value ends up within its bounds.
    let inbound_ceiling = |max: i32| {
        if config.allow_positive_inbound {
            max
        } else {
            0
        }
    };
    if change.fee_ppm.is_some() {
        prop_assert!(in_range(
            policy.fee_ppm,
            config.min_fee_ppm,
            config.max_fee_ppm
        ));
    }
    if change.base_fee_msat.is_some() {
        prop_assert!(in_range(
            policy.base_fee_msat,
            config.min_base_fee_msat,
            config.max_base_fee_msat
        ));
    }
    if inbound_requested {
        let max = inbound_ceiling(config.max_inbound_fee_ppm);
        prop_assert!(in_range(
            policy.inbound_fee_ppm,
            config.min_inbound_fee_ppm,
            max
        ));
    }
    if change.inbound_base_fee_msat.is_some() {
        let max = inbound_ceiling(config.max_inbound_base_fee_msat);
        prop_assert!(in_range(
            policy.inbound_base_fee_msat,
            config.min_inbound_base_fee_msat,
            max
        ));
    }
    if change.time_lock_delta.is_some() && config.node == NodeKind::Lnd {
        prop_assert!(in_range(
            policy.time_lock_delta,
            config.min_time_lock_delta,
            config.max_time_lock_delta
        ));
    }

    // (e) from an in-range fee, no move is larger than the step.
    if let Some(step) = config.max_fee_step_ppm
        && in_range(current.fee_ppm, config.min_fee_ppm, config.max_fee_ppm)
    {
        prop_assert!(policy.fee_ppm.abs_diff(current.fee_ppm) <= step);
    }
    // The same for inbound, except where the total-fee floor forces a larger move.
    if let Some(step) = config.max_inbound_step_ppm
        && config.node == NodeKind::Lnd
        && inbound_requested
        && in_range(
            current.inbound_fee_ppm,
            config.min_inbound_fee_ppm,
            inbound_ceiling(config.max_inbound_fee_ppm),
        )
    {
        let forced = i64::from(policy.inbound_fee_ppm) == -i64::from(policy.fee_ppm);
        prop_assert!(forced || policy.inbound_fee_ppm.abs_diff(current.inbound_fee_ppm) <= step);
    }

    // (f) requested HTLC limits are consistent (a smallest HTLC at least the channel's
    // negotiated one, a largest within capacity and the max in flight), or the node keeps its
    // own.
    let ceiling = [channel.max_in_flight_msat, channel.max_htlc_ceiling_msat]
        .into_iter()
        .filter(|&limit| limit > 0)
        .fold(channel.capacity_sat.saturating_mul(1000), u64::min);
    let raised_to_floor = current.min_htlc_msat < channel.min_htlc_floor_msat
        && policy.min_htlc_msat == channel.min_htlc_floor_msat;
    if change.min_htlc_msat.is_some() || change.max_htlc_msat.is_some() {
        let kept = (raised_to_floor || policy.min_htlc_msat == current.min_htlc_msat)
            && policy.max_htlc_msat == current.max_htlc_msat;
        let consistent = policy.min_htlc_msat <= policy.max_htlc_msat
            && (change.min_htlc_msat.is_none()
                || channel.min_htlc_floor_msat.max(1) <= policy.min_htlc_msat)
            && (change.max_htlc_msat.is_none()
                || (1..=ceiling.max(1)).contains(&policy.max_htlc_msat));
        prop_assert!(kept || consistent);
    }
    // (f') every update of more than the disabled flag carries a smallest HTLC at least the
    // channel's floor, requested or not (LND checks the value it keeps too), unless the largest
    // is below the floor.
    let flag_only = FeePolicy {
        disabled: current.disabled,
        ..policy
    } == *current;
    if !flag_only && channel.min_htlc_floor_msat <= policy.max_htlc_msat {
        prop_assert!(channel.min_htlc_floor_msat <= policy.min_htlc_msat);
    }

    // Values the strategy did not touch stay the operator's.
    let untouched = |requested: bool, new: u64, old: u64| requested || new == old;
    prop_assert!(untouched(
        change.fee_ppm.is_some(),
        policy.fee_ppm.into(),
        current.fee_ppm.into()
    ));
    prop_assert!(untouched(
        change.base_fee_msat.is_some(),
        policy.base_fee_msat.into(),
        current.base_fee_msat.into()
    ));
    prop_assert!(
        raised_to_floor
            || untouched(
                change.min_htlc_msat.is_some() || change.max_htlc_msat.is_some(),
                policy.min_htlc_msat,
                current.min_htlc_msat
            )
    );
    prop_assert!(untouched(
        change.min_htlc_msat.is_some() || change.max_htlc_msat.is_some(),
        policy.max_htlc_msat,
        current.max_htlc_msat
    ));
    prop_assert!(untouched(
        change.time_lock_delta.is_some(),
        policy.time_lock_delta.into(),
        current.time_lock_delta.into()
    ));
    prop_assert!(change.disabled.is_some() || policy.disabled == current.disabled);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn emitted_policies_are_safe(
        (config, channel, decision, now) in case(),
        level in proptest::option::of(0u32..5_000),
    ) {
        let out = guard(&config, &channel, &decision, level, now);
        check(&config, &channel, &decision, level, now, &out)?;
    }

    /// A strategy that keeps asking for the same thing must not cause an update every cycle:
    /// peers rate-limit gossip. Steps aside (they approach a target over several cycles), one
    /// guarded update is a fixed point.
    #[test]
    fn repeating_a_decision_after_its_update_changes_nothing(
        (config, mut channel, decision, now) in case(),
        level in proptest::option::of(0u32..5_000),
    ) {
        let config = GuardConfig { max_fee_step_ppm: None, max_inbound_step_ppm: None, ..config };
        let decision = Decision { channel_id: channel.id, ..decision };
        if let Some(policy) = guard(&config, &channel, &decision, level, now).policy {
            channel.local_policy = policy;
            channel.last_fee_change = None;
            prop_assert_eq!(guard(&config, &channel, &decision, level, now).policy, None);
        }
    }

    /// The channel was disabled less than the interval ago and its fees long before: whatever
    /// else the decision asks for, it is not enabled again.
    #[test]
    fn a_disabled_channel_is_not_enabled_inside_the_interval(
        (config, mut channel, decision, now) in case(),
        interval in 2..200_000u64,
    ) {
        let config = GuardConfig { min_update_interval_secs: interval, ..config };
        channel.last_fee_change = None;
        channel.last_policy_change = Some(now.saturating_sub(interval / 2));
        channel.local_policy.disabled = true;
        let decision = Decision {
            channel_id: channel.id,
            change: PolicyChange { disabled: Some(false), ..decision.change },
            ..decision
        };
        if let Some(policy) = guard(&config, &channel, &decision, None, now).policy {
            prop_assert!(policy.disabled);
        }
    }

    #[test]
    fn invalid_configs_never_emit(
        (config, channel, change, now) in (any_config(), channel(), change(), seconds()),
    ) {
        let decision = Decision { channel_id: channel.id, change, reason: String::new() };
        let out = guard(&config, &channel, &decision, None, now);
        if config.validate().is_err() {
            prop_assert_eq!(out.policy, None);
        } else {
            check(&config, &channel, &decision, None, now, &out)?;
        }
    }
}
