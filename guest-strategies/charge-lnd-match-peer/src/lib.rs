//! `match_peer`: charge-lnd's strategy that copies the peer's fee policy toward us.
//!
//! Charging what the peer charges in the other direction keeps a channel symmetric, a
//! common choice for peers with high fees. The outbound rate is `fee_ppm` when the section
//! sets it, else the peer's rate; the base fee is the peer's (the host's `base_fee_msat`
//! property, when the section sets it, overrides that as in charge-lnd). On LND the peer's
//! inbound fees are copied too, as charge-lnd does since it learned them; the section's
//! `inbound_fee_ppm` and `inbound_base_fee_msat` properties override them, and the host's
//! guard still refuses a positive one unless the operator enabled them. Core Lightning has no
//! inbound fees, so there only the outbound fees are copied.
//!
//! Without a known peer policy there is nothing to copy, so only an explicit `fee_ppm` is
//! applied. (charge-lnd would read an absent gossip policy as zeros and set 0/0.)

use lnpolicy_sdk::{
    ChannelView, Decision, Host, NodeKind, ParamSpec, Params, Reason, Strategy, StrategyInfo, ppm,
};

/// The strategy; see the crate documentation.
pub struct MatchPeer;

fn decide_one(channel: &ChannelView, fee_ppm: Option<u32>) -> Decision {
    let id = channel.channel_id;
    let Some(peer) = &channel.peer_policy else {
        return match fee_ppm {
            Some(fee) => Decision::set(id).fee_ppm(fee).reason(
                Reason::new("match_peer: peer's policy unknown, fee_ppm ")
                    .int(fee)
                    .text(" ppm")
                    .finish(),
            ),
            None => Decision::unchanged(id, "match_peer: peer's policy unknown, unchanged"),
        };
    };
    let reason = match fee_ppm {
        None => Reason::new("match_peer: peer's ").int(peer.fee_ppm),
        Some(fee) => Reason::new("match_peer: fee_ppm ").int(fee),
    };
    let reason = reason
        .text(" ppm, peer's base ")
        .int(peer.base_fee_msat)
        .text(" msat");
    let decision = Decision::set(id)
        .fee_ppm(fee_ppm.unwrap_or(peer.fee_ppm))
        .base_fee_msat(peer.base_fee_msat);
    match channel.node {
        NodeKind::Lnd => decision
            .inbound_fee_ppm(peer.inbound_fee_ppm)
            .inbound_base_fee_msat(peer.inbound_base_fee_msat)
            .reason(
                reason
                    .text("; peer's inbound ")
                    .int(peer.inbound_fee_ppm)
                    .text(" ppm, base ")
                    .int(peer.inbound_base_fee_msat)
                    .text(" msat")
                    .finish(),
            ),
        NodeKind::Cln => decision.reason(reason.finish()),
    }
}

impl Strategy for MatchPeer {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "match_peer".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `match_peer`: copies the peer's fee rate and base fee \
                          toward us, and on LND its inbound fees; fee_ppm (and the base_fee_msat \
                          and inbound properties) override them. Channels whose peer policy is \
                          unknown keep their fees."
                .into(),
            params: vec![
                ParamSpec::integer(
                    "fee_ppm",
                    "Outbound fee rate, ppm, instead of the peer's; left out copies the peer's.",
                    0,
                )
                .range(0.0, f64::from(ppm::MILLION))
                .optional(),
            ],
        }
    }

    fn decide(
        _host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let fee_ppm = params.opt_u32("fee_ppm")?;
        Ok(channels.iter().map(|c| decide_one(c, fee_ppm)).collect())
    }
}

lnpolicy_sdk::export_strategy!(MatchPeer);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, default_policy, run};
    use lnpolicy_sdk::{Decision, NodeKind, Param, Policy};

    use super::MatchPeer;

    fn peer(fee_ppm: u32, base_fee_msat: u32) -> Option<Policy> {
        Some(Policy {
            fee_ppm,
            base_fee_msat,
            ..default_policy(1_000_000)
        })
    }

    fn decide(peer_policy: Option<Policy>, params: &[Param]) -> Decision {
        let channel = ChannelBuilder::new(1)
            .fee_ppm(10)
            .base_fee_msat(0)
            .peer_policy(peer_policy)
            .build();
        run::<MatchPeer>(&mut TestHost::new(), params, &[channel])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn copies_the_peers_rate_base_fee_and_inbound_fees_on_lnd() {
        let peer = peer(850, 2_500).map(|p| Policy {
            inbound_fee_ppm: -200,
            inbound_base_fee_msat: -100,
            ..p
        });
        assert_eq!(
            decide(peer, &[]),
            Decision::set(1)
                .fee_ppm(850)
                .base_fee_msat(2_500)
                .inbound_fee_ppm(-200)
                .inbound_base_fee_msat(-100)
                .reason(
                    "match_peer: peer's 850 ppm, peer's base 2500 msat; \
                     peer's inbound -200 ppm, base -100 msat"
                )
        );
    }

    #[test]
    fn copies_no_inbound_fees_on_core_lightning() {
        let channel = ChannelBuilder::new(1)
            .node(NodeKind::Cln)
            .peer_policy(peer(850, 2_500).map(|p| Policy {
                inbound_fee_ppm: -200,
                ..p
            }))
            .build();
        let decision = run::<MatchPeer>(&mut TestHost::new(), &[], &[channel])
            .unwrap()
            .remove(0);
        assert_eq!(
            decision,
            Decision::set(1)
                .fee_ppm(850)
                .base_fee_msat(2_500)
                .reason("match_peer: peer's 850 ppm, peer's base 2500 msat")
        );
    }

    #[test]
    fn fee_ppm_overrides_the_peers_rate_but_not_its_base_fee() {
        let decision = decide(peer(850, 2_500), &[Param::new("fee_ppm", 300)]);
        assert_eq!(
            (decision.fee_ppm, decision.base_fee_msat),
            (Some(300), Some(2_500))
        );
        assert!(
            decision
                .reason
                .starts_with("match_peer: fee_ppm 300 ppm, peer's base 2500 msat; "),
            "{}",
            decision.reason
        );
    }

    #[test]
    fn unknown_peer_policy_leaves_the_channel_unchanged() {
        let decision = decide(None, &[]);
        assert!(decision.is_unchanged());
        assert_eq!(
            decision.reason,
            "match_peer: peer's policy unknown, unchanged"
        );
    }

    #[test]
    fn unknown_peer_policy_still_applies_an_explicit_fee_ppm() {
        assert_eq!(
            decide(None, &[Param::new("fee_ppm", 300)]),
            Decision::set(1)
                .fee_ppm(300)
                .reason("match_peer: peer's policy unknown, fee_ppm 300 ppm")
        );
    }

    #[test]
    fn zero_fees_are_copied_too() {
        let decision = decide(peer(0, 0), &[]);
        assert_eq!(
            (decision.fee_ppm, decision.base_fee_msat),
            (Some(0), Some(0))
        );
    }

    #[test]
    fn bad_fee_ppm_is_an_error_naming_it() {
        let channel = ChannelBuilder::new(1).build();
        let err = run::<MatchPeer>(
            &mut TestHost::new(),
            &[Param::new("fee_ppm", "high")],
            &[channel],
        )
        .unwrap_err();
        assert!(err.contains("`fee_ppm`: expected an integer"), "{err}");
    }
}
