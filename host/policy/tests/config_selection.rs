//! Which section's policy a channel gets: non-final sections merge, the first final match
//! wins, `[default]` comes last and ignores its conditions, `use_config` hands over to another
//! file; and the realistic configs in `fixtures/configs/realistic/` end to end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lnpolicy_core::{FeePolicy, ParamDefault, ParamKind, ParamSpec, ParamValue};
use lnpolicy_policy::config::{
    ActivityCounts, ChainFacts, ChannelFacts, Config, ErrorKind, MatchError, MatchInput, NoteKind,
    PeerFacts, PendingHtlc, Selection, SharedChannel,
};
use lnpolicy_policy::experiment::Arm;
use lnpolicy_policy::params::ParamError;

const DAY: u64 = 86_400;
const HEIGHT: u32 = 800_000;
const FRIEND: &str = "025feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9";
const HANDS_OFF: &str = "034e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce";
const DRAIN: &str = "02e7f6c011776e8db7cd330b54174fd76f7d0216b612387a5ffcfb81e6f0919683";
const STRANGER: &str = "037902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/configs/realistic")
        .canonicalize()
        .unwrap()
}

/// A public 2M sat channel to a stranger, opened by the peer a year ago, at ratio `ratio`
/// (no commit fee, no pending HTLCs), quiet for a week.
fn channel(ratio: f64) -> MatchInput {
    let local = (2_000_000.0 * ratio) as u64;
    let channel = ChannelFacts {
        id: u64::from(HEIGHT - 52_560) << 40 | 7 << 16,
        peer_pubkey: STRANGER.into(),
        capacity_sat: 2_000_000,
        local_balance_sat: local,
        remote_balance_sat: 2_000_000 - local,
        commit_fee_sat: 0,
        pending_htlcs: Vec::new(),
        initiator: false,
        private: false,
        active: true,
        local_fee_ppm: 100,
        peer_policy: Some(FeePolicy {
            base_fee_msat: 1000,
            fee_ppm: 100,
            ..FeePolicy::default()
        }),
    };
    MatchInput {
        shared_channels: vec![SharedChannel::from(&channel)],
        channel,
        peer: PeerFacts {
            public_channels: Some(60),
            public_capacity_sat: Some(400_000_000),
        },
        activity: [DAY, 3 * DAY, 7 * DAY]
            .into_iter()
            .map(|p| (p, ActivityCounts::default()))
            .collect(),
        chain: ChainFacts {
            block_height: HEIGHT,
            synced_to_chain: true,
            fee_rate_sat_vb: BTreeMap::from([(3, 20.0), (6, 10.0)]),
        },
    }
}

fn parse(text: &str) -> Config {
    Config::parse("s.ini", text).unwrap_or_else(|e| panic!("{e}"))
}

fn select(config: &Config, input: &MatchInput) -> Selection {
    config.select(input).unwrap().expect("a section applies")
}

fn merged(selection: &Selection) -> Vec<&str> {
    selection.merged.iter().map(|s| s.name.as_str()).collect()
}

const LAYERED: &str = "\
[low-defaults]
chan.max_ratio = 0.3
base_fee_msat = 100
min_fee_ppm_delta = 3

[all-defaults]
base_fee_msat = 200
time_lock_delta = 40

[drained]
chan.max_ratio = 0.2
strategy = static
fee_ppm = 900

[also-drained]
chan.max_ratio = 0.2
strategy = static
fee_ppm = 1

[default]
chan.min_ratio = 0.99
strategy = static
fee_ppm = 10
base_fee_msat = 1000
";

#[test]
fn non_final_sections_merge_in_order_and_the_first_final_match_wins() {
    let config = parse(LAYERED);
    let selection = select(&config, &channel(0.1));
    assert_eq!(selection.section.name, "drained");
    assert_eq!(
        merged(&selection),
        ["low-defaults", "all-defaults", "drained"]
    );
    let settings = &selection.settings;
    assert_eq!(selection.strategy(), "static");
    assert_eq!(settings.params["fee_ppm"], "900");
    // The later non-final section overrides the earlier one, key by key.
    assert_eq!(settings.properties.base_fee_msat, Some(200));
    assert_eq!(settings.origins["base_fee_msat"].section, "all-defaults");
    assert_eq!(settings.properties.min_fee_ppm_delta, Some(3));
    assert_eq!(settings.properties.time_lock_delta, Some(40));
}

#[test]
fn default_is_merged_on_top_when_no_final_section_matched() {
    let config = parse(LAYERED);
    let selection = select(&config, &channel(0.25));
    assert_eq!(selection.section.name, "default");
    assert_eq!(
        merged(&selection),
        ["low-defaults", "all-defaults", "default"]
    );
    // [default]'s keys win over the non-final ones, which still fill in the rest.
    assert_eq!(selection.settings.properties.base_fee_msat, Some(1000));
    assert_eq!(selection.settings.properties.min_fee_ppm_delta, Some(3));
    assert_eq!(selection.settings.params["fee_ppm"], "10");
    // [default]'s own condition (chan.min_ratio = 0.99) is ignored.
    let selection = select(&config, &channel(0.5));
    assert_eq!(merged(&selection), ["all-defaults", "default"]);
}

#[test]
fn without_a_final_match_or_a_usable_default_the_channel_is_left_alone() {
    let config = parse("[a]\nchan.private = true\nstrategy = static\n[b]\nbase_fee_msat = 5\n");
    assert_eq!(config.select(&channel(0.5)).unwrap(), None);
    let config =
        parse("[a]\nchan.private = true\nstrategy = static\n[default]\nbase_fee_msat = 5\n");
    assert_eq!(config.select(&channel(0.5)).unwrap(), None);
}

#[test]
fn default_upper_case_is_not_the_fallback() {
    let config =
        parse("[DEFAULT]\nfee_ppm = 7\n[only-private]\nchan.private = true\nstrategy = static\n");
    assert_eq!(config.select(&channel(0.5)).unwrap(), None);
    // A strategy in [DEFAULT] makes every section final.
    let config = parse(
        "[DEFAULT]\nstrategy = static\n[defaults-only]\nbase_fee_msat = 1\n[later]\nfee_ppm = 2\n",
    );
    let selection = select(&config, &channel(0.5));
    assert_eq!(selection.section.name, "defaults-only");
    assert_eq!(merged(&selection), ["defaults-only"]);
}

#[test]
fn a_section_in_an_unknown_namespace_is_skipped_and_matching_goes_on() {
    let config = parse(
        "[lnflow-only]\nnetwork.min_alternatives = 5\nstrategy = static\nfee_ppm = 1\n\
         [next]\nstrategy = static\nfee_ppm = 2\n",
    );
    assert_eq!(select(&config, &channel(0.5)).section.name, "next");
}

#[test]
fn selection_errors_carry_the_location() {
    let config =
        parse("[a]\nonchain.conf_target = 12\nonchain.max_fee_rate = 5\nstrategy = static\n");
    let error = config.select(&channel(0.5)).unwrap_err();
    assert!(matches!(
        error,
        MatchError::MissingFeeEstimate {
            conf_target: 12,
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .contains("s.ini:3: key onchain.max_fee_rate"),
        "{error}"
    );
}

#[test]
fn min_fee_ppm_delta_defaults_like_charge_lnd() {
    let config = parse(
        "[p]\nchan.max_ratio = 0.2\nstrategy = proportional\nmin_fee_ppm = 1\nmax_fee_ppm = 9\n\
         [p0]\nchan.max_ratio = 0.4\nstrategy = proportional\nmin_fee_ppm_delta = 0\n\
         min_inbound_fee_ppm_delta = 4\n\
         [o]\nchan.max_ratio = 0.6\nstrategy = onchain_fee\n[s]\nstrategy = static\n",
    );
    let delta = |ratio| {
        let s = select(&config, &channel(ratio));
        (s.min_fee_ppm_delta(None), s.min_inbound_fee_ppm_delta(None))
    };
    assert_eq!(delta(0.1), (10, 10));
    assert_eq!(delta(0.3), (0, 4));
    assert_eq!(delta(0.5), (10, 10));
    assert_eq!(delta(0.9), (0, 0));
}

/// An experiment arm running `proportional` skips small moves as `proportional` does on its own;
/// the other arm, `static`, sends every change.
#[test]
fn min_fee_ppm_delta_follows_the_arms_strategy() {
    let config = parse(
        "[ab]\nstrategy = experiment\nexperiment.name = fees\nexperiment.a = proportional\n\
         experiment.a.min_fee_ppm = 10\nexperiment.a.max_fee_ppm = 500\n\
         experiment.b = static\nexperiment.b.fee_ppm = 100\n",
    );
    let s = select(&config, &channel(0.5));
    assert_eq!(s.min_fee_ppm_delta(Some(Arm::A)), 10);
    assert_eq!(s.min_inbound_fee_ppm_delta(Some(Arm::A)), 10);
    assert_eq!(s.min_fee_ppm_delta(Some(Arm::B)), 0);
    assert_eq!(s.min_fee_ppm_delta(None), 0);
}

fn spec(name: &str, kind: ParamKind, default: Option<ParamValue>) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        description: String::new(),
        default: default.map_or(ParamDefault::Required, ParamDefault::Value),
        min: Some(0.0),
        max: Some(1_000_000.0),
    }
}

#[test]
fn strategy_params_are_checked_against_the_schema_with_locations() {
    let specs = [
        spec("min_fee_ppm", ParamKind::Integer, None),
        spec("max_fee_ppm", ParamKind::Integer, None),
        spec(
            "sum_peer_chans",
            ParamKind::Boolean,
            Some(ParamValue::Boolean(false)),
        ),
    ];
    let config = parse(
        "[DEFAULT]\nfee_ppm = 100\n[prep]\ncost_factor = 2\n\
         [p]\nstrategy = proportional\nmin_fee_ppm = 1_0\nmax_fee_ppm = 500\nsum_peer_chans = false\n",
    );
    let selection = select(&config, &channel(0.5));
    let resolved = selection.resolve_params(&specs).unwrap();
    let values: Vec<_> = resolved
        .params
        .iter()
        .map(|p| (p.name.as_str(), &p.value))
        .collect();
    assert_eq!(
        values,
        [
            ("min_fee_ppm", &ParamValue::Integer(10)),
            ("max_fee_ppm", &ParamValue::Integer(500)),
            // Parsed, not charge-lnd's bool("false") == True.
            ("sum_peer_chans", &ParamValue::Boolean(false)),
        ]
    );
    // Inherited keys the strategy does not take are dropped with a note, not an error.
    let dropped: Vec<_> = resolved
        .notes
        .iter()
        .map(|n| (n.key.as_deref().unwrap(), n.line.unwrap()))
        .collect();
    assert_eq!(dropped, [("cost_factor", 4), ("fee_ppm", 2)]);
    assert!(resolved
        .notes
        .iter()
        .all(|n| matches!(&n.kind, NoteKind::InheritedParamIgnored { strategy } if strategy == "proportional")));

    // Keys of the final section itself must be the strategy's.
    let config =
        parse("[p]\nstrategy = proportional\nmin_fee_ppm = 1\nmax_fee_ppm = 2\nfee_ppm = 5\n");
    let error = select(&config, &channel(0.5))
        .resolve_params(&specs)
        .unwrap_err();
    assert_eq!(error.line, Some(5));
    assert_eq!(error.key.as_deref(), Some("fee_ppm"));
    assert!(matches!(
        &error.kind,
        ErrorKind::StrategyParam { strategy, source }
            if strategy == "proportional" && matches!(**source, ParamError::Unknown { .. })
    ));
    assert!(
        error
            .to_string()
            .starts_with("s.ini:5: key fee_ppm: strategy `proportional`: unknown parameter"),
        "{error}"
    );

    let config = parse("[p]\nstrategy = proportional\nmin_fee_ppm = many\nmax_fee_ppm = 2\n");
    let error = select(&config, &channel(0.5))
        .resolve_params(&specs)
        .unwrap_err();
    assert_eq!(
        (error.line, error.key.as_deref()),
        (Some(3), Some("min_fee_ppm"))
    );

    let config =
        parse("[x]\nchan.private = false\n[p]\nstrategy = proportional\nmin_fee_ppm = 1\n");
    let error = select(&config, &channel(0.5))
        .resolve_params(&specs)
        .unwrap_err();
    assert_eq!(
        (error.line, error.key.as_deref()),
        (Some(3), Some("max_fee_ppm"))
    );
    assert!(matches!(
        &error.kind,
        ErrorKind::StrategyParam { source, .. } if matches!(**source, ParamError::Missing { .. })
    ));
}

#[test]
fn realistic_ruleset_end_to_end() {
    let config = Config::load(fixtures().join("ruleset.ini")).unwrap();
    let pick = |input: &MatchInput| {
        let s = select(&config, input);
        (s.section.name.clone(), s)
    };

    // A node we leave alone; [house-rules] matched first.
    let mut input = channel(0.5);
    input.channel.peer_pubkey = HANDS_OFF.into();
    let (name, s) = pick(&input);
    assert_eq!(name, "hands-off");
    assert_eq!(merged(&s), ["house-rules", "hands-off"]);
    assert_eq!(s.strategy(), "ignore");

    // The third key of [one-way-drains] follows a line break without a comma.
    input.channel.peer_pubkey = DRAIN.into();
    let (name, s) = pick(&input);
    assert_eq!(name, "one-way-drains");
    assert_eq!(s.settings.params["fee_ppm"], "2500");
    assert_eq!(s.settings.properties.base_fee_msat, Some(500));
    assert_eq!(s.settings.properties.time_lock_delta, Some(80));

    // An expensive peer with zero base fee: copied, and our base fee is zero too.
    let mut input = channel(0.5);
    input.channel.peer_policy = Some(FeePolicy {
        base_fee_msat: 0,
        fee_ppm: 8000,
        ..FeePolicy::default()
    });
    let (name, s) = pick(&input);
    assert_eq!(name, "pricey-peers");
    assert_eq!(
        merged(&s),
        ["house-rules", "zero-base-peers", "pricey-peers"]
    );
    assert_eq!(s.settings.properties.base_fee_msat, Some(0));
    assert_eq!(s.min_fee_ppm_delta(None), 5);

    let mut input = channel(0.5);
    input.channel.private = true;
    assert_eq!(pick(&input).0, "private-leaves");

    let mut input = channel(0.5);
    input.peer = PeerFacts {
        public_channels: Some(5),
        public_capacity_sat: Some(1_500_000),
    };
    assert_eq!(pick(&input).0, "small-nodes");

    // Drained big channel to a big node (node.min_capacity = 10_000_0000 = 100M sats).
    let mut input = channel(0.1);
    input.channel.capacity_sat = 4_000_000;
    assert_eq!(pick(&input).0, "drained");
    input.peer.public_capacity_sat = Some(99_999_999);
    assert_eq!(pick(&input).0, "default");

    let (name, s) = pick(&channel(0.5));
    assert_eq!(name, "balanced-band");
    assert_eq!(s.strategy(), "proportional");
    // Set explicitly by [house-rules], so not proportional's default of 10.
    assert_eq!(s.min_fee_ppm_delta(None), 5);

    let mut input = channel(0.95);
    input.channel.id = 712_001 << 40 | 14 << 16 | 1;
    assert_eq!(pick(&input).0, "sold-liquidity");

    let mut input = channel(0.95);
    input.channel.initiator = true;
    let (name, s) = pick(&input);
    assert_eq!(name, "we-paid-to-open");
    assert_eq!(s.settings.params["cost_factor"], "1.25");

    let mut input = channel(0.95);
    input.channel.id = 700_123 << 40 | 45 << 16 | 1;
    let (name, s) = pick(&input);
    assert_eq!(name, "tiny-htlcs");
    assert_eq!(s.settings.properties.max_htlc_msat, Some(2_000_000));

    // Nothing final matched: [default] over [house-rules].
    let (name, s) = pick(&channel(0.95));
    assert_eq!(name, "default");
    assert_eq!(merged(&s), ["house-rules", "default"]);
    assert_eq!(s.settings.properties.base_fee_msat, Some(1000));
    assert_eq!(s.settings.properties.inbound_fee_ppm, Some(-10));
    assert_eq!(s.settings.properties.inbound_base_fee_msat, Some(-250));
    assert_eq!(s.settings.properties.time_lock_delta, Some(80));
}

#[test]
fn realistic_flow_config_end_to_end() {
    let config = Config::load(fixtures().join("flow.ini")).unwrap();
    let name = |input: &MatchInput| select(&config, input).section.name;

    let mut busy = channel(0.5);
    busy.chain.fee_rate_sat_vb.insert(3, 60.0);
    assert_eq!(name(&busy), "chain-busy");

    let mut stuck = channel(0.5);
    stuck.channel.pending_htlcs.push(PendingHtlc {
        incoming: true,
        amount_sat: 10_000,
        expiry_height: HEIGHT + 15,
    });
    assert_eq!(name(&stuck), "stuck-htlcs");
    stuck.channel.pending_htlcs[0].expiry_height = HEIGHT + 144;
    assert_ne!(name(&stuck), "stuck-htlcs");

    // Quiet for a week with 1M sats on our side; ${lowest} from [DEFAULT].
    let idle = channel(0.5);
    let s = select(&config, &idle);
    assert_eq!(s.section.name, "idle-week");
    assert_eq!(s.settings.params["fee_ppm"], "25");
    assert_eq!(s.settings.properties.base_fee_msat, Some(0));
    // A channel opened 5 days ago has not had a week to route.
    let mut young = channel(0.5);
    young.channel.id = u64::from(HEIGHT - 5 * 144) << 40;
    assert_eq!(name(&young), "default");

    // Mostly inbound over 3 days; no forwards at all never counts as a ratio.
    let mut inbound = channel(0.1);
    inbound.activity.insert(
        3 * DAY,
        ActivityCounts {
            htlcs_in: 9,
            htlcs_out: 1,
            sats_in: 900_000,
            sats_out: 100_000,
        },
    );
    assert_eq!(name(&inbound), "mostly-inbound");
    assert_eq!(name(&channel(0.1)), "default");

    let mut multi = channel(0.1);
    multi.shared_channels.push(SharedChannel {
        active: true,
        local_sat: 1,
        remote_sat: 1,
    });
    let s = select(&config, &multi);
    assert_eq!(s.section.name, "multi-channel-peers");
    assert_eq!(s.settings.params["sum_peer_chans"], "true");
    assert_eq!(s.settings.params["min_fee_ppm"], "25");

    let s = select(&config, &channel(0.1));
    assert_eq!(s.settings.params["min_fee_ppm"], "25");
    assert_eq!(s.settings.params["max_fee_ppm"], "600");
}

#[test]
fn realistic_include_end_to_end() {
    let dir = fixtures();
    let config = Config::load(dir.join("include-main.ini")).unwrap();

    let mut friend = channel(0.5);
    friend.channel.peer_pubkey = FRIEND.into();
    let s = select(&config, &friend);
    assert_eq!(s.section.name, "vip");
    assert!(s.via.is_empty());

    // Everyone else is resolved against shared/static-all.ini.
    let mut big = channel(0.9);
    big.channel.capacity_sat = 10_000_000;
    let s = select(&config, &big);
    assert_eq!(s.section.name, "big");
    assert_eq!(
        &*s.section.file,
        dir.join("shared/static-all.ini").as_path()
    );
    assert_eq!(s.via.len(), 1);
    assert_eq!(s.via[0].name, "default");
    assert_eq!(&*s.via[0].file, dir.join("include-main.ini").as_path());
    assert_eq!(s.strategy(), "static");
    assert_eq!(s.settings.params["fee_ppm"], "100");
    // The including file's min_fee_ppm_delta carries over, as in charge-lnd.
    assert_eq!(s.min_fee_ppm_delta(None), 7);
    assert_eq!(s.settings.origins["min_fee_ppm_delta"].line, 8);

    // ... unless the included strategy is proportional, whose default of 10 wins there.
    let s = select(&config, &channel(0.5));
    assert_eq!(s.section.name, "balanced");
    assert_eq!(s.min_fee_ppm_delta(None), 10);

    let s = select(&config, &channel(0.9));
    assert_eq!(s.section.name, "default");
    assert_eq!(
        &*s.section.file,
        dir.join("shared/static-all.ini").as_path()
    );
    assert_eq!(s.settings.properties.base_fee_msat, Some(1000));
}

/// charge-lnd reads `min_inbound_fee_ppm_delta` from the including section only.
#[test]
fn use_config_takes_the_inbound_delta_from_the_including_section() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("other.ini"),
        "[all]\nstrategy = static\nfee_ppm = 100\nmin_fee_ppm_delta = 3\n\
         min_inbound_fee_ppm_delta = 40\n",
    )
    .unwrap();
    let outer = |extra: &str| {
        let path = dir.path().join("main.ini");
        std::fs::write(
            &path,
            format!("[default]\nstrategy = use_config\nconfig_file = other.ini\n{extra}"),
        )
        .unwrap();
        Config::load(&path).unwrap()
    };
    let s = select(&outer("min_inbound_fee_ppm_delta = 50\n"), &channel(0.5));
    assert_eq!(
        (s.min_fee_ppm_delta(None), s.min_inbound_fee_ppm_delta(None)),
        (3, 50)
    );
    assert_eq!(s.settings.origins["min_inbound_fee_ppm_delta"].line, 4);
    let s = select(&outer(""), &channel(0.5));
    assert_eq!(
        s.min_inbound_fee_ppm_delta(None),
        3,
        "the other file's 40 is not read: the delta follows min_fee_ppm_delta"
    );
}

#[test]
fn use_config_where_the_other_file_selects_nothing_leaves_the_channel_alone() {
    let dir = fixtures();
    let config = Config::parse(
        dir.join("inline.ini"),
        "[default]\nstrategy = use_config\nconfig_file = shared/friends-only.ini\n",
    )
    .unwrap();
    assert_eq!(config.select(&channel(0.5)).unwrap(), None);
    let mut friend = channel(0.5);
    friend.channel.peer_pubkey = FRIEND.into();
    let s = select(&config, &friend);
    assert_eq!((s.section.name.as_str(), s.via.len()), ("friends", 1));
}

#[test]
fn use_config_nests() {
    let dir = fixtures();
    let config = parse(&format!(
        "[default]\nstrategy = use_config\nconfig_file = {}\n",
        dir.join("include-main.ini").display()
    ));
    // include-main hands everyone but friends on again: two levels of via.
    let s = select(&config, &channel(0.9));
    assert_eq!(s.section.name, "default");
    let via: Vec<_> = s
        .via
        .iter()
        .map(|v| (v.name.as_str(), v.file.to_path_buf()))
        .collect();
    assert_eq!(
        via,
        [
            ("default", PathBuf::from("s.ini")),
            ("default", dir.join("include-main.ini")),
        ]
    );
}

#[test]
fn realistic_extended_matchers_end_to_end() {
    let config = Config::load(fixtures().join("extended.ini")).unwrap();
    let name = |input: &MatchInput| select(&config, input).section.name;

    let mut new = channel(0.5);
    new.channel.id = u64::from(HEIGHT - 10 * 144) << 40;
    let s = select(&config, &new);
    assert_eq!(s.section.name, "new-channels");
    assert_eq!(s.settings.guard.max_fee_ppm, Some(400));
    assert_eq!(s.settings.properties.inbound_fee_ppm, Some(-100));

    // A year old and busy: 300k of 2M forwarded this week is "high" turnover.
    let mut busy = channel(0.5);
    busy.activity.get_mut(&(7 * DAY)).unwrap().sats_out = 300_000;
    let s = select(&config, &busy);
    assert_eq!(s.section.name, "busy");
    assert_eq!(s.settings.guard.max_fee_step_ppm, Some(50));

    let mut flowing = channel(0.5);
    flowing.channel.capacity_sat = 100_000_000;
    flowing.activity.get_mut(&(7 * DAY)).unwrap().sats_in = 1_000_000;
    assert_eq!(name(&flowing), "flowing");

    // We charge 100 ppm where the peer charges 250: ratio 0.4.
    let mut undercut = channel(0.5);
    undercut.channel.peer_policy.as_mut().unwrap().fee_ppm = 250;
    assert_eq!(name(&undercut), "undercut");

    // [competitive] uses lnflow's network namespace, which has no data: never matches.
    assert_eq!(name(&channel(0.5)), "default");
}

#[test]
fn a_rollback_window_over_30_days_is_refused_where_it_is_written() {
    assert!(Config::parse("r.ini", "[r]\nstrategy = static\nrollback_window = 30d\n").is_ok());
    let error = Config::parse("r.ini", "[r]\nstrategy = static\nrollback_window = 31d\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("r.ini:3: key rollback_window:") && error.contains("at most 30d"),
        "{error}"
    );
}
