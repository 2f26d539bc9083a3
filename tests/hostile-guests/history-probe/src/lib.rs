//! A well-behaved strategy that reports what the host's history imports answer: for each
//! channel it asks `fee-history(channel, 0)`, `competitor-fees(peer)` and
//! `rebalance-cost(channel, 0)` (and of a channel id no call has, `u64::MAX`) and leaves the
//! fees alone, with a reason such as
//! `changes=2 fees=100,700 revenue=0,1234 p50=350 rebalanced=1500 foreign=none` (or
//! `p50=none`).

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo, host};

struct HistoryProbe;

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Guest for HistoryProbe {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "history_probe",
            "Leaves fees alone and reports the fee history and competitor fees it was given.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|channel| {
                let history = host::fee_history(channel.channel_id, 0);
                let p50 = host::competitor_fees(&channel.peer_pubkey)
                    .map_or_else(|| "none".to_owned(), |fees| fees.p50_ppm.to_string());
                let cost = |id| {
                    host::rebalance_cost(id, 0)
                        .map_or_else(|| "none".to_owned(), |msat| msat.to_string())
                };
                let reason = format!(
                    "changes={} fees={} revenue={} p50={p50} rebalanced={} foreign={}",
                    history.len(),
                    join(history.iter().map(|change| change.fee_ppm)),
                    join(history.iter().map(|change| change.revenue_msat)),
                    cost(channel.channel_id),
                    cost(u64::MAX),
                );
                hostile_common::leave_unchanged(channel.channel_id, reason)
            })
            .collect())
    }
}

hostile_common::bindings::export!(HistoryProbe with_types_in hostile_common::bindings);
