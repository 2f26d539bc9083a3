//! The only `bindgen!` site of the project, and the conversions between the
//! generated WIT types and `lnpolicy-core`'s domain types.

use lnpolicy_core as core;

wasmtime::component::bindgen!({
    world: "fee-strategy",
    path: "../../wit",
    imports: { default: trappable },
});

pub(crate) use lnpolicy::strategy::types as wit;

impl From<&core::FeePolicy> for wit::Policy {
    fn from(p: &core::FeePolicy) -> Self {
        wit::Policy {
            base_fee_msat: p.base_fee_msat,
            fee_ppm: p.fee_ppm,
            inbound_base_fee_msat: p.inbound_base_fee_msat,
            inbound_fee_ppm: p.inbound_fee_ppm,
            min_htlc_msat: p.min_htlc_msat,
            max_htlc_msat: p.max_htlc_msat,
            time_lock_delta: p.time_lock_delta,
            disabled: p.disabled,
        }
    }
}

fn failure_counts(failures: &[core::FailureCount]) -> wit::FailureCounts {
    let mut counts = wit::FailureCounts {
        insufficient_balance: 0,
        fee_insufficient: 0,
        incorrect_cltv: 0,
        channel_unavailable: 0,
        other: 0,
    };
    for f in failures {
        let slot = match f.reason {
            core::FailureReason::InsufficientBalance => &mut counts.insufficient_balance,
            core::FailureReason::FeeInsufficient => &mut counts.fee_insufficient,
            core::FailureReason::IncorrectCltv => &mut counts.incorrect_cltv,
            core::FailureReason::ChannelUnavailable => &mut counts.channel_unavailable,
            core::FailureReason::Other => &mut counts.other,
        };
        *slot = slot.saturating_add(f.count);
    }
    counts
}

/// The statistics of `window`, zeros when the host has none for it.
fn flow_stats(flow: &[core::FlowStats], window: core::Window) -> wit::FlowStats {
    match flow.iter().find(|f| f.window == window) {
        Some(f) => wit::FlowStats {
            sats_in: f.sats_in,
            sats_out: f.sats_out,
            htlcs_in: f.htlcs_in,
            htlcs_out: f.htlcs_out,
            fees_earned_msat: f.fees_earned_msat,
            failures: failure_counts(&f.failures),
        },
        None => wit::FlowStats {
            sats_in: 0,
            sats_out: 0,
            htlcs_in: 0,
            htlcs_out: 0,
            fees_earned_msat: 0,
            failures: failure_counts(&[]),
        },
    }
}

impl From<&core::Channel> for wit::ChannelView {
    fn from(c: &core::Channel) -> Self {
        wit::ChannelView {
            node: match c.node {
                core::NodeKind::Lnd => wit::NodeKind::Lnd,
                core::NodeKind::Cln => wit::NodeKind::Cln,
            },
            channel_id: c.id,
            peer_pubkey: c.peer_pubkey.clone(),
            capacity_sat: c.capacity_sat,
            local_balance_sat: c.local_balance_sat,
            remote_balance_sat: c.remote_balance_sat,
            local_reserve_sat: c.local_reserve_sat,
            remote_reserve_sat: c.remote_reserve_sat,
            pending_htlcs: c.pending_htlcs,
            pending_in_sat: c.pending_in_sat,
            pending_out_sat: c.pending_out_sat,
            commit_fee_sat: c.commit_fee_sat,
            max_accepted_htlcs: c.max_accepted_htlcs,
            active: c.active,
            private: c.private,
            initiator: c.initiator,
            age_blocks: c.age_blocks,
            open_cost_sat: c.open_cost_sat,
            shared: wit::SharedChannels {
                active_channels: c.shared.active_channels,
                active_local_sat: c.shared.active_local_sat,
                active_remote_sat: c.shared.active_remote_sat,
                inactive_channels: c.shared.inactive_channels,
                inactive_local_sat: c.shared.inactive_local_sat,
                inactive_remote_sat: c.shared.inactive_remote_sat,
            },
            local_policy: (&c.local_policy).into(),
            peer_policy: c.peer_policy.as_ref().map(Into::into),
            flow: wit::FlowWindows {
                day: flow_stats(&c.flow, core::Window::Day),
                week: flow_stats(&c.flow, core::Window::Week),
                month: flow_stats(&c.flow, core::Window::Month),
            },
            history_secs: c.history_secs,
            flow_class: match c.flow_class {
                core::FlowClass::Source => wit::FlowClass::Source,
                core::FlowClass::Sink => wit::FlowClass::Sink,
                core::FlowClass::Balanced => wit::FlowClass::Balanced,
                core::FlowClass::Congested => wit::FlowClass::Congested,
                core::FlowClass::Unknown => wit::FlowClass::Unknown,
            },
            profitability: match c.profitability {
                core::Profitability::Profitable => wit::Profitability::Profitable,
                core::Profitability::BreakEven => wit::Profitability::BreakEven,
                core::Profitability::Underwater => wit::Profitability::Underwater,
                core::Profitability::Zombie => wit::Profitability::Zombie,
                core::Profitability::Unknown => wit::Profitability::Unknown,
            },
            revenue_rate_msat_per_hour: c.revenue_rate_msat_per_hour,
            last_fee_change: c.last_fee_change,
        }
    }
}

impl From<wit::Decision> for core::Decision {
    fn from(d: wit::Decision) -> Self {
        core::Decision {
            channel_id: d.channel_id,
            change: core::PolicyChange {
                fee_ppm: d.fee_ppm,
                base_fee_msat: d.base_fee_msat,
                inbound_fee_ppm: d.inbound_fee_ppm,
                inbound_base_fee_msat: d.inbound_base_fee_msat,
                min_htlc_msat: d.min_htlc_msat,
                max_htlc_msat: d.max_htlc_msat,
                time_lock_delta: d.time_lock_delta,
                disabled: d.disabled,
            },
            reason: d.reason,
        }
    }
}

impl From<&core::ParamValue> for wit::ParamValue {
    fn from(v: &core::ParamValue) -> Self {
        match v {
            core::ParamValue::Integer(i) => wit::ParamValue::Integer(*i),
            core::ParamValue::Float(f) => wit::ParamValue::Float(*f),
            core::ParamValue::Boolean(b) => wit::ParamValue::Boolean(*b),
            core::ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
        }
    }
}

impl From<wit::ParamValue> for core::ParamValue {
    fn from(v: wit::ParamValue) -> Self {
        match v {
            wit::ParamValue::Integer(i) => core::ParamValue::Integer(i),
            wit::ParamValue::Float(f) => core::ParamValue::Float(f),
            wit::ParamValue::Boolean(b) => core::ParamValue::Boolean(b),
            wit::ParamValue::Text(t) => core::ParamValue::Text(t),
        }
    }
}

impl From<&core::Param> for wit::Param {
    fn from(p: &core::Param) -> Self {
        wit::Param {
            name: p.name.clone(),
            value: (&p.value).into(),
        }
    }
}

impl From<wit::StrategyInfo> for core::StrategyInfo {
    fn from(i: wit::StrategyInfo) -> Self {
        core::StrategyInfo {
            name: i.name,
            version: i.version,
            description: i.description,
            params: i
                .params
                .into_iter()
                .map(|p| core::ParamSpec {
                    name: p.name,
                    kind: match p.kind {
                        wit::ParamKind::Integer => core::ParamKind::Integer,
                        wit::ParamKind::Float => core::ParamKind::Float,
                        wit::ParamKind::Boolean => core::ParamKind::Boolean,
                        wit::ParamKind::Text => core::ParamKind::Text,
                        wit::ParamKind::ConfTarget => core::ParamKind::ConfTarget,
                    },
                    description: p.description,
                    default: match p.default {
                        wit::ParamDefault::Required => core::ParamDefault::Required,
                        wit::ParamDefault::Optional => core::ParamDefault::Optional,
                        wit::ParamDefault::Value(value) => core::ParamDefault::Value(value.into()),
                    },
                    min: p.min,
                    max: p.max,
                })
                .collect(),
        }
    }
}

impl From<&core::FeeChange> for wit::FeeChange {
    fn from(c: &core::FeeChange) -> Self {
        wit::FeeChange {
            at: c.at,
            fee_ppm: c.fee_ppm,
            base_fee_msat: c.base_fee_msat,
            inbound_fee_ppm: c.inbound_fee_ppm,
            revenue_msat: c.revenue_msat,
            hours: c.hours,
        }
    }
}

impl From<core::FeePercentiles> for wit::FeePercentiles {
    fn from(p: core::FeePercentiles) -> Self {
        wit::FeePercentiles {
            channels: p.channels,
            p25_ppm: p.p25_ppm,
            p50_ppm: p.p50_ppm,
            p75_ppm: p.p75_ppm,
            p90_ppm: p.p90_ppm,
        }
    }
}
