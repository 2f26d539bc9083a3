//! Every condition key, evaluated over plain `MatchInput`s: inclusive bounds on both sides,
//! and the cases where a quantity cannot be computed.

use std::collections::BTreeMap;

use lnpolicy_core::FeePolicy;
use lnpolicy_policy::config::{
    ActivityCounts, ChainFacts, ChannelFacts, Config, MatchError, MatchInput, Mismatch, NoteKind,
    PeerFacts, PendingHtlc, SharedChannel,
};

const PEER: &str = "025feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9";
const OTHER: &str = "036b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b";
const FUNDING_BLOCK: u64 = 700_000;
const DAY: u64 = 86_400;

fn scid(block: u64, tx: u64, out: u64) -> u64 {
    block << 40 | tx << 16 | out
}

/// A 30-day-old 2M sat channel we opened, at ratio exactly 0.5 (local 990k + 10k commit fee
/// against remote 1M), with one forward in each direction over every period.
fn base() -> MatchInput {
    let channel = ChannelFacts {
        id: scid(FUNDING_BLOCK, 12, 1),
        peer_pubkey: PEER.into(),
        capacity_sat: 2_000_000,
        local_balance_sat: 990_000,
        remote_balance_sat: 1_000_000,
        commit_fee_sat: 10_000,
        pending_htlcs: Vec::new(),
        initiator: true,
        private: false,
        active: true,
        local_fee_ppm: 500,
        peer_policy: Some(FeePolicy {
            base_fee_msat: 1000,
            fee_ppm: 250,
            ..FeePolicy::default()
        }),
    };
    let counts = ActivityCounts {
        htlcs_in: 1,
        htlcs_out: 1,
        sats_in: 50_000,
        sats_out: 50_000,
    };
    MatchInput {
        shared_channels: vec![SharedChannel::from(&channel)],
        channel,
        peer: PeerFacts {
            public_channels: Some(40),
            public_capacity_sat: Some(500_000_000),
        },
        activity: [DAY, 3 * DAY, 7 * DAY]
            .into_iter()
            .map(|p| (p, counts))
            .collect(),
        chain: ChainFacts {
            block_height: (FUNDING_BLOCK + 30 * 144) as u32,
            synced_to_chain: true,
            fee_rate_sat_vb: BTreeMap::from([(2, 40.0), (6, 12.5)]),
        },
    }
}

fn config(conditions: &str) -> Config {
    let text = format!("[s]\n{conditions}\nstrategy = static\n");
    Config::parse("m.ini", &text).unwrap_or_else(|e| panic!("{conditions}: {e}"))
}

fn matches(conditions: &str, input: &MatchInput) -> bool {
    config(conditions).sections()[0].matches(input).unwrap()
}

/// `min_key = bound` holds at the bound and above, `max_key = bound` at the bound and below.
fn assert_inclusive(
    min_key: &str,
    max_key: &str,
    bound: &str,
    set: impl Fn(&mut MatchInput, i64),
    at: i64,
    step: i64,
) {
    let with = |offset: i64| {
        let mut input = base();
        set(&mut input, at + offset);
        input
    };
    let min = format!("{min_key} = {bound}");
    let max = format!("{max_key} = {bound}");
    assert!(matches(&min, &with(0)), "{min} at the bound");
    assert!(matches(&min, &with(step)), "{min} above");
    assert!(!matches(&min, &with(-step)), "{min} below");
    assert!(matches(&max, &with(0)), "{max} at the bound");
    assert!(matches(&max, &with(-step)), "{max} below");
    assert!(!matches(&max, &with(step)), "{max} above");
}

#[test]
fn chan_id_in_every_form() {
    let input = base();
    assert!(matches("chan.id = 700000x12x1", &input));
    assert!(matches("chan.id = 1x1x1, 700000:12:1", &input));
    assert!(matches(&format!("chan.id = {}", input.channel.id), &input));
    assert!(!matches("chan.id = 700000x12x0, 700001x12x1", &input));
}

#[test]
fn chan_flags() {
    let mut input = base();
    assert!(matches("chan.initiator = true", &input));
    assert!(!matches("chan.initiator = false", &input));
    assert!(matches("chan.private = no", &input));
    input.channel.private = true;
    input.channel.initiator = false;
    assert!(matches("chan.private = yes", &input));
    assert!(matches("chan.initiator = off", &input));
}

#[test]
fn chan_disabled_reads_the_peer_policy() {
    let mut input = base();
    assert!(matches("chan.disabled = false", &input));
    assert!(!matches("chan.disabled = true", &input));
    input.channel.peer_policy.as_mut().unwrap().disabled = true;
    assert!(matches("chan.disabled = true", &input));
    input.channel.peer_policy = None;
    assert!(!matches("chan.disabled = true", &input));
    assert!(!matches("chan.disabled = false", &input));
    let notes = config("chan.disabled = true").notes().to_vec();
    assert!(
        notes
            .iter()
            .any(|n| n.kind == NoteKind::ChanDisabledEvaluated && n.kind.is_charge_lnd_deviation()),
        "{notes:?}"
    );
}

#[test]
fn chan_capacity() {
    assert_inclusive(
        "chan.min_capacity",
        "chan.max_capacity",
        "1_500_000",
        |i, v| i.channel.capacity_sat = v as u64,
        1_500_000,
        1,
    );
}

#[test]
fn chan_ratio_counts_pending_htlcs_and_the_openers_commit_fee() {
    let mut input = base();
    assert!(matches(
        "chan.min_ratio = 0.5\nchan.max_ratio = 0.5",
        &input
    ));
    // The peer opened: the commit fee moves to its side. 990k / (990k + 1.01M) = 0.495.
    input.channel.initiator = false;
    assert!(!matches("chan.min_ratio = 0.5", &input));
    assert!(matches(
        "chan.min_ratio = 0.495\nchan.max_ratio = 0.495",
        &input
    ));
    // An outgoing HTLC still counts as ours, an incoming one as the peer's.
    input.channel.pending_htlcs = vec![
        PendingHtlc {
            incoming: false,
            amount_sat: 20_000,
            expiry_height: 0,
        },
        PendingHtlc {
            incoming: true,
            amount_sat: 10_000,
            expiry_height: 0,
        },
    ];
    assert_eq!(input.channel.local_total_sat(), 1_010_000);
    assert_eq!(input.channel.remote_total_sat(), 1_020_000);
    assert!(matches("chan.max_ratio = 0.4976", &input));
    assert!(!matches("chan.max_ratio = 0.4975", &input));
}

#[test]
fn chan_ratio_of_an_empty_channel_never_matches() {
    let mut input = base();
    input.channel.local_balance_sat = 0;
    input.channel.remote_balance_sat = 0;
    input.channel.commit_fee_sat = 0;
    assert!(!matches("chan.min_ratio = 0", &input));
    assert!(!matches("chan.max_ratio = 1", &input));
    assert!(matches("chan.max_local_balance = 0", &input));
}

#[test]
fn chan_balances_include_pending_htlcs() {
    assert_inclusive(
        "chan.min_local_balance",
        "chan.max_local_balance",
        "400_000",
        |i, v| i.channel.local_balance_sat = v as u64 - 10_000,
        400_000,
        1,
    );
    let mut input = base();
    input.channel.pending_htlcs.push(PendingHtlc {
        incoming: false,
        amount_sat: 5_000,
        expiry_height: 0,
    });
    assert!(matches("chan.min_local_balance = 1_005_000", &input));
    assert!(!matches("chan.min_local_balance = 1_005_001", &input));
    assert_inclusive(
        "chan.min_remote_balance",
        "chan.max_remote_balance",
        "300_000",
        |i, v| i.channel.remote_balance_sat = v as u64,
        300_000,
        1,
    );
}

#[test]
fn chan_peer_fees() {
    assert_inclusive(
        "chan.min_base_fee_msat",
        "chan.max_base_fee_msat",
        "1000",
        |i, v| i.channel.peer_policy.as_mut().unwrap().base_fee_msat = v as u32,
        1000,
        1,
    );
    assert_inclusive(
        "chan.min_fee_ppm",
        "chan.max_fee_ppm",
        "8_000",
        |i, v| i.channel.peer_policy.as_mut().unwrap().fee_ppm = v as u32,
        8000,
        1,
    );
    let mut input = base();
    input.channel.peer_policy = None;
    assert!(!matches("chan.max_fee_ppm = 1_000_000", &input));
    assert!(!matches("chan.min_base_fee_msat = 0", &input));
}

#[test]
fn chan_age_in_blocks_and_days() {
    let set_age = |i: &mut MatchInput, blocks: i64| {
        i.chain.block_height = (FUNDING_BLOCK as i64 + blocks) as u32;
    };
    assert_inclusive("chan.min_age", "chan.max_age", "1008", set_age, 1008, 1);
    // 30 days = 4320 blocks of 10 minutes.
    assert_inclusive(
        "chan.min_age_days",
        "chan.max_age_days",
        "30",
        set_age,
        4320,
        1,
    );
    assert!(matches("chan.max_age_days = 0.5", &{
        let mut i = base();
        set_age(&mut i, 72);
        i
    }));
}

#[test]
fn activity_counts_over_the_period() {
    let period = "chan.activity_period = 7d\n";
    for (min_key, max_key, set) in [
        (
            "chan.min_htlcs_in",
            "chan.max_htlcs_in",
            (|c: &mut ActivityCounts, v: u64| c.htlcs_in = v) as fn(&mut ActivityCounts, u64),
        ),
        ("chan.min_htlcs_out", "chan.max_htlcs_out", |c, v| {
            c.htlcs_out = v
        }),
        ("chan.min_sats_in", "chan.max_sats_in", |c, v| c.sats_in = v),
        ("chan.min_sats_out", "chan.max_sats_out", |c, v| {
            c.sats_out = v
        }),
    ] {
        assert_inclusive(
            &format!("{period}{min_key}"),
            &format!("{period}{max_key}"),
            "5",
            |i, v| set(i.activity.get_mut(&(7 * DAY)).unwrap(), v as u64),
            5,
            1,
        );
    }
}

#[test]
fn activity_ratios_are_in_over_in_plus_out() {
    let period = "chan.activity_period = 7d\n";
    let mut input = base();
    let counts = input.activity.get_mut(&(7 * DAY)).unwrap();
    counts.htlcs_in = 3;
    counts.htlcs_out = 1;
    counts.sats_in = 10_000;
    counts.sats_out = 90_000;
    assert!(matches(
        &format!("{period}chan.min_htlcs_ratio = 0.75"),
        &input
    ));
    assert!(!matches(
        &format!("{period}chan.min_htlcs_ratio = 0.76"),
        &input
    ));
    assert!(matches(
        &format!("{period}chan.max_sats_ratio = 0.1"),
        &input
    ));
    assert!(!matches(
        &format!("{period}chan.max_sats_ratio = 0.09"),
        &input
    ));
}

#[test]
fn a_channel_with_no_forwards_never_matches_a_ratio() {
    let period = "chan.activity_period = 7d\n";
    let mut input = base();
    input.activity.insert(7 * DAY, ActivityCounts::default());
    for condition in [
        "chan.min_htlcs_ratio = 0",
        "chan.max_htlcs_ratio = 1",
        "chan.min_sats_ratio = 0",
        "chan.max_sats_ratio = 1",
    ] {
        assert!(
            !matches(&format!("{period}{condition}"), &input),
            "{condition}"
        );
    }
    assert!(matches(&format!("{period}chan.max_htlcs_out = 0"), &input));
}

#[test]
fn young_channels_do_not_match_activity_unless_told_to_ignore_age() {
    let mut input = base();
    input.activity.get_mut(&(7 * DAY)).unwrap().htlcs_out = 0;
    // 6 days old: younger than the 7-day period.
    input.chain.block_height = (FUNDING_BLOCK + 6 * 144) as u32;
    let conditions = "chan.activity_period = 7d\nchan.max_htlcs_out = 0";
    let section = config(conditions).sections()[0].clone();
    assert_eq!(
        section.mismatch(&input).unwrap(),
        Some(Mismatch::YoungChannel {
            period_secs: 7 * DAY,
            age_secs: 6 * DAY,
        })
    );
    // The period alone, without any activity condition, already excludes young channels.
    assert!(!matches("chan.activity_period = 7d", &input));
    assert!(!matches(
        &format!("{conditions}\nchan.activity_period_ignore_channel_age = false"),
        &input
    ));
    assert!(matches(
        &format!("{conditions}\nchan.activity_period_ignore_channel_age = true"),
        &input
    ));
    // Exactly as old as the period: it matches.
    input.chain.block_height = (FUNDING_BLOCK + 7 * 144) as u32;
    assert!(matches(conditions, &input));
}

#[test]
fn activity_conditions_without_a_period_are_ignored_with_a_note() {
    let mut input = base();
    input.activity.get_mut(&(7 * DAY)).unwrap().htlcs_out = 50;
    let config = config("chan.max_htlcs_out = 0");
    assert!(config.sections()[0].matches(&input).unwrap());
    assert!(config.sections()[0].conditions.is_empty());
    assert!(
        config
            .notes()
            .iter()
            .any(|n| n.kind == NoteKind::ActivityWithoutPeriod && n.line == Some(2))
    );
}

#[test]
fn activity_periods_in_every_unit() {
    for (period, seconds) in [
        ("1d", DAY),
        ("72h", 3 * DAY),
        ("86400s", DAY),
        ("1440m", DAY),
        ("86400", DAY),
    ] {
        let mut input = base();
        input.activity.get_mut(&seconds).unwrap().htlcs_in = 9;
        let conditions = format!("chan.activity_period = {period}\nchan.min_htlcs_in = 9");
        assert!(matches(&conditions, &input), "{period}");
        assert_eq!(
            config(&conditions).activity_periods(),
            [seconds].into(),
            "{period}"
        );
    }
}

#[test]
fn missing_activity_counts_are_a_caller_error_not_a_mismatch() {
    let mut input = base();
    input.activity.clear();
    let section = config("chan.activity_period = 7d\nchan.min_htlcs_in = 1").sections()[0].clone();
    let error = section.matches(&input).unwrap_err();
    assert!(
        matches!(error, MatchError::MissingActivity { period_secs, .. } if period_secs == 7 * DAY),
        "{error}"
    );
    assert!(
        error.to_string().contains("m.ini:3: key chan.min_htlcs_in"),
        "{error}"
    );
}

#[test]
fn pending_htlc_conditions() {
    let mut input = base();
    assert!(matches("chan.max_count_pending_htlcs = 0", &input));
    assert!(!matches("chan.min_count_pending_htlcs = 1", &input));
    // No pending HTLC: there is no next expiry, so expiry conditions never match.
    assert!(!matches(
        "chan.max_next_pending_htlc_expiry = 1000000",
        &input
    ));
    assert!(!matches("chan.min_next_pending_htlc_expiry = 0", &input));
    let height = input.chain.block_height;
    input.channel.pending_htlcs = vec![
        PendingHtlc {
            incoming: true,
            amount_sat: 1,
            expiry_height: height + 40,
        },
        PendingHtlc {
            incoming: false,
            amount_sat: 1,
            expiry_height: height + 12,
        },
    ];
    assert!(matches("chan.min_count_pending_htlcs = 2", &input));
    assert!(!matches("chan.min_count_pending_htlcs = 3", &input));
    assert!(matches("chan.max_count_pending_htlcs = 2", &input));
    assert!(!matches("chan.max_count_pending_htlcs = 1", &input));
    assert!(matches("chan.max_next_pending_htlc_expiry = 12", &input));
    assert!(!matches("chan.max_next_pending_htlc_expiry = 11", &input));
    assert!(matches("chan.min_next_pending_htlc_expiry = 12", &input));
    assert!(!matches("chan.min_next_pending_htlc_expiry = 13", &input));
    // An HTLC past its expiry counts negative blocks.
    input.channel.pending_htlcs[1].expiry_height = height - 3;
    assert!(matches("chan.max_next_pending_htlc_expiry = -3", &input));
}

#[test]
fn node_id_inline_and_case_insensitive() {
    let input = base();
    assert!(matches(&format!("node.id = {OTHER}, {PEER}"), &input));
    assert!(!matches(&format!("node.id = {OTHER}"), &input));
    let upper = config(&format!("node.id = {}", PEER.to_uppercase()));
    assert!(upper.sections()[0].matches(&input).unwrap());
    assert!(upper.notes().iter().any(|n| n.kind == NoteKind::PubkeyCase));
}

#[test]
fn node_public_totals() {
    assert_inclusive(
        "node.min_channels",
        "node.max_channels",
        "40",
        |i, v| i.peer.public_channels = Some(v as u32),
        40,
        1,
    );
    assert_inclusive(
        "node.min_capacity",
        "node.max_capacity",
        "5_000_0000",
        |i, v| i.peer.public_capacity_sat = Some(v as u64),
        50_000_000,
        1,
    );
    let mut input = base();
    input.peer = PeerFacts::default();
    assert!(!matches("node.min_channels = 0", &input));
    assert!(!matches("node.max_capacity = 1000000000000", &input));
}

fn shared(active: bool, local_sat: u64, remote_sat: u64) -> SharedChannel {
    SharedChannel {
        active,
        local_sat,
        remote_sat,
    }
}

#[test]
fn node_shared_channels() {
    let mut input = base();
    input.shared_channels = vec![
        shared(true, 800_000, 200_000),
        shared(true, 100_000, 900_000),
        shared(false, 300_000, 0),
    ];
    for (conditions, expected) in [
        (
            "node.min_shared_channels_active = 2\nnode.max_shared_channels_active = 2",
            true,
        ),
        ("node.min_shared_channels_active = 3", false),
        (
            "node.min_shared_channels_inactive = 1\nnode.max_shared_channels_inactive = 1",
            true,
        ),
        ("node.max_shared_channels_inactive = 0", false),
        (
            "node.min_shared_capacity_active = 2_000_000\nnode.max_shared_capacity_active = 2_000_000",
            true,
        ),
        ("node.min_shared_capacity_active = 2_000_001", false),
        (
            "node.min_shared_capacity_inactive = 300_000\nnode.max_shared_capacity_inactive = 300_000",
            true,
        ),
        ("node.max_shared_capacity_inactive = 299_999", false),
        // (800k + 100k + 300k) / 2.3M
        (
            "node.min_shared_ratio = 0.5217\nnode.max_shared_ratio = 0.5218",
            true,
        ),
        (
            "node.min_shared_ratio_active = 0.45\nnode.max_shared_ratio_active = 0.45",
            true,
        ),
        ("node.max_shared_ratio_active = 0.44", false),
        ("node.min_shared_ratio_inactive = 1", true),
    ] {
        assert_eq!(matches(conditions, &input), expected, "{conditions}");
    }
}

#[test]
fn node_shared_ratios_with_a_zero_denominator_never_match() {
    let mut input = base();
    input.shared_channels = vec![shared(true, 500_000, 500_000)];
    assert!(!matches("node.min_shared_ratio_inactive = 0", &input));
    assert!(!matches("node.max_shared_ratio_inactive = 1", &input));
    // The other shared conditions still work (charge-lnd fails on all of them here).
    assert!(matches("node.max_shared_channels_inactive = 0", &input));
    input.shared_channels = vec![shared(false, 0, 0)];
    assert!(!matches("node.min_shared_ratio = 0", &input));
    assert!(!matches("node.min_shared_ratio_active = 0", &input));
}

#[test]
fn onchain_fee_rate_at_the_conf_target() {
    assert_inclusive(
        "onchain.min_fee_rate",
        "onchain.max_fee_rate",
        "12.5",
        |i, v| {
            i.chain.fee_rate_sat_vb.insert(6, v as f64 / 10.0);
        },
        125,
        1,
    );
    let input = base();
    // conf target 2 has 40 sat/vB; 1 is asked as 2, as the node refuses targets below 2.
    assert!(matches(
        "onchain.conf_target = 2\nonchain.min_fee_rate = 40",
        &input
    ));
    assert!(matches(
        "onchain.conf_target = 1\nonchain.min_fee_rate = 40",
        &input
    ));
    let config = config("onchain.conf_target = 1\nonchain.max_fee_rate = 50");
    assert_eq!(config.conf_targets(), [2].into());
    let missing = Config::parse(
        "m.ini",
        "[s]\nonchain.conf_target = 3\nonchain.min_fee_rate = 1\nstrategy = x\n",
    )
    .unwrap();
    let error = missing.sections()[0].matches(&input).unwrap_err();
    assert!(
        matches!(error, MatchError::MissingFeeEstimate { conf_target: 3, .. }),
        "{error}"
    );
}

#[test]
fn onchain_synced_to_chain() {
    let mut input = base();
    assert!(matches("onchain.synced_to_chain = true", &input));
    input.chain.synced_to_chain = false;
    assert!(!matches("onchain.synced_to_chain = true", &input));
    assert!(matches("onchain.synced_to_chain = false", &input));
    // A conf target alone needs no estimate and matches.
    input.chain.fee_rate_sat_vb.clear();
    assert!(matches("onchain.conf_target = 6", &input));
}

#[test]
fn flow_over_any_period() {
    // sats in + sats out over 7 days = 100k in the base input.
    assert_inclusive(
        "flow.7d.min",
        "flow.7d.max",
        "100_000",
        |i, v| i.activity.get_mut(&(7 * DAY)).unwrap().sats_out = v as u64 - 50_000,
        100_000,
        1,
    );
    let mut input = base();
    input.activity.get_mut(&DAY).unwrap().sats_in = 0;
    assert!(matches("flow.24h.max = 50_000", &input));
    assert!(!matches("flow.1d.min = 50_001", &input));
    assert_eq!(config("flow.24h.max = 1").activity_periods(), [DAY].into());
}

#[test]
fn activity_level_by_weekly_turnover() {
    let with_flow = |sats: u64| {
        let mut input = base();
        let counts = input.activity.get_mut(&(7 * DAY)).unwrap();
        counts.sats_in = sats;
        counts.sats_out = 0;
        input
    };
    // Capacity 2M: 1% = 20k, 10% = 200k.
    assert!(matches("activity.level = inactive", &with_flow(0)));
    assert!(matches("activity.level = low", &with_flow(20_000)));
    assert!(matches("activity.level = medium", &with_flow(20_001)));
    assert!(matches("activity.level = medium", &with_flow(200_000)));
    assert!(matches(
        "activity.level = HIGH, medium",
        &with_flow(200_001)
    ));
    assert!(!matches("activity.level = high, medium", &with_flow(100)));
    assert_eq!(
        config("activity.level = low").activity_periods(),
        [7 * DAY].into()
    );
}

#[test]
fn peer_fee_ratio_is_ours_over_theirs() {
    // 500 ppm / 250 ppm = 2.
    assert_inclusive(
        "peer.fee_ratio.min",
        "peer.fee_ratio.max",
        "2",
        |i, v| i.channel.local_fee_ppm = v as u32,
        500,
        1,
    );
    let mut input = base();
    input.channel.peer_policy.as_mut().unwrap().fee_ppm = 0;
    assert!(!matches("peer.fee_ratio.min = 0", &input));
    input.channel.peer_policy = None;
    assert!(!matches("peer.fee_ratio.max = 100", &input));
}

#[test]
fn an_unknown_namespace_never_matches() {
    let config = config("network.min_alternatives = 5");
    let section = &config.sections()[0];
    assert_eq!(
        section.mismatch(&base()).unwrap(),
        Some(Mismatch::UnknownNamespace("network".into()))
    );
    assert!(config.notes().iter().any(|n| matches!(
        &n.kind,
        NoteKind::UnknownNamespace { namespace } if namespace == "network"
    )));
}

#[test]
fn all_conditions_must_hold() {
    let input = base();
    let section =
        config("chan.min_capacity = 1_000_000\nchan.max_ratio = 0.4\nnode.min_channels = 10")
            .sections()[0]
            .clone();
    assert_eq!(
        section.mismatch(&input).unwrap(),
        Some(Mismatch::Condition {
            key: "chan.max_ratio".into(),
            line: 3,
        })
    );
    assert!(matches(
        "chan.min_capacity = 1_000_000\nchan.max_ratio = 0.5\nnode.min_channels = 10",
        &input
    ));
}

#[test]
fn a_section_without_conditions_matches_every_channel() {
    let mut input = base();
    input.channel = ChannelFacts::default();
    input.activity.clear();
    assert!(matches("", &input));
}
