//! The simulated CLN server at the protocol level, over a real unix socket:
//! CLN's framing, params by name or position, errors with CLN's codes,
//! answers that validate against CLN's schemas, setchannel's semantics.

use lnpolicy_node::cln::format_scid;
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig};
use serde_json::{Value, json};

use super::fixture::{OUR_ID, RawConn, add_log, add_settled_rebalance, node_id, node_state, serve};
use super::schema::{self, assert_response, validate};

const METHODS: [&str; 9] = [
    "getinfo",
    "listpeerchannels",
    "listforwards",
    "listchannels",
    "listfunds",
    "feerates",
    "bkpr-listaccountevents",
    "listchannelmoves",
    "setchannel",
];

#[test]
fn the_validator_accepts_cln_examples_and_catches_violations() {
    // Every example CLN ships validates: the subset is implemented right.
    for method in METHODS {
        let file = schema::load(method);
        for example in file["examples"].as_array().unwrap() {
            let errors = validate(&file["response"], &example["response"]);
            assert!(errors.is_empty(), "{method}: {errors:?}");
            let errors = validate(&file["request"], &example["request"]["params"]);
            assert!(errors.is_empty(), "{method} request: {errors:?}");
        }
    }
    // And it is not vacuous.
    let file = schema::load("listforwards");
    let good = file["examples"][1]["response"].clone();
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        validate(&file["response"], &v)
    };
    assert!(!mutate(&|v| v["forwards"][0]["in_msat"] = json!("10001msat")).is_empty());
    assert!(!mutate(&|v| v["forwards"][0]["status"] = json!("done")).is_empty());
    assert!(!mutate(&|v| v["forwards"][0]["in_channel"] = json!("116:1:1")).is_empty());
    assert!(!mutate(&|v| v["forwards"][0]["surprise"] = json!(1)).is_empty());
    assert!(
        !mutate(&|v| {
            v["forwards"][0]
                .as_object_mut()
                .unwrap()
                .remove("resolved_time");
        })
        .is_empty()
    );
    // local_failed forwards carry no resolved_time in CLN.
    assert!(!mutate(&|v| v["forwards"][6]["resolved_time"] = json!(1.0)).is_empty());
    let info = schema::load("getinfo");
    let mut v = info["examples"][0]["response"].clone();
    v["alias"] = json!("x".repeat(33));
    assert!(!validate(&info["response"], &v).is_empty());
}

#[tokio::test]
async fn every_answer_validates_against_clns_schemas() {
    let mut state = node_state();
    add_log(&mut state, 60);
    add_settled_rebalance(&mut state, 250_000_000, 1_500);
    let peer = node_id(1);
    let (_dir, _state, server) = serve(state, ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let scid = format_scid(super::fixture::scid(800_001, 1, 1));
    let cases = [
        ("getinfo", json!({})),
        ("listpeerchannels", json!({})),
        ("listpeerchannels", json!({"id": peer})),
        ("listpeerchannels", json!([null, scid])),
        ("listforwards", json!({})),
        (
            "listforwards",
            json!({"index": "created", "start": 5, "limit": 10}),
        ),
        (
            "listforwards",
            json!({"index": "updated", "start": 3, "limit": 10}),
        ),
        ("listforwards", json!({"status": "local_failed"})),
        ("listforwards", json!({"status": "failed"})),
        ("listforwards", json!(["settled", scid])),
        ("listchannels", json!({})),
        ("listchannels", json!({"source": peer})),
        ("listchannels", json!({"destination": OUR_ID})),
        ("listchannels", json!({"short_channel_id": scid})),
        ("listfunds", json!({})),
        ("listfunds", json!([true])),
        ("feerates", json!({"style": "perkb"})),
        ("feerates", json!(["perkw"])),
        ("bkpr-listaccountevents", json!({})),
        ("bkpr-listaccountevents", json!({"account": "wallet"})),
        (
            "bkpr-listaccountevents",
            json!({"payment_id": format!("{:064x}", 2 * 0x1111_1111)}),
        ),
        ("listchannelmoves", json!({})),
        (
            "listchannelmoves",
            json!({"index": "created", "start": 2, "limit": 1}),
        ),
        (
            "setchannel",
            json!({"id": scid, "feebase": 2000, "feeppm": 150}),
        ),
        (
            "setchannel",
            json!({"id": "all", "htlcmin": 1, "htlcmax": "100btc"}),
        ),
    ];
    for (method, params) in cases {
        let result = conn.call(method, params).await;
        assert_response(method, &result);
    }
    let moves = conn.call("listchannelmoves", json!({})).await;
    assert_eq!(
        moves["channelmoves"].as_array().map(Vec::len),
        Some(2),
        "{moves}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn answers_without_fee_estimates_still_validate() {
    let mut state = node_state();
    state.fee_estimates.clear();
    state.funding_fees.clear();
    let (_dir, _state, server) = serve(state, ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let rates = conn.call("feerates", json!({"style": "perkb"})).await;
    assert_response("feerates", &rates);
    assert!(rates["warning_missing_feerates"].is_string());
    assert!(rates["perkb"]["estimates"].as_array().unwrap().is_empty());
    let events = conn.call("bkpr-listaccountevents", json!({})).await;
    assert_response("bkpr-listaccountevents", &events);
    // Only the channel_open of each channel, crediting us nothing: no fees.
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "chain" && e["credit_msat"] == 0)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bookkeeping_shows_each_funding_fee_as_clns_bookkeeper_does() {
    let state = node_state();
    let (_dir, _state, server) = serve(state.clone(), ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let all = conn.call("bkpr-listaccountevents", json!({})).await;
    assert_response("bkpr-listaccountevents", &all);
    let events = all["events"].as_array().unwrap();
    // Ordered by time, as the bookkeeper merges its tables.
    let times: Vec<u64> = events
        .iter()
        .map(|e| e["timestamp"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    for c in state.channels.iter().filter(|c| c.initiator) {
        let txid = c.channel_point.split(':').next().unwrap();
        let fees: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "onchain_fee" && e["txid"] == txid)
            .collect();
        // The wallet's credit and debit cancel; the channel account holds the fee.
        let net: i64 = fees
            .iter()
            .map(|e| e["credit_msat"].as_i64().unwrap() - e["debit_msat"].as_i64().unwrap())
            .sum();
        assert_eq!(net as u64, state.funding_fees[&c.id] * 1000);
        assert_eq!(fees.len(), 3);
        // payment_id selects exactly this transaction's events.
        let one = conn
            .call("bkpr-listaccountevents", json!({"payment_id": txid}))
            .await;
        assert_response("bkpr-listaccountevents", &one);
        let one = one["events"].as_array().unwrap();
        assert_eq!(one.len(), 4, "channel_open and three fee events");
        assert!(
            one.iter()
                .all(|e| e["txid"] == txid || e["outpoint"].as_str().unwrap().starts_with(txid))
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn framing_compact_pretty_and_pipelined_requests() {
    let (_dir, state, server) = serve(node_state(), ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let pretty = serde_json::to_string_pretty(
        &json!({"jsonrpc": "2.0", "id": "a", "method": "getinfo", "params": {}}),
    )
    .unwrap();
    let mut batch = pretty.into_bytes();
    batch.extend_from_slice(br#"{"jsonrpc":"2.0","id":2,"method":"listfunds","params":[]}"#);
    batch.extend_from_slice(b"\n  ");
    batch.extend_from_slice(br#"{"jsonrpc":"2.0","id":"c:3","method":"listchannels"}"#);
    // One write, three requests, split mid-request across two writes.
    let (first, second) = batch.split_at(batch.len() - 7);
    conn.send_raw(first).await;
    conn.send_raw(second).await;
    let answers = [
        conn.read().await.unwrap(),
        conn.read().await.unwrap(),
        conn.read().await.unwrap(),
    ];
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&json!("a"), &json!(2), &json!("c:3")]);
    assert_eq!(answers[0]["result"]["id"], OUR_ID);
    assert!(answers[1]["result"]["channels"].is_array());
    assert!(answers[2]["result"]["channels"].is_array());
    assert_eq!(
        state.lock().unwrap().calls,
        ["getinfo", "listfunds", "listchannels"]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn params_by_position_equal_params_by_name() {
    let mut state = node_state();
    add_log(&mut state, 30);
    let (_dir, _state, server) = serve(state, ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let pairs = [
        (
            "listforwards",
            json!([null, null, null, "created", 4, 7]),
            json!({"index": "created", "start": 4, "limit": 7}),
        ),
        (
            "listchannels",
            json!([null, node_id(2)]),
            json!({"source": node_id(2)}),
        ),
        (
            "listpeerchannels",
            json!([node_id(3)]),
            json!({"id": node_id(3)}),
        ),
    ];
    for (method, by_position, by_name) in pairs {
        let a = conn.call(method, by_position).await;
        let b = conn.call(method, by_name).await;
        assert_eq!(a, b, "{method}");
        assert!(
            !a.as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_clns_codes() {
    let (_dir, state, server) = serve(node_state(), ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let cases = [
        (
            "bkpr-listincome",
            json!({}),
            -32601,
            "Unknown command 'bkpr-listincome'",
        ),
        (
            "getinfo",
            json!({"verbose": true}),
            -32602,
            "unknown parameter: verbose",
        ),
        (
            "getinfo",
            json!([1]),
            -32602,
            "too many parameters: got 1, expected 0",
        ),
        (
            "listforwards",
            json!({"start": 1}),
            -32602,
            "Can only specify {start} with {index}",
        ),
        (
            "listforwards",
            json!({"index": "sideways"}),
            -32602,
            "index: should be one of",
        ),
        (
            "listforwards",
            json!({"limit": "many", "index": "created"}),
            -32602,
            "limit: should be",
        ),
        (
            "listchannels",
            json!({"source": node_id(1), "destination": OUR_ID}),
            -32602,
            "Can only specify one of",
        ),
        (
            "listchannels",
            json!({"source": "nobody"}),
            -32602,
            "source: should be a node id",
        ),
        (
            "setchannel",
            json!({"feeppm": 1}),
            -32602,
            "missing required parameter: id",
        ),
        (
            "feerates",
            json!({}),
            -32602,
            "missing required parameter: style",
        ),
        (
            "feerates",
            json!({"style": "perbyte"}),
            -32602,
            "style: should be 'perkw' or 'perkb'",
        ),
        (
            "bkpr-listaccountevents",
            json!({"account": "wallet", "payment_id": "00".repeat(32)}),
            -32602,
            "Can only specify one of {account} or {payment_id}",
        ),
        (
            "bkpr-listaccountevents",
            json!({"account": "nobody"}),
            -32602,
            "Account 'nobody' not found",
        ),
        (
            "bkpr-listaccountevents",
            json!({"payment_id": "xyz"}),
            -32602,
            "payment_id: should be a 32 byte hex value",
        ),
        (
            "setchannel",
            json!({"id": "1x2x3"}),
            -32602,
            "id: Short channel ID not found",
        ),
        (
            "setchannel",
            json!({"id": node_id(77)}),
            -1,
            "Could not find any active channels of peer with that id",
        ),
        (
            "setchannel",
            json!({"id": "all", "htlcmin": 5000, "htlcmax": 4000}),
            -1,
            "htlcmax cannot be less than htlcmin",
        ),
        (
            "setchannel",
            json!({"id": "all", "feebase": "5000000000msat"}),
            -32602,
            "feebase: exceeds u32 max",
        ),
    ];
    for (method, params, code, message) in cases {
        let (got_code, got_message) = conn.fail(method, params.clone()).await;
        assert_eq!(got_code, code, "{method} {params}: {got_message}");
        assert!(
            got_message.starts_with(message),
            "{method} {params}: {got_message}"
        );
    }

    // Envelope errors.
    conn.send_raw(br#"{"id":1,"method":"getinfo"}"#).await;
    let answer = conn.read().await.unwrap();
    assert_eq!(answer["error"]["code"], -32600);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("jsonrpc")
    );
    conn.send_raw(br#"{"jsonrpc":"2.0","method":"getinfo"}"#)
        .await;
    let answer = conn.read().await.unwrap();
    assert_eq!(
        (answer["id"].clone(), answer["error"]["code"].clone()),
        (Value::Null, json!(-32600))
    );

    // Unparseable input: one error, then lightningd hangs up.
    conn.send_raw(b"{\"jsonrpc\": nope}").await;
    let answer = conn.read().await.unwrap();
    assert_eq!(answer["error"]["code"], -32600);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid token in json input")
    );
    assert!(conn.read().await.is_none());

    // Unknown methods are recorded too: the whitelist proof sees every attempt.
    assert_eq!(state.lock().unwrap().calls[0], "bkpr-listincome");
    server.shutdown().await;
}

#[tokio::test]
async fn setchannel_changes_only_what_it_is_given() {
    let (_dir, state, server) = serve(node_state(), ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let before = state.lock().unwrap().channels.clone();
    let target = &before[1];
    let scid = format_scid(target.id);

    let result = conn
        .call("setchannel", json!({"id": scid, "feeppm": 321}))
        .await;
    assert_response("setchannel", &result);
    let entry = &result["channels"][0];
    assert_eq!(entry["fee_proportional_millionths"], 321);
    assert_eq!(entry["fee_base_msat"], target.local_policy.base_fee_msat);
    assert_eq!(entry["short_channel_id"], scid.as_str());
    {
        let after = state.lock().unwrap();
        let changed = after.channel(target.id).unwrap().local_policy;
        assert_eq!(changed.fee_ppm, 321);
        assert_eq!(
            (
                changed.base_fee_msat,
                changed.min_htlc_msat,
                changed.max_htlc_msat,
                changed.time_lock_delta
            ),
            (
                target.local_policy.base_fee_msat,
                target.local_policy.min_htlc_msat,
                target.local_policy.max_htlc_msat,
                target.local_policy.time_lock_delta
            )
        );
        for (a, b) in before.iter().zip(&after.channels) {
            if a.id != target.id {
                assert_eq!(a, b);
            }
        }
        assert!(after.policy_updated_at.iter().any(|(c, _)| *c == target.id));
    }

    // Amounts in CLN's string units; limits clamped with CLN's warnings.
    let result = conn
        .call(
            "setchannel",
            json!([scid, "2sat", null, "0msat", "1000btc", 0]),
        )
        .await;
    assert_response("setchannel", &result);
    let entry = &result["channels"][0];
    assert_eq!(entry["fee_base_msat"], 2000);
    assert_eq!(entry["fee_proportional_millionths"], 321);
    assert_eq!(entry["minimum_htlc_out_msat"], target.min_htlc_msat);
    assert!(entry["warning_htlcmin_too_low"].is_string());
    let possible = (target.capacity_sat - target.local_reserve_sat) * 1000;
    assert_eq!(entry["maximum_htlc_out_msat"], possible);
    assert!(entry["warning_htlcmax_too_high"].is_string());

    // By peer id, by channel id, and "all".
    let by_peer = conn
        .call("setchannel", json!({"id": target.peer_pubkey, "feeppm": 7}))
        .await;
    assert_eq!(by_peer["channels"].as_array().unwrap().len(), 1);
    let channel_id = by_peer["channels"][0]["channel_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_cid = conn
        .call("setchannel", json!({"id": channel_id, "feeppm": 8}))
        .await;
    assert_eq!(by_cid["channels"][0]["short_channel_id"], scid.as_str());
    let all = conn
        .call("setchannel", json!({"id": "all", "feebase": 0}))
        .await;
    assert_response("setchannel", &all);
    assert_eq!(all["channels"].as_array().unwrap().len(), before.len());
    let after = state.lock().unwrap().clone();
    assert!(
        after
            .channels
            .iter()
            .all(|c| c.local_policy.base_fee_msat == 0)
    );
    // Like CLN, setchannel re-enables a disabled channel's direction.
    assert!(after.channels.iter().all(|c| !c.local_policy.disabled));
    assert_eq!(after.channel(target.id).unwrap().local_policy.fee_ppm, 8);
    server.shutdown().await;
}

#[tokio::test]
async fn listforwards_pages_by_created_index_without_gaps() {
    let mut state = node_state();
    add_log(&mut state, 250);
    let total = state.forwards.len() + state.failures.len();
    let (_dir, _state, server) = serve(state, ClnServerConfig::default()).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let page = conn
            .call(
                "listforwards",
                json!({"index": "created", "start": start, "limit": 37}),
            )
            .await;
        let forwards = page["forwards"].as_array().unwrap();
        assert!(forwards.len() <= 37);
        if forwards.is_empty() {
            break;
        }
        for f in forwards {
            seen.push(f["created_index"].as_u64().unwrap());
        }
        start = seen.last().unwrap() + 1;
    }
    assert_eq!(seen, (1..=total as u64).collect::<Vec<_>>());
    let all = conn.call("listforwards", json!({})).await;
    assert_eq!(all["forwards"].as_array().unwrap().len(), total);
    server.shutdown().await;
}

#[tokio::test]
async fn getinfo_reports_the_node_and_its_sync_state() {
    let mut state = node_state();
    state.info.synced_to_chain = false;
    add_log(&mut state, 10);
    let fees: u64 = state.forwards.iter().map(|f| f.fee_msat).sum();
    let config = ClnServerConfig {
        network: "bitcoin".into(),
        ..ClnServerConfig::default()
    };
    let (dir, _state, server) = serve(state, config).await;
    let mut conn = RawConn::connect(server.socket_path()).await;
    let info = conn.call("getinfo", json!({})).await;
    assert_response("getinfo", &info);
    assert_eq!(info["network"], "bitcoin");
    assert_eq!(info["num_peers"], 5);
    assert_eq!(info["fees_collected_msat"], fees);
    assert_eq!(info["lightning-dir"], dir.path().display().to_string());
    assert!(info["warning_bitcoind_sync"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_shutdown_removes_it() {
    let (_dir, state, server) = serve(node_state(), ClnServerConfig::default()).await;
    let path = server.socket_path().to_path_buf();
    server.shutdown().await;
    assert!(!path.exists());
    // A crashed lightningd leaves its socket file behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = ClnServer::start(state, &path, ClnServerConfig::default())
        .await
        .unwrap();
    let mut conn = RawConn::connect(&path).await;
    conn.call("getinfo", json!({})).await;
    drop(server);
    assert!(!path.exists());
}
