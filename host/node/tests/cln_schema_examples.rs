//! Every example response in Core Lightning's own schemas (copied into
//! `tests/cln-schemas/`) goes through the CLN client's decoding path: the
//! same `wire::decode` and conversions `ClnClient` applies to a live answer.

use std::path::PathBuf;

use lnpolicy_core::{FailureReason, FundingFee, NodeError, NodeKind, PeerInfo, PendingHtlc};
use lnpolicy_node::cln::parse_scid;
use lnpolicy_node::cln::wire::{
    self, ClnResponse, Feerates, Getinfo, ListAccountEvents, ListChannelMoves, ListChannels,
    ListForwards, ListPeerChannels, SetChannel,
};
use serde_json::Value;

/// Our node in CLN's examples (its `getinfo` example's id).
const OUR_ID: &str = "033845802d25b4e074ccfd7cd8b339a41dc75bf9978a034800444b51d42b07799a";

/// The example responses of one method's schema.
fn examples(method: &str) -> Vec<Value> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "cln-schemas",
        &format!("{method}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    let examples: Vec<Value> = schema["examples"]
        .as_array()
        .unwrap_or_else(|| panic!("{method}: no examples"))
        .iter()
        .map(|e| e["response"].clone())
        .collect();
    assert!(!examples.is_empty(), "{method}: no examples");
    examples
}

fn decode_all<R: ClnResponse>() -> Vec<R> {
    examples(R::METHOD)
        .into_iter()
        .map(|v| wire::decode::<R>(v).unwrap_or_else(|e| panic!("{}: {e}", R::METHOD)))
        .collect()
}

/// The same answer with every `*_msat` integer rewritten as `"NNNmsat"`, the
/// spelling of CLN before v23 and of cln-rpc.
fn msat_as_strings(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Number(n) if k.ends_with("_msat") => {
                            Value::String(format!("{}msat", n.as_u64().unwrap()))
                        }
                        other => msat_as_strings(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(msat_as_strings).collect()),
        other => other.clone(),
    }
}

#[test]
fn getinfo_examples_decode() {
    for info in decode_all::<Getinfo>() {
        let info = info.node_info();
        assert_eq!(info.kind, NodeKind::Cln);
        assert_eq!(info.pubkey, OUR_ID);
        assert_eq!(info.version, "v26.09");
        assert_eq!(info.block_height, 114);
        assert!(info.synced_to_chain && info.synced_to_graph);
    }
}

#[test]
fn listpeerchannels_examples_decode_into_node_channels() {
    let gossip: ListChannels = wire::decode(examples("listchannels").remove(0)).unwrap();
    for (n, peers) in decode_all::<ListPeerChannels>().iter().enumerate() {
        let without_gossip = ListChannels { channels: vec![] };
        let from_updates = wire::node_channels(peers, &without_gossip, OUR_ID).unwrap();
        let from_gossip = wire::node_channels(peers, &gossip, OUR_ID).unwrap();
        let open = peers.channels.iter().filter(|c| c.is_open()).count();
        assert_eq!(from_updates.len(), open, "example {n}");
        assert!(open >= 1);
        for c in &from_updates {
            let parts = c.local_balance_sat
                + c.remote_balance_sat
                + c.unsettled_balance_sat
                + c.commit_fee_sat;
            assert!(
                c.capacity_sat.abs_diff(parts) <= 3,
                "example {n}: balances, HTLCs and the fee make up the channel: {c:?}"
            );
        }

        let c = from_gossip
            .iter()
            .find(|c| c.id == parse_scid("116x1x1").unwrap())
            .unwrap();
        assert_eq!(
            c.channel_point,
            "6958d6b2c23a79254dfd48b9b3d2a357c8c12c52a8bbd90bf48bd04e55996368:1"
        );
        assert_eq!(
            c.peer_pubkey,
            "038194b5f32bdf0aa59812c86c4ef7ad2f294104fa027d1ace9b469bb6f88cf37b"
        );
        // The peer opened: the 4,867 sat commitment fee and its 4,000 sat HTLC are not
        // its balance, as on LND.
        assert_eq!(
            (c.capacity_sat, c.local_balance_sat, c.remote_balance_sat),
            (1_000_000, 609_507, 381_625)
        );
        // The peer offered us one HTLC of 4000082 msat, expiring at block 190.
        assert_eq!(
            c.pending_htlcs,
            [PendingHtlc {
                incoming: true,
                amount_msat: 4_000_082,
                expiry_height: 190
            }]
        );
        assert_eq!(c.unsettled_balance_sat, 4_000);
        assert_eq!(
            (c.local_reserve_sat, c.remote_reserve_sat),
            (10_000, 10_000)
        );
        assert_eq!(c.commit_fee_sat, 4_867);
        assert_eq!(c.max_accepted_htlcs, 483);
        assert_eq!(c.max_in_flight_msat, u64::MAX);
        assert!(c.active && !c.private && !c.initiator);
        assert_eq!((c.total_received_sat, c.total_sent_sat), (610_507, 1_000));
        let local = c.local_policy;
        assert_eq!(
            (local.base_fee_msat, local.fee_ppm, local.time_lock_delta),
            (1, 10, 6)
        );
        assert_eq!((local.min_htlc_msat, local.max_htlc_msat), (0, 990_000_000));
        assert_eq!((local.inbound_fee_ppm, local.inbound_base_fee_msat), (0, 0));
        // Gossip and the peer's direct update agree in CLN's example.
        let peer = c.peer_policy.unwrap();
        assert_eq!(
            (peer.base_fee_msat, peer.fee_ppm, peer.time_lock_delta),
            (1, 10, 6)
        );
        assert!(!peer.disabled);
        let direct = from_updates.iter().find(|d| d.id == c.id).unwrap();
        assert_eq!(direct.peer_policy, c.peer_policy);
    }
}

#[test]
fn closing_channels_are_not_listed() {
    let peers = decode_all::<ListPeerChannels>().pop().unwrap();
    let listed = wire::node_channels(&peers, &ListChannels { channels: vec![] }, OUR_ID).unwrap();
    let ids: Vec<_> = listed.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            parse_scid("116x1x1").unwrap(),
            parse_scid("130x1x0").unwrap()
        ]
    );
    assert!(listed[1].initiator);
}

#[test]
fn listforwards_examples_decode_and_page() {
    let pages = decode_all::<ListForwards>();
    for page in &pages {
        for f in &page.forwards {
            f.outcome().unwrap();
        }
    }
    // Example 2 is the whole log: 1-6 settled, 7-8 local_failed, 9 offered,
    // 10 local_failed, 11-12 settled; the settled ones have updated_index 1-8.
    let log = &pages[1];
    let settled = wire::settled_forwards(log, 0).unwrap();
    assert_eq!(
        settled.items.iter().map(|f| f.index).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 11, 12],
        "forward 9, in flight, is passed over"
    );
    assert_eq!(settled.next_index, 13);
    let first = &settled.items[0];
    assert_eq!(first.chan_in, parse_scid("116x1x1").unwrap());
    assert_eq!(first.chan_out, parse_scid("118x1x0").unwrap());
    assert_eq!(
        (first.amt_in_msat, first.amt_out_msat, first.fee_msat),
        (10_001, 10_000, 1)
    );
    assert_eq!(first.at_ns, 1_738_000_000_000_000_000);

    let failed = wire::failed_forwards(log, 0).unwrap();
    let reasons: Vec<_> = failed.items.iter().map(|f| (f.index, f.reason)).collect();
    assert_eq!(
        reasons,
        [
            (7, FailureReason::IncorrectCltv),
            (8, FailureReason::ChannelUnavailable),
            (10, FailureReason::FeeInsufficient)
        ]
    );
    assert_eq!(
        failed.items[0].chan_out,
        Some(parse_scid("118x1x0").unwrap())
    );
    assert_eq!(failed.next_index, 13);

    // The same page read by updated_index: the settled ones, under their created_index.
    let resolved = wire::resolved_forwards(log, 7).unwrap();
    assert_eq!(
        resolved
            .forwards
            .iter()
            .map(|f| f.index)
            .collect::<Vec<_>>(),
        [11, 12]
    );
    assert!(resolved.failures.is_empty());
    assert_eq!(resolved.next_index, 9);
}

#[test]
fn listchannels_examples_decode() {
    let all = decode_all::<ListChannels>();
    for list in &all {
        for half in &list.channels {
            half.scid().unwrap();
            half.policy().unwrap();
        }
    }
    let graph = &all[1];
    let inactive = graph.channels.iter().find(|c| !c.active).unwrap();
    assert!(inactive.policy().unwrap().disabled);
    // Both directions into 02287bfa (120x1x0 and 132x1x0, from 03cecbfd) are disabled.
    let peer = "02287bfac8b99b35477ebe9334eede1e32b189e24644eb701c079614712331cec0";
    let info = wire::peer_info(graph, peer, OUR_ID).unwrap();
    assert!(info.fee_rates_ppm.is_empty(), "{info:?}");
    let (channels, capacity) = leading_to(graph, peer);
    assert_eq!(
        (info.public_channels, info.public_capacity_sat),
        (channels, capacity)
    );
    // Into 03cecbfd: 118x1x0 and 130x1x0 come from us and are left out, 120x1x0 is
    // disabled, 132x1x0 from 02287bfa charges 10 ppm.
    let peer = "03cecbfdc68544cc596223b68ce0710c9e5d2c9cb317ee07822d95079acc703d31";
    let info = wire::peer_info(graph, peer, OUR_ID).unwrap();
    assert_eq!(info.fee_rates_ppm, [10]);
    assert_eq!(info.public_channels, 4, "{info:?}");
    // A node the gossip does not show.
    assert_eq!(
        wire::peer_info(graph, &format!("02{}", "00".repeat(32)), OUR_ID),
        None
    );
}

/// Distinct public channels into `peer` in `graph` and their total capacity, sat,
/// counted from the raw JSON (independently of the client's types).
fn leading_to(graph: &ListChannels, peer: &str) -> (u32, u64) {
    let raw = examples("listchannels").remove(1);
    let mut seen = std::collections::BTreeMap::new();
    for half in raw["channels"].as_array().unwrap() {
        if half["destination"] == peer && half["public"] == true {
            seen.insert(
                half["short_channel_id"].as_str().unwrap().to_owned(),
                half["amount_msat"].as_u64().unwrap() / 1000,
            );
        }
    }
    assert_eq!(
        graph.channels.len(),
        raw["channels"].as_array().unwrap().len()
    );
    (seen.len() as u32, seen.values().sum())
}

#[test]
fn peer_info_counts_public_channels_and_prices_only_the_others() {
    // Directions into the peer: from another node, from us (counted, but not a
    // competing price) and over a private channel (not counted).
    let half = |scid: &str, source: &str, amount_msat: u64, public: bool| {
        serde_json::json!({
            "source": source, "destination": "02aa", "short_channel_id": scid,
            "amount_msat": amount_msat, "public": public, "active": true,
            "base_fee_millisatoshi": 1, "fee_per_millionth": 7, "delay": 6,
            "htlc_minimum_msat": 0,
        })
    };
    let list: ListChannels = wire::decode(serde_json::json!({
        "channels": [
            half("1x1x1", "02bb", 2_000_000, true),
            half("2x1x0", OUR_ID, 5_000_000, true),
            half("3x1x0", "02cc", 9_000_000, false),
        ]
    }))
    .unwrap();
    assert_eq!(
        wire::peer_info(&list, "02aa", OUR_ID),
        Some(PeerInfo {
            public_channels: 2,
            public_capacity_sat: 7_000,
            fee_rates_ppm: vec![7],
        })
    );
}

#[test]
fn feerates_examples_decode_and_pick_an_estimate() {
    let answers = decode_all::<Feerates>();
    // Example 1 is perkw: not the style the client asks for, so no estimate.
    assert_eq!(answers[0].sat_per_vbyte(6), None);
    // Example 2 (perkb): 2 → 60, 6 → 44, 12 → 30, 100 → 15 sat/vB.
    let perkb = &answers[1];
    let at = |target| perkb.sat_per_vbyte(target);
    assert_eq!(at(2), Some(60.0));
    assert_eq!(at(6), Some(44.0));
    assert_eq!(at(11), Some(44.0), "the faster estimate below the target");
    assert_eq!(at(12), Some(30.0));
    assert_eq!(at(144), Some(15.0));
    assert_eq!(at(1), Some(60.0), "below every estimate: the fastest one");
    assert_eq!(at(0), Some(60.0));

    let without: Feerates = wire::decode(serde_json::json!({
        "warning_missing_feerates": "Some fee estimates unavailable",
        "perkb": { "min_acceptable": 1012, "max_acceptable": 4294967295u32,
                   "floor": 1012, "estimates": [] }
    }))
    .unwrap();
    assert_eq!(without.sat_per_vbyte(6), None);
}

#[test]
fn bkpr_listaccountevents_examples_decode_into_onchain_fees() {
    let answers = decode_all::<ListAccountEvents>();
    for answer in &answers {
        for event in &answer.events {
            assert!(["chain", "channel", "onchain_fee"].contains(&event.kind.as_str()));
        }
    }
    // Example 1 holds one channel_open and no fee.
    assert!(wire::onchain_fees(&answers[0]).is_empty());
    // Example 2: two channels we funded, 4927 sat each. The wallet's events
    // for each funding transaction credit and then debit 1004927 sat (they
    // cancel); the channel account carries the fee. The close of c51daaf6
    // (dc446777) cost 102 msat: below a satoshi, left out.
    assert_eq!(
        wire::onchain_fees(&answers[1]),
        [
            FundingFee {
                txid: "23c5b3b5733c26f6cfa450e27d9ac122a626b36626fa0ced8206f488cc8e310a".into(),
                fee_sat: 4_927,
            },
            FundingFee {
                txid: "7e4d853f75800aac4e510424ca030027b1e1192c0b6ba51d221452b39a8f57e2".into(),
                fee_sat: 4_927,
            },
        ]
    );
    // Strings for amounts (older CLN) decode the same.
    let strings: ListAccountEvents =
        wire::decode(msat_as_strings(&examples("bkpr-listaccountevents")[1])).unwrap();
    assert_eq!(
        wire::onchain_fees(&strings),
        wire::onchain_fees(&answers[1])
    );
}

#[test]
fn setchannel_examples_decode_and_confirm() {
    let answers = decode_all::<SetChannel>();
    let second = &answers[1];
    let applied = second.confirm("122x1x1", 4000, 300).unwrap();
    assert_eq!(applied.maximum_htlc_out_msat.0, 990_000_000);
    assert!(second.confirm("122x1x1", 4000, 301).is_err());
    assert!(second.confirm("1x1x1", 4000, 300).is_err());
    answers[0].confirm("130x1x0", 1, 10).unwrap();
}

#[test]
fn amounts_as_strings_decode_the_same() {
    let ours = |v: &Value| {
        let peers: ListPeerChannels = wire::decode(v.clone()).unwrap();
        wire::node_channels(&peers, &ListChannels { channels: vec![] }, OUR_ID).unwrap()
    };
    for v in examples("listpeerchannels") {
        assert_eq!(ours(&v), ours(&msat_as_strings(&v)));
    }
    let forwards = |v: &Value| {
        let page: ListForwards = wire::decode(v.clone()).unwrap();
        (
            wire::settled_forwards(&page, 0).unwrap(),
            wire::failed_forwards(&page, 0).unwrap(),
        )
    };
    for v in examples("listforwards") {
        let strings = msat_as_strings(&v);
        assert_ne!(strings, v);
        assert_eq!(forwards(&v), forwards(&strings));
    }
    for v in examples("listchannels") {
        let a: ListChannels = wire::decode(v.clone()).unwrap();
        let b: ListChannels = wire::decode(msat_as_strings(&v)).unwrap();
        let policies = |l: &ListChannels| {
            l.channels
                .iter()
                .map(|c| c.policy().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(policies(&a), policies(&b));
    }
}

#[test]
fn a_malformed_answer_is_a_protocol_error() {
    let mut v = examples("listforwards").remove(0);
    v["forwards"][0]["in_msat"] = Value::from(-1);
    match wire::decode::<ListForwards>(v) {
        Err(NodeError::Protocol { method, .. }) => assert_eq!(method, "listforwards"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn listchannelmoves_examples_decode_into_payment_parts() {
    let answers = decode_all::<ListChannelMoves>();
    let peers = decode_all::<ListPeerChannels>();
    let ids = wire::channel_ids(&peers[1]).unwrap();
    assert_eq!(ids.len(), 3, "closing channels keep their ids: {ids:?}");
    // Example 1: 18 moves, six of them our own payments (`invoice`), the rest forwards.
    let page = wire::payment_parts(&answers[0], 0, &ids);
    assert_eq!((page.events, page.next_index), (18, 19));
    let summary: Vec<_> = page
        .parts
        .iter()
        .map(|p| (p.index, p.sent, p.amount_msat, p.fee_msat))
        .collect();
    assert_eq!(
        summary,
        [
            (1, false, 500_000_000, 0),
            (2, true, 500_000_000, 0),
            (3, true, 500_000_000, 0),
            (14, true, 100_000, 0),
            (17, true, 1_000_000, 0),
            (18, false, 1_000, 0),
        ]
    );
    // 2c383675… is 116x1x1 in the listpeerchannels example.
    assert_eq!(page.parts[0].channel, Some(parse_scid("116x1x1").unwrap()));
    assert_eq!(
        page.parts[0].payment_hash,
        "19472d43110fb74d7c29468b1aec09ad2f00a91faf7b1b3974d07630defe76a1"
    );
    // Read from the middle: only what is at or after the start.
    let rest = wire::payment_parts(&answers[0], 15, &ids);
    assert_eq!((rest.events, rest.next_index), (4, 19));
    assert_eq!(
        rest.parts.iter().map(|p| p.index).collect::<Vec<_>>(),
        [17, 18]
    );
    // Amounts as strings (older spellings) decode the same.
    let strings: ListChannelMoves =
        wire::decode(msat_as_strings(&examples("listchannelmoves")[0])).unwrap();
    assert_eq!(wire::payment_parts(&strings, 0, &ids), page);
}
